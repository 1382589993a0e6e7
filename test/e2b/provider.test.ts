/**
 * Live test against real E2B. Runs only when E2B_API_KEY is set; otherwise it reports itself as
 * skipped, with the reason in its name. Set E2B_TEMPLATE to use a template other than the default
 * (any template with Node.js 22; the fixture agent is uploaded either way).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { E2BSandboxProvider } from '../../lib/sandbox/e2b.ts';
import type { Sandbox } from '../../lib/sandbox/types.ts';

const apiKey = process.env.E2B_API_KEY;
const template = process.env.E2B_TEMPLATE ?? 'swarm-bench-agent';
const skipReason = apiKey ? '' : ' (skipped: E2B_API_KEY not set)';
const fixtureAgent = readFileSync(new URL('../fixtures/sandbox/fixture-agent.mjs', import.meta.url), 'utf8');

describe('E2BSandboxProvider against real E2B', () => {
  it.skipIf(!apiKey)(
    `creates a sandbox, starts an agent reachable over TLS, measures and kills it${skipReason}`,
    async () => {
      // Prepare
      const provider = new E2BSandboxProvider({
        apiKey,
        template,
        bundle: fixtureAgent,
        metadata: { stack: 'swarm-bench-live-test' },
        maxConcurrent: 2,
      });
      let sandbox: Sandbox | undefined;
      try {
        // Act
        sandbox = await provider.create({ timeoutMs: 120_000, metadata: { test: 'provider' } });
        const endpoint = await sandbox.startAgent({ agentId: 'live', secret: 'live-secret' });
        const env = (await (await fetch(`${endpoint.url.replace(/^wss:/, 'https:')}/env`)).json()) as Record<
          string,
          string
        >;
        const metrics = await sandbox.metrics();
        const first = await sandbox.kill();
        const second = await sandbox.kill();

        // Assess
        expect(endpoint.url).toMatch(/^wss:\/\//);
        expect(env.SWARM_AGENT_ID).toBe('live');
        expect(env.E2B_API_KEY).toBeUndefined();
        expect(metrics.source).toBe('e2b');
        expect(metrics.rssBytes).toBeGreaterThan(0);
        expect([first, second]).toEqual([true, false]);
        expect(provider.usage().sandboxSeconds).toBeGreaterThan(0);
      } catch (error) {
        console.error(`live E2B test failed; sandbox ${sandbox?.id ?? '(none)'} is being killed`);
        throw error;
      } finally {
        await provider.killAll();
      }
    },
    180_000,
  );

  it.skipIf(!apiKey)(
    `hands an idle sandbox to another provider (another unit Lambda) by id, which runs an agent in it${skipReason}`,
    async () => {
      // Prepare
      const options = {
        apiKey,
        template,
        bundle: fixtureAgent,
        metadata: { stack: 'swarm-bench-live-test' },
        maxConcurrent: 2,
      };
      const first = new E2BSandboxProvider(options);
      const second = new E2BSandboxProvider(options);
      try {
        const sandbox = await first.create({ timeoutMs: 120_000, metadata: { test: 'shared-pool' } });
        await sandbox.startAgent({ agentId: 'one', secret: 'live-secret-one' });
        await sandbox.stopAgents();

        // Act
        await first.detach(sandbox);
        const adopted = await second.connect(sandbox.id, { timeoutMs: 90_000 });
        const endpoint = await adopted.startAgent({ agentId: 'two', secret: 'live-secret-two' });
        const env = (await (await fetch(`${endpoint.url.replace(/^wss:/, 'https:')}/env`)).json()) as Record<
          string,
          string
        >;

        // Assess
        expect(first.live()).toEqual([]);
        expect(adopted.id).toBe(sandbox.id);
        expect(env.SWARM_AGENT_ID).toBe('two');
        expect(second.usage().created).toBe(0);
        expect(await adopted.kill()).toBe(true);
      } finally {
        await first.killAll();
        await second.killAll();
      }
    },
    180_000,
  );
});
