import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Template } from '@e2b/code-interpreter';
import { describe, expect, it } from 'vitest';
import { E2B_TEMPLATES } from '../../lib/cost/prices.ts';
import { E2B_AGENT_PATH } from '../../lib/sandbox/e2b.ts';
import { type BuildDeps, main } from '../../scripts/build-e2b-template.ts';
import { agentTemplate, TEMPLATE_AGENT_PATH } from '../../templates/e2b/template.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

function recordingDeps() {
  const logs: string[] = [];
  const builds: unknown[][] = [];
  const deps: BuildDeps = {
    build: (async (...args: unknown[]) => {
      builds.push(args);
      return {
        name: 'swarm-bench-agent',
        templateId: 'tpl-1',
        buildId: 'b-1',
        alias: 'swarm-bench-agent',
        tags: [],
      };
    }) as unknown as BuildDeps['build'],
    log: (line) => logs.push(line),
  };
  return { deps, logs, builds };
}

describe('E2B agent template', () => {
  it('is Node.js 22 with the bundle at the path the provider starts', () => {
    // Prepare
    const template = agentTemplate(root, 'test/fixtures/sandbox/fixture-agent.mjs');

    // Act
    const dockerfile = Template.toDockerfile(template);

    // Assess
    expect(TEMPLATE_AGENT_PATH).toBe(E2B_AGENT_PATH);
    expect(dockerfile).toMatch(/^FROM node:22$/m);
    expect(dockerfile).toContain(`COPY test/fixtures/sandbox/fixture-agent.mjs ${E2B_AGENT_PATH}`);
  });
});

describe('scripts/build-e2b-template.ts', () => {
  it('fails with one line naming E2B_API_KEY when the key is missing, without building', async () => {
    // Prepare
    const { deps, logs, builds } = recordingDeps();

    // Act
    const code = await main([], { E2B_API_KEY: '' }, deps);

    // Assess
    expect(code).toBe(1);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/E2B_API_KEY/);
    expect(builds).toEqual([]);
  });

  it('builds the named template with the key and resources', async () => {
    // Prepare
    const { deps, builds } = recordingDeps();

    // Act
    const code = await main(
      ['--name', 'sb-test', '--bundle', 'test/fixtures/sandbox/fixture-agent.mjs', '--cpu', '4'],
      { E2B_API_KEY: 'e2b_key' },
      deps,
    );

    // Assess
    expect(code).toBe(0);
    expect(builds).toHaveLength(1);
    expect(builds[0]?.[1]).toBe('sb-test');
    expect(builds[0]?.[2]).toMatchObject({ apiKey: 'e2b_key', cpuCount: 4, memoryMB: 512 });
  });

  it('refuses a bundle outside the repository', async () => {
    // Prepare
    const { deps, logs, builds } = recordingDeps();

    // Act
    const code = await main(['--bundle', '/etc/hostname'], { E2B_API_KEY: 'e2b_key' }, deps);

    // Assess
    expect(code).toBe(2);
    expect(logs[0]).toMatch(/inside the repository/);
    expect(builds).toEqual([]);
  });

  it.each([
    [['--cpu', '3'], /^build-e2b-template: --cpu must be 1 or an even number of vCPUs up to 32 \(got 3\)$/],
    [['--cpu', '34'], /--cpu must be 1 or an even number/],
    [['--cpu', '0'], /--cpu must be/],
    [['--memory-mb', '513'], /^build-e2b-template: --memory-mb must be an even number of MiB, at least 128/],
    [['--memory-mb', '64'], /--memory-mb must be an even number of MiB, at least 128 \(got 64\)/],
    [['--memory-mb', 'lots'], /--memory-mb must be/],
  ])(
    'refuses %j with one line naming the flag, exit 2, before the key or bundle is looked at',
    async (args, message) => {
      // Prepare
      const { deps, logs, builds } = recordingDeps();

      // Act: no key and no bundle either; the size is reported first.
      const code = await main(args, {}, deps);

      // Assess
      expect(code).toBe(2);
      expect(logs).toHaveLength(1);
      expect(logs[0]).toMatch(message);
      expect(builds).toEqual([]);
    },
  );

  it('defaults to the size the cost model prices and accepts 1 vCPU', async () => {
    // Prepare
    const { deps, builds } = recordingDeps();
    const bundle = ['--bundle', 'test/fixtures/sandbox/fixture-agent.mjs'];

    // Act
    const byDefault = await main(bundle, { E2B_API_KEY: 'k' }, deps);
    const single = await main([...bundle, '--cpu', '1', '--memory-mb', '128'], { E2B_API_KEY: 'k' }, deps);

    // Assess
    expect([byDefault, single]).toEqual([0, 0]);
    expect(builds[0]?.[2]).toMatchObject({
      cpuCount: E2B_TEMPLATES.base.vcpu,
      memoryMB: E2B_TEMPLATES.base.memoryMb,
    });
    expect(E2B_TEMPLATES.base.memoryMb).toBe(512);
    expect(builds[1]?.[2]).toMatchObject({ cpuCount: 1, memoryMB: 128 });
  });

  it('documents the v2 CLI command with the priced size in the Dockerfile', () => {
    const dockerfile = readFileSync(new URL('../../templates/e2b/e2b.Dockerfile', import.meta.url), 'utf8');
    const command = dockerfile.split('\n').find((line) => line.includes('e2b template create')) ?? '';
    expect(command).toContain(`--cpu-count ${E2B_TEMPLATES.base.vcpu}`);
    expect(command).toContain(`--memory-mb ${E2B_TEMPLATES.base.memoryMb}`);
    expect(dockerfile).not.toMatch(/^#\s+e2b template build/m);
  });
});
