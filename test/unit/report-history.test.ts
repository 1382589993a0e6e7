import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { RunMeta, UnitResult } from '../../lib/bench/model.ts';
import { type BaselineEntry, compareWithHistory, type HistoryComparison } from '../../lib/history/compare.ts';
import { chartSpecs } from '../../lib/report/charts.ts';
import { formatDelta, formatPValue, sparkline } from '../../lib/report/history.ts';
import { renderHtml } from '../../lib/report/html.ts';
import { renderJson } from '../../lib/report/json.ts';
import { renderMarkdown } from '../../lib/report/markdown.ts';
import { writeReport } from '../../lib/report/write.ts';
import { expectGolden, loadFixture } from './report-helpers.ts';

type HistoryState = 'regression' | 'no-baseline';

/** The baselines of test/fixtures/report/history-regression.json, per unit, newest first. */
function fixtureBaselines(): Map<string, BaselineEntry[]> {
  const url = new URL('../fixtures/report/history-regression.json', import.meta.url);
  const { baselines } = JSON.parse(readFileSync(url, 'utf8')) as {
    baselines: Array<{ run: RunMeta; results: UnitResult[] }>;
  };
  const byUnit = new Map<string, BaselineEntry[]>();
  for (const { run, results } of [...baselines].reverse()) {
    for (const result of results) {
      const list = byUnit.get(result.unitId) ?? [];
      list.push({ run, result });
      byUnit.set(result.unitId, list);
    }
  }
  return byUnit;
}

function comparison(state: HistoryState): HistoryComparison {
  const run = loadFixture('clean');
  return compareWithHistory(run, state === 'regression' ? fixtureBaselines() : new Map());
}

function render(state: HistoryState): string {
  const run = loadFixture('clean');
  const charts = chartSpecs(run).map((chart) => ({ name: chart.name, title: chart.title }));
  return renderMarkdown(run, { charts, history: comparison(state) });
}

function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n${heading}\n`);
  expect(start, `section ${heading}`).toBeGreaterThanOrEqual(0);
  const rest = markdown.slice(start + heading.length + 2);
  const next = rest.search(/\n## /);
  return next < 0 ? rest : rest.slice(0, next);
}

describe('history golden files', () => {
  for (const state of ['regression', 'no-baseline'] as const) {
    it(`matches test/golden/report/${state}.md`, () => {
      // Act
      const markdown = render(state);
      // Assess
      expectGolden(state, markdown);
    });
  }

  it('adds only the history section and one summary line to the clean report', () => {
    // Prepare
    const run = loadFixture('clean');
    const charts = chartSpecs(run).map((chart) => ({ name: chart.name, title: chart.title }));
    const clean = renderMarkdown(run, { charts });
    // Act
    const markdown = render('regression');
    const withoutSection = markdown
      .replace(/\n## Compared with history\n[\s\S]*?(?=\n## )/, '')
      .replace(/\n- History: [^\n]*/, '');
    // Assess
    expect(withoutSection).toBe(clean);
  });
});

describe('history section key facts', () => {
  it('no baseline: says there is nothing to compare with, naming the config hash', () => {
    // Act
    const markdown = render('no-baseline');
    const history = section(markdown, '## Compared with history');
    // Assess
    expect(history.trim()).toBe(
      'No earlier run of this configuration (config hash fixture-clean-config) to compare with.',
    );
    expect(section(markdown, '## Executive Summary')).toContain(
      '- History: no earlier run of this configuration (config hash fixture-clean-config) to compare with.',
    );
  });

  it('regression: the injected +40% is flagged, the improvement too, unchanged rows only counted', () => {
    // Prepare
    const compared = comparison('regression');
    // Act
    const markdown = render('regression');
    const history = section(markdown, '## Compared with history');
    // Assess
    expect(compared.baselineRuns).toEqual([
      'fixture-base-4',
      'fixture-base-3',
      'fixture-base-2',
      'fixture-base-1',
    ]);
    expect(history).toMatch(
      /\| 🔴 regression \| trading\/strategy-execution \| strategy-rtt-ms \| strategy=momentum \| [^|]+ \| [^|]+ \| \+40\.\d % \| [^|]+ \| [^|]+ \| [▁▂▃▄▅▆▇█]{5} \|/,
    );
    expect(history).toMatch(
      /\| 🟢 improvement \| trading\/consensus \| consensus-ms \| topology=mesh, agents=5 \|/,
    );
    expect(history).not.toContain('⚪');
    const unchanged = compared.rows.filter((row) => row.verdict === 'unchanged').length;
    expect(unchanged).toBeGreaterThan(50);
    expect(history).toContain(`${unchanged} unchanged series and figures not listed`);
    expect(section(markdown, '## Executive Summary')).toContain(
      `- History: ${compared.regressions} regression${compared.regressions === 1 ? '' : 's'}, ${compared.improvements} improvement`,
    );
    expect(compared.regressions).toBe(compared.rows.filter((row) => row.verdict === 'regression').length);
  });

  it('HTML renders the same section; JSON carries every row, unchanged ones too', () => {
    // Prepare
    const run = loadFixture('clean');
    const history = comparison('regression');
    // Act
    const html = renderHtml(run, [], { history });
    const json = JSON.parse(JSON.stringify(renderJson(run, { history }))) as { history: HistoryComparison };
    // Assess
    expect(html).toContain('<section id="history">');
    expect(html).toContain('<td>🔴 regression<'); // optional end tags are left out
    expect(json.history).toEqual(history);
    expect(json.history.rows.some((row) => row.verdict === 'unchanged')).toBe(true);
  });

  it('without history, no section and no summary line (the existing goldens)', () => {
    // Act
    const markdown = renderMarkdown(loadFixture('clean'));
    const json = renderJson(loadFixture('clean'));
    // Assess
    expect(markdown).not.toContain('Compared with history');
    expect(markdown).not.toContain('- History:');
    expect(json).not.toHaveProperty('history');
  });

  it('writeReport renders the comparison into all three documents', async () => {
    // Prepare
    const run = loadFixture('clean');
    const history = comparison('regression');
    const stored = new Map<string, string>();
    const sink = {
      put: async (name: string, body: string) => {
        stored.set(name, body);
        return { location: name };
      },
    };
    // Act
    await writeReport(run, sink, { history });
    // Assess
    expect(stored.get('SWARM_BENCHMARKS_REPORT.md')).toContain('## Compared with history');
    expect(stored.get('SWARM_BENCHMARKS_REPORT.html')).toContain('Compared with history');
    const json = JSON.parse(stored.get('SWARM_BENCHMARKS_REPORT.json')!) as { history: HistoryComparison };
    expect(json.history.rows).toHaveLength(history.rows.length);
  });
});

describe('history formatting', () => {
  it('sparkline scales from the minimum to the maximum', () => {
    expect(sparkline([1, 2, 3, 4, 5, 6, 7, 8])).toBe('▁▂▃▄▅▆▇█');
    expect(sparkline([10, 10, 10])).toBe('▄▄▄');
    expect(sparkline([5, 1, 9])).toBe('▅▁█');
    expect(sparkline([])).toBe('—');
  });

  it('delta with sign and one decimal, "new" from a zero baseline, dash without one', () => {
    expect(formatDelta({ delta: 0.3 })).toBe('+30.0 %');
    expect(formatDelta({ delta: -0.1234 })).toBe('-12.3 %');
    expect(formatDelta({ delta: 0 })).toBe('±0.0 %');
    expect(formatDelta({ delta: null, fromZero: true })).toBe('new (was 0)');
    expect(formatDelta({ delta: null })).toBe('—');
    expect(
      formatDelta({ delta: 0.05, adjusted: { reference: 'cpu', slope: 1, delta: 0.214, rawPValue: 0.3 } }),
    ).toBe('+5.0 % (+21.4 % vs cpu reference)');
  });

  it('p-values: two significant digits, tiny ones in exponent form', () => {
    expect(formatPValue(0.5)).toBe('0.5');
    expect(formatPValue(0.01234)).toBe('0.012');
    expect(formatPValue(2.36e-9)).toBe('2.4e-9');
    expect(formatPValue(null)).toBe('—');
  });
});
