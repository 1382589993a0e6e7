/**
 * Cost Analysis: every dollar figure is measured sandbox-seconds (sandboxes alive x measured wall
 * time) times the template's price. On the local provider the figures are the projected E2B cost
 * of the same work.
 */
import { e2bCostUsd, e2bHourlyUsd } from '../../cost/model.ts';
import { fitPowerLaw } from '../../stats/scaling.ts';
import type { Swarm } from '../../swarm/manager.ts';
import { type BenchContext, median, type SeriesRecorder } from '../context.ts';
import type { BenchmarkDefinition } from '../definition.ts';
import type { ProfileParams } from '../profiles.ts';

/** Run `tasks` strategy executions; returns the sandbox-seconds and ops of the workload window. */
async function workload(ctx: BenchContext, swarm: Swarm, tasks: number, offset = 0) {
  const windows = Array.from({ length: tasks }, (_, i) => ctx.window(offset + i));
  const run = await swarm.distribute(windows, { inflight: 2 });
  ctx.operations += tasks;
  const sandboxes = swarm.sandboxes.length;
  return {
    sandboxes,
    sandboxSeconds: (sandboxes * run.elapsedMs) / 1000,
    ops: tasks,
    elapsedMs: run.elapsedMs,
  };
}

/**
 * `tasks` executions in `batches` batches, each one sample of sandbox-seconds in `series`: the cost
 * figures are medians over batches, so each rests on several samples. Returns per-batch results.
 */
async function batchedWorkload(
  ctx: BenchContext,
  swarm: Swarm,
  tasks: number,
  series: SeriesRecorder,
): Promise<Array<Awaited<ReturnType<typeof workload>>>> {
  const { batches } = ctx.params;
  const perBatch = Math.max(swarm.size * 2, Math.ceil(tasks / batches));
  const done: Array<Awaited<ReturnType<typeof workload>>> = [];
  for (let b = 0; b < batches && !ctx.stopped; b++) {
    const w = await workload(ctx, swarm, perBatch, b * perBatch);
    series.add(w.sandboxSeconds);
    done.push(w);
  }
  return done;
}

/** Executions of a batched cost workload in a swarm of `agents` (warm-up included). */
function costTasksOf(p: ProfileParams, agents: number): number {
  return agents * 2 + p.batches * Math.max(agents * 2, Math.ceil(p.costTasks / p.batches));
}

export const costPerOperation: BenchmarkDefinition = {
  category: 'cost',
  test: 'cost-per-operation',
  title: 'Cost per trading operation',
  swarms: (p) => [{ agents: p.swarmSize, tasks: costTasksOf(p, p.swarmSize) }],
  samples: (p) => [
    {
      series: 'workload-sandbox-seconds',
      n: p.batches,
      why: 'one sample per batch of strategy executions; cost per operation is the median batch cost / its operations',
    },
  ],
  describe: (p) => ({ topology: 'mesh', agents: p.swarmSize, tasks: p.costTasks, batches: p.batches }),
  async run(ctx) {
    const { swarmSize, costTasks } = ctx.params;
    await ctx.withSwarm('mesh', swarmSize, async (swarm) => {
      await workload(ctx, swarm, swarm.size * 2); // warm-up
      const series = ctx.series('workload-sandbox-seconds', 's', { agents: swarm.size });
      const done = await batchedWorkload(ctx, swarm, costTasks, series);
      if (done.length === 0) return;
      const sandboxSeconds = done.reduce((sum, w) => sum + w.sandboxSeconds, 0);
      const ops = done.reduce((sum, w) => sum + w.ops, 0);
      const perOp = median(done.map((w) => e2bCostUsd(w.sandboxSeconds, ctx.resources) / w.ops));
      ctx.figure(
        'sandbox-seconds',
        sandboxSeconds,
        's',
        ['workload-sandbox-seconds'],
        `${done[0]?.sandboxes} sandboxes x ${((sandboxSeconds / (done[0]?.sandboxes ?? 1)) as number).toFixed(2)} s measured workload time over ${done.length} batches`,
      );
      ctx.figure(
        'cost-per-op',
        perOp,
        'usd',
        ['workload-sandbox-seconds'],
        `median over ${done.length} batches of the E2B price of the batch's measured sandbox-seconds (${ctx.resources.vcpu} vCPU, ${ctx.resources.memoryMb} MiB) / its ${done[0]?.ops} strategy executions`,
      );
      ctx.figure(
        'ops-per-usd',
        1 / perOp,
        'ops/usd',
        ['workload-sandbox-seconds'],
        `strategy executions per dollar of sandbox time (1 / median cost per operation; ${ops} executions in all)`,
      );
    });
  },
};

export const costPerTopology: BenchmarkDefinition = {
  category: 'cost',
  test: 'cost-per-topology',
  title: 'Cost comparison across topologies',
  swarms: (p) =>
    p.topologies.map((topology) => ({ agents: p.swarmSize, topology, rounds: p.consensusRounds + 1 })),
  samples: (p) => [
    {
      series: 'decision-sandbox-seconds',
      n: p.batches,
      why: 'one sample per batch of back-to-back decisions, per topology; cost per decision is the median batch cost / its decisions',
    },
  ],
  describe: (p) => ({
    topologies: p.topologies,
    agents: p.swarmSize,
    decisions: p.consensusRounds,
    batches: p.batches,
  }),
  async run(ctx) {
    const { topologies, swarmSize, consensusRounds, batches } = ctx.params;
    const perBatch = Math.max(1, Math.floor(consensusRounds / batches));
    for (const topology of topologies) {
      if (ctx.stopped) break;
      await ctx.withSwarm(topology, swarmSize, async (swarm) => {
        const labels = { topology, agents: swarm.size };
        await swarm.consensus(ctx.bar(0));
        const sandboxes = swarm.sandboxes.length;
        const series = ctx.series('decision-sandbox-seconds', 's', labels);
        const perDecision: number[] = [];
        let decisions = 0;
        let sandboxSeconds = 0;
        for (let b = 0; b < batches && !ctx.stopped; b++) {
          const start = ctx.now();
          for (let r = 0; r < perBatch; r++) await swarm.consensus(ctx.bar(b * perBatch + r + 1));
          const batchSeconds = (sandboxes * (ctx.now() - start)) / 1000;
          series.add(batchSeconds);
          perDecision.push(e2bCostUsd(batchSeconds, ctx.resources) / perBatch);
          decisions += perBatch;
          sandboxSeconds += batchSeconds;
        }
        if (decisions === 0) return;
        ctx.operations += decisions;
        ctx.figure(
          'hourly-usd',
          e2bHourlyUsd(ctx.resources, sandboxes),
          'usd/h',
          ['decision-sandbox-seconds'],
          `${sandboxes} sandboxes kept alive for an hour at the template's per-second price`,
          labels,
        );
        ctx.figure(
          'cost-per-op',
          median(perDecision),
          'usd',
          ['decision-sandbox-seconds'],
          `median over ${perDecision.length} batches of (measured sandbox-seconds of ${perBatch} back-to-back consensus decisions x price / decisions); ${formatSeconds(sandboxSeconds)} in all`,
          labels,
        );
      });
    }
  },
};

export const costScaling: BenchmarkDefinition = {
  category: 'cost',
  test: 'cost-scaling',
  title: 'Scalability cost efficiency',
  swarms: (p) => p.costScalingSizes.map((n) => ({ agents: n, tasks: costTasksOf(p, n) })),
  samples: (p) => [
    {
      series: 'workload-sandbox-seconds',
      n: p.batches,
      why: 'one sample per batch, per swarm size; the exponent is fitted to the per-size median batch costs',
    },
  ],
  describe: (p) => ({ topology: 'mesh', agents: p.costScalingSizes, tasks: p.costTasks, batches: p.batches }),
  async run(ctx) {
    const { costScalingSizes, costTasks } = ctx.params;
    const points: Array<{ x: number; y: number }> = [];
    for (const n of costScalingSizes) {
      if (ctx.stopped) break;
      await ctx.withSwarm('mesh', n, async (swarm) => {
        await workload(ctx, swarm, swarm.size * 2);
        const labels = { agents: n };
        const done = await batchedWorkload(
          ctx,
          swarm,
          costTasks,
          ctx.series('workload-sandbox-seconds', 's', labels),
        );
        if (done.length === 0) return;
        const ops = done[0]?.ops ?? 1;
        const usd = median(done.map((w) => e2bCostUsd(w.sandboxSeconds, ctx.resources)));
        ctx.figure(
          'cost-per-op',
          usd / ops,
          'usd',
          ['workload-sandbox-seconds'],
          `median over ${done.length} batches of (sandbox-seconds of ${ops} tasks on ${n} agents x price) / tasks`,
          labels,
        );
        ctx.figure(
          'ops-per-usd',
          ops / usd,
          'ops/usd',
          ['workload-sandbox-seconds'],
          'tasks per dollar (median batch)',
          labels,
        );
        points.push({ x: n, y: usd });
      });
    }
    if (points.length >= 2) {
      const fit = fitPowerLaw(points);
      ctx.figure(
        'cost-exponent',
        fit.exponent,
        'ratio',
        ['workload-sandbox-seconds'],
        `log-log slope of the median batch cost of the same workload vs agents (r2 ${fit.r2.toFixed(3)}); < 1 is sub-linear`,
      );
    }
  },
};

function formatSeconds(seconds: number): string {
  return `${seconds.toFixed(2)} sandbox-s`;
}

export const COST = [costPerOperation, costPerTopology, costScaling];
