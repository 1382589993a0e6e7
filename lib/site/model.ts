/**
 * What the site shows, as plain data derived from every stored run: one row per run for the
 * index, the history comparison of each run (the same detector and window as Publish), per
 * benchmark the trend of every series and figure over runs, cost per run and per month, and the
 * topology rankings of each run. Pure: the runs are passed in (see loadSiteRuns).
 */
import type { Labels, MeasureUnit, RunMeta, RunResults } from '../bench/model.ts';
import { CATEGORIES, TESTS } from '../bench/model.ts';
import { countTargets, type TargetCounts } from '../bench/targets.ts';
import {
  type BaselineEntry,
  compareWithHistory,
  DEFAULT_HISTORY_OPTIONS,
  type HistoryComparison,
  type HistoryRow,
  type HistoryVerdict,
  median,
  seriesKey,
} from '../history/compare.ts';
import { analyzeRun, type RunAnalysis } from '../report/analysis.ts';
import { quantileInterval } from '../stats/intervals.ts';
import type { ResultStore } from '../store/types.ts';

/** One run with everything derived from it once. */
export interface SiteRun {
  run: RunResults;
  /** Compared with up to `window` earlier completed runs of its configuration (as Publish does). */
  history: HistoryComparison;
  /** Targets per verdict: passed, failed, inconclusive (interval straddles), pending (no measurement). */
  targets: TargetCounts;
  /** E2B cost of its measured sandbox-seconds; projected when the sandboxes were local. */
  costUsd: number;
  projected: boolean;
  /** Per topology metric, topologies best first (lower is better for every metric). */
  rankings: Record<TopologyMetric, string[]>;
  /** analyzeRun(run): what the run's report page is built from (derived from `run`, never hashed apart). */
  analysis: RunAnalysis;
}

export type TopologyMetric = 'consensus' | 'latency' | 'network' | 'cost' | 'cpu';

export const TOPOLOGY_METRICS: ReadonlyArray<{ id: TopologyMetric; title: string }> = [
  { id: 'consensus', title: 'consensus latency p50' },
  { id: 'latency', title: 'inter-agent round trip p50' },
  { id: 'network', title: 'bytes per operation' },
  { id: 'cost', title: 'E2B cost per operation' },
  { id: 'cpu', title: 'CPU per agent p50' },
];

/** One point of a trend: a series (or figure) in one run. */
export interface TrendPoint {
  runId: string;
  date: string;
  /** Median of the samples (a figure: its value). */
  median: number;
  /** Distribution-free ~95% interval of the median (order statistics); equal to the median for a figure. */
  low: number;
  high: number;
  /** Actual coverage of [low, high] (order-statistic intervals are discrete); 0 for a figure. */
  coverage: number;
  p95: number;
  p99: number;
  count: number;
  verdict: HistoryVerdict;
  /** Relative change against the run's baseline (null when none). */
  delta: number | null;
}

/** The trend of one quantity over runs. */
export interface Trend {
  /** Stable id inside its page (for anchors and chart files). */
  id: string;
  kind: 'series' | 'figure';
  name: string;
  unit: MeasureUnit;
  labels: Labels;
  points: TrendPoint[];
}

/** A change between consecutive runs worth annotating on a chart. */
export interface Change {
  date: string;
  runId: string;
  kind: 'commit' | 'template';
  text: string;
}

/** One benchmark (unit) across runs. */
export interface BenchmarkModel {
  unitId: string;
  title: string;
  category: string;
  /** Page file name, e.g. "benchmarks/trading-consensus.html". */
  page: string;
  trends: Trend[];
  changes: Change[];
  /** Runs in which this unit failed: date and reason. */
  failures: Array<{ runId: string; date: string; reason: string }>;
}

/** Everything the site renders. */
export interface SiteModel {
  runs: SiteRun[];
  benchmarks: BenchmarkModel[];
  months: Array<{ month: string; costUsd: number; runs: number; projected: boolean }>;
  changes: Change[];
}

/** Page of a run, relative to the site root. */
export function runPage(runId: string): string {
  return `runs/${runId}/index.html`;
}

/** Page of a benchmark, relative to the site root. */
export function benchmarkPage(unitId: string): string {
  return `benchmarks/${unitId.replace(/[^A-Za-z0-9_-]+/g, '-')}.html`;
}

/** Every finished run in the store (running ones are left out) with its results, oldest first. */
export async function loadSiteRuns(
  store: Pick<ResultStore, 'listRuns' | 'getResults'>,
  options: { pageSize?: number } = {},
): Promise<RunResults[]> {
  const pageSize = options.pageSize ?? 100;
  const metas: RunMeta[] = [];
  let before: string | undefined;
  for (;;) {
    const page = await store.listRuns({
      limit: pageSize,
      ...(before === undefined ? {} : { beforeStartedAt: before }),
    });
    metas.push(...page);
    if (page.length < pageSize) break;
    before = page[page.length - 1]!.startedAt;
  }
  const finished = [...new Map(metas.map((meta) => [meta.runId, meta])).values()]
    .filter((meta) => meta.status !== 'running')
    .sort(byStart);
  const runs: RunResults[] = [];
  // A few reads at a time: enough to hide latency against DynamoDB without a burst of throttles.
  for (let start = 0; start < finished.length; start += 8) {
    const batch = finished.slice(start, start + 8);
    const results = await Promise.all(batch.map((meta) => store.getResults(meta.runId)));
    batch.forEach((meta, index) => {
      runs.push({ meta, results: results[index]! });
    });
  }
  return runs;
}

function byStart(a: Pick<RunMeta, 'startedAt' | 'runId'>, b: Pick<RunMeta, 'startedAt' | 'runId'>): number {
  return a.startedAt.localeCompare(b.startedAt) || a.runId.localeCompare(b.runId);
}

/**
 * The baselines `ResultStore.history` would give `run`: per unit, its non-failed results in up to
 * `window` completed runs with the same configHash and provider that started before it, newest first.
 */
export function baselinesAmong(
  runs: readonly RunResults[],
  run: RunResults,
  window: number = DEFAULT_HISTORY_OPTIONS.window,
): Map<string, BaselineEntry[]> {
  const earlier = runs
    .filter(
      (other) =>
        other.meta.status === 'completed' &&
        other.meta.configHash === run.meta.configHash &&
        other.meta.provider === run.meta.provider &&
        other.meta.startedAt < run.meta.startedAt &&
        other.meta.runId !== run.meta.runId,
    )
    .sort((a, b) => byStart(b.meta, a.meta));
  const baselines = new Map<string, BaselineEntry[]>();
  for (const result of run.results) {
    const entries: BaselineEntry[] = [];
    for (const other of earlier) {
      const found = other.results.find(
        (candidate) => candidate.unitId === result.unitId && candidate.status !== 'failed',
      );
      if (found !== undefined) entries.push({ run: other.meta, result: found });
      if (entries.length >= window) break;
    }
    baselines.set(result.unitId, entries);
  }
  return baselines;
}

/** Derive the site model from runs (any order). */
export function buildSiteModel(input: readonly RunResults[]): SiteModel {
  const ordered = [...input].sort((a, b) => byStart(a.meta, b.meta));
  const runs = ordered.map((run): SiteRun => {
    const history = compareWithHistory(run, baselinesAmong(ordered, run));
    const analysis = analyzeRun(run);
    return {
      run,
      history,
      // analyzeRun evaluates the run's targets (evaluateTargets) once for both.
      targets: countTargets(analysis.outcomes),
      costUsd: analysis.cost.runCostUsd,
      projected: analysis.cost.projected,
      rankings: rankTopologies(analysis.topology.rows),
      analysis,
    };
  });
  const changes = changesBetween(ordered.map((run) => run.meta));
  return { runs, benchmarks: benchmarkModels(runs, changes), months: monthlyCost(runs), changes };
}

function rankTopologies(rows: ReturnType<typeof analyzeRun>['topology']['rows']): SiteRun['rankings'] {
  const pick: Record<TopologyMetric, (row: (typeof rows)[number]) => number> = {
    consensus: (row) => row.consensusP50Ms,
    latency: (row) => row.rttP50Ms,
    network: (row) => row.bytesPerOp,
    cost: (row) => row.costPerOpUsd,
    cpu: (row) => row.cpuP50Percent,
  };
  const rankings = {} as SiteRun['rankings'];
  for (const { id } of TOPOLOGY_METRICS) {
    rankings[id] = rows
      .filter((row) => Number.isFinite(pick[id](row)))
      .sort((a, b) => pick[id](a) - pick[id](b) || a.topology.localeCompare(b.topology))
      .map((row) => row.topology);
  }
  return rankings;
}

/** Commit and template changes between consecutive runs (oldest first). */
export function changesBetween(metas: readonly RunMeta[]): Change[] {
  const changes: Change[] = [];
  for (let index = 1; index < metas.length; index++) {
    const before = metas[index - 1]!;
    const after = metas[index]!;
    if (before.gitCommit !== after.gitCommit) {
      changes.push({
        date: after.startedAt,
        runId: after.runId,
        kind: 'commit',
        text: `commit ${after.gitCommit.slice(0, 7)}`,
      });
    }
    const was = before.template;
    const now = after.template;
    if (was.name !== now.name || was.vcpu !== now.vcpu || was.memoryMb !== now.memoryMb) {
      changes.push({
        date: after.startedAt,
        runId: after.runId,
        kind: 'template',
        text: `template ${now.name} (${now.vcpu} vCPU, ${now.memoryMb} MiB)`,
      });
    }
  }
  return changes;
}

function benchmarkModels(runs: readonly SiteRun[], changes: readonly Change[]): BenchmarkModel[] {
  const order = new Map<string, number>();
  CATEGORIES.forEach((category, c) => {
    TESTS[category.id].forEach((test, t) => {
      order.set(`${category.id}/${test}`, c * 10 + t);
    });
  });
  const byUnit = new Map<string, BenchmarkModel>();
  const trends = new Map<string, Trend>();
  for (const { run, history } of runs) {
    const verdicts = new Map<string, HistoryRow>(
      history.rows.map((row) => [`${row.unitId} ${row.kind} ${seriesKey(row)}`, row]),
    );
    for (const result of run.results) {
      let model = byUnit.get(result.unitId);
      if (model === undefined) {
        model = {
          unitId: result.unitId,
          title: result.title,
          category: CATEGORIES.find((c) => c.id === result.category)?.title ?? result.category,
          page: benchmarkPage(result.unitId),
          trends: [],
          changes: [...changes],
          failures: [],
        };
        byUnit.set(result.unitId, model);
      }
      if (result.status === 'failed') {
        model.failures.push({
          runId: run.meta.runId,
          date: run.meta.startedAt,
          reason: result.error?.message ?? 'no reason recorded',
        });
        continue;
      }
      const add = (kind: Trend['kind'], item: Parameters<typeof seriesKey>[0], values: readonly number[]) => {
        if (values.length === 0) return;
        const key = `${result.unitId} ${kind} ${seriesKey(item)}`;
        let trend = trends.get(key);
        if (trend === undefined) {
          trend = {
            id: `${kind === 'series' ? 's' : 'f'}${model.trends.length + 1}`,
            kind,
            name: item.name,
            unit: item.unit,
            labels: item.labels,
            points: [],
          };
          trends.set(key, trend);
          model.trends.push(trend);
        }
        const row = verdicts.get(key);
        trend.points.push({
          runId: run.meta.runId,
          date: run.meta.startedAt,
          ...pointStats(values, kind),
          verdict: row?.verdict ?? 'not-enough-history',
          delta: row?.delta ?? null,
        });
      };
      for (const series of result.series) add('series', series, series.samples);
      for (const figure of result.figures) {
        if (Number.isFinite(figure.value)) add('figure', figure, [figure.value]);
      }
    }
  }
  return [...byUnit.values()].sort(
    (a, b) => (order.get(a.unitId) ?? 999) - (order.get(b.unitId) ?? 999) || a.unitId.localeCompare(b.unitId),
  );
}

function pointStats(
  values: readonly number[],
  kind: Trend['kind'],
): Pick<TrendPoint, 'median' | 'low' | 'high' | 'coverage' | 'p95' | 'p99' | 'count'> {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = median(sorted);
  if (kind === 'figure')
    return { median: mid, low: mid, high: mid, coverage: 0, p95: mid, p99: mid, count: 1 };
  const { low, high, coverage } = medianInterval(sorted);
  return {
    median: mid,
    low,
    high,
    coverage,
    p95: quantile(sorted, 0.95),
    p99: quantile(sorted, 0.99),
    count: sorted.length,
  };
}

/**
 * Distribution-free ~95% interval of the median (lib/stats' order-statistic interval). Below 6
 * samples no pair of order statistics reaches 95%; the interval is then [min, max] and its true
 * coverage (1 - 2^(1-n)) is reported as is.
 */
export function medianInterval(sorted: readonly number[]): { low: number; high: number; coverage: number } {
  const n = sorted.length;
  if (n === 0) return { low: Number.NaN, high: Number.NaN, coverage: 0 };
  const interval = n >= 2 ? quantileInterval(sorted, 0.5) : undefined;
  if (interval?.low != null && interval.high != null && interval.coverage !== undefined) {
    return { low: interval.low, high: interval.high, coverage: interval.coverage };
  }
  return { low: sorted[0]!, high: sorted[n - 1]!, coverage: Math.max(0, 1 - 2 ** (1 - n)) };
}

/** Linear-interpolation quantile (R type 7, as lib/stats) of sorted values. */
function quantile(sorted: readonly number[], p: number): number {
  const position = (sorted.length - 1) * p;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  return sorted[lower]! + (sorted[upper]! - sorted[lower]!) * (position - lower);
}

function monthlyCost(runs: readonly SiteRun[]): SiteModel['months'] {
  const months = new Map<string, SiteModel['months'][number]>();
  for (const run of runs) {
    const month = run.run.meta.startedAt.slice(0, 7);
    const entry = months.get(month) ?? { month, costUsd: 0, runs: 0, projected: false };
    entry.costUsd += run.costUsd;
    entry.runs += 1;
    entry.projected ||= run.projected;
    months.set(month, entry);
  }
  return [...months.values()];
}
