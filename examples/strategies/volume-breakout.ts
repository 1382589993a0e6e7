/**
 * A breakout only counts when volume confirms it: the close leaves the 20-bar high/low range on
 * volume at least 1.5 times the range's average. No dependency: plain loops over the columns.
 */
import { defineStrategy } from '../../lib/plugins/define.ts';

export default defineStrategy({
  name: 'volume-breakout',
  minBars: 21,
  params: { lookback: 20, volumeFactor: 1.5, maxSize: 0.25 },
  signal(window, p) {
    const lookback = p.lookback as number;
    const last = window.length - 1;
    let high = Number.NEGATIVE_INFINITY;
    let low = Number.POSITIVE_INFINITY;
    let volume = 0;
    for (let i = last - lookback; i < last; i++) {
      high = Math.max(high, window.high[i] as number);
      low = Math.min(low, window.low[i] as number);
      volume += window.volume[i] as number;
    }
    const averageVolume = volume / lookback;
    const close = window.close[last] as number;
    const surge = (window.volume[last] as number) / averageVolume;
    const diagnostics = { high, low, surge };
    const confirmed = surge >= (p.volumeFactor as number);
    const range = high - low || 1;
    if (close > high && confirmed) {
      const confidence = Math.min(1, 0.5 + (close - high) / range);
      return { action: 'buy', confidence, size: (p.maxSize as number) * confidence, diagnostics };
    }
    if (close < low && confirmed) {
      const confidence = Math.min(1, 0.5 + (low - close) / range);
      return { action: 'sell', confidence, size: (p.maxSize as number) * confidence, diagnostics };
    }
    return { action: 'hold', confidence: confirmed ? 0.5 : 0.8, size: 0, diagnostics };
  },
});
