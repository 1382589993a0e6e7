/** Creation Performance: swarm initialization, per-agent deployment, parallel vs sequential. */
import { median } from '../context.ts';
import { type BenchmarkDefinition, times } from '../definition.ts';

export const swarmInit: BenchmarkDefinition = {
  category: 'creation',
  test: 'swarm-init',
  title: 'Swarm initialization time',
  swarms: (p) => times(p.warmup + p.initIterations, { agents: p.swarmSize, workloadSeconds: 0 }),
  describe: (p) => ({
    topology: 'mesh',
    agents: p.swarmSize,
    iterations: p.initIterations,
    warmup: p.warmup,
  }),
  async run(ctx) {
    const { swarmSize, warmup, initIterations } = ctx.params;
    const init = ctx.series('init-ms', 'ms', { topology: 'mesh', agents: swarmSize });
    for (let i = 0; i < warmup + initIterations && !ctx.stopped; i++) {
      const swarm = await ctx.createSwarm('mesh', swarmSize);
      init.record(swarm.timings.initMs, i < warmup);
      await ctx.destroy(swarm);
    }
  },
};

export const agentDeployment: BenchmarkDefinition = {
  category: 'creation',
  test: 'agent-deployment',
  title: 'Agent deployment latency',
  swarms: (p) =>
    times(p.warmup + Math.max(2, Math.ceil(p.initIterations / 2)), {
      agents: p.swarmSize,
      workloadSeconds: 0,
    }),
  describe: (p) => ({
    agents: p.swarmSize,
    swarms: Math.max(2, Math.ceil(p.initIterations / 2)),
    warmup: p.warmup,
  }),
  async run(ctx) {
    const { swarmSize, warmup, initIterations } = ctx.params;
    const deploy = ctx.series('deploy-ms', 'ms', { agents: swarmSize });
    const rounds = Math.max(2, Math.ceil(initIterations / 2));
    for (let i = 0; i < warmup + rounds && !ctx.stopped; i++) {
      const swarm = await ctx.createSwarm('mesh', swarmSize);
      for (const ms of swarm.timings.perAgentDeployMs) deploy.record(ms, i < warmup);
      await ctx.destroy(swarm);
    }
  },
};

export const parallelVsSequential: BenchmarkDefinition = {
  category: 'creation',
  test: 'parallel-vs-sequential',
  title: 'Parallel vs sequential deployment',
  swarms: (p) =>
    times(2 * (p.warmup + Math.max(2, Math.ceil(p.initIterations / 2))), {
      agents: p.swarmSize,
      workloadSeconds: 0,
    }),
  describe: (p) => ({
    agents: p.swarmSize,
    pairs: Math.max(2, Math.ceil(p.initIterations / 2)),
    concurrency: 10,
  }),
  async run(ctx) {
    const { swarmSize, warmup, initIterations } = ctx.params;
    const labels = { agents: swarmSize };
    const parallel = ctx.series('parallel-ms', 'ms', labels);
    const sequential = ctx.series('sequential-ms', 'ms', labels);
    const pairs = Math.max(2, Math.ceil(initIterations / 2));
    // Alternate the two modes so drift on a shared machine affects both alike.
    for (let i = 0; i < warmup + pairs && !ctx.stopped; i++) {
      const a = await ctx.createSwarm('mesh', swarmSize, { deploy: 'parallel', concurrency: 10 });
      parallel.record(a.timings.deployMs, i < warmup);
      await ctx.destroy(a);
      const b = await ctx.createSwarm('mesh', swarmSize, { deploy: 'sequential' });
      sequential.record(b.timings.deployMs, i < warmup);
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
