/**
 * The call channel between a PluginHost and one plug-in worker: a SharedArrayBuffer holding one
 * call at a time, handed over with Atomics (a futex wake each way) instead of two MessagePort
 * messages (a structured clone, a libuv wake-up and an event-loop turn each way). The window's
 * columns are written straight into shared Float64 columns, which the worker hands the plug-in as
 * views (read in place, no copy); parameters and votes travel as bounded JSON text. An answer is a
 * few numbers (action, confidence, size, compute time) in shared slots; only a signal's optional
 * diagnostics and an error's message travel as text.
 *
 * The worker runs user code, so whatever it writes back is untrusted: the host bounds every length
 * it reads and checks the answer as it would check any frame (see host.ts).
 */
import type { PluginAction, PluginSignal } from './types.ts';

/** The call states of the control word. */
export const IDLE = 0;
export const REQUEST = 1;
export const ANSWER = 2;

/**
 * Control words (Int32): state, call id, call kind, bars, request bytes, answer text bytes, and
 * the answer's id, kind and action.
 */
export const C_STATE = 0;
export const C_ID = 1;
export const C_KIND = 2;
export const C_BARS = 3;
export const C_REQUEST_BYTES = 4;
export const C_ANSWER_BYTES = 5;
const C_ANSWER_ID = 6;
const C_ANSWER_KIND = 7;
const C_ACTION = 8;
/**
 * Clock readings the worker takes during a call (Float64, after the Int32 words), for the round
 * trip's step-by-step breakdown: woke, call read, computed, answer written. Written by user-code's
 * thread, so only ever reported, never trusted.
 */
export const S_WOKE = 0;
export const S_READ = 1;
export const S_COMPUTED = 2;
export const S_ANSWERED = 3;
const STAMPS_OFFSET = 64;
const STAMPS = 4;
/** An answer's numbers (Float64, after the stamps): confidence, size, the plug-in's compute time. */
const A_CONFIDENCE = 0;
const A_SIZE = 1;
const A_COMPUTE_US = 2;
const NUMBERS_OFFSET = STAMPS_OFFSET + STAMPS * 8;
const NUMBERS = 3;
const CONTROL_BYTES = 128;
/** What an answer is (C_ANSWER_KIND), and its action (C_ACTION) as an index of ACTION_CODES. */
const ANSWER_OK = 1;
const ANSWER_ERR = 2;
const ACTION_CODES: readonly PluginAction[] = ['hold', 'buy', 'sell'];

export const KIND_SIGNAL = 1;
export const KIND_DECIDE = 2;

/** Most bars of a window (the protocol's limit). */
export const MAX_BARS = 5_000;
const COLUMNS = ['t', 'open', 'high', 'low', 'close', 'volume'] as const;
export type ColumnName = (typeof COLUMNS)[number];
/** Room for a request's JSON (parameters, or up to 10,000 votes) and for an answer's. */
export const MAX_REQUEST_BYTES = 1024 * 1024;
export const MAX_ANSWER_BYTES = 64 * 1024;

const COLUMNS_OFFSET = CONTROL_BYTES;
const REQUEST_OFFSET = COLUMNS_OFFSET + COLUMNS.length * MAX_BARS * 8;
const ANSWER_OFFSET = REQUEST_OFFSET + MAX_REQUEST_BYTES;
const TOTAL_BYTES = ANSWER_OFFSET + MAX_ANSWER_BYTES;

/** An answer to call `id`, as the worker writes it and the host reads it. */
export type ChannelAnswer =
  | { t: 'ok'; id: number; signal?: PluginSignal; decision?: PluginAction; computeUs: number }
  | { t: 'err'; id: number; error: string };

/** Views over one channel's shared memory (pages are touched only as far as calls use them). */
export class Channel {
  readonly control: Int32Array;
  /** The worker's clock readings of the current call (S_WOKE...), in `clockMs` time. */
  readonly stamps: Float64Array;
  readonly columns: Record<ColumnName, Float64Array>;
  private readonly numbers: Float64Array;
  private readonly bytes: Buffer;
  /** The last views `columnViews` made, kept while the number of bars stays the same. */
  private views: { bars: number; columns: Record<ColumnName, Float64Array> } | undefined;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(TOTAL_BYTES)) {
    if (buffer.byteLength !== TOTAL_BYTES) throw new Error('plug-in channel: wrong buffer size');
    this.control = new Int32Array(buffer, 0, CONTROL_BYTES / 4);
    this.stamps = new Float64Array(buffer, STAMPS_OFFSET, STAMPS);
    this.numbers = new Float64Array(buffer, NUMBERS_OFFSET, NUMBERS);
    this.columns = Object.fromEntries(
      COLUMNS.map((name, i) => [name, new Float64Array(buffer, COLUMNS_OFFSET + i * MAX_BARS * 8, MAX_BARS)]),
    ) as Record<ColumnName, Float64Array>;
    this.bytes = Buffer.from(buffer);
  }

  static readonly columnNames = COLUMNS;

  get state(): number {
    return Atomics.load(this.control, C_STATE);
  }

  /** Write `text` as the request (false when it does not fit). */
  writeRequest(text: string): boolean {
    return this.write(text, REQUEST_OFFSET, MAX_REQUEST_BYTES, C_REQUEST_BYTES);
  }

  /**
   * The first `bars` rows of the shared columns, as views (no copy): the same view objects call
   * after call while the number of bars stays the same.
   */
  columnViews(bars: number): Record<ColumnName, Float64Array> {
    if (this.views?.bars !== bars) {
      const columns = Object.fromEntries(
        COLUMNS.map((name) => [name, this.columns[name].subarray(0, bars)]),
      ) as Record<ColumnName, Float64Array>;
      this.views = { bars, columns };
    }
    return this.views.columns;
  }

  /**
   * Write the answer: its numbers into their slots, a signal's diagnostics or an error's message as
   * text. An answer whose text does not fit becomes an error answer.
   */
  writeAnswer(answer: ChannelAnswer): void {
    const { control, numbers } = this;
    control[C_ANSWER_ID] = answer.id;
    if (answer.t === 'ok') {
      const { signal, decision } = answer;
      const action = signal?.action ?? decision;
      const diagnostics = signal?.diagnostics === undefined ? '' : JSON.stringify(signal.diagnostics);
      if (this.write(diagnostics, ANSWER_OFFSET, MAX_ANSWER_BYTES, C_ANSWER_BYTES)) {
        control[C_ANSWER_KIND] = ANSWER_OK;
        control[C_ACTION] = action === undefined ? -1 : ACTION_CODES.indexOf(action);
        numbers[A_CONFIDENCE] = signal?.confidence ?? Number.NaN;
        numbers[A_SIZE] = signal?.size ?? Number.NaN;
        numbers[A_COMPUTE_US] = answer.computeUs;
        return;
      }
      answer = { t: 'err', id: answer.id, error: `the answer is larger than ${MAX_ANSWER_BYTES / 1024} KiB` };
    }
    control[C_ANSWER_KIND] = ANSWER_ERR;
    this.write(answer.error.slice(0, 500), ANSWER_OFFSET, MAX_ANSWER_BYTES, C_ANSWER_BYTES);
  }

  readRequest(): string {
    return this.read(REQUEST_OFFSET, MAX_REQUEST_BYTES, C_REQUEST_BYTES);
  }

  /**
   * The answer as the worker wrote it, or undefined when it is not one (an unknown kind or
   * action, diagnostics that are not JSON). Lengths are clamped to the answer area whatever the
   * worker wrote; the host checks the values.
   */
  readAnswer(): ChannelAnswer | undefined {
    const { control, numbers } = this;
    const id = control[C_ANSWER_ID] as number;
    const text = this.read(ANSWER_OFFSET, MAX_ANSWER_BYTES, C_ANSWER_BYTES);
    const kind = control[C_ANSWER_KIND];
    if (kind === ANSWER_ERR) return { t: 'err', id, error: text };
    if (kind !== ANSWER_OK) return undefined;
    const action = ACTION_CODES[control[C_ACTION] as number];
    if (action === undefined) return undefined;
    const computeUs = numbers[A_COMPUTE_US] as number;
    const confidence = numbers[A_CONFIDENCE] as number;
    if (Number.isNaN(confidence)) return { t: 'ok', id, decision: action, computeUs };
    const signal: PluginSignal = { action, confidence, size: numbers[A_SIZE] as number };
    if (text !== '') {
      try {
        signal.diagnostics = JSON.parse(text) as Record<string, number>;
      } catch {
        return undefined;
      }
    }
    return { t: 'ok', id, signal, computeUs };
  }

  /** Publish the control word and wake whoever waits on it. */
  signal(state: number): void {
    Atomics.store(this.control, C_STATE, state);
    Atomics.notify(this.control, C_STATE);
  }

  private write(text: string, offset: number, room: number, lengthWord: number): boolean {
    if (text.length * 3 > room && Buffer.byteLength(text) > room) return false;
    const written = text === '' ? 0 : this.bytes.write(text, offset, room, 'utf8');
    this.control[lengthWord] = written;
    return true;
  }

  private read(offset: number, room: number, lengthWord: number): string {
    const length = Math.max(0, Math.min(room, this.control[lengthWord] ?? 0));
    return length === 0 ? '' : this.bytes.toString('utf8', offset, offset + length);
  }
}

/**
 * A clock both ends of a channel read alike, in milliseconds: the process's monotonic clock
 * (performance.now() counts from each thread's own start).
 */
export function clockMs(): number {
  const [seconds, nanoseconds] = process.hrtime();
  return seconds * 1e3 + nanoseconds / 1e6;
}

/** A gap this long between two looks of a spin means the thread was preempted. */
const PREEMPTED_MS = 0.1;
/** How long spinning stays off after a preemption. */
const BACKOFF_MS = 1000;

/**
 * Bounded polling of a channel's state word, instead of a futex wake-up (on a VM, an
 * inter-processor interrupt and a halted vCPU's exit), for a hand-over expected soon. It backs
 * off when it is preempted: on a contended CPU a spinning thread only delays the thread it waits
 * for, and loses the priority a sleeping thread has when it is woken.
 */
export class Spin {
  private offUntil = Number.NEGATIVE_INFINITY;

  /** @param now the clock deadlines are in, milliseconds. @default performance.now */
  constructor(readonly now: () => number = () => performance.now()) {}

  /**
   * Poll while the state is `value`, until `deadline` (this spin's clock): whether it changed.
   * False at once while backing off.
   */
  until(control: Int32Array, value: number, deadline: number): boolean {
    let last = this.now();
    if (last < this.offUntil) return false;
    for (;;) {
      for (let i = 0; i < 64; i++) if (Atomics.load(control, C_STATE) !== value) return true;
      const now = this.now();
      if (now - last > PREEMPTED_MS) {
        this.offUntil = now + BACKOFF_MS;
        return false;
      }
      if (now >= deadline) return false;
      last = now;
    }
  }
}

/** `Atomics.waitAsync` (Node 16+; typed here because the project's TypeScript lib predates ES2024). */
export function waitAsync(
  control: Int32Array,
  index: number,
  value: number,
): { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> } {
  return (
    Atomics as unknown as {
      waitAsync: (
        array: Int32Array,
        index: number,
        value: number,
      ) =>
        | { async: false; value: 'not-equal' | 'timed-out' }
        | { async: true; value: Promise<'ok' | 'timed-out'> };
    }
  ).waitAsync(control, index, value);
}
