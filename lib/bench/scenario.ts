/**
 * Custom scenarios: a user's own benchmark in a few lines, run by the same runner and reported
 * in its own section with its own targets.
 *
 * @example
 * export default defineScenario({
 *   name: 'high-frequency-trading',
 *   targets: [{ series: 'decision-ms', stat: 'p99', op: '<', value: 10 }],
 *   agents: 10,
 *   async run(ctx) {
 *     const swarm = await ctx.createSwarm('mesh', 10);
 *     for (let i = 0; i < 200; i++) ctx.record('decision-ms', (await swarm.consensus(ctx.bar(i))).commitUs / 1000);
 *   },
 * });
 */
import { InvalidInputError } from '../errors.ts';
import type { BenchContext } from './context.ts';
import type { BenchmarkDefinition } from './definition.ts';
import type { MeasureUnit, Target } from './model.ts';

export interface ScenarioTarget {
  series?: string;
  stat?: Target['stat'];
  figure?: string;
  op: Target['op'];
  value: number;
  unit?: MeasureUnit;
  label?: string;
  importance?: Target['importance'];
}

export interface ScenarioSpec {
  /** Lower-case slug; the unit is `custom/<name>`. */
  name: string;
  title?: string;
  targets?: ScenarioTarget[];
  /** Largest swarm the scenario creates (for the plan's estimate). @default 10 */
  agents?: number;
  /** Seconds of work after deployment (for the plan's estimate). @default 5 */
  workloadSeconds?: number;
  run(ctx: BenchContext): Promise<void>;
}

const slug = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Turn a scenario spec into a benchmark the runner can run. */
export function defineScenario(spec: ScenarioSpec): BenchmarkDefinition {
  if (!slug.test(spec.name))
    throw new InvalidInputError('scenario.name', 'lower-case letters, digits and "-"', spec.name);
  const unitId = `custom/${spec.name}`;
  const targets: Target[] = (spec.targets ?? []).map((t, i) => {
    if ((t.series === undefined) === (t.figure === undefined)) {
      throw new InvalidInputError(`scenario.targets[${i}]`, 'exactly one of series or figure', t);
    }
    return {
      id: `${unitId}#${i}`,
      label: t.label ?? `${spec.title ?? spec.name}: ${t.series ?? t.figure}${t.stat ? ` ${t.stat}` : ''}`,
      unitId,
      ...(t.series === undefined ? {} : { series: t.series, stat: t.stat ?? 'p95' }),
      ...(t.figure === undefined ? {} : { figure: t.figure }),
      op: t.op,
      value: t.value,
      unit: t.unit ?? 'ms',
      importance: t.importance ?? 'High',
      source: 'custom',
    };
  });
  return {
    category: 'custom',
    test: spec.name,
    title: spec.title ?? spec.name,
    targets,
    swarms: () => [{ agents: spec.agents ?? 10, workloadSeconds: spec.workloadSeconds ?? 5 }],
    describe: () => ({ agents: spec.agents ?? 10 }),
    run: spec.run,
  };
}
