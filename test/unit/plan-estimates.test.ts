import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { estimateDuration, PARAMETRIC_MS, parametricMs, workOf } from '../../lib/bench/estimate.ts';
import {
  ContentionProbe,
  checkMachine,
  parseLoadAvg,
  parseProcStat,
  planForMachine,
  previousLoadSize,
} from '../../lib/bench/machine.ts';
import type { UnitResult } from '../../lib/bench/model.ts';
import { buildPlan } from '../../lib/bench/plan.ts';
import { checkSamples, samplesToDecide } from '../../lib/bench/samples.ts';
import { maxUnitEstimateMs, mergeShards, UNIT_USABLE_MS } from '../../lib/bench/shards.ts';
import { GUIDE_TARGETS } from '../../lib/bench/targets.ts';
import { parseRunConfig } from '../../lib/config.ts';
import { InvalidInputError } from '../../lib/errors.ts';
import { openEmbeddedStore } from '../../lib/store/embedded.ts';
import { completedRunMeta } from '../helpers/run-meta.ts';

const footprint = { rssMb: 75, cpuPercent: 10, source: 'test' };

describe('sample counts behind targets (issue 13)', () => {
  it('gives every target-bearing series of the default profile at least 10 samples and every p95 at least 20', () => {
    const plan = buildPlan(parseRunConfig({ profile: 'default' }));
    const checks = checkSamples(plan.units, GUIDE_TARGETS);
    // Every guide target has a planned series behind it.
    expect(checks.map((c) => c.targetId).sort()).toEqual(GUIDE_TARGETS.map((t) => t.id).sort());
    for (const check of checks) {
      expect(check.n, `${check.targetId} ${check.series}`).toBeGreaterThanOrEqual(10);
      expect(check.ok, `${check.targetId} n=${check.n} needs ${check.needed}`).toBe(true);
    }
    const init = checks.find((c) => c.targetId === 'swarm-init');
    expect(init?.n).toBeGreaterThanOrEqual(20);
    expect(checks.find((c) => c.targetId === 'parallel-speedup')?.n).toBeGreaterThanOrEqual(5);
    // A figure target is counted on the series it is computed from, not on its unit's weakest.
    expect(checks.find((c) => c.targetId === 'memory-per-agent-constant')?.series).toBe('rss-per-agent-mb');
    expect(checks.find((c) => c.targetId === 'time-scaling')?.series).toBe('init-ms');
  });

  it('states from which n a quantile target can pass: both bounds of its 95% order-statistic interval', () => {
    // 1 - 0.95^72 = 0.9751 >= 0.975 while 1 - 0.95^71 = 0.9738: the maximum bounds a p95 from 72 samples.
    expect(samplesToDecide('p95')).toBe(72);
    // 0.99^368 = 0.0248 <= 0.025 < 0.99^367 = 0.0250.
    expect(samplesToDecide('p99')).toBe(368);
    expect(samplesToDecide('max')).toBeUndefined();
    const checks = checkSamples(buildPlan(parseRunConfig({ profile: 'default' })).units, GUIDE_TARGETS);
    const init = checks.find((c) => c.targetId === 'swarm-init');
    expect(init?.toDecide).toBe(72);
    // The cheap p95 series get enough samples to pass; fresh swarms stay at 20 for E2B cost and time.
    const sync = checks.find((c) => c.targetId === 'state-sync');
    expect(sync?.n).toBeGreaterThanOrEqual(sync?.toDecide ?? Number.POSITIVE_INFINITY);
  });

  it('keeps the default run within $0.25 on E2B', () => {
    const plan = buildPlan(parseRunConfig({ profile: 'default', provider: 'e2b' }));
    expect(plan.totals.e2bCostUsd).toBeLessThanOrEqual(0.25);
    // Hobby's 1 creation/s shows as waiting in the creation units' estimates.
    expect(plan.totals.creationWaitMs).toBeGreaterThan(0);
  });
});

describe('estimates from history (issue 18)', () => {
  const config = parseRunConfig({ profile: 'quick', tests: ['trading/consensus'] });

  it('uses the parametric work model without history and says so', () => {
    const [unit] = buildPlan(config).units;
    expect(unit?.estimate.basis?.source).toBe('parametric');
    expect(unit?.estimate.durationMs).toBeCloseTo(parametricMs(unit!.estimate.work!, PARAMETRIC_MS.local), 6);
  });

  it('takes the median of earlier runs with the same parameters, and scales runs with other parameters by the work model', () => {
    // Prepare
    const [unit] = buildPlan(config).units;
    const measurement = (durationMs: number, params = unit!.params) => ({
      runId: `r${durationMs}`,
      startedAt: '2026-12-01T00:00:00Z',
      params,
      work: unit!.estimate.work!,
      durationMs,
      sandboxSeconds: durationMs / 100,
    });
    const same = new Map([[unit!.unitId, [measurement(10_000), measurement(30_000), measurement(12_000)]]]);
    const other = new Map([[unit!.unitId, [measurement(40_000, { ...unit!.params, rounds: 999 })]]]);

    // Act
    const fromSame = buildPlan(config, [], { history: same }).units[0];
    const fromOther = estimateDuration(unit!, unit!.estimate.work!, PARAMETRIC_MS.local, other);
    const longer = estimateDuration(
      unit!,
      { ...unit!.estimate.work!, roundMessages: 2 * unit!.estimate.work!.roundMessages },
      PARAMETRIC_MS.local,
      other,
    );

    // Assess
    expect(fromSame?.estimate.basis?.source).toBe('history');
    expect(fromSame?.estimate.durationMs).toBe(12_000);
    expect(fromSame?.estimate.sandboxSeconds).toBe(120);
    expect(fromOther.basis.source).toBe('history-scaled');
    // Same work, other parameters: the measured duration itself (factor x model of the same work).
    expect(fromOther.durationMs).toBeCloseTo(40_000, 6);
    expect(longer.durationMs).toBeGreaterThan(fromOther.durationMs);
  });

  it('counts the real work: a mesh round sends a message over every link both ways', () => {
    const mesh = workOf([{ agents: 10, topology: 'mesh', rounds: 3 }], () => 'pool');
    const star = workOf([{ agents: 10, topology: 'star', rounds: 3 }], () => 'pool');
    expect(mesh.roundMessages).toBe(3 * 90);
    expect(star.roundMessages).toBe(3 * 18);
    expect(mesh.links).toBe(45);
  });
});

describe('units that fit a unit Lambda', () => {
  it('plans no item of any profile above 80% of the usable time, splitting the long ones into shards', () => {
    // The AWS pipeline runs E2B sandboxes (and local ones under npm start, the load profile sized to the machine).
    const configs = [
      ...(['quick', 'default', 'load'] as const).map((profile) => ({ profile, provider: 'e2b' as const })),
      { profile: 'quick' as const, provider: 'local' as const },
      { profile: 'default' as const, provider: 'local' as const },
      { profile: 'load' as const, provider: 'local' as const, agents: 16 },
    ];
    for (const input of configs) {
      const { profile, provider } = input;
      {
        const plan = buildPlan(parseRunConfig(input), [], { shardForLambda: true });
        for (const unit of plan.units) {
          expect(unit.estimate.durationMs, `${profile}/${provider} ${unit.unitId}`).toBeLessThanOrEqual(
            maxUnitEstimateMs(),
          );
        }
      }
    }
    expect(maxUnitEstimateMs() * 1.5).toBeCloseTo(0.8 * UNIT_USABLE_MS, 6);
  });

  it('splits a unit too long for one Lambda into round ranges and merges the shard results back into one', () => {
    // Prepare: history says consensus took 25 minutes.
    const config = parseRunConfig({ profile: 'default', tests: ['trading/consensus'] });
    const [whole] = buildPlan(config).units;
    const history = new Map([
      [
        whole!.unitId,
        [{ runId: 'r', startedAt: 'x', params: whole!.params, durationMs: 1_500_000, sandboxSeconds: 1 }],
      ],
    ]);

    // Act
    const plan = buildPlan(config, [], { history, shardForLambda: true });

    // Assess
    expect(plan.units.length).toBeGreaterThan(1);
    expect(plan.units.every((u) => u.shard?.of === 'trading/consensus')).toBe(true);
    // The mesh alone is too long for one Lambda, so the split is by ranges of rounds covering all 100.
    expect(plan.units.reduce((sum, u) => sum + (u.shard?.params.consensusRounds as number), 0)).toBe(100);
    expect(plan.units.every((u) => u.estimate.durationMs <= maxUnitEstimateMs())).toBe(true);
    const result = (unitId: string, topology: string, samples: number[]): UnitResult => ({
      runId: 'r',
      unitId,
      category: 'trading',
      test: 'consensus',
      title: 'Consensus',
      status: 'ok',
      startedAt: '2026-12-01T00:00:00Z',
      endedAt: '2026-12-01T00:01:00Z',
      durationMs: 60_000,
      params: {},
      series: [{ name: 'consensus-ms', unit: 'ms', samples, warmup: [], labels: { topology } }],
      figures: [],
      usage: { sandboxesCreated: 0, sandboxSeconds: 10, operations: samples.length },
      faults: [],
    });
    const results = plan.units.map((u, i) => result(u.unitId, `t${i}`, [i, i + 1]));
    const merged = mergeShards(results, plan.units);
    expect(merged).toHaveLength(1);
    expect(merged[0]?.unitId).toBe('trading/consensus');
    expect(merged[0]?.series).toHaveLength(plan.units.length);
    expect(merged[0]?.durationMs).toBe(60_000 * plan.units.length);
    expect(merged[0]?.status).toBe('ok');
    // A missing shard makes the merged unit partial, with the reason.
    const short = mergeShards(results.slice(1), plan.units);
    expect(short[0]?.status).toBe('partial');
    // E2B's throttling figures add up over shards like the rest of usage; absent stays absent.
    expect(merged[0]?.usage).not.toHaveProperty('creationThrottledMs');
    const e2b = results.map((r, i) => ({
      ...r,
      usage: { ...r.usage, creationThrottledMs: 1000 * (i + 1), rateLimited: i, handshakeRetries: 1 },
    }));
    const n = plan.units.length;
    expect(mergeShards(e2b, plan.units)[0]?.usage).toMatchObject({
      creationThrottledMs: (1000 * n * (n + 1)) / 2,
      rateLimited: (n * (n - 1)) / 2,
      handshakeRetries: n,
    });
  });
});

describe('machine-aware local provider', () => {
  const small = { cores: 2, memoryMb: 24_000 };

  it('warns when the largest swarm exceeds the machine, refuses under --strict, and sizes the load profile', () => {
    const build = (config: ReturnType<typeof parseRunConfig>) => buildPlan(config);
    const fitting = planForMachine(parseRunConfig({ profile: 'quick' }), build, small, footprint);
    expect(fitting.warning).toBe(false);
    const large = planForMachine(parseRunConfig({ profile: 'default' }), build, small, footprint);
    expect(large.warning).toBe(true);
    expect(large.note).toMatch(/exceeds/);
    expect(() =>
      planForMachine(parseRunConfig({ profile: 'default' }), build, small, footprint, { strict: true }),
    ).toThrow(InvalidInputError);
    const load = planForMachine(parseRunConfig({ profile: 'load' }), build, small, footprint);
    expect(load.config.agents).toBe(16);
    expect(checkMachine(load.plan, small, footprint).fits).toBe(true);
    // E2B hosts agents elsewhere: no check.
    expect(
      planForMachine(parseRunConfig({ profile: 'load', provider: 'e2b' }), build, small, footprint).warning,
    ).toBe(false);
  });

  it("keeps the previous load run's size while it is within -15%/+10% of the capacity", async () => {
    const build = (config: ReturnType<typeof parseRunConfig>) => buildPlan(config);
    const load = (previousLoadSize?: number) =>
      planForMachine(parseRunConfig({ profile: 'load' }), build, small, footprint, {
        ...(previousLoadSize === undefined ? {} : { previousLoadSize }),
      });
    // Capacity on this "machine" is 16 agents (2 cores x 80% / 10%).
    expect(load().config.agents).toBe(16);
    expect(load(14).config.agents).toBe(14);
    expect(load(14).note).toMatch(/as the previous load run/);
    expect(load(16).note).not.toMatch(/as the previous load run/);
    expect(load(13).config.agents).toBe(16);
    expect(load(9).config.agents).toBe(16);
    // Above the capacity by at most 10% (17 of 16 agents): kept, without a warning; 18 is not.
    const above = load(17);
    expect(above.config.agents).toBe(17);
    expect(above.warning).toBe(false);
    expect(above.note).toMatch(/as the previous load run/);
    expect(above.note).toMatch(/17 agents, at most 10% above the capacity of 16/);
    expect(above.note).not.toMatch(/exceeds/);
    expect(load(18).config.agents).toBe(16);

    // The size is read from the newest completed load run of the store, not from other profiles.
    const dir = mkdtempSync(join(tmpdir(), 'swarm-bench-load-size-'));
    const opened = await openEmbeddedStore({ dir });
    try {
      expect(await previousLoadSize(opened.store)).toBeUndefined();
      const sized = load(14).plan;
      const meta = (
        runId: string,
        startedAt: string,
        profile: 'load' | 'quick',
        units: typeof sized.units,
      ) => ({
        ...completedRunMeta(runId, startedAt),
        profile,
        units,
      });
      await opened.store.createRun(meta('run-a', '2026-11-01T00:00:00.000Z', 'load', sized.units));
      await opened.store.createRun(
        meta(
          'run-b',
          '2026-11-02T00:00:00.000Z',
          'quick',
          buildPlan(parseRunConfig({ profile: 'quick' })).units,
        ),
      );
      expect(await previousLoadSize(opened.store)).toBe(14);
    } finally {
      await opened.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads contention from /proc text: load per core, run queue, steal', async () => {
    expect(parseLoadAvg('3.50 2.00 1.00 7/410 13246')).toEqual({ load1: 3.5, runnable: 7 });
    const stat = (busy: number, idle: number, steal: number, running: number) =>
      `cpu  ${busy} 0 0 ${idle} 0 0 0 ${steal} 0 0\ncpu0 1 0 0 1 0 0 0 0 0 0\nprocs_running ${running}\n`;
    expect(parseProcStat(stat(10, 20, 5, 3))?.cpu).toEqual({ busy: 10, idle: 20, steal: 5, total: 35 });
    const texts = [stat(100, 100, 0, 2), stat(190, 100, 10, 9)];
    let reads = 0;
    const probe = new ContentionProbe(
      async (path) => (path === '/proc/stat' ? texts[Math.min(reads++, 1)] : '5.00 4.00 3.00 4/100 1'),
      { cores: 2, intervalMs: 60_000 },
    );
    await probe.start();
    const contention = await probe.stop();
    expect(contention?.stealPercent).toBe(10);
    expect(contention?.busyPercent).toBe(90);
    expect(contention?.runQueueMax).toBe(9);
    expect(contention?.contended).toBe(true);
  });
});
