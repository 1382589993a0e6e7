/**
 * Two conditions measured side by side in the same rounds (pooling off and on, back to back in each
 * round): the ratio of the two per round, which cancels whatever the machine does from one round to
 * the next, its geometric mean with a confidence interval, and a sign test across many such
 * comparisons.
 */
import { mean, median, sampleStandardDeviation } from 'simple-statistics';
import { InvalidInputError } from '../errors.ts';
import { regularizedIncompleteBeta, studentTQuantile, studentTTwoSidedP } from './distributions.ts';

export type PairedVerdict =
  /** The interval excludes 1 and the ratio is at least minChange away from 1. */
  | 'moved'
  /** The interval lies within (1 - minChange, 1 + minChange): a change of minChange is ruled out. */
  | 'unchanged'
  /** Neither: no move of minChange shown, none ruled out (too few or too noisy rounds). */
  | 'inconclusive'
  /** Fewer than minRounds rounds with samples of both conditions. */
  | 'too-few-rounds'
  /** A round's median is 0 or negative (and not 0 on both sides): no ratio to take the log of. */
  | 'not-positive';

export interface PairedOptions {
  /** Smallest relative change worth flagging. @default 0.10 (as the history comparison) */
  minChange?: number;
  /** Rounds with samples of both conditions a verdict needs. @default 3 */
  minRounds?: number;
  /** Coverage of the interval. @default 0.95 */
  confidence?: number;
}

/** Raw samples per round: `rounds[r]` holds round r's samples (possibly none). */
export type PerRound = readonly (readonly number[])[];

export interface PairedComparison {
  verdict: PairedVerdict;
  /** median(b round r) / median(a round r) per round; null where a side has no samples or the ratio is undefined. */
  ratios: (number | null)[];
  /** Rounds with a ratio. */
  rounds: number;
  /** Geometric mean of the ratios: exp(mean log-ratio); null without any. */
  ratio: number | null;
  /** Mean of the log-ratios (the value a sign test across series takes); null without any. */
  meanLogRatio: number | null;
  /** Student t interval of the geometric mean, exp(mean ± t(df = rounds - 1) x sd / sqrt(rounds)); null below 2 rounds. */
  ci: [number, number] | null;
  /** Two-sided paired t-test p of the log-ratios against 0; null below 2 rounds. */
  pValue: number | null;
}

/**
 * Judge condition B against condition A from per-round samples (`a[round]`, `b[round]` the raw
 * samples of that round, the same round index pairing the two). Per round r with samples on both
 * sides, q_r = median(b[r]) / median(a[r]) (1 when both medians are 0); the statistics are those of
 * ln q_r: ratio = exp(mean), interval = exp(mean ± t(confidence, rounds - 1) x sd / sqrt(rounds)).
 *
 * Verdict, in this order: 'not-positive' when a round has a median <= 0 (other than 0 / 0);
 * 'too-few-rounds' below minRounds rounds; 'moved' when the interval excludes 1 (the paired t-test
 * of the log-ratios gives p < 1 - confidence) and |ratio - 1| >= minChange (the same 10% the history
 * comparison asks of |delta|); 'unchanged' when the interval lies within (1 - minChange,
 * 1 + minChange); 'inconclusive' otherwise.
 *
 * Why this rule: a drift that moves both conditions alike from round to round (the machine's load)
 * cancels in q_r, so it widens nothing; what is left is how much the two back-to-back runs of one
 * round disagree. A true 15% shift with ±2% noise within rounds gives four ratios near 1.15 and an
 * interval a few percent wide: moved. The stricter "whole interval beyond 1.1" would at 4 rounds
 * (t = 3.18) need the log-ratios' sd below ~2.8% to flag that same 15% shift, which a loaded shared
 * machine rarely gives. The price: at 95% about one series in 20 that changed by nothing but is
 * noisy (where significance already implies more than 10%) is flagged by chance, so with many
 * series a few flags are expected; judge them by their per-round ratios and the sign test across
 * series (ratioSignTest).
 */
export function comparePaired(a: PerRound, b: PerRound, options: PairedOptions = {}): PairedComparison {
  const { minChange = 0.1, minRounds = 3, confidence = 0.95 } = options;
  if (!(minChange >= 0 && Number.isFinite(minChange)))
    throw new InvalidInputError('minChange', 'a finite number >= 0', minChange);
  if (!Number.isInteger(minRounds) || minRounds < 2)
    throw new InvalidInputError('minRounds', 'an integer >= 2', minRounds);
  if (!(confidence > 0 && confidence < 1))
    throw new InvalidInputError('confidence', 'a number between 0 and 1', confidence);
  if (a.length !== b.length) throw new InvalidInputError('b', `as many rounds as a (${a.length})`, b.length);
  for (const [r, round] of a.entries()) checkFinite(`a[${r}]`, round);
  for (const [r, round] of b.entries()) checkFinite(`b[${r}]`, round);
  let notPositive = false;
  const ratios = a.map((roundA, r): number | null => {
    const roundB = b[r]!;
    if (roundA.length === 0 || roundB.length === 0) return null;
    const medianA = median([...roundA]);
    const medianB = median([...roundB]);
    if (medianA === 0 && medianB === 0) return 1;
    if (medianA > 0 && medianB > 0) return medianB / medianA;
    notPositive = true;
    return null;
  });
  const logs = ratios.filter((ratio): ratio is number => ratio !== null).map(Math.log);
  const row: PairedComparison = {
    verdict: notPositive ? 'not-positive' : 'too-few-rounds',
    ratios,
    rounds: logs.length,
    ratio: null,
    meanLogRatio: null,
    ci: null,
    pValue: null,
  };
  if (notPositive || logs.length === 0) return row;
  const centre = mean(logs);
  row.meanLogRatio = centre;
  row.ratio = Math.exp(centre);
  if (logs.length < 2) return row;
  const standardError = sampleStandardDeviation(logs) / Math.sqrt(logs.length);
  const halfWidth = studentTQuantile((1 + confidence) / 2, logs.length - 1) * standardError;
  row.ci = [Math.exp(centre - halfWidth), Math.exp(centre + halfWidth)];
  row.pValue =
    standardError > 0 ? studentTTwoSidedP(centre / standardError, logs.length - 1) : centre === 0 ? 1 : 0;
  if (logs.length < minRounds) return row;
  const [low, high] = row.ci;
  if ((low > 1 || high < 1) && Math.abs(row.ratio - 1) >= minChange) row.verdict = 'moved';
  else if (low > 1 - minChange && high < 1 + minChange) row.verdict = 'unchanged';
  else row.verdict = 'inconclusive';
  return row;
}

/** Many paired comparisons at once: do their ratios lean one way? */
export interface RatioSignTest {
  /** Comparisons (series) taken. */
  count: number;
  /** Log-ratios above 0 (ratio > 1), below 0, and exactly 0 (left out of the test). */
  above: number;
  below: number;
  ties: number;
  /** exp(median log-ratio); null without any. */
  medianRatio: number | null;
  /** above / count; null without any. */
  fractionAbove: number | null;
  /** Two-sided exact sign test of above against below (signTestP). */
  pValue: number;
}

/**
 * Sign test across comparisons, one mean log-ratio each (comparePaired's meanLogRatio): if B
 * changed nothing, each is as likely above 0 as below, whatever its own noise, so a lean of the
 * whole set shows a systematic effect (everything 5% slower) that no single comparison can.
 * The p-value assumes the comparisons independent; ones that share runs make it optimistic.
 */
export function ratioSignTest(meanLogRatios: readonly number[]): RatioSignTest {
  checkFinite('meanLogRatios', meanLogRatios);
  const count = meanLogRatios.length;
  const above = meanLogRatios.filter((value) => value > 0).length;
  const below = meanLogRatios.filter((value) => value < 0).length;
  return {
    count,
    above,
    below,
    ties: count - above - below,
    medianRatio: count > 0 ? Math.exp(median([...meanLogRatios])) : null,
    fractionAbove: count > 0 ? above / count : null,
    pValue: signTestP(above, below),
  };
}

/**
 * Two-sided exact sign test: with n = above + below, p = min(1, 2 x P(X <= min(above, below))) for
 * X ~ Binomial(n, 1/2) (1 for n = 0). The binomial CDF is P(X <= k) = I_{1/2}(n - k, k + 1), the
 * regularized incomplete beta function, exact to double precision (simple-statistics'
 * binomialDistribution would build the whole table instead, stopping where it sums to 1 - 1e-4).
 */
export function signTestP(above: number, below: number): number {
  for (const [name, value] of [
    ['above', above],
    ['below', below],
  ] as const) {
    if (!Number.isInteger(value) || value < 0) throw new InvalidInputError(name, 'an integer >= 0', value);
  }
  const n = above + below;
  if (n === 0) return 1;
  const k = Math.min(above, below);
  return Math.min(1, 2 * regularizedIncompleteBeta(0.5, n - k, k + 1));
}

function checkFinite(name: string, values: readonly number[]): void {
  values.forEach((value, index) => {
    if (!Number.isFinite(value)) throw new InvalidInputError(`${name}[${index}]`, 'a finite number', value);
  });
}
