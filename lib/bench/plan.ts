/**
 * The plan: the units a run will execute and what they are expected to use (sandboxes,
 * sandbox-seconds, dollars), known before anything starts, so a run over budget never starts.
 */
import { creationRate, type RunConfig, sandboxLimit, templateResources } from '../config.ts';
import { awsRunCostUsd, e2bCostUsd } from '../cost/model.ts';
import { BudgetExceededError } from '../errors.ts';
import { pacedCreationRate } from '../sandbox/e2b-plans.ts';
import type { BenchmarkDefinition, PlannedSwarm } from './definition.ts';
import {
  type Coefficients,
  DEFAULT_CREATION_RATE_PER_S,
  type DurationEstimate,
  estimateDuration,
  PARAMETRIC_MS,
  parametricMs,
  type UnitHistory,
  workOf,
} from './estimate.ts';
import type { UnitSpec } from './model.ts';
import { type ProfileParams, profileParams } from './profiles.ts';
import { selectBenchmarks, unitIdOf } from './registry.ts';
import { shardUnit } from './shards.ts';

/** Memory of the unit Lambda (MB); the infra stack uses the same figure. */
export const UNIT_LAMBDA_MEMORY_MB = 2048;
/** Memory of the Plan and Publish Lambdas (MB). */
export const STEP_LAMBDA_MEMORY_MB = 1024;
/** Step Functions allows at most 40 concurrent inline Map iterations. */
export const MAX_MAP_CONCURRENCY = 40;
/** The Map's MaxConcurrency when the stack sets none (infra/stack.ts mapMaxConcurrency default). */
export const DEFAULT_MAP_MAX_CONCURRENCY = 5;
/** Plan and Publish steps plus a cold start per wave of unit Lambdas, modelled (ms). */
const PIPELINE_FIXED_MS = 20_000;
const LAMBDA_COLD_START_MS = 1_500;

/** Time for units of these durations in `concurrency` slots, in order (each starts when a slot frees). */
function makespanMs(durationsMs: readonly number[], concurrency: number): number {
  if (durationsMs.length === 0) return 0;
  const slots = new Array<number>(Math.max(1, concurrency)).fill(0);
  for (const durationMs of durationsMs) {
    const earliest = slots.indexOf(Math.min(...slots));
    slots[earliest] = (slots[earliest] ?? 0) + durationMs + LAMBDA_COLD_START_MS;
  }
  return Math.max(...slots);
}

/**
 * Wall time of the Map running units of these durations with at most `concurrency` at once, in
 * plan order (each unit starts when a slot frees up), plus the Plan/Publish steps.
 */
export function pipelineWallTimeMs(
  durationsMs: readonly number[],
  concurrency: number = DEFAULT_MAP_MAX_CONCURRENCY,
): number {
  return makespanMs(durationsMs, concurrency) + PIPELINE_FIXED_MS;
}

/** Sum of the `n` largest values. */
export function topSum(values: readonly number[], n: number): number {
  return [...values]
    .sort((a, b) => b - a)
    .slice(0, n)
    .reduce((sum, value) => sum + value, 0);
}

/**
 * Most units to run side by side: the largest count (at most `max`) whose biggest sandbox needs,
 * added up, fit under `limit`. At least 1: a unit alone is always allowed to run.
 */
export function concurrencyFor(needs: readonly number[], limit: number, max: number): number {
  let concurrency = 1;
  while (concurrency < Math.min(max, needs.length) && topSum(needs, concurrency + 1) <= limit) concurrency++;
  return concurrency;
}

/** How the serverless pipeline runs a plan: two Maps, creation units first, then pooled units. */
export interface PipelineSchedule {
  /** Units with fresh (creation) swarms; they run first and leave their sandboxes to the pool. */
  creationUnits: string[];
  /** Units that only take pooled sandboxes (all units when pooling is off: they run in the first Map). */
  pooledUnits: string[];
  /** Map concurrency of each phase; 1 on the local provider (units on one machine would disturb each other). */
  concurrency: { creation: number; pooled: number };
  /** Sandboxes created across all unit Lambdas: the shared pool passes idle ones from unit to unit. */
  sandboxes: number;
  /** Both Maps plus the fixed steps. */
  wallTimeMs: number;
}

/**
 * The pipeline's schedule of `units`: which Map runs each unit, at what concurrency, how many
 * sandboxes the run creates with the pool shared through the ledger, and the wall time for the
 * given unit durations (the estimates by default; the report passes measured ones). Pooled units
 * run side by side only as far as their needs fit in the sandboxes the pool holds, so the pool
 * never has to grow for concurrency.
 */
export function pipelineSchedule(
  units: readonly UnitSpec[],
  config: Pick<RunConfig, 'pooling' | 'provider' | 'maxSandboxes'>,
  options: { maxConcurrency?: number; durationsMs?: ReadonlyMap<string, number> } = {},
): PipelineSchedule {
  const maxConcurrency = options.maxConcurrency ?? DEFAULT_MAP_MAX_CONCURRENCY;
  const duration = (unit: UnitSpec) => options.durationsMs?.get(unit.unitId) ?? unit.estimate.durationMs;
  const limit = sandboxLimit(config);
  const local = config.provider === 'local';
  const isCreation = (unit: UnitSpec) => !config.pooling || (unit.estimate.fresh ?? 0) > 0;
  const creation = units.filter(isCreation);
  const pooled = units.filter((unit) => !isCreation(unit));
  // With pooling, creation units run one at a time wherever they run: each measures sandbox
  // creation, which side-by-side units would slow for each other (E2B's API and scheduler), and
  // one at a time they pass the whole pool on, as runUnits does.
  const c1 = local || config.pooling ? 1 : maxConcurrency;
  const created1 = creation.reduce((sum, unit) => sum + unit.estimate.sandboxes, 0);
  const pooledNeeds = pooled.map((unit) => unit.estimate.peakPooled ?? 0);
  const capacity = Math.max(Math.max(0, ...pooledNeeds), Math.min(limit, created1));
  const c2 = local ? 1 : concurrencyFor(pooledNeeds, capacity, maxConcurrency);
  // The creation units hand on at most what c2 pooled units need at once (the pool shrinks to it).
  const peak2 = topSum(pooledNeeds, c2);
  const kept = Math.min(limit, created1, peak2);
  const created2 = Math.max(0, peak2 - kept);
  return {
    creationUnits: creation.map((unit) => unit.unitId),
    pooledUnits: pooled.map((unit) => unit.unitId),
    concurrency: { creation: c1, pooled: c2 },
    sandboxes: created1 + created2,
    wallTimeMs:
      makespanMs(creation.map(duration), c1) + makespanMs(pooled.map(duration), c2) + PIPELINE_FIXED_MS,
  };
}

export interface PlanTotals {
  units: number;
  /** Sandboxes the run creates (fresh ones of creation benchmarks plus what the pool lacks). */
  sandboxes: number;
  /** Of those, created fresh by benchmarks that measure creation. */
  freshSandboxes: number;
  /** Swarm sandboxes served from the pool instead of being created. */
  reusedSandboxes: number;
  pooling: boolean;
  sandboxSeconds: number;
  /** Sum of unit durations: the wall time when units run one after another (locally). */
  durationMs: number;
  /** Of durationMs, waiting for the provider's sandbox creation rate. */
  creationWaitMs: number;
  /** Units estimated from earlier runs with the same parameters, scaled from other parameters, or modelled. */
  basis: { history: number; scaled: number; parametric: number };
  /** E2B cost of the planned sandbox-seconds at the configured template size. */
  e2bCostUsd: number;
  /** Modelled AWS-side cost of running the plan through the serverless pipeline once. */
  awsCostUsd: number;
  awsBreakdown: Record<string, number>;
  /** The same plan on AWS: one Lambda per unit, the pool handed from unit to unit (pipelineSchedule). */
  pipeline: { sandboxes: number; wallTimeMs: number; concurrency: { creation: number; pooled: number } };
}

export interface Plan {
  units: UnitSpec[];
  totals: PlanTotals;
}

/** What a plan is built from besides the config. */
export interface PlanOptions {
  /** Earlier measurements of units on this provider (loadUnitHistory); none: the parametric model. */
  history?: UnitHistory;
  /** Fresh sandboxes the provider creates per second (E2B Hobby 1/s, Pro 5/s). @default 1 on e2b, unlimited locally */
  creationRatePerS?: number;
  /** Parametric model coefficients. @default PARAMETRIC_MS[provider] */
  coefficients?: Coefficients;
  /**
   * Split units that would not fit a unit Lambda into shards (lib/bench/shards.ts): the serverless
   * pipeline's Plan step sets it, each shard becomes a Map item. @default false
   */
  shardForLambda?: boolean;
}

interface UnitDuration {
  estimate: DurationEstimate;
  /** Waiting for the provider's creation rate, added to the estimate. */
  creationWaitMs: number;
}

/** Plan a run: select benchmarks, size them under the profile, estimate usage and cost. */
export function buildPlan(
  config: RunConfig,
  extraScenarios: readonly BenchmarkDefinition[] = [],
  options: PlanOptions = {},
): Plan {
  const params = profileParams(config.profile, {
    ...(config.topologies ? { topologies: config.topologies } : {}),
    ...(config.agents === undefined ? {} : { agents: config.agents }),
  });
  const defs = selectBenchmarks(config, extraScenarios);
  const perSandbox = config.agentsPerSandbox;
  const planned = defs.map((def) => def.swarms(params));
  const coefficients = options.coefficients ?? PARAMETRIC_MS[config.provider];
  // E2B: the tier's rate (or the one set) less the margin the provider paces itself with.
  const rate =
    options.creationRatePerS ??
    (config.provider === 'e2b'
      ? pacedCreationRate(creationRate(config))
      : DEFAULT_CREATION_RATE_PER_S[config.provider]);
  const units0 = defs.map((def, i) => {
    const swarms = planned[i] ?? [];
    const source = (swarm: PlannedSwarm) => (config.pooling ? sourceOf(def, swarm) : 'fresh');
    const work = workOf(swarms, source);
    const unitParams = unitParamsOf(def, params, config.pooling);
    const estimate = estimateDuration(
      { unitId: unitIdOf(def), params: unitParams },
      work,
      coefficients,
      options.history,
    );
    // Paced creation: a unit cannot create sandboxes faster than the provider allows. Measured
    // durations of the same parameters already include the wait; the model adds what creating at
    // the provider's rate takes beyond the modelled time of the swarms that create sandboxes.
    const fresh = swarms.filter((swarm) => source(swarm) === 'fresh');
    const created = fresh.reduce((sum, swarm) => sum + Math.ceil(swarm.agents / perSandbox), 0);
    const freshMs = parametricMs(workOf(fresh, source), coefficients);
    const waitMs = Number.isFinite(rate) && rate > 0 ? Math.max(0, (created / rate) * 1000 - freshMs) : 0;
    const duration: UnitDuration = {
      estimate,
      creationWaitMs: estimate.basis.source === 'history' ? 0 : waitMs,
    };
    const swarmMs = swarms.map((swarm) => parametricMs(workOf([swarm], source), coefficients));
    return { work, unitParams, duration, swarmMs };
  });
  const durations = units0.map((u) => u.duration);
  // A swarm lives for its modelled share of the unit's estimated duration.
  const lifeOf = (i: number) => {
    const u = units0[i];
    const total = u ? u.swarmMs.reduce((sum, ms) => sum + ms, 0) : 0;
    const scale = u && total > 0 ? u.duration.estimate.durationMs / total : 0;
    return (k: number) => ((u?.swarmMs[k] ?? 0) * scale) / 1000;
  };
  const estimates = config.pooling
    ? estimatePooled(defs, planned, perSandbox, durations, lifeOf)
    : planned.map((swarms, i) => estimateUnpooled(swarms, perSandbox, durations[i], lifeOf(i)));
  const units = defs.flatMap((def, i): UnitSpec[] => {
    const u = units0[i] as (typeof units0)[number];
    const samples = def.samples?.(params);
    const unit: UnitSpec = {
      unitId: unitIdOf(def),
      category: def.category,
      test: def.test,
      title: def.title,
      params: u.unitParams,
      ...(def.targets && def.targets.length > 0 ? { targets: def.targets } : {}),
      estimate: {
        ...(estimates[i] as UnitSpec['estimate']),
        work: u.work,
        basis: u.duration.estimate.basis,
        ...(u.duration.creationWaitMs > 0 ? { creationWaitMs: u.duration.creationWaitMs } : {}),
      },
      ...(samples && samples.length > 0 ? { samples } : {}),
    };
    if (!options.shardForLambda) return [unit];
    const source = (swarm: PlannedSwarm) => (config.pooling ? sourceOf(def, swarm) : 'fresh');
    const whole = parametricMs(workOf(planned[i] ?? [], source), coefficients);
    const shareOf = (overrides: Partial<ProfileParams>) =>
      whole > 0
        ? parametricMs(workOf(def.swarms({ ...params, ...overrides }), source), coefficients) / whole
        : 1;
    return shardUnit(unit, params, shareOf);
  });
  const sandboxes = units.reduce((sum, u) => sum + u.estimate.sandboxes, 0);
  const sandboxSeconds = units.reduce((sum, u) => sum + u.estimate.sandboxSeconds, 0);
  const durationMs = units.reduce((sum, u) => sum + u.estimate.durationMs, 0);
  const freshSandboxes = units.reduce((sum, u) => sum + (u.estimate.fresh ?? u.estimate.sandboxes), 0);
  const reusedSandboxes = units.reduce((sum, u) => sum + (u.estimate.reused ?? 0), 0);
  const aws = awsRunCostUsd(awsUsageOf(units));
  const schedule = pipelineSchedule(units, config);
  const basisCount = (source: string) => units.filter((u) => u.estimate.basis?.source === source).length;
  return {
    units,
    totals: {
      units: units.length,
      sandboxes,
      freshSandboxes: config.pooling ? freshSandboxes : sandboxes,
      reusedSandboxes,
      pooling: config.pooling,
      sandboxSeconds,
      durationMs,
      creationWaitMs: units.reduce((sum, u) => sum + (u.estimate.creationWaitMs ?? 0), 0),
      basis: {
        history: basisCount('history'),
        scaled: basisCount('history-scaled'),
        parametric: basisCount('parametric'),
      },
      e2bCostUsd: e2bCostUsd(sandboxSeconds, templateResources(config)),
      awsCostUsd: aws.totalUsd,
      awsBreakdown: aws.breakdown,
      pipeline: {
        sandboxes: schedule.sandboxes,
        wallTimeMs: schedule.wallTimeMs,
        concurrency: schedule.concurrency,
      },
    },
  };
}

/** The parameters recorded with a unit: what history matches on. */
function unitParamsOf(
  def: BenchmarkDefinition,
  params: ProfileParams,
  pooling: boolean,
): Record<string, unknown> {
  return { profile: params.name, ...def.describe(params), pooled: pooling && !def.freshSandboxes };
}

/** Without a pool: every swarm creates its sandboxes, alive for that swarm's share of the unit. */
function estimateUnpooled(
  swarms: readonly PlannedSwarm[],
  agentsPerSandbox: number,
  duration: UnitDuration | undefined,
  lifeSeconds: (k: number) => number,
): UnitSpec['estimate'] {
  const sandboxes = swarms.reduce((sum, swarm) => sum + Math.ceil(swarm.agents / agentsPerSandbox), 0);
  const modelledSeconds = swarms.reduce(
    (sum, swarm, k) => sum + Math.ceil(swarm.agents / agentsPerSandbox) * lifeSeconds(k),
    0,
  );
  return {
    sandboxes,
    sandboxSeconds: duration?.estimate.sandboxSeconds ?? modelledSeconds,
    durationMs: (duration?.estimate.durationMs ?? 0) + (duration?.creationWaitMs ?? 0),
  };
}

/** Where a planned swarm's sandboxes come from under pooling. */
function sourceOf(def: BenchmarkDefinition, swarm: PlannedSwarm): 'fresh' | 'pool' {
  return swarm.source ?? (def.freshSandboxes ? 'fresh' : 'pool');
}

/** Sandboxes the pooled swarms of each unit need at once (its swarms run one after another). */
export function poolNeeds(
  defs: readonly BenchmarkDefinition[],
  planned: readonly PlannedSwarm[][],
  agentsPerSandbox: number,
): number[] {
  return defs.map((def, i) =>
    (planned[i] ?? [])
      .filter((swarm) => sourceOf(def, swarm) === 'pool')
      .reduce((peak, swarm) => Math.max(peak, Math.ceil(swarm.agents / agentsPerSandbox)), 0),
  );
}

/** Idle sandboxes worth keeping after unit `index`: the largest need of the units still to run. */
export function poolCapacityAfter(needs: readonly number[], index: number): number {
  return needs.slice(index + 1).reduce((max, need) => Math.max(max, need), 0);
}

/**
 * The plan's usage with a run-wide pool, simulated the way runUnits drives it: a unit's pooled
 * swarms take idle sandboxes and create only what is missing; fresh swarms create their own and
 * donate them afterwards (up to what later units need); after each unit the pool shrinks to the
 * largest need still ahead. Pooled sandboxes are billed for the whole unit, idle or not.
 */
function estimatePooled(
  defs: readonly BenchmarkDefinition[],
  planned: readonly PlannedSwarm[][],
  agentsPerSandbox: number,
  durations: readonly UnitDuration[],
  lifeOf: (i: number) => (k: number) => number,
): Array<UnitSpec['estimate']> {
  const needs = poolNeeds(defs, planned, agentsPerSandbox);
  let idle = 0;
  return defs.map((def, i) => {
    const swarms = planned[i] ?? [];
    const life = lifeOf(i);
    const sandboxesOf = (k: number) => Math.ceil((swarms[k]?.agents ?? 0) / agentsPerSandbox);
    const freshIndexes = swarms.flatMap((swarm, k) => (sourceOf(def, swarm) === 'fresh' ? [k] : []));
    const pooled = swarms.filter((swarm) => sourceOf(def, swarm) === 'pool');
    const freshSandboxes = freshIndexes.reduce((sum, k) => sum + sandboxesOf(k), 0);
    const freshSeconds = freshIndexes.reduce((sum, k) => sum + sandboxesOf(k) * life(k), 0);
    const need = needs[i] ?? 0;
    const capacity = Math.max(need, poolCapacityAfter(needs, i));
    const created = Math.max(0, need - idle);
    const held = Math.max(idle, need);
    const duration = durations[i];
    const durationMs = (duration?.estimate.durationMs ?? 0) + (duration?.creationWaitMs ?? 0);
    const reused =
      pooled.reduce((sum, swarm) => sum + Math.ceil(swarm.agents / agentsPerSandbox), 0) - created;
    idle = Math.min(capacity, held + freshSandboxes);
    idle = Math.min(idle, poolCapacityAfter(needs, i));
    return {
      sandboxes: freshSandboxes + created,
      fresh: freshSandboxes,
      reused: Math.max(0, reused),
      peakPooled: need,
      sandboxSeconds: duration?.estimate.sandboxSeconds ?? freshSeconds + (held * durationMs) / 1000,
      durationMs,
    };
  });
}

/** AWS usage of one pipeline execution of these units (Plan, one Lambda per unit, Publish). */
function awsUsageOf(units: UnitSpec[]) {
  const unitSeconds = units.reduce((sum, u) => sum + u.estimate.durationMs / 1000 + 1, 0);
  return {
    lambdaGbSeconds: (unitSeconds * UNIT_LAMBDA_MEMORY_MB) / 1024 + (2 * 10 * STEP_LAMBDA_MEMORY_MB) / 1024,
    lambdaRequests: units.length + 2,
    // Start, Plan, Map, per iteration (Run unit, Record), Publish, Succeed.
    stateTransitions: 6 + units.length * 3,
    // A run item written twice, one result item per unit (~30 KB each = 30 WRU).
    dynamoWriteUnits: 2 + units.length * 30,
    // Publish reads the run, its results and eight earlier runs of history per unit.
    dynamoReadUnits: 1 + units.length * 8 * 4,
    // Markdown, HTML, JSON and about six charts, under the run id and under latest/.
    s3Puts: 2 * 9,
    s3Gets: 0,
    snsPublishes: 1,
  };
}

/** Refuse a plan whose estimated E2B cost exceeds the run's budget. */
export function assertWithinBudget(plan: Plan, budgetUsd: number): void {
  const total = plan.totals.e2bCostUsd + plan.totals.awsCostUsd;
  if (total > budgetUsd) {
    throw new BudgetExceededError(
      `estimated cost $${total.toFixed(4)} exceeds the per-run budget $${budgetUsd.toFixed(2)}; raise budgetUsd or run fewer units`,
    );
  }
}
