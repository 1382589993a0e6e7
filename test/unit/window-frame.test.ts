/**
 * The binary window frame must accept exactly the requests the JSON frame's schema accepts, and
 * produce the same request: valid windows, each field and each window value replaced by wrong
 * values, random mixtures of those. Then the frame's own shape: truncated, oversized, misaligned,
 * reserved bits, unknown ops and flags are refused, and whatever a damaged frame still decodes to
 * is a request the schema accepts as it is.
 */
import { describe, expect, it } from 'vitest';
import { MAX_WINDOW_BARS, requestSchema } from '../../lib/agent/protocol.ts';
import {
  COLUMN_NAMES,
  decodeWindowFrame,
  encodeWindowFrame,
  FLAG_QUORUM,
  FLAG_STRATEGY,
  HEADER_BYTES,
  isRefusal,
  OFFSET,
  OP_EXECUTE,
  OP_PROPOSE,
  type WindowFrameRefusal,
  type WindowRequest,
} from '../../lib/agent/window-frame.ts';
import { toColumns } from '../../lib/trading/columns.ts';
import { generateBars } from '../../lib/trading/market.ts';
import type { Bar } from '../../lib/trading/types.ts';

type Body = Record<string, unknown> & { op: string };

const bars = (n: number, seed = 1): Bar[] => generateBars({ bars: n, seed });
const odd: Bar[] = [
  {
    t: 0,
    open: -0,
    high: Number.MAX_VALUE,
    low: -Number.MAX_VALUE,
    close: Number.MIN_VALUE,
    volume: 0.1 + 0.2,
  },
  { t: -1.5, open: 1e-300, high: 2 ** 53, low: -(2 ** 60), close: 123.456, volume: 0 },
];

const VALID: Body[] = [
  { op: 'execute', window: bars(500) },
  { op: 'execute', strategy: 'momentum', window: toColumns(bars(20, 2)) },
  { op: 'execute', strategy: '', window: [] },
  { op: 'execute', strategy: 'x'.repeat(64), window: bars(1) },
  { op: 'execute', strategy: 'é'.repeat(64), window: toColumns(odd) },
  { op: 'execute', strategy: '😀'.repeat(32), window: odd },
  { op: 'execute', window: bars(MAX_WINDOW_BARS, 3) },
  { op: 'execute', strategy: 'breakout', window: bars(3), quorum: 3, extra: 'dropped' },
  { op: 'propose', window: bars(50) },
  { op: 'propose', window: toColumns(bars(7)), quorum: 3, timeoutMs: 600_000, at: 0 },
  { op: 'propose', window: odd, quorum: 1, timeoutMs: 1, at: 2 ** 53 - 1 },
];
/** The valid requests of at most a few hundred bars (the damage loops copy the window each time). */
const SMALL = VALID.filter((body) => JSON.stringify(body.window).length < 100_000);

/** Wrong (or borderline) values of a header field. */
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
  600_000,
  600_001,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  2 ** 53,
  2 ** 53 - 1,
  [],
  {},
  'a'.repeat(64),
  'a'.repeat(65),
  '😀'.repeat(32),
  '😀'.repeat(33),
  '😀'.repeat(64),
  '😀'.repeat(65),
  `${'😀'.repeat(63)}ab`,
  'é'.repeat(64),
  'é'.repeat(65),
  '\ud800',
  '\ufeffmomentum',
  'a\u0000b',
  'momentum',
];

/** Wrong (or borderline) values of one window value. */
const WRONG_VALUE: unknown[] = [
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  null,
  undefined,
  '1',
  true,
  {},
  [],
  -0,
  1e308,
  -1e308,
  5e-324,
];

/** A request with its window as plain number columns, for comparing the two paths. */
function plain(request: { window: unknown } & Record<string, unknown>): Record<string, unknown> {
  const window = request.window as Bar[] | Record<string, ArrayLike<number>>;
  const columns = Array.isArray(window)
    ? toColumns(window)
    : Object.fromEntries(COLUMN_NAMES.map((name) => [name, Array.from(window[name] as ArrayLike<number>)]));
  return { ...request, window: columns };
}

/** What the agent makes of `body` sent as JSON (undefined: refused). */
function viaJson(id: number, body: Body): Record<string, unknown> | undefined {
  const parsed = requestSchema.safeParse(JSON.parse(JSON.stringify({ t: 'req', id, ...body })));
  return parsed.success ? plain(parsed.data as { window: unknown }) : undefined;
}

/** What the agent makes of `body` as the client sends it: binary, or JSON when the encoder declines. */
function viaClient(
  id: number,
  body: Body,
): { binary: boolean; request: Record<string, unknown> | undefined } {
  const frame = encodeWindowFrame(id, body);
  if (frame === undefined) return { binary: false, request: viaJson(id, body) };
  const decoded = decodeWindowFrame(frame);
  return { binary: true, request: isRefusal(decoded) ? undefined : plain(decoded) };
}

function agree(id: number, body: Body): boolean {
  const expected = viaJson(id, body);
  const { binary, request } = viaClient(id, body);
  const label = JSON.stringify({ id, ...body, window: undefined })?.slice(0, 200);
  if (expected === undefined) expect(request, label).toBeUndefined();
  else expect(request, label).toEqual(expected);
  return binary;
}

/** Whatever a frame decodes to must be a request the schema takes unchanged. */
function schemaHolds(decoded: WindowRequest | WindowFrameRefusal): void {
  if (isRefusal(decoded)) {
    expect(decoded.message).toMatch(
      /^(frame|id|flags|strategy|quorum|timeoutMs|at|window[.\w]*|unknown op code \d+)\b/,
    );
    return;
  }
  const parsed = requestSchema.safeParse(plain(decoded));
  expect(parsed.success).toBe(true);
  expect(plain(parsed.data as { window: unknown })).toEqual(plain(decoded));
}

const seeded = (seed: number) => () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed / 2 ** 31;
};

/** A copy of `window` with column `name`, bar `index`, set to `value` (in whichever form it has). */
function damageValue(window: unknown, name: string, index: number, value: unknown): unknown {
  if (Array.isArray(window)) {
    const copy = (window as Record<string, unknown>[]).map((bar) => ({ ...bar }));
    const bar = copy[index];
    if (bar === undefined) return copy;
    if (value === undefined) delete bar[name];
    else bar[name] = value;
    return copy;
  }
  const columns = window as Record<string, unknown[]>;
  const column = [...(columns[name] ?? [])];
  if (index < column.length) column[index] = value;
  return { ...columns, [name]: column };
}

/** Whole-window damage: structure the binary frame cannot state, or lengths beyond the limit. */
function damagedWindows(window: unknown): unknown[] {
  const list: unknown[] = [null, 'x', 3, {}, [[1, 2]], [null], bars(MAX_WINDOW_BARS + 1, 4)];
  list.push(toColumns(bars(MAX_WINDOW_BARS + 1, 5)));
  if (Array.isArray(window)) {
    list.push(window.map((bar, i) => (i === 0 ? { ...bar, extra: 'x' } : bar)));
    list.push(toColumns(window as Bar[]));
  } else {
    const columns = window as Record<string, unknown[]>;
    for (const name of COLUMN_NAMES) {
      const { [name]: _dropped, ...rest } = columns;
      list.push(rest);
      list.push({ ...columns, [name]: (columns[name] ?? []).slice(1) });
      list.push({ ...columns, [name]: 'x' });
      list.push({ ...columns, [name]: null });
    }
    list.push({ ...columns, x: [1] });
  }
  return list;
}

describe('binary window frames', () => {
  it('carry every valid request exactly as the JSON frame does', () => {
    for (const body of VALID) {
      expect(viaJson(7, body), String(body.op)).toBeDefined();
      expect(agree(7, body)).toBe(true);
    }
  });

  it('refuse what the schema refuses, header field by field', () => {
    for (const body of SMALL) {
      for (const key of ['strategy', 'quorum', 'timeoutMs', 'at']) {
        for (const wrong of WRONG) {
          const copy: Body = { ...body };
          if (wrong === undefined) delete copy[key];
          else copy[key] = wrong;
          const binary = agree(7, copy);
          // Only what binary cannot state (a value of the wrong type, a lone surrogate) goes as JSON;
          // a field the op does not take is dropped by both.
          const taken = key === 'strategy' ? body.op === 'execute' : body.op === 'propose';
          const statable =
            !taken ||
            wrong === undefined ||
            (key === 'strategy'
              ? typeof wrong === 'string' && wrong !== '\ud800'
              : typeof wrong === 'number');
          expect(binary, `${key}=${String(wrong)}`).toBe(statable);
        }
      }
      // The id is always the client's number: only numbers are tried.
      for (const id of WRONG) if (typeof id === 'number') expect(agree(id, body)).toBe(true);
    }
  });

  it('refuse what the schema refuses, window value by window value', () => {
    for (const body of SMALL) {
      const window = body.window as unknown[] | Record<string, unknown[]>;
      const length = Array.isArray(window) ? window.length : (window.t?.length ?? 0);
      for (const name of COLUMN_NAMES) {
        for (const index of new Set([0, length >> 1, length - 1].filter((i) => i >= 0))) {
          for (const wrong of WRONG_VALUE) {
            const binary = agree(7, { ...body, window: damageValue(window, name, index, wrong) });
            if (typeof wrong === 'number') expect(binary, `${name}[${index}]=${wrong}`).toBe(true);
          }
        }
      }
      for (const damaged of damagedWindows(window)) agree(7, { ...body, window: damaged });
    }
  });

  it('agree on random mixtures of damage', () => {
    const random = seeded(17);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
    let binaries = 0;
    for (let i = 0; i < 3_000; i++) {
      const body: Body = { ...pick(SMALL) };
      const damage = 1 + Math.floor(random() * 3);
      for (let d = 0; d < damage; d++) {
        const where = random();
        if (where < 0.4) {
          const key = pick(['strategy', 'quorum', 'timeoutMs', 'at', 'op']);
          const wrong = key === 'op' ? pick(['execute', 'propose', 'ping', 'x']) : pick(WRONG);
          if (wrong === undefined) delete body[key];
          else body[key] = wrong;
        } else {
          const window = body.window as unknown[] | Record<string, unknown[]>;
          const length = Array.isArray(window) ? window.length : (window?.t?.length ?? 0);
          body.window = damageValue(
            window,
            pick(COLUMN_NAMES),
            Math.floor(random() * length),
            pick(WRONG_VALUE),
          );
        }
      }
      if (agree(Math.floor(random() * 1000), body)) binaries++;
    }
    // A good share of the mixture must reach the binary decoder, not the JSON fallback.
    expect(binaries).toBeGreaterThan(1_000);
  });

  it('refuse truncated, oversized and malformed frames, naming the part at fault', () => {
    for (const body of [VALID[1], VALID[2], VALID[9]] as Body[]) {
      const frame = encodeWindowFrame(42, body) as Buffer;
      const refused = (bytes: Uint8Array): WindowFrameRefusal => {
        const decoded = decodeWindowFrame(bytes);
        expect(isRefusal(decoded)).toBe(true);
        return decoded as WindowFrameRefusal;
      };
      for (let length = 0; length < frame.length; length++) {
        const refusal = refused(frame.subarray(0, length));
        expect(refusal.id).toBe(length >= HEADER_BYTES ? 42 : undefined);
        expect(refusal.message).toMatch(/^frame: /);
      }
      for (let extra = 1; extra <= 16; extra++) {
        const longer = Buffer.concat([frame, Buffer.alloc(extra)]);
        expect(refused(longer).message).toMatch(/^frame: /);
      }
      const altered = (write: (copy: Buffer) => void): WindowFrameRefusal => {
        const copy = Buffer.from(frame);
        write(copy);
        return refused(copy);
      };
      expect(altered((c) => c.writeUInt8(0x7b, OFFSET.magic)).id).toBeUndefined();
      expect(altered((c) => c.writeUInt8(2, OFFSET.layout)).id).toBeUndefined();
      for (const op of [0, 3, 255]) {
        expect(altered((c) => c.writeUInt8(op, OFFSET.op))).toMatchObject({
          id: 42,
          unknown: true,
        });
      }
      const op = frame.readUInt8(OFFSET.op);
      const foreign = op === OP_EXECUTE ? FLAG_QUORUM : FLAG_STRATEGY;
      for (const flag of [foreign, 16, 32, 64, 128]) {
        const refusal = altered((c) => c.writeUInt8(c.readUInt8(OFFSET.flags) | flag, OFFSET.flags));
        expect(refusal).toMatchObject({ id: 42, unknown: false });
      }
      expect(altered((c) => c.writeUInt32LE(1, OFFSET.reserved)).message).toMatch(/reserved/);
      if (op === OP_EXECUTE) {
        for (const offset of [OFFSET.quorum, OFFSET.timeoutMs, OFFSET.at]) {
          expect(altered((c) => c.writeDoubleLE(-0, offset)).message).toMatch(/flag is absent/);
        }
      }
      const barsField = frame.readUInt32LE(OFFSET.bars);
      for (const wrong of [barsField + 1, barsField - 1, MAX_WINDOW_BARS + 1, 2 ** 32 - 1]) {
        if (wrong < 0) continue;
        altered((c) => c.writeUInt32LE(wrong, OFFSET.bars));
      }
      const name = frame.readUInt32LE(OFFSET.strategyBytes);
      for (const wrong of [name + 1, name + 8, 2 ** 31]) {
        altered((c) => c.writeUInt32LE(wrong, OFFSET.strategyBytes));
      }
    }
    // Padding after the name must be zero; a name that is not UTF-8 is refused.
    const named = encodeWindowFrame(1, { op: 'execute', strategy: 'abc', window: bars(2) }) as Buffer;
    const padding = Buffer.from(named);
    padding[HEADER_BYTES + 5] = 1;
    expect((decodeWindowFrame(padding) as WindowFrameRefusal).message).toMatch(/padding/);
    const badUtf8 = Buffer.from(named);
    badUtf8[HEADER_BYTES] = 0xff;
    expect((decodeWindowFrame(badUtf8) as WindowFrameRefusal).message).toMatch(/^strategy: /);
    expect((decodeWindowFrame(new Uint8Array(0)) as WindowFrameRefusal).id).toBeUndefined();
  });

  it('decode only requests the schema takes, whatever bytes are damaged', () => {
    const random = seeded(29);
    const frames = VALID.filter((body) => JSON.stringify(body).length < 200_000).map(
      (body) => encodeWindowFrame(9, body) as Buffer,
    );
    let accepted = 0;
    for (let i = 0; i < 4_000; i++) {
      const copy = Buffer.from(frames[i % frames.length] as Buffer);
      const flips = 1 + Math.floor(random() * 4);
      for (let f = 0; f < flips; f++) {
        // Header bytes half the time, anywhere the other half.
        const at = Math.floor(random() * (random() < 0.5 ? HEADER_BYTES : copy.length));
        copy[at] = Math.floor(random() * 256);
      }
      const decoded = decodeWindowFrame(copy);
      if (!isRefusal(decoded)) accepted++;
      schemaHolds(decoded);
    }
    // Value bytes flipped into other finite numbers still decode: both outcomes were exercised.
    expect(accepted).toBeGreaterThan(100);
    expect(accepted).toBeLessThan(4_000);
  });

  it('reads the columns in place when the frame is aligned, through one copy when it is not', () => {
    const body = VALID[9] as Body;
    const frame = encodeWindowFrame(3, body) as Buffer;
    const aligned = decodeWindowFrame(frame) as WindowRequest;
    expect(aligned.window.close.buffer).toBe(frame.buffer);
    for (let shift = 1; shift < 8; shift++) {
      const host = Buffer.from(new ArrayBuffer(frame.length + 8));
      const misaligned = host.subarray(shift, shift + frame.length);
      frame.copy(misaligned);
      const decoded = decodeWindowFrame(misaligned) as WindowRequest;
      expect(decoded.window.close.buffer).not.toBe(host.buffer);
      expect(plain(decoded)).toEqual(plain(aligned));
    }
    expect(plain(aligned)).toEqual(viaJson(3, body));
    expect(aligned).toMatchObject({ op: 'propose', quorum: 3, timeoutMs: 600_000, at: 0 });
    expect(frame.readUInt8(OFFSET.op)).toBe(OP_PROPOSE);
  });

  it('are not made for other ops, nor for a propose without a window', () => {
    expect(encodeWindowFrame(1, { op: 'health' })).toBeUndefined();
    expect(encodeWindowFrame(1, { op: 'propose', at: 5 })).toBeUndefined();
    // 500 bars: 24 KB against about 47 KB of JSON columns.
    const frame = encodeWindowFrame(1, { op: 'execute', window: bars(500) }) as Buffer;
    expect(frame.length).toBe(HEADER_BYTES + 500 * 48);
  });
});
