/**
 * What a plug-in module imports to declare itself. Kept free of other imports: it is bundled
 * into every plug-in worker.
 *
 * @example
 * import { defineStrategy } from 'swarm-bench/lib/plugins/define.ts';
 * export default defineStrategy({
 *   name: 'last-bar',
 *   minBars: 2,
 *   signal: (w) => ({ action: w.close[w.length - 1]! > w.close[w.length - 2]! ? 'buy' : 'sell', confidence: 0.5 }),
 * });
 */
import type { DecisionRulePlugin, StrategyPlugin } from './types.ts';

export type {
  ColumnarWindow,
  DecisionRulePlugin,
  PluginAction,
  PluginParams,
  PluginSignal,
  PluginVote,
  StrategyPlugin,
} from './types.ts';

/** Declare a strategy plug-in (the module's default export). */
export function defineStrategy(spec: Omit<StrategyPlugin, 'kind'>): StrategyPlugin {
  return { ...spec, kind: 'strategy' };
}

/** Declare a consensus decision rule plug-in (the module's default export). */
export function defineDecisionRule(spec: Omit<DecisionRulePlugin, 'kind'>): DecisionRulePlugin {
  return { ...spec, kind: 'decision-rule' };
}
