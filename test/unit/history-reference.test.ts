/**
 * The history detector judged relative to a reference measured beside each unit (issue 13, part 2):
 * seeded synthetic runs whose medians drift with a known machine factor, and whose reference
 * drifts with the same factor, so the answers are known.
 */
import { describe, expect, it } from 'vitest';
import type { MeasureUnit, RunResults, Series, UnitResult } from '../../lib/bench/model.ts';
import { InvalidInputError } from '../../lib/errors.ts';
import {
  adjustedTest,
  type BaselineEntry,
  compareWithHistory,
  type HistoryOptions,
  type ReferenceAdjustment,
  referenceExponent,
} from '../../lib/history/compare.ts';
import { completedRunMeta, okUnitResult } from '../helpers/run-meta.ts';
import { random, samples } from '../helpers/samples.ts';

const UNIT = 'trading/consensus';
const CPU: ReferenceAdjustment = { reference: 'cpu', statistic: 'mean', slope: 'unit' };
const FIT: ReferenceAdjustment = { reference: 'cpu', statistic: 'mean', slope: 'fit' };
/** How slow the machine was in each of eight earlier runs: about 35% between-run drift. */
const FACTORS = [1.0, 1.4, 0.8, 1.9, 1.2, 0.7, 1.6, 1.1];

const meta = completedRunMeta;

/** A unit result whose reference CPU loop took `cpuMs` on average (undefined: none recorded). */
function result(runId: string, list: Series[], cpuMs: number | undefined): UnitResult {
  return okUnitResult(runId, UNIT, list, {
    ...(cpuMs === undefined
      ? {}
      : {
          contention: {
            loadAvgMax: 4,
            cores: 2,
            runQueueMax: 3,
            stealPercent: 0,
            busyPercent: 90,
            samples: 5,
            contended: true,
            thresholdLoadPerCore: 1.5,
            reference: {
              iterations: 50_000,
              intervalMs: 250,
              cpuMs: { n: 40, median: cpuMs * 0.9, mean: cpuMs },
              pingMs: { n: 40, median: cpuMs / 2, mean: cpuMs },
            },
          },
        }),
  });
}

function series(values: number[], unit: MeasureUnit): Series {
  return { name: 'round-ms', unit, samples: values, warmup: [], labels: {} };
}

/**
 * A run of a machine `factor` times slower than nominal: 20 samples within ±3% of
 * `value(factor)`, and a reference of 0.2 ms x factor within ±1% (seeded).
 */
function run(seed: number, factor: number, unit: MeasureUnit, value: (factor: number) => number) {
  const jitter = 1 + 0.02 * (random(seed + 1000)() - 0.5);
  return { list: [series(samples(seed, 20, value(factor), 0.03), unit)], cpuMs: 0.2 * factor * jitter };
}

/** Eight earlier runs at FACTORS (newest first, as the store returns them); `drop` loses one's reference. */
function history(
  unit: MeasureUnit,
  value: (factor: number) => number,
  drop?: number,
): Map<string, BaselineEntry[]> {
  const entries = FACTORS.map((factor, index) => {
    const { list, cpuMs } = run(index + 1, factor, unit, value);
    const runId = `base-${index + 1}`;
    return {
      run: meta(runId, `2026-11-0${index + 1}T00:00:00.000Z`),
      result: result(runId, list, index === drop ? undefined : cpuMs),
    };
  });
  return new Map([[UNIT, entries.reverse()]]);
}

function currentRun(
  factor: number,
  slowdown: number,
  unit: MeasureUnit,
  value: (factor: number) => number,
): RunResults {
  const { list, cpuMs } = run(99, factor, unit, (f) => value(f) * slowdown);
  return { meta: meta('current', '2026-11-20T00:00:00.000Z'), results: [result('current', list, cpuMs)] };
}

function compare(
  slowdown: number,
  options: HistoryOptions,
  unit: MeasureUnit = 'ms',
  value: (factor: number) => number = (f) => 10 * f,
  drop?: number,
) {
  const row = compareWithHistory(currentRun(1.5, slowdown, unit, value), history(unit, value, drop), options)
    .rows[0];
  if (row === undefined) throw new Error('no row');
  return row;
}

describe('compareWithHistory relative to a reference', () => {
  it('finds a 20% slowdown hidden in 35% machine drift that the raw rule cannot', () => {
    // Act: the current run's machine is 1.5x slow, and the code 1.2x on top of it.
    const raw = compare(1.2, { adjust: null });
    const adjusted = compare(1.2, { adjust: CPU });
    // Assess: the raw medians drift too much to tell; the ratio to the reference is +20%.
    expect(raw.verdict).toBe('large-but-not-significant');
    expect(raw.adjusted).toBeUndefined();
    expect(adjusted.verdict).toBe('regression');
    expect(adjusted.pValue).toBeLessThan(1e-4);
    expect(adjusted.adjusted?.delta).toBeGreaterThan(0.17);
    expect(adjusted.adjusted?.delta).toBeLessThan(0.23);
    expect(adjusted.adjusted?.slope).toBe(1);
    expect(adjusted.adjusted?.rawPValue).toBe(raw.pValue);
    // The figures users read stay raw.
    expect(adjusted.current).toBe(raw.current);
    expect(adjusted.baseline).toBe(raw.baseline);
    expect(adjusted.delta).toBe(raw.delta);
  });

  it('leaves an unchanged run on a slow machine unflagged', () => {
    // Act: the machine is 1.5x slow, the code unchanged: raw +30% against the baseline.
    const adjusted = compare(1, { adjust: CPU });
    // Assess
    expect(adjusted.delta).toBeGreaterThan(0.25);
    expect(Math.abs(adjusted.adjusted?.delta ?? 1)).toBeLessThan(0.03);
    expect(adjusted.verdict).toBe('unchanged');
  });

  it('multiplies throughputs by the reference (exponent -1) and leaves sizes alone', () => {
    // Act: a rate that falls as the machine slows, 1/1.2 of it on top.
    const rate = compare(1 / 1.2, { adjust: CPU }, 'msg/s', (f) => 1000 / f);
    const bytes = compare(1.2, { adjust: CPU }, 'bytes', () => 5000);
    // Assess
    expect(referenceExponent('msg/s')).toBe(-1);
    expect(rate.adjusted?.slope).toBe(-1);
    expect(rate.adjusted?.delta).toBeCloseTo(1 / 1.2 - 1, 1);
    expect(rate.verdict).toBe('regression');
    expect(referenceExponent('bytes')).toBe(0);
    expect(bytes.adjusted).toBeUndefined();
    expect(bytes.verdict).toBe('regression');
  });

  it("with slope 'fit' estimates how strongly a series follows the reference", () => {
    // Act: a series that grows with the square root of the machine's slowness.
    const fitted = compare(1.2, { adjust: FIT }, 'ms', (f) => 10 * Math.sqrt(f));
    const unchanged = compare(1, { adjust: FIT }, 'ms', (f) => 10 * Math.sqrt(f));
    // Assess
    expect(fitted.adjusted?.slope).toBeGreaterThan(0.4);
    expect(fitted.adjusted?.slope).toBeLessThan(0.6);
    expect(fitted.adjusted?.delta).toBeGreaterThan(0.15);
    expect(fitted.adjusted?.delta).toBeLessThan(0.25);
    expect(fitted.verdict).toBe('regression');
    expect(unchanged.verdict).toBe('unchanged');
  });

  it('judges a row raw when one of its runs has no reference', () => {
    // Act
    const row = compare(1.2, { adjust: CPU }, 'ms', (f) => 10 * f, 3);
    // Assess
    expect(row.adjusted).toBeUndefined();
    expect(row.verdict).toBe('large-but-not-significant');
  });

  it('refuses an adjustment it does not know, naming the field', () => {
    expect(() =>
      compare(1, { adjust: { reference: 'gpu', statistic: 'mean', slope: 'unit' } as never }),
    ).toThrow(InvalidInputError);
    expect(() => compare(1, { adjust: { ...CPU, slope: 'log' } as never })).toThrow(/^adjust: null or/);
  });
});

describe('adjustedTest', () => {
  it('gives exact answers when the medians follow the reference exactly', () => {
    // Arrange: ratios 100, 100, 100 with no within-run spread.
    const adjustment = { slope: 1, earlier: [1, 2, 0.5] } as const;
    // Act
    const slower = adjustedTest(120, [100, 200, 50], [], { ...adjustment, current: 1 });
    const same = adjustedTest(200, [100, 200, 50], [], { ...adjustment, current: 2 });
    // Assess
    expect(slower).toEqual({
      pValue: 0,
      z: Number.POSITIVE_INFINITY,
      delta: expect.closeTo(0.2, 12),
      slope: 1,
    });
    expect(same).toEqual({ pValue: 1, z: 0, delta: 0, slope: 1 });
  });

  it("fits the line through the runs ('fit') and tests the distance from it", () => {
    // Arrange: ln m = ln 10 + 0.5 ln r exactly, so the fitted slope is 0.5 and the residuals 0.
    const references = [1, 4, 9, 16];
    const perRun = references.map((r) => 10 * Math.sqrt(r));
    // Act
    const onLine = adjustedTest(10 * Math.sqrt(25), perRun, [], {
      slope: 'fit',
      earlier: references,
      current: 25,
    });
    const off = adjustedTest(12 * Math.sqrt(25), perRun, [], {
      slope: 'fit',
      earlier: references,
      current: 25,
    });
    // Assess
    expect(onLine?.slope).toBeCloseTo(0.5, 12);
    expect(onLine?.delta).toBeCloseTo(0, 12);
    expect(off?.delta).toBeCloseTo(0.2, 12);
    expect(off?.pValue).toBe(0);
    // Two runs leave no degrees of freedom for a line; references that do not vary give no slope.
    expect(adjustedTest(10, [10, 20], [], { slope: 'fit', earlier: [1, 2], current: 1 })).toBeNull();
    expect(adjustedTest(10, [10, 20, 30], [], { slope: 'fit', earlier: [1, 1, 1], current: 1 })).toBeNull();
  });
});
