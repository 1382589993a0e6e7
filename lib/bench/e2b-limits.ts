/**
 * What E2B's creation rate does to the guide's creation targets. At R creations per second a swarm
 * needing S new sandboxes cannot have its last one before (S - 1) / R seconds, whatever E2B's boot
 * time: 10 one-agent sandboxes at Hobby's 1/s take at least 9 s, so "swarm init < 5 s" cannot be met
 * there. Packing agents (several per sandbox) lowers S; this finds the least packing that leaves
 * the target room. Used by `plan --provider e2b` and by the report of an E2B run.
 */
import { E2B_PLANS, type E2BTier } from '../sandbox/e2b-plans.ts';
import type { RunResults, Target } from './model.ts';
import { GUIDE_TARGETS } from './targets.ts';

/** Agents one sandbox may hold (lib/config.ts agentsPerSandbox maximum). */
const MAX_AGENTS_PER_SANDBOX = 16;

/** The E2B settings a run used, as recorded in its meta. */
export interface E2BRunLimits {
  tier: E2BTier;
  /** Creations per second the provider paced itself to. */
  creationRate: number;
  agentsPerSandbox: number;
}

/** A creation target the tier's rate alone rules out, and the packing that would allow it. */
export interface UnattainableTarget {
  targetId: string;
  label: string;
  /** Target threshold, ms. */
  targetMs: number;
  agents: number;
  sandboxes: number;
  /** Least time the creation rate allows for those sandboxes, ms. */
  floorMs: number;
  /** Least agents per sandbox under which the rate leaves room for the target; undefined: none does. */
  packing?: number;
}

/** Least time, ms, to create `sandboxes` at `ratePerS` (the first one at once). */
export function creationFloorMs(sandboxes: number, ratePerS: number): number {
  if (!(ratePerS > 0) || !Number.isFinite(ratePerS) || sandboxes <= 1) return 0;
  return ((sandboxes - 1) / ratePerS) * 1000;
}

/** Least agents per sandbox with a creation floor under `targetMs`; undefined when none up to 16. */
export function packingToMeet(agents: number, targetMs: number, ratePerS: number): number | undefined {
  for (let perSandbox = 1; perSandbox <= MAX_AGENTS_PER_SANDBOX; perSandbox++) {
    if (creationFloorMs(Math.ceil(agents / perSandbox), ratePerS) < targetMs) return perSandbox;
  }
  return undefined;
}

/** Guide targets on swarm creation time ('<' on init-ms or deploy-ms). */
const CREATION_TARGETS: readonly Target[] = GUIDE_TARGETS.filter(
  (target) =>
    target.op === '<' &&
    (target.series === 'init-ms' || target.series === 'deploy-ms') &&
    target.unit === 'ms',
);

/**
 * The creation targets that the rate rules out for swarms of the given sizes. `agentsOf` names the
 * swarm sizes each target is measured at (from a plan's parameters or a run's series labels).
 */
export function unattainableTargets(
  limits: E2BRunLimits,
  agentsOf: (target: Target) => number[],
): UnattainableTarget[] {
  const out: UnattainableTarget[] = [];
  for (const target of CREATION_TARGETS) {
    for (const agents of new Set(agentsOf(target))) {
      const sandboxes = Math.ceil(agents / limits.agentsPerSandbox);
      const floorMs = creationFloorMs(sandboxes, limits.creationRate);
      if (floorMs < target.value) continue;
      const packing = packingToMeet(agents, target.value, limits.creationRate);
      out.push({
        targetId: target.id,
        label: target.label,
        targetMs: target.value,
        agents,
        sandboxes,
        floorMs,
        ...(packing === undefined ? {} : { packing }),
      });
    }
  }
  return out;
}

/** Swarm sizes a run measured each target's series at (its `agents` labels). */
export function measuredAgents(run: RunResults): (target: Target) => number[] {
  return (target) => {
    // Pooled swarms take sandboxes created earlier: the creation rate does not bound their init.
    if (run.meta.units.find((unit) => unit.unitId === target.unitId)?.params.pooled === true) return [];
    const result = run.results.find((r) => r.unitId === target.unitId);
    const sizes = (result?.series ?? [])
      .filter((series) => series.name === target.series)
      .map((series) => Number(series.labels?.agents))
      .filter((agents) => Number.isInteger(agents) && agents > 0);
    const wanted = target.labels?.agents;
    return wanted === undefined ? sizes : sizes.filter((agents) => agents === Number(wanted));
  };
}

/** One sentence per unattainable target, naming the tier, the floor and the packing that fits. */
export function describeUnattainable(limits: E2BRunLimits, item: UnattainableTarget): string {
  const plan = E2B_PLANS[limits.tier];
  const rate = `${formatRate(limits.creationRate)} creation${limits.creationRate === 1 ? '' : 's'}/s`;
  const fix =
    item.packing === undefined
      ? 'no packing up to 16 agents per sandbox fits it'
      : `--agents-per-sandbox ${item.packing} (${Math.ceil(item.agents / item.packing)} sandboxes) would leave room for it`;
  const tierNote =
    limits.creationRate === plan.creationsPerSecond ? `E2B ${limits.tier}` : `E2B ${limits.tier}, paced to`;
  return (
    `${item.label} < ${item.targetMs / 1000} s is unattainable at ${item.agents} agents on ${tierNote} ${rate}: ` +
    `${item.sandboxes} sandboxes cannot all be created in under ${(item.floorMs / 1000).toFixed(1)} s; ${fix}.`
  );
}

function formatRate(rate: number): string {
  return Number.isInteger(rate) ? String(rate) : rate.toFixed(2);
}
