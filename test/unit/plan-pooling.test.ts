import { describe, expect, it } from 'vitest';
import { buildPlan, concurrencyFor, pipelineSchedule, pipelineWallTimeMs } from '../../lib/bench/plan.ts';
import { unitLifetimeMs } from '../../lib/bench/runner.ts';
import { parseRunConfig } from '../../lib/config.ts';

describe('plan with a sandbox pool', () => {
  it('counts fresh creation sandboxes and what the pool lacks, far fewer than without pooling', () => {
    // Prepare
    const on = buildPlan(parseRunConfig({ profile: 'default' }));
    const off = buildPlan(parseRunConfig({ profile: 'default', pooling: false }));
    // Assess
    const creation = on.units.filter((u) => u.category === 'creation');
    // 20 fresh 10-agent swarms, 2 x 10 deploys, 10 pairs of 4 + 4 (issue 13: samples behind targets).
    expect(creation.map((u) => u.estimate.fresh)).toEqual([200, 20, 80]);
    expect(on.totals.freshSandboxes).toBe(300);
    // The one pooled sandbox is the first warm-up's; fresh ones donated later cover the sweep's 20.
    expect(on.totals.sandboxes).toBe(301);
    expect(on.units.filter((u) => u.category !== 'creation').every((u) => u.estimate.sandboxes === 0)).toBe(
      true,
    );
    expect(off.totals.sandboxes).toBeGreaterThan(3 * on.totals.sandboxes);
    expect(on.units.find((u) => u.unitId === 'scalability/linear-scaling')?.params.pooled).toBe(true);
    expect(on.units.find((u) => u.unitId === 'creation/swarm-init')?.params.pooled).toBe(false);
  });

  it('models the Map: units run in slots of the given concurrency', () => {
    const one = pipelineWallTimeMs([10_000, 10_000, 10_000, 10_000], 1);
    const two = pipelineWallTimeMs([10_000, 10_000, 10_000, 10_000], 2);
    expect(one - two).toBe(2 * 11_500);
  });

  it("gives sandboxes a lifetime from the unit estimate, not E2B's 5-minute default", () => {
    expect(unitLifetimeMs({ estimate: { sandboxes: 1, sandboxSeconds: 1, durationMs: 10_000 } })).toBe(
      80_000,
    );
    expect(unitLifetimeMs({ estimate: { sandboxes: 1, sandboxSeconds: 1, durationMs: 3_600_000 } })).toBe(
      900_000,
    );
  });

  it('runs units side by side only as far as their biggest needs fit under the limit', () => {
    expect(concurrencyFor([20, 10, 10, 4], 20, 5)).toBe(1);
    expect(concurrencyFor([10, 10, 4, 4], 23, 5)).toBe(2);
    expect(concurrencyFor([10, 10, 4, 4], 24, 5)).toBe(3);
    expect(concurrencyFor([4, 4, 4, 4], 100, 3)).toBe(3);
    expect(concurrencyFor([50], 20, 5)).toBe(1);
    expect(concurrencyFor([], 20, 5)).toBe(1);
  });
});

describe('the pipeline schedule (pool handed from unit Lambda to unit Lambda)', () => {
  it('runs the default profile on E2B: creation units first, then pooled units, the pool created once', () => {
    // Prepare
    const plan = buildPlan(parseRunConfig({ provider: 'e2b' }));

    // Act
    const schedule = pipelineSchedule(plan.units, parseRunConfig({ provider: 'e2b' }));

    // Assess
    expect(schedule.creationUnits).toEqual([
      'creation/swarm-init',
      'creation/agent-deployment',
      'creation/parallel-vs-sequential',
    ]);
    expect(schedule.pooledUnits).toHaveLength(plan.units.length - 3);
    // The largest pooled need (20) fills E2B Hobby's 20 sandboxes: one pooled unit at a time.
    expect(schedule.concurrency).toEqual({ creation: 1, pooled: 1 });
    // Only the creation units' fresh sandboxes and the first warm-up's: pooled units create none.
    expect(schedule.sandboxes).toBe(301);
    expect(plan.totals.pipeline.sandboxes).toBe(schedule.sandboxes);
    expect(schedule.wallTimeMs).toBeLessThan(15 * 60_000);
  });

  it('lets pooled units run side by side when the pool holds enough, without creating more than one at a time would', () => {
    // Prepare
    const config = parseRunConfig({ provider: 'e2b', profile: 'quick', maxSandboxes: 100 });
    const plan = buildPlan(config);

    // Act
    const wide = pipelineSchedule(plan.units, config, { maxConcurrency: 5 });
    const narrow = pipelineSchedule(plan.units, config, { maxConcurrency: 1 });

    // Assess
    expect(wide.concurrency).toEqual({ creation: 1, pooled: 5 });
    expect(narrow.concurrency).toEqual({ creation: 1, pooled: 1 });
    expect(wide.sandboxes).toBe(plan.totals.sandboxes);
    expect(narrow.sandboxes).toBe(plan.totals.sandboxes);
    expect(wide.wallTimeMs).toBeLessThan(narrow.wallTimeMs);
  });

  it('never runs units side by side on the local provider, and puts every unit in the first Map without pooling', () => {
    const local = parseRunConfig({ profile: 'quick' });
    expect(pipelineSchedule(buildPlan(local).units, local, { maxConcurrency: 5 }).concurrency).toEqual({
      creation: 1,
      pooled: 1,
    });
    const off = parseRunConfig({ provider: 'e2b', profile: 'quick', pooling: false });
    const unpooled = pipelineSchedule(buildPlan(off).units, off, { maxConcurrency: 5 });
    expect(unpooled.pooledUnits).toEqual([]);
    expect(unpooled.concurrency.creation).toBe(5);
    expect(unpooled.sandboxes).toBe(buildPlan(off).totals.sandboxes);
  });

  it('models the wall time from measured unit durations when given', () => {
    const config = parseRunConfig({ provider: 'e2b', profile: 'quick' });
    const plan = buildPlan(config);
    const measured = new Map(plan.units.map((unit) => [unit.unitId, 60_000]));
    const schedule = pipelineSchedule(plan.units, config, { durationsMs: measured, maxConcurrency: 1 });
    expect(schedule.wallTimeMs).toBe(plan.units.length * 61_500 + 20_000);
  });
});
