import { describe, expect, it } from 'vitest';
import {
  creationFloorMs,
  describeUnattainable,
  measuredAgents,
  packingToMeet,
  unattainableTargets,
} from '../../lib/bench/e2b-limits.ts';
import { renderMarkdown } from '../../lib/report/markdown.ts';
import { loadFixture } from './report-helpers.ts';

describe('E2B creation-rate limits on the guide targets', () => {
  it('floors creation at (sandboxes - 1) / rate and finds the least packing under a target', () => {
    expect(creationFloorMs(10, 1)).toBe(9000);
    expect(creationFloorMs(10, 5)).toBe(1800);
    expect(creationFloorMs(1, 1)).toBe(0);
    expect(creationFloorMs(10, Number.POSITIVE_INFINITY)).toBe(0);
    // 10 agents at 1/s: 2 per sandbox -> 5 sandboxes -> 4 s < 5 s.
    expect(packingToMeet(10, 5000, 1)).toBe(2);
    expect(packingToMeet(10, 3000, 1)).toBe(4);
    expect(packingToMeet(100, 1, 0.01)).toBe(undefined);
  });

  it('swarm init < 5 s with 10 agents: unattainable on Hobby one per sandbox, fine on Pro or packed', () => {
    const sizes = () => [10];
    const hobby = unattainableTargets({ tier: 'hobby', creationRate: 1, agentsPerSandbox: 1 }, sizes);
    const pro = unattainableTargets({ tier: 'pro', creationRate: 5, agentsPerSandbox: 1 }, sizes);
    const packed = unattainableTargets({ tier: 'hobby', creationRate: 1, agentsPerSandbox: 4 }, sizes);

    const init = hobby.find((item) => item.targetId === 'swarm-init');
    expect(init).toMatchObject({ agents: 10, sandboxes: 10, floorMs: 9000, targetMs: 5000, packing: 2 });
    expect(describeUnattainable({ tier: 'hobby', creationRate: 1, agentsPerSandbox: 1 }, init!)).toBe(
      'Swarm Initialization < 5 s is unattainable at 10 agents on E2B hobby 1 creation/s: 10 sandboxes ' +
        'cannot all be created in under 9.0 s; --agents-per-sandbox 2 (5 sandboxes) would leave room for it.',
    );
    expect(pro).toEqual([]);
    expect(packed).toEqual([]);
  });

  it("an E2B run's report separates throttled creation time and names the unattainable target", () => {
    // Prepare: the failed-targets fixture is an E2B run with 5-agent swarms; record Hobby at 0.5/s.
    const run = loadFixture('failed-targets');
    run.meta.e2b = { tier: 'hobby', creationRate: 0.5, agentsPerSandbox: 1 };
    const init = run.results.find((result) => result.unitId === 'creation/swarm-init')!;
    init.usage.creationThrottledMs = 150_000;
    init.usage.rateLimited = 3;
    init.usage.handshakeRetries = 2;

    // Act
    const markdown = renderMarkdown(run);
    const section = markdown.slice(markdown.indexOf('## E2B plan limits'));

    // Assess
    expect(measuredAgents(run)({ unitId: 'creation/swarm-init', series: 'init-ms' } as never)).toContain(5);
    expect(section).toMatch(/hobby: 0\.5 creations\/s, 1 agent\(s\) per sandbox/);
    expect(section).toMatch(/\| creation\/swarm-init \| 100 \| 3 \| 2 min 30 s \| 1.50 s \| 2 \|/);
    expect(section).toMatch(/Agent handshakes retried through E2B's edge[^\n]*2 \(the coordinator tries/);
    expect(section).toContain(
      'Swarm Initialization < 5 s is unattainable at 5 agents on E2B hobby, paced to 0.50',
    );
    expect(section).toContain('--agents-per-sandbox 2 (3 sandboxes)');
  });
});
