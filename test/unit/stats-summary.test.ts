import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../lib/errors.ts';
import { LatencyRecorder, summarize } from '../../lib/stats/summary.ts';

// Reference: numpy mean / std(ddof=1) / percentile (linear); the median interval is the 2nd and 9th
// order statistics, the ranks scipy.stats.binom gives for n = 10 at 95% (coverage 97.85%).
const SAMPLES = [4.2, 3.9, 5.1, 4.8, 4.4, 6.0, 3.7, 4.9, 5.3, 4.1];

describe('summarize', () => {
  it('computes mean, sample sd, type-7 quantiles, the median interval and cv', () => {
    // Act
    const summary = summarize(SAMPLES, { warmupDiscarded: 3 });
    // Assess
    expect(summary.count).toBe(10);
    expect(summary.mean).toBeCloseTo(4.64, 12);
    expect(summary.sd).toBeCloseTo(0.712117343638751, 12);
    expect(summary.min).toBe(3.7);
    expect(summary.max).toBe(6.0);
    expect(summary.p50).toBeCloseTo(4.6, 12);
    expect(summary.p95).toBeCloseTo(5.685, 12);
    expect(summary.p99).toBeCloseTo(5.937, 12);
    expect(summary.medianCi).toEqual([3.9, 5.3]);
    expect(summary.cv).toBeCloseTo(0.153473565439386, 12);
    expect(summary.warmupDiscarded).toBe(3);
  });

  it('does not reorder the caller array', () => {
    // Prepare
    const samples = [3, 1, 2];
    // Act
    summarize(samples);
    // Assess
    expect(samples).toEqual([3, 1, 2]);
  });

  it('gives NaN statistics for no samples, and no sd, cv or interval for one', () => {
    // Act
    const empty = summarize([]);
    const single = summarize([7.5]);
    // Assess
    expect(empty.count).toBe(0);
    expect(empty.mean).toBeNaN();
    expect(empty.p99).toBeNaN();
    expect(empty.medianCi).toBeNull();
    expect(empty.warmupDiscarded).toBe(0);
    expect(single).toMatchObject({ count: 1, mean: 7.5, min: 7.5, max: 7.5, p50: 7.5, medianCi: null });
    expect(single.sd).toBeNaN();
    expect(single.cv).toBeNaN();
  });

  it('gives a median interval from 6 samples on, within the range of the samples', () => {
    // Act
    const five = summarize([5, 1, 4, 2, 3]);
    const six = summarize([0.2, 900, 0.1, 3, 7, 1]);
    // Assess: a skewed sample that a t interval of the mean takes below 0
    expect(five.medianCi).toBeNull();
    expect(six.medianCi).toEqual([0.1, 900]);
  });

  it('reports cv 0 when the mean is 0', () => {
    // Act
    const summary = summarize([-1, 1]);
    // Assess
    expect(summary.cv).toBe(0);
    expect(summary.sd).toBeCloseTo(Math.SQRT2, 12);
  });

  it('rejects non-finite samples and bad warm-up counts', () => {
    // Act / Assess
    expect(() => summarize([1, Number.NaN])).toThrow(InvalidInputError);
    expect(() => summarize([1, Number.POSITIVE_INFINITY])).toThrow(/samples\[1\]/);
    expect(() => summarize([1], { warmupDiscarded: -1 })).toThrow(InvalidInputError);
    expect(() => summarize([1], { warmupDiscarded: 1.5 })).toThrow(InvalidInputError);
  });
});

function pseudoRandomLatencies(count: number, seed: number): number[] {
  // Deterministic LCG so the tests need no fixtures; spread 0.05 ms - ~500 ms like real latencies.
  let state = seed;
  const values: number[] = [];
  for (let i = 0; i < count; i++) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    values.push(Math.round(0.05 * Math.exp((state / 2 ** 31) * 9) * 1000) / 1000);
  }
  return values;
}

describe('LatencyRecorder', () => {
  it('matches summarize exactly on count, mean, sd, min and max, the median interval within resolution', () => {
    // Prepare
    const values = pseudoRandomLatencies(2000, 42);
    const recorder = new LatencyRecorder();
    // Act
    recorder.recordAll(values);
    const fromHistogram = recorder.summary({ warmupDiscarded: 5 });
    const exact = summarize(values);
    // Assess
    expect(fromHistogram.count).toBe(2000);
    expect(fromHistogram.mean).toBeCloseTo(exact.mean, 9);
    expect(fromHistogram.sd).toBeCloseTo(exact.sd, 9);
    expect(fromHistogram.min).toBe(exact.min);
    expect(fromHistogram.max).toBe(exact.max);
    const [low, high] = fromHistogram.medianCi!;
    expect(Math.abs(low - exact.medianCi![0])).toBeLessThanOrEqual(exact.medianCi![0] * 1e-3 + 1e-3);
    expect(Math.abs(high - exact.medianCi![1])).toBeLessThanOrEqual(exact.medianCi![1] * 1e-3 + 1e-3);
    expect(fromHistogram.warmupDiscarded).toBe(5);
  });

  it('gives percentiles within the histogram resolution of the exact nearest rank', () => {
    // Prepare
    const values = pseudoRandomLatencies(2000, 7);
    const sorted = [...values].sort((a, b) => a - b);
    const recorder = new LatencyRecorder().recordAll(values);
    // Act
    const summary = recorder.summary();
    // Assess: nearest rank = the ceil(p * n)-th smallest value, 0.1% relative at 3 digits.
    for (const [p, got] of [
      [0.5, summary.p50],
      [0.95, summary.p95],
      [0.99, summary.p99],
    ] as const) {
      const expected = sorted[Math.ceil(p * sorted.length) - 1]!;
      expect(Math.abs(got - expected) / expected).toBeLessThanOrEqual(1e-3 + 1e-9);
    }
  });

  it('keeps microsecond resolution for sub-millisecond values', () => {
    // Prepare
    const recorder = new LatencyRecorder();
    // Act
    recorder.recordAll([0.123, 0.456, 0.789]);
    // Assess
    expect(recorder.percentileMs(50)).toBeCloseTo(0.456, 12);
    expect(recorder.percentileMs(100)).toBeCloseTo(0.789, 12);
  });

  it('merging recorders equals recording all values in one', () => {
    // Prepare
    const first = pseudoRandomLatencies(700, 1);
    const second = pseudoRandomLatencies(300, 2).map((value) => value * 40);
    const merged = new LatencyRecorder().recordAll(first);
    const other = new LatencyRecorder().recordAll(second);
    const single = new LatencyRecorder().recordAll([...first, ...second]);
    // Act
    merged.add(other);
    // Assess
    const a = merged.summary();
    const b = single.summary();
    expect(a.count).toBe(1000);
    expect(a.p50).toBe(b.p50);
    expect(a.p95).toBe(b.p95);
    expect(a.p99).toBe(b.p99);
    expect(a.min).toBe(b.min);
    expect(a.max).toBe(b.max);
    expect(a.mean).toBeCloseTo(b.mean, 9);
    expect(a.sd).toBeCloseTo(b.sd, 9);
    expect(other.count).toBe(300);
  });

  it('merging into an empty recorder and adding an empty one change nothing else', () => {
    // Prepare
    const values = [1.5, 2.5, 3.5];
    const target = new LatencyRecorder();
    // Act
    target.add(new LatencyRecorder().recordAll(values)).add(new LatencyRecorder());
    // Assess
    expect(target.summary()).toMatchObject({ count: 3, mean: 2.5, min: 1.5, max: 3.5 });
    expect(target.summary().sd).toBeCloseTo(1, 12);
  });

  it('round-trips through toJSON / fromJSON and keeps recording and merging afterwards', () => {
    // Prepare
    const values = pseudoRandomLatencies(500, 9);
    const original = new LatencyRecorder().recordAll(values);
    // Act
    const serialised = original.toJSON();
    const restored = LatencyRecorder.fromJSON(serialised);
    // Assess
    expect(typeof serialised).toBe('string');
    expect(restored.summary()).toEqual(original.summary());
    restored.record(10_000).add(original);
    expect(restored.count).toBe(1001);
    expect(restored.summary().max).toBe(10_000);
    expect(JSON.parse(JSON.stringify({ latency: original })).latency).toBe(serialised);
  });

  it('round-trips an empty recorder', () => {
    // Act
    const restored = LatencyRecorder.fromJSON(new LatencyRecorder().toJSON());
    // Assess
    expect(restored.count).toBe(0);
    expect(restored.summary().mean).toBeNaN();
    expect(restored.record(2).summary().min).toBe(2);
  });

  it('rejects negative or non-finite values, bad JSON and mismatched resolutions', () => {
    // Prepare
    const recorder = new LatencyRecorder();
    // Act / Assess
    expect(() => recorder.record(-1)).toThrow(InvalidInputError);
    expect(() => recorder.record(Number.NaN)).toThrow(InvalidInputError);
    expect(() => LatencyRecorder.fromJSON('{"v":1}')).toThrow(InvalidInputError);
    expect(() => LatencyRecorder.fromJSON('not json')).toThrow(InvalidInputError);
    const tampered = JSON.parse(new LatencyRecorder().recordAll([1, 2]).toJSON());
    tampered.count = 5;
    expect(() => LatencyRecorder.fromJSON(JSON.stringify(tampered))).toThrow(/count/);
    expect(() => recorder.add(new LatencyRecorder({ significantDigits: 2 }))).toThrow(InvalidInputError);
    expect(() => recorder.percentileMs(101)).toThrow(InvalidInputError);
  });
});
