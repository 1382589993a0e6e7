import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { onShutdownSignals, type SignalTarget } from '../../lib/sandbox/lifecycle.ts';

class FakeProcess extends EventEmitter implements SignalTarget {
  readonly exits: number[] = [];
  exit(code: number): void {
    this.exits.push(code);
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('onShutdownSignals', () => {
  it('runs the handler, then exits with 128 + the signal number', async () => {
    // Prepare
    const target = new FakeProcess();
    const calls: string[] = [];
    onShutdownSignals(async (signal) => {
      calls.push(signal);
    }, target);

    // Act
    target.emit('SIGTERM', 'SIGTERM');
    await tick();

    // Assess
    expect(calls).toEqual(['SIGTERM']);
    expect(target.exits).toEqual([143]);
  });

  it('exits even when the handler fails, and a second signal forces the exit at once', async () => {
    // Prepare
    const target = new FakeProcess();
    let release!: () => void;
    onShutdownSignals(
      () =>
        new Promise<void>((_, reject) => {
          release = () => reject(new Error('kill failed'));
        }),
      target,
    );

    // Act
    target.emit('SIGINT', 'SIGINT');
    await tick();
    const beforeSecond = [...target.exits];
    target.emit('SIGINT', 'SIGINT');
    release();
    await tick();

    // Assess
    expect(beforeSecond).toEqual([]);
    expect(target.exits).toEqual([130, 130]);
  });

  it('removes its listeners when disposed', () => {
    // Prepare
    const target = new FakeProcess();
    const dispose = onShutdownSignals(async () => undefined, target);

    // Act
    dispose();

    // Assess
    expect(target.listenerCount('SIGINT')).toBe(0);
    expect(target.listenerCount('SIGTERM')).toBe(0);
  });
});
