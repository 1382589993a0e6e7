/**
 * The narrow interfaces the pipeline persists through. One implementation (DynamoDB) serves both
 * AWS and the embedded local store, so history queries behave the same everywhere.
 */
import type { RunMeta, RunStatus, UnitResult } from '../bench/model.ts';
import type { ProviderName } from '../sandbox/types.ts';

/** Filters for `ResultStore.listRuns`. */
export interface ListRunsQuery {
  configHash?: string;
  provider?: ProviderName;
  status?: RunStatus;
  /** At most this many runs. @default 50 */
  limit?: number;
  /** Only runs that started strictly before this ISO timestamp (paging, or "before this run"). */
  beforeStartedAt?: string;
}

/** Filters for `ResultStore.history`: the same unit in earlier runs of the same configuration. */
export interface HistoryQuery {
  configHash: string;
  provider: ProviderName;
  unitId: string;
  /** Only runs that started strictly before this ISO timestamp, typically the current run's start. */
  beforeStartedAt?: string;
  limit: number;
}

/** What `finishRun` changes on a run. */
export interface RunFinish {
  status: RunStatus;
  endedAt: string;
  reason?: string;
  /**
   * 'pending': a notification of this end is still to be sent (the pipeline finishes a run before
   * it notifies, and `markNotified` once it has): a retried step sees it and sends it then.
   */
  notification?: 'pending';
}

/** Run and unit-result persistence with the history queries baselines need. */
export interface ResultStore {
  /** Records a new run; 'exists' when the runId is already stored (an idempotent retry of Plan). */
  createRun(meta: RunMeta): Promise<'created' | 'exists'>;
  /** Sets a stored run's final status; StoreError if the run does not exist. */
  finishRun(runId: string, patch: RunFinish): Promise<void>;
  /** Records that the run's end was notified (`notification: 'sent'`); StoreError if it does not exist. */
  markNotified(runId: string): Promise<void>;
  /**
   * The owner of a running run says it is alive (`at`, ISO). 'not-running' when the run is no
   * longer running (finished, or closed as abandoned by another process): the owner should stop.
   */
  heartbeat(runId: string, at: string): Promise<'ok' | 'not-running'>;
  /**
   * Closes a run as `abandoned` if it is still running and its last heartbeat (its start when it
   * never beat) is before `staleBefore`; false when it is not (finished, or alive meanwhile). One
   * conditional write, so a late heartbeat and a sweep never both win.
   */
  abandonRun(
    runId: string,
    patch: { staleBefore: string; endedAt: string; reason: string },
  ): Promise<boolean>;
  getRun(runId: string): Promise<RunMeta | undefined>;
  /**
   * Stores one unit's result. A stored 'ok' or 'partial' result is never overwritten ('exists'), so
   * a retried unit or a re-run Publish never duplicates or changes it. A stored 'failed' result is
   * replaced by a later 'ok' or 'partial' attempt of the same unit; a second 'failed' does not
   * replace the first.
   */
  putResult(result: UnitResult): Promise<'written' | 'exists'>;
  /** Every stored result of a run, ordered by unitId. */
  getResults(runId: string): Promise<UnitResult[]>;
  /** One unit's stored result, or undefined; no other unit's item or series is read. */
  getResult(runId: string, unitId: string): Promise<UnitResult | undefined>;
  /**
   * The unitIds of a run that have a stored result (whatever its status), ordered by unitId. Reads
   * keys only: no result body, no series, no blob.
   */
  resultUnitIds(runId: string): Promise<string[]>;
  /** Runs matching every given filter, newest (by startedAt) first. */
  listRuns(query: ListRunsQuery): Promise<RunMeta[]>;
  /**
   * The unit's non-failed results in completed runs with the same configHash and provider, newest
   * first. Runs that are running, partial or failed, and runs without a result for the unit, are
   * skipped.
   */
  history(query: HistoryQuery): Promise<Array<{ run: RunMeta; result: UnitResult }>>;
  /** Releases what the store owns (the embedded server); later calls throw StoreError. */
  close(): Promise<void>;
}

/** Opaque bodies by key: raw samples too large for a store item, rendered reports. */
export interface BlobStore {
  put(key: string, body: string | Uint8Array, contentType?: string): Promise<void>;
  /** The body as UTF-8 text, or undefined when nothing is stored under the key. */
  get(key: string): Promise<string | undefined>;
}
