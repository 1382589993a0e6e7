/**
 * Strategy packages without AWS: what Plan accepts of an input's plug-ins, the SHA-256 check of a
 * downloaded package, embedding into a plain agent, and the `strategies` command's input checks.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { strategiesCommand } from '../../bin/commands/strategies.ts';
import { embedPlugins } from '../../lib/agent/embed.ts';
import { InvalidInputError, PluginPackageError } from '../../lib/errors.ts';
import {
  agentWithPackage,
  checkPipelinePlugins,
  openPluginPackage,
  PLUGIN_PACKAGE_FORMAT,
} from '../../lib/plugins/package.ts';

const SHA = 'a'.repeat(64);
const manifest = (pkg?: string) => ({
  sha256: SHA,
  bytes: 10,
  strategies: ['mine'],
  ...(pkg === undefined ? {} : { package: pkg }),
});
const plugins = { source: 'module.exports = 1;', modules: [{ kind: 'strategy' as const, file: 'mine.ts' }] };
const packageBytes = Buffer.from(JSON.stringify({ format: PLUGIN_PACKAGE_FORMAT, plugins }));
const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

function fieldOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    if (error instanceof InvalidInputError) return error.field;
    throw error;
  }
  return undefined;
}

describe('what Plan accepts of a run’s plug-ins', () => {
  const check = (
    config: Parameters<typeof checkPipelinePlugins>[0],
    bucket: string | undefined = 'stack-bucket',
  ) => fieldOf(() => checkPipelinePlugins(config, bucket));

  it('accepts no plug-ins, and a package under strategies/ in the stack bucket', () => {
    expect(check({})).toBeUndefined();
    expect(check({ decisionRule: 'plurality' })).toBeUndefined();
    expect(check({ plugins: manifest(`s3://stack-bucket/strategies/mine/${SHA}.json`) })).toBeUndefined();
  });

  it('refuses module paths, other buckets, keys outside strategies/ and a manifest without a package', () => {
    expect(check({ strategies: ['./mine.ts'] })).toBe('strategies');
    expect(check({ decisionRule: './veto.ts' })).toBe('decisionRule');
    expect(check({ plugins: manifest(`s3://other-bucket/strategies/mine/${SHA}.json`) })).toBe(
      'plugins.package',
    );
    expect(check({ plugins: manifest(`s3://stack-bucket/store/mine/${SHA}.json`) })).toBe('plugins.package');
    expect(check({ plugins: manifest('s3://stack-bucket/strategies/../store/x.json') })).toBe(
      'plugins.package',
    );
    expect(check({ plugins: manifest() })).toBe('plugins.package');
    expect(
      fieldOf(() =>
        checkPipelinePlugins(
          { plugins: manifest(`s3://stack-bucket/strategies/mine/${SHA}.json`) },
          undefined,
        ),
      ),
    ).toBe('plugins');
  });
});

describe('a downloaded package', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'swarm-bench-package-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is read only when its bytes have the SHA-256 the input names', () => {
    expect(openPluginPackage(packageBytes, sha(packageBytes), 's3://b/strategies/x.json')).toEqual(plugins);
    const altered = Buffer.from(packageBytes.toString().replace('= 1', '= 2'));
    expect(() => openPluginPackage(altered, sha(packageBytes), 's3://b/strategies/x.json')).toThrow(
      PluginPackageError,
    );
    const notAPackage = Buffer.from('{"format":"other"}');
    expect(() => openPluginPackage(notAPackage, sha(notAPackage), 's3://b/strategies/x.json')).toThrow(
      /not a swarm-bench-plugins\/1 package/,
    );
  });

  it('turns an unreadable object into PluginPackageError', async () => {
    const attempt = agentWithPackage({
      manifest: { ...manifest(), package: 's3://b/strategies/x.json' },
      agentSource: '',
      dir,
      get: async () => {
        throw new Error('NoSuchKey');
      },
    });
    await expect(attempt).rejects.toThrow(PluginPackageError);
  });

  it('is embedded into the plain agent ahead of its code, keeping "use strict" first', async () => {
    const agent =
      '"use strict";module.exports = typeof __SWARM_BENCH_PLUGINS__ === "undefined" ? null : __SWARM_BENCH_PLUGINS__;';
    const { path, source } = await agentWithPackage({
      manifest: { ...manifest(), sha256: sha(packageBytes), package: 's3://b/strategies/x.json' },
      agentSource: agent,
      dir,
      get: async (bucket, key) => {
        expect([bucket, key]).toEqual(['b', 'strategies/x.json']);
        return packageBytes;
      },
    });
    expect(source.startsWith('"use strict";')).toBe(true);
    expect(await readFile(path, 'utf8')).toBe(source);
    const run = (code: string) => {
      const module = { exports: undefined as unknown };
      runInNewContext(code, { module });
      return module.exports;
    };
    expect(run(agent)).toBeNull();
    expect(run(source)).toEqual(plugins);
    expect(embedPlugins(`#!/usr/bin/env node\n${agent}`, plugins)).toMatch(
      /^#!\/usr\/bin\/env node\n"use strict";/,
    );
  });
});

describe('swarm-bench strategies: input checks before anything starts', () => {
  const field = async (argv: string[]) => {
    try {
      await strategiesCommand(argv, {});
    } catch (error) {
      if (error instanceof InvalidInputError) return error.field;
      throw error;
    }
    return undefined;
  };

  it('names the flag of bad input', async () => {
    expect(await field(['unpack', '--strategy', 'examples/strategies/rsi-pullback.ts'])).toBe('action');
    expect(await field(['pack'])).toBe('--strategy');
    expect(await field(['upload', '--strategy', 'examples/strategies/rsi-pullback.ts'])).toBe('--bucket');
    expect(await field(['upload', '--strategy', 'x.ts', '--bucket', 'Not_A_Bucket'])).toBe('--bucket');
    expect(await field(['pack', '--strategy', 'x.ts', '--bucket', 'stack-bucket'])).toBe('--bucket');
    expect(
      await field(['pack', '--strategy', 'examples/strategies/rsi-pullback.ts', '--name', 'Bad Name']),
    ).toBe('--name');
  });
});
