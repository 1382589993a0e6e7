/** The shape of one benchmark: what it runs under a profile, what it expects to use, how it measures. */
import { buildTopology, edges, type TopologyKind } from '../swarm/topology.ts';
import type { BenchContext } from './context.ts';
import type { CategoryId, Labels, Target } from './model.ts';
import type { ProfileParams } from './profiles.ts';

/**
 * A swarm a benchmark will create and the work it does once deployed. The plan's duration model
 * (lib/bench/estimate.ts) is fitted on these quantities, so they describe what really happens.
 */
export interface PlannedSwarm {
  agents: number;
  /** Seconds of work that no count below describes (custom scenarios). @default 0 */
  workloadSeconds?: number;
  /** Where its sandboxes come from when the run pools them. @default 'fresh' if the benchmark has freshSandboxes, else 'pool' */
  source?: 'fresh' | 'pool';
  /** @default 'mesh' */
  topology?: TopologyKind;
  /** Rounds that cross the whole topology (consensus, broadcast, state sync): each sends a message over every link. */
  rounds?: number;
  /** Point-to-point messages beyond rounds (throughput bursts, ping round trips x hops). */
  messages?: number;
  /** Strategy executions (each computes indicators over a market window in an agent). */
  tasks?: number;
  /** Resource probes (per-agent /proc or provider metric reads). */
  probes?: number;
}

/**
 * A series a benchmark will record under a profile and how many samples it gets: what the plan
 * states per series, and what lets a target's statistic exist (a p95 needs about 20 samples).
 */
export interface PlannedSeries {
  series: string;
  /** Labels that single out the series (one entry can stand for several series, e.g. per topology). */
  labels?: Labels;
  /** Measured samples (warm-ups excluded) in each matching series. */
  n: number;
  /** Why this many: what one sample is and what the count supports. */
  why: string;
}

export interface BenchmarkDefinition {
  category: CategoryId | 'custom';
  test: string;
  title: string;
  /** The swarms this benchmark creates under a profile (drives the plan's estimate). */
  swarms(params: ProfileParams): PlannedSwarm[];
  /** Parameters worth recording with the result. */
  describe(params: ProfileParams): Record<string, unknown>;
  run(ctx: BenchContext): Promise<void>;
  /** Samples per series under a profile, for the series targets are judged on. */
  samples?(params: ProfileParams): PlannedSeries[];
  /** Targets of a custom scenario. */
  targets?: Target[];
  /**
   * True when the benchmark measures sandbox creation, so its swarms need new sandboxes even when
   * the run pools them (creation/*). Every other benchmark runs in pooled sandboxes. @default false
   */
  freshSandboxes?: boolean;
}

/** Seconds a sandbox is expected to live before its workload starts (create, start, wire). */
export const EXPECTED_DEPLOY_SECONDS = 2;

/** Messages one topology-wide round sends: one per direction of every link. */
export function messagesPerRound(topology: TopologyKind, agents: number): number {
  if (agents < 2) return 0;
  return 2 * edges(buildTopology(topology, agents)).length;
}

/** Sandboxes the largest of these swarms occupies at once: what a pool must hold for the unit. */
export function peakSandboxes(swarms: PlannedSwarm[], agentsPerSandbox: number): number {
  return swarms.reduce((peak, swarm) => Math.max(peak, Math.ceil(swarm.agents / agentsPerSandbox)), 0);
}

/** `n` copies of a planned swarm. */
export function times(n: number, swarm: PlannedSwarm): PlannedSwarm[] {
  return Array.from({ length: n }, () => swarm);
}
