import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../lib/errors.ts';
import { comparePasses, noiseGate } from '../../lib/history/compare.ts';
import { chiSquareQuantile } from '../../lib/stats/distributions.ts';
import { samples } from '../helpers/samples.ts';

/** One pass per centre, each n samples tight (±2%) around it; seeds differ per pass and side. */
function passes(centers: number[], n = 20, seed = 1, spread = 0.02): number[][] {
  return centers.map((center, pass) => samples(seed * 100 + pass, n, center, spread));
}

describe('comparePasses', () => {
  it('a real +30% shift with tight between-pass noise has moved (p < 0.01)', () => {
    // Act
    const row = comparePasses(passes([10, 10.2, 9.9], 20, 1), passes([13, 13.1, 12.9], 20, 2));
    // Assess
    expect(row.verdict).toBe('moved');
    expect(row.delta).toBeGreaterThan(0.25);
    expect(row.delta).toBeLessThan(0.35);
    expect(row.pValue).toBeLessThan(0.01);
    // Per-pass medians within ~1%: the gate (2 x the upper bound of that CV) is just above 10%.
    expect(row.threshold).toBeGreaterThanOrEqual(0.1);
    expect(row.threshold).toBeLessThan(0.15);
    expect(row.countA).toBe(60);
    expect(row.countB).toBe(60);
  });

  it('the same data without a shift is within noise', () => {
    // Act
    const row = comparePasses(passes([10, 10.2, 9.9], 20, 1), passes([10.1, 9.9, 10], 20, 2));
    // Assess
    expect(row.verdict).toBe('within-noise');
    expect(Math.abs(row.delta ?? 1)).toBeLessThan(0.05);
  });

  it('a drift within the between-pass noise is within noise, though the raw samples differ significantly', () => {
    // Prepare: the machine slows down pass after pass (per-pass medians 10, 12, 14 and 12, 14, 16);
    // within each pass the samples are tight, so the within-run CV (~1%) would call this a move.
    const off = passes([10, 12, 14], 20, 3);
    const on = passes([12, 14, 16], 20, 4);
    // Act
    const row = comparePasses(off, on);
    // Assess: a +17% change, p far below 0.01, but the gate from three passes with a CV of ~17% is ~150%.
    expect(row.delta).toBeGreaterThan(0.15);
    expect(row.pValue).toBeLessThan(0.01);
    expect(row.noiseA).toBeGreaterThan(0.15);
    expect(row.threshold).toBeCloseTo(2 * (row.noiseA ?? 0) * Math.sqrt(2 / chiSquareQuantile(0.05, 2)), 10);
    expect(row.threshold).toBeGreaterThan(row.delta ?? 1);
    expect(row.verdict).toBe('within-noise');
  });

  it('the gate is the larger of the two conditions: a noisy B raises the bar for a quiet A', () => {
    // Prepare
    const quiet = passes([10, 10.1, 9.9], 20, 5);
    const noisy = passes([11, 14, 17], 20, 6);
    // Act
    const row = comparePasses(quiet, noisy);
    // Assess
    expect(row.threshold).toBe(noiseGate(row.perPassB).threshold);
    expect(row.threshold).toBeGreaterThan(noiseGate(row.perPassA).threshold);
    expect(row.pValue).toBeLessThan(0.01);
    expect(row.verdict).toBe('within-noise');
  });

  it('two samples only (one per pass, two passes) are too few passes to judge, even a +30% shift', () => {
    // Act
    const row = comparePasses([[10], [10.2]], [[13], [13.1]]);
    // Assess
    expect(row.verdict).toBe('too-few-passes');
    expect(row.delta).toBeCloseTo(0.3, 1);
    expect(row.medianA).toBeCloseTo(10.1, 10);
  });

  it('one sample per pass: three passes cannot reach p < 0.01 (too few samples), five can', () => {
    // Act
    const three = comparePasses([[10], [10.2], [9.9]], [[13], [13.1], [12.9]]);
    const five = comparePasses(
      [[10], [10.2], [9.9], [10.1], [10.05]],
      [[13], [13.1], [12.9], [13.05], [13.2]],
    );
    // Assess: 3 vs 3 fully separated gives p = 2/20; 5 vs 5 gives 2/252.
    expect(three.minPValue).toBeCloseTo(0.1, 10);
    expect(three.verdict).toBe('too-few-samples');
    expect(five.minPValue).toBeCloseTo(2 / 252, 10);
    expect(five.verdict).toBe('moved');
  });

  it('a large shift in per-pass medians that the raw samples do not confirm is large but not significant', () => {
    // Prepare: every pass has the same median but a wide spread within.
    const off = [
      [50, 100, 150],
      [50, 100, 150],
      [50, 100, 150],
    ];
    const on = [
      [80, 130, 180],
      [80, 130, 180],
      [80, 130, 180],
    ];
    // Act
    const row = comparePasses(off, on);
    // Assess
    expect(row.delta).toBeCloseTo(0.3, 10);
    expect(row.noiseA).toBe(0);
    expect(row.pValue).toBeGreaterThanOrEqual(0.01);
    expect(row.verdict).toBe('large-but-not-significant');
  });

  it('the mode median is the median of per-pass medians; passes without samples are left out', () => {
    // Prepare: one pass with many high samples would dominate pooled samples.
    const off = [[10, 10, 10], [11, 11, 11], Array.from({ length: 30 }, () => 50), []];
    // Act
    const row = comparePasses(off, [[11], [11], [11]]);
    // Assess
    expect(row.perPassA).toEqual([10, 11, 50]);
    expect(row.medianA).toBe(11);
    expect(row.countA).toBe(36);
    expect(row.delta).toBe(0);
    expect(row.verdict).toBe('within-noise');
  });

  it('a zero reference: no percentage (delta null, fromZero); nothing at all: too few passes', () => {
    // Act
    const fromZero = comparePasses(
      [
        [0, 0],
        [0, 0],
        [0, 0],
      ],
      [
        [5, 6],
        [5, 6],
        [5, 7],
      ],
    );
    const empty = comparePasses([[], []], [[1]]);
    // Assess
    expect(fromZero).toMatchObject({ medianA: 0, delta: null, fromZero: true });
    expect(JSON.parse(JSON.stringify(fromZero))).toEqual(fromZero);
    expect(empty).toMatchObject({ verdict: 'too-few-passes', medianA: null, delta: null, pValue: null });
  });

  it('refuses nonsensical options', () => {
    expect(() => comparePasses([[1]], [[1]], { alpha: 1 })).toThrow(InvalidInputError);
    expect(() => comparePasses([[1]], [[1]], { minChange: -0.1 })).toThrow(InvalidInputError);
    expect(() => comparePasses([[1]], [[1]], { minPasses: 1 })).toThrow(InvalidInputError);
  });
});
