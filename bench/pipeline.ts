/**
 * Pipeline benchmark (`npx tsx bench/pipeline.ts [categories...]`, not part of `npm test`): the
 * local serverless pipeline (synthesized state machine under an ASL interpreter, embedded store,
 * s3rver, presigned link, report) against the plain runner (runUnits over the same plan, no store,
 * no report) on the quick profile, measured in the same run, plus the modelled AWS cost of one
 * weekly default run. Goals: overhead <= 1.15x, AWS cost per weekly run < $0.02. Writes
 * bench/results/pipeline-latest.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newRunId } from '../lib/bench/meta.ts';
import { buildPlan } from '../lib/bench/plan.ts';
import { runUnits } from '../lib/bench/runner.ts';
import { parseRunConfig } from '../lib/config.ts';
import { runLocalPipeline } from '../lib/pipeline/local.ts';
import { LocalSandboxProvider } from '../lib/sandbox/local.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BUNDLE = join(ROOT, 'dist/agent.cjs');
const RESULTS = join(ROOT, 'bench/results/pipeline-latest.json');
const OVERHEAD_GOAL = 1.15;
const AWS_COST_GOAL_USD = 0.02;

const categories = process.argv.slice(2);
const input = { profile: 'quick', scenarios: false, ...(categories.length > 0 ? { categories } : {}) };
const config = parseRunConfig(input);
const plan = buildPlan(config);
const passthroughEnv = { PATH: process.env.PATH };

async function plainRunner(): Promise<{ ms: number; statuses: string[] }> {
  const provider = new LocalSandboxProvider({ bundlePath: BUNDLE, passthroughEnv });
  const t0 = performance.now();
  const { results } = await runUnits(plan.units, { runId: newRunId(), config, provider });
  await provider.killAll();
  return { ms: performance.now() - t0, statuses: results.map((r) => r.status) };
}

async function pipeline(): Promise<{ ms: number; statuses: string[]; status: string }> {
  const t0 = performance.now();
  // Everything the pipeline adds is inside the timing: synthesis, store and S3 servers, report.
  const outcome = await runLocalPipeline({ input, bundlePath: BUNDLE, passthroughEnv, outDir: null });
  return {
    ms: performance.now() - t0,
    statuses: outcome.results.map((r) => r.status),
    status: outcome.status,
  };
}

console.log(
  `pipeline bench: quick profile, ${plan.units.length} units, ${cpus().length} cpus, load ${loadavg()[0]?.toFixed(2)}`,
);
// Runner first, then pipeline, then runner again: the ratio uses the mean of both runner passes,
// so a machine warming up or slowing down during the run hits both sides alike.
const runnerA = await plainRunner();
console.log(`runner   ${(runnerA.ms / 1000).toFixed(1)} s`);
const piped = await pipeline();
console.log(`pipeline ${(piped.ms / 1000).toFixed(1)} s (${piped.status})`);
const runnerB = await plainRunner();
console.log(`runner   ${(runnerB.ms / 1000).toFixed(1)} s`);
const runnerMs = (runnerA.ms + runnerB.ms) / 2;
const ratio = piped.ms / runnerMs;

const weekly = buildPlan(parseRunConfig({ profile: 'default', provider: 'e2b' }));
const awsCostUsd = weekly.totals.awsCostUsd;

const pass = (ok: boolean) => (ok ? 'PASS' : 'MISS');
console.log('');
console.log(
  `overhead ratio         ${ratio.toFixed(3)}x  (goal <= ${OVERHEAD_GOAL}x)  ${pass(ratio <= OVERHEAD_GOAL)}`,
);
console.log(
  `AWS cost, weekly run   $${awsCostUsd.toFixed(5)}  (goal < $${AWS_COST_GOAL_USD})  ${pass(awsCostUsd < AWS_COST_GOAL_USD)}`,
);
console.log(
  `  breakdown: ${Object.entries(weekly.totals.awsBreakdown)
    .map(([k, v]) => `${k} $${v.toFixed(5)}`)
    .join(', ')}`,
);
console.log(
  `  E2B estimate of the same run: $${weekly.totals.e2bCostUsd.toFixed(4)} (${weekly.totals.units} units)`,
);

mkdirSync(dirname(RESULTS), { recursive: true });
writeFileSync(
  RESULTS,
  `${JSON.stringify(
    {
      at: new Date().toISOString(),
      cpus: cpus().length,
      units: plan.units.map((u) => u.unitId),
      runnerMs: [runnerA.ms, runnerB.ms],
      pipelineMs: piped.ms,
      ratio,
      statuses: { runner: runnerA.statuses, pipeline: piped.statuses },
      weeklyDefault: {
        awsCostUsd,
        awsBreakdown: weekly.totals.awsBreakdown,
        e2bCostUsd: weekly.totals.e2bCostUsd,
      },
    },
    null,
    2,
  )}\n`,
);
