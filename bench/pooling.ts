/**
 * Pooling on vs off, in one process (`npm run bench:pooling -- [quick|default] [rounds] [test...]`,
 * default `default 3`, every test; a test is an id or part of one, as `swarm-bench run --test`). Each round runs every unit of the profile once with pooling off and once with it
 * on, on two local providers; which mode goes first alternates per round and per unit (ABBA), so
 * slow drift of a shared machine hits both modes alike. Each round is a complete run in each mode:
 * the pooled mode gets a fresh pool per round, driven the way runUnits drives it.
 *
 * A series (matched by unit, name, unit of measure and labels) has one median per pass (round)
 * and mode. Its own noise is the between-pass variation of those medians, and it "moved" only
 * when the change of the mode medians clears the weekly history comparison's noise gate for both
 * modes and Mann-Whitney on the raw samples gives p < 0.01 (comparePasses in
 * lib/history/compare.ts). Series whose meaning changes with pooling are listed apart.
 *
 * That gate is wide when the machine drifts between rounds, so every series (those listed apart
 * too) is also judged paired: per round the ratio on / off of the two back-to-back runs' medians,
 * which share the machine's state, their geometric mean with a 95% t interval (comparePaired in
 * lib/stats/paired.ts), and a sign test of those ratios across the compared series, which shows a
 * systematic effect (everything 5% slower) that no single series can. With an even number of
 * rounds each unit runs first as often in either mode.
 *
 * Prints the table, a summary, and writes everything (per-pass samples included) to
 * bench/results/pooling-<timestamp>.json.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { geometricMean } from 'simple-statistics';
import type { Labels, MeasureUnit, UnitResult, UnitSpec } from '../lib/bench/model.ts';
import { buildPlan, poolCapacityAfter } from '../lib/bench/plan.ts';
import { definitionOf, runUnit, unitLifetimeMs } from '../lib/bench/runner.ts';
import { parseRunConfig, type RunConfig } from '../lib/config.ts';
import {
  comparePasses,
  DEFAULT_HISTORY_OPTIONS,
  type PassComparison,
  type PassVerdict,
  seriesKey,
} from '../lib/history/compare.ts';
import { exitCodeOf, installShutdown } from '../lib/run/signals.ts';
import { LocalSandboxProvider } from '../lib/sandbox/local.ts';
import { SandboxPool } from '../lib/sandbox/pool.ts';
import {
  comparePaired,
  type PairedComparison,
  type PairedVerdict,
  ratioSignTest,
} from '../lib/stats/paired.ts';

type Mode = 'off' | 'on';

const ROOT = resolve(import.meta.dirname, '..');
const BUNDLE = join(ROOT, 'dist/agent.cjs');
const RESULTS_DIR = join(ROOT, 'bench/results');
const USAGE = 'usage: npx tsx bench/pooling.ts [quick|default] [rounds >= 1] [test id or part of one ...]';

/**
 * Series taken from swarm.timings (the only ones: grep `timings` in lib/bench). Their clock starts
 * in SwarmManager.createSwarm before the swarm creates its sandboxes, so they include creation
 * when the swarm creates them and exclude it when it is handed pooled ones (BenchContext acquires
 * those from the pool before calling createSwarm).
 */
const TIMED_FROM_SWARM_START = new Set(['init-ms', 'deploy-ms', 'parallel-ms', 'sequential-ms']);

/** Why a series measures something else under pooling; undefined when it measures the same. */
function differsByDesign(unitId: string, name: string): string | undefined {
  if (!TIMED_FROM_SWARM_START.has(name)) return undefined;
  // Creation benchmarks time fresh swarms in both modes (only their discarded warm-up is pooled).
  if (definitionOf(unitId)?.freshSandboxes === true) return undefined;
  return (
    'swarm init time of a benchmark that takes pooled sandboxes: off, its timer spans sandbox ' +
    'creation (locally a temp dir and a copy of the agent bundle; on E2B a VM boot) + agent start + ' +
    'wiring; on, the pool hands over existing sandboxes before the timer starts, so it spans agent ' +
    'start + wiring only'
  );
}

interface Args {
  profile: 'quick' | 'default';
  rounds: number;
  /** Only these tests (parts of unit ids); none: every test of the profile. */
  tests: string[];
}

function parseArgs(argv: readonly string[]): Args {
  const profile = argv[0] ?? 'default';
  const rounds = Number(argv[1] ?? 3);
  if ((profile !== 'quick' && profile !== 'default') || !Number.isInteger(rounds) || rounds < 1) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(2);
  }
  return { profile, rounds, tests: argv.slice(2) };
}

interface Collected {
  unitId: string;
  name: string;
  unit: MeasureUnit;
  labels: Labels;
  /** Raw samples per pass (round), per mode. */
  samples: Record<Mode, number[][]>;
}

interface UnitRun {
  round: number;
  unitId: string;
  mode: Mode;
  first: boolean;
  status: UnitResult['status'];
  durationMs: number;
  sandboxesCreated: number;
  sandboxSeconds: number;
  error?: string;
}

interface Row extends PassComparison {
  unitId: string;
  name: string;
  unit: MeasureUnit;
  labels: Labels;
  group: 'compared' | 'by-design';
  reason?: string;
  /** Same-round ratios on / off and their verdict. */
  paired: PairedComparison;
  /** Per round: whether the pooled run went first (null when the unit did not run in both modes). */
  onFirst: (boolean | null)[];
  samplesOff: number[][];
  samplesOn: number[][];
}

const VERDICT_TEXT: Record<PassVerdict, string> = {
  moved: 'MOVED',
  'within-noise': 'within noise',
  'large-but-not-significant': 'large, not significant',
  'too-few-passes': 'too few passes',
  'too-few-samples': 'too few samples',
};

const PAIRED_TEXT: Record<PairedVerdict, string> = {
  moved: 'MOVED',
  unchanged: 'within ±10%',
  inconclusive: 'inconclusive',
  'too-few-rounds': 'too few rounds',
  'not-positive': 'no ratio',
};

function fmt(value: number | null, digits = 4): string {
  if (value === null || !Number.isFinite(value)) return '-';
  return Math.abs(value) >= 1e5 || (Math.abs(value) < 1e-3 && value !== 0)
    ? value.toExponential(2)
    : value.toPrecision(digits);
}

function pct(value: number | null): string {
  return value === null ? '-' : `${value >= 0 ? '+' : ''}${(value * 100).toFixed(1)}%`;
}

function describeSeries(row: Pick<Row, 'name' | 'labels'>): string {
  const labels = Object.entries(row.labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
  return labels ? `${row.name} {${labels}}` : row.name;
}

function ratioText(value: number | null): string {
  return value === null ? '-' : value.toFixed(3);
}

function tableLine(row: Row): string {
  const p =
    row.pValue === null ? '-' : row.pValue < 1e-4 ? row.pValue.toExponential(1) : row.pValue.toFixed(4);
  const change = row.fromZero ? 'from 0' : pct(row.delta);
  const { paired } = row;
  const ci = paired.ci === null ? '-' : `[${ratioText(paired.ci[0])}, ${ratioText(paired.ci[1])}]`;
  return [
    row.unitId.padEnd(32),
    describeSeries(row).slice(0, 58).padEnd(58),
    `off ${fmt(row.medianA).padStart(9)}`,
    `on ${fmt(row.medianB).padStart(9)}`,
    change.padStart(8),
    `gate ${(row.threshold * 100).toFixed(0).padStart(3)}%`,
    `p ${p.padStart(7)}`,
    `n ${row.countA}/${row.countB}`.padEnd(11),
    VERDICT_TEXT[row.verdict].padEnd(22),
    `| ratio ${ratioText(paired.ratio).padStart(5)} ${ci.padEnd(14)}`,
    PAIRED_TEXT[paired.verdict],
  ].join('  ');
}

/** The per-round ratios of a row, with which mode ran first, and their geometric mean per order. */
function roundsLine(row: Row): string {
  const rounds = row.paired.ratios.map((ratio, round) => {
    const first = row.onFirst[round];
    return `${ratioText(ratio)}${first === null || first === undefined ? '' : first ? ' (on first)' : ' (off first)'}`;
  });
  const byOrder = [true, false].map((onFirst) => {
    const ratios = row.paired.ratios.filter(
      (ratio, round): ratio is number => ratio !== null && row.onFirst[round] === onFirst,
    );
    return `${onFirst ? 'on' : 'off'} first ${ratioText(ratios.length === 0 ? null : geometricMean(ratios))}`;
  });
  return `per round: ${rounds.join(', ')}; geometric mean when ${byOrder.join(', when ')}`;
}

function loadText(): string {
  return os
    .loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');
}

const args = parseArgs(process.argv.slice(2));
if (!existsSync(BUNDLE)) execFileSync('npm', ['run', 'build:agent'], { cwd: ROOT, stdio: 'inherit' });

const selection = {
  profile: args.profile,
  scenarios: false,
  ...(args.tests.length > 0 ? { tests: args.tests } : {}),
};
const configs: Record<Mode, RunConfig> = {
  off: parseRunConfig({ ...selection, pooling: false }),
  on: parseRunConfig({ ...selection, pooling: true }),
};
const plans = { off: buildPlan(configs.off), on: buildPlan(configs.on) };
const providers: Record<Mode, LocalSandboxProvider> = {
  off: new LocalSandboxProvider({ bundlePath: BUNDLE }),
  on: new LocalSandboxProvider({ bundlePath: BUNDLE }),
};
const needs = plans.on.units.map((unit) => unit.estimate.peakPooled ?? 0);
const controller = new AbortController();
let pool: SandboxPool | undefined;
/** The pools' counters (PoolStats without the momentary idle / inUse), summed over rounds. */
const poolTotals: Record<string, number> = {};

async function cleanup(): Promise<void> {
  await pool?.drain();
  await Promise.allSettled([providers.off.killAll(), providers.on.killAll()]);
}
const shutdown = installShutdown({
  onStop(cause) {
    process.stderr.write('\ninterrupted: stopping units, killing every sandbox\n');
    controller.abort();
    void cleanup().finally(() => process.exit(exitCodeOf(cause)));
  },
  killNow() {
    providers.off.killAllSync();
    providers.on.killAllSync();
  },
});

const startedAt = new Date();
const loadAtStart = loadText();
const collected = new Map<string, Collected>();
const unitRuns: UnitRun[] = [];

function collect(result: UnitResult, mode: Mode, round: number): void {
  // As compareWithHistory: a failed unit's series are not judged (its failure is reported).
  if (result.status === 'failed') return;
  for (const series of result.series) {
    // Pooled init times carry `sandboxes: pooled` (see BenchContext.poolLabels); pair them with
    // their unpooled twin, which is listed apart below anyway.
    const { sandboxes: _pooled, ...labels } = series.labels;
    const key = `${result.unitId} ${seriesKey({ ...series, labels })}`;
    let entry = collected.get(key);
    if (entry === undefined) {
      const empty = () => Array.from({ length: args.rounds }, (): number[] => []);
      entry = {
        unitId: result.unitId,
        name: series.name,
        unit: series.unit,
        labels,
        samples: { off: empty(), on: empty() },
      };
      collected.set(key, entry);
    }
    entry.samples[mode][round]!.push(...series.samples);
  }
}

async function runMode(mode: Mode, spec: UnitSpec, index: number, round: number, first: boolean) {
  const deps = { runId: `pooling-${mode}-r${round + 1}`, config: configs[mode], signal: controller.signal };
  // Every run renews the idle pool first, so idle sandboxes outlive the other mode's run too.
  await pool?.renew(unitLifetimeMs(spec));
  const result =
    mode === 'on'
      ? await runUnit(spec, { ...deps, provider: providers.on, ...(pool ? { pool } : {}) })
      : await runUnit(spec, { ...deps, provider: providers.off });
  if (mode === 'on') await pool?.shrink(poolCapacityAfter(needs, index));
  unitRuns.push({
    round: round + 1,
    unitId: spec.unitId,
    mode,
    first,
    status: result.status,
    durationMs: result.durationMs,
    sandboxesCreated: result.usage.sandboxesCreated,
    sandboxSeconds: result.usage.sandboxSeconds,
    ...(result.error ? { error: `${result.error.name}: ${result.error.message}` } : {}),
  });
  collect(result, mode, round);
  return result;
}

try {
  for (let round = 0; round < args.rounds && !controller.signal.aborted; round++) {
    // A fresh pool per round: each round is one complete pooled run, as runUnits does it.
    pool = new SandboxPool(providers.on, {
      metadata: { run: `pooling-on-r${round + 1}` },
      capacity: poolCapacityAfter(needs, -1),
    });
    for (const [index, specOn] of plans.on.units.entries()) {
      if (controller.signal.aborted) break;
      const specOff = plans.off.units[index]!;
      const order: Mode[] = (round + index) % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
      const durations: string[] = [];
      for (const [position, mode] of order.entries()) {
        const result = await runMode(mode, mode === 'on' ? specOn : specOff, index, round, position === 0);
        durations.push(`${mode} ${result.status} ${(result.durationMs / 1000).toFixed(1)}s`);
      }
      process.stderr.write(
        `round ${round + 1}/${args.rounds} [${index + 1}/${plans.on.units.length}] ${specOn.unitId}: ${durations.join(', ')}\n`,
      );
    }
    const stats = pool.stats;
    await pool.drain();
    for (const [key, value] of Object.entries(stats)) {
      if (key !== 'idle' && key !== 'inUse') poolTotals[key] = (poolTotals[key] ?? 0) + value;
    }
  }
} finally {
  await cleanup();
  shutdown.dispose();
}

const endedAt = new Date();
const loadAtEnd = loadText();
const seconds = (endedAt.getTime() - startedAt.getTime()) / 1000;
const options = {
  minChange: DEFAULT_HISTORY_OPTIONS.minChange,
  alpha: DEFAULT_HISTORY_OPTIONS.alpha,
  minPasses: DEFAULT_HISTORY_OPTIONS.minRuns,
};
/** Per round (index), whether the pooled run of the unit went first; null unless both modes ran. */
function onFirstByRound(unitId: string): (boolean | null)[] {
  return Array.from({ length: args.rounds }, (_, round) => {
    const runs = unitRuns.filter((run) => run.unitId === unitId && run.round === round + 1);
    const on = runs.find((run) => run.mode === 'on');
    return runs.length === 2 && on !== undefined ? on.first : null;
  });
}
const rows: Row[] = [...collected.values()].map((entry) => {
  const reason = differsByDesign(entry.unitId, entry.name);
  return {
    unitId: entry.unitId,
    name: entry.name,
    unit: entry.unit,
    labels: entry.labels,
    group: reason === undefined ? 'compared' : 'by-design',
    ...(reason === undefined ? {} : { reason }),
    ...comparePasses(entry.samples.off, entry.samples.on, options),
    paired: comparePaired(entry.samples.off, entry.samples.on, {
      minChange: options.minChange,
      minRounds: options.minPasses,
    }),
    onFirst: onFirstByRound(entry.unitId),
    samplesOff: entry.samples.off,
    samplesOn: entry.samples.on,
  };
});
const compared = rows.filter((row) => row.group === 'compared');
const byDesign = rows.filter((row) => row.group === 'by-design');
const count = (list: Row[], verdict: PassVerdict) => list.filter((row) => row.verdict === verdict).length;
const moved = compared.filter((row) => row.verdict === 'moved');
const reasons = [...new Set(byDesign.map((row) => row.reason))];
const failures = unitRuns.filter((run) => run.status !== 'ok');
const pairedCount = (list: Row[], verdict: PairedVerdict) =>
  list.filter((row) => row.paired.verdict === verdict).length;
const pairedCounts = (list: Row[]) =>
  Object.fromEntries(
    Object.keys(PAIRED_TEXT).map((verdict) => [verdict, pairedCount(list, verdict as PairedVerdict)]),
  );
/** Rows with a ratio over enough rounds to be judged. */
const judgedPaired = (list: Row[]) =>
  list.filter((row) => row.paired.verdict !== 'too-few-rounds' && row.paired.verdict !== 'not-positive');
const pairedMoved = compared.filter((row) => row.paired.verdict === 'moved');
const signTest = ratioSignTest(judgedPaired(compared).map((row) => row.paired.meanLogRatio!));
const byDesignSignTest = ratioSignTest(judgedPaired(byDesign).map((row) => row.paired.meanLogRatio!));

const usage = (mode: Mode) => {
  const measured = providers[mode].usage();
  const ownUnits = unitRuns.filter((run) => run.mode === mode);
  return {
    created: measured.created,
    sandboxSeconds: measured.sandboxSeconds,
    /** Sandbox-seconds inside this mode's own units (what a real run of this mode would bill). */
    unitSandboxSeconds: ownUnits.reduce((sum, run) => sum + run.sandboxSeconds, 0),
    planPerRound: plans[mode].totals.sandboxes,
    planSandboxSecondsPerRound: plans[mode].totals.sandboxSeconds,
  };
};
const usageOff = usage('off');
const usageOn = usage('on');

const machine = {
  cpus: os.cpus().length,
  model: os.cpus()[0]?.model ?? 'unknown',
  node: process.version,
  loadAverageStart: loadAtStart,
  loadAverageEnd: loadAtEnd,
};
const verdictCounts = (list: Row[]) =>
  Object.fromEntries(
    Object.keys(VERDICT_TEXT).map((verdict) => [verdict, count(list, verdict as PassVerdict)]),
  );

const header = [
  'unit'.padEnd(32),
  'series'.padEnd(58),
  'median of per-pass medians, change, noise gate, Mann-Whitney p, samples off/on, verdict | paired: geometric mean of same-round ratios on/off, 95% interval, verdict',
].join('  ');
const lines = [
  `Pooling off vs on: ${args.rounds} round(s) of every unit in each mode, ABBA order; gate = max(${options.minChange * 100}%, 2 x upper 95% bound of the between-pass CV of either mode), p < ${options.alpha}`,
  '',
  header,
  ...compared.map(tableLine),
  '',
  `Differ by design (not compared; ${byDesign.length} series):`,
  ...reasons.map((reason) => `  reason: ${reason}`),
  ...byDesign.map((row) => `  ${tableLine(row)}`),
  '',
];
if (moved.length > 0)
  lines.push('Moved beyond their noise:', ...moved.map((row) => `  ${tableLine(row)}`), '');
if (pairedMoved.length > 0) {
  lines.push(
    'Moved, paired (95% interval of the same-round ratio excludes 1, ratio beyond ±10%):',
    ...pairedMoved.flatMap((row) => [`  ${tableLine(row)}`, `    ${roundsLine(row)}`]),
    '',
  );
}
if (failures.length > 0) {
  lines.push(
    'Units not ok:',
    ...failures.map(
      (run) => `  round ${run.round} ${run.mode} ${run.unitId}: ${run.status} ${run.error ?? ''}`,
    ),
    '',
  );
}
const timestamp = startedAt.toISOString().replace(/[:.]/g, '-');
const resultsPath = join(RESULTS_DIR, `pooling-${timestamp}.json`);
const ratioRange = (list: Row[]) => {
  const ratios = judgedPaired(list).map((row) => row.paired.ratio!);
  return ratios.length === 0 ? '-' : `${ratioText(Math.min(...ratios))} to ${ratioText(Math.max(...ratios))}`;
};
const pValueText = (p: number) => (p < 1e-4 ? p.toExponential(2) : p.toPrecision(3));
const summary = [
  `machine: ${machine.cpus} cpus (${machine.model}), node ${machine.node}, load average ${loadAtStart} at start, ${loadAtEnd} at end`,
  `profile ${args.profile}${args.tests.length > 0 ? ` (tests: ${args.tests.join(', ')})` : ''}, rounds ${args.rounds}, ${seconds.toFixed(0)} s`,
  `series compared: ${compared.length}, moved beyond their noise: ${moved.length} (within noise ${count(compared, 'within-noise')}, large but not significant ${count(compared, 'large-but-not-significant')}, too few passes ${count(compared, 'too-few-passes')}, too few samples ${count(compared, 'too-few-samples')}); differ by design, listed apart: ${byDesign.length}`,
  `paired (same-round on/off ratios): ${signTest.count} series, moved ${pairedMoved.length}; median ratio ${ratioText(signTest.medianRatio)} across series, ${((signTest.fractionAbove ?? 0) * 100).toFixed(0)}% above 1, sign test p = ${pValueText(signTest.pValue)}`,
  `  paired verdicts of the compared series: moved ${pairedMoved.length}, within ±10% (a 10% change ruled out) ${pairedCount(compared, 'unchanged')}, inconclusive ${pairedCount(compared, 'inconclusive')}, too few rounds ${pairedCount(compared, 'too-few-rounds')}, no ratio ${pairedCount(compared, 'not-positive')}; at 95% per series, about 1 in 20 noisy series that did not change is flagged by chance`,
  `  sign test: ${signTest.above} of ${signTest.above + signTest.below} series above 1 (${signTest.ties} exactly 1, left out); if pooling changed nothing each would be as likely above 1 as below, and p is the chance of a lean at least this strong; series of one unit share its runs, so p is optimistic`,
  `  differ by design, paired: ${byDesignSignTest.count} series, ratios ${ratioRange(byDesign)}, median ${ratioText(byDesignSignTest.medianRatio)}, ${byDesignSignTest.above} of ${byDesignSignTest.above + byDesignSignTest.below} above 1; moved ${pairedCount(byDesign, 'moved')}`,
  `pooling off: ${usageOff.created} sandboxes created (plan: ${usageOff.planPerRound} per round, ${usageOff.planPerRound * args.rounds} for ${args.rounds}), ${usageOff.sandboxSeconds.toFixed(0)} sandbox-seconds (plan: ${(usageOff.planSandboxSecondsPerRound * args.rounds).toFixed(0)})`,
  `pooling on:  ${usageOn.created} sandboxes created (plan: ${usageOn.planPerRound} per round, ${usageOn.planPerRound * args.rounds} for ${args.rounds}), ${usageOn.sandboxSeconds.toFixed(0)} sandbox-seconds (plan: ${(usageOn.planSandboxSecondsPerRound * args.rounds).toFixed(0)}; ${usageOn.unitSandboxSeconds.toFixed(0)} within its own units, the rest idle pool sandboxes waiting while the off mode ran); pool ${JSON.stringify(poolTotals)}`,
  `units not ok: ${failures.length === 0 ? 'none' : failures.length}${controller.signal.aborted ? ' (interrupted)' : ''}`,
  `results: ${resultsPath}`,
];
process.stdout.write(`${[...lines, ...summary, ''].join('\n')}`);

mkdirSync(RESULTS_DIR, { recursive: true });
writeFileSync(
  resultsPath,
  `${JSON.stringify(
    {
      meta: {
        startedAt: startedAt.toISOString(),
        endedAt: endedAt.toISOString(),
        seconds,
        machine,
        profile: args.profile,
        rounds: args.rounds,
        tests: args.tests.length > 0 ? args.tests : 'all',
        order: 'round r, unit i: pooling off first when r + i is even, else on first',
        options,
        interrupted: controller.signal.aborted,
      },
      summary: {
        compared: compared.length,
        moved: moved.length,
        verdicts: verdictCounts(compared),
        paired: { moved: pairedMoved.length, verdicts: pairedCounts(compared), signTest },
        byDesign: {
          count: byDesign.length,
          reasons,
          verdicts: verdictCounts(byDesign),
          paired: { verdicts: pairedCounts(byDesign), signTest: byDesignSignTest },
        },
        unitsNotOk: failures.length,
      },
      usage: { off: usageOff, on: { ...usageOn, pool: poolTotals } },
      rows,
      unitRuns,
    },
    null,
    2,
  )}\n`,
);
