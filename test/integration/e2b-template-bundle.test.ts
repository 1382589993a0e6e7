/**
 * `run --template-has-bundle` through the CLI's provider factory (bin/shared.ts providerFor) against
 * the local E2B: with a template that bakes in this build's agent nothing is uploaded and the agent
 * starts, reporting this build's bundle hash; with a template that has no agent the flag makes the
 * agent fail to start (proof that nothing was uploaded); a run with its own (plug-in) bundle uploads
 * it anyway and says so.
 */
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_BUNDLE, providerFor } from '../../bin/shared.ts';
import { parseRunConfig } from '../../lib/config.ts';
import { LOCAL_TEMPLATES } from '../../lib/e2b-local/server.ts';
import { E2B_AGENT_PATH } from '../../lib/sandbox/e2b.ts';
import { bundleSha256 } from '../../lib/sandbox/e2b-template-check.ts';
import type { SandboxProvider } from '../../lib/sandbox/types.ts';
import { useLocalE2B } from '../helpers/e2b-local.ts';

const SIZE = LOCAL_TEMPLATES['swarm-bench-agent']!;
const local = useLocalE2B({
  tier: 'pro',
  templates: { baked: { ...SIZE, files: { [E2B_AGENT_PATH]: AGENT_BUNDLE } }, bare: { ...SIZE } },
});

describe('run --template-has-bundle', () => {
  let dir: string;
  const saved = { ...process.env };
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'swarm-bench-template-bundle-'));
    // The CLI's SDK finds the service from the environment, as after `swarm-bench e2b-local`.
    Object.assign(process.env, local.get().env());
  });
  afterAll(async () => {
    for (const key of Object.keys(local.get().env())) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
    await rm(dir, { recursive: true, force: true });
  });

  async function startOne(provider: SandboxProvider) {
    try {
      const sandbox = await provider.create({ timeoutMs: 60_000, metadata: { test: 'template-bundle' } });
      return await sandbox.startAgent({ agentId: 'a0', secret: 'template-bundle-secret' });
    } finally {
      await provider.killAll();
    }
  }

  it('uploads nothing when the template has the agent, and the agent reports this build', async () => {
    const config = parseRunConfig({ provider: 'e2b', template: 'baked', e2bTier: 'pro' });
    const provider = await providerFor(config, process.env, AGENT_BUNDLE, { templateHasBundle: true });
    const endpoint = await startOne(provider);
    expect(endpoint.agent?.bundleSha256).toBe(bundleSha256(await readFile(AGENT_BUNDLE)));
  });

  it('so a template without the agent cannot start one under the flag', async () => {
    const config = parseRunConfig({ provider: 'e2b', template: 'bare', e2bTier: 'pro' });
    const flagged = await providerFor(config, process.env, AGENT_BUNDLE, { templateHasBundle: true });
    await expect(startOne(flagged)).rejects.toThrow(/agent a0 in sandbox \w+ exited before it was ready/);
  });

  it("uploads a run's own (plug-in) bundle even with the flag, and says so", async () => {
    const pluginBundle = join(dir, 'agent-with-plugins.cjs');
    await copyFile(AGENT_BUNDLE, pluginBundle);
    const said: string[] = [];
    const config = parseRunConfig({ provider: 'e2b', template: 'bare', e2bTier: 'pro' });
    const provider = await providerFor(config, process.env, pluginBundle, {
      templateHasBundle: true,
      say: (line) => said.push(line),
    });
    expect((await startOne(provider)).agent?.bundleSha256).toBe(bundleSha256(await readFile(pluginBundle)));
    expect(said).toEqual([
      "--template-has-bundle: the run's strategy plug-ins are not in the template; uploading the agent",
    ]);
  });
});
