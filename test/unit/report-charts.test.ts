/**
 * specToSvg's shape cache: charts that differ only in data, title and parameter values share one
 * compiled shape, and must draw exactly what compiling each chart whole draws.
 */
import * as vega from 'vega';
import type { TopLevelSpec } from 'vega-lite';
import * as vegaLite from 'vega-lite';
import { describe, expect, it } from 'vitest';
import { chartSpecs, specToSvg, splitSpec } from '../../lib/report/charts.ts';
import { figureTrendChart, seriesTrendChart } from '../../lib/site/charts.ts';
import { buildSiteModel } from '../../lib/site/model.ts';
import { synthesizeWeeklyRuns } from '../../lib/site/synthetic.ts';
import { smallTemplate } from '../helpers/site.ts';
import { loadFixture } from './report-helpers.ts';

/** The reference: the whole spec compiled, parsed and rendered by a fresh view, no cache. */
async function wholeSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

describe('splitSpec', () => {
  it('moves inline data, a string title and variable parameter values out of the shape', () => {
    const spec = {
      title: 'A chart',
      params: [
        { name: 'y_title', value: 'latency (ms)' },
        { name: 'fixed', expr: '1 + 1' },
      ],
      data: { values: [{ x: 1 }] },
      mark: 'point',
      encoding: { x: { field: 'x', type: 'quantitative', axis: { title: { signal: 'y_title' } } } },
    } as unknown as TopLevelSpec;
    const { shape, values, signals } = splitSpec(spec);
    expect(values).toEqual([{ x: 1 }]);
    expect(signals).toEqual({ y_title: 'latency (ms)', chart_title: 'A chart' });
    expect(JSON.stringify(shape)).not.toMatch(/A chart|latency|"x":1/);
    // An expression parameter is part of the shape.
    expect(JSON.stringify(shape)).toContain('1 + 1');
  });

  it("keeps a composite mark's title in its shape (box plots take no parameters)", () => {
    const spec = {
      title: 'Round trips',
      data: { values: [] },
      mark: { type: 'boxplot' },
    } as unknown as TopLevelSpec;
    const { shape, signals } = splitSpec(spec);
    expect(signals).toEqual({});
    expect((shape as { title?: unknown }).title).toBe('Round trips');
  });

  it('leaves data that is not exactly inline values in the shape', () => {
    const spec = {
      data: { values: [1], format: { type: 'json' } },
      mark: 'point',
    } as unknown as TopLevelSpec;
    expect(splitSpec(spec).values).toBeUndefined();
  });
});

describe('specToSvg', () => {
  it('draws each report chart exactly as compiling it whole, whichever chart of its shape came first', async () => {
    const runs = synthesizeWeeklyRuns(loadFixture('clean'), { weeks: 3, seed: 5 });
    // Titles differ between runs (the scaling exponent), so they share a shape only through splitSpec.
    for (const [index, run] of runs.entries()) {
      const scaling = run.results.find((result) => result.unitId === 'scalability/linear-scaling')!;
      scaling.figures.find((figure) => figure.name === 'time-exponent')!.value = 1.1 + index / 10;
    }
    const titles = new Set(runs.map((run) => chartSpecs(run)[0]!.title));
    expect(titles.size).toBe(3);
    for (const run of runs) {
      for (const chart of chartSpecs(run)) {
        expect(await specToSvg(chart.spec)).toBe(await wholeSvg(chart.spec));
      }
    }
  });

  it('draws site trend charts of different quantities, titles and data as compiling each whole', async () => {
    const runs = synthesizeWeeklyRuns(smallTemplate(), {
      weeks: 8,
      seed: 4,
      templateChangeWeek: 5,
      steps: [{ week: 6, unitId: 'trading/consensus', series: 'consensus-ms', factor: 1.8 }],
    });
    const model = buildSiteModel(runs);
    const charts = model.benchmarks.flatMap((benchmark) => [
      ...benchmark.trends
        .filter((trend) => trend.kind === 'series')
        .map((trend) => seriesTrendChart(trend, benchmark.changes)),
      ...benchmark.trends
        .filter((trend) => trend.kind === 'figure')
        .map((trend, index) => figureTrendChart(`f${index}`, trend.name, [trend], benchmark.changes)),
    ]);
    expect(new Set(charts.map((chart) => chart.title)).size).toBeGreaterThan(5);
    for (const chart of charts) {
      const svg = await specToSvg(chart.spec);
      expect(svg).toBe(await wholeSvg(chart.spec));
      expect(svg).toContain(`>${chart.title.replace(/&/g, '&amp;').replace(/</g, '&lt;')}<`);
    }
  });

  it('draws concurrent charts of one shape each with its own data', async () => {
    const specs = chartSpecs(loadFixture('clean'));
    const other = chartSpecs(synthesizeWeeklyRuns(loadFixture('clean'), { weeks: 1, seed: 8 })[0]!);
    const all = [...specs, ...other].map((chart) => chart.spec);
    const together = await Promise.all(all.map((spec) => specToSvg(spec)));
    for (const [index, spec] of all.entries()) expect(together[index]).toBe(await wholeSvg(spec));
  });
});
