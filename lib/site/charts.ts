/**
 * The site's charts as Vega-Lite specs (rendered to static SVG by lib/report's specToSvg, so the
 * pages need no JavaScript). Every chart has a title, axis titles with units and a `description`,
 * its text alternative: the SVG's aria-label and the figure's caption (see compactSvg); the pages
 * add a data table beside the trend charts.
 */
import type { TopLevelSpec } from 'vega-lite';
import { formatLabels } from '../report/format.ts';
import { escapeHtml } from '../report/html.ts';
import type { Change, SiteModel, TOPOLOGY_METRICS, Trend } from './model.ts';

const WIDTH = 560;
const HEIGHT = 220;
const CONFIG = {
  background: 'white',
  font: 'sans-serif',
  axis: { labelFontSize: 11, titleFontSize: 12 },
  legend: { labelFontSize: 11, titleFontSize: 11 },
  title: { fontSize: 13, anchor: 'start' },
} as const;
const DATE_AXIS = { title: 'run date', format: '%b %Y', labelAngle: 0, tickCount: 6 } as const;
const VERDICT_COLORS = { domain: ['regression', 'improvement'], range: ['#d62728', '#2ca02c'] };
/** A spread wider than this (max / min of what is plotted) gets a log axis. */
const LOG_SPREAD = 10;

/** A chart to render: its id (unique on its page), title, text alternative and spec. */
export interface SiteChart {
  id: string;
  title: string;
  description: string;
  spec: TopLevelSpec;
}

/** What every spec shares (the description is the page's to carry: see compactSvg). */
function base(title: string, _description: string) {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: WIDTH,
    height: HEIGHT,
    config: CONFIG,
  } as const;
}

/**
 * The value axis's title, as a parameter: specToSvg binds parameter values (and the chart title)
 * at render time, so trend charts of different quantities share one compiled shape.
 */
const Y_TITLE = 'y_title';
function yTitleParam(title: string) {
  return { params: [{ name: Y_TITLE, value: title }] };
}
const Y_AXIS = { title: { signal: Y_TITLE } } as const;

/** A log y scale when every value is positive and they spread over more than LOG_SPREAD x. */
export function yScale(values: readonly number[]): { type: 'log' } | { zero: false } {
  const finite = values.filter((value) => Number.isFinite(value));
  const min = Math.min(...finite);
  const max = Math.max(...finite);
  return finite.length > 0 && min > 0 && max / min > LOG_SPREAD ? { type: 'log' } : { zero: false };
}

/** The title of a trend: its name and labels. */
export function trendTitle(trend: Pick<Trend, 'name' | 'labels'>): string {
  const labels = formatLabels(trend.labels);
  return labels === '' || labels === '—' ? trend.name : `${trend.name} (${labels})`;
}

/** Layers marking template changes (full-height dashed rule, labelled) and commit changes (top ticks). */
function changeLayers(changes: readonly Change[], domainStart: string) {
  const visible = changes.filter((change) => change.date >= domainStart);
  const template = visible.filter((change) => change.kind === 'template');
  const commits = visible.filter((change) => change.kind === 'commit');
  const layers: unknown[] = [];
  if (commits.length > 0) {
    layers.push({
      data: { values: commits.map((change) => ({ date: change.date })) },
      mark: { type: 'tick', orient: 'vertical', color: '#8c959f', thickness: 1, size: 10 },
      encoding: { x: { field: 'date', type: 'temporal' }, y: { value: 5 } },
    });
  }
  if (template.length > 0) {
    const values = template.map((change) => ({ date: change.date, text: change.text }));
    layers.push(
      {
        data: { values },
        mark: { type: 'rule', color: '#bc4c00', strokeDash: [6, 3], strokeWidth: 1.5 },
        encoding: { x: { field: 'date', type: 'temporal' } },
      },
      {
        data: { values },
        mark: { type: 'text', align: 'left', dx: 3, dy: 8, fontSize: 10, color: '#bc4c00' },
        encoding: { x: { field: 'date', type: 'temporal' }, y: { value: 12 }, text: { field: 'text' } },
      },
    );
  }
  return layers;
}

/** Median with its interval band, p95 and p99 over runs, the detector's verdicts and the changes. */
export function seriesTrendChart(trend: Trend, changes: readonly Change[]): SiteChart {
  const title = trendTitle(trend);
  const values = trend.points.map((point) => ({
    date: point.date,
    median: point.median,
    low: point.low,
    high: point.high,
    p95: point.p95,
    p99: point.p99,
    verdict: point.verdict,
  }));
  const scale = yScale(trend.points.flatMap((point) => [point.low, point.high, point.p99]));
  const marked = trend.points.filter((p) => p.verdict === 'regression' || p.verdict === 'improvement');
  const first = trend.points[0];
  const last = trend.points[trend.points.length - 1];
  const description =
    `${title} in ${trend.unit} over ${trend.points.length} runs` +
    (first && last
      ? `: median ${round(first.median)} in the first run, ${round(last.median)} in the latest`
      : '') +
    `; ${marked.filter((p) => p.verdict === 'regression').length} regression(s) and ` +
    `${marked.filter((p) => p.verdict === 'improvement').length} improvement(s) flagged by the history detector` +
    `${'type' in scale ? '; logarithmic value axis' : ''}.`;
  const x = { field: 'date', type: 'temporal', axis: DATE_AXIS } as const;
  const y = (field: string) => ({ field, type: 'quantitative', scale, axis: Y_AXIS });
  const spec = {
    ...base(title, description),
    ...yTitleParam(`${trend.name} (${trend.unit})`),
    data: { values },
    layer: [
      {
        mark: { type: 'area', opacity: 0.22, color: '#1f77b4' },
        encoding: { x, y: y('low'), y2: { field: 'high' } },
      },
      {
        transform: [{ fold: ['median', 'p95', 'p99'], as: ['stat', 'value'] }],
        mark: { type: 'line', strokeWidth: 1.5 },
        encoding: {
          x,
          y: y('value'),
          color: {
            field: 'stat',
            type: 'nominal',
            title: 'statistic',
            scale: { domain: ['median', 'p95', 'p99'], range: ['#1f77b4', '#9467bd', '#8c564b'] },
          },
          strokeDash: {
            field: 'stat',
            type: 'nominal',
            scale: {
              domain: ['median', 'p95', 'p99'],
              range: [
                [1, 0],
                [5, 3],
                [1, 2],
              ],
            },
            legend: null,
          },
        },
      },
      ...(marked.length > 0
        ? [
            {
              transform: [{ filter: "datum.verdict === 'regression' || datum.verdict === 'improvement'" }],
              mark: { type: 'point', shape: 'triangle', size: 70, filled: true, opacity: 1 },
              encoding: {
                x,
                y: y('median'),
                fill: { field: 'verdict', type: 'nominal', title: 'detector', scale: VERDICT_COLORS },
              },
            },
          ]
        : []),
      ...changeLayers(changes, first?.date ?? ''),
    ],
    resolve: { scale: { color: 'independent' } },
  } as unknown as TopLevelSpec;
  return { id: trend.id, title, description, spec };
}

/** Figures of one name (one value per run each), one line per label set, verdicts marked. */
export function figureTrendChart(
  id: string,
  name: string,
  trends: readonly Trend[],
  changes: readonly Change[],
): SiteChart {
  const unit = trends[0]?.unit ?? 'count';
  const values = trends.flatMap((trend) =>
    trend.points.map((point) => ({
      date: point.date,
      value: point.median,
      labels: Object.keys(trend.labels).length === 0 ? 'all' : formatLabels(trend.labels),
      verdict: point.verdict,
    })),
  );
  const scale = yScale(values.map((value) => value.value));
  const flagged = values.filter((v) => v.verdict === 'regression' || v.verdict === 'improvement');
  const title = `${name} (${unit})${trends.length > 1 ? `, ${trends.length} label sets` : ''}`;
  const description = `${name} in ${unit} per run for ${trends.length} label set(s) over ${
    new Set(values.map((v) => v.date)).size
  } runs; ${flagged.length} point(s) flagged by the history detector.`;
  const x = { field: 'date', type: 'temporal', axis: DATE_AXIS } as const;
  const y = { field: 'value', type: 'quantitative', scale, axis: Y_AXIS };
  const spec = {
    ...base(title, description),
    ...yTitleParam(`${name} (${unit})`),
    data: { values },
    layer: [
      {
        mark: { type: 'line', strokeWidth: 1.5 },
        encoding: { x, y, color: { field: 'labels', type: 'nominal', title: 'labels', sort: null } },
      },
      ...(flagged.length > 0
        ? [
            {
              transform: [{ filter: "datum.verdict === 'regression' || datum.verdict === 'improvement'" }],
              mark: { type: 'point', shape: 'triangle', size: 70, filled: true, opacity: 1 },
              encoding: {
                x,
                y,
                fill: { field: 'verdict', type: 'nominal', title: 'detector', scale: VERDICT_COLORS },
              },
            },
          ]
        : []),
      ...changeLayers(changes, values[0]?.date ?? ''),
    ],
    resolve: { scale: { color: 'independent' } },
  } as unknown as TopLevelSpec;
  return { id, title, description, spec };
}

/** E2B cost of each run, bars coloured measured vs projected (local runs priced at E2B rates). */
export function costPerRunChart(model: SiteModel): SiteChart {
  const values = model.runs.map((run) => ({
    date: run.run.meta.startedAt,
    costUsd: run.costUsd,
    basis: run.projected ? 'projected (local)' : 'measured (E2B)',
  }));
  const total = values.reduce((sum, value) => sum + value.costUsd, 0);
  const title = 'E2B cost per run';
  const description = `E2B cost of each of ${values.length} runs in US dollars, from measured sandbox-seconds; total ${formatUsdPlain(total)}.`;
  return {
    id: 'cost-per-run',
    title,
    description,
    spec: {
      ...base(title, description),
      data: { values },
      mark: { type: 'bar', width: 6 },
      encoding: {
        x: { field: 'date', type: 'temporal', axis: DATE_AXIS },
        y: { field: 'costUsd', type: 'quantitative', title: 'cost per run (USD)' },
        color: { field: 'basis', type: 'nominal', title: 'basis', scale: { range: ['#6e7781', '#0969da'] } },
      },
    } as unknown as TopLevelSpec,
  };
}

/** Summed E2B cost per calendar month. */
export function costPerMonthChart(model: SiteModel): SiteChart {
  const values = model.months.map((month) => ({
    month: month.month,
    costUsd: month.costUsd,
    runs: month.runs,
  }));
  const title = 'E2B cost per month';
  const description = `Summed E2B cost of the runs of each of ${values.length} months, in US dollars.`;
  return {
    id: 'cost-per-month',
    title,
    description,
    spec: {
      ...base(title, description),
      height: 160,
      data: { values },
      mark: { type: 'bar', color: '#0969da' },
      encoding: {
        x: { field: 'month', type: 'ordinal', title: 'month', sort: null, axis: { labelAngle: -45 } },
        y: { field: 'costUsd', type: 'quantitative', title: 'cost per month (USD)' },
      },
    } as unknown as TopLevelSpec,
  };
}

/** Rank of each topology (1 = best) on one metric, run by run. */
export function rankingChart(model: SiteModel, metric: (typeof TOPOLOGY_METRICS)[number]): SiteChart {
  const values = model.runs.flatMap((run) =>
    run.rankings[metric.id].map((topology, index) => ({
      date: run.run.meta.startedAt,
      topology,
      rank: index + 1,
    })),
  );
  const title = `Topology ranking by ${metric.title}`;
  const leaders = new Map<string, number>();
  for (const value of values)
    if (value.rank === 1) leaders.set(value.topology, (leaders.get(value.topology) ?? 0) + 1);
  const description = `Rank of each topology by ${metric.title} (1 = lowest) in each run; ranked first: ${
    [...leaders.entries()].map(([topology, runs]) => `${topology} in ${runs} run(s)`).join(', ') || 'no data'
  }.`;
  const ranks = Math.max(1, ...values.map((value) => value.rank));
  return {
    id: `ranking-${metric.id}`,
    title,
    description,
    spec: {
      ...base(title, description),
      height: 40 * ranks,
      data: { values },
      mark: { type: 'line', point: true, interpolate: 'step-after', strokeWidth: 1.5 },
      encoding: {
        x: { field: 'date', type: 'temporal', axis: DATE_AXIS },
        y: {
          field: 'rank',
          type: 'quantitative',
          title: 'rank (1 = best)',
          scale: { reverse: true, domain: [1, ranks], nice: false },
          axis: { tickMinStep: 1, format: 'd' },
        },
        color: { field: 'topology', type: 'nominal', title: 'topology' },
      },
    } as unknown as TopLevelSpec,
  };
}

function round(value: number): string {
  return Number.isFinite(value) ? String(Number(value.toPrecision(3))) : 'n/a';
}

function formatUsdPlain(value: number): string {
  return `$${value.toFixed(value >= 1 ? 2 : 4)}`;
}

const GEOMETRY_ATTRIBUTE = / (d|transform|x|y|x1|x2|y1|y2|dx|dy|width|height)="([^"]*)"/g;
const NUMBER = /-?\d+\.\d+/g;
/** Vega's per-element ARIA: inside an SVG with role="img" it is presentational, never read. */
const INNER_ARIA = / (?:role|aria-roledescription|aria-label|aria-hidden)="[^"]*"/g;
/** Attributes that restate SVG defaults (or, for font-family, move to the root, where it is inherited). */
const DEFAULTS =
  / (?:pointer-events="none"|opacity="1"|stroke-miterlimit="4"|font-family="sans-serif"|transform="translate\(0,0\)"|(?:x1|x2|y1|y2)="0")/g;

/**
 * Shrink Vega's SVG without changing what it shows, and make it one image with one text
 * alternative (`label`): geometry rounded to 0.1 px (finer than any screen draws it), attributes
 * that restate defaults dropped, Vega's per-element ARIA and class names dropped (inside
 * role="img" they are never read; the page carries the chart's text alternative: its caption, and
 * a data table where the values matter) except the class of data marks ("mark-line", ...). Text
 * is left as it is. Roughly halves the SVG.
 */
export function compactSvg(svg: string, label: string): string {
  const strokeWidthSet = /<g[^>]* stroke-width=/.test(svg);
  const body = svg
    .replace(GEOMETRY_ATTRIBUTE, (_all, name: string, value: string) => {
      const rounded = value.replace(NUMBER, (number) => {
        const fixed = Number(number).toFixed(1);
        return fixed.endsWith('.0') ? fixed.slice(0, -2) : fixed;
      });
      return ` ${name}="${rounded.replace(/^-0$/, '0')}"`;
    })
    .replace(/<path class="(?:background|foreground)" aria-hidden="true" d="(?:M0,0h0v0h0Z)?"[^>]*\/>/g, '')
    .replace(INNER_ARIA, '')
    .replace(DEFAULTS, '')
    // A group never sets a stroke width here, so 1 (the default) is inherited from nowhere.
    .replace(strokeWidthSet ? /$^/ : / stroke-width="1"/g, '')
    .replace(/ class="(mark-[a-z]+) role-mark[^"]*"/g, ' class="$1"')
    .replace(/ class="(?!mark-[a-z]+")[^"]*"/g, '')
    .replace(/ xmlns(?::xlink)?="[^"]*"| version="1\.1"/g, '');
  return body.replace(
    /^<svg /,
    `<svg role="img" aria-label="${escapeHtml(label)}" font-family="sans-serif" `,
  );
}
