/**
 * The built-in strategies read windows as columns, in place: their signals must be bit-identical
 * to the candle-fed trading-signals indicators they replaced (strategies-reference.ts), for every
 * strategy, on seeded windows of several lengths, whichever form the window arrives in.
 */
import { describe, expect, it } from 'vitest';
import { decodeWindowFrame, encodeWindowFrame, isRefusal } from '../../lib/agent/window-frame.ts';
import { toColumns } from '../../lib/trading/columns.ts';
import { type Bar, createStrategy, generateBars, STRATEGY_NAMES } from '../../lib/trading/index.ts';
import { referenceSignal } from './strategies-reference.ts';

/** 1 and 2 bars, just under and at each strategy's fewest bars, past the warm-up, and 500. */
const LENGTHS = [1, 2, 20, 35, 57, 143, 500];
const SEEDS = [1, 7, 42];

/** The window as Float64 columns, as an agent reads it from a binary frame. */
function float64Columns(bars: Bar[]) {
  const decoded = decodeWindowFrame(encodeWindowFrame(1, { op: 'execute', window: bars }) as Buffer);
  if (isRefusal(decoded)) throw new Error(decoded.message);
  return decoded.window;
}

/** A perfectly flat market, and one whose bars never move within themselves: zero returns and ranges. */
function flat(n: number): Bar[] {
  return Array.from({ length: n }, (_, i) => ({ t: i, open: 5, high: 5, low: 5, close: 5, volume: 0 }));
}

describe('columnar strategies', () => {
  for (const name of STRATEGY_NAMES) {
    it(`${name}: the same signal as the candle-fed indicators, bit for bit, in every window form`, () => {
      const strategy = createStrategy(name);
      const windows = [
        ...LENGTHS.flatMap((bars) => SEEDS.map((seed) => generateBars({ bars, seed }))),
        flat(60),
      ];
      for (const bars of windows) {
        const expected = referenceSignal(name, bars);
        expect(strategy.signal(bars), `${bars.length} bar objects`).toEqual(expected);
        expect(strategy.signal(toColumns(bars)), `${bars.length} bars as number arrays`).toEqual(expected);
        expect(strategy.signal(float64Columns(bars)), `${bars.length} bars as Float64 columns`).toEqual(
          expected,
        );
      }
    });
  }

  it('reads the columns it is given without changing them', () => {
    const columns = float64Columns(generateBars({ bars: 500, seed: 3 }));
    const before = structuredClone(columns);
    for (const name of STRATEGY_NAMES) createStrategy(name).signal(columns);
    expect(columns).toEqual(before);
  });
});
