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

async function plainRunner(): Promise<{ ms: number; unitMs: number; statuses: string[] }> {
  const provider = new LocalSandboxProvider({ bundlePath: BUNDLE, passthroughEnv });
  const t0 = performance.now();
  const { results } = await runUnits(plan.units, { runId: newRunId(), config, provider });
  await provider.killAll();
  return {
    ms: performance.now() - t0,
    // The units' own measured time: the rest is the runner's fixed cost.
    unitMs: results.reduce((sum, r) => sum + r.durationMs, 0),
    statuses: results.map((r) => r.status),
  };
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
    timeline: outcome.timeline,
    publishTimings: outcome.publishTimings,
  };
}

type Piped = Awaited<ReturnType<typeof pipeline>>;

/**
 * The pipeline's time outside the units, per state: each Task's wall time split into the cold
 * start (process start, handler import, the rest of init) and the handler; for unit Tasks only
 * what the handler spent beyond the unit's own measured time. Plus setup, the interpreter's own
 * time (ReadInput, the Maps, transitions) and what follows the execution.
 */
function breakdown(piped: Piped) {
  const timeline = piped.timeline;
  if (timeline === undefined) return undefined;
  const rows = new Map<
    string,
    {
      n: number;
      cold: number;
      processStart: number;
      import: number;
      otherInit: number;
      handler: number;
      unit: number;
    }
  >();
  for (const task of timeline.tasks) {
    const row = rows.get(task.state) ?? {
      n: 0,
      cold: 0,
      processStart: 0,
      import: 0,
      otherInit: 0,
      handler: 0,
      unit: 0,
    };
    row.n++;
    if (task.timing.cold) row.cold++;
    row.processStart += task.timing.processStartMs;
    row.import += task.timing.importMs;
    row.otherInit += task.timing.otherInitMs;
    row.handler += task.timing.handlerMs;
    row.unit += task.unitMs ?? 0;
    rows.set(task.state, row);
  }
  const taskMs = timeline.tasks.reduce((sum, t) => sum + t.timing.totalMs, 0);
  const unitMs = timeline.tasks.reduce((sum, t) => sum + (t.unitMs ?? 0), 0);
  const states = [...rows.entries()].map(([state, r]) => ({
    state,
    ...r,
    outsideUnits: r.processStart + r.import + r.otherInit + r.handler - r.unit,
  }));
  return {
    setupMs: timeline.setupMs,
    interpreterMs: timeline.executionMs - taskMs,
    afterMs: timeline.afterMs,
    teardownMs: piped.ms - timeline.setupMs - timeline.executionMs - timeline.afterMs,
    unitMs,
    outsideUnitsMs: piped.ms - unitMs,
    states,
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
  `pipeline bench: ${values.profile} profile, ${plan.units.length} units, ${cpus().length} cpus, load ${loadavg()[0]?.toFixed(2)}`,
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
const costs = breakdown(piped);

const s1 = (ms: number) => `${(ms / 1000).toFixed(1)} s`.padStart(7);
if (costs !== undefined) {
  const runnerOutside = (runnerA.ms - runnerA.unitMs + runnerB.ms - runnerB.unitMs) / 2;
  console.log('');
  console.log(
    `time outside the units: pipeline ${s1(costs.outsideUnitsMs)}, runner ${s1(runnerOutside)} (units' own time: pipeline ${s1(costs.unitMs)}, runner ${s1((runnerA.unitMs + runnerB.unitMs) / 2)})`,
  );
  console.log(`  setup (store, S3, AWS endpoint, task roots)  ${s1(costs.setupMs)}`);
  console.log(`  interpreter (ReadInput, Maps, transitions)   ${s1(costs.interpreterMs)}`);
  console.log(`  after the execution (read back, mirror)      ${s1(costs.afterMs)}`);
  console.log(`  teardown (functions, stand-ins)              ${s1(costs.teardownMs)}`);
  console.log(
    '  per state   n cold | outside units = process start + import + other init + handler (- unit)',
  );
  for (const r of costs.states) {
    console.log(
      `  ${r.state.padEnd(20)} ${String(r.n).padStart(2)} ${String(r.cold).padStart(2)} | ${s1(r.outsideUnits)} = ${s1(r.processStart)} + ${s1(r.import)} + ${s1(r.otherInit)} + ${s1(r.handler)}${r.unit > 0 ? ` - ${s1(r.unit)}` : ''}`,
    );
  }
  const p = piped.publishTimings;
  if (p !== undefined) {
    console.log(
      `  Publish handler: read ${s1(p.read)}, report ${s1(p.report)} (store ${s1(p.reportStore)}, uploads ${s1(p.reportIo)}, rendering ${s1(p.report - p.reportStore - p.reportIo)}), site ${s1(p.site)} (store ${s1(p.siteStore)}, uploads ${s1(p.siteIo)}, rendering ${s1(p.site - p.siteStore - p.siteIo)}), finish+notify ${s1(p.finish)}`,
    );
  }
}

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
      runnerUnitMs: [runnerA.unitMs, runnerB.unitMs],
      breakdown: costs,
      publishTimings: piped.publishTimings,
      loadavg: loadavg(),
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
