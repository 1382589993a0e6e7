/**
 * The reaper's decision: which of the stack's old E2B sandboxes are leftovers. Age alone is not
 * enough: a long run's pooled sandbox (idle in the run's ledger between units, or claimed by a
 * unit) and a sandbox a running unit holds are older than any age limit worth setting. Every
 * sandbox a unit creates carries its run's id (`run` metadata), so the reaper asks the result store
 * whether that run is still live and the pool ledger whether it still lists the sandbox.
 */
import type { RunMeta } from '../bench/model.ts';
import { InvalidInputError } from '../errors.ts';
import type { E2BSandboxSummary, StaleQuery } from '../sandbox/e2b.ts';
import type { LedgerEntry, PoolLedger } from '../sandbox/ledger.ts';

/** Why a sandbox older than the age limit was left alone. */
export interface SparedSandbox {
  sandboxId: string;
  runId: string;
  reason: string;
}

export interface ReapDeps {
  /** The stack's sandboxes started more than `maxAgeMs` ago (listStaleSandboxes with a key bound). */
  listStale: (query: StaleQuery) => Promise<E2BSandboxSummary[]>;
  /** Kill one sandbox; false when it was already gone. */
  kill: (sandboxId: string) => Promise<boolean>;
  runs: { getRun(runId: string): Promise<RunMeta | undefined> };
  ledger?: Pick<PoolLedger, 'entries'>;
  stack: string;
  maxAgeMs: number;
  /**
   * A run still 'running' this long after it started is abandoned (its state machine timed out
   * without recording the end), so its sandboxes are no longer spared: the pipeline's timeout.
   */
  liveRunMaxMs: number;
  now: () => Date;
}

/** Kill the stack's old sandboxes that no live run holds; returns what was killed and what was spared. */
export async function reapStep(deps: ReapDeps): Promise<{ killed: string[]; spared: SparedSandbox[] }> {
  if (!(Number.isFinite(deps.liveRunMaxMs) && deps.liveRunMaxMs > 0)) {
    throw new InvalidInputError('liveRunMaxMs', 'a positive number of milliseconds', deps.liveRunMaxMs);
  }
  const now = deps.now().getTime();
  const stale = await deps.listStale({ stack: deps.stack, maxAgeMs: deps.maxAgeMs, now });
  const holders = new Map<string, Promise<RunHolding>>();
  const killed: string[] = [];
  const spared: SparedSandbox[] = [];
  for (const sandbox of stale) {
    const runId = sandbox.metadata.run;
    if (runId !== undefined && runId !== '') {
      let holding = holders.get(runId);
      if (holding === undefined) {
        holding = runHolding(deps, runId, now);
        holders.set(runId, holding);
      }
      const reason = whyHeld(await holding, sandbox.sandboxId);
      if (reason !== undefined) {
        spared.push({ sandboxId: sandbox.sandboxId, runId, reason });
        continue;
      }
    }
    if (await deps.kill(sandbox.sandboxId)) killed.push(sandbox.sandboxId);
  }
  return { killed, spared };
}

/** What the store and ledger say about one run. */
type RunHolding =
  | { live: false }
  | { live: true; status: string; entries: Map<string, LedgerEntry> | undefined }
  | { live: 'unknown'; error: string };

async function runHolding(deps: ReapDeps, runId: string, now: number): Promise<RunHolding> {
  let run: RunMeta | undefined;
  try {
    run = await deps.runs.getRun(runId);
  } catch (error) {
    // Unsure is spared: the sandbox still ends at its own E2B timeout; a wrong kill ends a run.
    return { live: 'unknown', error: (error as Error).message };
  }
  if (run === undefined || run.status !== 'running') return { live: false };
  const started = Date.parse(run.startedAt);
  if (!(Number.isFinite(started) && now - started < deps.liveRunMaxMs)) return { live: false };
  let entries: Map<string, LedgerEntry> | undefined;
  try {
    const listed = (await deps.ledger?.entries(runId)) ?? undefined;
    entries = listed && new Map(listed.map((entry) => [entry.sandboxId, entry]));
  } catch {
    // The run is live either way; the ledger only names how the sandbox is held.
    entries = undefined;
  }
  return { live: true, status: run.status, entries };
}

function whyHeld(holding: RunHolding, sandboxId: string): string | undefined {
  if (holding.live === false) return undefined;
  if (holding.live === 'unknown') return `the run could not be read (${holding.error}); spared`;
  const entry = holding.entries?.get(sandboxId);
  if (entry?.state === 'claimed') return `claimed by unit ${entry.holder ?? '?'} of a running run`;
  if (entry?.state === 'idle') return 'idle in the pool ledger of a running run, for its next unit';
  return 'held by a unit of a running run';
}
