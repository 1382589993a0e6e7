/**
 * Peer links: one WebSocket per neighbour pair, dialled by the lower-indexed end. Implements
 * `PeerNet` for the replicated logic and tells it when a link comes up or goes down.
 */
import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import { type AgentCounters, countErrors } from './counters.ts';
import { type PeerNet, RequestError } from './peer-net.ts';
import { MAX_FRAME_BYTES, ROLE_HEADER, SECRET_HEADER } from './protocol.ts';

/** Buffered bytes on one socket above which bulk senders wait for the socket to drain. */
const HIGH_WATER_BYTES = 1024 * 1024;
/** Buffered bytes above which frames are shed rather than queued. */
const SHED_BYTES = 16 * 1024 * 1024;

/** Who the links report to. */
export interface LinkEvents {
  /** A text frame arrived from neighbour `peer`. */
  frame(peer: number, text: string): void;
  up(peer: number): void;
  down(peer: number): void;
}

export class PeerLinks implements PeerNet {
  private readonly links = new Map<number, WebSocket>();
  private waiters: Array<() => void> = [];

  constructor(
    private readonly counters: AgentCounters,
    private readonly events: LinkEvents,
  ) {}

  send(peer: number, text: string): boolean {
    const ws = this.links.get(peer);
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    if (ws.bufferedAmount > SHED_BYTES) {
      this.counters.rejected.shed++;
      return false;
    }
    this.counters.messagesOut++;
    ws.send(text);
    return true;
  }

  isUp(peer: number): boolean {
    return this.links.get(peer)?.readyState === WebSocket.OPEN;
  }

  openPeers(): number[] {
    const open: number[] = [];
    for (const [peer, ws] of this.links) if (ws.readyState === WebSocket.OPEN) open.push(peer);
    return open;
  }

  /** Open links. */
  get openCount(): number {
    let open = 0;
    for (const ws of this.links.values()) if (ws.readyState === WebSocket.OPEN) open++;
    return open;
  }

  congested(peer: number): boolean {
    return (this.links.get(peer)?.bufferedAmount ?? 0) > HIGH_WATER_BYTES;
  }

  drained(peer: number): Promise<void> {
    const ws = this.links.get(peer);
    if (!ws) return Promise.resolve();
    const socket = (ws as unknown as { _socket: Socket })._socket;
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
    const ws = this.links.get(peer);
    if (!ws) return () => {};
    ws.once('close', listener);
    return () => ws.off('close', listener);
  }

  /** Dial neighbour `peer` at `url`, presenting `secret` and our index; resolves once the link is open. */
  dial(peer: number, url: string, self: number, secret: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, {
        headers: { [SECRET_HEADER]: secret, [ROLE_HEADER]: `peer:${self}` },
        maxPayload: MAX_FRAME_BYTES,
        perMessageDeflate: false,
      });
      ws.once('upgrade', (res) => this.counters.track(res.socket as Socket, 'peer'));
      ws.once('open', () => {
        this.attach(peer, ws);
        resolve();
      });
      ws.once('unexpected-response', (_req, res) => {
        reject(new RequestError(`peer ${peer} refused the link (HTTP ${res.statusCode})`));
      });
      ws.once('error', (error) => reject(new RequestError(`peer ${peer} unreachable: ${error.message}`)));
    });
  }

  /** Take an open connection as the link to `peer`. */
  attach(peer: number, ws: WebSocket): void {
    countErrors(ws, this.counters);
    const previous = this.links.get(peer);
    if (previous && previous !== ws) previous.terminate();
    this.links.set(peer, ws);
    this.events.up(peer);
    ws.on('message', (data, isBinary) => {
      this.counters.messagesIn++;
      if (isBinary) {
        this.counters.rejected.malformed++;
        return;
      }
      this.events.frame(peer, (data as Buffer).toString());
    });
    ws.once('close', () => {
      if (this.links.get(peer) !== ws) return;
      this.links.delete(peer);
      this.events.down(peer);
    });
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

  /** Close every link. */
  dropAll(): void {
    const links = [...this.links.values()];
    this.links.clear();
    for (const ws of links) ws.terminate();
  }
}
