/**
 * The serverless pipeline on one machine: the state machine definition the CDK stack synthesizes,
 * run by an ASL interpreter (aws-local-stepfunctions) with every Lambda task bound in-process to
 * the same step functions the Lambdas call, the embedded DynamoDB-compatible store, an
 * S3-compatible server (s3rver) for the report, and local sandboxes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ExecutionError } from 'aws-local-stepfunctions';
import type { BenchmarkDefinition } from '../bench/definition.ts';
import { describeMachine, type RunEnvironment } from '../bench/meta.ts';
import type { RunStatus, UnitResult } from '../bench/model.ts';
import type { RunEvent } from '../bench/runner.ts';
import { describeError, InvalidInputError } from '../errors.ts';
import { writeReportWithHistory } from '../history/report.ts';
import { MemoryNotifier, type SentNotification } from '../notify/local.ts';
import type { Notifier } from '../notify/types.ts';
import type { PackedPlugins } from '../plugins/pack.ts';
import { DirReportSink } from '../publish/dir.ts';
import { DEFAULT_PRESIGN_SECONDS, S3ReportSink } from '../publish/s3.ts';
import type { ReportSink } from '../publish/types.ts';
import type { PoolLedger } from '../sandbox/ledger.ts';
import { LocalSandboxProvider } from '../sandbox/local.ts';
import { sweepLocalSandboxes } from '../sandbox/sweep.ts';
import type { SandboxProvider } from '../sandbox/types.ts';
import { S3BlobStore } from '../store/blobs.ts';
import { DynamoResultStore } from '../store/dynamo.ts';
import { openEmbeddedStore } from '../store/embedded.ts';
import { DynamoPoolLedger } from '../store/pool-ledger.ts';
import type { ResultStore } from '../store/types.ts';
import {
  type ArtifactRuntime,
  type BundledStack,
  copyPrefix,
  type StandIns,
  startArtifactRuntime,
  taskStateNames,
} from './artifacts.ts';
import { executableMachine } from './asl.ts';
import type { RecordedCall } from './aws-local.ts';
import {
  drainPoolEventSchema,
  failRunEventSchema,
  parseEvent,
  planEventSchema,
  publishEventSchema,
  recordFailureEventSchema,
  runIdForExecution,
  STATE_NAMES,
  STORE_BLOB_PREFIX,
  unitEventSchema,
} from './events.ts';
import { type InvocationTiming, LambdaInvocationError, type LambdaStats } from './lambda-host.ts';
import { startS3rver } from './s3rver.ts';
import {
  drainPoolStep,
  failRunStep,
  killPooledLocalSandbox,
  type PublishStepOutput,
  type PublishTimings,
  planStep,
  publishStep,
  REPORT_BASENAME,
  recordFailureStep,
  unitStep,
} from './steps.ts';

/** The Task states bound to in-process handlers. */
const TASKS = {
  plan: STATE_NAMES.plan,
  unit: STATE_NAMES.unit,
  recordFailure: STATE_NAMES.recordFailure,
  pooledUnit: STATE_NAMES.pooledUnit,
  pooledRecordFailure: STATE_NAMES.pooledRecordFailure,
  drainPool: STATE_NAMES.drainPool,
  drainPoolAfterFailure: STATE_NAMES.drainPoolAfterFailure,
  publish: STATE_NAMES.publish,
  failRun: STATE_NAMES.failRun,
} as const;

/** How long a unit may measure locally before it stops itself, like the Lambda's 15 min minus a margin. */
export const LOCAL_UNIT_BUDGET_MS = 14 * 60_000;

/** Options of runLocalPipeline; everything has a local default. */
export interface LocalPipelineOptions {
  /**
   * What the Tasks run: the bundled functions from the cloud assembly, each in its own Node process
   * as Lambda runs it ('artifacts'), or the step code bound in-process ('source', faster, for
   * development). @default 'artifacts'
   */
  mode?: 'artifacts' | 'source';
  /** Artifacts mode: the bundled stack. @default the stack bundled and cached under `assemblyCacheDir` */
  stack?: BundledStack;
  /** Artifacts mode: where bundled assemblies are cached by source hash. @default '.swarm-bench/cdk.out' */
  assemblyCacheDir?: string;
  /** Artifacts mode: the table and bucket stand-ins (their owner stops them). @default started for this run */
  standIns?: StandIns;
  /** Artifacts mode: refuse AWS calls the function's IAM policy denies. @default true */
  enforceIam?: boolean;
  /** Artifacts mode: environment variables replaced per function logical-id prefix (tests). */
  environmentOverrides?: Record<string, Record<string, string>>;
  /** Artifacts mode: called with the runtime once it is up. */
  onRuntime?: (runtime: ArtifactRuntime) => void;
  /**
   * Artifacts mode: a deployment started by the caller (startArtifactRuntime), kept warm across
   * executions like Lambda instances; `store` must read its stand-ins. @default one per execution
   */
  runtime?: ArtifactRuntime;
  /** The execution input: a RunConfig as the schedule or `start` would send it. @default {} */
  input?: unknown;
  /**
   * Artifacts mode: a packed strategy package (lib/plugins/package.ts), uploaded to the bucket
   * stand-in under its key before the execution, and named with its SHA-256 in the input's
   * `plugins`, as `strategies upload` and `start` do on AWS.
   */
  strategyPackage?: PackedPlugins;
  /** The agent bundle for local sandboxes. @default dist/agent.cjs under the working directory */
  bundlePath?: string;
  /** PATH/LANG handed to agent processes (lib never reads the environment itself). */
  passthroughEnv?: { PATH?: string | undefined; LANG?: string | undefined };
  /** Makes the sandbox provider of one unit invocation (a fresh one per unit, like a Lambda). */
  createProvider?: () => SandboxProvider;
  /** Store to use; its owner closes it. @default the embedded store under `storeDir` (or a temporary one) */
  store?: ResultStore;
  /**
   * Where units hand idle sandboxes to the next unit (the run's shared pool). @default the ledger in
   * the embedded store when the store is ours; none with a given store (each unit keeps its own pool)
   */
  ledger?: PoolLedger;
  /** Directory of the embedded store, kept across runs for history. @default a temporary directory */
  storeDir?: string;
  /** S3 bucket for the report (e.g. a test's s3rver); its owner stops it. @default an s3rver started for this run */
  s3?: { client: S3Client; bucket: string };
  /** Where the latest report is also written as plain files; null to skip. @default 'docs/e2b' */
  outDir?: string | null;
  /** @default 604800 (7 days) */
  reportExpirySeconds?: number;
  /** @default a MemoryNotifier (returned as `notifications`) */
  notifier?: Notifier;
  environment?: RunEnvironment;
  scenarios?: readonly BenchmarkDefinition[];
  /** The ASL to run. @default the state machine synthesized from infra/stack.ts, units one at a time */
  definition?: Record<string, unknown>;
  /** Replace every Retry interval with this many ms (0 in tests). @default the definition's backoff */
  retryIntervalMs?: number;
  /** Per-unit measuring budget. @default 14 minutes */
  unitBudgetMs?: number;
  onEvent?: (event: RunEvent) => void;
  now?: () => Date;
  /**
   * Stops the execution gracefully (the CLI aborts it on SIGINT/SIGTERM/SIGHUP): no further state
   * starts, the function instances (artifacts) or unit providers (source) and their agents are
   * killed, expired sandboxes under `sandboxRoot` are swept, and the run is stored `interrupted`
   * with the abort reason. The result is then FAILED with error name `Interrupted`.
   */
  signal?: AbortSignal;
  /** Artifacts mode: where the unit functions keep local sandboxes (their /tmp). @default '/tmp' */
  sandboxRoot?: string;
  /** Called with the run's id once Plan created it. */
  onRun?: (runId: string) => void;
  /** Called with the store the execution writes to, once it is open. */
  onStore?: (store: ResultStore) => void;
}

/** What a local pipeline execution produced. */
export interface LocalPipelineResult {
  /** Undefined when the execution failed before Plan created a run. */
  runId: string | undefined;
  /** The execution's outcome, as Step Functions reports it. */
  status: 'SUCCEEDED' | 'FAILED';
  /** The run's status in the store. */
  runStatus?: RunStatus;
  /** The Markdown report: the file under outDir, else its S3 location. */
  reportLocation?: string;
  /** Presigned link to the report in the S3 bucket (dead once an owned s3rver stopped). */
  reportUrl?: string;
  summary?: string;
  /** Target outcomes counted by Publish. */
  targets?: { pass: number; fail: number; pending: number };
  /** Where Publish's time went (its step output). */
  publishTimings?: PublishTimings;
  /** Why the execution failed: the ASL error name and its message. */
  error?: { name: string; message: string };
  results: UnitResult[];
  notifications: SentNotification[];
  /** Sandboxes created by all unit invocations. */
  sandboxesCreated: number;
  /** Artifacts mode: every AWS call the functions made, with its IAM decision. */
  calls?: RecordedCall[];
  /** Artifacts mode: per function, invocations and cold starts. */
  functions?: Array<{ name: string; logicalId: string; stats: LambdaStats }>;
  /**
   * Artifacts mode: every failed Task invocation (retried or caught ones too), in order: the state,
   * the function, Lambda's errorType and message, and the last lines that function logged.
   */
  taskFailures?: TaskFailure[];
  /** Artifacts mode: where the execution's wall time went (bench/pipeline.ts prints it). */
  timeline?: PipelineTimeline;
}

/** One Task invocation of an artifacts-mode execution, timed from the state machine's side. */
export interface TaskTiming {
  state: string;
  functionName: string;
  /** When the Task started, ms after the execution started. */
  atMs: number;
  /** Cold start parts and the handler's own time. */
  timing: InvocationTiming;
  /** Unit Tasks: the unit's own measured duration (what the plain runner also spends). */
  unitMs?: number;
  failed: boolean;
}

/** Where an artifacts-mode execution's wall time went. */
export interface PipelineTimeline {
  /** Stand-ins (store, S3, AWS endpoint) and function task roots, before the execution starts. */
  setupMs: number;
  /** The state machine's execution, start to end. */
  executionMs: number;
  /** After the execution: reading the run back and mirroring the report. */
  afterMs: number;
  tasks: TaskTiming[];
}

/** One failed Task invocation, as Step Functions and the function's log would show it. */
export interface TaskFailure {
  state: string;
  functionName: string;
  name: string;
  message: string;
  /** The function's last log lines at the failure (its CloudWatch log, locally). */
  logTail: string[];
}

/** Which Task failed and why, with the last lines its function logged (empty when none failed). */
export function describeTaskFailures(failures: readonly TaskFailure[] | undefined): string {
  return (failures ?? [])
    .map(
      (f) =>
        `  state ${f.state} (${f.functionName}) failed: ${f.name}: ${f.message}\n${f.logTail.map((line) => `    | ${line}`).join('\n')}\n`,
    )
    .join('');
}

/** How many of a failing function's last log lines a TaskFailure keeps. */
const FAILURE_LOG_LINES = 20;

/** Synthesize the stack (once per process) for local execution: units run one at a time. */
let cachedDefinition: Promise<Record<string, unknown>> | undefined;
export function localDefinition(): Promise<Record<string, unknown>> {
  cachedDefinition ??= import('../../infra/definition.ts').then(
    ({ synthesizeStack }) => synthesizeStack({ props: { mapMaxConcurrency: 1 } }).definition,
  );
  return cachedDefinition;
}

/** Run the synthesized state machine locally, end to end, and clean up what it started. */
export async function runLocalPipeline(options: LocalPipelineOptions = {}): Promise<LocalPipelineResult> {
  const artifacts = (options.mode ?? 'artifacts') === 'artifacts';
  if (!artifacts && options.strategyPackage !== undefined) {
    throw new InvalidInputError(
      '--strategy',
      'only without --source: packages reach the bundled unit function',
    );
  }
  return artifacts ? runArtifactPipeline(options) : runSourcePipeline(options);
}

/** The bundled stack for local runs: units one at a time, cached by source hash. */
export async function localBundledStack(cacheDir = '.swarm-bench/cdk.out'): Promise<BundledStack> {
  const { bundledAssembly, STACK_CONTEXT } = await import('../../infra/definition.ts');
  const { template, assemblyDir } = bundledAssembly({
    cacheDir: resolve(cacheDir),
    props: { mapMaxConcurrency: 1 },
  });
  return { template, assemblyDir, context: STACK_CONTEXT };
}

/** The `@aws-sdk` packages offered to the functions, as Lambda's Node.js runtime offers its SDK. */
export const LAMBDA_SDK_DIR = dirname(
  dirname(createRequire(import.meta.url).resolve('@aws-sdk/client-s3/package.json')),
);

async function runArtifactPipeline(options: LocalPipelineOptions): Promise<LocalPipelineResult> {
  const cleanup: Array<() => Promise<void>> = [];
  let closeRuntime: (() => Promise<void>) | undefined;
  const setupStart = performance.now();
  try {
    let runtime = options.runtime;
    let store = options.store;
    if (runtime === undefined) {
      const stack = options.stack ?? (await localBundledStack(options.assemblyCacheDir));
      let standIns = options.standIns;
      if (standIns === undefined) {
        const owned = await ownStore(options.storeDir, cleanup);
        const s3 = await ownS3(cleanup, options.storeDir ? join(resolve(options.storeDir), 's3') : undefined);
        const endpoint = await owned.client.config.endpoint?.();
        if (!endpoint) throw new Error('the embedded store has no endpoint');
        standIns = {
          dynamodb: {
            endpoint: `${endpoint.protocol}//${endpoint.hostname}:${endpoint.port}`,
            tableName: owned.tableName,
          },
          s3,
        };
        store = new DynamoResultStore({
          client: owned.client,
          tableName: owned.tableName,
          blobs: new S3BlobStore({ client: s3.client, bucket: s3.bucket, prefix: STORE_BLOB_PREFIX }),
        });
      }
      const started = await startArtifactRuntime({
        stack,
        standIns,
        nodePath: process.execPath,
        sdkDir: LAMBDA_SDK_DIR,
        ...(options.enforceIam === undefined ? {} : { enforceIam: options.enforceIam }),
        ...(options.environmentOverrides ? { environmentOverrides: options.environmentOverrides } : {}),
      });
      closeRuntime = once(() => started.close());
      cleanup.push(closeRuntime);
      runtime = started;
    }
    if (store === undefined) throw new InvalidInputError('store', 'a store reading the given stand-ins');
    options.onStore?.(store);
    const { standIns } = runtime;
    // A caller's runtime serves several executions: this result holds this execution's calls.
    const callsBefore = runtime.calls().length;
    const publishedBefore = runtime.published().length;
    options.onRuntime?.(runtime);

    const units = unitProgress(store, options.onEvent);
    const { progress } = units;
    let plannedRunId: string | undefined;
    let published: PublishStepOutput | undefined;
    const taskFailures: TaskFailure[] = [];
    const taskTimings: TaskTiming[] = [];
    let executionStart = 0;
    const unitStates = new Set<string>([TASKS.unit, TASKS.pooledUnit]);
    const unitEndStates = new Set<string>([
      TASKS.unit,
      TASKS.pooledUnit,
      TASKS.recordFailure,
      TASKS.pooledRecordFailure,
    ]);
    const handlers = Object.fromEntries(
      taskStateNames(runtime.definition).map((state) => [
        state,
        async (input: { FunctionName: string; Payload?: unknown }) => {
          const payload = input.Payload as { runId?: string; unitId?: string } | undefined;
          if (unitStates.has(state) && payload?.unitId) units.start(payload.unitId);
          const fnName = () =>
            runtime.functions().find((f) => f.arn === input.FunctionName)?.name ?? input.FunctionName;
          const atMs = performance.now() - executionStart;
          let timed: TaskTiming | undefined;
          const observe = (timing: InvocationTiming) => {
            timed = { state, functionName: fnName(), atMs, timing, failed: true };
            taskTimings.push(timed);
          };
          let output: unknown;
          try {
            output = await runtime.invoke(input.FunctionName, input.Payload, observe);
            if (timed) {
              timed.failed = false;
              const unitMs = (output as { durationMs?: unknown } | null)?.durationMs;
              if (unitStates.has(state) && typeof unitMs === 'number') timed.unitMs = unitMs;
            }
          } catch (caught) {
            // Step Functions' view of a failed invocation: Error = errorType, Cause = Lambda's JSON.
            const failure =
              caught instanceof LambdaInvocationError
                ? caught
                : new LambdaInvocationError('Error', String(caught));
            const fn = runtime.functions().find((f) => f.arn === input.FunctionName);
            taskFailures.push({
              state,
              functionName: fn?.name ?? input.FunctionName,
              name: failure.errorType,
              message: failure.errorMessage,
              logTail: fn ? fn.logTail().split('\n').slice(-FAILURE_LOG_LINES) : [],
            });
            const error = new Error(failure.causeJson);
            error.name = failure.errorType;
            throw error;
          }
          if (state === TASKS.plan) {
            const planned = output as { runId: string; units: unknown[] };
            plannedRunId = planned.runId;
            options.onRun?.(planned.runId);
            progress.total = planned.units.length;
          } else if (state === TASKS.publish) {
            published = output as PublishStepOutput;
          } else if (unitEndStates.has(state) && payload?.runId && payload.unitId) {
            progress.spentUsd += (output as { e2bCostUsd?: number }).e2bCostUsd ?? 0;
            await units.end(payload.runId, payload.unitId);
          }
          return { Payload: output };
        },
      ]),
    );

    let input = options.input;
    if (options.strategyPackage !== undefined) {
      const { bytes, key, manifest } = options.strategyPackage;
      await standIns.s3.client.send(
        new PutObjectCommand({
          Bucket: standIns.s3.bucket,
          Key: key,
          Body: bytes,
          ContentType: 'application/json',
        }),
      );
      input = {
        ...(input as Record<string, unknown> | undefined),
        plugins: { ...manifest, package: `s3://${standIns.s3.bucket}/${key}` },
      };
    }
    const setupMs = performance.now() - setupStart;
    executionStart = performance.now();
    // The bundled assembly's definition was checked when it was synthesized (infra/definition.ts).
    const error = await execute(
      runtime.definition,
      handlers,
      { ...options, input },
      options.now ?? (() => new Date()),
      true,
    );
    const executionMs = performance.now() - executionStart;
    const afterStart = performance.now();
    const runId = plannedRunId;
    if (options.signal?.aborted) {
      // The instances running a unit hold its agents: end them (a caller's runtime restarts
      // instances on the next invoke), then remove what they left and close the run.
      if (closeRuntime) await closeRuntime().catch(() => undefined);
      else runtime.killSync();
      await interrupted(store, runId, options, options.sandboxRoot ?? '/tmp');
    }
    const meta = runId ? await store.getRun(runId) : undefined;
    const results = runId ? await store.getResults(runId) : [];
    const outDir = options.outDir === undefined ? 'docs/e2b' : options.outDir;
    let reportLocation: string | undefined;
    if (published !== undefined) {
      const key = `runs/${published.runId}/${REPORT_BASENAME}.md`;
      reportLocation = `s3://${standIns.s3.bucket}/${key}`;
      // The newest run's files are under latest/: the local copy is what docs/e2b holds.
      if (outDir !== null) {
        const mirror = new DirReportSink(outDir);
        await copyPrefix(standIns.s3.client, standIns.s3.bucket, 'latest/', (name, body, type) =>
          mirror.put(name, body, type),
        );
        reportLocation = mirror.resolveName(`${REPORT_BASENAME}.md`);
      }
    }
    return {
      runId,
      status: error ? 'FAILED' : 'SUCCEEDED',
      ...(meta ? { runStatus: meta.status } : {}),
      ...(reportLocation ? { reportLocation } : {}),
      ...(published
        ? {
            reportUrl: published.reportUrl,
            summary: published.summary,
            targets: published.targets,
            ...(published.timings ? { publishTimings: published.timings } : {}),
          }
        : {}),
      ...(error ? { error } : {}),
      results,
      notifications: runtime
        .published()
        .slice(publishedBefore)
        .map(({ subject, message }) => ({ subject: subject ?? '', message })),
      sandboxesCreated: results.reduce((sum, result) => sum + result.usage.sandboxesCreated, 0),
      calls: runtime.calls().slice(callsBefore),
      functions: runtime.functions().map(({ name, logicalId, stats }) => ({ name, logicalId, stats })),
      taskFailures,
      timeline: { setupMs, executionMs, afterMs: performance.now() - afterStart, tasks: taskTimings },
    };
  } finally {
    for (const release of cleanup.reverse()) await release().catch(() => undefined);
  }
}

/** Run a definition with `handlers` bound to its Tasks; the execution's error, if it failed. */
async function execute(
  definition: Record<string, unknown>,
  handlers: Record<string, (input: never) => Promise<unknown>>,
  options: LocalPipelineOptions,
  now: () => Date,
  /** True when the definition was checked at synthesis (as Step Functions checks it at creation). */
  checked: boolean,
): Promise<{ name: string; message: string } | undefined> {
  const startedAt = now();
  const executionId = `arn:aws:states:local:000000000000:execution:swarm-bench:${startedAt.getTime()}-${Math.random().toString(16).slice(2, 10)}`;
  const machine = executableMachine(definition, checked);
  const execution = machine.run((options.input === undefined ? {} : options.input) as never, {
    overrides: {
      taskResourceLocalHandlers: handlers as never,
      ...(options.retryIntervalMs === undefined
        ? {}
        : {
            retryIntervalOverrides: Object.fromEntries(
              Object.keys(handlers).map((name) => [name, options.retryIntervalMs!]),
            ),
          }),
    },
    context: { Execution: { Id: executionId, Name: executionId.split(':').pop() } },
  });
  const signal = options.signal;
  const abort = (): void => execution.abort();
  if (signal?.aborted) abort();
  signal?.addEventListener('abort', abort, { once: true });
  try {
    await execution.result;
    return signal?.aborted ? interruption(signal) : undefined;
  } catch (caught) {
    return signal?.aborted ? interruption(signal) : executionFailure(caught);
  } finally {
    signal?.removeEventListener('abort', abort);
  }
}

function interruption(signal: AbortSignal): { name: string; message: string } {
  return { name: 'Interrupted', message: `interrupted by ${String(signal.reason)}` };
}

/** After an abort: sweep the sandboxes the killed instances left, then close the run `interrupted`. */
async function interrupted(
  store: ResultStore,
  runId: string | undefined,
  options: LocalPipelineOptions,
  sandboxRoot: string | undefined,
): Promise<void> {
  if (sandboxRoot !== undefined) await sweepLocalSandboxes({ root: sandboxRoot }).catch(() => undefined);
  if (runId === undefined) return;
  const meta = await store.getRun(runId);
  if (meta === undefined || meta.status !== 'running') return;
  const patch = {
    status: 'interrupted' as const,
    endedAt: (options.now ?? (() => new Date()))().toISOString(),
    reason: `interrupted by ${String(options.signal?.reason)}: the execution was stopped and its agents killed`,
  };
  await store.finishRun(runId, patch);
  // As `run` does: a partial report of the units that ended, written where the report would go
  // (Publish never ran, so nothing else writes one). A failure to write it must not hide the stop.
  const outDir = options.outDir === undefined ? 'docs/e2b' : options.outDir;
  if (outDir === null) return;
  const run = { meta: { ...meta, ...patch }, results: await store.getResults(runId) };
  await writeReportWithHistory(run, store, new DirReportSink(outDir)).catch(() => undefined);
}

/** `fn` run at most once; later calls get the first call's promise. */
function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => {
    running ??= fn();
    return running;
  };
}

async function runSourcePipeline(options: LocalPipelineOptions): Promise<LocalPipelineResult> {
  const now = options.now ?? (() => new Date());
  const cleanup: Array<() => Promise<void>> = [];
  try {
    const definition = options.definition ?? (await localDefinition());
    const owned = options.store ? undefined : await ownStore(options.storeDir, cleanup);
    const store = options.store ?? owned!.store;
    options.onStore?.(store);
    const ledger =
      options.ledger ??
      (owned ? new DynamoPoolLedger({ client: owned.client, tableName: owned.tableName }) : undefined);
    const s3 = options.s3 ?? (await ownS3(cleanup));
    const s3Sink = new S3ReportSink({ client: s3.client, bucket: s3.bucket });
    const outDir = options.outDir === undefined ? 'docs/e2b' : options.outDir;
    const mirror = outDir === null ? undefined : new DirReportSink(outDir);
    const sink = mirrorLatest(s3Sink, mirror);
    const notifier = options.notifier ?? new MemoryNotifier();
    const environment = options.environment ?? {
      gitCommit: 'unknown',
      nodeVersion: process.version,
      machine: describeMachine(),
    };
    const bundlePath = resolve(options.bundlePath ?? 'dist/agent.cjs');
    let sandboxesCreated = 0;
    const makeProvider =
      options.createProvider ??
      (() =>
        new LocalSandboxProvider({
          bundlePath,
          ...(options.passthroughEnv ? { passthroughEnv: options.passthroughEnv } : {}),
        }));
    const expiry = options.reportExpirySeconds ?? DEFAULT_PRESIGN_SECONDS;
    let published: PublishStepOutput | undefined;
    // Progress for whoever listens (the CLI's status line); the interpreter itself reports nothing.
    const units = unitProgress(store, options.onEvent);
    const { progress } = units;
    let plannedRunId: string | undefined;

    const providers = new Set<SandboxProvider>();
    const runUnitTask = lambda(async (event) => {
      const input = parseEvent(unitEventSchema, event, TASKS.unit);
      const provider = makeProvider();
      providers.add(provider);
      units.start(input.unitId);
      try {
        const output = await unitStep(input, {
          store,
          ...(ledger ? { ledger } : {}),
          provider,
          deadlineAt: Date.now() + (options.unitBudgetMs ?? LOCAL_UNIT_BUDGET_MS),
          ...(options.scenarios ? { scenarios: options.scenarios } : {}),
          ...(options.onEvent ? { onEvent: options.onEvent } : {}),
        });
        progress.spentUsd += output.e2bCostUsd;
        await units.end(input.runId, input.unitId);
        return output;
      } finally {
        providers.delete(provider);
        sandboxesCreated += provider.usage().created;
      }
    });
    const recordFailureTask = lambda(async (event) => {
      const input = parseEvent(recordFailureEventSchema, event, TASKS.recordFailure);
      const output = await recordFailureStep(input, { store, now });
      await units.end(input.runId, input.unitId);
      return output;
    });
    // Ends a sandbox some unit left in the pool: connect (it is a directory and a record) and kill.
    const killPooled = (sandboxId: string) => killPooledLocalSandbox(sandboxId, makeProvider());
    const drainPoolTask = lambda(async (event) => {
      const { runId } = parseEvent(drainPoolEventSchema, event, TASKS.drainPool);
      if (ledger === undefined) return { runId, killed: 0, gone: 0 };
      return drainPoolStep({ runId }, { ledger, kill: killPooled });
    });
    const handlers = {
      [TASKS.unit]: runUnitTask,
      [TASKS.pooledUnit]: runUnitTask,
      [TASKS.recordFailure]: recordFailureTask,
      [TASKS.pooledRecordFailure]: recordFailureTask,
      [TASKS.drainPool]: drainPoolTask,
      [TASKS.drainPoolAfterFailure]: drainPoolTask,
      [TASKS.plan]: lambda(async (event) => {
        const { input, executionId, startTime } = parseEvent(planEventSchema, event, TASKS.plan);
        const planned = await planStep(input, {
          store,
          now,
          environment,
          // One machine: units never run side by side (they would measure each other).
          maxConcurrency: 1,
          ...(executionId && startTime ? { runId: runIdForExecution(executionId, startTime) } : {}),
          ...(options.scenarios ? { scenarios: options.scenarios } : {}),
        });
        plannedRunId = planned.runId;
        options.onRun?.(planned.runId);
        progress.total = planned.units.length;
        return planned;
      }),
      [TASKS.publish]: lambda(async (event) => {
        const { runId } = parseEvent(publishEventSchema, event, TASKS.publish);
        published = await publishStep(
          { runId },
          { store, sink, presign: (name) => s3Sink.presign(name, expiry), notifier, now },
        );
        return published;
      }),
      [TASKS.failRun]: lambda(async (event) => {
        const state = parseEvent(failRunEventSchema, event, TASKS.failRun);
        return failRunStep({ runId: state.plan?.runId, error: state.error }, { store, notifier, now });
      }),
    };

    // A synthesized definition was checked at synthesis; one given by the caller is checked now.
    const error = await execute(definition, handlers, options, now, options.definition === undefined);
    const runId = plannedRunId;
    if (options.signal?.aborted) {
      await Promise.all([...providers].map((provider) => provider.killAll().catch(() => undefined)));
      await interrupted(store, runId, options, undefined);
    }
    const meta = runId ? await store.getRun(runId) : undefined;
    const results = runId ? await store.getResults(runId) : [];
    const reportLocation =
      published === undefined
        ? undefined
        : mirror
          ? mirror.resolveName(`${REPORT_BASENAME}.md`)
          : `s3://${s3.bucket}/${s3Sink.keyOf(`runs/${published.runId}/${REPORT_BASENAME}.md`)}`;
    return {
      runId,
      status: error ? 'FAILED' : 'SUCCEEDED',
      ...(meta ? { runStatus: meta.status } : {}),
      ...(reportLocation ? { reportLocation } : {}),
      ...(published
        ? { reportUrl: published.reportUrl, summary: published.summary, targets: published.targets }
        : {}),
      ...(error ? { error } : {}),
      results,
      notifications: notifier instanceof MemoryNotifier ? [...notifier.sent] : [],
      sandboxesCreated,
    };
  } finally {
    for (const release of cleanup.reverse()) await release().catch(() => undefined);
  }
}

/**
 * Bind a step to the default `lambda:invoke` integration: the interpreter hands over
 * {FunctionName, Payload} and expects {Payload}. A thrown error keeps its name (the ASL error
 * name Retry/Catch match) and gets Lambda's JSON Cause, without the stack.
 */
/**
 * Progress for whoever listens (the CLI's status line): the interpreter itself reports nothing, so
 * both modes announce unit starts and ends, with the stored result, through this one tracker.
 */
function unitProgress(store: ResultStore, onEvent: LocalPipelineOptions['onEvent']) {
  const progress = { total: 0, done: 0, spentUsd: 0 };
  return {
    progress,
    start(unitId: string): void {
      onEvent?.({ type: 'unit-start', unitId, index: progress.done, total: progress.total });
    },
    async end(runId: string, unitId: string): Promise<void> {
      if (onEvent) {
        const result = await store.getResult(runId, unitId);
        if (result) {
          onEvent({
            type: 'unit-end',
            result,
            index: progress.done,
            total: progress.total,
            spentUsd: progress.spentUsd,
          });
        }
      }
      progress.done++;
    },
  };
}

function lambda(step: (payload: unknown) => Promise<unknown>) {
  return async (input: unknown): Promise<never> => {
    try {
      return { Payload: await step((input as { Payload?: unknown } | null)?.Payload) } as never;
    } catch (caught) {
      const { name, message } = describeError(caught);
      const error = new Error(message);
      error.name = name;
      (error as { cause?: unknown }).cause = JSON.stringify({ errorType: name, errorMessage: message });
      throw error;
    }
  };
}

function executionFailure(caught: unknown): { name: string; message: string } {
  if (caught instanceof ExecutionError && caught.cause instanceof Error) {
    const { name, message } = caught.cause;
    try {
      const parsed = JSON.parse(message) as { errorMessage?: unknown };
      if (typeof parsed.errorMessage === 'string') return { name, message: parsed.errorMessage };
    } catch {
      // A Cause that is not Lambda's JSON is the message itself.
    }
    return { name, message };
  }
  return describeError(caught);
}

/** Writes everything to `primary` and the `latest/` files also to `mirror`, without the prefix. */
function mirrorLatest(primary: ReportSink, mirror: ReportSink | undefined): ReportSink {
  if (mirror === undefined) return primary;
  return {
    async put(name, body, contentType) {
      const stored = await primary.put(name, body, contentType);
      if (name.startsWith('latest/')) await mirror.put(name.slice('latest/'.length), body, contentType);
      return stored;
    },
  };
}

async function ownStore(storeDir: string | undefined, cleanup: Array<() => Promise<void>>) {
  let dir = storeDir;
  if (dir === undefined) {
    const temporary = await mkdtemp(join(tmpdir(), 'swarm-bench-pipeline-store-'));
    cleanup.push(() => rm(temporary, { recursive: true, force: true }));
    dir = temporary;
  }
  const embedded = await openEmbeddedStore({ dir });
  cleanup.push(() => embedded.close());
  return embedded;
}

async function ownS3(cleanup: Array<() => Promise<void>>, kept?: string) {
  let directory = kept;
  if (directory === undefined) {
    const temporary = await mkdtemp(join(tmpdir(), 'swarm-bench-pipeline-s3-'));
    cleanup.push(() => rm(temporary, { recursive: true, force: true }));
    directory = temporary;
  }
  const server = await startS3rver({ directory, bucket: 'swarm-bench-reports' });
  cleanup.push(() => server.close());
  return server;
}
