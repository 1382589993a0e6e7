/**
 * Strategy packages: how a user's plug-ins reach the weekly pipeline. A package is one JSON object
 * holding the bundled plug-in worker program (the user's modules and their npm dependencies, built
 * by esbuild on the user's machine) and what each module is. It lives in the stack's bucket under
 * `strategies/`, and the execution input names it with its SHA-256 (RunConfig.plugins). The unit
 * Lambda fetches it, checks the hash, and embeds the worker into its own agent (embedPlugins), so
 * the agent always speaks the deployed coordinator's protocol whatever CLI version packed it.
 */
import { createHash } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { type EmbeddedPlugins, embedPlugins } from '../agent/embed.ts';
import { InvalidInputError, PluginPackageError } from '../errors.ts';
import { MAX_PLUGIN_BYTES } from './limits.ts';
import type { PluginManifest } from './validate.ts';

/** Where packages live in the stack's bucket; the unit function may read only this prefix. */
export const PLUGIN_PACKAGE_PREFIX = 'strategies/';
export const PLUGIN_PACKAGE_FORMAT = 'swarm-bench-plugins/1';
const packageName = /^[a-z0-9][a-z0-9-]{0,47}$/;

const packageSchema = z
  .object({
    format: z.literal(PLUGIN_PACKAGE_FORMAT),
    plugins: z
      .object({
        source: z.string().min(1).max(MAX_PLUGIN_BYTES),
        modules: z
          .array(z.object({ kind: z.enum(['strategy', 'decision-rule']), file: z.string().min(1).max(256) }))
          .min(1),
      })
      .strict(),
  })
  .strict();

export const sha256Hex = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');

/** A package name as `--name` takes it: lowercase letters, digits and "-". */
export function checkPackageName(name: string): string {
  if (!packageName.test(name)) {
    throw new InvalidInputError('--name', 'lowercase letters, digits and "-", at most 48', name);
  }
  return name;
}

/** The object key of a package: `strategies/<name>/<sha256>.json`. */
export function packageKey(name: string, sha256: string): string {
  return `${PLUGIN_PACKAGE_PREFIX}${checkPackageName(name)}/${sha256}.json`;
}

/** Split `s3://bucket/key`; the caller's schema has checked the form. */
export function parseS3Url(url: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(url);
  if (!match) throw new InvalidInputError('plugins.package', 's3://bucket/key', url);
  return { bucket: match[1] as string, key: match[2] as string };
}

/**
 * What Plan checks of an input's package: in the stack's own bucket (the unit function can read no
 * other), under strategies/, with its SHA-256 beside it (the manifest's sha256, a schema field).
 */
export function checkPackageLocation(manifest: PluginManifest | undefined, bucket: string | undefined): void {
  if (manifest === undefined) return;
  if (bucket === undefined)
    throw new InvalidInputError('plugins', 'none here: this pipeline has no bucket for packages');
  if (manifest.package === undefined) {
    throw new InvalidInputError(
      'plugins.package',
      `the strategy package in the pipeline (s3://${bucket}/${PLUGIN_PACKAGE_PREFIX}..., from \`swarm-bench strategies pack\`)`,
    );
  }
  const { bucket: given, key } = parseS3Url(manifest.package);
  if (given !== bucket) {
    throw new InvalidInputError(
      'plugins.package',
      `an object in the stack's bucket s3://${bucket}/`,
      manifest.package,
    );
  }
  if (!key.startsWith(PLUGIN_PACKAGE_PREFIX) || key.split('/').some((part) => part === '..' || part === '')) {
    throw new InvalidInputError('plugins.package', `a key under ${PLUGIN_PACKAGE_PREFIX}`, manifest.package);
  }
}

/**
 * What Plan accepts of a run's plug-ins: module paths are files on someone's machine, never in the
 * pipeline; a package named in `plugins` must pass checkPackageLocation.
 */
export function checkPipelinePlugins(
  config: {
    strategies?: string[] | undefined;
    decisionRule?: string | undefined;
    plugins?: PluginManifest | undefined;
  },
  bucket: string | undefined,
): void {
  const hint =
    'none in the pipeline: pack the modules (`swarm-bench strategies pack`) and name the package in plugins';
  if (config.strategies !== undefined) throw new InvalidInputError('strategies', hint, config.strategies);
  if (config.decisionRule !== undefined && config.decisionRule !== 'plurality') {
    throw new InvalidInputError('decisionRule', hint, config.decisionRule);
  }
  checkPackageLocation(config.plugins, bucket);
}

/** Check a downloaded package against the SHA-256 the input names and read its plug-ins. */
export function openPluginPackage(bytes: Uint8Array, expectedSha256: string, url: string): EmbeddedPlugins {
  const actual = sha256Hex(bytes);
  if (actual !== expectedSha256) {
    throw new PluginPackageError(
      `strategy package ${url} has SHA-256 ${actual}, the input names ${expectedSha256}: not run`,
    );
  }
  let parsed: z.infer<typeof packageSchema>;
  try {
    parsed = packageSchema.parse(JSON.parse(Buffer.from(bytes).toString('utf8')));
  } catch (error) {
    throw new PluginPackageError(`strategy package ${url} is not a ${PLUGIN_PACKAGE_FORMAT} package`, {
      cause: error,
    });
  }
  return parsed.plugins;
}

/**
 * Fetch, check and embed a run's package into `agentSource`, written under `dir`. `get` reads an object's bytes (S3 GetObject).
 */
export async function agentWithPackage(options: {
  manifest: PluginManifest & { package: string };
  agentSource: string;
  dir: string;
  get: (bucket: string, key: string) => Promise<Uint8Array>;
}): Promise<{ path: string; source: string }> {
  const { manifest } = options;
  // Fetched and checked on every invocation (no cache by hash): the check is what makes the run
  // the code the input names.
  const path = join(options.dir, `agent-package-${manifest.sha256.slice(0, 16)}.cjs`);
  const { bucket, key } = parseS3Url(manifest.package);
  let bytes: Uint8Array;
  try {
    bytes = await options.get(bucket, key);
  } catch (error) {
    throw new PluginPackageError(
      `strategy package ${manifest.package} could not be read: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  const plugins = openPluginPackage(bytes, manifest.sha256, manifest.package);
  const source = embedPlugins(options.agentSource, plugins);
  await mkdir(options.dir, { recursive: true });
  const scratch = `${path}.${process.pid}.tmp`;
  await writeFile(scratch, source);
  await rename(scratch, path);
  return { path, source };
}
