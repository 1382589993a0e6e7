/**
 * The plan: the units a run will execute and what they are expected to use (sandboxes,
 * sandbox-seconds, dollars), known before anything starts, so a run over budget never starts.
 */
import { type RunConfig, templateResources } from '../config.ts';
import { awsRunCostUsd, e2bCostUsd } from '../cost/model.ts';
import { BudgetExceededError } from '../errors.ts';
import { type BenchmarkDefinition, estimateSwarms } from './definition.ts';
import type { UnitSpec } from './model.ts';
import { profileParams } from './profiles.ts';
import { selectBenchmarks, unitIdOf } from './registry.ts';

/** Memory of the unit Lambda (MB); the infra stack uses the same figure. */
export const UNIT_LAMBDA_MEMORY_MB = 2048;
/** Memory of the Plan and Publish Lambdas (MB). */
export const STEP_LAMBDA_MEMORY_MB = 1024;

export interface PlanTotals {
  units: number;
  sandboxes: number;
  sandboxSeconds: number;
  /** Sum of unit durations: the wall time when units run one after another (locally). */
  durationMs: number;
  /** E2B cost of the planned sandbox-seconds at the configured template size. */
  e2bCostUsd: number;
  /** Modelled AWS-side cost of running the plan through the serverless pipeline once. */
  awsCostUsd: number;
  awsBreakdown: Record<string, number>;
}

export interface Plan {
  units: UnitSpec[];
  totals: PlanTotals;
}

/** Plan a run: select benchmarks, size them under the profile, estimate usage and cost. */
export function buildPlan(config: RunConfig, extraScenarios: readonly BenchmarkDefinition[] = []): Plan {
  const params = profileParams(config.profile, {
    ...(config.topologies ? { topologies: config.topologies } : {}),
    ...(config.agents === undefined ? {} : { agents: config.agents }),
  });
  const units = selectBenchmarks(config, extraScenarios).map((def): UnitSpec => {
    const estimate = estimateSwarms(def.swarms(params), config.agentsPerSandbox);
    return {
      unitId: unitIdOf(def),
      category: def.category,
      test: def.test,
      title: def.title,
      params: { profile: params.name, ...def.describe(params) },
      ...(def.targets && def.targets.length > 0 ? { targets: def.targets } : {}),
      estimate,
    };
  });
  const sandboxes = units.reduce((sum, u) => sum + u.estimate.sandboxes, 0);
  const sandboxSeconds = units.reduce((sum, u) => sum + u.estimate.sandboxSeconds, 0);
  const durationMs = units.reduce((sum, u) => sum + u.estimate.durationMs, 0);
  const aws = awsRunCostUsd(awsUsageOf(units));
  return {
    units,
    totals: {
      units: units.length,
      sandboxes,
      sandboxSeconds,
      durationMs,
      e2bCostUsd: e2bCostUsd(sandboxSeconds, templateResources(config)),
      awsCostUsd: aws.totalUsd,
      awsBreakdown: aws.breakdown,
    },
  };
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
