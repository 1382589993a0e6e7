/**
 * The binary peer frames (peer-wire.ts): every hot frame kind round-trips to exactly what its JSON
 * form checks to; frames the binary form cannot carry stay JSON; the relay helpers change the bytes
 * as re-encoding the changed frame would; and a seeded fuzz of damaged frames is refused without a
 * throw, while anything accepted is a valid frame in its one canonical encoding.
 */
import { describe, expect, it } from 'vitest';
import { checkPeerFrame } from '../../lib/agent/frame-check.ts';
import {
  bumpHops,
  decodePeerWire,
  encodePeerWire,
  pongOf,
  scanPeerWire,
  withPathStep,
  withWireMarks,
} from '../../lib/agent/peer-wire.ts';
import type { PeerFrame } from '../../lib/agent/protocol.ts';

const HOT: Record<string, unknown>[] = [
  { t: 'ping', src: 0, dst: 1, id: 7, path: [0] },
  { t: 'ping', src: 3, dst: 9, id: 1.5, path: [3, 4], p: 'xx', dn: [5] },
  { t: 'ping', src: 3, dst: 9, id: -2, path: [], p: 'é€😀', dn: [], da: [] },
  { t: 'pong', src: 1, dst: 0, id: 7, path: [0, 1, 0], dn: [] },
  { t: 'pong', src: 10_000, dst: 0, id: 1e300, path: [10_000], p: '' },
  { t: 'vote', src: 3, dst: 0, pid: 1_000_001, action: 'buy', hops: 0 },
  { t: 'vote', src: 3, dst: 0, pid: 1_000_001, action: 'hold', hops: 2, c: 0.5, dn: [2] },
  { t: 'vote', src: 3, dst: 0, pid: -4.25, action: 'sell', hops: -3, c: 1 },
  { t: 'commit', origin: 0, pid: 1_000_001, decision: 'sell' },
  { t: 'commit', origin: 0, pid: 2, decision: 'hold', dn: [3], da: [1200] },
  { t: 'cack', src: 4, dst: 0, pid: 9, hops: 1, at: '123456789012345' },
  { t: 'cack', src: 4, dst: 0, pid: 9, hops: 1, at: '18446744073709551615' },
  { t: 'cack', src: 4, dst: 0, pid: 9, hops: 1, at: '0', dn: [1, 2] },
  { t: 'sack', src: 2, dst: 0, ver: 3, hops: 1, dn: [1, 5], da: [5000, 0] },
  { t: 'sack', src: 2, dst: 0, ver: 2 ** 53 - 1, hops: 0, da: [3_600_000] },
  { t: 'prop', origin: 0, pid: 5, at: 500 },
  { t: 'prop', origin: 0, pid: 5 },
];

/** Valid frames that stay JSON: rich content, or values the binary form does not hold as they are. */
const JSON_ONLY: Record<string, unknown>[] = [
  {
    t: 'prop',
    origin: 1,
    pid: 5,
    window: { t: [1, 2], open: [1, 2], high: [1, 2], low: [1, 2], close: [1, 2], volume: [1, 2] },
  },
  { t: 'st', origin: 0, ver: 1, state: { a: [1, 'x'] } },
  { t: 'm', p: 'xxxxxxxxxxxxxxxx' },
  { t: 'fl', id: 3 },
  { t: 'fa', id: 3 },
  // Leading zeros and readings past 64 bits are valid clock strings without a u64 of the same text.
  { t: 'cack', src: 4, dst: 0, pid: 9, hops: 1, at: '0123' },
  { t: 'cack', src: 4, dst: 0, pid: 9, hops: 1, at: '18446744073709551616' },
  // A lone surrogate is a valid JSON string but no UTF-8.
  { t: 'ping', src: 0, dst: 1, id: 7, path: [0], p: '\ud800' },
];

/** A small seeded generator (LCG), so every run damages the same frames the same way. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

function encoded(frame: Record<string, unknown>): Buffer {
  const bytes = encodePeerWire(frame as PeerFrame);
  if (bytes === undefined) throw new Error(`not encodable: ${JSON.stringify(frame)}`);
  return bytes;
}

describe('binary peer frames', () => {
  it('round-trip every hot frame to what its JSON form checks to', () => {
    for (const frame of HOT) {
      // Prepare
      const checked = checkPeerFrame(JSON.parse(JSON.stringify(frame)));
      expect(checked, JSON.stringify(frame)).toBeDefined();
      // Act
      const bytes = encoded(frame);
      // Assess
      expect(decodePeerWire(bytes), JSON.stringify(frame)).toEqual(checked);
      expect(scanPeerWire(bytes)).toBeGreaterThan(0);
    }
  });

  it('leaves frames with rich content or values it cannot hold as they are to JSON', () => {
    for (const frame of JSON_ONLY)
      expect(encodePeerWire(frame as PeerFrame), JSON.stringify(frame)).toBeUndefined();
  });

  it('round-trips seeded random frames of every hot kind', () => {
    const random = seeded(4);
    const index = () => Math.floor(random() * 10_001);
    const list = () => Array.from({ length: Math.floor(random() * 6) }, index);
    const number = () => (random() - 0.5) * 10 ** Math.floor(random() * 20);
    const action = () => ['buy', 'sell', 'hold'][Math.floor(random() * 3)];
    for (let i = 0; i < 2_000; i++) {
      const marks = random() < 0.3 ? { dn: list(), da: list().map((n) => n * 100) } : {};
      const frames: Record<string, unknown>[] = [
        { t: 'ping', src: index(), dst: index(), id: number(), path: list(), p: 'x'.repeat(i % 7), ...marks },
        { t: 'pong', src: index(), dst: index(), id: number(), path: list(), ...marks },
        {
          t: 'vote',
          src: index(),
          dst: index(),
          pid: number(),
          action: action(),
          hops: i,
          c: random(),
          ...marks,
        },
        { t: 'commit', origin: index(), pid: number(), decision: action(), ...marks },
        { t: 'cack', src: index(), dst: index(), pid: number(), hops: i, at: String(i * 7_919), ...marks },
        { t: 'sack', src: index(), dst: index(), ver: i - 1_000, hops: i, ...marks },
        { t: 'prop', origin: index(), pid: number(), at: i, ...marks },
      ];
      for (const frame of frames) {
        expect(decodePeerWire(encoded(frame))).toEqual(checkPeerFrame(JSON.parse(JSON.stringify(frame))));
      }
    }
  });

  it('relays bytes as re-encoding the relayed frame would: hops, path step, pong, marks', () => {
    // Prepare
    const vote = { t: 'vote', src: 3, dst: 0, pid: 11, action: 'buy', hops: 2, dn: [4], da: [10] };
    const ping = { t: 'ping', src: 3, dst: 0, id: 5, path: [3, 2], p: 'pad', dn: [7], da: [9] };
    const pingBytes = encoded(ping);
    // Act + Assess
    expect(bumpHops(encoded(vote))).toEqual(encoded({ ...vote, hops: 3 }));
    expect(withPathStep(pingBytes, 1)).toEqual(encoded({ ...ping, path: [3, 2, 1] }));
    expect(pongOf(pingBytes, scanPeerWire(pingBytes), 0)).toEqual(
      encoded({ t: 'pong', src: 0, dst: 3, id: 5, path: [3, 2, 0], p: 'pad' }),
    );
    expect(withWireMarks(pingBytes, scanPeerWire(pingBytes), [1, 8], [50, 60])).toEqual(
      encoded({ ...ping, dn: [1, 8], da: [50, 60] }),
    );
  });

  it('refuses 20,000 damaged frames without a throw; whatever it accepts is valid and canonical', () => {
    // Prepare
    const random = seeded(17);
    const byte = () => Math.floor(random() * 256);
    const originals = HOT.map(encoded);
    let refused = 0;
    let accepted = 0;
    // Act
    for (let i = 0; i < 20_000; i++) {
      const original = originals[i % originals.length] as Buffer;
      let bytes = Buffer.from(original);
      const damage = 1 + Math.floor(random() * 3);
      for (let d = 0; d < damage; d++) {
        const at = Math.floor(random() * Math.max(1, bytes.length));
        switch (Math.floor(random() * 7)) {
          case 0: // one bit flipped
            bytes[at] = (bytes[at] as number) ^ (1 << Math.floor(random() * 8));
            break;
          case 1: // one byte replaced
            bytes[at] = byte();
            break;
          case 2: // cut short
            bytes = bytes.subarray(0, at);
            break;
          case 3: // trailing bytes
            bytes = Buffer.concat([bytes, Buffer.from(Array.from({ length: 1 + (at % 5) }, byte))]);
            break;
          case 4: // a length or count field inflated (u16 at an even offset)
            if (bytes.length >= at + 2) bytes.writeUInt16LE(0xffff - (at % 3), at - (at % 2));
            break;
          case 5: // kind or flags replaced
            bytes[at % 2] = byte();
            break;
          default: // random bytes of the same length
            bytes = Buffer.from(Array.from({ length: bytes.length }, byte));
        }
      }
      let decoded: PeerFrame | undefined;
      expect(() => {
        decoded = decodePeerWire(bytes);
      }).not.toThrow();
      // Assess
      expect(scanPeerWire(bytes) >= 0).toBe(decoded !== undefined);
      if (decoded === undefined) {
        refused++;
        continue;
      }
      accepted++;
      const asJson = JSON.parse(JSON.stringify(decoded));
      expect(checkPeerFrame(asJson)).toEqual(asJson);
      expect(encodePeerWire(decoded)).toEqual(bytes);
    }
    expect(refused + accepted).toBe(20_000);
    expect(refused).toBeGreaterThan(15_000);
  });

  it('refuses short, empty and unknown-kind buffers', () => {
    for (const bytes of [
      Buffer.alloc(0),
      Buffer.alloc(15),
      Buffer.alloc(64),
      Buffer.from([8, ...Array(31).fill(0)]),
    ]) {
      expect(decodePeerWire(bytes)).toBeUndefined();
      expect(scanPeerWire(bytes)).toBe(-1);
    }
  });
});
