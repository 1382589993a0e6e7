/** Render every format of a run's report and hand them to a sink. */
import type { RunResults } from '../bench/model.ts';
import type { HistoryComparison } from '../history/compare.ts';
import type { ReportSink } from '../publish/types.ts';
import { isTransientError, type RetryOptions, retry } from '../retry.ts';
import { renderCharts } from './charts.ts';
import { renderHtml } from './html.ts';
import { renderJson } from './json.ts';
import { renderMarkdown } from './markdown.ts';

/** Options of writeReport. */
export interface WriteReportOptions {
  /** File name without extension. @default 'SWARM_BENCHMARKS_REPORT' */
  basename?: string;
  /** The comparison with earlier runs (lib/history), rendered in every format. */
  history?: HistoryComparison;
  /** Retries of each put; an artifact is written under a fixed name, so a retry never duplicates. @default 3 attempts on transient errors */
  retry?: RetryOptions;
}

/** Where each artifact was stored. */
export interface WrittenReport {
  markdown: string;
  html: string;
  json: string;
  charts: string[];
}

/** Write <basename>.md, .html, .json and charts/<name>.svg to the sink; resolves with their locations. */
export async function writeReport(
  run: RunResults,
  sink: ReportSink,
  options: WriteReportOptions = {},
): Promise<WrittenReport> {
  const basename = options.basename ?? 'SWARM_BENCHMARKS_REPORT';
  const retryOptions: RetryOptions = { attempts: 3, isRetryable: isTransientError, ...options.retry };
  const put = (name: string, body: string, contentType: string) =>
    retry(() => sink.put(name, body, contentType), retryOptions);
  const charts = await renderCharts(run);
  // Charts first (side by side): the documents link to them, so they must exist when the
  // documents appear. The documents render while the charts upload.
  const chartsStored = Promise.all(
    charts.map((chart) => put(`charts/${chart.name}.svg`, chart.svg, 'image/svg+xml')),
  );
  chartsStored.catch(() => undefined);
  const markdown = renderMarkdown(run, {
    charts: charts.map((chart) => ({ name: chart.name, title: chart.title })),
    ...(options.history === undefined ? {} : { history: options.history }),
  });
  const withHistory = options.history === undefined ? {} : { history: options.history };
  const html = renderHtml(run, charts, withHistory);
  const json = `${JSON.stringify(renderJson(run, withHistory), null, 2)}\n`;
  const chartLocations = (await chartsStored).map((stored) => stored.location);
  const [md, page, data] = await Promise.all([
    put(`${basename}.md`, markdown, 'text/markdown; charset=utf-8'),
    put(`${basename}.html`, html, 'text/html; charset=utf-8'),
    put(`${basename}.json`, json, 'application/json'),
  ]);
  return { markdown: md.location, html: page.location, json: data.location, charts: chartLocations };
}
