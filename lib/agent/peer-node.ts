/**
 * One agent's replicated logic, without sockets: it checks every frame a neighbour sends and hands
 * it to routing, consensus, state sync, probes or the workload. It talks to the network only
 * through a `PeerNet`, so a swarm of nodes runs over an in-memory network in tests.
 */
import type { Topology } from '../swarm/topology.ts';
import { toColumns } from '../trading/columns.ts';
import { Consensus, type DecisionRule } from './consensus.ts';
import type { AgentCounters } from './counters.ts';
import { checkPeerFrame } from './frame-check.ts';
import { type PeerNet, RequestError } from './peer-net.ts';
import {
  bumpHops,
  pongOf,
  readPeerWire,
  scanPeerWire,
  WIRE,
  wireAction,
  wireClock,
  wireConfidence,
  wireDestination,
  wireHasMarks,
  wireHops,
  wireId,
  wireMarks,
  wireNamesOnlyMembers,
  wirePath,
  wireSource,
  withPathStep,
} from './peer-wire.ts';
import { Prober } from './probe.ts';
import type { PeerFrame } from './protocol.ts';
import { Router, type RouterOptions } from './routing.ts';
import { StateSync } from './state-sync.ts';
import { type MarketFeed, type StrategyRegistry, Workload } from './workload.ts';

/** An agent's place in its swarm, as the coordinator's `configure` gives it. */
export interface NodeConfig {
  self: number;
  topology: Topology;
  quorum: number;
  strategy: string;
  sharedClock: boolean;
  market?: MarketFeed | undefined;
  /** The decision rule of this swarm's votes (a user's plug-in). @default the node's rule, plurality */
  rule?: DecisionRule | undefined;
}

export class PeerNode {
  readonly router: Router;
  readonly consensus: Consensus;
  readonly sync: StateSync;
  readonly prober: Prober;
  readonly workload: Workload;
  private config: NodeConfig | undefined;

  constructor(
    readonly net: PeerNet,
    private readonly counters: AgentCounters,
    strategies: StrategyRegistry,
    decide?: DecisionRule,
    routing?: RouterOptions,
  ) {
    this.router = new Router(net, (down) => this.sync.release(down), routing);
    this.workload = new Workload(strategies, net, counters);
    this.consensus = new Consensus({
      router: this.router,
      windowOf: (subject) => this.workload.windowOf(subject),
      vote: (window) => this.workload.vote(window),
      toWire: toColumns,
      ...(decide ? { decide } : {}),
    });
    this.sync = new StateSync(this.router);
    this.prober = new Prober(this.router);
  }

  get configured(): NodeConfig | undefined {
    return this.config;
  }

  /** Take a place in a swarm. */
  configure(config: NodeConfig): void {
    if (config.self >= config.topology.size) {
      throw new RequestError('configure: self must be below the topology size');
    }
    if (this.config) throw new RequestError('configure: already configured; reset first');
    this.workload.configure(config.strategy, config.market);
    this.config = config;
    this.consensus.configure(config.self, config.topology.size, config.sharedClock, config.rule);
    this.sync.configure(config.self);
    this.prober.configure(config.self);
    this.router.configure(config.topology, config.self);
  }

  /** Leave the swarm: forget the topology, the routes and the state. */
  clear(): void {
    this.config = undefined;
    this.router.clear();
    this.consensus.clear();
    this.sync.clear();
  }

  /** The configuration, or a RequestError when there is none yet. */
  requireConfigured(): NodeConfig {
    if (!this.config) throw new RequestError('agent is not configured');
    return this.config;
  }

  /**
   * A frame from neighbour `from` (JSON text, or binary bytes: peer-wire.ts): checked, then handled;
   * anything invalid is counted and dropped.
   */
  receive(from: number, data: string | Buffer): void {
    if (typeof data !== 'string') {
      this.receiveWire(data);
      return;
    }
    let frame: PeerFrame | undefined;
    try {
      frame = checkPeerFrame(JSON.parse(data));
    } catch {
      frame = undefined;
    }
    if (frame === undefined) {
      this.counters.rejected.malformed++;
      return;
    }
    const size = this.config?.topology.size;
    if (size !== undefined && !namesOnlyMembers(frame, size)) {
      this.counters.rejected.outsider++;
      return;
    }
    this.handle(from, frame);
  }

  /**
   * A binary frame, checked as its JSON form would be. Frames passing through are relayed as the
   * bytes they came in; those ending here are read field by field, without a frame object.
   */
  private receiveWire(bytes: Buffer): void {
    const body = scanPeerWire(bytes);
    if (body < 0) {
      this.counters.rejected.malformed++;
      return;
    }
    const config = this.config;
    if (config !== undefined && !wireNamesOnlyMembers(bytes, body, config.topology.size)) {
      this.counters.rejected.outsider++;
      return;
    }
    if (wireHasMarks(bytes)) {
      const { dn, da } = wireMarks(bytes, body);
      this.router.learnDown(dn, da);
    }
    const source = wireSource(bytes);
    this.router.seenAlive(source);
    const kind = bytes[0];
    if (kind === WIRE.prop || kind === WIRE.commit) {
      const frame = readPeerWire(bytes, body);
      if (frame.t === 'prop') this.consensus.onProposal(frame, bytes);
      else if (frame.t === 'commit') this.consensus.onCommit(frame, bytes);
      return;
    }
    if (config === undefined) return; // no routes yet: dropped, as a JSON frame would be
    const dst = wireDestination(bytes);
    if (dst !== config.self) {
      const probe = kind === WIRE.ping || kind === WIRE.pong;
      this.router.relay(dst, probe ? withPathStep(bytes, config.self) : bumpHops(bytes));
      return;
    }
    switch (kind) {
      case WIRE.ping:
        this.router.relay(source, pongOf(bytes, body, dst));
        return;
      case WIRE.pong:
        this.prober.onPong(wireId(bytes), wirePath(bytes, dst));
        return;
      case WIRE.vote:
        this.consensus.onVote(
          wireId(bytes),
          source,
          { action: wireAction(bytes), confidence: wireConfidence(bytes) },
          wireHops(bytes) + 1,
        );
        return;
      case WIRE.cack:
        this.consensus.onCommitAck(wireId(bytes), source, wireHops(bytes) + 1, wireClock(bytes));
        return;
      default:
        this.sync.onAck(wireId(bytes), source);
    }
  }

  private handle(from: number, frame: PeerFrame): void {
    if ('dn' in frame) this.router.learnDown(frame.dn, frame.da);
    if ('src' in frame) this.router.seenAlive(frame.src);
    else if ('origin' in frame) this.router.seenAlive(frame.origin);
    switch (frame.t) {
      case 'm':
      case 'fl':
      case 'fa':
        this.workload.onThroughput(from, frame);
        return;
      case 'ping':
      case 'pong':
        this.prober.onProbe(frame);
        return;
      case 'prop':
        this.consensus.onProposal(frame);
        return;
      case 'vote':
        if (frame.dst !== this.config?.self) this.router.forward({ ...frame, hops: frame.hops + 1 });
        else
          this.consensus.onVote(
            frame.pid,
            frame.src,
            { action: frame.action, confidence: frame.c ?? 0 },
            frame.hops + 1,
          );
        return;
      case 'commit':
        this.consensus.onCommit(frame);
        return;
      case 'cack':
        if (frame.dst !== this.config?.self) this.router.forward({ ...frame, hops: frame.hops + 1 });
        else
          this.consensus.onCommitAck(
            frame.pid,
            frame.src,
            frame.hops + 1,
            frame.at === undefined ? undefined : BigInt(frame.at),
          );
        return;
      case 'st':
        this.sync.onState(frame);
        return;
      case 'sack':
        if (frame.dst !== this.config?.self) this.router.forward({ ...frame, hops: frame.hops + 1 });
        else this.sync.onAck(frame.ver, frame.src);
        return;
    }
  }
}

/** Whether every agent index a frame names (sender, destination, origin, path, dead list) is below `size`. */
function namesOnlyMembers(frame: PeerFrame, size: number): boolean {
  const f = frame as { src?: number; dst?: number; origin?: number; path?: number[]; dn?: number[] };
  if ((f.src ?? 0) >= size || (f.dst ?? 0) >= size || (f.origin ?? 0) >= size) return false;
  if (f.path?.some((i) => i >= size)) return false;
  return !f.dn?.some((i) => i >= size);
}
