import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../lib/errors.ts';
import { mannWhitneyU, relativeChange, welchTTest } from '../../lib/stats/index.ts';

// Reference values from scipy 1.17 (ttest_ind equal_var=False, mannwhitneyu), which agree with R.
const A = [12.1, 14.3, 11.8, 15.2, 13.9, 12.7, 14.8];
const B = [15.9, 16.2, 14.1, 17.3, 16.8, 15.5];

describe('welchTTest', () => {
  it('matches R t.test(var.equal = FALSE)', () => {
    // Act
    const result = welchTTest(A, B);
    // Assess
    expect(result.t).toBeCloseTo(-3.5495601872253117, 10);
    expect(result.df).toBeCloseTo(10.996455778719765, 10);
    expect(result.pValue).toBeCloseTo(0.004557803826067611, 12);
  });

  it('matches a case with very unequal variances and sizes', () => {
    // Act
    const result = welchTTest([10, 11, 12], [1, 2, 3, 4, 5, 6]);
    // Assess
    expect(result.t).toBeCloseTo(7.833494518006404, 10);
    expect(result.df).toBeCloseTo(6.797752808988763, 10);
    expect(result.pValue).toBeCloseTo(0.00012146522658550737, 14);
  });

  it('is symmetric: swapping the samples flips t and keeps p', () => {
    // Act
    const forward = welchTTest(A, B);
    const backward = welchTTest(B, A);
    // Assess
    expect(backward.t).toBeCloseTo(-forward.t, 12);
    expect(backward.pValue).toBeCloseTo(forward.pValue, 14);
  });

  it('gives p = 1 for identical samples', () => {
    // Act
    const result = welchTTest([1, 2, 3, 4], [1, 2, 3, 4]);
    // Assess
    expect(result).toEqual({ t: 0, df: 6, pValue: 1 });
  });

  it('handles constant samples: equal -> p 1, different -> p 0', () => {
    // Act
    const equal = welchTTest([5, 5, 5], [5, 5]);
    const different = welchTTest([5, 5, 5], [4, 4]);
    // Assess
    expect(equal.pValue).toBe(1);
    expect(equal.t).toBe(0);
    expect(different.pValue).toBe(0);
    expect(different.t).toBe(Number.POSITIVE_INFINITY);
  });

  it('needs two finite values per sample', () => {
    // Act / Assess
    expect(() => welchTTest([1], [1, 2])).toThrow(InvalidInputError);
    expect(() => welchTTest([1, 2], [1, Number.NaN])).toThrow(/b\[1\]/);
  });
});

describe('mannWhitneyU', () => {
  it('uses the exact distribution for small samples without ties (R wilcox.test)', () => {
    // Act
    const result = mannWhitneyU(A, B);
    // Assess
    expect(result.u).toBe(3);
    expect(result.exact).toBe(true);
    expect(result.pValue).toBeCloseTo(0.008158508158508158, 14);
    expect(result.z).toBeLessThan(0);
  });

  it('computes the exact p of complete separation as 2 / C(n1 + n2, n1)', () => {
    // Act
    const result = mannWhitneyU([1, 2, 3], [4, 5, 6, 7]);
    // Assess: only one of the C(7, 3) = 35 arrangements is this extreme, on each side.
    expect(result.u).toBe(0);
    expect(result.pValue).toBeCloseTo(2 / 35, 14);
  });

  it('stays exact and accurate at the largest exact size (49 x 49)', () => {
    // Prepare
    const a = Array.from({ length: 49 }, (_, i) => i * 1.01);
    const b = Array.from({ length: 49 }, (_, i) => i * 1.013 + 0.5);
    // Act
    const result = mannWhitneyU(a, b);
    // Assess: scipy mannwhitneyu(method='exact')
    expect(result.u).toBe(1176);
    expect(result.exact).toBe(true);
    expect(result.pValue).toBeCloseTo(0.8652103571528106, 12);
  });

  it('uses the tie-corrected normal approximation with continuity correction when tied', () => {
    // Act
    const result = mannWhitneyU([1, 2, 2, 3, 3, 3, 4, 5], [3, 4, 4, 5, 5, 6, 7, 7, 8]);
    // Assess
    expect(result.u).toBe(7.5);
    expect(result.exact).toBe(false);
    expect(result.pValue).toBeCloseTo(0.006373133838085873, 12);
  });

  it('uses the normal approximation for large samples', () => {
    // Prepare
    const a = Array.from({ length: 60 }, (_, i) => i + 1);
    const b = Array.from({ length: 55 }, (_, i) => i + 20.5);
    // Act
    const result = mannWhitneyU(a, b);
    // Assess
    expect(result.u).toBe(820);
    expect(result.exact).toBe(false);
    expect(result.z).toBeCloseTo(-4.644308378378811, 10);
    expect(result.pValue).toBeCloseTo(3.4121757694349444e-6, 15);
  });

  it('gives p = 1 for identical samples and when every value is tied', () => {
    // Act
    const identical = mannWhitneyU([1, 2, 3, 4], [1, 2, 3, 4]);
    const allTied = mannWhitneyU([2, 2, 2], [2, 2]);
    // Assess
    expect(identical.pValue).toBe(1);
    expect(allTied).toMatchObject({ u: 3, z: 0, pValue: 1 });
  });

  it('rejects empty or non-finite samples', () => {
    // Act / Assess
    expect(() => mannWhitneyU([], [1])).toThrow(InvalidInputError);
    expect(() => mannWhitneyU([Number.POSITIVE_INFINITY], [1])).toThrow(/a\[0\]/);
  });
});

describe('relativeChange', () => {
  it('is (current - baseline) / |baseline|', () => {
    // Act / Assess
    expect(relativeChange(110, 100)).toBeCloseTo(0.1, 14);
    expect(relativeChange(75, 100)).toBeCloseTo(-0.25, 14);
    expect(relativeChange(-5, -10)).toBeCloseTo(0.5, 14);
  });

  it('handles a zero baseline', () => {
    // Act / Assess
    expect(relativeChange(0, 0)).toBe(0);
    expect(relativeChange(3, 0)).toBe(Number.POSITIVE_INFINITY);
    expect(relativeChange(-3, 0)).toBe(Number.NEGATIVE_INFINITY);
  });

  it('rejects non-finite input', () => {
    // Act / Assess
    expect(() => relativeChange(Number.NaN, 1)).toThrow(InvalidInputError);
    expect(() => relativeChange(1, Number.POSITIVE_INFINITY)).toThrow(/baseline/);
  });
});
