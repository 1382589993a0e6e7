/**
 * Summaries of measured samples: exact ones from raw samples (`summarize`) and mergeable ones from
 * an HdrHistogram for high-volume recordings (`LatencyRecorder`). Both give the same `Summary`.
 */
import {
  build,
  decodeFromCompressedBase64,
  encodeIntoCompressedBase64,
  type Histogram,
} from 'hdr-histogram-js';
import { quantileSorted, sampleStandardDeviation, mean as ssMean } from 'simple-statistics';
import { InvalidInputError } from '../errors.ts';
import { minCountForQuantileInterval, quantileInterval, quantileRanks } from './intervals.ts';

/** Samples the 95% order-statistic interval of a median needs (6: 1 - 2 x 0.5^6 >= 0.95). */
export const MEDIAN_INTERVAL_MIN_COUNT = minCountForQuantileInterval(0.5);

/** Descriptive statistics of one series. Percentiles are in the samples' unit. */
export interface Summary {
  count: number;
  mean: number;
  /** Sample standard deviation (n - 1 denominator); NaN below 2 samples (it does not exist). */
  sd: number;
  min: number;
  max: number;
  p50: number;
  p95: number;
  p99: number;
  /**
   * Distribution-free 95% confidence interval of the median: two order statistics (see
   * quantileInterval), so never outside the samples' range (no negative bound for a time). Null
   * below MEDIAN_INTERVAL_MIN_COUNT samples, where no pair of order statistics reaches 95%.
   */
  medianCi: [number, number] | null;
  /** Coefficient of variation sd / mean; 0 when the mean is 0, NaN below 2 samples. */
  cv: number;
  /** Warm-up samples taken before these and left out of every statistic above. */
  warmupDiscarded: number;
}

/** Options shared by both summary producers. */
export interface SummaryOptions {
  /** How many warm-up samples were dropped before these samples (for traceability only). @default 0 */
  warmupDiscarded?: number;
}

/**
 * Summarise raw samples exactly. Quantiles use linear interpolation between order statistics
 * (R type 7, numpy's default): with 5-1000 samples it is continuous in p and well known, at the
 * price of interpolating values that were never observed.
 *
 * An empty input gives count 0 and NaN for every statistic (a unit that measured nothing must not
 * look like a zero-latency one); a single sample has no sd, cv (NaN) or interval (null): one value
 * says nothing of the spread, and [x, x] or a CV of 0 would claim it is none.
 */
export function summarize(samples: readonly number[], options: SummaryOptions = {}): Summary {
  const warmupDiscarded = checkWarmup(options.warmupDiscarded);
  samples.forEach((value, index) => {
    if (!Number.isFinite(value)) throw new InvalidInputError(`samples[${index}]`, 'a finite number', value);
  });
  const count = samples.length;
  if (count === 0) return emptySummary(warmupDiscarded);
  const sorted = [...samples].sort((x, y) => x - y);
  const mean = ssMean(sorted);
  const sd = count > 1 ? sampleStandardDeviation(sorted) : Number.NaN;
  const interval = quantileInterval(sorted, 0.5);
  return {
    count,
    mean,
    sd,
    min: sorted[0]!,
    max: sorted[count - 1]!,
    p50: quantileSorted(sorted, 0.5),
    p95: quantileSorted(sorted, 0.95),
    p99: quantileSorted(sorted, 0.99),
    medianCi: interval.low !== null && interval.high !== null ? [interval.low, interval.high] : null,
    cv: coefficientOfVariation(mean, sd),
    warmupDiscarded,
  };
}

function emptySummary(warmupDiscarded: number): Summary {
  const nan = Number.NaN;
  return {
    count: 0,
    mean: nan,
    sd: nan,
    min: nan,
    max: nan,
    p50: nan,
    p95: nan,
    p99: nan,
    medianCi: null,
    cv: nan,
    warmupDiscarded,
  };
}

function checkWarmup(value: number | undefined): number {
  if (value === undefined) return 0;
  if (!Number.isInteger(value) || value < 0) {
    throw new InvalidInputError('warmupDiscarded', 'an integer >= 0', value);
  }
  return value;
}

function coefficientOfVariation(mean: number, sd: number): number {
  if (Number.isNaN(sd)) return Number.NaN;
  return mean === 0 ? 0 : sd / Math.abs(mean);
}

const MICROS_PER_MS = 1000;
const SERIAL_VERSION = 1;

/** Options of a LatencyRecorder. */
export interface LatencyRecorderOptions {
  /** Decimal digits of value resolution the histogram keeps (relative error 10^-digits). @default 3 */
  significantDigits?: 1 | 2 | 3 | 4 | 5;
}

interface SerialisedRecorder {
  v: number;
  digits: number;
  count: number;
  meanMs: number;
  m2: number;
  minMs: number | null;
  maxMs: number | null;
  histogram: string;
}

/**
 * Records many latencies (in ms, at microsecond resolution) in an HdrHistogram, merges recorders
 * from different workers and serialises to a compact string that crosses Lambda boundaries.
 *
 * Count, mean, sd, min and max are tracked exactly alongside the histogram (Welford's running
 * moments, merged with Chan's formula), so they match `summarize` on the same values; only the
 * percentiles come from the histogram: they are nearest-rank values, within 10^-digits relative
 * error (exact below 2.048 ms at 3 digits), not the interpolated ones `summarize` gives.
 */
export class LatencyRecorder {
  readonly significantDigits: 1 | 2 | 3 | 4 | 5;
  private histogram: Histogram;
  private n = 0;
  private meanMs = 0;
  private m2 = 0;
  private minMs = Number.POSITIVE_INFINITY;
  private maxMs = Number.NEGATIVE_INFINITY;

  constructor(options: LatencyRecorderOptions = {}) {
    const digits = options.significantDigits ?? 3;
    if (![1, 2, 3, 4, 5].includes(digits)) {
      throw new InvalidInputError('significantDigits', 'an integer from 1 to 5', digits);
    }
    this.significantDigits = digits;
    this.histogram = newHistogram(digits);
  }

  /** Number of values recorded. */
  get count(): number {
    return this.n;
  }

  /** Record one latency in milliseconds (>= 0, finite). */
  record(valueMs: number): this {
    if (!Number.isFinite(valueMs) || valueMs < 0) {
      throw new InvalidInputError('valueMs', 'a finite number of milliseconds >= 0', valueMs);
    }
    this.histogram.recordValue(Math.round(valueMs * MICROS_PER_MS));
    this.n += 1;
    const delta = valueMs - this.meanMs;
    this.meanMs += delta / this.n;
    this.m2 += delta * (valueMs - this.meanMs);
    if (valueMs < this.minMs) this.minMs = valueMs;
    if (valueMs > this.maxMs) this.maxMs = valueMs;
    return this;
  }

  /** Record several latencies in milliseconds. */
  recordAll(valuesMs: Iterable<number>): this {
    for (const value of valuesMs) this.record(value);
    return this;
  }

  /** Merge another recorder's values into this one (the other is left unchanged). */
  add(other: LatencyRecorder): this {
    if (other.significantDigits !== this.significantDigits) {
      throw new InvalidInputError(
        'other.significantDigits',
        `the same resolution as this recorder (${this.significantDigits})`,
        other.significantDigits,
      );
    }
    if (other.n === 0) return this;
    this.histogram.add(other.histogram);
    const total = this.n + other.n;
    const delta = other.meanMs - this.meanMs;
    this.meanMs += (delta * other.n) / total;
    this.m2 += other.m2 + (delta * delta * this.n * other.n) / total;
    this.n = total;
    this.minMs = Math.min(this.minMs, other.minMs);
    this.maxMs = Math.max(this.maxMs, other.maxMs);
    return this;
  }

  /** The same statistics as `summarize`; see the class comment for how percentiles differ. */
  summary(options: SummaryOptions = {}): Summary {
    const warmupDiscarded = checkWarmup(options.warmupDiscarded);
    if (this.n === 0) return emptySummary(warmupDiscarded);
    const sd = this.n > 1 ? Math.sqrt(this.m2 / (this.n - 1)) : Number.NaN;
    return {
      count: this.n,
      mean: this.meanMs,
      sd,
      min: this.minMs,
      max: this.maxMs,
      p50: this.percentileMs(50),
      p95: this.percentileMs(95),
      p99: this.percentileMs(99),
      medianCi: this.medianInterval(),
      cv: coefficientOfVariation(this.meanMs, sd),
      warmupDiscarded,
    };
  }

  /** The order-statistic 95% interval of the median, its ranks read from the histogram. */
  private medianInterval(): [number, number] | null {
    if (this.n < MEDIAN_INTERVAL_MIN_COUNT) return null;
    const { lowRank, highRank } = quantileRanks(this.n, 0.5);
    if (lowRank === null || highRank === null) return null;
    return [this.percentileMs((100 * lowRank) / this.n), this.percentileMs((100 * highRank) / this.n)];
  }

  /** Value (ms) at a percentile in [0, 100]: nearest rank, clamped to the exact min and max. */
  percentileMs(percentile: number): number {
    if (!(percentile >= 0 && percentile <= 100)) {
      throw new InvalidInputError('percentile', 'a number from 0 to 100', percentile);
    }
    if (this.n === 0) return Number.NaN;
    // The histogram answers with the top of a bucket; clamp so p100 is never above the true max.
    const valueMs = this.histogram.getValueAtPercentile(percentile) / MICROS_PER_MS;
    return Math.min(this.maxMs, Math.max(this.minMs, valueMs));
  }

  /** A JSON string holding everything needed to rebuild and keep merging this recorder. */
  toJSON(): string {
    const data: SerialisedRecorder = {
      v: SERIAL_VERSION,
      digits: this.significantDigits,
      count: this.n,
      meanMs: this.meanMs,
      m2: this.m2,
      minMs: this.n === 0 ? null : this.minMs,
      maxMs: this.n === 0 ? null : this.maxMs,
      histogram: encodeIntoCompressedBase64(this.histogram),
    };
    return JSON.stringify(data);
  }

  /** Rebuild a recorder from `toJSON()` output. */
  static fromJSON(serialised: string): LatencyRecorder {
    const data = parseSerialised(serialised);
    const recorder = new LatencyRecorder({ significantDigits: data.digits as 1 | 2 | 3 | 4 | 5 });
    let histogram: Histogram;
    try {
      histogram = decodeFromCompressedBase64(data.histogram, 32, false);
    } catch (error) {
      throw new InvalidInputError('serialised.histogram', 'a compressed HdrHistogram (base64)', error);
    }
    if (histogram.totalCount !== data.count) {
      throw new InvalidInputError('serialised.count', 'the histogram total count', data.count);
    }
    histogram.autoResize = true;
    recorder.histogram = histogram;
    recorder.n = data.count;
    recorder.meanMs = data.meanMs;
    recorder.m2 = data.m2;
    recorder.minMs = data.minMs ?? Number.POSITIVE_INFINITY;
    recorder.maxMs = data.maxMs ?? Number.NEGATIVE_INFINITY;
    return recorder;
  }
}

function newHistogram(digits: 1 | 2 | 3 | 4 | 5): Histogram {
  // Pure JS on purpose: the WebAssembly build needs async initialisation per worker/Lambda and
  // would have to be freed with destroy(); at benchmark volumes the JS one is fast enough.
  return build({
    bitBucketSize: 32,
    autoResize: true,
    lowestDiscernibleValue: 1,
    numberOfSignificantValueDigits: digits,
    useWebAssembly: false,
  });
}

function parseSerialised(serialised: string): SerialisedRecorder {
  const allowed = 'a string produced by LatencyRecorder.toJSON()';
  let raw: unknown;
  try {
    raw = JSON.parse(serialised);
  } catch {
    throw new InvalidInputError('serialised', allowed, serialised);
  }
  const data = raw as Partial<SerialisedRecorder> | null;
  const finite = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
  const ok =
    data !== null &&
    typeof data === 'object' &&
    data.v === SERIAL_VERSION &&
    [1, 2, 3, 4, 5].includes(data.digits as number) &&
    Number.isInteger(data.count) &&
    (data.count as number) >= 0 &&
    finite(data.meanMs) &&
    finite(data.m2) &&
    (data.count === 0 || (finite(data.minMs) && finite(data.maxMs))) &&
    typeof data.histogram === 'string';
  if (!ok) throw new InvalidInputError('serialised', allowed, serialised);
  return data as SerialisedRecorder;
}
