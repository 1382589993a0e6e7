/**
 * Startup of `swarm-bench --version`: the built CLI (node dist/swarm-bench.js) against the same
 * command through tsx (the TypeScript loader the CLI used before), with the floor `node -e 0` in
 * the same run. Medians of --runs interleaved runs (default 7). Needs npm run build.
 *
 *   npx tsx bench/cli-startup.ts [--runs 7]
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from 'simple-statistics';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { runs: { type: 'string' } } });
const runs = Number(values.runs ?? 7);

const CASES: Record<string, string[]> = {
  'floor: node -e 0': ['-e', '0'],
  'built: node dist/swarm-bench.js --version': ['dist/swarm-bench.js', '--version'],
  'tsx: node --import tsx bin/swarm-bench.ts --version': [
    '--import',
    'tsx',
    'bin/swarm-bench.ts',
    '--version',
  ],
};

const times = new Map<string, number[]>(Object.keys(CASES).map((name) => [name, []]));
for (let i = 0; i < runs; i++) {
  for (const [name, args] of Object.entries(CASES)) {
    const started = process.hrtime.bigint();
    const result = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    if (result.status !== 0) throw new Error(`${name}: exit ${result.status}: ${result.stderr}`);
    times.get(name)?.push(ms);
  }
}
const floor = median(times.get('floor: node -e 0') ?? []);
const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
process.stdout.write(`swarm-bench --version startup, median of ${runs} (load average ${load}):\n`);
for (const [name, samples] of times) {
  const m = median(samples);
  process.stdout.write(
    `  ${name.padEnd(52)} ${m.toFixed(0).padStart(6)} ms  ${(m / floor).toFixed(2)}x floor\n`,
  );
}
