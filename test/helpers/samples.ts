/** Seeded synthetic samples for statistics tests: the same numbers on every machine. */

/** Seeded uniform [0, 1) (mulberry32). */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n samples around `center`, spread uniformly by ±`spread` (relative). */
export function samples(seed: number, n: number, center: number, spread: number): number[] {
  const next = random(seed);
  return Array.from({ length: n }, () => center * (1 + spread * (2 * next() - 1)));
}
