/**
 * The binary form of the hot agent-to-agent frames (peer protocol 4): ping, pong, vote, commit,
 * commit ack, state-sync ack, and a proposal naming a bar of the feed (no window). Every other frame
 * (a proposal shipping its window, state, throughput frames, values the binary form cannot hold)
 * stays a JSON text frame on the same socket, checked by frame-check.ts.
 *
 * Layout, little-endian; agent indices are u16, every other number an f64 so a binary frame holds
 * exactly the values its JSON form may (the decoder applies the schema's rules to them):
 *
 *   0 kind u8   1 flags u8 (OPT 1: the kind's optional field, DN 2: dead list, DA 4: their lives)
 *   2 src | origin u16
 *   ping, pong  4 dst u16  6 path length u16  8 id f64  16 path u16[]  [p: length u32, UTF-8 bytes]
 *   vote        4 dst u16  6 action u8  7 zero  8 pid f64  16 hops f64  [24 c f64]
 *   cack        4 dst u16  6 zero u16           8 pid f64  16 hops f64  [24 at u64 (ns)]
 *   sack        4 dst u16  6 zero u16           8 ver f64  16 hops f64
 *   prop        4 zero u32                      8 pid f64  [16 at f64]
 *   commit      4 decision u8  5 zero u8[3]     8 pid f64
 *   then the marks: [DN: count u16, u16[]] [DA: count u16, u32[]], and nothing after them.
 *
 * Decoding is strict: a kind, flag, length, index, range or padding byte out of place refuses the
 * whole frame, and every valid frame has exactly one encoding (decode then encode gives the same
 * bytes). Frames passing through an agent are relayed as the bytes they came in: hops bumped in
 * place, a path step appended, the marks section replaced when the relaying agent has its own.
 */
import { isUtf8 } from 'node:buffer';
import { MAX_MARK_LIFE_MS, type PeerFrame } from './protocol.ts';

/** The WebSocket subprotocol of peer links; a peer that does not offer it is refused (HTTP 426). */
export const PEER_PROTOCOL = 'swarm-bench-peer.4';

/** Frame kinds (byte 0). */
export const WIRE = { ping: 1, pong: 2, vote: 3, cack: 4, sack: 5, prop: 6, commit: 7 } as const;

const OPT = 1;
const DN = 2;
const DA = 4;
const MAX_INDEX = 10_000;
const MAX_LIST = 10_000;
const MAX_U64 = (1n << 64n) - 1n;
const ACTIONS = ['buy', 'sell', 'hold'] as const;
type Action = (typeof ACTIONS)[number];
const ACTION_CODE = new Map<unknown, number>([
  ['buy', 0],
  ['sell', 1],
  ['hold', 2],
]);
const KIND_CODE = new Map<unknown, number>(Object.entries(WIRE));

/** Offsets shared by the kinds that have the field. */
const SRC = 2;
const DST = 4;
const PATH_LENGTH = 6;
const ACTION = 6;
const DECISION = 4;
const ID = 8;
const HOPS = 16;
const PATH = 16;

/** Fixed part of each kind, before its optional field. */
const FIXED = [0, 16, 16, 24, 24, 24, 16, 16] as const;
/** Size of each kind's optional field (0: it has none). */
const OPTIONAL = [0, 0, 0, 8, 8, 0, 8, 0] as const;

const isIndex = (v: unknown): v is number =>
  Number.isInteger(v) && (v as number) >= 0 && (v as number) <= MAX_INDEX;

// ---------------------------------------------------------------------------------------------
// Reading

/**
 * Check `bytes` as a binary peer frame without allocating; returns where its marks section begins
 * (the frame's body length), or -1 when the frame is malformed.
 */
export function scanPeerWire(bytes: Buffer): number {
  const length = bytes.length;
  if (length < 16) return -1;
  const kind = bytes[0] as number;
  if (kind < WIRE.ping || kind > WIRE.commit) return -1;
  const flags = bytes[1] as number;
  if (flags > 7) return -1;
  const hasOpt = (flags & OPT) !== 0;
  if (hasOpt && (OPTIONAL[kind] as number) === 0 && kind !== WIRE.ping && kind !== WIRE.pong) return -1;
  if (bytes.readUInt16LE(SRC) > MAX_INDEX) return -1;
  let at = FIXED[kind] as number;
  if (length < at) return -1;
  switch (kind) {
    case WIRE.ping:
    case WIRE.pong: {
      if (bytes.readUInt16LE(DST) > MAX_INDEX) return -1;
      if (!Number.isFinite(bytes.readDoubleLE(ID))) return -1;
      at = scanEntries(bytes, at, bytes.readUInt16LE(PATH_LENGTH), 2, MAX_INDEX);
      if (at < 0) return -1;
      if (hasOpt) {
        if (length < at + 4) return -1;
        const pLength = bytes.readUInt32LE(at);
        at += 4;
        if (length < at + pLength || !isUtf8(bytes.subarray(at, at + pLength))) return -1;
        at += pLength;
      }
      break;
    }
    case WIRE.vote: {
      if (bytes.readUInt16LE(DST) > MAX_INDEX || (bytes[ACTION] as number) > 2 || bytes[7] !== 0) return -1;
      if (!Number.isFinite(bytes.readDoubleLE(ID)) || !Number.isSafeInteger(bytes.readDoubleLE(HOPS))) {
        return -1;
      }
      if (hasOpt) {
        if (length < at + 8) return -1;
        const c = bytes.readDoubleLE(at);
        if (!(c >= 0 && c <= 1)) return -1;
        at += 8;
      }
      break;
    }
    case WIRE.cack:
    case WIRE.sack: {
      if (bytes.readUInt16LE(DST) > MAX_INDEX || bytes.readUInt16LE(6) !== 0) return -1;
      const first = bytes.readDoubleLE(ID);
      if (kind === WIRE.cack ? !Number.isFinite(first) : !Number.isSafeInteger(first)) return -1;
      if (!Number.isSafeInteger(bytes.readDoubleLE(HOPS))) return -1;
      if (hasOpt) {
        if (length < at + 8) return -1;
        at += 8; // any u64 is a clock reading
      }
      break;
    }
    case WIRE.prop: {
      if (bytes.readUInt32LE(4) !== 0 || !Number.isFinite(bytes.readDoubleLE(ID))) return -1;
      if (hasOpt) {
        if (length < at + 8) return -1;
        const bar = bytes.readDoubleLE(at);
        if (!Number.isSafeInteger(bar) || bar < 0) return -1;
        at += 8;
      }
      break;
    }
    default: {
      // commit
      if ((bytes[DECISION] as number) > 2 || bytes[5] !== 0 || bytes.readUInt16LE(6) !== 0) return -1;
      if (!Number.isFinite(bytes.readDoubleLE(ID))) return -1;
    }
  }
  const body = at;
  if ((flags & DN) !== 0) at = scanCounted(bytes, at, 2, MAX_INDEX);
  if ((flags & DA) !== 0 && at >= 0) at = scanCounted(bytes, at, 4, MAX_MARK_LIFE_MS);
  return at === length ? body : -1;
}

/** Check `count` entries of `width` bytes (u16 or u32) at `at`, each at most `max`; the offset after them, or -1. */
function scanEntries(bytes: Buffer, at: number, count: number, width: 2 | 4, max: number): number {
  if (count > MAX_LIST || bytes.length < at + width * count) return -1;
  for (let i = 0; i < count; i++) {
    if ((width === 2 ? bytes.readUInt16LE(at + 2 * i) : bytes.readUInt32LE(at + 4 * i)) > max) return -1;
  }
  return at + width * count;
}

/** A counted list at `at` (u16 count, then the entries): the offset after it, or -1. */
function scanCounted(bytes: Buffer, at: number, width: 2 | 4, max: number): number {
  return bytes.length < at + 2 ? -1 : scanEntries(bytes, at + 2, bytes.readUInt16LE(at), width, max);
}

/** Kind of a scanned frame (a WIRE value). */
export const wireKind = (bytes: Buffer): number => bytes[0] as number;
/** Sender of a routed frame, origin of a flooded one. */
export const wireSource = (bytes: Buffer): number => bytes.readUInt16LE(SRC);
/** Destination of a routed frame (ping, pong, vote, cack, sack). */
export const wireDestination = (bytes: Buffer): number => bytes.readUInt16LE(DST);
/** The f64 at offset 8: a probe's id, a proposal's pid, a state ack's version. */
export const wireId = (bytes: Buffer): number => bytes.readDoubleLE(ID);
/** Hops travelled by a vote, cack or sack. */
export const wireHops = (bytes: Buffer): number => bytes.readDoubleLE(HOPS);
/** A vote's action. */
export const wireAction = (bytes: Buffer): Action => ACTIONS[bytes[ACTION] as number] as Action;
/** A vote's confidence (0 when the vote carries none). */
export const wireConfidence = (bytes: Buffer): number =>
  ((bytes[1] as number) & OPT) === 0 ? 0 : bytes.readDoubleLE(24);
/** A commit ack's receipt time, when it carries one. */
export const wireClock = (bytes: Buffer): bigint | undefined =>
  ((bytes[1] as number) & OPT) === 0 ? undefined : bytes.readBigUInt64LE(24);
/** Whether a scanned frame carries a dead list or lives. */
export const wireHasMarks = (bytes: Buffer): boolean => ((bytes[1] as number) & (DN | DA)) !== 0;

/** A probe's path, with `self` appended when given. */
export function wirePath(bytes: Buffer, self?: number): number[] {
  const count = bytes.readUInt16LE(PATH_LENGTH);
  const path = new Array<number>(count);
  for (let i = 0; i < count; i++) path[i] = bytes.readUInt16LE(PATH + 2 * i);
  if (self !== undefined) path.push(self);
  return path;
}

/** The dead list and lives of a scanned frame whose body ends at `body` (only what it carries). */
export function wireMarks(bytes: Buffer, body: number): { dn?: number[]; da?: number[] } {
  const flags = bytes[1] as number;
  const marks: { dn?: number[]; da?: number[] } = {};
  let at = body;
  if ((flags & DN) !== 0) {
    const count = bytes.readUInt16LE(at);
    at += 2;
    marks.dn = Array.from({ length: count }, (_, i) => bytes.readUInt16LE(at + 2 * i));
    at += 2 * count;
  }
  if ((flags & DA) !== 0) {
    const count = bytes.readUInt16LE(at);
    at += 2;
    marks.da = Array.from({ length: count }, (_, i) => bytes.readUInt32LE(at + 4 * i));
  }
  return marks;
}

/** Whether every agent a scanned frame names (sender, destination, path, dead list) is below `size`. */
export function wireNamesOnlyMembers(bytes: Buffer, body: number, size: number): boolean {
  if (bytes.readUInt16LE(SRC) >= size) return false;
  const kind = bytes[0] as number;
  if (kind <= WIRE.sack && bytes.readUInt16LE(DST) >= size) return false;
  if (kind === WIRE.ping || kind === WIRE.pong) {
    const count = bytes.readUInt16LE(PATH_LENGTH);
    for (let i = 0; i < count; i++) if (bytes.readUInt16LE(PATH + 2 * i) >= size) return false;
  }
  if (((bytes[1] as number) & DN) !== 0) {
    const count = bytes.readUInt16LE(body);
    for (let i = 0; i < count; i++) if (bytes.readUInt16LE(body + 2 + 2 * i) >= size) return false;
  }
  return true;
}

/** `bytes` as the frame object its JSON form parses to (what checkPeerFrame returns), or undefined. */
export function decodePeerWire(bytes: Buffer): PeerFrame | undefined {
  const body = scanPeerWire(bytes);
  return body < 0 ? undefined : readPeerWire(bytes, body);
}

/** A frame `scanPeerWire` accepted (its body ending at `body`) as its frame object. */
export function readPeerWire(bytes: Buffer, body: number): PeerFrame {
  const kind = bytes[0] as number;
  const hasOpt = ((bytes[1] as number) & OPT) !== 0;
  const src = bytes.readUInt16LE(SRC);
  const dst = bytes.readUInt16LE(DST); // routed kinds only
  const id = bytes.readDoubleLE(ID);
  let frame: Record<string, unknown>;
  switch (kind) {
    case WIRE.ping:
    case WIRE.pong: {
      const pathEnd = PATH + 2 * bytes.readUInt16LE(PATH_LENGTH);
      frame = { t: kind === WIRE.ping ? 'ping' : 'pong', src, dst, id, path: wirePath(bytes) };
      if (hasOpt) frame.p = bytes.toString('utf8', pathEnd + 4, pathEnd + 4 + bytes.readUInt32LE(pathEnd));
      break;
    }
    case WIRE.vote:
      frame = { t: 'vote', src, dst, pid: id, action: wireAction(bytes), hops: wireHops(bytes) };
      if (hasOpt) frame.c = bytes.readDoubleLE(24);
      break;
    case WIRE.cack:
      frame = { t: 'cack', src, dst, pid: id, hops: wireHops(bytes) };
      if (hasOpt) frame.at = bytes.readBigUInt64LE(24).toString();
      break;
    case WIRE.sack:
      frame = { t: 'sack', src, dst, ver: id, hops: wireHops(bytes) };
      break;
    case WIRE.prop:
      frame = { t: 'prop', origin: src, pid: id };
      if (hasOpt) frame.at = bytes.readDoubleLE(16);
      break;
    default:
      frame = { t: 'commit', origin: src, pid: id, decision: ACTIONS[bytes[DECISION] as number] };
  }
  return Object.assign(frame, wireMarks(bytes, body)) as PeerFrame;
}

// ---------------------------------------------------------------------------------------------
// Writing

type Fields = Record<string, unknown>;

const fitsIndex = (v: unknown): boolean => isIndex(v);
const fitsIndexList = (v: unknown): boolean =>
  Array.isArray(v) && v.length <= MAX_LIST && v.every((i) => isIndex(i));
const fitsLives = (v: unknown): boolean =>
  Array.isArray(v) &&
  v.length <= MAX_LIST &&
  v.every((l) => Number.isInteger(l) && (l as number) >= 0 && (l as number) <= MAX_MARK_LIFE_MS);

/** A clock reading (decimal ns) as a u64, when its decimal form is the canonical one of a u64. */
function clockValue(at: unknown): bigint | undefined {
  if (typeof at !== 'string' || !/^(0|[1-9]\d{0,19})$/.test(at)) return undefined;
  const value = BigInt(at);
  return value <= MAX_U64 ? value : undefined;
}

const wellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/** Bytes of a marks section for these lists (either may be absent). */
function marksLength(dn: unknown, da: unknown): number {
  return (
    (dn === undefined ? 0 : 2 + 2 * (dn as number[]).length) +
    (da === undefined ? 0 : 2 + 4 * (da as number[]).length)
  );
}

function writeMarks(out: Buffer, at: number, dn: number[] | undefined, da: number[] | undefined): void {
  if (dn !== undefined) {
    out.writeUInt16LE(dn.length, at);
    at += 2;
    for (const peer of dn) at = out.writeUInt16LE(peer, at);
  }
  if (da !== undefined) {
    out.writeUInt16LE(da.length, at);
    at += 2;
    for (const life of da) at = out.writeUInt32LE(life, at);
  }
}

/**
 * `frame` in its binary form, or undefined when it is not a hot kind or holds a value the binary
 * form cannot carry as it is (it then travels as JSON). `frame` is taken as checked already.
 */
export function encodePeerWire(frame: PeerFrame): Buffer | undefined {
  const f = frame as Fields;
  const kind = KIND_CODE.get(f.t);
  if (kind === undefined) return undefined;
  if (f.dn !== undefined && !fitsIndexList(f.dn)) return undefined;
  if (f.da !== undefined && !fitsLives(f.da)) return undefined;
  const source = kind === WIRE.prop || kind === WIRE.commit ? f.origin : f.src;
  if (!fitsIndex(source) || (kind <= WIRE.sack && !fitsIndex(f.dst))) return undefined;
  let optional: 'p' | 'c' | 'at' | undefined;
  let bytesOfP: Buffer | undefined;
  let clock: bigint | undefined;
  let length = FIXED[kind] as number;
  switch (kind) {
    case WIRE.ping:
    case WIRE.pong:
      if (!fitsIndexList(f.path)) return undefined;
      length += 2 * (f.path as number[]).length;
      if (f.p !== undefined) {
        if (typeof f.p !== 'string' || !wellFormed(f.p)) return undefined;
        bytesOfP = Buffer.from(f.p, 'utf8');
        optional = 'p';
        length += 4 + bytesOfP.length;
      }
      break;
    case WIRE.vote:
      if (!ACTION_CODE.has(f.action)) return undefined;
      if (f.c !== undefined) optional = 'c';
      break;
    case WIRE.cack:
      if (f.at !== undefined) {
        clock = clockValue(f.at);
        if (clock === undefined) return undefined;
        optional = 'at';
      }
      break;
    case WIRE.prop:
      if (f.window !== undefined) return undefined;
      if (f.at !== undefined) optional = 'at';
      break;
    case WIRE.commit:
      if (!ACTION_CODE.has(f.decision)) return undefined;
      break;
  }
  if (optional !== undefined && optional !== 'p') length += 8;
  const body = length;
  length += marksLength(f.dn, f.da);
  const out = Buffer.alloc(length);
  out[0] = kind;
  out[1] = (optional === undefined ? 0 : OPT) | (f.dn === undefined ? 0 : DN) | (f.da === undefined ? 0 : DA);
  out.writeUInt16LE(source as number, SRC);
  switch (kind) {
    case WIRE.ping:
    case WIRE.pong: {
      const path = f.path as number[];
      out.writeUInt16LE(f.dst as number, DST);
      out.writeUInt16LE(path.length, PATH_LENGTH);
      out.writeDoubleLE(f.id as number, ID);
      let at = PATH;
      for (const hop of path) at = out.writeUInt16LE(hop, at);
      if (bytesOfP !== undefined) {
        at = out.writeUInt32LE(bytesOfP.length, at);
        bytesOfP.copy(out, at);
      }
      break;
    }
    case WIRE.vote:
      out.writeUInt16LE(f.dst as number, DST);
      out[ACTION] = ACTION_CODE.get(f.action) as number;
      out.writeDoubleLE(f.pid as number, ID);
      out.writeDoubleLE(f.hops as number, HOPS);
      if (optional) out.writeDoubleLE(f.c as number, 24);
      break;
    case WIRE.cack:
      out.writeUInt16LE(f.dst as number, DST);
      out.writeDoubleLE(f.pid as number, ID);
      out.writeDoubleLE(f.hops as number, HOPS);
      if (clock !== undefined) out.writeBigUInt64LE(clock, 24);
      break;
    case WIRE.sack:
      out.writeUInt16LE(f.dst as number, DST);
      out.writeDoubleLE(f.ver as number, ID);
      out.writeDoubleLE(f.hops as number, HOPS);
      break;
    case WIRE.prop:
      out.writeDoubleLE(f.pid as number, ID);
      if (optional) out.writeDoubleLE(f.at as number, 16);
      break;
    case WIRE.commit:
      out[DECISION] = ACTION_CODE.get(f.decision) as number;
      out.writeDoubleLE(f.pid as number, ID);
      break;
  }
  writeMarks(out, body, f.dn as number[] | undefined, f.da as number[] | undefined);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Relaying: the bytes that came in, changed only where the hop changes them

/** Count one more hop on a scanned vote, cack or sack, in place. */
export function bumpHops(bytes: Buffer): Buffer {
  bytes.writeDoubleLE(bytes.readDoubleLE(HOPS) + 1, HOPS);
  return bytes;
}

/** A scanned ping or pong with `self` appended to its path (everything else as it came). */
export function withPathStep(bytes: Buffer, self: number): Buffer {
  const pathEnd = PATH + 2 * bytes.readUInt16LE(PATH_LENGTH);
  const out = Buffer.allocUnsafe(bytes.length + 2);
  bytes.copy(out, 0, 0, pathEnd);
  out.writeUInt16LE(self, pathEnd);
  bytes.copy(out, pathEnd + 2, pathEnd);
  out.writeUInt16LE(bytes.readUInt16LE(PATH_LENGTH) + 1, PATH_LENGTH);
  return out;
}

/**
 * The pong that answers a scanned ping, from agent `self`: back to the ping's sender, the path with
 * `self` appended, the padding kept, and no marks (the sending router adds its own).
 */
export function pongOf(ping: Buffer, body: number, self: number): Buffer {
  const pathEnd = PATH + 2 * ping.readUInt16LE(PATH_LENGTH);
  const out = Buffer.allocUnsafe(body + 2);
  ping.copy(out, 0, 0, pathEnd);
  out.writeUInt16LE(self, pathEnd);
  ping.copy(out, pathEnd + 2, pathEnd, body);
  out[0] = WIRE.pong;
  out[1] = (ping[1] as number) & OPT;
  out.writeUInt16LE(self, SRC);
  out.writeUInt16LE(ping.readUInt16LE(SRC), DST);
  out.writeUInt16LE(ping.readUInt16LE(PATH_LENGTH) + 1, PATH_LENGTH);
  return out;
}

/** A scanned frame whose body ends at `body`, carrying these marks instead of its own. */
export function withWireMarks(bytes: Buffer, body: number, dn: number[], da: number[]): Buffer {
  const out = Buffer.allocUnsafe(body + marksLength(dn, da));
  bytes.copy(out, 0, 0, body);
  out[1] = ((bytes[1] as number) & OPT) | DN | DA;
  writeMarks(out, body, dn, da);
  return out;
}
