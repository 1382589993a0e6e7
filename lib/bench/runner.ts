/**
 * The runner: executes units one by one (locally) or one at a time per Lambda, turning what a
 * benchmark recorded into a UnitResult with measured usage. A failing unit becomes a failed
 * result with its reason; it never takes the other units down.
 */
import { type RunConfig, templateResources } from '../config.ts';
import { e2bCostUsd } from '../cost/model.ts';
import { BudgetExceededError, describeError, InterruptedError, InvalidInputError } from '../errors.ts';
import { SandboxPool } from '../sandbox/pool.ts';
import type { SandboxProvider } from '../sandbox/types.ts';
import { SwarmManager } from '../swarm/manager.ts';
import { loadMarket, type MarketData, parseMarketSpec } from '../trading/feed.ts';
import { BenchContext } from './context.ts';
import type { BenchmarkDefinition } from './definition.ts';
import type { ContentionProbe } from './machine.ts';
import type { UnitResult, UnitSpec } from './model.ts';
import { poolCapacityAfter } from './plan.ts';
import { profileParams } from './profiles.ts';
import { BENCHMARKS, BUILTIN_SCENARIOS, unitIdOf } from './registry.ts';
import { shardParams } from './shards.ts';

/** Bars agents' feeds and windows draw from beyond the window itself (BenchContext's span). */
const MARKET_SPAN = 2_000;

/** The market a config names (--market), or the seeded generator the benchmarks use by default. */
export async function loadRunMarket(config: RunConfig): Promise<MarketData> {
  const windowBars = profileParams(config.profile).windowBars;
  const spec = config.market === undefined ? { kind: 'gbm' as const } : parseMarketSpec(config.market);
  const market = await loadMarket(spec, { seed: config.seed, bars: windowBars + MARKET_SPAN });
  if (market.bars.length <= windowBars) {
    throw new InvalidInputError(
      'market (--market)',
      `at least ${windowBars + 1} bars (the window is ${windowBars})`,
      market.bars.length,
    );
  }
  return market;
}

/** Progress events; reporters (terminal, logs, metrics) only listen. */
export type RunEvent =
  | { type: 'unit-start'; unitId: string; index: number; total: number }
  | { type: 'unit-end'; result: UnitResult; index: number; total: number; spentUsd: number }
  | { type: 'log'; unitId: string; message: string };

export interface UnitDeps {
  runId: string;
  config: RunConfig;
  provider: SandboxProvider;
  /** Tags put on every sandbox (stack id on AWS). */
  metadata?: Record<string, string>;
  /** Interrupt: the unit stops measuring and returns a partial result. */
  signal?: AbortSignal;
  /** Epoch ms by which the unit must have stopped measuring (Lambda deadline minus a margin). */
  deadlineAt?: number;
  now?: () => number;
  wallClock?: () => number;
  onEvent?: (event: RunEvent) => void;
  /** Benchmarks beyond the built-ins (user scenarios), looked up by unit id. */
  scenarios?: readonly BenchmarkDefinition[];
  /** The run's sandbox pool (runUnits makes one when config.pooling); none: every swarm creates its own. */
  pool?: SandboxPool;
  /** Measured spend of the run before this unit (USD); with the unit's own spend it caps new sandboxes at config.budgetUsd. @default 0 */
  spentUsd?: number;
  /** A probe of machine contention per unit (local provider: lib/bench/machine.ts); none: not measured. */
  contention?: () => ContentionProbe;
  /** The run's market data, loaded once; without it a unit loads config.market itself. */
  market?: MarketData;
  /** Added to config.unitDeadlineFactor x the unit's estimate for its deadline. @default 30000 */
  unitDeadlineMarginMs?: number;
}

/** Find the benchmark behind a planned unit. */
export function definitionOf(
  unitId: string,
  scenarios: readonly BenchmarkDefinition[] = [],
): BenchmarkDefinition | undefined {
  return [...BENCHMARKS, ...BUILTIN_SCENARIOS, ...scenarios].find((def) => unitIdOf(def) === unitId);
}

/** Run one planned unit and return its result (never throws for a benchmark failure). */
export async function runUnit(spec: UnitSpec, deps: UnitDeps): Promise<UnitResult> {
  const wallClock = deps.wallClock ?? Date.now;
  const now = deps.now ?? (() => performance.now());
  const startedAt = new Date(wallClock()).toISOString();
  const t0 = now();
  const usageBefore = deps.provider.usage();
  const faults: string[] = [];
  const { config } = deps;
  const resources = templateResources(config);
  // Why the unit refused to create a sandbox (interrupt, deadline, budget): it then stops early.
  let refused: string | undefined;
  const admit = (): void => {
    if (ctx.stopped) {
      refused ??= ctx.stopReason;
      throw new InterruptedError(`no new sandboxes: ${ctx.stopReason}`);
    }
    const sandboxSeconds = deps.provider.usage().sandboxSeconds - usageBefore.sandboxSeconds;
    const spentUsd = (deps.spentUsd ?? 0) + e2bCostUsd(sandboxSeconds, resources);
    if (spentUsd >= config.budgetUsd) {
      refused ??= 'over budget';
      const text = `over budget: measured spend $${spentUsd.toPrecision(3)} reached budgetUsd $${config.budgetUsd}; no new sandboxes`;
      if (!faults.includes(text)) faults.push(text);
      throw new BudgetExceededError(text);
    }
  };
  const def = definitionOf(spec.shard?.of ?? spec.unitId, deps.scenarios);
  let market = deps.market;
  let marketError: { name: string; message: string } | undefined;
  if (market === undefined && config.market !== undefined) {
    market = await loadRunMarket(config).catch((caught: unknown) => {
      marketError = describeError(caught);
      return undefined;
    });
  }
  const sandboxTimeoutMs = unitLifetimeMs(spec);
  // The unit's own deadline (its estimate x the configured factor + a margin), or the caller's
  // (a unit Lambda's) when that comes first.
  const ownDeadlineMs = unitDeadlineMs(spec, config.unitDeadlineFactor, deps.unitDeadlineMarginMs);
  const deadlineAt = Math.min(deps.deadlineAt ?? Number.POSITIVE_INFINITY, wallClock() + ownDeadlineMs);
  const manager = new SwarmManager({
    provider: deps.provider,
    metadata: { ...deps.metadata, run: deps.runId, unit: spec.unitId },
    sandboxTimeoutMs,
    onFault: (text) => faults.push(text),
    admit,
  });
  const ctx = new BenchContext({
    runId: deps.runId,
    unitId: spec.unitId,
    params: shardParams(
      profileParams(config.profile, {
        ...(config.topologies ? { topologies: config.topologies } : {}),
        ...(config.agents === undefined ? {} : { agents: config.agents }),
      }),
      spec,
    ),
    seed: config.seed,
    manager,
    provider: deps.provider,
    resources,
    agentsPerSandbox: config.agentsPerSandbox,
    now,
    wallClock,
    signal: deps.signal ?? new AbortController().signal,
    deadlineAt,
    injectedDelayMs: config.slowdown?.unitId === spec.unitId ? config.slowdown.ms : 0,
    log: (message) => deps.onEvent?.({ type: 'log', unitId: spec.unitId, message }),
    ...(deps.pool ? { pool: deps.pool } : {}),
    freshSandboxes: def?.freshSandboxes === true,
    sandboxTimeoutMs,
    ...(market ? { market } : {}),
    ...(config.plugins ? { plugins: config.plugins } : {}),
  });
  let error: { name: string; message: string } | undefined = marketError;
  const probe = deps.contention?.();
  await probe?.start();
  try {
    if (!def) throw new Error(`no benchmark is registered for unit ${spec.unitId}`);
    // A market that cannot be loaded here (a CSV path a unit Lambda does not have) fails the unit.
    if (error === undefined) {
      // A benchmark that ignores ctx.stopped (a scenario whose run() never resolves) is left
      // behind at its deadline plus a grace for a cooperative stop; cleanup then kills its sandboxes.
      const outcome = await settleBy(def.run(ctx), deadlineAt + DEADLINE_GRACE_MS - wallClock(), deps.signal);
      if (outcome === 'interrupted') {
        faults.push(`run() had not returned ${DEADLINE_GRACE_MS} ms after the interrupt; abandoned`);
      } else if (outcome === 'timeout') {
        ctx.stopReason ??= 'deadline reached';
        faults.push(
          `run() had not returned ${DEADLINE_GRACE_MS} ms after the unit's deadline ` +
            `(${Math.round(ownDeadlineMs)} ms = ${config.unitDeadlineFactor} x estimate ${Math.round(spec.estimate.durationMs)} ms + margin); abandoned`,
        );
      }
    }
  } catch (caught) {
    error = describeError(caught);
  } finally {
    await ctx.cleanup();
    await manager.destroyAll();
  }
  const contention = await probe?.stop();
  const usageAfter = deps.provider.usage();
  const { series, figures } = ctx.collect();
  // An interrupt kills the agents under a running benchmark; what it measured until then stands.
  const stopped = refused ?? ctx.stopReason ?? (deps.signal?.aborted ? 'interrupted' : undefined);
  if (stopped && error) error = undefined;
  const status = error ? 'failed' : stopped ? 'partial' : 'ok';
  return {
    runId: deps.runId,
    unitId: spec.unitId,
    category: spec.category,
    test: spec.test,
    title: spec.title,
    status,
    ...(error
      ? { error }
      : stopped
        ? { error: { name: 'Stopped', message: `stopped early: ${stopped}` } }
        : {}),
    startedAt,
    endedAt: new Date(wallClock()).toISOString(),
    durationMs: now() - t0,
    params: spec.params,
    series,
    figures,
    usage: {
      sandboxesCreated: usageAfter.created - usageBefore.created,
      sandboxSeconds: usageAfter.sandboxSeconds - usageBefore.sandboxSeconds,
      operations: ctx.operations,
      ...(usageAfter.throttledMs === undefined
        ? {}
        : {
            creationThrottledMs: usageAfter.throttledMs - (usageBefore.throttledMs ?? 0),
            rateLimited: (usageAfter.rateLimited ?? 0) - (usageBefore.rateLimited ?? 0),
            handshakeRetries: manager.handshakeRetries,
          }),
    },
    faults: [...faults, ...ctx.faults],
    ...(contention ? { contention } : {}),
  };
}

/**
 * Run units one after another. `persist` is called with each result as soon as it exists, so an
 * interrupt loses at most the unit in flight. Stops starting units once `signal` aborts or the
 * measured spend reaches the budget; what did not run is simply absent (reported as pending).
 */
export async function runUnits(
  units: UnitSpec[],
  deps: UnitDeps & { persist?: (result: UnitResult) => Promise<void> },
): Promise<{ results: UnitResult[]; stoppedBy?: 'interrupt' | 'budget' }> {
  const results: UnitResult[] = [];
  const resources = templateResources(deps.config);
  let spentUsd = 0;
  // One pool per run, sized from the plan: after each unit it keeps only what the units still to
  // run need at most, and it is drained whatever happens (the reaper covers a killed coordinator).
  const needs = units.map((unit) => unit.estimate.peakPooled ?? 0);
  const pool =
    deps.pool ??
    (deps.config.pooling
      ? new SandboxPool(deps.provider, {
          metadata: { ...deps.metadata, run: deps.runId },
          capacity: poolCapacityAfter(needs, -1),
        })
      : undefined);
  try {
    for (const [index, spec] of units.entries()) {
      if (deps.signal?.aborted) return { results, stoppedBy: 'interrupt' };
      if (spentUsd >= deps.config.budgetUsd) return { results, stoppedBy: 'budget' };
      deps.onEvent?.({ type: 'unit-start', unitId: spec.unitId, index, total: units.length });
      await pool?.renew(unitLifetimeMs(spec));
      const result = await runUnit(spec, { ...deps, spentUsd, ...(pool ? { pool } : {}) });
      await pool?.shrink(poolCapacityAfter(needs, index));
      spentUsd += e2bCostUsd(result.usage.sandboxSeconds, resources);
      results.push(result);
      await deps.persist?.(result);
      deps.onEvent?.({ type: 'unit-end', result, index, total: units.length, spentUsd });
    }
  } finally {
    if (deps.pool === undefined) await pool?.drain();
  }
  if (deps.signal?.aborted) return { results, stoppedBy: 'interrupt' };
  // The last unit may have been the one that reached the budget (and refused sandboxes).
  return spentUsd >= deps.config.budgetUsd ? { results, stoppedBy: 'budget' } : { results };
}

/** Added to factor x estimate for a unit's deadline: startup and teardown the estimate leaves out. */
export const UNIT_DEADLINE_MARGIN_MS = 30_000;
/** After the deadline, how long a benchmark gets to notice ctx.stopped and return by itself. */
const DEADLINE_GRACE_MS = 2_000;

/** How long a unit may run: `factor` x its plan estimate + a margin. */
export function unitDeadlineMs(
  spec: Pick<UnitSpec, 'estimate'>,
  factor: number,
  marginMs = UNIT_DEADLINE_MARGIN_MS,
): number {
  return factor * spec.estimate.durationMs + marginMs;
}

/**
 * Whether `promise` settles within `ms`, or within the grace after `signal` aborts (a rejection
 * rethrows). A promise left behind is never awaited again.
 */
async function settleBy(
  promise: Promise<void>,
  ms: number,
  signal: AbortSignal | undefined,
): Promise<'done' | 'timeout' | 'interrupted'> {
  const timers: NodeJS.Timeout[] = [];
  let onAbort = (): void => {};
  // A benchmark abandoned at its deadline may still reject later, when its sandboxes are killed.
  promise.catch(() => undefined);
  try {
    return await Promise.race([
      promise.then(() => 'done' as const),
      new Promise<'timeout'>((resolve) => {
        timers.push(setTimeout(() => resolve('timeout'), Math.min(2 ** 31 - 1, Math.max(0, ms))));
      }),
      new Promise<'interrupted'>((resolve) => {
        onAbort = () => timers.push(setTimeout(() => resolve('interrupted'), DEADLINE_GRACE_MS));
        if (signal?.aborted) onAbort();
        else signal?.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    for (const timer of timers) clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

/** Margin on a unit's estimated duration for its sandboxes' lifetime. */
const LIFETIME_FACTOR = 2;
const LIFETIME_MARGIN_MS = 60_000;
/** Longest a unit's sandbox lives: a unit Lambda's 15 minutes. */
const MAX_LIFETIME_MS = 15 * 60_000;

/**
 * How long a unit's sandboxes live (E2B timeoutMs): twice its estimated duration plus a minute,
 * at most 15 minutes, instead of E2B's 5-minute default, so what a crashed coordinator leaves
 * behind ends soon. The pool resets it before every unit.
 */
export function unitLifetimeMs(spec: Pick<UnitSpec, 'estimate'>): number {
  return Math.min(
    MAX_LIFETIME_MS,
    Math.round(spec.estimate.durationMs * LIFETIME_FACTOR + LIFETIME_MARGIN_MS),
  );
}
