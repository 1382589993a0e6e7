import { describe, expect, it } from 'vitest';
import type { RunResults, Series, UnitResult } from '../../lib/bench/model.ts';
import { recommend } from '../../lib/recommend/index.ts';

const series = (name: string, labels: Series['labels'], samples: number[]): Series => ({
  name,
  unit: 'ms',
  samples,
  warmup: [],
  labels,
});

function unit(unitId: string, list: Series[]): UnitResult {
  return {
    runId: 'r',
    unitId,
    category: unitId.split('/')[0] as UnitResult['category'],
    test: unitId.split('/')[1] as string,
    title: unitId,
    status: 'ok',
    startedAt: '',
    endedAt: '',
    durationMs: 0,
    params: {},
    series: list,
    figures: [],
    usage: { sandboxesCreated: 0, sandboxSeconds: 0, operations: 0 },
    faults: [],
  };
}

/** Mesh is fast (p95 10 ms), ring slow (p95 300 ms); packing 5/sandbox doubles latency; 20 ops/s per agent. */
function run(): RunResults {
  const flat = (v: number) => Array.from({ length: 20 }, () => v);
  return {
    meta: {
      runId: '20261127T000000Z-000000',
      template: { name: 't', vcpu: 2, memoryMb: 512 },
    } as RunResults['meta'],
    results: [
      unit('trading/consensus', [
        series('consensus-ms', { topology: 'mesh', agents: 10 }, flat(10)),
        series('consensus-ms', { topology: 'ring', agents: 10 }, flat(300)),
      ]),
      unit('resources/agent-packing', [
        series('consensus-ms', { agentsPerSandbox: 1, agents: 10 }, flat(5)),
        series('throughput-ops-s', { agentsPerSandbox: 1, agents: 10 }, flat(200)),
        series('consensus-ms', { agentsPerSandbox: 5, agents: 10 }, flat(10)),
        series('throughput-ops-s', { agentsPerSandbox: 5, agents: 10 }, flat(200)),
      ]),
    ],
  };
}

describe('recommend', () => {
  it('picks the cheapest option that meets the latency bound, with its projected cost and basis', () => {
    const answer = recommend(run(), { agents: 10, opsPerSecond: 50, latencyBoundMs: 50 }, { hourlyUsd: 2 });
    expect(answer.best).toMatchObject({ topology: 'mesh', agentsPerSandbox: 5, sandboxes: 2, fits: true });
    expect(answer.best?.projectedP95Ms).toBeCloseTo(20);
    expect(answer.best?.monthlyUsd).toBeCloseTo(answer.best!.hourlyUsd * 730);
    expect(answer.best?.basis.join(' ')).toContain('trading/consensus');
    expect(answer.options.find((o) => o.topology === 'ring')?.fitsLatency).toBe(false);
  });

  it('prefers unpacked sandboxes when packing breaks the latency bound', () => {
    const answer = recommend(run(), { agents: 10, opsPerSecond: 50, latencyBoundMs: 15 });
    expect(answer.best).toMatchObject({ topology: 'mesh', agentsPerSandbox: 1, sandboxes: 10 });
  });

  it('adds agents when throughput needs them', () => {
    const answer = recommend(run(), { agents: 2, opsPerSecond: 200, latencyBoundMs: 50 });
    expect(answer.best?.agents).toBe(10);
  });

  it('says when nothing fits, and why', () => {
    const tight = recommend(run(), { agents: 10, opsPerSecond: 50, latencyBoundMs: 1 });
    expect(tight.best).toBeUndefined();
    expect(tight.notes.join(' ')).toMatch(
      /no option meets the latency bound 1 ms: the fastest projected p95 is 10 ms/,
    );
    const poor = recommend(run(), { agents: 10, opsPerSecond: 50, latencyBoundMs: 50 }, { hourlyUsd: 0.01 });
    expect(poor.best).toBeUndefined();
    expect(poor.notes.join(' ')).toMatch(/no option fits the budget/);
  });

  it('names the missing measurement instead of guessing', () => {
    const partial = run();
    partial.results = partial.results.slice(0, 1);
    const answer = recommend(partial, { agents: 10, opsPerSecond: 5, latencyBoundMs: 50 });
    expect(answer.options).toEqual([]);
    expect(answer.notes.join(' ')).toContain('resources/agent-packing has no result');
  });
});
