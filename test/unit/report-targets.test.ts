import { describe, expect, it } from 'vitest';
import { CATALOG } from '../../lib/bench/catalog.ts';
import { TESTS } from '../../lib/bench/model.ts';
import { evaluateTargets, GUIDE_TARGETS } from '../../lib/bench/targets.ts';
import { InvalidInputError } from '../../lib/errors.ts';
import { median } from '../../lib/history/compare.ts';
import { targetExitCode } from '../../lib/run.ts';
import { samples } from '../helpers/samples.ts';
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
  it('takes the worst matching series statistic; a small sample can fail a p95 target by its lower bound', () => {
    // Prepare
    const run = loadFixture('clean');
    const unit = run.results.find((result) => result.unitId === 'trading/consensus')!;
    // Sorted 250, 260, 280, 300: p95 (type 7) = 280 + 0.85 * 20 = 297; lower bound X(3) = 280.
    unit.series[1]!.samples = [250, 280, 300, 260];
    // Act
    const outcome = evaluateTargets(run).find((candidate) => candidate.target.id === 'consensus')!;
    // Assess
    expect(outcome.status).toBe('fail');
    expect(outcome.measuredLabels).toEqual({ topology: 'hierarchical', agents: 5 });
    expect(outcome.measured).toBeCloseTo(297, 9);
    expect(outcome.sampleCount).toBe(4);
    expect(outcome.interval).toMatchObject({ low: 280, high: null, method: 'order-statistic' });
    expect(outcome.intervalNote).toBe('n too small for a p95 interval (needs n >= 72)');
  });

  it('for a > target the smallest figure decides; a speed-up gets a bootstrap interval from its series', () => {
    // Prepare: a second pair of series at 10 agents whose medians give a 1.2 speed-up
    const run = loadFixture('clean');
    const unit = run.results.find((result) => result.unitId === 'creation/parallel-vs-sequential')!;
    const parallel = samples(3, 12, 1000, 0.02);
    const sequential = parallel.map((value) => value * 1.2);
    unit.series.push(
      { name: 'parallel-ms', unit: 'ms', labels: { agents: 10 }, samples: parallel, warmup: [] },
      { name: 'sequential-ms', unit: 'ms', labels: { agents: 10 }, samples: sequential, warmup: [] },
    );
    unit.figures.push({
      ...unit.figures[0]!,
      value: median(sequential) / median(parallel),
      labels: { agents: 10 },
    });
    // Act
    const outcome = evaluateTargets(run).find((candidate) => candidate.target.id === 'parallel-speedup')!;
    // Assess
    expect(outcome).toMatchObject({ status: 'fail', measuredLabels: { agents: 10 }, sampleCount: 12 });
    expect(outcome.measured).toBeCloseTo(1.2, 9);
    expect(outcome.interval?.method).toBe('bootstrap');
    expect(outcome.interval!.low!).toBeLessThan(1.2);
    expect(outcome.interval!.high!).toBeGreaterThan(1.2);
    expect(outcome.interval!.high!).toBeLessThan(1.5);
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
    expect(outcomes.get('swarm-init')?.status).toBe('inconclusive');
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

describe('three-way verdicts', () => {
  const target = { ...GUIDE_TARGETS.find((t) => t.id === 'strategy-execution')! };
  function runWith(values: number[]) {
    const run = loadFixture('clean');
    const unit = run.results.find((result) => result.unitId === 'trading/strategy-execution')!;
    unit.series = [{ name: 'strategy-rtt-ms', unit: 'ms', labels: {}, samples: values, warmup: [] }];
    return evaluateTargets(run, [target])[0]!;
  }

  it('passes only when the whole p95 interval is below the target', () => {
    // Act: 100 samples in 20-60 ms: the upper bound of p95 is an observed value below 100 ms
    const outcome = runWith(samples(11, 100, 40, 0.5));
    // Assess
    expect(outcome.status).toBe('pass');
    expect(outcome.interval!.high!).toBeLessThan(100);
    expect(outcome.interval!.low!).toBeGreaterThan(0);
    expect(outcome.samplesNeeded).toBeUndefined();
  });

  it('fails when the whole interval is above, and is inconclusive when it straddles, with n to decide', () => {
    // Act
    const fail = runWith(samples(12, 100, 200, 0.2));
    const straddle = runWith(samples(13, 100, 80, 0.3));
    // Assess
    expect(fail.status).toBe('fail');
    expect(fail.interval!.low!).toBeGreaterThan(100);
    expect(straddle.status).toBe('inconclusive');
    expect(straddle.interval!.low!).toBeLessThan(100);
    expect(straddle.interval!.high!).toBeGreaterThan(100);
    expect(straddle.samplesNeeded).toBeGreaterThan(100);
  });

  it('one sample: no interval and inconclusive, never a pass', () => {
    // Act
    const outcome = runWith([5]);
    // Assess
    expect(outcome).toMatchObject({
      status: 'inconclusive',
      intervalNote: 'n = 1: no interval',
      sampleCount: 1,
    });
    expect(outcome.samplesNeeded).toBe(72);
  });

  it('negative samples of a time are not judged: pending, never a pass', () => {
    // Act
    const outcome = runWith([-967.1, -900, -950]);
    // Assess
    expect(outcome.status).toBe('pending');
    expect(outcome.reason).toMatch(/below 0, impossible for ms/);
  });

  it('exit code: 1 only for a Fail; inconclusive fails only with failOnInconclusive', () => {
    // Prepare
    const pass = runWith(samples(11, 100, 40, 0.5));
    const undecided = runWith(samples(13, 100, 80, 0.3));
    const fail = runWith(samples(12, 100, 200, 0.2));
    // Assess
    expect(targetExitCode([pass, undecided])).toBe(0);
    expect(targetExitCode([pass, undecided], true)).toBe(1);
    expect(targetExitCode([pass, fail])).toBe(1);
    expect(targetExitCode([pass])).toBe(0);
  });
});
