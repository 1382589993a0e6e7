/** How a measured quantity grows with size: a power law fitted in log-log space. */
import { linearRegression, rSquared } from 'simple-statistics';
import { InvalidInputError } from '../errors.ts';

/** One measurement: size x (agents, messages, ...) and the measured y (time, bytes, ...). */
export interface ScalingPoint {
  x: number;
  y: number;
}

/** y ≈ coefficient * x^exponent; r2 is the fit's coefficient of determination in log-log space. */
export interface PowerLawFit {
  /** 1 = linear, < 1 sub-linear, > 1 super-linear. */
  exponent: number;
  coefficient: number;
  r2: number;
}

/**
 * Least-squares fit of ln y = ln coefficient + exponent * ln x. Needs at least two distinct x and
 * strictly positive, finite x and y (logarithms). Repeated x are fine: each point counts once.
 */
export function fitPowerLaw(points: readonly ScalingPoint[]): PowerLawFit {
  points.forEach((point, index) => {
    if (!(Number.isFinite(point.x) && point.x > 0)) {
      throw new InvalidInputError(`points[${index}].x`, 'a finite number > 0', point.x);
    }
    if (!(Number.isFinite(point.y) && point.y > 0)) {
      throw new InvalidInputError(`points[${index}].y`, 'a finite number > 0', point.y);
    }
  });
  const distinctX = new Set(points.map((point) => point.x)).size;
  if (distinctX < 2) {
    throw new InvalidInputError('points', 'at least 2 points with distinct x', `${distinctX} distinct x`);
  }
  const logPoints = points.map((point) => [Math.log(point.x), Math.log(point.y)]);
  const { m, b } = linearRegression(logPoints);
  const fitted = (logX: number) => b + m * logX;
  const meanLogY = logPoints.reduce((sum, point) => sum + point[1]!, 0) / logPoints.length;
  // Constant y: the flat line fits perfectly, but rSquared would divide 0 by 0.
  const flat = logPoints.every((point) => Math.abs(point[1]! - meanLogY) < 1e-12);
  return { exponent: m, coefficient: Math.exp(b), r2: flat ? 1 : rSquared(logPoints, fitted) };
}
