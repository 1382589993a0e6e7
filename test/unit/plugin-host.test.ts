/**
 * The plug-in host's fault isolation, on worker threads (no processes, no sockets): a throw, a
 * hang and a memory blow-up each fail their own plug-in's calls, and the host and the other
 * plug-ins go on. Deadlines here are generous so a loaded machine cannot change the outcome.
 */
import { resolve } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildPluginWorker } from '../../lib/plugins/bundle.ts';
import { clockMs } from '../../lib/plugins/channel.ts';
import { type PluginCallSteps, PluginError, PluginHost, STEP_NAMES } from '../../lib/plugins/host.ts';
import { seededWindow } from '../../lib/plugins/worker.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const modules = [
  { path: resolve(ROOT, 'examples/strategies/volume-breakout.ts'), kind: 'strategy' as const },
  { path: resolve(ROOT, 'test/fixtures/plugins/hog.ts'), kind: 'strategy' as const },
  { path: resolve(ROOT, 'test/fixtures/plugins/hangs.ts'), kind: 'strategy' as const },
  { path: resolve(ROOT, 'test/fixtures/plugins/external-hog.ts'), kind: 'strategy' as const },
];
let source: string;
let host: PluginHost | undefined;

beforeAll(async () => {
  source = await buildPluginWorker(
    ROOT,
    modules.map((m) => ({ ...m, flag: '--strategy' })),
  );
});

afterEach(async () => {
  await host?.close();
});

async function failureOf(call: unknown): Promise<PluginError> {
  // A failure always comes as a rejected promise (a success may come at once, as a value).
  expect(call).toBeInstanceOf(Promise);
  const error = await (call as Promise<unknown>).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(PluginError);
  return error as PluginError;
}

describe('PluginHost', () => {
  it('ends a worker that passes its heap limit, and the other plug-ins answer on', async () => {
    host = new PluginHost({ source, modules, callTimeoutMs: 60_000, heapMb: 64 });
    await host.describe();
    const error = await failureOf(host.signal('faulty-hog', seededWindow(50)));
    expect(error.reason).toBe('memory');
    expect(error.message).toMatch(/heap limit of 64 MB/);
    const { signal } = await host.signal('volume-breakout', seededWindow(50));
    expect(['buy', 'sell', 'hold']).toContain(signal.action);
    expect(host.stats()['faulty-hog']?.memory).toBe(1);
  });

  it('ends a worker whose memory outside the heap (a Buffer) grows past the limit', async () => {
    host = new PluginHost({ source, modules, callTimeoutMs: 60_000, externalMb: 128 });
    await host.describe();
    const error = await failureOf(host.signal('faulty-external-hog', seededWindow(50)));
    expect(error.reason).toBe('memory');
    expect(error.message).toMatch(/resident memory grew by more than 128 MB/);
  });

  it('ends a hung call at its deadline, restarts the worker, and quarantines a repeat offender', async () => {
    host = new PluginHost({ source, modules, callTimeoutMs: 300, quarantineAfter: 2 });
    await host.describe();
    expect((await failureOf(host.signal('faulty-hangs', seededWindow(50)))).reason).toBe('timeout');
    expect((await failureOf(host.signal('faulty-hangs', seededWindow(50)))).reason).toBe('timeout');
    expect((await failureOf(host.signal('faulty-hangs', seededWindow(50)))).reason).toBe('quarantined');
    expect(host.stats()['faulty-hangs']).toMatchObject({ timeouts: 2, restarts: 1, quarantined: true });
    const { signal } = await host.signal('volume-breakout', seededWindow(50));
    expect(signal.confidence).toBeGreaterThanOrEqual(0);
  });

  it('answers calls made at once in order, each on its own window, blocking or not', async () => {
    const windows = Array.from({ length: 12 }, (_, i) => seededWindow(40 + i * 37));
    for (const syncWaitMs of [5, 0]) {
      host = new PluginHost({ source, modules, callTimeoutMs: 60_000, syncWaitMs });
      await host.describe();
      const one = [];
      for (const window of windows) one.push((await host.signal('volume-breakout', window)).signal);
      const together = await Promise.all(windows.map((window) => host?.signal('volume-breakout', window)));
      expect(together.map((answer) => answer?.signal)).toEqual(one);
      // Bars as objects give the same answers as the columns they came from.
      const bars = Array.from({ length: windows[3]?.length ?? 0 }, (_, i) => ({
        t: windows[3]?.t[i] as number,
        open: windows[3]?.open[i] as number,
        high: windows[3]?.high[i] as number,
        low: windows[3]?.low[i] as number,
        close: windows[3]?.close[i] as number,
        volume: windows[3]?.volume[i] as number,
      }));
      expect((await host.signal('volume-breakout', bars)).signal).toEqual(one[3]);
      expect(host.stats()['volume-breakout']).toMatchObject({ calls: 25, errors: 0, restarts: 0 });
      await host.close();
    }
    host = undefined;
  });

  it('hands over an answer that came while the thread waited as a value, and one that did not as a promise', async () => {
    // Prepare: a thread that waits far longer than any call takes. Nothing here depends on how
    // fast the machine is: a call that must first load its plug-in, or that queues behind a call
    // in flight, is a promise whatever the timing; one on a loaded, idle plug-in is a value.
    const window = seededWindow(120);
    host = new PluginHost({ source, modules, callTimeoutMs: 60_000, syncWaitMs: 30_000 });

    // Act
    const loading = host.signal('volume-breakout', window);
    const queued = host.signal('volume-breakout', window);
    const [first, second] = await Promise.all([loading, queued]);
    const now = host.signal('volume-breakout', window);
    const again = host.signal('volume-breakout', window);

    // Assess: the same checked signal every way; the slot is free again at once after a value.
    expect(loading).toBeInstanceOf(Promise);
    expect(queued).toBeInstanceOf(Promise);
    expect(now).not.toBeInstanceOf(Promise);
    expect(again).not.toBeInstanceOf(Promise);
    expect(second.signal).toEqual(first.signal);
    expect((now as typeof first).signal).toEqual(first.signal);
    expect((again as typeof first).signal).toEqual(first.signal);
    expect(host.stats()['volume-breakout']).toMatchObject({ calls: 4, errors: 0, restarts: 0 });
  });

  it("accounts each call answered while the thread waited, step by step, within the call's own time", async () => {
    // Prepare: a wait long enough that every call is answered while the thread waits.
    const seen: PluginCallSteps[] = [];
    host = new PluginHost({
      source,
      modules,
      callTimeoutMs: 60_000,
      syncWaitMs: 30_000,
      onCall: (steps) => seen.push(steps),
    });
    await host.describe();

    // Act
    const calls: Array<{ ms: number; computeUs: number }> = [];
    for (let i = 0; i < 5; i++) {
      const start = clockMs();
      const { computeUs } = await host.signal('volume-breakout', seededWindow(200 + i));
      calls.push({ ms: clockMs() - start, computeUs });
    }

    // Assess: every step read off both threads' clocks is in order, the plug-in's own timing lies
    // inside its compute step, and the steps add up to no more than the call; the sums match.
    expect(seen).toHaveLength(5);
    seen.forEach((steps, i) => {
      for (const step of STEP_NAMES) expect(steps[step]).toBeGreaterThanOrEqual(0);
      expect(steps.compute).toBeGreaterThanOrEqual((calls[i]?.computeUs ?? 0) - 1);
      const total = STEP_NAMES.reduce((sum, step) => sum + steps[step], 0);
      expect(total).toBeLessThanOrEqual((calls[i]?.ms ?? 0) * 1000);
    });
    const sums = host.stats()['volume-breakout']?.steps;
    expect(sums?.calls).toBe(5);
    for (const step of STEP_NAMES) {
      expect(sums?.[step]).toBeCloseTo(
        seen.reduce((sum, steps) => sum + steps[step], 0),
        6,
      );
    }
  });

  it('refuses a window larger than the channel without calling the plug-in', async () => {
    host = new PluginHost({ source, modules });
    const error = await failureOf(host.signal('volume-breakout', seededWindow(5_001)));
    expect(error.reason).toBe('invalid');
  });

  it('refuses a name it does not carry', async () => {
    host = new PluginHost({ source, modules });
    expect((await failureOf(host.signal('momentum', seededWindow(50)))).reason).toBe('invalid');
  });
});
