/** Seeded synthetic samples for statistics tests: the same numbers on every machine. */
import { seededRandom } from '../../lib/stats/intervals.ts';

/** Seeded uniform [0, 1) (mulberry32): the library's own generator, so tests and lib share one stream. */
export const random = seededRandom;

/** n samples around `center`, spread uniformly by ±`spread` (relative). */
export function samples(seed: number, n: number, center: number, spread: number): number[] {
  const next = random(seed);
  return Array.from({ length: n }, () => center * (1 + spread * (2 * next() - 1)));
}
