/**
 * Where the microseconds of one round trip and one consensus round go (`npm run bench:breakdown`,
 * not part of `npm test`). In-process, no sockets: the per-frame costs of the agent's hot path
 * (parse, schema check, membership check, serialise; for the binary peer frames of peer-wire.ts,
 * encode, scan and relay), one strategy round trip on a 500-bar window
 * step by step with the window as JSON and as a binary frame (exec-costs.ts), a consensus round of ten PeerNodes over the
 * in-memory network (logic + validation + event-loop turns, no kernel), and the message delays
 * each topology's quorum needs in theory against what the protocol takes. Last, over real
 * sockets: the round trip between two adjacent agent processes next to bare ws ping-pong (its
 * floor), alternately in the same run. `npm run bench:runtime` measures every path that way.
 */
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentCounters } from '../lib/agent/counters.ts';
import { checkPeerFrame } from '../lib/agent/frame-check.ts';
import { InMemoryNetwork } from '../lib/agent/inmem-net.ts';
import type { PeerNet } from '../lib/agent/peer-net.ts';
import { PeerNode } from '../lib/agent/peer-node.ts';
import { encodePeerWire, scanPeerWire } from '../lib/agent/peer-wire.ts';
import { type PeerFrame, peerFrameSchema } from '../lib/agent/protocol.ts';
import { StrategyRegistry } from '../lib/agent/workload.ts';
import { LocalSandboxProvider } from '../lib/sandbox/local.ts';
import { SwarmManager } from '../lib/swarm/manager.ts';
import {
  buildTopology,
  defaultQuorum,
  quorumDepth,
  TOPOLOGIES,
  type TopologyKind,
} from '../lib/swarm/topology.ts';
import { generateBars } from '../lib/trading/market.ts';
import { createStrategy } from '../lib/trading/strategies.ts';
import { formatExecuteCosts, measureExecuteCosts } from './exec-costs.ts';
import { live, startClient, startEcho } from './floor-procs.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const AGENTS = 10;
const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

function perCallUs(n: number, fn: () => unknown): number {
  for (let i = 0; i < Math.min(n, 5_000); i++) fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - t0) / n / 1000;
}

function quantile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))] ?? Number.NaN;
}

/** Per-frame costs of one hop of a round trip (ping out, pong back: each frame crosses this twice per hop). */
function frameCosts(): void {
  const frames = {
    ping: { t: 'ping', src: 0, dst: 1, id: 123_456, path: [0] },
    vote: { t: 'vote', src: 3, dst: 0, pid: 1_000_001, action: 'buy', hops: 0 },
    commit: { t: 'commit', origin: 0, pid: 1_000_001, decision: 'buy' },
  };
  process.stdout.write(`\nper-frame cost, us (load ${load()})\n`);
  process.stdout.write(
    'frame    JSON: parse  schema(zod)  check  serialise  node.receive | binary: encode   scan  node.receive\n',
  );
  const topology = buildTopology('mesh', 2);
  // A network that takes every frame and drops it: node.receive is the agent's work alone (the
  // socket write and the kernel are in the floor; a queue of 20,000 undelivered frames is not).
  const discard: PeerNet = {
    send: () => true,
    isUp: () => true,
    openPeers: () => [0],
    congested: () => false,
    drained: () => Promise.resolve(),
    onceDown: () => () => {},
  };
  const node = new PeerNode(discard, new AgentCounters(), new StrategyRegistry());
  node.configure({ self: 1, topology, quorum: 2, strategy: 'momentum', sharedClock: false });
  const receiveUs: Record<string, { json: number; binary: number }> = {};
  const cell = (us: number, width: number) => (Number.isNaN(us) ? '-' : us.toFixed(2)).padStart(width);
  for (const [name, frame] of Object.entries(frames)) {
    const text = JSON.stringify(frame);
    const parsed = JSON.parse(text);
    const parse = perCallUs(100_000, () => JSON.parse(text));
    const validate = perCallUs(100_000, () => peerFrameSchema.safeParse(parsed));
    const check = perCallUs(100_000, () => checkPeerFrame(parsed));
    const serialise = perCallUs(100_000, () => JSON.stringify(parsed));
    const bytes = encodePeerWire(parsed as PeerFrame) as Buffer;
    const encode = perCallUs(100_000, () => encodePeerWire(parsed as PeerFrame));
    const scan = perCallUs(100_000, () => scanPeerWire(bytes));
    // A frame for another agent is forwarded: receive runs the whole hot path except the socket write.
    const forwarded = { ...frame, dst: 0, src: 1 } as PeerFrame;
    const forwardedText = JSON.stringify(forwarded);
    const forwardedBytes = encodePeerWire(forwarded) as Buffer;
    const json = name === 'commit' ? Number.NaN : perCallUs(100_000, () => node.receive(0, forwardedText));
    const binary = name === 'commit' ? Number.NaN : perCallUs(100_000, () => node.receive(0, forwardedBytes));
    receiveUs[name] = { json, binary };
    process.stdout.write(
      `${name.padEnd(8)} ${cell(parse, 11)} ${cell(validate, 12)} ${cell(check, 6)} ${cell(serialise, 10)} ${cell(json, 13)} ${cell(encode, 16)} ${cell(scan, 6)} ${cell(binary, 13)}\n`,
    );
  }
  // One adjacent round trip beyond bare ws: agent 1 receives the ping and sends the pong (the
  // receive above, which serialises and hands on the forwarded frame), agent 0 sends the ping and
  // takes in the pong (one receive more). The kernel and ws framing are in the floor already.
  const ping = { t: 'ping', src: 0, dst: 1, id: 1, path: [0] } as PeerFrame;
  const pingOut = {
    json: perCallUs(100_000, () => JSON.stringify(ping)),
    binary: perCallUs(100_000, () => encodePeerWire(ping)),
  };
  const ping1 = receiveUs.ping as { json: number; binary: number };
  for (const form of ['json', 'binary'] as const) {
    process.stdout.write(
      `one adjacent round trip, ${form.padEnd(6)}: agent work ~${(ping1[form] * 2 + pingOut[form]).toFixed(1)} us on top of bare ws (ping out ${pingOut[form].toFixed(2)} + 2 x receive ${ping1[form].toFixed(2)})\n`,
    );
  }
  const window = generateBars({ bars: 500, seed: 1 });
  const vote = perCallUs(2_000, () => createStrategy('momentum').signal(window.slice(-50)));
  const exec500 = perCallUs(500, () => createStrategy('momentum').signal(window));
  process.stdout.write(
    `strategy vote on a 50-bar window: ${vote.toFixed(1)} us; execute on 500 bars: ${exec500.toFixed(1)} us\n`,
  );
}

/** A consensus round of AGENTS PeerNodes over the in-memory network: everything but the kernel. */
async function consensusInMemory(kind: TopologyKind, rounds: number): Promise<void> {
  const topology = buildTopology(kind, AGENTS);
  const net = new InMemoryNetwork(topology);
  const nodes: PeerNode[] = [];
  for (let i = 0; i < AGENTS; i++) {
    let node!: PeerNode;
    const peerNet = net.join(i, { receive: (from, text) => node.receive(from, text) });
    node = new PeerNode(peerNet, new AgentCounters(), new StrategyRegistry());
    node.configure({
      self: i,
      topology,
      quorum: defaultQuorum(AGENTS),
      strategy: 'momentum',
      sharedClock: true,
      market: { seed: 1, bars: 2_000, windowBars: 50 },
    });
    nodes.push(node);
  }
  const root = nodes[topology.root] as PeerNode;
  const samples: number[] = [];
  const delivered0 = net.delivered;
  for (let i = 0; i < rounds + 20; i++) {
    const result = await root.consensus.propose({ at: 100 + i }, defaultQuorum(AGENTS), 5_000);
    if (i >= 20) samples.push(result.heldRttUs);
  }
  const perRound = (net.delivered - delivered0) / (rounds + 20);
  process.stdout.write(
    `${kind.padEnd(13)} p50 ${quantile(samples, 0.5).toFixed(0).padStart(6)} us  p99 ${quantile(samples, 0.99).toFixed(0).padStart(6)} us  ${perRound.toFixed(0)} frames/round  (load ${load()})\n`,
  );
}

/**
 * Message delays (one-way hops in sequence) until a quorum holds the decision. A leader-based round
 * needs: proposal out to the q-th nearest agent (d_q), votes back (d_q), decision out (d_q) = 3 d_q;
 * all-to-all voting (each agent floods its vote and decides itself) needs proposal + votes = 2 d,
 * at the price of n^2 vote frames. The protocol commits at the q-th vote, so it takes 3 d_q.
 */
function messageDelays(): void {
  process.stdout.write('\nmessage delays until a quorum holds the decision (10 agents, quorum 7)\n');
  process.stdout.write(
    'topology      d_q  leader min (3 d_q)  all-to-all min (2 d_q)  ours (held)  ours (proposer sees acks)\n',
  );
  for (const kind of TOPOLOGIES) {
    const topology = buildTopology(kind, AGENTS);
    const dq = quorumDepth(topology, topology.root, defaultQuorum(AGENTS));
    process.stdout.write(
      `${kind.padEnd(13)} ${String(dq).padStart(3)} ${String(3 * dq).padStart(19)} ${String(2 * dq).padStart(23)} ${String(3 * dq).padStart(12)} ${String(4 * dq).padStart(26)}\n`,
    );
  }
}

/**
 * Round trips between two adjacent agent processes (mesh of 2, the built agent bundle) next to
 * bare ws ping-pong between two node processes (bench/floors), in alternating rounds.
 */
async function adjacentOverSockets(rounds: number, perRound: number): Promise<void> {
  execFileSync(process.execPath, ['--import', 'tsx', 'scripts/build-agent.ts'], {
    cwd: ROOT,
    stdio: 'ignore',
  });
  const provider = new LocalSandboxProvider({ bundlePath: join(ROOT, 'dist/agent.cjs') });
  const manager = new SwarmManager({ provider, sandboxTimeoutMs: 30 * 60_000 });
  try {
    const swarm = await manager.createSwarm('mesh', 2);
    const echo = await startEcho();
    const pinger = await startClient(echo.url);
    const ours: number[] = [];
    const floor: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const warmup = r === 0 ? 200 : 20;
      const bare = await pinger.command<{ samplesUs: number[] }>({ cmd: 'ping', count: perRound, warmup });
      floor.push(...bare.samplesUs);
      ours.push(...(await swarm.ping(0, 1, { count: perRound, warmup })).samplesUs);
    }
    await swarm.destroy();
    process.stdout.write(
      `\nadjacent round trip over sockets, us (${rounds} x ${perRound} alternately, load ${load()})\n`,
    );
    for (const [name, p] of [
      ['p50', 0.5],
      ['p99', 0.99],
    ] as const) {
      const a = quantile(ours, p);
      const b = quantile(floor, p);
      process.stdout.write(
        `${name}: two agents ${a.toFixed(1)}  bare ws ${b.toFixed(1)}  ratio ${(a / b).toFixed(2)}x\n`,
      );
    }
  } finally {
    await provider.killAll();
    for (const child of live) child.kill('SIGKILL');
  }
}

frameCosts();
process.stdout.write(`\n${formatExecuteCosts(measureExecuteCosts(500))}\n(load ${load()})\n`);
process.stdout.write(`\nconsensus round over the in-memory network (${AGENTS} agents, no sockets)\n`);
for (const kind of ['mesh', 'ring'] as const) await consensusInMemory(kind, 300);
messageDelays();
await adjacentOverSockets(4, 500);
