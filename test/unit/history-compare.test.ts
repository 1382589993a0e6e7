import { describe, expect, it } from 'vitest';
import type { Figure, Labels, MeasureUnit, RunResults, Series, UnitResult } from '../../lib/bench/model.ts';
import { InvalidInputError } from '../../lib/errors.ts';
import {
  type BaselineEntry,
  compareRuns,
  compareWithHistory,
  directionOf,
  HISTORY_ALPHA,
  type HistoryOptions,
  median,
  predictionTest,
} from '../../lib/history/compare.ts';
import { studentTTwoSidedP } from '../../lib/stats/distributions.ts';
import { completedRunMeta, okUnitResult } from '../helpers/run-meta.ts';
import { samples } from '../helpers/samples.ts';

const UNIT = 'trading/strategy-execution';

const meta = completedRunMeta;

function series(
  values: number[],
  unit: MeasureUnit = 'ms',
  name = 'strategy-rtt-ms',
  labels: Labels = {},
): Series {
  return { name, unit, samples: values, warmup: [], labels };
}

function result(runId: string, list: Series[], figures: Figure[] = [], unitId = UNIT): UnitResult {
  return okUnitResult(runId, unitId, list, { figures });
}

/** Baselines for UNIT from per-run series lists, given oldest first (returned newest first, as the store does). */
function baselines(perRun: Array<{ series: Series[]; figures?: Figure[] }>): Map<string, BaselineEntry[]> {
  const entries = perRun.map((run, index) => {
    const runId = `base-${index + 1}`;
    return {
      run: meta(runId, `2026-11-0${index + 1}T00:00:00.000Z`),
      result: result(runId, run.series, run.figures ?? []),
    };
  });
  return new Map([[UNIT, entries.reverse()]]);
}

function current(list: Series[], figures: Figure[] = []): RunResults {
  return { meta: meta('current', '2026-11-20T00:00:00.000Z'), results: [result('current', list, figures)] };
}

/** Four low-noise baseline runs of 20 samples around `center` (±3%), and their comparison with `now`. */
function compareLowNoise(now: number[], center = 10, unit: MeasureUnit = 'ms', options: HistoryOptions = {}) {
  const history = baselines(
    [1, 2, 3, 4].map((run) => ({ series: [series(samples(run, 20, center, 0.03), unit)] })),
  );
  return compareWithHistory(current([series(now, unit)]), history, options);
}

describe('compareWithHistory', () => {
  it('an injected +30% shift with low noise is a regression with p < 0.01', () => {
    // Act
    const comparison = compareLowNoise(samples(9, 20, 13, 0.03));
    const [row] = comparison.rows;
    // Assess
    expect(row?.verdict).toBe('regression');
    expect(row?.pValue).toBeLessThan(0.01);
    expect(row?.delta).toBeGreaterThan(0.25);
    expect(row?.delta).toBeLessThan(0.35);
    expect(row?.baselineRuns).toBe(4);
    expect(row?.baselineCount).toBe(80);
    expect(comparison.regressions).toBe(1);
    expect(comparison.improvements).toBe(0);
    expect(comparison.baselineRuns).toEqual(['base-4', 'base-3', 'base-2', 'base-1']);
  });

  it('the same data without a shift is unchanged', () => {
    // Act
    const comparison = compareLowNoise(samples(9, 20, 10, 0.03));
    // Assess
    expect(comparison.rows[0]?.verdict).toBe('unchanged');
    expect(Math.abs(comparison.rows[0]?.delta ?? 1)).toBeLessThan(0.05);
    expect(comparison.regressions).toBe(0);
  });

  it('a +30% shift on tiny, noisy samples is large but not significant', () => {
    // Prepare: every run has the same median (no run-to-run noise) but a wide spread within.
    const history = baselines([1, 2, 3].map(() => ({ series: [series([50, 100, 150])] })));
    // Act
    const comparison = compareWithHistory(current([series([80, 130, 180])]), history);
    const [row] = comparison.rows;
    // Assess
    expect(row?.delta).toBeCloseTo(0.3, 10);
    expect(row?.noise).toBe(0);
    expect(row?.pValue).toBeGreaterThanOrEqual(0.01);
    expect(row?.verdict).toBe('large-but-not-significant');
    expect(comparison.regressions).toBe(0);
  });

  it('throughput: a drop is a regression, a rise an improvement', () => {
    // Act
    const drop = compareLowNoise(samples(9, 20, 700, 0.03), 1000, 'ops/s');
    const rise = compareLowNoise(samples(9, 20, 1300, 0.03), 1000, 'msg/s');
    // Assess
    expect(drop.rows[0]?.verdict).toBe('regression');
    expect(drop.rows[0]?.delta).toBeLessThan(-0.25);
    expect(rise.rows[0]?.verdict).toBe('improvement');
    expect(rise.improvements).toBe(1);
  });

  it('latency: a drop is an improvement', () => {
    // Act
    const comparison = compareLowNoise(samples(9, 20, 7, 0.03));
    // Assess
    expect(comparison.rows[0]?.verdict).toBe('improvement');
  });

  it('fewer than minRuns earlier runs: not enough history, but baseline, delta and p are reported', () => {
    // Prepare
    const history = baselines([1, 2].map((run) => ({ series: [series(samples(run, 20, 10, 0.03))] })));
    // Act
    const comparison = compareWithHistory(current([series(samples(9, 20, 13, 0.03))]), history);
    const [row] = comparison.rows;
    // Assess
    expect(row?.verdict).toBe('not-enough-history');
    expect(row?.baselineRuns).toBe(2);
    expect(row?.delta).toBeGreaterThan(0.25);
    expect(row?.pValue).toBeGreaterThan(0);
    expect(row?.rankPValue).toBeLessThan(0.01);
    expect(comparison.regressions).toBe(0);
  });

  it('minRuns is configurable: with minRuns 2 the same data is judged', () => {
    // Prepare
    const history = baselines([1, 2].map((run) => ({ series: [series(samples(run, 20, 10, 0.03))] })));
    // Act
    const comparison = compareWithHistory(current([series(samples(9, 20, 13, 0.03))]), history, {
      minRuns: 2,
    });
    // Assess: judged, but with one degree of freedom for the between-run noise a +30% is not enough
    expect(comparison.rows[0]?.verdict).toBe('large-but-not-significant');
    expect(comparison.rows[0]?.pValue).toBeGreaterThan(HISTORY_ALPHA);
  });

  it('no history at all: every row is not enough history, without baseline numbers', () => {
    // Act
    const comparison = compareWithHistory(current([series([1, 2, 3])]), new Map());
    // Assess
    expect(comparison.baselineRuns).toEqual([]);
    expect(comparison.rows[0]).toMatchObject({
      verdict: 'not-enough-history',
      baseline: null,
      delta: null,
      pValue: null,
      noise: null,
      baselineRuns: 0,
      trend: [2],
    });
  });

  it('run-to-run noise raises the bar: the same +30% shift is not flagged when per-run medians vary by ~20%', () => {
    // Prepare: runs centred at 8, 10, 12, 10 (sd of log medians ~0.17), tight within.
    const noisy = baselines(
      [8, 10, 12, 10].map((center, run) => ({ series: [series(samples(run + 1, 20, center, 0.02))] })),
    );
    const quiet = baselines(
      [10, 10, 10, 10].map((center, run) => ({ series: [series(samples(run + 1, 20, center, 0.02))] })),
    );
    const now = [series(samples(9, 20, 13, 0.02))];
    // Act
    const gated = compareWithHistory(current(now), noisy).rows[0];
    const flagged = compareWithHistory(current(now), quiet).rows[0];
    // Assess: the samples differ clearly (rank p tiny), the run does not stand out among runs
    expect(gated?.noise).toBeGreaterThan(0.15);
    expect(gated?.rankPValue).toBeLessThan(0.001);
    expect(gated?.pValue).toBeGreaterThan(0.1);
    expect(gated?.verdict).toBe('large-but-not-significant');
    expect(flagged?.pValue).toBeLessThan(HISTORY_ALPHA);
    expect(flagged?.verdict).toBe('regression');
  });

  it('the prediction test is the t of the current log median among the per-run log medians', () => {
    // Prepare: logs of 10, 20, 40 are equally spaced: mean ln 20, sd ln 2
    const perRun = [10, 20, 40];
    // Act
    const test = predictionTest(80, perRun)!;
    // Assess: t = ln 4 / (ln 2 x sqrt(1 + 1/3)) = 2 / sqrt(4/3) = sqrt 3, df 2
    expect(test.z).toBeCloseTo(Math.sqrt(3), 12);
    expect(test.pValue).toBeCloseTo(studentTTwoSidedP(Math.sqrt(3), 2), 12);
    expect(predictionTest(20, [20, 20, 20])).toEqual({ pValue: 1, z: 0 });
    expect(predictionTest(21, [20, 20, 20])?.pValue).toBe(0);
    expect(predictionTest(20, [20])).toBeNull();
  });

  it('three tight runs do not make a 33% drift a regression: with 2 degrees of freedom the bar is high', () => {
    // Prepare: what the integration test met on a shared machine: three back-to-back runs with
    // medians within ~5%, then an unchanged run a third slower.
    const tight = baselines(
      [10, 10.5, 9.6].map((center, run) => ({ series: [series(samples(run + 1, 20, center, 0.02))] })),
    );
    const now = [series(samples(9, 20, 13.3, 0.02))];
    // Act
    const row = compareWithHistory(current(now), tight).rows[0];
    // Assess
    expect(row?.noise).toBeLessThan(0.06);
    expect(row?.rankPValue).toBeLessThan(0.01);
    expect(row?.delta).toBeGreaterThan(0.3);
    expect(row?.pValue).toBeGreaterThan(HISTORY_ALPHA);
    expect(row?.verdict).toBe('large-but-not-significant');
  });

  it('minChange: a significant but small shift (+5%) is unchanged', () => {
    // Act
    const comparison = compareLowNoise(samples(9, 40, 10.5, 0.01));
    // Assess
    expect(comparison.rows[0]?.pValue).toBeLessThan(0.01);
    expect(comparison.rows[0]?.verdict).toBe('unchanged');
  });

  it('counts and ratios are neutral: the delta is reported, never flagged', () => {
    // Act
    const comparison = compareLowNoise(samples(9, 20, 20, 0.03), 10, 'count');
    const [row] = comparison.rows;
    // Assess
    expect(row?.direction).toBe('neutral');
    expect(row?.delta).toBeGreaterThan(0.9);
    expect(row?.pValue).toBeLessThan(0.01);
    expect(row?.verdict).toBe('unchanged');
  });

  it('figures are judged like series, one value per run: a halved steady throughput is a regression', () => {
    // Prepare
    const figure = (value: number): Figure => ({
      name: 'throughput',
      value,
      unit: 'ops/s',
      labels: {},
      from: ['throughput-ops-s'],
      how: 'tasks / wall time',
    });
    const history = baselines([100, 102, 98].map((value) => ({ series: [], figures: [figure(value)] })));
    // Act
    const dropped = compareWithHistory(current([], [figure(50)]), history).rows[0];
    const steady = compareWithHistory(current([], [figure(101)]), history).rows[0];
    // Assess
    expect(dropped).toMatchObject({ kind: 'figure', baseline: 100, delta: -0.5, rankPValue: null });
    expect(dropped?.trend).toEqual([100, 102, 98, 50]);
    expect(dropped?.pValue).toBeLessThan(HISTORY_ALPHA);
    expect(dropped?.verdict).toBe('regression');
    expect(steady?.verdict).toBe('unchanged');
  });

  it('baseline = median of per-run medians; trend = per-run medians oldest to newest, then current', () => {
    // Prepare: the last run has many high samples; pooled they would dominate, per run they do not.
    const history = baselines([
      { series: [series([10, 10, 10])] },
      { series: [series([11, 11, 11])] },
      { series: [series([12, 12, 12])] },
      { series: [series(Array.from({ length: 30 }, () => 50))] },
    ]);
    // Act
    const row = compareWithHistory(current([series([11.5, 11.5])]), history).rows[0];
    // Assess
    expect(row?.baseline).toBe(11.5);
    expect(row?.trend).toEqual([10, 11, 12, 50, 11.5]);
    expect(row?.baselineCount).toBe(39);
  });

  it('matches series by name, unit and labels in any key order; rows of a failed unit are skipped', () => {
    // Prepare
    const labelled = (labels: Labels, values: number[]) => series(values, 'ms', 'rtt-ms', labels);
    const history = baselines(
      [1, 2, 3].map(() => ({
        series: [
          labelled({ topology: 'ring', agents: 4 }, [10, 10, 10]),
          labelled({ topology: 'mesh', agents: 4 }, [5]),
        ],
      })),
    );
    const run = current([
      labelled({ agents: 4, topology: 'ring' }, [10, 10, 10]),
      labelled({ topology: 'star' }, [1]),
    ]);
    run.results.push({ ...result('current', [series([1])], [], 'trading/consensus'), status: 'failed' });
    // Act
    const { rows } = compareWithHistory(run, history);
    // Assess
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({
      labels: { agents: 4, topology: 'ring' },
      baselineRuns: 3,
      verdict: 'unchanged',
    });
    expect(rows[1]).toMatchObject({
      labels: { topology: 'star' },
      baselineRuns: 0,
      verdict: 'not-enough-history',
    });
  });

  it('only the window of newest runs counts, and the current run never compares with itself', () => {
    // Prepare
    const history = baselines([1, 2, 3, 4, 5].map((run) => ({ series: [series([run])] })));
    history.get(UNIT)!.unshift({
      run: meta('current', '2026-11-20T00:00:00.000Z'),
      result: result('current', [series([99])]),
    });
    // Act
    const comparison = compareWithHistory(current([series([5])]), history, { window: 3 });
    // Assess
    expect(comparison.baselineRuns).toEqual(['base-5', 'base-4', 'base-3']);
    expect(comparison.rows[0]?.trend).toEqual([3, 4, 5, 5]);
    expect(comparison.window).toBe(3);
  });

  it('a zero baseline: the change has no percentage (delta null, fromZero) and the result is plain JSON', () => {
    // Prepare
    const history = baselines([1, 2, 3].map(() => ({ series: [series([0, 0, 0], 'bytes')] })));
    // Act
    const comparison = compareWithHistory(current([series([0, 5, 7], 'bytes')]), history);
    // Assess
    expect(comparison.rows[0]).toMatchObject({ baseline: 0, delta: null, fromZero: true });
    expect(JSON.parse(JSON.stringify(comparison))).toEqual(comparison);
  });

  it('refuses nonsensical options', () => {
    expect(() => compareWithHistory(current([]), new Map(), { alpha: 0 })).toThrow(InvalidInputError);
    expect(() => compareWithHistory(current([]), new Map(), { minRuns: 0 })).toThrow(InvalidInputError);
    expect(() => compareWithHistory(current([]), new Map(), { minChange: -1 })).toThrow(InvalidInputError);
  });
});

describe('directionOf', () => {
  it('time, bytes, memory, CPU and cost: lower is better; throughput: higher; counts and ratios: neutral', () => {
    for (const unit of ['ms', 'us', 's', 'bytes', 'MB', 'percent', 'usd', 'usd/h'] as const)
      expect(directionOf(unit)).toBe('lower-is-better');
    for (const unit of ['msg/s', 'ops/s', 'ops/usd'] as const)
      expect(directionOf(unit)).toBe('higher-is-better');
    for (const unit of ['count', 'ratio'] as const) expect(directionOf(unit)).toBe('neutral');
  });
});

describe('compareRuns', () => {
  it('judges B against A per common series and counts the ones only in one run', () => {
    // Prepare
    const a = current([series(samples(1, 20, 10, 0.03)), series([1], 'ms', 'only-a')]);
    const b = current([series(samples(2, 20, 14, 0.03)), series([1], 'ms', 'only-b')]);
    // Act
    const { rows, onlyInA, onlyInB } = compareRuns(a, b);
    // Assess
    expect(rows).toHaveLength(1);
    expect(rows[0]?.verdict).toBe('regression');
    expect(rows[0]?.delta).toBeGreaterThan(0.3);
    expect(onlyInA).toBe(1);
    expect(onlyInB).toBe(1);
  });
});

describe('median', () => {
  it('middle value, or the mean of the two middle ones', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});
