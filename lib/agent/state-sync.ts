/**
 * State sync: the origin floods a new version of the shared state; every agent that takes it
 * acknowledges along the route back; the round ends when every expected live agent acknowledged.
 */
import { microsSince, RequestError } from './peer-net.ts';
import type { OpResults, PeerFrame } from './protocol.ts';
import type { Router } from './routing.ts';

interface SyncRound {
  ver: number;
  started: bigint;
  expect: Set<number>;
  acked: Set<number>;
  done: (result: OpResults['sync']) => void;
  timer: NodeJS.Timeout;
}

export class StateSync {
  private self = -1;
  private round: SyncRound | undefined;
  private version = 0;
  private state: unknown;

  constructor(private readonly router: Pick<Router, 'forward' | 'flood'>) {}

  configure(self: number): void {
    this.self = self;
  }

  clear(): void {
    this.self = -1;
    this.version = 0;
    this.state = undefined;
  }

  /** The replicated state this agent holds. */
  get snapshot(): { version: number; state: unknown } {
    return { version: this.version, state: this.state };
  }

  /** Start a round from this agent; resolves when every agent of `expect` acknowledged `ver`. */
  start(ver: number, state: unknown, expect: number[], timeoutMs: number): Promise<OpResults['sync']> {
    if (this.round) throw new RequestError('sync: a round is already in progress');
    if (ver <= this.version) throw new RequestError(`sync: version must exceed ${this.version}`);
    return new Promise((resolve, reject) => {
      const round: SyncRound = {
        ver,
        started: process.hrtime.bigint(),
        expect: new Set(expect),
        acked: new Set(),
        done: resolve,
        timer: setTimeout(() => {
          this.round = undefined;
          reject(
            new RequestError(`sync: ${round.acked.size}/${round.expect.size} acks after ${timeoutMs} ms`),
          );
        }, timeoutMs),
      };
      this.round = round;
      this.version = ver;
      this.state = state;
      this.router.flood({ t: 'st', origin: this.self, ver, state });
      this.onAck(ver, this.self);
    });
  }

  onState(frame: Extract<PeerFrame, { t: 'st' }>): void {
    if (frame.ver <= this.version) return;
    this.version = frame.ver;
    this.state = frame.state;
    this.router.flood(frame);
    this.router.forward({ t: 'sack', src: this.self, dst: frame.origin, ver: frame.ver, hops: 0 });
  }

  onAck(ver: number, from: number): void {
    const round = this.round;
    if (!round || round.ver !== ver) return;
    round.acked.add(from);
    for (const agent of round.expect) if (!round.acked.has(agent)) return;
    clearTimeout(round.timer);
    this.round = undefined;
    round.done({ syncUs: microsSince(round.started), acked: round.acked.size, expected: round.expect.size });
  }

  /** A round waits for live agents only: one that went down mid-round no longer holds it open. */
  release(down: ReadonlySet<number>): void {
    const round = this.round;
    if (!round) return;
    for (const peer of down) if (!round.acked.has(peer)) round.expect.delete(peer);
    this.onAck(round.ver, this.self);
  }
}
