/**
 * The trend site for 52 weekly default runs: generation time, size, and the index page's time to
 * interactive in headless Chromium, each beside its floor measured in the same run.
 *
 * The runs are synthetic but realistic: copies of a real default-profile run
 * (test/fixtures/report/clean.json) with seeded drift, noise, step changes, commit and template
 * changes (lib/site/synthetic.ts), stored through the real embedded ResultStore.
 * Goals: generated in < 10 s, < 5 MB, index interactive in < 1 s. Run with `npm run bench:site`.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { RunResults } from '../lib/bench/model.ts';
import { renderCharts } from '../lib/report/charts.ts';
import { renderHtml } from '../lib/report/html.ts';
import { publishSite, type SitePhases } from '../lib/site/generate.ts';
import { storeRuns, synthesizeWeeklyRuns } from '../lib/site/synthetic.ts';
import { DirBlobStore } from '../lib/store/blobs.ts';
import { openEmbeddedStore } from '../lib/store/embedded.ts';
import { launchChromium, serveDirectory } from '../test/helpers/browser.ts';

const WEEKS = 52;
const LOADS = 9;

const template = JSON.parse(
  readFileSync(new URL('../test/fixtures/report/clean.json', import.meta.url), 'utf8'),
) as RunResults;
const all = synthesizeWeeklyRuns(template, { weeks: WEEKS + 1, seed: 1 });
const first = all.slice(0, WEEKS);
const next = all.slice(WEEKS);

const work = await mkdtemp(join(os.tmpdir(), 'swarm-bench-site-bench-'));
const opened = await openEmbeddedStore({ dir: join(work, 'store') });
try {
  await storeRuns(opened.store, first);
  const out = join(work, 'site');
  const sink = new DirBlobStore({ dir: out });

  // Our figure: the whole site from the store.
  let started = performance.now();
  const full = await publishSite(opened.store, sink);
  const fullMs = performance.now() - started;

  // Floors: writing the same bytes to a fresh directory, and the existing report renderer alone
  // on the same runs (what the 52 run pages cost whatever the site adds).
  const files = await listFiles(out);
  const bodies = await Promise.all(files.map((file) => readFile(join(out, file))));
  const copy = new DirBlobStore({ dir: join(work, 'copy') });
  started = performance.now();
  for (const [index, file] of files.entries()) await copy.put(file, bodies[index]!);
  const writeMs = performance.now() - started;
  started = performance.now();
  for (const run of first) renderHtml(run, await renderCharts(run));
  const reportsMs = performance.now() - started;

  // Incremental: one more weekly run.
  await storeRuns(opened.store, next);
  started = performance.now();
  const incremental = await publishSite(opened.store, sink);
  const incrementalMs = performance.now() - started;
  started = performance.now();
  const unchanged = await publishSite(opened.store, sink);
  const unchangedMs = performance.now() - started;

  const bytes = bodies.reduce((sum, body) => sum + body.length, 0);
  const gzipped = bodies.reduce((sum, body) => sum + gzipSync(body).length, 0);
  const part = (prefix: string) =>
    files.reduce((sum, file, index) => sum + (file.startsWith(prefix) ? bodies[index]!.length : 0), 0);

  const tti = await timeToInteractive(out);

  const load = os.loadavg().map((value) => value.toFixed(1));
  const mb = (value: number) => `${(value / 1e6).toFixed(2)} MB`;
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const lines = [
    `site bench: ${WEEKS} weekly default runs (synthetic, seeded), ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load ${load.join(' ')}`,
    `generation: ${s(fullMs)} for ${full.pages} pages and ${full.charts} charts (goal < 10 s: ${fullMs < 10_000 ? 'met' : 'missed'})`,
    `  phases: ${phaseText(full.phases)}`,
    `  floor, same bytes written: ${s(writeMs)} (ratio ${(fullMs / writeMs).toFixed(0)}x)`,
    `  floor, the ${WEEKS} run reports alone (lib/report): ${s(reportsMs)} (ratio ${(fullMs / reportsMs).toFixed(2)}x)`,
    `  one more run: ${s(incrementalMs)}, ${incremental.rendered.length} of ${incremental.pages} pages rendered (ratio to full ${(incrementalMs / fullMs).toFixed(2)})`,
    `    phases: ${phaseText(incremental.phases)}`,
    `  nothing new: ${s(unchangedMs)}, ${unchanged.rendered.length} pages rendered`,
    `    phases: ${phaseText(unchanged.phases)}`,
    `size: ${mb(bytes)} in ${files.length} files (goal < 5 MB: ${bytes < 5e6 ? 'met' : 'missed'}); gzip ${mb(gzipped)}`,
    `  run pages ${mb(part('runs/'))}, benchmark pages ${mb(part('benchmarks/'))}, index ${mb(part('index.html'))}, topologies ${mb(part('topologies.html'))}, methodology and style sheets ${mb(part('methodology.html') + part('site.css') + part('report.css'))}`,
    `index time to interactive (median of ${LOADS} loads, alternating with the floor): domInteractive ${tti.interactive.toFixed(0)} ms, load ${tti.load.toFixed(0)} ms (goal < 1 s: ${tti.interactive < 1000 ? 'met' : 'missed'})`,
    `  floor, an empty page from the same server: domInteractive ${tti.floorInteractive.toFixed(0)} ms, load ${tti.floorLoad.toFixed(0)} ms (ratio ${(tti.interactive / Math.max(tti.floorInteractive, 0.1)).toFixed(1)}x)`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await opened.close();
  await rm(work, { recursive: true, force: true });
}

/** "load 0.41 s, model 0.90 s, ..." in the order the phases run, then the render's wall time. */
function phaseText(phases: SitePhases): string {
  const order = ['load', 'model', 'hash', 'charts', 'pages', 'write'] as const;
  const sum =
    phases.workers > 0
      ? ` (charts and pages summed over this thread and ${phases.workers} worker thread(s))`
      : '';
  return `${order.map((name) => `${name} ${(phases[name] / 1000).toFixed(2)} s`).join(', ')}; rendering took ${(phases.render / 1000).toFixed(2)} s${sum}`;
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  const files: string[] = [];
  for (const entry of entries) {
    if ((await stat(join(dir, entry))).isFile()) files.push(relative(dir, join(dir, entry)));
  }
  return files.sort();
}

/**
 * Median navigation timings of the index and of an empty page, each loaded fresh LOADS times,
 * alternately (index, floor, index, ...) so that both see the same machine load.
 */
async function timeToInteractive(dir: string) {
  await writeFile(join(dir, 'floor.html'), '<!DOCTYPE html><html lang="en"><title>floor</title></html>\n');
  const server = await serveDirectory(dir);
  const browser = await launchChromium();
  try {
    const once = async (path: string) => {
      const page = await browser.context.newPage();
      await page.goto(`${server.url}${path}`, { waitUntil: 'load' });
      // A string, so it runs in the page (this file is not compiled with the DOM types).
      const timing = (await page.evaluate(
        "(() => { const e = performance.getEntriesByType('navigation')[0]; return { interactive: e.domInteractive, load: e.loadEventEnd }; })()",
      )) as { interactive: number; load: number };
      await page.close();
      return timing;
    };
    await once('index.html'); // warm the browser's own start-up out of the figures
    await once('floor.html');
    const site: Array<{ interactive: number; load: number }> = [];
    const floor: Array<{ interactive: number; load: number }> = [];
    for (let i = 0; i < LOADS; i++) {
      site.push(await once('index.html'));
      floor.push(await once('floor.html'));
    }
    return {
      interactive: median(site.map((t) => t.interactive)),
      load: median(site.map((t) => t.load)),
      floorInteractive: median(floor.map((t) => t.interactive)),
      floorLoad: median(floor.map((t) => t.load)),
    };
  } finally {
    await browser.close();
    await server.close();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
