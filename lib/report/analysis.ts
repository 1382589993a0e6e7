/**
 * Everything a report derives from a run, computed once: series summaries, target outcomes, cost,
 * the topology guide and the recommendations. Every derived number keeps a pointer to the
 * measurement it came from so the renderings can say so.
 */

import type { Figure, Labels, RunResults, Series, UnitResult, UnitSpec } from '../bench/model.ts';
import { DEFAULT_MAP_MAX_CONCURRENCY, type PipelineSchedule, pipelineSchedule } from '../bench/plan.ts';
import { evaluateTargets, type TargetOutcome } from '../bench/targets.ts';
import {
  e2bCostUsd,
  HOURS_PER_MONTH,
  operationsPerDollar,
  projectMonthlyUsd,
  WEEKLY_RUNS_PER_MONTH,
} from '../cost/model.ts';
import { type Summary, summarize } from '../stats/summary.ts';
import { formatLabels, formatNumber, formatUsd, formatValue } from './format.ts';

/** A series with its summary. */
export interface SummarizedSeries {
  series: Series;
  summary: Summary;
}

/** E2B cost of one unit from its measured usage. */
export interface UnitCost {
  unitId: string;
  sandboxesCreated: number;
  sandboxSeconds: number;
  operations: number;
  costUsd: number;
  /** Measured wall time of the unit (ms). */
  durationMs: number;
  /** What the plan expected of this unit before it ran; absent when the run's meta has no spec for it. */
  plan?: UnitPlanComparison;
}

/** The plan's estimate of one unit beside the measurement (ratios are measured / planned). */
export interface UnitPlanComparison {
  durationMs: number;
  sandboxSeconds: number;
  /** measured / planned duration; undefined when the plan said 0. */
  durationRatio?: number;
  /** measured / planned sandbox-seconds; undefined when the plan said 0. */
  sandboxSecondsRatio?: number;
  /** Where the estimate came from (earlier runs of the unit, scaled runs, the parametric model). */
  source: 'history' | 'history-scaled' | 'parametric' | 'unknown';
  /** The plan's one-line basis, e.g. "median of 2 earlier run(s) with the same parameters". */
  note?: string;
}

/** The cheapest and dearest topology at one swarm size, from cost/cost-per-topology. */
export interface TopologyCostRow {
  agents: number | string;
  cheapestTopology: string;
  cheapestCostPerOpUsd: number;
  /** Hourly cost of the cheapest topology's swarm, if measured. */
  cheapestHourlyUsd?: number;
  dearestTopology: string;
  dearestCostPerOpUsd: number;
}

/** Run-level cost, all from measured sandbox-seconds priced at E2B list prices. */
export interface CostAnalysis {
  /** True when the sandboxes were local processes: the E2B cost is what the same usage would cost there. */
  projected: boolean;
  resources: { vcpu: number; memoryMb: number };
  sandboxSeconds: number;
  operations: number;
  runCostUsd: number;
  /** Undefined when the run performed no operations. */
  costPerOperationUsd?: number;
  operationsPerUsd?: number;
  weeklyRunsPerMonth: number;
  monthlyWeeklyScheduleUsd: number;
  hoursPerMonth: number;
  units: UnitCost[];
  perSize: TopologyCostRow[];
  /**
   * The same units as the weekly AWS run would execute them (E2B sandboxes, one Lambda per unit,
   * the pool handed from unit to unit, default limits): sandboxes created and wall time, the
   * latter from this run's measured unit durations.
   */
  pipeline: Omit<PipelineSchedule, 'creationUnits' | 'pooledUnits'>;
}

/** One row of the topology selection guide; NaN where the run has no such measurement. */
export interface TopologyRow {
  topology: string;
  consensusP50Ms: number;
  rttP50Ms: number;
  bytesPerOp: number;
  costPerOpUsd: number;
  cpuP50Percent: number;
  bestFor: string[];
}

/** The topology guide and the measurements it was built from. */
export interface TopologyGuide {
  rows: TopologyRow[];
  sources: string[];
}

export type Priority = 'High' | 'Medium' | 'Low';

/** A recommendation and the measured numbers that triggered it. */
export interface Recommendation {
  priority: Priority;
  text: string;
}

/** Everything derived from one run. */
export interface RunAnalysis {
  run: RunResults;
  outcomes: TargetOutcome[];
  summaries: Map<string, SummarizedSeries[]>;
  cost: CostAnalysis;
  topology: TopologyGuide;
  recommendations: Recommendation[];
}

/** Derive summaries, targets, cost, topology guide and recommendations from a run. */
export function analyzeRun(run: RunResults): RunAnalysis {
  const summaries = new Map<string, SummarizedSeries[]>();
  for (const result of run.results) {
    summaries.set(
      result.unitId,
      result.series.map((series) => ({
        series,
        summary: summarize(series.samples, { warmupDiscarded: series.warmup.length }),
      })),
    );
  }
  const outcomes = evaluateTargets(run);
  const cost = analyzeCost(run);
  const topology = topologyGuide(run);
  const analysis: RunAnalysis = { run, outcomes, summaries, cost, topology, recommendations: [] };
  analysis.recommendations = recommend(analysis);
  return analysis;
}

/** The unit result with this id, if any. */
export function findResult(run: RunResults, unitId: string): UnitResult | undefined {
  return run.results.find((result) => result.unitId === unitId);
}

function analyzeCost(run: RunResults): CostAnalysis {
  const resources = { vcpu: run.meta.template.vcpu, memoryMb: run.meta.template.memoryMb };
  const planned = new Map(run.meta.units.map((unit) => [unit.unitId, unit]));
  const units = run.results.map((result): UnitCost => {
    const spec = planned.get(result.unitId);
    return {
      unitId: result.unitId,
      sandboxesCreated: result.usage.sandboxesCreated,
      sandboxSeconds: result.usage.sandboxSeconds,
      operations: result.usage.operations,
      costUsd: e2bCostUsd(result.usage.sandboxSeconds, resources),
      durationMs: result.durationMs,
      ...(spec ? { plan: comparePlan(spec.estimate, result) } : {}),
    };
  });
  const sandboxSeconds = units.reduce((sum, unit) => sum + unit.sandboxSeconds, 0);
  const operations = units.reduce((sum, unit) => sum + unit.operations, 0);
  const runCostUsd = e2bCostUsd(sandboxSeconds, resources);
  const analysis: CostAnalysis = {
    projected: run.meta.provider === 'local',
    resources,
    sandboxSeconds,
    operations,
    runCostUsd,
    weeklyRunsPerMonth: WEEKLY_RUNS_PER_MONTH,
    monthlyWeeklyScheduleUsd: projectMonthlyUsd(runCostUsd, WEEKLY_RUNS_PER_MONTH),
    hoursPerMonth: HOURS_PER_MONTH,
    units,
    perSize: topologyCostRows(run),
    pipeline: awsPipeline(run),
  };
  if (operations > 0) {
    analysis.costPerOperationUsd = runCostUsd / operations;
    analysis.operationsPerUsd = operationsPerDollar(sandboxSeconds, operations, resources);
  }
  return analysis;
}

function comparePlan(estimate: UnitSpec['estimate'], result: UnitResult): UnitPlanComparison {
  const ratio = (measured: number, plannedValue: number) =>
    plannedValue > 0 && Number.isFinite(measured) ? { value: measured / plannedValue } : undefined;
  const duration = ratio(result.durationMs, estimate.durationMs);
  const sandbox = ratio(result.usage.sandboxSeconds, estimate.sandboxSeconds);
  return {
    durationMs: estimate.durationMs,
    sandboxSeconds: estimate.sandboxSeconds,
    ...(duration ? { durationRatio: duration.value } : {}),
    ...(sandbox ? { sandboxSecondsRatio: sandbox.value } : {}),
    source: estimate.basis?.source ?? 'unknown',
    ...(estimate.basis ? { note: estimate.basis.note } : {}),
  };
}

function awsPipeline(run: RunResults): CostAnalysis['pipeline'] {
  const pooling = run.meta.units.some((unit) => unit.params.pooled === true);
  const measured = new Map(run.results.map((result) => [result.unitId, result.durationMs]));
  const { sandboxes, wallTimeMs, concurrency } = pipelineSchedule(
    run.meta.units,
    { provider: 'e2b', pooling },
    { durationsMs: measured, maxConcurrency: DEFAULT_MAP_MAX_CONCURRENCY },
  );
  return { sandboxes, wallTimeMs, concurrency };
}

function topologyCostRows(run: RunResults): TopologyCostRow[] {
  const result = findResult(run, 'cost/cost-per-topology');
  if (result === undefined) return [];
  const perOp = result.figures.filter(
    (figure) => figure.name === 'cost-per-op' && figure.labels.topology !== undefined,
  );
  const hourly = result.figures.filter((figure) => figure.name === 'hourly-usd');
  const sizes = uniqueInOrder(perOp.map((figure) => figure.labels.agents ?? 'all'));
  return sizes.flatMap((agents) => {
    const atSize = perOp.filter(
      (figure) => (figure.labels.agents ?? 'all') === agents && Number.isFinite(figure.value),
    );
    if (atSize.length === 0) return [];
    const cheapest = atSize.reduce((best, figure) => (figure.value < best.value ? figure : best));
    const dearest = atSize.reduce((worst, figure) => (figure.value > worst.value ? figure : worst));
    const row: TopologyCostRow = {
      agents,
      cheapestTopology: String(cheapest.labels.topology),
      cheapestCostPerOpUsd: cheapest.value,
      dearestTopology: String(dearest.labels.topology),
      dearestCostPerOpUsd: dearest.value,
    };
    const hourlyOfCheapest = hourly.find(
      (figure) =>
        figure.labels.topology === cheapest.labels.topology && (figure.labels.agents ?? 'all') === agents,
    );
    if (hourlyOfCheapest !== undefined) row.cheapestHourlyUsd = hourlyOfCheapest.value;
    return [row];
  });
}

const TOPOLOGY_SOURCES = {
  consensus: ['trading/consensus', 'scalability/topology-comparison'],
  rtt: 'communication/inter-agent-latency',
  bytes: 'resources/network-bandwidth',
  cost: 'cost/cost-per-topology',
  cpu: 'resources/cpu-per-topology',
} as const;

function topologyGuide(run: RunResults): TopologyGuide {
  const sources: string[] = [];
  const consensusUnit = TOPOLOGY_SOURCES.consensus
    .map((unitId) => findResult(run, unitId))
    .find((result) => result !== undefined && seriesByTopology(result, 'consensus-ms').size > 0);
  const consensus =
    consensusUnit === undefined
      ? new Map<string, number[]>()
      : seriesByTopology(consensusUnit, 'consensus-ms');
  if (consensus.size > 0) sources.push(`${consensusUnit!.unitId} consensus-ms (p50 over all sizes)`);
  const rttUnit = findResult(run, TOPOLOGY_SOURCES.rtt);
  const rtt = rttUnit === undefined ? new Map<string, number[]>() : seriesByTopology(rttUnit, 'rtt-ms');
  if (rtt.size > 0) sources.push(`${TOPOLOGY_SOURCES.rtt} rtt-ms (p50 over all hop counts)`);
  const bytes = figuresByTopology(findResult(run, TOPOLOGY_SOURCES.bytes), 'bytes-per-op');
  if (bytes.size > 0) sources.push(`${TOPOLOGY_SOURCES.bytes} bytes-per-op`);
  const cost = figuresByTopology(findResult(run, TOPOLOGY_SOURCES.cost), 'cost-per-op');
  if (cost.size > 0) sources.push(`${TOPOLOGY_SOURCES.cost} cost-per-op (mean over sizes)`);
  const cpuUnit = findResult(run, TOPOLOGY_SOURCES.cpu);
  const cpu = cpuUnit === undefined ? new Map<string, number[]>() : seriesByTopology(cpuUnit, 'cpu-percent');
  if (cpu.size > 0) sources.push(`${TOPOLOGY_SOURCES.cpu} cpu-percent (p50 per agent)`);

  const topologies = uniqueInOrder([
    ...consensus.keys(),
    ...rtt.keys(),
    ...bytes.keys(),
    ...cost.keys(),
    ...cpu.keys(),
  ]);
  const p50 = (samples: number[] | undefined) =>
    samples === undefined ? Number.NaN : summarize(samples).p50;
  const mean = (values: number[] | undefined) =>
    values === undefined || values.length === 0
      ? Number.NaN
      : values.reduce((sum, value) => sum + value, 0) / values.length;
  const rows: TopologyRow[] = topologies.map((topology) => ({
    topology,
    consensusP50Ms: p50(consensus.get(topology)),
    rttP50Ms: p50(rtt.get(topology)),
    bytesPerOp: mean(bytes.get(topology)),
    costPerOpUsd: mean(cost.get(topology)),
    cpuP50Percent: p50(cpu.get(topology)),
    bestFor: [],
  }));
  const award = (pick: (row: TopologyRow) => number, what: string) => {
    const measured = rows.filter((row) => Number.isFinite(pick(row)));
    // A single measured topology wins nothing: there is nothing to compare it with.
    if (measured.length < 2) return;
    const best = measured.reduce((winner, row) => (pick(row) < pick(winner) ? row : winner));
    best.bestFor.push(what);
  };
  award((row) => row.consensusP50Ms, 'fastest consensus');
  award((row) => row.rttP50Ms, 'lowest inter-agent latency');
  award((row) => row.bytesPerOp, 'lowest network use');
  award((row) => row.costPerOpUsd, 'lowest cost');
  award((row) => row.cpuP50Percent, 'lowest CPU');
  return { rows, sources };
}

function seriesByTopology(result: UnitResult, name: string): Map<string, number[]> {
  const pooled = new Map<string, number[]>();
  for (const series of result.series) {
    if (series.name !== name || series.labels.topology === undefined || series.samples.length === 0) continue;
    const key = String(series.labels.topology);
    pooled.set(key, [...(pooled.get(key) ?? []), ...series.samples]);
  }
  return pooled;
}

function figuresByTopology(result: UnitResult | undefined, name: string): Map<string, number[]> {
  const values = new Map<string, number[]>();
  for (const figure of result?.figures ?? []) {
    if (figure.name !== name || figure.labels.topology === undefined || !Number.isFinite(figure.value))
      continue;
    const key = String(figure.labels.topology);
    values.set(key, [...(values.get(key) ?? []), figure.value]);
  }
  return values;
}

/** A measurement this much worse than the best alternative is a clear margin, not noise. */
const CLEAR_MARGIN = 1.5;
/** Coefficient of variation above which a series is too noisy to compare week to week. */
const NOISY_CV = 0.3;
/** A pass within this fraction of its threshold is flagged as thin. */
const THIN_MARGIN = 0.1;
/** Task balance (fewest / most tasks per agent) below which distribution is uneven. */
const UNEVEN_BALANCE = 0.8;
/** Fitted exponents above this count as super-linear (10% tolerance for fit noise). */
const SUPERLINEAR_EXPONENT = 1.1;

function recommend(analysis: RunAnalysis): Recommendation[] {
  const { run, outcomes } = analysis;
  const list: Recommendation[] = [];
  const add = (priority: Priority, text: string) => list.push({ priority, text });

  for (const outcome of outcomes) {
    if (outcome.status !== 'fail') continue;
    const { target } = outcome;
    add(
      'High',
      `${target.label} misses its target: measured ${formatValue(outcome.measured!, target.unit)}` +
        `${labelSuffix(outcome.measuredLabels)} against ${target.op} ${formatValue(target.value, target.unit, true)}` +
        ` (${target.unitId}, importance ${target.importance}). ${TARGET_HINTS[target.id] ?? 'Investigate this unit before the next run.'}`,
    );
  }
  for (const result of run.results) {
    if (result.status === 'failed') {
      add(
        'High',
        `${result.unitId} failed (${result.error?.name ?? 'Error'}: ${result.error?.message ?? 'no reason recorded'}); its targets are pending. Fix the cause and rerun the unit.`,
      );
    }
  }
  const failedFigureTargets = new Set(
    outcomes
      .filter((outcome) => outcome.status === 'fail' && outcome.target.figure)
      .map((o) => `${o.target.unitId}#${o.target.figure}`),
  );
  for (const result of run.results) {
    for (const figure of result.figures) {
      // A fitted slope of 1.05 on a handful of noisy sizes is linear; only a clear excess is news.
      if (!figure.name.endsWith('-exponent') || !(figure.value > SUPERLINEAR_EXPONENT)) continue;
      if (failedFigureTargets.has(`${result.unitId}#${figure.name}`)) continue;
      add(
        'High',
        `${result.unitId} ${figure.name} is ${formatNumber(figure.value)} (above ${SUPERLINEAR_EXPONENT}: grows faster than linearly with swarm size); find the per-agent cost that compounds before scaling up.`,
      );
    }
  }

  for (const margin of topologyMargins(run)) add('Medium', margin);
  const balance = findResult(run, 'trading/task-distribution')?.figures.find(
    (figure) => figure.name === 'balance',
  );
  if (balance !== undefined && balance.value < UNEVEN_BALANCE) {
    add(
      'Medium',
      `Task distribution is uneven: balance ${formatNumber(balance.value)} (fewest / most tasks per agent, 1 = even; below ${UNEVEN_BALANCE}). Review the dispatcher's assignment policy.`,
    );
  }
  for (const result of run.results) {
    if (result.status === 'partial') {
      add(
        'Medium',
        `${result.unitId} is partial (${result.error?.message ?? 'no reason recorded'}); its statistics rest on fewer samples than planned.`,
      );
    }
    if (result.faults.length > 0) {
      add(
        'Medium',
        `${result.unitId} observed ${result.faults.length} fault(s): ${result.faults.join('; ')}.`,
      );
    }
  }

  for (const outcome of outcomes) {
    // A pending target of a failed unit is already covered by the unit's High item.
    if (outcome.status === 'pending' && findResult(run, outcome.target.unitId)?.status !== 'failed') {
      add(
        'Low',
        `${outcome.target.label} was not evaluated (${outcome.reason}); add or fix ${outcome.target.unitId} so it is measured.`,
      );
    } else if (outcome.status === 'pass' && thinMargin(outcome)) {
      add(
        'Low',
        `${outcome.target.label} passes with a thin margin: ${formatValue(outcome.measured!, outcome.target.unit)} against ${outcome.target.op} ${formatValue(outcome.target.value, outcome.target.unit, true)} (within ${THIN_MARGIN * 100}% of the limit).`,
      );
    }
  }
  for (const result of run.results) {
    for (const { series, summary } of analysis.summaries.get(result.unitId) ?? []) {
      if (summary.count >= 3 && summary.cv > NOISY_CV) {
        add(
          'Low',
          `Noisy measurement: ${result.unitId} ${series.name}${labelSuffix(series.labels)} has CV ${formatNumber(summary.cv)} (n=${summary.count}, above ${NOISY_CV}); more iterations or a quieter machine would make week-to-week comparison meaningful.`,
        );
      }
    }
  }
  return list;
}

const TARGET_HINTS: Record<string, string> = {
  'swarm-init': 'Deploy agents in parallel and bake Node.js and the agent bundle into the sandbox template.',
  'agent-deployment': 'Bake the agent bundle into the sandbox template so deployment skips the upload.',
  'parallel-speedup':
    'Raise the deployment concurrency or check for a shared bottleneck (rate limit, single uplink).',
  'time-scaling':
    'Initialization grows faster than the swarm: look for work done per peer pair during wiring.',
  'memory-per-agent-constant':
    'Per-agent memory changes with swarm size: look for per-peer buffers or state copies.',
  'scaling-10-agents': 'Deploy in parallel and wire peers concurrently.',
  'strategy-execution':
    'Profile the strategy inside the agent and the size of the market-data window sent per call.',
  'strategy-throughput': 'Execute strategies concurrently across agents and batch requests.',
  consensus: 'Prefer the topology with the fastest consensus in the topology guide, or reduce vote hops.',
  'inter-agent-latency': 'Fewer hops (mesh or star) or co-located sandboxes cut round trips.',
  'message-throughput': 'Batch messages and check per-message work in the agents.',
  'state-sync': 'Send state deltas instead of whole states, or propagate along a tree.',
  'memory-per-agent': 'Reduce retained market data and message buffers in the agent.',
  'cpu-per-agent': 'Reduce strategy work per tick or give sandboxes more vCPU.',
  'cost-per-operation': 'Run more operations per sandbox-second (reuse sandboxes, batch work).',
  'cost-per-hour': 'Use a smaller template or fewer sandboxes per swarm (several agents per sandbox).',
  'cost-scaling': 'Cost grows faster than the swarm: reuse sandboxes or pack several agents per sandbox.',
};

function thinMargin(outcome: TargetOutcome): boolean {
  const { value } = outcome.target;
  if (outcome.measured === undefined || value === 0) return false;
  const lowerIsBetter = outcome.target.op === '<' || outcome.target.op === '<=';
  return lowerIsBetter
    ? outcome.measured > value * (1 - THIN_MARGIN)
    : outcome.measured < value * (1 + THIN_MARGIN);
}

function topologyMargins(run: RunResults): string[] {
  const lines: string[] = [];
  const compare = (
    entries: Array<{ topology: string; value: number; group: string }>,
    describe: (
      worst: { topology: string; value: number },
      best: { topology: string; value: number },
      ratio: number,
      group: string,
    ) => string,
  ) => {
    for (const group of uniqueInOrder(entries.map((entry) => entry.group))) {
      const inGroup = entries.filter(
        (entry) => entry.group === group && Number.isFinite(entry.value) && entry.value > 0,
      );
      if (inGroup.length < 2) continue;
      const best = inGroup.reduce((winner, entry) => (entry.value < winner.value ? entry : winner));
      const worst = inGroup.reduce((loser, entry) => (entry.value > loser.value ? entry : loser));
      const ratio = worst.value / best.value;
      if (ratio >= CLEAR_MARGIN) lines.push(describe(worst, best, ratio, group));
    }
  };
  const consensus = findResult(run, 'trading/consensus');
  if (consensus !== undefined) {
    compare(
      seriesEntries(consensus, 'consensus-ms', (summary) => summary.p50),
      (worst, best, ratio, group) =>
        `${worst.topology} reaches consensus ${formatNumber(ratio)}× slower than ${best.topology}${group ? ` at ${group}` : ''}: p50 ${formatValue(worst.value, 'ms')} vs ${formatValue(best.value, 'ms')} (trading/consensus). Prefer ${best.topology} where decision latency matters.`,
    );
  }
  const rtt = findResult(run, 'communication/inter-agent-latency');
  if (rtt !== undefined) {
    const pooled = seriesByTopology(rtt, 'rtt-ms');
    compare(
      [...pooled].map(([topology, samples]) => ({ topology, value: summarize(samples).p50, group: '' })),
      (worst, best, ratio) =>
        `${worst.topology} inter-agent round trips are ${formatNumber(ratio)}× those of ${best.topology}: p50 ${formatValue(worst.value, 'ms')} vs ${formatValue(best.value, 'ms')} over its routes (communication/inter-agent-latency).`,
    );
  }
  const cost = findResult(run, 'cost/cost-per-topology');
  if (cost !== undefined) {
    compare(
      figureEntries(cost.figures, 'cost-per-op'),
      (worst, best, ratio, group) =>
        `${worst.topology} costs ${formatNumber(ratio)}× as much per operation as ${best.topology}${group ? ` at ${group}` : ''}: ${formatUsd(worst.value)} vs ${formatUsd(best.value)} (cost/cost-per-topology).`,
    );
  }
  return lines;
}

function sizeGroup(labels: Labels): string {
  return labels.agents === undefined ? '' : `${labels.agents} agents`;
}

function seriesEntries(result: UnitResult, name: string, pick: (summary: Summary) => number) {
  return result.series
    .filter(
      (series) => series.name === name && series.labels.topology !== undefined && series.samples.length > 0,
    )
    .map((series) => ({
      topology: String(series.labels.topology),
      value: pick(summarize(series.samples)),
      group: sizeGroup(series.labels),
    }));
}

function figureEntries(figures: Figure[], name: string) {
  return figures
    .filter((figure) => figure.name === name && figure.labels.topology !== undefined)
    .map((figure) => ({
      topology: String(figure.labels.topology),
      value: figure.value,
      group: sizeGroup(figure.labels),
    }));
}

function labelSuffix(labels: Labels | undefined): string {
  return labels === undefined || Object.keys(labels).length === 0 ? '' : ` (${formatLabels(labels)})`;
}

function uniqueInOrder<T>(values: T[]): T[] {
  return [...new Set(values)];
}
