/** The Markdown report, the contract of the guide: rendered from the section model. */
import type { RunResults } from '../bench/model.ts';
import type { HistoryComparison } from '../history/compare.ts';
import { type Block, buildReport, type ChartRef, type ReportModel, type Section } from './sections.ts';

/** Options of renderMarkdown. */
export interface MarkdownOptions {
  /** Charts stored beside the report as charts/<name>.svg, embedded where their category is. */
  charts?: ChartRef[];
  /** The comparison with earlier runs (lib/history); rendered as "Compared with history". */
  history?: HistoryComparison;
}

/** Render a run as the Markdown report. Pure: no clock, no I/O. */
export function renderMarkdown(run: RunResults, options: MarkdownOptions = {}): string {
  return modelToMarkdown(buildReport(run, options.charts ?? [], options.history));
}

/** Render an already built section model as Markdown. */
export function modelToMarkdown(model: ReportModel): string {
  const parts: string[] = [`# ${text(model.title)}`];
  const walk = (section: Section, depth: number) => {
    parts.push(`${'#'.repeat(Math.min(depth + 2, 6))} ${text(section.title)}`);
    for (const block of section.blocks) parts.push(renderBlock(block));
    for (const child of section.subsections) walk(child, depth + 1);
  };
  for (const section of model.sections) walk(section, 0);
  return `${parts.join('\n\n')}\n`;
}

function renderBlock(block: Block): string {
  switch (block.kind) {
    case 'paragraph': {
      const body = block.strong ? `**${text(block.text)}**` : text(block.text);
      return block.link
        ? `${body} [${text(block.link.text).replace(/[[\]]/g, '')}](${encodeURI(block.link.href)})`
        : body;
    }
    case 'banner':
      return `> ${block.tone === 'error' ? '❌' : '⚠️'} **${text(block.text)}**`;
    case 'list':
      return block.items.map((item) => `- ${text(item)}`).join('\n');
    case 'fields':
      return block.items.map((item) => `- **${text(item.name)}:** ${text(item.value)}`).join('\n');
    case 'chart':
      return `![${text(block.title).replace(/[[\]]/g, '')}](charts/${encodeURIComponent(block.name)}.svg)`;
    case 'table': {
      const header = `| ${block.columns.map(cell).join(' | ')} |`;
      const rule = `|${block.columns.map((_, index) => (block.numeric?.[index] ? '---:' : '---')).join('|')}|`;
      const rows = block.rows.map((row) => `| ${row.map(cell).join(' | ')} |`);
      return [header, rule, ...rows].join('\n');
    }
  }
}

/**
 * Plain text made inert in Markdown: one line, and no "<" that could open an HTML tag or comment
 * (labels and error messages come from measured data and may hold anything).
 */
function text(value: string): string {
  return value.replace(/\r?\n|\r/g, ' ').replace(/<(?=[A-Za-z/!?])/g, '&lt;');
}

function cell(value: string): string {
  return text(value).replace(/\\/g, '\\\\').replace(/\|/g, '\\|');
}
