/**
 * From flags to a run that carries plug-ins: bundle the modules into an agent, validate that
 * agent in a sandbox, and put the manifest (names, bundle hash) into the RunConfig.
 */
import type { RunConfig } from '../config.ts';
import type { SandboxProvider } from '../sandbox/types.ts';
import { buildPluginBundle, type PluginBundle, type PluginModuleRef } from './bundle.ts';
import { type PluginManifest, validatePluginBundle } from './validate.ts';

/** The modules a config names, in bundle order: strategies, then the decision rule. */
export function pluginModules(config: Pick<RunConfig, 'strategies' | 'decisionRule'>): PluginModuleRef[] {
  const refs: PluginModuleRef[] = (config.strategies ?? []).map((path) => ({
    path,
    kind: 'strategy',
    flag: '--strategy',
  }));
  if (config.decisionRule !== undefined && config.decisionRule !== 'plurality') {
    refs.push({ path: config.decisionRule, kind: 'decision-rule', flag: '--decision-rule' });
  }
  return refs;
}

/**
 * Bundle and validate a config's plug-ins. Returns the config unchanged (and no bundle) when it
 * names none. `sandboxes(bundlePath)` gives a provider whose sandboxes run that bundle: the
 * validation's one agent runs there, never in this process.
 */
export async function preparePlugins(
  config: RunConfig,
  options: { root: string; outDir: string; sandboxes: (bundlePath: string) => SandboxProvider },
): Promise<{ config: RunConfig; bundle?: PluginBundle; manifest?: PluginManifest }> {
  const refs = pluginModules(config);
  if (refs.length === 0) return { config };
  const bundle = await buildPluginBundle({ root: options.root, outDir: options.outDir, modules: refs });
  const provider = options.sandboxes(bundle.path);
  try {
    const { manifest } = await validatePluginBundle(bundle, refs, provider);
    return { config: { ...config, plugins: manifest }, bundle, manifest };
  } finally {
    await provider.killAll();
  }
}
