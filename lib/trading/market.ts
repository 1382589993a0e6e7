/**
 * Seeded synthetic market data: geometric Brownian motion closes with plausible intrabar
 * high/low/volume. Same seed and options give bit-identical bars on every run, because the only
 * randomness is a 32-bit integer PRNG (sfc32) and V8's Math functions are deterministic.
 */
import { InvalidInputError } from '../errors.ts';
import type { Bar } from './types.ts';

/** Options shared by `generateMarket` and `generateBars`. */
export interface BarOptions {
  /** Number of bars per symbol, 1..1,000,000. */
  bars: number;
  /** Any safe integer; each symbol derives its own stream from it and its name. */
  seed: number;
  /** First bar's open. @default 100 */
  startPrice?: number;
  /** Mean log-return per bar. @default 0.0002 */
  drift?: number;
  /** Standard deviation of the log-return per bar, 0..1. @default 0.01 */
  volatility?: number;
  /** Bar length in milliseconds. @default 60_000 */
  intervalMs?: number;
  /** Open time of the first bar, epoch ms; fixed by default so output never depends on the clock. @default 2024-01-01T00:00:00Z */
  startTime?: number;
}

/** Options of `generateMarket`: symbol names, or how many to name SYM001, SYM002, ... */
export interface MarketOptions extends BarOptions {
  symbols: readonly string[] | number;
}

/** The generator's parameters when a caller states none. */
export const GBM_DEFAULTS = {
  startPrice: 100,
  drift: 0.0002,
  volatility: 0.01,
  intervalMs: 60_000,
  startTime: Date.UTC(2024, 0, 1),
} as const;

const MAX_BARS = 1_000_000;
const MAX_SYMBOLS = 10_000;
/** Typical volume of a bar with an ordinary move. */
const BASE_VOLUME = 10_000;
const UINT32_RANGE = 0x1_0000_0000;

/** Bars for many symbols, keyed by symbol; a symbol's bars do not depend on the other symbols. */
export function generateMarket(options: MarketOptions): Record<string, Bar[]> {
  const symbols = symbolNames(options.symbols);
  const resolved = resolve(options);
  const market: Record<string, Bar[]> = {};
  for (const symbol of symbols) market[symbol] = barsFor(symbol, resolved);
  return market;
}

/** Bars for one symbol; equals `generateMarket({symbols: [symbol], ...})[symbol]`. */
export function generateBars(options: BarOptions & { symbol?: string }): Bar[] {
  const symbol = options.symbol ?? symbolName(0);
  if (typeof symbol !== 'string' || symbol.length === 0) {
    throw new InvalidInputError('symbol', 'a non-empty string', symbol);
  }
  return barsFor(symbol, resolve(options));
}

/** The name given to the i-th (0-based) generated symbol. */
export function symbolName(index: number): string {
  return `SYM${String(index + 1).padStart(3, '0')}`;
}

type Resolved = Required<BarOptions>;

function symbolNames(symbols: MarketOptions['symbols']): string[] {
  if (typeof symbols === 'number') {
    if (!Number.isInteger(symbols) || symbols < 1 || symbols > MAX_SYMBOLS) {
      throw new InvalidInputError('symbols', `an integer 1..${MAX_SYMBOLS} or a list of names`, symbols);
    }
    return Array.from({ length: symbols }, (_, i) => symbolName(i));
  }
  if (!Array.isArray(symbols) || symbols.length === 0 || symbols.length > MAX_SYMBOLS) {
    throw new InvalidInputError('symbols', `1..${MAX_SYMBOLS} names or a count`, symbols);
  }
  const seen = new Set<string>();
  for (const symbol of symbols) {
    if (typeof symbol !== 'string' || symbol.length === 0) {
      throw new InvalidInputError('symbols', 'non-empty strings', symbol);
    }
    if (seen.has(symbol)) throw new InvalidInputError('symbols', 'unique names', symbol);
    seen.add(symbol);
  }
  return [...symbols];
}

function resolve(options: BarOptions): Resolved {
  const r: Resolved = {
    bars: options.bars,
    seed: options.seed,
    startPrice: options.startPrice ?? GBM_DEFAULTS.startPrice,
    drift: options.drift ?? GBM_DEFAULTS.drift,
    volatility: options.volatility ?? GBM_DEFAULTS.volatility,
    intervalMs: options.intervalMs ?? GBM_DEFAULTS.intervalMs,
    startTime: options.startTime ?? GBM_DEFAULTS.startTime,
  };
  if (!Number.isInteger(r.bars) || r.bars < 1 || r.bars > MAX_BARS) {
    throw new InvalidInputError('bars', `an integer 1..${MAX_BARS}`, r.bars);
  }
  if (!Number.isSafeInteger(r.seed)) throw new InvalidInputError('seed', 'a safe integer', r.seed);
  if (!Number.isFinite(r.startPrice) || r.startPrice <= 0) {
    throw new InvalidInputError('startPrice', 'a finite number > 0', r.startPrice);
  }
  if (!Number.isFinite(r.drift) || Math.abs(r.drift) > 1) {
    throw new InvalidInputError('drift', 'a log-return per bar in -1..1', r.drift);
  }
  if (!Number.isFinite(r.volatility) || r.volatility < 0 || r.volatility > 1) {
    throw new InvalidInputError(
      'volatility',
      'a log-return standard deviation per bar in 0..1',
      r.volatility,
    );
  }
  if (!Number.isSafeInteger(r.intervalMs) || r.intervalMs < 1) {
    throw new InvalidInputError('intervalMs', 'an integer >= 1', r.intervalMs);
  }
  if (!Number.isSafeInteger(r.startTime) || r.startTime + r.intervalMs * r.bars > 8.64e15) {
    throw new InvalidInputError('startTime', 'an integer epoch ms leaving room for every bar', r.startTime);
  }
  return r;
}

function barsFor(symbol: string, o: Resolved): Bar[] {
  const uint32 = sfc32(streamSeed(o.seed, symbol));
  const normal = gaussian(uint32);
  const bars = new Array<Bar>(o.bars);
  const halfVol = o.volatility / 2;
  let open = o.startPrice;
  // One normal per bar and cheap uniforms for the rest: 40,000 bars cost a few milliseconds.
  for (let i = 0; i < o.bars; i++) {
    const z = normal();
    const close = open * Math.exp(o.drift + o.volatility * z);
    // Wicks beyond the body scale with volatility, so a calm market has small ranges.
    const high = Math.max(open, close) * (1 + halfVol * (uint32() / UINT32_RANGE));
    const low = Math.min(open, close) / (1 + halfVol * (uint32() / UINT32_RANGE));
    // Volume varies around its base and rises with the size of the move, as in real markets.
    const volume = Math.max(
      1,
      Math.round(BASE_VOLUME * (0.5 + uint32() / UINT32_RANGE) * (1 + 0.5 * Math.abs(z))),
    );
    bars[i] = { t: o.startTime + i * o.intervalMs, open, high, low, close, volume };
    open = close;
  }
  return bars;
}

/** Mixes the run seed with the symbol name (FNV-1a) so every symbol gets its own stream. */
function streamSeed(seed: number, symbol: string): [number, number, number, number] {
  let h = 0x811c9dc5;
  for (let i = 0; i < symbol.length; i++) {
    h ^= symbol.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  const lo = seed >>> 0;
  const hi = Math.floor(seed / UINT32_RANGE) >>> 0;
  const next = splitmix32(h ^ lo ^ Math.imul(hi, 0x9e3779b9));
  return [next(), next(), next() ^ hi, next()];
}

function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** sfc32 (Chris Doty-Humphrey's small fast counting PRNG): uint32 outputs. */
function sfc32([seedA, seedB, seedC, seedD]: [number, number, number, number]): () => number {
  let a = seedA | 0;
  let b = seedB | 0;
  let c = seedC | 0;
  let d = seedD | 0;
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  // The first outputs of a freshly seeded sfc32 are poorly mixed.
  for (let i = 0; i < 12; i++) next();
  return next;
}

/** Standard normal variates by Box-Muller, using both outputs of each pair. */
function gaussian(uint32: () => number): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const value = spare;
      spare = undefined;
      return value;
    }
    // Offset by half a step so u1 is never 0 (log(0) = -Infinity).
    const u1 = (uint32() + 0.5) / UINT32_RANGE;
    const u2 = uint32() / UINT32_RANGE;
    const radius = Math.sqrt(-2 * Math.log(u1));
    const angle = 2 * Math.PI * u2;
    spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  };
}
