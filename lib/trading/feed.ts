/**
 * The market data a run measures on: a CSV the user brings (`--market ./bars.csv`) or the seeded
 * generator with stated parameters (`--market gbm:seed=7,bars=5000,volatility=0.02`). Either way
 * the run records where the bars came from and a SHA-256 of the bars themselves, so two reports
 * can show they ran on the same data.
 */
import { createHash } from 'node:crypto';
import { InvalidInputError } from '../errors.ts';
import { loadCsv } from './csv.ts';
import { GBM_DEFAULTS, generateBars } from './market.ts';
import type { Bar } from './types.ts';

/** Where bars come from. */
export type MarketSpec =
  | { kind: 'csv'; path: string }
  | {
      kind: 'gbm';
      seed?: number;
      bars?: number;
      drift?: number;
      volatility?: number;
      startPrice?: number;
      intervalMs?: number;
    };

/** The bars of a run and how to name them in the report. */
export interface MarketData {
  bars: Bar[];
  /** e.g. "csv ./bars.csv" or "gbm seed=42 bars=2500 drift=0.0002 volatility=0.01". */
  source: string;
  /** SHA-256 (hex) of the bars as float64 columns t, open, high, low, close, volume. */
  sha256: string;
}

const GBM_KEYS = ['seed', 'bars', 'drift', 'volatility', 'startPrice', 'intervalMs'] as const;
const FLAG = '--market';
const ALLOWED = `a .csv file, or gbm:key=value,... with keys ${GBM_KEYS.join(', ')}`;

/** Parse `--market` (also the `market` field of a run's input). */
export function parseMarketSpec(value: string): MarketSpec {
  const text = value.trim();
  if (text.startsWith('gbm')) {
    const spec: Extract<MarketSpec, { kind: 'gbm' }> = { kind: 'gbm' };
    const rest = text.slice(3).replace(/^:/, '');
    for (const pair of rest === '' ? [] : rest.split(',')) {
      const [key, raw] = pair.split('=').map((part) => part.trim());
      const number = Number(raw);
      if (
        !(GBM_KEYS as readonly string[]).includes(key ?? '') ||
        raw === undefined ||
        raw === '' ||
        !Number.isFinite(number)
      ) {
        throw new InvalidInputError(FLAG, ALLOWED, value);
      }
      spec[key as (typeof GBM_KEYS)[number]] = number;
    }
    return spec;
  }
  if (!/\.csv$/i.test(text) || text.includes('\0')) throw new InvalidInputError(FLAG, ALLOWED, value);
  return { kind: 'csv', path: text };
}

/**
 * The weekly pipeline's units run in Lambda, where a path on the requester's machine means
 * nothing: a CSV there would fail every unit on a missing file after Plan had recorded the run.
 * So a pipeline input names a seeded generator (or no market); a CSV runs through `swarm-bench run`.
 */
export function checkPipelineMarket(market: string | undefined, field = 'market'): void {
  if (market === undefined || parseMarketSpec(market).kind === 'gbm') return;
  throw new InvalidInputError(
    field,
    'gbm:key=value,... in a pipeline input (a CSV path is read on the machine that runs the units; use `swarm-bench run --market` for a CSV)',
    market,
  );
}

/** Load or generate a run's bars; the generator's unstated parameters come from `defaults`. */
export async function loadMarket(
  spec: MarketSpec,
  defaults: { seed: number; bars: number },
): Promise<MarketData> {
  if (spec.kind === 'csv') {
    const bars = await loadCsv(spec.path);
    return { bars, source: `csv ${spec.path} (${bars.length} bars)`, sha256: hashBars(bars) };
  }
  const { startTime: _startTime, ...generatorDefaults } = GBM_DEFAULTS;
  const stated = { seed: defaults.seed, bars: defaults.bars, ...generatorDefaults, ...withoutKind(spec) };
  let bars: Bar[];
  try {
    bars = generateBars(stated);
  } catch (error) {
    if (error instanceof InvalidInputError)
      throw new InvalidInputError(
        `${FLAG} gbm ${error.field}`,
        error.allowed,
        (stated as Record<string, unknown>)[error.field],
      );
    throw error;
  }
  const source = `gbm ${Object.entries(stated)
    .map(([key, v]) => `${key}=${v}`)
    .join(' ')}`;
  return { bars, source, sha256: hashBars(bars) };
}

/** SHA-256 of bars as six float64 columns: the same bars hash the same whatever file they came from. */
export function hashBars(bars: readonly Bar[]): string {
  const hash = createHash('sha256');
  for (const key of ['t', 'open', 'high', 'low', 'close', 'volume'] as const) {
    const column = new Float64Array(bars.length);
    for (let i = 0; i < bars.length; i++) column[i] = (bars[i] as Bar)[key];
    hash.update(new Uint8Array(column.buffer));
  }
  return hash.digest('hex');
}

function withoutKind(spec: Extract<MarketSpec, { kind: 'gbm' }>): Omit<typeof spec, 'kind'> {
  const { kind: _kind, ...rest } = spec;
  return rest;
}
