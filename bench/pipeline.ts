/**
 * Pipeline benchmark (`npx tsx bench/pipeline.ts [--profile quick|default] [categories...]`, not
 * part of `npm test`): the local serverless pipeline on the bundled artifacts (synthesized state
 * machine under an ASL interpreter, every Task a bundled function in its own Node process, local
 * AWS stand-ins with the IAM check, report) against the plain runner (runUnits over the same plan,
 * no store, no report), measured in the same run; the cold start of each bundled handler; the unit
 * handler's import time with and without source maps against a bare `node` start; the IAM
 * denials of the run; the modelled AWS cost of one weekly default run. Goals: overhead <= 1.15x,
 * zero denials, AWS cost per weekly run < $0.02. Writes bench/results/pipeline-latest.json.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { newRunId } from '../lib/bench/meta.ts';
import { buildPlan } from '../lib/bench/plan.ts';
import { runUnits } from '../lib/bench/runner.ts';
import { parseRunConfig } from '../lib/config.ts';
import { describeTaskFailures, localBundledStack, runLocalPipeline } from '../lib/pipeline/local.ts';
import { functionSpecs } from '../lib/pipeline/template.ts';
import { LocalSandboxProvider } from '../lib/sandbox/local.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BUNDLE = join(ROOT, 'dist/agent.cjs');
const RESULTS = join(ROOT, 'bench/results/pipeline-latest.json');
const OVERHEAD_GOAL = 1.15;
const AWS_COST_GOAL_USD = 0.02;

const { values, positionals: categories } = parseArgs({
  options: { profile: { type: 'string', default: 'quick' } },
  allowPositionals: true,
});
const input = { profile: values.profile, scenarios: false, ...(categories.length > 0 ? { categories } : {}) };
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

// Bundling happens once per source change (cached by hash): timed apart, outside the ratio.
const bundleStart = performance.now();
const stack = await localBundledStack();
const bundleMs = performance.now() - bundleStart;

async function pipeline() {
  const t0 = performance.now();
  // Everything a run adds is inside the timing: stand-ins, function processes, store, report.
  const outcome = await runLocalPipeline({ input, stack, outDir: null });
  return {
    ms: performance.now() - t0,
    statuses: outcome.results.map((r) => r.status),
    status: outcome.status,
    error: outcome.error,
    taskFailures: outcome.taskFailures ?? [],
    denials: (outcome.calls ?? []).filter((call) => call.decision !== 'allowed'),
    calls: outcome.calls?.length ?? 0,
    functions: outcome.functions ?? [],
  };
}

/** Median ms to import the bundled unit handler in a fresh Node process, and of a bare start. */
function importTimes(rounds = 5) {
  const unit = functionSpecs(stack.template, stack.context, stack.assemblyDir).find((f) =>
    f.logicalId.startsWith('UnitFunction'),
  )!;
  const file = pathToFileURL(join(unit.assetDir!, 'index.mjs')).href;
  const env = {
    ...unit.environment,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'x',
    AWS_SECRET_ACCESS_KEY: 'x',
    NODE_PATH: join(ROOT, 'node_modules'),
  };
  const time = (script: string, nodeOptions: string) =>
    Number(
      execFileSync(process.execPath, ['--input-type=module', '-e', script], {
        env: { ...env, NODE_OPTIONS: nodeOptions },
        cwd: ROOT,
        encoding: 'utf8',
      }).trim(),
    );
  const importScript = `const t = performance.now(); await import(${JSON.stringify(file)}); console.log(performance.now() - t);`;
  const samples = { withMaps: [] as number[], without: [] as number[], bare: [] as number[] };
  for (let i = 0; i < rounds; i++) {
    samples.withMaps.push(time(importScript, '--enable-source-maps'));
    samples.without.push(time(importScript, ''));
    samples.bare.push(
      time('const t = performance.now(); await import("node:os"); console.log(performance.now() - t);', ''),
    );
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  return { withMaps: median(samples.withMaps), without: median(samples.without), bare: median(samples.bare) };
}

console.log(
  `pipeline bench: quick profile, ${plan.units.length} units, ${cpus().length} cpus, load ${loadavg()[0]?.toFixed(2)}`,
);
// Runner first, then pipeline, then runner again: the ratio uses the mean of both runner passes,
// so a machine warming up or slowing down during the run hits both sides alike.
const runnerA = await plainRunner();
console.log(`runner   ${(runnerA.ms / 1000).toFixed(1)} s`);
const piped = await pipeline();
console.log(`pipeline ${(piped.ms / 1000).toFixed(1)} s (${piped.status}, bundled artifacts)`);
// A failed execution says why: the execution's error and every failed Task with its function's log.
if (piped.error) console.log(`  execution error ${piped.error.name}: ${piped.error.message}`);
process.stdout.write(describeTaskFailures(piped.taskFailures));
const runnerB = await plainRunner();
console.log(`runner   ${(runnerB.ms / 1000).toFixed(1)} s`);
const runnerMs = (runnerA.ms + runnerB.ms) / 2;
const ratio = piped.ms / runnerMs;

const imports = importTimes();

const weekly = buildPlan(parseRunConfig({ profile: 'default', provider: 'e2b' }));
const awsCostUsd = weekly.totals.awsCostUsd;

const pass = (ok: boolean) => (ok ? 'PASS' : 'MISS');
console.log('');
console.log(
  `overhead ratio         ${ratio.toFixed(3)}x  (goal <= ${OVERHEAD_GOAL}x)  ${pass(ratio <= OVERHEAD_GOAL)}`,
);
console.log(
  `IAM denials            ${piped.denials.length} of ${piped.calls} AWS calls  (goal 0)  ${pass(piped.denials.length === 0)}`,
);
console.log(`bundling (once per source change, cached) ${(bundleMs / 1000).toFixed(1)} s`);
console.log('cold start per bundled handler (process start to first response; init = module imported):');
for (const f of piped.functions) {
  if (f.stats.coldStarts === 0) continue;
  console.log(
    `  ${f.logicalId.replace(/Function[0-9A-F]{8}$/, '').padEnd(14)} first response ${f.stats.firstResponseMs[0]?.toFixed(0) ?? '-'} ms, init ${f.stats.initMs[0]?.toFixed(0) ?? '-'} ms, ${f.stats.invocations} invocations, ${f.stats.coldStarts} cold, ${f.stats.initsOverPhase} init(s) past the 10 s init phase`,
  );
}
console.log(
  `unit handler import    ${imports.withMaps.toFixed(0)} ms with source maps, ${imports.without.toFixed(0)} ms without (${(imports.withMaps / imports.without).toFixed(2)}x); floor (bare import in a fresh node) ${imports.bare.toFixed(1)} ms`,
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
      profile: values.profile,
      bundleMs,
      iamDenials: piped.denials,
      awsCalls: piped.calls,
      coldStarts: piped.functions.map((f) => ({ function: f.logicalId, ...f.stats })),
      unitImportMs: imports,
      statuses: { runner: runnerA.statuses, pipeline: piped.statuses },
      execution: { status: piped.status, error: piped.error, taskFailures: piped.taskFailures },
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
