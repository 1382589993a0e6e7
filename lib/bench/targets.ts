/**
 * The guide's expected results as data, and their evaluation against a run. Each matching
 * measurement (a statistic of each matching series, or each matching figure) is judged with the
 * confidence interval of that statistic: pass when the whole interval meets the threshold, fail
 * when the whole interval misses it, inconclusive when it straddles it or cannot be computed (one
 * sample, too few for a p95). Across matches, one fail fails the target and every match must pass
 * for it to pass. Anything it cannot measure is "pending" with the reason, never a pass.
 */
import { InvalidInputError } from '../errors.ts';
import { median } from '../history/compare.ts';
import {
  bootstrapInterval,
  type ConfidenceInterval,
  intervalVerdict,
  meanInterval,
  quantileInterval,
  samplesToDecide,
} from '../stats/intervals.ts';
import { fitPowerLaw } from '../stats/scaling.ts';
import type { Figure, Labels, MeasureUnit, RunResults, Series, Target, UnitResult } from './model.ts';

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

export type TargetStatus = 'pass' | 'fail' | 'inconclusive' | 'pending';

/** Targets per verdict, as every summary (report, site, pipeline notification) counts them. */
export interface TargetCounts {
  pass: number;
  fail: number;
  inconclusive: number;
  pending: number;
}

/** Count outcomes per status. */
export function countTargets(outcomes: readonly Pick<TargetOutcome, 'status'>[]): TargetCounts {
  const counts: TargetCounts = { pass: 0, fail: 0, inconclusive: 0, pending: 0 };
  for (const outcome of outcomes) counts[outcome.status] += 1;
  return counts;
}

/** How one target fared in a run. */
export interface TargetOutcome {
  target: Target;
  status: TargetStatus;
  /** The deciding measurement's point estimate (see evaluateTargets); absent when pending. */
  measured?: number;
  /** Labels of the series or figure that gave `measured`. */
  measuredLabels?: Labels;
  /** Samples behind `measured` (series targets; figures: the smallest sample they rest on). */
  sampleCount?: number;
  /** 95% confidence interval of the judged statistic of the deciding measurement, when one exists. */
  interval?: ConfidenceInterval;
  /** Why the interval is missing or one-sided, e.g. "n = 1: no interval". */
  intervalNote?: string;
  /** Inconclusive only: samples in all that would likely (80%) decide it; null when nothing says. */
  samplesNeeded?: number | null;
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

/** Units whose values cannot be below 0 (times, sizes, rates, money, counts); only 'ratio' can. */
export function isNonNegativeUnit(unit: MeasureUnit): boolean {
  return unit !== 'ratio';
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
  if (typeof candidates === 'string') return pending(target, candidates);
  if (candidates.length === 0) return pending(target, 'matching series hold no samples');
  const lowerIsBetter = target.op === '<' || target.op === '<=';
  const judged = candidates.map((candidate) => ({ candidate, verdict: judge(candidate, target) }));
  // The deciding match: a failing one if any, else an undecided one, else the worst passing one.
  const status: TargetStatus = judged.some((j) => j.verdict === 'fail')
    ? 'fail'
    : judged.some((j) => j.verdict === 'inconclusive')
      ? 'inconclusive'
      : 'pass';
  let worst: (typeof judged)[number] | undefined;
  for (const entry of judged) {
    if (entry.verdict !== status) continue;
    const value = entry.candidate.value;
    if (
      worst === undefined ||
      (lowerIsBetter ? value > worst.candidate.value : value < worst.candidate.value)
    )
      worst = entry;
  }
  const deciding = worst!.candidate;
  const outcome: TargetOutcome = {
    target,
    status,
    measured: deciding.value,
    measuredLabels: deciding.labels,
  };
  if (deciding.count !== undefined) outcome.sampleCount = deciding.count;
  if (deciding.interval !== undefined) outcome.interval = deciding.interval;
  if (deciding.note !== undefined) outcome.intervalNote = deciding.note;
  if (status === 'inconclusive') {
    outcome.samplesNeeded =
      deciding.interval === undefined
        ? null
        : samplesToDecide(deciding.value, deciding.interval, target.value);
  }
  return outcome;
}

/** One matching measurement with the interval of the judged statistic. */
interface Candidate {
  value: number;
  labels: Labels;
  count?: number;
  interval?: ConfidenceInterval;
  /** Set when there is no interval, or a bound is missing: says why. */
  note?: string;
  /** An observed extreme (max, min) or an exact figure: judged on the value itself. */
  exactValue?: boolean;
}

function judge(candidate: Candidate, target: Target): 'pass' | 'fail' | 'inconclusive' {
  if (candidate.exactValue) return meetsTarget(candidate.value, target.op, target.value) ? 'pass' : 'fail';
  if (candidate.interval === undefined) return 'inconclusive';
  return intervalVerdict(candidate.interval, target.op, target.value);
}

/** The quantile each percentile statistic names. */
export const QUANTILE_OF: Partial<Record<NonNullable<Target['stat']>, number>> = {
  p50: 0.5,
  p95: 0.95,
  p99: 0.99,
};

function seriesCandidates(result: UnitResult, target: Target): Candidate[] | 'no-match' | string {
  const matching = result.series.filter(
    (series) => series.name === target.series && labelsMatch(series.labels, target.labels),
  );
  if (matching.length === 0) return 'no-match';
  const negative = matching.find(
    (series) => isNonNegativeUnit(series.unit) && series.samples.some((value) => value < 0),
  );
  if (negative !== undefined) {
    return `series ${negative.name} holds values below 0, impossible for ${negative.unit}: not judged`;
  }
  return matching
    .filter((series) => series.samples.length > 0)
    .map((series) => seriesCandidate(series, target.stat!));
}

/** The statistic of one series with its interval (quantiles: order statistics; mean: bootstrap). */
function seriesCandidate(series: Series, stat: NonNullable<Target['stat']>): Candidate {
  const samples = series.samples;
  const n = samples.length;
  const sorted = [...samples].sort((x, y) => x - y);
  const base = { labels: series.labels, count: n };
  if (stat === 'max' || stat === 'min') {
    const value = stat === 'max' ? sorted[n - 1]! : sorted[0]!;
    if (n < 2) return { ...base, value, note: 'n = 1: no interval' };
    return {
      ...base,
      value,
      exactValue: true,
      note: `observed ${stat} of ${n} (an extreme has no interval)`,
    };
  }
  if (stat === 'mean') {
    const interval = meanInterval(samples);
    return withNote({ ...base, value: mean(samples), interval }, 'mean');
  }
  const p = QUANTILE_OF[stat]!;
  const interval = quantileInterval(samples, p);
  return withNote({ ...base, value: typeSeven(sorted, p), interval }, stat);
}

/** Note a missing interval or bound: "n = 1: no interval", "n too small for a p95 interval (...)". */
function withNote(candidate: Candidate, statName: string): Candidate {
  const interval = candidate.interval!;
  if (interval.n < 2) return { ...candidate, note: `n = ${interval.n}: no interval` };
  if (interval.low === null || interval.high === null) {
    const needs = interval.minCount !== undefined ? ` (needs n >= ${interval.minCount})` : '';
    return { ...candidate, note: `n too small for a ${statName} interval${needs}` };
  }
  return candidate;
}

function figureCandidates(result: UnitResult, target: Target): Candidate[] | 'no-match' | string {
  const matching = result.figures.filter(
    (figure) => figure.name === target.figure && labelsMatch(figure.labels, target.labels),
  );
  if (matching.length === 0) return 'no-match';
  const negative = matching.find((figure) => isNonNegativeUnit(figure.unit) && figure.value < 0);
  if (negative !== undefined) {
    return `figure ${negative.name} is below 0, impossible for ${negative.unit}: not judged`;
  }
  return matching
    .filter((figure) => Number.isFinite(figure.value))
    .map((figure) => figureCandidate(result, figure));
}

/**
 * A figure with an interval: recomputed from its source series by a seeded bootstrap when its
 * formula is known here and reproduces the recorded value (so a changed formula is never given a
 * wrong interval), exact when it is computed from prices and counts only, otherwise none.
 */
function figureCandidate(result: UnitResult, figure: Figure): Candidate {
  const base = { value: figure.value, labels: figure.labels };
  if (EXACT_FIGURES.has(figure.name)) {
    return {
      ...base,
      exactValue: true,
      note: 'exact (list prices x counts)',
    };
  }
  for (const recipe of FIGURE_RECIPES) {
    const recomputed = recipe(result, figure);
    if (recomputed === undefined || !sameValue(recomputed.statistic(recomputed.groups), figure.value))
      continue;
    const interval = bootstrapInterval(recomputed.groups, recomputed.statistic);
    const candidate: Candidate = { ...base, count: interval.n, interval };
    if (interval.n < 2) return { ...candidate, note: `n = ${interval.n} ${recomputed.per}: no interval` };
    if (interval.low === null) return { ...candidate, note: 'bootstrap gave no interval' };
    return candidate;
  }
  const source = singleSourceSeries(result, figure);
  if (source !== undefined && sameValue(median(source.samples), figure.value)) {
    return withNote(
      { ...base, count: source.samples.length, interval: quantileInterval(source.samples, 0.5) },
      'median',
    );
  }
  return { ...base, note: 'no interval (figure not recomputable from its series)' };
}

/** Figures with no sampling error: list price x a count of sandboxes. */
const EXACT_FIGURES: ReadonlySet<string> = new Set(['hourly-usd']);

interface Recomputation {
  groups: number[][];
  statistic: (groups: readonly (readonly number[])[]) => number;
  /** What one group is, for "n = 1 per size". */
  per: string;
}

/**
 * Known figure formulas, as the benchmarks compute them (lib/bench/benchmarks): each returns the
 * source samples and the statistic, or undefined when the figure is not of its kind. A recipe is
 * used only if it reproduces the recorded value exactly.
 */
/** The series a figure is computed from (its recipe below): what the plan counts samples of. */
export const FIGURE_SOURCES: Readonly<Record<string, readonly string[]>> = {
  speedup: ['sequential-ms', 'parallel-ms'],
  'time-exponent': ['init-ms'],
  'cost-exponent': ['workload-sandbox-seconds'],
  'memory-per-agent-spread': ['rss-per-agent-mb'],
};

const FIGURE_RECIPES: ReadonlyArray<(result: UnitResult, figure: Figure) => Recomputation | undefined> = [
  // speedup = median(sequential-ms) / median(parallel-ms) at the figure's labels.
  (result, figure) => {
    if (figure.name !== 'speedup') return undefined;
    const sequential = findSeries(result, 'sequential-ms', figure.labels);
    const parallel = findSeries(result, 'parallel-ms', figure.labels);
    if (sequential === undefined || parallel === undefined) return undefined;
    return {
      groups: [sequential.samples, parallel.samples],
      statistic: ([a, b]) => median(a!) / median(b!),
      per: 'pair',
    };
  },
  // Log-log slope of per-size medians against the agents label.
  (result, figure) => {
    if (figure.name !== 'time-exponent' && figure.name !== 'cost-exponent') return undefined;
    const source = FIGURE_SOURCES[figure.name]?.[0] as string;
    const bySize = seriesBySize(result, source);
    if (bySize.length < 2) return undefined;
    const sizes = bySize.map((entry) => entry.agents);
    return {
      groups: bySize.map((entry) => entry.samples),
      statistic: (groups) =>
        fitPowerLaw(groups.map((group, i) => ({ x: sizes[i]!, y: median(group) }))).exponent,
      per: 'per size',
    };
  },
  // Largest over smallest per-size median.
  (result, figure) => {
    if (figure.name !== 'memory-per-agent-spread') return undefined;
    const bySize = seriesBySize(result, 'rss-per-agent-mb');
    if (bySize.length < 2) return undefined;
    return {
      groups: bySize.map((entry) => entry.samples),
      statistic: (groups) => {
        const medians = groups.map((group) => median(group));
        return Math.max(...medians) / Math.min(...medians);
      },
      per: 'per size',
    };
  },
];

function findSeries(result: UnitResult, name: string, labels: Labels): Series | undefined {
  return result.series.find(
    (series) => series.name === name && labelsMatch(series.labels, labels) && series.samples.length > 0,
  );
}

/** The series of this name with samples, one per `agents` label, in the order recorded. */
function seriesBySize(result: UnitResult, name: string): Array<{ agents: number; samples: number[] }> {
  return result.series
    .filter((series) => series.name === name && typeof series.labels.agents === 'number')
    .filter((series) => series.samples.length > 0 && series.samples.every((value) => value > 0))
    .map((series) => ({ agents: series.labels.agents as number, samples: series.samples }));
}

/** The one series named in the figure's `from` whose labels include the figure's. */
function singleSourceSeries(result: UnitResult, figure: Figure): Series | undefined {
  if (figure.from.length !== 1) return undefined;
  const matches = result.series.filter(
    (series) => series.name === figure.from[0] && labelsMatch(series.labels, figure.labels),
  );
  return matches.length === 1 && matches[0]!.samples.length > 0 ? matches[0] : undefined;
}

function sameValue(a: number, b: number): boolean {
  return Number.isFinite(a) && Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b), 1e-300);
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

/** R type 7 quantile of sorted values, as summarize() reports it. */
function typeSeven(sorted: readonly number[], p: number): number {
  const position = (sorted.length - 1) * p;
  const below = Math.floor(position);
  const above = Math.min(sorted.length - 1, below + 1);
  return sorted[below]! + (sorted[above]! - sorted[below]!) * (position - below);
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
