import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../lib/errors.ts';
import { comparePaired, ratioSignTest, signTestP } from '../../lib/stats/paired.ts';
import { samples } from '../helpers/samples.ts';

/** One round per centre, each n samples tight (±2%) around it; seeds differ per round and side. */
function rounds(centers: number[], seed: number, n = 20, spread = 0.02): number[][] {
  return centers.map((center, round) => samples(seed * 100 + round, n, center, spread));
}

describe('comparePaired', () => {
  it('a true +15% shift with ±2% noise over 4 drifting rounds has moved', () => {
    // Prepare: the machine is 30% slower in round 2 and 20% faster in round 3, in both modes alike.
    const drift = [10, 13, 8, 11];
    const off = rounds(drift, 1);
    const on = rounds(
      drift.map((center) => center * 1.15),
      2,
    );
    // Act
    const row = comparePaired(off, on);
    // Assess
    expect(row.verdict).toBe('moved');
    expect(row.rounds).toBe(4);
    expect(row.ratio).toBeGreaterThan(1.13);
    expect(row.ratio).toBeLessThan(1.17);
    expect(row.ci![0]).toBeGreaterThan(1.1);
    expect(row.ci![1]).toBeLessThan(1.2);
    expect(row.pValue).toBeLessThan(0.001);
  });

  it('a true -15% shift is flagged the same way', () => {
    // Act
    const row = comparePaired(rounds([10, 13, 8, 11], 3), rounds([8.5, 11.05, 6.8, 9.35], 4));
    // Assess
    expect(row.verdict).toBe('moved');
    expect(row.ratio).toBeCloseTo(0.85, 1);
    expect(row.ci![1]).toBeLessThan(0.9);
  });

  it('a drift of ±30% from round to round that both modes share is not flagged: a 10% change is ruled out', () => {
    // Prepare: per-round medians swing from 7 to 13 in both modes; unpaired, that is a CV of ~27%.
    const drift = [10, 13, 7, 12];
    // Act
    const row = comparePaired(rounds(drift, 5), rounds(drift, 6));
    // Assess
    expect(row.verdict).toBe('unchanged');
    expect(row.ratio).toBeCloseTo(1, 1);
    expect(row.ci![0]).toBeGreaterThan(0.9);
    expect(row.ci![1]).toBeLessThan(1.1);
  });

  it('two rounds are too few, even for a +30% shift; the ratio and interval are still given', () => {
    // Act
    const row = comparePaired(rounds([10, 12], 7), rounds([13, 15.6], 8));
    // Assess
    expect(row.verdict).toBe('too-few-rounds');
    expect(row.rounds).toBe(2);
    expect(row.ratio).toBeCloseTo(1.3, 1);
    expect(row.ci).not.toBeNull();
  });

  it('geometric mean, t interval (df = rounds - 1) and paired t p match scipy', () => {
    // Prepare: one sample per round, ratios 1.2, 1.1, 1.3.
    const off = [[10], [10], [10]];
    const on = [[12], [11], [13]];
    // Act
    const row = comparePaired(off, on);
    // Assess: every round is +10% to +30%, but from 3 rounds (t = 4.30) the interval still reaches below 1.
    expect(row.ratios).toEqual([1.2, 1.1, 1.3]);
    expect(row.ratio).toBeCloseTo(1.1972157672583759, 12);
    expect(row.meanLogRatio).toBeCloseTo(Math.log(1.1972157672583759), 12);
    expect(row.ci![0]).toBeCloseTo(0.9728219756061114, 9);
    expect(row.ci![1]).toBeCloseTo(1.4733688478604077, 9);
    expect(row.pValue).toBeCloseTo(0.06490597804965631, 9);
    expect(row.verdict).toBe('inconclusive');
  });

  it('a small but consistent change is significant yet below 10%: unchanged, not moved', () => {
    // Act
    const row = comparePaired([[10], [20], [15], [12]], [[10.3], [20.6], [15.45], [12.37]]);
    // Assess
    expect(row.ci![0]).toBeGreaterThan(1);
    expect(row.verdict).toBe('unchanged');
  });

  it('noisy ratios around a 10% mean are inconclusive: the interval excludes neither 1 nor 1.1', () => {
    // Act
    const row = comparePaired([[10], [10], [10], [10]], [[14], [8], [13], [9.5]]);
    // Assess
    expect(row.ci![0]).toBeLessThan(1);
    expect(row.ci![1]).toBeGreaterThan(1.1);
    expect(row.verdict).toBe('inconclusive');
  });

  it('pairs by round: rounds missing on either side are left out, so 3 of 4 rounds still judge', () => {
    // Act
    const row = comparePaired([[10], [], [10], [10]], [[12], [12], [], [12]]);
    // Assess
    expect(row.ratios).toEqual([1.2, null, null, 1.2]);
    expect(row.rounds).toBe(2);
    expect(row.verdict).toBe('too-few-rounds');
  });

  it('identical ratios give a zero-width interval; 0 against 0 is a ratio of 1; 0 against 5 has none', () => {
    // Act
    const constant = comparePaired([[10], [20], [30]], [[12], [24], [36]]);
    const zeros = comparePaired([[0], [0, 0], [0]], [[0], [0], [0, 0, 0]]);
    const fromZero = comparePaired([[0], [0], [0]], [[5], [5], [5]]);
    // Assess
    expect(constant.ci![0]).toBeCloseTo(1.2, 12);
    expect(constant.ci![1]).toBeCloseTo(1.2, 12);
    expect(constant.pValue).toBe(0);
    expect(constant.verdict).toBe('moved');
    expect(zeros).toMatchObject({ ratio: 1, ci: [1, 1], pValue: 1, verdict: 'unchanged' });
    expect(fromZero).toMatchObject({ ratio: null, ci: null, verdict: 'not-positive' });
    expect(JSON.parse(JSON.stringify(fromZero))).toEqual(fromZero);
  });

  it('refuses unpaired rounds, non-finite samples and nonsensical options', () => {
    expect(() => comparePaired([[1], [1], [1]], [[1], [1]])).toThrow(InvalidInputError);
    expect(() => comparePaired([[1, Number.NaN]], [[1]])).toThrow(InvalidInputError);
    expect(() => comparePaired([[1]], [[1]], { minRounds: 1 })).toThrow(InvalidInputError);
    expect(() => comparePaired([[1]], [[1]], { confidence: 1 })).toThrow(InvalidInputError);
    expect(() => comparePaired([[1]], [[1]], { minChange: -0.1 })).toThrow(InvalidInputError);
  });
});

describe('signTestP', () => {
  it('matches scipy binomtest (two-sided, p = 1/2)', () => {
    expect(signTestP(10, 0)).toBeCloseTo(0.001953125, 14);
    expect(signTestP(0, 10)).toBeCloseTo(0.001953125, 14);
    expect(signTestP(8, 2)).toBeCloseTo(0.109375, 14);
    expect(signTestP(5, 5)).toBe(1);
    expect(signTestP(30, 70)).toBeCloseTo(7.85013964559367e-5, 16);
  });

  it('nothing to test gives p = 1; counts must be non-negative integers', () => {
    expect(signTestP(0, 0)).toBe(1);
    expect(() => signTestP(-1, 3)).toThrow(InvalidInputError);
    expect(() => signTestP(1.5, 3)).toThrow(InvalidInputError);
  });
});

describe('ratioSignTest', () => {
  it('reports the median ratio, the share above 1 and the sign test, ties left out of the test', () => {
    // Prepare: 8 series 5% slower, 1 faster, 1 exactly unchanged.
    const logs = [...Array.from({ length: 8 }, () => Math.log(1.05)), Math.log(0.9), 0];
    // Act
    const result = ratioSignTest(logs);
    // Assess
    expect(result).toMatchObject({ count: 10, above: 8, below: 1, ties: 1, fractionAbove: 0.8 });
    expect(result.medianRatio).toBeCloseTo(1.05, 12);
    expect(result.pValue).toBeCloseTo(0.0390625, 14);
  });

  it('no series: no median, p = 1', () => {
    expect(ratioSignTest([])).toMatchObject({ count: 0, medianRatio: null, fractionAbove: null, pValue: 1 });
  });
});
