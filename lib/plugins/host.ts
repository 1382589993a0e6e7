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
 * agent. Why not a child process: a worker's round trip is a message between threads (tens of
 * microseconds; bench/plugins.ts measures it), a process's is a pipe and a second event loop.
 */
import { Worker } from 'node:worker_threads';
import type {
  ColumnarWindow,
  Plugin,
  PluginAction,
  PluginDescription,
  PluginParams,
  PluginSignal,
  PluginVote,
} from './types.ts';
import type { FromWorker, PluginWorkerData, ToWorker } from './worker.ts';

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
}

interface Pending {
  resolve: (message: Extract<FromWorker, { t: 'ok' }>) => void;
  reject: (error: PluginError) => void;
  timer: NodeJS.Timeout;
}

interface Slot {
  module: number;
  kind: Plugin['kind'];
  name: string;
  worker?: Worker;
  ready?: Promise<PluginDescription>;
  pending: Map<number, Pending>;
  /** Hangs, memory blow-ups and crashes since the last successful call. */
  streak: number;
  quarantine?: string;
  stats: PluginStats;
}

const WATCH_INTERVAL_MS = 50;

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
  private watchdog: NodeJS.Timeout | undefined;
  private baselineRss = 0;
  private closed = false;

  constructor(private readonly options: PluginHostOptions) {
    this.callTimeoutMs = options.callTimeoutMs ?? 1000;
    this.startTimeoutMs = options.startTimeoutMs ?? 10_000;
    this.heapMb = options.heapMb ?? 256;
    this.externalBytes = (options.externalMb ?? 512) * 1024 * 1024;
    this.quarantineAfter = options.quarantineAfter ?? 3;
    this.slots = options.modules.map(({ kind }, module) => ({
      module,
      kind,
      name: `module-${module}`,
      pending: new Map(),
      streak: 0,
      stats: { calls: 0, errors: 0, timeouts: 0, memory: 0, crashes: 0, restarts: 0, quarantined: false },
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

  /** A strategy plug-in's signal for the latest bar of `window`. */
  async signal(
    name: string,
    window: ColumnarWindow,
    params?: PluginParams,
  ): Promise<{ signal: PluginSignal; computeUs: number }> {
    const transfer = [window.t, window.open, window.high, window.low, window.close, window.volume].map(
      (column) => column.buffer as ArrayBuffer,
    );
    const answer = await this.call(name, 'strategy', (id) => ({
      message: { t: 'signal', id, window, ...(params ? { params } : {}) },
      transfer,
    }));
    return { signal: answer.signal as PluginSignal, computeUs: answer.computeUs };
  }

  /** A decision rule plug-in's decision on a quorum of votes. */
  async decide(
    name: string,
    votes: PluginVote[],
    context: { agents: number; quorum: number },
  ): Promise<{ decision: PluginAction; computeUs: number }> {
    const answer = await this.call(name, 'decision-rule', (id) => ({
      message: { t: 'decide', id, votes, context },
      transfer: [],
    }));
    return { decision: answer.decision as PluginAction, computeUs: answer.computeUs };
  }

  /** Per plug-in counters. */
  stats(): Record<string, PluginStats> {
    return Object.fromEntries(this.slots.map((slot) => [slot.name, { ...slot.stats }]));
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

  private async call(
    name: string,
    kind: Plugin['kind'],
    build: (id: number) => { message: ToWorker; transfer: ArrayBuffer[] },
  ): Promise<Extract<FromWorker, { t: 'ok' }>> {
    if (!this.byName.has(name)) await this.describe();
    const slot = this.byName.get(name);
    if (slot === undefined || slot.kind !== kind) {
      throw new PluginError(name, 'invalid', `no ${kind} plug-in of that name in this agent`);
    }
    slot.stats.calls++;
    if (slot.quarantine !== undefined) throw new PluginError(name, 'quarantined', slot.quarantine);
    if (slot.worker === undefined) {
      slot.stats.restarts++;
      const description = await this.start(slot);
      if (description.error !== undefined) throw new PluginError(name, 'invalid', description.error);
    }
    const worker = slot.worker as Worker;
    const id = this.nextId++;
    const { message, transfer } = build(id);
    const answer = await new Promise<Extract<FromWorker, { t: 'ok' }>>((resolve, reject) => {
      const timer = setTimeout(() => {
        slot.stats.timeouts++;
        this.kill(slot, 'timeout', `no answer within ${this.callTimeoutMs} ms`);
      }, this.callTimeoutMs);
      slot.pending.set(id, { resolve, reject, timer });
      this.watch();
      worker.postMessage(message, transfer);
    });
    slot.streak = 0;
    return answer;
  }

  /** Start a slot's worker and wait for its ready message (which carries the dry run). */
  private start(slot: Slot): Promise<PluginDescription> {
    if (slot.ready !== undefined && slot.worker !== undefined) return slot.ready;
    const data: PluginWorkerData = { kind: 'swarm-bench-plugin', module: slot.module, expect: slot.kind };
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
        if (message.t === 'ready') {
          finish(message.description);
          return;
        }
        const pending = slot.pending.get(message.id);
        if (pending === undefined) return;
        slot.pending.delete(message.id);
        clearTimeout(pending.timer);
        if (message.t === 'ok') pending.resolve(message);
        else {
          slot.stats.errors++;
          pending.reject(new PluginError(slot.name, 'error', message.error));
        }
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

/** A window (wire columns or bars) as the Float64 columns plug-ins get. */
export function columnarWindow(
  window:
    | {
        t: readonly number[];
        open: readonly number[];
        high: readonly number[];
        low: readonly number[];
        close: readonly number[];
        volume: readonly number[];
      }
    | ReadonlyArray<{ t: number; open: number; high: number; low: number; close: number; volume: number }>,
): ColumnarWindow {
  if (Array.isArray(window)) {
    const bars = window as ReadonlyArray<{
      t: number;
      open: number;
      high: number;
      low: number;
      close: number;
      volume: number;
    }>;
    const pick = (key: 't' | 'open' | 'high' | 'low' | 'close' | 'volume') => {
      const out = new Float64Array(bars.length);
      for (let i = 0; i < bars.length; i++) out[i] = (bars[i] as { [k: string]: number })[key] as number;
      return out;
    };
    return {
      length: bars.length,
      t: pick('t'),
      open: pick('open'),
      high: pick('high'),
      low: pick('low'),
      close: pick('close'),
      volume: pick('volume'),
    };
  }
  const c = window as {
    t: readonly number[];
    open: readonly number[];
    high: readonly number[];
    low: readonly number[];
    close: readonly number[];
    volume: readonly number[];
  };
  return {
    length: c.t.length,
    t: Float64Array.from(c.t),
    open: Float64Array.from(c.open),
    high: Float64Array.from(c.high),
    low: Float64Array.from(c.low),
    close: Float64Array.from(c.close),
    volume: Float64Array.from(c.volume),
  };
}
