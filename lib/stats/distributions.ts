/**
 * The few distribution functions the statistics need, computed to near double precision.
 *
 * simple-statistics only ships a two-decimal normal table and no Student t CDF or quantile, and
 * small samples (5-30 values) are common here, where a normal approximation of t is visibly wrong
 * (t(0.975, 4) = 2.78, not 1.96). So the t CDF is computed from the regularized incomplete beta
 * function and the t quantile by inverting that CDF, which is exact for every dof instead of a
 * table for small dof plus an approximation for large dof.
 */
import { InvalidInputError } from '../errors.ts';

const EPSILON = 1e-15;
const TINY = 1e-300;
const MAX_ITERATIONS = 10_000;
/** Above this many degrees of freedom the t distribution equals the normal one to ~1e-8. */
const NORMAL_DOF = 1e7;

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7; relative error ~1e-15). */
export function lnGamma(x: number): number {
  if (!(x > 0)) throw new InvalidInputError('x', 'a number > 0', x);
  if (x < 0.5) {
    // Reflection keeps the Lanczos series in the range where it is accurate.
    return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  }
  const z = x - 1;
  let sum = LANCZOS[0]!;
  for (let i = 1; i < LANCZOS.length; i++) sum += LANCZOS[i]! / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** Regularized lower incomplete gamma P(a, x). */
export function regularizedGammaP(a: number, x: number): number {
  if (!(a > 0)) throw new InvalidInputError('a', 'a number > 0', a);
  if (!(x >= 0)) throw new InvalidInputError('x', 'a number >= 0', x);
  if (x === 0) return 0;
  if (x === Number.POSITIVE_INFINITY) return 1;
  return x < a + 1 ? gammaSeries(a, x) : 1 - gammaContinuedFraction(a, x);
}

/** Regularized upper incomplete gamma Q(a, x) = 1 - P(a, x), without cancellation in the tail. */
export function regularizedGammaQ(a: number, x: number): number {
  if (!(a > 0)) throw new InvalidInputError('a', 'a number > 0', a);
  if (!(x >= 0)) throw new InvalidInputError('x', 'a number >= 0', x);
  if (x === 0) return 1;
  if (x === Number.POSITIVE_INFINITY) return 0;
  return x < a + 1 ? 1 - gammaSeries(a, x) : gammaContinuedFraction(a, x);
}

function gammaSeries(a: number, x: number): number {
  let term = 1 / a;
  let sum = term;
  for (let n = 1; n < MAX_ITERATIONS; n++) {
    term *= x / (a + n);
    sum += term;
    if (Math.abs(term) < Math.abs(sum) * EPSILON) break;
  }
  return sum * Math.exp(-x + a * Math.log(x) - lnGamma(a));
}

function gammaContinuedFraction(a: number, x: number): number {
  // Modified Lentz evaluation of the continued fraction for Q(a, x).
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_ITERATIONS; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPSILON) break;
  }
  return Math.exp(-x + a * Math.log(x) - lnGamma(a)) * h;
}

/** Regularized incomplete beta I_x(a, b) for a, b > 0 and 0 <= x <= 1. */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (!(a > 0)) throw new InvalidInputError('a', 'a number > 0', a);
  if (!(b > 0)) throw new InvalidInputError('b', 'a number > 0', b);
  if (!(x >= 0 && x <= 1)) throw new InvalidInputError('x', 'a number in [0, 1]', x);
  if (x === 0) return 0;
  if (x === 1) return 1;
  const front = Math.exp(lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log1p(-x));
  // The continued fraction converges fast only below the mean; use the symmetry above it.
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(x, a, b)) / a;
  return 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

function betaContinuedFraction(x: number, a: number, b: number): number {
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m < MAX_ITERATIONS; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPSILON) break;
  }
  return h;
}

/** Standard normal CDF Φ(z), accurate in both tails. */
export function normalCdf(z: number): number {
  if (Number.isNaN(z)) return Number.NaN;
  const tail = 0.5 * regularizedGammaQ(0.5, (z * z) / 2);
  return z < 0 ? tail : 1 - tail;
}

/** Two-sided p-value of a standard normal statistic: P(|Z| >= |z|). */
export function normalTwoSidedP(z: number): number {
  if (Number.isNaN(z)) return Number.NaN;
  return regularizedGammaQ(0.5, (z * z) / 2);
}

/** Student t CDF P(T <= t) with `dof` degrees of freedom (dof > 0, need not be an integer). */
export function studentTCdf(t: number, dof: number): number {
  if (!(dof > 0)) throw new InvalidInputError('dof', 'a number > 0', dof);
  if (Number.isNaN(t)) return Number.NaN;
  if (dof > NORMAL_DOF) return normalCdf(t);
  if (t === Number.POSITIVE_INFINITY) return 1;
  if (t === Number.NEGATIVE_INFINITY) return 0;
  const tail = 0.5 * regularizedIncompleteBeta(dof / (dof + t * t), dof / 2, 0.5);
  return t < 0 ? tail : 1 - tail;
}

/** Two-sided p-value of a t statistic: P(|T| >= |t|), computed without 1 - CDF cancellation. */
export function studentTTwoSidedP(t: number, dof: number): number {
  if (!(dof > 0)) throw new InvalidInputError('dof', 'a number > 0', dof);
  if (Number.isNaN(t)) return Number.NaN;
  if (dof > NORMAL_DOF) return normalTwoSidedP(t);
  if (!Number.isFinite(t)) return 0;
  return regularizedIncompleteBeta(dof / (dof + t * t), dof / 2, 0.5);
}

/** Student t quantile: the t with P(T <= t) = p, by bisection on the CDF (to ~1e-12 relative). */
export function studentTQuantile(p: number, dof: number): number {
  if (!(p > 0 && p < 1)) throw new InvalidInputError('p', 'a probability strictly between 0 and 1', p);
  if (!(dof > 0)) throw new InvalidInputError('dof', 'a number > 0', dof);
  if (p === 0.5) return 0;
  // Solve in the upper half and mirror: the distribution is symmetric.
  const upper = p > 0.5 ? p : 1 - p;
  let lo = 0;
  let hi = 1;
  while (studentTCdf(hi, dof) < upper) {
    lo = hi;
    hi *= 2;
    if (hi > 1e300) break;
  }
  for (let i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, dof) < upper) lo = mid;
    else hi = mid;
  }
  const q = (lo + hi) / 2;
  return p > 0.5 ? q : -q;
}

/**
 * Quantile of the chi-square distribution with `dof` degrees of freedom: the x with
 * P(X <= x) = p, found by bisection on the regularized gamma function (monotone, so bisection is
 * safe; 200 halvings reach double precision for any dof used here).
 */
export function chiSquareQuantile(p: number, dof: number): number {
  if (!(p > 0 && p < 1)) throw new InvalidInputError('p', 'a probability strictly between 0 and 1', p);
  if (!(dof > 0)) throw new InvalidInputError('dof', 'a number > 0', dof);
  let low = 0;
  let high = Math.max(1, dof);
  while (regularizedGammaP(dof / 2, high / 2) < p) high *= 2;
  for (let i = 0; i < 200 && high - low > 1e-12 * Math.max(1, high); i++) {
    const mid = (low + high) / 2;
    if (regularizedGammaP(dof / 2, mid / 2) < p) low = mid;
    else high = mid;
  }
  return (low + high) / 2;
}

/** Standard normal quantile: the z with Φ(z) = p, by bisection on normalCdf (to ~1e-12). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new InvalidInputError('p', 'a probability strictly between 0 and 1', p);
  let low = -40;
  let high = 40;
  for (let i = 0; i < 200 && high - low > 1e-12; i++) {
    const mid = (low + high) / 2;
    if (normalCdf(mid) < p) low = mid;
    else high = mid;
  }
  return (low + high) / 2;
}
