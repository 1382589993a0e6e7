/** Market data (seeded generator, CSV loader) and strategies for trading agents. */
export { loadCsv, type ParseCsvOptions, parseCsv } from './csv.ts';
export { type BarOptions, generateBars, generateMarket, type MarketOptions, symbolName } from './market.ts';
export {
  createStrategy,
  isStrategyName,
  STRATEGY_DEFAULTS,
  STRATEGY_NAMES,
  type StrategyName,
  type StrategyParams,
} from './strategies.ts';
export type { Action, Bar, BarColumnsView, BarWindow, Signal, Strategy } from './types.ts';
