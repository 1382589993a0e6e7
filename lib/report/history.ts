/** The "Compared with history" section and summary line, built from a HistoryComparison. */
import {
  HISTORY_ALPHA,
  type HistoryComparison,
  type HistoryRow,
  type HistoryVerdict,
} from '../history/compare.ts';
import { formatExact, formatLabels, formatNumber, formatValue } from './format.ts';
import type { Block, Section } from './sections.ts';

const SPARK = '▁▂▃▄▅▆▇█';

/** The regression detector's rule in one paragraph (the "How measured" appendix). */
export const DETECTOR_RULE =
  'each series (and figure) is compared with up to 8 earlier completed runs of the same configuration and needs 3. The run is the unit of replication: ' +
  "t = (ln current median - mean of ln per-run medians) / (s x sqrt(1 + 1/k)) for k earlier runs, s the sd of the ln per-run medians (at least the sampling error of one run's median), against Student t with k - 1 degrees of freedom. " +
  `A row is flagged when the two-sided p < ${HISTORY_ALPHA} and |Δ| >= 10 %. ` +
  "Why: on a shared machine whole runs drift (replayed on 17 recorded quick runs of the 2-core development machine, a series' run median moved with a log-sd of 0.45-0.58 from run to run with nothing changed, 85-92% of it shared with the unit's other series), so a test of this run's samples against the pooled earlier samples flags drift; the former rule did so for 1.2-2.6% of unchanged latency rows. " +
  'npm run bench:detector replays the rule on those runs (300 simulated unchanged runs, window 8): false positives per kind of series at most 0.30% (latency; cost 0.08%, throughput 0.13%, cpu, bytes and memory 0%). ' +
  'Power against a 20% slowdown: 100% for series whose run-to-run spread is below 5% (bytes, memory), under 1% for series that drift 5% or more from run to run (latency, cpu, cost, throughput on this machine); 90% power at this false-positive rate would need a run-to-run log-sd below 0.031. ' +
  "Judging each series relative to a reference measured beside every unit (a CPU loop and a thread ping every 250 ms, or the unit's load average and run queue) gained at most one point of power and raised false positives: the drift that remains is each series' own seconds of contention, so the rule stays on the raw medians. " +
  'Each row is tested on its own (no correction across series): 11.3% of unchanged runs show at least one flagged row somewhere.';

/** Order of the detailed rows: what needs attention first. */
const VERDICT_ORDER: readonly HistoryVerdict[] = [
  'regression',
  'improvement',
  'large-but-not-significant',
  'not-enough-history',
  'unchanged',
];

/** The marker of a row's verdict as people read it. */
export function verdictMarker(row: Pick<HistoryRow, 'verdict' | 'baselineRuns'>, minRuns: number): string {
  switch (row.verdict) {
    case 'regression':
      return '🔴 regression';
    case 'improvement':
      return '🟢 improvement';
    case 'unchanged':
      return '⚪ unchanged';
    case 'large-but-not-significant':
      return '🟡 large but not significant';
    case 'not-enough-history':
      return `not enough history (${row.baselineRuns} of ${minRuns} runs)`;
  }
}

/** A text sparkline of the values, scaled from their minimum (▁) to their maximum (█). */
export function sparkline(values: readonly number[]): string {
  const finite = values.filter((value) => Number.isFinite(value));
  if (finite.length === 0) return '—';
  const low = Math.min(...finite);
  const high = Math.max(...finite);
  return finite
    .map((value) => {
      if (high === low) return SPARK[3];
      const index = Math.round(((value - low) / (high - low)) * (SPARK.length - 1));
      return SPARK[index];
    })
    .join('');
}

/** A relative change as "+30.0 %"; "new (was 0)" from a zero baseline; "—" without a baseline. */
export function formatDelta(row: Pick<HistoryRow, 'delta' | 'fromZero' | 'adjusted'>): string {
  if (row.fromZero) return 'new (was 0)';
  if (row.delta === null) return '—';
  const raw = signedPercent(row.delta);
  // The decision was taken on the change relative to the machine's reference: shown beside the raw one.
  return row.adjusted === undefined
    ? raw
    : `${raw} (${signedPercent(row.adjusted.delta)} vs ${row.adjusted.reference} reference)`;
}

function signedPercent(fraction: number): string {
  const percent = fraction * 100;
  const sign = percent > 0 ? '+' : percent < 0 ? '-' : '±';
  return `${sign}${Math.abs(percent).toFixed(1)} %`;
}

/** A p-value with two significant digits; tiny ones in exponent form (3.1e-9). */
export function formatPValue(p: number | null): string {
  if (p === null || Number.isNaN(p)) return '—';
  if (p === 0) return '0';
  if (p < 0.001) {
    const [mantissa = '', exponent = ''] = p.toExponential(1).split('e');
    return `${mantissa}e${exponent}`;
  }
  return formatNumber(Number(p.toPrecision(2)));
}

/** One line for the executive summary. */
export function historySummaryLine(history: HistoryComparison): string {
  if (history.baselineRuns.length === 0) {
    return `History: no earlier run of this configuration (config hash ${history.configHash}) to compare with.`;
  }
  const count = (verdict: HistoryVerdict) => history.rows.filter((row) => row.verdict === verdict).length;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const judged = history.rows.length - count('not-enough-history');
  return (
    `History: ${plural(history.regressions, 'regression')}, ${plural(history.improvements, 'improvement')}` +
    ` against ${plural(history.baselineRuns.length, 'earlier run')} of this configuration` +
    ` (${judged} of ${history.rows.length} series and figures judged).`
  );
}

/** The "Compared with history" section. */
export function historySection(history: HistoryComparison): Section {
  const section: Section = { id: 'history', title: 'Compared with history', blocks: [], subsections: [] };
  if (history.baselineRuns.length === 0) {
    section.blocks.push({
      kind: 'paragraph',
      text: `No earlier run of this configuration (config hash ${history.configHash}) to compare with.`,
    });
    return section;
  }
  const percent = (value: number) => `${formatExact(Math.round(value * 1000) / 10)} %`;
  section.blocks.push(
    {
      kind: 'paragraph',
      text:
        `Compared with ${history.baselineRuns.length} earlier completed run${history.baselineRuns.length === 1 ? '' : 's'} ` +
        `of this configuration (config hash ${history.configHash}, provider ${history.provider}, window ${history.window}, newest first): ` +
        `${history.baselineRuns.join(', ')}.`,
    },
    {
      kind: 'paragraph',
      text:
        `Baseline = median of the per-run medians; Δ = (value - baseline) / baseline; p = two-sided prediction test of this run's median among the per-run medians (Student t on the log scale, see "How measured"); ` +
        `noise = CV of the per-run medians. A row is flagged when p < ${formatExact(history.alpha)} and |Δ| ≥ ${percent(history.minChange)}; ` +
        `a row needs ${history.minRuns} earlier runs to be judged. Latency, time, bytes, memory, CPU and cost: higher is worse; throughput: higher is better; counts and ratios are not judged. ` +
        'Figures (one value per run) are judged the same way. Trend: per-run medians, oldest to newest, then this run.',
    },
  );
  const byVerdict = (verdict: HistoryVerdict) => history.rows.filter((row) => row.verdict === verdict);
  const detailed = VERDICT_ORDER.filter((verdict) => verdict !== 'unchanged').flatMap(byVerdict);
  if (detailed.length > 0) section.blocks.push(rowsTable(detailed, history.minRuns));
  const unchanged = byVerdict('unchanged').length;
  section.blocks.push({
    kind: 'paragraph',
    text:
      detailed.length === 0
        ? `All ${unchanged} compared series and figures are unchanged. Every row is in the JSON report.`
        : `${unchanged} unchanged series and figures not listed; every row is in the JSON report.`,
  });
  return section;
}

function rowsTable(rows: readonly HistoryRow[], minRuns: number): Block {
  return {
    kind: 'table',
    columns: ['Status', 'Unit', 'Series', 'Labels', 'Value', 'Baseline', 'Δ', 'p', 'Noise (CV)', 'Trend'],
    numeric: [false, false, false, false, true, true, true, true, true, false],
    rows: rows.map((row) => [
      verdictMarker(row, minRuns),
      row.unitId,
      `${row.name}${row.kind === 'figure' ? ' (figure)' : ''}`,
      formatLabels(row.labels),
      formatValue(row.current, row.unit),
      row.baseline === null ? '—' : formatValue(row.baseline, row.unit),
      formatDelta(row),
      formatPValue(row.pValue),
      row.noise === null ? '—' : `${(row.noise * 100).toFixed(1)} %`,
      sparkline(row.trend),
    ]),
  };
}
