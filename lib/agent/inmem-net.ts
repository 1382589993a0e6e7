/**
 * An in-memory network of agents for tests and measurements without sockets: every neighbour
 * pair of a topology is a link; a frame sent is delivered, as text or bytes, on a later turn of the event
 * loop, the way a socket would. Links can be cut and restored, and agents crashed.
 */
import type { Topology } from '../swarm/topology.ts';
import type { PeerNet } from './peer-net.ts';

/** What receives the frames delivered to one agent. */
export interface InMemoryReceiver {
  receive(from: number, data: string | Buffer): void;
  linkDown?(peer: number): void;
  linkUp?(peer: number): void;
}

export class InMemoryNetwork {
  private readonly receivers: Array<InMemoryReceiver | undefined> = [];
  private readonly cut = new Set<string>();
  private readonly listeners = new Map<string, Set<() => void>>();
  /** Frames delivered so far. */
  delivered = 0;

  constructor(private readonly topology: Topology) {}

  /** The PeerNet of agent `self`; frames for it go to `receiver`. */
  join(self: number, receiver: InMemoryReceiver): PeerNet {
    this.receivers[self] = receiver;
    const linked = (peer: number) =>
      (this.topology.neighbors[self] ?? []).includes(peer) &&
      !this.cut.has(key(self, peer)) &&
      this.receivers[peer] !== undefined;
    return {
      send: (peer, data) => {
        if (!linked(peer)) return false;
        // Bytes are copied as a socket copies them: a receiver may change its frame in place.
        const frame = typeof data === 'string' ? data : Buffer.from(data);
        setImmediate(() => {
          if (!linked(peer)) return;
          this.delivered++;
          this.receivers[peer]?.receive(self, frame);
        });
        return true;
      },
      isUp: linked,
      openPeers: () => (this.topology.neighbors[self] ?? []).filter(linked),
      congested: () => false,
      drained: () => Promise.resolve(),
      onceDown: (peer, listener) => {
        const k = `${self}>${peer}`;
        const set = this.listeners.get(k) ?? new Set();
        set.add(listener);
        this.listeners.set(k, set);
        return () => set.delete(listener);
      },
    };
  }

  /** Cut the link between `a` and `b`; both ends are told. */
  cutLink(a: number, b: number): void {
    this.cut.add(key(a, b));
    this.down(a, b);
    this.down(b, a);
  }

  /** Restore a cut link between `a` and `b`, the way a re-dial would; both ends are told. */
  restoreLink(a: number, b: number): void {
    if (!this.cut.delete(key(a, b))) return;
    this.receivers[a]?.linkUp?.(b);
    this.receivers[b]?.linkUp?.(a);
  }

  /** Crash agent `index`: it receives nothing more; its neighbours see their links close. */
  crash(index: number): void {
    this.receivers[index] = undefined;
    for (const peer of this.topology.neighbors[index] ?? []) this.down(peer, index);
  }

  private down(at: number, peer: number): void {
    this.receivers[at]?.linkDown?.(peer);
    const set = this.listeners.get(`${at}>${peer}`);
    this.listeners.delete(`${at}>${peer}`);
    for (const listener of set ?? []) listener();
  }
}

function key(a: number, b: number): string {
  return a < b ? `${a}-${b}` : `${b}-${a}`;
}
