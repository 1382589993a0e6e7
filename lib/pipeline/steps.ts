/**
 * The serverless pipeline's steps as plain functions of their input and collaborators. The Lambda
 * handlers (functions/) and the local interpreter (local.ts) call exactly these; nothing here
 * reads the environment or builds an AWS client.
 */
import type { BenchmarkDefinition } from '../bench/definition.ts';
import { buildRunMeta, newRunId, parseRunId, type RunEnvironment } from '../bench/meta.ts';
import type { RunMeta, RunResults, RunStatus, UnitResult, UnitStatus } from '../bench/model.ts';
import {
  assertWithinBudget,
  buildPlan,
  DEFAULT_MAP_MAX_CONCURRENCY,
  type PlanTotals,
  pipelineSchedule,
  topSum,
} from '../bench/plan.ts';
import { type RunEvent, runUnit, unitLifetimeMs } from '../bench/runner.ts';
import { mergeShardedRun } from '../bench/shards.ts';
import { countTargets, evaluateTargets, type TargetCounts } from '../bench/targets.ts';
import { parseRunConfig, type RunConfig, templateResources } from '../config.ts';
import { e2bCostUsd } from '../cost/model.ts';
import { InvalidInputError, SandboxStartError, StoreError, TimeoutError } from '../errors.ts';
import type { HistoryComparison } from '../history/compare.ts';
import type { Notifier } from '../notify/types.ts';
import { checkPipelinePlugins } from '../plugins/package.ts';
import type { ReportSink } from '../publish/types.ts';
import { analyzeRun } from '../report/analysis.ts';
import type { PoolLedger } from '../sandbox/ledger.ts';
import { SandboxPool } from '../sandbox/pool.ts';
import { canShare, claimShared, drainShared, offerShared } from '../sandbox/shared-pool.ts';
import type { SandboxProvider } from '../sandbox/types.ts';
import type { SiteSink } from '../site/generate.ts';
import { runPage } from '../site/model.ts';
import { writeBehind } from '../site/write-behind.ts';
import type { ResultStore } from '../store/types.ts';
import { checkPipelineMarket } from '../trading/feed.ts';
import type { StepError } from './events.ts';
import { busyClock, stopwatch } from './timing.ts';

/** Base name of the report files; the Markdown one is what the notification links to. */
export const REPORT_BASENAME = 'SWARM_BENCHMARKS_REPORT';

/** Unit failures another attempt may cure: the unit step throws them so the state machine retries. */
export const RETRYABLE_UNIT_ERRORS = ['SandboxStartError', 'TimeoutError'] as const;

// ---------------------------------------------------------------------------------------------
// Plan

export interface PlanStepDeps {
  store: ResultStore;
  now: () => Date;
  environment: RunEnvironment;
  /** Fixed run id (derived from the execution, so a retried Plan reuses it). @default newRunId(now()) */
  runId?: string;
  scenarios?: readonly BenchmarkDefinition[];
  /** The stack's cap on Map concurrency. @default DEFAULT_MAP_MAX_CONCURRENCY */
  maxConcurrency?: number;
  /** The stack's bucket: a strategy package must be there, under strategies/. Without it, plug-ins are refused. */
  bucket?: string;
}

/** How a unit treats the run's shared pool (the Map hands it to every unit of a phase). */
export interface UnitPoolSettings {
  /**
   * Take every idle sandbox of the run, not only what the unit needs: right when units run one at
   * a time, so the whole pool travels from unit to unit (and fresh swarms can make room in it).
   */
  claimAll: boolean;
  /** Pooled units running at once; the pool keeps what that many of the remaining units need. */
  concurrency: number;
}

type MapItem = { runId: string; unitId: string };

export interface PlanStepOutput {
  runId: string;
  /** Every planned unit. */
  units: MapItem[];
  /** The first Map's items: units with fresh (creation) swarms, or every unit without pooling. */
  creationUnits: MapItem[];
  /** The second Map's items: units that only take pooled sandboxes. */
  pooledUnits: MapItem[];
  /** MaxConcurrency of each Map. */
  concurrency: { creation: number; pooled: number };
  /** The pool settings of each Map's units. */
  pool: { creation: UnitPoolSettings; pooled: UnitPoolSettings };
  config: RunConfig;
  estimate: PlanTotals;
}

/** Validate the input, plan, check the budget and record the run (idempotent for the same run id). */
export async function planStep(input: unknown, deps: PlanStepDeps): Promise<PlanStepOutput> {
  // An execution input is a run request: null, a list or a scalar is refused, not read as {}.
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new InvalidInputError('input', 'a JSON object of run settings, e.g. {"profile":"quick"}', input);
  }
  // An empty list would leave only custom scenarios: a pipeline run names what it measures.
  const { categories } = input as { categories?: unknown };
  if (Array.isArray(categories) && categories.length === 0) {
    throw new InvalidInputError(
      'categories',
      'at least one category (or leave it out for all six)',
      categories,
    );
  }
  const config = parseRunConfig(input);
  checkPipelinePlugins(config, deps.bucket);
  checkPipelineMarket(config.market);
  // Units too long for one unit Lambda are split into shards, each its own Map item.
  const plan = buildPlan(config, deps.scenarios, { shardForLambda: true });
  if (plan.units.length === 0) {
    throw new InvalidInputError(
      'tests',
      'a selection of categories and tests that matches at least one unit',
    );
  }
  assertWithinBudget(plan, config.budgetUsd);
  const now = deps.now();
  const runId = deps.runId === undefined ? newRunId(now) : parseRunId(deps.runId);
  const meta = buildRunMeta(runId, config, plan, deps.environment, now);
  if ((await deps.store.createRun(meta)) === 'exists') {
    const stored = await deps.store.getRun(runId);
    // A retried Plan of the same execution plans the same units; anything else is a clash of ids.
    if (stored && stored.configHash !== meta.configHash) {
      throw new InvalidInputError('runId', 'an id not used by another run', runId);
    }
  }
  const schedule = pipelineSchedule(plan.units, config, {
    maxConcurrency: deps.maxConcurrency ?? DEFAULT_MAP_MAX_CONCURRENCY,
  });
  const items = (unitIds: readonly string[]) => unitIds.map((unitId) => ({ runId, unitId }));
  const { creation, pooled } = schedule.concurrency;
  return {
    runId,
    units: items(plan.units.map((unit) => unit.unitId)),
    creationUnits: items(schedule.creationUnits),
    pooledUnits: items(schedule.pooledUnits),
    concurrency: schedule.concurrency,
    pool: {
      creation: { claimAll: creation === 1, concurrency: pooled },
      pooled: { claimAll: pooled === 1, concurrency: pooled },
    },
    config,
    estimate: {
      ...plan.totals,
      pipeline: {
        sandboxes: schedule.sandboxes,
        wallTimeMs: schedule.wallTimeMs,
        concurrency: schedule.concurrency,
      },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Unit

export interface UnitStepInput {
  runId: string;
  unitId: string;
  config: unknown;
  /** How to use the run's shared pool. @default one unit at a time (claim everything) */
  pool?: UnitPoolSettings;
}

export interface UnitStepDeps {
  store: ResultStore;
  provider: SandboxProvider;
  /** Epoch ms by which the unit stops measuring (Lambda: remaining time minus a safety margin). */
  deadlineAt: number;
  /** Monotonic clock for measurements. @default performance.now */
  now?: () => number;
  /** Tags for every sandbox (stack id, for the reaper); the run's id is added as `run`. */
  metadata?: Record<string, string>;
  scenarios?: readonly BenchmarkDefinition[];
  onEvent?: (event: RunEvent) => void;
  /**
   * The run's shared pool across unit invocations. Without it (or without provider.connect), the
   * pool lives and dies with this unit.
   */
  ledger?: PoolLedger;
}

export interface UnitStepOutput {
  unitId: string;
  status: UnitStatus;
  /** True when a stored result was returned instead of running the unit again. */
  reused: boolean;
  durationMs: number;
  sandboxSeconds: number;
  /** E2B list price of the unit's measured sandbox-seconds. */
  e2bCostUsd: number;
}

/**
 * Run one unit and store its result. A unit that already has a good result is not run again.
 * A transient failure (sandbox start, timeout) is thrown so the state machine retries it; any
 * other failure is stored as a failed result. Every sandbox is killed before returning.
 */
export async function unitStep(input: UnitStepInput, deps: UnitStepDeps): Promise<UnitStepOutput> {
  const runId = parseRunId(input.runId);
  const config = parseRunConfig(input.config);
  const run = await deps.store.getRun(runId);
  if (run === undefined) throw new StoreError(`run ${runId} does not exist`);
  const spec = run.units.find((unit) => unit.unitId === input.unitId);
  if (spec === undefined) {
    throw new InvalidInputError('unitId', `a unit planned for run ${runId}`, input.unitId);
  }
  // Only this unit's item: the other units' results (and their series) are not this step's business.
  const existing = await deps.store.getResult(runId, spec.unitId);
  if (existing !== undefined && existing.status !== 'failed') return outputOf(existing, config, true);

  // The unit's own pool, filled from the run's shared pool when there is one; what it holds idle
  // at the end goes back there for the next unit (or is killed when no later unit needs it).
  const pool = config.pooling
    ? new SandboxPool(deps.provider, { metadata: { ...deps.metadata, run: runId } })
    : undefined;
  const shared =
    pool && deps.ledger && canShare(deps.provider)
      ? { pool, deps: { ledger: deps.ledger, provider: deps.provider, runId, holder: spec.unitId } }
      : undefined;
  const settings = input.pool ?? { claimAll: true, concurrency: 1 };
  try {
    // A ledger that cannot be read costs reuse, not the unit: it then creates what it needs.
    const { idleSeconds } = shared
      ? await claimShared(
          shared.pool,
          shared.deps,
          settings.claimAll ? Number.MAX_SAFE_INTEGER : (spec.estimate.peakPooled ?? 0),
          unitLifetimeMs(spec),
        ).catch(() => ({ idleSeconds: 0 }))
      : { idleSeconds: 0 };
    const result = await runUnit(spec, {
      runId,
      config,
      provider: deps.provider,
      ...(pool ? { pool } : {}),
      deadlineAt: deps.deadlineAt,
      ...(deps.now ? { now: deps.now } : {}),
      // The run's id on every sandbox tells the reaper which run holds it (lib/pipeline/reap.ts).
      metadata: { ...deps.metadata, run: runId },
      ...(deps.scenarios ? { scenarios: deps.scenarios } : {}),
      ...(deps.onEvent ? { onEvent: deps.onEvent } : {}),
    });
    // The adopted sandboxes idled between the previous unit and this one; E2B billed that too.
    result.usage.sandboxSeconds += idleSeconds;
    if (result.status === 'failed' && isRetryable(result.error?.name)) {
      const ErrorClass = result.error?.name === 'TimeoutError' ? TimeoutError : SandboxStartError;
      throw new ErrorClass(`${spec.unitId}: ${result.error?.message ?? 'failed'}`);
    }
    if ((await deps.store.putResult(result)) === 'exists') {
      // A concurrent attempt stored a result first; report what is stored, never a second row.
      const stored = await deps.store.getResult(runId, spec.unitId);
      if (stored !== undefined) return outputOf(stored, config, true);
    }
    return outputOf(result, config, false);
  } finally {
    // Handing on or killing must not hide the unit's outcome; the drain step and the reaper
    // remove what survives.
    if (shared) {
      const handOn = await remainingNeeds(deps.store, run, spec.unitId).catch(() => undefined);
      if (handOn !== undefined) {
        const keep = topSum(handOn.needs, settings.concurrency);
        await offerShared(shared.pool, shared.deps, keep, handOn.bridgeMs).catch(() => 0);
      }
    }
    await pool?.drain().catch(() => 0);
    await deps.provider.killAll().catch(() => 0);
  }
}

/** Pooled needs of the run's units without a result yet (other than `unitId`), and how long the
 * handed-on sandboxes must wait at most: the longest of those units' lifetimes. */
async function remainingNeeds(
  store: ResultStore,
  run: RunMeta,
  unitId: string,
): Promise<{ needs: number[]; bridgeMs: number }> {
  // Which units have a result is all it needs: keys only, read now (other units end meanwhile).
  const done = new Set(await store.resultUnitIds(run.runId));
  const remaining = run.units.filter((unit) => unit.unitId !== unitId && !done.has(unit.unitId));
  return {
    needs: remaining.map((unit) => unit.estimate.peakPooled ?? 0),
    bridgeMs: Math.max(60_000, ...remaining.map((unit) => unitLifetimeMs(unit))),
  };
}

// ---------------------------------------------------------------------------------------------
// Drain pool (after the last unit, and when the run fails)

/**
 * Kill every sandbox the run's units left in the shared pool and clear it. `kill` ends one by id
 * (E2B: the SDK's kill; locally: connect and kill) and resolves false when it was already gone.
 */
export async function drainPoolStep(
  input: { runId: string },
  deps: { ledger: PoolLedger; kill: (sandboxId: string) => Promise<boolean> },
): Promise<{ runId: string; killed: number; gone: number }> {
  const runId = parseRunId(input.runId);
  const { killed, gone } = await drainShared({ ledger: deps.ledger, runId, kill: deps.kill });
  return { runId, killed, gone };
}

/**
 * Kill a local sandbox a unit left in the pool (a directory and a record under `tmpRoot`): what
 * DrainPool does on a local run. False when it is already gone or expired.
 */
export async function killPooledLocalSandbox(
  sandboxId: string,
  provider: Pick<SandboxProvider, 'connect'>,
): Promise<boolean> {
  if (provider.connect === undefined) return false;
  try {
    const sandbox = await provider.connect(sandboxId, { timeoutMs: 60_000 });
    return await sandbox.kill();
  } catch (error) {
    if (error instanceof SandboxStartError) return false;
    throw error;
  }
}

function isRetryable(name: string | undefined): boolean {
  return (RETRYABLE_UNIT_ERRORS as readonly string[]).includes(name ?? '');
}

function outputOf(result: UnitResult, config: RunConfig, reused: boolean): UnitStepOutput {
  return {
    unitId: result.unitId,
    status: result.status,
    reused,
    durationMs: result.durationMs,
    sandboxSeconds: result.usage.sandboxSeconds,
    e2bCostUsd: e2bCostUsd(result.usage.sandboxSeconds, templateResources(config)),
  };
}

// ---------------------------------------------------------------------------------------------
// Record failure (the Map iteration's Catch target)

/**
 * The name and message of a step error, safe to store: the Lambda Cause JSON's `errorMessage`
 * (its `trace` is dropped), else the first line of the Cause, never a stack trace.
 */
export function failureReason(error: StepError | undefined): { name: string; message: string } {
  const name = (error?.Error ?? 'Error').split('\n')[0]!.slice(0, 100) || 'Error';
  let message = '';
  const cause = error?.Cause;
  if (typeof cause === 'string' && cause !== '') {
    try {
      const parsed = JSON.parse(cause) as { errorMessage?: unknown };
      message = typeof parsed?.errorMessage === 'string' ? parsed.errorMessage : '';
    } catch {
      message = cause;
    }
  }
  // Only the first line: a stack trace starts on the second.
  message = (message.split('\n')[0] ?? '').trim().slice(0, 500);
  return { name, message: message || `${name} (no message)` };
}

export interface RecordFailureInput {
  runId: string;
  unitId: string;
  error: StepError;
}

/** Store a failed result for a unit whose every attempt failed; a stored good result is kept. */
export async function recordFailureStep(
  input: RecordFailureInput,
  deps: { store: ResultStore; now: () => Date },
): Promise<{ unitId: string; status: UnitStatus }> {
  const runId = parseRunId(input.runId);
  const run = await deps.store.getRun(runId);
  const spec = run?.units.find((unit) => unit.unitId === input.unitId);
  const at = deps.now().toISOString();
  const result: UnitResult = {
    runId,
    unitId: input.unitId,
    category: spec?.category ?? 'custom',
    test: spec?.test ?? input.unitId,
    title: spec?.title ?? input.unitId,
    status: 'failed',
    error: failureReason(input.error),
    startedAt: at,
    endedAt: at,
    durationMs: 0,
    params: spec?.params ?? {},
    series: [],
    figures: [],
    usage: { sandboxesCreated: 0, sandboxSeconds: 0, operations: 0 },
    faults: [],
  };
  if ((await deps.store.putResult(result)) === 'exists') {
    const stored = await deps.store.getResult(runId, input.unitId);
    return { unitId: input.unitId, status: stored?.status ?? 'failed' };
  }
  return { unitId: input.unitId, status: 'failed' };
}

// ---------------------------------------------------------------------------------------------
// Publish

export interface PublishStepDeps {
  store: ResultStore;
  sink: ReportSink;
  /** Link for a sink-relative name (S3: presigned GET). @default the sink's location of the Markdown report */
  presign?: (name: string) => Promise<string>;
  notifier: Notifier;
  now: () => Date;
  /**
   * The trend site (lib/site), regenerated incrementally after the report; the notification then
   * links to the run's page in it. `prefix` is where the site's sink sits in the report sink's
   * namespace (S3: 'site/'), for the link. A site that fails to build leaves the link on the report.
   */
  site?: { sink: SiteSink; prefix: string };
}

export interface PublishStepOutput {
  runId: string;
  status: RunStatus;
  reportUrl: string;
  summary: string;
  units: { ok: number; partial: number; failed: number; pending: number };
  /** Targets per verdict; inconclusive = the interval straddles the threshold. */
  targets: TargetCounts;
  /** E2B cost of the run's measured sandbox-seconds (list prices). */
  e2bCostUsd: number;
  /** Significant regressions against earlier runs of the same configuration. */
  regressions: number;
  /** False when the run had already been published and notified (a re-run of Publish): nothing was sent. */
  notified: boolean;
  /** Where the step's time went. */
  timings: PublishTimings;
}

/**
 * Where Publish's time went, ms. `*Store` and `*Io` are wall time spent waiting for a store read
 * or an upload (the site's uploads overlap its rendering: only the wait counts); the rest of
 * `report` and `site` is rendering.
 */
export interface PublishTimings {
  /** The run, its results and the newest run read from the store. */
  read: number;
  /** Baselines, report rendering (charts, Markdown, HTML, JSON) and its uploads. */
  report: number;
  reportStore: number;
  reportIo: number;
  /** The trend site (lib/site): its store reads, rendering and page uploads. */
  site: number;
  siteStore: number;
  siteIo: number;
  /** finishRun, the link, the notification and markNotified. */
  finish: number;
}

/**
 * Finish the run (completed, or partial when a unit failed or is missing), write its report under
 * `runs/<runId>/` and, when it is the newest run, `latest/`, store the run's end, then notify:
 * whoever is notified finds the run finished in the store. Running it again for the same run
 * rewrites the same report to the same names and sends nothing, unless the notification of an
 * earlier attempt did not go out (the stored run says 'pending'): then it is sent.
 */
export async function publishStep(
  input: { runId: string },
  deps: PublishStepDeps,
): Promise<PublishStepOutput> {
  const runId = parseRunId(input.runId);
  const clock = stopwatch();
  const meta = await deps.store.getRun(runId);
  if (meta === undefined) throw new StoreError(`run ${runId} does not exist`);
  const results = await deps.store.getResults(runId);
  const alreadyFinished = meta.status !== 'running';
  const finished: RunMeta = alreadyFinished
    ? meta
    : { ...meta, ...finalStatus(meta, results), endedAt: deps.now().toISOString() };
  // Shards of a unit split to fit a Lambda are reported as the one unit they are.
  const run: RunResults = mergeShardedRun({ meta: finished, results });

  // Rendered once (charts are the slow part), stored under the run's prefix and, when this is the
  // newest run, under latest/ as well.
  const [newest] = await deps.store.listRuns({ limit: 1 });
  const prefixes = [`runs/${runId}/`, ...(newest === undefined || newest.runId === runId ? ['latest/'] : [])];
  const read = clock.lap();
  // The report and site renderers (vega, vega-lite) load here, on Publish's first run, not at the
  // cold start of every function bundled from this module (plan, unit, drain, record, fail).
  const { writeReportWithHistory } = await import('../history/report.ts');
  const reportStore = busyClock();
  const reportIo = busyClock();
  const { report: written, history } = await writeReportWithHistory(
    run,
    reportStore.wrap(deps.store),
    reportIo.wrap(fanOutSink(deps.sink, prefixes)),
    { basename: REPORT_BASENAME },
  );
  const report = clock.lap();
  let reportName = `runs/${runId}/${REPORT_BASENAME}.md`;
  let siteProblem = '';
  const siteStore = busyClock();
  const siteIo = busyClock();
  if (deps.site !== undefined) {
    try {
      // The site shows the run as it ends (the store has it running until after the site).
      const { MANIFEST_NAME, publishSite } = await import('../site/generate.ts');
      // Timed outside the write-behind: what the site waits for uploads, not uploads it overlaps.
      const sink = siteIo.wrap(writeBehind(deps.site.sink, MANIFEST_NAME));
      await publishSite(siteStore.wrap(deps.store), sink, { current: run });
      await sink.flush();
      reportName = `${deps.site.prefix}${runPage(runId)}`;
    } catch (error) {
      siteProblem = `The trend site was not updated (${(error as Error).message}).`;
    }
  }
  const site = clock.lap();

  // The run's end is stored before anyone hears of it, so a reader the notification sends to the
  // store finds it finished. 'pending' until the notification went out: a retry after a failed
  // notification (the run then no longer 'running') still sends it.
  if (!alreadyFinished) {
    await deps.store.finishRun(runId, {
      status: finished.status,
      endedAt: finished.endedAt!,
      ...(finished.reason ? { reason: finished.reason } : {}),
      notification: 'pending',
    });
  }
  const notify = !alreadyFinished || meta.notification === 'pending';
  const reportUrl = deps.presign ? await deps.presign(reportName) : written.markdown;
  const facts = summarize(run, reportUrl, history);
  if (siteProblem !== '') facts.summary = `${facts.summary} ${siteProblem}`;
  if (notify) {
    await deps.notifier.notify(
      `swarm-bench ${finished.profile} run ${runId}: ${finished.status}`,
      facts.summary,
    );
    await deps.store.markNotified(runId);
  }
  const timings: PublishTimings = {
    read,
    report,
    reportStore: reportStore.ms(),
    reportIo: reportIo.ms(),
    site,
    siteStore: siteStore.ms(),
    siteIo: siteIo.ms(),
    finish: clock.lap(),
  };
  return { runId, status: finished.status, reportUrl, ...facts, notified: notify, timings };
}

function finalStatus(meta: RunMeta, results: UnitResult[]): { status: RunStatus; reason?: string } {
  const byUnit = new Map(results.map((result) => [result.unitId, result]));
  const failed = results.filter((result) => result.status === 'failed').length;
  const stopped = results.filter((result) => result.status === 'partial').length;
  const missing = meta.units.filter((unit) => !byUnit.has(unit.unitId)).length;
  if (failed + stopped + missing === 0) return { status: 'completed' };
  const parts = [
    failed > 0 ? `${failed} unit(s) failed` : '',
    stopped > 0 ? `${stopped} unit(s) stopped early` : '',
    missing > 0 ? `${missing} unit(s) have no result` : '',
  ].filter(Boolean);
  return { status: 'partial', reason: parts.join(', ') };
}

function summarize(
  run: RunResults,
  reportUrl: string,
  history: HistoryComparison,
): Pick<PublishStepOutput, 'summary' | 'units' | 'targets' | 'e2bCostUsd' | 'regressions'> {
  const { meta, results } = run;
  const count = (status: UnitStatus) => results.filter((result) => result.status === status).length;
  const units = {
    ok: count('ok'),
    partial: count('partial'),
    failed: count('failed'),
    pending: meta.units.filter((unit) => !results.some((result) => result.unitId === unit.unitId)).length,
  };
  const outcomes = evaluateTargets(run);
  const targets = countTargets(outcomes);
  const cost = analyzeRun(run).cost;
  const failedUnits = results
    .filter((result) => result.status === 'failed')
    .map((result) => `${result.unitId} (${result.error?.message ?? 'no reason recorded'})`);
  const sentences = [
    `swarm-bench run ${meta.runId} (${meta.profile} profile, ${meta.provider} sandboxes) ${meta.status}:`,
    `${units.ok} of ${meta.units.length} units ok, ${units.partial} stopped early, ${units.failed} failed, ${units.pending} without a result.`,
    `Targets: ${targets.pass} passed, ${targets.fail} failed, ${targets.inconclusive} inconclusive, ${targets.pending} pending.`,
    history.baselineRuns.length === 0
      ? 'No earlier run of this configuration to compare with.'
      : `Against the last ${history.baselineRuns.length} runs: ${history.regressions} regression(s), ${history.improvements} improvement(s).`,
    failedUnits.length > 0 ? `Failed units: ${failedUnits.join('; ')}.` : '',
    `${cost.projected ? 'Projected' : 'Estimated'} E2B cost: $${cost.runCostUsd.toFixed(4)} for this run` +
      ` (${cost.sandboxSeconds.toFixed(0)} sandbox-seconds), $${cost.monthlyWeeklyScheduleUsd.toFixed(2)} a month on a weekly schedule.`,
    `Report: ${reportUrl}`,
  ];
  return {
    summary: sentences.filter(Boolean).join(' '),
    units,
    targets,
    e2bCostUsd: cost.runCostUsd,
    regressions: history.regressions,
  };
}

/** A view of `sink` that stores every name under each prefix and reports the first location. */
export function fanOutSink(sink: ReportSink, prefixes: readonly string[]): ReportSink {
  return {
    async put(name, body, contentType) {
      const stored = await Promise.all(
        prefixes.map((prefix) => sink.put(`${prefix}${name}`, body, contentType)),
      );
      return stored[0] ?? { location: '' };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Fail run (the run-level Catch target)

/** Mark the run failed (when Plan got far enough to create it) and send an alert. */
export async function failRunStep(
  input: { runId?: string | undefined; error: StepError },
  deps: { store: ResultStore; notifier: Notifier; now: () => Date },
): Promise<{ runId?: string; status: 'failed'; reason: string }> {
  const { name, message } = failureReason(input.error);
  const reason = `${name}: ${message}`;
  let runId: string | undefined;
  let stored = false;
  let notify = true;
  if (input.runId !== undefined) {
    runId = parseRunId(input.runId);
    const meta = await deps.store.getRun(runId);
    if (meta !== undefined) {
      stored = true;
      // Failed before: notified then, unless that notification did not go out.
      notify = meta.status !== 'failed' || meta.notification === 'pending';
      if (meta.status !== 'failed') {
        await deps.store.finishRun(runId, {
          status: 'failed',
          endedAt: deps.now().toISOString(),
          reason,
          notification: 'pending',
        });
      }
    }
  }
  if (notify) {
    await deps.notifier.notify(
      `swarm-bench run ${runId ?? '(not started)'} FAILED`,
      `swarm-bench run ${runId ?? 'did not start'}: the pipeline failed with ${reason}`,
    );
    if (stored) await deps.store.markNotified(runId!);
  }
  return { ...(runId ? { runId } : {}), status: 'failed', reason };
}
