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
import { z } from 'zod';
import type { PluginStats } from '../plugins/host.ts';
import type { PluginDescription } from '../plugins/types.ts';
import type { Float64Columns } from './window-frame.ts';

/** Largest frame an agent accepts; larger ones close the connection (ws code 1009). */
export const MAX_FRAME_BYTES = 1024 * 1024;

/** Header carrying the connection's credential, derived from the swarm secret for its role (auth.ts). */
export const SECRET_HEADER = 'x-swarm-secret';
/** Header naming who connects: `coordinator` or `peer:<index>`. */
export const ROLE_HEADER = 'x-swarm-role';

/** A reading of an agent's monotonic clock on the wire: ns as a decimal string. */
export const CLOCK_READING = /^\d{1,25}$/;

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
const column = z.array(z.number()).max(MAX_WINDOW_BARS);
/** A market window: bar objects, or the columnar wire form (see lib/trading/columns.ts). */
const window = z.union([
  z.array(bar).max(MAX_WINDOW_BARS),
  z
    .object({ t: column, open: column, high: column, low: column, close: column, volume: column })
    .refine(
      (c) => [c.open, c.high, c.low, c.close, c.volume].every((values) => values.length === c.t.length),
      'every column of a window must have the same length',
    ),
]);
export type WireWindow = z.infer<typeof window>;
/** A window as an agent may hold it: from a JSON frame, or Float64 columns from a binary one. */
export type AnyWindow = WireWindow | Float64Columns;
/** Longest life a down-mark may claim on the wire (ms); receivers cap it at their own. */
export const MAX_MARK_LIFE_MS = 3_600_000;
const index = z.number().int().min(0).max(10_000);
const down = z.array(index).max(10_000).optional();
/** Remaining life (ms) of each `dn` mark, in the same order (routing.ts). */
const lives = z.array(z.number().int().min(0).max(MAX_MARK_LIFE_MS)).max(10_000).optional();

export const topologySchema = z.object({
  kind: z.enum(['mesh', 'hierarchical', 'ring', 'star']),
  size: z.number().int().min(1).max(10_000),
  fanOut: z.number().int().min(2),
  root: index,
  neighbors: z.array(z.array(index)),
});

const requestBody = z.discriminatedUnion('op', [
  z.object({ op: z.literal('health') }),
  z.object({
    op: z.literal('configure'),
    self: index,
    urls: z.array(z.string().max(2048)),
    topology: topologySchema,
    quorum: z.number().int().min(1),
    strategy: z.string().max(64),
    /** Decision rule of the consensus vote: "plurality" (built in) or a plug-in's name. @default plurality */
    decisionRule: z.string().max(64).optional(),
    /**
     * True when every agent of the swarm reads the same monotonic clock (one host: the local
     * provider), so an agent's commit receipt time can be compared with the proposal's start.
     */
    sharedClock: z.boolean().optional(),
    /** The market feed every agent generates locally (same seed, same bars), so proposals name a bar, not ship a window. */
    market: z
      .object({
        seed: z.number().int().min(0),
        bars: z.number().int().min(1).max(200_000),
        windowBars: z.number().int().min(1).max(MAX_WINDOW_BARS),
        /** The feed's bars themselves (a CSV or a generator with stated parameters), instead of the seed's. */
        columns: window.optional(),
      })
      .optional(),
  }),
  z.object({ op: z.literal('execute'), strategy: z.string().max(64).optional(), window }),
  z.object({
    op: z.literal('ping'),
    to: index,
    count: z.number().int().min(1).max(100_000),
    warmup: z.number().int().min(0).max(10_000).default(0),
    payloadBytes: z
      .number()
      .int()
      .min(0)
      .max(MAX_FRAME_BYTES / 2)
      .default(0),
  }),
  z.object({
    op: z.literal('propose'),
    /** Either a window shipped with the proposal or the index of a bar of the agents' market feed. */
    window: window.optional(),
    at: z.number().int().min(0).optional(),
    quorum: z.number().int().min(1).optional(),
    timeoutMs: z.number().int().min(1).max(600_000).default(5_000),
  }),
  z.object({
    op: z.literal('sync'),
    version: z.number().int().min(1),
    state: z.unknown(),
    expect: z.array(index),
    timeoutMs: z.number().int().min(1).max(600_000).default(5_000),
  }),
  z.object({
    op: z.literal('blast'),
    count: z.number().int().min(1).max(10_000_000),
    payloadBytes: z
      .number()
      .int()
      .min(0)
      .max(64 * 1024)
      .default(16),
  }),
  z.object({ op: z.literal('metrics') }),
  /** Load and describe the agent's plug-ins (shape, dry run on a seeded window). */
  z.object({ op: z.literal('plugins') }),
]);

export const requestSchema = z.intersection(
  z.object({ t: z.literal('req'), id: z.number().int() }),
  requestBody,
);
export type Request = z.infer<typeof requestSchema>;
export type RequestBody = z.input<typeof requestBody>;
export type Op = Request['op'];

/** A round-trip probe's fields: the route it took so far and an optional padding payload. */
const probe = {
  src: index,
  dst: index,
  id: z.number(),
  path: z.array(index).max(10_000),
  p: z.string().optional(),
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
    window: window.optional(),
    at: z.number().int().min(0).optional(),
    dn: down,
    da: lives,
  }),
  z.object({
    t: z.literal('vote'),
    src: index,
    dst: index,
    pid: z.number(),
    action: z.enum(['buy', 'sell', 'hold']),
    /** The voter's confidence, sent only when a plug-in decision rule may weigh it. */
    c: z.number().min(0).max(1).optional(),
    hops: z.number().int(),
    dn: down,
    da: lives,
  }),
  z.object({
    t: z.literal('commit'),
    origin: index,
    pid: z.number(),
    decision: z.enum(['buy', 'sell', 'hold']),
    dn: down,
    da: lives,
  }),
  z.object({
    t: z.literal('cack'),
    src: index,
    dst: index,
    pid: z.number(),
    hops: z.number().int(),
    /** Monotonic time (ns) the sender received the commit; sent only on a shared clock. */
    at: z.string().regex(CLOCK_READING).optional(),
    dn: down,
    da: lives,
  }),
  z.object({
    t: z.literal('st'),
    origin: index,
    ver: z.number().int(),
    state: z.unknown(),
    dn: down,
    da: lives,
  }),
  z.object({
    t: z.literal('sack'),
    src: index,
    dst: index,
    ver: z.number().int(),
    hops: z.number().int(),
    dn: down,
    da: lives,
  }),
  z.object({ t: z.literal('m'), p: z.string() }),
  z.object({ t: z.literal('fl'), id: z.number() }),
  z.object({ t: z.literal('fa'), id: z.number() }),
]);
export type PeerFrame = z.infer<typeof peerFrameSchema>;

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
