import type { RunMeta } from '../../lib/bench/model.ts';

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
