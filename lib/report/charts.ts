/**
 * Charts as Vega-Lite specs rendered headless to SVG. Only data present in the run is charted; a
 * missing unit means no chart, never an empty one. Rendering uses no canvas and no clock, so the
 * same run always gives byte-identical SVG.
 */
import * as vega from 'vega';
import type { TopLevelSpec } from 'vega-lite';
import * as vegaLite from 'vega-lite';
import type { RunResults, UnitResult } from '../bench/model.ts';
import { summarize } from '../stats/summary.ts';
import { findResult } from './analysis.ts';
import type { RenderedChart } from './html.ts';

const WIDTH = 520;
const HEIGHT = 280;
const BASE_CONFIG = {
  background: 'white',
  font: 'sans-serif',
  axis: { labelFontSize: 11, titleFontSize: 12 },
} as const;

/** What every chart spec shares: schema, size, theme, title and its data. */
function frame(title: string, values: unknown[]) {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: WIDTH,
    height: HEIGHT,
    config: BASE_CONFIG,
    data: { values },
  };
}

interface ChartSpec {
  name: string;
  title: string;
  spec: TopLevelSpec;
}

/** Render every chart the run has data for, in a fixed order. */
export async function renderCharts(run: RunResults): Promise<RenderedChart[]> {
  const specs = chartSpecs(run);
  const rendered: RenderedChart[] = [];
  for (const chart of specs)
    rendered.push({ name: chart.name, title: chart.title, svg: await specToSvg(chart.spec) });
  return rendered;
}

/** The Vega-Lite specs of the charts the run has data for (exported for inspection and tests). */
export function chartSpecs(run: RunResults): ChartSpec[] {
  return [
    scalingCurve(run),
    consensusPerTopology(run),
    latencyDistribution(run),
    costPerTopology(run),
  ].filter((chart): chart is ChartSpec => chart !== undefined);
}

/** The name under which a chart's inline data is bound to a cached, data-free Vega dataflow. */
const CHART_DATA = 'chart_data';
/** The signal a spec's plain-string title is bound to, so charts differing only in title share a shape. */
const CHART_TITLE = 'chart_title';

/** Parsed Vega dataflows by their data-free spec: the same kind of chart over other data and texts reuses one. */
const dataflows = new Map<string, vega.Runtime>();
const MAX_DATAFLOWS = 128;

const COMPOSITE_MARKS = new Set(['boxplot', 'errorbar', 'errorband']);

/** A spec split into its shape (what is compiled) and what is bound at render time. */
export interface SplitSpec {
  /** The spec without its inline data values, title text and variable parameters' values. */
  shape: TopLevelSpec;
  /** The inline data values (bound to CHART_DATA), if the spec's data is exactly `{ values: [...] }`. */
  values?: unknown[];
  /** Signal values: the title's and every top-level variable parameter's. */
  signals: Record<string, unknown>;
}

/**
 * Split a spec into its compiled shape and what each chart binds: inline data values, a plain
 * string title (drawn from the signal CHART_TITLE) and the values of top-level variable
 * parameters (`{ name, value }` without `expr`, `bind` or `select`: e.g. an axis title that a
 * chart sets with `title: { signal: name }`). None of these changes what the compiler emits
 * beyond the reference, so the SVG is the same as compiling the whole spec. A composite mark's
 * spec (box plot, error bar or band) keeps its title and parameters: they take no parameters.
 */
export function splitSpec(spec: TopLevelSpec): SplitSpec {
  const source = spec as unknown as Record<string, unknown> & {
    data?: { values?: unknown };
    title?: unknown;
    params?: Array<Record<string, unknown>>;
  };
  const shape: Record<string, unknown> = { ...source };
  const signals: Record<string, unknown> = {};
  let values: unknown[] | undefined;
  const data = source.data;
  if (data !== undefined && Array.isArray(data.values) && Object.keys(data).length === 1) {
    values = data.values;
    shape.data = { name: CHART_DATA };
  }
  // Vega-Lite's composite marks (box plots, error bars and bands) take no parameters: their
  // title and parameter values stay in the shape.
  const mark = (source as { mark?: string | { type?: string } }).mark;
  if (COMPOSITE_MARKS.has(typeof mark === 'string' ? mark : (mark?.type ?? ''))) {
    return { shape: shape as unknown as TopLevelSpec, ...(values === undefined ? {} : { values }), signals };
  }
  const params = (source.params ?? []).map((param) => {
    const variable = 'value' in param && !('expr' in param) && !('bind' in param) && !('select' in param);
    if (!variable) return param;
    signals[param.name as string] = param.value;
    return { ...param, value: null };
  });
  if (typeof source.title === 'string') {
    signals[CHART_TITLE] = source.title;
    shape.title = { text: { expr: CHART_TITLE } };
    params.push({ name: CHART_TITLE, value: null });
  }
  if (params.length > 0) shape.params = params;
  return { shape: shape as unknown as TopLevelSpec, ...(values === undefined ? {} : { values }), signals };
}

/**
 * Compile a Vega-Lite spec and render it headless to SVG (no canvas, no clock: deterministic).
 * Compiling and parsing cost most of a chart's time and depend only on the spec's shape
 * (splitSpec), so each shape is compiled once and each chart of that shape binds its data and
 * texts to a new view of it (the same SVG as compiling the chart whole). A view is never re-used
 * for another chart: Vega's incremental dataflow keeps state across data changes (a box plot's
 * aggregates, scale domains) that would change the drawing.
 */
export async function specToSvg(spec: TopLevelSpec): Promise<string> {
  const { shape, values, signals } = splitSpec(spec);
  const key = JSON.stringify(shape);
  let runtime = dataflows.get(key);
  if (runtime === undefined) {
    runtime = vega.parse(vegaLite.compile(shape).spec);
    if (dataflows.size >= MAX_DATAFLOWS) dataflows.delete(dataflows.keys().next().value!);
    dataflows.set(key, runtime);
  }
  const view = new vega.View(runtime, { renderer: 'none' });
  try {
    for (const [name, value] of Object.entries(signals)) view.signal(name, value);
    if (values !== undefined) view.data(CHART_DATA, values);
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

function usable(result: UnitResult | undefined): result is UnitResult {
  return result !== undefined && result.status !== 'failed';
}

function scalingCurve(run: RunResults): ChartSpec | undefined {
  const result = findResult(run, 'scalability/linear-scaling');
  if (!usable(result)) return undefined;
  const values = result.series
    .filter(
      (series) =>
        series.name === 'init-ms' && typeof series.labels.agents === 'number' && series.samples.length > 0,
    )
    .map((series) => {
      const summary = summarize(series.samples);
      return { agents: series.labels.agents as number, meanMs: summary.mean, p95Ms: summary.p95 };
    })
    .filter((point) => point.agents > 0 && point.meanMs > 0)
    .sort((a, b) => a.agents - b.agents);
  if (values.length < 2) return undefined;
  const exponent = result.figures.find((figure) => figure.name === 'time-exponent');
  const title = `Swarm init time vs agents (log-log)${exponent ? `, exponent ${exponent.value.toFixed(2)}` : ''}`;
  return {
    name: 'scaling-curve',
    title,
    spec: {
      ...frame(title, values),
      encoding: {
        x: { field: 'agents', type: 'quantitative', scale: { type: 'log', nice: false }, title: 'agents' },
      },
      layer: [
        {
          mark: { type: 'line', point: true },
          encoding: {
            y: {
              field: 'meanMs',
              type: 'quantitative',
              scale: { type: 'log', nice: false },
              title: 'init time (ms): mean line, p95 triangles',
            },
          },
        },
        {
          mark: { type: 'point', shape: 'triangle-up', color: '#d62728' },
          encoding: { y: { field: 'p95Ms', type: 'quantitative' } },
        },
      ],
    },
  };
}

function consensusPerTopology(run: RunResults): ChartSpec | undefined {
  const result = findResult(run, 'trading/consensus');
  if (!usable(result)) return undefined;
  const values = result.series
    .filter(
      (series) =>
        series.name === 'consensus-ms' && series.labels.topology !== undefined && series.samples.length > 0,
    )
    .map((series) => {
      const summary = summarize(series.samples);
      return {
        topology: String(series.labels.topology),
        agents: series.labels.agents ?? 'all',
        p50Ms: summary.p50,
        p95Ms: summary.p95,
      };
    });
  if (values.length === 0) return undefined;
  const title = 'Consensus latency per topology (bar p50, tick p95)';
  return {
    name: 'consensus-per-topology',
    title,
    spec: {
      ...frame(title, values),
      encoding: {
        x: { field: 'topology', type: 'nominal', sort: null, title: 'topology' },
        // Ordinal so swarm sizes sort numerically (5 before 10) in the legend and the bar groups.
        xOffset: { field: 'agents', type: 'ordinal' },
        color: { field: 'agents', type: 'ordinal', title: 'agents' },
      },
      layer: [
        { mark: 'bar', encoding: { y: { field: 'p50Ms', type: 'quantitative', title: 'consensus (ms)' } } },
        {
          mark: { type: 'tick', color: 'black', thickness: 2 },
          encoding: { y: { field: 'p95Ms', type: 'quantitative' } },
        },
      ],
    },
  };
}

function latencyDistribution(run: RunResults): ChartSpec | undefined {
  const result = findResult(run, 'communication/inter-agent-latency');
  if (!usable(result)) return undefined;
  const values = result.series
    .filter((series) => series.name === 'rtt-ms' && series.labels.topology !== undefined)
    .flatMap((series) =>
      series.samples.map((rttMs) => ({ topology: String(series.labels.topology), rttMs })),
    );
  if (values.length === 0) return undefined;
  const title = 'Inter-agent round-trip time per topology (all routes)';
  return {
    name: 'latency-distribution',
    title,
    spec: {
      ...frame(title, values),
      // Min-max whiskers: with tens of samples, Tukey outliers would hide the tail the report cares about.
      mark: { type: 'boxplot', extent: 'min-max' },
      encoding: {
        x: { field: 'topology', type: 'nominal', sort: null, title: 'topology' },
        y: { field: 'rttMs', type: 'quantitative', title: 'round trip (ms)' },
      },
    },
  };
}

function costPerTopology(run: RunResults): ChartSpec | undefined {
  const result = findResult(run, 'cost/cost-per-topology');
  if (!usable(result)) return undefined;
  const values = result.figures
    .filter(
      (figure) =>
        figure.name === 'cost-per-op' &&
        figure.labels.topology !== undefined &&
        Number.isFinite(figure.value),
    )
    .map((figure) => ({
      topology: String(figure.labels.topology),
      agents: figure.labels.agents ?? 'all',
      // Micro-dollars keep the axis labels readable for costs of a few millionths of a dollar.
      costPerOpMicroUsd: figure.value * 1e6,
    }));
  if (values.length === 0) return undefined;
  const title = 'E2B cost per operation per topology';
  return {
    name: 'cost-per-topology',
    title,
    spec: {
      ...frame(title, values),
      mark: 'bar',
      encoding: {
        x: { field: 'topology', type: 'nominal', sort: null, title: 'topology' },
        // Ordinal so swarm sizes sort numerically (5 before 10) in the legend and the bar groups.
        xOffset: { field: 'agents', type: 'ordinal' },
        color: { field: 'agents', type: 'ordinal', title: 'agents' },
        y: { field: 'costPerOpMicroUsd', type: 'quantitative', title: 'cost per operation (µ$)' },
      },
    },
  };
}
