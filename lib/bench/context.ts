/**
 * What a benchmark gets to work with: swarms it creates (and the context destroys), recorders for
 * raw samples, market windows, the clock, and a stop flag for interrupts and deadlines. A
 * benchmark only measures; the runner turns what it recorded into a UnitResult.
 */

import type { PluginManifest } from '../plugins/validate.ts';
import type { SandboxPool } from '../sandbox/pool.ts';
import type { Sandbox, SandboxProvider } from '../sandbox/types.ts';
import type { CreateSwarmOptions, Swarm, SwarmManager } from '../swarm/manager.ts';
import type { TopologyKind } from '../swarm/topology.ts';
import { toColumns } from '../trading/columns.ts';
import type { MarketData } from '../trading/feed.ts';
import { generateBars } from '../trading/market.ts';
import { STRATEGY_NAMES } from '../trading/strategies.ts';
import type { Bar } from '../trading/types.ts';
import type { Figure, Labels, MeasureUnit, Series } from './model.ts';
import type { ProfileParams } from './profiles.ts';

/** Records one series' raw samples; warm-ups are kept apart and never summarised. */
export class SeriesRecorder {
  readonly series: Series;
  constructor(name: string, unit: MeasureUnit, labels: Labels) {
    this.series = { name, unit, samples: [], warmup: [], labels };
  }
  add(value: number): void {
    this.series.samples.push(value);
  }
  warm(value: number): void {
    this.series.warmup.push(value);
  }
  /** Record as warm-up when `warmup` is true. */
  record(value: number, warmup: boolean): void {
    if (warmup) this.warm(value);
    else this.add(value);
  }
  get samples(): number[] {
    return this.series.samples;
  }
}

/** The collaborators a context is built from. */
export interface ContextDeps {
  runId: string;
  unitId: string;
  params: ProfileParams;
  seed: number;
  manager: SwarmManager;
  provider: SandboxProvider;
  resources: { vcpu: number; memoryMb: number };
  agentsPerSandbox: number;
  now: () => number;
  signal: AbortSignal;
  /** Epoch ms after which the unit must stop measuring and return what it has. */
  deadlineAt: number;
  wallClock: () => number;
  /** Artificial delay (ms) added inside every `time()`d section; 0 unless a test injects it. */
  injectedDelayMs: number;
  log: (message: string) => void;
  /**
   * The run's sandbox pool. Without one every swarm creates (and kills) its own sandboxes.
   * With one, swarms of benchmarks that do not measure creation run in pooled sandboxes, and
   * fresh swarms of those that do are donated to the pool when destroyed.
   */
  pool?: SandboxPool;
  /** True for benchmarks that measure sandbox creation (BenchmarkDefinition.freshSandboxes). */
  freshSandboxes?: boolean;
  /** Lifetime of the unit's sandboxes, from its estimate plus a margin. @default the manager's */
  sandboxTimeoutMs?: number;
  /** The run's market data (--market); without it, the seeded generator with the run's seed. */
  market?: MarketData;
  /** The user's plug-ins the agents carry (RunConfig.plugins). */
  plugins?: PluginManifest;
}

/** Options of BenchContext.createSwarm: the manager's, plus where the sandboxes come from. */
export type ContextSwarmOptions = CreateSwarmOptions & {
  /**
   * 'fresh': new sandboxes (what creation benchmarks measure); 'pool': reused ones when the run
   * has a pool (a warm-up that measures nothing). @default 'fresh' for creation benchmarks, else 'pool'
   */
  sandboxSource?: 'fresh' | 'pool';
};

const MARKET_SPAN = 2_000;

export class BenchContext {
  readonly params: ProfileParams;
  readonly resources: { vcpu: number; memoryMb: number };
  readonly now: () => number;
  private readonly recorders: SeriesRecorder[] = [];
  private readonly byKey = new Map<string, SeriesRecorder>();
  private readonly figuresList: Figure[] = [];
  private readonly swarms = new Set<Swarm>();
  /** Pooled sandboxes each live swarm holds, given back to the pool when it is destroyed. */
  private readonly pooled = new Map<Swarm, Sandbox[]>();
  private bars: Bar[] | undefined;
  readonly faults: string[] = [];
  operations = 0;
  stopReason: string | undefined;

  constructor(private readonly deps: ContextDeps) {
    this.params = deps.params;
    this.resources = deps.resources;
    this.now = deps.now;
  }

  get provider(): SandboxProvider {
    return this.deps.provider;
  }

  log(message: string): void {
    this.deps.log(message);
  }

  /** True once the run is interrupted or the unit's deadline passed; loops must then stop. */
  get stopped(): boolean {
    if (this.stopReason) return true;
    if (this.deps.signal.aborted) this.stopReason = 'interrupted';
    else if (this.deps.wallClock() >= this.deps.deadlineAt) this.stopReason = 'deadline reached';
    return this.stopReason !== undefined;
  }

  /** A new series recorder. */
  series(name: string, unit: MeasureUnit, labels: Labels = {}): SeriesRecorder {
    const recorder = new SeriesRecorder(name, unit, labels);
    this.recorders.push(recorder);
    return recorder;
  }

  /** Add one sample to the series `name` (created on first use); the short form for scenarios. */
  record(name: string, value: number, unit: MeasureUnit = 'ms', labels: Labels = {}): void {
    const key = `${name}|${JSON.stringify(labels)}`;
    let recorder = this.byKey.get(key);
    if (!recorder) {
      recorder = this.series(name, unit, labels);
      this.byKey.set(key, recorder);
    }
    recorder.add(value);
  }

  /** A derived figure, naming the series it came from and how. */
  figure(
    name: string,
    value: number,
    unit: MeasureUnit,
    from: string[],
    how: string,
    labels: Labels = {},
  ): void {
    this.figuresList.push({ name, value, unit, labels, from, how });
  }

  /** Note a fault (crash, retry) for the report. */
  fault(text: string): void {
    this.faults.push(text);
  }

  /**
   * Labels for a series timed from the start of a swarm (init-ms) in this unit: with a pool, a
   * benchmark that does not measure creation gets running sandboxes, so its swarm init spans agent
   * start and wiring, not sandbox creation. `sandboxes: pooled` says so, in the report and in the
   * series key, so history never compares it with an init time that included creation.
   */
  get poolLabels(): Labels {
    return this.deps.pool !== undefined && !this.deps.freshSandboxes ? { sandboxes: 'pooled' } : {};
  }

  /** Create a swarm that the context destroys at the end of the unit if the benchmark does not. */
  async createSwarm(
    topology: TopologyKind,
    agents: number,
    options: ContextSwarmOptions = {},
  ): Promise<Swarm> {
    const { sandboxSource, ...swarmOptions } = options;
    const { pool } = this.deps;
    const source = sandboxSource ?? (this.deps.freshSandboxes ? 'fresh' : 'pool');
    const perSandbox = swarmOptions.agentsPerSandbox ?? this.deps.agentsPerSandbox;
    let borrowed: Sandbox[] | undefined;
    if (pool !== undefined && source === 'pool' && swarmOptions.sandboxes === undefined) {
      // Sandboxes the pool lacks are created like any other: admitted (budget, deadline) and retried.
      borrowed = await pool.acquire(
        Math.ceil(agents / perSandbox),
        this.deps.sandboxTimeoutMs ?? 300_000,
        (ms, tags) => this.deps.manager.createSandbox(ms, tags),
      );
    }
    if (pool !== undefined && borrowed === undefined && swarmOptions.sandboxes === undefined) {
      await pool.makeRoom(Math.ceil(agents / perSandbox));
    }
    const { plugins } = this.deps;
    let swarm: Swarm;
    try {
      swarm = await this.deps.manager.createSwarm(topology, agents, {
        agentsPerSandbox: this.deps.agentsPerSandbox,
        market: {
          seed: this.deps.seed,
          bars: this.params.windowBars + MARKET_SPAN,
          windowBars: this.params.windowBars,
          ...(this.deps.market === undefined ? {} : { columns: toColumns(this.feed()) }),
        },
        ...(plugins === undefined ? {} : { pluginStrategies: plugins.strategies }),
        ...(this.deps.sandboxTimeoutMs === undefined ? {} : { sandboxTimeoutMs: this.deps.sandboxTimeoutMs }),
        ...swarmOptions,
        ...(borrowed === undefined ? {} : { sandboxes: borrowed }),
      });
    } catch (error) {
      if (borrowed !== undefined) await pool?.release(borrowed);
      throw error;
    }
    if (borrowed !== undefined) this.pooled.set(swarm, borrowed);
    this.swarms.add(swarm);
    return swarm;
  }

  /** Destroy a swarm now (its sandbox-seconds stop counting, or its pooled sandboxes go back). */
  async destroy(swarm: Swarm): Promise<void> {
    this.swarms.delete(swarm);
    await this.dispose(swarm);
  }

  /**
   * Tear a swarm down: pooled sandboxes are emptied and released; with a pool, a fresh swarm's
   * own sandboxes are donated to it (emptied, not killed) so the rest of the run reuses them.
   */
  private async dispose(swarm: Swarm): Promise<void> {
    const { pool } = this.deps;
    const borrowed = this.pooled.get(swarm);
    this.pooled.delete(swarm);
    const donated = pool !== undefined && borrowed === undefined ? swarm.disownSandboxes() : [];
    await swarm.destroy();
    if (borrowed !== undefined) await pool?.release(borrowed);
    if (donated.length > 0) await pool?.donate(donated);
  }

  /** Create a swarm, hand it to `fn`, destroy it whatever happens. */
  async withSwarm<T>(
    topology: TopologyKind,
    agents: number,
    fn: (swarm: Swarm) => Promise<T>,
    options: ContextSwarmOptions = {},
  ): Promise<T> {
    const swarm = await this.createSwarm(topology, agents, options);
    try {
      return await fn(swarm);
    } finally {
      await this.destroy(swarm);
    }
  }

  /** Time `fn` on the monotonic clock, in ms (with any injected delay inside the timed section). */
  async time(fn: () => Promise<unknown>): Promise<number> {
    const start = this.now();
    if (this.deps.injectedDelayMs > 0) await sleep(this.deps.injectedDelayMs);
    await fn();
    return this.now() - start;
  }

  /** A deterministic market window of `bars` bars, the i-th of the run's market (seeded by default). */
  window(i: number, bars = this.params.windowBars): Bar[] {
    if (this.deps.market !== undefined) {
      const feed = this.feed();
      const offset = i % Math.max(1, feed.length - bars + 1);
      return feed.slice(offset, offset + bars);
    }
    this.bars ??= generateBars({ bars: bars + MARKET_SPAN, seed: this.deps.seed });
    const offset = i % MARKET_SPAN;
    return this.bars.slice(offset, offset + bars);
  }

  /** Index of the i-th decision bar of the swarm's market feed (agents cut the window themselves). */
  bar(i: number): number {
    const span = this.deps.market === undefined ? MARKET_SPAN : this.feed().length - this.params.windowBars;
    return this.params.windowBars + (i % Math.max(1, span));
  }

  /** The bars agents get as their feed with a user market: at most windowBars + 2000, from the start. */
  private feed(): Bar[] {
    this.bars ??= (this.deps.market?.bars ?? []).slice(0, this.params.windowBars + MARKET_SPAN);
    return this.bars;
  }

  /** Strategies a benchmark runs side by side: the built-ins, then the user's plug-ins. */
  get strategies(): string[] {
    return [...STRATEGY_NAMES, ...(this.deps.plugins?.strategies ?? [])];
  }

  /** The user's plug-ins (names, decision rule), when the run has any. */
  get plugins(): PluginManifest | undefined {
    return this.deps.plugins;
  }

  /** @internal Everything recorded, for the runner. */
  collect(): { series: Series[]; figures: Figure[] } {
    return { series: this.recorders.map((r) => r.series), figures: this.figuresList };
  }

  /** @internal Destroy swarms the benchmark left alive. */
  async cleanup(): Promise<void> {
    const left = [...this.swarms];
    this.swarms.clear();
    await Promise.allSettled(left.map((s) => this.dispose(s)));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Median of a non-empty list (used for figures derived from raw samples). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
