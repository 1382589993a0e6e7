/**
 * The built-in strategies as they were before they read windows as columns: the trading-signals
 * indicators fed bar objects (DonchianChannels, ATR and MACD as the library has them). Kept as
 * the oracle that the columnar strategies (lib/trading/strategies.ts) must match bit for bit.
 */
import { ATR, BollingerBands, DonchianChannels, EMA, MACD, ROC, RSI } from 'trading-signals';
import { STRATEGY_DEFAULTS, type StrategyName } from '../../lib/trading/strategies.ts';
import type { Action, Bar, Signal } from '../../lib/trading/types.ts';

const WARMUP_FACTOR = 4;
const none = (): Signal => ({ action: 'hold', confidence: 0, size: 0 });

/** The reference signal of strategy `name` with its default parameters. */
export function referenceSignal(name: StrategyName, window: readonly Bar[]): Signal {
  switch (name) {
    case 'momentum':
      return momentum(window);
    case 'mean-reversion':
      return meanReversion(window);
    case 'breakout':
      return breakout(window);
    case 'rsi-macd':
      return rsiMacd(window);
  }
}

function momentum(window: readonly Bar[]): Signal {
  const p = STRATEGY_DEFAULTS.momentum;
  const minBars = Math.max(p.slow, p.rocPeriod + 1);
  if (window.length < minBars) return none();
  const start = Math.max(0, window.length - WARMUP_FACTOR * minBars);
  const fast = new EMA(p.fast);
  const slow = new EMA(p.slow);
  const roc = new ROC(p.rocPeriod);
  for (const bar of window.slice(start)) {
    fast.add(bar.close);
    slow.add(bar.close);
    roc.add(bar.close);
  }
  const unit = meanAbsLogReturn(window, start);
  const slowValue = slow.getResultOrThrow();
  const spread = (fast.getResultOrThrow() - slowValue) / slowValue;
  const zEma = ratio(spread, unit);
  const zRoc = ratio(roc.getResultOrThrow(), unit * Math.sqrt(p.rocPeriod));
  return decide(Math.tanh((zEma + zRoc) / 6), p.entry, p.maxSize);
}

function meanReversion(window: readonly Bar[]): Signal {
  const p = STRATEGY_DEFAULTS['mean-reversion'];
  if (window.length < p.period) return none();
  const bands = new BollingerBands(p.period, p.deviations);
  for (const bar of window.slice(-p.period)) bands.add(bar.close);
  const { middle, upper } = bands.getResultOrThrow();
  const z = ratio((window.at(-1) as Bar).close - middle, (upper - middle) / p.deviations);
  return decide(Math.min(1, Math.max(-1, -z / (2 * p.deviations))), 0.5, p.maxSize);
}

function breakout(window: readonly Bar[]): Signal {
  const p = STRATEGY_DEFAULTS.breakout;
  if (window.length < Math.max(p.channel + 1, p.atrPeriod)) return none();
  const last = window.length - 1;
  const channel = new DonchianChannels(p.channel);
  for (const bar of window.slice(last - p.channel, last)) channel.add(bar);
  const atr = new ATR(p.atrPeriod);
  for (const bar of window.slice(Math.max(0, window.length - WARMUP_FACTOR * p.atrPeriod))) atr.add(bar);
  const { lower, middle, upper } = channel.getResultOrThrow();
  const close = (window[last] as Bar).close;
  const range = atr.getResultOrThrow();
  if (close > upper) return act('buy', 0.5 + 0.5 * Math.min(1, ratio(close - upper, range)), p.maxSize);
  if (close < lower) return act('sell', 0.5 + 0.5 * Math.min(1, ratio(lower - close, range)), p.maxSize);
  return act('hold', 1 - Math.min(1, Math.abs(ratio(close - middle, upper - middle))), p.maxSize);
}

function rsiMacd(window: readonly Bar[]): Signal {
  const p = STRATEGY_DEFAULTS['rsi-macd'];
  const minBars = Math.max(p.slow + p.signal, p.rsiPeriod + 1);
  if (window.length < minBars) return none();
  const start = Math.max(0, window.length - WARMUP_FACTOR * minBars);
  const macd = new MACD(new EMA(p.fast), new EMA(p.slow), new EMA(p.signal));
  const rsi = new RSI(p.rsiPeriod);
  for (const bar of window.slice(start)) {
    macd.add(bar.close);
    rsi.add(bar.close);
  }
  const { histogram } = macd.getResultOrThrow();
  const rsiValue = rsi.getResultOrThrow();
  const close = (window.at(-1) as Bar).close;
  const macdStrength = Math.tanh(Math.abs(ratio(histogram / close, meanAbsLogReturn(window, start))));
  const confidence = (macdStrength + Math.abs(rsiValue - 50) / 50) / 2;
  if (histogram > 0 && rsiValue > 50) return act('buy', confidence, p.maxSize);
  if (histogram < 0 && rsiValue < 50) return act('sell', confidence, p.maxSize);
  return act('hold', 1 - confidence, p.maxSize);
}

function decide(score: number, entry: number, maxSize: number): Signal {
  if (!Number.isFinite(score)) return none();
  if (Math.abs(score) < entry) return act('hold', 1 - Math.abs(score) / entry, maxSize);
  return act(score > 0 ? 'buy' : 'sell', Math.abs(score), maxSize);
}

function act(action: Action, confidence: number, maxSize: number): Signal {
  if (!Number.isFinite(confidence)) return none();
  const c = Math.min(1, Math.max(0, confidence));
  return { action, confidence: c, size: action === 'hold' ? 0 : Math.min(maxSize, maxSize * c) };
}

function meanAbsLogReturn(window: readonly Bar[], from: number): number {
  const logs = window
    .slice(Math.max(0, from))
    .slice(1)
    .map((bar, i) => Math.abs(Math.log(bar.close / (window[Math.max(0, from) + i] as Bar).close)));
  return logs.length === 0 ? 0 : logs.reduce((sum, value) => sum + value, 0) / logs.length;
}

function ratio(a: number, b: number): number {
  if (a === 0) return 0;
  return b === 0 ? (a > 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY) : a / b;
}
