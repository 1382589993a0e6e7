/**
 * Latency probes measured by the agents themselves: a ping travels the topology's route to
 * another agent and its pong comes back the same way, each hop appending itself to the path.
 */
import { microsSince, RequestError } from './peer-net.ts';
import type { OpResults, PeerFrame } from './protocol.ts';
import type { Router } from './routing.ts';

type Probe = Extract<PeerFrame, { t: 'ping' | 'pong' }>;

/** How long one probe may take before the measurement fails. */
const PROBE_TIMEOUT_MS = 5_000;

export class Prober {
  private self = -1;
  private readonly pending = new Map<number, (path: number[]) => void>();
  private nextId = 1;

  constructor(private readonly router: Pick<Router, 'forward'>) {}

  configure(self: number): void {
    this.self = self;
  }

  /** Time `warmup + count` round trips to agent `to`; returns the samples and the route taken. */
  async ping(to: number, count: number, warmup: number, payloadBytes: number): Promise<OpResults['ping']> {
    const payload = payloadBytes > 0 ? 'x'.repeat(payloadBytes) : undefined;
    const samplesUs: number[] = [];
    const warmupUs: number[] = [];
    let path: number[] = [];
    // One deadline timer for the whole run, re-armed per probe (no timer made per round trip).
    let fail: ((error: Error) => void) | undefined;
    const timer = setTimeout(
      () => fail?.(new RequestError(`ping to agent ${to} timed out`)),
      PROBE_TIMEOUT_MS,
    );
    try {
      for (let i = 0; i < warmup + count; i++) {
        const id = this.nextId++;
        const start = process.hrtime.bigint();
        timer.refresh();
        path = await new Promise<number[]>((resolve, reject) => {
          fail = (error) => {
            this.pending.delete(id);
            reject(error);
          };
          this.pending.set(id, (p) => {
            this.pending.delete(id);
            resolve(p);
          });
          this.router.forward({
            t: 'ping',
            src: this.self,
            dst: to,
            id,
            path: [this.self],
            ...(payload === undefined ? {} : { p: payload }),
          });
        });
        (i < warmup ? warmupUs : samplesUs).push(microsSince(start));
      }
    } finally {
      clearTimeout(timer);
    }
    // path holds the round trip: self .. to .. self; its outbound half is the route.
    const outbound = path.slice(0, path.indexOf(to) + 1);
    return { samplesUs, warmupUs, hops: outbound.length - 1, path: outbound };
  }

  /** The pong of probe `id` came back here along `path` (this agent last). */
  onPong(id: number, path: number[]): void {
    this.pending.get(id)?.(path);
  }

  /** A ping or pong arrived: pass it on, answer it, or complete a measurement. */
  onProbe(frame: Probe): void {
    if (frame.dst !== this.self) {
      this.router.forward({ ...frame, path: [...frame.path, this.self] });
      return;
    }
    if (frame.t === 'pong') {
      this.onPong(frame.id, [...frame.path, this.self]);
      return;
    }
    this.router.forward({
      t: 'pong',
      src: this.self,
      dst: frame.src,
      id: frame.id,
      path: [...frame.path, this.self],
      ...(frame.p === undefined ? {} : { p: frame.p }),
    });
  }
}
