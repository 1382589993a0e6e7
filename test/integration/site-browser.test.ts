/**
 * The trend site in a real headless browser: runs stored in the embedded store, the site written by
 * `swarm-bench site`, served on 127.0.0.1 and crawled by Debian's Chromium (playwright-core).
 * Without Chromium this test fails with the install command; it is never skipped.
 *
 * Screenshots are checked for structural pixel properties, not against a committed PNG: fonts,
 * hinting and anti-aliasing differ between machines and Chromium builds, so a pixel diff either
 * flakes or needs a tolerance loose enough to miss a blank chart. What does not vary is colour:
 * the chart's median line, its interval band, the regression marker and the table header are
 * drawn in fixed colours, in known regions, whatever the fonts.
 */
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../bin/swarm-bench.ts';
import { MemoryNotifier } from '../../lib/notify/local.ts';
import { publishStep } from '../../lib/pipeline/steps.ts';
import { DirReportSink } from '../../lib/publish/dir.ts';
import { runPage } from '../../lib/site/model.ts';
import { storeRuns, synthesizeWeeklyRuns } from '../../lib/site/synthetic.ts';
import { DirBlobStore } from '../../lib/store/blobs.ts';
import { openEmbeddedStore } from '../../lib/store/embedded.ts';
import { type Browser, launchChromium, serveDirectory } from '../helpers/browser.ts';
import { smallTemplate } from '../helpers/site.ts';

const runs = synthesizeWeeklyRuns(smallTemplate(), {
  weeks: 6,
  seed: 5,
  templateChangeWeek: 5,
  failedUnitWeek: 2,
  steps: [{ week: 4, unitId: 'trading/consensus', series: 'consensus-ms', factor: 2 }],
});

let work: string;
let server: { url: string; close(): Promise<void> };
let browser: Browser | undefined;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'swarm-bench-site-browser-'));
  const opened = await openEmbeddedStore({ dir: join(work, 'store') });
  try {
    await storeRuns(opened.store, runs);
  } finally {
    await opened.close();
  }
  const quiet = process.stdout.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    expect(await main(['site', '--out', join(work, 'site'), '--store', join(work, 'store')], {})).toBe(0);
  } finally {
    process.stdout.write = quiet;
  }
  // Served under a path prefix holding a token, the way a prefix-scoped signed link would serve
  // it: every link must stay under the prefix, so relative links carry the token along.
  server = await serveDirectory(join(work, 'site'), { prefix: 'signed/t0k3n/site/' });
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Open a page, failing on any console error, page error or failed request. */
async function open(path: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser!.context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));
  const response = await page.goto(new URL(path, server.url).href, { waitUntil: 'load' });
  if (response?.status() !== 200) problems.push(`status ${response?.status()} for ${path}`);
  return { page, problems };
}

describe('the generated site in Chromium', () => {
  it('loads every page reachable from the index without errors, with every chart drawn and every link resolving', async () => {
    const seen = new Set<string>();
    const queue = ['index.html'];
    const anchors: Array<{ from: string; page: string; id: string }> = [];
    let charts = 0;
    while (queue.length > 0) {
      const path = queue.shift()!;
      if (seen.has(path)) continue;
      seen.add(path);
      const { page, problems } = await open(path);
      try {
        expect(problems, path).toEqual([]);
        // Every chart is an SVG with marks, a text alternative and a caption.
        const figures = await page.$$eval('figure', (nodes) =>
          nodes.map((figure) => ({
            svg: figure.querySelector('svg') !== null,
            marks: figure.querySelectorAll(
              'svg [class*="mark-"] path, svg [class*="mark-"] rect, svg [class*="mark-"] line',
            ).length,
            label: figure.querySelector('svg')?.getAttribute('aria-label') ?? '',
            caption: figure.querySelector('figcaption')?.textContent ?? '',
          })),
        );
        for (const figure of figures) {
          expect(figure.svg, path).toBe(true);
          if (!path.startsWith('runs/')) expect(figure.label.length, path).toBeGreaterThan(10);
          expect(figure.marks, path).toBeGreaterThan(0);
          expect(figure.caption.length, path).toBeGreaterThan(10);
        }
        charts += figures.length;
        const links = await page.$$eval('a[href], link[href]', (nodes) =>
          nodes.map((node) => ({
            href: (node as unknown as { href: string }).href,
            raw: node.getAttribute('href') ?? '',
          })),
        );
        for (const { href, raw } of links) {
          expect(raw, `${path}: a link that is not relative`).not.toMatch(/^(?:[a-z][a-z0-9+.-]*:|\/)/i);
          const url = new URL(href);
          expect(url.href.startsWith(server.url), `${path} links outside the site: ${href}`).toBe(true);
          const target = url.pathname.slice(new URL(server.url).pathname.length);
          if (url.hash !== '')
            anchors.push({ from: path, page: target, id: decodeURIComponent(url.hash.slice(1)) });
          if (!seen.has(target)) queue.push(target);
        }
      } finally {
        await page.close();
      }
    }
    // Index, all runs, topologies, methodology, 2 style sheets, 3 benchmarks and every run.
    expect(seen).toContain('topologies.html');
    expect(seen).toContain('runs.html');
    expect(seen).toContain('methodology.html');
    for (const run of runs) expect(seen).toContain(runPage(run.meta.runId));
    expect(seen.size).toBe(6 + 3 + runs.length);
    expect(charts).toBeGreaterThan(15);
    const unique = new Map(anchors.map((anchor) => [`${anchor.page}#${anchor.id}`, anchor]));
    for (const anchor of unique.values()) {
      const { page } = await open(anchor.page);
      try {
        expect(
          await page.$(`[id="${anchor.id}"]`),
          `${anchor.from} -> ${anchor.page}#${anchor.id}`,
        ).not.toBeNull();
      } finally {
        await page.close();
      }
    }
  }, 180_000);

  it('draws the index and a benchmark chart with their fixed colours where they belong (screenshot)', async () => {
    const index = await open('index.html');
    const indexShot = await index.page.screenshot({ fullPage: false });
    await index.page.close();
    const bench = await open('benchmarks/trading-consensus.html');
    // The mesh consensus chart: regression injected from week 4, so a red triangle must be drawn.
    const chart = await bench.page.$('figure:has(svg[aria-label*="topology=mesh"])');
    expect(chart).not.toBeNull();
    const chartShot = await chart!.screenshot();
    await bench.page.close();

    const indexColours = await colourCounts(indexShot, {
      header: [0xf6, 0xf8, 0xfa], // table header background
      link: [0x09, 0x69, 0xda], // links and the measured-cost bars
    });
    expect(indexColours.total).toBe(1280 * 900);
    expect(indexColours.header).toBeGreaterThan(2_000);
    expect(indexColours.link).toBeGreaterThan(200);
    expect(indexColours.white / indexColours.total).toBeGreaterThan(0.4); // not an error page in red

    const chartColours = await colourCounts(chartShot, {
      median: [0x1f, 0x77, 0xb4],
      band: [0xd3, 0xe4, 0xf0], // the median's colour at 22% over white
      regression: [0xd6, 0x27, 0x28],
    });
    expect(chartColours.median).toBeGreaterThan(100);
    expect(chartColours.band).toBeGreaterThan(500);
    expect(chartColours.regression).toBeGreaterThan(10);
  }, 120_000);
});

/**
 * Pixels of a PNG close to each named colour (each channel within 12), counted in the browser
 * itself (canvas), plus the white and total counts.
 */
async function colourCounts(
  png: Buffer,
  colours: Record<string, [number, number, number]>,
): Promise<Record<string, number> & { white: number; total: number }> {
  const page = await browser!.context.newPage();
  try {
    await page.goto(new URL('index.html', server.url).href);
    // A string so it runs in the page (this file is not compiled with the DOM types).
    const script = `(async () => {
      const image = new Image();
      image.src = 'data:image/png;base64,${png.toString('base64')}';
      await image.decode();
      const canvas = document.createElement('canvas');
      canvas.width = image.width;
      canvas.height = image.height;
      const context = canvas.getContext('2d');
      context.drawImage(image, 0, 0);
      const data = context.getImageData(0, 0, image.width, image.height).data;
      const colours = ${JSON.stringify(colours)};
      const counts = { white: 0, total: image.width * image.height };
      for (const name of Object.keys(colours)) counts[name] = 0;
      for (let i = 0; i < data.length; i += 4) {
        const r = data[i], g = data[i + 1], b = data[i + 2];
        if (r > 250 && g > 250 && b > 250) counts.white++;
        for (const [name, [cr, cg, cb]] of Object.entries(colours)) {
          if (Math.abs(r - cr) <= 12 && Math.abs(g - cg) <= 12 && Math.abs(b - cb) <= 12) counts[name]++;
        }
      }
      return counts;
    })()`;
    return (await page.evaluate(script)) as Record<string, number> & { white: number; total: number };
  } finally {
    await page.close();
  }
}

describe('Publish with the site', () => {
  it('regenerates the site and links the notification to the run page in it; a broken site keeps the report link', async () => {
    const opened = await openEmbeddedStore({ dir: join(work, 'store') });
    try {
      const [extra] = synthesizeWeeklyRuns(smallTemplate(), {
        weeks: 1,
        seed: 77,
        firstStartedAt: '2026-06-01T00:00:05.000Z',
      });
      const { endedAt: _endedAt, ...running } = extra!.meta;
      await opened.store.createRun({ ...running, status: 'running' });
      for (const result of extra!.results) await opened.store.putResult(result);
      const notifier = new MemoryNotifier();
      const deps = {
        store: opened.store,
        sink: new DirReportSink(join(work, 'reports')),
        // Not a real link: no request leaves the machine; the name is what is checked.
        presign: async (name: string) => `https://reports.invalid/${name}`,
        notifier,
        now: () => new Date('2026-06-01T01:00:00Z'),
      };
      const output = await publishStep(
        { runId: extra!.meta.runId },
        { ...deps, site: { sink: new DirBlobStore({ dir: join(work, 'published-site') }), prefix: 'site/' } },
      );
      const page = runPage(extra!.meta.runId);
      expect(output.reportUrl).toBe(`https://reports.invalid/site/${page}`);
      await access(join(work, 'published-site', page));
      expect(notifier.sent[0]?.message).toContain(output.reportUrl);

      const broken = {
        put: async () => {
          throw new Error('bucket unavailable');
        },
        get: async () => undefined,
      };
      const again = await publishStep(
        { runId: extra!.meta.runId },
        { ...deps, site: { sink: broken, prefix: 'site/' } },
      );
      expect(again.reportUrl).toBe(
        `https://reports.invalid/runs/${extra!.meta.runId}/SWARM_BENCHMARKS_REPORT.md`,
      );
      expect(again.summary).toContain('trend site was not updated (bucket unavailable)');
    } finally {
      await opened.close();
    }
  }, 180_000);
});
