/**
 * Creation Performance: swarm initialization, per-agent deployment, parallel vs sequential. These
 * are the benchmarks that measure sandbox creation, so their measured swarms always use fresh
 * sandboxes (freshSandboxes); with a run-wide pool those are donated to it afterwards instead of
 * being killed. Their warm-up is a one-agent swarm from the pool: it warms the coordinator and the
 * agent start, and is discarded, so it does not need a sandbox of its own.
 */
import { median } from '../context.ts';
import { type BenchmarkDefinition, type PlannedSwarm, times } from '../definition.ts';

/** The warm-up swarms of a creation benchmark: one agent, pooled, workload none. */
const warmups = (n: number): PlannedSwarm[] => times(n, { agents: 1, source: 'pool' });

export const swarmInit: BenchmarkDefinition = {
  category: 'creation',
  test: 'swarm-init',
  title: 'Swarm initialization time',
  freshSandboxes: true,
  swarms: (p) => [...warmups(p.warmup), ...times(p.freshInitSwarms, { agents: p.swarmSize })],
  samples: (p) => [
    {
      series: 'init-ms',
      labels: { agents: p.swarmSize },
      n: p.freshInitSwarms,
      why: 'one sample per fresh swarm; its p95 target needs about 20 to exist',
    },
  ],
  describe: (p) => ({
    topology: 'mesh',
    agents: p.swarmSize,
    iterations: p.freshInitSwarms,
    warmup: p.warmup,
    warmupAgents: 1,
  }),
  async run(ctx) {
    const { swarmSize, warmup, freshInitSwarms } = ctx.params;
    const init = ctx.series('init-ms', 'ms', { topology: 'mesh', agents: swarmSize });
    for (let i = 0; i < warmup && !ctx.stopped; i++) {
      const swarm = await ctx.createSwarm('mesh', 1, { sandboxSource: 'pool' });
      init.warm(swarm.timings.initMs);
      await ctx.destroy(swarm);
    }
    for (let i = 0; i < freshInitSwarms && !ctx.stopped; i++) {
      const swarm = await ctx.createSwarm('mesh', swarmSize, { sandboxSource: 'fresh' });
      init.add(swarm.timings.initMs);
      await ctx.destroy(swarm);
    }
  },
};

export const agentDeployment: BenchmarkDefinition = {
  category: 'creation',
  test: 'agent-deployment',
  title: 'Agent deployment latency',
  freshSandboxes: true,
  swarms: (p) => [...warmups(p.warmup), ...times(p.freshDeploySwarms, { agents: p.swarmSize })],
  samples: (p) => [
    {
      series: 'deploy-ms',
      n: p.freshDeploySwarms * p.swarmSize,
      why: `one sample per fresh sandbox (${p.freshDeploySwarms} swarms of ${p.swarmSize}); its p95 target needs about 20`,
    },
  ],
  describe: (p) => ({
    agents: p.swarmSize,
    swarms: p.freshDeploySwarms,
    warmup: p.warmup,
    warmupAgents: 1,
  }),
  async run(ctx) {
    const { swarmSize, warmup, freshDeploySwarms } = ctx.params;
    const deploy = ctx.series('deploy-ms', 'ms', { agents: swarmSize });
    for (let i = 0; i < warmup && !ctx.stopped; i++) {
      const swarm = await ctx.createSwarm('mesh', 1, { sandboxSource: 'pool' });
      for (const ms of swarm.timings.perAgentDeployMs) deploy.warm(ms);
      await ctx.destroy(swarm);
    }
    // Every fresh sandbox is a sample: a swarm of n gives n deploy times.
    for (let i = 0; i < freshDeploySwarms && !ctx.stopped; i++) {
      const swarm = await ctx.createSwarm('mesh', swarmSize, { sandboxSource: 'fresh' });
      for (const ms of swarm.timings.perAgentDeployMs) deploy.add(ms);
      await ctx.destroy(swarm);
    }
  },
};

export const parallelVsSequential: BenchmarkDefinition = {
  category: 'creation',
  test: 'parallel-vs-sequential',
  title: 'Parallel vs sequential deployment',
  freshSandboxes: true,
  swarms: (p) => [...warmups(p.warmup), ...times(2 * p.freshPairs, { agents: p.pairAgents })],
  samples: (p) =>
    ['parallel-ms', 'sequential-ms'].map((series) => ({
      series,
      n: p.freshPairs,
      why: 'one sample per parallel/sequential pair, alternated; the speed-up is the ratio of their medians',
    })),
  describe: (p) => ({
    agents: p.pairAgents,
    pairs: p.freshPairs,
    concurrency: 10,
    warmupAgents: 1,
  }),
  async run(ctx) {
    const { pairAgents, warmup, freshPairs } = ctx.params;
    const labels = { agents: pairAgents };
    const parallel = ctx.series('parallel-ms', 'ms', labels);
    const sequential = ctx.series('sequential-ms', 'ms', labels);
    for (let i = 0; i < warmup && !ctx.stopped; i++) {
      const swarm = await ctx.createSwarm('mesh', 1, { sandboxSource: 'pool' });
      parallel.warm(swarm.timings.deployMs);
      await ctx.destroy(swarm);
    }
    // Alternate the two modes so drift on a shared machine affects both alike.
    for (let i = 0; i < freshPairs && !ctx.stopped; i++) {
      const a = await ctx.createSwarm('mesh', pairAgents, {
        deploy: 'parallel',
        concurrency: 10,
        sandboxSource: 'fresh',
      });
      parallel.add(a.timings.deployMs);
      await ctx.destroy(a);
      const b = await ctx.createSwarm('mesh', pairAgents, { deploy: 'sequential', sandboxSource: 'fresh' });
      sequential.add(b.timings.deployMs);
      await ctx.destroy(b);
    }
    if (parallel.samples.length > 0 && sequential.samples.length > 0) {
      ctx.figure(
        'speedup',
        median(sequential.samples) / median(parallel.samples),
        'ratio',
        ['sequential-ms', 'parallel-ms'],
        'median sequential deployment time / median parallel deployment time (sandbox create to every agent healthy)',
        labels,
      );
    }
  },
};

export const CREATION = [swarmInit, agentDeployment, parallelVsSequential];
