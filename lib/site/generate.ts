/**
 * Generate the trend site into a sink, incrementally: every page is a pure function of a plain
 * input (the run and its history, a benchmark's trends, ...); the sink keeps `manifest.json` with
 * each page's input hash, and a page whose hash is unchanged is neither rendered nor written. A
 * new weekly run thus renders its own page, the index, the benchmark pages and the topology page,
 * and none of the earlier runs' pages.
 */
import { createHash } from 'node:crypto';
import type { RunResults } from '../bench/model.ts';
import { renderCharts, specToSvg } from '../report/charts.ts';
import { modelToHtml, REPORT_STYLE, renderHtml } from '../report/html.ts';
import { methodologyModel } from '../report/sections.ts';
import type { BlobStore, ResultStore } from '../store/types.ts';
import {
  compactSvg,
  costPerMonthChart,
  costPerRunChart,
  figureTrendChart,
  rankingChart,
  type SiteChart,
  seriesTrendChart,
} from './charts.ts';
import {
  buildSiteModel,
  loadSiteRuns,
  runPage,
  type SiteModel,
  TOPOLOGY_METRICS,
  type Trend,
} from './model.ts';
import {
  benchmarkPageHtml,
  indexPage,
  METHODOLOGY_PAGE,
  REPORT_CSS,
  RUNS_PAGE,
  runsPage,
  SITE_CSS,
  SITE_NAV_STYLE,
  SITE_STYLE,
  topologiesPage,
  withSiteNav,
} from './pages.ts';

/**
 * Where the site goes: a BlobStore (put and get by relative key). Locally a DirBlobStore on the
 * output directory; on AWS an S3BlobStore with the prefix `site/`.
 */
export type SiteSink = Pick<BlobStore, 'put' | 'get'>;

/** Bump when the pages' rendering changes, so every page is rendered again once. */
export const SITE_VERSION = 2;
export const MANIFEST_NAME = 'manifest.json';

export interface SiteManifest {
  version: number;
  /** Page name -> input hash and size in bytes. */
  pages: Record<string, { hash: string; bytes: number }>;
}

export interface GenerateSiteOptions {
  /** Render every page whatever the manifest says. @default false */
  force?: boolean;
}

export interface SiteOutcome {
  /** Pages rendered and written this time. */
  rendered: string[];
  /** Pages whose inputs were unchanged. */
  unchanged: number;
  /** Pages in the site, and their total size in bytes (manifest included). */
  pages: number;
  totalBytes: number;
  /** Charts rendered this time. */
  charts: number;
  runs: number;
}

interface PagePlan {
  name: string;
  input: unknown;
  render: () => Promise<{ html: string; charts: number }>;
  /** @default 'text/html; charset=utf-8' */
  contentType?: string;
}

/** Load every finished run from the store and generate the site from them. */
export async function publishSite(
  store: Pick<ResultStore, 'listRuns' | 'getResults'>,
  sink: SiteSink,
  options: GenerateSiteOptions & {
    /** A run being published: its final state, before the store records it (Publish). */
    current?: RunResults;
  } = {},
): Promise<SiteOutcome> {
  const { current, ...rest } = options;
  const stored = await loadSiteRuns(store);
  const runs =
    current === undefined
      ? stored
      : [...stored.filter((run) => run.meta.runId !== current.meta.runId), current];
  return generateSite(runs, sink, rest);
}

/** Generate (incrementally) the site for these runs into the sink. */
export async function generateSite(
  runs: readonly RunResults[],
  sink: SiteSink,
  options: GenerateSiteOptions = {},
): Promise<SiteOutcome> {
  const model = buildSiteModel(runs);
  const plans = planPages(model);
  const previous = options.force ? undefined : await readManifest(sink);
  const manifest: SiteManifest = { version: SITE_VERSION, pages: {} };
  const rendered: string[] = [];
  let charts = 0;
  for (const plan of plans) {
    const hash = inputHash(plan.input);
    const before = previous?.pages[plan.name];
    if (before !== undefined && before.hash === hash) {
      manifest.pages[plan.name] = before;
      continue;
    }
    const page = await plan.render();
    await sink.put(plan.name, page.html, plan.contentType ?? 'text/html; charset=utf-8');
    manifest.pages[plan.name] = { hash, bytes: Buffer.byteLength(page.html) };
    rendered.push(plan.name);
    charts += page.charts;
  }
  // Written last: a generation that stops half-way leaves the old hashes, so the next one redoes it.
  const manifestText = `${JSON.stringify(manifest, null, 1)}\n`;
  if (rendered.length > 0 || previous === undefined) {
    await sink.put(MANIFEST_NAME, manifestText, 'application/json');
  }
  const pages = Object.values(manifest.pages);
  return {
    rendered,
    unchanged: plans.length - rendered.length,
    pages: pages.length,
    totalBytes: pages.reduce((sum, page) => sum + page.bytes, 0) + Buffer.byteLength(manifestText),
    charts,
    runs: model.runs.length,
  };
}

async function readManifest(sink: SiteSink): Promise<SiteManifest | undefined> {
  const text = await sink.get(MANIFEST_NAME);
  if (text === undefined) return undefined;
  try {
    const parsed = JSON.parse(text) as SiteManifest;
    // Another generator version, or not a manifest at all: render everything again.
    return parsed?.version === SITE_VERSION && typeof parsed.pages === 'object' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function inputHash(input: unknown): string {
  return createHash('sha256').update(`${SITE_VERSION}\n`).update(JSON.stringify(input)).digest('hex');
}

async function rendered(chart: SiteChart): Promise<{ chart: SiteChart; svg: string }> {
  return { chart, svg: compactSvg(await specToSvg(chart.spec), chart.description) };
}

/** Every page of the site with its input (what its hash covers) and its renderer. */
function planPages(model: SiteModel): PagePlan[] {
  const plans: PagePlan[] = [];
  // Shared by every page, so each page carries none of it: the style sheets and the methodology.
  const asset = (name: string, text: string, contentType: string): PagePlan => ({
    name,
    input: text,
    contentType,
    render: async () => ({ html: text, charts: 0 }),
  });
  plans.push(asset(SITE_CSS, `${SITE_STYLE}\n`, 'text/css; charset=utf-8'));
  plans.push(asset(REPORT_CSS, `${REPORT_STYLE}\n${SITE_NAV_STYLE}\n`, 'text/css; charset=utf-8'));
  plans.push(
    asset(
      METHODOLOGY_PAGE,
      withSiteNav(modelToHtml(methodologyModel(), new Map(), { stylesheetHref: REPORT_CSS }), ''),
      'text/html; charset=utf-8',
    ),
  );
  const indexInput = {
    runs: model.runs.map((run) => ({
      meta: run.run.meta,
      targets: run.targets,
      costUsd: run.costUsd,
      projected: run.projected,
      regressions: run.history.regressions,
      improvements: run.history.improvements,
      baselineRuns: run.history.baselineRuns.length,
    })),
    months: model.months,
    benchmarks: model.benchmarks.map((b) => [b.unitId, b.title, b.trends.length]),
    latest: model.runs[model.runs.length - 1]?.history.rows.filter(
      (row) => row.verdict === 'regression' || row.verdict === 'improvement',
    ),
  };
  plans.push({
    name: 'index.html',
    input: indexInput,
    render: async () => {
      const charts = [await rendered(costPerRunChart(model)), await rendered(costPerMonthChart(model))];
      return { html: indexPage(model, charts), charts: charts.length };
    },
  });
  plans.push({
    name: RUNS_PAGE,
    input: indexInput.runs,
    render: async () => ({ html: runsPage(model), charts: 0 }),
  });
  plans.push({
    name: 'topologies.html',
    input: model.runs.map((run) => [run.run.meta.runId, run.run.meta.startedAt, run.rankings]),
    render: async () => {
      const charts = [];
      // A metric no run measured gets no chart (an empty one would look like a drawing failure).
      for (const metric of TOPOLOGY_METRICS) {
        if (model.runs.some((run) => run.rankings[metric.id].length > 0))
          charts.push(await rendered(rankingChart(model, metric)));
      }
      return { html: topologiesPage(model, charts), charts: charts.length };
    },
  });
  for (const benchmark of model.benchmarks) {
    plans.push({
      name: benchmark.page,
      input: benchmark,
      render: async () => {
        const charts: Array<{ chart: SiteChart; svg: string; trends: Trend[] }> = [];
        for (const trend of benchmark.trends.filter((t) => t.kind === 'series')) {
          charts.push({ ...(await rendered(seriesTrendChart(trend, benchmark.changes))), trends: [trend] });
        }
        const figures = new Map<string, Trend[]>();
        for (const trend of benchmark.trends.filter((t) => t.kind === 'figure')) {
          figures.set(trend.name, [...(figures.get(trend.name) ?? []), trend]);
        }
        let index = 0;
        for (const [name, trends] of figures) {
          index += 1;
          charts.push({
            ...(await rendered(figureTrendChart(`figure-${index}`, name, trends, benchmark.changes))),
            trends,
          });
        }
        return { html: benchmarkPageHtml(benchmark, charts), charts: charts.length };
      },
    });
  }
  for (const { run, history } of model.runs) {
    plans.push({
      name: runPage(run.meta.runId),
      input: { run, history },
      render: async () => {
        // The run's own report, exactly as Publish renders it, with the site's navigation added.
        // Named by its title, as its caption; the values it draws are in the report's tables.
        const charts = (await renderCharts(run)).map((chart) => ({
          ...chart,
          svg: compactSvg(chart.svg, chart.title),
        }));
        const root = '../../';
        const html = renderHtml(run, charts, {
          history,
          methodologyHref: `${root}${METHODOLOGY_PAGE}`,
          stylesheetHref: `${root}${REPORT_CSS}`,
        });
        return { html: withSiteNav(html, root), charts: charts.length };
      },
    });
  }
  return plans;
}
