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
