/** swarm-bench compare <runA> <runB>: every series of two stored runs side by side, B judged against A. */
import { parseArgs } from 'node:util';
import { parseRunId } from '../../lib/bench/meta.ts';
import type { RunResults } from '../../lib/bench/model.ts';
import { InvalidInputError } from '../../lib/errors.ts';
import { compareRuns, DEFAULT_HISTORY_OPTIONS } from '../../lib/history/compare.ts';
import { formatLabels, formatValue } from '../../lib/report/format.ts';
import { formatDelta, formatPValue, verdictMarker } from '../../lib/report/history.ts';
import { openEmbeddedStore } from '../../lib/store/embedded.ts';
import type { ResultStore } from '../../lib/store/types.ts';
import { DEFAULT_STORE_DIR, directoryFlag } from '../shared.ts';
import { table } from './history.ts';

export async function compareCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { json: { type: 'boolean' }, store: { type: 'string' } },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length !== 2) {
    throw new InvalidInputError(
      'arguments',
      'exactly two run ids: compare <runA> <runB>',
      positionals.join(' '),
    );
  }
  const idA = parseRunId(positionals[0]);
  const idB = parseRunId(positionals[1]);
  const opened = await openEmbeddedStore({ dir: directoryFlag('--store', values.store, DEFAULT_STORE_DIR) });
  try {
    const a = await load(opened.store, idA, 'runA');
    const b = await load(opened.store, idB, 'runB');
    const { rows, onlyInA, onlyInB } = compareRuns(a, b);
    const notes: string[] = [];
    if (a.meta.configHash !== b.meta.configHash || a.meta.provider !== b.meta.provider) {
      notes.push(
        `note: different configurations (${a.meta.provider} ${a.meta.configHash} vs ${b.meta.provider} ${b.meta.configHash}); differences may come from the configuration`,
      );
    }
    if (onlyInA + onlyInB > 0) notes.push(`not compared: ${onlyInA} series only in A, ${onlyInB} only in B`);
    if (values.json) {
      process.stdout.write(
        `${JSON.stringify({ runA: idA, runB: idB, ...DEFAULT_HISTORY_OPTIONS, rows, onlyInA, onlyInB, notes }, null, 2)}\n`,
      );
      return 0;
    }
    const lines = [
      `A ${idA} (${a.meta.status}, ${a.meta.startedAt})`,
      `B ${idB} (${b.meta.status}, ${b.meta.startedAt})`,
      `delta = (B - A) / A of the medians; p = two-sided Mann-Whitney U; flagged when |delta| >= ${DEFAULT_HISTORY_OPTIONS.minChange * 100} % and p < ${DEFAULT_HISTORY_OPTIONS.alpha}; two single runs, so no run-to-run noise gate (the run report's "Compared with history" applies one)`,
      '',
      rows.length === 0
        ? 'no series in common'
        : table(
            ['UNIT', 'SERIES', 'LABELS', 'A MEDIAN', 'B MEDIAN', 'DELTA', 'P', 'VERDICT'],
            rows.map((row) => [
              row.unitId,
              row.name,
              formatLabels(row.labels),
              formatValue(row.medianA, row.unit),
              formatValue(row.medianB, row.unit),
              formatDelta(row),
              formatPValue(row.pValue),
              verdictMarker({ verdict: row.verdict, baselineRuns: 1 }, 1),
            ]),
          ),
      ...notes,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } finally {
    await opened.close();
  }
}

async function load(store: ResultStore, runId: string, field: string): Promise<RunResults> {
  const meta = await store.getRun(runId);
  if (meta === undefined) throw new InvalidInputError(field, 'a run id stored in this store', runId);
  return { meta, results: await store.getResults(runId) };
}
