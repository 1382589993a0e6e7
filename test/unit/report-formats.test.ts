import { describe, expect, it } from 'vitest';
import { renderCharts } from '../../lib/report/charts.ts';
import { formatNumber, formatUsd } from '../../lib/report/format.ts';
import { renderHtml } from '../../lib/report/html.ts';
import { renderJson } from '../../lib/report/json.ts';
import { summarize } from '../../lib/stats/summary.ts';
import { loadFixture } from './report-helpers.ts';

/** Minimal XML well-formedness: every opened element is closed in order. */
function assertBalancedXml(xml: string): void {
  const stack: string[] = [];
  for (const match of xml.matchAll(/<(\/?)([A-Za-z][\w:-]*)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = match;
    if (selfClosing) continue;
    if (closing) expect(stack.pop()).toBe(name);
    else stack.push(name!);
  }
  expect(stack).toEqual([]);
}

describe('renderCharts', () => {
  it('renders the four charts as valid, deterministic SVG', async () => {
    // Prepare
    const run = loadFixture('clean');
    // Act
    const first = await renderCharts(run);
    const second = await renderCharts(run);
    // Assess
    expect(first.map((chart) => chart.name)).toEqual([
      'scaling-curve',
      'consensus-per-topology',
      'latency-distribution',
      'cost-per-topology',
    ]);
    for (const [index, chart] of first.entries()) {
      expect(chart.svg.startsWith('<svg')).toBe(true);
      assertBalancedXml(chart.svg);
      expect(chart.svg).toBe(second[index]!.svg);
    }
    expect(first[1]!.svg).toContain('hierarchical');
  });

  it('charts only data that is present', async () => {
    // Prepare
    const run = loadFixture('clean');
    run.results = run.results.filter((result) => result.unitId !== 'scalability/linear-scaling');
    run.results.find((result) => result.unitId === 'trading/consensus')!.status = 'failed';
    // Act
    const names = (await renderCharts(run)).map((chart) => chart.name);
    // Assess
    expect(names).toEqual(['latency-distribution', 'cost-per-topology']);
  });
});

describe('renderHtml', () => {
  it('inlines the SVG charts and escapes a malicious label', async () => {
    // Prepare
    const run = loadFixture('clean');
    run.results[0]!.series[0]!.labels.topology = '<script>alert("x")</script>';
    const charts = await renderCharts(loadFixture('clean'));
    // Act
    const html = renderHtml(run, charts);
    // Assess
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain(charts[0]!.svg);
    expect(html).not.toContain('<script');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(html).toContain('<h2>Performance Targets</h2>');
  });

  it('links a chart whose SVG could run code instead of inlining it', () => {
    // Prepare
    const charts = [{ name: 'scaling-curve', title: 'Scaling', svg: '<svg onload="alert(1)"></svg>' }];
    // Act
    const html = renderHtml(loadFixture('clean'), charts);
    // Assess
    expect(html).not.toContain('onload');
    expect(html).toContain('<img src="charts/scaling-curve.svg" alt="Scaling">');
  });
});

describe('renderJson', () => {
  it('keeps the raw samples next to each summary, and target outcomes', () => {
    // Prepare
    const run = loadFixture('failed-unit');
    const source = run.results.find((result) => result.unitId === 'creation/swarm-init')!.series[0]!;
    // Act
    const json = JSON.parse(JSON.stringify(renderJson(run)));
    const unit = json.units.find(
      (candidate: { unitId: string }) => candidate.unitId === 'creation/swarm-init',
    );
    const failed = json.units.find(
      (candidate: { unitId: string }) => candidate.unitId === 'communication/state-sync',
    );
    // Assess
    expect(unit.series[0].samples).toEqual(source.samples);
    expect(unit.series[0].warmup).toEqual(source.warmup);
    expect(unit.series[0].summary.p95).toBeCloseTo(summarize(source.samples).p95, 9);
    expect(unit.series[0].summary.warmupDiscarded).toBe(source.warmup.length);
    expect(failed.status).toBe('failed');
    expect(failed.error.name).toBe('TimeoutError');
    expect(json.targets.find((target: { id: string }) => target.id === 'state-sync').status).toBe('pending');
    expect(json.cost.sandboxSeconds).toBeCloseTo(
      run.results.reduce((sum, result) => sum + result.usage.sandboxSeconds, 0),
      9,
    );
  });
});

describe('format', () => {
  it('gives tiny dollar amounts enough digits and groups large numbers', () => {
    expect(formatUsd(0.000012)).toBe('$0.000012');
    expect(formatUsd(0.1092)).toBe('$0.109');
    expect(formatUsd(1234.5)).toBe('$1,234.50');
    expect(formatNumber(4523.7)).toBe('4,524');
    expect(formatNumber(45.237)).toBe('45.24');
    expect(formatNumber(0.04523)).toBe('0.0452');
    expect(formatNumber(Number.NaN)).toBe('—');
  });
});
