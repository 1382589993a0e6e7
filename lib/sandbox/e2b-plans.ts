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

/**
 * How a creation rate is counted: a sliding window of one second (of 1/rate seconds for rates below
 * one a second) holding at most `rate` creations; one more is answered 429. The local E2B enforces
 * it; E2B does not publish its algorithm, and a sliding window is the strictest reading of "n per
 * second" (a fixed per-second window or a token bucket admits everything it admits).
 */
export class CreationWindow {
  readonly windowMs: number;
  readonly capacity: number;
  readonly #admitted: number[] = [];

  constructor(perSecond: number) {
    if (!(perSecond > 0)) throw new Error(`creation rate must be above 0 (got ${perSecond})`);
    this.windowMs = perSecond >= 1 ? 1000 : 1000 / perSecond;
    this.capacity = Math.max(1, Math.floor(perSecond * (this.windowMs / 1000)));
  }

  /** Count a creation arriving at `now` (ms) if the window has room; false means 429. */
  admit(now: number): boolean {
    while (this.#admitted.length > 0 && (this.#admitted[0] as number) <= now - this.windowMs) {
      this.#admitted.shift();
    }
    if (this.#admitted.length >= this.capacity) return false;
    this.#admitted.push(now);
    return true;
  }
}

/**
 * Margin of the provider's pacing: it sends at most `rate` creations per 1.1 s, so creations can
 * reach E2B up to 100 ms (10% of a window) nearer to each other than they were sent (network and
 * event-loop jitter) and still fit the window above. Paced at exactly the rate, any jitter is a 429.
 */
export const CREATION_PACING_MARGIN = 0.1;

/** Creations per second the provider actually sends when told to keep to `rate`. */
export function pacedCreationRate(rate: number): number {
  return rate / (1 + CREATION_PACING_MARGIN);
}

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
