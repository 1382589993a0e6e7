/**
 * The guide's expected results as data, and their evaluation against a run. A target compares the
 * worst matching measurement (a statistic of each matching series, or each matching figure) with
 * its threshold; anything it cannot measure is "pending" with the reason, never a pass.
 */
import { InvalidInputError } from '../errors.ts';
import { summarize } from '../stats/summary.ts';
import type { Labels, RunResults, Series, Target, UnitResult } from './model.ts';

type GuideTarget = Omit<Target, 'source'>;

const guide = (target: GuideTarget): Target => ({ ...target, source: 'guide' });

/** Every expected result of the benchmark guide, mapped onto the series and figures the runner produces. */
export const GUIDE_TARGETS: readonly Target[] = Object.freeze([
  guide({
    id: 'swarm-init',
    label: 'Swarm Initialization',
    unitId: 'creation/swarm-init',
    series: 'init-ms',
    stat: 'p95',
    op: '<',
    value: 5000,
    unit: 'ms',
    importance: 'High',
  }),
  guide({
    id: 'agent-deployment',
    label: 'Agent Deployment',
    unitId: 'creation/agent-deployment',
    series: 'deploy-ms',
    stat: 'p95',
    op: '<',
    value: 3000,
    unit: 'ms',
    importance: 'High',
  }),
  guide({
    id: 'parallel-speedup',
    label: 'Parallel Speedup',
    unitId: 'creation/parallel-vs-sequential',
    figure: 'speedup',
    op: '>',
    value: 1.5,
    unit: 'ratio',
    importance: 'Medium',
  }),
  guide({
    id: 'time-scaling',
    label: 'Sub-linear Time Scaling (exponent)',
    unitId: 'scalability/linear-scaling',
    figure: 'time-exponent',
    op: '<',
    value: 1,
    unit: 'ratio',
    importance: 'Medium',
  }),
  guide({
    id: 'memory-per-agent-constant',
    label: 'Constant Memory per Agent (max/min)',
    unitId: 'scalability/linear-scaling',
    figure: 'memory-per-agent-spread',
    op: '<',
    value: 1.25,
    unit: 'ratio',
    importance: 'Medium',
  }),
  guide({
    id: 'scaling-10-agents',
    label: 'Scaling to 10 Agents',
    unitId: 'scalability/agent-count',
    series: 'init-ms',
    stat: 'p95',
    labels: { agents: 10 },
    op: '<',
    value: 30_000,
    unit: 'ms',
    importance: 'Medium',
  }),
  guide({
    id: 'strategy-execution',
    label: 'Strategy Execution',
    unitId: 'trading/strategy-execution',
    series: 'strategy-rtt-ms',
    stat: 'p95',
    op: '<',
    value: 100,
    unit: 'ms',
    importance: 'Critical',
  }),
  guide({
    id: 'strategy-throughput',
    label: 'Strategy Throughput',
    unitId: 'trading/strategy-execution',
    figure: 'throughput',
    op: '>',
    value: 10,
    unit: 'ops/s',
    importance: 'Medium',
  }),
  guide({
    id: 'consensus',
    label: 'Consensus Decision',
    unitId: 'trading/consensus',
    series: 'consensus-ms',
    stat: 'p95',
    op: '<',
    value: 200,
    unit: 'ms',
    importance: 'Medium',
  }),
  guide({
    id: 'inter-agent-latency',
    label: 'Inter-Agent Latency',
    unitId: 'communication/inter-agent-latency',
    series: 'rtt-ms',
    stat: 'p95',
    op: '<',
    value: 50,
    unit: 'ms',
    importance: 'High',
  }),
  guide({
    id: 'message-throughput',
    label: 'Message Throughput',
    unitId: 'communication/message-throughput',
    figure: 'throughput',
    op: '>',
    value: 50,
    unit: 'msg/s',
    importance: 'Medium',
  }),
  guide({
    id: 'state-sync',
    label: 'State Synchronization',
    unitId: 'communication/state-sync',
    series: 'sync-ms',
    stat: 'p95',
    op: '<',
    value: 1000,
    unit: 'ms',
    importance: 'Medium',
  }),
  guide({
    id: 'memory-per-agent',
    label: 'Memory per Agent',
    unitId: 'resources/memory-per-agent',
    series: 'rss-mb',
    stat: 'max',
    op: '<',
    value: 200,
    unit: 'MB',
    importance: 'Medium',
  }),
  guide({
    id: 'cpu-per-agent',
    label: 'CPU per Agent',
    unitId: 'resources/cpu-per-topology',
    series: 'cpu-percent',
    stat: 'max',
    op: '<',
    value: 100,
    unit: 'percent',
    importance: 'Medium',
  }),
  guide({
    id: 'cost-per-operation',
    label: 'Cost per Operation',
    unitId: 'cost/cost-per-operation',
    figure: 'cost-per-op',
    op: '<',
    value: 0.01,
    unit: 'usd',
    importance: 'Medium',
  }),
  guide({
    id: 'cost-per-hour',
    label: 'Cost per Hour (worst topology)',
    unitId: 'cost/cost-per-topology',
    figure: 'hourly-usd',
    op: '<',
    value: 2,
    unit: 'usd/h',
    importance: 'High',
  }),
  guide({
    id: 'cost-scaling',
    label: 'Sub-linear Cost Scaling (exponent)',
    unitId: 'cost/cost-scaling',
    figure: 'cost-exponent',
    op: '<',
    value: 1,
    unit: 'ratio',
    importance: 'Medium',
  }),
]);

export type TargetStatus = 'pass' | 'fail' | 'pending';

/** How one target fared in a run. */
export interface TargetOutcome {
  target: Target;
  status: TargetStatus;
  /** The deciding (worst) measured value; absent when pending. */
  measured?: number;
  /** Labels of the series or figure that gave `measured`. */
  measuredLabels?: Labels;
  /** Samples behind `measured` (series targets only). */
  sampleCount?: number;
  /** Why the target is pending. */
  reason?: string;
}

/**
 * Evaluate targets against a run. By default: the guide's targets plus the targets custom units
 * declare in the plan. A target whose unit is not planned, failed, or produced no matching
 * measurement is pending with the reason.
 */
export function evaluateTargets(run: RunResults, targets?: readonly Target[]): TargetOutcome[] {
  const chosen = targets ?? [...GUIDE_TARGETS, ...customTargets(run)];
  return chosen.map((target) => evaluateTarget(run, target));
}

/** Targets declared by the plan's units (custom scenarios). */
export function customTargets(run: RunResults): Target[] {
  return run.meta.units.flatMap((unit) => unit.targets ?? []);
}

/** True when `measured` satisfies `op threshold`. */
export function meetsTarget(measured: number, op: Target['op'], threshold: number): boolean {
  switch (op) {
    case '<':
      return measured < threshold;
    case '<=':
      return measured <= threshold;
    case '>':
      return measured > threshold;
    case '>=':
      return measured >= threshold;
  }
}

/** True when every key of `wanted` is present in `labels` with the same value. */
export function labelsMatch(labels: Labels, wanted: Labels | undefined): boolean {
  if (wanted === undefined) return true;
  return Object.entries(wanted).every(([key, value]) => labels[key] === value);
}

function evaluateTarget(run: RunResults, target: Target): TargetOutcome {
  checkTarget(target);
  const planned = run.meta.units.some((unit) => unit.unitId === target.unitId);
  const result = run.results.find((unit) => unit.unitId === target.unitId);
  if (!planned && result === undefined) return pending(target, 'unit not in the plan');
  if (result === undefined) return pending(target, 'unit has no result (not run)');
  if (result.status === 'failed') {
    return pending(target, `unit failed: ${result.error?.message ?? 'no reason recorded'}`);
  }
  const candidates =
    target.figure !== undefined ? figureCandidates(result, target) : seriesCandidates(result, target);
  if (candidates === 'no-match') {
    return pending(target, target.figure !== undefined ? 'no matching figure' : 'no matching series');
  }
  if (candidates.length === 0) return pending(target, 'matching series hold no samples');
  const lowerIsBetter = target.op === '<' || target.op === '<=';
  let worst = candidates[0]!;
  for (const candidate of candidates) {
    if (lowerIsBetter ? candidate.value > worst.value : candidate.value < worst.value) worst = candidate;
  }
  const outcome: TargetOutcome = {
    target,
    status: meetsTarget(worst.value, target.op, target.value) ? 'pass' : 'fail',
    measured: worst.value,
    measuredLabels: worst.labels,
  };
  if (worst.count !== undefined) outcome.sampleCount = worst.count;
  return outcome;
}

interface Candidate {
  value: number;
  labels: Labels;
  count?: number;
}

function seriesCandidates(result: UnitResult, target: Target): Candidate[] | 'no-match' {
  const matching = result.series.filter(
    (series) => series.name === target.series && labelsMatch(series.labels, target.labels),
  );
  if (matching.length === 0) return 'no-match';
  return matching
    .filter((series) => series.samples.length > 0)
    .map((series) => ({
      value: seriesStat(series, target.stat!),
      labels: series.labels,
      count: series.samples.length,
    }));
}

function figureCandidates(result: UnitResult, target: Target): Candidate[] | 'no-match' {
  const matching = result.figures.filter(
    (figure) => figure.name === target.figure && labelsMatch(figure.labels, target.labels),
  );
  if (matching.length === 0) return 'no-match';
  return matching
    .filter((figure) => Number.isFinite(figure.value))
    .map((figure) => ({ value: figure.value, labels: figure.labels }));
}

function seriesStat(series: Series, stat: NonNullable<Target['stat']>): number {
  return summarize(series.samples, { warmupDiscarded: series.warmup.length })[stat];
}

function pending(target: Target, reason: string): TargetOutcome {
  return { target, status: 'pending', reason };
}

function checkTarget(target: Target): void {
  const bySeries = target.series !== undefined && target.stat !== undefined;
  const byFigure = target.figure !== undefined;
  if (bySeries === byFigure) {
    throw new InvalidInputError(`targets[${target.id}]`, 'exactly one of series+stat or figure', target);
  }
  if (!Number.isFinite(target.value)) {
    throw new InvalidInputError(`targets[${target.id}].value`, 'a finite number', target.value);
  }
}
