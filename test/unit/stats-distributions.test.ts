import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../lib/errors.ts';
import {
  chiSquareQuantile,
  lnGamma,
  normalCdf,
  regularizedIncompleteBeta,
  studentTCdf,
  studentTQuantile,
  studentTTwoSidedP,
} from '../../lib/stats/distributions.ts';

// Reference values from scipy 1.17 (stats.t, special.betainc, special.gammaln), which agree with R.
describe('distributions', () => {
  it('lnGamma matches known values, including small arguments via reflection', () => {
    // Prepare
    const cases: [number, number][] = [
      [0.5, 0.5723649429247],
      [10, 12.801827480081469],
      [123.4, 469.3360974421906],
      [1, 0],
    ];
    for (const [x, expected] of cases) {
      // Act
      const value = lnGamma(x);
      // Assess
      expect(value).toBeCloseTo(expected, 10);
    }
    expect(lnGamma(0.1)).toBeCloseTo(Math.log(9.513507698668732), 10);
  });

  it('regularized incomplete beta matches scipy betainc', () => {
    // Prepare
    const cases: [number, number, number, number][] = [
      [0.3, 2, 3, 0.3483],
      [0.9, 0.5, 0.5, 0.7951672353008665],
      [0.7, 50, 60, 0.9999999530579958],
    ];
    for (const [x, a, b, expected] of cases) {
      // Act
      const value = regularizedIncompleteBeta(x, a, b);
      // Assess
      expect(value).toBeCloseTo(expected, 12);
    }
    const tiny = regularizedIncompleteBeta(0.01, 10, 0.5);
    expect(Math.abs(tiny - 1.770034965528571e-21) / 1.770034965528571e-21).toBeLessThan(1e-9);
  });

  it('normal CDF is accurate in the centre and the tails', () => {
    // Act / Assess
    expect(normalCdf(-3)).toBeCloseTo(0.0013498980316300933, 14);
    expect(normalCdf(0.5)).toBeCloseTo(0.6914624612740131, 14);
    expect(normalCdf(1.959963984540054)).toBeCloseTo(0.975, 14);
    expect(normalCdf(0)).toBe(0.5);
  });

  it('Student t CDF and two-sided p match R pt()', () => {
    // Prepare
    const cases: [number, number, number, number][] = [
      [2, 5, 0.9490302605850708, 0.10193947882985835],
      [-1.5, 3, 0.11529193262241147, 0.23058386524482294],
      [0.3, 1, 0.5927735790777423, 0.8144528418445154],
      [1.1, 12.7, 0.8541269607723814, 0.29174607845523737],
    ];
    for (const [t, dof, cdf, twoSided] of cases) {
      // Act / Assess
      expect(studentTCdf(t, dof)).toBeCloseTo(cdf, 12);
      expect(studentTTwoSidedP(t, dof)).toBeCloseTo(twoSided, 12);
    }
    const far = studentTTwoSidedP(10, 7);
    expect(Math.abs(far - 2.1394202890772802e-5) / 2.1394202890772802e-5).toBeLessThan(1e-9);
  });

  it('Student t quantile matches R qt(0.975, dof), including fractional dof', () => {
    // Prepare
    const cases: [number, number][] = [
      [1, 12.706204736174694],
      [2, 4.302652729749462],
      [4, 2.7764451051977934],
      [9, 2.262157162798205],
      [29, 2.045229642132703],
      [1000, 1.9623390808264083],
      [2.5, 3.5746548420036817],
    ];
    for (const [dof, expected] of cases) {
      // Act
      const q = studentTQuantile(0.975, dof);
      // Assess
      expect(q).toBeCloseTo(expected, 9);
      expect(studentTQuantile(0.025, dof)).toBeCloseTo(-expected, 9);
    }
  });

  it('rejects arguments outside the domain', () => {
    // Act / Assess
    expect(() => studentTQuantile(1, 3)).toThrow(InvalidInputError);
    expect(() => studentTCdf(1, 0)).toThrow(InvalidInputError);
    expect(() => regularizedIncompleteBeta(1.5, 1, 1)).toThrow(InvalidInputError);
    expect(() => lnGamma(0)).toThrow(InvalidInputError);
  });
});

describe('chiSquareQuantile', () => {
  it('matches reference quantiles (scipy.stats.chi2.ppf)', () => {
    // Prepare / Act / Assess
    expect(chiSquareQuantile(0.05, 2)).toBeCloseTo(0.1025866, 6);
    expect(chiSquareQuantile(0.05, 7)).toBeCloseTo(2.1673499, 6);
    expect(chiSquareQuantile(0.975, 2)).toBeCloseTo(7.3777589, 6);
    expect(chiSquareQuantile(0.5, 10)).toBeCloseTo(9.3418178, 6);
  });

  it('refuses probabilities outside (0, 1) and non-positive degrees of freedom', () => {
    expect(() => chiSquareQuantile(0, 2)).toThrow(/p/);
    expect(() => chiSquareQuantile(0.5, 0)).toThrow(/dof/);
  });
});
