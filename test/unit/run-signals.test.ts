/**
 * The run's shutdown controller with a fake process (signal emitter, exit) and a fake clock: the
 * first signal stops gracefully, relays inside the window are ignored, a later signal forces the
 * exit with every agent killed synchronously and the run closed, and a stuck stop is forced.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { installShutdown, type SignalHost, type StopCause, type Timers } from '../../lib/run/signals.ts';

class FakeProcess extends EventEmitter implements SignalHost {
  exits: number[] = [];
  override on(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): this {
    return super.on(event, listener);
  }
  override off(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): this {
    return super.off(event, listener);
  }
  send(signal: NodeJS.Signals): void {
    this.emit(signal, signal);
  }
  exit(code: number): void {
    this.exits.push(code);
  }
}

class FakeClock implements Timers {
  t = 0;
  #timers: Array<{ at: number; fn: () => void; live: boolean }> = [];
  now(): number {
    return this.t;
  }
  after(ms: number, fn: () => void): () => void {
    const timer = { at: this.t + ms, fn, live: true };
    this.#timers.push(timer);
    return () => {
      timer.live = false;
    };
  }
  advance(ms: number): void {
    this.t += ms;
    for (const timer of [...this.#timers]) {
      if (timer.live && timer.at <= this.t) {
        timer.live = false;
        timer.fn();
      }
    }
  }
}

function setup(onForce?: (cause: StopCause, why: string) => Promise<void>) {
  const host = new FakeProcess();
  const clock = new FakeClock();
  const events: string[] = [];
  const controller = installShutdown({
    host,
    timers: clock,
    relayWindowMs: 1_000,
    graceMs: 15_000,
    forceWriteMs: 2_000,
    onStop: (cause) => events.push(`stop ${cause.kind === 'signal' ? cause.signal : cause.pid}`),
    killNow: () => events.push('killNow'),
    onForce: async (cause, why) => {
      events.push(`force ${why}`);
      await onForce?.(cause, why);
    },
  });
  return { host, clock, events, controller };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('installShutdown', () => {
  it('a relayed second SIGINT 30 ms after the first does not escalate (tsx)', async () => {
    // Prepare
    const { host, clock, events, controller } = setup();

    // Act
    host.send('SIGINT');
    clock.advance(30);
    host.send('SIGINT');
    clock.advance(900);
    host.send('SIGTERM'); // npm forwarding its own SIGTERM within the window
    await flush();

    // Assess
    expect(events).toEqual(['stop SIGINT']);
    expect(controller.relays).toBe(2);
    expect(controller.forced).toBe(false);
    expect(host.exits).toEqual([]);
    expect(controller.exitCode()).toBe(130);
  });

  it('a second signal after the window forces the exit: agents killed synchronously, run closed, then exit', async () => {
    // Prepare
    let release = (): void => {};
    const written = new Promise<void>((r) => {
      release = r;
    });
    const { host, clock, events, controller } = setup(() => written);

    // Act
    host.send('SIGTERM');
    clock.advance(1_500);
    host.send('SIGTERM');
    const beforeWrite = [...host.exits];
    release();
    await flush();

    // Assess
    expect(events).toEqual(['stop SIGTERM', 'killNow', 'force a second SIGTERM after 1500 ms']);
    expect(beforeWrite, 'no exit before the run is closed').toEqual([]);
    expect(host.exits).toEqual([143]);
    expect(controller.forced).toBe(true);
  });

  it('a store that never answers does not hold the forced exit beyond forceWriteMs', async () => {
    // Prepare
    const { host, clock, events } = setup(() => new Promise<void>(() => {}));

    // Act
    host.send('SIGINT');
    clock.advance(5_000);
    host.send('SIGINT');
    await flush();
    const early = [...host.exits];
    clock.advance(2_000);

    // Assess
    expect(events.slice(0, 2)).toEqual(['stop SIGINT', 'killNow']);
    expect(early).toEqual([]);
    expect(host.exits).toEqual([130]);
  });

  it('a graceful stop that is still going after graceMs is forced', async () => {
    // Prepare
    const { host, clock, events } = setup();

    // Act
    host.send('SIGTERM');
    clock.advance(14_999);
    const before = [...events];
    clock.advance(1);
    await flush();

    // Assess
    expect(before).toEqual(['stop SIGTERM']);
    expect(events).toEqual(['stop SIGTERM', 'killNow', 'force the graceful stop took longer than 15000 ms']);
    expect(host.exits).toEqual([143]);
  });

  it('a run that ended disposes the controller: no forced exit later, listeners removed', async () => {
    // Prepare
    const { host, clock, events, controller } = setup();

    // Act
    host.send('SIGINT');
    controller.dispose();
    clock.advance(60_000);
    await flush();

    // Assess
    expect(events).toEqual(['stop SIGINT']);
    expect(host.exits).toEqual([]);
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) expect(host.listenerCount(signal)).toBe(0);
  });

  it('the parent going away stops gracefully with exit 129, and never counts as a second signal', async () => {
    // Prepare
    const { host, clock, events, controller } = setup();

    // Act
    controller.request({ kind: 'parent-exit', pid: 4242, command: 'npm exec' });
    clock.advance(5_000);
    controller.request({ kind: 'parent-exit', pid: 4243, command: 'sh' });
    await flush();

    // Assess
    expect(events).toEqual(['stop 4242']);
    expect(controller.exitCode()).toBe(129);
    expect(host.exits).toEqual([]);
    // A deliberate signal later still forces.
    host.send('SIGINT');
    await flush();
    expect(host.exits).toEqual([129]);
  });
});
