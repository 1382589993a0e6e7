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
  it('clean run: no target fails, and small samples are inconclusive rather than passed', () => {
    // Act
    const markdown = render('clean');
    const targets = section(markdown, '## Performance Targets');
    // Assess: 8-10 samples cannot bound a p95 from above; exact and observed values can pass
    expect(targets).not.toMatch(/❌|⏳/);
    expect(targets).toContain(
      '| Swarm Initialization | init-ms p95 < 5,000 ms (creation/swarm-init) | 1,255 ms (topology=mesh, agents=5) | [1,206 ms, —]; n too small for a p95 interval (needs n >= 72) | 8 | ❔ Inconclusive: about n = 72 (64 more) would likely decide it | High |',
    );
    expect(targets).toMatch(
      /\| Cost per Hour \(worst topology\) \|.*\| exact \(list prices x counts\) \| — \| ✅ Pass \|/,
    );
    expect(markdown).toContain('- Targets: 3 passed, 0 failed, 14 inconclusive, 0 pending (of 17).');
    expect(markdown).not.toMatch(/All \d+ targets passed/);
    expect(section(markdown, '### High Priority')).toContain('None.');
  });

  it('series tables: the median interval, and no interval or CV below 2 samples', () => {
    // Prepare
    const run = loadFixture('clean');
    const unit = run.results.find((result) => result.unitId === 'creation/agent-deployment')!;
    unit.series[0]!.samples = [612.5];
    // Act
    const markdown = renderMarkdown(run);
    // Assess
    expect(markdown).toContain(
      '| deploy-ms (ms) | agents=5 | 1 | 612.5 | — | 612.5 | 612.5 | 612.5 | 612.5 | n = 1: no interval | — | 0 |',
    );
    expect(markdown).toContain(
      '| init-ms (ms) | topology=mesh, agents=5 | 8 | 1,188 | 60.12 | 1,061 | 1,190 | 1,255 | 1,275 | [1,061, 1,279] |',
    );
    expect(markdown).not.toMatch(/\[-\d/);
  });

  it('failed targets: marked Fail, High recommendation with the measured number, no all-met claim', () => {
    // Act
    const markdown = render('failed-targets');
    const targets = section(markdown, '## Performance Targets');
    const high = section(markdown, '### High Priority');
    // Assess
    expect(targets).toMatch(
      /\| Swarm Initialization \| init-ms p95 < 5,000 ms .*\| 5,476 ms \(topology=ring, agents=5\) \| \[5,397 ms, —\]; n too small for a p95 interval \(needs n >= 72\) \| 8 \| ❌ Fail \| High \|/,
    );
    expect(targets).toMatch(/\| HFT Decision \(custom\) \|.*❌ Fail/);
    expect(high).toContain(
      'Swarm Initialization misses its target: measured 5,476 ms (topology=ring, agents=5) against < 5,000 ms',
    );
    expect(high).toContain('scalability/linear-scaling time-exponent is 1.18');
    expect(markdown).toContain('**5 of 18 targets failed:');
    expect(markdown.toLowerCase()).not.toContain('all targets met');
    expect(markdown).not.toMatch(/All \d+ targets passed/);
  });

  it('failed unit: pending with its reason in targets, failed in its section, partial banner', () => {
    // Act
    const markdown = render('failed-unit');
    const unit = section(markdown, '#### State synchronization overhead (communication/state-sync)');
    // Assess
    expect(markdown).toContain(
      '| State Synchronization | sync-ms p95 < 1,000 ms (communication/state-sync) | — | — | — | ⏳ Pending (unit failed: state sync did not finish within 120000 ms (agent a3 stopped acknowledging)) | Medium |',
    );
    expect(unit).toContain('> ❌ **Failed: TimeoutError: state sync did not finish within 120000 ms');
    expect(markdown).toContain('> ⚠️ **PARTIAL run: 1 of 18 units failed (communication/state-sync).');
    expect(markdown).toContain(
      'No target failed, but of 17 targets 13 are inconclusive (the interval straddles the target) and 1 is pending',
    );
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
