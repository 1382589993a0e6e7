/** The guide's 18 benchmarks in report order, and selection by category and test pattern. */
import type { RunConfig } from '../config.ts';
import { COMMUNICATION } from './benchmarks/communication.ts';
import { COST } from './benchmarks/cost.ts';
import { CREATION } from './benchmarks/creation.ts';
import { RESOURCES } from './benchmarks/resources.ts';
import { SCALABILITY } from './benchmarks/scalability.ts';
import { TRADING } from './benchmarks/trading.ts';
import type { BenchmarkDefinition } from './definition.ts';
import highFrequencyTrading from './scenarios/high-frequency-trading.ts';

export const BENCHMARKS: readonly BenchmarkDefinition[] = [
  ...CREATION,
  ...SCALABILITY,
  ...TRADING,
  ...COMMUNICATION,
  ...RESOURCES,
  ...COST,
];

/** Scenarios shipped with swarm-bench (the guide's custom example). */
export const BUILTIN_SCENARIOS: readonly BenchmarkDefinition[] = [highFrequencyTrading];

export function unitIdOf(def: BenchmarkDefinition): string {
  return `${def.category}/${def.test}`;
}

/** The benchmarks a config selects, in report order, custom scenarios last. */
export function selectBenchmarks(
  config: Pick<RunConfig, 'categories' | 'tests' | 'scenarios'>,
  extraScenarios: readonly BenchmarkDefinition[] = [],
): BenchmarkDefinition[] {
  const matches = (def: BenchmarkDefinition) =>
    !config.tests || config.tests.some((pattern) => unitIdOf(def).includes(pattern));
  const builtins = BENCHMARKS.filter(
    (def) => (config.categories as string[]).includes(def.category) && matches(def),
  );
  const scenarios = [...(config.scenarios ? BUILTIN_SCENARIOS : []), ...extraScenarios].filter(
    (def) => !config.tests || matches(def),
  );
  return [...builtins, ...scenarios];
}
