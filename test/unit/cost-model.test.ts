import { describe, expect, it } from 'vitest';
import {
  AWS_PRICES,
  awsRunCostUsd,
  costPerOperationUsd,
  E2B_PRICES,
  E2B_TEMPLATES,
  e2bCostOfLifetimesUsd,
  e2bCostUsd,
  e2bHourlyUsd,
  HOURS_PER_MONTH,
  operationsPerDollar,
  projectMonthlyUsd,
  WEEKLY_RUNS_PER_MONTH,
} from '../../lib/cost/index.ts';
import { InvalidInputError } from '../../lib/errors.ts';

const BASE = E2B_TEMPLATES.base;

describe('E2B cost', () => {
  it('prices 2 vCPU / 512 MiB for an hour at $0.1089', () => {
    // Act
    const costUsd = e2bCostUsd(3600, BASE);
    // Assess: 2 * 0.000014 * 3600 + 0.5 * 0.0000045 * 3600
    expect(costUsd).toBeCloseTo(0.1089, 12);
  });

  it('prices the code-interpreter template (2 vCPU / 2 GiB) at $0.1332 per hour', () => {
    // Act
    const hourlyUsd = e2bHourlyUsd(E2B_TEMPLATES['code-interpreter']);
    // Assess: 2 * 0.000014 * 3600 + 2 * 0.0000045 * 3600
    expect(hourlyUsd).toBeCloseTo(0.1332, 12);
  });

  it('scales the hourly cost with the number of sandboxes', () => {
    // Act / Assess
    expect(e2bHourlyUsd(BASE, 10)).toBeCloseTo(1.089, 12);
    expect(e2bHourlyUsd(BASE, 0)).toBe(0);
  });

  it('rounds each sandbox lifetime up to whole seconds before summing', () => {
    // Prepare: 1.001 s -> 2 s, 0.2 s -> 1 s, 3 s -> 3 s; summing first would give ceil(4.201) = 5 s.
    const lifetimesMs = [1001, 200, 3000];
    // Act
    const costUsd = e2bCostOfLifetimesUsd(lifetimesMs, BASE);
    // Assess
    expect(costUsd).toBeCloseTo(6 * (2 * 0.000014 + 0.5 * 0.0000045), 15);
    expect(e2bCostOfLifetimesUsd([], BASE)).toBe(0);
  });

  it('uses injected prices instead of the defaults', () => {
    // Prepare
    const prices = { ...E2B_PRICES, vcpuSecondUsd: 1, memoryGibSecondUsd: 0, billingIncrementSeconds: 60 };
    // Act
    const costUsd = e2bCostOfLifetimesUsd([61_000], { vcpu: 1, memoryMb: 512 }, prices);
    // Assess: 61 s billed as 120 s at $1 per vCPU-second
    expect(costUsd).toBe(120);
  });

  it('divides the cost across operations and inverts it', () => {
    // Prepare: one base sandbox for an hour running 10,890 operations costs $0.1089
    const seconds = 3600;
    const operations = 10_890;
    // Act
    const perOperationUsd = costPerOperationUsd(seconds, operations, BASE);
    const perDollar = operationsPerDollar(seconds, operations, BASE);
    // Assess
    expect(perOperationUsd).toBeCloseTo(0.00001, 15);
    expect(perDollar).toBeCloseTo(100_000, 6);
  });

  it('treats free sandbox time as infinitely many operations per dollar', () => {
    // Act / Assess
    expect(operationsPerDollar(0, 10, BASE)).toBe(Number.POSITIVE_INFINITY);
    expect(operationsPerDollar(0, 0, BASE)).toBe(0);
  });

  it('rejects negative and non-finite inputs, naming the argument', () => {
    // Act / Assess
    expect(() => e2bCostUsd(-1, BASE)).toThrow(InvalidInputError);
    expect(() => e2bCostUsd(Number.NaN, BASE)).toThrow(/sandboxSeconds/);
    expect(() => e2bCostUsd(1, { vcpu: -2, memoryMb: 512 })).toThrow(/resources\.vcpu/);
    expect(() => e2bCostUsd(1, { vcpu: 2, memoryMb: Number.POSITIVE_INFINITY })).toThrow(
      /resources\.memoryMb/,
    );
    expect(() => e2bCostOfLifetimesUsd([10, -5], BASE)).toThrow(/lifetimesMs\[1\]/);
    expect(() => e2bHourlyUsd(BASE, -1)).toThrow(/sandboxes/);
    expect(() => costPerOperationUsd(10, 0, BASE)).toThrow(/operations/);
    expect(() => operationsPerDollar(10, -1, BASE)).toThrow(/operations/);
  });
});

describe('AWS run cost', () => {
  it('sums every priced item at list prices', () => {
    // Prepare
    const usage = {
      lambdaGbSeconds: 1000,
      lambdaRequests: 1_000_000,
      stateTransitions: 1000,
      dynamoWriteUnits: 1_000_000,
      dynamoReadUnits: 1_000_000,
      s3Puts: 1000,
      s3Gets: 1000,
      snsPublishes: 1_000_000,
      snsEmailDeliveries: 100_000,
      storageGbMonths: 1,
    };
    // Act
    const { totalUsd, breakdown } = awsRunCostUsd(usage);
    // Assess
    expect(breakdown.lambdaCompute).toBeCloseTo(0.0133334, 12);
    expect(breakdown.lambdaRequests).toBeCloseTo(0.2, 12);
    expect(breakdown.stateTransitions).toBeCloseTo(0.025, 12);
    expect(breakdown.dynamoWrites).toBeCloseTo(0.625, 12);
    expect(breakdown.dynamoReads).toBeCloseTo(0.125, 12);
    expect(breakdown.s3Puts).toBeCloseTo(0.005, 12);
    expect(breakdown.s3Gets).toBeCloseTo(0.0004, 12);
    expect(breakdown.s3Storage).toBeCloseTo(0.023, 12);
    expect(breakdown.snsPublishes).toBeCloseTo(0.5, 12);
    expect(breakdown.snsEmailDeliveries).toBeCloseTo(2, 12);
    expect(totalUsd).toBeCloseTo(3.5167334, 10);
  });

  it('prices optional items at 0 when absent and keeps every breakdown line', () => {
    // Prepare
    const usage = {
      lambdaGbSeconds: 0,
      lambdaRequests: 0,
      stateTransitions: 40,
      dynamoWriteUnits: 0,
      dynamoReadUnits: 0,
      s3Puts: 0,
      s3Gets: 0,
      snsPublishes: 0,
    };
    // Act
    const { totalUsd, breakdown } = awsRunCostUsd(usage);
    // Assess
    expect(totalUsd).toBeCloseTo(0.001, 15);
    expect(breakdown.s3Storage).toBe(0);
    expect(Object.keys(breakdown)).toHaveLength(10);
  });

  it('rejects a negative usage field, naming it', () => {
    // Prepare
    const usage = {
      lambdaGbSeconds: 1,
      lambdaRequests: 1,
      stateTransitions: 1,
      dynamoWriteUnits: 1,
      dynamoReadUnits: -1,
      s3Puts: 1,
      s3Gets: 1,
      snsPublishes: 1,
    };
    // Act / Assess
    expect(() => awsRunCostUsd(usage)).toThrow(/usage\.dynamoReadUnits/);
  });

  it('uses injected prices', () => {
    // Prepare
    const prices = { ...AWS_PRICES, stepFunctions: { standardStateTransitionUsd: 1 } };
    const usage = {
      lambdaGbSeconds: 0,
      lambdaRequests: 0,
      stateTransitions: 3,
      dynamoWriteUnits: 0,
      dynamoReadUnits: 0,
      s3Puts: 0,
      s3Gets: 0,
      snsPublishes: 0,
    };
    // Act / Assess
    expect(awsRunCostUsd(usage, prices).totalUsd).toBe(3);
  });
});

describe('monthly projection', () => {
  it('multiplies a run cost by runs per month', () => {
    // Act / Assess
    expect(WEEKLY_RUNS_PER_MONTH).toBeCloseTo(4.333333333, 9);
    expect(projectMonthlyUsd(1.2, WEEKLY_RUNS_PER_MONTH)).toBeCloseTo(5.2, 12);
    expect(e2bHourlyUsd(BASE) * HOURS_PER_MONTH).toBeCloseTo(79.497, 9);
  });

  it('rejects negative or non-finite inputs', () => {
    // Act / Assess
    expect(() => projectMonthlyUsd(-1, 4)).toThrow(/runCostUsd/);
    expect(() => projectMonthlyUsd(1, Number.POSITIVE_INFINITY)).toThrow(/runsPerMonth/);
  });
});
