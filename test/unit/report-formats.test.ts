import { describe, expect, it } from 'vitest';
import { evaluateTargets } from '../../lib/bench/targets.ts';
import { renderCharts } from '../../lib/report/charts.ts';
import { formatNumber, formatUsd } from '../../lib/report/format.ts';
import { renderHtml } from '../../lib/report/html.ts';
import { renderJson } from '../../lib/report/json.ts';
import { renderMarkdown } from '../../lib/report/markdown.ts';
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

describe('renderJson targets and plan vs measured', () => {
  it("carries each target's interval, three-way verdict and samples needed", () => {
    // Prepare
    const run = loadFixture('clean');
    const outcomes = evaluateTargets(run);
    // Act
    const json = JSON.parse(JSON.stringify(renderJson(run)));
    // Assess
    expect(json.targets).toHaveLength(outcomes.length);
    for (const [index, outcome] of outcomes.entries()) {
      const target = json.targets[index];
      expect(target.id).toBe(outcome.target.id);
      expect(target.verdict).toBe(outcome.status === 'pending' ? null : outcome.status);
      if (outcome.interval === undefined) {
        expect(target.interval).toBeNull();
      } else {
        expect(target.interval.lower).toBe(outcome.interval.low);
        expect(target.interval.upper).toBe(outcome.interval.high);
        expect(target.interval.level).toBe(0.95);
        expect(target.interval.method).toBe(outcome.interval.method);
        expect(target.interval.n).toBe(outcome.interval.n);
      }
      if (outcome.status === 'inconclusive') expect(target).toHaveProperty('samplesNeeded');
    }
    expect(
      json.targets.filter((t: { verdict: string }) => t.verdict === 'inconclusive').length,
    ).toBeGreaterThan(0);
  });

  it("compares every unit's planned duration and sandbox-seconds with the measured ones", () => {
    // Prepare: the fixture's first unit planned from history, the second with no basis recorded.
    const run = loadFixture('clean');
    const [first, second] = run.meta.units;
    first!.estimate.basis = {
      source: 'history',
      runs: 2,
      note: 'median of 2 earlier run(s) with the same parameters',
    };
    const firstResult = run.results.find((result) => result.unitId === first!.unitId)!;
    first!.estimate.durationMs = firstResult.durationMs / 2;
    first!.estimate.sandboxSeconds = firstResult.usage.sandboxSeconds * 4;
    // Act
    const json = JSON.parse(JSON.stringify(renderJson(run)));
    const markdown = renderMarkdown(run);
    // Assess
    const rows = json.cost.planVsMeasured;
    expect(rows).toHaveLength(run.results.length);
    const row = rows.find((r: { unitId: string }) => r.unitId === first!.unitId);
    expect(row.source).toBe('history');
    expect(row.measuredDurationMs).toBe(firstResult.durationMs);
    expect(row.durationRatio).toBeCloseTo(2, 12);
    expect(row.sandboxSecondsRatio).toBeCloseTo(0.25, 12);
    expect(rows.find((r: { unitId: string }) => r.unitId === second!.unitId).source).toBe('unknown');
    expect(
      json.units.find((u: { unitId: string }) => u.unitId === first!.unitId).plan.durationRatio,
    ).toBeCloseTo(2, 12);
    expect(markdown).toMatch(/Plan vs measured per unit: \d+ of \d+ units ran within \+-25%/);
    expect(markdown).toContain(`| ${first!.unitId} | history |`);
    expect(markdown).toContain('| 2.00x |');
    expect(markdown).toContain('| 0.25x |');
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
