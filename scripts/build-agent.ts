/**
 * Bundle the agent program into one file that every sandbox provider starts: dist/agent.cjs by
 * default, or `--outfile <path>` (the CDK stack builds the unit Lambda's copy this way at synth).
 * The esbuild settings live in lib/agent/bundle.ts, shared with agents built with plug-ins.
 */

import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildAgentBundle } from '../lib/agent/bundle.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { outfile: { type: 'string' } }, strict: true });
const outfile = resolve(values.outfile ?? `${root}/dist/agent.cjs`);
const bytes = await buildAgentBundle({ root, outfile });
process.stdout.write(`agent bundle: ${outfile} (${(bytes / 1024).toFixed(0)} KiB)\n`);
