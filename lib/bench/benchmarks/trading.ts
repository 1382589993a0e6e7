/** Trading Operations: strategy execution, task distribution, consensus decisions. */
import { STRATEGY_NAMES } from '../../trading/strategies.ts';
import { type BenchContext, median } from '../context.ts';
import type { BenchmarkDefinition } from '../definition.ts';

/** Executions in one throughput batch: enough to keep every agent busy for several waves. */
function throughputBatch(agents: number, iterations: number, batches: number): number {
  return Math.max(agents * 4, Math.ceil((iterations * 2) / Math.max(1, batches)));
}

/**
 * Why a plug-in call failed ("timeout", "memory", ...), from the agent's error; undefined for any
 * other error, which still fails the unit. A plug-in's failure costs its own series only.
 */
export function pluginFailure(error: unknown): string | undefined {
  const match = /PluginError: [a-z0-9-]+: ([a-z]+): (.*)$/s.exec((error as Error)?.message ?? '');
  return match ? `${match[1]}: ${match[2]}` : undefined;
}

/** Count a plug-in failure in its series and note each distinct reason once among the unit's faults. */
function notePluginFailure(ctx: BenchContext, strategy: string, reason: string, seen: Set<string>): void {
  ctx.record('strategy-failures', 1, 'count', { strategy });
  const kind = reason.split(':')[0] ?? reason;
  if (seen.has(`${strategy}|${kind}`)) return;
  seen.add(`${strategy}|${kind}`);
  ctx.fault(
    `plug-in ${strategy} failed (${reason.slice(0, 200)}); its calls are counted in strategy-failures`,
  );
}

export const strategyExecution: BenchmarkDefinition = {
  category: 'trading',
  test: 'strategy-execution',
  title: 'Strategy execution throughput',
  swarms: (p) => [
    {
      agents: p.swarmSize,
      tasks:
        STRATEGY_NAMES.length * (Math.max(5, p.warmup * 5) + p.strategyIterations) +
        p.batches * throughputBatch(p.swarmSize, p.strategyIterations, p.batches),
    },
  ],
  samples: (p) => [
    {
      series: 'strategy-rtt-ms',
      n: p.strategyIterations,
      why: 'one round trip per execution, per strategy; its p95 target needs about 20',
    },
    {
      series: 'throughput-ops-s',
      n: p.batches,
      why: 'one sample per batch of executions pulled from one queue; the throughput figure is their median',
    },
  ],
  describe: (p) => ({
    agents: p.swarmSize,
    strategies: STRATEGY_NAMES,
    iterations: p.strategyIterations,
    windowBars: p.windowBars,
  }),
  async run(ctx) {
    const { swarmSize, strategyIterations, warmup, windowBars } = ctx.params;
    await ctx.withSwarm('mesh', swarmSize, async (swarm) => {
      const warmups = Math.max(5, warmup * 5);
      const failures = new Set<string>();
      // The user's plug-ins run beside the built-ins, on the same windows, under their own names.
      for (const strategy of ctx.strategies) {
        const rtt = ctx.series('strategy-rtt-ms', 'ms', { strategy, windowBars });
        const compute = ctx.series('strategy-compute-ms', 'ms', { strategy, windowBars });
        for (let i = 0; i < warmups + strategyIterations && !ctx.stopped; i++) {
          const window = ctx.window(i);
          let computeUs = 0;
          let ms: number;
          try {
            ms = await ctx.time(async () => {
              computeUs = (await swarm.execute(i % swarm.size, window, strategy)).computeUs;
            });
          } catch (error) {
            const reason = pluginFailure(error);
            if (reason === undefined) throw error;
            notePluginFailure(ctx, strategy, reason, failures);
            continue;
          }
          rtt.record(ms, i < warmups);
          compute.record(computeUs / 1000, i < warmups);
          if (i >= warmups) ctx.operations++;
        }
      }
      // Throughput: every agent busy at once, windows pulled from one queue, in batches so the
      // figure is a median of several samples rather than one number.
      const { batches } = ctx.params;
      const tasks = throughputBatch(swarm.size, strategyIterations, batches);
      const tput = ctx.series('throughput-ops-s', 'ops/s', { agents: swarm.size });
      for (let b = 0; b < batches && !ctx.stopped; b++) {
        const windows = Array.from({ length: tasks }, (_, i) => ctx.window(b * tasks + i));
        const run = await swarm.distribute(windows, { inflight: 2 });
        ctx.operations += tasks;
        tput.add((tasks / run.elapsedMs) * 1000);
      }
      if (tput.samples.length > 0) {
        ctx.figure(
          'throughput',
          median(tput.samples),
          'ops/s',
          ['throughput-ops-s'],
          `median over ${tput.samples.length} batches of ${tasks} strategy executions pulled from one queue by ${swarm.size} agents, 2 in flight each, / batch wall time`,
        );
      }
    });
  },
};

export const taskDistribution: BenchmarkDefinition = {
  category: 'trading',
  test: 'task-distribution',
  title: 'Task distribution efficiency',
  swarms: (p) => [{ agents: p.swarmSize, tasks: p.swarmSize * 2 + p.tasks }],
  samples: (p) => [{ series: 'task-ms', n: p.tasks, why: 'one sample per distributed task' }],
  describe: (p) => ({ agents: p.swarmSize, tasks: p.tasks, inflight: 2 }),
  async run(ctx) {
    const { swarmSize, tasks } = ctx.params;
    await ctx.withSwarm('mesh', swarmSize, async (swarm) => {
      await swarm.distribute(Array.from({ length: swarm.size * 2 }, (_, i) => ctx.window(i)));
      const windows = Array.from({ length: tasks }, (_, i) => ctx.window(i + 7));
      const run = await swarm.distribute(windows, { inflight: 2 });
      ctx.operations += tasks;
      const latency = ctx.series('task-ms', 'ms', { agents: swarm.size });
      for (const ms of run.latenciesMs) latency.add(ms);
      const perAgent = ctx.series('tasks-per-agent', 'count', { agents: swarm.size });
      for (const n of run.perAgent) perAgent.add(n);
      ctx.figure(
        'throughput',
        (tasks / run.elapsedMs) * 1000,
        'ops/s',
        ['task-ms'],
        `${tasks} tasks / wall time from first dispatch to last answer`,
      );
      ctx.figure(
        'balance',
        Math.min(...run.perAgent) / Math.max(...run.perAgent),
        'ratio',
        ['tasks-per-agent'],
        'fewest / most tasks taken by one agent (1 = perfectly even)',
      );
    });
  },
};

export const consensus: BenchmarkDefinition = {
  category: 'trading',
  test: 'consensus',
  title: 'Consensus decision latency',
  swarms: (p) =>
    p.topologies.map((topology) => ({
      agents: p.swarmSize,
      topology,
      rounds: Math.max(5, p.warmup * 10) + p.consensusRounds,
    })),
  samples: (p) => [
    {
      series: 'consensus-ms',
      n: p.consensusRounds,
      why: 'one decision per round, per topology; its p95 target needs about 20',
    },
  ],
  describe: (p) => ({
    topologies: p.topologies,
    agents: p.swarmSize,
    rounds: p.consensusRounds,
    quorum: '2f+1',
  }),
  async run(ctx) {
    const { topologies, swarmSize, consensusRounds, warmup } = ctx.params;
    const warmups = Math.max(5, warmup * 10);
    for (const topology of topologies) {
      if (ctx.stopped) break;
      await ctx.withSwarm(topology, swarmSize, async (swarm) => {
        const labels = { topology, agents: swarm.size };
        const held = ctx.series('consensus-ms', 'ms', labels);
        const commit = ctx.series('commit-ms', 'ms', labels);
        const acked = ctx.series('consensus-ack-ms', 'ms', labels);
        for (let r = 0; r < warmups + consensusRounds && !ctx.stopped; r++) {
          const result = await swarm.consensus(ctx.bar(r));
          held.record(result.heldUs / 1000, r < warmups);
          commit.record(result.commitUs / 1000, r < warmups);
          acked.record(result.heldRttUs / 1000, r < warmups);
          if (r >= warmups) ctx.operations++;
        }
      });
    }
    const { plugins } = ctx;
    if (plugins === undefined || ctx.stopped) return;
    // The user's swarm: agents run the plug-in strategies (round-robin) and vote by the plug-in
    // rule, so the decision latency includes both. Faults cost this series, not the others.
    const topology = topologies[0] ?? 'mesh';
    const strategies = plugins.strategies.length > 0 ? plugins.strategies : [...STRATEGY_NAMES];
    await ctx.withSwarm(
      topology,
      swarmSize,
      async (swarm) => {
        const labels = {
          topology,
          agents: swarm.size,
          strategies: strategies.join('+'),
          rule: plugins.decisionRule ?? 'plurality',
        };
        const held = ctx.series('consensus-ms', 'ms', labels);
        const commit = ctx.series('commit-ms', 'ms', labels);
        const rule = ctx.series('rule-compute-ms', 'ms', labels);
        const seen = new Set<string>();
        for (let r = 0; r < warmups + consensusRounds && !ctx.stopped; r++) {
          let result: Awaited<ReturnType<typeof swarm.consensus>>;
          try {
            result = await swarm.consensus(ctx.bar(r));
          } catch (error) {
            ctx.record('consensus-failures', 1, 'count', labels);
            const text = (error as Error).message.slice(0, 200);
            if (!seen.has(text)) ctx.fault(`plug-in consensus round failed: ${text}`);
            seen.add(text);
            continue;
          }
          held.record(result.heldUs / 1000, r < warmups);
          commit.record(result.commitUs / 1000, r < warmups);
          if (result.rule?.ruleUs !== undefined) rule.record(result.rule.ruleUs / 1000, r < warmups);
          if (result.rule?.error !== undefined) {
            ctx.record('rule-failures', 1, 'count', labels);
            if (!seen.has('rule'))
              ctx.fault(
                `decision rule ${result.rule.name} failed (${result.rule.error.slice(0, 200)}); decided hold`,
              );
            seen.add('rule');
          }
          if (r >= warmups) ctx.operations++;
        }
      },
      {
        strategies,
        ...(plugins.decisionRule === undefined ? {} : { decisionRule: plugins.decisionRule }),
      },
    );
  },
};

export const TRADING = [strategyExecution, taskDistribution, consensus];
