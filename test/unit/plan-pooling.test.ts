import { describe, expect, it } from 'vitest';
import { buildPlan, pipelineWallTimeMs } from '../../lib/bench/plan.ts';
import { unitLifetimeMs } from '../../lib/bench/runner.ts';
import { parseRunConfig } from '../../lib/config.ts';

describe('plan with a sandbox pool', () => {
  it('counts fresh creation sandboxes and what the pool lacks, far fewer than without pooling', () => {
    // Prepare
    const on = buildPlan(parseRunConfig({ profile: 'default' }));
    const off = buildPlan(parseRunConfig({ profile: 'default', pooling: false }));
    // Assess
    const creation = on.units.filter((u) => u.category === 'creation');
    expect(creation.map((u) => u.estimate.fresh)).toEqual([20, 10, 8]);
    expect(on.totals.freshSandboxes).toBe(38);
    // The one pooled sandbox is the first warm-up's; fresh ones donated later cover the sweep's 20.
    expect(on.totals.sandboxes).toBe(39);
    expect(on.units.filter((u) => u.category !== 'creation').every((u) => u.estimate.sandboxes === 0)).toBe(
      true,
    );
    expect(off.totals.sandboxes).toBeGreaterThan(10 * on.totals.sandboxes);
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
});
