/**
 * The agent's wire schemas (zod/mini): every request op and peer frame kind is accepted when valid,
 * with its defaults filled in; a frame with one field broken is refused, and the message names the
 * field and what it allows. Broken frames are drawn from a seeded generator, so a failure repeats.
 */
import { describe, expect, it } from 'vitest';
import {
  describeProblem,
  MAX_WINDOW_BARS,
  peerFrameSchema,
  requestSchema,
} from '../../lib/agent/protocol.ts';
import { seededRandom } from '../../lib/stats/intervals.ts';

const columns = (values: number[]) => ({
  t: values,
  open: values,
  high: values,
  low: values,
  close: values,
  volume: values,
});
const bar = { t: 1, open: 1, high: 2, low: 0.5, close: 1.5, volume: 10 };
const topology = {
  kind: 'ring',
  size: 3,
  fanOut: 2,
  root: 0,
  neighbors: [
    [1, 2],
    [0, 2],
    [0, 1],
  ],
};

const REQUESTS: Record<string, unknown>[] = [
  { op: 'health' },
  { op: 'configure', self: 0, urls: ['ws://127.0.0.1:1'], topology, quorum: 2, strategy: 'momentum' },
  {
    op: 'configure',
    self: 2,
    urls: [],
    topology,
    quorum: 1,
    strategy: 'x',
    decisionRule: 'plurality',
    sharedClock: true,
    market: { seed: 1, bars: 100, windowBars: 20, columns: columns([1, 2]) },
  },
  { op: 'execute', window: [bar, bar] },
  { op: 'execute', strategy: 'momentum', window: columns([1, 2, 3]) },
  { op: 'ping', to: 1, count: 10 },
  { op: 'ping', to: 1, count: 10, warmup: 2, payloadBytes: 64 },
  { op: 'propose', at: 5 },
  { op: 'propose', window: columns([1]), quorum: 2, timeoutMs: 100 },
  { op: 'sync', version: 1, state: { a: 1 }, expect: [0, 1] },
  { op: 'blast', count: 100 },
  { op: 'metrics' },
  { op: 'plugins' },
];

const PEER_FRAMES: Record<string, unknown>[] = [
  { t: 'ping', src: 0, dst: 1, id: 7, path: [0], p: 'xx', dn: [2], da: [100] },
  { t: 'pong', src: 1, dst: 0, id: 7, path: [0, 1] },
  { t: 'prop', origin: 0, pid: 5, at: 500 },
  { t: 'prop', origin: 0, pid: 5, window: [bar] },
  { t: 'vote', src: 3, dst: 0, pid: 1, action: 'buy', hops: 1, c: 0.5 },
  { t: 'commit', origin: 0, pid: 1, decision: 'sell' },
  { t: 'cack', src: 4, dst: 0, pid: 9, hops: 1, at: '123456789012345' },
  { t: 'st', origin: 0, ver: 1, state: null },
  { t: 'sack', src: 2, dst: 0, ver: 3, hops: 1 },
  { t: 'm', p: 'xxxx' },
  { t: 'fl', id: 3 },
  { t: 'fa', id: 3 },
];

const request = (body: Record<string, unknown>) => ({ t: 'req', id: 1, ...body });

/** One field broken: the frame, the field's path in the message, and what the message must allow. */
interface BadCase {
  frame: Record<string, unknown>;
  field: string;
  allowed: RegExp;
}

const BAD_REQUESTS: BadCase[] = [
  { frame: { t: 'req', id: 1.5, op: 'health' }, field: 'id', allowed: /expected int/ },
  { frame: request({ ...REQUESTS[1], self: 10_001 }), field: 'self', allowed: /<=10000/ },
  { frame: request({ ...REQUESTS[1], self: -1 }), field: 'self', allowed: />=0/ },
  { frame: request({ ...REQUESTS[1], quorum: 0 }), field: 'quorum', allowed: />=1/ },
  { frame: request({ ...REQUESTS[1], strategy: 'x'.repeat(65) }), field: 'strategy', allowed: /<=64/ },
  { frame: request({ ...REQUESTS[1], urls: ['x'.repeat(2049)] }), field: 'urls.0', allowed: /<=2048/ },
  {
    frame: request({ ...REQUESTS[1], topology: { ...topology, kind: 'blob' } }),
    field: 'topology.kind',
    allowed: /"mesh"\|"hierarchical"\|"ring"\|"star"/,
  },
  {
    frame: request({ ...REQUESTS[1], topology: { ...topology, fanOut: 1 } }),
    field: 'topology.fanOut',
    allowed: />=2/,
  },
  {
    frame: request({ ...REQUESTS[2], market: { seed: 1, bars: 0, windowBars: 1 } }),
    field: 'market.bars',
    allowed: />=1/,
  },
  {
    frame: request({ op: 'execute', window: [bar, { ...bar, close: 'x' }] }),
    field: 'window.1.close',
    allowed: /expected number/,
  },
  {
    frame: request({ op: 'execute', window: { ...columns([1, 2]), open: [1] } }),
    field: 'window',
    allowed: /same length/,
  },
  {
    frame: request({ op: 'execute', window: columns(Array.from({ length: MAX_WINDOW_BARS + 1 }, () => 1)) }),
    field: 'window.t',
    allowed: /<=5000 items/,
  },
  {
    frame: request({ op: 'execute', window: 'bars' }),
    field: 'window',
    allowed: /array of bars or an object of equal-length columns/,
  },
  { frame: request({ op: 'ping', to: 1, count: 0 }), field: 'count', allowed: />=1/ },
  {
    frame: request({ op: 'ping', to: 1, count: 1, payloadBytes: 600_000 }),
    field: 'payloadBytes',
    allowed: /<=524288/,
  },
  { frame: request({ op: 'propose', timeoutMs: 600_001 }), field: 'timeoutMs', allowed: /<=600000/ },
  { frame: request({ op: 'sync', version: 0, state: 1, expect: [] }), field: 'version', allowed: />=1/ },
  { frame: request({ op: 'blast', count: 1, payloadBytes: -1 }), field: 'payloadBytes', allowed: />=0/ },
];

const BAD_PEER_FRAMES: BadCase[] = [
  { frame: { ...PEER_FRAMES[0], src: 10_001 }, field: 'src', allowed: /<=10000/ },
  { frame: { ...PEER_FRAMES[0], path: [0.5] }, field: 'path.0', allowed: /expected int/ },
  { frame: { ...PEER_FRAMES[0], da: [3_600_001] }, field: 'da.0', allowed: /<=3600000/ },
  { frame: { ...PEER_FRAMES[4], action: 'maybe' }, field: 'action', allowed: /"buy"\|"sell"\|"hold"/ },
  { frame: { ...PEER_FRAMES[4], c: 2 }, field: 'c', allowed: /<=1/ },
  { frame: { ...PEER_FRAMES[6], at: '12a' }, field: 'at', allowed: /must match pattern/ },
  { frame: { ...PEER_FRAMES[5], decision: 'wait' }, field: 'decision', allowed: /"buy"\|"sell"\|"hold"/ },
  { frame: { t: 'zz' }, field: 't', allowed: /'ping' \| 'pong'/ },
  { frame: { t: 'm', p: 3 }, field: 'p', allowed: /expected string/ },
];

/** Values that are the wrong type for every numeric and string field of the frames above. */
const WRONG_TYPE: unknown[] = [null, true, {}, Number.NaN, Number.POSITIVE_INFINITY];

type Schema = typeof requestSchema | typeof peerFrameSchema;

function refusal(schema: Schema, frame: unknown): string {
  const parsed = schema.safeParse(frame);
  expect(parsed.success, JSON.stringify(frame)?.slice(0, 160)).toBe(false);
  return parsed.success ? '' : describeProblem(parsed.error.issues);
}

describe('agent protocol schemas', () => {
  it.each(REQUESTS.map((body) => [body.op, body] as const))('accepts a valid %s request', (_, body) => {
    const parsed = requestSchema.safeParse(request(body));
    expect(parsed.success).toBe(true);
    expect(parsed.data).toMatchObject(request(body));
  });

  it('fills in the defaults of ping, propose, sync and blast', () => {
    const data = REQUESTS.filter((body) => ['ping', 'propose', 'sync', 'blast'].includes(body.op as string))
      .slice(0, 5)
      .map((body) => requestSchema.parse(request(body)));
    expect(data[0]).toMatchObject({ op: 'ping', warmup: 0, payloadBytes: 0 });
    expect(data[1]).toMatchObject({ op: 'ping', warmup: 2, payloadBytes: 64 });
    expect(data[2]).toMatchObject({ op: 'propose', timeoutMs: 5_000 });
    expect(data[4]).toMatchObject({ op: 'sync', timeoutMs: 5_000 });
    expect(requestSchema.parse(request({ op: 'blast', count: 1 }))).toMatchObject({ payloadBytes: 16 });
  });

  it.each(PEER_FRAMES.map((frame) => [frame.t, frame] as const))(
    'accepts a valid %s peer frame',
    (_, frame) => {
      expect(peerFrameSchema.parse(frame)).toEqual(frame);
    },
  );

  it('drops fields a frame does not define', () => {
    expect(peerFrameSchema.parse({ ...PEER_FRAMES[10], extra: 1 })).toEqual(PEER_FRAMES[10]);
    expect(requestSchema.parse({ ...request({ op: 'health' }), extra: 1 })).toEqual(
      request({ op: 'health' }),
    );
  });

  it.each([
    ...BAD_REQUESTS.map((c) => ['request', c.field, requestSchema, c] as const),
    ...BAD_PEER_FRAMES.map((c) => ['peer frame', c.field, peerFrameSchema, c] as const),
  ])('refuses a %s with a bad %s, naming it', (_, __, schema, c) => {
    const message = refusal(schema, c.frame);
    expect(message.startsWith(`${c.field}: `), message).toBe(true);
    expect(message).toMatch(c.allowed);
  });

  it('names the field of seeded wrong-type values in every frame kind', () => {
    const random = seededRandom(13);
    const frames: Array<{ schema: Schema; frame: Record<string, unknown> }> = [
      ...REQUESTS.map((body) => ({ schema: requestSchema, frame: request(body) })),
      ...PEER_FRAMES.map((frame) => ({ schema: peerFrameSchema, frame })),
    ];
    let checked = 0;
    for (let round = 0; round < 20; round++) {
      for (const { schema, frame } of frames) {
        // Every field but the frame's kind (t, op) and the free-form replicated state.
        const fields = Object.keys(frame).filter((key) => !['t', 'op', 'state'].includes(key));
        if (fields.length === 0) continue;
        const field = fields[Math.floor(random() * fields.length)] as string;
        const wrong = WRONG_TYPE[Math.floor(random() * WRONG_TYPE.length)];
        const message = refusal(schema, { ...frame, [field]: wrong });
        expect(message.split(':')[0]?.split('.')[0], message).toBe(field);
        expect(message).toMatch(/expected|Invalid/);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(300);
  });
});
