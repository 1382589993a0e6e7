/**
 * Passing a run's pool from one unit Lambda to the next through the ledger: a unit claims idle
 * sandboxes, connects to them and adopts them into its own SandboxPool; when it ends it stops their
 * agents (the pool does that on release), sets them to live just long enough for the next unit to
 * claim them, detaches and offers them back. What no later unit needs is killed. The run's last
 * step drains the ledger, and sandbox lifetimes bound what a crash leaves behind.
 */
import { mapLimit } from '../swarm/concurrency.ts';
import type { PoolLedger } from './ledger.ts';
import type { SandboxPool } from './pool.ts';
import type { Sandbox, SandboxProvider } from './types.ts';

/** A provider that can hand sandboxes across instances (local and E2B both can). */
export type SharingProvider = SandboxProvider & Required<Pick<SandboxProvider, 'connect' | 'detach'>>;

/** True when `provider` can take part in a shared pool. */
export function canShare(provider: SandboxProvider): provider is SharingProvider {
  return provider.connect !== undefined && provider.detach !== undefined;
}

/** What the shared pool needs from its surroundings. */
export interface SharedPoolDeps {
  ledger: PoolLedger;
  provider: SharingProvider;
  runId: string;
  /** The unit claiming (for the ledger's holder field). */
  holder: string;
  /** Epoch ms. @default Date.now */
  clock?: () => number;
}

/** Connections to pooled sandboxes at once. */
const CONNECT_CONCURRENCY = 10;

/**
 * Claim up to `max` idle sandboxes of the run, connect to each with a lifetime of `timeoutMs`, and
 * adopt them into `pool`. Entries whose sandbox is gone are removed. Returns how many were adopted
 * and the seconds they sat idle since their last holder let go: E2B billed those too, so they are
 * added to the claiming unit's sandbox-seconds.
 */
export async function claimShared(
  pool: SandboxPool,
  deps: SharedPoolDeps,
  max: number,
  timeoutMs: number,
): Promise<{ adopted: number; idleSeconds: number }> {
  const { ledger, provider, runId } = deps;
  const clock = deps.clock ?? Date.now;
  if (max <= 0) return { adopted: 0, idleSeconds: 0 };
  const now = clock();
  const entries = await ledger.claim(runId, { max, holder: deps.holder, provider: provider.name, now });
  const connected: Sandbox[] = [];
  let idleSeconds = 0;
  await mapLimit(entries, CONNECT_CONCURRENCY, async (entry) => {
    try {
      const sandbox = await provider.connect(entry.sandboxId, { timeoutMs });
      connected.push(sandbox);
      idleSeconds += Math.max(0, now - entry.releasedAt) / 1000;
    } catch {
      // Gone (expired, reaped): nothing to adopt; the unit creates what it lacks.
    }
    // Claimed means ours now: the entry comes back only if the unit offers the sandbox again.
    await ledger.remove(runId, entry.sandboxId);
  });
  await pool.adopt(connected);
  return { adopted: connected.length, idleSeconds };
}

/**
 * Offer the pool's idle sandboxes (at most `keep`) to the next unit: each is set to live `bridgeMs`
 * from now, detached and put in the ledger. The rest are killed. Returns how many were offered.
 */
export async function offerShared(
  pool: SandboxPool,
  deps: SharedPoolDeps,
  keep: number,
  bridgeMs: number,
): Promise<number> {
  const { ledger, provider, runId } = deps;
  const clock = deps.clock ?? Date.now;
  const idle = pool.takeIdle();
  const kept = idle.filter((sandbox) => sandbox.alive).slice(0, keep);
  const extra = idle.filter((sandbox) => !kept.includes(sandbox));
  await Promise.allSettled(extra.map((sandbox) => sandbox.kill()));
  const offered: Array<{ sandboxId: string; expiresAt: number }> = [];
  await mapLimit(kept, CONNECT_CONCURRENCY, async (sandbox) => {
    try {
      await sandbox.setLifetime?.(bridgeMs);
      const expiresAt = clock() + bridgeMs;
      await provider.detach(sandbox);
      offered.push({ sandboxId: sandbox.id, expiresAt });
    } catch {
      await sandbox.kill().catch(() => false);
    }
  });
  const releasedAt = clock();
  await ledger.offer(
    runId,
    offered.map((entry) => ({ ...entry, provider: provider.name, releasedAt })),
  );
  return offered.length;
}

/**
 * Kill every sandbox left in the run's ledger and forget it (the pipeline's DrainPool step).
 * `kill` ends one sandbox by id and resolves false when it was already gone.
 */
export async function drainShared(deps: {
  ledger: PoolLedger;
  runId: string;
  kill: (sandboxId: string) => Promise<boolean>;
}): Promise<{ killed: number; gone: number }> {
  let killed = 0;
  let gone = 0;
  await mapLimit(await deps.ledger.entries(deps.runId), CONNECT_CONCURRENCY, async (entry) => {
    if (await deps.kill(entry.sandboxId)) killed++;
    else gone++;
    await deps.ledger.remove(deps.runId, entry.sandboxId);
  });
  return { killed, gone };
}
