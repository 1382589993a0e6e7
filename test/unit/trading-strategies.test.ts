import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../lib/errors.ts';
import {
  type Bar,
  createStrategy,
  generateBars,
  type Signal,
  STRATEGY_DEFAULTS,
  STRATEGY_NAMES,
} from '../../lib/trading/index.ts';

/** Bars whose closes are given; opens chain, wicks 0.1% beyond the body. */
function barsFromCloses(closes: readonly number[]): Bar[] {
  return closes.map((close, i) => {
    const open = i === 0 ? close : closes[i - 1]!;
    return {
      t: i * 60_000,
      open,
      high: Math.max(open, close) * 1.001,
      low: Math.min(open, close) * 0.999,
      close,
      volume: 1_000,
    };
  });
}

/** A steady exponential trend of `ratePerBar` with a small alternating wiggle, so it is not a pure curve. */
function trend(n: number, ratePerBar: number, wiggle = 0.001): Bar[] {
  return barsFromCloses(
    Array.from({ length: n }, (_, i) => 100 * Math.exp(ratePerBar * i) * (1 + (i % 2 ? wiggle : -wiggle))),
  );
}

/** Sideways prices alternating around 100 by ±amplitude. */
function sideways(n: number, amplitude = 0.5): number[] {
  return Array.from({ length: n }, (_, i) => 100 + (i % 2 ? amplitude : -amplitude));
}

const up = trend(200, 0.005);
const down = trend(200, -0.005);

function expectValid(signal: Signal, maxSize = 0.25): void {
  expect(['buy', 'sell', 'hold']).toContain(signal.action);
  expect(signal.confidence).toBeGreaterThanOrEqual(0);
  expect(signal.confidence).toBeLessThanOrEqual(1);
  expect(signal.size).toBeGreaterThanOrEqual(0);
  expect(signal.size).toBeLessThanOrEqual(maxSize);
  if (signal.action === 'hold') expect(signal.size).toBe(0);
  else expect(signal.size).toBeCloseTo(signal.confidence * maxSize, 12);
}

describe('every strategy', () => {
  it.each(STRATEGY_NAMES)('%s holds with confidence 0 on a window shorter than minBars', (name) => {
    // Prepare
    const strategy = createStrategy(name);
    const short = up.slice(0, strategy.minBars - 1);

    // Act
    const signals = [strategy.signal([]), strategy.signal(short)];

    // Assess
    expect(strategy.name).toBe(name);
    expect(strategy.minBars).toBeGreaterThan(1);
    expect(signals).toEqual([
      { action: 'hold', confidence: 0, size: 0 },
      { action: 'hold', confidence: 0, size: 0 },
    ]);
  });

  it.each(STRATEGY_NAMES)('%s gives a valid signal from exactly minBars bars', (name) => {
    // Prepare
    const strategy = createStrategy(name);

    // Act
    const signal = strategy.signal(up.slice(0, strategy.minBars));

    // Assess
    expectValid(signal);
  });

  it.each(STRATEGY_NAMES)('%s is pure, deterministic and reads only a bounded tail of the window', (name) => {
    // Prepare
    const strategy = createStrategy(name);
    const bars = generateBars({ bars: 2_000, seed: 11, volatility: 0.02 });
    const windows = [500, 900, 1_400, 2_000].map((end) => bars.slice(0, end));

    // Act
    const first = windows.map((window) => strategy.signal(window));
    const again = [...windows]
      .reverse()
      .map((window) => createStrategy(name).signal(window))
      .reverse();
    const tails = windows.map((window) => strategy.signal(window.slice(-300)));

    // Assess
    expect(again).toEqual(first);
    expect(tails).toEqual(first);
  });

  it.each(STRATEGY_NAMES)('%s keeps confidence and size in range over a random market', (name) => {
    // Prepare
    const strategy = createStrategy(name, { maxSize: 0.1 });
    const bars = generateBars({ bars: 600, seed: 5, volatility: 0.03 });
    const actions = new Set<string>();

    // Act and assess
    for (let end = strategy.minBars; end <= bars.length; end += 7) {
      const signal = strategy.signal(bars.slice(0, end));
      expectValid(signal, 0.1);
      actions.add(signal.action);
    }
    // A strategy stuck on one action over 80 different random windows is broken.
    expect(actions.size).toBeGreaterThan(1);
  });
});

describe('momentum', () => {
  const momentum = createStrategy('momentum');

  it('buys an up-trend and sells a down-trend with high confidence', () => {
    // Act
    const buy = momentum.signal(up);
    const sell = momentum.signal(down);

    // Assess
    expect(buy.action).toBe('buy');
    expect(sell.action).toBe('sell');
    expect(buy.confidence).toBeGreaterThan(0.5);
    expect(sell.confidence).toBeGreaterThan(0.5);
  });

  it('is more confident in a stronger trend', () => {
    // Act
    const weak = momentum.signal(trend(200, 0.001));
    const strong = momentum.signal(trend(200, 0.004));

    // Assess
    expect(weak.action).toBe('buy');
    expect(strong.confidence).toBeGreaterThan(weak.confidence);
  });

  it('loses confidence when the rate of change turns against the crossover', () => {
    // Prepare: the same rally, then a sharp 6-bar pullback that the slow EMAs barely register.
    const rally = up.map((bar) => bar.close);
    const last = rally[rally.length - 1]!;
    const pullback = [...rally, ...Array.from({ length: 6 }, (_, i) => last * (1 - 0.01 * (i + 1)))];

    // Act
    const before = momentum.signal(barsFromCloses(rally));
    const after = momentum.signal(barsFromCloses(pullback));

    // Assess
    expect(after.action === 'hold' || after.confidence < before.confidence).toBe(true);
  });

  it('holds, confidently, on a flat or sideways market', () => {
    // Act
    const flat = momentum.signal(barsFromCloses(Array(100).fill(100)));
    const choppy = momentum.signal(barsFromCloses(sideways(100)));

    // Assess
    expect(flat).toEqual({ action: 'hold', confidence: 1, size: 0 });
    expect(choppy.action).toBe('hold');
    expect(choppy.confidence).toBeGreaterThan(0.5);
  });
});

describe('mean-reversion', () => {
  const meanReversion = createStrategy('mean-reversion');
  const calm = sideways(40);

  it('buys a drop below the lower band and sells a jump above the upper band', () => {
    // Act
    const buy = meanReversion.signal(barsFromCloses([...calm, 97]));
    const sell = meanReversion.signal(barsFromCloses([...calm, 103]));

    // Assess
    expect(buy.action).toBe('buy');
    expect(sell.action).toBe('sell');
    expect(buy.confidence).toBeGreaterThanOrEqual(0.5);
  });

  it('is more confident the further price is from the mean', () => {
    // Act
    const near = meanReversion.signal(barsFromCloses([...calm, 98.5]));
    const far = meanReversion.signal(barsFromCloses([...calm, 96]));

    // Assess
    expect(near.action).toBe('buy');
    expect(far.action).toBe('buy');
    expect(far.confidence).toBeGreaterThan(near.confidence);
  });

  it('holds inside the bands and on a perfectly flat market', () => {
    // Act
    const inside = meanReversion.signal(barsFromCloses([...calm, 100.2]));
    const flat = meanReversion.signal(barsFromCloses(Array(40).fill(100)));

    // Assess
    expect(inside.action).toBe('hold');
    expect(flat).toEqual({ action: 'hold', confidence: 1, size: 0 });
  });
});

describe('breakout', () => {
  const breakout = createStrategy('breakout');
  const range = sideways(40);

  it('buys a close above the channel and sells a close below it', () => {
    // Act
    const buy = breakout.signal(barsFromCloses([...range, 102]));
    const sell = breakout.signal(barsFromCloses([...range, 98]));

    // Assess
    expect(buy.action).toBe('buy');
    expect(sell.action).toBe('sell');
  });

  it('is more confident the further the close breaks out, measured in ATRs', () => {
    // Act
    const small = breakout.signal(barsFromCloses([...range, 100.7]));
    const large = breakout.signal(barsFromCloses([...range, 103]));

    // Assess
    expect(small.action).toBe('buy');
    expect(large.confidence).toBeGreaterThan(small.confidence);
  });

  it('buys a clear up-trend and sells a clear down-trend', () => {
    // Act and assess
    expect(breakout.signal(up).action).toBe('buy');
    expect(breakout.signal(down).action).toBe('sell');
  });

  it('holds inside the channel, most confidently in its middle', () => {
    // Act
    const middle = breakout.signal(barsFromCloses([...range, 100]));
    const nearTop = breakout.signal(barsFromCloses([...range, 100.5]));

    // Assess
    expect(middle.action).toBe('hold');
    expect(nearTop.action).toBe('hold');
    expect(middle.confidence).toBeGreaterThan(nearTop.confidence);
  });
});

describe('rsi-macd', () => {
  const rsiMacd = createStrategy('rsi-macd');

  it('buys a V-shaped recovery and sells an inverted V', () => {
    // Prepare: 60 bars of decline then 25 of rally (and the mirror image).
    const v = [
      ...Array.from({ length: 60 }, (_, i) => 100 - 0.5 * i),
      ...Array.from({ length: 25 }, (_, i) => 70.5 + 0.8 * i),
    ];
    const inverted = v.map((close) => 200 - close);

    // Act
    const buy = rsiMacd.signal(barsFromCloses(v));
    const sell = rsiMacd.signal(barsFromCloses(inverted));

    // Assess
    expect(buy.action).toBe('buy');
    expect(sell.action).toBe('sell');
    expect(buy.confidence).toBeGreaterThan(0.5);
  });

  it('buys an accelerating up-trend and sells an accelerating down-trend', () => {
    // Prepare
    const closes = Array.from({ length: 120 }, (_, i) => 100 * Math.exp(0.00005 * i * i));

    // Act
    const buy = rsiMacd.signal(barsFromCloses(closes));
    const sell = rsiMacd.signal(barsFromCloses(closes.map((close) => 10_000 / close)));

    // Assess
    expect(buy.action).toBe('buy');
    expect(sell.action).toBe('sell');
  });

  it('holds when MACD and RSI disagree', () => {
    // Prepare: a long rally (RSI high) that has just stalled, so the MACD line falls below its signal.
    const closes = [
      ...Array.from({ length: 80 }, (_, i) => 100 + i),
      ...Array.from({ length: 8 }, (_, i) => 179 - 0.3 * i),
    ];

    // Act
    const signal = rsiMacd.signal(barsFromCloses(closes));

    // Assess
    expect(signal.action).toBe('hold');
    expect(signal.size).toBe(0);
  });
});

describe('createStrategy', () => {
  it('rejects an unknown name, listing the allowed ones', () => {
    // Act
    const act = () => createStrategy('martingale');

    // Assess
    expect(act).toThrow(InvalidInputError);
    expect(act).toThrow(expect.objectContaining({ field: 'strategy', received: 'martingale' }));
    expect(act).toThrow('one of momentum, mean-reversion, breakout, rsi-macd');
  });

  it('applies parameters: maxSize caps the size and a longer channel raises minBars', () => {
    // Act
    const capped = createStrategy('momentum', { maxSize: 0.05 }).signal(up);
    const wide = createStrategy('breakout', { channel: 50 });

    // Assess
    expect(capped.action).toBe('buy');
    expect(capped.size).toBeLessThanOrEqual(0.05);
    expect(capped.size).toBeGreaterThan(0);
    expect(wide.minBars).toBe(51);
    expect(createStrategy('breakout').minBars).toBe(STRATEGY_DEFAULTS.breakout.channel + 1);
  });

  it.each([
    ['momentum', { window: 5 }, 'strategy momentum params'],
    ['momentum', { fast: 30 }, 'strategy momentum params.fast'],
    ['rsi-macd', { slow: 2.5 }, 'strategy rsi-macd params.slow'],
    ['mean-reversion', { period: 0 }, 'strategy mean-reversion params.period'],
    ['breakout', { maxSize: 1.5 }, 'strategy breakout params.maxSize'],
    ['breakout', { channel: Number.NaN }, 'strategy breakout params.channel'],
  ])('rejects bad parameters of %s %o', (name, params, field) => {
    // Act
    const act = () => createStrategy(name, params);

    // Assess
    expect(act).toThrow(InvalidInputError);
    expect(act).toThrow(expect.objectContaining({ field }));
  });
});
