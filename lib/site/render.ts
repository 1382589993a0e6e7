/**
 * The site's heavy pages as tasks of plain data: a benchmark's trend page and a run's report page.
 * Each task is a pure function of its data, rendered alike in the generating thread or in a worker
 * (lib/site/pool.ts), so where a page is rendered never changes a byte of it.
 */
import type { RunResults } from '../bench/model.ts';
import type { HistoryComparison } from '../history/compare.ts';
import type { RunAnalysis } from '../report/analysis.ts';
import { renderCharts, specToSvg } from '../report/charts.ts';
import { renderHtml } from '../report/html.ts';
import { compactSvg, figureTrendChart, type SiteChart, seriesTrendChart } from './charts.ts';
import type { BenchmarkModel, Trend } from './model.ts';
import { benchmarkPageHtml, METHODOLOGY_PAGE, REPORT_CSS, withSiteNav } from './pages.ts';

/** A page to render: a benchmark's trends, or a run's report (analysis: analyzeRun(run)). */
export type PageTask =
  | { kind: 'benchmark'; benchmark: BenchmarkModel }
  | { kind: 'run'; run: RunResults; history: HistoryComparison; analysis: RunAnalysis };

/** A rendered page: its HTML, how many charts it drew, and milliseconds spent on them and on it all. */
export interface RenderedPage {
  html: string;
  charts: number;
  chartsMs: number;
  renderMs: number;
}

/** Draw a site chart: its SVG, compacted and named by its description. */
export async function drawChart(chart: SiteChart): Promise<{ chart: SiteChart; svg: string }> {
  return { chart, svg: compactSvg(await specToSvg(chart.spec), chart.description) };
}

/** Render one page task. */
export async function renderPage(task: PageTask): Promise<RenderedPage> {
  const started = performance.now();
  const page = await (task.kind === 'benchmark' ? renderBenchmark(task.benchmark) : renderRun(task));
  return { ...page, renderMs: performance.now() - started };
}

async function renderBenchmark(benchmark: BenchmarkModel): Promise<Omit<RenderedPage, 'renderMs'>> {
  const started = performance.now();
  const charts: Array<{ chart: SiteChart; svg: string; trends: Trend[] }> = [];
  for (const trend of benchmark.trends.filter((t) => t.kind === 'series')) {
    charts.push({ ...(await drawChart(seriesTrendChart(trend, benchmark.changes))), trends: [trend] });
  }
  const figures = new Map<string, Trend[]>();
  for (const trend of benchmark.trends.filter((t) => t.kind === 'figure')) {
    figures.set(trend.name, [...(figures.get(trend.name) ?? []), trend]);
  }
  let index = 0;
  for (const [name, trends] of figures) {
    index += 1;
    charts.push({
      ...(await drawChart(figureTrendChart(`figure-${index}`, name, trends, benchmark.changes))),
      trends,
    });
  }
  const chartsMs = performance.now() - started;
  return { html: benchmarkPageHtml(benchmark, charts), charts: charts.length, chartsMs };
}

async function renderRun({
  run,
  history,
  analysis,
}: Extract<PageTask, { kind: 'run' }>): Promise<Omit<RenderedPage, 'renderMs'>> {
  // The run's own report, exactly as Publish renders it, with the site's navigation added.
  // Named by its title, as its caption; the values it draws are in the report's tables.
  const started = performance.now();
  const charts = (await renderCharts(run)).map((chart) => ({
    ...chart,
    svg: compactSvg(chart.svg, chart.title),
  }));
  const chartsMs = performance.now() - started;
  const root = '../../';
  const html = renderHtml(run, charts, {
    history,
    analysis,
    methodologyHref: `${root}${METHODOLOGY_PAGE}`,
    stylesheetHref: `${root}${REPORT_CSS}`,
  });
  return { html: withSiteNav(html, root), charts: charts.length, chartsMs };
}
