/**
 * One benchmark run on this machine, start to report: plan, budget check, units, store, report.
 * The CLI and `npm start` call this; the serverless pipeline runs the same pieces as separate
 * steps (lib/pipeline). Every collaborator is passed in.
 */
import type { BenchmarkDefinition } from './bench/definition.ts';
import type { ContentionProbe } from './bench/machine.ts';
import { buildRunMeta, newRunId, type RunEnvironment } from './bench/meta.ts';
import type { RunMeta, RunResults, RunStatus, UnitResult } from './bench/model.ts';
import { assertWithinBudget, buildPlan, type Plan, type PlanOptions } from './bench/plan.ts';
import { loadRunMarket, type RunEvent, runUnits } from './bench/runner.ts';
import { evaluateTargets, type TargetOutcome } from './bench/targets.ts';
import type { RunConfig } from './config.ts';
import { EXIT } from './errors.ts';
import type { HistoryComparison } from './history/compare.ts';
import { writeReportWithHistory } from './history/report.ts';
import type { ReportSink } from './publish/types.ts';
import type { WrittenReport } from './report/write.ts';
import { HEARTBEAT_INTERVAL_MS, startHeartbeat } from './run/heartbeat.ts';
import type { SandboxProvider } from './sandbox/types.ts';
import type { ResultStore } from './store/types.ts';

export interface ExecuteRunOptions {
  config: RunConfig;
  provider: SandboxProvider;
  store: ResultStore;
  sink: ReportSink;
  environment: RunEnvironment;
  signal?: AbortSignal;
  onEvent?: (event: RunEvent) => void;
  scenarios?: readonly BenchmarkDefinition[];
  /** Called once the plan exists and before anything starts (e.g. to print it). */
  onPlan?: (plan: Plan, runId: string) => void;
  now?: () => Date;
  runId?: string;
  /** Stack/run tags for sandboxes. */
  metadata?: Record<string, string>;
  /** Unit history and creation rate for the plan's estimates (lib/bench/estimate.ts). */
  planOptions?: PlanOptions;
  /** Machine contention probe per unit (local provider). */
  contention?: () => ContentionProbe;
  /** How often this process writes the run's heartbeat into the store (0: never). @default 5000 */
  heartbeatMs?: number;
}

export interface RunOutcome {
  runId: string;
  meta: RunMeta;
  results: UnitResult[];
  targets: TargetOutcome[];
  report: WrittenReport;
  /** This run compared with earlier completed runs of the same configHash and provider. */
  history: HistoryComparison;
  /**
   * 0 no target failed, 1 a target failed (or, with config.failOnInconclusive, is inconclusive),
   * 3 a unit could not run (or the run stopped early).
   */
  exitCode: 0 | 1 | 3;
}

export { EXIT };

/**
 * The exit code of a run's targets: 1 for a Fail; an Inconclusive target (interval straddling the
 * threshold) is reported, not failed, unless `failOnInconclusive`. Pending targets never fail a run
 * (their unit's failure already gives exit 3).
 */
export function targetExitCode(targets: readonly TargetOutcome[], failOnInconclusive = false): 0 | 1 {
  const failing = (t: TargetOutcome) =>
    t.status === 'fail' || (failOnInconclusive && t.status === 'inconclusive');
  return targets.some(failing) ? EXIT.targetFailed : EXIT.ok;
}

/** Run a plan end to end and write its report. Throws before anything starts on bad config or budget. */
export async function executeRun(options: ExecuteRunOptions): Promise<RunOutcome> {
  const now = options.now ?? (() => new Date());
  const { config, store } = options;
  const plan = buildPlan(config, options.scenarios, options.planOptions);
  assertWithinBudget(plan, config.budgetUsd);
  // Loaded before anything starts: a bad CSV is bad input, not a failed run.
  const market = await loadRunMarket(config);
  const runId = options.runId ?? newRunId(now());
  options.onPlan?.(plan, runId);
  const meta: RunMeta = {
    ...buildRunMeta(runId, config, plan, options.environment, now()),
    market: { source: market.source, sha256: market.sha256, bars: market.bars.length },
  };
  await store.createRun(meta);
  const heartbeatMs = options.heartbeatMs ?? HEARTBEAT_INTERVAL_MS;
  const heartbeat =
    heartbeatMs > 0 ? startHeartbeat(store, runId, { intervalMs: heartbeatMs, now }) : undefined;

  const { results, stoppedBy } = await runUnits(plan.units, {
    runId,
    config,
    provider: options.provider,
    ...(options.metadata ? { metadata: options.metadata } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    ...(options.scenarios ? { scenarios: options.scenarios } : {}),
    ...(options.contention ? { contention: options.contention } : {}),
    ...(config.market === undefined ? {} : { market }),
    persist: async (result) => {
      await store.putResult(result);
    },
  }).finally(() => heartbeat?.stop());

  const failed = results.some((r) => r.status === 'failed');
  const partial = stoppedBy !== undefined || results.some((r) => r.status === 'partial');
  const status: RunStatus = stoppedBy === 'interrupt' ? 'interrupted' : partial ? 'partial' : 'completed';
  // The abort reason names the cause (SIGTERM, the parent process exiting) when the caller gave one.
  const cause = typeof options.signal?.reason === 'string' ? ` by ${options.signal.reason}` : '';
  const reason =
    stoppedBy === 'interrupt'
      ? `interrupted${cause} after ${results.length} of ${plan.units.length} units`
      : stoppedBy === 'budget'
        ? `over budget: measured spend reached $${config.budgetUsd} after ${results.length} of ${plan.units.length} units`
        : partial
          ? 'some units stopped early'
          : undefined;
  const endedAt = now().toISOString();
  await store.finishRun(runId, { status, endedAt, ...(reason ? { reason } : {}) });
  const finished: RunMeta = { ...meta, status, endedAt, ...(reason ? { reason } : {}) };
  const run: RunResults = { meta: finished, results: await store.getResults(runId) };
  const { report, history } = await writeReportWithHistory(run, store, options.sink);
  const targets = evaluateTargets(run);
  const exitCode = failed || partial ? EXIT.unitFailed : targetExitCode(targets, config.failOnInconclusive);
  return { runId, meta: finished, results: run.results, targets, report, history, exitCode };
}
