/**
 * Runtime benchmark (`npm run bench:runtime`, not part of `npm test`): every figure of the swarm
 * runtime on the local provider, each next to its raw floor measured in the same run by bare
 * node + ws programs (bench/floors/), interleaved so machine noise hits both alike. Prints a table
 * of absolute numbers, ratios and PASS/MISS per goal, and writes everything (raw samples included)
 * to bench/results/runtime-latest.json.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { encodeWindowFrame } from '../lib/agent/window-frame.ts';
import { LocalSandboxProvider } from '../lib/sandbox/local.ts';
import { type Swarm, SwarmManager } from '../lib/swarm/manager.ts';
import { buildTopology, defaultQuorum, quorumDepth } from '../lib/swarm/topology.ts';
import { generateBars } from '../lib/trading/market.ts';
import {
  type ExecuteCosts,
  type ExecuteHops,
  emptyHops,
  formatExecuteCosts,
  formatHops,
  measureExecuteCosts,
  recordHops,
} from './exec-costs.ts';
import { live, startClient, startConsensusFloor, startEcho } from './floor-procs.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BUNDLE = join(ROOT, 'dist/agent.cjs');
const RESULTS = join(ROOT, 'bench/results/runtime-latest.json');
const AGENTS = 10;
const MIB = 1024 * 1024;

/** Sizes of each measurement; small enough to finish in about two minutes on 2 cores. */
const FULL_PLAN = {
  initRounds: 5,
  rttRounds: 4,
  rttPerRound: 500,
  rttWarmup: 200,
  consensusWarmup: 30,
  consensusRounds: 300,
  consensusChunk: 50,
  windowBars: 500,
  syncWarmup: 30,
  syncRounds: 300,
  stateBytes: 10 * 1024,
  execWarmup: 50,
  execRounds: 500,
  execChunk: 50,
  blastRounds: 3,
  blastPerLink: 5_000,
  floorLoadMessages: 200_000,
  floorLoadWindow: 1_000,
  settleMs: 1_000,
};

/**
 * `--scale <0.1..1>` shrinks every count (not the window sizes) for a loaded machine; `--runs <n>`
 * repeats the whole measurement n times, each run judged on its own. Bad values exit 2.
 */
const { values: flags } = parseArgs({
  options: { scale: { type: 'string', default: '1' }, runs: { type: 'string', default: '1' } },
  strict: true,
});
const SCALE = Number(flags.scale);
const RUNS = Number(flags.runs);
if (!(SCALE >= 0.1 && SCALE <= 1)) {
  process.stderr.write(`--scale: must be a number from 0.1 to 1 (got ${JSON.stringify(flags.scale)})\n`);
  process.exit(2);
}
if (!(Number.isInteger(RUNS) && RUNS >= 1 && RUNS <= 5)) {
  process.stderr.write(`--runs: must be an integer from 1 to 5 (got ${JSON.stringify(flags.runs)})\n`);
  process.exit(2);
}
const scaled = (n: number, min = 1) => Math.max(min, Math.round(n * SCALE));
const PLAN = {
  ...FULL_PLAN,
  initRounds: scaled(FULL_PLAN.initRounds, 2),
  rttPerRound: scaled(FULL_PLAN.rttPerRound, 100),
  consensusRounds: scaled(FULL_PLAN.consensusRounds / FULL_PLAN.consensusChunk, 2) * FULL_PLAN.consensusChunk,
  syncRounds: scaled(FULL_PLAN.syncRounds, 100),
  execRounds: scaled(FULL_PLAN.execRounds, 100),
  blastPerLink: scaled(FULL_PLAN.blastPerLink, 1_000),
  floorLoadMessages: scaled(FULL_PLAN.floorLoadMessages, 40_000),
};
/**
 * Agents kill themselves at the end of their sandbox lifetime (300 s by default, like E2B). At a
 * load average of 30 the persistent swarms outlived that, so the run died in its blast phase.
 */
const SANDBOX_LIFETIME_MS = 60 * 60_000;

// ---- small utilities ----------------------------------------------------------------------------

function quantile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = (sorted.length - 1) * p;
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  const a = sorted[low] as number;
  const b = sorted[high] as number;
  return a + (b - a) * (rank - low);
}
const median = (samples: readonly number[]) => quantile(samples, 0.5);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU time (user + system) a process has used, in microseconds, from /proc (10 ms ticks). */
function cpuUsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}
const cpuUsOfAll = (pids: readonly number[]) => pids.reduce((sum, pid) => sum + cpuUsOf(pid), 0);

function rssOf(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1]) * 1024;
}

/** One health request from here (no secret: the floor has none), like the coordinator's first contact. */
function health(url: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('open', () => ws.send(JSON.stringify({ t: 'req', id: 1, op: 'health' })));
    ws.once('message', () => {
      ws.terminate();
      resolvePromise();
    });
    ws.once('error', reject);
  });
}

// ---- floors -------------------------------------------------------------------------------------

/** Floor (c): 10 bare node+ws processes started in parallel, each answering one health request. */
async function floorSpawnTen(): Promise<number> {
  const start = performance.now();
  const servers = await Promise.all(
    Array.from({ length: AGENTS }, async () => {
      const server = await startEcho();
      await health(server.url);
      return server;
    }),
  );
  const elapsed = performance.now() - start;
  await Promise.all(servers.map((s) => s.child.stop()));
  return elapsed;
}

// ---- the run ------------------------------------------------------------------------------------

interface Row {
  figure: string;
  unit: string;
  ours: number;
  floor?: number;
  floorName?: string;
}

interface Goal {
  goal: string;
  value: number;
  limit: number;
  kind: 'ratio<=' | 'ratio>=' | 'abs<' | 'abs>=';
  pass: boolean;
}

async function main(): Promise<void> {
  execFileSync(process.execPath, ['--import', 'tsx', 'scripts/build-agent.ts'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  const machine = {
    cpus: cpus().length,
    model: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    totalMemMb: Math.round(totalmem() / MIB),
    loadavgAtStart: loadavg().map((l) => Number(l.toFixed(2))),
  };
  process.stdout.write(
    `machine: ${machine.cpus} cpus, ${machine.model}, node ${machine.node}, ${machine.totalMemMb} MB, load ${machine.loadavgAtStart.join(' ')}\n`,
  );

  const runs: object[] = [];
  for (let run = 1; run <= RUNS; run++) {
    process.stdout.write(
      `\nrun ${run}/${RUNS} (scale ${SCALE}), load ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}\n`,
    );
    runs.push(await measure());
  }
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(
    RESULTS,
    `${JSON.stringify({ at: new Date().toISOString(), machine, plan: PLAN, runs }, null, 1)}\n`,
  );
  process.stdout.write(`results: ${RESULTS}\n`);
}

/** One complete measurement: every figure and its floor, reported with its goals. */
async function measure(): Promise<object> {
  const provider = new LocalSandboxProvider({ bundlePath: BUNDLE });
  const manager = new SwarmManager({ provider, sandboxTimeoutMs: SANDBOX_LIFETIME_MS });
  const raw: Record<string, number[]> = {};
  const window = generateBars({ bars: PLAN.windowBars, seed: 1 });
  const swarms: Swarm[] = [];
  try {
    // Init: swarm of 10 (mesh, parallel) vs 10 bare processes, alternately.
    raw.initMs = [];
    raw.floorSpawnMs = [];
    for (let r = 0; r < PLAN.initRounds; r++) {
      raw.floorSpawnMs.push(await floorSpawnTen());
      const swarm = await manager.createSwarm('mesh', AGENTS);
      raw.initMs.push(swarm.timings.initMs);
      await swarm.destroy();
      await provider.killAll();
    }
    progress('init');

    // Persistent swarms and floor processes.
    // Agents generate the seeded market feed themselves; a proposal names a bar of it (as the suite does).
    const market = { seed: 1, bars: PLAN.windowBars + 2_000, windowBars: PLAN.windowBars };
    const mesh = await manager.createSwarm('mesh', AGENTS, { market });
    swarms.push(mesh);
    const ring = await manager.createSwarm('ring', AGENTS, { market });
    swarms.push(ring);
    const pingEcho = await startEcho();
    const pinger = await startClient(pingEcho.url);
    // Three bare idle processes, each having answered one request like an agent's health check.
    const idleEchoes = await Promise.all([startEcho(), startEcho(), startEcho()]);
    for (const echo of idleEchoes) await health(echo.url);
    await sleep(PLAN.settleMs);

    // RSS idle: every mesh agent (its own report and /proc) vs a bare idle node+ws process.
    const idleMetrics = await mesh.metrics();
    raw.rssIdleAgentBytes = idleMetrics.map((m) => m.rssBytes);
    raw.rssIdleAgentProcBytes = mesh.agents.map((a) => rssOf(a.endpoint.pid as number));
    raw.rssIdleFloorBytes = idleEchoes.map((echo) => rssOf(echo.child.pid));
    await Promise.all(idleEchoes.map((echo) => echo.child.stop()));
    progress('rss idle');

    // Round trip between adjacent agents vs bare ping-pong, alternately.
    raw.rttUs = [];
    raw.floorRttUs = [];
    for (let r = 0; r < PLAN.rttRounds; r++) {
      const warmup = r === 0 ? PLAN.rttWarmup : 20;
      const floor = await pinger.command<{ samplesUs: number[] }>({
        cmd: 'ping',
        count: PLAN.rttPerRound,
        warmup,
      });
      raw.floorRttUs.push(...floor.samplesUs);
      const ours = await mesh.ping(0, 1, { count: PLAN.rttPerRound, warmup });
      raw.rttUs.push(...ours.samplesUs);
    }
    progress('rtt');

    // Consensus, mesh and ring alternately in chunks, each chunk of ours after a chunk of floor (f):
    // ten bare processes in the same topology running the same round (bench/floors/consensus-agent.mjs).
    const floorMesh = await startConsensusFloor('mesh', AGENTS, mesh.quorum);
    const floorRing = await startConsensusFloor('ring', AGENTS, ring.quorum);
    // Raw samples by topology, ours and the floor's: held, commit and ack round trip (held RTT).
    const series = (prefix: string) => {
      const keys = ['HeldUs', 'CommitUs', 'AckUs'].map((name) => `${prefix}${name}`);
      for (const key of keys) raw[key] = [];
      return keys.map((key) => raw[key] as number[]) as [number[], number[], number[]];
    };
    // CPU of the ten processes per round, each chunk on its own: less noisy than a tail latency.
    raw.consensusMeshCpuUs = [];
    raw.consensusRingCpuUs = [];
    raw.floorConsensusMeshCpuUs = [];
    raw.floorConsensusRingCpuUs = [];
    const agentPids = (swarm: Swarm) => swarm.agents.map((a) => a.endpoint.pid as number);
    const consensusRuns = [
      {
        swarm: mesh,
        floor: floorMesh,
        ours: series('consensusMesh'),
        raw: series('floorConsensusMesh'),
        cpu: [raw.consensusMeshCpuUs, raw.floorConsensusMeshCpuUs] as const,
      },
      {
        swarm: ring,
        floor: floorRing,
        ours: series('consensusRing'),
        raw: series('floorConsensusRing'),
        cpu: [raw.consensusRingCpuUs, raw.floorConsensusRingCpuUs] as const,
      },
    ];
    for (let i = 0; i < PLAN.consensusWarmup; i++) {
      for (const { swarm, floor } of consensusRuns) {
        await floor.round();
        await swarm.consensus(PLAN.windowBars + i);
      }
    }
    for (let done = 0; done < PLAN.consensusRounds; done += PLAN.consensusChunk) {
      for (const { swarm, floor, ours, raw: floorRaw, cpu } of consensusRuns) {
        const floorCpu = cpuUsOfAll(floor.pids);
        for (let i = 0; i < PLAN.consensusChunk; i++) {
          const result = await floor.round();
          floorRaw[0].push(result.heldUs);
          floorRaw[1].push(result.commitUs);
          floorRaw[2].push(result.ackUs);
        }
        cpu[1].push((cpuUsOfAll(floor.pids) - floorCpu) / PLAN.consensusChunk);
        const oursCpu = cpuUsOfAll(agentPids(swarm));
        for (let i = 0; i < PLAN.consensusChunk; i++) {
          const result = await swarm.consensus(PLAN.windowBars + done + i);
          ours[0].push(result.heldUs);
          ours[1].push(result.commitUs);
          ours[2].push(result.heldRttUs);
        }
        cpu[0].push((cpuUsOfAll(agentPids(swarm)) - oursCpu) / PLAN.consensusChunk);
      }
    }
    await Promise.all([floorMesh.stop(), floorRing.stop()]);
    progress('consensus');

    // State sync, 10 KB, mesh.
    raw.syncUs = [];
    const state = { portfolio: { cash: 1_000_000 }, blob: 'x'.repeat(PLAN.stateBytes) };
    for (let i = 0; i < PLAN.syncWarmup + PLAN.syncRounds; i++) {
      const result = await mesh.syncState(state);
      if (i >= PLAN.syncWarmup) raw.syncUs.push(result.syncUs);
    }
    progress('sync');

    // Strategy execution round trip at the coordinator, 500-bar window, across all agents: the
    // window in a binary frame (the protocol) and as JSON columns (protocol 2's form), alternately.
    raw.execRoundTripUs = [];
    raw.execComputeUs = [];
    raw.execJsonRoundTripUs = [];
    raw.floorExecUs = [];
    raw.execOneAgentUs = [];
    const hops = emptyHops();
    // Floor (e): a binary request of the window frame's size answered by a short text frame, from a
    // bare ws client to a bare server, in chunks between ours.
    const windowFrameBytes = (encodeWindowFrame(1, { op: 'execute', window }) as Buffer).byteLength;
    for (let i = 0; i < PLAN.execWarmup + PLAN.execRounds; i++) {
      if (i % PLAN.execChunk === 0) {
        const floor = await pinger.command<{ samplesUs: number[] }>({
          cmd: 'ping',
          count: Math.min(PLAN.execChunk, PLAN.execWarmup + PLAN.execRounds - i),
          warmup: i === 0 ? PLAN.execWarmup : 5,
          bytes: windowFrameBytes,
        });
        raw.floorExecUs.push(...floor.samplesUs);
      }
      // Across the agents in binary and as JSON, and to one agent only (as the floor has one server).
      const variants = ['binary', 'json', 'one agent'] as const;
      for (const variant of i % 2 === 0 ? variants : [...variants].reverse()) {
        const index = variant === 'one agent' ? 0 : i % AGENTS;
        const client = (mesh.agents[index] as Swarm['agents'][number]).client;
        const startNs = process.hrtime.bigint();
        const result = await mesh.execute(index, window, undefined, variant === 'json' ? 'json' : 'binary');
        const endNs = process.hrtime.bigint();
        const elapsedUs = Number(endNs - startNs) / 1000;
        if (i < PLAN.execWarmup) continue;
        if (variant === 'json') raw.execJsonRoundTripUs.push(elapsedUs);
        else if (variant === 'one agent') raw.execOneAgentUs.push(elapsedUs);
        else {
          raw.execRoundTripUs.push(elapsedUs);
          raw.execComputeUs.push(result.computeUs);
          recordHops(hops, client.lastTrace, endNs);
        }
      }
    }
    // The same round trip step by step, in this process, in the same minute.
    const execCosts = measureExecuteCosts(PLAN.windowBars);
    progress('execute');

    // Throughput: swarm-wide blast vs bare pipelined echo, alternately.
    raw.blastMsgPerSec = [];
    raw.floorEchoMsgPerSec = [];
    const loadEcho = await startEcho();
    const loader = await startClient(loadEcho.url);
    for (let r = 0; r < PLAN.blastRounds; r++) {
      const floor = await loader.command<{ messagesPerSecond: number }>({
        cmd: 'load',
        count: PLAN.floorLoadMessages,
        window: PLAN.floorLoadWindow,
      });
      raw.floorEchoMsgPerSec.push(floor.messagesPerSecond);
      const blast = await mesh.blast(PLAN.blastPerLink, 16);
      raw.blastMsgPerSec.push(blast.messages / (blast.elapsedMs / 1000));
    }
    progress('throughput');

    // RSS after load.
    await sleep(PLAN.settleMs);
    const loadedMetrics = await mesh.metrics();
    raw.rssLoadedAgentBytes = loadedMetrics.map((m) => m.rssBytes);
    raw.rssLoadedAgentProcBytes = mesh.agents.map((a) => rssOf(a.endpoint.pid as number));
    raw.rssLoadedFloorBytes = [rssOf(loadEcho.child.pid)];
    await Promise.all([pinger.stop(), pingEcho.child.stop(), loader.stop(), loadEcho.child.stop()]);

    return report(raw, execCosts, hops);
  } finally {
    await Promise.allSettled(swarms.map((s) => s.destroy()));
    await provider.killAll();
    for (const child of live) child.kill('SIGKILL');
  }
}

/**
 * The fewest message delays until a quorum holds a decision a leader proposes (proposal out, votes
 * back, decision out: 3 d_q, d_q the hops to the quorum-th nearest agent), against the held time
 * measured, in one-way delays of floor (a) (half its round trip p50).
 */
function formatConsensusDelays(heldUs: Record<'mesh' | 'ring', number[]>, floorOneWayUs: number): string {
  const quorum = defaultQuorum(AGENTS);
  const lines = [
    `consensus, ${AGENTS} agents, quorum ${quorum}: one-way delays until a quorum holds the decision (one delay = floor (a) p50 / 2 = ${floorOneWayUs.toFixed(1)} us)`,
    'topology  d_q  fewest delays (3 d_q)  = us at the floor   held p50 us   held p50 in delays   held p99 in delays',
  ];
  for (const kind of ['mesh', 'ring'] as const) {
    const topology = buildTopology(kind, AGENTS);
    const dq = quorumDepth(topology, topology.root, quorum);
    const held = heldUs[kind];
    const p50 = median(held);
    lines.push(
      `${kind.padEnd(8)}${String(dq).padStart(5)}${String(3 * dq).padStart(23)}${(3 * dq * floorOneWayUs).toFixed(0).padStart(19)}${p50.toFixed(0).padStart(14)}${(p50 / floorOneWayUs).toFixed(1).padStart(21)}${(quantile(held, 0.99) / floorOneWayUs).toFixed(1).padStart(21)}`,
    );
  }
  return lines.join('\n');
}

/** How a topology is spelled inside the raw series' keys (consensusMeshHeldUs, ...). */
const TOPOLOGY_KEY = { mesh: 'Mesh', ring: 'Ring' } as const;

/**
 * Each consensus held figure against both floors (informational, no goal): ours / (a), the bare
 * 2-process ping-pong the goals are set against, and ours / (f), the same round run by ten bare
 * processes on this machine, which is the part of the figure that is ours.
 */
function consensusAgainstFloors(
  r: (key: string) => number[],
  floorRtt: readonly number[],
): { lines: string; figures: object[] } {
  const figures = (['mesh', 'ring'] as const).flatMap((kind) => {
    const key = TOPOLOGY_KEY[kind];
    return ([0.5, 0.99] as const).map((p) => {
      const ours = quantile(r(`consensus${key}HeldUs`), p);
      const a = quantile(floorRtt, p);
      const f = quantile(r(`floorConsensus${key}HeldUs`), p);
      return {
        topology: kind,
        quantile: p,
        oursUs: ours,
        floorAUs: a,
        floorFUs: f,
        overA: ours / a,
        overF: ours / f,
      };
    });
  });
  const lines = [
    'consensus held, ours against floor (a) (the goals) and floor (f) (what is ours; informational, no goal)',
    'topology  quantile   ours us   (a) us   ours/(a)   (f) us   ours/(f)   (f)/(a)',
    ...figures.map(
      (x) =>
        `${x.topology.padEnd(8)}${`p${x.quantile * 100}`.padStart(10)}${x.oursUs.toFixed(0).padStart(10)}${x.floorAUs.toFixed(0).padStart(9)}${`${x.overA.toFixed(2)}x`.padStart(11)}${x.floorFUs.toFixed(0).padStart(9)}${`${x.overF.toFixed(2)}x`.padStart(11)}${`${(x.floorFUs / x.floorAUs).toFixed(2)}x`.padStart(10)}`,
    ),
  ];
  // CPU per round of the ten processes (median over the chunks): the work the round costs the
  // machine, which on 2 vCPUs sets the held time more steadily than the tail shows it.
  const cpu = (['mesh', 'ring'] as const).map((kind) => {
    const key = TOPOLOGY_KEY[kind];
    const ours = median(r(`consensus${key}CpuUs`));
    const floor = median(r(`floorConsensus${key}CpuUs`));
    return { topology: kind, oursCpuUsPerRound: ours, floorFCpuUsPerRound: floor, overF: ours / floor };
  });
  lines.push(
    ...cpu.map(
      (x) =>
        `${x.topology} CPU per round, 10 processes (user + sys, /proc, median of chunks): ours ${x.oursCpuUsPerRound.toFixed(0)} us, (f) ${x.floorFCpuUsPerRound.toFixed(0)} us, ours/(f) ${x.overF.toFixed(2)}x`,
    ),
  );
  return { lines: lines.join('\n'), figures: [...figures, ...cpu] };
}

function progress(step: string): void {
  process.stderr.write(`  measured: ${step}\n`);
}

function report(raw: Record<string, number[]>, execCosts: ExecuteCosts, hops: ExecuteHops): object {
  const r = (key: string) => raw[key] ?? [];
  const floorRttP50 = median(r('floorRttUs'));
  const floorRttP99 = quantile(r('floorRttUs'), 0.99);
  /** Our held time against floor (f), and (f) itself against (a): what of the figure is ours. */
  const floorFRows = (kind: 'mesh' | 'ring'): Row[] => {
    const held = r(`consensus${TOPOLOGY_KEY[kind]}HeldUs`);
    const floorHeld = r(`floorConsensus${TOPOLOGY_KEY[kind]}HeldUs`);
    return [
      {
        figure: `consensus ${kind} p99 heldUs, against floor (f)`,
        unit: 'us',
        ours: quantile(held, 0.99),
        floor: quantile(floorHeld, 0.99),
        floorName: '(f) p99',
      },
      {
        figure: `consensus ${kind} p50 heldUs, against floor (f)`,
        unit: 'us',
        ours: median(held),
        floor: median(floorHeld),
        floorName: '(f) 10 bare node+ws processes, same topology, routes and round, held p50',
      },
      {
        figure: `floor (f) ${kind} p99 heldUs`,
        unit: 'us',
        ours: quantile(floorHeld, 0.99),
        floor: floorRttP99,
        floorName: '(a) p99',
      },
    ];
  };
  const rows: Row[] = [
    {
      figure: 'inter-agent RTT p50 (adjacent, mesh)',
      unit: 'us',
      ours: median(r('rttUs')),
      floor: floorRttP50,
      floorName: '(a) bare ws ping-pong p50',
    },
    {
      figure: 'inter-agent RTT p99',
      unit: 'us',
      ours: quantile(r('rttUs'), 0.99),
      floor: floorRttP99,
      floorName: '(a) p99',
    },
    {
      figure: 'swarm init, 10 agents mesh parallel (median)',
      unit: 'ms',
      ours: median(r('initMs')),
      floor: median(r('floorSpawnMs')),
      floorName: '(c) 10 bare node+ws up + health',
    },
    {
      figure: 'consensus mesh p99 heldUs',
      unit: 'us',
      ours: quantile(r('consensusMeshHeldUs'), 0.99),
      floor: floorRttP99,
      floorName: '(a) p99',
    },
    {
      figure: 'consensus mesh p99 commitUs',
      unit: 'us',
      ours: quantile(r('consensusMeshCommitUs'), 0.99),
      floor: floorRttP99,
      floorName: '(a) p99',
    },
    {
      figure: 'consensus mesh p99 ack round trip',
      unit: 'us',
      ours: quantile(r('consensusMeshAckUs'), 0.99),
      floor: floorRttP99,
      floorName: '(a) p99',
    },
    {
      figure: 'consensus mesh p50 heldUs',
      unit: 'us',
      ours: median(r('consensusMeshHeldUs')),
      floor: floorRttP50,
      floorName: '(a) p50',
    },
    ...floorFRows('mesh'),
    {
      figure: 'consensus ring p99 heldUs',
      unit: 'us',
      ours: quantile(r('consensusRingHeldUs'), 0.99),
      floor: floorRttP99,
      floorName: '(a) p99',
    },
    {
      figure: 'consensus ring p99 commitUs',
      unit: 'us',
      ours: quantile(r('consensusRingCommitUs'), 0.99),
      floor: floorRttP99,
      floorName: '(a) p99',
    },
    {
      figure: 'consensus ring p99 ack round trip',
      unit: 'us',
      ours: quantile(r('consensusRingAckUs'), 0.99),
      floor: floorRttP99,
      floorName: '(a) p99',
    },
    {
      figure: 'consensus ring p50 heldUs',
      unit: 'us',
      ours: median(r('consensusRingHeldUs')),
      floor: floorRttP50,
      floorName: '(a) p50',
    },
    ...floorFRows('ring'),
    { figure: 'state sync 10 KB p99 (mesh)', unit: 'us', ours: quantile(r('syncUs'), 0.99) },
    { figure: 'state sync 10 KB p50', unit: 'us', ours: median(r('syncUs')) },
    {
      figure: 'throughput, blast 10 agents (median)',
      unit: 'msg/s',
      ours: median(r('blastMsgPerSec')),
      floor: median(r('floorEchoMsgPerSec')),
      floorName: '(b) bare echo, 1 conn, window 1000 (echoed msgs)',
    },
    {
      figure: 'strategy execution RTT p99 (500 bars)',
      unit: 'us',
      ours: quantile(r('execRoundTripUs'), 0.99),
      floor: quantile(r('floorExecUs'), 0.99),
      floorName: '(e) p99',
    },
    {
      figure: 'strategy execution RTT p50',
      unit: 'us',
      ours: median(r('execRoundTripUs')),
      floor: median(r('floorExecUs')),
      floorName: '(e) bare ws 24 KB binary request, short text answer, p50',
    },
    {
      figure: 'strategy execution RTT p50, one agent only',
      unit: 'us',
      ours: median(r('execOneAgentUs')),
      floor: median(r('floorExecUs')),
      floorName: '(e) p50',
    },
    {
      figure: 'strategy execution RTT p99, one agent only',
      unit: 'us',
      ours: quantile(r('execOneAgentUs'), 0.99),
      floor: quantile(r('floorExecUs'), 0.99),
      floorName: '(e) p99',
    },
    {
      figure: 'strategy execution RTT p99, window as JSON (protocol 2)',
      unit: 'us',
      ours: quantile(r('execJsonRoundTripUs'), 0.99),
    },
    {
      figure: 'strategy execution RTT p50, window as JSON',
      unit: 'us',
      ours: median(r('execJsonRoundTripUs')),
    },
    { figure: 'strategy compute in agent p99', unit: 'us', ours: quantile(r('execComputeUs'), 0.99) },
    {
      figure: 'RSS per agent idle (median, agent report)',
      unit: 'MB',
      ours: median(r('rssIdleAgentBytes')) / MIB,
      floor: median(r('rssIdleFloorBytes')) / MIB,
      floorName: '(d) bare node+ws idle',
    },
    {
      figure: 'RSS per agent idle (median, /proc)',
      unit: 'MB',
      ours: median(r('rssIdleAgentProcBytes')) / MIB,
      floor: median(r('rssIdleFloorBytes')) / MIB,
      floorName: '(d) idle',
    },
    {
      figure: 'RSS per agent after load (median, agent report)',
      unit: 'MB',
      ours: median(r('rssLoadedAgentBytes')) / MIB,
      floor: median(r('rssLoadedFloorBytes')) / MIB,
      floorName: '(d) bare echo after load',
    },
    {
      figure: 'RSS per agent after load (max, /proc)',
      unit: 'MB',
      ours: Math.max(...r('rssLoadedAgentProcBytes')) / MIB,
      floor: median(r('rssLoadedFloorBytes')) / MIB,
      floorName: '(d) after load',
    },
  ];
  const value = (figure: string) => rows.find((row) => row.figure === figure) as Row;
  const ratio = (row: Row) => row.ours / (row.floor as number);
  const goal = (name: string, v: number, limit: number, kind: Goal['kind']): Goal => {
    const pass =
      kind === 'ratio<=' ? v <= limit : kind === 'ratio>=' || kind === 'abs>=' ? v >= limit : v < limit;
    return { goal: name, value: v, limit, kind, pass };
  };
  const throughput = value('throughput, blast 10 agents (median)');
  const goals: Goal[] = [
    goal(
      'RTT p50 <= 1.3x floor (a) p50',
      ratio(value('inter-agent RTT p50 (adjacent, mesh)')),
      1.3,
      'ratio<=',
    ),
    goal('RTT p99 <= 2x floor (a) p99', ratio(value('inter-agent RTT p99')), 2, 'ratio<='),
    goal(
      'init <= 1.5x floor (c)',
      ratio(value('swarm init, 10 agents mesh parallel (median)')),
      1.5,
      'ratio<=',
    ),
    goal(
      'consensus mesh p99 (held) <= 10x floor (a) p99',
      ratio(value('consensus mesh p99 heldUs')),
      10,
      'ratio<=',
    ),
    goal(
      'consensus ring p99 (held) <= 25x floor (a) p99',
      ratio(value('consensus ring p99 heldUs')),
      25,
      'ratio<=',
    ),
    goal('state sync p99 < 15 ms', value('state sync 10 KB p99 (mesh)').ours / 1000, 15, 'abs<'),
    goal('throughput >= 50,000 msg/s', throughput.ours, 50_000, 'abs>='),
    goal('throughput >= 2x floor (b)', ratio(throughput), 2, 'ratio>='),
    goal(
      'strategy execution p99 < 5 ms',
      value('strategy execution RTT p99 (500 bars)').ours / 1000,
      5,
      'abs<',
    ),
    goal(
      'RSS idle <= 1.3x floor (d idle)',
      ratio(value('RSS per agent idle (median, agent report)')),
      1.3,
      'ratio<=',
    ),
    goal(
      'RSS after load <= 1.2x floor (d after load)',
      ratio(value('RSS per agent after load (median, agent report)')),
      1.2,
      'ratio<=',
    ),
  ];

  const fmt = (n: number | undefined) =>
    n === undefined || Number.isNaN(n)
      ? '-'
      : n >= 1000
        ? Math.round(n).toLocaleString('en-US')
        : n.toFixed(n >= 100 ? 0 : n >= 10 ? 1 : 2);
  const table = [
    '| figure | ours | floor | ratio | floor measured as |',
    '|---|---:|---:|---:|---|',
    ...rows.map(
      (row) =>
        `| ${row.figure} | ${fmt(row.ours)} ${row.unit} | ${row.floor === undefined ? '-' : `${fmt(row.floor)} ${row.unit}`} | ${row.floor === undefined ? '-' : `${ratio(row).toFixed(2)}x`} | ${row.floorName ?? '-'} |`,
    ),
    '',
    '| goal | measured | limit | result |',
    '|---|---:|---:|---|',
    ...goals.map(
      (g) =>
        `| ${g.goal} | ${g.kind.startsWith('ratio') ? `${g.value.toFixed(2)}x` : fmt(g.value)} | ${g.kind.startsWith('ratio') ? `${g.limit}x` : fmt(g.limit)} | ${g.pass ? 'PASS' : 'MISS'} |`,
    ),
  ].join('\n');
  const loadAtEnd = loadavg().map((l) => Number(l.toFixed(2)));
  const breakdown = formatExecuteCosts(execCosts, {
    json: median(r('execJsonRoundTripUs')),
    binary: median(r('execRoundTripUs')),
  });
  const hopLines = formatHops(hops, median(r('floorExecUs')));
  const delayLines = formatConsensusDelays(
    { mesh: r('consensusMeshHeldUs'), ring: r('consensusRingHeldUs') },
    floorRttP50 / 2,
  );
  const againstFloors = consensusAgainstFloors(r, r('floorRttUs'));
  process.stdout.write(
    `\n${table}\n\n${breakdown}\n\n${hopLines}\n\n${delayLines}\n\n${againstFloors.lines}\n\n${goals.filter((g) => g.pass).length}/${goals.length} goals met (load at the end ${loadAtEnd.join(' ')})\n`,
  );
  return {
    at: new Date().toISOString(),
    loadAtEnd,
    rows,
    goals,
    consensusAgainstFloors: againstFloors.figures,
    execCosts,
    hops,
    raw,
  };
}

await main();
