/**
 * The wire protocol between the coordinator and agents, and between agents. Every frame is JSON
 * and is schema-checked on arrival; anything that does not parse is refused and counted. The
 * exceptions: the coordinator sends `execute`, and `propose` with a window, as a binary frame of
 * Float64 columns (window-frame.ts), and agents send the hot peer frames as binary (peer-wire.ts),
 * both checked against exactly these rules.
 *
 * Coordinator -> agent: `{t: 'req', id, op, ...}` answered by `{t: 'res', id, ok, result | error, at}`,
 * where `at` holds the agent's monotonic clock (ns, decimal strings) when the request arrived and
 * when its answer was made: on one host (local sandboxes) it splits a round trip into its hops.
 * Agent <-> agent: routed frames (`ping`, `pong`, `vote`, `cack`, `sack`) travel hop by hop along
 * the topology's shortest live path; flooded frames (`prop`, `commit`, `st`) travel down the
 * broadcast tree of their origin; `m`/`fl`/`fa` are neighbour-only throughput frames.
 */
import * as z from 'zod/mini';
import english from 'zod/v4/locales/en.js';
import type { PluginStats } from '../plugins/host.ts';
import type { PluginDescription } from '../plugins/types.ts';
import type { Float64Columns } from './window-frame.ts';

// zod/mini (the tree-shakable form of the same zod) keeps the agent bundle small: classic zod
// pulls its whole API (~440 KiB) into a program that starts once per agent. Imported as a
// namespace: `import { z }` makes esbuild keep the whole namespace object, every locale included
// (525 KiB bundle against 137). Mini carries no messages of its own; English ones name what is
// allowed ("Too big: expected number to be <=10000"). Classic zod sets the same locale on import,
// so a coordinator loading both sees one.
z.config(english());

/** Largest frame an agent accepts; larger ones close the connection (ws code 1009). */
export const MAX_FRAME_BYTES = 1024 * 1024;

/** Header carrying the connection's credential, derived from the swarm secret for its role (auth.ts). */
export const SECRET_HEADER = 'x-swarm-secret';
/** Header naming who connects: `coordinator` or `peer:<index>`. */
export const ROLE_HEADER = 'x-swarm-role';

/** A reading of an agent's monotonic clock on the wire: ns as a decimal string. */
export const CLOCK_READING = /^\d{1,25}$/;

/** An integer in [min, max] (max omitted: no upper bound). */
const int = (min: number, max?: number) =>
  z.int().check(z.gte(min), ...(max === undefined ? [] : [z.lte(max)]));
/** An array of at most `max` items. */
const upTo = <T extends z.core.SomeType>(item: T, max: number) => z.array(item).check(z.maxLength(max));

const bar = z.object({
  t: z.number(),
  open: z.number(),
  high: z.number(),
  low: z.number(),
  close: z.number(),
  volume: z.number(),
});
/** Most bars of a market window. */
export const MAX_WINDOW_BARS = 5000;
const column = upTo(z.number(), MAX_WINDOW_BARS);
/** A market window: bar objects, or the columnar wire form (see lib/trading/columns.ts). */
const window = z.union(
  [
    upTo(bar, MAX_WINDOW_BARS),
    z
      .object({ t: column, open: column, high: column, low: column, close: column, volume: column })
      .check(
        z.refine(
          (c) => [c.open, c.high, c.low, c.close, c.volume].every((values) => values.length === c.t.length),
          'every column of a window must have the same length',
        ),
      ),
  ],
  { error: 'expected an array of bars or an object of equal-length columns' },
);
export type WireWindow = z.infer<typeof window>;
/** A window as an agent may hold it: from a JSON frame, or Float64 columns from a binary one. */
export type AnyWindow = WireWindow | Float64Columns;
/** Longest life a down-mark may claim on the wire (ms); receivers cap it at their own. */
export const MAX_MARK_LIFE_MS = 3_600_000;
const index = int(0, 10_000);
const down = z.optional(upTo(index, 10_000));
/** Remaining life (ms) of each `dn` mark, in the same order (routing.ts). */
const lives = z.optional(upTo(int(0, MAX_MARK_LIFE_MS), 10_000));
const timeoutMs = z._default(int(1, 600_000), 5_000);
const action = z.enum(['buy', 'sell', 'hold']);

export const topologySchema = z.object({
  kind: z.enum(['mesh', 'hierarchical', 'ring', 'star']),
  size: int(1, 10_000),
  fanOut: int(2),
  root: index,
  neighbors: z.array(z.array(index)),
});

const requestBody = z.discriminatedUnion('op', [
  z.object({ op: z.literal('health') }),
  z.object({
    op: z.literal('configure'),
    self: index,
    urls: z.array(z.string().check(z.maxLength(2048))),
    topology: topologySchema,
    quorum: int(1),
    strategy: z.string().check(z.maxLength(64)),
    /** Decision rule of the consensus vote: "plurality" (built in) or a plug-in's name. @default plurality */
    decisionRule: z.optional(z.string().check(z.maxLength(64))),
    /**
     * True when every agent of the swarm reads the same monotonic clock (one host: the local
     * provider), so an agent's commit receipt time can be compared with the proposal's start.
     */
    sharedClock: z.optional(z.boolean()),
    /** The market feed every agent generates locally (same seed, same bars), so proposals name a bar, not ship a window. */
    market: z.optional(
      z.object({
        seed: int(0),
        bars: int(1, 200_000),
        windowBars: int(1, MAX_WINDOW_BARS),
        /** The feed's bars themselves (a CSV or a generator with stated parameters), instead of the seed's. */
        columns: z.optional(window),
      }),
    ),
  }),
  z.object({ op: z.literal('execute'), strategy: z.optional(z.string().check(z.maxLength(64))), window }),
  z.object({
    op: z.literal('ping'),
    to: index,
    count: int(1, 100_000),
    warmup: z._default(int(0, 10_000), 0),
    payloadBytes: z._default(int(0, MAX_FRAME_BYTES / 2), 0),
  }),
  z.object({
    op: z.literal('propose'),
    /** Either a window shipped with the proposal or the index of a bar of the agents' market feed. */
    window: z.optional(window),
    at: z.optional(int(0)),
    quorum: z.optional(int(1)),
    timeoutMs,
  }),
  z.object({
    op: z.literal('sync'),
    version: int(1),
    state: z.unknown(),
    expect: z.array(index),
    timeoutMs,
  }),
  z.object({
    op: z.literal('blast'),
    count: int(1, 10_000_000),
    payloadBytes: z._default(int(0, 64 * 1024), 16),
  }),
  z.object({ op: z.literal('metrics') }),
  /** Load and describe the agent's plug-ins (shape, dry run on a seeded window). */
  z.object({ op: z.literal('plugins') }),
]);

export const requestSchema = z.intersection(z.object({ t: z.literal('req'), id: z.int() }), requestBody);
export type Request = z.infer<typeof requestSchema>;
export type RequestBody = z.input<typeof requestBody>;
export type Op = Request['op'];

/** A round-trip probe's fields: the route it took so far and an optional padding payload. */
const probe = {
  src: index,
  dst: index,
  id: z.number(),
  path: upTo(index, 10_000),
  p: z.optional(z.string()),
  dn: down,
  da: lives,
};

export const peerFrameSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('ping'), ...probe }),
  z.object({ t: z.literal('pong'), ...probe }),
  z.object({
    t: z.literal('prop'),
    origin: index,
    pid: z.number(),
    window: z.optional(window),
    at: z.optional(int(0)),
    dn: down,
    da: lives,
  }),
  z.object({
    t: z.literal('vote'),
    src: index,
    dst: index,
    pid: z.number(),
    action,
    /** The voter's confidence, sent only when a plug-in decision rule may weigh it. */
    c: z.optional(z.number().check(z.gte(0), z.lte(1))),
    hops: z.int(),
    dn: down,
    da: lives,
  }),
  z.object({
    t: z.literal('commit'),
    origin: index,
    pid: z.number(),
    decision: action,
    dn: down,
    da: lives,
  }),
  z.object({
    t: z.literal('cack'),
    src: index,
    dst: index,
    pid: z.number(),
    hops: z.int(),
    /** Monotonic time (ns) the sender received the commit; sent only on a shared clock. */
    at: z.optional(z.string().check(z.regex(CLOCK_READING))),
    dn: down,
    da: lives,
  }),
  z.object({
    t: z.literal('st'),
    origin: index,
    ver: z.int(),
    state: z.unknown(),
    dn: down,
    da: lives,
  }),
  z.object({
    t: z.literal('sack'),
    src: index,
    dst: index,
    ver: z.int(),
    hops: z.int(),
    dn: down,
    da: lives,
  }),
  z.object({ t: z.literal('m'), p: z.string() }),
  z.object({ t: z.literal('fl'), id: z.number() }),
  z.object({ t: z.literal('fa'), id: z.number() }),
]);
export type PeerFrame = z.infer<typeof peerFrameSchema>;

/**
 * The first problem of a refused frame as `field.path: what is allowed`. In a union (a window's
 * two forms) it follows the form the frame came closest to, the one whose problem lies inside it
 * rather than in its type, so a bad bar is named by its index and field.
 */
export function describeProblem(
  issues: readonly z.core.$ZodIssue[],
  prefix: readonly PropertyKey[] = [],
): string {
  const issue = issues[0];
  if (issue === undefined) return 'frame: invalid';
  const path = [...prefix, ...issue.path];
  if (issue.code === 'invalid_union') {
    const closest = issue.errors.find(
      (option) =>
        option[0] !== undefined && !(option[0].code === 'invalid_type' && option[0].path.length === 0),
    );
    if (closest !== undefined) return describeProblem(closest, path);
  }
  return `${path.map(String).join('.') || 'frame'}: ${issue.message}`;
}

/** Counters an agent reports about itself. */
export interface AgentMetricsReport {
  agentId: string;
  pid: number;
  rssBytes: number;
  heapUsedBytes: number;
  cpuUserUs: number;
  cpuSystemUs: number;
  /** Bytes read/written on peer sockets (framing included), counted at the socket. */
  peerBytesIn: number;
  peerBytesOut: number;
  /** Bytes read/written on coordinator sockets. */
  controlBytesIn: number;
  controlBytesOut: number;
  messagesIn: number;
  messagesOut: number;
  /** Throughput frames received from neighbours (what `blast` delivered here). */
  blastReceived: number;
  /**
   * Refusals: `auth` bad or missing credential; `malformed`/`oversize`/`unknown` frames;
   * `shed` frames dropped under backpressure; `outsider` peer indices or frames naming agents
   * outside the swarm; `duplicate` a second connection for a peer whose link is healthy;
   * `handshake` connections closed for not completing an upgrade within the deadline; `unknown`
   * also counts peers refused for not speaking this agent's peer protocol (HTTP 426).
   */
  rejected: {
    auth: number;
    malformed: number;
    oversize: number;
    unknown: number;
    shed: number;
    outsider: number;
    duplicate: number;
    handshake: number;
  };
  links: number;
  uptimeMs: number;
  /** Calls and failures per plug-in (agents built with plug-ins only). */
  plugins?: Record<string, PluginStats>;
}

export interface HealthReport {
  agentId: string;
  configured: boolean;
  links: number;
  expectedLinks: number;
}

export interface PingResult {
  samplesUs: number[];
  warmupUs: number[];
  hops: number;
  path: number[];
}

export interface ProposeResult {
  decision: 'buy' | 'sell' | 'hold';
  votes: number;
  quorum: number;
  /** Proposal to quorum of votes at the proposer (the commit point). */
  commitUs: number;
  /**
   * Proposal to the moment a quorum of agents hold the decision. On a shared clock it is read from
   * the agents' own receipt times (the latest of the first quorum to acknowledge); otherwise it
   * equals `heldRttUs`.
   */
  heldUs: number;
  /** Proposal to the proposer receiving a quorum of commit acknowledgements: an upper bound of heldUs. */
  heldRttUs: number;
  /** Total hops travelled by votes and commit acks. */
  hops: number;
  /** The plug-in decision rule that decided: its time in its worker, or why it failed (the decision is then hold). */
  rule?: { name: string; decision: 'buy' | 'sell' | 'hold'; ruleUs?: number; error?: string };
}

export interface SyncResult {
  syncUs: number;
  acked: number;
  expected: number;
}

export interface BlastResult {
  sent: number;
  elapsedUs: number;
}

export interface ExecuteResult {
  action: 'buy' | 'sell' | 'hold';
  confidence: number;
  size: number;
  computeUs: number;
  /** A plug-in's own numbers about this signal. */
  diagnostics?: Record<string, number>;
}

export interface ConfigureResult {
  links: number;
}

/** What each op answers. */
export interface OpResults {
  health: HealthReport;
  configure: ConfigureResult;
  execute: ExecuteResult;
  ping: PingResult;
  propose: ProposeResult;
  sync: SyncResult;
  blast: BlastResult;
  metrics: AgentMetricsReport;
  plugins: { plugins: PluginDescription[] };
}

/**
 * An answer's `at`: the agent's `process.hrtime.bigint()` when the request's frame was handed to
 * it (ws parsed it) and when its answer was serialised, in ns as decimal strings.
 */
export type ReplyClock = [receivedNs: string, answeredNs: string];

/** An answer's `at` as two readings (ns), or undefined when it is not two decimal readings in order. */
export function readReplyClock(at: unknown): [receivedNs: bigint, answeredNs: bigint] | undefined {
  if (!Array.isArray(at) || at.length !== 2) return undefined;
  const [received, answered] = at as unknown[];
  if (typeof received !== 'string' || typeof answered !== 'string') return undefined;
  if (!CLOCK_READING.test(received) || !CLOCK_READING.test(answered)) return undefined;
  const readings: [bigint, bigint] = [BigInt(received), BigInt(answered)];
  return readings[0] <= readings[1] ? readings : undefined;
}

export interface ErrorReply {
  name: string;
  message: string;
}
