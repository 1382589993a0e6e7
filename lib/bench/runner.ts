/**
 * The runner: executes units one by one (locally) or one at a time per Lambda, turning what a
 * benchmark recorded into a UnitResult with measured usage. A failing unit becomes a failed
 * result with its reason; it never takes the other units down.
 */
import { type RunConfig, templateResources } from '../config.ts';
import { e2bCostUsd } from '../cost/model.ts';
import { describeError } from '../errors.ts';
import type { SandboxProvider } from '../sandbox/types.ts';
import { SwarmManager } from '../swarm/manager.ts';
import { BenchContext } from './context.ts';
import type { BenchmarkDefinition } from './definition.ts';
import type { UnitResult, UnitSpec } from './model.ts';
import { profileParams } from './profiles.ts';
import { BENCHMARKS, BUILTIN_SCENARIOS, unitIdOf } from './registry.ts';

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
  const manager = new SwarmManager({
    provider: deps.provider,
    metadata: { ...deps.metadata, run: deps.runId, unit: spec.unitId },
    onFault: (text) => faults.push(text),
  });
  const { config } = deps;
  const ctx = new BenchContext({
    runId: deps.runId,
    unitId: spec.unitId,
    params: profileParams(config.profile, {
      ...(config.topologies ? { topologies: config.topologies } : {}),
      ...(config.agents === undefined ? {} : { agents: config.agents }),
    }),
    seed: config.seed,
    manager,
    provider: deps.provider,
    resources: templateResources(config),
    agentsPerSandbox: config.agentsPerSandbox,
    now,
    wallClock,
    signal: deps.signal ?? new AbortController().signal,
    deadlineAt: deps.deadlineAt ?? Number.POSITIVE_INFINITY,
    injectedDelayMs: config.slowdown?.unitId === spec.unitId ? config.slowdown.ms : 0,
    log: (message) => deps.onEvent?.({ type: 'log', unitId: spec.unitId, message }),
  });
  let error: { name: string; message: string } | undefined;
  const def = definitionOf(spec.unitId, deps.scenarios);
  try {
    if (!def) throw new Error(`no benchmark is registered for unit ${spec.unitId}`);
    await def.run(ctx);
  } catch (caught) {
    error = describeError(caught);
  } finally {
    await ctx.cleanup();
    await manager.destroyAll();
  }
  const usageAfter = deps.provider.usage();
  const { series, figures } = ctx.collect();
  // An interrupt kills the agents under a running benchmark; what it measured until then stands.
  const stopped = ctx.stopReason ?? (deps.signal?.aborted ? 'interrupted' : undefined);
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
    },
    faults: [...faults, ...ctx.faults],
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
  for (const [index, spec] of units.entries()) {
    if (deps.signal?.aborted) return { results, stoppedBy: 'interrupt' };
    if (spentUsd >= deps.config.budgetUsd) return { results, stoppedBy: 'budget' };
    deps.onEvent?.({ type: 'unit-start', unitId: spec.unitId, index, total: units.length });
    const result = await runUnit(spec, deps);
    spentUsd += e2bCostUsd(result.usage.sandboxSeconds, resources);
    results.push(result);
    await deps.persist?.(result);
    deps.onEvent?.({ type: 'unit-end', result, index, total: units.length, spentUsd });
  }
  return deps.signal?.aborted ? { results, stoppedBy: 'interrupt' } : { results };
}
