/**
 * Error rates of the history regression detector (lib/history/compare.ts), measured on real noise.
 *
 *   npm run bench:detector                       # replay on bench/fixtures/detector-reference.json
 *   npm run bench:detector -- --trials 400 --seed 7 --window 8 --window 3 --rule raw --rule cpu
 *   npm run bench:detector -- --fixture bench/fixtures/detector-noise.json   # the 19 runs of 2026-12-02 02:11-03:06 (no references)
 *   npm run bench:detector -- --record <storeDir> [--fixture <file>] [--note <how the runs were made>]
 *                                                 # rebuild a fixture from the runs in an embedded store
 *
 * Rules compared side by side on the same draws (RULES): the detector as it ships (raw per-run
 * medians), and the same test judged relative to what each unit recorded about the machine: its
 * reference tasks (lib/bench/reference.ts; ratio with the unit's exponent, or a fitted slope), or
 * its contention (highest load average, longest run queue; fitted slope). Fixtures recorded before
 * the references existed judge every rule raw.
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
  type ReferenceAdjustment,
  seriesKey,
} from '../lib/history/compare.ts';
import { studentTQuantile } from '../lib/stats/distributions.ts';
import { seededRandom } from '../lib/stats/intervals.ts';
import { openEmbeddedStore } from '../lib/store/embedded.ts';

const FIXTURE = new URL('./fixtures/detector-reference.json', import.meta.url);
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

/** What the machine was like while one unit ran (UnitResult.contention), where it was recorded. */
interface RecordedContention {
  loadAvgMax: number;
  runQueueMax: number;
  /** Medians and means of the reference tasks over the unit (lib/bench/reference.ts), ms. */
  cpuMs?: number;
  cpuMeanMs?: number;
  pingMs?: number;
  pingMeanMs?: number;
}

interface RecordedRun {
  runId: string;
  startedAt: string;
  series: RecordedSeries[];
  /** Per unit id; absent in fixtures recorded before the reference probe existed. */
  contention?: Record<string, RecordedContention>;
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

async function record(storeDir: string, out: URL | string, note?: string): Promise<void> {
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
      const contention: Record<string, RecordedContention> = {};
      for (const result of results) {
        const c = result.contention;
        if (result.status !== 'ok' || c === undefined) continue;
        contention[result.unitId] = {
          loadAvgMax: c.loadAvgMax,
          runQueueMax: c.runQueueMax,
          ...(c.reference?.cpuMs
            ? {
                cpuMs: Number(c.reference.cpuMs.median.toPrecision(4)),
                cpuMeanMs: Number(c.reference.cpuMs.mean.toPrecision(4)),
              }
            : {}),
          ...(c.reference?.pingMs
            ? {
                pingMs: Number(c.reference.pingMs.median.toPrecision(4)),
                pingMeanMs: Number(c.reference.pingMs.mean.toPrecision(4)),
              }
            : {}),
        };
      }
      if (series.length > 0)
        runs.push({
          runId: meta.runId,
          startedAt: meta.startedAt,
          series,
          ...(Object.keys(contention).length > 0 ? { contention } : {}),
        });
    }
    const loads = runs.flatMap((run) => Object.values(run.contention ?? {}).map((c) => c.loadAvgMax));
    const loadRange =
      loads.length === 0
        ? 'load not recorded'
        : `1-minute load average per unit ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)}`;
    const fixture: NoiseFixture = {
      description:
        `Raw samples (4 significant digits) of ${runs.length} real runs of swarm-bench on the local provider, ` +
        `${runs[0]?.startedAt ?? ''} to ${runs.at(-1)?.startedAt ?? ''}, on the shared 2-core development machine while other engineers worked on it (${loadRange}), ` +
        `${note ?? 'with `swarm-bench run --profile quick`'}, then \`npm run bench:detector -- --record <store>\`. ` +
        'Per unit: its contention (load average, run queue) and the medians and means of its reference tasks (lib/bench/reference.ts). ' +
        'Only units that completed ok; series of counts and ratios (not judged by the detector) left out.',
      runs,
    };
    writeFileSync(out, `${JSON.stringify(fixture)}\n`);
    process.stdout.write(
      `wrote ${runs.length} runs, ${runs.reduce((sum, run) => sum + run.series.length, 0)} series to ${out instanceof URL ? out.pathname : out} (${loadRange})\n`,
    );
  } finally {
    await opened.close();
  }
}

/** A detector rule the bench compares: raw, or judged relative to a reference (HistoryOptions.adjust). */
export interface Rule {
  label: string;
  adjust: ReferenceAdjustment | null;
}

/** The rules `bench:detector` compares side by side unless --rule narrows them. */
export const RULES: readonly Rule[] = [
  { label: 'raw', adjust: null },
  { label: 'cpu', adjust: { reference: 'cpu', statistic: 'mean', slope: 'unit' } },
  { label: 'ping', adjust: { reference: 'ping', statistic: 'median', slope: 'unit' } },
  { label: 'cpu-fit', adjust: { reference: 'cpu', statistic: 'mean', slope: 'fit' } },
  { label: 'ping-fit', adjust: { reference: 'ping', statistic: 'median', slope: 'fit' } },
  { label: 'queue-fit', adjust: { reference: 'queue', statistic: 'median', slope: 'fit' } },
  { label: 'load-fit', adjust: { reference: 'load', statistic: 'median', slope: 'fit' } },
];

function asRun(run: RecordedRun, factor: (unit: MeasureUnit) => number): RunResults {
  const byUnit = new Map<string, UnitResult>();
  for (const item of run.series) {
    let result = byUnit.get(item.unitId);
    if (result === undefined) {
      const c = run.contention?.[item.unitId];
      const timings = (median: number | undefined, mean: number | undefined) =>
        median === undefined ? undefined : { n: 1, median, mean: mean ?? median };
      const cpuMs = timings(c?.cpuMs, c?.cpuMeanMs);
      const pingMs = timings(c?.pingMs, c?.pingMeanMs);
      const contention =
        c === undefined
          ? undefined
          : {
              loadAvgMax: c.loadAvgMax,
              runQueueMax: c.runQueueMax,
              reference: {
                iterations: 0,
                intervalMs: 0,
                ...(cpuMs ? { cpuMs } : {}),
                ...(pingMs ? { pingMs } : {}),
              },
            };
      result = {
        unitId: item.unitId,
        status: 'ok',
        series: [],
        figures: [],
        ...(contention ? { contention } : {}),
      } as unknown as UnitResult;
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

/** Error rates of one rule. */
export interface RuleResult {
  rule: Rule;
  falsePositive: Map<Kind, Tally>;
  runsWithAnyFlag: number;
  /** Keyed `${effect}|${group}`: group a kind, 'all', `cv<0.3` or a noise stratum's label. */
  power: Map<string, Tally>;
  /** Judged rows the adjustment applied to (every run of the row had a reference). */
  adjustedRows: number;
}

interface Simulation {
  trials: number;
  window: number;
  alpha: number;
  rules: RuleResult[];
}

const SLOWED = (effect: number) => (unit: MeasureUnit) =>
  unit === 'msg/s' || unit === 'ops/s' || unit === 'ops/usd' ? 1 / (1 + effect) : 1 + effect;

/**
 * Replay the detector on `trials` draws of (window earlier runs, one current run), every rule on
 * the same draws. A slowdown scales the current run's samples, not its reference: a slower build
 * does not make the machine's reference tasks slower.
 */
export function simulate(
  fixture: NoiseFixture,
  options: {
    trials: number;
    window: number;
    seed: number;
    history?: HistoryOptions;
    rules?: readonly Rule[];
  },
): Simulation {
  const next = seededRandom(options.seed);
  const runs = fixture.runs;
  const rules: RuleResult[] = (options.rules ?? [RULES[0]!]).map((rule) => ({
    rule,
    falsePositive: new Map(),
    runsWithAnyFlag: 0,
    power: new Map(),
    adjustedRows: 0,
  }));
  const noiseOf = betweenRunNoise(fixture);
  const judged = (row: HistoryRow) =>
    row.kind === 'series' && row.direction !== 'neutral' && row.verdict !== 'not-enough-history';
  for (let trial = 0; trial < options.trials; trial++) {
    const order = runs.map((run, index) => ({ run, key: next(), index })).sort((a, b) => a.key - b.key);
    const chosen = order.slice(0, options.window + 1).map((entry) => entry.run);
    const current = chosen[0]!;
    const earlier = chosen.slice(1).sort((a, b) => b.startedAt.localeCompare(a.startedAt));
    const baselines = new Map<string, Array<{ run: RunMeta; result: UnitResult }>>();
    for (const run of earlier) {
      const asIs = asRun(run, () => 1);
      for (const result of asIs.results) {
        const list = baselines.get(result.unitId) ?? [];
        list.push({ run: asIs.meta, result });
        baselines.set(result.unitId, list);
      }
    }
    const cvOf = new Map(
      current.series.map((item) => [`${item.unitId} ${seriesKey(item)}`, withinRunCv(item.samples)]),
    );
    const unchangedRun = asRun(current, () => 1);
    const slowedRuns = EFFECTS.map((effect) => asRun(current, SLOWED(effect)));
    for (const entry of rules) {
      const history = { window: options.window, ...options.history, adjust: entry.rule.adjust };
      let anyFlag = false;
      for (const row of compareWithHistory(unchangedRun, baselines, history).rows.filter(judged)) {
        const flagged = row.verdict === 'regression' || row.verdict === 'improvement';
        anyFlag ||= flagged;
        if (row.adjusted !== undefined) entry.adjustedRows += 1;
        tally(entry.falsePositive, KIND_OF[row.unit]!, flagged);
      }
      if (anyFlag) entry.runsWithAnyFlag += 1;
      EFFECTS.forEach((effect, e) => {
        for (const row of compareWithHistory(slowedRuns[e]!, baselines, history).rows.filter(judged)) {
          const key = `${row.unitId} ${seriesKey(row)}`;
          const cv = cvOf.get(key) ?? Number.NaN;
          const found = row.verdict === 'regression';
          tally(entry.power, `${effect}|${KIND_OF[row.unit]}`, found);
          tally(entry.power, `${effect}|all`, found);
          if (cv < POWER_CV) tally(entry.power, `${effect}|cv<${POWER_CV}`, found);
          const noise = noiseOf.get(key) ?? Number.NaN;
          const stratum = NOISE_STRATA.find((s) => noise < s.below);
          if (stratum !== undefined) tally(entry.power, `${effect}|${stratum.label}`, found);
        }
      });
    }
  }
  const alpha = options.history?.alpha ?? HISTORY_ALPHA;
  return { trials: options.trials, window: options.window, alpha, rules };
}

/** sd of the log per-run medians of each series over every recorded run (its between-run noise). */
function betweenRunNoise(fixture: NoiseFixture): Map<string, number> {
  const noise = new Map<string, number>();
  for (const [key, values] of logMedians(fixture)) {
    if (values.length < 3) continue;
    const logs = values.map((entry) => entry.y);
    const mean = logs.reduce((sum, value) => sum + value, 0) / logs.length;
    noise.set(key, Math.sqrt(logs.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (logs.length - 1)));
  }
  return noise;
}

/** ln per-run median of every series per run, with the unit's ln references where recorded. */
function logMedians(
  fixture: NoiseFixture,
): Map<string, Array<{ y: number; cpu?: number; ping?: number; unit: MeasureUnit }>> {
  const out = new Map<string, Array<{ y: number; cpu?: number; ping?: number; unit: MeasureUnit }>>();
  for (const run of fixture.runs) {
    for (const item of run.series) {
      const middle = median(item.samples);
      if (!(middle > 0)) continue;
      const key = `${item.unitId} ${seriesKey(item)}`;
      const c = run.contention?.[item.unitId];
      const list = out.get(key) ?? [];
      list.push({
        y: Math.log(middle),
        unit: item.unit,
        ...(c?.cpuMeanMs ? { cpu: Math.log(c.cpuMeanMs) } : {}),
        ...(c?.pingMs ? { ping: Math.log(c.pingMs) } : {}),
      });
      out.set(key, list);
    }
  }
  return out;
}

function correlation(x: readonly number[], y: readonly number[]): number {
  const n = x.length;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i]! - mx) * (y[i]! - my);
    sxx += (x[i]! - mx) ** 2;
    syy += (y[i]! - my) ** 2;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : Number.NaN;
}

/** Per kind: median correlation of ln per-run median with ln reference over the recorded runs. */
function referenceCorrelations(fixture: NoiseFixture): string[] {
  const byKind = new Map<string, { cpu: number[]; ping: number[] }>();
  for (const values of logMedians(fixture).values()) {
    const kind = KIND_OF[values[0]!.unit]!;
    const entry = byKind.get(kind) ?? { cpu: [], ping: [] };
    for (const name of ['cpu', 'ping'] as const) {
      const pairs = values.filter((v) => v[name] !== undefined);
      if (pairs.length < 5) continue;
      const r = correlation(
        pairs.map((v) => v[name]!),
        pairs.map((v) => v.y),
      );
      if (Number.isFinite(r)) entry[name].push(r);
    }
    byKind.set(kind, entry);
  }
  const lines: string[] = [];
  for (const [kind, entry] of [...byKind.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    if (entry.cpu.length === 0 && entry.ping.length === 0) continue;
    const cell = (list: number[]) =>
      list.length === 0 ? '—' : `${median(list).toFixed(2)} (${list.length} series)`;
    lines.push(`  ${kind.padEnd(10)} cpu ${cell(entry.cpu).padEnd(18)} ping ${cell(entry.ping)}`);
  }
  return lines;
}

function percent(t: Tally | undefined): string {
  if (t === undefined || t.rows === 0) return '—';
  return `${((100 * t.flagged) / t.rows).toFixed(2)} %`;
}

function print(result: Simulation, fixture: NoiseFixture): void {
  const out: string[] = [];
  const withReference = fixture.runs.filter((run) => run.contention !== undefined).length;
  out.push(
    `detector replay: ${result.trials} simulated runs, window ${result.window} earlier runs, drawn from ${fixture.runs.length} real runs (${withReference} with references), alpha ${result.alpha}`,
  );
  out.push(`rules: ${result.rules.map((r) => `${r.rule.label} = ${describeRule(r.rule)}`).join('; ')}`);
  out.push('');
  const head = (title: string) =>
    `${title.padEnd(36)}${result.rules.map((r) => r.rule.label.padStart(11)).join('')}`;
  const kinds = [...result.rules[0]!.falsePositive.keys()].sort();
  out.push(head('false positives (goal <= 1 %)'));
  for (const kind of kinds) {
    const rows = result.rules[0]!.falsePositive.get(kind)!.rows;
    out.push(
      `${`  ${kind} (${rows} rows)`.padEnd(36)}${result.rules.map((r) => percent(r.falsePositive.get(kind)).padStart(11)).join('')}`,
    );
  }
  const anyFlag = (r: RuleResult) => `${((100 * r.runsWithAnyFlag) / result.trials).toFixed(1)} %`;
  out.push(
    `${'  runs with any flag'.padEnd(36)}${result.rules.map((r) => anyFlag(r).padStart(11)).join('')}`,
  );
  const groups = [...kinds, 'all', `cv<${POWER_CV}`, ...NOISE_STRATA.map((s) => s.label)];
  for (const effect of EFFECTS) {
    out.push('');
    out.push(head(`power at ${effect * 100} %${effect === 0.2 ? ' (goal >= 90 % cv<0.3)' : ''}`));
    for (const group of groups) {
      const rows = result.rules[0]!.power.get(`${effect}|${group}`)?.rows ?? 0;
      if (rows === 0) continue;
      out.push(
        `${`  ${group} (${rows})`.padEnd(36)}${result.rules.map((r) => percent(r.power.get(`${effect}|${group}`)).padStart(11)).join('')}`,
      );
    }
  }
  out.push('');
  out.push(
    `rows judged relative to the reference (unchanged runs): ${result.rules.map((r) => `${r.rule.label} ${r.adjustedRows}`).join(', ')}`,
  );
  const correlations = referenceCorrelations(fixture);
  if (correlations.length > 0) {
    out.push('median correlation of ln per-run median with ln reference, per kind, over the recorded runs:');
    out.push(...correlations);
  }
  const k = result.window;
  const needed =
    Math.log(1.2) /
    (Math.sqrt(1 + 1 / k) * (studentTQuantile(1 - result.alpha / 2, k - 1) + studentTQuantile(0.9, k - 1)));
  out.push(
    `drift shared within a unit (an upper bound on what any per-unit reference can remove; 90 % power at 20 % with window ${k} needs a between-run sd of ln median below ${needed.toFixed(3)}):`,
  );
  out.push(...sharedDrift(fixture));
  process.stdout.write(`${out.join('\n')}\n`);
}

/**
 * Per kind, over series recorded in every run whose unit has other series of the kind: the
 * between-run sd of ln median, its correlation r with the mean drift of the unit's other series
 * (leave one out), and the sd left if all of that shared drift were removed (sd x sqrt(1 - r^2)).
 */
function sharedDrift(fixture: NoiseFixture): string[] {
  const byUnit = new Map<string, Array<{ kind: Kind; deviations: number[] }>>();
  for (const [key, values] of logMedians(fixture)) {
    if (values.length !== fixture.runs.length) continue;
    const logs = values.map((entry) => entry.y);
    const mean = logs.reduce((sum, value) => sum + value, 0) / logs.length;
    const unitId = key.slice(0, key.indexOf(' '));
    const list = byUnit.get(unitId) ?? [];
    list.push({ kind: KIND_OF[values[0]!.unit]!, deviations: logs.map((value) => value - mean) });
    byUnit.set(unitId, list);
  }
  const perKind = new Map<Kind, Array<{ sd: number; r: number }>>();
  for (const list of byUnit.values()) {
    for (const [index, entry] of list.entries()) {
      const others = list.filter((other, j) => j !== index && other.kind === entry.kind);
      if (others.length === 0) continue;
      const shared = entry.deviations.map(
        (_, run) => others.reduce((sum, other) => sum + other.deviations[run]!, 0) / others.length,
      );
      const r = correlation(shared, entry.deviations);
      const sd = Math.sqrt(
        entry.deviations.reduce((sum, d) => sum + d * d, 0) / (entry.deviations.length - 1),
      );
      if (Number.isFinite(r)) perKind.set(entry.kind, [...(perKind.get(entry.kind) ?? []), { sd, r }]);
    }
  }
  return [...perKind.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([kind, list]) => {
      const sd = median(list.map((entry) => entry.sd));
      const r = median(list.map((entry) => entry.r));
      const left = median(list.map((entry) => entry.sd * Math.sqrt(1 - Math.max(0, entry.r) ** 2)));
      return `  ${kind.padEnd(10)} ${String(list.length).padStart(3)} series: sd ${sd.toFixed(3)}, r with the unit's other series ${r.toFixed(2)}, sd left ${left.toFixed(3)} (medians)`;
    });
}

function describeRule(rule: Rule): string {
  if (rule.adjust === null) return 'per-run medians as measured';
  const { reference, statistic, slope } = rule.adjust;
  const what =
    reference === 'load'
      ? "the unit's highest load average"
      : reference === 'queue'
        ? "the unit's longest run queue"
        : `the ${statistic} ${reference} reference`;
  return `${slope === 'fit' ? 'regressed on' : 'divided by'} ${what}`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      record: { type: 'string' },
      trials: { type: 'string', default: '300' },
      seed: { type: 'string', default: '1' },
      window: { type: 'string', multiple: true },
      alpha: { type: 'string' },
      rule: { type: 'string', multiple: true },
      fixture: { type: 'string' },
      note: { type: 'string' },
    },
    strict: true,
  });
  if (values.record !== undefined) {
    await record(values.record, values.fixture ?? FIXTURE, values.note);
    return;
  }
  const trials = Number(values.trials);
  const seed = Number(values.seed);
  if (!Number.isInteger(trials) || trials < 200) {
    process.stderr.write(`--trials: an integer >= 200, got ${values.trials}\n`);
    process.exit(2);
  }
  const rules = (values.rule ?? RULES.map((rule) => rule.label)).map((label) => {
    const rule = RULES.find((candidate) => candidate.label === label);
    if (rule === undefined) {
      process.stderr.write(`--rule: one of ${RULES.map((r) => r.label).join(', ')}, got ${label}\n`);
      process.exit(2);
    }
    return rule;
  });
  const fixture = JSON.parse(readFileSync(values.fixture ?? FIXTURE, 'utf8')) as NoiseFixture;
  const windows = (values.window ?? ['8']).map(Number);
  for (const window of windows) {
    if (!Number.isInteger(window) || window < 1 || window >= fixture.runs.length) {
      process.stderr.write(`--window: an integer from 1 to ${fixture.runs.length - 1}, got ${window}\n`);
      process.exit(2);
    }
    const started = performance.now();
    const history = values.alpha === undefined ? {} : { alpha: Number(values.alpha) };
    const result = simulate(fixture, { trials, window, seed, history, rules });
    print(result, fixture);
    process.stdout.write(`(${((performance.now() - started) / 1000).toFixed(1)} s)\n\n`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
