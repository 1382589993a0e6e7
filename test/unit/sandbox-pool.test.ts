import { describe, expect, it } from 'vitest';
import { SandboxPool } from '../../lib/sandbox/pool.ts';
import type { Sandbox, SandboxProvider } from '../../lib/sandbox/types.ts';

/** A provider of in-memory sandboxes that records what happens to each. */
function fakeProvider(maxConcurrent = 100) {
  const all: Array<Sandbox & { stops: number; lifetimes: number[] }> = [];
  const provider: SandboxProvider = {
    name: 'local',
    maxConcurrent,
    resources: { vcpu: 2, memoryMb: 512 },
    async create() {
      let alive = true;
      const sandbox = {
        id: `s${all.length}`,
        provider: 'local' as const,
        createdAt: 0,
        get alive() {
          return alive;
        },
        stops: 0,
        lifetimes: [] as number[],
        async startAgent() {
          throw new Error('not used');
        },
        async stopAgents() {
          sandbox.stops++;
        },
        async setLifetime(ms: number) {
          sandbox.lifetimes.push(ms);
        },
        async metrics() {
          return { rssBytes: 0, source: 'proc' as const, at: 0 };
        },
        async kill() {
          const was = alive;
          alive = false;
          return was;
        },
      };
      all.push(sandbox);
      return sandbox;
    },
    live: () => all.filter((s) => s.alive),
    usage: () => ({ created: all.length, sandboxSeconds: 0 }),
    killAll: async () => (await Promise.all(all.map((s) => s.kill()))).filter(Boolean).length,
  };
  return { provider, all };
}

describe('SandboxPool', () => {
  it('creates only what is missing and reuses released sandboxes with a new lifetime', async () => {
    // Prepare
    const { provider, all } = fakeProvider();
    const pool = new SandboxPool(provider);
    // Act
    const first = await pool.acquire(3, 60_000);
    await pool.release(first);
    const second = await pool.acquire(5, 90_000);
    // Assess
    expect(all).toHaveLength(5);
    expect(second.filter((s) => first.includes(s))).toHaveLength(3);
    expect(first.every((s) => (s as (typeof all)[number]).stops === 1)).toBe(true);
    expect((first[0] as (typeof all)[number]).lifetimes).toEqual([90_000]);
    expect(pool.stats).toMatchObject({ created: 5, reused: 3, inUse: 5, idle: 0 });
  });

  it('drops sandboxes that died while idle instead of handing them out', async () => {
    const { provider, all } = fakeProvider();
    const pool = new SandboxPool(provider);
    const [a] = await pool.acquire(1, 1_000);
    await pool.release([a!]);
    await a!.kill();
    const [b] = await pool.acquire(1, 1_000);
    expect(b).not.toBe(a);
    expect(b!.alive).toBe(true);
    expect(all).toHaveLength(2);
  });

  it('keeps donated sandboxes up to capacity, kills the rest; shrink and drain kill idle and in-use ones', async () => {
    const { provider, all } = fakeProvider();
    const pool = new SandboxPool(provider, { capacity: 2 });
    const fresh = await Promise.all([1, 2, 3].map(() => provider.create({ timeoutMs: 1, metadata: {} })));
    await pool.donate(fresh);
    expect(pool.stats).toMatchObject({ donated: 3, idle: 2 });
    expect(fresh.filter((s) => !s.alive)).toHaveLength(1);
    await pool.shrink(1);
    expect(pool.stats.idle).toBe(1);
    const held = await pool.acquire(2, 1_000);
    expect(held).toHaveLength(2);
    await pool.drain();
    expect(all.filter((s) => s.alive)).toHaveLength(0);
    await expect(pool.acquire(1, 1_000)).rejects.toThrow(/drained/);
  });

  it('never leaks when a creation fails: sandboxes taken so far are killed', async () => {
    const { provider, all } = fakeProvider();
    let calls = 0;
    const pool = new SandboxPool(provider, {
      concurrency: 1,
      create: async (timeoutMs, metadata) => {
        if (++calls === 3) throw new Error('boom');
        return provider.create({ timeoutMs, metadata });
      },
    });
    await expect(pool.acquire(4, 1_000)).rejects.toThrow('boom');
    expect(all).toHaveLength(2);
    expect(all.filter((s) => s.alive)).toHaveLength(0);
    expect(pool.stats).toMatchObject({ inUse: 0, idle: 0 });
  });

  it('makes room under the provider limit for a fresh swarm by killing idle sandboxes', async () => {
    const { provider } = fakeProvider(4);
    const pool = new SandboxPool(provider);
    await pool.release(await pool.acquire(4, 1_000));
    expect(await pool.makeRoom(3)).toBe(3);
    expect(provider.live()).toHaveLength(1);
  });
});
