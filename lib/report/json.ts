/**
 * The machine-readable report: every summary next to the raw samples it was computed from, so
 * any number in the Markdown can be recomputed from this file alone.
 */
import type { RunResults } from '../bench/model.ts';
import type { HistoryComparison } from '../history/compare.ts';
import { analyzeRun } from './analysis.ts';

/** Version of the JSON report's shape; bump on breaking changes. */
export const JSON_REPORT_VERSION = 1;

/**
 * Render a run as a JSON-serialisable object (NaN statistics of empty series become null). With
 * `history`, every row of the comparison (unchanged ones too) is under `history`.
 */
export function renderJson(
  run: RunResults,
  options: { history?: HistoryComparison } = {},
): Record<string, unknown> {
  const analysis = analyzeRun(run);
  const costByUnit = new Map(analysis.cost.units.map((unit) => [unit.unitId, unit]));
  return {
    reportVersion: JSON_REPORT_VERSION,
    meta: run.meta,
    targets: analysis.outcomes.map((outcome) => ({
      id: outcome.target.id,
      label: outcome.target.label,
      unitId: outcome.target.unitId,
      source: outcome.target.source,
      importance: outcome.target.importance,
      criterion: {
        series: outcome.target.series,
        stat: outcome.target.stat,
        figure: outcome.target.figure,
        labels: outcome.target.labels,
        op: outcome.target.op,
        value: outcome.target.value,
        unit: outcome.target.unit,
      },
      status: outcome.status,
      verdict: outcome.status === 'pending' ? null : outcome.status,
      measured: outcome.measured,
      measuredLabels: outcome.measuredLabels,
      sampleCount: outcome.sampleCount,
      interval:
        outcome.interval === undefined
          ? null
          : {
              lower: outcome.interval.low,
              upper: outcome.interval.high,
              level: outcome.interval.confidence,
              method: outcome.interval.method,
              n: outcome.interval.n,
              ...(outcome.interval.coverage === undefined ? {} : { coverage: outcome.interval.coverage }),
              ...(outcome.interval.minCount === undefined ? {} : { minCount: outcome.interval.minCount }),
            },
      intervalNote: outcome.intervalNote,
      samplesNeeded: outcome.samplesNeeded,
      reason: outcome.reason,
    })),
    units: run.results.map((result) => ({
      unitId: result.unitId,
      category: result.category,
      test: result.test,
      title: result.title,
      status: result.status,
      error: result.error,
      startedAt: result.startedAt,
      endedAt: result.endedAt,
      durationMs: result.durationMs,
      params: result.params,
      series: (analysis.summaries.get(result.unitId) ?? []).map(({ series, summary }) => ({
        name: series.name,
        unit: series.unit,
        labels: series.labels,
        summary: nullNaN(summary),
        samples: series.samples,
        warmup: series.warmup,
        // Present only when report capped the series: the samples above are a stated subset.
        ...(series.thinned ? { thinned: series.thinned } : {}),
      })),
      figures: result.figures,
      usage: result.usage,
      costUsd: costByUnit.get(result.unitId)?.costUsd,
      plan: costByUnit.get(result.unitId)?.plan,
      faults: result.faults,
      ...(result.contention ? { contention: result.contention } : {}),
    })),
    cost: {
      projected: analysis.cost.projected,
      resources: analysis.cost.resources,
      sandboxSeconds: analysis.cost.sandboxSeconds,
      operations: analysis.cost.operations,
      runCostUsd: analysis.cost.runCostUsd,
      costPerOperationUsd: analysis.cost.costPerOperationUsd,
      operationsPerUsd: analysis.cost.operationsPerUsd,
      weeklyRunsPerMonth: analysis.cost.weeklyRunsPerMonth,
      monthlyWeeklyScheduleUsd: analysis.cost.monthlyWeeklyScheduleUsd,
      hoursPerMonth: analysis.cost.hoursPerMonth,
      awsPipeline: analysis.cost.pipeline,
      costOptimalTopologyPerSize: analysis.cost.perSize,
      planVsMeasured: analysis.cost.units.map((unit) => ({
        unitId: unit.unitId,
        source: unit.plan?.source ?? null,
        note: unit.plan?.note ?? null,
        plannedDurationMs: unit.plan?.durationMs ?? null,
        measuredDurationMs: unit.durationMs,
        durationRatio: unit.plan?.durationRatio ?? null,
        plannedSandboxSeconds: unit.plan?.sandboxSeconds ?? null,
        measuredSandboxSeconds: unit.sandboxSeconds,
        sandboxSecondsRatio: unit.plan?.sandboxSecondsRatio ?? null,
      })),
    },
    topologyGuide: {
      rows: analysis.topology.rows.map((row) => nullNaN(row)),
      sources: analysis.topology.sources,
    },
    recommendations: analysis.recommendations,
    ...(options.history === undefined ? {} : { history: options.history }),
  };
}

/** A copy with NaN/Infinity numbers (also inside arrays) replaced by null, as JSON would anyway. */
function nullNaN<T extends object>(value: T): Record<string, unknown> {
  const fix = (item: unknown): unknown =>
    typeof item === 'number' && !Number.isFinite(item) ? null : Array.isArray(item) ? item.map(fix) : item;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, fix(item)]));
}
