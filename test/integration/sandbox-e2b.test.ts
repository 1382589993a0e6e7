/**
 * The E2B provider end to end with the real SDK against the local E2B (lib/e2b-local): real agents
 * in sandboxes with their own network namespaces, reached over the TLS edge; a swarm whose agents
 * packed in one sandbox talk over its loopback; E2B's plan limits met by pacing and 429 retries;
 * configuration errors mapped to what the user must fix. Nothing is faked: the only difference
 * from E2B's cloud is where the service runs.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { RunMeta } from '../../lib/bench/model.ts';
import { InvalidInputError, ProviderUnavailableError } from '../../lib/errors.ts';
import { reapStep } from '../../lib/pipeline/reap.ts';
import {
  E2BSandboxProvider,
  type E2BSandboxProviderOptions,
  killSandboxById,
  listStaleSandboxes,
} from '../../lib/sandbox/e2b.ts';
import { SwarmManager } from '../../lib/swarm/manager.ts';
import { useLocalE2B } from '../helpers/e2b-local.ts';

const bundle = readFileSync(fileURLToPath(new URL('../../dist/agent.cjs', import.meta.url)), 'utf8');
// The Hobby limits, except a creation rate this test can live with.
const local = useLocalE2B({ limits: { creationsPerSecond: 4 }, metricsIntervalMs: 500 });

function provider(options: Partial<E2BSandboxProviderOptions> = {}) {
  const e2b = local.get();
  return new E2BSandboxProvider({
    apiKey: e2b.apiKey,
    bundle,
    template: 'swarm-bench-agent',
    connection: { apiUrl: e2b.apiUrl, sandboxUrl: e2b.sandboxUrl, domain: e2b.domain },
    metadata: { stack: 'e2b-local-test' },
    creationRate: 4,
    metricsWaitMs: 20_000,
    ...options,
  });
}

describe('E2BSandboxProvider on the local E2B', () => {
  it('runs a swarm: agents over the TLS edge, packed agents over localhost, whole-sandbox metrics', async () => {
    // Prepare
    const e2b = provider();
    const manager = new SwarmManager({ provider: e2b, sandboxTimeoutMs: 120_000 });
    try {
      // Act: 4 agents, 2 per sandbox, so each agent has a packed peer and two across the edge.
      const swarm = await manager.createSwarm('mesh', 4, { agentsPerSandbox: 2 });
      const health = await Promise.all(swarm.agents.map((agent) => agent.client.request({ op: 'health' })));
      const ping = await swarm.ping(0, 3, { count: 3 });
      const decision = await swarm.consensus(
        Array.from({ length: 30 }, (_, i) => ({
          t: i,
          open: 100 + i,
          high: 101 + i,
          low: 99 + i,
          close: 100 + i,
          volume: 1,
        })),
      );
      const metrics = await swarm.agents[0]!.sandbox.metrics();
      const endpoints = swarm.agents.map((agent) => agent.endpoint);
      await swarm.destroy();

      // Assess
      expect(new Set(endpoints.map((endpoint) => endpoint.sandboxId)).size).toBe(2);
      for (const endpoint of endpoints) {
        expect(endpoint.url).toMatch(
          new RegExp(`^wss://87\\d\\d-${endpoint.sandboxId}\\.e2b\\.localhost:\\d+$`),
        );
        expect(endpoint.localUrl).toMatch(/^ws:\/\/127\.0\.0\.1:87\d\d$/);
      }
      // Every sandbox is its own network: both put their first agent on the same port.
      expect(new Set(endpoints.map((endpoint) => endpoint.url.split('-')[0])).size).toBe(2);
      expect(health.every((h) => h.links === 3)).toBe(true);
      expect(ping.samplesUs).toHaveLength(3);
      expect(decision).toBeDefined();
      expect(metrics).toMatchObject({ source: 'e2b', scope: 'sandbox' });
      expect(metrics.rssBytes).toBeGreaterThan(20 * 1024 * 1024);
      expect(e2b.live()).toEqual([]);
    } finally {
      await e2b.killAll();
    }
  });

  it('creates a burst at the plan rate: 429s are retried with backoff and counted, never surfaced', async () => {
    // Prepare: the provider believes it may create 50 per second; the service allows 4.
    const e2b = provider({ creationRate: 50 });

    try {
      // Act
      const sandboxes = await Promise.all(
        Array.from({ length: 6 }, () => e2b.create({ timeoutMs: 60_000, metadata: { test: 'burst' } })),
      );

      // Assess
      expect(sandboxes).toHaveLength(6);
      expect(e2b.throttle().rateLimited).toBeGreaterThan(0);
      expect(local.get().stats().rateLimited).toBe(e2b.throttle().rateLimited);
      expect(Math.max(...sandboxes.map((sandbox) => sandbox.throttledMs ?? 0))).toBeGreaterThan(0);
      // What the runner records per unit: the sum of every creation's throttled wait, and the 429s.
      const summed = sandboxes.reduce((sum, sandbox) => sum + (sandbox.throttledMs ?? 0), 0);
      // (Summed in another order than the provider's, so equal only to rounding.)
      expect(e2b.usage().throttledMs).toBeCloseTo(summed, 6);
      expect(e2b.usage().rateLimited).toBe(e2b.throttle().rateLimited);
    } finally {
      await e2b.killAll();
    }
  });

  it('refuses an unknown template and a wrong key at once, naming the fix', async () => {
    // Act
    const unknown = await provider({ template: 'no-such-template' })
      .create({ timeoutMs: 60_000, metadata: {} })
      .catch((error: unknown) => error);
    const wrongKey = await provider({ apiKey: 'e2b_wrong_key_0000000' })
      .create({ timeoutMs: 60_000, metadata: {} })
      .catch((error: unknown) => error);

    // Assess
    expect(unknown).toBeInstanceOf(InvalidInputError);
    expect((unknown as Error).message).toMatch(/build-e2b-template/);
    expect(wrongKey).toBeInstanceOf(ProviderUnavailableError);
    expect((wrongKey as Error).message).toMatch(/E2B_API_KEY/);
    expect((wrongKey as Error).message).not.toContain('e2b_wrong_key_0000000');
  });

  it('hands a detached sandbox to another provider by id, and the reaper finds it by its stack tag', async () => {
    // Prepare
    const first = provider();
    const second = provider();
    try {
      const sandbox = await first.create({ timeoutMs: 60_000, metadata: { test: 'pool' } });
      await first.detach(sandbox);

      // Act
      const adopted = await second.connect(sandbox.id, { timeoutMs: 30_000 });
      const agent = await adopted.startAgent({ agentId: 'b0', secret: 'pool-secret-0123456789' });
      const stale = await second.listStale({ stack: 'e2b-local-test', maxAgeMs: 0 });

      // Assess
      expect(adopted.id).toBe(sandbox.id);
      expect(agent.url).toContain(sandbox.id);
      expect(stale.map((info) => info.sandboxId)).toEqual([sandbox.id]);
      expect(await second.killStale({ stack: 'e2b-local-test', maxAgeMs: 0 })).toEqual([sandbox.id]);
    } finally {
      await first.killAll();
      await second.killAll();
    }
  });

  it('reaper: kills old sandboxes of ended runs and untagged ones, spares those a running run holds', async () => {
    // Prepare: the store and ledger are stand-ins (their DynamoDB versions are tested elsewhere);
    // listing and killing are the real SDK against the local E2B.
    const e2b = provider();
    const e2bLocal = local.get();
    const deps = {
      apiKey: e2bLocal.apiKey,
      connection: { apiUrl: e2bLocal.apiUrl, sandboxUrl: e2bLocal.sandboxUrl, domain: e2bLocal.domain },
    };
    try {
      const [pooled, held, ended, untagged] = await Promise.all([
        e2b.create({ timeoutMs: 60_000, metadata: { run: 'run-live' } }),
        e2b.create({ timeoutMs: 60_000, metadata: { run: 'run-live' } }),
        e2b.create({ timeoutMs: 60_000, metadata: { run: 'run-done' } }),
        e2b.create({ timeoutMs: 60_000, metadata: {} }),
      ]);
      const now = new Date();
      const runs = new Map([
        ['run-live', { status: 'running', startedAt: new Date(now.getTime() - 3_600_000).toISOString() }],
        ['run-done', { status: 'completed', startedAt: new Date(now.getTime() - 600_000).toISOString() }],
      ]);

      // Act: every sandbox is older than the age limit of 0.
      const out = await reapStep({
        listStale: (query) => listStaleSandboxes(deps, query),
        kill: (sandboxId) => killSandboxById(deps, sandboxId),
        runs: { getRun: async (runId) => runs.get(runId) as RunMeta | undefined },
        ledger: {
          entries: async (runId) =>
            runId === 'run-live'
              ? [
                  {
                    sandboxId: pooled!.id,
                    provider: 'e2b',
                    releasedAt: 0,
                    expiresAt: now.getTime() + 60_000,
                    state: 'idle',
                  },
                ]
              : [],
        },
        stack: 'e2b-local-test',
        maxAgeMs: 0,
        liveRunMaxMs: 6 * 3_600_000,
        now: () => now,
      });

      // Assess
      expect(out.killed.sort()).toEqual([ended!.id, untagged!.id].sort());
      expect(out.spared).toEqual(
        expect.arrayContaining([
          {
            sandboxId: pooled!.id,
            runId: 'run-live',
            reason: expect.stringMatching(/idle in the pool ledger/),
          },
          { sandboxId: held!.id, runId: 'run-live', reason: expect.stringMatching(/held by a unit/) },
        ]),
      );
      expect(out.spared).toHaveLength(2);
      expect(e2bLocal.live().sort()).toEqual([pooled!.id, held!.id].sort());
    } finally {
      await e2b.killAll();
    }
  });
});
