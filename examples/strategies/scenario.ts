/**
 * A scenario for the user's own swarm: ten agents, each running one of the example strategies,
 * deciding by the confidence-veto rule, on the bars of bars.csv.
 *
 *   swarm-bench run --strategy examples/strategies/rsi-pullback.ts \
 *     --strategy examples/strategies/volume-breakout.ts \
 *     --decision-rule examples/strategies/confidence-veto.ts \
 *     --market examples/strategies/bars.csv --scenario examples/strategies/scenario.ts
 */
import { defineScenario } from '../../lib/bench/scenario.ts';

export default defineScenario({
  name: 'my-swarm',
  title: 'My swarm: example strategies, confidence-veto rule, bars.csv',
  agents: 5,
  workloadSeconds: 5,
  targets: [{ series: 'decision-ms', stat: 'p95', op: '<', value: 200 }],
  async run(ctx) {
    const plugins = ctx.plugins;
    const strategies = plugins?.strategies.length ? plugins.strategies : undefined;
    const swarm = await ctx.createSwarm('mesh', 5, {
      ...(strategies ? { strategies } : {}),
      ...(plugins?.decisionRule ? { decisionRule: plugins.decisionRule } : {}),
    });
    for (let i = 0; i < 60 && !ctx.stopped; i++) {
      const result = await swarm.consensus(ctx.bar(i));
      ctx.record('decision-ms', result.heldUs / 1000, 'ms', { decision: result.decision });
    }
  },
});
