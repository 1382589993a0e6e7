/** swarm-bench plan: the units a run would execute and what they are expected to cost; nothing starts. */
import { parseArgs } from 'node:util';
import { buildPlan } from '../../lib/bench/plan.ts';
import { sandboxLimit } from '../../lib/config.ts';
import { HOURS_PER_MONTH, WEEKLY_RUNS_PER_MONTH } from '../../lib/cost/model.ts';
import { configFromFlags, formatUsd, loadScenarios, RUN_FLAGS } from '../shared.ts';

export async function planCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({ args: argv, options: RUN_FLAGS, strict: true, allowPositionals: false });
  const config = configFromFlags(values, env);
  const plan = buildPlan(config, await loadScenarios(values.scenario));
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ config, ...plan }, null, 2)}\n`);
    return 0;
  }
  const rows = plan.units.map(
    (u) =>
      `${u.unitId.padEnd(36)} ${String(u.estimate.sandboxes).padStart(5)} ${u.estimate.sandboxSeconds.toFixed(0).padStart(8)} ${(u.estimate.durationMs / 1000).toFixed(0).padStart(6)}`,
  );
  const t = plan.totals;
  process.stdout.write(
    [
      `profile ${config.profile}, provider ${config.provider}, template ${config.template} (${config.templateSize})`,
      `${'unit'.padEnd(36)} ${'sbx'.padStart(5)} ${'sbx-s'.padStart(8)} ${'~s'.padStart(6)}`,
      ...rows,
      `${'total'.padEnd(36)} ${String(t.sandboxes).padStart(5)} ${t.sandboxSeconds.toFixed(0).padStart(8)} ${(t.durationMs / 1000).toFixed(0).padStart(6)}`,
      '',
      `sandboxes created: ${t.sandboxes} (${t.freshSandboxes} fresh for creation benchmarks, ${t.sandboxes - t.freshSandboxes} for the pool; ${t.reusedSandboxes} swarm sandboxes reused)${t.pooling ? '' : ' (pooling off)'}`,
      `sandbox-seconds:   ${t.sandboxSeconds.toFixed(0)} (pooled sandboxes counted for every unit they are held through)`,
      `AWS pipeline:      ~${(t.pipeline.wallTimeMs / 60_000).toFixed(1)} min wall time, ${t.pipeline.sandboxes} sandboxes (pool handed from unit Lambda to unit Lambda; Map concurrency ${t.pipeline.concurrency.creation} for creation units, ${t.pipeline.concurrency.pooled} for pooled units, under ${sandboxLimit(config)} sandboxes alive)`,
      `E2B cost of one run (estimate):      ${formatUsd(t.e2bCostUsd)}`,
      `AWS cost of one pipeline run (model): ${formatUsd(t.awsCostUsd)}`,
      `weekly schedule, per month:          ${formatUsd((t.e2bCostUsd + t.awsCostUsd) * WEEKLY_RUNS_PER_MONTH)}`,
      `budget per run:                      ${formatUsd(config.budgetUsd)}${t.e2bCostUsd + t.awsCostUsd > config.budgetUsd ? '  (OVER: run would be refused)' : ''}`,
      `(${HOURS_PER_MONTH} h/month; estimates assume ${'2 s'} to deploy each sandbox)`,
      '',
    ].join('\n'),
  );
  return 0;
}
