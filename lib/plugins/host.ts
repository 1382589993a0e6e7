/**
 * Runs plug-ins inside an agent, each module in its own worker thread, so user code cannot take
 * the agent (or another plug-in) down with it:
 *
 * - an exception fails that call only (`PluginError`, reason `error`);
 * - a call past its deadline terminates the worker (V8 stops even a `while (true)`), fails the
 *   calls in flight on it (`timeout`), and the next call starts a fresh worker;
 * - a heap blow-up hits the worker's `resourceLimits` and ends that worker only (`memory`); memory
 *   outside the JS heap (typed arrays, Buffers) is caught by a watchdog on the process's resident
 *   size while a call runs (`memory` too);
 * - a plug-in that keeps hanging or blowing up is quarantined after a few such failures in a row:
 *   its calls then fail at once instead of each waiting out the deadline.
 *
 * Why worker threads and not a `vm` context: `vm`'s timeout interrupts synchronous code only in
 * the calling thread and it has no memory limit at all, so a 1 GiB allocation would kill the
 * agent. Why not a child process: a worker's round trip is a hand-over between threads (tens of
 * microseconds; bench/plugins.ts measures it), a process's is a pipe and a second event loop.
 *
 * Calls travel on a shared-memory channel (channel.ts), one at a time per plug-in. The agent's
 * thread first waits for the answer, blocked (`syncWaitMs`, a few milliseconds: as long as a
 * built-in strategy would hold the thread computing), so a quick plug-in's answer is handed back
 * as a value, without an event-loop turn or a promise, as a built-in's is; a slower call is then
 * awaited asynchronously, its deadline timer armed for what is left of `callTimeoutMs`. Either
 * thread can poll the channel instead of sleeping (`spinUs` for the agent's, `workerSpinUs` for a
 * worker between calls of a series); both are off by default, as on a 2-vCPU machine a polling
 * thread takes the CPU the other one needs. Polls are bounded and happen only around calls: an
 * idle plug-in costs no CPU.
 */
import { Worker } from 'node:worker_threads';
import { writeBars } from '../trading/columns.ts';
import type { BarWindow } from '../trading/types.ts';
import {
  ANSWER,
  C_BARS,
  C_ID,
  C_KIND,
  C_STATE,
  Channel,
  type ChannelAnswer,
  clockMs,
  IDLE,
  KIND_DECIDE,
  KIND_SIGNAL,
  MAX_BARS,
  REQUEST,
  S_ANSWERED,
  S_COMPUTED,
  S_READ,
  S_WOKE,
  Spin,
  waitAsync,
} from './channel.ts';
import { ACTIONS, checkSignal } from './checks.ts';
import type {
  Plugin,
  PluginAction,
  PluginDescription,
  PluginParams,
  PluginSignal,
  PluginVote,
} from './types.ts';
import type { FromWorker, PluginWorkerData } from './worker.ts';

/** Why a plug-in call failed. */
export type PluginFailure = 'error' | 'timeout' | 'memory' | 'crashed' | 'quarantined' | 'invalid';

/** A plug-in call that failed; `plugin` names whose series it costs. */
export class PluginError extends Error {
  override readonly name = 'PluginError';
  constructor(
    readonly plugin: string,
    readonly reason: PluginFailure,
    message: string,
  ) {
    super(`${plugin}: ${reason}: ${message}`);
  }
}

/** Limits of one host. */
export interface PluginHostOptions {
  /** The worker program (lib/plugins/worker.ts and the user's modules, bundled to CommonJS). */
  source: string;
  /** What each module of the bundle is meant to be, in bundle order. */
  modules: ReadonlyArray<{ kind: Plugin['kind'] }>;
  /** Deadline of one call. @default 1000 */
  callTimeoutMs?: number;
  /** Deadline of a worker's start (load, shape check, dry run). @default 10_000 */
  startTimeoutMs?: number;
  /** V8 old-generation heap of each worker. @default 256 */
  heapMb?: number;
  /** Growth of the process's resident memory during calls that ends the calling worker. @default 512 */
  externalMb?: number;
  /** Hangs, memory blow-ups or crashes in a row after which a plug-in is quarantined. @default 3 */
  quarantineAfter?: number;
  /** Where plug-ins' console output goes. @default process.stderr */
  output?: NodeJS.WritableStream;
  /**
   * How long a call holds the agent's thread waiting for the answer before it waits asynchronously
   * (0: always asynchronously). @default 5
   */
  syncWaitMs?: number;
  /**
   * How long a call polls for the answer before it blocks (part of syncWaitMs), so a quick
   * plug-in's answer costs no wake-up of the agent's thread. Off by default: on the 2-vCPU VMs
   * measured, the scheduler mostly runs the worker on the agent's thread's own vCPU (`perf sched`),
   * where a polling thread only delays the worker it waits for; in three alternating pairs of
   * bench:plugins, 200 us of polling cost 43-56 us a call beyond the floor's hop, blocking at
   * once 40-42 us. @default 0
   */
  spinUs?: number;
  /**
   * How long a worker polls for the next call after an answer, while calls come within that time
   * of each other (a series), so the call costs no wake-up of the worker; 0 never. Off by default:
   * it saved nothing measurable idle and cost ~100 us a call under load (it takes the CPU the
   * agent's thread needs). @default 0
   */
  workerSpinUs?: number;
  /** Told the steps of every call answered while the agent's thread waited for it. */
  onCall?: (steps: PluginCallSteps) => void;
}

/**
 * Where one call's time went, in microseconds, from the host's clock and the worker's (the
 * worker's readings come from user code's thread: reported, never relied on).
 */
export interface PluginCallSteps {
  /** The window's columns and the request written into the channel. */
  write: number;
  /** From the host's notify until the worker saw the call. */
  wakeWorker: number;
  /** The worker reading the call (views of the shared columns, the parameters). */
  read: number;
  /** The plug-in's code and the worker's check of its answer. */
  compute: number;
  /** The answer's numbers (and any diagnostics as text) written into the channel. */
  answer: number;
  /** From the worker's notify until the host saw the answer. */
  wakeHost: number;
  /** The host reading, parsing and checking the answer. */
  settle: number;
}

/** Calls and failures of one plug-in, for the agent's metrics. */
export interface PluginStats {
  calls: number;
  errors: number;
  timeouts: number;
  memory: number;
  crashes: number;
  restarts: number;
  quarantined: boolean;
  /**
   * Calls answered while the agent's thread waited for them (no event-loop turn), and their steps
   * summed in microseconds: where a quick call's time goes (bench/plugins.ts prints the means).
   */
  steps: { calls: number } & PluginCallSteps;
}

type Answer = Extract<ChannelAnswer, { t: 'ok' }>;

/** A result at once, or later. */
export type MaybeAsync<T> = T | Promise<T>;

/** A strategy plug-in's checked signal and the time its code took in the worker. */
export interface SignalAnswer {
  signal: PluginSignal;
  computeUs: number;
}

/**
 * `use` applied to a value at once, or to a promise's value when it settles; a throw of `use` on
 * a value becomes a rejected promise, so failures always come the same way.
 */
export function andThen<T, U>(value: MaybeAsync<T>, use: (value: T) => U): MaybeAsync<U> {
  if (value instanceof Promise) return value.then(use);
  try {
    return use(value);
  } catch (error) {
    return Promise.reject(error);
  }
}

interface Pending {
  resolve: (message: Answer) => void;
  reject: (error: PluginError) => void;
  /** The deadline, armed once the call is awaited asynchronously. */
  timer: NodeJS.Timeout | undefined;
  /** When the call began (clockMs). */
  begun: number;
}

/** Windows the host takes: bar objects, wire columns (number arrays) or Float64 columns. */
export type WindowInput = BarWindow;

interface Slot {
  module: number;
  kind: Plugin['kind'];
  name: string;
  worker?: Worker;
  /** The call channel of the current worker (a new one per worker). */
  channel?: Channel;
  ready?: Promise<PluginDescription>;
  pending: Map<number, Pending>;
  /** A call is on the channel; the callers queued behind it. */
  busy: boolean;
  queue: Array<() => void>;
  /** Hangs, memory blow-ups and crashes since the last successful call. */
  streak: number;
  quarantine?: string;
  stats: PluginStats;
}

const WATCH_INTERVAL_MS = 50;
/** The steps of a call, in the order they happen. */
export const STEP_NAMES = [
  'write',
  'wakeWorker',
  'read',
  'compute',
  'answer',
  'wakeHost',
  'settle',
] as const satisfies ReadonlyArray<keyof PluginCallSteps>;

/** The plug-ins of one agent. `describe()` loads them; calls start a worker on demand. */
export class PluginHost {
  private readonly slots: Slot[];
  private readonly byName = new Map<string, Slot>();
  private described: Promise<PluginDescription[]> | undefined;
  private nextId = 1;
  private readonly callTimeoutMs: number;
  private readonly startTimeoutMs: number;
  private readonly heapMb: number;
  private readonly externalBytes: number;
  private readonly quarantineAfter: number;
  private readonly syncWaitMs: number;
  private readonly spinUs: number;
  private readonly workerSpinUs: number;
  private readonly spin = new Spin();
  private watchdog: NodeJS.Timeout | undefined;
  private baselineRss = 0;
  private closed = false;

  constructor(private readonly options: PluginHostOptions) {
    this.callTimeoutMs = options.callTimeoutMs ?? 1000;
    this.startTimeoutMs = options.startTimeoutMs ?? 10_000;
    this.heapMb = options.heapMb ?? 256;
    this.externalBytes = (options.externalMb ?? 512) * 1024 * 1024;
    this.quarantineAfter = options.quarantineAfter ?? 3;
    // The thread never waits past a call's deadline (the spin is part of the wait).
    this.syncWaitMs = Math.min(options.syncWaitMs ?? 5, this.callTimeoutMs);
    this.spinUs = Math.min(options.spinUs ?? 0, this.syncWaitMs * 1000);
    this.workerSpinUs = options.workerSpinUs ?? 0;
    this.slots = options.modules.map(({ kind }, module) => ({
      module,
      kind,
      name: `module-${module}`,
      pending: new Map(),
      busy: false,
      queue: [],
      streak: 0,
      stats: {
        calls: 0,
        errors: 0,
        timeouts: 0,
        memory: 0,
        crashes: 0,
        restarts: 0,
        quarantined: false,
        steps: { calls: 0, write: 0, wakeWorker: 0, read: 0, compute: 0, answer: 0, wakeHost: 0, settle: 0 },
      },
    }));
  }

  /** Load every module (each in its worker) and describe it: name, kind, dry run or error. */
  describe(): Promise<PluginDescription[]> {
    this.described ??= Promise.all(this.slots.map((slot) => this.start(slot))).then((descriptions) => {
      for (const slot of this.slots) {
        if (slot.quarantine === undefined && !this.byName.has(slot.name)) this.byName.set(slot.name, slot);
      }
      return descriptions;
    });
    return this.described;
  }

  /** Whether `name` is a usable plug-in of this kind (after describe()). */
  async has(name: string, kind: Plugin['kind']): Promise<boolean> {
    await this.describe();
    return this.byName.get(name)?.kind === kind;
  }

  /** Names known without waiting (after describe() resolved). */
  knows(name: string): boolean {
    return this.byName.has(name);
  }

  /**
   * A strategy plug-in's signal for the latest bar of `window`: the signal itself when the worker
   * answered while the agent's thread waited (the usual case: no promise turn between the answer
   * and its use), else a promise of it. A failure is always a rejected promise.
   */
  signal(name: string, window: WindowInput, params?: PluginParams): MaybeAsync<SignalAnswer> {
    return andThen(
      this.call(name, 'strategy', (channel) => {
        const bars = writeColumns(channel, window);
        if (bars === undefined) return `a window holds at most ${MAX_BARS} bars with equal columns`;
        channel.control[C_KIND] = KIND_SIGNAL;
        channel.control[C_BARS] = bars;
        return channel.writeRequest(params ? JSON.stringify({ params }) : '')
          ? undefined
          : 'params too large';
      }),
      (answer) => {
        try {
          return { signal: checkSignal(name, answer.signal), computeUs: answer.computeUs };
        } catch (error) {
          throw new PluginError(name, 'error', (error as Error).message);
        }
      },
    );
  }

  /** A decision rule plug-in's decision on a quorum of votes (a value or a promise, as `signal`). */
  decide(
    name: string,
    votes: PluginVote[],
    context: { agents: number; quorum: number },
  ): MaybeAsync<{ decision: PluginAction; computeUs: number }> {
    return andThen(
      this.call(name, 'decision-rule', (channel) => {
        channel.control[C_KIND] = KIND_DECIDE;
        channel.control[C_BARS] = 0;
        return channel.writeRequest(JSON.stringify({ votes, context })) ? undefined : 'too many votes';
      }),
      (answer) => {
        if (!ACTIONS.has(answer.decision as string)) {
          throw new PluginError(name, 'error', `decide answered ${JSON.stringify(answer.decision)}`);
        }
        return { decision: answer.decision as PluginAction, computeUs: answer.computeUs };
      },
    );
  }

  /** Per plug-in counters. */
  stats(): Record<string, PluginStats> {
    return Object.fromEntries(
      this.slots.map((slot) => [slot.name, { ...slot.stats, steps: { ...slot.stats.steps } }]),
    );
  }

  /** End every worker. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.watchdog);
    await Promise.all(
      this.slots.map((slot) => {
        this.fail(slot, 'crashed', 'the agent is closing', false);
        return slot.worker?.terminate();
      }),
    );
  }

  /**
   * One call: at once on a loaded, idle, started plug-in (the answer itself when it came while the
   * thread waited), otherwise through `queuedCall` (loading, queueing behind a call in flight,
   * restarting a worker). Failures are rejected promises either way.
   */
  private call(
    name: string,
    kind: Plugin['kind'],
    fill: (channel: Channel) => string | undefined,
  ): MaybeAsync<Answer> {
    const slot = this.byName.get(name);
    if (slot?.kind !== kind || slot.busy || slot.quarantine !== undefined || slot.worker === undefined) {
      return this.queuedCall(name, kind, fill);
    }
    slot.stats.calls++;
    slot.busy = true;
    return this.exchangeHeld(slot, fill);
  }

  /**
   * `exchange` on a slot this caller holds: a success clears the slot's failure streak, and the
   * slot goes to the next caller as soon as the call settles, whichever way.
   */
  private exchangeHeld(slot: Slot, fill: (channel: Channel) => string | undefined): MaybeAsync<Answer> {
    const succeeded = (answer: Answer): Answer => {
      slot.streak = 0;
      return answer;
    };
    let answer: MaybeAsync<Answer>;
    try {
      answer = this.exchange(slot, fill);
    } catch (error) {
      this.release(slot);
      return Promise.reject(error);
    }
    if (answer instanceof Promise) return answer.then(succeeded).finally(() => this.release(slot));
    this.release(slot);
    return succeeded(answer);
  }

  /** Hand a slot's channel to the next queued caller, or mark it idle. */
  private release(slot: Slot): void {
    const next = slot.queue.shift();
    if (next) next();
    else slot.busy = false;
  }

  private async queuedCall(
    name: string,
    kind: Plugin['kind'],
    fill: (channel: Channel) => string | undefined,
  ): Promise<Answer> {
    if (!this.byName.has(name)) await this.describe();
    const slot = this.byName.get(name);
    if (slot === undefined || slot.kind !== kind) {
      throw new PluginError(name, 'invalid', `no ${kind} plug-in of that name in this agent`);
    }
    slot.stats.calls++;
    if (slot.quarantine !== undefined) throw new PluginError(name, 'quarantined', slot.quarantine);
    // One call at a time on a slot's channel; later callers queue in order.
    if (slot.busy) await new Promise<void>((resolve) => slot.queue.push(resolve));
    slot.busy = true;
    try {
      if (slot.quarantine !== undefined) throw new PluginError(name, 'quarantined', slot.quarantine);
      if (slot.worker === undefined) {
        slot.stats.restarts++;
        const description = await this.start(slot);
        if (description.error !== undefined) throw new PluginError(name, 'invalid', description.error);
      }
    } catch (error) {
      this.release(slot);
      throw error;
    }
    return this.exchangeHeld(slot, fill);
  }

  /**
   * One call over the slot's channel: blocked for up to syncWaitMs (the answer, or a thrown
   * PluginError, when it came meanwhile), then asynchronously (a promise), under the deadline.
   */
  private exchange(slot: Slot, fill: (channel: Channel) => string | undefined): MaybeAsync<Answer> {
    const channel = slot.channel as Channel;
    const begun = clockMs();
    const problem = fill(channel);
    if (problem !== undefined) throw new PluginError(slot.name, 'invalid', problem);
    const id = this.nextId++ & 0x7fffffff;
    channel.control[C_ID] = id;
    // Settled while the thread waits, the call's outcome is kept here and returned (or thrown).
    let outcome: { answer: Answer } | { error: PluginError } | undefined;
    const pending: Pending = {
      resolve: (answer) => {
        outcome = { answer };
      },
      reject: (error) => {
        outcome = { error };
      },
      timer: undefined,
      begun,
    };
    slot.pending.set(id, pending);
    const signalled = clockMs();
    channel.signal(REQUEST);
    const spun =
      this.spinUs > 0 && this.spin.until(channel.control, REQUEST, this.spin.now() + this.spinUs / 1000);
    if (this.syncWaitMs > 0 && !spun) {
      Atomics.wait(channel.control, C_STATE, REQUEST, this.syncWaitMs);
    }
    if (channel.state !== REQUEST) this.settle(slot, channel, id, signalled);
    // (Assigned by the pending's callbacks, which TypeScript's narrowing does not follow.)
    const settled = outcome as { answer: Answer } | { error: PluginError } | undefined;
    if (settled !== undefined) {
      if ('answer' in settled) return settled.answer;
      throw settled.error;
    }
    return new Promise<Answer>((resolve, reject) => {
      pending.resolve = resolve;
      pending.reject = reject;
      // Not answered while the thread waited: the deadline runs on from the call's start.
      pending.timer = setTimeout(
        () => {
          slot.stats.timeouts++;
          this.kill(slot, 'timeout', `no answer within ${this.callTimeoutMs} ms`);
        },
        Math.max(0, this.callTimeoutMs - (clockMs() - begun)),
      );
      this.watch();
      this.awaitAnswer(slot, channel, id);
    });
  }

  /** Wait for the answer to call `id` through the event loop (the deadline timer runs meanwhile). */
  private awaitAnswer(slot: Slot, channel: Channel, id: number): void {
    const waiting = waitAsync(channel.control, C_STATE, REQUEST);
    const next = (): void => {
      if (!slot.pending.has(id) || slot.channel !== channel) return; // failed meanwhile
      if (channel.state === REQUEST) this.awaitAnswer(slot, channel, id);
      else this.settle(slot, channel, id, 0);
    };
    if (waiting.async) void waiting.value.then(next);
    else next();
  }

  /**
   * The channel left REQUEST: read and check the answer to call `id` and settle it (`signalled`:
   * when the call was signalled, if it was answered while the thread waited; else 0).
   */
  private settle(slot: Slot, channel: Channel, id: number, signalled: number): void {
    const seen = signalled === 0 ? 0 : clockMs();
    const pending = slot.pending.get(id);
    if (pending === undefined) return;
    if (channel.state !== ANSWER) {
      slot.stats.crashes++;
      this.kill(slot, 'crashed', 'the worker broke the call channel');
      return;
    }
    const message = channel.readAnswer();
    Atomics.store(channel.control, C_STATE, IDLE);
    slot.pending.delete(id);
    clearTimeout(pending.timer);
    if (message?.t === 'ok' && message.id === id && Number.isFinite(message.computeUs)) {
      if (seen !== 0) this.count(slot, channel, pending.begun, signalled, seen);
      pending.resolve(message);
      return;
    }
    slot.stats.errors++;
    const error =
      message?.t === 'err' && message.id === id ? String(message.error).slice(0, 500) : 'malformed answer';
    pending.reject(new PluginError(slot.name, 'error', error));
  }

  /** Add a call's steps to its plug-in's sums (and tell onCall). */
  private count(slot: Slot, channel: Channel, begun: number, signalled: number, seen: number): void {
    const { stamps } = channel;
    const us = (from: number, to: number) => (to - from) * 1000;
    const steps: PluginCallSteps = {
      write: us(begun, signalled),
      wakeWorker: us(signalled, stamps[S_WOKE] as number),
      read: us(stamps[S_WOKE] as number, stamps[S_READ] as number),
      compute: us(stamps[S_READ] as number, stamps[S_COMPUTED] as number),
      answer: us(stamps[S_COMPUTED] as number, stamps[S_ANSWERED] as number),
      wakeHost: us(stamps[S_ANSWERED] as number, seen),
      settle: us(seen, clockMs()),
    };
    const sums = slot.stats.steps;
    sums.calls++;
    for (const key of STEP_NAMES) sums[key] += steps[key];
    this.options.onCall?.(steps);
  }

  /** Start a slot's worker and wait for its ready message (which carries the dry run). */
  private start(slot: Slot): Promise<PluginDescription> {
    if (slot.ready !== undefined && slot.worker !== undefined) return slot.ready;
    const channel = new Channel();
    const data: PluginWorkerData = {
      kind: 'swarm-bench-plugin',
      module: slot.module,
      expect: slot.kind,
      channel: channel.buffer,
      spinUs: this.workerSpinUs,
    };
    const worker = new Worker(this.options.source, {
      eval: true,
      workerData: data,
      env: {},
      stdout: true,
      stderr: true,
      resourceLimits: { maxOldGenerationSizeMb: this.heapMb, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 },
    });
    const output = this.options.output ?? process.stderr;
    worker.stdout.on('data', (chunk) => output.write(chunk));
    worker.stderr.on('data', (chunk) => output.write(chunk));
    slot.worker = worker;
    slot.channel = channel;
    slot.ready = new Promise<PluginDescription>((resolve) => {
      const timer = setTimeout(() => {
        finish({
          module: slot.module,
          kind: slot.kind,
          name: slot.name,
          minBars: 1,
          error: `did not load within ${this.startTimeoutMs} ms`,
        });
        void worker.terminate();
      }, this.startTimeoutMs);
      let settled = false;
      const finish = (description: PluginDescription): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (description.name !== '') slot.name = description.name;
        if (description.error !== undefined) {
          slot.quarantine = description.error;
          slot.stats.quarantined = true;
        }
        resolve(description);
      };
      worker.on('message', (message: FromWorker) => {
        if (message?.t === 'ready') finish(message.description);
      });
      worker.on('error', (error: Error & { code?: string }) => {
        const memory = error.code === 'ERR_WORKER_OUT_OF_MEMORY';
        const text = memory
          ? `heap limit of ${this.heapMb} MB reached`
          : `uncaught ${error.name}: ${error.message}`;
        if (memory) slot.stats.memory++;
        else slot.stats.crashes++;
        finish({ module: slot.module, kind: slot.kind, name: slot.name, minBars: 1, error: text });
        this.fail(slot, memory ? 'memory' : 'crashed', text, true);
      });
      worker.on('exit', () => {
        if (slot.worker === worker) {
          slot.worker = undefined;
          this.fail(slot, 'crashed', 'the worker exited', true);
        }
        finish({
          module: slot.module,
          kind: slot.kind,
          name: slot.name,
          minBars: 1,
          error: 'the worker exited while loading',
        });
      });
    });
    return slot.ready;
  }

  /** Terminate a slot's worker and fail its calls in flight. */
  private kill(slot: Slot, reason: PluginFailure, text: string): void {
    const worker = slot.worker;
    slot.worker = undefined;
    this.fail(slot, reason, text, true);
    void worker?.terminate();
  }

  /** Fail every call in flight on a slot; hangs, blow-ups and crashes count towards quarantine. */
  private fail(slot: Slot, reason: PluginFailure, text: string, counts: boolean): void {
    if (slot.pending.size === 0 && !counts) return;
    const pending = [...slot.pending.values()];
    slot.pending.clear();
    // Release an asynchronous wait on the channel of the failed calls.
    if (slot.channel) Atomics.notify(slot.channel.control, C_STATE);
    if (pending.length > 0 && counts) slot.streak++;
    if (counts && slot.streak >= this.quarantineAfter && !this.closed) {
      slot.quarantine = `quarantined after ${slot.streak} failures in a row (last: ${reason}: ${text})`;
      slot.stats.quarantined = true;
    }
    for (const call of pending) {
      clearTimeout(call.timer);
      call.reject(new PluginError(slot.name, reason, text));
    }
  }

  /**
   * Memory outside the JS heap is not bounded by resourceLimits: while calls are in flight, the
   * process's resident size is sampled and a call that grew it past `externalMb` loses its worker.
   */
  private watch(): void {
    if (this.watchdog !== undefined) return;
    this.baselineRss = process.memoryUsage.rss();
    this.watchdog = setInterval(() => {
      const busy = this.slots.filter((slot) => slot.pending.size > 0);
      const rss = process.memoryUsage.rss();
      if (busy.length === 0) {
        clearInterval(this.watchdog);
        this.watchdog = undefined;
        return;
      }
      if (rss - this.baselineRss <= this.externalBytes) return;
      for (const slot of busy) {
        slot.stats.memory++;
        this.kill(
          slot,
          'memory',
          `resident memory grew by more than ${this.externalBytes / 1024 / 1024} MB during the call`,
        );
      }
      this.baselineRss = rss;
    }, WATCH_INTERVAL_MS);
    this.watchdog.unref();
  }
}

/**
 * Write a window (bar objects or columns) into the channel's shared columns; the number of bars,
 * or undefined when it has more than MAX_BARS or columns of different lengths.
 */
function writeColumns(channel: Channel, window: WindowInput): number | undefined {
  const { columns } = channel;
  if (Array.isArray(window)) {
    const bars = window as Extract<WindowInput, ReadonlyArray<unknown>>;
    if (bars.length > MAX_BARS) return undefined;
    writeBars(bars, columns);
    return bars.length;
  }
  const source = window as Exclude<WindowInput, ReadonlyArray<unknown>>;
  const length = source.t.length;
  if (length > MAX_BARS) return undefined;
  for (const name of Channel.columnNames) {
    const from = source[name];
    if (from.length !== length) return undefined;
    const to = columns[name];
    if (ArrayBuffer.isView(from)) to.set(from as Float64Array);
    else for (let i = 0; i < length; i++) to[i] = from[i] as number;
  }
  return length;
}
