/**
 * The trading vocabulary shared by the market generator, the CSV loader, the strategies and the
 * agent that runs them. Plain data, so bars and signals cross the wire as JSON unchanged.
 */

/** One OHLCV bar; `t` is the bar's open time in epoch milliseconds. */
export interface Bar {
  t: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

/**
 * A window read in place as columns of numbers, all of one length: the Float64 views of a binary
 * frame, or a JSON frame's number arrays. Bar `i` is `close[i]`, `high[i]`, … with no object made.
 */
export interface BarColumnsView {
  readonly t: ArrayLike<number>;
  readonly open: ArrayLike<number>;
  readonly high: ArrayLike<number>;
  readonly low: ArrayLike<number>;
  readonly close: ArrayLike<number>;
  readonly volume: ArrayLike<number>;
}

/** A market window as bar objects or as columns. */
export type BarWindow = readonly Bar[] | BarColumnsView;

/** What a strategy recommends. */
export type Action = 'buy' | 'sell' | 'hold';

/** A strategy's recommendation for the latest bar of a window. */
export interface Signal {
  action: Action;
  /** 0..1: how strongly the indicators back the action (0 when there is not enough data). */
  confidence: number;
  /** 0..1: fraction of capital to commit; 0 for hold. */
  size: number;
}

/** A stateless trading strategy: the same window always gives the same signal. */
export interface Strategy {
  readonly name: string;
  /** Fewest bars `signal` needs; shorter windows get hold with confidence 0. */
  readonly minBars: number;
  /** The signal for the latest bar; columns are read in place (an execute allocates next to nothing). */
  signal(window: BarWindow): Signal;
}
