/** swarm-bench history: the stored runs, and with --benchmark the median of each series per run. */
import { parseArgs } from 'node:util';
import type { Labels, MeasureUnit, RunMeta, UnitResult } from '../../lib/bench/model.ts';
import { InvalidInputError } from '../../lib/errors.ts';
import { median } from '../../lib/history/compare.ts';
import { formatLabels, formatValue } from '../../lib/report/format.ts';
import type { ProviderName } from '../../lib/sandbox/types.ts';
import { openEmbeddedStore } from '../../lib/store/embedded.ts';
import { DEFAULT_STORE_DIR, directoryFlag } from '../shared.ts';

const PROVIDERS: readonly ProviderName[] = ['local', 'e2b'];
const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 1_000;

/** One series' median in one run (the --benchmark view). */
export interface HistorySeriesMedian {
  runId: string;
  unitId: string;
  series: string;
  unit: MeasureUnit;
  labels: Labels;
  median: number | null;
  count: number;
}

export async function historyCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      provider: { type: 'string' },
      benchmark: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
      store: { type: 'string' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new InvalidInputError('arguments', 'flags only', positionals.join(' '));
  const provider = values.provider;
  if (provider !== undefined && !PROVIDERS.includes(provider as ProviderName)) {
    throw new InvalidInputError('--provider', `one of ${PROVIDERS.join(', ')}`, provider);
  }
  const limit = values.limit === undefined ? DEFAULT_LIMIT : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new InvalidInputError('--limit', `an integer from 1 to ${MAX_LIMIT}`, values.limit);
  }
  if (values.config !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(values.config)) {
    throw new InvalidInputError('--config', 'a config hash (letters, digits, - and _)', values.config);
  }
  const benchmark = values.benchmark;
  if (benchmark !== undefined && !/^[A-Za-z0-9_/-]{1,128}$/.test(benchmark)) {
    throw new InvalidInputError(
      '--benchmark',
      'a unit id (trading/strategy-execution) or series name',
      benchmark,
    );
  }

  const opened = await openEmbeddedStore({ dir: directoryFlag('--store', values.store, DEFAULT_STORE_DIR) });
  try {
    const runs = await opened.store.listRuns({
      ...(values.config !== undefined ? { configHash: values.config } : {}),
      ...(provider !== undefined ? { provider: provider as ProviderName } : {}),
      limit,
    });
    const medians: HistorySeriesMedian[] = [];
    if (benchmark !== undefined) {
      for (const run of runs)
        medians.push(...seriesMedians(run.runId, await opened.store.getResults(run.runId), benchmark));
    }
    if (values.json) {
      process.stdout.write(
        `${JSON.stringify({ runs: runs.map(runRow), ...(benchmark !== undefined ? { benchmark, medians } : {}) }, null, 2)}\n`,
      );
      return 0;
    }
    if (runs.length === 0) {
      process.stdout.write('no runs stored that match\n');
      return 0;
    }
    const lines = [
      table(
        ['RUN ID', 'DATE', 'STATUS', 'PROFILE', 'PROVIDER', 'CONFIG HASH'],
        runs.map((run) => {
          const row = runRow(run);
          return [row.runId, row.date, row.status, row.profile, row.provider, row.configHash];
        }),
      ),
    ];
    if (benchmark !== undefined) {
      lines.push(
        '',
        medians.length === 0
          ? `no series matching "${benchmark}" in these runs`
          : table(
              ['RUN ID', 'UNIT', 'SERIES', 'LABELS', 'MEDIAN', 'N'],
              medians.map((m) => [
                m.runId,
                m.unitId,
                m.series,
                formatLabels(m.labels),
                m.median === null ? '—' : formatValue(m.median, m.unit),
                String(m.count),
              ]),
            ),
      );
    }
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } finally {
    await opened.close();
  }
}

function runRow(run: RunMeta) {
  return {
    runId: run.runId,
    date: run.startedAt,
    status: run.status,
    profile: run.profile,
    provider: run.provider,
    configHash: run.configHash,
  };
}

/** Series of the unit `benchmark` names, or every series named `benchmark`, with their medians. */
function seriesMedians(
  runId: string,
  results: readonly UnitResult[],
  benchmark: string,
): HistorySeriesMedian[] {
  const byUnit = benchmark.includes('/');
  return results.flatMap((result) =>
    result.series
      .filter((series) => (byUnit ? result.unitId === benchmark : series.name === benchmark))
      .map((series) => ({
        runId,
        unitId: result.unitId,
        series: series.name,
        unit: series.unit,
        labels: series.labels,
        median: series.samples.length === 0 ? null : median(series.samples),
        count: series.samples.length,
      })),
  );
}

/** Left-aligned columns separated by two spaces. */
export function table(columns: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = columns.map((column, index) =>
    Math.max([...column].length, ...rows.map((row) => [...(row[index] ?? '')].length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, index) => cell.padEnd((widths[index] ?? 0) + cell.length - [...cell].length))
      .join('  ')
      .trimEnd();
  return [line(columns), ...rows.map(line)].join('\n');
}
