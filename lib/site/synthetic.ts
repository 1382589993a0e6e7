/**
 * Seeded synthetic weekly runs, for the site's bench and tests: each week is a copy of a real run
 * (the template) whose samples are rescaled by a slow drift, per-run noise and a few deliberate
 * step changes, with the commit changing every few weeks and the sandbox template changing once.
 * Same seed, same runs, on every machine. Never used for anything a report presents as measured.
 */

import { newRunId } from '../bench/meta.ts';
import type { RunMeta, RunResults, UnitResult } from '../bench/model.ts';
import { InvalidInputError } from '../errors.ts';
import type { ResultStore } from '../store/types.ts';

/** A lasting step change of one series from a week on (factor 1.4 = 40% higher values). */
export interface SyntheticStep {
  week: number;
  unitId: string;
  series: string;
  factor: number;
}

export interface WeeklyRunsOptions {
  /** How many weekly runs. */
  weeks: number;
  /** @default 1 */
  seed?: number;
  /** Start of the first run (ISO); later runs follow at 7-day intervals. @default '2025-12-07T00:00:05.000Z' */
  firstStartedAt?: string;
  /** The commit changes every this many weeks. @default 3 */
  commitEveryWeeks?: number;
  /** From this week on the runs use a bigger sandbox template (and so a new configuration). @default weeks / 2 */
  templateChangeWeek?: number;
  /** Step changes. @default a consensus regression at 40% of the weeks, an RTT improvement at 70% */
  steps?: SyntheticStep[];
  /** Week whose run has one failed unit (status partial). @default 20% of the weeks */
  failedUnitWeek?: number;
}

/** Seeded uniform [0, 1): mulberry32, small and good enough for test data. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WEEK_MS = 7 * 24 * 60 * 60 * 1000;
// Throughput-like units get faster when latencies get slower; counts and ratios stay put.
const INVERSE_UNITS = new Set(['msg/s', 'ops/s', 'ops/usd']);
const FIXED_UNITS = new Set(['count', 'ratio']);

/** `weeks` runs derived from `template` (see the module comment), oldest first. */
export function synthesizeWeeklyRuns(template: RunResults, options: WeeklyRunsOptions): RunResults[] {
  const { weeks } = options;
  if (!Number.isInteger(weeks) || weeks < 1 || weeks > 520)
    throw new InvalidInputError('weeks', 'an integer from 1 to 520', weeks);
  const random = seededRandom(options.seed ?? 1);
  const first = Date.parse(options.firstStartedAt ?? '2025-12-07T00:00:05.000Z');
  const commitEvery = options.commitEveryWeeks ?? 3;
  const templateWeek = options.templateChangeWeek ?? Math.floor(weeks / 2);
  const failedWeek = options.failedUnitWeek ?? Math.floor(weeks * 0.2);
  const steps = options.steps ?? [
    { week: Math.floor(weeks * 0.4), unitId: 'trading/consensus', series: 'consensus-ms', factor: 1.45 },
    {
      week: Math.floor(weeks * 0.7),
      unitId: 'communication/inter-agent-latency',
      series: 'rtt-ms',
      factor: 0.6,
    },
  ];
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');
  let commit = hex(40);
  let drift = 1;
  const runs: RunResults[] = [];
  for (let week = 0; week < weeks; week++) {
    if (week > 0 && week % commitEvery === 0) commit = hex(40);
    // A slow random walk shared by every series (the machine, the provider), bounded to ±15%.
    drift = Math.min(1.15, Math.max(0.85, drift * (1 + (random() - 0.5) * 0.04)));
    const startedAt = new Date(first + week * WEEK_MS);
    const runId = newRunId(startedAt, (n) => Buffer.from(hex(2 * n), 'hex'));
    const bigger = week >= templateWeek;
    const meta: RunMeta = {
      ...structuredClone(template.meta),
      runId,
      status: 'completed',
      startedAt: startedAt.toISOString(),
      gitCommit: commit,
      template: bigger
        ? { ...template.meta.template, name: `${template.meta.template.name}-2g`, memoryMb: 2048 }
        : template.meta.template,
      configHash: bigger ? `${template.meta.configHash}-2g` : template.meta.configHash,
    };
    let elapsedMs = 0;
    const results = template.results.map((source): UnitResult => {
      const unitFactor = drift * (1 + (random() - 0.5) * 0.06);
      const stepFor = (series: string) =>
        steps
          .filter((step) => week >= step.week && step.unitId === source.unitId && step.series === series)
          .reduce((product, step) => product * step.factor, 1);
      const scale = (value: number, unit: string, factor: number) =>
        FIXED_UNITS.has(unit) ? value : INVERSE_UNITS.has(unit) ? value / factor : value * factor;
      const jitter = () => Math.exp((random() - 0.5) * 0.12);
      const result: UnitResult = {
        ...structuredClone(source),
        runId,
        startedAt: new Date(startedAt.getTime() + elapsedMs).toISOString(),
        series: source.series.map((series) => {
          const factor = unitFactor * stepFor(series.name);
          return {
            ...series,
            samples: series.samples.map((value) => scale(value, series.unit, factor * jitter())),
            warmup: series.warmup.map((value) => scale(value, series.unit, factor * jitter())),
          };
        }),
        figures: source.figures.map((figure) => ({
          ...figure,
          value: scale(figure.value, figure.unit, unitFactor * stepFor(figure.name)),
        })),
        usage: { ...source.usage, sandboxSeconds: source.usage.sandboxSeconds * unitFactor },
      };
      elapsedMs += source.durationMs;
      result.endedAt = new Date(startedAt.getTime() + elapsedMs).toISOString();
      return result;
    });
    if (week === failedWeek && results.length > 1) {
      const victim = results[results.length - 1]!;
      Object.assign(victim, {
        status: 'failed',
        error: { name: 'SandboxStartError', message: 'sandbox creation failed after 3 attempts' },
        series: [],
        figures: [],
      });
      meta.status = 'partial';
      meta.reason = '1 unit(s) failed';
    }
    meta.endedAt = new Date(startedAt.getTime() + elapsedMs).toISOString();
    runs.push({ meta, results });
  }
  return runs;
}

/** Store runs as the pipeline does: the run as running, each unit result, then its final status. */
export async function storeRuns(store: ResultStore, runs: readonly RunResults[]): Promise<void> {
  for (const { meta, results } of runs) {
    const { endedAt, reason, ...running } = meta;
    await store.createRun({ ...running, status: 'running' });
    for (const result of results) await store.putResult(result);
    await store.finishRun(meta.runId, {
      status: meta.status,
      endedAt: endedAt ?? meta.startedAt,
      ...(reason === undefined ? {} : { reason }),
    });
  }
}
