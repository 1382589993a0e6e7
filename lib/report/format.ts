/**
 * Number and label formatting shared by every rendering. Written by hand rather than with
 * Intl/toLocaleString so the output does not depend on the machine's ICU data or locale: golden
 * files must be byte-identical everywhere.
 */
import type { Labels, MeasureUnit } from '../bench/model.ts';

const DASH = '—';

/** A number with precision that suits its magnitude: 4,524 / 452.4 / 45.24 / 4.52 / 0.0452. */
export function formatNumber(value: number): string {
  return formatMeasured(value);
}

function formatMeasured(value: number): string {
  if (Number.isNaN(value)) return DASH;
  if (!Number.isFinite(value)) return value > 0 ? '∞' : '-∞';
  const abs = Math.abs(value);
  if (abs === 0) return '0';
  if (abs >= 1000) return group(value.toFixed(0));
  if (abs >= 100) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return significant(value, 3);
}

/** Dollars with enough digits for tiny values: $12.35, $0.109, $0.0000123. */
export function formatUsd(value: number): string {
  if (Number.isNaN(value)) return DASH;
  if (!Number.isFinite(value)) return '∞';
  const sign = value < 0 ? '-' : '';
  const abs = Math.abs(value);
  if (abs === 0) return '$0';
  if (abs >= 1) return `${sign}$${group(abs.toFixed(2))}`;
  return `${sign}$${significant(abs, 3)}`;
}

/** A configured number (threshold, size, count) exactly as given, digits grouped: 30,000 / 1.5 / 0.01. */
export function formatExact(value: number): string {
  if (Number.isNaN(value)) return DASH;
  if (!Number.isFinite(value)) return value > 0 ? '∞' : '-∞';
  const text = String(value);
  return text.includes('e') ? text : group(text);
}

/**
 * A value with its unit, as people read it: "12.3 ms", "$0.109/h", "1.87". `exact` prints the
 * number as given instead of rounding it (for thresholds and other configured values).
 */
export function formatValue(value: number, unit: MeasureUnit, exact = false): string {
  if (Number.isNaN(value)) return DASH;
  const formatNumber = exact ? formatExact : formatMeasured;
  switch (unit) {
    case 'usd':
      return formatUsd(value);
    case 'usd/h':
      return `${formatUsd(value)}/h`;
    case 'percent':
      return `${formatNumber(value)} %`;
    case 'ratio':
    case 'count':
      return formatNumber(value);
    case 'bytes':
      return `${formatNumber(value)} B`;
    case 'ops/usd':
      return `${formatNumber(value)} ops/$`;
    default:
      return `${formatNumber(value)} ${unit}`;
  }
}

/** A 95% confidence interval as "[lo, hi]". */
export function formatInterval(interval: readonly [number, number]): string {
  if (Number.isNaN(interval[0]) || Number.isNaN(interval[1])) return DASH;
  return `[${formatNumber(interval[0])}, ${formatNumber(interval[1])}]`;
}

/** Labels as "topology=ring, agents=10", or "—" when there are none. */
export function formatLabels(labels: Labels | undefined): string {
  const entries = Object.entries(labels ?? {});
  if (entries.length === 0) return DASH;
  return entries.map(([key, value]) => `${key}=${value}`).join(', ');
}

/** A duration in ms as "42 min 5 s" / "12.3 s" / "850 ms". */
export function formatDurationMs(durationMs: number): string {
  if (!Number.isFinite(durationMs) || durationMs < 0) return DASH;
  if (durationMs < 1000) return `${formatNumber(durationMs)} ms`;
  const seconds = durationMs / 1000;
  if (seconds < 60) return `${formatNumber(seconds)} s`;
  const totalSeconds = Math.round(seconds);
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const rest = totalSeconds % 60;
  return hours > 0 ? `${hours} h ${minutes} min ${rest} s` : `${minutes} min ${rest} s`;
}

function significant(value: number, digits: number): string {
  const abs = Math.abs(value);
  const decimals = Math.min(20, Math.max(0, Math.ceil(-Math.log10(abs)) + digits - 1));
  const text = value.toFixed(decimals);
  // Trailing zeros add false precision to tiny values.
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text;
}

function group(integerText: string): string {
  const negative = integerText.startsWith('-');
  const [whole = '', fraction] = (negative ? integerText.slice(1) : integerText).split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${negative ? '-' : ''}${grouped}${fraction === undefined ? '' : `.${fraction}`}`;
}
