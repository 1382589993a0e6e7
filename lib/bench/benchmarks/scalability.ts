/** Scalability: agent-count scaling, the linear sweep with fitted exponents, topology comparison. */
import { fitPowerLaw } from '../../stats/scaling.ts';
import { median } from '../context.ts';
import { type BenchmarkDefinition, times } from '../definition.ts';
import { rssPerAgentMb } from '../probes.ts';
import type { ProfileParams } from '../profiles.ts';

/**
 * Swarms at one agent count: the full count at the largest (the size a target judges), half of it
 * below, where the series only shows the trend.
 */
function countRepeatsAt(p: ProfileParams, n: number): number {
  return n === Math.max(...p.agentCounts) ? p.countRepeats : Math.max(2, Math.ceil(p.countRepeats / 2));
}

export const agentCount: BenchmarkDefinition = {
  category: 'scalability',
  test: 'agent-count',
  title: 'Agent count scaling',
  swarms: (p) =>
    p.agentCounts.flatMap((n) => times(p.warmup + countRepeatsAt(p, n), { agents: n, probes: n })),
  samples: (p) => [
    {
      series: 'init-ms',
      labels: { agents: Math.max(...p.agentCounts) },
      n: p.countRepeats,
      why: 'one sample per swarm at the largest count; the 10-agent p95 target needs about 20',
    },
  ],
  describe: (p) => ({
    topology: 'mesh',
    agents: p.agentCounts,
    repeats: p.agentCounts.map((n) => countRepeatsAt(p, n)),
  }),
  async run(ctx) {
    const { agentCounts, warmup } = ctx.params;
    for (const n of agentCounts) {
      const repeats = countRepeatsAt(ctx.params, n);
      const init = ctx.series('init-ms', 'ms', { topology: 'mesh', agents: n, ...ctx.poolLabels });
      const rss = ctx.series('rss-per-agent-mb', 'MB', { topology: 'mesh', agents: n });
      for (let i = 0; i < warmup + repeats && !ctx.stopped; i++) {
        await ctx.withSwarm('mesh', n, async (swarm) => {
          init.record(swarm.timings.initMs, i < warmup);
          for (const mb of await rssPerAgentMb(swarm)) rss.record(mb, i < warmup);
        });
      }
    }
  },
};

export const linearScaling: BenchmarkDefinition = {
  category: 'scalability',
  test: 'linear-scaling',
  title: 'Linear scaling',
  // The warm-up swarm of the first size comes first, as run() starts it.
  swarms: (p) => [
    ...(p.sweep.length > 0 ? [{ agents: p.sweep[0] as number }] : []),
    ...p.sweep.flatMap((n) => times(p.sweepRepeats, { agents: n, probes: n })),
  ],
  samples: (p) => [
    {
      series: 'init-ms',
      n: p.sweep.length * p.sweepRepeats,
      why: `${p.sweepRepeats} swarm(s) at each of ${p.sweep.length} sizes; the exponent is fitted to the ${p.sweep.length} per-size medians`,
    },
    {
      series: 'rss-per-agent-mb',
      n: p.sweep.reduce((sum, n) => sum + n, 0) * p.sweepRepeats,
      why: 'one sample per agent of each swarm, over all sizes; the spread compares per-size medians',
    },
  ],
  describe: (p) => ({ topology: 'mesh', sweep: p.sweep, repeats: p.sweepRepeats }),
  async run(ctx) {
    const { sweep, sweepRepeats } = ctx.params;
    const medians: Array<{ n: number; initMs: number; rssMb: number }> = [];
    // Warm the provider once so the first size does not pay for cold caches.
    if (sweep.length > 0) await ctx.withSwarm('mesh', sweep[0] as number, async () => {});
    for (const n of sweep) {
      if (ctx.stopped) break;
      const init = ctx.series('init-ms', 'ms', { topology: 'mesh', agents: n, ...ctx.poolLabels });
      const rss = ctx.series('rss-per-agent-mb', 'MB', { topology: 'mesh', agents: n });
      for (let r = 0; r < sweepRepeats && !ctx.stopped; r++) {
        await ctx.withSwarm('mesh', n, async (swarm) => {
          init.add(swarm.timings.initMs);
          for (const mb of await rssPerAgentMb(swarm)) rss.add(mb);
        });
      }
      if (init.samples.length > 0)
        medians.push({ n, initMs: median(init.samples), rssMb: median(rss.samples) });
    }
    if (medians.length < 2) return;
    const time = fitPowerLaw(medians.map((m) => ({ x: m.n, y: m.initMs })));
    ctx.figure(
      'time-exponent',
      time.exponent,
      'ratio',
      ['init-ms'],
      `log-log least-squares slope of median init time vs agents over ${medians.length} sizes (r2 ${time.r2.toFixed(3)}); < 1 is sub-linear`,
    );
    const memory = fitPowerLaw(medians.map((m) => ({ x: m.n, y: m.rssMb * m.n })));
    ctx.figure(
      'memory-exponent',
      memory.exponent,
      'ratio',
      ['rss-per-agent-mb'],
      'log-log slope of total swarm RSS vs agents; 1 means constant memory per agent',
    );
    const perAgent = medians.map((m) => m.rssMb);
    ctx.figure(
      'memory-per-agent-spread',
      Math.max(...perAgent) / Math.min(...perAgent),
      'ratio',
      ['rss-per-agent-mb'],
      'largest / smallest median per-agent RSS across swarm sizes',
    );
  },
};

export const topologyComparison: BenchmarkDefinition = {
  category: 'scalability',
  test: 'topology-comparison',
  title: 'Topology performance comparison',
  // Each round is a consensus decision and a broadcast over the topology, two warm-up rounds first.
  swarms: (p) =>
    p.topologies.flatMap((topology) =>
      times(Math.max(2, Math.ceil(p.initIterations / 2)), {
        agents: p.swarmSize,
        topology,
        rounds: 2 * (Math.max(5, Math.ceil(p.consensusRounds / 3)) + 2),
      }),
    ),
  describe: (p) => ({
    topologies: p.topologies,
    agents: p.swarmSize,
    rounds: Math.ceil(p.consensusRounds / 3),
  }),
  async run(ctx) {
    const { topologies, swarmSize, initIterations, consensusRounds } = ctx.params;
    const swarmsPerTopology = Math.max(2, Math.ceil(initIterations / 2));
    const rounds = Math.max(5, Math.ceil(consensusRounds / 3));
    // Round-robin over topologies so machine noise spreads evenly.
    const series = new Map(
      topologies.map((t) => {
        const labels = { topology: t, agents: swarmSize };
        return [
          t,
          {
            init: ctx.series('init-ms', 'ms', { ...labels, ...ctx.poolLabels }),
            consensus: ctx.series('consensus-ms', 'ms', labels),
            broadcast: ctx.series('broadcast-ms', 'ms', labels),
          },
        ] as const;
      }),
    );
    for (let s = 0; s < swarmsPerTopology && !ctx.stopped; s++) {
      for (const topology of topologies) {
        const rec = series.get(topology);
        if (!rec || ctx.stopped) break;
        await ctx.withSwarm(topology, swarmSize, async (swarm) => {
          rec.init.add(swarm.timings.initMs);
          for (let r = 0; r < rounds + 2 && !ctx.stopped; r++) {
            const decision = await swarm.consensus(ctx.bar(r));
            rec.consensus.record(decision.heldUs / 1000, r < 2);
            const sync = await swarm.broadcast({ round: r });
            rec.broadcast.record(sync.syncUs / 1000, r < 2);
            ctx.operations += 2;
          }
        });
      }
    }
  },
};

export const SCALABILITY = [agentCount, linearScaling, topologyComparison];
