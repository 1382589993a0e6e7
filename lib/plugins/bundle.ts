/**
 * Bundling user plug-ins into the agent: the user's modules (TypeScript or JavaScript, with any
 * pure npm dependency they import) and lib/plugins/worker.ts become one worker program, which is
 * embedded in an agent bundle built exactly like the plain one (lib/agent/bundle.ts). The result
 * is one file, so every sandbox provider starts it as it starts the plain agent.
 *
 * Nothing here runs user code: esbuild only reads it. Validation (lib/plugins/validate.ts) runs
 * it, in a sandbox.
 */
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, rename } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { buildAgentBundle, type EmbeddedPlugins } from '../agent/bundle.ts';
import { InvalidInputError } from '../errors.ts';
import { MAX_PLUGIN_BYTES, MAX_PLUGIN_MODULES } from './limits.ts';

const MODULE_FILE = /\.(?:ts|mts|cts|js|mjs|cjs)$/;

/** A module the user named, and the flag that named it (for error messages). */
export interface PluginModuleRef {
  path: string;
  kind: 'strategy' | 'decision-rule';
  /** e.g. "--strategy" */
  flag: string;
}

/** A built plug-in agent. */
export interface PluginBundle {
  /** The agent bundle with the plug-ins inside. */
  path: string;
  /** SHA-256 of the agent bundle (hex). */
  sha256: string;
  bytes: number;
  /** Size of the plug-in worker program alone. */
  pluginBytes: number;
  modules: EmbeddedPlugins['modules'];
}

/** Check a module path the way every flag does: an existing .ts/.js file. */
export function checkModulePath(ref: PluginModuleRef): string {
  const file = resolve(ref.path);
  if (!MODULE_FILE.test(file) || !existsSync(file) || !statSync(file).isFile()) {
    throw new InvalidInputError(ref.flag, 'an existing .ts, .mts, .js or .mjs file', ref.path);
  }
  return file;
}

/** The worker program: lib/plugins/worker.ts serving the user's modules, each loaded lazily in its own worker. */
export async function buildPluginWorker(root: string, refs: readonly PluginModuleRef[]): Promise<string> {
  if (refs.length === 0) throw new InvalidInputError('--strategy', 'at least one plug-in module');
  if (refs.length > MAX_PLUGIN_MODULES) {
    throw new InvalidInputError(
      refs[0]?.flag ?? '--strategy',
      `at most ${MAX_PLUGIN_MODULES} plug-in modules`,
      refs.length,
    );
  }
  const files = refs.map(checkModulePath);
  // import() of a bundled file stays lazy in esbuild's output: a worker evaluates only its own module.
  const entry = [
    `import { runPluginWorker } from ${JSON.stringify(join(root, 'lib/plugins/worker.ts'))};`,
    `runPluginWorker([${files.map((file) => `() => import(${JSON.stringify(file)})`).join(', ')}]);`,
  ].join('\n');
  let result: Awaited<ReturnType<typeof build>>;
  try {
    result = await build({
      stdin: { contents: entry, resolveDir: root, sourcefile: 'plugins-entry.ts', loader: 'ts' },
      bundle: true,
      write: false,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      minify: true,
      keepNames: true,
      legalComments: 'none',
      logLevel: 'silent',
    });
  } catch (error) {
    const first = (
      error as { errors?: Array<{ text: string; location?: { file: string; line: number } | null }> }
    ).errors?.[0];
    const where = first?.location ? ` (${first.location.file}:${first.location.line})` : '';
    const ref =
      refs.find(
        (r) => first?.location?.file !== undefined && resolve(first.location.file) === resolve(r.path),
      ) ?? refs[0];
    throw new InvalidInputError(
      ref?.flag ?? '--strategy',
      `a module esbuild can bundle: ${first?.text ?? (error as Error).message}${where}`,
      ref?.path,
    );
  }
  const source = result.outputFiles?.[0]?.text ?? '';
  const bytes = Buffer.byteLength(source);
  if (bytes > MAX_PLUGIN_BYTES) {
    throw new InvalidInputError(
      refs[0]?.flag ?? '--strategy',
      `plug-ins of at most ${MAX_PLUGIN_BYTES / 1024 / 1024} MiB bundled (these are ${(bytes / 1024 / 1024).toFixed(1)} MiB)`,
      refs.map((r) => r.path).join(', '),
    );
  }
  return source;
}

/** Build the agent with the plug-ins inside, into `outDir` (named by its hash, so reruns reuse it). */
export async function buildPluginBundle(options: {
  root: string;
  outDir: string;
  modules: readonly PluginModuleRef[];
}): Promise<PluginBundle> {
  const source = await buildPluginWorker(options.root, options.modules);
  const modules = options.modules.map((ref) => ({
    kind: ref.kind,
    file: ref.path.split(/[\\/]/).pop() ?? ref.path,
  }));
  await mkdir(options.outDir, { recursive: true });
  const scratch = join(options.outDir, `agent-plugins-${process.pid}-${Date.now()}.cjs`);
  await buildAgentBundle({ root: options.root, outfile: scratch, plugins: { source, modules } });
  const bytes = await readFile(scratch);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const path = join(options.outDir, `agent-plugins-${sha256.slice(0, 16)}.cjs`);
  await rename(scratch, path);
  return { path, sha256, bytes: bytes.length, pluginBytes: Buffer.byteLength(source), modules };
}
