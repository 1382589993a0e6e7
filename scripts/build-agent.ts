/** Bundle the agent program into one file (dist/agent.cjs) that every sandbox provider starts. */

import { fileURLToPath } from 'node:url';
import { buildAgentBundle } from '../lib/agent/bundle.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const bytes = await buildAgentBundle({ root, outfile: `${root}/dist/agent.cjs` });
process.stdout.write(`agent bundle: dist/agent.cjs (${(bytes / 1024).toFixed(0)} KiB)\n`);
