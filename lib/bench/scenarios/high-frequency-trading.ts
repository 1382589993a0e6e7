/** The guide's custom example: a high-frequency trading decision loop must decide in under 10 ms. */
import { defineScenario } from '../scenario.ts';

export default defineScenario({
  name: 'high-frequency-trading',
  title: 'High-frequency trading scenario',
  agents: 10,
  targets: [{ series: 'decision-ms', stat: 'p99', op: '<', value: 10, label: 'HFT decision latency (p99)' }],
  async run(ctx) {
    const swarm = await ctx.createSwarm('mesh', Math.min(10, ctx.params.swarmSize));
    for (let i = 0; i < ctx.params.consensusRounds && !ctx.stopped; i++) {
      ctx.record('decision-ms', (await swarm.consensus(ctx.bar(i))).commitUs / 1000);
      ctx.operations++;
    }
  },
});
