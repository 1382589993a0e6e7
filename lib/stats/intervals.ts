/**
 * Confidence intervals that respect what is measured: distribution-free order-statistic intervals
 * for quantiles (the median, p95, p99), a seeded percentile bootstrap for anything computed from
 * one or more samples (means, ratios of medians, fitted exponents), and the estimate of how many
 * samples an undecided comparison would likely need.
 *
 * Why these and not Student-t on the mean: latencies, sizes and costs are skewed and non-negative;
 * a t interval of a mean of 5 skewed latencies reaches below 0 ([-17.29, 719.2] ms was printed).
 * An order-statistic interval is bounded by observed values, and a percentile bootstrap by values
 * the statistic took on resamples of observed values, so neither leaves the support of the data
 * (a non-negative quantity never gets a negative bound), and neither exists from one sample.
 */
import { InvalidInputError } from '../errors.ts';
import { normalQuantile, regularizedIncompleteBeta } from './distributions.ts';

/** How an interval was obtained. */
export type IntervalMethod =
  /** Distribution-free: two order statistics of the sample, ranks from Binomial(n, p). */
  | 'order-statistic'
  /** Seeded percentile bootstrap (resampling each sample with replacement). */
  | 'bootstrap'
  /** No sampling error: the quantity is computed, not measured (e.g. a list price x a count). */
  | 'exact';

/**
 * A two-sided confidence interval. A bound is null when the sample is too small to give it at this
 * confidence (the upper bound of a p95 needs n >= 72 at 95%); both are null below 2 samples.
 */
export interface ConfidenceInterval {
  low: number | null;
  high: number | null;
  /** Nominal two-sided confidence, e.g. 0.95. */
  confidence: number;
  method: IntervalMethod;
  /** Samples behind it (the smallest group, for several samples). */
  n: number;
  /** Exact coverage of [low, high] for continuous data (order-statistic intervals with both bounds). */
  coverage?: number;
  /** Smallest n that gives both bounds (order-statistic intervals), to say "n too small" with a number. */
  minCount?: number;
}

/** Default coverage of every interval in the report. */
export const CONFIDENCE = 0.95;

/** P(B <= k) for B ~ Binomial(n, p), exact (regularized incomplete beta). */
export function binomialCdf(k: number, n: number, p: number): number {
  if (k < 0) return 0;
  if (k >= n) return 1;
  if (p <= 0) return 1;
  if (p >= 1) return 0;
  return regularizedIncompleteBeta(1 - p, n - k, k + 1);
}

/**
 * Ranks (1-based) of the equal-tailed distribution-free interval [X(r), X(s)] for the p-quantile
 * of n samples: r the largest rank with P(B <= r - 1) <= (1 - confidence) / 2, s the smallest with
 * P(B <= s - 1) >= (1 + confidence) / 2, B ~ Binomial(n, p). P(X(r) <= q_p) = P(B >= r) for any
 * continuous distribution, so each side misses with probability at most (1 - confidence) / 2
 * whatever the distribution; with ties (discrete data) the closed interval only covers more.
 * A rank outside 1..n is null: no order statistic reaches that far.
 */
export function quantileRanks(
  n: number,
  p: number,
  confidence = CONFIDENCE,
): { lowRank: number | null; highRank: number | null; coverage: number | null } {
  checkCount(n);
  checkProbability(p);
  checkConfidence(confidence);
  const tail = (1 - confidence) / 2;
  let lowRank: number | null = null;
  for (let r = 1; r <= n && binomialCdf(r - 1, n, p) <= tail; r++) lowRank = r;
  let highRank: number | null = null;
  for (let s = Math.max(1, lowRank ?? 1); s <= n; s++) {
    if (binomialCdf(s - 1, n, p) >= 1 - tail) {
      highRank = s;
      break;
    }
  }
  const coverage =
    lowRank !== null && highRank !== null
      ? binomialCdf(highRank - 1, n, p) - binomialCdf(lowRank - 1, n, p)
      : null;
  return { lowRank, highRank, coverage };
}

/** Smallest n whose equal-tailed order-statistic interval for the p-quantile has both bounds. */
export function minCountForQuantileInterval(p: number, confidence = CONFIDENCE): number {
  checkProbability(p);
  checkConfidence(confidence);
  const tail = (1 - confidence) / 2;
  // Both extremes must qualify: (1 - p)^n <= tail for X(1) and p^n <= tail for X(n).
  return Math.max(
    2,
    Math.ceil(Math.log(tail) / Math.log(1 - p) - 1e-9),
    Math.ceil(Math.log(tail) / Math.log(p) - 1e-9),
  );
}

/**
 * Distribution-free confidence interval of the p-quantile (p = 0.5: the median; 0.95: p95) from
 * raw samples: two observed values, so never outside the data's range. Below 2 samples, or where
 * n is too small for a bound at this confidence, that bound is null.
 */
export function quantileInterval(
  samples: readonly number[],
  p: number,
  confidence = CONFIDENCE,
): ConfidenceInterval {
  checkSamples('samples', samples);
  const n = samples.length;
  const interval: ConfidenceInterval = {
    low: null,
    high: null,
    confidence,
    method: 'order-statistic',
    n,
    minCount: minCountForQuantileInterval(p, confidence),
  };
  if (n < 2) return interval;
  const sorted = [...samples].sort((x, y) => x - y);
  const { lowRank, highRank, coverage } = quantileRanks(n, p, confidence);
  if (lowRank !== null) interval.low = sorted[lowRank - 1]!;
  if (highRank !== null) interval.high = sorted[highRank - 1]!;
  if (coverage !== null) interval.coverage = coverage;
  return interval;
}

/** Seeded uniform [0, 1) generator (mulberry32): the same stream on every machine. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Options of a bootstrap interval. */
export interface BootstrapOptions {
  /** Resamples drawn. @default 2000 */
  resamples?: number;
  /** Seed of the resampling stream: the same data always give the same interval. @default 1 */
  seed?: number;
  /** @default 0.95 */
  confidence?: number;
}

/**
 * Percentile bootstrap interval of `statistic` computed from several independent samples (each is
 * resampled with replacement, keeping its size): the (1 -/+ confidence) / 2 quantiles of the
 * statistic over the resamples. Seeded, so a report is reproducible. Every group needs at least 2
 * samples (one value resampled is always itself: a zero-width interval that means nothing);
 * otherwise both bounds are null. Resamples where the statistic is not finite are dropped; if more
 * than 1% are, no interval is given. Percentile intervals undercover at small n (about 90% for a
 * median of 10); the tests measure it.
 */
export function bootstrapInterval(
  groups: readonly (readonly number[])[],
  statistic: (groups: readonly (readonly number[])[]) => number,
  options: BootstrapOptions = {},
): ConfidenceInterval {
  const { resamples = 2000, seed = 1, confidence = CONFIDENCE } = options;
  checkConfidence(confidence);
  if (!Number.isInteger(resamples) || resamples < 100)
    throw new InvalidInputError('resamples', 'an integer >= 100', resamples);
  groups.forEach((group, index) => {
    checkSamples(`groups[${index}]`, group);
  });
  const n = groups.length === 0 ? 0 : Math.min(...groups.map((group) => group.length));
  const interval: ConfidenceInterval = { low: null, high: null, confidence, method: 'bootstrap', n };
  if (n < 2) return interval;
  const next = seededRandom(seed);
  const values: number[] = [];
  const drawn = groups.map((group) => new Array<number>(group.length));
  for (let b = 0; b < resamples; b++) {
    groups.forEach((group, g) => {
      const target = drawn[g]!;
      for (let i = 0; i < group.length; i++) target[i] = group[Math.floor(next() * group.length)]!;
    });
    const value = statistic(drawn);
    if (Number.isFinite(value)) values.push(value);
  }
  if (values.length < resamples * 0.99) return interval;
  values.sort((x, y) => x - y);
  const tail = (1 - confidence) / 2;
  interval.low = typeSevenQuantile(values, tail);
  interval.high = typeSevenQuantile(values, 1 - tail);
  return interval;
}

/** Percentile bootstrap interval of the mean of one sample (within the sample's range by construction). */
export function meanInterval(samples: readonly number[], options: BootstrapOptions = {}): ConfidenceInterval {
  return bootstrapInterval([samples], ([group]) => arithmeticMean(group!), options);
}

/** What a comparison of an interval with a threshold shows. */
export type IntervalVerdict = 'pass' | 'fail' | 'inconclusive';

/**
 * Three-way verdict of "statistic op threshold" from the statistic's interval: pass when the whole
 * interval meets it, fail when the whole interval misses it, inconclusive otherwise (also when the
 * bound that would decide is missing). A missing bound never passes: without an upper bound of a
 * p95, "p95 < 5 s" cannot be shown, only refuted by the lower bound.
 */
export function intervalVerdict(
  interval: Pick<ConfidenceInterval, 'low' | 'high'>,
  op: '<' | '<=' | '>' | '>=',
  threshold: number,
): IntervalVerdict {
  const { low, high } = interval;
  const meets = (value: number) =>
    op === '<'
      ? value < threshold
      : op === '<='
        ? value <= threshold
        : op === '>'
          ? value > threshold
          : value >= threshold;
  const upperSide = op === '<' || op === '<=';
  // For "<": pass needs high to meet, fail needs low to miss. For ">": the other way round.
  const passBound = upperSide ? high : low;
  const failBound = upperSide ? low : high;
  if (passBound !== null && meets(passBound)) return 'pass';
  if (failBound !== null && !meets(failBound)) return 'fail';
  return 'inconclusive';
}

/** Power the estimate of more samples aims at: the chance the larger sample decides. */
const DECIDE_POWER = 0.8;
/** Projections beyond this many samples are reported as "more than" it. */
export const MAX_PROJECTED_SAMPLES = 100_000;

/**
 * How many samples in all would likely (80%) decide an inconclusive comparison, assuming the point
 * estimate stays where it is and the interval narrows as 1/sqrt(n), as every interval here does
 * for large n. With the half-width h on the threshold's side at n samples and the distance d from
 * the estimate to the threshold, the sampling sd of the estimate is about h sqrt(n) / z, and the
 * interval at N excludes the threshold with probability 80% when d = (z + z_0.8) x sd / sqrt(N):
 * N = n (h / d)^2 ((z + z_0.8) / z)^2. When the bound on the threshold's side does not exist yet,
 * the other side's half-width stands in for it and N is at least the interval's minCount.
 * Null when the estimate sits on the threshold (no sample size decides it) or nothing is known of
 * the spread (no bound at all).
 */
export function samplesToDecide(
  estimate: number,
  interval: ConfidenceInterval,
  threshold: number,
): number | null {
  const d = Math.abs(estimate - threshold);
  if (!(d > 0) || !Number.isFinite(estimate)) return null;
  const side = threshold >= estimate ? interval.high : interval.low;
  const other = threshold >= estimate ? interval.low : interval.high;
  const halfWidth =
    side !== null ? Math.abs(side - estimate) : other !== null ? Math.abs(estimate - other) : null;
  const floor = Math.max(interval.n + 1, side === null ? (interval.minCount ?? interval.n + 1) : 0);
  if (halfWidth === null || halfWidth === 0 || interval.n < 2) return side === null ? floor : null;
  const z = normalQuantile(1 - (1 - interval.confidence) / 2);
  const zPower = normalQuantile(DECIDE_POWER);
  const needed = Math.ceil(interval.n * (halfWidth / d) ** 2 * ((z + zPower) / z) ** 2);
  return Math.min(MAX_PROJECTED_SAMPLES, Math.max(floor, needed));
}

/** Linear interpolation between order statistics (R type 7) of sorted values. */
function typeSevenQuantile(sorted: readonly number[], p: number): number {
  const position = (sorted.length - 1) * p;
  const below = Math.floor(position);
  const above = Math.min(sorted.length - 1, below + 1);
  return sorted[below]! + (sorted[above]! - sorted[below]!) * (position - below);
}

function arithmeticMean(values: readonly number[]): number {
  let sum = 0;
  for (const value of values) sum += value;
  return sum / values.length;
}

function checkSamples(name: string, values: readonly number[]): void {
  values.forEach((value, index) => {
    if (!Number.isFinite(value)) throw new InvalidInputError(`${name}[${index}]`, 'a finite number', value);
  });
}

function checkCount(n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new InvalidInputError('n', 'an integer >= 0', n);
}

function checkProbability(p: number): void {
  if (!(p > 0 && p < 1)) throw new InvalidInputError('p', 'a probability strictly between 0 and 1', p);
}

function checkConfidence(confidence: number): void {
  if (!(confidence > 0 && confidence < 1))
    throw new InvalidInputError('confidence', 'a number strictly between 0 and 1', confidence);
}
