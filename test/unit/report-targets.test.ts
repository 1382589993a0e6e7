import { describe, expect, it } from 'vitest';
import { CATALOG } from '../../lib/bench/catalog.ts';
import { TESTS } from '../../lib/bench/model.ts';
import { evaluateTargets, GUIDE_TARGETS } from '../../lib/bench/targets.ts';
import { InvalidInputError } from '../../lib/errors.ts';
import { loadFixture } from './report-helpers.ts';

describe('GUIDE_TARGETS', () => {
  it('holds the guide table importance and points at units of the catalog', () => {
    // Prepare
    const byId = new Map(GUIDE_TARGETS.map((target) => [target.id, target]));
    const units = new Set(CATALOG.map((entry) => entry.unitId));
    // Assess
    expect(GUIDE_TARGETS).toHaveLength(17);
    expect(byId.get('strategy-execution')?.importance).toBe('Critical');
    expect(byId.get('swarm-init')?.importance).toBe('High');
    expect(byId.get('scaling-10-agents')).toMatchObject({
      importance: 'Medium',
      labels: { agents: 10 },
      value: 30_000,
    });
    expect(byId.get('cost-per-hour')).toMatchObject({ importance: 'High', op: '<', value: 2 });
    for (const target of GUIDE_TARGETS) expect(units.has(target.unitId), target.id).toBe(true);
  });

  it('the catalog covers the 18 tests of the model, in order', () => {
    const expected = Object.entries(TESTS).flatMap(([category, tests]) =>
      tests.map((test) => `${category}/${test}`),
    );
    expect(CATALOG.map((entry) => entry.unitId)).toEqual(expected);
  });
});

describe('evaluateTargets', () => {
  it('takes the worst matching series statistic', () => {
    // Prepare
    const run = loadFixture('clean');
    const unit = run.results.find((result) => result.unitId === 'trading/consensus')!;
    // Sorted 150, 180, 190, 260: p95 (type 7) = 190 + 0.85 * 70 = 249.5.
    unit.series[1]!.samples = [150, 190, 260, 180];
    // Act
    const outcome = evaluateTargets(run).find((candidate) => candidate.target.id === 'consensus')!;
    // Assess
    expect(outcome.status).toBe('fail');
    expect(outcome.measuredLabels).toEqual({ topology: 'hierarchical', agents: 5 });
    expect(outcome.measured).toBeCloseTo(249.5, 9);
    expect(outcome.sampleCount).toBe(4);
  });

  it('for a > target the smallest figure decides', () => {
    // Prepare
    const run = loadFixture('clean');
    const unit = run.results.find((result) => result.unitId === 'creation/parallel-vs-sequential')!;
    unit.figures.push({ ...unit.figures[0]!, value: 1.2, labels: { agents: 10 } });
    // Act
    const outcome = evaluateTargets(run).find((candidate) => candidate.target.id === 'parallel-speedup')!;
    // Assess
    expect(outcome).toMatchObject({ status: 'fail', measured: 1.2, measuredLabels: { agents: 10 } });
  });

  it('is pending with the reason when the unit is not planned, failed or has no matching series', () => {
    // Prepare
    const run = loadFixture('failed-unit');
    run.meta.units = run.meta.units.filter((unit) => unit.unitId !== 'cost/cost-scaling');
    run.results = run.results.filter((result) => result.unitId !== 'cost/cost-scaling');
    const agentCount = run.results.find((result) => result.unitId === 'scalability/agent-count')!;
    agentCount.series = agentCount.series.filter((series) => series.labels.agents !== 10);
    // Act
    const outcomes = new Map(evaluateTargets(run).map((outcome) => [outcome.target.id, outcome]));
    // Assess
    expect(outcomes.get('cost-scaling')).toMatchObject({ status: 'pending', reason: 'unit not in the plan' });
    expect(outcomes.get('state-sync')?.status).toBe('pending');
    expect(outcomes.get('state-sync')?.reason).toMatch(/^unit failed: state sync did not finish/);
    expect(outcomes.get('scaling-10-agents')).toMatchObject({
      status: 'pending',
      reason: 'no matching series',
    });
    expect(outcomes.get('swarm-init')?.status).toBe('pass');
  });

  it('adds the custom targets declared by planned units', () => {
    // Act
    const outcome = evaluateTargets(loadFixture('failed-targets')).find(
      (candidate) => candidate.target.id === 'hft-decision',
    );
    // Assess
    expect(outcome).toMatchObject({
      status: 'fail',
      target: { source: 'custom', unitId: 'custom/high-frequency' },
    });
  });

  it('evaluates only the given targets when passed, and rejects a malformed one', () => {
    // Prepare
    const run = loadFixture('clean');
    const target = { ...GUIDE_TARGETS[0]!, value: 1000 };
    // Act
    const outcomes = evaluateTargets(run, [target]);
    // Assess
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]!.status).toBe('fail');
    expect(() => evaluateTargets(run, [{ ...target, figure: 'speedup' }])).toThrow(InvalidInputError);
  });
});
