/**
 * Prices as data, each with where it came from and when. The cost model multiplies measured usage
 * by these; nothing else in swarm-bench types in a dollar amount. Update a price by editing its
 * entry (value, source, asOf) here, never at the call site.
 */

/** CPU and memory allocated to one sandbox. memoryMb is MiB, as E2B's templates state it. */
export interface SandboxResources {
  vcpu: number;
  memoryMb: number;
}

/** E2B usage prices: billed per second on the resources a sandbox has allocated, used or not. */
export interface E2bPrices {
  vcpuSecondUsd: number;
  memoryGibSecondUsd: number;
  /** Billing granularity: a sandbox's lifetime is rounded up to a multiple of this. */
  billingIncrementSeconds: number;
  /** Sandbox life when the creator sets no timeout. */
  defaultTimeoutMs: number;
  /** Sandboxes that may run at once, per plan. */
  concurrentSandboxes: { hobby: number; pro: number };
  source: string;
  asOf: string;
}

/** E2B public usage prices and plan limits. */
export const E2B_PRICES: Readonly<E2bPrices> = Object.freeze({
  vcpuSecondUsd: 0.000014,
  memoryGibSecondUsd: 0.0000045,
  billingIncrementSeconds: 1,
  defaultTimeoutMs: 300_000,
  concurrentSandboxes: Object.freeze({ hobby: 20, pro: 100 }),
  source: 'E2B pricing page and documentation (usage-based prices, plan concurrency limits)',
  asOf: '2026-11-27',
});

/** Resources of the E2B templates swarm-bench uses. */
export const E2B_TEMPLATES: Readonly<Record<'base' | 'code-interpreter', Readonly<SandboxResources>>> =
  Object.freeze({
    base: Object.freeze({ vcpu: 2, memoryMb: 512 }),
    'code-interpreter': Object.freeze({ vcpu: 2, memoryMb: 2048 }),
  });

/** AWS on-demand list prices, per single unit (request, GB-second, transition, ...). */
export interface AwsPrices {
  region: string;
  lambda: { arm64GbSecondUsd: number; requestUsd: number };
  stepFunctions: { standardStateTransitionUsd: number };
  dynamodb: { writeRequestUnitUsd: number; readRequestUnitUsd: number };
  s3: { putRequestUsd: number; getRequestUsd: number; storageGbMonthUsd: number };
  sns: { publishUsd: number; emailDeliveryUsd: number };
  /** The free tier is not subtracted: the model answers what a run costs, not what one account pays. */
  source: string;
  asOf: string;
}

/** AWS us-east-1 list prices, written as the pricing pages quote them (per 1,000 or per 1M). */
export const AWS_PRICES: Readonly<AwsPrices> = Object.freeze({
  region: 'us-east-1',
  lambda: Object.freeze({ arm64GbSecondUsd: 0.0000133334, requestUsd: 0.2 / 1_000_000 }),
  stepFunctions: Object.freeze({ standardStateTransitionUsd: 0.025 / 1_000 }),
  dynamodb: Object.freeze({
    writeRequestUnitUsd: 0.625 / 1_000_000,
    readRequestUnitUsd: 0.125 / 1_000_000,
  }),
  s3: Object.freeze({
    putRequestUsd: 0.005 / 1_000,
    getRequestUsd: 0.0004 / 1_000,
    storageGbMonthUsd: 0.023,
  }),
  sns: Object.freeze({ publishUsd: 0.5 / 1_000_000, emailDeliveryUsd: 2 / 100_000 }),
  source:
    'AWS pricing pages for Lambda (arm64), Step Functions (standard), DynamoDB (on-demand), S3 (Standard), SNS; us-east-1',
  asOf: '2026-11-27',
});
