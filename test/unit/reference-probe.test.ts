/** The reference tasks timed beside every unit (lib/bench/reference.ts); no timing is asserted. */
import { describe, expect, it } from 'vitest';
import { ContentionProbe } from '../../lib/bench/machine.ts';
import { ReferenceProbe, type ReferenceWorker } from '../../lib/bench/reference.ts';

/** A worker whose answers the test releases (the thread's timing is not what these tests are about). */
function heldWorker() {
  const held: Array<() => void> = [];
  const calls: string[] = [];
  let closed = false;
  const worker: ReferenceWorker = {
    ping: () => {
      calls.push('ping');
      return new Promise<void>((resolve) => held.push(resolve));
    },
    spin: (iterations) => {
      calls.push(`spin ${iterations}`);
      return new Promise<number>((resolve) => held.push(() => resolve(3)));
    },
    close: async () => {
      closed = true;
    },
  };
  const release = async () => {
    while (held.length > 0) {
      held.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return { worker, calls, release, closed: () => closed };
}

describe('ReferenceProbe', () => {
  it('keeps one ping-and-loop in flight, times the ping with its clock and keeps the loop time the worker measured', async () => {
    // Arrange: every reading of the clock is 2 ms after the last.
    const held = heldWorker();
    let clock = 0;
    const probe = new ReferenceProbe({
      worker: () => held.worker,
      intervalMs: 1,
      iterations: 7,
      now: () => (clock += 2),
    });
    // Act: several ticks pass while the first ping is out.
    probe.start();
    await new Promise((resolve) => setTimeout(resolve, 30));
    const stopped = probe.stop();
    await held.release();
    const reference = await stopped;
    // Assess
    expect(held.calls).toEqual(['ping', 'spin 7']);
    expect(reference).toEqual({
      iterations: 7,
      intervalMs: 1,
      pingMs: { n: 1, median: 2, mean: 2 },
      cpuMs: { n: 1, median: 3, mean: 3 },
    });
    expect(held.closed()).toBe(true);
  });

  it('runs a real worker thread and is carried in the unit contention', async () => {
    // Arrange
    const stat = 'cpu  100 0 0 100 0 0 0 0 0 0\nprocs_running 2\n';
    const probe = new ContentionProbe(
      async (path) => (path === '/proc/stat' ? stat : '1.00 1.00 1.00 2/100 1'),
      {
        cores: 2,
        intervalMs: 60_000,
        reference: new ReferenceProbe({ intervalMs: 5, iterations: 1000 }),
      },
    );
    // Act
    await probe.start();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const contention = await probe.stop();
    // Assess: the first tick is always waited for; every timing is a positive duration.
    const reference = contention?.reference;
    expect(reference?.pingMs?.n).toBeGreaterThanOrEqual(1);
    expect(reference?.cpuMs?.n).toBe(reference?.pingMs?.n);
    expect(reference?.pingMs?.median).toBeGreaterThan(0);
    expect(reference?.cpuMs?.mean).toBeGreaterThan(0);
    expect(reference?.iterations).toBe(1000);
  });
});
