/**
 * The hand-written peer-frame check must accept exactly what the protocol schema accepts, and
 * return what it returns: every frame kind valid, then each field replaced by wrong values, removed,
 * or joined by stray fields, and random mixtures of those.
 */
import { describe, expect, it } from 'vitest';
import { checkPeerFrame } from '../../lib/agent/frame-check.ts';
import { peerFrameSchema } from '../../lib/agent/protocol.ts';

const VALID: Record<string, unknown>[] = [
  { t: 'ping', src: 0, dst: 1, id: 7, path: [0] },
  { t: 'ping', src: 3, dst: 9, id: 1.5, path: [3, 4], p: 'xx', dn: [5] },
  { t: 'pong', src: 1, dst: 0, id: 7, path: [0, 1, 0], dn: [] },
  { t: 'vote', src: 3, dst: 0, pid: 1_000_001, action: 'buy', hops: 0 },
  { t: 'vote', src: 3, dst: 0, pid: 1_000_001, action: 'hold', hops: 2, c: 0.5, dn: [2] },
  { t: 'commit', origin: 0, pid: 1_000_001, decision: 'sell' },
  { t: 'cack', src: 4, dst: 0, pid: 9, hops: 1, at: '123456789012345' },
  { t: 'cack', src: 4, dst: 0, pid: 9, hops: 1, dn: [1, 2] },
  { t: 'sack', src: 2, dst: 0, ver: 3, hops: 1, dn: [1, 5], da: [5000, 0] },
  { t: 'sack', src: 2, dst: 0, ver: 3, hops: 0 },
  { t: 'prop', origin: 0, pid: 5, at: 500 },
  { t: 'prop', origin: 0, pid: 5 },
  {
    t: 'prop',
    origin: 1,
    pid: 5,
    window: { t: [1, 2], open: [1, 2], high: [1, 2], low: [1, 2], close: [1, 2], volume: [1, 2] },
  },
  { t: 'st', origin: 0, ver: 1, state: { a: [1, 'x'] } },
  { t: 'st', origin: 0, ver: 1, state: null, dn: [3] },
  { t: 'commit', origin: 0, pid: 2, decision: 'hold', dn: [3], da: [1200] },
  { t: 'm', p: 'xxxxxxxxxxxxxxxx' },
  { t: 'fl', id: 3 },
  { t: 'fa', id: 3 },
];

/** Values that break one rule or another of some field. */
const WRONG: unknown[] = [
  undefined,
  null,
  'x',
  '12',
  true,
  -1,
  -0,
  0,
  1,
  1.5,
  10_000,
  10_001,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  2 ** 53,
  [],
  [1, 2],
  [-1],
  [1.5],
  ['1'],
  Array.from({ length: 10_001 }, () => 0),
  {},
  { t: [1] },
  'buy',
  'hold',
  'nope',
  '12a',
  '1'.repeat(26),
];

function schema(value: unknown): unknown {
  const parsed = peerFrameSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

function agree(value: unknown): void {
  const expected = schema(value);
  const actual = checkPeerFrame(value);
  if (expected === undefined) expect(actual, JSON.stringify(value)?.slice(0, 200)).toBeUndefined();
  else expect(actual, JSON.stringify(value)?.slice(0, 200)).toEqual(expected);
}

describe('checkPeerFrame', () => {
  it('accepts every valid frame kind as the schema does', () => {
    for (const frame of VALID) {
      expect(schema(frame)).toBeDefined();
      agree(frame);
    }
  });

  it('refuses what the schema refuses, field by field', () => {
    for (const frame of VALID) {
      for (const key of [...Object.keys(frame), 'p', 'c', 'at', 'dn', 'da', 'window', 'extra']) {
        for (const wrong of WRONG) {
          const copy: Record<string, unknown> = { ...frame };
          if (wrong === undefined) delete copy[key];
          else copy[key] = wrong;
          agree(copy);
        }
      }
    }
  });

  it('agrees on random mixtures of damage and on non-objects', () => {
    let seed = 17;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
    for (let i = 0; i < 5_000; i++) {
      const copy: Record<string, unknown> = { ...pick(VALID) };
      const damage = 1 + Math.floor(random() * 3);
      for (let d = 0; d < damage; d++) {
        const key = pick([...Object.keys(copy), 't', 'dn', 'da', 'extra']);
        const wrong = key === 't' ? pick(['ping', 'vote', 'st', 'prop', 'x', 3]) : pick(WRONG);
        if (wrong === undefined) delete copy[key];
        else copy[key] = wrong;
      }
      agree(copy);
    }
    for (const value of [null, 3, 'ping', [], [{ t: 'm', p: 'x' }], true]) agree(value);
  });
});
