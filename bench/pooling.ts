/**
 * Pooling on vs off, in one process: every unit of the profile runs twice, interleaved (off, on),
 * on two local providers, so the same machine state affects both. Prints per series the medians
 * and CVs and whether the difference exceeds the series' own noise, then sandboxes created and
 * sandbox-seconds of each mode. `npx tsx bench/pooling.ts [quick|default]`.
 */
import os from 'node:os';
import { resolve } from 'node:path';
import { buildPlan, poolCapacityAfter } from '../lib/bench/plan.ts';
import { runUnit, unitLifetimeMs } from '../lib/bench/runner.ts';
import { parseRunConfig } from '../lib/config.ts';
import { LocalSandboxProvider } from '../lib/sandbox/local.ts';
import { SandboxPool } from '../lib/sandbox/pool.ts';
import { summarize } from '../lib/stats/summary.ts';

const profile = (process.argv[2] ?? 'default') as 'quick' | 'default';
const bundlePath = resolve(import.meta.dirname, '../dist/agent.cjs');
const configOn = parseRunConfig({ profile, pooling: true, scenarios: false });
const configOff = parseRunConfig({ profile, pooling: false, scenarios: false });
const planOn = buildPlan(configOn);
const planOff = buildPlan(configOff);
const off = new LocalSandboxProvider({ bundlePath });
const on = new LocalSandboxProvider({ bundlePath });
const needs = planOn.units.map((u) => u.estimate.peakPooled ?? 0);
const pool = new SandboxPool(on, { capacity: poolCapacityAfter(needs, -1) });
const rows: string[] = [];
let moved = 0;
let compared = 0;
const started = Date.now();
try {
  for (const [index, specOn] of planOn.units.entries()) {
    const specOff = planOff.units[index]!;
    const a = await runUnit(specOff, { runId: 'pooling-off', config: configOff, provider: off });
    await pool.renew(unitLifetimeMs(specOn));
    const b = await runUnit(specOn, { runId: 'pooling-on', config: configOn, provider: on, pool });
    await pool.shrink(poolCapacityAfter(needs, index));
    process.stderr.write(
      `${specOn.unitId}: off ${a.status} ${(a.durationMs / 1000).toFixed(1)}s, on ${b.status} ${(b.durationMs / 1000).toFixed(1)}s\n`,
    );
    for (const series of a.series) {
      const twin = b.series.find(
        (s) => s.name === series.name && JSON.stringify(s.labels) === JSON.stringify(series.labels),
      );
      if (!twin || series.samples.length < 2 || twin.samples.length < 2) continue;
      const x = summarize(series.samples);
      const y = summarize(twin.samples);
      // Noise: the larger of the two CVs, as a fraction of the larger median.
      const noise = Math.max(x.cv, y.cv) * Math.max(Math.abs(x.p50), Math.abs(y.p50));
      const diff = Math.abs(y.p50 - x.p50);
      const exceeds = diff > noise;
      compared++;
      if (exceeds) moved++;
      rows.push(
        `${specOn.unitId.padEnd(34)} ${`${series.name} ${JSON.stringify(series.labels)}`.slice(0, 60).padEnd(60)} off ${x.p50.toPrecision(4).padStart(9)} (cv ${x.cv.toFixed(2)})  on ${y.p50.toPrecision(4).padStart(9)} (cv ${y.cv.toFixed(2)})  ${exceeds ? 'MOVED' : 'within noise'}`,
      );
    }
  }
} finally {
  await pool.drain();
  await off.killAll();
  await on.killAll();
}
const u0 = off.usage();
const u1 = on.usage();
process.stdout.write(
  [
    `machine: ${os.cpus().length} cpus, node ${process.version}, profile ${profile}, ${((Date.now() - started) / 1000).toFixed(0)} s`,
    ...rows,
    '',
    `series compared: ${compared}, moved beyond their noise: ${moved}`,
    `pooling off: ${u0.created} sandboxes created, ${u0.sandboxSeconds.toFixed(0)} sandbox-seconds (plan: ${planOff.totals.sandboxes})`,
    `pooling on:  ${u1.created} sandboxes created, ${u1.sandboxSeconds.toFixed(0)} sandbox-seconds (plan: ${planOn.totals.sandboxes}; pool ${JSON.stringify(pool.stats)})`,
    '',
  ].join('\n'),
);
