/**
 * Routing over the topology: unicast frames go one hop closer to their destination along the
 * shortest live path; flooded frames go down their origin's broadcast tree. Dead peers are routed
 * around: neighbours whose link is down (first-hand, until the link is up again) and agents other
 * agents reported down in a frame's `dn` list (second-hand). A second-hand mark lasts only as long
 * as its first-hand witness keeps reporting it: every mark travels with its remaining life (`da`,
 * ms), witnesses give the full life and relays pass on what is left, so once every witness saw the
 * link return, every copy in the swarm runs out within one life. A frame the agent itself sent (its
 * `src` or `origin`) clears the mark on every agent it passes sooner.
 */
import { broadcastChildren, nextHops, type Topology } from '../swarm/topology.ts';
import type { PeerNet } from './peer-net.ts';
import { encodePeerWire, scanPeerWire, withWireMarks } from './peer-wire.ts';
import type { PeerFrame } from './protocol.ts';

/** A frame sent to one agent, hop by hop. */
export type RoutedFrame = Extract<PeerFrame, { dst: number }>;
/** A frame flooded from its origin to every agent. */
export type FloodedFrame = Extract<PeerFrame, { origin: number }>;

/** How long a second-hand down-mark lasts without a witness renewing it (ms). */
export const DOWN_TTL_MS = 5_000;

export interface RouterOptions {
  /** Life of a second-hand down-mark, ms. @default DOWN_TTL_MS */
  downTtlMs?: number | undefined;
  /** The clock marks age by, ms. @default performance.now */
  now?: (() => number) | undefined;
}

export class Router {
  private topology: Topology | undefined;
  private self = -1;
  /** Neighbours whose link this agent saw close or fail a send; cleared when the link is up again. */
  private readonly local = new Set<number>();
  /** Agents others reported down, with the time each mark runs out. */
  private readonly heard = new Map<number, number>();
  /** Every agent routed around: `local` and the live part of `heard`. */
  private readonly avoided = new Set<number>();
  private hopTable: Array<number | undefined> = [];
  private readonly childCache = new Map<number, number[]>();
  private readonly ttlMs: number;
  private readonly now: () => number;

  /** `onRoutesChanged` is told whenever the set of live agents changed. */
  constructor(
    private readonly net: PeerNet,
    private readonly onRoutesChanged: (down: ReadonlySet<number>) => void = () => {},
    options: RouterOptions = {},
  ) {
    this.ttlMs = options.downTtlMs ?? DOWN_TTL_MS;
    this.now = options.now ?? (() => performance.now());
  }

  /** Agents this one believes are down now. */
  get down(): ReadonlySet<number> {
    this.expire();
    return this.avoided;
  }

  configure(topology: Topology, self: number): void {
    this.topology = topology;
    this.self = self;
    this.recompute();
  }

  clear(): void {
    this.topology = undefined;
    this.self = -1;
    this.local.clear();
    this.heard.clear();
    this.avoided.clear();
    this.hopTable = [];
    this.childCache.clear();
  }

  /** A link to `peer` opened: it is live again. */
  linkUp(peer: number): void {
    this.local.delete(peer);
    this.heard.delete(peer);
    if (this.avoided.delete(peer)) this.recompute();
  }

  /** A link to `peer` closed: route around it. */
  linkDown(peer: number): void {
    if (!this.topology) return;
    this.local.add(peer);
    this.avoided.add(peer);
    this.recompute();
  }

  /** Send a unicast frame one hop closer to its destination, learning of dead peers on the way. */
  forward(frame: RoutedFrame): void {
    this.route(frame.dst, frame, undefined);
  }

  /**
   * Pass on a binary frame (peer-wire.ts) bound for `dst` as the bytes it came in, which carry this
   * agent's down-marks in place of the sender's when it has any.
   */
  relay(dst: number, bytes: Buffer): void {
    this.route(dst, undefined, bytes);
  }

  private route(dst: number, frame: RoutedFrame | undefined, bytes: Buffer | undefined): void {
    this.expire();
    for (let attempt = 0; attempt < 2; attempt++) {
      const hop = this.hopTable[dst];
      if (hop === undefined) return; // unreachable: the sender's timeout reports it
      if (this.net.send(hop, this.wire(frame, bytes))) return;
      this.failedSend(hop);
    }
  }

  /**
   * Send a flooded frame to this agent's children in its origin's broadcast tree; `raw` is the
   * binary frame it arrived as, passed on as it is.
   */
  flood(frame: FloodedFrame, raw?: Buffer): void {
    this.expire();
    const children = this.children(frame.origin);
    // A leaf of the tree (every agent but the origin, in a mesh) passes nothing on: no frame to make.
    if (children.length === 0) return;
    const data = this.wire(raw === undefined ? frame : undefined, raw);
    for (const child of children) {
      if (!this.net.send(child, data)) {
        // A dead child: its subtree is re-parented in our view; send to whoever we now cover.
        this.failedSend(child);
        for (const adopted of this.children(frame.origin)) {
          if (adopted !== child) this.net.send(adopted, data);
        }
      }
    }
  }

  /**
   * Take in the dead agents another agent reported, each with its remaining life in `da` (the full
   * life when absent, capped at it). Agents this one links to directly are its own to judge.
   */
  learnDown(dn: number[] | undefined, da?: number[]): void {
    if (!dn) return;
    this.expire();
    const now = this.now();
    let changed = false;
    for (let i = 0; i < dn.length; i++) {
      const peer = dn[i] as number;
      const life = Math.min(da?.[i] ?? this.ttlMs, this.ttlMs);
      if (peer === this.self || life <= 0 || this.net.isUp(peer)) continue;
      const until = now + life;
      if ((this.heard.get(peer) ?? Number.NEGATIVE_INFINITY) < until) this.heard.set(peer, until);
      if (!this.avoided.has(peer)) {
        this.avoided.add(peer);
        changed = true;
      }
    }
    if (changed) this.recompute();
  }

  /** A frame `peer` itself sent reached this agent: it is alive, whatever others said. */
  seenAlive(peer: number): void {
    if (peer !== this.self && this.heard.delete(peer) && !this.local.has(peer)) {
      this.avoided.delete(peer);
      this.recompute();
    }
  }

  /**
   * A send to neighbour `peer` failed: route around it until its link is up again, or, when the
   * link is still open (a send shed on a full socket), for one mark's life.
   */
  private failedSend(peer: number): void {
    if (this.net.isUp(peer)) this.heard.set(peer, this.now() + this.ttlMs);
    else this.local.add(peer);
    this.avoided.add(peer);
    this.recompute();
  }

  /**
   * What goes on the wire for `frame` (binary when peer-wire.ts can carry it, else JSON), or for
   * the binary frame `bytes`, with this agent's down-marks and their remaining lives.
   */
  private wire(frame: PeerFrame | undefined, bytes: Buffer | undefined): string | Buffer {
    const marks = this.marks();
    if (bytes !== undefined) {
      return marks === undefined ? bytes : withWireMarks(bytes, scanPeerWire(bytes), marks.dn, marks.da);
    }
    const marked = (marks === undefined ? frame : { ...frame, ...marks }) as PeerFrame;
    return encodePeerWire(marked) ?? JSON.stringify(marked);
  }

  /** This agent's down-marks and their remaining lives, or undefined when it avoids no one. */
  private marks(): { dn: number[]; da: number[] } | undefined {
    if (this.avoided.size === 0) return undefined;
    const now = this.now();
    const dn: number[] = [];
    const da: number[] = [];
    for (const peer of this.avoided) {
      dn.push(peer);
      da.push(
        this.local.has(peer) ? this.ttlMs : Math.max(0, Math.floor((this.heard.get(peer) ?? now) - now)),
      );
    }
    return { dn, da };
  }

  /** Drop the second-hand marks whose life ran out. */
  private expire(): void {
    if (this.heard.size === 0) return;
    const now = this.now();
    let changed = false;
    for (const [peer, until] of this.heard) {
      if (until > now) continue;
      this.heard.delete(peer);
      if (!this.local.has(peer)) {
        this.avoided.delete(peer);
        changed = true;
      }
    }
    if (changed) this.recompute();
  }

  private children(origin: number): number[] {
    let cached = this.childCache.get(origin);
    if (!cached && this.topology) {
      cached = broadcastChildren(this.topology, origin, this.self, this.avoided);
      this.childCache.set(origin, cached);
    }
    return cached ?? [];
  }

  private recompute(): void {
    if (!this.topology) return;
    this.hopTable = nextHops(this.topology, this.self, this.avoided);
    this.childCache.clear();
    this.onRoutesChanged(this.avoided);
  }
}
