/**
 * Plan vs measured, per unit: runs a profile on the local provider with the plan estimated from
 * the store's history (the first run calibrates; the next is judged), and prints each unit's
 * estimate, its basis, the measured duration, their ratio and the contention during the unit.
 * Goal (issue 18): after one calibration run every unit within +-25% of the measured duration.
 * The floor beside it: the same table for the parametric model alone (no history), so the gain of
 * calibrating is visible in the same run. Also prints a least-squares refit of the parametric
 * coefficients on this run's units (what lib/bench/estimate.ts PARAMETRIC_MS is set from).
 *
 * Each run is a process of its own, as a weekly run is: a second run in the same process would
 * find the coordinator's code already compiled and measure faster than any real next run.
 *
 * `npm run bench:calibration -- <profile> [--store DIR] [--runs N] [--agents N]`
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  type Coefficients,
  loadUnitHistory,
  PARAMETRIC_MS,
  parametricMs,
  type UnitWork,
} from '../lib/bench/estimate.ts';
import { ContentionProbe } from '../lib/bench/machine.ts';
import { describeMachine } from '../lib/bench/meta.ts';
import { buildPlan } from '../lib/bench/plan.ts';
import { parseRunConfig } from '../lib/config.ts';
import { DirReportSink } from '../lib/publish/dir.ts';
import { executeRun } from '../lib/run.ts';
import { LocalSandboxProvider } from '../lib/sandbox/local.ts';
import { openEmbeddedStore } from '../lib/store/embedded.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { store: { type: 'string' }, runs: { type: 'string' }, agents: { type: 'string' } },
});
const profile = positionals[0] ?? 'quick';
const runs = Number(values.runs ?? 1);
const config = parseRunConfig({
  profile,
  ...(values.agents === undefined ? {} : { agents: Number(values.agents) }),
});
const storeDir = values.store ?? mkdtempSync(join(os.tmpdir(), 'swarm-bench-calibration-'));
if (runs > 1) {
  // One child process per run, all on the same store: run N is planned from runs 1..N-1.
  for (let r = 0; r < runs; r++) {
    const child = spawnSync(
      process.execPath,
      [
        ...process.execArgv,
        fileURLToPath(import.meta.url),
        profile,
        '--store',
        storeDir,
        ...(values.agents === undefined ? [] : ['--agents', values.agents]),
      ],
      { stdio: 'inherit' },
    );
    if (child.status !== 0) process.exit(child.status ?? 1);
  }
  process.exit(0);
}
const opened = await openEmbeddedStore({ dir: storeDir });
const provider = new LocalSandboxProvider({
  bundlePath: fileURLToPath(new URL('../dist/agent.cjs', import.meta.url)),
  ...(process.env.PATH ? { passthroughEnv: { PATH: process.env.PATH } } : {}),
});
const procReader = async (path: string) => {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
};
const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(0)}%`;

try {
  {
    const history = await loadUnitHistory(opened.store, 'local');
    const earlier = (await opened.store.listRuns({ provider: 'local', limit: 100 })).length;
    const plan = buildPlan(config, [], { history });
    const model = buildPlan(config);
    const loadAtStart = os.loadavg();
    const start = performance.now();
    const outcome = await executeRun({
      config,
      provider,
      store: opened.store,
      sink: new DirReportSink(mkdtempSync(join(os.tmpdir(), 'swarm-bench-calibration-report-'))),
      environment: { gitCommit: 'bench', nodeVersion: process.version, machine: describeMachine() },
      planOptions: { history },
      contention: () => new ContentionProbe(procReader, { cores: os.cpus().length }),
    });
    const wallS = (performance.now() - start) / 1000;
    const lines = [
      `run ${earlier + 1} in this store, ${outcome.runId}, profile ${profile}${config.agents ? ` (agents ${config.agents})` : ''}: ${wallS.toFixed(0)} s wall, status ${outcome.meta.status}; machine ${os.cpus().length} cpus, load average (1/5/15 min) ${loadAtStart
        .map((l) => l.toFixed(1))
        .join(' ')} at the start, ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} at the end`,
      `${'unit'.padEnd(36)} ${'basis'.padEnd(15)} ${'plan s'.padStart(7)} ${'meas s'.padStart(7)} ${'err'.padStart(6)} ${'model s'.padStart(7)} ${'err'.padStart(6)} load/core`,
    ];
    let within = 0;
    let withinModel = 0;
    for (const result of outcome.results) {
      const unit = plan.units.find((u) => u.unitId === result.unitId);
      const modelled = model.units.find((u) => u.unitId === result.unitId);
      if (!unit || !modelled) continue;
      const err = unit.estimate.durationMs / result.durationMs - 1;
      const errModel = modelled.estimate.durationMs / result.durationMs - 1;
      if (Math.abs(err) <= 0.25) within++;
      if (Math.abs(errModel) <= 0.25) withinModel++;
      const c = result.contention;
      lines.push(
        `${result.unitId.padEnd(36)} ${(unit.estimate.basis?.source ?? '?').padEnd(15)} ${(unit.estimate.durationMs / 1000).toFixed(1).padStart(7)} ${(result.durationMs / 1000).toFixed(1).padStart(7)} ${pct(err).padStart(6)} ${(modelled.estimate.durationMs / 1000).toFixed(1).padStart(7)} ${pct(errModel).padStart(6)} ${c ? `${(c.loadAvgMax / c.cores).toFixed(1)}${c.contended ? ' contended' : ''}` : '-'}`,
      );
    }
    const total = outcome.results.length;
    const planTotal = plan.totals.durationMs / 1000;
    lines.push(
      `within +-25%: ${within}/${total} units with the calibrated plan (${plan.totals.basis.history} from history), ${withinModel}/${total} with the parametric model alone (the floor); plan total ${planTotal.toFixed(0)} s vs measured ${wallS.toFixed(0)} s (${pct(planTotal / wallS - 1)})`,
    );
    lines.push(
      refit(
        outcome.results.map((res) => ({
          work: plan.units.find((u) => u.unitId === res.unitId)?.estimate.work,
          ms: res.durationMs,
        })),
      ),
    );
    process.stdout.write(`${lines.join('\n')}\n\n`);
  }
} finally {
  await provider.killAll();
  await opened.close();
  process.stdout.write(`store: ${storeDir}\n`);
}

/** Non-negative least squares (projected coordinate descent) of unit durations on their work. */
function refit(rows: Array<{ work: UnitWork | undefined; ms: number }>): string {
  const keys = Object.keys(PARAMETRIC_MS.local) as Array<keyof Coefficients>;
  const data = rows.filter((row): row is { work: UnitWork; ms: number } => row.work !== undefined);
  const coef: Coefficients = { ...PARAMETRIC_MS.local };
  for (let iteration = 0; iteration < 2000; iteration++) {
    for (const key of keys) {
      let num = 0;
      let den = 0;
      for (const { work, ms } of data) {
        const x = work[key];
        if (x === 0) continue;
        const rest = parametricMs(work, coef) - coef[key] * x;
        // Relative error: every unit counts alike, whatever its length.
        num += (x * (ms - rest)) / (ms * ms);
        den += (x * x) / (ms * ms);
      }
      if (den > 0) coef[key] = Math.max(0, num / den);
    }
  }
  const fitted = keys.map((key) => `${key}: ${Number(coef[key].toPrecision(3))}`).join(', ');
  return `refit of the local parametric coefficients on this run (ms per unit of work): { ${fitted} }`;
}
