/**
 * Closing what a dead process left behind: runs still `running` whose owner stopped heart-beating
 * become `abandoned`. Every command that opens the store calls this first.
 *
 * With the embedded store the check is exact: its LevelDB lock is held by the process that owns a
 * run for the whole run, so a process that could open the store knows that no other process is
 * writing to it, and every `running` run in it is an orphan (`exclusive`). A shared store
 * (DynamoDB) relies on the heartbeat's age alone.
 */
import { tmpdir } from 'node:os';
import type { RunMeta } from '../bench/model.ts';
import { sweepLocalSandboxes } from '../sandbox/sweep.ts';
import { type EmbeddedStore, openEmbeddedStore } from '../store/embedded.ts';
import type { ResultStore } from '../store/types.ts';
import { STALE_AFTER_MS } from './heartbeat.ts';

export interface AbandonedRun {
  runId: string;
  /** The last heartbeat, or the start when it never beat. */
  lastSeen: string;
}

/** Close every stale running run as `abandoned`; returns the runs closed. */
export async function closeAbandonedRuns(
  store: Pick<ResultStore, 'listRuns' | 'abandonRun'>,
  options: { now?: () => Date; staleAfterMs?: number; exclusive?: boolean } = {},
): Promise<AbandonedRun[]> {
  const now = (options.now ?? (() => new Date()))().getTime();
  const staleAfterMs = options.exclusive ? 0 : (options.staleAfterMs ?? STALE_AFTER_MS);
  // "Before now" must include a beat written in this very millisecond when the store is ours alone.
  const staleBefore = new Date(now - staleAfterMs + (options.exclusive ? 1 : 0)).toISOString();
  const running = await store.listRuns({ status: 'running', limit: 1_000 });
  const closed: AbandonedRun[] = [];
  for (const run of running) {
    const lastSeen = lastSign(run);
    if (lastSeen >= staleBefore) continue;
    const why = options.exclusive
      ? 'its process ended without closing it'
      : `no heartbeat for more than ${Math.round(staleAfterMs / 1000)} s`;
    const done = await store.abandonRun(run.runId, {
      staleBefore,
      endedAt: lastSeen,
      reason: `abandoned: ${why} (last heartbeat ${lastSeen})`,
    });
    if (done) closed.push({ runId: run.runId, lastSeen });
  }
  return closed;
}

function lastSign(run: RunMeta): string {
  return new Date(Date.parse(run.heartbeatAt ?? run.startedAt)).toISOString();
}

/**
 * Opens the embedded store for a command and first cleans up after dead owners: runs left
 * `running` are closed as abandoned (exclusive: holding the store's lock proves their owner is
 * gone), and local sandbox directories whose owner is gone are removed (lib/sandbox/sweep.ts).
 */
export async function openStoreAndRecover(
  dir: string,
  options: { tmpRoot?: string; say?: (line: string) => void; now?: () => Date } = {},
): Promise<EmbeddedStore> {
  const opened = await openEmbeddedStore({ dir });
  try {
    const closed = await closeAbandonedRuns(opened.store, {
      exclusive: true,
      ...(options.now ? { now: options.now } : {}),
    });
    for (const run of closed)
      options.say?.(
        `swarm-bench: run ${run.runId} was left running by a process that is gone (last heartbeat ${run.lastSeen}): marked abandoned`,
      );
    const swept = await sweepLocalSandboxes({ root: options.tmpRoot ?? tmpdir() });
    if (swept.removed.length > 0)
      options.say?.(
        `swarm-bench: removed ${swept.removed.length} local sandbox folder(s) left by processes that are gone` +
          (swept.killed.length > 0
            ? ` and killed ${swept.killed.length} agent(s) still running in them`
            : ''),
      );
  } catch (error) {
    await opened.close();
    throw error;
  }
  return opened;
}
