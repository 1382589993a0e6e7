/**
 * A quick-profile run on `--provider e2b` the way `swarm-bench run` makes it (executeRun, the
 * embedded store, a report directory), with the real SDK against the local E2B at Hobby's limits
 * except a creation rate this test can afford. Mechanics only: every unit ran, creation time spent
 * throttled and 429s were recorded, the report has the E2B limits section, and no sandbox is left
 * in the local E2B. No target verdict is asserted (that is a statement about the machine's load).
 *
 * Trimmed to one unit, creation/agent-deployment with 2 agents. Part of the default `npm test`
 * since the local E2B's outage was fixed (an agent unreachable for 15-50 s when its sandbox got a
 * bridge address freed moments before: the host's neighbour entry still named the old veth's MAC;
 * see lib/e2b-local/netns.ts and test/integration/e2b-local-churn.test.ts).
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeMachine } from '../../lib/bench/meta.ts';
import { creationRate, parseRunConfig, sandboxLimit } from '../../lib/config.ts';
import { DirReportSink } from '../../lib/publish/dir.ts';
import { executeRun, type RunOutcome } from '../../lib/run.ts';
import { E2BSandboxProvider } from '../../lib/sandbox/e2b.ts';
import { type EmbeddedStore, openEmbeddedStore } from '../../lib/store/embedded.ts';
import { useLocalE2B } from '../helpers/e2b-local.ts';

const bundle = readFileSync(fileURLToPath(new URL('../../dist/agent.cjs', import.meta.url)), 'utf8');
const RATE = 4;
const local = useLocalE2B({ tier: 'hobby', limits: { creationsPerSecond: RATE } });

describe('quick run on the E2B provider against the local E2B', () => {
  let base: string;
  let store: EmbeddedStore;
  let outcome: RunOutcome;
  let markdown: string;

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'swarm-bench-quick-e2b-'));
    store = await openEmbeddedStore({ dir: join(base, 'store') });
    const config = parseRunConfig({
      profile: 'quick',
      provider: 'e2b',
      categories: ['creation'],
      tests: ['creation/agent-deployment'],
      agents: 2,
      scenarios: false,
      e2bTier: 'hobby',
      e2bCreationRate: RATE,
    });
    const e2b = local.get();
    const provider = new E2BSandboxProvider({
      apiKey: e2b.apiKey,
      bundle,
      template: config.template,
      tier: config.e2bTier,
      creationRate: creationRate(config),
      maxConcurrent: sandboxLimit(config),
      connection: { apiUrl: e2b.apiUrl, sandboxUrl: e2b.sandboxUrl, domain: e2b.domain },
      metricsWaitMs: 20_000,
    });
    try {
      outcome = await executeRun({
        config,
        provider,
        store: store.store,
        sink: new DirReportSink(join(base, 'report')),
        environment: { gitCommit: 'test', nodeVersion: process.version, machine: describeMachine() },
      });
    } finally {
      await provider.killAll();
    }
    markdown = await readFile(outcome.report.markdown, 'utf8');
  }, 240_000);

  afterAll(async () => {
    await store?.close();
    if (base) await rm(base, { recursive: true, force: true });
  });

  it('runs every creation unit, records throttled creation time, and reports E2B limits', () => {
    expect(outcome.results.length).toBeGreaterThan(0);
    for (const result of outcome.results) {
      expect(result.status, `${result.unitId}: ${result.error?.message}`).not.toBe('failed');
      expect(result.usage.creationThrottledMs, result.unitId).toBeGreaterThanOrEqual(0);
      expect(result.usage.rateLimited, result.unitId).toBeGreaterThanOrEqual(0);
      expect(result.usage.handshakeRetries, result.unitId).toBeGreaterThanOrEqual(0);
    }
    expect(outcome.results.reduce((sum, r) => sum + r.usage.sandboxesCreated, 0)).toBeGreaterThan(0);
    expect(outcome.meta.e2b).toEqual({ tier: 'hobby', creationRate: RATE, agentsPerSandbox: 1 });
    expect(markdown).toContain('## E2B plan limits');
    expect(markdown).toContain(`hobby: ${RATE} creations/s`);
    expect(markdown).toContain("Agent handshakes retried through E2B's edge");
    // Every 429 the service answered was retried by the provider, none became a unit failure.
    const retried = outcome.results.reduce((sum, r) => sum + (r.usage.rateLimited ?? 0), 0);
    expect(retried).toBe(local.get().stats().rateLimited);
    expect(local.get().live()).toEqual([]);
  });
});
