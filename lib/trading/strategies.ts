/**
 * Trading strategies built on the `trading-signals` indicators. Each call builds fresh indicators
 * and feeds them only the tail of the window they need (a few hundred values at most), so a signal
 * is pure, deterministic and costs microseconds whatever the window length: agents run these in the
 * strategy-execution benchmark, where the round trip is what is measured.
 *
 * A window is read in place as columns (the Float64 views of a received frame): no bar object is
 * made, and indicators whose library form takes candles or allocates a result per input (Donchian
 * channel, ATR, MACD) are fed from the columns as the same arithmetic, so an execute allocates next
 * to nothing and the young generation is not churned mid round trip. The signals are bit-identical
 * to the library's candle-fed indicators (test/unit/strategies-columns.test.ts).
 *
 * Strengths are expressed in units of the window's own mean absolute log-return, so confidence
 * means the same thing for a $5 stock and a $50,000 coin, and for calm or wild markets.
 */
import { BollingerBands, EMA, ROC, RSI, WSMA } from 'trading-signals';
import { InvalidInputError } from '../errors.ts';
import { columnsOf } from './columns.ts';
import type { Action, BarColumnsView, Signal, Strategy } from './types.ts';

/** Names accepted by `createStrategy`. */
export const STRATEGY_NAMES = ['momentum', 'mean-reversion', 'breakout', 'rsi-macd'] as const;

export type StrategyName = (typeof STRATEGY_NAMES)[number];

/** Numeric tuning knobs of a strategy, by name (see STRATEGY_DEFAULTS). */
export type StrategyParams = Readonly<Record<string, number>>;

/** Every strategy's parameters and their defaults. */
export const STRATEGY_DEFAULTS = {
  /** EMA crossover confirmed by rate of change. */
  momentum: { fast: 12, slow: 26, rocPeriod: 10, entry: 0.2, maxSize: 0.25 },
  /** Bollinger bands: buy below the lower band, sell above the upper one. */
  'mean-reversion': { period: 20, deviations: 2, maxSize: 0.25 },
  /** Donchian channel breakout, strength in ATRs beyond the channel. */
  breakout: { channel: 20, atrPeriod: 14, maxSize: 0.25 },
  /** MACD histogram side confirmed by RSI on the same side of 50. */
  'rsi-macd': { rsiPeriod: 14, fast: 12, slow: 26, signal: 9, maxSize: 0.25 },
} as const satisfies Record<StrategyName, Record<string, number>>;

/** Bars fed to exponential indicators per unit of their longest period: enough to forget the seed. */
const WARMUP_FACTOR = 4;
const MAX_PERIOD = 1000;
/** A fresh object each time: callers may annotate the signals they get. */
const holdNothingKnown = (): Signal => ({ action: 'hold', confidence: 0, size: 0 });

/** Whether a string names a strategy. */
export function isStrategyName(name: unknown): name is StrategyName {
  return typeof name === 'string' && (STRATEGY_NAMES as readonly string[]).includes(name);
}

/** A strategy by name, with parameters validated against STRATEGY_DEFAULTS. */
export function createStrategy(name: string, params: StrategyParams = {}): Strategy {
  if (!isStrategyName(name))
    throw new InvalidInputError('strategy', `one of ${STRATEGY_NAMES.join(', ')}`, name);
  switch (name) {
    case 'momentum':
      return momentum(resolveParams(name, params));
    case 'mean-reversion':
      return meanReversion(resolveParams(name, params));
    case 'breakout':
      return breakout(resolveParams(name, params));
    case 'rsi-macd':
      return rsiMacd(resolveParams(name, params));
  }
}

type Resolved<N extends StrategyName> = { -readonly [K in keyof (typeof STRATEGY_DEFAULTS)[N]]: number };

function momentum(p: Resolved<'momentum'>): Strategy {
  const minBars = Math.max(p.slow, p.rocPeriod + 1);
  const feed = WARMUP_FACTOR * Math.max(p.slow, p.rocPeriod + 1);
  return {
    name: 'momentum',
    minBars,
    signal(window) {
      const { close } = columnsOf(window);
      const n = close.length;
      if (n < minBars) return holdNothingKnown();
      const start = Math.max(0, n - feed);
      const fast = new EMA(p.fast);
      const slow = new EMA(p.slow);
      const roc = new ROC(p.rocPeriod);
      for (let i = start; i < n; i++) {
        const price = close[i] as number;
        fast.add(price);
        slow.add(price);
        roc.add(price);
      }
      const unit = meanAbsLogReturn(close, start);
      const slowValue = slow.getResultOrThrow();
      const spread = (fast.getResultOrThrow() - slowValue) / slowValue;
      const change = roc.getResultOrThrow();
      const zEma = ratio(spread, unit);
      const zRoc = ratio(change, unit * Math.sqrt(p.rocPeriod));
      // Agreeing crossover and rate of change add up; a disagreement cancels towards hold.
      return decide(Math.tanh((zEma + zRoc) / 6), p.entry, p.maxSize);
    },
  };
}

function meanReversion(p: Resolved<'mean-reversion'>): Strategy {
  const minBars = p.period;
  return {
    name: 'mean-reversion',
    minBars,
    signal(window) {
      const { close } = columnsOf(window);
      const n = close.length;
      if (n < minBars) return holdNothingKnown();
      const bands = new BollingerBands(p.period, p.deviations);
      for (let i = n - p.period; i < n; i++) bands.add(close[i] as number);
      const { middle, upper } = bands.getResultOrThrow();
      const last = close[n - 1] as number;
      const z = ratio(last - middle, (upper - middle) / p.deviations);
      // At a band |score| is 0.5 (the entry); twice as far out it is 1. Price above the mean: sell.
      return decide(clamp(-z / (2 * p.deviations), -1, 1), 0.5, p.maxSize);
    },
  };
}

function breakout(p: Resolved<'breakout'>): Strategy {
  const minBars = Math.max(p.channel + 1, p.atrPeriod);
  const atrFeed = WARMUP_FACTOR * p.atrPeriod;
  return {
    name: 'breakout',
    minBars,
    signal(window) {
      const columns = columnsOf(window);
      const n = columns.close.length;
      if (n < minBars) return holdNothingKnown();
      const last = n - 1;
      // The channel is drawn from the bars before the latest, which then breaks it or not.
      const { lower, middle, upper } = donchian(columns, last - p.channel, last);
      const close = columns.close[last] as number;
      const range = atr(columns, Math.max(0, n - atrFeed), p.atrPeriod);
      if (close > upper) return act('buy', 0.5 + 0.5 * Math.min(1, ratio(close - upper, range)), p.maxSize);
      if (close < lower) return act('sell', 0.5 + 0.5 * Math.min(1, ratio(lower - close, range)), p.maxSize);
      // Inside the channel: the nearer an edge, the less sure that nothing is happening.
      return act('hold', 1 - Math.min(1, Math.abs(ratio(close - middle, upper - middle))), p.maxSize);
    },
  };
}

function rsiMacd(p: Resolved<'rsi-macd'>): Strategy {
  const minBars = Math.max(p.slow + p.signal, p.rsiPeriod + 1);
  const feed = WARMUP_FACTOR * Math.max(p.slow + p.signal, p.rsiPeriod + 1);
  return {
    name: 'rsi-macd',
    minBars,
    signal(window) {
      const { close: closes } = columnsOf(window);
      const n = closes.length;
      if (n < minBars) return holdNothingKnown();
      const start = Math.max(0, n - feed);
      const histogram = macdHistogram(closes, start, p.fast, p.slow, p.signal);
      const rsi = new RSI(p.rsiPeriod);
      for (let i = start; i < n; i++) rsi.add(closes[i] as number);
      const rsiValue = rsi.getResultOrThrow();
      const close = closes[n - 1] as number;
      const macdStrength = Math.tanh(Math.abs(ratio(histogram / close, meanAbsLogReturn(closes, start))));
      const rsiStrength = Math.abs(rsiValue - 50) / 50;
      const confidence = (macdStrength + rsiStrength) / 2;
      if (histogram > 0 && rsiValue > 50) return act('buy', confidence, p.maxSize);
      if (histogram < 0 && rsiValue < 50) return act('sell', confidence, p.maxSize);
      // The two indicators disagree (or sit exactly on their lines): no trade, and the bigger the
      // disagreement the less sure that holding is right.
      return act('hold', 1 - confidence, p.maxSize);
    },
  };
}

/** Turns a signed score in -1..1 into a signal: trade beyond ±entry, hold inside. */
function decide(score: number, entry: number, maxSize: number): Signal {
  if (!Number.isFinite(score)) return holdNothingKnown();
  const strength = Math.abs(score);
  if (strength < entry) return act('hold', 1 - strength / entry, maxSize);
  return act(score > 0 ? 'buy' : 'sell', strength, maxSize);
}

function act(action: Action, confidence: number, maxSize: number): Signal {
  if (!Number.isFinite(confidence)) return holdNothingKnown();
  const c = clamp(confidence, 0, 1);
  return { action, confidence: c, size: action === 'hold' ? 0 : Math.min(maxSize, maxSize * c) };
}

/** Mean |log-return| over close[from..]; the scale every strength is measured in. */
function meanAbsLogReturn(close: ArrayLike<number>, from: number): number {
  let sum = 0;
  let count = 0;
  for (let i = Math.max(1, from + 1); i < close.length; i++) {
    sum += Math.abs(Math.log((close[i] as number) / (close[i - 1] as number)));
    count++;
  }
  return count === 0 ? 0 : sum / count;
}

/**
 * The Donchian channel of bars from..to-1, as trading-signals' DonchianChannels draws it (which
 * takes candle objects): highest high, lowest low and their midpoint.
 */
function donchian(
  { high, low }: BarColumnsView,
  from: number,
  to: number,
): { lower: number; middle: number; upper: number } {
  let upper = high[from] as number;
  let lower = low[from] as number;
  for (let i = from; i < to; i++) {
    upper = Math.max(upper, high[i] as number);
    lower = Math.min(lower, low[i] as number);
  }
  return { lower, middle: (upper + lower) / 2, upper };
}

/**
 * The ATR of bars from.. as trading-signals' ATR computes it (a WSMA of true ranges, the first
 * bar's range without a previous close), without the candle object ATR takes per bar.
 */
function atr({ high, low, close }: BarColumnsView, from: number, period: number): number {
  const smoothing = new WSMA(period);
  for (let i = from; i < close.length; i++) {
    const highLow = (high[i] as number) - (low[i] as number);
    if (i === from) smoothing.add(highLow);
    else {
      const previous = close[i - 1] as number;
      smoothing.add(
        Math.max(highLow, Math.abs((high[i] as number) - previous), Math.abs((low[i] as number) - previous)),
      );
    }
  }
  return smoothing.getResultOrThrow();
}

/**
 * The MACD histogram after close[from..], as trading-signals' MACD computes it (MACD line = fast
 * EMA - slow EMA once the slow one has seen its period, signal = EMA of that line), without the
 * result object MACD makes per input.
 */
function macdHistogram(
  close: ArrayLike<number>,
  from: number,
  fast: number,
  slow: number,
  signal: number,
): number {
  const fastEma = new EMA(fast);
  const slowEma = new EMA(slow);
  const signalEma = new EMA(signal);
  let histogram = Number.NaN;
  for (let i = from; i < close.length; i++) {
    const price = close[i] as number;
    const short = fastEma.add(price) as number;
    const long = slowEma.add(price) as number;
    if (i - from + 1 >= slow) {
      const line = short - long;
      histogram = line - (signalEma.add(line) as number);
    }
  }
  return histogram;
}

/** a / b, with 0 / 0 = 0 (a perfectly flat market has no strength) and x / 0 = ±Infinity. */
function ratio(a: number, b: number): number {
  if (a === 0) return 0;
  return b === 0 ? (a > 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY) : a / b;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

const PARAM_RULES: Record<string, { integer: boolean; min: number; max: number }> = {
  fast: { integer: true, min: 1, max: MAX_PERIOD },
  slow: { integer: true, min: 2, max: MAX_PERIOD },
  rocPeriod: { integer: true, min: 1, max: MAX_PERIOD },
  period: { integer: true, min: 2, max: MAX_PERIOD },
  channel: { integer: true, min: 1, max: MAX_PERIOD },
  atrPeriod: { integer: true, min: 1, max: MAX_PERIOD },
  rsiPeriod: { integer: true, min: 2, max: MAX_PERIOD },
  signal: { integer: true, min: 1, max: MAX_PERIOD },
  entry: { integer: false, min: 0.01, max: 1 },
  deviations: { integer: false, min: 0.1, max: 10 },
  maxSize: { integer: false, min: 0, max: 1 },
};

function resolveParams<N extends StrategyName>(name: N, params: StrategyParams): Resolved<N> {
  const defaults: Record<string, number> = STRATEGY_DEFAULTS[name];
  if (params === null || typeof params !== 'object') {
    throw new InvalidInputError(`strategy ${name} params`, 'an object of numbers', params);
  }
  const resolved: Record<string, number> = { ...defaults };
  for (const [key, value] of Object.entries(params)) {
    const rule = PARAM_RULES[key];
    if (!(key in defaults) || rule === undefined) {
      throw new InvalidInputError(`strategy ${name} params`, `keys ${Object.keys(defaults).join(', ')}`, key);
    }
    if (
      typeof value !== 'number' ||
      !Number.isFinite(value) ||
      (rule.integer && !Number.isInteger(value)) ||
      value < rule.min ||
      value > rule.max
    ) {
      const kind = rule.integer ? 'an integer' : 'a number';
      throw new InvalidInputError(
        `strategy ${name} params.${key}`,
        `${kind} ${rule.min}..${rule.max}`,
        value,
      );
    }
    resolved[key] = value;
  }
  if ('fast' in resolved && (resolved.fast ?? 0) >= (resolved.slow ?? 0)) {
    throw new InvalidInputError(
      `strategy ${name} params.fast`,
      `less than slow (${resolved.slow})`,
      resolved.fast,
    );
  }
  return resolved as Resolved<N>;
}
