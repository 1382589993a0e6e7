/**
 * Read a results file of any size in bounded memory. The file is read in chunks; every array of
 * numbers under a "samples" or "warmup" key is parsed straight into a Float64Array as it streams
 * by, and the rest of the document (small: names, labels, figures, metadata) is kept as text and
 * parsed and validated by parseResultsFile as usual.
 *
 * The cap, stated: a series longer than `maxSamples` keeps `maxSamples` evenly spaced samples
 * (sample i is kept when floor((i + 1) * max / n) > floor(i * max / n), so the first kept sample
 * is at most n / max from the start and the kept ones are spread over the whole series, in
 * order). The series then carries `thinned: { inFile, kept, rule }`, which the JSON report
 * repeats, so it says exactly what was dropped. Series at or under the cap keep every raw sample.
 *
 * Every sample is checked while streaming (before any thinning): a null (how JSON writes NaN), an
 * infinite value (1e999), a negative value, or a time beyond the physical range is refused with
 * the field's path, and the report is not rendered.
 */

import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { RunResults } from '../bench/model.ts';
import { InvalidInputError } from '../errors.ts';
import { resultsFromJson, timeLimit } from './load.ts';

/** Default samples kept per series by `report` (and the --max-samples flag's default). */
export const DEFAULT_MAX_SAMPLES = 10_000;

export const THINNING_RULE =
  'evenly spaced: sample i of n is kept when floor((i+1)*kept/n) > floor(i*kept/n)';

/** What one streamed sample array held, before thinning. */
interface ArrayRecord {
  key: 'samples' | 'warmup';
  count: number;
  kept: number[];
  /** First value that is not a finite number (null, 1e999, a string ...), with its index. */
  invalid?: { index: number; token: string };
  negative?: { index: number; value: number };
  max?: { index: number; value: number };
}

const KEYS = ['samples', 'warmup'] as const;

/** Scan state for the sample arrays; everything outside them is copied to the skeleton text. */
class Scanner {
  readonly arrays: ArrayRecord[] = [];
  skeleton: string[] = [];
  private inString = false;
  private escaped = false;
  private stringStart = -1;
  private currentString: string[] = [];
  /** A key just closed that names a sample array; waiting for ':' then '['. */
  private pendingKey: 'samples' | 'warmup' | undefined;
  private sawColon = false;
  /** Inside a number array: the record and the token being read. */
  private array: { record: ArrayRecord; all: Float64Array; length: number; token: string } | undefined;
  /** After '[' of a sample array, before its first non-blank character. */
  private opened: 'samples' | 'warmup' | undefined;

  constructor(
    private readonly maxSamples: number,
    private readonly nonce: string,
  ) {}

  feed(chunk: string): void {
    let copyFrom = 0;
    const flush = (to: number) => {
      // A copy, not a slice: a slice would keep its whole 1 MiB chunk alive.
      if (to > copyFrom) this.skeleton.push(Buffer.from(chunk.slice(copyFrom, to)).toString());
    };
    // Where the next ']' is (found once per array end, not once per sample).
    let close = -2;
    for (let i = 0; i < chunk.length; i++) {
      if (this.array) {
        // Number mode: the text up to the next ',' or ']' is one token.
        if (close !== -1 && close < i) close = chunk.indexOf(']', i);
        const comma = chunk.indexOf(',', i);
        const end = comma === -1 ? close : close === -1 ? comma : Math.min(comma, close);
        if (end === -1) {
          this.array.token += chunk.slice(i);
          if (this.array.token.length > 400) this.endToken();
          break;
        }
        this.array.token += chunk.slice(i, end);
        this.endToken();
        if (end === close) {
          this.closeArray();
          copyFrom = end + 1;
        }
        i = end;
        continue;
      }
      const c = chunk.charCodeAt(i);
      if (this.opened) {
        if (c === 32 || c === 10 || c === 13 || c === 9) continue;
        const key = this.opened;
        this.opened = undefined;
        if (
          c === 93 /* ] */ ||
          c === 45 ||
          c === 110 /* n */ ||
          (c >= 48 && c <= 57) ||
          c === 43 ||
          c === 46
        ) {
          // A number array: replaced in the skeleton by a placeholder string.
          const record: ArrayRecord = { key, count: 0, kept: [] };
          this.arrays.push(record);
          this.skeleton.push(`"\\u0000${this.nonce}:${this.arrays.length - 1}"`);
          this.array = { record, all: new Float64Array(1024), length: 0, token: '' };
          if (c === 93) {
            this.closeArray();
            copyFrom = i + 1;
          } else {
            this.array.token = chunk[i] as string;
          }
          continue;
        }
        // Not numbers (objects, strings): keep the array in the skeleton as it is.
        this.skeleton.push('[');
        copyFrom = i;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 92 /* \ */) this.escaped = true;
        else if (c === 34 /* " */) {
          this.inString = false;
          this.currentString.push(chunk.slice(Math.max(this.stringStart, 0), i));
          const text = this.currentString.join('');
          this.pendingKey = (KEYS as readonly string[]).includes(text) ? (text as 'samples') : undefined;
          this.sawColon = false;
          this.currentString = [];
        }
        continue;
      }
      if (c === 34) {
        this.inString = true;
        this.stringStart = i + 1;
        this.currentString = [];
        continue;
      }
      if (c === 32 || c === 10 || c === 13 || c === 9) continue;
      if (this.pendingKey && c === 58 /* : */ && !this.sawColon) {
        this.sawColon = true;
        continue;
      }
      if (this.pendingKey && this.sawColon && c === 91 /* [ */) {
        flush(i);
        this.opened = this.pendingKey;
        this.pendingKey = undefined;
        copyFrom = i + 1;
        continue;
      }
      this.pendingKey = undefined;
    }
    if (this.inString) {
      // Keep the part of an open string for the key check after the next chunk.
      this.currentString.push(chunk.slice(Math.max(this.stringStart, 0)));
      this.stringStart = 0;
    }
    if (!this.array && !this.opened) flush(chunk.length);
  }

  private endToken(): void {
    const state = this.array;
    if (!state || state.token === '') return;
    const { record } = state;
    const token = state.token.trim();
    state.token = '';
    if (token === '') return;
    const index = record.count++;
    const value = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/.test(token) ? Number(token) : Number.NaN;
    if (!Number.isFinite(value)) {
      record.invalid ??= { index, token: token.slice(0, 40) };
      return;
    }
    if (value < 0) record.negative ??= { index, value };
    if (record.max === undefined || value > record.max.value) record.max = { index, value };
    if (state.length === state.all.length) {
      const grown = new Float64Array(state.all.length * 2);
      grown.set(state.all);
      state.all = grown;
    }
    state.all[state.length++] = value;
  }

  private closeArray(): void {
    const state = this.array;
    if (!state) return;
    this.endToken();
    const n = state.length;
    const max = this.maxSamples;
    if (n <= max) state.record.kept = Array.from(state.all.subarray(0, n));
    else {
      const kept: number[] = [];
      for (let i = 0; i < n; i++) {
        if (Math.floor(((i + 1) * max) / n) > Math.floor((i * max) / n)) kept.push(state.all[i] as number);
      }
      state.record.kept = kept;
    }
    this.array = undefined;
  }

  done(): boolean {
    return this.array === undefined && this.opened === undefined;
  }
}

/** Read and validate a results file; sample arrays streamed, capped at `maxSamples` per series. */
export async function readResultsFile(
  path: string,
  options: { maxSamples?: number; source?: string } = {},
): Promise<{ run: RunResults; thinned: number }> {
  const source = options.source ?? path;
  const maxSamples = options.maxSamples ?? DEFAULT_MAX_SAMPLES;
  const nonce = randomBytes(8).toString('hex');
  const scanner = new Scanner(maxSamples, nonce);
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 });
  try {
    for await (const chunk of stream) scanner.feed(chunk as string);
  } catch (error) {
    throw new InvalidInputError('results file', 'a readable file', `${path}: ${(error as Error).message}`);
  }
  if (!scanner.done())
    throw new InvalidInputError(source, 'valid JSON', 'the file ends inside a sample array');
  // Put the (kept) arrays back where their placeholders are.
  const marker = new RegExp(`^\\u0000${nonce}:(\\d+)$`);
  const reviver = (_key: string, value: unknown) => {
    const match = typeof value === 'string' ? marker.exec(value) : null;
    return match ? (scanner.arrays[Number(match[1])] as ArrayRecord).kept : value;
  };
  let raw: unknown;
  try {
    raw = JSON.parse(scanner.skeleton.join(''), reviver);
  } catch (error) {
    throw new InvalidInputError(source, 'valid JSON', (error as Error).message);
  }
  const thinned = checkSamples(raw, scanner.arrays, source);
  return { run: resultsFromJson(raw, source), thinned };
}

/**
 * Every streamed sample finite, non-negative and, for times, within the physical range (the
 * first violation named by its path); series whose samples were capped get `thinned`. Returns
 * how many were capped.
 */
function checkSamples(raw: unknown, arrays: readonly ArrayRecord[], source: string): number {
  let thinned = 0;
  const byArray = new Map<number[], ArrayRecord>(arrays.map((a) => [a.kept, a]));
  const visit = (value: unknown, path: string[]): void => {
    if (Array.isArray(value)) {
      for (const [i, item] of value.entries()) visit(item, [...path, String(i)]);
      return;
    }
    if (value === null || typeof value !== 'object') return;
    const object = value as Record<string, unknown>;
    for (const key of KEYS) {
      const array = object[key];
      const record = Array.isArray(array) ? byArray.get(array as number[]) : undefined;
      if (!record) continue;
      const where = (index: number) => `${source} at ${[...path, key, String(index)].join('.')}`;
      if (record.invalid) {
        throw new InvalidInputError(
          where(record.invalid.index),
          'a finite number (NaN is written as null, an infinity as a number too large for a double)',
          record.invalid.token,
        );
      }
      if (record.negative) {
        throw new InvalidInputError(
          where(record.negative.index),
          'a sample of at least 0',
          record.negative.value,
        );
      }
      const limit = typeof object.unit === 'string' ? timeLimit(object.unit) : undefined;
      if (limit !== undefined && record.max && record.max.value > limit.max) {
        throw new InvalidInputError(where(record.max.index), limit.allowed, record.max.value);
      }
      if (key === 'samples' && record.count > record.kept.length) {
        object.thinned = { inFile: record.count, kept: record.kept.length, rule: THINNING_RULE };
        thinned++;
      }
    }
    for (const [key, child] of Object.entries(object)) {
      if (
        !(KEYS as readonly string[]).includes(key) ||
        !Array.isArray(child) ||
        !byArray.has(child as number[])
      )
        visit(child, [...path, key]);
    }
  };
  visit(raw, []);
  return thinned;
}
