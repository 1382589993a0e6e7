/**
 * Plan vs measured, per unit: runs a profile on the local provider with the plan estimated from
 * the store's history (the first run calibrates; the next is judged), and prints each unit's
 * estimate, its basis, the measured duration, their ratio and the contention during the unit.
 * Goal (issue 18): after one calibration run every unit within +-25% of the measured duration.
 * The floor beside it: the same table for the parametric model alone (no history), so the gain of
 * calibrating is visible in the same run. Also prints a least-squares refit of the parametric
 * coefficients on this run's units (what lib/bench/estimate.ts PARAMETRIC_MS is set from).
 *
 * Each run is `swarm-bench run` (the built CLI) in a process of its own, exactly as a user or a
 * weekly run starts it: the same machine sizing of the load profile, budget check, history and
 * contention probes. A second run in the bench's own process would find the coordinator's code
 * already compiled and measure faster than any real next run. The table is read back from the
 * store: the plan each run stored with its units, against the durations it measured.
 *
 * `npm run bench:calibration -- <profile> [--store DIR] [--runs N] [--agents N] [--refit-store DIR ...]`
 *
 * `--refit-store` (repeatable) refits the coefficients on every completed local run of this store
 * and of those stores together (e.g. one store per profile), which is how PARAMETRIC_MS.local is
 * set: one run of one profile leaves coefficients its units do not exercise undetermined.
 * `--runs 0` only refits.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type Coefficients, PARAMETRIC_MS, parametricMs, type UnitWork } from '../lib/bench/estimate.ts';
import { openEmbeddedStore } from '../lib/store/embedded.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    store: { type: 'string' },
    runs: { type: 'string' },
    agents: { type: 'string' },
    'refit-store': { type: 'string', multiple: true },
  },
});
const profile = positionals[0] ?? 'quick';
const runs = Number(values.runs ?? 1);
const storeDir = values.store ?? mkdtempSync(join(os.tmpdir(), 'swarm-bench-calibration-'));
const cli = fileURLToPath(new URL('../dist/swarm-bench.js', import.meta.url));
const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(0)}%`;
const loads = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

for (let r = 0; r < runs; r++) {
  const loadAtStart = loads();
  const start = performance.now();
  const child = spawnSync(
    process.execPath,
    [
      cli,
      'run',
      '--profile',
      profile,
      '--store',
      storeDir,
      '--out',
      mkdtempSync(join(os.tmpdir(), 'swarm-bench-calibration-report-')),
      ...(values.agents === undefined ? [] : ['--agents', values.agents]),
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const wallS = (performance.now() - start) / 1000;
  // 0: no target failed; 1: a target failed. Both are complete runs whose durations count.
  if (child.status !== 0 && child.status !== 1) {
    process.stderr.write(`swarm-bench run exited ${child.status ?? child.signal}: no calibration figure\n`);
    process.exit(1);
  }
  process.stdout.write(`${await table(wallS, loadAtStart)}\n\n`);
}
process.stdout.write(`store: ${storeDir}\n`);
if (values['refit-store']) {
  const stores = [storeDir, ...values['refit-store']];
  const rows: FitRow[] = [];
  for (const dir of stores) rows.push(...(await fitRows(dir)));
  process.stdout.write(
    `${refit(rows, `${rows.length} units of every completed run in ${stores.join(', ')}`)}\n`,
  );
}

type FitRow = { work: UnitWork | undefined; ms: number };

/** Each unit of every completed local run in a store: its planned work and measured duration. */
async function fitRows(dir: string): Promise<FitRow[]> {
  const opened = await openEmbeddedStore({ dir });
  try {
    const rows: FitRow[] = [];
    for (const meta of await opened.store.listRuns({ provider: 'local', limit: 100 })) {
      if (meta.status !== 'completed') continue;
      for (const result of await opened.store.getResults(meta.runId)) {
        const work = meta.units.find((u) => u.unitId === result.unitId)?.estimate.work;
        if (result.status === 'ok') rows.push({ work, ms: result.durationMs });
      }
    }
    return rows;
  } finally {
    await opened.close();
  }
}

/** The newest run in the store: each unit's planned estimate against its measured duration. */
async function table(wallS: number, loadAtStart: string): Promise<string> {
  const opened = await openEmbeddedStore({ dir: storeDir });
  try {
    const all = await opened.store.listRuns({ provider: 'local', limit: 100 });
    const meta = all[0];
    if (!meta) throw new Error(`no run in ${storeDir}`);
    const results = await opened.store.getResults(meta.runId);
    const largest = Math.max(...meta.units.map((u) => u.estimate.work?.largestSwarm ?? 0));
    const lines = [
      `run ${all.length} in this store, ${meta.runId}, profile ${profile} (largest swarm ${largest} agents): ${wallS.toFixed(0)} s wall, status ${meta.status}; machine ${os.cpus().length} cpus, load average (1/5/15 min) ${loadAtStart} at the start, ${loads()} at the end`,
      `${'unit'.padEnd(36)} ${'basis'.padEnd(15)} ${'plan s'.padStart(7)} ${'meas s'.padStart(7)} ${'err'.padStart(6)} ${'model s'.padStart(7)} ${'err'.padStart(6)} load/core`,
    ];
    let within = 0;
    let withinModel = 0;
    let planTotal = 0;
    const fit: FitRow[] = [];
    for (const result of results) {
      const unit = meta.units.find((u) => u.unitId === result.unitId);
      if (!unit) continue;
      const work = unit.estimate.work;
      const modelledMs = work ? parametricMs(work, PARAMETRIC_MS.local) : Number.NaN;
      const err = unit.estimate.durationMs / result.durationMs - 1;
      const errModel = modelledMs / result.durationMs - 1;
      if (Math.abs(err) <= 0.25) within++;
      if (Math.abs(errModel) <= 0.25) withinModel++;
      planTotal += unit.estimate.durationMs / 1000;
      fit.push({ work, ms: result.durationMs });
      const c = result.contention;
      lines.push(
        `${result.unitId.padEnd(36)} ${(unit.estimate.basis?.source ?? '?').padEnd(15)} ${(unit.estimate.durationMs / 1000).toFixed(1).padStart(7)} ${(result.durationMs / 1000).toFixed(1).padStart(7)} ${pct(err).padStart(6)} ${(modelledMs / 1000).toFixed(1).padStart(7)} ${pct(errModel).padStart(6)} ${c ? `${(c.loadAvgMax / c.cores).toFixed(1)}${c.contended ? ' contended' : ''}` : '-'}`,
      );
    }
    const fromHistory = meta.units.filter((u) => u.estimate.basis?.source === 'history').length;
    lines.push(
      `within +-25%: ${within}/${results.length} units with the calibrated plan (${fromHistory} from history), ${withinModel}/${results.length} with the parametric model alone (the floor); plan total ${planTotal.toFixed(0)} s vs measured ${wallS.toFixed(0)} s wall (${pct(planTotal / wallS - 1)})`,
    );
    lines.push(refit(fit, 'this run'));
    return lines.join('\n');
  } finally {
    await opened.close();
  }
}

/** Non-negative least squares (projected coordinate descent) of unit durations on their work. */
function refit(rows: FitRow[], on: string): string {
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
  const errors = (c: Coefficients) => data.map(({ work, ms }) => parametricMs(work, c) / ms - 1);
  const spread = (c: Coefficients) => {
    const e = errors(c);
    const within = e.filter((x) => Math.abs(x) <= 0.25).length;
    return `${within}/${e.length} within +-25%, from ${pct(Math.min(...e))} to ${pct(Math.max(...e))}`;
  };
  return [
    `refit of the local parametric coefficients on ${on} (ms per unit of work): { ${fitted} }`,
    `  on these units: refit ${spread(coef)}; PARAMETRIC_MS.local ${spread(PARAMETRIC_MS.local)}`,
  ].join('\n');
}
