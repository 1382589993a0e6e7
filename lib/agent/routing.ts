/**
 * Routing over the topology: unicast frames go one hop closer to their destination along the
 * shortest live path; flooded frames go down their origin's broadcast tree. Dead peers learned on
 * the way (a failed send, a `dn` list on an arriving frame) are routed around.
 */
import { broadcastChildren, nextHops, type Topology } from '../swarm/topology.ts';
import type { PeerNet } from './peer-net.ts';
import type { PeerFrame } from './protocol.ts';

/** A frame sent to one agent, hop by hop. */
export type RoutedFrame = Extract<PeerFrame, { dst: number }>;
/** A frame flooded from its origin to every agent. */
export type FloodedFrame = Extract<PeerFrame, { origin: number }>;

export class Router {
  private topology: Topology | undefined;
  private self = -1;
  /** Agents this one believes are down. */
  readonly down = new Set<number>();
  private hopTable: Array<number | undefined> = [];
  private readonly childCache = new Map<number, number[]>();

  /** `onRoutesChanged` is told whenever the set of live agents changed. */
  constructor(
    private readonly net: PeerNet,
    private readonly onRoutesChanged: (down: ReadonlySet<number>) => void = () => {},
  ) {}

  configure(topology: Topology, self: number): void {
    this.topology = topology;
    this.self = self;
    this.recompute();
  }

  clear(): void {
    this.topology = undefined;
    this.self = -1;
    this.down.clear();
    this.hopTable = [];
    this.childCache.clear();
  }

  /** A link to `peer` opened: it is live again. */
  linkUp(peer: number): void {
    if (this.down.delete(peer)) this.recompute();
  }

  /** A link to `peer` closed: route around it. */
  linkDown(peer: number): void {
    if (!this.topology) return;
    this.down.add(peer);
    this.recompute();
  }

  /** Send a unicast frame one hop closer to its destination, learning of dead peers on the way. */
  forward(frame: RoutedFrame): void {
    for (let attempt = 0; attempt < 2; attempt++) {
      const hop = this.hopTable[frame.dst];
      if (hop === undefined) return; // unreachable: the sender's timeout reports it
      const out = this.down.size > 0 ? { ...frame, dn: [...this.down] } : frame;
      if (this.net.send(hop, JSON.stringify(out))) return;
      this.down.add(hop);
      this.recompute();
    }
  }

  /** Send a flooded frame to this agent's children in its origin's broadcast tree. */
  flood(frame: FloodedFrame): void {
    const out = this.down.size > 0 ? { ...frame, dn: [...this.down] } : frame;
    const text = JSON.stringify(out);
    for (const child of this.children(frame.origin)) {
      if (!this.net.send(child, text)) {
        // A dead child: its subtree is re-parented in our view; send to whoever we now cover.
        this.down.add(child);
        this.recompute();
        for (const adopted of this.children(frame.origin)) {
          if (adopted !== child) this.net.send(adopted, text);
        }
      }
    }
  }

  /** Take in the dead agents another agent reported. */
  learnDown(dn: number[] | undefined): void {
    if (!dn) return;
    let changed = false;
    for (const peer of dn) {
      if (peer !== this.self && !this.down.has(peer) && !this.net.isUp(peer)) {
        this.down.add(peer);
        changed = true;
      }
    }
    if (changed) this.recompute();
  }

  private children(origin: number): number[] {
    let cached = this.childCache.get(origin);
    if (!cached && this.topology) {
      cached = broadcastChildren(this.topology, origin, this.self, this.down);
      this.childCache.set(origin, cached);
    }
    return cached ?? [];
  }

  private recompute(): void {
    if (!this.topology) return;
    this.hopTable = nextHops(this.topology, this.self, this.down);
    this.childCache.clear();
    this.onRoutesChanged(this.down);
  }
}
