import { describe, expect, it } from 'vitest';
import { e2bCostUsd, WEEKLY_RUNS_PER_MONTH } from '../../lib/cost/model.ts';
import { chartSpecs } from '../../lib/report/charts.ts';
import { formatUsd } from '../../lib/report/format.ts';
import { renderMarkdown } from '../../lib/report/markdown.ts';
import { expectGolden, FIXTURE_STATES, type FixtureState, loadFixture } from './report-helpers.ts';

function render(state: FixtureState): string {
  const run = loadFixture(state);
  const charts = chartSpecs(run).map((chart) => ({ name: chart.name, title: chart.title }));
  return renderMarkdown(run, { charts });
}

function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n${heading}\n`);
  expect(start, `section ${heading}`).toBeGreaterThanOrEqual(0);
  const level = heading.split(' ')[0]!;
  const rest = markdown.slice(start + heading.length + 2);
  const next = rest.search(new RegExp(`\\n${level} `));
  return next < 0 ? rest : rest.slice(0, next);
}

describe('renderMarkdown golden files', () => {
  for (const state of FIXTURE_STATES) {
    it(`matches test/golden/report/${state}.md`, () => {
      // Act
      const markdown = render(state);
      // Assess
      expectGolden(state, markdown);
    });
  }

  it('renders the same bytes twice (no clock, no randomness)', () => {
    expect(render('failed-targets')).toBe(render('failed-targets'));
  });
});

describe('renderMarkdown key facts', () => {
  it('clean run: every target passes and the summary says so', () => {
    // Act
    const markdown = render('clean');
    const targets = section(markdown, '## Performance Targets');
    // Assess
    expect(targets.match(/✅ Pass/g)).toHaveLength(17);
    expect(targets).not.toMatch(/❌|⏳/);
    expect(markdown).toContain('**All 17 targets passed in this run.**');
    expect(section(markdown, '### High Priority')).toContain('None.');
  });

  it('failed targets: marked Fail, High recommendation with the measured number, no all-met claim', () => {
    // Act
    const markdown = render('failed-targets');
    const targets = section(markdown, '## Performance Targets');
    const high = section(markdown, '### High Priority');
    // Assess
    expect(targets).toMatch(
      /\| Swarm Initialization \| init-ms p95 < 5,000 ms .*\| 5,476 ms \(topology=ring, agents=5\) \| ❌ Fail \| High \|/,
    );
    expect(targets).toMatch(/\| HFT Decision \(custom\) \|.*❌ Fail/);
    expect(high).toContain(
      'Swarm Initialization misses its target: measured 5,476 ms (topology=ring, agents=5) against < 5,000 ms',
    );
    expect(high).toContain('Sub-linear Time Scaling (exponent) misses its target: measured 1.18');
    expect(markdown).toContain('**8 of 18 targets failed:');
    expect(markdown.toLowerCase()).not.toContain('all targets met');
    expect(markdown).not.toMatch(/All \d+ targets passed/);
  });

  it('failed unit: pending with its reason in targets, failed in its section, partial banner', () => {
    // Act
    const markdown = render('failed-unit');
    const unit = section(markdown, '#### State synchronization overhead (communication/state-sync)');
    // Assess
    expect(markdown).toContain(
      '| State Synchronization | sync-ms p95 < 1,000 ms (communication/state-sync) | — | ⏳ Pending (unit failed: state sync did not finish within 120000 ms (agent a3 stopped acknowledging)) | Medium |',
    );
    expect(unit).toContain('> ❌ **Failed: TimeoutError: state sync did not finish within 120000 ms');
    expect(markdown).toContain('> ⚠️ **PARTIAL run: 1 of 18 units failed (communication/state-sync).');
    expect(markdown).toContain('No evaluated target failed, but 1 of 17 targets is pending');
    expect(markdown).not.toMatch(/All \d+ targets passed/);
  });

  it('cost numbers come from the units usage x the template resources', () => {
    // Prepare
    const run = loadFixture('clean');
    const sandboxSeconds = run.results.reduce((sum, result) => sum + result.usage.sandboxSeconds, 0);
    const costUsd = e2bCostUsd(sandboxSeconds, run.meta.template);
    // Act
    const cost = section(render('clean'), '## Cost Analysis');
    // Assess
    expect(cost).toContain(`**E2B cost of this run (projected):** ${formatUsd(costUsd)}`);
    expect(cost).toContain(
      `**Projected monthly cost of the weekly schedule:** ${formatUsd(costUsd * WEEKLY_RUNS_PER_MONTH)}`,
    );
    expect(cost).toMatch(/\| 5 \| hierarchical \| \$0\.0000062 \| \$0\.544\/h \| \$397\.49 \| mesh/);
  });

  it('an E2B run is labelled computed, not projected', () => {
    // Act
    const cost = section(render('failed-targets'), '## Cost Analysis');
    // Assess
    expect(cost).toContain('E2B cost of this run (computed)');
    expect(cost).not.toContain('(projected)');
  });

  it('embeds charts as images and keeps an injected label inert', () => {
    // Prepare
    const run = loadFixture('clean');
    run.results[0]!.series[0]!.labels.topology = '<script>alert(1)</script> | x';
    // Act
    const markdown = renderMarkdown(run, { charts: [{ name: 'scaling-curve', title: 'Scaling' }] });
    // Assess
    expect(markdown).toContain('![Scaling](charts/scaling-curve.svg)');
    expect(markdown).not.toContain('<script>');
    expect(markdown).toContain('&lt;script>alert(1)&lt;/script> \\| x');
  });
});
