/**
 * A reference measured beside every unit: how slow this machine was while the unit ran, from two
 * fixed, code-independent tasks timed on a short interval for the whole unit by a worker thread
 * next to the coordinator.
 * - `cpu`: a fixed arithmetic loop (no allocation, no I/O) timed inside the worker. Under
 *   contention the thread is preempted and the loop takes longer, in proportion to the CPU share
 *   it gets. About 0.9 ms on an idle 2-core EPYC, every 250 ms: 0.4% of one core.
 * - `ping`: one message round trip coordinator -> worker -> coordinator. It needs the OS to wake a
 *   sleeping thread and then the coordinator's event loop, the wake-ups every agent round trip of
 *   the benchmarks waits for.
 * Neither depends on the code under test, so when a run's medians drift with the machine the
 * reference drifts with them, and the history detector can judge the ratio (lib/history/compare.ts).
 * The worker, not the coordinator, runs the loop: the coordinator's event loop is never blocked.
 */
import { Worker } from 'node:worker_threads';
import type { ReferenceTimings, UnitReference } from './model.ts';

/** Iterations of the reference loop: about 0.9 ms on an idle 2-core EPYC (Node 22). */
export const REFERENCE_LOOP_ITERATIONS = 500_000;

/** The worker: echoes `{ t: 'ping' }`, and answers `{ t: 'cpu', n }` with the loop's wall time (ms). */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
let sink = 0;
parentPort.on('message', (m) => {
  if (m.t !== 'cpu') return parentPort.postMessage(m);
  const t0 = performance.now();
  let x = 0x2545f491;
  for (let i = 0; i < m.n; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; }
  sink ^= x;
  parentPort.postMessage({ t: 'cpu', ms: performance.now() - t0, sink });
});`;

/** The reference tasks, one at a time: a ping round trip, and the loop's time (ms) as the worker measured it. */
export interface ReferenceWorker {
  ping(): Promise<void>;
  spin(iterations: number): Promise<number>;
  close(): Promise<void>;
}

/** A worker thread running the reference tasks. */
export function referenceWorker(): ReferenceWorker {
  const worker = new Worker(WORKER_SOURCE, { eval: true });
  worker.unref();
  let waiting: ((message: { t: string; ms?: number }) => void) | undefined;
  worker.on('message', (message: { t: string; ms?: number }) => {
    const done = waiting;
    waiting = undefined;
    done?.(message);
  });
  const ask = (message: { t: string; n?: number }) =>
    new Promise<{ t: string; ms?: number }>((resolve) => {
      waiting = resolve;
      worker.postMessage(message);
    });
  return {
    ping: async () => {
      await ask({ t: 'ping' });
    },
    spin: async (iterations) => (await ask({ t: 'cpu', n: iterations })).ms ?? Number.NaN,
    close: async () => {
      await worker.terminate();
    },
  };
}

/** Count, median and mean of a reference's timings; undefined for none. */
function summarise(values: readonly number[]): ReferenceTimings | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return { n: values.length, median, mean: values.reduce((sum, value) => sum + value, 0) / values.length };
}

/**
 * Times the reference tasks every `intervalMs` between start() and stop(): a ping, then the loop.
 * A tick that finds the previous one still out is skipped, so at most one task is in flight.
 */
export class ReferenceProbe {
  private readonly cpu: number[] = [];
  private readonly ping: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> = Promise.resolve();
  private busy = false;
  private worker: ReferenceWorker | undefined;

  constructor(
    private readonly options: {
      /** Starts the worker. @default referenceWorker */
      worker?: () => ReferenceWorker;
      intervalMs?: number;
      iterations?: number;
      now?: () => number;
    } = {},
  ) {}

  start(): void {
    this.worker = (this.options.worker ?? referenceWorker)();
    this.tick();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<UnitReference> {
    if (this.timer) clearInterval(this.timer);
    await this.inFlight;
    await this.worker?.close();
    const cpuMs = summarise(this.cpu);
    const pingMs = summarise(this.ping);
    return {
      iterations: this.iterations,
      intervalMs: this.intervalMs,
      ...(cpuMs ? { cpuMs } : {}),
      ...(pingMs ? { pingMs } : {}),
    };
  }

  private get intervalMs(): number {
    return this.options.intervalMs ?? 250;
  }

  private get iterations(): number {
    return this.options.iterations ?? REFERENCE_LOOP_ITERATIONS;
  }

  private tick(): void {
    const worker = this.worker;
    if (worker === undefined || this.busy) return;
    this.busy = true;
    const now = this.options.now ?? (() => performance.now());
    this.inFlight = (async () => {
      const t0 = now();
      await worker.ping();
      this.ping.push(now() - t0);
      const ms = await worker.spin(this.iterations);
      if (Number.isFinite(ms)) this.cpu.push(ms);
      this.busy = false;
    })();
  }
}
