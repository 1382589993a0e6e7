/**
 * The report as a tree of sections holding plain-text blocks (paragraphs, tables, lists, charts).
 * Markdown and HTML both render this one model, so the content is written once and the two can
 * never disagree. All text here is plain: each renderer escapes it for its own format.
 */
import { CATALOG, catalogEntry, EXTRA_CATALOG } from '../bench/catalog.ts';
import { describeUnattainable, measuredAgents, unattainableTargets } from '../bench/e2b-limits.ts';
import {
  CATEGORIES,
  type CategoryId,
  type RunResults,
  TESTS,
  type UnitResult,
  type UnitSpec,
} from '../bench/model.ts';
import type { TargetOutcome } from '../bench/targets.ts';
import { E2B_PRICES } from '../cost/prices.ts';
import type { HistoryComparison } from '../history/compare.ts';
import { DEFAULT_BUDGET, DEFAULT_WORKLOAD, recommend } from '../recommend/index.ts';
import { MAX_PROJECTED_SAMPLES } from '../stats/intervals.ts';
import { MEDIAN_INTERVAL_MIN_COUNT } from '../stats/summary.ts';
import {
  analyzeRun,
  findResult,
  type Priority,
  type RunAnalysis,
  type UnitCost,
  type UnitPlanComparison,
} from './analysis.ts';
import {
  formatDurationMs,
  formatExact,
  formatInterval,
  formatLabels,
  formatNumber,
  formatUsd,
  formatValue,
} from './format.ts';
import { DETECTOR_RULE, historySection, historySummaryLine } from './history.ts';

export type Block =
  | { kind: 'paragraph'; text: string; strong?: boolean; link?: { text: string; href: string } }
  | { kind: 'banner'; tone: 'warning' | 'error'; text: string }
  | { kind: 'table'; columns: string[]; rows: string[][]; numeric?: boolean[] }
  | { kind: 'list'; items: string[] }
  | { kind: 'fields'; items: Array<{ name: string; value: string }> }
  | { kind: 'chart'; name: string; title: string };

/** A titled section; its heading level is its depth in the tree. */
export interface Section {
  id: string;
  title: string;
  blocks: Block[];
  subsections: Section[];
}

/** The whole report, ready to render. */
export interface ReportModel {
  title: string;
  sections: Section[];
}

/** A chart available to the report (rendered by charts.ts and stored as charts/<name>.svg). */
export interface ChartRef {
  name: string;
  title: string;
}

/** Which category section shows each known chart; others go to a "Charts" section. */
export const CHART_CATEGORY: Readonly<Record<string, CategoryId>> = Object.freeze({
  'consensus-per-topology': 'trading',
  'scaling-curve': 'scalability',
  'latency-distribution': 'communication',
  'cost-per-topology': 'cost',
});

const STATUS_TEXT: Record<TargetOutcome['status'], string> = {
  pass: '✅ Pass',
  fail: '❌ Fail',
  inconclusive: '❔ Inconclusive',
  pending: '⏳ Pending',
};
const PRIORITIES: Priority[] = ['High', 'Medium', 'Low'];

/**
 * Build the section model of a run's report. Pure: the same run always gives the same model.
 * With `history`, the summary counts regressions and a "Compared with history" section follows
 * the targets; without it (no store at hand) neither appears.
 */
export function buildReport(
  run: RunResults,
  charts: readonly ChartRef[] = [],
  history?: HistoryComparison,
  options: ReportOptions = {},
): ReportModel {
  const analysis = options.analysis?.run === run ? options.analysis : analyzeRun(run);
  const placed = new Set<string>();
  const chartsFor = (category: string): Block[] =>
    charts
      .filter((chart) => CHART_CATEGORY[chart.name] === category)
      .map((chart) => {
        placed.add(chart.name);
        return { kind: 'chart', name: chart.name, title: chart.title } as const;
      });

  const sections: Section[] = [
    headerSection(run),
    summarySection(analysis, history),
    targetsSection(analysis.outcomes),
    ...(run.meta.provider === 'e2b' ? [e2bLimitsSection(run)] : []),
    ...(history === undefined ? [] : [historySection(history)]),
    {
      id: 'results',
      title: 'Results by Category',
      blocks: [
        {
          kind: 'paragraph',
          text: 'Statistics of every measured series (warm-ups excluded), then the figures derived from them. Times in ms unless the series name says otherwise.',
        },
      ],
      subsections: CATEGORIES.map((category) => ({
        id: `category-${category.id}`,
        title: category.title,
        blocks: chartsFor(category.id),
        subsections: categoryUnits(run, category.id).map((unitId) => unitSection(analysis, unitId)),
      })),
    },
  ];
  const customUnits = categoryUnits(run, 'custom');
  if (customUnits.length > 0) {
    sections.push({
      id: 'custom',
      title: 'Custom scenarios',
      blocks: [],
      subsections: customUnits.map((unitId) => unitSection(analysis, unitId)),
    });
  }
  const unplaced = charts.filter(
    (chart) => !placed.has(chart.name) && CHART_CATEGORY[chart.name] === undefined,
  );
  if (unplaced.length > 0) {
    sections.push({
      id: 'charts',
      title: 'Charts',
      blocks: unplaced.map((chart) => ({ kind: 'chart', name: chart.name, title: chart.title })),
      subsections: [],
    });
  }
  sections.push(
    costSection(analysis),
    recommendationsSection(analysis),
    topologySection(analysis),
    howSection(analysis, options.methodologyHref),
  );
  return { title: 'E2B Trading Swarm Benchmark Report', sections };
}

/** Options of buildReport. */
export interface ReportOptions {
  /**
   * Where the shared methodology (methodologyModel) is published, relative to the report. When
   * set, "How measured" keeps only what belongs to this run (its samples per series, custom
   * scenarios) and links there for the text every run shares. @default inline, self-contained
   */
  methodologyHref?: string;
  /** analyzeRun(run), when the caller has it already (used only if it is of this very run object). */
  analysis?: RunAnalysis;
}

/**
 * What every report's "How measured" says whatever the run: the statistics, the target verdicts,
 * the history detector and what each catalogued benchmark measures and how. A site publishes it
 * once instead of in each run's page.
 */
export function methodologyModel(): ReportModel {
  const entries = [...new Map([...CATALOG, ...EXTRA_CATALOG].map((entry) => [entry.unitId, entry])).values()];
  return {
    title: 'How swarm-bench measures',
    sections: [
      {
        id: 'how-measured',
        title: 'Statistics, verdicts and the history detector',
        blocks: [
          { kind: 'paragraph', text: STATISTICS_NOTE },
          { kind: 'paragraph', text: VERDICT_NOTE },
          { kind: 'paragraph', text: DETECTOR_NOTE },
        ],
        subsections: [],
      },
      {
        id: 'benchmarks',
        title: 'What each benchmark measures',
        blocks: [],
        subsections: entries.map((entry) => ({
          id: `how-${entry.unitId}`,
          title: `${entry.title} (${entry.unitId})`,
          blocks: [
            {
              kind: 'fields',
              items: [
                { name: 'Measures', value: entry.measures },
                { name: 'How', value: entry.how },
              ],
            },
          ],
          subsections: [],
        })),
      },
    ],
  };
}

function headerSection(run: RunResults): Section {
  const { meta } = run;
  const durationMs =
    meta.endedAt === undefined ? Number.NaN : Date.parse(meta.endedAt) - Date.parse(meta.startedAt);
  const machine = [
    `${meta.machine.platform}/${meta.machine.arch}`,
    `${meta.machine.cpus} CPUs`,
    `${formatExact(meta.machine.memoryGb)} GB`,
    meta.machine.cpuModel,
    meta.machine.region,
  ]
    .filter((part) => part !== undefined && part !== '')
    .join(', ');
  const blocks: Block[] = [];
  if (meta.status !== 'completed') {
    const reason = meta.reason ?? 'no reason recorded';
    blocks.push(
      meta.status === 'failed'
        ? { kind: 'banner', tone: 'error', text: `FAILED run: ${reason}. Results below are incomplete.` }
        : meta.status === 'partial' || meta.status === 'interrupted' || meta.status === 'abandoned'
          ? {
              kind: 'banner',
              tone: 'warning',
              text: `${meta.status.toUpperCase()} run: ${reason}. Some units did not produce results.`,
            }
          : {
              kind: 'banner',
              tone: 'warning',
              text: `RUNNING: this run had not finished when the report was rendered (${reason}).`,
            },
    );
  }
  blocks.push({
    kind: 'table',
    columns: ['Field', 'Value'],
    rows: [
      ['Run ID', meta.runId],
      ['Date', formatTimestamp(meta.startedAt)],
      [
        'Provider',
        meta.provider === 'local' ? 'local (isolated child processes on one machine)' : 'e2b (E2B microVMs)',
      ],
      [
        'Template',
        `${meta.template.name} (${formatExact(meta.template.vcpu)} vCPU, ${formatExact(meta.template.memoryMb)} MiB)`,
      ],
      ['Profile', meta.profile],
      ['Git commit', meta.gitCommit],
      ['Node version', meta.nodeVersion],
      ['Machine', machine],
      ['Config hash', meta.configHash],
      ...(meta.market
        ? [['Market data', `${meta.market.source}, sha256 ${meta.market.sha256.slice(0, 16)}`]]
        : []),
      ...(meta.plugins
        ? [
            [
              'Plug-ins',
              `strategies ${meta.plugins.strategies.join(', ') || 'none'}; decision rule ${meta.plugins.decisionRule ?? 'plurality'}; bundle sha256 ${meta.plugins.sha256.slice(0, 16)}`,
            ],
          ]
        : []),
      ['Duration', formatDurationMs(durationMs)],
      ['Status', meta.status],
    ],
  });
  return { id: 'run', title: 'Run', blocks, subsections: [] };
}

function summarySection(analysis: RunAnalysis, history: HistoryComparison | undefined): Section {
  const { run, outcomes, cost } = analysis;
  const count = (status: TargetOutcome['status']) =>
    outcomes.filter((outcome) => outcome.status === status).length;
  const passed = count('pass');
  const failed = count('fail');
  const inconclusive = count('inconclusive');
  const pendingCount = count('pending');
  const unitCount = (status: UnitResult['status']) =>
    run.results.filter((result) => result.status === status).length;
  const notRun = run.meta.units.filter((unit) => findResult(run, unit.unitId) === undefined).length;
  const units =
    `Units: ${unitCount('ok')} ok, ${unitCount('partial')} partial, ${unitCount('failed')} failed` +
    `${notRun > 0 ? `, ${notRun} not run` : ''} (${run.meta.units.length} planned).`;
  const costLine = `E2B cost of this run: ${formatUsd(cost.runCostUsd)} ${
    cost.projected
      ? '(projected: the run used local processes; priced as if on E2B)'
      : '(from billed sandbox-seconds)'
  }, ${formatNumber(cost.sandboxSeconds)} sandbox-seconds.`;
  let verdict: string;
  if (outcomes.length === 0) verdict = 'No targets were evaluated.';
  else if (failed > 0) {
    const names = outcomes
      .filter((outcome) => outcome.status === 'fail')
      .map((outcome) => outcome.target.label);
    verdict = `${failed} of ${outcomes.length} targets failed: ${names.join(', ')}.`;
    if (inconclusive > 0) verdict += ` ${inconclusive} more ${isAre(inconclusive)} inconclusive.`;
    if (pendingCount > 0) verdict += ` ${pendingCount} more could not be evaluated.`;
  } else if (inconclusive + pendingCount > 0) {
    const open = [
      inconclusive > 0
        ? `${inconclusive} ${isAre(inconclusive)} inconclusive (the interval straddles the target)`
        : '',
      pendingCount > 0 ? `${pendingCount} ${isAre(pendingCount)} pending` : '',
    ].filter(Boolean);
    verdict = `No target failed, but of ${outcomes.length} targets ${open.join(' and ')}, so this run does not show that every target is met.`;
  } else verdict = `All ${outcomes.length} targets passed in this run, each with its whole 95% interval.`;
  return {
    id: 'summary',
    title: 'Executive Summary',
    blocks: [
      { kind: 'paragraph', text: verdict, strong: true },
      {
        kind: 'list',
        items: [
          `Targets: ${passed} passed, ${failed} failed, ${inconclusive} inconclusive, ${pendingCount} pending (of ${outcomes.length}).`,
          units,
          costLine,
          ...(history === undefined ? [] : [historySummaryLine(history)]),
        ],
      },
    ],
    subsections: [],
  };
}

function targetsSection(outcomes: TargetOutcome[]): Section {
  const rows = outcomes.map((outcome) => {
    const { target } = outcome;
    const what = target.figure !== undefined ? target.figure : `${target.series} ${target.stat}`;
    const scope = target.labels === undefined ? '' : `, ${formatLabels(target.labels)}`;
    const measured =
      outcome.measured === undefined
        ? '—'
        : `${formatValue(outcome.measured, target.unit)}${
            outcome.measuredLabels && Object.keys(outcome.measuredLabels).length > 0
              ? ` (${formatLabels(outcome.measuredLabels)})`
              : ''
          }`;
    return [
      `${target.label}${target.source === 'custom' ? ' (custom)' : ''}`,
      `${what} ${target.op} ${formatValue(target.value, target.unit, true)} (${target.unitId}${scope})`,
      measured,
      targetInterval(outcome),
      outcome.sampleCount === undefined ? '—' : String(outcome.sampleCount),
      targetStatus(outcome),
      target.importance,
    ];
  });
  return {
    id: 'targets',
    title: 'Performance Targets',
    blocks: [
      {
        kind: 'paragraph',
        text:
          'Each target is judged on the 95% confidence interval of its statistic: Pass when the whole interval meets the target, Fail when the whole interval misses it, Inconclusive when it straddles the target or the sample is too small for the bound that would decide. ' +
          'Where several series or figures match a target (one per topology or size), one Fail fails it and all must Pass for it to pass; the deciding one is shown. How each interval is computed: see "How measured".',
      },
      {
        kind: 'table',
        columns: ['Metric', 'Target', 'Measured', '95% CI', 'n', 'Status', 'Importance'],
        rows,
      },
    ],
    subsections: [],
  };
}

/** The interval of a target's statistic as "[lo, hi]" (one-sided: "[lo, —]"), or why there is none. */
function targetInterval(outcome: TargetOutcome): string {
  const { interval, intervalNote } = outcome;
  const unit = outcome.target.unit;
  if (outcome.status === 'pending') return '—';
  if (interval === undefined || (interval.low === null && interval.high === null)) return intervalNote ?? '—';
  const bound = (value: number | null) => (value === null ? '—' : formatValue(value, unit));
  const method = interval.method === 'bootstrap' ? ' (bootstrap)' : '';
  const text = `[${bound(interval.low)}, ${bound(interval.high)}]${method}`;
  return intervalNote === undefined ? text : `${text}; ${intervalNote}`;
}

function targetStatus(outcome: TargetOutcome): string {
  switch (outcome.status) {
    case 'pending':
      return `${STATUS_TEXT.pending} (${outcome.reason})`;
    case 'inconclusive': {
      const needed = outcome.samplesNeeded;
      if (needed === undefined || needed === null) return STATUS_TEXT.inconclusive;
      const more =
        outcome.sampleCount === undefined ? '' : ` (${formatExact(needed - outcome.sampleCount)} more)`;
      const prefix = needed >= MAX_PROJECTED_SAMPLES ? 'more than ' : 'about ';
      return `${STATUS_TEXT.inconclusive}: ${prefix}n = ${formatExact(needed)}${more} would likely decide it`;
    }
    default:
      return STATUS_TEXT[outcome.status];
  }
}

function isAre(count: number): string {
  return count === 1 ? 'is' : 'are';
}

function categoryUnits(run: RunResults, category: CategoryId | 'custom'): string[] {
  const known: readonly string[] =
    category === 'custom' ? [] : TESTS[category].map((test) => `${category}/${test}`);
  const planned = run.meta.units.filter((unit) => unit.category === category).map((unit) => unit.unitId);
  const measured = run.results
    .filter((result) => result.category === category)
    .map((result) => result.unitId);
  return [...new Set([...known, ...planned, ...measured])];
}

function unitTitle(run: RunResults, unitId: string): string {
  return (
    catalogEntry(unitId)?.title ??
    findResult(run, unitId)?.title ??
    run.meta.units.find((unit) => unit.unitId === unitId)?.title ??
    unitId
  );
}

function unitSection(analysis: RunAnalysis, unitId: string): Section {
  const { run } = analysis;
  const spec = run.meta.units.find((unit) => unit.unitId === unitId);
  const result = findResult(run, unitId);
  const section: Section = {
    id: `unit-${unitId}`,
    title: `${unitTitle(run, unitId)} (${unitId})`,
    blocks: [],
    subsections: [],
  };
  if (result === undefined) {
    section.blocks.push({
      kind: 'paragraph',
      text:
        spec === undefined
          ? "Not in this run's plan."
          : 'Planned, but no result was recorded (the unit did not run).',
    });
    return section;
  }
  const reason = `${result.error?.name ?? 'Error'}: ${result.error?.message ?? 'no reason recorded'}`;
  if (result.status === 'failed')
    section.blocks.push({ kind: 'banner', tone: 'error', text: `Failed: ${reason}` });
  if (result.status === 'partial')
    section.blocks.push({ kind: 'banner', tone: 'warning', text: `Partial: ${reason}` });
  section.blocks.push({
    kind: 'paragraph',
    text:
      `Parameters: ${formatParams(result.params)}. Usage: ${formatExact(result.usage.sandboxesCreated)} sandboxes, ` +
      `${formatNumber(result.usage.sandboxSeconds)} sandbox-seconds, ${formatExact(result.usage.operations)} operations; ` +
      `took ${formatDurationMs(result.durationMs)}.`,
  });
  const summarized = analysis.summaries.get(unitId) ?? [];
  if (summarized.length > 0) {
    section.blocks.push({
      kind: 'table',
      columns: [
        'Series',
        'Labels',
        'n',
        'mean',
        'sd',
        'min',
        'p50',
        'p95',
        'p99',
        'Median 95% CI',
        'CV',
        'Warm-up discarded',
      ],
      numeric: [false, false, true, true, true, true, true, true, true, true, true, true],
      rows: summarized.map(({ series, summary }) => [
        `${series.name} (${series.unit})`,
        formatLabels(series.labels),
        String(summary.count),
        formatNumber(summary.mean),
        formatNumber(summary.sd),
        formatNumber(summary.min),
        formatNumber(summary.p50),
        formatNumber(summary.p95),
        formatNumber(summary.p99),
        summary.medianCi !== null
          ? formatInterval(summary.medianCi)
          : summary.count < 2
            ? `n = ${summary.count}: no interval`
            : `n < ${MEDIAN_INTERVAL_MIN_COUNT}: no interval`,
        formatNumber(summary.cv),
        String(summary.warmupDiscarded),
      ]),
    });
  } else if (result.status !== 'failed' && result.figures.length === 0) {
    section.blocks.push({ kind: 'paragraph', text: 'No series or figures recorded.' });
  }
  if (result.figures.length > 0) {
    section.blocks.push({
      kind: 'table',
      columns: ['Figure', 'Labels', 'Value', 'From', 'How computed'],
      rows: result.figures.map((figure) => [
        figure.name,
        formatLabels(figure.labels),
        formatValue(figure.value, figure.unit),
        figure.from.join(', ') || '—',
        figure.how,
      ]),
    });
  }
  if (result.faults.length > 0) {
    section.blocks.push(
      { kind: 'paragraph', text: 'Faults injected or observed:' },
      { kind: 'list', items: result.faults },
    );
  }
  return section;
}

/**
 * E2B's plan limits in this run: creation time spent waiting for the creation rate (pacing and 429
 * backoff) apart from creation latency proper, and the guide targets the rate alone rules out.
 */
function e2bLimitsSection(run: RunResults): Section {
  const limits = run.meta.e2b;
  const units = run.results.filter((result) => result.usage.sandboxesCreated > 0);
  const throttledMs = units.reduce((sum, r) => sum + (r.usage.creationThrottledMs ?? 0), 0);
  const rateLimited = units.reduce((sum, r) => sum + (r.usage.rateLimited ?? 0), 0);
  const handshakeRetries = run.results.reduce((sum, r) => sum + (r.usage.handshakeRetries ?? 0), 0);
  const created = units.reduce((sum, r) => sum + r.usage.sandboxesCreated, 0);
  const blocks: Block[] = [
    {
      kind: 'fields',
      items: [
        {
          name: 'Plan tier and pacing',
          value: limits
            ? `${limits.tier}: ${formatExact(limits.creationRate)} creations/s, ${formatExact(limits.agentsPerSandbox)} agent(s) per sandbox`
            : 'not recorded for this run',
        },
        {
          name: 'Creation time spent throttled',
          value: !units.some((r) => r.usage.creationThrottledMs !== undefined)
            ? 'not recorded for this run'
            : `${formatDurationMs(throttledMs)} over ${formatExact(created)} sandboxes created ` +
              `(${formatDurationMs(created > 0 ? throttledMs / created : 0)} per sandbox on average), ` +
              `${formatExact(rateLimited)} creations answered 429 and retried. Swarm init and deploy times include ` +
              'this wait; creation latency proper is what remains.',
        },
        {
          name: "Agent handshakes retried through E2B's edge",
          value: !run.results.some((r) => r.usage.handshakeRetries !== undefined)
            ? 'not recorded for this run'
            : `${formatExact(handshakeRetries)} (the coordinator tries an agent's WebSocket handshake again ` +
              'when the edge times out, is unreachable or answers 502-504; each retry adds to that deploy time).',
        },
      ],
    },
  ];
  if (units.length > 0) {
    blocks.push({
      kind: 'table',
      columns: [
        'Unit',
        'Sandboxes created',
        '429s retried',
        'Throttled',
        'Throttled per sandbox',
        'Handshakes retried',
      ],
      numeric: [false, true, true, true, true, true],
      rows: units.map((r) => [
        r.unitId,
        formatExact(r.usage.sandboxesCreated),
        // A dash where the run did not record it (results from before it was measured).
        r.usage.rateLimited === undefined ? '—' : formatExact(r.usage.rateLimited),
        formatDurationMs(r.usage.creationThrottledMs ?? Number.NaN),
        formatDurationMs((r.usage.creationThrottledMs ?? Number.NaN) / r.usage.sandboxesCreated),
        r.usage.handshakeRetries === undefined ? '—' : formatExact(r.usage.handshakeRetries),
      ]),
    });
  }
  const unattainable = limits
    ? unattainableTargets(limits, measuredAgents(run)).map((item) => describeUnattainable(limits, item))
    : [];
  blocks.push(
    unattainable.length > 0
      ? { kind: 'list', items: unattainable }
      : {
          kind: 'paragraph',
          text: limits
            ? "No guide target on creation time is ruled out by this tier's creation rate at the swarm sizes measured."
            : 'Without the recorded tier, targets ruled out by the creation rate are not assessed.',
        },
  );
  return { id: 'e2b-limits', title: 'E2B plan limits', blocks, subsections: [] };
}

function costSection(analysis: RunAnalysis): Section {
  const { cost } = analysis;
  const template = `${formatExact(cost.resources.vcpu)} vCPU, ${formatExact(cost.resources.memoryMb)} MiB`;
  const label = cost.projected ? 'projected' : 'computed';
  const fields: Array<{ name: string; value: string }> = [
    {
      name: `E2B cost of this run (${label})`,
      value:
        `${formatUsd(cost.runCostUsd)}: ${formatNumber(cost.sandboxSeconds)} sandbox-seconds measured across all units x ` +
        `the template's ${template} at E2B list prices ($${E2B_PRICES.vcpuSecondUsd}/vCPU-s, $${E2B_PRICES.memoryGibSecondUsd}/GiB-s, as of ${E2B_PRICES.asOf})` +
        (cost.projected
          ? '; the run used local processes, so this is what the same usage would cost on E2B.'
          : '.'),
    },
    {
      name: 'Cost per operation (whole run)',
      value:
        cost.costPerOperationUsd === undefined
          ? 'no operations recorded'
          : `${formatUsd(cost.costPerOperationUsd)} (${formatUsd(cost.runCostUsd)} / ${formatExact(cost.operations)} operations)`,
    },
    {
      name: 'Operations per dollar (whole run)',
      value:
        cost.operationsPerUsd === undefined
          ? 'no operations recorded'
          : formatValue(cost.operationsPerUsd, 'ops/usd'),
    },
  ];
  const workload = findResult(analysis.run, 'cost/cost-per-operation');
  for (const name of ['cost-per-op', 'ops-per-usd'] as const) {
    const figure = workload?.figures.find((candidate) => candidate.name === name);
    if (figure !== undefined) {
      fields.push({
        name:
          name === 'cost-per-op'
            ? 'Cost per operation (strategy workload)'
            : 'Operations per dollar (strategy workload)',
        value: `${formatValue(figure.value, figure.unit)} (cost/cost-per-operation ${name})`,
      });
    }
  }
  fields.push({
    name: 'Projected monthly cost of the weekly schedule',
    value: `${formatUsd(cost.monthlyWeeklyScheduleUsd)} (${formatUsd(cost.runCostUsd)} x ${formatNumber(cost.weeklyRunsPerMonth)} runs per month)`,
  });
  const blocks: Block[] = [{ kind: 'fields', items: fields }];
  if (cost.perSize.length > 0) {
    blocks.push(
      {
        kind: 'paragraph',
        text: `Cost-optimal topology per swarm size, from cost/cost-per-topology (continuous operation = hourly cost x ${cost.hoursPerMonth} h per month):`,
      },
      {
        kind: 'table',
        columns: [
          'Agents',
          'Cost-optimal topology',
          'Cost/op',
          'Hourly',
          'Continuous operation per month',
          'Most expensive (cost/op)',
        ],
        rows: cost.perSize.map((row) => [
          String(row.agents),
          row.cheapestTopology,
          formatUsd(row.cheapestCostPerOpUsd),
          row.cheapestHourlyUsd === undefined ? '—' : formatValue(row.cheapestHourlyUsd, 'usd/h'),
          row.cheapestHourlyUsd === undefined ? '—' : formatUsd(row.cheapestHourlyUsd * cost.hoursPerMonth),
          `${row.dearestTopology} (${formatUsd(row.dearestCostPerOpUsd)})`,
        ]),
      },
    );
  } else {
    blocks.push({
      kind: 'paragraph',
      text: 'No cost/cost-per-topology figures in this run: no cost-optimal topology can be named.',
    });
  }
  blocks.push(...recommendedConfiguration(analysis));
  if (cost.units.length > 0) {
    const created = cost.units.reduce((sum, unit) => sum + unit.sandboxesCreated, 0);
    const pooled = analysis.run.results.filter((result) => result.params.pooled === true).length;
    blocks.push(
      {
        kind: 'paragraph',
        text: `Sandboxes created in this run: ${formatExact(created)}, over ${formatNumber(cost.sandboxSeconds)} sandbox-seconds; ${pooled} of ${analysis.run.results.length} units ran in pooled (reused) sandboxes.`,
      },
      {
        kind: 'paragraph',
        text:
          `The same units on AWS (E2B sandboxes, one Lambda per unit, ` +
          (pooled > 0 ? 'the pool handed from unit to unit' : 'no pooling') +
          `): ${formatExact(cost.pipeline.sandboxes)} sandboxes planned; about ${formatNumber(cost.pipeline.wallTimeMs / 60_000)} min wall time, ` +
          `modelled from this run's measured unit durations with ` +
          (pooled > 0
            ? `Map concurrency ${formatExact(cost.pipeline.concurrency.creation)} for creation units and ${formatExact(cost.pipeline.concurrency.pooled)} for pooled units`
            : `Map concurrency ${formatExact(cost.pipeline.concurrency.creation)}`) +
          ' (E2B Hobby: at most 20 sandboxes alive).',
      },
      { kind: 'paragraph', text: 'Usage and E2B cost per unit:' },
      {
        kind: 'table',
        columns: ['Unit', 'Sandboxes', 'Sandbox-seconds', 'Operations', 'E2B cost'],
        numeric: [false, true, true, true, true],
        rows: cost.units.map((unit) => [
          unit.unitId,
          formatExact(unit.sandboxesCreated),
          formatNumber(unit.sandboxSeconds),
          formatExact(unit.operations),
          formatUsd(unit.costUsd),
        ]),
      },
    );
  }
  blocks.push(...planVsMeasuredBlocks(cost.units));
  return { id: 'cost', title: 'Cost Analysis', blocks, subsections: [] };
}

/** Share of the plan a unit may miss by and still count as "within the plan" (issue 18's goal). */
export const PLAN_TOLERANCE = 0.25;

/** Every unit's planned duration and sandbox-seconds beside the measured ones, and the estimate's source. */
function planVsMeasuredBlocks(units: readonly UnitCost[]): Block[] {
  const compared = units.filter((unit) => unit.plan !== undefined);
  if (compared.length === 0) return [];
  const ratio = (value: number | undefined) => (value === undefined ? '—' : `${value.toFixed(2)}x`);
  const within = compared.filter(
    (unit) =>
      unit.plan?.durationRatio !== undefined && Math.abs(1 / unit.plan.durationRatio - 1) <= PLAN_TOLERANCE,
  ).length;
  return [
    {
      kind: 'paragraph',
      text:
        `Plan vs measured per unit: ${formatExact(within)} of ${formatExact(compared.length)} units ran within ` +
        `+-${formatExact(PLAN_TOLERANCE * 100)}% of the plan's duration (plan / measured - 1). Ratios are measured / planned; ` +
        'the source says whether the estimate came from earlier runs of the unit (history), earlier runs with other parameters scaled by the work model (history-scaled), or the work model alone (parametric).',
    },
    {
      kind: 'table',
      columns: [
        'Unit',
        'Estimate source',
        'Planned duration',
        'Measured duration',
        'Ratio',
        'Planned sandbox-s',
        'Measured sandbox-s',
        'Ratio',
      ],
      numeric: [false, false, true, true, true, true, true, true],
      rows: compared.map((unit) => {
        const plan = unit.plan as UnitPlanComparison;
        return [
          unit.unitId,
          plan.source === 'unknown' ? 'not recorded' : plan.source,
          formatDurationMs(plan.durationMs),
          formatDurationMs(unit.durationMs),
          ratio(plan.durationRatio),
          formatNumber(plan.sandboxSeconds),
          formatNumber(unit.sandboxSeconds),
          ratio(plan.sandboxSecondsRatio),
        ];
      }),
    },
  ];
}

/** The cost-optimal configuration for the guide's workload, from this run (lib/recommend). */
function recommendedConfiguration(analysis: RunAnalysis): Block[] {
  const w = DEFAULT_WORKLOAD;
  const answer = recommend(analysis.run, w, DEFAULT_BUDGET);
  const heading: Block = {
    kind: 'paragraph',
    strong: true,
    text: `Recommended configuration for ${w.agents} agents, ${formatExact(w.opsPerSecond)} strategy executions/s, consensus p95 under ${formatExact(w.latencyBoundMs)} ms, budget ${formatUsd(DEFAULT_BUDGET.hourlyUsd ?? 0)}/h (the guide's targets; swarm-bench recommend takes others):`,
  };
  if (answer.options.length === 0) {
    return [heading, { kind: 'paragraph', text: `No recommendation: ${answer.notes.join(' ')}` }];
  }
  const blocks: Block[] = [heading];
  blocks.push({
    kind: 'paragraph',
    text:
      answer.best === undefined
        ? `Nothing fits: ${answer.notes.join(' ')}`
        : `${answer.best.topology}, ${answer.best.agentsPerSandbox} agent(s) per sandbox: ${answer.best.sandboxes} sandboxes, ${formatValue(answer.best.hourlyUsd, 'usd/h')}, ${formatUsd(answer.best.monthlyUsd)} a month; rests on ${answer.best.basis.join('; ')}.`,
  });
  blocks.push({
    kind: 'table',
    columns: [
      'Topology',
      'Agents/sandbox',
      'Agents',
      'Sandboxes',
      'Projected p95',
      'Projected ops/s',
      'Hourly',
      'Monthly',
      'Fits',
    ],
    numeric: [false, true, true, true, true, true, true, true, false],
    rows: answer.options
      .slice(0, 6)
      .map((o) => [
        o.topology,
        formatExact(o.agentsPerSandbox),
        formatExact(o.agents),
        formatExact(o.sandboxes),
        formatValue(o.projectedP95Ms, 'ms'),
        formatValue(o.projectedOpsPerSecond, 'ops/s'),
        formatValue(o.hourlyUsd, 'usd/h'),
        formatUsd(o.monthlyUsd),
        o.fits
          ? 'yes'
          : [!o.fitsLatency && 'latency', !o.fitsThroughput && 'throughput', !o.fitsBudget && 'budget']
              .filter(Boolean)
              .join(', ') || 'no',
      ]),
  });
  return blocks;
}

function recommendationsSection(analysis: RunAnalysis): Section {
  const { recommendations } = analysis;
  const blocks: Block[] = [
    {
      kind: 'paragraph',
      text:
        recommendations.length === 0
          ? 'No recommendation was triggered by this run: no target failed or is pending, no unit failed, no scaling exponent is above 1, no topology lost by a clear margin and no series is noisy.'
          : 'Derived from this run\u2019s measurements; each item names the numbers that triggered it.',
    },
  ];
  return {
    id: 'recommendations',
    title: 'Optimization Recommendations',
    blocks,
    subsections: PRIORITIES.map((priority) => {
      const items = recommendations.filter((item) => item.priority === priority).map((item) => item.text);
      return {
        id: `recommendations-${priority.toLowerCase()}`,
        title: `${priority} Priority`,
        blocks: items.length === 0 ? [{ kind: 'paragraph', text: 'None.' }] : [{ kind: 'list', items }],
        subsections: [],
      };
    }),
  };
}

function topologySection(analysis: RunAnalysis): Section {
  const { rows, sources } = analysis.topology;
  if (rows.length === 0) {
    return {
      id: 'topology',
      title: 'Topology Selection Guide',
      blocks: [
        {
          kind: 'paragraph',
          text: 'No per-topology measurements in this run: no topology can be recommended.',
        },
      ],
      subsections: [],
    };
  }
  return {
    id: 'topology',
    title: 'Topology Selection Guide',
    blocks: [
      {
        kind: 'table',
        columns: [
          'Topology',
          'Consensus p50',
          'Inter-agent RTT p50',
          'Bytes/op',
          'Cost/op',
          'CPU p50 per agent',
          'Best for',
        ],
        numeric: [false, true, true, true, true, true, false],
        rows: rows.map((row) => [
          row.topology,
          formatValue(row.consensusP50Ms, 'ms'),
          formatValue(row.rttP50Ms, 'ms'),
          formatValue(row.bytesPerOp, 'bytes'),
          formatUsd(row.costPerOpUsd),
          formatValue(row.cpuP50Percent, 'percent'),
          row.bestFor.length === 0 ? '—' : row.bestFor.join(', '),
        ]),
      },
      {
        kind: 'paragraph',
        text: `Ranked on this run's measurements: ${sources.join('; ')}. "Best for" names the topology with the lowest value in each column.`,
      },
    ],
    subsections: [],
  };
}

function howSection(analysis: RunAnalysis, methodologyHref?: string): Section {
  const { run } = analysis;
  const unitIds = [
    ...CATALOG.map((entry) => entry.unitId),
    ...categoryUnits(run, 'custom'),
    ...run.results.map((result) => result.unitId),
  ];
  const subsections = [...new Set(unitIds)]
    .filter(
      (unitId) =>
        run.meta.units.some((unit) => unit.unitId === unitId) || findResult(run, unitId) !== undefined,
    )
    // With a shared methodology, a catalogued unit's description lives there, and its sample
    // counts (n, warm-up discarded) are in the results tables: only custom scenarios stay here.
    .filter((unitId) => methodologyHref === undefined || catalogEntry(unitId) === undefined)
    .map((unitId): Section => {
      const entry = catalogEntry(unitId);
      const spec: UnitSpec | undefined = run.meta.units.find((unit) => unit.unitId === unitId);
      const result = findResult(run, unitId);
      const samples = (analysis.summaries.get(unitId) ?? []).map(
        ({ series, summary }) =>
          `${series.name}${series.labels && Object.keys(series.labels).length > 0 ? ` (${formatLabels(series.labels)})` : ''}: n=${summary.count}, warm-up discarded ${summary.warmupDiscarded}`,
      );
      const blocks: Block[] = [
        {
          kind: 'fields',
          items: [
            {
              name: 'Measures',
              value: entry?.measures ?? `Custom scenario: ${spec?.title ?? result?.title ?? unitId}.`,
            },
            {
              name: 'How',
              value: entry?.how ?? 'Defined by the scenario; see its series and figures above.',
            },
            {
              name: 'Samples',
              value:
                samples.length === 0
                  ? `no series${result && result.figures.length > 0 ? `; ${result.figures.length} figures (${[...new Set(result.figures.map((figure) => figure.name))].join(', ')})` : ' recorded'}`
                  : `${samples.length} series${result && result.figures.length > 0 ? ` and ${result.figures.length} figures` : ''}`,
            },
          ],
        },
      ];
      if (samples.length > 0) blocks.push({ kind: 'list', items: samples });
      return { id: `how-${unitId}`, title: `${unitTitle(run, unitId)} (${unitId})`, blocks, subsections: [] };
    });
  return {
    id: 'how-measured',
    title: 'How measured',
    blocks:
      methodologyHref === undefined
        ? [
            { kind: 'paragraph', text: STATISTICS_NOTE },
            { kind: 'paragraph', text: VERDICT_NOTE },
            { kind: 'paragraph', text: DETECTOR_NOTE },
          ]
        : [
            {
              kind: 'paragraph',
              text: 'Statistics, target verdicts, the history detector and what each benchmark measures are the same for every run; the sample counts of this run are in the tables of Results by Category:',
              link: { text: 'how swarm-bench measures', href: methodologyHref },
            },
          ],
    subsections,
  };
}

/** A section id as the HTML renderer writes it. */
export function slugId(id: string): string {
  return id.replace(/[^A-Za-z0-9_-]+/g, '-');
}

const STATISTICS_NOTE =
  'Statistics: quantiles interpolate linearly between order statistics (R type 7); sd uses n - 1; CV = sd / mean. ' +
  'The series tables give the 95% confidence interval of the median, distribution-free: two order statistics X(r) and X(s) with ranks from Binomial(n, 1/2), so it holds whatever the distribution, never leaves the range of the samples (a time never gets a negative bound) and needs n >= 6. ' +
  'A series with one sample has no sd, CV or interval ("n = 1: no interval"). ' +
  'Warm-up samples are kept in the stored results but excluded from every statistic. Raw samples are in the JSON report.';

const VERDICT_NOTE =
  'Target verdicts: each target is judged on the 95% interval of the statistic it names. ' +
  'Quantiles (p50, p95, p99): the distribution-free order-statistic interval, equal-tailed (each side misses with probability at most 2.5%); its upper bound needs n >= 72 for a p95 and n >= 367 for a p99, its lower bound n >= 2, so a small sample can fail a "p95 <" target but not pass it ("n too small for a p95 interval"). ' +
  'Means and derived figures (speed-up = ratio of medians, fitted scaling exponents, memory spread): a percentile bootstrap over the source samples, 2,000 resamples with a fixed seed, used only when recomputing the figure from its series reproduces the recorded value; a figure computed from prices and counts alone (hourly cost) is exact; a figure from one measurement has no interval. ' +
  'A max or min target is judged on the observed extreme of n >= 2 samples (an extreme has no distribution-free interval). ' +
  'Pass: the whole interval meets the target; Fail: the whole interval misses it; Inconclusive: it straddles the target or the deciding bound does not exist. ' +
  'For an inconclusive target, "n = N would likely decide it" assumes the estimate stays and the interval narrows as 1/sqrt(n): N = n (h/d)^2 ((1.96 + 0.84)/1.96)^2, with h the half-width on the threshold side and d the distance to the threshold, the n at which the interval would exclude the threshold with 80% probability (at least the n that gives the missing bound). ' +
  'The run exits 1 only for a Fail; Inconclusive is reported, not failed (failOnInconclusive makes it fail).';

const DETECTOR_NOTE = `History regressions: ${DETECTOR_RULE}`;

function formatParams(params: Record<string, unknown>): string {
  const entries = Object.entries(params);
  if (entries.length === 0) return 'none';
  return entries
    .map(
      ([key, value]) =>
        `${key}=${Array.isArray(value) ? value.join('/') : typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value)}`,
    )
    .join(', ');
}

function formatTimestamp(iso: string): string {
  const time = Date.parse(iso);
  if (Number.isNaN(time)) return iso;
  return `${new Date(time).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}
