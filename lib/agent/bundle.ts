/**
 * The one way the agent program is bundled (esbuild): scripts/build-agent.ts builds the plain
 * agent with it, lib/plugins/bundle.ts builds an agent with the user's plug-ins baked in, and both
 * outputs go the same road: the local provider's sandboxes, the E2B upload or template, the unit
 * Lambda's asset.
 */
import { build } from 'esbuild';

import { type EmbeddedPlugins, PLUGINS_GLOBAL } from './embed.ts';

export { type EmbeddedPlugins, embedPlugins, PLUGINS_GLOBAL } from './embed.ts';

/** Bundle lib/agent/main.ts (with plug-ins, when given) into `outfile`; returns its size in bytes. */
export async function buildAgentBundle(options: {
  root: string;
  outfile: string;
  plugins?: EmbeddedPlugins;
}): Promise<number> {
  const result = await build({
    entryPoints: [`${options.root}/lib/agent/main.ts`],
    outfile: options.outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
    // ws optionally uses these native addons for speed; the pure-JS paths are used without them.
    external: ['bufferutil', 'utf-8-validate'],
    ...(options.plugins ? { define: { [PLUGINS_GLOBAL]: JSON.stringify(options.plugins) } } : {}),
  });
  return Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
}
