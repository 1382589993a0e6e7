/**
 * The run's shared pool across unit Lambdas. On AWS every unit runs in its own Lambda with its own
 * provider, so a pool held in memory dies with the unit. The ledger is where a unit leaves its idle
 * sandboxes (by id; their agents stopped) for the next unit to claim and connect to: each entry is
 * claimed by exactly one unit at a time. The run's DrainPool step kills whatever is left.
 */
import type { ProviderName } from './types.ts';

/** One idle (or claimed) sandbox of a run. */
export interface LedgerEntry {
  sandboxId: string;
  provider: ProviderName;
  /** Epoch ms when its last holder let go of it (the idle time since is billed to the next holder). */
  releasedAt: number;
  /** Epoch ms when it ends on its own unless a holder extends it. */
  expiresAt: number;
  state: 'idle' | 'claimed';
  /** The unit holding it while claimed. */
  holder?: string;
}

/** The shared pool's bookkeeping (DynamoDB on AWS, the embedded DynamoDB locally). */
export interface PoolLedger {
  /** Put idle sandboxes of a run up for grabs (replaces an entry with the same id). */
  offer(runId: string, entries: ReadonlyArray<Omit<LedgerEntry, 'state' | 'holder'>>): Promise<void>;
  /**
   * Claim up to `max` idle, unexpired sandboxes of `provider` for `holder`; each entry goes to one
   * caller only, however many claim at once. Expired entries met on the way are removed.
   */
  claim(
    runId: string,
    query: { max: number; holder: string; provider: ProviderName; now: number; minRemainingMs?: number },
  ): Promise<LedgerEntry[]>;
  /** Every entry of the run, idle or claimed, for draining. */
  entries(runId: string): Promise<LedgerEntry[]>;
  /** Forget an entry (its sandbox was killed or is gone). */
  remove(runId: string, sandboxId: string): Promise<void>;
}
