/** Resource Usage: memory per agent, CPU per agent per topology, network bytes per operation. */
import { e2bCostUsd } from '../../cost/model.ts';
import type { Swarm } from '../../swarm/manager.ts';
import type { BenchContext } from '../context.ts';
import { median } from '../context.ts';
import { type BenchmarkDefinition, messagesPerRound, type PlannedSwarm, times } from '../definition.ts';
import { osCpuMs, rssPerAgentMb, sandboxRssMb, totals } from '../probes.ts';
import type { ProfileParams } from '../profiles.ts';

const MB = 1024 * 1024;

/** The work of tradingLoad on one swarm, for the plan. */
function tradingLoadWork(p: ProfileParams, topology: PlannedSwarm['topology'], probes: number): PlannedSwarm {
  return {
    agents: p.swarmSize,
    topology: topology ?? 'mesh',
    rounds: Math.max(10, Math.ceil(p.consensusRounds / 2)),
    tasks: p.swarmSize * 4,
    messages: Math.max(100, Math.ceil(p.blastCount / 3)) * messagesPerRound(topology ?? 'mesh', p.swarmSize),
    probes: probes * p.swarmSize,
  };
}

/** A mixed trading workload: consensus rounds, strategy tasks and neighbour traffic. */
async function tradingLoad(ctx: BenchContext, swarm: Swarm, rounds: number): Promise<number> {
  let ops = 0;
  for (let r = 0; r < rounds && !ctx.stopped; r++) {
    await swarm.consensus(ctx.bar(r));
    ops++;
  }
  const windows = Array.from({ length: swarm.size * 4 }, (_, i) => ctx.window(i + 11));
  await swarm.distribute(windows, { inflight: 2 });
  ops += windows.length;
  const blast = await swarm.blast(Math.max(100, Math.ceil(ctx.params.blastCount / 3)), 16);
  return ops + blast.messages;
}

export const memoryPerAgent: BenchmarkDefinition = {
  category: 'resources',
  test: 'memory-per-agent',
  title: 'Memory usage per agent',
  swarms: (p) => [tradingLoadWork(p, 'mesh', 3)],
  samples: (p) => [
    {
      series: 'rss-mb',
      n: p.swarmSize,
      why: 'one sample per agent and phase (idle, load); the target is the max',
    },
  ],
  describe: (p) => ({
    topology: 'mesh',
    agents: p.swarmSize,
    source: 'OS (/proc) or provider metrics, agent self-report as cross-check',
  }),
  async run(ctx) {
    const { swarmSize, consensusRounds } = ctx.params;
    await ctx.withSwarm('mesh', swarmSize, async (swarm) => {
      const idle = ctx.series('rss-mb', 'MB', { phase: 'idle', agents: swarm.size });
      for (const mb of await rssPerAgentMb(swarm)) idle.add(mb);
      ctx.operations += await tradingLoad(ctx, swarm, Math.max(10, Math.ceil(consensusRounds / 2)));
      const load = ctx.series('rss-mb', 'MB', { phase: 'load', agents: swarm.size });
      for (const mb of await rssPerAgentMb(swarm)) load.add(mb);
      const self = ctx.series('rss-self-mb', 'MB', { phase: 'load', agents: swarm.size });
      for (const report of await swarm.metrics()) self.add(report.rssBytes / MB);
      const whole = await sandboxRssMb(swarm);
      if (whole.source === 'e2b') {
        // E2B measures whole VMs: reported beside the per-agent figures, labelled, never divided.
        const vm = ctx.series('sandbox-rss-mb', 'MB', { phase: 'load', scope: 'whole-sandbox' });
        for (const mb of whole.mb) vm.add(mb);
      }
      ctx.figure(
        'rss-crosscheck',
        median(self.samples) / median(load.samples),
        'ratio',
        ['rss-self-mb', 'rss-mb'],
        'median agent-reported RSS / median OS-reported RSS after load (1 = the two sources agree)',
      );
    });
  },
};

export const cpuPerTopology: BenchmarkDefinition = {
  category: 'resources',
  test: 'cpu-per-topology',
  title: 'CPU utilization per topology',
  swarms: (p) => p.topologies.map((topology) => tradingLoadWork(p, topology, 4)),
  samples: (p) => [
    {
      series: 'cpu-percent',
      n: p.swarmSize,
      why: 'one sample per agent, per topology; the target is the max',
    },
  ],
  describe: (p) => ({
    topologies: p.topologies,
    agents: p.swarmSize,
    load: 'consensus rounds + strategy tasks + neighbour messages',
  }),
  async run(ctx) {
    const { topologies, swarmSize, consensusRounds } = ctx.params;
    for (const topology of topologies) {
      if (ctx.stopped) break;
      await ctx.withSwarm(topology, swarmSize, async (swarm) => {
        const before = totals(await swarm.metrics()).cpuUs;
        const osBefore = await osCpuMs(swarm);
        const start = ctx.now();
        ctx.operations += await tradingLoad(ctx, swarm, Math.max(10, Math.ceil(consensusRounds / 2)));
        const wallMs = ctx.now() - start;
        const after = totals(await swarm.metrics()).cpuUs;
        const osAfter = await osCpuMs(swarm);
        const cpu = ctx.series('cpu-percent', 'percent', { topology, agents: swarm.size });
        after.forEach((us, i) => {
          cpu.add(((us - (before[i] ?? 0)) / 1000 / wallMs) * 100);
        });
        const os = ctx.series('cpu-percent-os', 'percent', { topology, agents: swarm.size });
        osAfter.forEach((ms, i) => {
          const was = osBefore[i];
          if (ms !== undefined && was !== undefined) os.add(((ms - was) / wallMs) * 100);
        });
      });
    }
  },
};

export const networkBandwidth: BenchmarkDefinition = {
  category: 'resources',
  test: 'network-bandwidth',
  title: 'Network bandwidth usage',
  swarms: (p) =>
    p.topologies.map((topology) => ({
      agents: p.swarmSize,
      topology,
      rounds: 1 + 5 * Math.max(3, Math.ceil(p.consensusRounds / 10)),
      probes: 10 * p.swarmSize,
    })),
  describe: (p) => ({
    topologies: p.topologies,
    agents: p.swarmSize,
    operation: 'one consensus decision (500-bar proposal)',
  }),
  async run(ctx) {
    const { topologies, swarmSize, consensusRounds } = ctx.params;
    const batches = 5;
    const perBatch = Math.max(3, Math.ceil(consensusRounds / 10));
    for (const topology of topologies) {
      if (ctx.stopped) break;
      await ctx.withSwarm(topology, swarmSize, async (swarm) => {
        const bytes = ctx.series('bytes-per-op', 'bytes', { topology, agents: swarm.size });
        await swarm.consensus(ctx.bar(0));
        for (let b = 0; b < batches && !ctx.stopped; b++) {
          const before = totals(await swarm.metrics()).peerBytesOut;
          for (let r = 0; r < perBatch; r++) await swarm.consensus(ctx.bar(b * perBatch + r));
          const after = totals(await swarm.metrics()).peerBytesOut;
          bytes.add((after - before) / perBatch);
          ctx.operations += perBatch;
        }
        if (bytes.samples.length > 0) {
          ctx.figure(
            'bytes-per-op',
            median(bytes.samples),
            'bytes',
            ['bytes-per-op'],
            'median over batches of peer-socket bytes written by all agents per consensus decision',
            { topology, agents: swarm.size },
          );
        }
      });
    }
  },
};

/** Agents per sandbox compared by resources/agent-packing. */
export const PACKINGS = [1, 2, 5] as const;

/**
 * Not one of the guide's 18: the same workload with k agents packed into each sandbox (separate
 * processes), so the report can say what packing saves and what it costs in latency and CPU.
 * On the local provider a sandbox is a directory, so packed agents contend for the machine's CPUs
 * exactly as unpacked ones do; on E2B they share the sandbox's vCPUs, and the figures show it.
 */
export const agentPacking: BenchmarkDefinition = {
  category: 'resources',
  test: 'agent-packing',
  title: 'Agents per sandbox (packing)',
  // Sandboxes, not agents, are what a pool holds: k=1 needs n sandboxes, k=5 needs n/5.
  swarms: (p) =>
    PACKINGS.flatMap((k) =>
      times(2, {
        agents: Math.ceil(p.swarmSize / k),
        rounds: 1 + Math.max(10, Math.ceil(p.consensusRounds / 2)),
        tasks: p.swarmSize * 6,
        probes: 2 * p.swarmSize,
      }),
    ),
  describe: (p) => ({
    topology: 'mesh',
    agents: p.swarmSize,
    agentsPerSandbox: [...PACKINGS],
    rounds: 2,
    load: 'consensus decisions + strategy tasks, 2 in flight per agent',
  }),
  async run(ctx) {
    const { swarmSize, consensusRounds } = ctx.params;
    const decisions = Math.max(10, Math.ceil(consensusRounds / 2));
    // Two rounds, round-robin over k, so drift on a shared machine spreads over every packing.
    for (let round = 0; round < 2 && !ctx.stopped; round++) {
      for (const k of PACKINGS) {
        if (ctx.stopped) break;
        const labels = { agentsPerSandbox: k, agents: swarmSize };
        await ctx.withSwarm(
          'mesh',
          swarmSize,
          async (swarm) => {
            // ctx.record merges both rounds of one k into one series per name and labels.
            await swarm.consensus(ctx.bar(0));
            const before = totals(await swarm.metrics()).cpuUs;
            const start = ctx.now();
            let decided = 0;
            for (let r = 0; r < decisions && !ctx.stopped; r++) {
              ctx.record('consensus-ms', (await swarm.consensus(ctx.bar(r + 1))).heldUs / 1000, 'ms', labels);
              decided++;
            }
            const windows = Array.from({ length: swarm.size * 6 }, (_, i) => ctx.window(i + 13));
            const run = await swarm.distribute(windows, { inflight: 2 });
            for (const ms of run.latenciesMs) ctx.record('task-ms', ms, 'ms', labels);
            const wallMs = ctx.now() - start;
            const after = totals(await swarm.metrics()).cpuUs;
            for (const [i, us] of after.entries()) {
              ctx.record('cpu-percent', ((us - (before[i] ?? 0)) / 1000 / wallMs) * 100, 'percent', labels);
            }
            const ops = decided + windows.length;
            ctx.operations += ops;
            const sandboxSeconds = (swarm.sandboxes.length * wallMs) / 1000;
            ctx.record('sandboxes', swarm.sandboxes.length, 'count', labels);
            ctx.record('workload-sandbox-seconds', sandboxSeconds, 's', labels);
            ctx.record('throughput-ops-s', (windows.length / run.elapsedMs) * 1000, 'ops/s', labels);
            ctx.record('cost-per-op-usd', e2bCostUsd(sandboxSeconds, ctx.resources) / ops, 'usd', labels);
          },
          { agentsPerSandbox: k },
        );
      }
    }
    for (const k of PACKINGS) {
      const labels = { agentsPerSandbox: k, agents: swarmSize };
      const costs = ctx
        .collect()
        .series.filter((s) => s.name === 'cost-per-op-usd' && s.labels.agentsPerSandbox === k);
      const values = costs.flatMap((s) => s.samples);
      if (values.length === 0) continue;
      ctx.figure(
        'cost-per-op',
        median(values),
        'usd',
        ['cost-per-op-usd'],
        `median over rounds of (sandboxes x measured workload time x price) / operations, ${k} agent(s) per sandbox`,
        labels,
      );
    }
  },
};

export const RESOURCES = [memoryPerAgent, cpuPerTopology, networkBandwidth, agentPacking];
