import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../lib/errors.ts';
import { loadCsv, parseCsv } from '../../lib/trading/index.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/trading/${name}`, import.meta.url));

const HEADER = 'timestamp,open,high,low,close,volume';
/** Six good rows after the header, one minute apart; the 6th data row is file row 7. */
const GOOD_ROWS = [
  '2024-03-01T00:00:00Z,10,11,9,10.5,100',
  '2024-03-01T00:01:00Z,10.5,11,10,10.8,110',
  '2024-03-01T00:02:00Z,10.8,11.2,10.6,11,90',
  '2024-03-01T00:03:00Z,11,11.5,10.9,11.4,120',
  '2024-03-01T00:04:00Z,11.4,11.6,11,11.1,80',
  '2024-03-01T00:05:00Z,11.1,11.3,10.7,10.9,95',
];

function csvWithRow7(row7: string): string {
  return [HEADER, ...GOOD_ROWS.slice(0, 5), row7].join('\n');
}

function errorOf(act: () => unknown): InvalidInputError {
  try {
    act();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInputError);
    return error as InvalidInputError;
  }
  throw new Error('expected an InvalidInputError');
}

describe('parseCsv happy paths', () => {
  it('loads a daily file with mixed-case columns in any order, ISO dates and an extra column', async () => {
    // Act
    const bars = await loadCsv(fixture('ohlcv-daily.csv'));

    // Assess
    expect(bars).toHaveLength(4);
    expect(bars[0]).toEqual({
      t: Date.UTC(2024, 0, 2),
      open: 100,
      high: 102,
      low: 99.5,
      close: 101.5,
      volume: 12000,
    });
    expect(bars[3]).toEqual({
      t: Date.UTC(2024, 0, 5),
      open: 103,
      high: 103.25,
      low: 101,
      close: 102,
      volume: 8000,
    });
  });

  it('reads epoch seconds, CRLF line ends, zero and fractional volume', async () => {
    // Act
    const bars = await loadCsv(fixture('ohlcv-epoch-seconds.csv'));

    // Assess
    expect(bars.map((bar) => bar.t)).toEqual([1704186000_000, 1704186060_000, 1704186120_000]);
    expect(bars.map((bar) => bar.volume)).toEqual([100, 0, 340.5]);
  });

  it('treats epoch milliseconds and seconds alike, and zone-less date-times as UTC', () => {
    // Prepare
    const text = [
      'Time,Open,High,Low,Close,Volume',
      '1704186000000,1,1,1,1,1',
      '1704186060,1,1,1,1,1',
      '2024-01-02 09:02:00,1,1,1,1,1',
      '2024-01-02T10:03:00+01:00,1,1,1,1,1',
      '2024-01-02T09:04:00.500Z,1,1,1,1,1',
      '2024-01-02T10:05:00+0100,1,1,1,1,1',
    ].join('\n');

    // Act
    const bars = parseCsv(text);

    // Assess
    expect(bars.map((bar) => bar.t)).toEqual([
      Date.UTC(2024, 0, 2, 9, 0),
      Date.UTC(2024, 0, 2, 9, 1),
      Date.UTC(2024, 0, 2, 9, 2),
      Date.UTC(2024, 0, 2, 9, 3),
      Date.UTC(2024, 0, 2, 9, 4, 0, 500),
      Date.UTC(2024, 0, 2, 9, 5),
    ]);
  });

  it('tolerates a BOM, quoted fields, spaces and blank lines', () => {
    // Prepare
    const text = `\uFEFF"Date", "Open","High","Low","Close","Volume"\n\n "2024-01-02" ,"1.5","2","1","1.75","10"\n\n`;

    // Act
    const bars = parseCsv(text);

    // Assess
    expect(bars).toEqual([{ t: Date.UTC(2024, 0, 2), open: 1.5, high: 2, low: 1, close: 1.75, volume: 10 }]);
  });
});

describe('parseCsv malformed input', () => {
  it.each([
    ['a non-numeric close', '2024-03-01T00:05:00Z,11.1,11.3,10.7,abc,95', 'csv row 7 column "close"'],
    ['a negative price', '2024-03-01T00:05:00Z,-11.1,11.3,10.7,10.9,95', 'csv row 7 column "open"'],
    ['a negative volume', '2024-03-01T00:05:00Z,11.1,11.3,10.7,10.9,-5', 'csv row 7 column "volume"'],
    ['an empty field', '2024-03-01T00:05:00Z,11.1,,10.7,10.9,95', 'csv row 7 column "high"'],
    ['a short row', '2024-03-01T00:05:00Z,11.1,11.3,10.7', 'csv row 7 column "close"'],
    ['high below low', '2024-03-01T00:05:00Z,11.1,10.5,10.7,10.9,95', 'csv row 7 column "high"'],
    ['high below close', '2024-03-01T00:05:00Z,11.1,11.3,10.7,11.5,95', 'csv row 7 column "high"'],
    ['low above open', '2024-03-01T00:05:00Z,10.8,11.3,10.85,10.9,95', 'csv row 7 column "low"'],
    [
      'a timestamp out of order',
      '2024-03-01T00:03:30Z,11.1,11.3,10.7,10.9,95',
      'csv row 7 column "timestamp"',
    ],
    ['a duplicate timestamp', '2024-03-01T00:04:00Z,11.1,11.3,10.7,10.9,95', 'csv row 7 column "timestamp"'],
    ['an unreadable date', 'March 1st,11.1,11.3,10.7,10.9,95', 'csv row 7 column "timestamp"'],
    ['an impossible date', '2024-02-31T00:00:00Z,11.1,11.3,10.7,10.9,95', 'csv row 7 column "timestamp"'],
  ])('names row and column for %s', (_what, row7, field) => {
    // Act
    const error = errorOf(() => parseCsv(csvWithRow7(row7)));

    // Assess
    expect(error.field).toBe(field);
  });

  it('names the missing column on the header row', () => {
    // Act
    const error = errorOf(() => parseCsv('date,open,high,low,volume\n2024-01-02,1,1,1,1'));

    // Assess
    expect(error.field).toBe('csv row 1 column "close"');
    expect(error.message).toContain('open, high, low, close, volume');
  });

  it('rejects a header without a time column and one with two', () => {
    // Act
    const none = errorOf(() => parseCsv('open,high,low,close,volume\n1,1,1,1,1'));
    const two = errorOf(() => parseCsv('date,time,open,high,low,close,volume\n2024-01-02,1,1,1,1,1,1'));

    // Assess
    expect(none.field).toBe('csv row 1 column "timestamp"');
    expect(none.allowed).toContain('timestamp, time, date');
    expect(two.allowed).toBe('exactly one time column');
  });

  it('rejects a repeated column', () => {
    // Act
    const error = errorOf(() => parseCsv('date,open,high,low,close,close,volume\n2024-01-02,1,1,1,1,1,1'));

    // Assess
    expect(error.field).toBe('csv row 1 column "close"');
  });

  it.each([
    ['an empty file', ''],
    ['only blank lines', '\n  \n'],
    ['a header without rows', `${HEADER}\n\n`],
  ])('rejects %s', (_what, text) => {
    // Act
    const error = errorOf(() => parseCsv(text, { source: 'data/empty.csv' }));

    // Assess
    expect(error.field).toBe('data/empty.csv');
  });

  it('counts blank lines in row numbers and prefixes the source', () => {
    // Prepare
    const text = `${HEADER}\n${GOOD_ROWS[0]}\n\n${GOOD_ROWS[1]!.replace('10.8,110', 'x,110')}`;

    // Act
    const error = errorOf(() => parseCsv(text, { source: 'prices.csv' }));

    // Assess
    expect(error.field).toBe('prices.csv row 4 column "close"');
    expect(error.received).toBe('x');
  });

  it('turns a missing file into InvalidInputError naming the path', async () => {
    // Prepare
    const path = fixture('no-such-file.csv');

    // Act
    const result = loadCsv(path);

    // Assess
    await expect(result).rejects.toBeInstanceOf(InvalidInputError);
    await expect(result).rejects.toMatchObject({ field: 'csv path', received: path });
  });
});
