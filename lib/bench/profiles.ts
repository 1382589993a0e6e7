/**
 * How much each profile measures. `quick` fits CI (under a minute locally), `default` is the
 * weekly run, `load` is the guide's load test (1,000 iterations, up to 50 agents).
 */
import type { TopologyKind } from '../swarm/topology.ts';
import type { ProfileName } from './model.ts';

export interface ProfileParams {
  name: ProfileName;
  /** Agents per swarm for the fixed-size benchmarks. */
  swarmSize: number;
  /** Repetitions of a swarm creation (after `warmup`) where creation is not what is measured. */
  initIterations: number;
  /**
   * Creation benchmarks (fresh sandboxes): measured swarms of swarm-init, of agent-deployment
   * (every fresh sandbox is one deploy-ms sample) and parallel/sequential pairs with their size.
   * Their warm-up runs in a pooled one-agent swarm: it warms the agent start, and measures nothing.
   */
  freshInitSwarms: number;
  freshDeploySwarms: number;
  freshPairs: number;
  pairAgents: number;
  /** Warm-up repetitions discarded from statistics. */
  warmup: number;
  /** Agent counts of the agent-count test (the guide: 1, 5, 10). */
  agentCounts: number[];
  /** Sizes of the linear-scaling sweep (the guide: 2..20). */
  sweep: number[];
  sweepRepeats: number;
  topologies: TopologyKind[];
  /** Strategy executions per strategy. */
  strategyIterations: number;
  /** Bars in each strategy window. */
  windowBars: number;
  /** Tasks of the distribution test. */
  tasks: number;
  consensusRounds: number;
  /** Agent-measured round trips per measured pair. */
  pingSamples: number;
  stateSizes: number[];
  syncRounds: number;
  /** Messages each agent sends each neighbour per throughput trial. */
  blastCount: number;
  blastTrials: number;
  /** Strategy tasks in each cost workload. */
  costTasks: number;
  costScalingSizes: number[];
}

export const PROFILE_PARAMS: Record<ProfileName, ProfileParams> = {
  quick: {
    name: 'quick',
    swarmSize: 4,
    initIterations: 2,
    freshInitSwarms: 2,
    freshDeploySwarms: 2,
    // Three pairs: the guide entry point asserts speed-up > 1.5 on this profile, and a median of
    // two samples swings with the machine's load.
    freshPairs: 3,
    pairAgents: 4,
    warmup: 1,
    // The guide's own counts even in CI: "scaling to 10 agents" is a target.
    agentCounts: [1, 5, 10],
    sweep: [2, 3, 4, 6],
    sweepRepeats: 1,
    topologies: ['mesh', 'hierarchical', 'ring', 'star'],
    strategyIterations: 10,
    windowBars: 500,
    tasks: 80,
    consensusRounds: 15,
    pingSamples: 100,
    stateSizes: [1024, 10_240],
    syncRounds: 10,
    blastCount: 300,
    blastTrials: 2,
    costTasks: 60,
    costScalingSizes: [2, 4],
  },
  default: {
    name: 'default',
    swarmSize: 10,
    initIterations: 5,
    freshInitSwarms: 2,
    freshDeploySwarms: 1,
    freshPairs: 1,
    // 4 agents per mode keeps the default run's sandboxes within 40 (20 + 10 + 8 fresh, 1 pooled).
    pairAgents: 4,
    warmup: 1,
    agentCounts: [1, 5, 10],
    sweep: [2, 4, 6, 8, 10, 12, 14, 16, 18, 20],
    sweepRepeats: 2,
    topologies: ['mesh', 'hierarchical', 'ring', 'star'],
    strategyIterations: 100,
    windowBars: 500,
    tasks: 1000,
    consensusRounds: 100,
    pingSamples: 1000,
    stateSizes: [1024, 10_240, 102_400],
    syncRounds: 40,
    blastCount: 3000,
    blastTrials: 3,
    costTasks: 600,
    costScalingSizes: [2, 5, 10, 20],
  },
  load: {
    name: 'load',
    swarmSize: 50,
    initIterations: 10,
    freshInitSwarms: 5,
    freshDeploySwarms: 2,
    freshPairs: 3,
    pairAgents: 10,
    warmup: 2,
    agentCounts: [1, 5, 10, 25, 50],
    sweep: [2, 5, 10, 15, 20, 30, 40, 50],
    sweepRepeats: 3,
    topologies: ['mesh', 'hierarchical', 'ring', 'star'],
    strategyIterations: 1000,
    windowBars: 500,
    tasks: 10_000,
    consensusRounds: 1000,
    pingSamples: 10_000,
    stateSizes: [1024, 10_240, 102_400, 512_000],
    syncRounds: 200,
    blastCount: 20_000,
    blastTrials: 5,
    costTasks: 5000,
    costScalingSizes: [2, 5, 10, 20, 50],
  },
};

/** Profile parameters with a run's overrides (topologies, agent count) applied. */
export function profileParams(
  name: ProfileName,
  overrides: { topologies?: TopologyKind[]; agents?: number } = {},
): ProfileParams {
  const base = PROFILE_PARAMS[name];
  const params = { ...base, ...(overrides.topologies ? { topologies: overrides.topologies } : {}) };
  if (overrides.agents !== undefined) {
    const cap = overrides.agents;
    params.swarmSize = cap;
    params.agentCounts = unique(base.agentCounts.filter((n) => n < cap).concat(cap));
    params.sweep = unique(base.sweep.filter((n) => n <= cap).concat(cap >= 2 ? [cap] : [])).filter(
      (n) => n >= 2,
    );
    if (params.sweep.length < 2) params.sweep = [];
    params.costScalingSizes = unique(base.costScalingSizes.filter((n) => n < cap).concat(cap));
  }
  return params;
}

function unique(values: number[]): number[] {
  return [...new Set(values)].sort((a, b) => a - b);
}
