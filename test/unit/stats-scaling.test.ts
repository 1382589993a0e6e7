import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../lib/errors.ts';
import { fitPowerLaw } from '../../lib/stats/scaling.ts';

describe('fitPowerLaw', () => {
  it('recovers an exact power law', () => {
    // Prepare
    const points = [1, 2, 4, 8, 16, 32].map((x) => ({ x, y: 3 * x ** 1.5 }));
    // Act
    const fit = fitPowerLaw(points);
    // Assess
    expect(fit.exponent).toBeCloseTo(1.5, 12);
    expect(fit.coefficient).toBeCloseTo(3, 12);
    expect(fit.r2).toBeCloseTo(1, 12);
  });

  it('matches a log-log least-squares fit of noisy sub-linear data (scipy linregress)', () => {
    // Prepare
    const points = [
      { x: 1, y: 2.0 },
      { x: 2, y: 3.1 },
      { x: 4, y: 4.9 },
      { x: 8, y: 7.7 },
      { x: 16, y: 12.4 },
    ];
    // Act
    const fit = fitPowerLaw(points);
    // Assess
    expect(fit.exponent).toBeCloseTo(0.6577126661307051, 12);
    expect(fit.coefficient).toBeCloseTo(1.9793270227538198, 12);
    expect(fit.r2).toBeCloseTo(0.9998062279995849, 12);
    expect(fit.exponent).toBeLessThan(1);
  });

  it('accepts repeated x and reports a flat series as exponent 0 with r2 1', () => {
    // Act
    const fit = fitPowerLaw([
      { x: 2, y: 5 },
      { x: 2, y: 5 },
      { x: 10, y: 5 },
    ]);
    // Assess
    expect(fit.exponent).toBe(0);
    expect(fit.coefficient).toBeCloseTo(5, 12);
    expect(fit.r2).toBe(1);
  });

  it('rejects fewer than two distinct x and non-positive values', () => {
    // Act / Assess
    expect(() => fitPowerLaw([])).toThrow(InvalidInputError);
    expect(() =>
      fitPowerLaw([
        { x: 3, y: 1 },
        { x: 3, y: 2 },
      ]),
    ).toThrow(/distinct x/);
    expect(() =>
      fitPowerLaw([
        { x: 1, y: 1 },
        { x: 0, y: 2 },
      ]),
    ).toThrow(/points\[1\]\.x/);
    expect(() =>
      fitPowerLaw([
        { x: 1, y: -1 },
        { x: 2, y: 2 },
      ]),
    ).toThrow(/points\[0\]\.y/);
  });
});
