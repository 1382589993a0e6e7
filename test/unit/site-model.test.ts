/** The site's model and its incremental generation, on seeded synthetic runs (no browser). */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../bin/swarm-bench.ts';
import { evaluateTargets } from '../../lib/bench/targets.ts';
import { compactSvg, yScale } from '../../lib/site/charts.ts';
import { generateSite, MANIFEST_NAME } from '../../lib/site/generate.ts';
import { buildSiteModel, changesBetween, medianInterval, runPage } from '../../lib/site/model.ts';
import { indexPage } from '../../lib/site/pages.ts';
import { workerRenderer } from '../../lib/site/pool.ts';
import type { PageTask } from '../../lib/site/render.ts';
import { synthesizeWeeklyRuns } from '../../lib/site/synthetic.ts';
import { DirBlobStore } from '../../lib/store/blobs.ts';
import { smallTemplate } from '../helpers/site.ts';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'swarm-bench-site-'));
  dirs.push(dir);
  return dir;
}

describe('medianInterval', () => {
  it('takes the widest-inside order statistics that still cover 95%', () => {
    const sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    // n = 10: [x(2), x(9)] covers 1 - 2 * 11/1024 = 97.9%; [x(3), x(8)] only 89%.
    expect(medianInterval(sorted)).toEqual({ low: 2, high: 9, coverage: 1 - 22 / 1024 });
  });
  it('falls back to min..max with its true coverage below 6 samples', () => {
    expect(medianInterval([3, 1, 2, 5, 4].sort())).toEqual({ low: 1, high: 5, coverage: 1 - 2 / 32 });
  });
});

describe('buildSiteModel', () => {
  const runs = synthesizeWeeklyRuns(smallTemplate(), {
    weeks: 10,
    seed: 3,
    templateChangeWeek: 100,
    failedUnitWeek: 100,
    steps: [{ week: 7, unitId: 'trading/consensus', series: 'consensus-ms', factor: 1.8 }],
  });
  const model = buildSiteModel(runs);

  it('marks the run where a series steps up as a regression, with the history detector', () => {
    const consensus = model.benchmarks.find((b) => b.unitId === 'trading/consensus')!;
    const mesh = consensus.trends.find((t) => t.name === 'consensus-ms' && t.labels.topology === 'mesh')!;
    expect(mesh.points).toHaveLength(10);
    const verdicts = mesh.points.map((point) => point.verdict);
    expect(verdicts[7]).toBe('regression');
    expect(verdicts.slice(0, 3)).toEqual(['not-enough-history', 'not-enough-history', 'not-enough-history']);
    expect(verdicts.slice(3, 7)).not.toContain('regression');
    // The band holds the median, p99 is at or above p95.
    for (const point of mesh.points) {
      expect(point.low).toBeLessThanOrEqual(point.median);
      expect(point.high).toBeGreaterThanOrEqual(point.median);
      expect(point.p99).toBeGreaterThanOrEqual(point.p95);
    }
  });

  it('counts targets and cost per run, and sums cost per month', () => {
    expect(model.runs).toHaveLength(10);
    const [run] = model.runs;
    const { pass, fail, inconclusive, pending } = run!.targets;
    expect(pass + fail + inconclusive + pending).toBe(evaluateTargets(run!.run).length);
    expect(pass + fail + inconclusive + pending).toBeGreaterThan(0);
    const total = model.runs.reduce((sum, r) => sum + r.costUsd, 0);
    expect(model.months.reduce((sum, m) => sum + m.costUsd, 0)).toBeCloseTo(total, 12);
    expect(model.months.reduce((sum, m) => sum + m.runs, 0)).toBe(10);
    expect(run!.rankings.consensus.sort()).toEqual(['hierarchical', 'mesh', 'ring', 'star']);
  });

  it('the index page counts passed, failed, inconclusive and pending targets of every run', () => {
    // Prepare: one run with known counts (1 inconclusive and 2 pending that a Pass/Fail count would hide).
    const counted = model.runs.map((run) => ({
      ...run,
      targets: { pass: 7, fail: 0, inconclusive: 1, pending: 2 },
    }));
    // Act
    const html = indexPage({ ...model, runs: counted }, []);
    // Assess
    expect(html).toContain(
      '<th scope="col">targets passed<th scope="col">failed<th scope="col">inconclusive<th scope="col">pending<th',
    );
    // Cell and row end tags are optional in HTML and left out: a row runs to the next row or the body's end.
    const rows = html.match(/<tr><td>.*?(?=<tr>|<\/tbody>)/g) ?? [];
    const runRows = rows.filter((row) => row.includes('runs/'));
    expect(runRows).toHaveLength(model.runs.length);
    for (const row of runRows) expect(row).toContain('<td>7<td>0<td>1<td>2<td>');
  });

  it('annotates commit and template changes between consecutive runs', () => {
    const changed = synthesizeWeeklyRuns(smallTemplate(), { weeks: 7, seed: 3, templateChangeWeek: 4 });
    const changes = changesBetween(changed.map((run) => run.meta));
    expect(changes.filter((c) => c.kind === 'commit').map((c) => c.runId)).toEqual([
      changed[3]!.meta.runId,
      changed[6]!.meta.runId,
    ]);
    expect(changes.filter((c) => c.kind === 'template').map((c) => c.runId)).toEqual([
      changed[4]!.meta.runId,
    ]);
  });
});

describe('charts', () => {
  it('uses a log axis only for positive values spread over more than 10x', () => {
    expect(yScale([1, 50])).toEqual({ type: 'log' });
    expect(yScale([1, 5])).toEqual({ zero: false });
    expect(yScale([0, 50])).toEqual({ zero: false });
  });
  it('rounds SVG geometry but never text, and makes the chart one image named by its label', () => {
    const svg =
      '<svg xmlns="http://www.w3.org/2000/svg" class="marks" width="10"><g class="mark-group role-axis" role="graphics-symbol" aria-label="X-axis"><line transform="translate(0,0)" x2="0" y2="5.04" stroke-width="1"/></g>' +
      '<g class="mark-line role-mark layer_1_marks" aria-roledescription="line mark"><path d="M1.23456,2.98765L3.06,4" opacity="1"/></g><text transform="translate(10.04,5)" font-family="sans-serif">0.01234 & 1</text></svg>';
    expect(compactSvg(svg, 'a "chart" <of> things')).toBe(
      '<svg role="img" aria-label="a &quot;chart&quot; &lt;of&gt; things" font-family="sans-serif" width="10"><g><line y2="5"/></g>' +
        '<g class="mark-line"><path d="M1.2,3L3.1,4"/></g><text transform="translate(10,5)">0.01234 & 1</text></svg>',
    );
    // A group that sets a stroke width keeps its children's explicit width 1.
    expect(compactSvg('<svg><g stroke-width="2"><line stroke-width="1"/></g></svg>', 'x')).toContain(
      '<line stroke-width="1"/>',
    );
  });
});

describe('generateSite', () => {
  it('renders every page once, nothing when nothing changed, and only what a new run changes', async () => {
    const runs = synthesizeWeeklyRuns(smallTemplate(), { weeks: 5, seed: 9, templateChangeWeek: 3 });
    const out = await tempDir();
    const sink = new DirBlobStore({ dir: out });

    const first = await generateSite(runs.slice(0, 4), sink);
    expect(first.rendered).toHaveLength(first.pages);
    // 2 style sheets, methodology, index, all runs, topologies, 3 benchmarks, 4 runs
    expect(first.pages).toBe(3 + 3 + 3 + 4);
    const manifest = await readFile(join(out, MANIFEST_NAME), 'utf8');

    const again = await generateSite(runs.slice(0, 4), sink);
    expect(again.rendered).toEqual([]);
    expect(await readFile(join(out, MANIFEST_NAME), 'utf8')).toBe(manifest);

    const more = await generateSite(runs, sink);
    expect(more.rendered.sort()).toEqual(
      [
        'index.html',
        'runs.html',
        'topologies.html',
        'benchmarks/trading-consensus.html',
        'benchmarks/communication-inter-agent-latency.html',
        'benchmarks/cost-cost-per-topology.html',
        runPage(runs[4]!.meta.runId),
      ].sort(),
    );
    const all = await readFile(join(out, 'runs.html'), 'utf8');
    for (const run of runs) expect(all).toContain(runPage(run.meta.runId));

    // --force renders every page whatever the manifest says.
    const forced = await generateSite(runs, sink, { force: true });
    expect(forced.rendered).toHaveLength(forced.pages);
  });
});

describe('generateSite with worker threads', () => {
  it('writes the very same pages and manifest as rendering in this thread, and keeps incremental counts', async () => {
    const runs = synthesizeWeeklyRuns(smallTemplate(), { weeks: 4, seed: 11, templateChangeWeek: 2 });
    const [here, pooled] = [await tempDir(), await tempDir()];
    const inThread = await generateSite(runs.slice(0, 3), new DirBlobStore({ dir: here }), { workers: 0 });
    const inPool = await generateSite(runs.slice(0, 3), new DirBlobStore({ dir: pooled }), { workers: 2 });
    expect(inThread.phases.workers).toBe(0);
    expect(inPool.phases.workers).toBe(2);
    expect(inPool.rendered).toEqual(inThread.rendered);
    expect(inPool.charts).toBe(inThread.charts);
    const files = [MANIFEST_NAME, ...inThread.rendered];
    for (const file of files) {
      expect(await readFile(join(pooled, file), 'utf8'), file).toBe(await readFile(join(here, file), 'utf8'));
    }
    // One more run through the pool: its page, the index, all runs, topologies and the 3 benchmarks.
    const more = await generateSite(runs, new DirBlobStore({ dir: pooled }), { workers: 2 });
    expect(more.rendered).toHaveLength(7);
    expect(more.rendered).toContain(runPage(runs[3]!.meta.runId));
  });
});

describe('workerRenderer', () => {
  const task = { kind: 'benchmark', benchmark: {} } as unknown as PageTask;
  const program = (source: string) => new URL(`data:text/javascript,${encodeURIComponent(source)}`);

  it("fails a page with the worker's error", async () => {
    const pool = workerRenderer(
      1,
      program(
        "import { parentPort } from 'node:worker_threads'; parentPort.on('message', ({ id }) => parentPort.postMessage({ id, error: 'no such chart' }));",
      ),
    );
    try {
      await expect(pool.render(task)).rejects.toThrow(/a page failed to render: no such chart/);
    } finally {
      await pool.close();
    }
  });

  it('fails the pages in flight and every later one when a worker dies', async () => {
    const pool = workerRenderer(
      1,
      program(
        "import { parentPort } from 'node:worker_threads'; parentPort.on('message', () => process.exit(3));",
      ),
    );
    try {
      await expect(pool.render(task)).rejects.toThrow(/worker stopped \(exit code 3\)/);
      await expect(pool.render(task)).rejects.toThrow(/worker stopped/);
    } finally {
      await pool.close();
    }
  });
});

describe('swarm-bench site', () => {
  it('refuses a missing --out, an --out that is a file and a bad --workers with exit 2, before opening the store', async () => {
    const dir = await tempDir();
    const file = join(dir, 'file');
    await writeFile(file, 'x');
    const errors: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((text: string) => {
      errors.push(text);
      return true;
    }) as typeof process.stderr.write;
    try {
      expect(await main(['site'], {})).toBe(2);
      expect(await main(['site', '--out', file, '--store', join(dir, 'store')], {})).toBe(2);
      expect(
        await main(
          ['site', '--out', join(dir, 'site'), '--workers', 'many', '--store', join(dir, 'store')],
          {},
        ),
      ).toBe(2);
    } finally {
      process.stderr.write = write;
    }
    expect(errors.join('')).toMatch(/--out/);
    expect(errors.join('')).toMatch(/--workers: an integer from 0 to 8/);
  });
});
