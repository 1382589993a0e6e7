/**
 * The plug-in interface: what a user's strategy or decision-rule module exports. A module
 * default-exports `defineStrategy({...})` or `defineDecisionRule({...})` (lib/plugins/define.ts).
 *
 * Plug-ins run inside the agents' sandboxes only, each module in its own worker thread with a
 * heap limit and a per-call deadline (lib/plugins/host.ts), so a throw, a hang or a memory
 * blow-up costs that plug-in's series and nothing else.
 */

/** What a strategy recommends. */
export type PluginAction = 'buy' | 'sell' | 'hold';

/**
 * A window of bars as columns, oldest first: `close[length - 1]` is the bar being decided on.
 * The arrays are views of the call's shared memory, read in place (no copy): valid during the
 * call only, as the next call's window overwrites them. Copy (`slice()`) what you keep.
 */
export interface ColumnarWindow {
  readonly length: number;
  /** Bar open times, epoch milliseconds. */
  readonly t: Float64Array;
  readonly open: Float64Array;
  readonly high: Float64Array;
  readonly low: Float64Array;
  readonly close: Float64Array;
  readonly volume: Float64Array;
}

/** Numeric parameters, with the module's defaults filled in. */
export type PluginParams = Readonly<Record<string, number>>;

/** A strategy's answer for the latest bar of a window. */
export interface PluginSignal {
  action: PluginAction;
  /** 0..1. */
  confidence: number;
  /** 0..1 of capital; @default confidence-scaled 0.25 for buy/sell, 0 for hold. */
  size?: number;
  /** Numbers worth seeing next to the signal (indicator values); at most 32 keys. */
  diagnostics?: Record<string, number>;
}

/** A strategy module's default export. */
export interface StrategyPlugin {
  kind: 'strategy';
  /** The name it runs and is reported under: lower-case letters, digits and "-". */
  name: string;
  /** Fewest bars `signal` needs; shorter windows get hold with confidence 0 without a call. @default 1 */
  minBars?: number;
  /** Parameters and their defaults. */
  params?: PluginParams;
  signal(window: ColumnarWindow, params: PluginParams): PluginSignal;
}

/** One agent's vote as a decision rule sees it. */
export interface PluginVote {
  /** Index of the voting agent in the swarm. */
  agent: number;
  action: PluginAction;
  /** The voter's confidence in its action, 0..1. */
  confidence: number;
}

/** A decision rule module's default export: turns a quorum of votes into the swarm's decision. */
export interface DecisionRulePlugin {
  kind: 'decision-rule';
  name: string;
  decide(votes: readonly PluginVote[], context: { agents: number; quorum: number }): PluginAction;
}

export type Plugin = StrategyPlugin | DecisionRulePlugin;

/** What loading one module inside the sandbox found: its shape and a dry run on a seeded window. */
export interface PluginDescription {
  /** Position of the module in the bundle (the order of --strategy / --decision-rule). */
  module: number;
  kind: Plugin['kind'];
  name: string;
  minBars: number;
  /** Set when the module failed its check; the plug-in is then unusable. */
  error?: string;
  /** The dry run's answer, or its error. */
  dryRun?: { signal?: PluginSignal; decision?: PluginAction; computeUs: number };
}
