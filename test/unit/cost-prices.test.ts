import { describe, expect, it } from 'vitest';
import { AWS_PRICES, E2B_PRICES, E2B_TEMPLATES } from '../../lib/cost/prices.ts';

describe('prices', () => {
  it('hold the E2B facts the model relies on', () => {
    // Assess
    expect(E2B_PRICES.vcpuSecondUsd).toBe(0.000014);
    expect(E2B_PRICES.memoryGibSecondUsd).toBe(0.0000045);
    expect(E2B_PRICES.billingIncrementSeconds).toBe(1);
    expect(E2B_PRICES.defaultTimeoutMs).toBe(300_000);
    expect(E2B_PRICES.concurrentSandboxes).toEqual({ hobby: 20, pro: 100 });
    expect(E2B_TEMPLATES.base).toEqual({ vcpu: 2, memoryMb: 512 });
    expect(E2B_TEMPLATES['code-interpreter']).toEqual({ vcpu: 2, memoryMb: 2048 });
  });

  it('convert AWS quoted prices to per-unit prices', () => {
    // Assess
    expect(AWS_PRICES.region).toBe('us-east-1');
    expect(AWS_PRICES.lambda.requestUsd * 1_000_000).toBeCloseTo(0.2, 12);
    expect(AWS_PRICES.stepFunctions.standardStateTransitionUsd * 1000).toBeCloseTo(0.025, 12);
    expect(AWS_PRICES.s3.getRequestUsd * 1000).toBeCloseTo(0.0004, 12);
    expect(AWS_PRICES.sns.emailDeliveryUsd * 100_000).toBeCloseTo(2, 12);
  });

  it('carry a source and a valid asOf date, and cannot be changed at run time', () => {
    // Prepare
    const entries = [E2B_PRICES, AWS_PRICES];
    for (const entry of entries) {
      // Assess
      expect(entry.source.length).toBeGreaterThan(0);
      expect(entry.asOf).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(Number.isNaN(Date.parse(entry.asOf))).toBe(false);
    }
    expect(() => {
      (E2B_PRICES as { vcpuSecondUsd: number }).vcpuSecondUsd = 0;
    }).toThrow(TypeError);
    expect(() => {
      (AWS_PRICES.lambda as { requestUsd: number }).requestUsd = 0;
    }).toThrow(TypeError);
  });
});
