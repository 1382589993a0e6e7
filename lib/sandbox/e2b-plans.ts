/**
 * E2B's published plan limits as data, with their source and date: the provider paces itself by
 * them and the local E2B (lib/e2b-local) enforces them. Update an entry here, never at a call site.
 */

/** The E2B plan tiers swarm-bench knows. */
export type E2BTier = 'hobby' | 'pro';

/** What one plan allows, counted per team (all runs and detached sandboxes together). */
export interface E2BPlanLimits {
  /** Sandboxes running at once; one more is refused with 429. */
  concurrentSandboxes: number;
  /** Sandbox creations per second; beyond it POST /v2/sandboxes answers 429 without Retry-After. */
  creationsPerSecond: number;
  /** Longest a sandbox may live from its start; a longer create timeout is a 400, setTimeout is capped. */
  sessionMaxMs: number;
  /** Monthly plan fee, on top of usage. */
  monthlyFeeUsd: number;
}

/** Published limits of each tier. */
export const E2B_PLANS: Readonly<Record<E2BTier, Readonly<E2BPlanLimits>>> = Object.freeze({
  hobby: Object.freeze({
    concurrentSandboxes: 20,
    creationsPerSecond: 1,
    sessionMaxMs: 3_600_000,
    monthlyFeeUsd: 0,
  }),
  pro: Object.freeze({
    concurrentSandboxes: 100,
    creationsPerSecond: 5,
    sessionMaxMs: 86_400_000,
    monthlyFeeUsd: 150,
  }),
});

/** Where E2B_PLANS comes from and when it was read. */
export const E2B_PLANS_SOURCE = Object.freeze({
  source:
    'https://e2b.dev/pricing and https://e2b.dev/docs/sandbox (plan concurrency, creation rate, session maximum); ' +
    'SDK 2.51 Sandbox.setTimeout doc comment (1 h Hobby, 24 h Pro)',
  asOf: '2026-12-02',
});

/** The tier names, for validation messages. */
export const E2B_TIERS: readonly E2BTier[] = ['hobby', 'pro'];

/**
 * Sizes E2B's template build accepts (read from E2B's template build validation, 2026-12-02): vCPUs
 * 1 or an even number up to 32; memory an even number of MiB, at least 128. The service refuses any
 * other size only after the build was queued, so the build script checks first.
 */
export const E2B_TEMPLATE_SIZE_RULES = Object.freeze({ maxVcpu: 32, minMemoryMb: 128 });

/** Why E2B would refuse this template size, naming the flag, or undefined when it is accepted. */
export function templateSizeProblem(
  size: { vcpu: number; memoryMb: number },
  flags: { vcpu: string; memoryMb: string } = { vcpu: 'cpu', memoryMb: 'memoryMb' },
): string | undefined {
  const { maxVcpu, minMemoryMb } = E2B_TEMPLATE_SIZE_RULES;
  const { vcpu, memoryMb } = size;
  if (!(Number.isInteger(vcpu) && (vcpu === 1 || (vcpu >= 2 && vcpu <= maxVcpu && vcpu % 2 === 0)))) {
    return `${flags.vcpu} must be 1 or an even number of vCPUs up to ${maxVcpu} (got ${vcpu})`;
  }
  if (!(Number.isInteger(memoryMb) && memoryMb >= minMemoryMb && memoryMb % 2 === 0)) {
    return `${flags.memoryMb} must be an even number of MiB, at least ${minMemoryMb} (got ${memoryMb})`;
  }
  return undefined;
}
