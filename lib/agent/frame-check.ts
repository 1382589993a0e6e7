/**
 * The peer-frame check of the hot path: the same rules as `peerFrameSchema` (protocol.ts, the
 * spec), written out by hand for the small frames every round trip and consensus round carries, so
 * a frame costs a few property reads instead of a schema walk. Like the schema, it returns a fresh
 * object holding only the known fields (unknown ones are dropped, not forwarded). Frames carrying a
 * market window go through the schema itself. test/unit/frame-check.test.ts holds the two equal
 * on valid frames and on thousands of damaged ones.
 */
import { CLOCK_READING, MAX_MARK_LIFE_MS, type PeerFrame, peerFrameSchema } from './protocol.ts';

const MAX_INDEX = 10_000;
const MAX_LIST = 10_000;
const ACTIONS = new Set(['buy', 'sell', 'hold']);

type Fields = Record<string, unknown>;

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isInt = (v: unknown): v is number => Number.isSafeInteger(v);
const isIndex = (v: unknown): v is number => isInt(v) && v >= 0 && v <= MAX_INDEX;

function isIndexList(v: unknown): v is number[] {
  if (!Array.isArray(v) || v.length > MAX_LIST) return false;
  for (let i = 0; i < v.length; i++) if (!isIndex(v[i])) return false;
  return true;
}

function isLifeList(v: unknown): v is number[] {
  if (!Array.isArray(v) || v.length > MAX_LIST) return false;
  for (let i = 0; i < v.length; i++) {
    const life = v[i];
    if (!isInt(life) || life < 0 || life > MAX_MARK_LIFE_MS) return false;
  }
  return true;
}

/** The optional dead-peer list (indices) and the marks' remaining lives (ms). */
const downOk = (f: Fields): boolean =>
  (f.dn === undefined || isIndexList(f.dn)) && (f.da === undefined || isLifeList(f.da));

function withDown<T extends object>(out: T, f: Fields): T {
  if (f.dn !== undefined) (out as { dn?: number[] }).dn = f.dn as number[];
  if (f.da !== undefined) (out as { da?: number[] }).da = f.da as number[];
  return out;
}

/** `value` (parsed JSON) as a peer frame, or undefined when the schema would refuse it. */
export function checkPeerFrame(value: unknown): PeerFrame | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const f = value as Fields;
  switch (f.t) {
    case 'ping':
    case 'pong': {
      if (!isIndex(f.src) || !isIndex(f.dst) || !isNumber(f.id) || !isIndexList(f.path)) return undefined;
      if (f.p !== undefined && typeof f.p !== 'string') return undefined;
      if (!downOk(f)) return undefined;
      const out: Fields = { t: f.t, src: f.src, dst: f.dst, id: f.id, path: f.path };
      if (f.p !== undefined) out.p = f.p;
      return withDown(out, f) as PeerFrame;
    }
    case 'vote': {
      if (!isIndex(f.src) || !isIndex(f.dst) || !isNumber(f.pid) || !isInt(f.hops)) return undefined;
      if (typeof f.action !== 'string' || !ACTIONS.has(f.action)) return undefined;
      if (f.c !== undefined && !(isNumber(f.c) && f.c >= 0 && f.c <= 1)) return undefined;
      if (!downOk(f)) return undefined;
      const out: Fields = { t: 'vote', src: f.src, dst: f.dst, pid: f.pid, action: f.action, hops: f.hops };
      if (f.c !== undefined) out.c = f.c;
      return withDown(out, f) as PeerFrame;
    }
    case 'cack': {
      if (!isIndex(f.src) || !isIndex(f.dst) || !isNumber(f.pid) || !isInt(f.hops)) return undefined;
      if (f.at !== undefined && !(typeof f.at === 'string' && CLOCK_READING.test(f.at))) return undefined;
      if (!downOk(f)) return undefined;
      const out: Fields = { t: 'cack', src: f.src, dst: f.dst, pid: f.pid, hops: f.hops };
      if (f.at !== undefined) out.at = f.at;
      return withDown(out, f) as PeerFrame;
    }
    case 'sack': {
      if (!isIndex(f.src) || !isIndex(f.dst) || !isInt(f.ver) || !isInt(f.hops) || !downOk(f)) {
        return undefined;
      }
      return withDown({ t: 'sack', src: f.src, dst: f.dst, ver: f.ver, hops: f.hops }, f) as PeerFrame;
    }
    case 'commit': {
      if (!isIndex(f.origin) || !isNumber(f.pid) || !downOk(f)) return undefined;
      if (typeof f.decision !== 'string' || !ACTIONS.has(f.decision)) return undefined;
      return withDown({ t: 'commit', origin: f.origin, pid: f.pid, decision: f.decision }, f) as PeerFrame;
    }
    case 'prop': {
      // A proposal shipping its window: the schema checks the window (thousands of numbers).
      if (f.window !== undefined) return schemaCheck(value);
      if (!isIndex(f.origin) || !isNumber(f.pid) || !downOk(f)) return undefined;
      if (f.at !== undefined && !(isInt(f.at) && f.at >= 0)) return undefined;
      const out: Fields = { t: 'prop', origin: f.origin, pid: f.pid };
      if (f.at !== undefined) out.at = f.at;
      return withDown(out, f) as PeerFrame;
    }
    case 'st': {
      if (!isIndex(f.origin) || !isInt(f.ver) || !downOk(f) || !('state' in f)) return undefined;
      const out: Fields = { t: 'st', origin: f.origin, ver: f.ver, state: f.state };
      return withDown(out, f) as PeerFrame;
    }
    case 'm':
      return typeof f.p === 'string' ? ({ t: 'm', p: f.p } as PeerFrame) : undefined;
    case 'fl':
    case 'fa':
      return isNumber(f.id) ? ({ t: f.t, id: f.id } as PeerFrame) : undefined;
    default:
      return undefined;
  }
}

function schemaCheck(value: unknown): PeerFrame | undefined {
  const parsed = peerFrameSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}
