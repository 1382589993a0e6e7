/** The last step of every run, local or on AWS: compare it with its history, then write its report. */
import type { RunResults } from '../bench/model.ts';
import type { ReportSink } from '../publish/types.ts';
import { type WrittenReport, writeReport } from '../report/write.ts';
import type { ResultStore } from '../store/types.ts';
import { compareWithHistory, type HistoryComparison } from './compare.ts';
import { loadBaselines } from './load.ts';

/** Load the run's baselines from `store`, compare, and write the report with that comparison. */
export async function writeReportWithHistory(
  run: RunResults,
  store: Pick<ResultStore, 'history'>,
  sink: ReportSink,
  options: { basename?: string } = {},
): Promise<{ report: WrittenReport; history: HistoryComparison }> {
  const baselines = await loadBaselines(
    store,
    run.meta,
    run.results.map((result) => result.unitId),
  );
  const history = compareWithHistory(run, baselines);
  const report = await writeReport(run, sink, { ...options, history });
  return { report, history };
}
