/**
 * `report` on a large results file: wall time and peak memory (RSS) of the built CLI rendering a
 * generated results file of --mb megabytes (default 200), next to its floor: a process that only
 * reads the same file. Goal (issue 14): peak RSS <= 500 MB. Needs dist/swarm-bench.js (npm run build).
 *
 *   npx tsx bench/report-large.ts [--mb 200] [--keep]
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { mb: { type: 'string' }, keep: { type: 'boolean' } } });
const targetBytes = Number(values.mb ?? 200) * 1_000_000;
const dir = mkdtempSync(join(tmpdir(), 'swarm-report-large-'));
const file = join(dir, 'results.json');

/** The clean fixture with every samples array grown (seeded values around its first sample) until the file reaches the size. */
async function generate(): Promise<void> {
  const fixture = JSON.stringify(
    JSON.parse(readFileSync(resolve(root, 'test/fixtures/report/clean.json'), 'utf8')),
  );
  const parts = fixture.split(/"samples":\[[^\]]*\]/);
  const arrays = parts.length - 1;
  const firsts = [...fixture.matchAll(/"samples":\[([^\],]*)/g)].map((m) => Math.abs(Number(m[1])) || 10);
  const bytesPerArray = (targetBytes - fixture.length) / arrays;
  let seed = 1;
  const random = () => {
    seed = (seed * 48_271) % 2_147_483_647;
    return seed / 2_147_483_647;
  };
  const out = createWriteStream(file);
  const write = (text: string) =>
    out.write(text) ? Promise.resolve() : new Promise<void>((r) => out.once('drain', () => r()));
  await write(parts[0] as string);
  for (let i = 1; i < parts.length; i++) {
    await write('"samples":[');
    const base = firsts[i - 1] ?? 10;
    let written = 0;
    let first = true;
    while (written < bytesPerArray) {
      const batch: string[] = [];
      for (let k = 0; k < 10_000; k++) batch.push((base * (0.8 + 0.4 * random())).toFixed(4));
      const text = (first ? '' : ',') + batch.join(',');
      first = false;
      written += text.length;
      await write(text);
    }
    await write(`]${parts[i]}`);
  }
  await new Promise<void>((r) => out.end(r));
}

/** Wall seconds and peak RSS (MB) of `node <args>`, from GNU time. */
function measure(args: string[]): { seconds: number; peakMb: number; status: number | null; stderr: string } {
  const result = spawnSync('/usr/bin/time', ['-f', '%e %M', process.execPath, ...args], {
    cwd: root,
    encoding: 'utf8',
  });
  const lines = result.stderr.trim().split('\n');
  const [seconds, kb] = (lines.at(-1) ?? '').split(' ').map(Number);
  return {
    seconds: seconds ?? Number.NaN,
    peakMb: (kb ?? Number.NaN) / 1024,
    status: result.status,
    stderr: lines.slice(0, -1).join('\n'),
  };
}

await generate();
const size = statSync(file).size / 1e6;
const floor = measure(['-e', `require('node:fs').readFileSync(${JSON.stringify(file)})`]);
const report = measure(['dist/swarm-bench.js', 'report', file, '--out', join(dir, 'out')]);
if (report.status !== 0) process.stderr.write(`report exited ${report.status}: ${report.stderr}\n`);
const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
process.stdout.write(
  [
    `results file: ${size.toFixed(0)} MB (load average ${load})`,
    `report:  ${report.seconds.toFixed(1)} s, peak RSS ${report.peakMb.toFixed(0)} MB (goal <= 500 MB: ${report.peakMb <= 500 ? 'met' : 'missed'})`,
    `floor (read the file once): ${floor.seconds.toFixed(1)} s, peak RSS ${floor.peakMb.toFixed(0)} MB`,
    `ratio: ${(report.seconds / floor.seconds).toFixed(1)}x time, ${(report.peakMb / floor.peakMb).toFixed(1)}x memory`,
    report.stderr ? `report said: ${report.stderr}` : '',
    '',
  ].join('\n'),
);
if (!values.keep) rmSync(dir, { recursive: true, force: true });
else process.stdout.write(`kept ${dir}\n`);
