/**
 * The seam between the network and the replicated logic. Routing, consensus, state sync and the
 * workload send through a `PeerNet` and are handed frames by whoever owns the sockets: the
 * WebSocket links in a running agent (links.ts), an in-memory network in tests (inmem-net.ts).
 */

/** What the logic needs from the network: neighbour links that carry text (JSON) and binary frames. */
export interface PeerNet {
  /**
   * Send a frame to neighbour `peer`: a string as a text frame, bytes as a binary one (peer-wire.ts;
   * the network must not change them after the call); false when the link is down or shedding load.
   */
  send(peer: number, data: string | Buffer): boolean;
  /** Whether the link to neighbour `peer` is open. */
  isUp(peer: number): boolean;
  /** Neighbours with an open link. */
  openPeers(): number[];
  /** True when the link to `peer` holds so much unsent data that a bulk sender should wait. */
  congested(peer: number): boolean;
  /** Resolves when `peer`'s send buffer drained or its link closed (a dead peer never drains). */
  drained(peer: number): Promise<void>;
  /** Call `listener` once when the link to `peer` closes; returns a function that cancels it. */
  onceDown(peer: number, listener: () => void): () => void;
}

/** A refusal of a request the agent understood but cannot do (answered as `RequestError`). */
export class RequestError extends Error {}

/** Microseconds elapsed since a `process.hrtime.bigint()` reading. */
export function microsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1000;
}
