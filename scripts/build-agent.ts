/** Bundle the agent program into one file (dist/agent.cjs) that every sandbox provider starts. */

import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const result = await build({
  entryPoints: [`${root}/lib/agent/main.ts`],
  outfile: `${root}/dist/agent.cjs`,
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
});
const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
process.stdout.write(`agent bundle: dist/agent.cjs (${(bytes / 1024).toFixed(0)} KiB)\n`);
