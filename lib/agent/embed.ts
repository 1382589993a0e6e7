/**
 * Plug-ins inside an agent bundle, without esbuild: what lib/agent/bundle.ts defines at bundling,
 * and what the unit Lambda (which has no bundler) prepends to its own agent for a strategy package.
 */

/** Global the agent reads its plug-ins from (see lib/agent/main.ts); replaced at bundling. */
export const PLUGINS_GLOBAL = '__SWARM_BENCH_PLUGINS__';

/** What a plug-in agent bundle carries: the worker program and what each module is meant to be. */
export interface EmbeddedPlugins {
  source: string;
  modules: Array<{ kind: 'strategy' | 'decision-rule'; file: string }>;
}

/**
 * An agent with plug-ins from an agent built without them: the plain bundle reads the global only
 * through `typeof`, so defining it ahead of the bundle's code is what `define` does at bundling.
 * The unit Lambda uses this for strategy packages: its own agent (the coordinator's protocol), the
 * user's worker program.
 */
export function embedPlugins(agentSource: string, plugins: EmbeddedPlugins): string {
  const head = /^(#![^\n]*\n)?((?:["']use strict["'];?\s*))?/.exec(agentSource)?.[0] ?? '';
  return `${head}globalThis.${PLUGINS_GLOBAL}=${JSON.stringify(plugins)};\n${agentSource.slice(head.length)}`;
}
