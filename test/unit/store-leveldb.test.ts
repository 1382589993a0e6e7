import { describe, expect, it } from 'vitest';
import { crc32c, verifyLogRecords } from '../../lib/store/leveldb.ts';

/** One LevelDB log record of type FULL holding `data`, built from the format's definition. */
function record(data: Uint8Array, type = 1): Uint8Array {
  const crc = crc32c(data, crc32c(new Uint8Array([type])));
  const masked = ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
  const out = new Uint8Array(7 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, masked, true);
  view.setUint16(4, data.length, true);
  out[6] = type;
  out.set(data, 7);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

describe('crc32c', () => {
  it('matches the standard check value of "123456789"', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
  });

  it('extends: crc of a+b equals crc of b seeded with crc of a', () => {
    const a = new TextEncoder().encode('swarm-');
    const b = new TextEncoder().encode('bench');
    expect(crc32c(b, crc32c(a))).toBe(crc32c(concat(a, b)));
  });
});

describe('verifyLogRecords', () => {
  const one = record(new TextEncoder().encode('first record'));
  const two = record(new TextEncoder().encode('second'));

  it('counts intact records', () => {
    expect(verifyLogRecords(concat(one, two))).toEqual({ records: 2 });
  });

  it('reports a flipped payload byte as a checksum failure at that record', () => {
    // Prepare
    const bytes = concat(one, two);
    bytes[one.length + 8] = bytes[one.length + 8]! ^ 1;

    // Act / Assess
    expect(verifyLogRecords(bytes)).toEqual({ corrupt: `record at byte ${one.length} fails its checksum` });
  });

  it('tolerates a record cut off at the end of the file, as after a crash', () => {
    expect(verifyLogRecords(concat(one, two.subarray(0, 9)))).toEqual({ records: 1 });
  });

  it('rejects an unknown record type', () => {
    expect(verifyLogRecords(record(new Uint8Array([1, 2]), 9))).toEqual({
      corrupt: 'record at byte 0 has unknown type 9',
    });
  });

  it('skips zero padding to the next 32 KiB block', () => {
    // Prepare
    const padded = new Uint8Array(32_768 + two.length);
    padded.set(one, 0);
    padded.set(two, 32_768);

    // Act / Assess
    expect(verifyLogRecords(padded)).toEqual({ records: 2 });
  });
});
