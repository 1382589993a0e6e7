/** swarm-bench plan: the units a run would execute and what they are expected to cost; nothing starts. */
import { parseArgs } from 'node:util';
import { describeUnattainable, unattainableTargets } from '../../lib/bench/e2b-limits.ts';
import { planForMachine } from '../../lib/bench/machine.ts';
import { buildPlan, type Plan } from '../../lib/bench/plan.ts';
import { checkSamples } from '../../lib/bench/samples.ts';
import { maxUnitEstimateMs, SAFETY_FACTOR, UNIT_USABLE_MS } from '../../lib/bench/shards.ts';
import { GUIDE_TARGETS } from '../../lib/bench/targets.ts';
import { creationRate, type RunConfig, sandboxLimit } from '../../lib/config.ts';
import { HOURS_PER_MONTH, WEEKLY_RUNS_PER_MONTH } from '../../lib/cost/model.ts';
import type { openEmbeddedStore } from '../../lib/store/embedded.ts';
import { readPlanInputs } from '../plan-inputs.ts';
import {
  configFromFlags,
  DEFAULT_STORE_DIR,
  directoryFlag,
  formatUsd,
  loadScenarios,
  openStore,
  RUN_FLAGS,
} from '../shared.ts';

export async function planCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({ args: argv, options: RUN_FLAGS, strict: true, allowPositionals: false });
  const storeDir = directoryFlag('--store', values.store, DEFAULT_STORE_DIR);
  const scenarios = await loadScenarios(values.scenario);
  const requested = configFromFlags(values, env, scenarios);
  const inputs = await withStore(storeDir, (store) => readPlanInputs(store, requested.provider));
  const fitted = planForMachine(
    requested,
    (config) => buildPlan(config, scenarios, { history: inputs.history }),
    inputs.machine,
    inputs.footprint,
    { strict: values.strict === true, previousLoadSize: inputs.previousLoadSize },
  );
  const { config, plan } = fitted;
  // The serverless pipeline's view of the same plan: units too long for one Lambda become shards.
  const aws = buildPlan(config, scenarios, { history: inputs.history, shardForLambda: true });
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify({ config, ...plan, machine: fitted.check, samples: checkSamples(plan.units, [...GUIDE_TARGETS, ...plan.units.flatMap((u) => u.targets ?? [])]), aws: { units: aws.units.map((u) => ({ unitId: u.unitId, durationMs: u.estimate.durationMs, shard: u.shard })), totals: aws.totals } }, null, 2)}\n`,
    );
    return 0;
  }
  const rows = plan.units.map(
    (u) =>
      `${u.unitId.padEnd(36)} ${String(u.estimate.sandboxes).padStart(5)} ${u.estimate.sandboxSeconds.toFixed(0).padStart(8)} ${(u.estimate.durationMs / 1000).toFixed(0).padStart(6)}  ${u.estimate.basis?.source ?? ''}${u.estimate.creationWaitMs ? ` (+${(u.estimate.creationWaitMs / 1000).toFixed(0)} s creation rate)` : ''}`,
  );
  const t = plan.totals;
  process.stdout.write(
    [
      `profile ${config.profile}, provider ${config.provider}, template ${config.template} (${config.templateSize})`,
      ...(fitted.note ? [fitted.note] : []),
      `${'unit'.padEnd(36)} ${'sbx'.padStart(5)} ${'sbx-s'.padStart(8)} ${'~s'.padStart(6)}  estimate from`,
      ...rows,
      `${'total'.padEnd(36)} ${String(t.sandboxes).padStart(5)} ${t.sandboxSeconds.toFixed(0).padStart(8)} ${(t.durationMs / 1000).toFixed(0).padStart(6)}`,
      `estimates: ${t.basis.history} units from earlier runs with the same parameters (median), ${t.basis.scaled} scaled from runs with other parameters, ${t.basis.parametric} from the parametric work model (no history on ${config.provider})`,
      '',
      ...sampleLines(plan),
      '',
      `sandboxes created: ${t.sandboxes} (${t.freshSandboxes} fresh for creation benchmarks, ${t.sandboxes - t.freshSandboxes} for the pool; ${t.reusedSandboxes} swarm sandboxes reused)${t.pooling ? '' : ' (pooling off)'}`,
      `sandbox-seconds:   ${t.sandboxSeconds.toFixed(0)} (pooled sandboxes counted for every unit they are held through)`,
      ...(t.creationWaitMs > 0
        ? [
            `creation rate:     ${(t.creationWaitMs / 1000).toFixed(0)} s of the estimate is waiting for the provider's sandbox creation rate${config.provider === 'e2b' ? ` (E2B ${config.e2bTier}: ${creationRate(config)} creations/s)` : ''}`,
          ]
        : []),
      ...e2bLimitLines(config, plan),
      `AWS pipeline:      ~${(t.pipeline.wallTimeMs / 60_000).toFixed(1)} min wall time, ${t.pipeline.sandboxes} sandboxes (pool handed from unit Lambda to unit Lambda; Map concurrency ${t.pipeline.concurrency.creation} for creation units, ${t.pipeline.concurrency.pooled} for pooled units, under ${sandboxLimit(config)} sandboxes alive)`,
      ...shardLines(aws),
      `E2B cost of one run (estimate):      ${formatUsd(t.e2bCostUsd)}`,
      `AWS cost of one pipeline run (model): ${formatUsd(t.awsCostUsd)}`,
      `weekly schedule, per month:          ${formatUsd((t.e2bCostUsd + t.awsCostUsd) * WEEKLY_RUNS_PER_MONTH)}`,
      `budget per run:                      ${formatUsd(config.budgetUsd)}${t.e2bCostUsd + t.awsCostUsd > config.budgetUsd ? '  (OVER: run would be refused)' : ''}`,
      `(${HOURS_PER_MONTH} h/month)`,
      '',
    ].join('\n'),
  );
  return 0;
}

/** E2B: the guide's creation targets the tier's rate rules out at the planned swarm sizes. */
function e2bLimitLines(config: RunConfig, plan: Plan): string[] {
  if (config.provider !== 'e2b') return [];
  const limits = {
    tier: config.e2bTier,
    creationRate: creationRate(config),
    agentsPerSandbox: config.agentsPerSandbox,
  };
  const items = unattainableTargets(limits, (target) => {
    const params = plan.units.find((unit) => unit.unitId === target.unitId)?.params ?? {};
    // Pooled swarms take sandboxes created earlier: the creation rate does not bound their init.
    if (params.pooled === true) return [];
    const sizes = [params.agents].flat().filter((agents): agents is number => typeof agents === 'number');
    const wanted = target.labels?.agents;
    return wanted === undefined ? sizes : sizes.filter((agents) => agents === Number(wanted));
  });
  return items.map((item) => `E2B limit:         ${describeUnattainable(limits, item)}`);
}

/** Samples per target-bearing series: n, what the statistic needs, why. */
function sampleLines(plan: Plan): string[] {
  const checks = checkSamples(plan.units, [...GUIDE_TARGETS, ...plan.units.flatMap((u) => u.targets ?? [])]);
  if (checks.length === 0) return [];
  return [
    'samples behind each target (n per series; a p95 needs about 20, a p99 about 100, anything else 10):',
    ...checks.map(
      (c) =>
        `  ${c.ok ? 'ok ' : 'LOW'} ${c.targetId.padEnd(26)} ${c.series.padEnd(26)} n=${String(c.n).padEnd(5)} needs ${String(c.needed).padEnd(4)} ${c.why}` +
        (c.toDecide !== undefined && c.n < c.toDecide
          ? `; both 95% interval bounds from n = ${c.toDecide}: until then one side stays open (Inconclusive instead of a Pass)`
          : ''),
    ),
  ];
}

/** How the pipeline runs units that would not fit one unit Lambda. */
function shardLines(aws: Plan): string[] {
  const sharded = new Map<string, number>();
  for (const unit of aws.units) if (unit.shard) sharded.set(unit.shard.of, unit.shard.count);
  const longest = aws.units.reduce((max, u) => Math.max(max, u.estimate.durationMs), 0);
  const limit = maxUnitEstimateMs();
  return [
    `unit Lambda:       ${aws.units.length} Map items; longest ${(longest / 1000).toFixed(0)} s x ${SAFETY_FACTOR} safety = ${((longest * SAFETY_FACTOR * 100) / UNIT_USABLE_MS).toFixed(0)}% of its ${UNIT_USABLE_MS / 1000} s usable time (limit 80%: estimates up to ${(limit / 1000).toFixed(0)} s)` +
      (sharded.size > 0
        ? `; split into shards: ${[...sharded].map(([id, count]) => `${id} (${count})`).join(', ')}`
        : '; no unit needs splitting'),
  ];
}

/** Run `fn` with the embedded store open, or with none when it cannot be opened (locked by a run). */
async function withStore<T>(
  dir: string,
  fn: (store: Awaited<ReturnType<typeof openEmbeddedStore>>['store'] | undefined) => Promise<T>,
): Promise<T> {
  let opened: Awaited<ReturnType<typeof openEmbeddedStore>> | undefined;
  try {
    opened = await openStore(dir);
  } catch {
    return fn(undefined);
  }
  try {
    return await fn(opened.store);
  } finally {
    await opened.close();
  }
}
