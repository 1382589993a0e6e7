/**
 * Raw floor of the plug-in hop: a bare worker thread parked on Atomics.wait over a
 * SharedArrayBuffer, woken by Atomics.notify, answering by a store and a notify back. No plug-in,
 * no channel layout, no window: what a round trip between two threads costs on this machine, so
 * bench/plugins.ts can set the plug-in hop beside it in the same run.
 *
 * The caller waits for the answer either blocked at once (`spinUs` 0) or polling first, as the
 * PluginHost does by default.
 */
import { Worker } from 'node:worker_threads';

/** Int32 words: the call counter the worker waits on, the answer counter the caller waits on, stop. */
const CALL = 0;
const ANSWER = 1;
const STOP = 2;
/** Float64 slot (after the Int32 words): when the worker saw the call, on the process clock. */
const WOKE_OFFSET = 16;

/** The worker: park on the call counter, stamp the wake-up, answer. CommonJS, evaluated as is. */
const WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const control = new Int32Array(workerData, 0, 4);
const woke = new Float64Array(workerData, ${WOKE_OFFSET}, 1);
const now = () => { const [s, ns] = process.hrtime(); return s * 1e3 + ns / 1e6; };
let seen = 0;
parentPort.postMessage('parked');
for (;;) {
  Atomics.wait(control, ${CALL}, seen);
  if (Atomics.load(control, ${STOP}) !== 0) break;
  seen = Atomics.load(control, ${CALL});
  woke[0] = now();
  Atomics.store(control, ${ANSWER}, seen);
  Atomics.notify(control, ${ANSWER});
}
`;

/** One round trip, in microseconds: to the worker's wake-up, back to the caller, in all. */
export interface WakeSample {
  wakeWorker: number;
  wakeBack: number;
  total: number;
}

const clockMs = (): number => {
  const [seconds, nanoseconds] = process.hrtime();
  return seconds * 1e3 + nanoseconds / 1e6;
};

/** A parked worker to wake and be answered by, one call at a time. */
export class WakeFloor {
  private calls = 0;
  // Plain fields, not constructor parameter properties: bench/floors/hop-server.ts runs this file
  // with node's own type stripping, which takes only syntax it can erase.
  private readonly worker: Worker;
  private readonly control: Int32Array;
  private readonly woke: Float64Array;

  private constructor(worker: Worker, control: Int32Array, woke: Float64Array) {
    this.worker = worker;
    this.control = control;
    this.woke = woke;
  }

  /** Start the worker and wait until it is about to park. */
  static async start(): Promise<WakeFloor> {
    const buffer = new SharedArrayBuffer(WOKE_OFFSET + 8);
    const worker = new Worker(WORKER, { eval: true, workerData: buffer });
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
    return new WakeFloor(worker, new Int32Array(buffer, 0, 4), new Float64Array(buffer, WOKE_OFFSET, 1));
  }

  /** Wake the worker and wait for its answer, polling for `spinUs` first (0: blocked at once). */
  roundTrip(spinUs = 0): WakeSample {
    const call = ++this.calls;
    const start = clockMs();
    Atomics.store(this.control, CALL, call);
    Atomics.notify(this.control, CALL);
    const spinUntil = spinUs > 0 ? start + spinUs / 1000 : 0;
    // Generous: on a loaded machine a nice 19 worker can wait seconds for a CPU.
    const deadline = start + 30_000;
    while (Atomics.load(this.control, ANSWER) !== call) {
      const now = clockMs();
      if (now >= deadline) throw new Error('wake floor: no answer within 30 s');
      // A wait may end early: the previous call's notify can land after its answer was seen.
      if (spinUntil === 0 || now >= spinUntil) Atomics.wait(this.control, ANSWER, call - 1, deadline - now);
    }
    const end = clockMs();
    const woke = this.woke[0] as number;
    return { wakeWorker: (woke - start) * 1000, wakeBack: (end - woke) * 1000, total: (end - start) * 1000 };
  }

  async close(): Promise<void> {
    Atomics.store(this.control, STOP, 1);
    Atomics.store(this.control, CALL, this.calls + 1);
    Atomics.notify(this.control, CALL);
    await this.worker.terminate();
  }
}
