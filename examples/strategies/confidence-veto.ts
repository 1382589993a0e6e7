/**
 * A decision rule: confidence-weighted vote, with a veto. Each vote weighs its confidence; the
 * heaviest action wins, but any sell at confidence >= 0.8 vetoes a buy (the swarm then holds).
 */
import { defineDecisionRule } from '../../lib/plugins/define.ts';

export default defineDecisionRule({
  name: 'confidence-veto',
  decide(votes) {
    const weight = { buy: 0, sell: 0, hold: 0 };
    for (const vote of votes) weight[vote.action] += vote.confidence;
    const veto = votes.some((vote) => vote.action === 'sell' && vote.confidence >= 0.8);
    if (weight.buy > weight.sell && weight.buy > weight.hold) return veto ? 'hold' : 'buy';
    if (weight.sell > weight.hold) return 'sell';
    return 'hold';
  },
});
