/**
 * Bundle the agent program into one file that every sandbox provider starts: dist/agent.cjs by
 * default, or `--outfile <path>` (the CDK stack builds the unit Lambda's copy this way at synth).
 */

import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { outfile: { type: 'string' } }, strict: true });
const outfile = resolve(values.outfile ?? `${root}/dist/agent.cjs`);
const result = await build({
  entryPoints: [`${root}/lib/agent/main.ts`],
  outfile,
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
process.stdout.write(`agent bundle: ${outfile} (${(bytes / 1024).toFixed(0)} KiB)\n`);
