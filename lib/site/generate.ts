/**
 * Generate the trend site into a sink, incrementally: every page is a pure function of a plain
 * input (the run and its history, a benchmark's trends, ...); the sink keeps `manifest.json` with
 * each page's input hash, and a page whose hash is unchanged is neither rendered nor written. A
 * new weekly run thus renders its own page, the index, the benchmark pages and the topology page,
 * and none of the earlier runs' pages.
 */
import { createHash } from 'node:crypto';
import type { RunResults } from '../bench/model.ts';
import { modelToHtml, REPORT_STYLE } from '../report/html.ts';
import { methodologyModel } from '../report/sections.ts';
import type { BlobStore, ResultStore } from '../store/types.ts';
import { costPerMonthChart, costPerRunChart, rankingChart, type SiteChart } from './charts.ts';
import { buildSiteModel, loadSiteRuns, runPage, type SiteModel, TOPOLOGY_METRICS } from './model.ts';
import {
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
import { PER_WORKER, renderWorkerUrl, workerRenderer } from './pool.ts';
import { drawChart, type PageTask, type RenderedPage, renderPage } from './render.ts';

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
  /**
   * Worker threads rendering benchmark and run pages beside this thread. @default 0: every page
   * in this thread. On the 2-core bench machine one worker made a 52-run site slower (10-11 s of
   * CPU instead of 6: each worker loads and JIT-compiles the chart libraries and compiles its own
   * chart shapes), so workers are for machines with cores to spare.
   */
  workers?: number;
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
  /** Where the time went, in milliseconds (see SitePhases). */
  phases: SitePhases;
}

/**
 * Time per phase of a generation, in milliseconds: reading the runs from the store (publishSite
 * only), deriving the model (history comparisons, targets, cost, trends), hashing the pages'
 * inputs, rendering charts to SVG, rendering the pages' HTML around them, writing to the sink,
 * and `render`, the wall time from the first page rendered to the last one written. With worker
 * threads, `charts` and `pages` add up the time of every thread (this one and the workers), so
 * together they may exceed `render`.
 */
export interface SitePhases {
  load: number;
  model: number;
  hash: number;
  charts: number;
  pages: number;
  write: number;
  render: number;
  /** Worker threads that rendered pages (0: all in this thread). */
  workers: number;
}

interface PagePlan {
  name: string;
  input: unknown;
  /** A page rendered here (small ones), or a task for whichever renderer (lib/site/render.ts). */
  render: (() => Promise<RenderedPage>) | PageTask;
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
  const started = performance.now();
  const stored = await loadSiteRuns(store);
  const runs =
    current === undefined
      ? stored
      : [...stored.filter((run) => run.meta.runId !== current.meta.runId), current];
  const load = performance.now() - started;
  const outcome = await generateSite(runs, sink, rest);
  return { ...outcome, phases: { ...outcome.phases, load } };
}

/** Generate (incrementally) the site for these runs into the sink. */
export async function generateSite(
  runs: readonly RunResults[],
  sink: SiteSink,
  options: GenerateSiteOptions = {},
): Promise<SiteOutcome> {
  const phases: SitePhases = {
    load: 0,
    model: 0,
    hash: 0,
    charts: 0,
    pages: 0,
    write: 0,
    render: 0,
    workers: 0,
  };
  // Started first, so that the workers load the chart libraries while this thread builds the model.
  const workerUrl = renderWorkerUrl();
  const workers = workerUrl === undefined ? 0 : (options.workers ?? 0);
  const pool = workers > 0 ? workerRenderer(workers, workerUrl!) : undefined;
  phases.workers = workers;
  const done = new Map<string, { bytes: number; charts: number }>();
  let started = performance.now();
  try {
    const model = buildSiteModel(runs);
    const plans = planPages(model);
    phases.model = performance.now() - started;
    const previous = options.force ? undefined : await readManifest(sink);
    started = performance.now();
    const hashes = plans.map((plan) => inputHash(plan.input));
    phases.hash = performance.now() - started;
    const todo = plans.filter((plan, index) => previous?.pages[plan.name]?.hash !== hashes[index]);
    const finish = async (plan: PagePlan, page: RenderedPage) => {
      phases.charts += page.chartsMs;
      phases.pages += page.renderMs - page.chartsMs;
      const writing = performance.now();
      await sink.put(plan.name, page.html, plan.contentType ?? 'text/html; charset=utf-8');
      phases.write += performance.now() - writing;
      done.set(plan.name, { bytes: Buffer.byteLength(page.html), charts: page.charts });
    };
    started = performance.now();
    // The small pages here first; then this thread and the workers take the tasks from one queue,
    // the largest first so that none is left to run alone at the end.
    const queue = todo
      .flatMap((plan) => (typeof plan.render === 'function' ? [] : [{ plan, task: plan.render }]))
      .sort((a, b) => taskWeight(b.task) - taskWeight(a.task));
    const lane = async (render: (task: PageTask) => Promise<RenderedPage>) => {
      try {
        for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
          await finish(next.plan, await render(next.task));
        }
      } catch (error) {
        queue.length = 0; // the other lanes stop after their current page
        throw error;
      }
    };
    const here = async () => {
      for (const plan of todo) {
        if (typeof plan.render !== 'function') continue;
        const began = performance.now();
        const page = await plan.render();
        await finish(plan, { ...page, renderMs: performance.now() - began });
      }
      await lane(async (task) => {
        const began = performance.now();
        return { ...(await renderPage(task)), renderMs: performance.now() - began };
      });
    };
    const lanes = [here()];
    if (pool !== undefined) {
      for (let index = 0; index < workers * PER_WORKER; index++)
        lanes.push(lane((task) => pool.render(task)));
    }
    // Every lane settles before this returns, so nothing is written after a failure is reported.
    const failed = (await Promise.allSettled(lanes)).find((lane) => lane.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    phases.render = performance.now() - started;
    return finishManifest(plans, hashes, previous, done, phases, sink, model.runs.length);
  } finally {
    await pool?.close();
  }
}

/** Rough cost of a task, to hand out the largest first: its charts. */
function taskWeight(task: PageTask): number {
  return task.kind === 'benchmark' ? task.benchmark.trends.length : 4;
}

/** The manifest in plan order (whatever order the pages were done in), written last; the outcome. */
async function finishManifest(
  plans: readonly PagePlan[],
  hashes: readonly string[],
  previous: SiteManifest | undefined,
  done: ReadonlyMap<string, { bytes: number; charts: number }>,
  phases: SitePhases,
  sink: SiteSink,
  runs: number,
): Promise<SiteOutcome> {
  const manifest: SiteManifest = { version: SITE_VERSION, pages: {} };
  const rendered: string[] = [];
  let charts = 0;
  // In plan order, whatever order the pages were done in: the same site, the same manifest.
  for (const [index, plan] of plans.entries()) {
    const page = done.get(plan.name);
    if (page === undefined) {
      manifest.pages[plan.name] = previous!.pages[plan.name]!;
      continue;
    }
    manifest.pages[plan.name] = { hash: hashes[index]!, bytes: page.bytes };
    rendered.push(plan.name);
    charts += page.charts;
  }
  // Written last: a generation that stops half-way leaves the old hashes, so the next one redoes it.
  const manifestText = `${JSON.stringify(manifest, null, 1)}\n`;
  if (rendered.length > 0 || previous === undefined) {
    const started = performance.now();
    await sink.put(MANIFEST_NAME, manifestText, 'application/json');
    phases.write += performance.now() - started;
  }
  const pages = Object.values(manifest.pages);
  return {
    rendered,
    unchanged: plans.length - rendered.length,
    pages: pages.length,
    totalBytes: pages.reduce((sum, page) => sum + page.bytes, 0) + Buffer.byteLength(manifestText),
    charts,
    runs,
    phases,
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

/** Every page of the site with its input (what its hash covers) and its renderer. */
function planPages(model: SiteModel): PagePlan[] {
  /** Draw charts one after the other, counting their time. */
  const drawAll = async (charts: readonly SiteChart[]) => {
    const started = performance.now();
    const drawn = [];
    for (const chart of charts) drawn.push(await drawChart(chart));
    return { drawn, chartsMs: performance.now() - started };
  };
  const plans: PagePlan[] = [];
  // Shared by every page, so each page carries none of it: the style sheets and the methodology.
  const asset = (name: string, text: string, contentType: string): PagePlan => ({
    name,
    input: text,
    contentType,
    render: async () => ({ html: text, charts: 0, chartsMs: 0, renderMs: 0 }),
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
      const { drawn, chartsMs } = await drawAll([costPerRunChart(model), costPerMonthChart(model)]);
      return { html: indexPage(model, drawn), charts: drawn.length, chartsMs, renderMs: 0 };
    },
  });
  plans.push({
    name: RUNS_PAGE,
    input: indexInput.runs,
    render: async () => ({ html: runsPage(model), charts: 0, chartsMs: 0, renderMs: 0 }),
  });
  plans.push({
    name: 'topologies.html',
    input: model.runs.map((run) => [run.run.meta.runId, run.run.meta.startedAt, run.rankings]),
    render: async () => {
      // A metric no run measured gets no chart (an empty one would look like a drawing failure).
      const metrics = TOPOLOGY_METRICS.filter((metric) =>
        model.runs.some((run) => run.rankings[metric.id].length > 0),
      );
      const { drawn, chartsMs } = await drawAll(metrics.map((metric) => rankingChart(model, metric)));
      return { html: topologiesPage(model, drawn), charts: drawn.length, chartsMs, renderMs: 0 };
    },
  });
  for (const benchmark of model.benchmarks) {
    plans.push({ name: benchmark.page, input: benchmark, render: { kind: 'benchmark', benchmark } });
  }
  for (const { run, history, analysis } of model.runs) {
    plans.push({
      name: runPage(run.meta.runId),
      input: { run, history },
      render: { kind: 'run', run, history, analysis },
    });
  }
  return plans;
}
