/**
 * Compile the CLI to JavaScript: dist/swarm-bench.js (with a node shebang) plus one chunk per
 * command, loaded only when that command runs, so `swarm-bench --version` starts without loading
 * the AWS SDK or the CDK, and dist/site-worker.js (the site's render worker thread). Packages
 * stay external (resolved from node_modules at run time).
 *
 * Output sits directly in dist/ so every `new URL('..', import.meta.url)` in the sources still
 * names the repository root; lib/pipeline/lambda-runtime.mjs is copied beside it for the same reason.
 * No top-level await in the output: the CLI's main() is called from the entry, never awaited at top level.
 */
import { chmodSync, copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = join(root, 'dist');
mkdirSync(outdir, { recursive: true });
// Chunks of an earlier build would otherwise pile up beside the new ones.
for (const name of readdirSync(outdir)) {
  if (/^cli-[\w-]+\.js$/.test(name)) rmSync(join(outdir, name));
}
const result = await build({
  // The site's render workers (lib/site/pool.ts) load dist/site-worker.js.
  entryPoints: {
    'swarm-bench': join(root, 'bin/swarm-bench.ts'),
    'site-worker': join(root, 'lib/site/worker.ts'),
  },
  outdir,
  entryNames: '[name]',
  chunkNames: 'cli-[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  packages: 'external',
  keepNames: true,
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
  banner: { js: '#!/usr/bin/env node' },
});
copyFileSync(join(root, 'lib/pipeline/lambda-runtime.mjs'), join(outdir, 'lambda-runtime.mjs'));
const entry = join(outdir, 'swarm-bench.js');
chmodSync(entry, 0o755);
const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
const files = Object.keys(result.metafile.outputs).length;
process.stdout.write(`cli: ${entry} (${files} files, ${(bytes / 1024).toFixed(0)} KiB)\n`);
