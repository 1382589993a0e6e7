/**
 * One real agent process (local provider) under abuse: unauthenticated and foreign connections,
 * oversized, malformed and unknown frames, a flood of junk. It must refuse and count each, stay
 * responsive and bounded, and never inherit the parent's secrets.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { credentialFor } from '../../lib/agent/auth.ts';
import { encodePeerWire, PEER_PROTOCOL } from '../../lib/agent/peer-wire.ts';
import {
  type AgentMetricsReport,
  MAX_FRAME_BYTES,
  ROLE_HEADER,
  SECRET_HEADER,
} from '../../lib/agent/protocol.ts';
import { encodeWindowFrame } from '../../lib/agent/window-frame.ts';
import { LocalSandboxProvider } from '../../lib/sandbox/local.ts';
import type { AgentEndpoint } from '../../lib/sandbox/types.ts';
import { AgentClient } from '../../lib/swarm/client.ts';
import { generateBars } from '../../lib/trading/market.ts';
import { expectPidsDead, killSurvivors, pidState } from '../helpers/processes.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bundlePath = resolve(repoRoot, 'dist/agent.cjs');
const MIB = 1024 * 1024;

/** Parent secrets that must never reach an agent. */
const PARENT_SECRETS: Record<string, string> = {
  AWS_SECRET_ACCESS_KEY: `fake-aws-${randomBytes(8).toString('hex')}`,
  AWS_ACCESS_KEY_ID: `AKIAFAKE${randomBytes(6).toString('hex').toUpperCase()}`,
  E2B_API_KEY: `e2b_fake_${randomBytes(8).toString('hex')}`,
  SWARM_BENCH_PARENT_ONLY: `parent-${randomBytes(8).toString('hex')}`,
};
const savedEnv: Record<string, string | undefined> = {};

const secretA = randomBytes(24).toString('base64url');
const secretB = randomBytes(24).toString('base64url');
let provider: LocalSandboxProvider;
let agent: AgentEndpoint;
let otherSwarmAgent: AgentEndpoint;
let agentPid: number;
const sockets = new Set<WebSocket>();
const clients = new Set<AgentClient>();

type Dial = { ws: WebSocket } | { status: number };

/**
 * Open a raw connection with exactly these headers (and subprotocols); resolves with the socket or
 * the refusal status.
 */
function dial(url: string, headers: Record<string, string>, protocols: string[] = []): Promise<Dial> {
  return new Promise((resolvePromise, reject) => {
    const ws = new WebSocket(url, protocols, { headers, perMessageDeflate: false, maxPayload: 64 * MIB });
    sockets.add(ws);
    ws.once('open', () => resolvePromise({ ws }));
    ws.once('unexpected-response', (_req, res) => {
      ws.terminate();
      resolvePromise({ status: res.statusCode ?? 0 });
    });
    ws.once('error', reject);
  });
}

async function control(url = agent.url, secret = secretA): Promise<WebSocket> {
  const result = await dial(url, {
    [SECRET_HEADER]: credentialFor(secret, 'coordinator'),
    [ROLE_HEADER]: 'coordinator',
  });
  if (!('ws' in result)) throw new Error(`refused with HTTP ${result.status}`);
  result.ws.on('error', () => undefined);
  return result.ws;
}

interface Reply {
  t: string;
  id: number;
  ok: boolean;
  result?: unknown;
  error?: { name: string; message: string };
}

/** Send one raw frame and resolve with the next reply on that connection. */
function exchange(ws: WebSocket, frame: string | Buffer): Promise<Reply> {
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error('no reply within 5 s')), 5_000);
    ws.once('message', (data) => {
      clearTimeout(timer);
      resolvePromise(JSON.parse(data.toString()) as Reply);
    });
    ws.send(frame);
  });
}

/** The agent's own counters, read over a fresh authenticated connection. */
async function metrics(): Promise<AgentMetricsReport> {
  const client = await AgentClient.connect('a0', agent.url, secretA);
  clients.add(client);
  try {
    return await client.request({ op: 'metrics' });
  } finally {
    client.close();
  }
}

function procStatusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1]);
}

beforeAll(async () => {
  for (const [key, value] of Object.entries(PARENT_SECRETS)) {
    savedEnv[key] = process.env[key];
    process.env[key] = value;
  }
  provider = new LocalSandboxProvider({ bundlePath });
  const [mine, theirs] = await Promise.all([
    provider.create({ timeoutMs: 120_000, metadata: { swarm: 'abuse-a' } }),
    provider.create({ timeoutMs: 120_000, metadata: { swarm: 'abuse-b' } }),
  ]);
  [agent, otherSwarmAgent] = await Promise.all([
    mine.startAgent({ agentId: 'a0', secret: secretA }),
    theirs.startAgent({ agentId: 'b0', secret: secretB }),
  ]);
  agentPid = agent.pid as number;
});

afterEach(() => {
  for (const ws of sockets) ws.terminate();
  for (const client of clients) client.close();
  sockets.clear();
  clients.clear();
});

afterAll(async () => {
  const pids = [agent?.pid, otherSwarmAgent?.pid].filter((pid): pid is number => pid !== undefined);
  try {
    await provider?.killAll();
    await expectPidsDead(pids);
  } finally {
    killSurvivors(pids);
    for (const [key, value] of Object.entries(savedEnv)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
});

describe('agent under abuse', () => {
  it('refuses connections without a credential, with a wrong one, the raw secret, another swarm’s, or one for another role (HTTP 401), and counts them', async () => {
    // Prepare
    const before = await metrics();
    const wrongSameLength = randomBytes(32).toString('base64url').slice(0, 43);
    const coordinatorA = credentialFor(secretA, 'coordinator');
    // Act
    const refused = await Promise.all([
      dial(agent.url, { [ROLE_HEADER]: 'coordinator' }),
      dial(agent.url, { [SECRET_HEADER]: wrongSameLength, [ROLE_HEADER]: 'coordinator' }),
      dial(agent.url, { [SECRET_HEADER]: 'short', [ROLE_HEADER]: 'coordinator' }),
      // The swarm secret itself never travels, so it is no credential.
      dial(agent.url, { [SECRET_HEADER]: secretA, [ROLE_HEADER]: 'coordinator' }),
      dial(agent.url, {
        [SECRET_HEADER]: credentialFor(secretB, 'coordinator'),
        [ROLE_HEADER]: 'coordinator',
      }),
      dial(agent.url, { [SECRET_HEADER]: credentialFor(secretB, 'peer:1'), [ROLE_HEADER]: 'peer:1' }),
      // Impostors: the coordinator's credential, or peer 2's, claiming to be peer 1.
      dial(agent.url, { [SECRET_HEADER]: coordinatorA, [ROLE_HEADER]: 'peer:1' }),
      dial(agent.url, { [SECRET_HEADER]: credentialFor(secretA, 'peer:2'), [ROLE_HEADER]: 'peer:1' }),
    ]);
    // Positive controls: the other swarm's credential is valid at its own agent, ours at ours.
    const theirs = await dial(otherSwarmAgent.url, {
      [SECRET_HEADER]: credentialFor(secretB, 'coordinator'),
      [ROLE_HEADER]: 'coordinator',
    });
    const ours = await dial(agent.url, { [SECRET_HEADER]: coordinatorA, [ROLE_HEADER]: 'coordinator' });
    const after = await metrics();
    // Assess
    expect(refused).toEqual(Array.from({ length: 8 }, () => ({ status: 401 })));
    expect('ws' in theirs).toBe(true);
    expect('ws' in ours).toBe(true);
    expect(after.rejected.auth - before.rejected.auth).toBe(8);
  });

  it('closes idle and slow-header connections at the handshake deadline and counts them; an honest client still gets in', async () => {
    // Prepare
    const before = await metrics();
    const port = Number(new URL(agent.url).port);
    const open = (): Promise<Socket> =>
      new Promise((resolveSocket, reject) => {
        const socket = connect(port, '127.0.0.1', () => resolveSocket(socket));
        socket.once('error', reject);
      });
    const idle = await Promise.all(Array.from({ length: 40 }, open));
    const slow = await Promise.all(Array.from({ length: 10 }, open));
    const closedAt = (socket: Socket) =>
      new Promise<number>((r) => socket.once('close', () => r(Date.now())));
    const closings = [...idle, ...slow].map(closedAt);
    const start = Date.now();
    // Act: the slow ones send a header line every 500 ms and never finish.
    for (const socket of slow) socket.write('GET / HTTP/1.1\r\nHost: agent\r\n');
    const drip = setInterval(() => {
      for (const socket of slow) if (!socket.destroyed) socket.write(`X-Drip-${Date.now()}: 1\r\n`);
    }, 500);
    const honest = await control();
    const health = await exchange(honest, JSON.stringify({ t: 'req', id: 1, op: 'health' }));
    const closedTimes = await Promise.all(closings);
    clearInterval(drip);
    const after = await metrics();
    // Assess: every one closed by the agent within the deadline (3 s) plus scheduling slack.
    expect(health).toMatchObject({ ok: true });
    expect(Math.max(...closedTimes) - start).toBeLessThan(15_000);
    expect(after.rejected.handshake - before.rejected.handshake).toBe(50);
    expect(honest.readyState).toBe(WebSocket.OPEN);
  });

  it('closes a connection that sends a frame above MAX_FRAME_BYTES (1009) and counts it; the limit itself passes', async () => {
    // Prepare
    const before = await metrics();
    const atLimit = await control();
    const above = await control();
    const peer = await dial(
      agent.url,
      { [SECRET_HEADER]: credentialFor(secretA, 'peer:7'), [ROLE_HEADER]: 'peer:7' },
      [PEER_PROTOCOL],
    );
    if (!('ws' in peer)) throw new Error('peer link refused');
    peer.ws.on('error', () => undefined);
    const closed = (ws: WebSocket) => new Promise<number>((r) => ws.once('close', (code) => r(code)));
    // Act
    const atLimitReply = await exchange(atLimit, 'x'.repeat(MAX_FRAME_BYTES));
    const aboveClosed = closed(above);
    above.send('x'.repeat(MAX_FRAME_BYTES + 1));
    const peerClosed = closed(peer.ws);
    peer.ws.send(Buffer.alloc(MAX_FRAME_BYTES + 1, 0x20));
    const codes = await Promise.all([aboveClosed, peerClosed]);
    const stillOpen = await exchange(atLimit, JSON.stringify({ t: 'req', id: 7, op: 'health' }));
    const after = await metrics();
    // Assess
    expect(atLimitReply).toMatchObject({ ok: false, error: { name: 'MalformedFrame' } });
    expect(codes).toEqual([1009, 1009]);
    expect(stillOpen).toMatchObject({ id: 7, ok: true, result: { agentId: 'a0' } });
    expect(after.rejected.oversize - before.rejected.oversize).toBe(2);
    expect(after.rejected.malformed - before.rejected.malformed).toBe(1);
  });

  it("refuses an authenticated peer not offering peer protocol 4 (HTTP 426); counts a peer's damaged binary and JSON frames as malformed and keeps its link", async () => {
    // Prepare
    const before = await metrics();
    const headers = { [SECRET_HEADER]: credentialFor(secretA, 'peer:8'), [ROLE_HEADER]: 'peer:8' };
    const vote = encodePeerWire({ t: 'vote', src: 8, dst: 0, pid: 1, action: 'buy', hops: 0 }) as Buffer;
    const badAction = Buffer.from(vote);
    badAction[6] = 3;
    const closedCodes: number[] = [];
    // Act
    const refused = [await dial(agent.url, headers), await dial(agent.url, headers, ['swarm-bench-peer.3'])];
    const peer = await dial(agent.url, headers, ['swarm-bench-peer.3', PEER_PROTOCOL]);
    if (!('ws' in peer)) throw new Error(`peer link refused with HTTP ${peer.status}`);
    peer.ws.on('close', (code) => closedCodes.push(code));
    for (const frame of [
      vote.subarray(0, 20),
      badAction,
      Buffer.concat([vote, Buffer.from([0])]),
      '{"t":"vote"',
    ]) {
      peer.ws.send(frame);
    }
    const counted = async () => (await metrics()).rejected.malformed - before.rejected.malformed;
    for (let tries = 0; tries < 50 && (await counted()) < 4; tries++)
      await new Promise((r) => setTimeout(r, 50));
    const after = await metrics();
    // Assess
    expect(refused).toEqual([{ status: 426 }, { status: 426 }]);
    expect(peer.ws.protocol).toBe(PEER_PROTOCOL);
    expect(after.rejected.unknown - before.rejected.unknown).toBe(2);
    expect(after.rejected.auth).toBe(before.rejected.auth);
    expect(after.rejected.malformed - before.rejected.malformed).toBe(4);
    expect(peer.ws.readyState).toBe(WebSocket.OPEN);
    expect(closedCodes).toEqual([]);
  });

  it('answers malformed JSON, invalid and unknown ops with an error, counts each, and keeps the connection', async () => {
    // Prepare
    const before = await metrics();
    const ws = await control();
    // Act
    const notJson = await exchange(ws, '{"t":"req","id":1,');
    const badField = await exchange(ws, JSON.stringify({ t: 'req', id: 2, op: 'ping', to: 1, count: -5 }));
    const unknown = await exchange(ws, JSON.stringify({ t: 'req', id: 3, op: 'rm -rf /' }));
    const noOp = await exchange(ws, 'null');
    const notAFrame = await exchange(ws, Buffer.from([0xde, 0xad, 0xbe, 0xef]));
    const health = await exchange(ws, JSON.stringify({ t: 'req', id: 4, op: 'health' }));
    const after = await metrics();
    // Assess
    expect(notJson).toMatchObject({ t: 'res', id: -1, ok: false, error: { name: 'MalformedFrame' } });
    expect(badField).toMatchObject({ id: 2, ok: false, error: { name: 'MalformedFrame' } });
    expect(badField.error?.message).toMatch(/^count:/);
    expect(unknown).toMatchObject({ id: 3, ok: false, error: { name: 'UnknownOperation' } });
    expect(noOp).toMatchObject({ id: -1, ok: false, error: { name: 'UnknownOperation' } });
    expect(notAFrame).toMatchObject({ id: -1, ok: false, error: { name: 'MalformedFrame' } });
    expect(health).toMatchObject({ id: 4, ok: true, result: { agentId: 'a0', configured: false } });
    expect(after.rejected.malformed - before.rejected.malformed).toBe(3);
    expect(after.rejected.unknown - before.rejected.unknown).toBe(2);
    expect(after.rejected.auth).toBe(before.rejected.auth);
  });

  it('answers a binary window frame as its JSON form, and a damaged one as a bad JSON frame', async () => {
    // Prepare
    const client = await AgentClient.connect('a0', agent.url, secretA);
    clients.add(client);
    const window = generateBars({ bars: 500, seed: 5 });
    const before = await metrics();
    const ws = await control();
    const frame = (id: number, body: Parameters<typeof encodeWindowFrame>[1]) =>
      encodeWindowFrame(id, body) as Buffer;
    const nan = window.map((bar, i) => (i === 250 ? { ...bar, close: Number.NaN } : bar));
    const unknownOp = frame(13, { op: 'execute', window });
    unknownOp.writeUInt8(9, 2);
    // Act
    const signals = [];
    for (const strategy of ['momentum', 'mean-reversion', 'breakout', 'rsi-macd']) {
      const binary = await client.request({ op: 'execute', strategy, window });
      const json = await client.request({ op: 'execute', strategy, window }, undefined, 'json');
      signals.push({ binary, json });
    }
    const truncated = await exchange(ws, frame(11, { op: 'execute', window }).subarray(0, 1000));
    const notFinite = await exchange(ws, frame(12, { op: 'execute', window: nan }));
    const unknown = await exchange(ws, unknownOp);
    const proposal = await exchange(ws, frame(14, { op: 'propose', window, quorum: 1 }));
    const health = await exchange(ws, JSON.stringify({ t: 'req', id: 15, op: 'health' }));
    const after = await metrics();
    // Assess
    for (const { binary, json } of signals) {
      const { computeUs: _b, ...fromBinary } = binary;
      const { computeUs: _j, ...fromJson } = json;
      expect(fromBinary).toEqual(fromJson);
    }
    expect(truncated).toMatchObject({ id: 11, ok: false, error: { name: 'MalformedFrame' } });
    expect(truncated.error?.message).toMatch(/^frame: /);
    expect(notFinite).toMatchObject({ id: 12, ok: false, error: { name: 'MalformedFrame' } });
    expect(notFinite.error?.message).toMatch(/^window\.close\.250: /);
    expect(unknown).toMatchObject({ id: 13, ok: false, error: { name: 'UnknownOperation' } });
    // Decoded and handled: refused only because this agent has no swarm to propose to.
    expect(proposal).toMatchObject({ id: 14, ok: false, error: { name: 'RequestError' } });
    expect(health).toMatchObject({ id: 15, ok: true });
    expect(after.rejected.malformed - before.rejected.malformed).toBe(2);
    expect(after.rejected.unknown - before.rejected.unknown).toBe(1);
  });

  it('stamps every answer with its arrival and answer times, which the client lays out with its own in order', async () => {
    // Prepare
    const client = await AgentClient.connect('a0', agent.url, secretA);
    clients.add(client);
    const ws = await control();
    const window = generateBars({ bars: 500, seed: 7 });
    // Act
    await client.request({ op: 'execute', window });
    const binary = client.lastTrace;
    await client.request({ op: 'execute', window }, undefined, 'json');
    const json = client.lastTrace;
    const refused = await exchange(ws, '{"t":"req","id":1,');
    const health = await exchange(ws, JSON.stringify({ t: 'req', id: 2, op: 'health' }));
    // Assess: the agent runs on this host, so both read one monotonic clock.
    for (const trace of [binary, json]) {
      expect(trace?.agentReceivedNs).toBeTypeOf('bigint');
      const t = trace as Required<NonNullable<typeof trace>>;
      expect(t.startNs).toBeLessThanOrEqual(t.sentNs);
      expect(t.startNs).toBeLessThan(t.agentReceivedNs);
      expect(t.agentReceivedNs).toBeLessThanOrEqual(t.agentAnsweredNs);
      expect(t.agentAnsweredNs).toBeLessThan(t.receivedNs);
    }
    for (const reply of [refused, health]) {
      const at = (reply as Reply & { at?: unknown }).at;
      expect(at).toEqual([expect.stringMatching(/^\d+$/), expect.stringMatching(/^\d+$/)]);
    }
  });

  it('stays responsive and bounded under a flood of 20,000 junk frames', async () => {
    // Prepare
    const frames = 20_000;
    const before = await metrics();
    const flooder = await control();
    let replies = 0;
    const allReplied = new Promise<void>((r) =>
      flooder.on('message', () => {
        if (++replies === frames) r();
      }),
    );
    // Act
    for (let i = 0; i < frames; i++) flooder.send(`junk ${i} ${'#'.repeat(i % 64)}`);
    const fresh = await AgentClient.connect('a0', agent.url, secretA);
    clients.add(fresh);
    const health = await fresh.request({ op: 'health' }, 10_000);
    await allReplied;
    const after = await metrics();
    // Assess
    expect(health.agentId).toBe('a0');
    expect(replies).toBe(frames);
    expect(after.rejected.malformed - before.rejected.malformed).toBe(frames);
    expect(after.rssBytes).toBeLessThan(200 * MIB);
    // Peak resident memory over the agent's whole life, from the OS.
    expect(procStatusKb(agentPid, 'VmHWM') * 1024).toBeLessThan(200 * MIB);
  });

  it('has none of the parent’s environment and not its own secret: no AWS_*, E2B_*, parent variables or swarm secret', () => {
    // Act: /proc shows the environment the agent was started with, for its whole life.
    const entries = readFileSync(`/proc/${agentPid}/environ`, 'utf8').split('\0').filter(Boolean);
    const keys = entries.map((entry) => entry.slice(0, entry.indexOf('=')));
    const text = entries.join('\n');
    // Assess
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.filter((key) => /^(AWS_|E2B_)/.test(key))).toEqual([]);
    for (const [key, value] of Object.entries(PARENT_SECRETS)) {
      expect(keys).not.toContain(key);
      expect(text).not.toContain(value);
    }
    const allowed = /^(PATH|LANG|HOME|TMPDIR|SWARM_AGENT_[A-Z_]+)$/;
    expect(keys.filter((key) => !allowed.test(key))).toEqual([]);
    expect(text).toContain('SWARM_AGENT_ID=a0');
    expect(text).not.toContain(secretA);
    expect(keys).not.toContain('SWARM_AGENT_SECRET');
    expect(entries.find((e) => e.startsWith('HOME='))).not.toBe(`HOME=${process.env.HOME}`);
  });

  it('keeps serving after all of it: same process, real work answered', async () => {
    // Prepare
    const client = await AgentClient.connect('a0', agent.url, secretA);
    clients.add(client);
    // Act
    const signal = await client.request({
      op: 'execute',
      strategy: 'momentum',
      window: generateBars({ bars: 200, seed: 3 }),
    });
    const report = await client.request({ op: 'metrics' });
    // Assess
    expect(['buy', 'sell', 'hold']).toContain(signal.action);
    expect(report.pid).toBe(agentPid);
    expect(pidState(agentPid)).toBe('alive');
    expect(report.rejected.auth).toBeGreaterThan(0);
    expect(report.rejected.oversize).toBeGreaterThan(0);
    expect(report.rejected.malformed).toBeGreaterThan(0);
    expect(report.rejected.unknown).toBeGreaterThan(0);
    expect(procStatusKb(agentPid, 'VmRSS') * 1024).toBeLessThan(200 * MIB);
  });
});
