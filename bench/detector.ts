/**
 * Error rates of the history regression detector (lib/history/compare.ts), measured on real noise.
 *
 *   npm run bench:detector                       # replay on bench/fixtures/detector-noise.json
 *   npm run bench:detector -- --trials 400 --seed 7
 *   npm run bench:detector -- --record <storeDir> # rebuild the fixture from the runs in an embedded store
 *
 * Each trial draws, at random and without replacement, a window of earlier runs and one "current"
 * run from the recorded runs of this machine (every run is a real run: its samples are the noise
 * of that run, its median the run-to-run drift), and hands them to compareWithHistory exactly as a
 * real run would be compared. Unchanged trials measure the false-positive rate (any row flagged,
 * regression or improvement), per series kind; trials with the current run's samples slowed down
 * by 10%, 20% and 50% (times, sizes and costs x (1 + e), throughputs / (1 + e)) measure power.
 * Exchangeability of runs is assumed: drawing runs in any order treats them as independent draws
 * of the machine's between-run noise, which is what the detector must tolerate.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { MeasureUnit, RunMeta, RunResults, UnitResult } from '../lib/bench/model.ts';
import {
  compareWithHistory,
  HISTORY_ALPHA,
  type HistoryOptions,
  type HistoryRow,
  median,
  seriesKey,
} from '../lib/history/compare.ts';
import { seededRandom } from '../lib/stats/intervals.ts';
import { openEmbeddedStore } from '../lib/store/embedded.ts';

const FIXTURE = new URL('./fixtures/detector-noise.json', import.meta.url);
const EFFECTS = [0.1, 0.2, 0.5] as const;
/** Series whose CV is below this are the ones the power goal is about. */
const POWER_CV = 0.3;
/** Strata of between-run noise (sd of log per-run medians over all recorded runs) for the power table. */
const NOISE_STRATA = [
  { label: 'between-run noise < 5 %', below: 0.05 },
  { label: 'between-run noise 5-30 %', below: 0.3 },
  { label: 'between-run noise >= 30 %', below: Number.POSITIVE_INFINITY },
] as const;

interface RecordedSeries {
  unitId: string;
  name: string;
  unit: MeasureUnit;
  labels: Record<string, string | number>;
  samples: number[];
}

interface RecordedRun {
  runId: string;
  startedAt: string;
  series: RecordedSeries[];
}

interface NoiseFixture {
  description: string;
  runs: RecordedRun[];
}

type Kind = 'latency' | 'throughput' | 'bytes' | 'memory' | 'cpu' | 'cost';

const KIND_OF: Partial<Record<MeasureUnit, Kind>> = {
  ms: 'latency',
  us: 'latency',
  'msg/s': 'throughput',
  'ops/s': 'throughput',
  bytes: 'bytes',
  MB: 'memory',
  percent: 'cpu',
  s: 'cost',
  usd: 'cost',
  'usd/h': 'cost',
  'ops/usd': 'cost',
};

async function record(storeDir: string): Promise<void> {
  const opened = await openEmbeddedStore({ dir: storeDir });
  const store = opened.store;
  try {
    const metas = await store.listRuns({ limit: 1000 });
    const runs: RecordedRun[] = [];
    for (const meta of [...metas].sort((a, b) => a.startedAt.localeCompare(b.startedAt))) {
      const results = await store.getResults(meta.runId);
      const series = results
        .filter((result) => result.status === 'ok')
        .flatMap((result) =>
          result.series
            .filter((item) => item.samples.length > 0 && KIND_OF[item.unit] !== undefined)
            .map((item) => ({
              unitId: result.unitId,
              name: item.name,
              unit: item.unit,
              labels: item.labels,
              samples: item.samples.map((value) => Number(value.toPrecision(4))),
            })),
        );
      if (series.length > 0) runs.push({ runId: meta.runId, startedAt: meta.startedAt, series });
    }
    const fixture: NoiseFixture = {
      description:
        `Raw samples (4 significant digits) of ${runs.length} real runs of swarm-bench on the local provider, ` +
        'recorded back to back on the 2-core development machine while seven other engineers loaded it (load average 25-35), ' +
        'with `swarm-bench run --profile quick` (the first runs: all units; the rest: the 12 units with latency, throughput, bytes, memory, CPU and cost series, --no-scenarios), ' +
        `then \`npm run bench:detector -- --record <store>\`. Only units that completed ok; series of counts and ratios (not judged by the detector) left out.`,
      runs,
    };
    writeFileSync(FIXTURE, `${JSON.stringify(fixture)}\n`);
    process.stdout.write(
      `wrote ${runs.length} runs, ${runs.reduce((sum, run) => sum + run.series.length, 0)} series to ${FIXTURE.pathname}\n`,
    );
  } finally {
    await opened.close();
  }
}

function asRun(run: RecordedRun, factor: (unit: MeasureUnit) => number): RunResults {
  const byUnit = new Map<string, UnitResult>();
  for (const item of run.series) {
    let result = byUnit.get(item.unitId);
    if (result === undefined) {
      result = { unitId: item.unitId, status: 'ok', series: [], figures: [] } as unknown as UnitResult;
      byUnit.set(item.unitId, result);
    }
    const scale = factor(item.unit);
    result.series.push({
      name: item.name,
      unit: item.unit,
      labels: item.labels,
      samples: scale === 1 ? item.samples : item.samples.map((value) => value * scale),
      warmup: [],
    });
  }
  const meta = { runId: run.runId, startedAt: run.startedAt, configHash: 'detector', provider: 'local' };
  return { meta: meta as RunMeta, results: [...byUnit.values()] };
}

interface Tally {
  rows: number;
  flagged: number;
}

function tally(map: Map<string, Tally>, key: string, flagged: boolean): void {
  const entry = map.get(key) ?? { rows: 0, flagged: 0 };
  entry.rows += 1;
  if (flagged) entry.flagged += 1;
  map.set(key, entry);
}

function withinRunCv(samples: readonly number[]): number {
  if (samples.length < 2) return Number.NaN;
  const mean = samples.reduce((sum, value) => sum + value, 0) / samples.length;
  const variance = samples.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (samples.length - 1);
  return mean === 0 ? Number.NaN : Math.sqrt(variance) / Math.abs(mean);
}

interface Simulation {
  trials: number;
  window: number;
  alpha: number;
  falsePositive: Map<Kind, Tally>;
  runsWithAnyFlag: number;
  power: Map<string, Tally>;
}

/** Replay the detector on `trials` draws of (window earlier runs, one current run). */
export function simulate(
  fixture: NoiseFixture,
  options: { trials: number; window: number; seed: number; history?: HistoryOptions },
): Simulation {
  const next = seededRandom(options.seed);
  const runs = fixture.runs;
  const falsePositive = new Map<Kind, Tally>();
  const power = new Map<string, Tally>();
  let runsWithAnyFlag = 0;
  const history = { window: options.window, ...options.history };
  const noiseOf = betweenRunNoise(fixture);
  for (let trial = 0; trial < options.trials; trial++) {
    const order = runs.map((run, index) => ({ run, key: next(), index })).sort((a, b) => a.key - b.key);
    const chosen = order.slice(0, options.window + 1).map((entry) => entry.run);
    const current = chosen[0]!;
    const earlier = chosen.slice(1).sort((a, b) => b.startedAt.localeCompare(a.startedAt));
    const baselines = new Map<string, Array<{ run: RunMeta; result: UnitResult }>>();
    for (const run of earlier) {
      for (const result of asRun(run, () => 1).results) {
        const list = baselines.get(result.unitId) ?? [];
        list.push({ run: asRun(run, () => 1).meta, result });
        baselines.set(result.unitId, list);
      }
    }
    const cvOf = new Map(
      current.series.map((item) => [`${item.unitId} ${seriesKey(item)}`, withinRunCv(item.samples)]),
    );
    const judged = (row: HistoryRow) =>
      row.kind === 'series' && row.direction !== 'neutral' && row.verdict !== 'not-enough-history';
    const unchanged = compareWithHistory(
      asRun(current, () => 1),
      baselines,
      history,
    );
    let anyFlag = false;
    for (const row of unchanged.rows.filter(judged)) {
      const flagged = row.verdict === 'regression' || row.verdict === 'improvement';
      anyFlag ||= flagged;
      tally(falsePositive, KIND_OF[row.unit]!, flagged);
    }
    if (anyFlag) runsWithAnyFlag += 1;
    for (const effect of EFFECTS) {
      const slowed = asRun(current, (unit) =>
        unit === 'msg/s' || unit === 'ops/s' || unit === 'ops/usd' ? 1 / (1 + effect) : 1 + effect,
      );
      for (const row of compareWithHistory(slowed, baselines, history).rows.filter(judged)) {
        const cv = cvOf.get(`${row.unitId} ${seriesKey(row)}`) ?? Number.NaN;
        const found = row.verdict === 'regression';
        tally(power, `${effect}|${KIND_OF[row.unit]}`, found);
        tally(power, `${effect}|all`, found);
        if (cv < POWER_CV) tally(power, `${effect}|cv<${POWER_CV}`, found);
        const noise = noiseOf.get(`${row.unitId} ${seriesKey(row)}`) ?? Number.NaN;
        const stratum = NOISE_STRATA.find((entry) => noise < entry.below);
        if (stratum !== undefined) tally(power, `${effect}|${stratum.label}`, found);
      }
    }
  }
  const alpha = options.history?.alpha ?? HISTORY_ALPHA;
  return { trials: options.trials, window: options.window, alpha, falsePositive, runsWithAnyFlag, power };
}

/** sd of the log per-run medians of each series over every recorded run (its between-run noise). */
function betweenRunNoise(fixture: NoiseFixture): Map<string, number> {
  const logs = new Map<string, number[]>();
  for (const run of fixture.runs) {
    for (const item of run.series) {
      const middle = median(item.samples);
      if (!(middle > 0)) continue;
      const key = `${item.unitId} ${seriesKey(item)}`;
      logs.set(key, [...(logs.get(key) ?? []), Math.log(middle)]);
    }
  }
  const noise = new Map<string, number>();
  for (const [key, values] of logs) {
    if (values.length < 3) continue;
    const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
    noise.set(
      key,
      Math.sqrt(values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (values.length - 1)),
    );
  }
  return noise;
}

function percent(t: Tally | undefined): string {
  if (t === undefined || t.rows === 0) return '—';
  return `${((100 * t.flagged) / t.rows).toFixed(2)} %`;
}

function print(result: Simulation, fixture: NoiseFixture): void {
  const out: string[] = [];
  out.push(
    `detector replay: ${result.trials} simulated runs, window ${result.window} earlier runs, drawn from ${fixture.runs.length} real runs (alpha ${result.alpha})`,
  );
  out.push('');
  out.push('kind        rows   false-positive (goal <= 1 %)   power 10 %   power 20 %   power 50 %');
  const kinds = [...result.falsePositive.keys()].sort();
  for (const kind of kinds) {
    const fp = result.falsePositive.get(kind)!;
    const cells = EFFECTS.map((effect) => percent(result.power.get(`${effect}|${kind}`)).padStart(10));
    out.push(
      `${kind.padEnd(10)} ${String(fp.rows).padStart(5)}   ${percent(fp).padStart(10)}                   ${cells.join('   ')}`,
    );
  }
  const allFp = [...result.falsePositive.values()].reduce(
    (sum, t) => ({ rows: sum.rows + t.rows, flagged: sum.flagged + t.flagged }),
    { rows: 0, flagged: 0 },
  );
  const all = EFFECTS.map((effect) => percent(result.power.get(`${effect}|all`)).padStart(10));
  out.push(
    `${'all'.padEnd(10)} ${String(allFp.rows).padStart(5)}   ${percent(allFp).padStart(10)}                   ${all.join('   ')}`,
  );
  const lowCv = EFFECTS.map((effect) => percent(result.power.get(`${effect}|cv<${POWER_CV}`)).padStart(10));
  out.push(
    `${`within-run CV < ${POWER_CV}`}                                ${lowCv.join('   ')}   (goal >= 90 % at 20 %)`,
  );
  for (const stratum of NOISE_STRATA) {
    const cells = EFFECTS.map((effect) =>
      percent(result.power.get(`${effect}|${stratum.label}`)).padStart(10),
    );
    const rows = result.power.get(`0.2|${stratum.label}`)?.rows ?? 0;
    out.push(
      `${stratum.label.padEnd(26)} ${String(rows).padStart(5)} rows               ${cells.join('   ')}`,
    );
  }
  out.push('');
  out.push(
    `simulated unchanged runs with at least one row flagged: ${result.runsWithAnyFlag} of ${result.trials} (${((100 * result.runsWithAnyFlag) / result.trials).toFixed(1)} %)`,
  );
  process.stdout.write(`${out.join('\n')}\n`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      record: { type: 'string' },
      trials: { type: 'string', default: '300' },
      seed: { type: 'string', default: '1' },
      window: { type: 'string', multiple: true },
      alpha: { type: 'string' },
    },
    strict: true,
  });
  if (values.record !== undefined) {
    await record(values.record);
    return;
  }
  const trials = Number(values.trials);
  const seed = Number(values.seed);
  if (!Number.isInteger(trials) || trials < 200) {
    process.stderr.write(`--trials: an integer >= 200, got ${values.trials}\n`);
    process.exit(2);
  }
  const fixture = JSON.parse(readFileSync(FIXTURE, 'utf8')) as NoiseFixture;
  const windows = (values.window ?? ['8', '3']).map(Number);
  for (const window of windows) {
    if (!Number.isInteger(window) || window < 1 || window >= fixture.runs.length) {
      process.stderr.write(`--window: an integer from 1 to ${fixture.runs.length - 1}, got ${window}\n`);
      process.exit(2);
    }
    const started = performance.now();
    const history = values.alpha === undefined ? {} : { alpha: Number(values.alpha) };
    const result = simulate(fixture, { trials, window, seed, history });
    print(result, fixture);
    process.stdout.write(`(${((performance.now() - started) / 1000).toFixed(1)} s)\n\n`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
