/**
 * Compare a run with earlier runs of the same configuration: one row per series (and figure) of
 * the current run, with its baseline, relative change, significance and run-to-run noise, and a
 * verdict. Pure: the baselines are passed in (see loadBaselines), the result is plain JSON data.
 *
 * Statistics, and why (the rule was tuned on real runs of a loaded machine: bench/detector.ts):
 * - Baseline median = the median of the per-run medians over the window, not the median of the
 *   pooled samples. Each earlier run weighs the same however many samples it took, and one
 *   disturbed run in the window cannot drag it.
 * - The run is the unit of replication. On a shared machine a whole run drifts (load, thermal,
 *   neighbours): replayed on this machine's recorded runs, the median latency of one run moved
 *   14-90% (sd of log per-run medians) from run to run while nothing changed, far more than the
 *   sampling error within a run. A test of the samples (Mann-Whitney on the pooled window, the
 *   former rule) asks whether this run's samples differ from the window's, which they always do
 *   under drift; it flagged 1-3% of unchanged latency rows. So the decision is a prediction test
 *   of the current run's median among the per-run medians: on the log scale (times, sizes and
 *   rates are positive and drift multiplicatively), t = (ln current - mean ln m_i) /
 *   (sd ln m_i x sqrt(1 + 1/k)) for k earlier runs, against Student t with k - 1 degrees of freedom:
 *   the exact p-value for "the current run is one more draw of the same between-run distribution"
 *   under log-normal drift; with few runs the t quantile is large (9.9 at k = 3 for p = 0.01), so
 *   little history is judged cautiously instead of gated by hand. One sample per run (a cost, a
 *   throughput figure) works the same way, where a rank test could never reach significance.
 * - A row is flagged when that two-sided p < alpha (0.004) and |delta| >= minChange (10%): the
 *   change is both beyond the series' own drift and large enough to matter.
 * - Each row is tested at alpha on its own: the false-positive rate per row is what the goal
 *   bounds (<= 1%). With ~40 judged rows a run, about one unchanged run in five or six shows a
 *   false flag somewhere; bench/detector.ts prints that figure. A family-wise correction (Holm)
 *   would cut it at the price of the power that is already low on drifting series.
 * - Judging relative to the machine (options.adjust) is measured, not adopted: on 17 quick runs
 *   recorded with per-unit references (bench/fixtures/detector-reference.json, load 10-32), dividing
 *   by or regressing on a CPU-loop or thread-ping reference, the load average or the run queue left
 *   the power at a 20% slowdown for series with CV < 0.3 at 32-33% (raw 32.2%), and the ratio rules
 *   raised false positives (ping: latency 1.09%). Even removing all drift a unit's series share
 *   would leave a latency sd of ln median of 0.28 against the 0.031 a 90% power needs. Default null.
 * - The Mann-Whitney p of the samples is still reported (rankPValue) as a within-run hint.
 * - Noise = CV of the per-run medians, for the report.
 */
import type { Figure, Labels, MeasureUnit, RunMeta, RunResults, Series, UnitResult } from '../bench/model.ts';
import { InvalidInputError } from '../errors.ts';
import { mannWhitneyU, relativeChange, welchTTest } from '../stats/compare.ts';
import { chiSquareQuantile, studentTTwoSidedP } from '../stats/distributions.ts';

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
  /**
   * Significance level: of the between-run prediction test in compareWithHistory (@default
   * HISTORY_ALPHA, 0.004), of the Mann-Whitney test in compareRuns (@default 0.01).
   */
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
  /**
   * Judge the medians relative to a reference measured beside each unit (UnitResult.contention
   * .reference, lib/bench/reference.ts) instead of as they are; null: as they are. Only the
   * decision changes: current, baseline and delta stay the raw figures. @default null
   */
  adjust?: ReferenceAdjustment | null;
}

/**
 * What a unit result can be judged against (UnitResult.contention): its reference tasks, a fixed
 * CPU loop ('cpu') and a thread ping-pong ('ping'), or the contention the probe read from /proc,
 * the highest 1-minute load average ('load') and run queue ('queue') seen during the unit.
 */
export type ReferenceName = 'cpu' | 'ping' | 'load' | 'queue';

/** How compareWithHistory relates a series to its unit's reference (see referenceExponent). */
export interface ReferenceAdjustment {
  reference: ReferenceName;
  /** Summary of the reference's timings over the unit. */
  statistic: 'median' | 'mean';
  /**
   * 'unit': the medians are divided by reference^e with e fixed by the unit (referenceExponent:
   * times and costs 1, throughputs -1, sizes, memory and CPU share 0); 'fit': ln median is regressed
   * on ln reference over the window and the current run is tested against the line's prediction.
   */
  slope: 'unit' | 'fit';
}

/**
 * Significance level compareWithHistory uses unless given one: two-sided, so about 0.2% of
 * unchanged rows per direction. bench/detector.ts (300 simulated unchanged runs, window 8, on the
 * 19 recorded runs of bench/fixtures/detector-noise.json) measured the worst kind (cost: one value per run) at 1.19%
 * of rows flagged at 0.005 and 0.59% at 0.004, every other kind at or below 0.49%; the power at a
 * 20% slowdown moved by less than 0.6 points between the two.
 */
export const HISTORY_ALPHA = 0.004;

export const DEFAULT_HISTORY_OPTIONS: Readonly<Required<HistoryOptions>> = Object.freeze({
  minChange: 0.1,
  alpha: 0.01,
  minRuns: 3,
  window: 8,
  adjust: null,
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
  /**
   * Two-sided p of the between-run prediction test (the deciding one): the current median against
   * the per-run medians of the window, on the log scale; null below 2 earlier runs.
   */
  pValue: number | null;
  /** Two-sided Mann-Whitney U p-value, current samples vs pooled window samples (series; a hint). */
  rankPValue: number | null;
  /** Two-sided Welch t-test p-value of the same samples (secondary). */
  welchPValue: number | null;
  /** Coefficient of variation of the per-run medians over the window. */
  noise: number | null;
  /** The |delta| a flag needs besides p < alpha: minChange. */
  threshold: number;
  /** Per-run medians oldest to newest, then the current value (for a sparkline). */
  trend: number[];
  verdict: HistoryVerdict;
  /**
   * Set when the decision was taken relative to the reference (options.adjust, every run of the row
   * having one): `delta` the change after adjustment (the one gated by minChange), `rawPValue` the
   * prediction test of the raw medians, `slope` the exponent applied or fitted.
   */
  adjusted?: { reference: ReferenceName; slope: number; delta: number; rawPValue: number | null };
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
  adjust: ReferenceAdjustment | null;
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

/**
 * How a quantity scales with the machine's slowness when the adjustment's slope is 'unit': times
 * and what is priced by time take longer (1), rates fall (-1), sizes, memory, CPU share, prices per
 * hour and counts do not move with it (0).
 */
export function referenceExponent(unit: MeasureUnit): number {
  if (unit === 'ms' || unit === 'us' || unit === 's' || unit === 'usd') return 1;
  if (HIGHER_IS_BETTER.has(unit)) return -1;
  return 0;
}

/** The reference a unit result carries for an adjustment (ms), or undefined without a positive one. */
export function referenceOf(result: UnitResult, adjust: ReferenceAdjustment): number | undefined {
  const contention = result.contention;
  const value =
    adjust.reference === 'load'
      ? contention?.loadAvgMax
      : adjust.reference === 'queue'
        ? contention?.runQueueMax
        : contention?.reference?.[adjust.reference === 'cpu' ? 'cpuMs' : 'pingMs']?.[adjust.statistic];
  return value !== undefined && value > 0 && Number.isFinite(value) ? value : undefined;
}

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
  const settings = resolveOptions({ alpha: HISTORY_ALPHA, ...definedOnly(options) });
  const rows: HistoryRow[] = [];
  const used = new Map<string, string>();
  for (const result of current.results) {
    if (result.status === 'failed') continue;
    const window = (baselines.get(result.unitId) ?? [])
      .filter((entry) => entry.run.runId !== current.meta.runId)
      .slice(0, settings.window);
    // Keyed once per earlier result: matching by key is then a lookup, not a scan per series.
    const adjust = settings.adjust;
    const indexed = window.map((entry) => ({
      run: entry.run,
      series: byKey(entry.result.series),
      figures: byKey(entry.result.figures),
      reference: adjust === null ? undefined : referenceOf(entry.result, adjust),
    }));
    const currentReference = adjust === null ? undefined : referenceOf(result, adjust);
    const references = (item: Series | Figure, earlier: ReadonlyArray<{ reference: number | undefined }>) =>
      adjustmentFor(adjust, item.unit, currentReference, earlier);
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
          references(series, earlier),
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
          references(figure, earlier),
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
  const adjust = settings.adjust;
  if (
    adjust !== null &&
    !(
      ['cpu', 'ping', 'load', 'queue'].includes(adjust.reference) &&
      (adjust.statistic === 'median' || adjust.statistic === 'mean') &&
      (adjust.slope === 'unit' || adjust.slope === 'fit')
    )
  ) {
    throw new InvalidInputError(
      'adjust',
      "null or { reference: 'cpu' | 'ping' | 'load' | 'queue', statistic: 'median' | 'mean', slope: 'unit' | 'fit' }",
      JSON.stringify(adjust),
    );
  }
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

function matchAll<E extends { run: RunMeta; reference: number | undefined }, T extends Series | Figure>(
  window: readonly E[],
  pick: (entry: E) => ReadonlyMap<string, T>,
  wanted: T,
): Array<{ run: RunMeta; item: T; reference: number | undefined }> {
  const key = seriesKey(wanted);
  const found: Array<{ run: RunMeta; item: T; reference: number | undefined }> = [];
  for (const entry of window) {
    const item = pick(entry).get(key);
    if (item !== undefined) found.push({ run: entry.run, item, reference: entry.reference });
  }
  return found;
}

/** The references of one row's runs, current first; undefined when the row is judged raw. */
interface RowAdjustment {
  reference: ReferenceName;
  /** A fixed exponent, or 'fit'. */
  slope: number | 'fit';
  current: number;
  earlier: readonly number[];
}

function adjustmentFor(
  adjust: ReferenceAdjustment | null,
  unit: MeasureUnit,
  current: number | undefined,
  earlier: ReadonlyArray<{ reference: number | undefined }>,
): RowAdjustment | undefined {
  if (adjust === null || current === undefined || directionOf(unit) === 'neutral') return undefined;
  // Quantities that do not move with the machine (exponent 0) stay raw in both modes.
  const exponent = referenceExponent(unit);
  if (exponent === 0) return undefined;
  const slope = adjust.slope === 'fit' ? 'fit' : exponent;
  const references = earlier.map((entry) => entry.reference);
  if (references.some((value) => value === undefined)) return undefined;
  return { reference: adjust.reference, slope, current, earlier: references as number[] };
}

function judge(
  unitId: string,
  kind: HistoryRow['kind'],
  item: Series | Figure,
  samples: readonly number[],
  earlier: ReadonlyArray<{ samples: readonly number[] }>,
  settings: Required<HistoryOptions>,
  adjustment?: RowAdjustment,
): HistoryRow {
  const direction = directionOf(item.unit);
  const current = median(samples);
  // `earlier` is newest first; the trend reads oldest to newest, ending with this run.
  const perRun = earlier.map((run) => median(run.samples));
  const pooled = earlier.flatMap((run) => run.samples);
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
    rankPValue: null,
    welchPValue: null,
    noise: coefficientOfVariation(perRun),
    threshold: settings.minChange,
    trend: [...perRun].reverse().concat(current),
    verdict: 'not-enough-history',
  };
  if (earlier.length === 0) return row;
  const baseline = median(perRun);
  const change = changeOf(current, baseline);
  row.baseline = baseline;
  row.delta = change.delta;
  if (change.fromZero) row.fromZero = true;
  if (kind === 'series') {
    row.rankPValue = mannWhitneyU(samples, pooled).pValue;
    row.welchPValue = samples.length >= 2 && pooled.length >= 2 ? welchTTest(samples, pooled).pValue : null;
  }
  const withinRuns = earlier.map((run) => run.samples);
  const raw = predictionTest(current, perRun, withinRuns);
  const adjusted = adjustment === undefined ? null : adjustedTest(current, perRun, withinRuns, adjustment);
  const test = adjusted ?? raw;
  if (test !== null) row.pValue = test.pValue;
  if (adjusted !== null && adjustment !== undefined) {
    row.adjusted = {
      reference: adjustment.reference,
      slope: adjusted.slope,
      delta: adjusted.delta,
      rawPValue: raw?.pValue ?? null,
    };
  }
  if (earlier.length < settings.minRuns) return row;
  const magnitude = adjusted === null ? change.magnitude : adjusted.delta;
  row.verdict = decide(direction, magnitude, settings.minChange, test ?? undefined, settings.alpha);
  return row;
}

/**
 * Two-sided prediction test of `current` as one more draw of the distribution the per-run values
 * came from: t = (x - mean) / (sd sqrt(1 + 1/k)) with k - 1 degrees of freedom, on the log scale
 * when every value is positive (drift is multiplicative), else on the values. `z` carries the
 * sign of the shift (> 0: current is larger). Null below 2 runs. Runs that agree exactly (sd 0)
 * give p 1 for the same value and p 0 for any other.
 */
export function predictionTest(
  current: number,
  perRun: readonly number[],
  withinRuns: ReadonlyArray<readonly number[]> = [],
): { pValue: number; z: number } | null {
  const k = perRun.length;
  if (k < 2 || !Number.isFinite(current)) return null;
  const positive = current > 0 && perRun.every((value) => value > 0);
  const scale = positive ? Math.log : (value: number) => value;
  const values = perRun.map(scale);
  const x = scale(current);
  const mean = values.reduce((sum, value) => sum + value, 0) / k;
  const between = Math.sqrt(values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (k - 1));
  const sd = Math.max(between, medianStandardError(withinRuns, scale));
  const diff = x - mean;
  if (sd === 0 || sd < 1e-12 * Math.abs(mean)) {
    return diff === 0 ? { pValue: 1, z: 0 } : { pValue: 0, z: Math.sign(diff) * Number.POSITIVE_INFINITY };
  }
  const t = diff / (sd * Math.sqrt(1 + 1 / k));
  return { pValue: studentTTwoSidedP(t, k - 1), z: t };
}

/**
 * The prediction test of a row relative to its runs' references: with a fixed exponent e, of
 * median / reference^e among the per-run ratios (predictionTest); with 'fit', of ln median against
 * the least-squares line of ln median on ln reference over the window (k - 2 degrees of freedom,
 * the prediction's standard error widened for a reference far from the window's). `delta` is the
 * relative change after adjustment. Null where the adjustment does not apply (a value <= 0, too
 * few runs for a fit, references that do not vary): the row is then judged raw.
 */
export function adjustedTest(
  current: number,
  perRun: readonly number[],
  withinRuns: ReadonlyArray<readonly number[]>,
  adjustment: Pick<RowAdjustment, 'slope' | 'current' | 'earlier'>,
): { pValue: number; z: number; delta: number; slope: number } | null {
  const { slope } = adjustment;
  if (!(current > 0) || perRun.some((value) => !(value > 0))) return null;
  if (slope !== 'fit') {
    const factor = (reference: number) => reference ** slope;
    const ratios = perRun.map((value, i) => value / factor(adjustment.earlier[i]!));
    const ratio = current / factor(adjustment.current);
    const test = predictionTest(
      ratio,
      ratios,
      withinRuns.map((samples, i) => samples.map((v) => v / factor(adjustment.earlier[i]!))),
    );
    return test === null ? null : { ...test, delta: ratio / median(ratios) - 1, slope };
  }
  const k = perRun.length;
  if (k < 3) return null;
  const x = adjustment.earlier.map(Math.log);
  const y = perRun.map(Math.log);
  const xMean = x.reduce((sum, value) => sum + value, 0) / k;
  const yMean = y.reduce((sum, value) => sum + value, 0) / k;
  const sxx = x.reduce((sum, value) => sum + (value - xMean) ** 2, 0);
  if (!(sxx > 1e-12)) return null;
  const b = x.reduce((sum, value, i) => sum + (value - xMean) * (y[i]! - yMean), 0) / sxx;
  const residual = Math.sqrt(
    y.reduce((sum, value, i) => sum + (value - yMean - b * (x[i]! - xMean)) ** 2, 0) / (k - 2),
  );
  const x0 = Math.log(adjustment.current);
  const predicted = yMean + b * (x0 - xMean);
  const sd = Math.max(residual, medianStandardError(withinRuns, Math.log));
  const diff = Math.log(current) - predicted;
  const delta = Math.exp(diff) - 1;
  if (sd < 1e-12) {
    // The runs lie on the line exactly: the current run is on it or it is not.
    const on = Math.abs(diff) < 1e-12;
    return { pValue: on ? 1 : 0, z: on ? 0 : Math.sign(diff) * Number.POSITIVE_INFINITY, delta, slope: b };
  }
  const t = diff / (sd * Math.sqrt(1 + 1 / k + (x0 - xMean) ** 2 / sxx));
  return { pValue: studentTTwoSidedP(t, k - 2), z: t, delta, slope: b };
}

/**
 * The sampling error of one run's median, as a floor under the between-run sd: per-run medians
 * that agree by chance (or a window of 2-3 runs) must not make the series look noiseless when its
 * samples spread widely. 1.2533 x sd / sqrt(n) (the median's standard error for normal data),
 * with sd and n the medians over the runs (on the test's scale); 0 without 2 samples in a run.
 */
function medianStandardError(
  runs: ReadonlyArray<readonly number[]>,
  scale: (value: number) => number,
): number {
  const errors = runs
    .filter((samples) => samples.length >= 2)
    .map((samples) => {
      const values = samples.map(scale);
      const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
      const sd = Math.sqrt(values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (values.length - 1));
      return (1.2533 * sd) / Math.sqrt(values.length);
    })
    .filter((value) => Number.isFinite(value));
  return errors.length === 0 ? 0 : median(errors);
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
