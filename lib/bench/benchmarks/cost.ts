/**
 * Cost Analysis: every dollar figure is measured sandbox-seconds (sandboxes alive x measured wall
 * time) times the template's price. On the local provider the figures are the projected E2B cost
 * of the same work.
 */
import { e2bCostUsd, e2bHourlyUsd } from '../../cost/model.ts';
import { fitPowerLaw } from '../../stats/scaling.ts';
import type { Swarm } from '../../swarm/manager.ts';
import type { BenchContext } from '../context.ts';
import type { BenchmarkDefinition } from '../definition.ts';

/** Run `tasks` strategy executions; returns the sandbox-seconds and ops of the workload window. */
async function workload(ctx: BenchContext, swarm: Swarm, tasks: number) {
  const windows = Array.from({ length: tasks }, (_, i) => ctx.window(i));
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

export const costPerOperation: BenchmarkDefinition = {
  category: 'cost',
  test: 'cost-per-operation',
  title: 'Cost per trading operation',
  swarms: (p) => [{ agents: p.swarmSize, workloadSeconds: 1 + p.costTasks * 0.003 }],
  describe: (p) => ({ topology: 'mesh', agents: p.swarmSize, tasks: p.costTasks }),
  async run(ctx) {
    const { swarmSize, costTasks } = ctx.params;
    await ctx.withSwarm('mesh', swarmSize, async (swarm) => {
      await workload(ctx, swarm, swarm.size * 2); // warm-up
      const series = ctx.series('workload-sandbox-seconds', 's', { agents: swarm.size });
      const w = await workload(ctx, swarm, costTasks);
      series.add(w.sandboxSeconds);
      const usd = e2bCostUsd(w.sandboxSeconds, ctx.resources);
      ctx.figure(
        'sandbox-seconds',
        w.sandboxSeconds,
        's',
        ['workload-sandbox-seconds'],
        `${w.sandboxes} sandboxes x ${(w.elapsedMs / 1000).toFixed(2)} s measured workload time`,
      );
      ctx.figure(
        'cost-per-op',
        usd / w.ops,
        'usd',
        ['workload-sandbox-seconds'],
        `E2B price of the measured sandbox-seconds (${ctx.resources.vcpu} vCPU, ${ctx.resources.memoryMb} MiB) / ${w.ops} strategy executions`,
      );
      ctx.figure(
        'ops-per-usd',
        w.ops / usd,
        'ops/usd',
        ['workload-sandbox-seconds'],
        'strategy executions per dollar of sandbox time',
      );
    });
  },
};

export const costPerTopology: BenchmarkDefinition = {
  category: 'cost',
  test: 'cost-per-topology',
  title: 'Cost comparison across topologies',
  swarms: (p) =>
    p.topologies.map(() => ({ agents: p.swarmSize, workloadSeconds: 1 + p.consensusRounds * 0.01 })),
  describe: (p) => ({ topologies: p.topologies, agents: p.swarmSize, decisions: p.consensusRounds }),
  async run(ctx) {
    const { topologies, swarmSize, consensusRounds } = ctx.params;
    for (const topology of topologies) {
      if (ctx.stopped) break;
      await ctx.withSwarm(topology, swarmSize, async (swarm) => {
        const labels = { topology, agents: swarm.size };
        await swarm.consensus(ctx.bar(0));
        const start = ctx.now();
        let decisions = 0;
        for (let r = 0; r < consensusRounds && !ctx.stopped; r++) {
          await swarm.consensus(ctx.bar(r + 1));
          decisions++;
        }
        const elapsedMs = ctx.now() - start;
        if (decisions === 0) return;
        ctx.operations += decisions;
        const sandboxes = swarm.sandboxes.length;
        const sandboxSeconds = (sandboxes * elapsedMs) / 1000;
        const series = ctx.series('decision-sandbox-seconds', 's', labels);
        series.add(sandboxSeconds);
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
          e2bCostUsd(sandboxSeconds, ctx.resources) / decisions,
          'usd',
          ['decision-sandbox-seconds'],
          `measured sandbox-seconds of ${decisions} back-to-back consensus decisions x price / decisions`,
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
  swarms: (p) => p.costScalingSizes.map((n) => ({ agents: n, workloadSeconds: 1 + p.costTasks * 0.003 })),
  describe: (p) => ({ topology: 'mesh', agents: p.costScalingSizes, tasks: p.costTasks }),
  async run(ctx) {
    const { costScalingSizes, costTasks } = ctx.params;
    const points: Array<{ x: number; y: number }> = [];
    for (const n of costScalingSizes) {
      if (ctx.stopped) break;
      await ctx.withSwarm('mesh', n, async (swarm) => {
        await workload(ctx, swarm, swarm.size * 2);
        const w = await workload(ctx, swarm, costTasks);
        const usd = e2bCostUsd(w.sandboxSeconds, ctx.resources);
        const labels = { agents: n };
        ctx.series('workload-sandbox-seconds', 's', labels).add(w.sandboxSeconds);
        ctx.figure(
          'cost-per-op',
          usd / w.ops,
          'usd',
          ['workload-sandbox-seconds'],
          `sandbox-seconds of ${w.ops} tasks on ${n} agents x price / tasks`,
          labels,
        );
        ctx.figure(
          'ops-per-usd',
          w.ops / usd,
          'ops/usd',
          ['workload-sandbox-seconds'],
          'tasks per dollar',
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
        `log-log slope of the cost of the same ${costTasks}-task workload vs agents (r2 ${fit.r2.toFixed(3)}); < 1 is sub-linear`,
      );
    }
  },
};

export const COST = [costPerOperation, costPerTopology, costScaling];
