/**
 * How the process that owns a run stops, the way a database server does:
 *
 * - the first SIGINT, SIGTERM or SIGHUP (or the parent process going away) starts a graceful stop:
 *   the run is aborted, its agents are killed, and the run records what completed, is stored
 *   `interrupted` and writes a partial report; the caller then exits with 128 + the signal number;
 * - more signals within `relayWindowMs` of the first are relays of the same interrupt (tsx sends a
 *   second SIGINT about 30 ms after the terminal's; npm forwards SIGTERM to its child) and are
 *   counted, not acted on;
 * - a signal after that window is deliberate and forces the exit: every agent is killed
 *   synchronously, the run is closed as `interrupted` within `forceWriteMs` if the store answers
 *   (otherwise the next command closes it as `abandoned` from its stale heartbeat), then exit;
 * - a graceful stop that has not finished after `graceMs` is forced the same way.
 *
 * Library code installs no handlers; the CLI does, through this module, with `process` as host.
 * Tests pass a fake host and clock.
 */
import { constants } from 'node:os';

/** What started a stop. */
export type StopCause =
  | { kind: 'signal'; signal: NodeJS.Signals }
  | { kind: 'parent-exit'; pid: number; command: string };

/** The part of `process` the controller touches. */
export interface SignalHost {
  on(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  off(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  exit(code: number): void;
}

export interface Timers {
  now(): number;
  /** Runs `fn` after `ms`; the returned function cancels it. Must not keep the process alive. */
  after(ms: number, fn: () => void): () => void;
}

export interface ShutdownOptions {
  /** Graceful stop: abort the run (and kill its agents); called once, with the first cause. */
  onStop(cause: StopCause): void;
  /** Forced exit: kill every agent synchronously (process groups of local sandboxes). */
  killNow(): void;
  /** Forced exit: close the run (`interrupted`) if possible; bounded by `forceWriteMs`. */
  onForce?(cause: StopCause, why: string): Promise<void>;
  host?: SignalHost;
  timers?: Timers;
  /** Signals closer than this to the first one are relays, not a second request. @default 1000 */
  relayWindowMs?: number;
  /** Longest graceful stop before it is forced. @default 15000 */
  graceMs?: number;
  /** Longest wait for onForce before exiting anyway. @default 2000 */
  forceWriteMs?: number;
  signals?: readonly NodeJS.Signals[];
}

export interface ShutdownController {
  /** The first cause, once a stop started. */
  readonly cause: StopCause | undefined;
  /** Signals ignored as relays of the first. */
  readonly relays: number;
  /** Whether the exit was forced (second deliberate signal or grace exceeded). */
  readonly forced: boolean;
  /** A stop requested from outside (the parent went away); never escalates to a forced exit. */
  request(cause: StopCause): void;
  /** 128 + the signal number of the first cause (129 for a parent gone), or undefined if none. */
  exitCode(): number | undefined;
  /** The run ended by itself: cancel the grace timer and remove the listeners. */
  dispose(): void;
}

export const SHUTDOWN_DEFAULTS = {
  relayWindowMs: 1_000,
  graceMs: 15_000,
  forceWriteMs: 2_000,
  signals: ['SIGINT', 'SIGTERM', 'SIGHUP'] as readonly NodeJS.Signals[],
};

export const realTimers: Timers = {
  now: () => performance.now(),
  after(ms, fn) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};

/** The exit code for a cause: the shell's 128 + signal number; a lost parent counts as SIGHUP. */
export function exitCodeOf(cause: StopCause): number {
  const signal = cause.kind === 'signal' ? cause.signal : 'SIGHUP';
  return 128 + (constants.signals[signal] ?? 0);
}

export function describeCause(cause: StopCause): string {
  return cause.kind === 'signal' ? cause.signal : `parent process ${cause.pid} (${cause.command}) exiting`;
}

export function installShutdown(options: ShutdownOptions): ShutdownController {
  const host = options.host ?? process;
  const timers = options.timers ?? realTimers;
  const relayWindowMs = options.relayWindowMs ?? SHUTDOWN_DEFAULTS.relayWindowMs;
  const graceMs = options.graceMs ?? SHUTDOWN_DEFAULTS.graceMs;
  const forceWriteMs = options.forceWriteMs ?? SHUTDOWN_DEFAULTS.forceWriteMs;
  const signals = options.signals ?? SHUTDOWN_DEFAULTS.signals;

  let cause: StopCause | undefined;
  let firstAt = 0;
  let relays = 0;
  let forced = false;
  let disposed = false;
  let cancelGrace = (): void => {};

  const force = (why: string): void => {
    if (forced || cause === undefined) return;
    forced = true;
    cancelGrace();
    const code = exitCodeOf(cause);
    try {
      options.killNow();
    } catch {
      // exiting anyway; the agents also die when our stdin pipes to them close
    }
    const write = options.onForce?.(cause, why).catch(() => undefined) ?? Promise.resolve();
    let exited = false;
    const exit = (): void => {
      if (exited) return;
      exited = true;
      host.exit(code);
    };
    timers.after(forceWriteMs, exit);
    void write.then(exit);
  };

  const start = (first: StopCause): void => {
    cause = first;
    firstAt = timers.now();
    cancelGrace = timers.after(graceMs, () => {
      if (!disposed) force(`the graceful stop took longer than ${graceMs} ms`);
    });
    try {
      options.onStop(first);
    } catch {
      force('the graceful stop failed');
    }
  };

  const listener = (signal: NodeJS.Signals): void => {
    if (disposed) return;
    if (cause === undefined) {
      start({ kind: 'signal', signal });
      return;
    }
    if (timers.now() - firstAt < relayWindowMs) {
      relays++;
      return;
    }
    force(`a second ${signal} after ${Math.round(timers.now() - firstAt)} ms`);
  };
  for (const signal of signals) host.on(signal, listener);

  return {
    get cause() {
      return cause;
    },
    get relays() {
      return relays;
    },
    get forced() {
      return forced;
    },
    request(external) {
      if (disposed || cause !== undefined) return;
      start(external);
    },
    exitCode: () => (cause === undefined ? undefined : exitCodeOf(cause)),
    dispose() {
      if (disposed) return;
      disposed = true;
      cancelGrace();
      for (const signal of signals) host.off(signal, listener);
    },
  };
}
