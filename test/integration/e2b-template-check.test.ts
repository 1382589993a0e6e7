/**
 * `doctor`'s template check against the local E2B with the real SDK: the template's baked-in agent
 * is started (nothing uploaded) and its protocol version and bundle hash compared with the
 * coordinator's. The local E2B bakes files into a template as a Dockerfile COPY would.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AGENT_PROTOCOL_VERSION } from '../../lib/agent/launch.ts';
import { LOCAL_TEMPLATES } from '../../lib/e2b-local/server.ts';
import { E2B_AGENT_PATH } from '../../lib/sandbox/e2b.ts';
import { bundleSha256, checkE2BTemplate } from '../../lib/sandbox/e2b-template-check.ts';
import { useLocalE2B } from '../helpers/e2b-local.ts';

const agentPath = fileURLToPath(new URL('../../dist/agent.cjs', import.meta.url));
const agentSha = bundleSha256(readFileSync(agentPath));
// A template whose baked agent is another build: the same program with a trailing comment.
const otherAgent = join(tmpdir(), `swarm-bench-other-agent-${process.pid}.cjs`);

const local = useLocalE2B({
  limits: { creationsPerSecond: 4 },
  templates: {
    ...LOCAL_TEMPLATES,
    'swarm-bench-agent': { cpuCount: 2, memoryMB: 512, files: { [E2B_AGENT_PATH]: agentPath } },
    'stale-agent': { cpuCount: 2, memoryMB: 512, files: { [E2B_AGENT_PATH]: otherAgent } },
  },
});

function check(template: string) {
  const e2b = local.get();
  return checkE2BTemplate({
    apiKey: e2b.apiKey,
    template,
    expectedBundleSha256: agentSha,
    connection: { apiUrl: e2b.apiUrl, sandboxUrl: e2b.sandboxUrl, domain: e2b.domain },
  });
}

describe('E2B template check (doctor)', () => {
  it("reports the baked agent's protocol and bundle hash when they match the coordinator's", async () => {
    // Act
    const result = await check('swarm-bench-agent');

    // Assess
    expect(result).toMatchObject({ ok: true, protocol: AGENT_PROTOCOL_VERSION, bundleSha256: agentSha });
    expect(result.detail).toContain(`bundle ${agentSha.slice(0, 12)}`);
  });

  it('fails a template baked with another bundle, and an unknown one, naming the rebuild', async () => {
    // Prepare
    writeFileSync(otherAgent, `${readFileSync(agentPath, 'utf8')}\n// another build\n`);
    try {
      // Act
      const stale = await check('stale-agent');
      const unknown = await check('no-such-template');

      // Assess
      expect(stale.ok).toBe(false);
      expect(stale.detail).toContain(agentSha.slice(0, 12));
      expect(stale.detail).toMatch(/build-e2b-template/);
      expect(unknown.ok).toBe(false);
      expect(unknown.detail).toMatch(/no-such-template/);
      expect(unknown.detail).toMatch(/build-e2b-template/);
    } finally {
      rmSync(otherAgent, { force: true });
    }
  });
});
