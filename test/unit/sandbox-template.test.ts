import { fileURLToPath } from 'node:url';
import { Template } from '@e2b/code-interpreter';
import { describe, expect, it } from 'vitest';
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
});
