/**
 * The binary frame of the two coordinator requests that carry a market window: `execute`, and
 * `propose` with a shipped window. A 500-bar window is about 47 KB of JSON whose stringify, parse
 * and schema walk cost over a millisecond a round trip; as Float64 columns it is 24 KB that the
 * agent reads through typed-array views of the received bytes. Every other frame stays JSON.
 *
 * Layout (little-endian; every section starts on an 8-byte boundary of the frame):
 *
 *   0  u8   magic 0x57 ('W')          1  u8  layout version (1)
 *   2  u8   op: 1 execute, 2 propose  3  u8  flags: which optional fields are present
 *   4  u32  bars                       8  f64 request id
 *  16  f64  quorum                    24  f64 timeoutMs            32  f64 at
 *  40  u32  strategy name bytes (UTF-8)                            44  u32 reserved, 0
 *  48  strategy name, zero-padded to a multiple of 8 bytes
 *   …  six Float64 columns of `bars` values each: t, open, high, low, close, volume
 *
 * `decodeWindowFrame` enforces exactly what `requestSchema` (protocol.ts) enforces on the same
 * request sent as JSON (test/unit/window-frame.test.ts holds the two equal), plus the frame's own
 * shape: exact length (no truncated or trailing bytes), zero padding, reserved bits and absent
 * fields, no field the op does not take, a name of valid UTF-8. A frame it refuses takes the same
 * path as a refused JSON frame.
 */
import type { Bar } from '../trading/types.ts';
import { MAX_WINDOW_BARS } from './protocol.ts';

export const WINDOW_FRAME_MAGIC = 0x57;
export const WINDOW_FRAME_LAYOUT = 1;
export const OP_EXECUTE = 1;
export const OP_PROPOSE = 2;
export const FLAG_STRATEGY = 1;
export const FLAG_QUORUM = 2;
export const FLAG_TIMEOUT = 4;
export const FLAG_AT = 8;
export const HEADER_BYTES = 48;
/** Header offsets, for tests that damage one field. */
export const OFFSET = {
  magic: 0,
  layout: 1,
  op: 2,
  flags: 3,
  bars: 4,
  id: 8,
  quorum: 16,
  timeoutMs: 24,
  at: 32,
  strategyBytes: 40,
  reserved: 44,
} as const;

/** Longest strategy name the schema takes (zod counts code points), and its most UTF-8 bytes. */
const MAX_STRATEGY_CHARS = 64;
const MAX_STRATEGY_BYTES = MAX_STRATEGY_CHARS * 4;
const MAX_TIMEOUT_MS = 600_000;
const DEFAULT_TIMEOUT_MS = 5_000;

export const COLUMN_NAMES = ['t', 'open', 'high', 'low', 'close', 'volume'] as const;
export type ColumnName = (typeof COLUMN_NAMES)[number];
/** A window as Float64 columns of equal length (views of a received frame, or of the frame being built). */
export type Float64Columns = Record<ColumnName, Float64Array>;

/** The optional numeric fields: flag and offset. */
const OPTIONAL_NUMBERS = [
  [FLAG_QUORUM, OFFSET.quorum],
  [FLAG_TIMEOUT, OFFSET.timeoutMs],
  [FLAG_AT, OFFSET.at],
] as const;

/** Allowed flags per op. */
const OP_FLAGS: Record<number, number> = {
  [OP_EXECUTE]: FLAG_STRATEGY,
  [OP_PROPOSE]: FLAG_QUORUM | FLAG_TIMEOUT | FLAG_AT,
};

/** What a decoded frame asks: the request `requestSchema` would produce, the window as Float64 columns. */
export type WindowRequest =
  | { t: 'req'; id: number; op: 'execute'; strategy?: string; window: Float64Columns }
  | {
      t: 'req';
      id: number;
      op: 'propose';
      window: Float64Columns;
      at?: number;
      quorum?: number;
      timeoutMs: number;
    };

/**
 * A refused frame: `id` when the header is readable (for the reply), `unknown` for an op code this
 * agent does not know (counted like an unknown JSON op), and the field that failed in `message`.
 */
export interface WindowFrameRefusal {
  id: number | undefined;
  unknown: boolean;
  message: string;
}

// ignoreBOM keeps a leading U+FEFF in the name, as JSON would.
const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const isInt = Number.isSafeInteger;

/** Bytes of the strategy section (the name padded to 8). */
const padded = (bytes: number): number => (bytes + 7) & ~7;

/**
 * The request a binary frame carries, or why it is refused. The columns are views of `frame`'s
 * memory when it sits on an 8-byte boundary (the usual case), else of one aligned copy.
 */
export function decodeWindowFrame(frame: Uint8Array): WindowRequest | WindowFrameRefusal {
  const refuse = (message: string, id?: number, unknown = false): WindowFrameRefusal => ({
    id: id !== undefined && Number.isFinite(id) ? id : undefined,
    unknown,
    message,
  });
  if (frame.byteLength < HEADER_BYTES) {
    return refuse(`frame: a binary frame has a ${HEADER_BYTES}-byte header (got ${frame.byteLength} bytes)`);
  }
  if (frame[OFFSET.magic] !== WINDOW_FRAME_MAGIC || frame[OFFSET.layout] !== WINDOW_FRAME_LAYOUT) {
    return refuse(`frame: not a window frame (magic ${WINDOW_FRAME_MAGIC}, layout ${WINDOW_FRAME_LAYOUT})`);
  }
  let bytes = frame;
  if (bytes.byteOffset % 8 !== 0) {
    bytes = new Uint8Array(frame.byteLength);
    bytes.set(frame);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const id = view.getFloat64(OFFSET.id, true);
  const op = view.getUint8(OFFSET.op);
  const allowed = OP_FLAGS[op];
  if (allowed === undefined) return refuse(`unknown op code ${op}`, id, true);
  if (!isInt(id)) return refuse('id: expected an integer', id);
  const flags = view.getUint8(OFFSET.flags);
  if ((flags & ~allowed) !== 0)
    return refuse(`flags: ${flags} names a field ${opName(op)} does not take`, id);
  if (view.getUint32(OFFSET.reserved, true) !== 0) return refuse('frame: reserved header bits must be 0', id);
  for (const [flag, offset] of OPTIONAL_NUMBERS) {
    if ((flags & flag) === 0 && view.getBigUint64(offset, true) !== 0n) {
      return refuse('frame: a field whose flag is absent must be 0', id);
    }
  }
  const bars = view.getUint32(OFFSET.bars, true);
  if (bars > MAX_WINDOW_BARS) return refuse(`window: at most ${MAX_WINDOW_BARS} bars (got ${bars})`, id);
  const nameBytes = view.getUint32(OFFSET.strategyBytes, true);
  if (nameBytes > 0 && (flags & FLAG_STRATEGY) === 0)
    return refuse('frame: a name without the strategy flag', id);
  if (nameBytes > MAX_STRATEGY_BYTES) {
    return refuse(`strategy: at most ${MAX_STRATEGY_CHARS} characters`, id);
  }
  const columnsAt = HEADER_BYTES + padded(nameBytes);
  const expected = columnsAt + bars * 8 * COLUMN_NAMES.length;
  if (bytes.byteLength !== expected) {
    return refuse(
      `frame: ${bars} bars and a ${nameBytes}-byte name take ${expected} bytes (got ${bytes.byteLength})`,
      id,
    );
  }
  for (let i = HEADER_BYTES + nameBytes; i < columnsAt; i++) {
    if (bytes[i] !== 0) return refuse('frame: the name padding must be 0', id);
  }

  const columns = {} as Float64Columns;
  for (let c = 0; c < COLUMN_NAMES.length; c++) {
    const column = new Float64Array(bytes.buffer, bytes.byteOffset + columnsAt + c * bars * 8, bars);
    for (let i = 0; i < bars; i++) {
      const value = column[i] as number;
      // Finite, as every number JSON can carry (NaN and Infinity do not survive JSON.stringify).
      if (value - value !== 0) {
        return refuse(`window.${COLUMN_NAMES[c]}.${i}: expected a finite number, got ${value}`, id);
      }
    }
    columns[COLUMN_NAMES[c] as ColumnName] = column;
  }

  if (op === OP_EXECUTE) {
    const request: WindowRequest = { t: 'req', id, op: 'execute', window: columns };
    if (flags & FLAG_STRATEGY) {
      let strategy: string;
      try {
        strategy = strict.decode(bytes.subarray(HEADER_BYTES, HEADER_BYTES + nameBytes));
      } catch {
        return refuse('strategy: not valid UTF-8', id);
      }
      if (strategy.length > MAX_STRATEGY_CHARS && codePoints(strategy) > MAX_STRATEGY_CHARS) {
        return refuse(`strategy: at most ${MAX_STRATEGY_CHARS} characters`, id);
      }
      request.strategy = strategy;
    }
    return request;
  }
  const request: WindowRequest = {
    t: 'req',
    id,
    op: 'propose',
    window: columns,
    timeoutMs: DEFAULT_TIMEOUT_MS,
  };
  if (flags & FLAG_QUORUM) {
    const quorum = view.getFloat64(OFFSET.quorum, true);
    if (!isInt(quorum) || quorum < 1) return refuse('quorum: expected an integer >= 1', id);
    request.quorum = quorum;
  }
  if (flags & FLAG_TIMEOUT) {
    const timeoutMs = view.getFloat64(OFFSET.timeoutMs, true);
    if (!isInt(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS) {
      return refuse(`timeoutMs: expected an integer from 1 to ${MAX_TIMEOUT_MS}`, id);
    }
    request.timeoutMs = timeoutMs;
  }
  if (flags & FLAG_AT) {
    const at = view.getFloat64(OFFSET.at, true);
    if (!isInt(at) || at < 0) return refuse('at: expected an integer >= 0', id);
    request.at = at;
  }
  return request;
}

/** Code points of well-formed text (a surrogate pair is one). */
function codePoints(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0xdc00 || unit > 0xdfff) count++;
  }
  return count;
}

/** Whether `decodeWindowFrame` refused. */
export function isRefusal(decoded: WindowRequest | WindowFrameRefusal): decoded is WindowFrameRefusal {
  return !('t' in decoded);
}

/** No lone surrogate (UTF-8 could not carry it; `String.prototype.isWellFormed`, ES2024). */
const wellFormed = (text: string): boolean => (text as string & { isWellFormed(): boolean }).isWellFormed();

const opName = (op: number): string => (op === OP_EXECUTE ? 'execute' : 'propose');

/** A window the encoder takes: bar objects, or columns of numbers (the JSON wire forms). */
export type WindowSource = ReadonlyArray<Bar> | { readonly [K in ColumnName]: readonly number[] };

/** The request bodies a window frame can carry. */
export type WindowBody =
  | { op: 'execute'; window: WindowSource; strategy?: string }
  | { op: 'propose'; window: WindowSource; at?: number; quorum?: number; timeoutMs?: number };

/**
 * `body` (an `execute`, or a `propose` with a window) as a binary frame with request id `id`; or
 * undefined when the body holds something the frame cannot state exactly (a value that is not a
 * number, columns of different lengths, a name that is not well-formed text), which then travels
 * as JSON and meets the schema. Numbers are written as they are, NaN and all, for the agent to
 * judge; -0 is written as 0, as JSON would carry it.
 */
export function encodeWindowFrame(
  id: number,
  body: { readonly op: string; readonly [field: string]: unknown },
): Buffer | undefined {
  if (body.op !== 'execute' && body.op !== 'propose') return undefined;
  const window = body.window;
  if (window === undefined || window === null || typeof window !== 'object') return undefined;
  const fields = body as { strategy?: unknown; quorum?: unknown; timeoutMs?: unknown; at?: unknown };
  let flags = 0;
  let name: Buffer | undefined;
  if (body.op === 'execute' && fields.strategy !== undefined) {
    if (typeof fields.strategy !== 'string' || !wellFormed(fields.strategy)) return undefined;
    name = Buffer.from(fields.strategy, 'utf8');
    flags |= FLAG_STRATEGY;
  }
  const numbers: [unknown, number, number][] =
    body.op === 'propose'
      ? [
          [fields.quorum, FLAG_QUORUM, OFFSET.quorum],
          [fields.timeoutMs, FLAG_TIMEOUT, OFFSET.timeoutMs],
          [fields.at, FLAG_AT, OFFSET.at],
        ]
      : [];
  for (const [value] of numbers) if (value !== undefined && typeof value !== 'number') return undefined;

  const bars = windowLength(window as WindowSource);
  if (bars === undefined) return undefined;
  const nameBytes = name?.byteLength ?? 0;
  const columnsAt = HEADER_BYTES + padded(nameBytes);
  const frame = Buffer.from(new ArrayBuffer(columnsAt + bars * 8 * COLUMN_NAMES.length));
  const columns = {} as Float64Columns;
  for (let c = 0; c < COLUMN_NAMES.length; c++) {
    columns[COLUMN_NAMES[c] as ColumnName] = new Float64Array(frame.buffer, columnsAt + c * bars * 8, bars);
  }
  if (!writeWindow(window as WindowSource, columns, bars)) return undefined;

  const view = new DataView(frame.buffer);
  view.setUint8(OFFSET.magic, WINDOW_FRAME_MAGIC);
  view.setUint8(OFFSET.layout, WINDOW_FRAME_LAYOUT);
  view.setUint8(OFFSET.op, body.op === 'execute' ? OP_EXECUTE : OP_PROPOSE);
  view.setUint32(OFFSET.bars, bars, true);
  // -0 goes as 0 (JSON's "0"), so both wire forms carry the same request.
  view.setFloat64(OFFSET.id, id === 0 ? 0 : id, true);
  for (const [value, flag, offset] of numbers) {
    if (value === undefined) continue;
    view.setFloat64(offset, value === 0 ? 0 : (value as number), true);
    flags |= flag;
  }
  view.setUint8(OFFSET.flags, flags);
  view.setUint32(OFFSET.strategyBytes, nameBytes, true);
  name?.copy(frame, HEADER_BYTES);
  return frame;
}

/** Bars of a window, or undefined when it is neither an array nor six columns of one length. */
function windowLength(window: WindowSource): number | undefined {
  if (Array.isArray(window)) return window.length;
  const columns = window as { [K in ColumnName]?: unknown };
  const t = columns.t;
  if (!Array.isArray(t)) return undefined;
  for (const name of COLUMN_NAMES) {
    const column = columns[name];
    if (!Array.isArray(column) || column.length !== t.length) return undefined;
  }
  return t.length;
}

/**
 * Copy the window into the frame's columns; false when a value is not a number. Field by field
 * with fixed names (a loop over the names costs 30 times more); `+ 0` turns -0 into 0.
 */
function writeWindow(window: WindowSource, to: Float64Columns, bars: number): boolean {
  const { t, open, high, low, close, volume } = to;
  if (Array.isArray(window)) {
    const list = window as ReadonlyArray<Bar | null | undefined>;
    for (let i = 0; i < bars; i++) {
      const bar = list[i];
      if (bar === null || bar === undefined) return false;
      const { t: bt, open: bo, high: bh, low: bl, close: bc, volume: bv } = bar;
      if (
        typeof bt !== 'number' ||
        typeof bo !== 'number' ||
        typeof bh !== 'number' ||
        typeof bl !== 'number' ||
        typeof bc !== 'number' ||
        typeof bv !== 'number'
      ) {
        return false;
      }
      t[i] = bt + 0;
      open[i] = bo + 0;
      high[i] = bh + 0;
      low[i] = bl + 0;
      close[i] = bc + 0;
      volume[i] = bv + 0;
    }
    return true;
  }
  const from = window as { readonly [K in ColumnName]: readonly unknown[] };
  return (
    copyColumn(from.t, t, bars) &&
    copyColumn(from.open, open, bars) &&
    copyColumn(from.high, high, bars) &&
    copyColumn(from.low, low, bars) &&
    copyColumn(from.close, close, bars) &&
    copyColumn(from.volume, volume, bars)
  );
}

function copyColumn(source: readonly unknown[], target: Float64Array, bars: number): boolean {
  for (let i = 0; i < bars; i++) {
    const value = source[i];
    if (typeof value !== 'number') return false;
    target[i] = value + 0;
  }
  return true;
}
