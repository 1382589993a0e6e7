/**
 * The site's HTML pages: the index of runs (with cost), one page per benchmark (trends) and the
 * topology rankings. Static HTML with inline SVG charts, no script: readable without JavaScript.
 * Each chart is a <figure> with a caption, the SVG's aria-label and a collapsible data table.
 */
import type { HistoryVerdict } from '../history/compare.ts';
import { formatLabels, formatNumber, formatUsd, formatValue } from '../report/format.ts';
import { escapeHtml } from '../report/html.ts';
import type { SiteChart } from './charts.ts';
import { type BenchmarkModel, runPage, type SiteModel, TOPOLOGY_METRICS, type Trend } from './model.ts';

/** The site pages' style sheet (SITE_CSS) and the name the site publishes it and the run pages' under. */
export const SITE_STYLE = `
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:76rem;padding:0 1rem 2rem;color:#1f2328;line-height:1.45}
nav.site{display:flex;gap:1.2rem;padding:.7rem 0;border-bottom:2px solid #d0d7de;margin-bottom:1rem}nav.site a{font-weight:600}
a{color:#0969da}h1{font-size:1.6rem;margin:.6rem 0}h2{border-bottom:1px solid #d0d7de;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.75rem 0;font-size:.88rem}th,td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left}
th{background:#f6f8fa}table.num td+td{text-align:right;font-variant-numeric:tabular-nums}
.regression{color:#cf222e;font-weight:600}.improvement{color:#1a7f37;font-weight:600}.failed{color:#cf222e}
figure{margin:1.2rem 0}figcaption{font-size:.9rem;color:#57606a;max-width:48rem}svg{max-width:100%;height:auto}
details{font-size:.85rem}ul.cols{columns:2;padding-left:1.2rem}
`.trim();

export const SITE_CSS = 'site.css';
export const REPORT_CSS = 'report.css';
/** The methodology every run page links to instead of repeating it. */
export const METHODOLOGY_PAGE = 'methodology.html';
/** The site navigation on report pages (appended to the report's style sheet). */
export const SITE_NAV_STYLE =
  'nav.site{display:flex;gap:1.2rem;font-weight:600;padding:.5rem 0;border-bottom:2px solid #d0d7de}';

/** Wrap a page's body; `root` is the relative path to the site root ('' or '../'). */
export function layout(title: string, root: string, body: string): string {
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    `<link rel="stylesheet" href="${root}${SITE_CSS}">`,
    '</head>',
    '<body>',
    `<nav class="site" aria-label="site"><a href="${root}index.html">Runs</a><a href="${root}index.html#benchmarks">Benchmarks</a><a href="${root}index.html#cost">Cost</a><a href="${root}topologies.html">Topologies</a><a href="${root}${METHODOLOGY_PAGE}">How measured</a></nav>`,
    '<main>',
    body,
    '</main>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/**
 * A chart as a figure: the SVG (compactSvg: one image named by the chart's description), the
 * caption and optionally the chart's data as a table.
 */
export function figure(chart: SiteChart, svg: string, table = ''): string {
  const data = table === '' ? '' : `<details><summary>Data of this chart</summary>${table}</details>`;
  return `<figure id="${escapeHtml(chart.id)}">${svg}<figcaption>${escapeHtml(chart.description)}</figcaption>${data}</figure>`;
}

/** A table; `numeric` right-aligns every column after the first (cells are already escaped HTML). */
function htmlTable(columns: readonly string[], rows: readonly string[][], numeric = false): string {
  // End tags of cells and rows are optional in HTML (the parser closes them); left out, as the
  // trend tables have thousands of cells.
  const head = columns.map((column) => `<th scope="col">${escapeHtml(column)}`).join('');
  const body = rows.map((row) => `<tr><td>${row.join('<td>')}`).join('');
  return `<table${numeric ? ' class="num"' : ''}><thead><tr>${head}</thead><tbody>${body}</tbody></table>`;
}

function verdictCell(verdict: HistoryVerdict): string {
  if (verdict === 'regression' || verdict === 'improvement')
    return `<span class="${verdict}">${verdict}</span>`;
  return escapeHtml(verdict.replace(/-/g, ' '));
}

const day = (iso: string) => iso.slice(0, 10);

/** Runs the index lists, newest first; every run is on RUNS_PAGE. */
export const INDEX_RUNS = 12;
export const RUNS_PAGE = 'runs.html';

const RUN_COLUMNS = [
  'date',
  'run',
  'commit',
  'provider',
  'template',
  'profile',
  'status',
  'targets passed',
  'failed',
  'inconclusive',
  'pending',
  'against history',
  'E2B cost',
];

/** The table of runs, newest first. */
function runsTable(runs: SiteModel['runs']): string {
  const rows = [...runs].reverse().map(({ run, targets, history, costUsd, projected }) => {
    const { meta } = run;
    const flagged = [
      history.regressions > 0 ? `<span class="regression">${history.regressions} regression(s)</span>` : '',
      history.improvements > 0
        ? `<span class="improvement">${history.improvements} improvement(s)</span>`
        : '',
    ].filter(Boolean);
    return [
      escapeHtml(day(meta.startedAt)),
      `<a href="${escapeHtml(runPage(meta.runId))}">${escapeHtml(meta.runId)}</a>`,
      `<code>${escapeHtml(meta.gitCommit.slice(0, 7))}</code>`,
      escapeHtml(meta.provider),
      escapeHtml(`${meta.template.name} (${meta.template.vcpu} vCPU, ${meta.template.memoryMb} MiB)`),
      escapeHtml(meta.profile),
      meta.status === 'completed' ? 'completed' : `<span class="failed">${escapeHtml(meta.status)}</span>`,
      String(targets.pass),
      targets.fail > 0 ? `<span class="failed">${targets.fail}</span>` : '0',
      String(targets.inconclusive),
      String(targets.pending),
      flagged.join(', ') || (history.baselineRuns.length === 0 ? 'no baseline' : 'none'),
      escapeHtml(`${formatUsd(costUsd)}${projected ? ' (projected)' : ''}`),
    ];
  });
  return htmlTable(RUN_COLUMNS, rows);
}

/** Every run, newest first (the index lists the latest INDEX_RUNS). */
export function runsPage(model: SiteModel): string {
  const body = [
    `<h1>All ${model.runs.length} run(s)</h1>`,
    '<section id="runs">',
    runsTable(model.runs),
    '</section>',
  ].join('\n');
  return layout('swarm-bench: all runs', '', body);
}

/** The index: the latest runs, cost charts and the list of benchmarks. */
export function indexPage(
  model: SiteModel,
  charts: ReadonlyArray<{ chart: SiteChart; svg: string }>,
): string {
  const first = model.runs[0]?.run.meta.startedAt;
  const last = model.runs[model.runs.length - 1]?.run.meta.startedAt;
  const shown = model.runs.slice(-INDEX_RUNS);
  const byCategory = new Map<string, BenchmarkModel[]>();
  for (const benchmark of model.benchmarks) {
    byCategory.set(benchmark.category, [...(byCategory.get(benchmark.category) ?? []), benchmark]);
  }
  const latest = model.runs[model.runs.length - 1];
  const benchmarks = [...byCategory.entries()]
    .map(([category, list]) => {
      const items = list.map((benchmark) => {
        const flagged = latest?.history.rows.filter(
          (row) =>
            row.unitId === benchmark.unitId &&
            (row.verdict === 'regression' || row.verdict === 'improvement'),
        );
        const note =
          flagged && flagged.length > 0
            ? ` — latest run: ${flagged.map((row) => `<span class="${row.verdict}">${row.verdict}</span> ${escapeHtml(row.name)}`).join(', ')}`
            : '';
        return `<li><a href="${escapeHtml(benchmark.page)}">${escapeHtml(benchmark.title)}</a> <small>(${escapeHtml(benchmark.unitId)}, ${benchmark.trends.length} series and figures)</small>${note}</li>`;
      });
      return `<h3>${escapeHtml(category)}</h3><ul class="cols">${items.join('')}</ul>`;
    })
    .join('\n');
  const monthTable = htmlTable(
    ['month', 'runs', 'E2B cost'],
    model.months.map((month) => [
      month.month,
      String(month.runs),
      escapeHtml(`${formatUsd(month.costUsd)}${month.projected ? ' (projected)' : ''}`),
    ]),
    true,
  );
  const body = [
    `<h1>swarm-bench: ${model.runs.length} run(s)${first && last ? `, ${day(first)} to ${day(last)}` : ''}</h1>`,
    '<p>Each run is compared with up to 8 earlier completed runs of the same configuration and provider: a regression is flagged only when the change clears both 10% and twice the upper 95% bound of the run-to-run noise, and Mann-Whitney U on the raw samples gives p &lt; 0.01.</p>',
    `<section id="runs"><h2>Runs</h2><p>The latest ${shown.length} of ${model.runs.length}: <a href="${RUNS_PAGE}">all runs</a>.</p>`,
    runsTable(shown),
    '</section>',
    '<section id="cost"><h2>Cost</h2>',
    ...charts.map(({ chart, svg }) => figure(chart, svg)),
    monthTable,
    '</section>',
    '<section id="benchmarks"><h2>Benchmarks</h2>',
    benchmarks,
    '<p><a href="topologies.html">Topology rankings over time</a></p>',
    '</section>',
  ].join('\n');
  return layout('swarm-bench runs', '', body);
}

/** One benchmark: a trend chart per series, one per figure name, failures and changes. */
export function benchmarkPageHtml(
  benchmark: BenchmarkModel,
  charts: ReadonlyArray<{ chart: SiteChart; svg: string; trends: readonly Trend[] }>,
): string {
  const root = '../';
  const runLink = (runId: string, text: string) =>
    `<a href="${root}${escapeHtml(runPage(runId))}">${escapeHtml(text)}</a>`;
  const templateChanges = benchmark.changes.filter((change) => change.kind === 'template');
  const commits = benchmark.changes.filter((change) => change.kind === 'commit').length;
  const seriesCharts = charts.filter((c) => c.trends[0]?.kind === 'series');
  const figureCharts = charts.filter((c) => c.trends[0]?.kind === 'figure');
  const seriesTable = (trend: Trend) =>
    htmlTable(
      ['run', 'median', '~95% interval of the median', 'p95', 'p99', 'n', 'verdict', 'change'],
      [...trend.points]
        .reverse()
        .map((point) => [
          runLink(point.runId, day(point.date)),
          escapeHtml(formatValue(point.median, trend.unit)),
          escapeHtml(
            `${formatNumber(point.low)} – ${formatNumber(point.high)} (${Math.round(point.coverage * 100)}%)`,
          ),
          escapeHtml(formatValue(point.p95, trend.unit)),
          escapeHtml(formatValue(point.p99, trend.unit)),
          String(point.count),
          verdictCell(point.verdict),
          point.delta === null
            ? '—'
            : escapeHtml(`${point.delta >= 0 ? '+' : ''}${(point.delta * 100).toFixed(1)}%`),
        ]),
      true,
    );
  // One row per run, one column per label set: the verdict, when flagged, follows the value.
  const figureTable = (trends: readonly Trend[]) => {
    const runs = new Map<string, { date: string; cells: string[] }>();
    trends.forEach((trend, column) => {
      for (const point of trend.points) {
        const row = runs.get(point.runId) ?? { date: point.date, cells: trends.map(() => '—') };
        const flag =
          point.verdict === 'regression' || point.verdict === 'improvement'
            ? ` ${verdictCell(point.verdict)}`
            : '';
        row.cells[column] = `${escapeHtml(formatValue(point.median, trend.unit))}${flag}`;
        runs.set(point.runId, row);
      }
    });
    return htmlTable(
      ['run', ...trends.map((trend) => labelsText(trend.labels))],
      [...runs.entries()].reverse().map(([runId, row]) => [runLink(runId, day(row.date)), ...row.cells]),
      true,
    );
  };
  const body = [
    `<h1>${escapeHtml(benchmark.title)} <small>(${escapeHtml(benchmark.unitId)})</small></h1>`,
    `<p>${escapeHtml(benchmark.category)}. Every series over all runs: the median with a distribution-free ~95% interval of the median (band), p95 and p99; triangles mark the runs the history detector flagged (red regression, green improvement). Dashed orange rules mark sandbox template changes; ticks at the top mark commit changes (${commits} in all). Values spread over more than 10x are drawn on a log axis.</p>`,
    templateChanges.length > 0
      ? `<p>Template changes: ${templateChanges.map((change) => `${runLink(change.runId, day(change.date))} ${escapeHtml(change.text)}`).join('; ')}. History restarts with a new configuration.</p>`
      : '',
    benchmark.failures.length > 0
      ? `<p class="failed">Failed in ${benchmark.failures.length} run(s): ${benchmark.failures.map((failure) => `${runLink(failure.runId, day(failure.date))} (${escapeHtml(failure.reason)})`).join('; ')}.</p>`
      : '',
    seriesCharts.length > 0 ? '<h2>Series</h2>' : '',
    ...seriesCharts.map(({ chart, svg, trends }) => figure(chart, svg, seriesTable(trends[0]!))),
    figureCharts.length > 0 ? '<h2>Derived figures</h2>' : '',
    ...figureCharts.map(({ chart, svg, trends }) => figure(chart, svg, figureTable(trends))),
  ].join('\n');
  return layout(`${benchmark.title}: trends`, root, body);
}

/** Topology rankings over time: one chart per metric and the latest ranking. */
export function topologiesPage(
  model: SiteModel,
  charts: ReadonlyArray<{ chart: SiteChart; svg: string }>,
): string {
  const latest = model.runs[model.runs.length - 1];
  const firsts = TOPOLOGY_METRICS.map((metric) => {
    const counts = new Map<string, number>();
    for (const run of model.runs) {
      const best = run.rankings[metric.id][0];
      if (best !== undefined) counts.set(best, (counts.get(best) ?? 0) + 1);
    }
    return [
      escapeHtml(metric.title),
      escapeHtml(latest?.rankings[metric.id].join(' < ') || '—'),
      escapeHtml(
        [...counts.entries()]
          .sort((a, b) => b[1] - a[1])
          .map(([topology, runs]) => `${topology} ${runs}`)
          .join(', ') || '—',
      ),
    ];
  });
  const body = [
    '<h1>Topology rankings over time</h1>',
    '<p>In each run the topologies are ranked on each metric from the run’s own measurements (lower is better for all of them): consensus and round-trip p50 over all sizes, bytes per operation, E2B cost per operation, CPU per agent p50.</p>',
    htmlTable(['metric', 'latest run, best first', 'runs ranked first'], firsts),
    ...charts.map(({ chart, svg }) => figure(chart, svg)),
  ].join('\n');
  return layout('Topology rankings over time', '', body);
}

/** Give the report page (lib/report's renderer) the site's navigation; `root` leads back to the site root. */
export function withSiteNav(reportHtml: string, root: string): string {
  const nav = `<nav class="site" aria-label="site"><a href="${root}index.html">All runs</a><a href="${root}index.html#benchmarks">Benchmarks</a><a href="${root}topologies.html">Topologies</a><a href="${root}${METHODOLOGY_PAGE}">How measured</a></nav>`;
  return reportHtml.replace('<body>\n', `<body>\n${nav}\n`);
}

function labelsText(labels: Trend['labels']): string {
  const text = formatLabels(labels);
  return text === '—' ? 'all' : text;
}
