/**
 * Packing plug-ins for the pipeline (the CLI side of lib/plugins/package.ts): bundle the modules,
 * embed them as the unit Lambda will, validate that agent in a sandbox, and hash the package.
 */
import { readFile } from 'node:fs/promises';
import type { EmbeddedPlugins } from '../agent/embed.ts';
import type { SandboxProvider } from '../sandbox/types.ts';
import { buildPluginWorker, type PluginModuleRef } from './bundle.ts';
import {
  agentWithPackage,
  PLUGIN_PACKAGE_FORMAT,
  PLUGIN_PACKAGE_PREFIX,
  packageKey,
  sha256Hex,
} from './package.ts';
import { type PluginManifest, validatePluginBundle } from './validate.ts';

/** A packed strategy package, validated: its bytes, and the manifest an execution input carries. */
export interface PackedPlugins {
  bytes: Buffer;
  sha256: string;
  key: string;
  /** The manifest without `package` (the uploader adds the bucket). */
  manifest: PluginManifest;
}

/**
 * Pack modules for the pipeline: bundle the worker program, embed it into the plain agent as the
 * unit Lambda will, validate that agent in a sandbox of `sandboxes(path)` (names, shape, dry run),
 * and return the package with a manifest whose sha256 is the package's.
 */
export async function packPlugins(options: {
  root: string;
  outDir: string;
  agentBundle: string;
  name?: string;
  modules: readonly PluginModuleRef[];
  sandboxes: (bundlePath: string) => SandboxProvider;
}): Promise<PackedPlugins> {
  const source = await buildPluginWorker(options.root, options.modules);
  const plugins: EmbeddedPlugins = {
    source,
    modules: options.modules.map((ref) => ({
      kind: ref.kind,
      file: ref.path.split(/[\\/]/).pop() ?? ref.path,
    })),
  };
  const bytes = Buffer.from(JSON.stringify({ format: PLUGIN_PACKAGE_FORMAT, plugins }));
  const sha256 = sha256Hex(bytes);
  const agent = await agentWithPackage({
    manifest: {
      sha256,
      bytes: bytes.length,
      strategies: [],
      package: `s3://local/${PLUGIN_PACKAGE_PREFIX}pack`,
    },
    agentSource: await readFile(options.agentBundle, 'utf8'),
    dir: options.outDir,
    get: async () => bytes,
  });
  const provider = options.sandboxes(agent.path);
  let manifest: PluginManifest;
  try {
    const validated = await validatePluginBundle({ sha256, bytes: bytes.length }, options.modules, provider);
    manifest = { ...validated.manifest, sha256, bytes: bytes.length };
  } finally {
    await provider.killAll();
  }
  const name = options.name ?? manifest.strategies[0] ?? manifest.decisionRule ?? 'plugins';
  return { bytes, sha256, key: packageKey(name, sha256), manifest };
}
