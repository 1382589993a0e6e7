/**
 * The cost model: measured usage (sandbox-seconds, requests, transitions) times the prices in
 * prices.ts. Pure arithmetic; every input is checked so a NaN never reaches a report as "$NaN".
 */
import { InvalidInputError } from '../errors.ts';
import { AWS_PRICES, type AwsPrices, E2B_PRICES, type E2bPrices, type SandboxResources } from './prices.ts';

/** Average month, as AWS bills it. */
export const HOURS_PER_MONTH = 730;
/** A weekly schedule runs 52 times a year. */
export const WEEKLY_RUNS_PER_MONTH = 52 / 12;

const MIB_PER_GIB = 1024;
const SECONDS_PER_HOUR = 3600;

/** E2B cost of `sandboxSeconds` of sandbox life with the given allocated resources. */
export function e2bCostUsd(
  sandboxSeconds: number,
  resources: SandboxResources,
  prices: E2bPrices = E2B_PRICES,
): number {
  requireNonNegative('sandboxSeconds', sandboxSeconds);
  return sandboxSeconds * perSecondUsd(resources, prices);
}

/**
 * E2B cost of several sandboxes given each one's lifetime in ms; each lifetime is rounded up to
 * the billing increment (whole seconds) separately, as E2B bills each sandbox on its own.
 */
export function e2bCostOfLifetimesUsd(
  lifetimesMs: readonly number[],
  resources: SandboxResources,
  prices: E2bPrices = E2B_PRICES,
): number {
  const increment = prices.billingIncrementSeconds;
  requirePositive('prices.billingIncrementSeconds', increment);
  let billedSeconds = 0;
  lifetimesMs.forEach((lifetimeMs, index) => {
    requireNonNegative(`lifetimesMs[${index}]`, lifetimeMs);
    billedSeconds += Math.ceil(lifetimeMs / 1000 / increment) * increment;
  });
  return e2bCostUsd(billedSeconds, resources, prices);
}

/** Cost of keeping `sandboxes` sandboxes of the given size alive for one hour. */
export function e2bHourlyUsd(
  resources: SandboxResources,
  sandboxes = 1,
  prices: E2bPrices = E2B_PRICES,
): number {
  requireNonNegative('sandboxes', sandboxes);
  return perSecondUsd(resources, prices) * SECONDS_PER_HOUR * sandboxes;
}

/** E2B cost of one operation when `operations` ran in `sandboxSeconds` of sandbox life. */
export function costPerOperationUsd(
  sandboxSeconds: number,
  operations: number,
  resources: SandboxResources,
  prices: E2bPrices = E2B_PRICES,
): number {
  requirePositive('operations', operations);
  return e2bCostUsd(sandboxSeconds, resources, prices) / operations;
}

/** Operations bought by one dollar of sandbox time; Infinity when the sandbox time is 0. */
export function operationsPerDollar(
  sandboxSeconds: number,
  operations: number,
  resources: SandboxResources,
  prices: E2bPrices = E2B_PRICES,
): number {
  requireNonNegative('operations', operations);
  const costUsd = e2bCostUsd(sandboxSeconds, resources, prices);
  if (costUsd === 0) return operations === 0 ? 0 : Number.POSITIVE_INFINITY;
  return operations / costUsd;
}

/** What one pipeline run consumed on AWS, as counted by the run (or estimated by the plan). */
export interface AwsUsage {
  lambdaGbSeconds: number;
  lambdaRequests: number;
  stateTransitions: number;
  dynamoWriteUnits: number;
  dynamoReadUnits: number;
  s3Puts: number;
  s3Gets: number;
  snsPublishes: number;
  /** SNS deliveries to e-mail subscribers. @default 0 */
  snsEmailDeliveries?: number;
  /** Report storage attributed to the run. @default 0 */
  storageGbMonths?: number;
}

/** AWS cost of one run: the total and one line per priced item (all lines always present). */
export interface AwsRunCost {
  totalUsd: number;
  breakdown: Record<string, number>;
}

/** AWS cost of one run at list prices, free tier not subtracted. */
export function awsRunCostUsd(usage: AwsUsage, prices: AwsPrices = AWS_PRICES): AwsRunCost {
  const quantity = (field: keyof AwsUsage): number => {
    const value = usage[field] ?? 0;
    requireNonNegative(`usage.${field}`, value);
    return value;
  };
  const breakdown: Record<string, number> = {
    lambdaCompute: quantity('lambdaGbSeconds') * prices.lambda.arm64GbSecondUsd,
    lambdaRequests: quantity('lambdaRequests') * prices.lambda.requestUsd,
    stateTransitions: quantity('stateTransitions') * prices.stepFunctions.standardStateTransitionUsd,
    dynamoWrites: quantity('dynamoWriteUnits') * prices.dynamodb.writeRequestUnitUsd,
    dynamoReads: quantity('dynamoReadUnits') * prices.dynamodb.readRequestUnitUsd,
    s3Puts: quantity('s3Puts') * prices.s3.putRequestUsd,
    s3Gets: quantity('s3Gets') * prices.s3.getRequestUsd,
    s3Storage: quantity('storageGbMonths') * prices.s3.storageGbMonthUsd,
    snsPublishes: quantity('snsPublishes') * prices.sns.publishUsd,
    snsEmailDeliveries: quantity('snsEmailDeliveries') * prices.sns.emailDeliveryUsd,
  };
  const totalUsd = Object.values(breakdown).reduce((sum, value) => sum + value, 0);
  return { totalUsd, breakdown };
}

/** Monthly cost of a run repeated `runsPerMonth` times (e.g. WEEKLY_RUNS_PER_MONTH). */
export function projectMonthlyUsd(runCostUsd: number, runsPerMonth: number): number {
  requireNonNegative('runCostUsd', runCostUsd);
  requireNonNegative('runsPerMonth', runsPerMonth);
  return runCostUsd * runsPerMonth;
}

function perSecondUsd(resources: SandboxResources, prices: E2bPrices): number {
  requireNonNegative('resources.vcpu', resources.vcpu);
  requireNonNegative('resources.memoryMb', resources.memoryMb);
  return (
    resources.vcpu * prices.vcpuSecondUsd + (resources.memoryMb / MIB_PER_GIB) * prices.memoryGibSecondUsd
  );
}

function requireNonNegative(field: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidInputError(field, 'a finite number >= 0', value);
  }
}

function requirePositive(field: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new InvalidInputError(field, 'a finite number > 0', value);
  }
}
