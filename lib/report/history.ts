/** The "Compared with history" section and summary line, built from a HistoryComparison. */
import type { HistoryComparison, HistoryRow, HistoryVerdict } from '../history/compare.ts';
import { formatExact, formatLabels, formatNumber, formatValue } from './format.ts';
import type { Block, Section } from './sections.ts';

const SPARK = '▁▂▃▄▅▆▇█';

/** The regression detector's rule in one paragraph (the "How measured" appendix). */
export const DETECTOR_RULE =
  'a series is compared with up to 8 earlier runs of the same configuration (at least 3). Baseline = median of the per-run medians; noise = CV of the per-run medians. ' +
  "A row is flagged when |Δ| >= max(10 %, 2 x the upper 95% bound of that noise) and the two-sided Mann-Whitney U of this run's samples against the pooled earlier samples gives p < 0.01 in the same direction.";

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
export function formatDelta(row: Pick<HistoryRow, 'delta' | 'fromZero'>): string {
  if (row.fromZero) return 'new (was 0)';
  if (row.delta === null) return '—';
  const percent = row.delta * 100;
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
        `Baseline = median of the per-run medians; Δ = (value - baseline) / baseline; p = two-sided Mann-Whitney U of this run's samples against the pooled samples of the window; ` +
        `noise = CV of the per-run medians. A row is flagged when |Δ| ≥ max(${percent(history.minChange)}, 2 × the noise's upper 95% bound over the window's runs) and p < ${formatExact(history.alpha)}; ` +
        `a row needs ${history.minRuns} earlier runs to be judged. Latency, time, bytes, memory, CPU and cost: higher is worse; throughput: higher is better; counts and ratios are not judged. ` +
        'Figures (derived numbers) have no significance test. Trend: per-run medians, oldest to newest, then this run.',
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
