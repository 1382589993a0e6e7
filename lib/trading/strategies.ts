/**
 * Trading strategies built on the `trading-signals` indicators. Each call builds fresh indicators
 * and feeds them only the tail of the window they need (a few hundred values at most), so a signal
 * is pure, deterministic and costs microseconds whatever the window length: agents run these in the
 * strategy-execution benchmark, where the round trip is what is measured.
 *
 * Strengths are expressed in units of the window's own mean absolute log-return, so confidence
 * means the same thing for a $5 stock and a $50,000 coin, and for calm or wild markets.
 */
import { ATR, BollingerBands, DonchianChannels, EMA, MACD, ROC, RSI } from 'trading-signals';
import { InvalidInputError } from '../errors.ts';
import type { Action, Bar, Signal, Strategy } from './types.ts';

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
      if (window.length < minBars) return holdNothingKnown();
      const start = Math.max(0, window.length - feed);
      const fast = new EMA(p.fast);
      const slow = new EMA(p.slow);
      const roc = new ROC(p.rocPeriod);
      for (let i = start; i < window.length; i++) {
        const close = window[i]!.close;
        fast.add(close);
        slow.add(close);
        roc.add(close);
      }
      const unit = meanAbsLogReturn(window, start);
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
      if (window.length < minBars) return holdNothingKnown();
      const bands = new BollingerBands(p.period, p.deviations);
      for (let i = window.length - p.period; i < window.length; i++) bands.add(window[i]!.close);
      const { middle, upper } = bands.getResultOrThrow();
      const close = window[window.length - 1]!.close;
      const z = ratio(close - middle, (upper - middle) / p.deviations);
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
      if (window.length < minBars) return holdNothingKnown();
      const last = window.length - 1;
      // The channel is drawn from the bars before the latest, which then breaks it or not.
      const channel = new DonchianChannels(p.channel);
      for (let i = last - p.channel; i < last; i++) channel.add(window[i]!);
      const atr = new ATR(p.atrPeriod);
      for (let i = Math.max(0, window.length - atrFeed); i < window.length; i++) atr.add(window[i]!);
      const { lower, middle, upper } = channel.getResultOrThrow();
      const close = window[last]!.close;
      const range = atr.getResultOrThrow();
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
      if (window.length < minBars) return holdNothingKnown();
      const start = Math.max(0, window.length - feed);
      const macd = new MACD(new EMA(p.fast), new EMA(p.slow), new EMA(p.signal));
      const rsi = new RSI(p.rsiPeriod);
      for (let i = start; i < window.length; i++) {
        const close = window[i]!.close;
        macd.add(close);
        rsi.add(close);
      }
      const { histogram } = macd.getResultOrThrow();
      const rsiValue = rsi.getResultOrThrow();
      const close = window[window.length - 1]!.close;
      const macdStrength = Math.tanh(Math.abs(ratio(histogram / close, meanAbsLogReturn(window, start))));
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

/** Mean |log-return| over window[from..]; the scale every strength is measured in. */
function meanAbsLogReturn(window: readonly Bar[], from: number): number {
  let sum = 0;
  let count = 0;
  for (let i = Math.max(1, from + 1); i < window.length; i++) {
    sum += Math.abs(Math.log(window[i]!.close / window[i - 1]!.close));
    count++;
  }
  return count === 0 ? 0 : sum / count;
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
