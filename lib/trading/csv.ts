/**
 * OHLCV CSV loading. Strict on purpose: a benchmark fed a silently mangled file measures nothing
 * useful, so every problem names its line (1-based, header = row 1) and column.
 */
import { readFile } from 'node:fs/promises';
import { InvalidInputError } from '../errors.ts';
import type { Bar } from './types.ts';

/** Options of `parseCsv`. */
export interface ParseCsvOptions {
  /** Where the text came from (a path), used as the prefix of error fields. @default "csv" */
  source?: string;
}

const TIME_COLUMNS = ['timestamp', 'time', 'date', 'datetime'] as const;
const PRICE_COLUMNS = ['open', 'high', 'low', 'close'] as const;
const REQUIRED = `a time column (${TIME_COLUMNS.join('|')}) and open, high, low, close, volume`;
/** Epoch values below this are seconds (1e11 s is the year 5138; 1e11 ms is 1973). */
const SECONDS_BELOW = 1e11;
const ISO_DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/i;

interface ColumnIndex {
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

/** Bars from OHLCV CSV text with a header; columns in any order and case, extra columns ignored. */
export function parseCsv(text: string, options: ParseCsvOptions = {}): Bar[] {
  const source = options.source ?? 'csv';
  if (typeof text !== 'string') throw new InvalidInputError(source, 'CSV text', typeof text);
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const headerIndex = lines.findIndex((line) => line.trim() !== '');
  if (headerIndex < 0) throw new InvalidInputError(source, `a header with ${REQUIRED} and data rows`, text);
  const header = splitFields(lines[headerIndex] ?? '').map((name) => name.toLowerCase());
  const headerRow = headerIndex + 1;
  const index = columnIndex(header, `${source} row ${headerRow}`);
  const timeName = header[index.time] ?? 'timestamp';

  const bars: Bar[] = [];
  for (let i = headerIndex + 1; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line.trim() === '') continue;
    const row = i + 1;
    const fields = splitFields(line);
    const at = (column: string) => `${source} row ${row} column "${column}"`;
    const field = (position: number, column: string): string => {
      const value = fields[position];
      if (value === undefined || value === '') {
        throw new InvalidInputError(
          at(column),
          `a value (row has ${fields.length} of ${header.length} fields)`,
        );
      }
      return value;
    };
    const number = (position: number, column: string, positive: boolean): number => {
      const raw = field(position, column);
      const value = Number(raw);
      if (!Number.isFinite(value) || value < 0 || (positive && value === 0)) {
        throw new InvalidInputError(at(column), positive ? 'a number > 0' : 'a number >= 0', raw);
      }
      return value;
    };

    const t = parseTime(field(index.time, timeName), at(timeName));
    const [open, high, low, close] = PRICE_COLUMNS.map((column) => number(index[column], column, true)) as [
      number,
      number,
      number,
      number,
    ];
    const volume = number(index.volume, 'volume', false);
    if (high < low) throw new InvalidInputError(at('high'), `a value >= low (${low})`, high);
    if (high < Math.max(open, close)) {
      throw new InvalidInputError(at('high'), `a value >= open and close (${Math.max(open, close)})`, high);
    }
    if (low > Math.min(open, close)) {
      throw new InvalidInputError(at('low'), `a value <= open and close (${Math.min(open, close)})`, low);
    }
    const previous = bars[bars.length - 1];
    if (previous !== undefined && t <= previous.t) {
      const what = t === previous.t ? 'a timestamp not seen before' : 'timestamps in ascending order';
      throw new InvalidInputError(
        at(timeName),
        `${what} (previous ${new Date(previous.t).toISOString()})`,
        t,
      );
    }
    bars.push({ t, open, high, low, close, volume });
  }
  if (bars.length === 0) throw new InvalidInputError(source, 'at least one data row after the header');
  return bars;
}

/** Reads and parses an OHLCV CSV file; the caller decides the path. */
export async function loadCsv(path: string): Promise<Bar[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES') {
      throw new InvalidInputError('csv path', `a readable file (${code})`, path);
    }
    throw error;
  }
  return parseCsv(text, { source: path });
}

function splitFields(line: string): string[] {
  return line.split(',').map((field) =>
    field
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .trim(),
  );
}

function columnIndex(header: string[], at: string): ColumnIndex {
  const find = (name: string): number => {
    const first = header.indexOf(name);
    if (first >= 0 && header.indexOf(name, first + 1) >= 0) {
      throw new InvalidInputError(`${at} column "${name}"`, 'each column once', header);
    }
    return first;
  };
  const times = TIME_COLUMNS.map(find).filter((i) => i >= 0);
  if (times.length !== 1) {
    const allowed = times.length === 0 ? `one of ${TIME_COLUMNS.join(', ')}` : 'exactly one time column';
    throw new InvalidInputError(`${at} column "timestamp"`, allowed, header);
  }
  const result: ColumnIndex = { time: times[0] ?? 0, open: 0, high: 0, low: 0, close: 0, volume: 0 };
  for (const name of [...PRICE_COLUMNS, 'volume'] as const) {
    const i = find(name);
    if (i < 0) throw new InvalidInputError(`${at} column "${name}"`, `a header with ${REQUIRED}`, header);
    result[name] = i;
  }
  return result;
}

function parseTime(raw: string, at: string): number {
  if (/^-?\d+(?:\.\d+)?$/.test(raw)) {
    const value = Number(raw);
    const ms = Math.round(Math.abs(value) < SECONDS_BELOW ? value * 1000 : value);
    if (Number.isSafeInteger(ms)) return ms;
  } else {
    const match = ISO_DATE.exec(raw);
    // Date.parse rolls 2024-02-31 over into March; a typo must not become a valid bar.
    if (match !== null && validCalendarFields(match)) {
      const zone = match[7];
      let iso = raw.replace(' ', 'T');
      // Without an offset, Date.parse reads a date-time in the machine's zone; pin it to UTC.
      if (zone === undefined && raw.length > 10) iso += 'Z';
      else if (zone !== undefined && /^[+-]\d{4}$/.test(zone)) iso = `${iso.slice(0, -2)}:${iso.slice(-2)}`;
      const ms = Date.parse(iso);
      if (Number.isFinite(ms)) return ms;
    }
  }
  throw new InvalidInputError(at, 'an ISO 8601 date or epoch milliseconds/seconds', raw);
}

function validCalendarFields(match: RegExpExecArray): boolean {
  const [year, month, day, hour = 0, minute = 0, second = 0] = match.slice(1, 7).map((v) => Number(v ?? 0));
  if (year === undefined || month === undefined || day === undefined) return false;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return (
    month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && hour < 24 && minute < 60 && second < 60
  );
}
