/** The shape of one benchmark: what it runs under a profile, what it expects to use, how it measures. */
import type { BenchContext } from './context.ts';
import type { CategoryId, Target } from './model.ts';
import type { ProfileParams } from './profiles.ts';

/** A swarm a benchmark will create: its size and roughly how long it lives after deployment. */
export interface PlannedSwarm {
  agents: number;
  workloadSeconds: number;
  /** Where its sandboxes come from when the run pools them. @default 'fresh' if the benchmark has freshSandboxes, else 'pool' */
  source?: 'fresh' | 'pool';
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

/** Sandboxes, sandbox-seconds and wall time a list of planned swarms should take. */
export function estimateSwarms(
  swarms: PlannedSwarm[],
  agentsPerSandbox: number,
): { sandboxes: number; sandboxSeconds: number; durationMs: number } {
  let sandboxes = 0;
  let sandboxSeconds = 0;
  let durationMs = 0;
  for (const swarm of swarms) {
    const count = Math.ceil(swarm.agents / agentsPerSandbox);
    const life = EXPECTED_DEPLOY_SECONDS + swarm.workloadSeconds;
    sandboxes += count;
    sandboxSeconds += count * life;
    durationMs += life * 1000;
  }
  return { sandboxes, sandboxSeconds, durationMs };
}

/** Sandboxes the largest of these swarms occupies at once: what a pool must hold for the unit. */
export function peakSandboxes(swarms: PlannedSwarm[], agentsPerSandbox: number): number {
  return swarms.reduce((peak, swarm) => Math.max(peak, Math.ceil(swarm.agents / agentsPerSandbox)), 0);
}

/** `n` copies of a planned swarm. */
export function times(n: number, swarm: PlannedSwarm): PlannedSwarm[] {
  return Array.from({ length: n }, () => swarm);
}
