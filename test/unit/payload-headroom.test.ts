/**
 * Step Functions refuses any state input or output over 256 KB (States.DataLimitExceeded). The
 * largest run (every profile, all six categories and the scenarios) must stay far below it at
 * each point where data flows: Plan's output and the state it becomes, each Map item (as the
 * ItemSelector builds it), and a unit's output. Prints the figures.
 */
import { describe, expect, it } from 'vitest';
import type { RunMeta } from '../../lib/bench/model.ts';
import { planStep, type UnitStepOutput } from '../../lib/pipeline/steps.ts';
import type { ResultStore } from '../../lib/store/types.ts';

const LIMIT = 256 * 1024;
/** "Far below": a tenth of the limit. */
const HEADROOM = LIMIT / 10;
const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

function planOnlyStore(): ResultStore {
  const runs = new Map<string, RunMeta>();
  const unused = () => Promise.reject(new Error('not used by Plan'));
  return {
    createRun: async (meta) => {
      if (runs.has(meta.runId)) return 'exists';
      runs.set(meta.runId, meta);
      return 'created';
    },
    getRun: async (runId) => runs.get(runId),
    finishRun: unused,
    markNotified: unused,
    heartbeat: unused,
    abandonRun: unused,
    putResult: unused,
    getResults: unused,
    getResult: unused,
    resultUnitIds: unused,
    listRuns: async () => [...runs.values()],
    history: async () => [],
    close: async () => {},
  };
}

describe('payload headroom under the 256 KB Step Functions limit', () => {
  it('Plan output, the state after Plan, every Map item and a unit output stay under a tenth of it', async () => {
    const figures: string[] = [];
    let largest = 0;
    for (const profile of ['quick', 'default', 'load'] as const) {
      const input = { profile, provider: 'e2b', budgetUsd: 1000 };
      const output = await planStep(input, {
        store: planOnlyStore(),
        now: () => new Date('2026-11-29T00:00:00Z'),
        environment: {
          gitCommit: 'f'.repeat(40),
          nodeVersion: 'v22.23.3',
          machine: { platform: 'linux', arch: 'arm64', cpus: 2, memoryGb: 4 },
        },
        maxConcurrency: 40,
        runId: '20261129T000000Z-a1b2c3',
      });
      // What the state machine keeps of it (Plan's ResultSelector) under $.plan, beside $.input.
      const kept = {
        runId: output.runId,
        creationUnits: output.creationUnits,
        pooledUnits: output.pooledUnits,
        concurrency: output.concurrency,
        pool: output.pool,
        config: output.config,
      };
      const state = { input: { input }, plan: kept };
      const items = [
        ...output.creationUnits.map((item) => ({
          ...item,
          config: output.config,
          pool: output.pool.creation,
        })),
        ...output.pooledUnits.map((item) => ({ ...item, config: output.config, pool: output.pool.pooled })),
      ];
      const longestId = output.units.reduce((a, b) => (b.unitId.length > a.length ? b.unitId : a), '');
      // A unit's output has fixed fields; its only variable-length part is the unit id.
      const unit: UnitStepOutput = {
        unitId: longestId,
        status: 'partial',
        reused: false,
        durationMs: 899_999.123456789,
        sandboxSeconds: 123_456.123456789,
        e2bCostUsd: 12.345678901234,
      };
      const sizes = {
        plan: bytes(output),
        state: bytes(state),
        item: Math.max(...items.map(bytes)),
        unit: bytes({ Payload: unit, StatusCode: 200, ExecutedVersion: '$LATEST' }),
      };
      figures.push(
        `${profile.padEnd(7)} ${String(output.units.length).padStart(3)} units: Plan output ${sizes.plan} B, state after Plan ${sizes.state} B, largest Map item ${sizes.item} B, unit output ${sizes.unit} B`,
      );
      for (const [what, size] of Object.entries(sizes)) {
        expect(size, `${profile} ${what}`).toBeLessThan(HEADROOM);
      }
      largest = Math.max(largest, ...Object.values(sizes));
    }
    console.log(
      `payload headroom (limit ${LIMIT} B):\n  ${figures.join('\n  ')}\n  largest ${largest} B = ${((100 * largest) / LIMIT).toFixed(1)}% of the limit`,
    );
  });
});
