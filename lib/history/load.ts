/** Load the earlier runs a run is compared with, from any ResultStore. */
import type { RunMeta } from '../bench/model.ts';
import { InvalidInputError } from '../errors.ts';
import type { ResultStore } from '../store/types.ts';
import type { BaselineEntry } from './compare.ts';

/**
 * For each unit, its non-failed results in up to `window` completed runs with the run's
 * configHash and provider that started before it, newest first (units without history map to []).
 */
export async function loadBaselines(
  store: Pick<ResultStore, 'history'>,
  run: Pick<RunMeta, 'runId' | 'configHash' | 'provider' | 'startedAt'>,
  units: readonly string[],
  window = 8,
): Promise<Map<string, BaselineEntry[]>> {
  if (!Number.isInteger(window) || window < 1)
    throw new InvalidInputError('window', 'an integer >= 1', window);
  const unique = [...new Set(units)];
  const found = await Promise.all(
    unique.map((unitId) =>
      store.history({
        configHash: run.configHash,
        provider: run.provider,
        unitId,
        beforeStartedAt: run.startedAt,
        limit: window,
      }),
    ),
  );
  return new Map(
    unique.map((unitId, index) => [
      unitId,
      (found[index] ?? []).filter((entry) => entry.run.runId !== run.runId).slice(0, window),
    ]),
  );
}
