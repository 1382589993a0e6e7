/** Two-sample tests and relative change, used to flag regressions against history. */
import { InvalidInputError } from '../errors.ts';
import { normalTwoSidedP, studentTTwoSidedP } from './distributions.ts';

/** Result of a two-sided Mann-Whitney U (Wilcoxon rank-sum) test. */
export interface MannWhitneyResult {
  /** U of the first sample: pairs (x in a, y in b) with x > y, ties counting 1/2 (R's W). */
  u: number;
  /** Normal-approximation z with tie and continuity corrections; > 0 when a tends to be larger. */
  z: number;
  pValue: number;
  /** True when pValue comes from the exact U distribution rather than the normal approximation. */
  exact: boolean;
}

/** Result of a two-sided Welch (unequal variances) t-test. */
export interface WelchResult {
  /** (mean a - mean b) / standard error. */
  t: number;
  /** Welch-Satterthwaite degrees of freedom. */
  df: number;
  pValue: number;
}

/** Both samples below this size and no ties: exact p-value, as R's wilcox.test does by default. */
const EXACT_LIMIT = 50;

/**
 * Two-sided Mann-Whitney U test of a against b. Without ties and with both samples under 50
 * values the p-value is exact; otherwise it uses the normal approximation with tie and continuity
 * corrections, which is coarse for tiny samples (say under 8 each) with ties: treat it as a hint.
 * All values tied (no variation at all) gives z 0 and p 1.
 */
export function mannWhitneyU(a: readonly number[], b: readonly number[]): MannWhitneyResult {
  checkSample('a', a, 1);
  checkSample('b', b, 1);
  const n1 = a.length;
  const n2 = b.length;
  const n = n1 + n2;
  const pooled = [
    ...a.map((value) => ({ value, first: true })),
    ...b.map((value) => ({ value, first: false })),
  ];
  pooled.sort((x, y) => x.value - y.value);

  let rankSumA = 0;
  let tieTerm = 0;
  for (let start = 0; start < n; ) {
    let end = start;
    while (end + 1 < n && pooled[end + 1]!.value === pooled[start]!.value) end++;
    const tied = end - start + 1;
    const midRank = (start + end + 2) / 2;
    for (let i = start; i <= end; i++) if (pooled[i]!.first) rankSumA += midRank;
    tieTerm += tied ** 3 - tied;
    start = end + 1;
  }

  const u = rankSumA - (n1 * (n1 + 1)) / 2;
  const meanU = (n1 * n2) / 2;
  const varianceU = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  const diff = u - meanU;
  const z = varianceU > 0 ? (diff - Math.sign(diff) * 0.5) / Math.sqrt(varianceU) : 0;
  if (tieTerm === 0 && n1 < EXACT_LIMIT && n2 < EXACT_LIMIT) {
    return { u, z, pValue: exactTwoSidedP(u, n1, n2), exact: true };
  }
  return { u, z, pValue: varianceU > 0 ? normalTwoSidedP(z) : 1, exact: false };
}

/** Exact two-sided p of U without ties: 2 * the smaller tail, capped at 1. */
function exactTwoSidedP(u: number, n1: number, n2: number): number {
  const distribution = cachedUDistribution(n1, n2);
  let lower = 0;
  let upper = 0;
  for (let k = 0; k < distribution.length; k++) {
    if (k <= u) lower += distribution[k]!;
    if (k >= u) upper += distribution[k]!;
  }
  return Math.min(1, 2 * Math.min(lower, upper));
}

// The distribution depends only on the sample sizes, and its cost grows with (n1 * n2)^2: a site
// judging every series of 52 runs asks for the same few sizes thousands of times.
const U_CACHE = new Map<string, Float64Array>();
const U_CACHE_LIMIT = 256;

function cachedUDistribution(n1: number, n2: number): Float64Array {
  const key = `${n1},${n2}`;
  let distribution = U_CACHE.get(key);
  if (distribution === undefined) {
    distribution = uDistribution(n1, n2);
    if (U_CACHE.size >= U_CACHE_LIMIT) U_CACHE.delete(U_CACHE.keys().next().value!);
    U_CACHE.set(key, distribution);
  }
  return distribution;
}

/**
 * P(U = k) for k = 0..n1*n2 under H0, from p(k; i, j) = i/(i+j) p(k-j; i-1, j) + j/(i+j) p(k; i, j-1)
 * (the largest value comes from the first sample or not). Probabilities, not counts, so that
 * binomial(98, 49) does not overflow precision.
 */
function uDistribution(n1: number, n2: number): Float64Array {
  const size = n1 * n2 + 1;
  // previous[j] holds the distribution for (i - 1, j); current[j] for (i, j).
  let previous: Float64Array[] = [];
  for (let j = 0; j <= n2; j++) {
    const row = new Float64Array(size);
    row[0] = 1;
    previous.push(row);
  }
  for (let i = 1; i <= n1; i++) {
    const current: Float64Array[] = [];
    const first = new Float64Array(size);
    first[0] = 1;
    current.push(first);
    for (let j = 1; j <= n2; j++) {
      const row = new Float64Array(size);
      const fromA = previous[j]!;
      const fromB = current[j - 1]!;
      const weightA = i / (i + j);
      const weightB = j / (i + j);
      const maxK = i * j;
      for (let k = 0; k <= maxK; k++) {
        row[k] = weightB * fromB[k]! + (k >= j ? weightA * fromA[k - j]! : 0);
      }
      current.push(row);
    }
    previous = current;
  }
  return previous[n2]!;
}

/**
 * Two-sided Welch t-test of mean(a) = mean(b); each sample needs at least 2 values. When both
 * samples are constant the test is degenerate: equal constants give t 0 and p 1, different ones
 * t ±Infinity and p 0 (df is then n1 + n2 - 2).
 */
export function welchTTest(a: readonly number[], b: readonly number[]): WelchResult {
  checkSample('a', a, 2);
  checkSample('b', b, 2);
  const { mean: meanA, variance: varA } = meanAndVariance(a);
  const { mean: meanB, variance: varB } = meanAndVariance(b);
  const seA = varA / a.length;
  const seB = varB / b.length;
  const se2 = seA + seB;
  const diff = meanA - meanB;
  if (se2 === 0) {
    const df = a.length + b.length - 2;
    if (diff === 0) return { t: 0, df, pValue: 1 };
    return { t: diff > 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY, df, pValue: 0 };
  }
  const t = diff / Math.sqrt(se2);
  const df = (se2 * se2) / ((seA * seA) / (a.length - 1) + (seB * seB) / (b.length - 1));
  return { t, df, pValue: studentTTwoSidedP(t, df) };
}

function meanAndVariance(values: readonly number[]): { mean: number; variance: number } {
  const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
  const squares = values.reduce((sum, value) => sum + (value - mean) ** 2, 0);
  return { mean, variance: squares / (values.length - 1) };
}

/**
 * (current - baseline) / |baseline|: +0.1 means 10% higher than the baseline, whatever the sign
 * of the baseline. Equal values give 0 (also when both are 0); any other value against a 0
 * baseline gives +Infinity or -Infinity, which callers must render as "new" rather than a percent.
 */
export function relativeChange(current: number, baseline: number): number {
  if (!Number.isFinite(current)) throw new InvalidInputError('current', 'a finite number', current);
  if (!Number.isFinite(baseline)) throw new InvalidInputError('baseline', 'a finite number', baseline);
  if (current === baseline) return 0;
  if (baseline === 0) return current > 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  return (current - baseline) / Math.abs(baseline);
}

function checkSample(name: string, values: readonly number[], minimum: number): void {
  if (values.length < minimum) {
    throw new InvalidInputError(name, `at least ${minimum} value${minimum > 1 ? 's' : ''}`, values.length);
  }
  values.forEach((value, index) => {
    if (!Number.isFinite(value)) throw new InvalidInputError(`${name}[${index}]`, 'a finite number', value);
  });
}
