/**
 * The coordinator's client keeps every outstanding request's deadline behind one timer
 * (lib/swarm/deadlines.ts): 100 outstanding requests arm one timer, and each still times out at
 * its own deadline, not earlier and not with its neighbours. Fake timers drive the clock; the
 * client's requests go over a real loopback WebSocket to a server that never answers.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocketServer } from 'ws';
import { TimeoutError } from '../../lib/errors.ts';
import { AgentClient } from '../../lib/swarm/client.ts';
import { DeadlineQueue } from '../../lib/swarm/deadlines.ts';

let server: Server | undefined;
let wss: WebSocketServer | undefined;

afterEach(async () => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  for (const client of wss?.clients ?? []) client.terminate();
  wss?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
  wss = undefined;
});

/** A WebSocket server on a loopback ephemeral port that accepts any connection and never answers. */
async function silentAgent(): Promise<string> {
  wss = new WebSocketServer({ noServer: true });
  server = createServer();
  server.on('upgrade', (req, socket, head) => wss?.handleUpgrade(req, socket, head, () => {}));
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Timeouts in a scrambled order, so deadlines arrive out of order: 1000, 1010, ... 1990 ms. */
const TIMEOUTS = Array.from({ length: 100 }, (_, i) => 1000 + ((i * 37 + 11) % 100) * 10);

/** How many of `timeouts`, added at one instant in this order, are earlier than all before them. */
function newEarliest(timeouts: readonly number[]): number {
  return timeouts.filter((t, i) => timeouts.slice(0, i).every((u) => t < u)).length;
}

describe('DeadlineQueue', () => {
  it('arms one timer for 100 deadlines and expires each at its own time, in deadline order', async () => {
    vi.useFakeTimers();
    const setTimer = vi.spyOn(globalThis, 'setTimeout');
    const expired: { key: number; atMs: number }[] = [];
    const start = Date.now();
    const queue = new DeadlineQueue<number>(
      (key) => expired.push({ key, atMs: Date.now() - start }),
      Date.now,
    );
    for (const [key, timeoutMs] of TIMEOUTS.entries()) queue.add(key, timeoutMs);
    // Only a deadline earlier than every one before it moves the timer.
    expect(setTimer).toHaveBeenCalledTimes(newEarliest(TIMEOUTS));
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(2_000);
    const keys = [...TIMEOUTS.keys()].sort((a, b) => (TIMEOUTS[a] as number) - (TIMEOUTS[b] as number));
    expect(expired.map(({ key }) => key)).toEqual(keys);
    for (const { key, atMs } of expired) expect(atMs).toBe(TIMEOUTS[key]);
    expect(queue.size).toBe(0);
  });

  it('expires nothing that was deleted, and keeps no process alive once every key is deleted', async () => {
    vi.useFakeTimers();
    const expired: number[] = [];
    const queue = new DeadlineQueue<number>((key) => expired.push(key), Date.now);
    queue.add(1, 100);
    queue.add(2, 200);
    queue.add(3, 300);
    expect(queue.delete(2)).toBe(true);
    expect(queue.delete(2)).toBe(false);
    await vi.advanceTimersByTimeAsync(150);
    expect(expired).toEqual([1]);
    queue.delete(3);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(expired).toEqual([1]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('moves the timer earlier for a shorter timeout added later', async () => {
    vi.useFakeTimers();
    const expired: { key: string; atMs: number }[] = [];
    const start = Date.now();
    const queue = new DeadlineQueue<string>(
      (key) => expired.push({ key, atMs: Date.now() - start }),
      Date.now,
    );
    queue.add('long', 30_000);
    await vi.advanceTimersByTimeAsync(10);
    queue.add('short', 50);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(expired).toEqual([
      { key: 'short', atMs: 60 },
      { key: 'long', atMs: 30_000 },
    ]);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('AgentClient request deadlines', () => {
  it('100 outstanding requests arm one timer, and each times out at its own deadline', async () => {
    const client = await AgentClient.connect('a0', await silentAgent(), 'secret');
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
    const setTimer = vi.spyOn(globalThis, 'setTimeout');
    const start = Date.now();
    // One request a millisecond, each with 1 s to answer: deadlines 1000, 1001, ... 1099 ms.
    const outcomes: Promise<{ sentMs: number; error: unknown; atMs: number }>[] = [];
    for (let i = 0; i < 100; i++) {
      const sentMs = Date.now() - start;
      outcomes.push(
        client.request({ op: 'metrics' }, 1_000).then(
          () => ({ sentMs, error: undefined, atMs: Date.now() - start }),
          (error: unknown) => ({ sentMs, error, atMs: Date.now() - start }),
        ),
      );
      await vi.advanceTimersByTimeAsync(1);
    }
    expect(setTimer).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(1_100);
    const settled = await Promise.all(outcomes);
    expect(settled.map(({ sentMs }) => sentMs)).toEqual([...TIMEOUTS.keys()]);
    for (const { sentMs, error, atMs } of settled) {
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as Error).message).toBe('agent a0: metrics got no answer within 1000 ms');
      expect(atMs).toBe(sentMs + 1_000);
    }
    expect(vi.getTimerCount()).toBe(0);
    client.close();
  });
});
