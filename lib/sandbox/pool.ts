/**
 * A pool of sandboxes for one run (or one unit Lambda). Creating a sandbox is the slow and, on E2B,
 * billed part of a swarm; a benchmark that does not measure creation only needs empty sandboxes to
 * start fresh agents in. Reuse therefore means: a kept sandbox, a new agent process (new secret,
 * topology, peers, empty state). Results do not move locally, and E2B skips the VM boot.
 *
 * The pool never leaks: every sandbox it creates or is given is either handed out, idle here, or
 * killed; shrink() and drain() kill idle ones, and drain() also kills what is still handed out.
 */
import { mapLimit } from '../swarm/concurrency.ts';
import type { Sandbox, SandboxProvider } from './types.ts';

/** Options of a pool. */
export interface SandboxPoolOptions {
  /** Tags put on every sandbox the pool creates (stack, run, `pooled: 'true'`). */
  metadata?: Record<string, string>;
  /** Idle sandboxes kept at most; extra released or donated ones are killed. @default Infinity */
  capacity?: number;
  /** Sandboxes created at once. @default 10 */
  concurrency?: number;
  /**
   * Creates one sandbox (the swarm manager's retrying, admission-checked creation); the pool's
   * own default calls provider.create once.
   */
  create?: (timeoutMs: number, metadata: Record<string, string>) => Promise<Sandbox>;
}

/** Counts of a pool, for the report and tests. */
export interface PoolStats {
  /** Sandboxes this pool created. */
  created: number;
  /** Sandboxes given to the pool by their creator (creation benchmarks) instead of being killed. */
  donated: number;
  /** Sandboxes taken over from the run's shared pool (another unit Lambda left them idle). */
  adopted: number;
  /** Acquisitions served by an idle sandbox instead of a new one. */
  reused: number;
  /** Sandboxes the pool killed (shrink, drain, over capacity, failed reset). */
  killed: number;
  idle: number;
  inUse: number;
}

/** Idle sandboxes of one provider, handed out and taken back. */
export class SandboxPool {
  readonly #provider: SandboxProvider;
  readonly #metadata: Record<string, string>;
  readonly #concurrency: number;
  readonly #create: (timeoutMs: number, metadata: Record<string, string>) => Promise<Sandbox>;
  #capacity: number;
  readonly #idle: Sandbox[] = [];
  readonly #inUse = new Set<Sandbox>();
  #drained = false;
  readonly #stats = { created: 0, donated: 0, adopted: 0, reused: 0, killed: 0 };

  constructor(provider: SandboxProvider, options: SandboxPoolOptions = {}) {
    this.#provider = provider;
    this.#metadata = { ...(options.metadata ?? {}) };
    this.#capacity = options.capacity ?? Number.POSITIVE_INFINITY;
    this.#concurrency = Math.max(1, options.concurrency ?? 10);
    this.#create =
      options.create ?? ((timeoutMs, metadata) => this.#provider.create({ timeoutMs, metadata }));
  }

  get stats(): PoolStats {
    return { ...this.#stats, idle: this.#idle.length, inUse: this.#inUse.size };
  }

  /** Idle sandboxes kept at most. */
  get capacity(): number {
    return this.#capacity;
  }

  /**
   * `n` empty sandboxes that live at least `timeoutMs` from now: idle ones first (their lifetime
   * reset), new ones only for what is missing. On a failure nothing stays handed out.
   */
  async acquire(
    n: number,
    timeoutMs: number,
    /** Creates what is missing; the caller's own path (admission, retries). @default the pool's */
    create: (timeoutMs: number, metadata: Record<string, string>) => Promise<Sandbox> = this.#create,
  ): Promise<Sandbox[]> {
    if (this.#drained) throw new Error('sandbox pool is drained');
    const taken: Sandbox[] = [];
    try {
      while (taken.length < n) {
        const sandbox = this.#idle.pop();
        if (sandbox === undefined) break;
        this.#inUse.add(sandbox);
        taken.push(sandbox);
      }
      // A sandbox may have expired or been killed while idle; such ones are dropped, not reused.
      const renewed = await Promise.all(
        taken.map(async (sandbox) => {
          if (!sandbox.alive) return false;
          try {
            await sandbox.setLifetime?.(timeoutMs);
            return true;
          } catch {
            return false;
          }
        }),
      );
      const live: Sandbox[] = [];
      for (const [i, sandbox] of taken.entries()) {
        if (renewed[i]) live.push(sandbox);
        else await this.#discard(sandbox);
      }
      taken.length = 0;
      taken.push(...live);
      this.#stats.reused += live.length;
      const missing = n - live.length;
      if (missing > 0) {
        await mapLimit(
          Array.from({ length: missing }, (_, i) => i),
          this.#concurrency,
          async () => {
            const sandbox = await create(timeoutMs, { ...this.#metadata, pooled: 'true' });
            this.#stats.created++;
            this.#inUse.add(sandbox);
            taken.push(sandbox);
            if (this.#drained) throw new Error('sandbox pool was drained during acquire');
          },
        );
      }
      return taken;
    } catch (error) {
      await Promise.allSettled(taken.map((sandbox) => this.#discard(sandbox)));
      throw error;
    }
  }

  /** Take sandboxes back: their agents are stopped and they become idle (dead ones are dropped). */
  async release(sandboxes: readonly Sandbox[]): Promise<void> {
    await Promise.all(sandboxes.map((sandbox) => this.#takeBack(sandbox, false)));
  }

  /**
   * Adopt sandboxes another owner created (a creation benchmark's fresh swarm) instead of letting
   * it kill them. Beyond capacity they are killed.
   */
  async donate(sandboxes: readonly Sandbox[]): Promise<void> {
    await Promise.all(sandboxes.map((sandbox) => this.#takeBack(sandbox, true)));
  }

  /**
   * Take in idle sandboxes connected from the run's shared pool (their agents already stopped by
   * their last holder). Beyond capacity, or once drained, they are killed.
   */
  async adopt(sandboxes: readonly Sandbox[]): Promise<void> {
    for (const sandbox of sandboxes) {
      this.#stats.adopted++;
      if (this.#drained || !sandbox.alive || this.#idle.length >= this.#capacity) await this.#kill(sandbox);
      else if (!this.#idle.includes(sandbox)) this.#idle.push(sandbox);
    }
  }

  /** Hand every idle sandbox to the caller (to pass on to the next unit); the pool forgets them. */
  takeIdle(): Sandbox[] {
    return this.#idle.splice(0);
  }

  /**
   * Kill idle sandboxes until `n` new ones fit under the provider's limit on live sandboxes (E2B
   * Hobby: 20), so a creation benchmark's fresh swarm never fails because the pool holds the slots.
   */
  async makeRoom(n: number): Promise<number> {
    const excess = this.#provider.live().length + n - this.#provider.maxConcurrent;
    const victims = this.#idle.splice(0, Math.max(0, Math.min(excess, this.#idle.length)));
    await Promise.allSettled(victims.map((sandbox) => this.#kill(sandbox)));
    return victims.length;
  }

  /** Kill idle sandboxes beyond `max`, and keep at most `max` idle from now on. */
  async shrink(max: number): Promise<number> {
    this.#capacity = Math.max(0, max);
    const extra = this.#idle.splice(0, Math.max(0, this.#idle.length - this.#capacity));
    await Promise.allSettled(extra.map((sandbox) => this.#kill(sandbox)));
    return extra.length;
  }

  /**
   * Reset the lifetime of every idle sandbox to `timeoutMs` from now (before a unit starts), so
   * they neither expire under it nor outlive it by much. Ones that cannot be renewed are killed.
   */
  async renew(timeoutMs: number): Promise<void> {
    const idle = [...this.#idle];
    await Promise.all(
      idle.map(async (sandbox) => {
        try {
          if (!sandbox.alive) throw new Error('dead');
          await sandbox.setLifetime?.(timeoutMs);
        } catch {
          const at = this.#idle.indexOf(sandbox);
          if (at >= 0) this.#idle.splice(at, 1);
          await this.#kill(sandbox);
        }
      }),
    );
  }

  /** Kill everything: idle sandboxes and those still handed out. The pool refuses work afterwards. */
  async drain(): Promise<number> {
    this.#drained = true;
    this.#capacity = 0;
    const all = [...this.#idle.splice(0), ...this.#inUse];
    this.#inUse.clear();
    await Promise.allSettled(all.map((sandbox) => this.#kill(sandbox)));
    return all.length;
  }

  async #takeBack(sandbox: Sandbox, donated: boolean): Promise<void> {
    const ours = this.#inUse.delete(sandbox);
    if (!ours && !donated) return;
    if (donated && !ours) this.#stats.donated++;
    if (this.#drained || !sandbox.alive || this.#idle.length >= this.#capacity) {
      await this.#kill(sandbox);
      return;
    }
    try {
      await sandbox.stopAgents();
    } catch {
      await this.#kill(sandbox);
      return;
    }
    // Re-check: capacity may have shrunk or the pool been drained while agents stopped.
    if (this.#drained || !sandbox.alive || this.#idle.length >= this.#capacity) await this.#kill(sandbox);
    else if (!this.#idle.includes(sandbox)) this.#idle.push(sandbox);
  }

  async #discard(sandbox: Sandbox): Promise<void> {
    this.#inUse.delete(sandbox);
    await this.#kill(sandbox);
  }

  async #kill(sandbox: Sandbox): Promise<void> {
    this.#stats.killed++;
    await sandbox.kill().catch(() => false);
  }
}
