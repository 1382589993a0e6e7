/**
 * The work an agent does for the benchmarks: strategies looked up by name (the registry user
 * strategies plug into), strategy execution on a window, the market feed proposals name bars of,
 * and `blast`, the neighbour-to-neighbour throughput run.
 */
import { type Float64BarColumns, sliceColumns, toFloat64Columns } from '../trading/columns.ts';
import { generateBars } from '../trading/market.ts';
import { createStrategy } from '../trading/strategies.ts';
import type { BarWindow, Strategy } from '../trading/types.ts';
import type { ProposalSubject } from './consensus.ts';
import type { AgentCounters } from './counters.ts';
import { microsSince, type PeerNet, RequestError } from './peer-net.ts';
import type { AgentVote } from './plugin-host.ts';
import type { AnyWindow, ExecuteResult, OpResults, PeerFrame, WireWindow } from './protocol.ts';

/** Time a blast waits for a neighbour to confirm it read everything. */
const FLUSH_TIMEOUT_MS = 30_000;

/** Strategies that run outside the agent's thread: user plug-ins in worker threads (plugin-host.ts). */
export interface PluginStrategies {
  /** Whether `name` is one of them rather than a strategy `create` makes. */
  isPlugin(name: string): boolean;
  /**
   * The execute op: the plug-in's signal on a received window (its columns handed on as they are),
   * timed inside its worker; the result itself when it came while the agent's thread waited.
   */
  execute(name: string, window: AnyWindow): ExecuteResult | Promise<ExecuteResult>;
  /** A vote on a window (a plug-in that fails abstains), at once or later as `execute`. */
  vote(name: string, window: BarWindow): AgentVote | Promise<AgentVote>;
}

/** Strategies by name: built-ins created on first use and kept, user plug-ins handed to their workers. */
export class StrategyRegistry {
  private readonly made = new Map<string, Strategy>();

  constructor(
    private readonly create: (name: string) => Strategy = createStrategy,
    private readonly plugins?: PluginStrategies,
  ) {}

  /** The in-process strategy called `name` (throws on an unknown name). */
  get(name: string): Strategy {
    let strategy = this.made.get(name);
    if (!strategy) {
      strategy = this.create(name);
      this.made.set(name, strategy);
    }
    return strategy;
  }

  /** Whether `name` runs in a plug-in worker rather than in the agent. */
  isPlugin(name: string): boolean {
    return this.plugins?.isPlugin(name) ?? false;
  }

  /** Strategy `name` on `window`, timing the computation alone (inside its worker for a plug-in). */
  execute(window: AnyWindow, name: string): ExecuteResult | Promise<ExecuteResult> {
    if (this.plugins?.isPlugin(name)) return this.plugins.execute(name, window);
    // The strategy reads the window's columns in place: no bar objects for the young generation.
    const strategy = this.get(name);
    const start = process.hrtime.bigint();
    const { action, confidence, size } = strategy.signal(window);
    return { action, confidence, size, computeUs: microsSince(start) };
  }

  /** Strategy `name`'s vote on `window`: at once for an in-process strategy, later for a plug-in. */
  vote(name: string, window: BarWindow): AgentVote | Promise<AgentVote> {
    if (this.plugins?.isPlugin(name)) return this.plugins.vote(name, window);
    const { action, confidence } = this.get(name).signal(window);
    return { action, confidence };
  }
}

/** The market feed proposals name bars of: a seeded generator, or the user's bars as columns. */
export interface MarketFeed {
  seed: number;
  bars: number;
  windowBars: number;
  columns?: WireWindow | undefined;
}

export class Workload {
  /** The market feed as Float64 columns, which proposals' windows are views of. */
  private market: { columns: Float64BarColumns; windowBars: number } | undefined;
  private readonly flushes = new Map<number, () => void>();
  private nextFlush = 1;
  /** The strategy this agent votes with. */
  strategyName = 'momentum';

  constructor(
    readonly strategies: StrategyRegistry,
    private readonly net: PeerNet,
    private readonly counters: AgentCounters,
  ) {}

  /**
   * Set the voting strategy (fails early on an unknown in-process one; plug-ins are checked by
   * their host) and the market feed: the user's bars shipped as columns, or generated from a seed.
   */
  configure(strategy: string, market: MarketFeed | undefined): void {
    if (!this.strategies.isPlugin(strategy)) this.strategies.get(strategy);
    this.strategyName = strategy;
    if (market)
      this.market = {
        columns: toFloat64Columns(market.columns ?? generateBars({ bars: market.bars, seed: market.seed })),
        windowBars: market.windowBars,
      };
  }

  /** Run strategy `name` on `window`, timing the computation alone. */
  execute(window: AnyWindow, name: string): OpResults['execute'] | Promise<OpResults['execute']> {
    return this.strategies.execute(window, name);
  }

  /** This agent's vote on a window, with its confidence. */
  vote(window: BarWindow): AgentVote | Promise<AgentVote> {
    return this.strategies.vote(this.strategyName, window);
  }

  /** The window a proposal is about: shipped with it, or cut from the local market feed. */
  windowOf(subject: ProposalSubject): BarWindow {
    if (subject.window) return subject.window;
    if (subject.at === undefined || !this.market)
      throw new RequestError('propose: needs a window, or "at" with a market feed');
    const { columns, windowBars } = this.market;
    const end = Math.max(windowBars, subject.at % columns.t.length);
    return sliceColumns(columns, end - windowBars, end);
  }

  /** Send `count` frames of `payloadBytes` to every open neighbour, then wait until each read them. */
  async blast(count: number, payloadBytes: number): Promise<OpResults['blast']> {
    const frame = JSON.stringify({ t: 'm', p: 'x'.repeat(payloadBytes) });
    const peers = this.net.openPeers();
    const start = process.hrtime.bigint();
    let sent = 0;
    await Promise.all(
      peers.map(async (peer) => {
        for (let i = 0; i < count; i++) {
          if (!this.net.send(peer, frame)) break;
          sent++;
          if (this.net.congested(peer)) await this.net.drained(peer);
        }
        // A peer that died mid-blast never answers the flush: its link closing ends the wait.
        const id = this.nextFlush++;
        await new Promise<void>((resolve) => {
          const done = (): void => {
            clearTimeout(timer);
            this.flushes.delete(id);
            cancel();
            resolve();
          };
          const timer = setTimeout(done, FLUSH_TIMEOUT_MS);
          this.flushes.set(id, done);
          const cancel = this.net.onceDown(peer, done);
          if (!this.net.send(peer, JSON.stringify({ t: 'fl', id }))) done();
        });
      }),
    );
    return { sent, elapsedUs: microsSince(start) };
  }

  /** A throughput frame from neighbour `from`. */
  onThroughput(from: number, frame: Extract<PeerFrame, { t: 'm' | 'fl' | 'fa' }>): void {
    switch (frame.t) {
      case 'm':
        this.counters.blastReceived++;
        return;
      case 'fl':
        this.net.send(from, JSON.stringify({ t: 'fa', id: frame.id }));
        return;
      case 'fa':
        this.flushes.get(frame.id)?.();
        return;
    }
  }
}
