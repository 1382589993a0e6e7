import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildPlan } from '../../lib/bench/plan.ts';
import { runUnits } from '../../lib/bench/runner.ts';
import { parseRunConfig } from '../../lib/config.ts';
import { LocalSandboxProvider } from '../../lib/sandbox/local.ts';
import { expectPidsDead } from '../helpers/processes.ts';

const bundlePath = resolve(import.meta.dirname, '../../dist/agent.cjs');

/** Run two units of the quick profile and return sandboxes created and every agent pid seen. */
async function runTwoUnits(pooling: boolean) {
  const pids: number[] = [];
  const provider = new LocalSandboxProvider({ bundlePath, onAgentExit: (exit) => pids.push(exit.pid) });
  const config = parseRunConfig({
    profile: 'quick',
    pooling,
    scenarios: false,
    tests: ['trading/consensus', 'communication/state-sync'],
  });
  const plan = buildPlan(config);
  try {
    const { results } = await runUnits(plan.units, { runId: 'pooling-test', config, provider });
    return { results, created: provider.usage().created, live: provider.live().length, pids };
  } finally {
    await provider.killAll();
  }
}

describe('pooled run', () => {
  it('creates far fewer sandboxes than an unpooled one and leaves no process behind', async () => {
    // Act
    const off = await runTwoUnits(false);
    const on = await runTwoUnits(true);
    // Assess
    expect(off.results.map((r) => r.status)).toEqual(['ok', 'ok']);
    expect(on.results.map((r) => r.status)).toEqual(['ok', 'ok']);
    expect(off.created).toBe(5 * 4); // 4 consensus swarms + 1 state-sync swarm of 4 agents
    expect(on.created).toBe(4); // one swarm's worth, reused by the other four
    expect(on.results.every((r) => r.params.pooled === true)).toBe(true);
    expect(on.live).toBe(0);
    expect(on.pids.length).toBe(off.pids.length);
    await expectPidsDead([...on.pids, ...off.pids]);
  });
});

describe('init time in pooled sandboxes', () => {
  it('is labelled sandboxes=pooled, so it is never compared with an init time that included creation', async () => {
    // Prepare
    const provider = new LocalSandboxProvider({ bundlePath });
    const run = async (pooling: boolean) => {
      const config = parseRunConfig({
        profile: 'quick',
        pooling,
        scenarios: false,
        tests: ['scalability/agent-count'],
        agents: 2,
      });
      const { results } = await runUnits(buildPlan(config).units, { runId: 'pool-labels', config, provider });
      return (
        results[0]?.series.filter((series) => series.name === 'init-ms').map((series) => series.labels) ?? []
      );
    };
    try {
      // Act
      const pooled = await run(true);
      const unpooled = await run(false);

      // Assess
      expect(pooled.length).toBeGreaterThan(0);
      expect(pooled.every((labels) => labels.sandboxes === 'pooled')).toBe(true);
      expect(unpooled.length).toBe(pooled.length);
      expect(unpooled.every((labels) => labels.sandboxes === undefined)).toBe(true);
    } finally {
      await provider.killAll();
    }
  });
});
