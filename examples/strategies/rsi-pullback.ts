/**
 * Buy pullbacks in an uptrend, sell rallies in a downtrend: the trend is the slope of a 50-bar
 * EMA, the pullback an RSI(14) below 40 (above 60 for a rally). Uses the `trading-signals`
 * indicators (an npm dependency, bundled into the agent with the strategy).
 */
import { EMA, RSI } from 'trading-signals';
import { defineStrategy } from '../../lib/plugins/define.ts';

export default defineStrategy({
  name: 'rsi-pullback',
  minBars: 60,
  params: { trend: 50, rsiPeriod: 14, oversold: 40, overbought: 60, maxSize: 0.2 },
  signal(window, p) {
    const trend = new EMA(p.trend as number);
    const rsi = new RSI(p.rsiPeriod as number);
    const start = Math.max(0, window.length - 4 * (p.trend as number));
    let previousTrend = Number.NaN;
    for (let i = start; i < window.length; i++) {
      const close = window.close[i] as number;
      previousTrend = trend.isStable ? (trend.getResultOrThrow() as number) : previousTrend;
      trend.add(close);
      rsi.add(close);
    }
    const ema = trend.getResultOrThrow() as number;
    const strength = rsi.getResultOrThrow() as number;
    const slope = Number.isFinite(previousTrend) ? (ema - previousTrend) / previousTrend : 0;
    const diagnostics = { ema, rsi: strength, slopeBp: slope * 10_000 };
    if (slope > 0 && strength < (p.oversold as number)) {
      const confidence = Math.min(1, ((p.oversold as number) - strength) / 20 + 0.5);
      return { action: 'buy', confidence, size: (p.maxSize as number) * confidence, diagnostics };
    }
    if (slope < 0 && strength > (p.overbought as number)) {
      const confidence = Math.min(1, (strength - (p.overbought as number)) / 20 + 0.5);
      return { action: 'sell', confidence, size: (p.maxSize as number) * confidence, diagnostics };
    }
    return { action: 'hold', confidence: 1 - Math.abs(strength - 50) / 50, size: 0, diagnostics };
  },
});
