import type { RunMeta, Series, UnitResult } from '../../lib/bench/model.ts';

/** A completed quick-profile local run's metadata, for history tests: only id and start vary. */
export function completedRunMeta(runId: string, startedAt: string): RunMeta {
  return {
    runId,
    status: 'completed',
    startedAt,
    profile: 'quick',
    provider: 'local',
    template: { name: 'base', vcpu: 2, memoryMb: 512 },
    gitCommit: 'test',
    nodeVersion: 'v22',
    machine: { platform: 'linux', arch: 'x64', cpus: 2, memoryGb: 4 },
    configHash: 'cfg',
    units: [],
  };
}

/** An ok trading unit's result holding `series` (and `figures`); `extra` adds or overrides fields. */
export function okUnitResult(
  runId: string,
  unitId: string,
  series: Series[],
  extra: Partial<UnitResult> = {},
): UnitResult {
  const test = unitId.slice(unitId.indexOf('/') + 1);
  return {
    runId,
    unitId,
    category: 'trading',
    test,
    title: test,
    status: 'ok',
    startedAt: '2026-11-01T00:00:00.000Z',
    endedAt: '2026-11-01T00:00:01.000Z',
    durationMs: 1000,
    params: {},
    series,
    figures: [],
    usage: { sandboxesCreated: 1, sandboxSeconds: 1, operations: 1 },
    faults: [],
    ...extra,
  };
}
