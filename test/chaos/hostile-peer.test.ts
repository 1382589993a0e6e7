/**
 * A swarm of three real agent processes (local provider, mesh, quorum 3) against hostile peers:
 * impostors claiming a live peer's index with the coordinator's or another peer's credential, a
 * peer index outside the swarm, a second connection for a healthy link, peers of another protocol
 * version (HTTP 426), slow-loris handshakes,
 * and a dropped link (the 0-1 link runs through a TCP relay the test cuts). Agent 0 must refuse
 * and count each, keep its links, and re-dial the dropped link so consensus with quorum 3 returns.
 */
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { credentialFor } from '../../lib/agent/auth.ts';
import { PEER_PROTOCOL } from '../../lib/agent/peer-wire.ts';
import { ROLE_HEADER, SECRET_HEADER } from '../../lib/agent/protocol.ts';
import type { LocalSandboxProvider } from '../../lib/sandbox/local.ts';
import type { AgentEndpoint } from '../../lib/sandbox/types.ts';
import { AgentClient } from '../../lib/swarm/client.ts';
import { buildTopology } from '../../lib/swarm/topology.ts';
import { expectPidsDead, killSurvivors } from '../helpers/processes.ts';
import { localProvider, makeRoot, removeRoot, tally, waitFor } from './helpers.ts';

const secret = randomBytes(24).toString('base64url');
const counts = { faults: 0, impostors: 0, slowLoris: 0 };
let root: string;
let provider: LocalSandboxProvider;
let agents: AgentEndpoint[] = [];
let clients: AgentClient[] = [];
let relay: { server: Server; url: string; cut: () => void; connections: () => number };

/** A TCP relay to `target`; cut() drops every connection it carries (a link failure between agents). */
async function startRelay(targetPort: number): Promise<typeof relay> {
  const live = new Set<Socket>();
  let total = 0;
  const server = createServer((inbound) => {
    total++;
    const outbound = connect(targetPort, '127.0.0.1');
    for (const [a, b] of [
      [inbound, outbound],
      [outbound, inbound],
    ] as const) {
      live.add(a);
      a.pipe(b);
      a.on('error', () => b.destroy());
      a.on('close', () => {
        live.delete(a);
        b.destroy();
      });
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    server,
    url: `ws://127.0.0.1:${port}`,
    cut: () => {
      for (const socket of live) socket.destroy();
    },
    connections: () => total,
  };
}

/**
 * Open a peer connection to `url` claiming `role` with `credential`, offering the peer protocol
 * unless `protocols` says otherwise; resolves with the HTTP refusal or 101.
 */
function knock(url: string, role: string, credential: string, protocols = [PEER_PROTOCOL]): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, protocols, {
      headers: { [SECRET_HEADER]: credential, [ROLE_HEADER]: role },
    });
    ws.once('open', () => {
      ws.terminate();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => {
      ws.terminate();
      resolve(res.statusCode ?? 0);
    });
    ws.once('error', () => resolve(0));
  });
}

beforeAll(async () => {
  root = await makeRoot('hostile-peer');
  provider = localProvider(root);
  const sandbox = await provider.create({ timeoutMs: 120_000, metadata: { swarm: 'hostile' } });
  agents = [];
  for (const agentId of ['a0', 'a1', 'a2']) agents.push(await sandbox.startAgent({ agentId, secret }));
  clients = await Promise.all(agents.map((a) => AgentClient.connect(a.agentId, a.url, secret)));
  relay = await startRelay(Number(new URL(agents[1]?.url as string).port));
  const topology = buildTopology('mesh', 3);
  const urls = agents.map((a) => a.url);
  // Agent 0 reaches agent 1 through the relay; everyone else directly.
  const viaRelay = [urls[0], relay.url, urls[2]] as string[];
  await Promise.all(
    clients.map((client, self) =>
      client.request({
        op: 'configure',
        self,
        urls: self === 0 ? viaRelay : urls,
        topology,
        quorum: 3,
        strategy: 'momentum',
        sharedClock: true,
        market: { seed: 1, bars: 500, windowBars: 50 },
      }),
    ),
  );
});

afterAll(async () => {
  const pids = agents.map((a) => a.pid).filter((pid): pid is number => pid !== undefined);
  try {
    for (const client of clients) client.close();
    relay?.server.close();
    relay?.cut();
    await provider?.killAll();
    await expectPidsDead(pids);
  } finally {
    killSurvivors(pids);
    tally(counts);
    await removeRoot(root);
  }
});

describe('a swarm against hostile peers', () => {
  it('refuses impostors of a live peer, outsiders and a second link, counts them, and keeps its links', async () => {
    // Prepare
    const a0 = clients[0] as AgentClient;
    const url = agents[0]?.url as string;
    const before = await a0.request({ op: 'metrics' });
    // Act
    const statuses = [
      await knock(url, 'peer:1', credentialFor(secret, 'coordinator')),
      await knock(url, 'peer:1', credentialFor(secret, 'peer:2')),
      await knock(url, 'peer:50', credentialFor(secret, 'peer:50')),
      await knock(url, 'peer:0', credentialFor(secret, 'peer:0')),
      // Peer 1's own credential while its link is healthy: a second connection, not a takeover.
      await knock(url, 'peer:1', credentialFor(secret, 'peer:1')),
      // A valid peer of another protocol version (or none): told to upgrade, whatever its index.
      await knock(url, 'peer:2', credentialFor(secret, 'peer:2'), ['swarm-bench-peer.3']),
      await knock(url, 'peer:1', credentialFor(secret, 'peer:1'), []),
      // The protocol offered without the credential is still no way in.
      await knock(url, 'peer:1', credentialFor(secret, 'peer:2')),
    ];
    counts.impostors += statuses.length;
    const consensus = await a0.request({ op: 'propose', at: 100, quorum: 3, timeoutMs: 5_000 });
    const after = await a0.request({ op: 'metrics' });
    // Assess
    expect(statuses).toEqual([401, 401, 403, 403, 409, 426, 426, 401]);
    expect(after.rejected.auth - before.rejected.auth).toBe(3);
    expect(after.rejected.unknown - before.rejected.unknown).toBe(2);
    expect(after.rejected.outsider - before.rejected.outsider).toBe(2);
    expect(after.rejected.duplicate - before.rejected.duplicate).toBe(1);
    expect(after.links).toBe(2);
    expect(consensus.votes).toBe(3);
  });

  it('re-dials a dropped link, and consensus with quorum 3 works again', async () => {
    // Prepare
    const a0 = clients[0] as AgentClient;
    const dialsBefore = relay.connections();
    counts.faults++;
    // Act
    relay.cut();
    let healed = false;
    for (const deadline = Date.now() + 15_000; !healed && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 50));
      const health = await a0.request({ op: 'health' });
      healed = health.links === 2 && relay.connections() > dialsBefore;
    }
    const consensus = await a0.request({ op: 'propose', at: 200, quorum: 3, timeoutMs: 5_000 });
    // Assess
    expect(healed).toBe(true);
    expect(consensus.votes).toBe(3);
  });

  it('closes connections that never finish their handshake, on every agent, and counts them', async () => {
    // Prepare
    const ports = agents.map((a) => Number(new URL(a.url).port));
    const befores = await Promise.all(clients.map((c) => c.request({ op: 'metrics' })));
    const sockets: Socket[] = [];
    for (const port of ports) {
      for (let i = 0; i < 10; i++) {
        const socket = connect(port, '127.0.0.1');
        socket.on('error', () => undefined);
        // Half of them start an upgrade and stall; the other half say nothing.
        if (i % 2 === 0) socket.write('GET / HTTP/1.1\r\nHost: agent\r\nUpgrade: websocket\r\n');
        sockets.push(socket);
      }
    }
    counts.slowLoris += sockets.length;
    // Act
    const allClosed = await waitFor(() => sockets.every((s) => s.destroyed || s.readableEnded), 15_000);
    const afters = await Promise.all(clients.map((c) => c.request({ op: 'metrics' })));
    for (const socket of sockets) socket.destroy();
    // Assess
    expect(allClosed).toBe(true);
    expect(afters.map((a, i) => a.rejected.handshake - (befores[i]?.rejected.handshake ?? 0))).toEqual([
      10, 10, 10,
    ]);
  });
});
