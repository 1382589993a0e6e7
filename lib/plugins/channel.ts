/**
 * The call channel between a PluginHost and one plug-in worker: a SharedArrayBuffer holding one
 * call at a time, handed over with Atomics (a futex wake each way) instead of two MessagePort
 * messages (a structured clone, a libuv wake-up and an event-loop turn each way). The window's
 * columns are written straight into shared Float64 columns; parameters, votes and answers travel as
 * bounded JSON text.
 *
 * The worker runs user code, so whatever it writes back is untrusted: the host bounds every length
 * it reads and checks the answer as it would check any frame (see host.ts).
 */

/** The call states of the control word. */
export const IDLE = 0;
export const REQUEST = 1;
export const ANSWER = 2;

/** Control words (Int32): state, call id, call kind, bars, request bytes, answer bytes. */
export const C_STATE = 0;
export const C_ID = 1;
export const C_KIND = 2;
export const C_BARS = 3;
export const C_REQUEST_BYTES = 4;
export const C_ANSWER_BYTES = 5;
/**
 * Clock readings the worker takes during a call (Float64, after the Int32 words), for the round
 * trip's step-by-step breakdown: woke, call read, computed, answer written. Written by user-code's
 * thread, so only ever reported, never trusted.
 */
export const S_WOKE = 0;
export const S_READ = 1;
export const S_COMPUTED = 2;
export const S_ANSWERED = 3;
const STAMPS_OFFSET = 32;
const STAMPS = 4;
const CONTROL_BYTES = 64;

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

/** Views over one channel's shared memory (pages are touched only as far as calls use them). */
export class Channel {
  readonly control: Int32Array;
  /** The worker's clock readings of the current call (S_WOKE...), in `clockMs` time. */
  readonly stamps: Float64Array;
  readonly columns: Record<ColumnName, Float64Array>;
  private readonly bytes: Buffer;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(TOTAL_BYTES)) {
    if (buffer.byteLength !== TOTAL_BYTES) throw new Error('plug-in channel: wrong buffer size');
    this.control = new Int32Array(buffer, 0, CONTROL_BYTES / 4);
    this.stamps = new Float64Array(buffer, STAMPS_OFFSET, STAMPS);
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

  /** Write `text` as the answer (false when it does not fit). */
  writeAnswer(text: string): boolean {
    return this.write(text, ANSWER_OFFSET, MAX_ANSWER_BYTES, C_ANSWER_BYTES);
  }

  readRequest(): string {
    return this.read(REQUEST_OFFSET, MAX_REQUEST_BYTES, C_REQUEST_BYTES);
  }

  /** The answer text; its length is clamped to the answer area whatever the worker wrote. */
  readAnswer(): string {
    return this.read(ANSWER_OFFSET, MAX_ANSWER_BYTES, C_ANSWER_BYTES);
  }

  /** Publish the control word and wake whoever waits on it. */
  signal(state: number): void {
    Atomics.store(this.control, C_STATE, state);
    Atomics.notify(this.control, C_STATE);
  }

  private write(text: string, offset: number, room: number, lengthWord: number): boolean {
    if (text.length * 3 > room && Buffer.byteLength(text) > room) return false;
    const written = this.bytes.write(text, offset, room, 'utf8');
    this.control[lengthWord] = written;
    return true;
  }

  private read(offset: number, room: number, lengthWord: number): string {
    const length = Math.max(0, Math.min(room, this.control[lengthWord] ?? 0));
    return this.bytes.toString('utf8', offset, offset + length);
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
