/**
 * Compare a run with earlier runs of the same configuration: one row per series (and figure) of
 * the current run, with its baseline, relative change, significance and run-to-run noise, and a
 * verdict. Pure: the baselines are passed in (see loadBaselines), the result is plain JSON data.
 *
 * Statistics, and why:
 * - Baseline median = the median of the per-run medians over the window, not the median of the
 *   pooled samples. Each earlier run weighs the same however many samples it took, one disturbed
 *   run in the window cannot drag the baseline, and it is on the same scale as the noise figure
 *   (computed from the same per-run medians), so "delta vs the noise bound" compares like with like.
 * - p-value = two-sided Mann-Whitney U of the current raw samples against the pooled raw samples
 *   of the window (Welch's t as a secondary figure). Pooling treats samples from different runs
 *   as exchangeable, which ignores run-to-run drift and makes p optimistic; the noise gate is
 *   what accounts for that drift.
 * - Noise = CV of the per-run medians. From a handful of runs it is itself uncertain and tends to
 *   be low (three runs close together in time miss the drift between days), so the gate uses its
 *   one-sided 95% upper confidence bound, CV x sqrt((k-1) / chi2(0.05, k-1)) for k runs: about
 *   4.4x the CV at k = 3, 1.8x at k = 8. Seen here: three back-to-back runs with a CV of 5% were
 *   followed by an unchanged run 33% slower.
 * - A row is flagged only when the change is both large (|delta| >= max(minChange, 2 x noise
 *   bound)) and significant (p < alpha, with the rank shift in the same direction as the medians).
 */
import type { Figure, Labels, MeasureUnit, RunMeta, RunResults, Series, UnitResult } from '../bench/model.ts';
import { InvalidInputError } from '../errors.ts';
import { mannWhitneyU, relativeChange, welchTTest } from '../stats/compare.ts';
import { chiSquareQuantile } from '../stats/distributions.ts';

/** One earlier run's result for a unit, as `ResultStore.history` returns it. */
export interface BaselineEntry {
  run: RunMeta;
  result: UnitResult;
}

/** Earlier results per unitId, newest first. */
export type Baselines = ReadonlyMap<string, readonly BaselineEntry[]>;

/** Which way is worse for a quantity. */
export type Direction = 'lower-is-better' | 'higher-is-better' | 'neutral';

export type HistoryVerdict =
  | 'regression'
  | 'improvement'
  | 'unchanged'
  | 'large-but-not-significant'
  | 'not-enough-history';

/** Thresholds of the comparison. */
export interface HistoryOptions {
  /** Smallest relative change worth flagging. @default 0.10 */
  minChange?: number;
  /** Significance level of the Mann-Whitney test. @default 0.01 */
  alpha?: number;
  /**
   * Earlier runs a row needs before it can be judged. @default 3: the noise gate needs a standard
   * deviation of per-run medians, and from 2 runs (1 degree of freedom) it is too erratic to gate
   * anything; 3 is the smallest window that gives it 2, and on the weekly schedule a new
   * configuration is judged from its fourth week on.
   */
  minRuns?: number;
  /** Earlier runs considered per unit (newest first); extra entries are ignored. @default 8 */
  window?: number;
}

export const DEFAULT_HISTORY_OPTIONS: Readonly<Required<HistoryOptions>> = Object.freeze({
  minChange: 0.1,
  alpha: 0.01,
  minRuns: 3,
  window: 8,
});

/** One compared quantity. Numbers that cannot be computed are null (the row stays JSON-safe). */
export interface HistoryRow {
  unitId: string;
  /** A measured series (tested for significance) or a derived figure (delta and trend only). */
  kind: 'series' | 'figure';
  name: string;
  unit: MeasureUnit;
  labels: Labels;
  direction: Direction;
  /** Median of the current samples, or the figure's value. */
  current: number;
  currentCount: number;
  /** Median of the per-run medians (figures: of the per-run values) over the window. */
  baseline: number | null;
  /** Earlier runs that have this row. */
  baselineRuns: number;
  /** Pooled samples of those runs. */
  baselineCount: number;
  /** (current - baseline) / |baseline|; null without a baseline or when the baseline is 0. */
  delta: number | null;
  /** Set when the baseline is 0 and the current value is not: the change has no percentage. */
  fromZero?: boolean;
  /** Two-sided Mann-Whitney U p-value, current samples vs pooled window samples. */
  pValue: number | null;
  /** Two-sided Welch t-test p-value of the same samples (secondary). */
  welchPValue: number | null;
  /** Coefficient of variation of the per-run medians over the window. */
  noise: number | null;
  /** The |delta| a flag needs: max(minChange, 2 x the upper 95% bound of noise). */
  threshold: number;
  /** Per-run medians oldest to newest, then the current value (for a sparkline). */
  trend: number[];
  verdict: HistoryVerdict;
}

/** The comparison of one run with its history. */
export interface HistoryComparison {
  runId: string;
  configHash: string;
  provider: RunMeta['provider'];
  /** Earlier runs that contributed to any row, newest first. */
  baselineRuns: string[];
  window: number;
  minChange: number;
  alpha: number;
  minRuns: number;
  rows: HistoryRow[];
  regressions: number;
  improvements: number;
}

const LOWER_IS_BETTER: ReadonlySet<MeasureUnit> = new Set<MeasureUnit>([
  'ms',
  'us',
  's',
  'bytes',
  'MB',
  'percent',
  'usd',
  'usd/h',
]);
const HIGHER_IS_BETTER: ReadonlySet<MeasureUnit> = new Set<MeasureUnit>(['msg/s', 'ops/s', 'ops/usd']);

/** Latency, time, bytes, memory, CPU and cost: higher is worse; throughput: higher is better; counts and ratios: neutral. */
export function directionOf(unit: MeasureUnit): Direction {
  if (LOWER_IS_BETTER.has(unit)) return 'lower-is-better';
  if (HIGHER_IS_BETTER.has(unit)) return 'higher-is-better';
  return 'neutral';
}

/** Compare the current run's series and figures with the baselines (see the module comment). */
export function compareWithHistory(
  current: RunResults,
  baselines: Baselines,
  options: HistoryOptions = {},
): HistoryComparison {
  const settings = resolveOptions(options);
  const rows: HistoryRow[] = [];
  const used = new Map<string, string>();
  for (const result of current.results) {
    if (result.status === 'failed') continue;
    const window = (baselines.get(result.unitId) ?? [])
      .filter((entry) => entry.run.runId !== current.meta.runId)
      .slice(0, settings.window);
    // Keyed once per earlier result: matching by key is then a lookup, not a scan per series.
    const indexed = window.map((entry) => ({
      run: entry.run,
      series: byKey(entry.result.series),
      figures: byKey(entry.result.figures),
    }));
    for (const series of result.series) {
      if (series.samples.length === 0) continue;
      const earlier = matchAll(indexed, (entry) => entry.series, series).filter(
        (m) => m.item.samples.length > 0,
      );
      for (const match of earlier) used.set(match.run.runId, match.run.startedAt);
      rows.push(
        judge(
          result.unitId,
          'series',
          series,
          series.samples,
          earlier.map((m) => ({ samples: m.item.samples })),
          settings,
        ),
      );
    }
    for (const figure of result.figures) {
      if (!Number.isFinite(figure.value)) continue;
      const earlier = matchAll(indexed, (entry) => entry.figures, figure).filter((m) =>
        Number.isFinite(m.item.value),
      );
      for (const match of earlier) used.set(match.run.runId, match.run.startedAt);
      rows.push(
        judge(
          result.unitId,
          'figure',
          figure,
          [figure.value],
          earlier.map((m) => ({ samples: [m.item.value] })),
          settings,
        ),
      );
    }
  }
  const baselineRuns = [...used.entries()]
    .sort(([idA, a], [idB, b]) => b.localeCompare(a) || idB.localeCompare(idA))
    .map(([runId]) => runId);
  return {
    runId: current.meta.runId,
    configHash: current.meta.configHash,
    provider: current.meta.provider,
    baselineRuns,
    ...settings,
    rows,
    regressions: rows.filter((row) => row.verdict === 'regression').length,
    improvements: rows.filter((row) => row.verdict === 'improvement').length,
  };
}

/** Two single runs side by side (`swarm-bench compare`): B judged against A, without a noise gate. */
export interface RunComparisonRow {
  unitId: string;
  name: string;
  unit: MeasureUnit;
  labels: Labels;
  direction: Direction;
  medianA: number;
  medianB: number;
  countA: number;
  countB: number;
  delta: number | null;
  fromZero?: boolean;
  pValue: number | null;
  verdict: Exclude<HistoryVerdict, 'not-enough-history'>;
}

/** Every series present in both runs, B relative to A; series only in one run are counted, not compared. */
export function compareRuns(
  a: RunResults,
  b: RunResults,
  options: Pick<HistoryOptions, 'minChange' | 'alpha'> = {},
): { rows: RunComparisonRow[]; onlyInA: number; onlyInB: number } {
  const { minChange, alpha } = resolveOptions(options);
  const rows: RunComparisonRow[] = [];
  const keysB = new Set<string>();
  for (const result of b.results)
    for (const series of result.series) keysB.add(`${result.unitId} ${seriesKey(series)}`);
  const keysA = new Set<string>();
  for (const resultA of a.results) {
    const resultB = b.results.find((candidate) => candidate.unitId === resultA.unitId);
    for (const seriesA of resultA.series) {
      keysA.add(`${resultA.unitId} ${seriesKey(seriesA)}`);
      const seriesB = resultB?.series.find((candidate) => seriesKey(candidate) === seriesKey(seriesA));
      if (seriesB === undefined || seriesA.samples.length === 0 || seriesB.samples.length === 0) continue;
      const medianA = median(seriesA.samples);
      const medianB = median(seriesB.samples);
      const change = changeOf(medianB, medianA);
      const test = mannWhitneyU(seriesB.samples, seriesA.samples);
      const direction = directionOf(seriesA.unit);
      rows.push({
        unitId: resultA.unitId,
        name: seriesA.name,
        unit: seriesA.unit,
        labels: seriesA.labels,
        direction,
        medianA,
        medianB,
        countA: seriesA.samples.length,
        countB: seriesB.samples.length,
        delta: change.delta,
        ...(change.fromZero ? { fromZero: true } : {}),
        pValue: test.pValue,
        verdict: decide(direction, change.magnitude, minChange, test, alpha),
      });
    }
  }
  const onlyInB = [...keysB].filter((key) => !keysA.has(key)).length;
  const onlyInA = [...keysA].filter((key) => !keysB.has(key)).length;
  return { rows, onlyInA, onlyInB };
}

/**
 * Two conditions measured in interleaved passes (pooling off vs on, each pass a complete run of
 * both): the verdict on one series. Unlike compareWithHistory, both sides have several passes, so
 * both have a run-to-run noise figure and the gate takes the larger.
 */
export type PassVerdict =
  /** |delta| clears the gate of both conditions and Mann-Whitney gives p < alpha. */
  | 'moved'
  /** |delta| is below the gate (or zero): no move beyond the series' own between-pass noise. */
  | 'within-noise'
  /** |delta| clears the gate but the rank test does not confirm it. */
  | 'large-but-not-significant'
  /** A condition has fewer than minPasses passes with samples: no noise figure to gate with. */
  | 'too-few-passes'
  /** |delta| clears the gate but even completely separated samples of these sizes could not give p < alpha. */
  | 'too-few-samples';

export interface PassOptions {
  /** Smallest relative change worth flagging. @default 0.10 (as compareWithHistory) */
  minChange?: number;
  /** Significance level of the Mann-Whitney test. @default 0.01 */
  alpha?: number;
  /** Passes with samples each condition needs before a row is judged. @default 3 (as minRuns) */
  minPasses?: number;
}

export interface PassComparison {
  /** Per-pass medians of condition A (the reference, e.g. pooling off), passes without samples left out. */
  perPassA: number[];
  perPassB: number[];
  /** Raw samples over all passes. */
  countA: number;
  countB: number;
  /** Median of the per-pass medians; null without any. */
  medianA: number | null;
  medianB: number | null;
  /** (medianB - medianA) / |medianA|; null when it cannot be computed or A is 0 (then fromZero). */
  delta: number | null;
  fromZero?: boolean;
  /** CV of the per-pass medians of each condition (null below 2 passes or at a zero mean). */
  noiseA: number | null;
  noiseB: number | null;
  /** The |delta| a move needs: the larger of the two conditions' noise gates (noiseGate). */
  threshold: number;
  /** Two-sided Mann-Whitney U p-value of B's raw samples against A's, all passes pooled. */
  pValue: number | null;
  /** The smallest p-value the test can give at these sample counts (both samples fully separated). */
  minPValue: number | null;
  verdict: PassVerdict;
}

/**
 * Judge condition B against condition A from per-pass samples (`a[pass]` = that pass' raw
 * samples). The series moved only when the change of the medians of per-pass medians reaches the
 * noise gate of A and of B (each from its own per-pass medians, k = its passes) and the rank test
 * on all raw samples gives p < alpha in the same direction. Order of the checks: too few passes
 * (no gate) first; a change below the gate is within noise whatever the sample count; a change
 * beyond it that the test could not confirm even in principle is too few samples.
 */
export function comparePasses(
  a: readonly (readonly number[])[],
  b: readonly (readonly number[])[],
  options: PassOptions = {},
): PassComparison {
  const { minChange, alpha } = resolveOptions({ minChange: options.minChange, alpha: options.alpha });
  const minPasses = options.minPasses ?? DEFAULT_HISTORY_OPTIONS.minRuns;
  if (!Number.isInteger(minPasses) || minPasses < 2)
    throw new InvalidInputError('minPasses', 'an integer >= 2', minPasses);
  const passesA = a.filter((pass) => pass.length > 0);
  const passesB = b.filter((pass) => pass.length > 0);
  const perPassA = passesA.map((pass) => median(pass));
  const perPassB = passesB.map((pass) => median(pass));
  const rawA = passesA.flat();
  const rawB = passesB.flat();
  const gateA = noiseGate(perPassA, minChange);
  const gateB = noiseGate(perPassB, minChange);
  const row: PassComparison = {
    perPassA,
    perPassB,
    countA: rawA.length,
    countB: rawB.length,
    medianA: perPassA.length > 0 ? median(perPassA) : null,
    medianB: perPassB.length > 0 ? median(perPassB) : null,
    delta: null,
    noiseA: gateA.noise,
    noiseB: gateB.noise,
    threshold: Math.max(gateA.threshold, gateB.threshold),
    pValue: null,
    minPValue: null,
    verdict: 'too-few-passes',
  };
  if (row.medianA === null || row.medianB === null) return row;
  const change = changeOf(row.medianB, row.medianA);
  row.delta = change.delta;
  if (change.fromZero) row.fromZero = true;
  const test = mannWhitneyU(rawB, rawA);
  row.pValue = test.pValue;
  row.minPValue = mannWhitneyU(
    Array.from({ length: rawB.length }, (_, i) => rawA.length + i),
    Array.from({ length: rawA.length }, (_, i) => i),
  ).pValue;
  if (perPassA.length < minPasses || perPassB.length < minPasses) return row;
  if (Math.abs(change.magnitude) < row.threshold || change.magnitude === 0) row.verdict = 'within-noise';
  else if (row.minPValue >= alpha) row.verdict = 'too-few-samples';
  else row.verdict = significantShift(test, change.magnitude, alpha) ? 'moved' : 'large-but-not-significant';
  return row;
}

/** Median (average of the middle two for an even count); NaN for no values. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((x, y) => x - y);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The identity of a series or figure within its unit: name, unit and labels (in any key order). */
export function seriesKey(item: Pick<Series, 'name' | 'unit' | 'labels'>): string {
  const labels = Object.entries(item.labels ?? {}).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
  return JSON.stringify([item.name, item.unit, labels]);
}

function resolveOptions(options: HistoryOptions): Required<HistoryOptions> {
  const settings = { ...DEFAULT_HISTORY_OPTIONS, ...definedOnly(options) };
  if (!(settings.minChange >= 0 && Number.isFinite(settings.minChange)))
    throw new InvalidInputError('minChange', 'a finite number >= 0', settings.minChange);
  if (!(settings.alpha > 0 && settings.alpha < 1))
    throw new InvalidInputError('alpha', 'a number between 0 and 1', settings.alpha);
  if (!Number.isInteger(settings.minRuns) || settings.minRuns < 1)
    throw new InvalidInputError('minRuns', 'an integer >= 1', settings.minRuns);
  if (!Number.isInteger(settings.window) || settings.window < 1)
    throw new InvalidInputError('window', 'an integer >= 1', settings.window);
  return settings;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as Partial<T>;
}

/** Items by seriesKey; the first of equal keys wins, as a scan with find() would. */
function byKey<T extends Series | Figure>(items: readonly T[]): Map<string, T> {
  const map = new Map<string, T>();
  for (const item of items) {
    const key = seriesKey(item);
    if (!map.has(key)) map.set(key, item);
  }
  return map;
}

function matchAll<E extends { run: RunMeta }, T extends Series | Figure>(
  window: readonly E[],
  pick: (entry: E) => ReadonlyMap<string, T>,
  wanted: T,
): Array<{ run: RunMeta; item: T }> {
  const key = seriesKey(wanted);
  const found: Array<{ run: RunMeta; item: T }> = [];
  for (const entry of window) {
    const item = pick(entry).get(key);
    if (item !== undefined) found.push({ run: entry.run, item });
  }
  return found;
}

function judge(
  unitId: string,
  kind: HistoryRow['kind'],
  item: Series | Figure,
  samples: readonly number[],
  earlier: ReadonlyArray<{ samples: readonly number[] }>,
  settings: Required<HistoryOptions>,
): HistoryRow {
  const direction = directionOf(item.unit);
  const current = median(samples);
  // `earlier` is newest first; the trend reads oldest to newest, ending with this run.
  const perRun = earlier.map((run) => median(run.samples));
  const pooled = earlier.flatMap((run) => run.samples);
  const { noise, threshold } = noiseGate(perRun, settings.minChange);
  const row: HistoryRow = {
    unitId,
    kind,
    name: item.name,
    unit: item.unit,
    labels: item.labels,
    direction,
    current,
    currentCount: samples.length,
    baseline: null,
    baselineRuns: earlier.length,
    baselineCount: pooled.length,
    delta: null,
    pValue: null,
    welchPValue: null,
    noise,
    threshold,
    trend: [...perRun].reverse().concat(current),
    verdict: 'not-enough-history',
  };
  if (earlier.length === 0) return row;
  const baseline = median(perRun);
  const change = changeOf(current, baseline);
  row.baseline = baseline;
  row.delta = change.delta;
  if (change.fromZero) row.fromZero = true;
  const test = kind === 'series' ? mannWhitneyU(samples, pooled) : undefined;
  if (test !== undefined) {
    row.pValue = test.pValue;
    row.welchPValue = samples.length >= 2 && pooled.length >= 2 ? welchTTest(samples, pooled).pValue : null;
  }
  if (earlier.length < settings.minRuns) return row;
  // Figures have one value per run: no test, so a large change can at most be "not significant".
  row.verdict = decide(direction, change.magnitude, threshold, test, settings.alpha);
  return row;
}

/** Signed magnitude for the decision (±Infinity from a zero baseline) and the JSON-safe delta. */
function changeOf(
  current: number,
  baseline: number,
): { magnitude: number; delta: number | null; fromZero: boolean } {
  const magnitude = relativeChange(current, baseline);
  const fromZero = !Number.isFinite(magnitude);
  return { magnitude, delta: fromZero ? null : magnitude, fromZero };
}

function decide(
  direction: Direction,
  change: number,
  threshold: number,
  test: { pValue: number; z: number } | undefined,
  alpha: number,
): Exclude<HistoryVerdict, 'not-enough-history'> {
  if (direction === 'neutral' || Math.abs(change) < threshold || change === 0) return 'unchanged';
  if (!significantShift(test, change, alpha)) return 'large-but-not-significant';
  const worse = direction === 'lower-is-better' ? change > 0 : change < 0;
  return worse ? 'regression' : 'improvement';
}

/** p < alpha, with the rank test agreeing with the medians on the direction of the shift. */
function significantShift(
  test: { pValue: number; z: number } | undefined,
  change: number,
  alpha: number,
): boolean {
  return test !== undefined && test.pValue < alpha && Math.sign(test.z) === Math.sign(change);
}

/**
 * The noise gate of one series from its per-run medians (see the module comment): `noise` is their
 * CV, `threshold` the |relative change| a flag needs, max(minChange, 2 x the one-sided 95% upper
 * confidence bound of that CV). Fewer than 2 runs, or a zero mean, leave the noise unknown (null)
 * and the threshold at minChange.
 */
export function noiseGate(
  perRunMedians: readonly number[],
  minChange: number = DEFAULT_HISTORY_OPTIONS.minChange,
): { noise: number | null; threshold: number } {
  const noise = coefficientOfVariation(perRunMedians);
  return { noise, threshold: Math.max(minChange, 2 * noiseUpperBound(noise, perRunMedians.length)) };
}

/** One-sided 95% upper confidence bound of a CV estimated from `runs` values (0 when unknown). */
function noiseUpperBound(noise: number | null, runs: number): number {
  if (noise === null || runs < 2) return 0;
  return noise * Math.sqrt((runs - 1) / chiSquareQuantile(0.05, runs - 1));
}

/** sd / |mean| of the values (n - 1 denominator); null for fewer than 2 values or a zero mean. */
function coefficientOfVariation(values: readonly number[]): number | null {
  if (values.length < 2) return null;
  const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
  if (mean === 0) return null;
  const variance = values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (values.length - 1);
  return Math.sqrt(variance) / Math.abs(mean);
}
