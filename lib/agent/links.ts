/**
 * Peer links: one WebSocket per neighbour pair, dialled by the lower-indexed end, which also
 * re-dials a link that dropped (with backoff) so the swarm heals. A healthy link is never
 * displaced by a second connection claiming the same peer; a link that stops answering the
 * heartbeat is closed so its peer can reconnect. Implements `PeerNet` for the replicated logic.
 */
import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import { type AgentCounters, countErrors } from './counters.ts';
import { type PeerNet, RequestError } from './peer-net.ts';
import { PEER_PROTOCOL } from './peer-wire.ts';
import { MAX_FRAME_BYTES, ROLE_HEADER, SECRET_HEADER } from './protocol.ts';
import type { PeerRefusal } from './transport.ts';

/** Buffered bytes on one socket above which bulk senders wait for the socket to drain. */
const HIGH_WATER_BYTES = 1024 * 1024;
/** Buffered bytes above which frames are shed rather than queued. */
const SHED_BYTES = 16 * 1024 * 1024;
/** Interval of the link heartbeat; a link silent for MISSED_BEATS of them is closed. */
export const HEARTBEAT_MS = 5_000;
const MISSED_BEATS = 2;
/** Re-dial backoff: first delay and cap (full jitter). */
const REDIAL_BASE_MS = 50;
const REDIAL_CAP_MS = 2_000;

/** Who the links report to. */
export interface LinkEvents {
  /** A frame arrived from neighbour `peer`: text as a string, binary as its bytes. */
  frame(peer: number, data: string | Buffer): void;
  up(peer: number): void;
  down(peer: number): void;
}

/** The links this agent dials and keeps dialling: the neighbours above it. */
export interface DialPlan {
  self: number;
  /** Every agent's URL, by index. */
  urls: string[];
  /** Neighbours this agent dials (the ones above it). */
  dials: number[];
  /** Every neighbour (links to others are refused). */
  neighbours: ReadonlySet<number>;
  /** This agent's peer credential. */
  credential: string;
}

interface Link {
  ws: WebSocket;
  /** Heartbeats since the peer was last heard from. */
  silent: number;
}

export class PeerLinks implements PeerNet {
  private readonly links = new Map<number, Link>();
  private waiters: Array<() => void> = [];
  private plan: DialPlan | undefined;
  private readonly redials = new Map<number, { attempt: number; timer?: NodeJS.Timeout }>();
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(
    private readonly counters: AgentCounters,
    private readonly events: LinkEvents,
  ) {}

  send(peer: number, data: string | Buffer): boolean {
    const ws = this.links.get(peer)?.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    if (ws.bufferedAmount > SHED_BYTES) {
      this.counters.rejected.shed++;
      return false;
    }
    this.counters.messagesOut++;
    ws.send(data);
    return true;
  }

  isUp(peer: number): boolean {
    return this.links.get(peer)?.ws.readyState === WebSocket.OPEN;
  }

  openPeers(): number[] {
    const open: number[] = [];
    for (const [peer, link] of this.links) if (link.ws.readyState === WebSocket.OPEN) open.push(peer);
    return open;
  }

  /** Open links. */
  get openCount(): number {
    return this.openPeers().length;
  }

  congested(peer: number): boolean {
    return (this.links.get(peer)?.ws.bufferedAmount ?? 0) > HIGH_WATER_BYTES;
  }

  drained(peer: number): Promise<void> {
    const ws = this.links.get(peer)?.ws;
    const socket = (ws as unknown as { _socket: Socket | null } | undefined)?._socket;
    if (!ws || !socket || ws.readyState !== WebSocket.OPEN) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        socket.off('drain', done);
        ws.off('close', done);
        resolve();
      };
      socket.once('drain', done);
      ws.once('close', done);
    });
  }

  onceDown(peer: number, listener: () => void): () => void {
    const ws = this.links.get(peer)?.ws;
    if (!ws) return () => {};
    ws.once('close', listener);
    return () => ws.off('close', listener);
  }

  /**
   * Whether a connection claiming to be `peer` may become its link: not when the swarm has no
   * such neighbour (`outsider`), not while its link is open (`duplicate`). Before this agent knows
   * its swarm, any index is taken; `follow` drops the ones that turn out not to be neighbours.
   */
  admit(peer: number): PeerRefusal | undefined {
    if (this.plan && !this.plan.neighbours.has(peer)) return 'outsider';
    if (this.isUp(peer)) return 'duplicate';
    return undefined;
  }

  /** Dial the plan's links, keep re-dialling them when they drop; resolves once each is open. */
  async follow(plan: DialPlan): Promise<void> {
    this.plan = plan;
    for (const [peer, link] of this.links) {
      if (!plan.neighbours.has(peer)) {
        this.counters.rejected.outsider++;
        this.links.delete(peer);
        link.ws.terminate();
      }
    }
    await Promise.all(plan.dials.map((peer) => this.dial(peer, plan)));
  }

  /** Stop re-dialling and close every link. */
  dropAll(): void {
    this.plan = undefined;
    for (const redial of this.redials.values()) clearTimeout(redial.timer);
    this.redials.clear();
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    const links = [...this.links.values()];
    this.links.clear();
    for (const link of links) link.ws.terminate();
  }

  /** Take an open connection as the link to `peer`. */
  attach(peer: number, ws: WebSocket): void {
    countErrors(ws, this.counters);
    const link: Link = { ws, silent: 0 };
    this.links.set(peer, link);
    this.redials.delete(peer);
    this.events.up(peer);
    ws.on('message', (data, isBinary) => {
      link.silent = 0;
      this.counters.messagesIn++;
      // binaryType 'nodebuffer': ws hands one Buffer per message, fragments joined.
      this.events.frame(peer, isBinary ? (data as Buffer) : (data as Buffer).toString());
    });
    ws.on('pong', () => {
      link.silent = 0;
    });
    ws.once('close', () => {
      if (this.links.get(peer) !== link) return;
      this.links.delete(peer);
      this.events.down(peer);
      this.scheduleRedial(peer);
    });
    this.heartbeat ??= setInterval(() => this.beat(), HEARTBEAT_MS).unref();
    for (const waiter of [...this.waiters]) waiter();
  }

  /** Resolves when at least `expected` links are open; rejects after `timeoutMs`. */
  waitFor(expected: number, timeoutMs: number): Promise<void> {
    if (this.openCount >= expected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new RequestError(`configure: only ${this.openCount}/${expected} peer links`));
      }, timeoutMs);
      const check = () => {
        if (this.openCount >= expected) {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((w) => w !== check);
          resolve();
        }
      };
      this.waiters.push(check);
    });
  }

  private dial(peer: number, plan: DialPlan): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(plan.urls[peer] as string, PEER_PROTOCOL, {
        headers: { [SECRET_HEADER]: plan.credential, [ROLE_HEADER]: `peer:${plan.self}` },
        maxPayload: MAX_FRAME_BYTES,
        perMessageDeflate: false,
        handshakeTimeout: 5_000,
      });
      ws.once('upgrade', (res) => this.counters.track(res.socket as Socket, 'peer'));
      ws.once('open', () => {
        if (this.plan !== plan) {
          ws.terminate();
          return resolve();
        }
        this.attach(peer, ws);
        resolve();
      });
      ws.once('unexpected-response', (_req, res) => {
        ws.terminate();
        reject(new RequestError(`peer ${peer} refused the link (HTTP ${res.statusCode})`));
      });
      ws.once('error', (error) => reject(new RequestError(`peer ${peer} unreachable: ${error.message}`)));
    });
  }

  /** A link this agent dials dropped: dial it again after a jittered, growing delay, until it holds. */
  private scheduleRedial(peer: number): void {
    const plan = this.plan;
    if (!plan?.dials.includes(peer) || this.redials.get(peer)?.timer) return;
    const redial = this.redials.get(peer) ?? { attempt: 0 };
    this.redials.set(peer, redial);
    const delayMs = Math.random() * Math.min(REDIAL_CAP_MS, REDIAL_BASE_MS * 2 ** redial.attempt++);
    redial.timer = setTimeout(() => {
      redial.timer = undefined;
      if (this.plan !== plan || this.isUp(peer)) return;
      this.dial(peer, plan).catch(() => this.scheduleRedial(peer));
    }, delayMs);
    redial.timer.unref();
  }

  /** Close links silent for MISSED_BEATS heartbeats (their peer froze or vanished), so it can reconnect. */
  private beat(): void {
    for (const link of this.links.values()) {
      if (link.silent++ >= MISSED_BEATS) {
        link.ws.terminate();
        continue;
      }
      if (link.ws.readyState === WebSocket.OPEN) link.ws.ping();
    }
  }
}
