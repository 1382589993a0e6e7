import { describe, expect, it } from 'vitest';
import type { RunMeta, UnitResult } from '../../lib/bench/model.ts';
import { InvalidInputError } from '../../lib/errors.ts';
import { loadBaselines } from '../../lib/history/load.ts';
import type { HistoryQuery, ResultStore } from '../../lib/store/types.ts';

const RUN = {
  runId: '20261120T000000Z-aaaaaa',
  configHash: 'cfg',
  provider: 'local' as const,
  startedAt: '2026-11-20T00:00:00.000Z',
};

function entry(runId: string, unitId: string) {
  return { run: { runId } as RunMeta, result: { runId, unitId } as UnitResult };
}

/** A store whose history() records its queries and answers from `answers`. */
function fakeStore(answers: Record<string, ReturnType<typeof entry>[]>) {
  const queries: HistoryQuery[] = [];
  const store: Pick<ResultStore, 'history'> = {
    history: async (query) => {
      queries.push(query);
      return answers[query.unitId] ?? [];
    },
  };
  return { store, queries };
}

describe('loadBaselines', () => {
  it('asks the store for each unit once: same config and provider, before this run, window as limit', async () => {
    // Prepare
    const { store, queries } = fakeStore({ 'a/x': [entry('r2', 'a/x'), entry('r1', 'a/x')] });
    // Act
    const baselines = await loadBaselines(store, RUN, ['a/x', 'b/y', 'a/x']);
    // Assess
    expect(queries).toEqual([
      { configHash: 'cfg', provider: 'local', unitId: 'a/x', beforeStartedAt: RUN.startedAt, limit: 8 },
      { configHash: 'cfg', provider: 'local', unitId: 'b/y', beforeStartedAt: RUN.startedAt, limit: 8 },
    ]);
    expect(baselines.get('a/x')?.map((e) => e.run.runId)).toEqual(['r2', 'r1']);
    expect(baselines.get('b/y')).toEqual([]);
  });

  it('uses the given window and never returns the run itself', async () => {
    // Prepare
    const { store, queries } = fakeStore({ 'a/x': [entry(RUN.runId, 'a/x'), entry('r1', 'a/x')] });
    // Act
    const baselines = await loadBaselines(store, RUN, ['a/x'], 3);
    // Assess
    expect(queries[0]?.limit).toBe(3);
    expect(baselines.get('a/x')?.map((e) => e.run.runId)).toEqual(['r1']);
  });

  it('refuses a window that is not a positive integer', async () => {
    const { store } = fakeStore({});
    await expect(loadBaselines(store, RUN, ['a/x'], 0)).rejects.toThrow(InvalidInputError);
  });
});
