/** A self-contained HTML report (inline CSS and SVG) with the same content as the Markdown. */
import type { RunResults } from '../bench/model.ts';
import type { HistoryComparison } from '../history/compare.ts';
import type { RunAnalysis } from './analysis.ts';
import { type Block, buildReport, type ReportModel, type Section, slugId } from './sections.ts';

/** A rendered chart: its file name (without .svg), title and SVG text. */
export interface RenderedChart {
  name: string;
  title: string;
  svg: string;
}

/** Options of renderHtml and modelToHtml. */
export interface HtmlOptions {
  /** The comparison with earlier runs (lib/history); rendered as "Compared with history". */
  history?: HistoryComparison;
  /** See ReportOptions.methodologyHref. @default the methodology inline */
  methodologyHref?: string;
  /** Link this stylesheet (holding REPORT_STYLE) instead of inlining the style. @default inline */
  stylesheetHref?: string;
  /** analyzeRun(run), when the caller has it already (see ReportOptions.analysis). */
  analysis?: RunAnalysis;
}

/** Render a run as one HTML page; charts are inlined as SVG. Pure: no clock, no I/O. */
export function renderHtml(
  run: RunResults,
  charts: readonly RenderedChart[] = [],
  options: HtmlOptions = {},
): string {
  const model = buildReport(
    run,
    charts.map((chart) => ({ name: chart.name, title: chart.title })),
    options.history,
    {
      ...(options.methodologyHref === undefined ? {} : { methodologyHref: options.methodologyHref }),
      ...(options.analysis === undefined ? {} : { analysis: options.analysis }),
    },
  );
  return modelToHtml(model, new Map(charts.map((chart) => [chart.name, chart.svg])), options);
}

/** The report page's style sheet. */
export const REPORT_STYLE = `
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1f2328;line-height:1.45}
h1{border-bottom:2px solid #d0d7de;padding-bottom:.3rem}h2{border-bottom:1px solid #d0d7de;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.75rem 0;font-size:.9rem}th,td{border:1px solid #d0d7de;padding:.3rem .55rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums}
.banner{padding:.6rem .9rem;border-radius:6px;font-weight:600;margin:.75rem 0}.banner.error{background:#ffebe9;border:1px solid #ff8182}
.banner.warning{background:#fff8c5;border:1px solid #d4a72c}dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}
dt{font-weight:600}dd{margin:0}figure{margin:1rem 0}figcaption{font-size:.9rem;color:#57606a}
`.trim();

/** Render an already built section model as HTML; `svgs` maps chart names to their SVG. */
export function modelToHtml(
  model: ReportModel,
  svgs: ReadonlyMap<string, string> = new Map(),
  options: Pick<HtmlOptions, 'stylesheetHref'> = {},
): string {
  const body: string[] = [`<h1>${escapeHtml(model.title)}</h1>`];
  const walk = (section: Section, depth: number) => {
    const level = Math.min(depth + 2, 6);
    body.push(`<section id="${escapeHtml(slugId(section.id))}">`);
    body.push(`<h${level}>${escapeHtml(section.title)}</h${level}>`);
    for (const block of section.blocks) body.push(renderBlock(block, svgs));
    for (const child of section.subsections) walk(child, depth + 1);
    body.push('</section>');
  };
  for (const section of model.sections) walk(section, 0);
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(model.title)}</title>`,
    options.stylesheetHref === undefined
      ? `<style>${REPORT_STYLE}</style>`
      : `<link rel="stylesheet" href="${escapeHtml(options.stylesheetHref)}">`,
    '</head>',
    '<body>',
    ...body,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

function renderBlock(block: Block, svgs: ReadonlyMap<string, string>): string {
  switch (block.kind) {
    case 'paragraph': {
      const text = block.strong ? `<strong>${escapeHtml(block.text)}</strong>` : escapeHtml(block.text);
      const link = block.link
        ? ` <a href="${escapeHtml(block.link.href)}">${escapeHtml(block.link.text)}</a>`
        : '';
      return `<p>${text}${link}</p>`;
    }
    case 'banner':
      return `<div class="banner ${block.tone}" role="alert">${block.tone === 'error' ? '❌' : '⚠️'} ${escapeHtml(block.text)}</div>`;
    case 'list':
      return `<ul>${block.items.map((item) => `<li>${escapeHtml(item)}</li>`).join('')}</ul>`;
    case 'fields':
      return `<dl>${block.items.map((item) => `<dt>${escapeHtml(item.name)}</dt><dd>${escapeHtml(item.value)}</dd>`).join('')}</dl>`;
    case 'chart': {
      const svg = svgs.get(block.name);
      const content =
        svg !== undefined && isInertSvg(svg)
          ? svg
          : `<img src="charts/${escapeHtml(encodeURIComponent(block.name))}.svg" alt="${escapeHtml(block.title)}">`;
      return `<figure>${content}<figcaption>${escapeHtml(block.title)}</figcaption></figure>`;
    }
    case 'table': {
      // End tags of cells and rows are optional in HTML (the parser closes them): a long report
      // carries thousands of cells, so they are left out.
      const head = `<tr>${block.columns.map((column) => `<th>${escapeHtml(column)}`).join('')}`;
      const rows = block.rows.map(
        (row) =>
          `<tr>${row.map((value, index) => `<td${block.numeric?.[index] ? ' class=n' : ''}>${escapeHtml(value)}`).join('')}`,
      );
      return `<table><thead>${head}</thead><tbody>${rows.join('')}</tbody></table>`;
    }
  }
}

/** Escape text for HTML element content and attribute values. */
export function escapeHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Inline only SVG that cannot run code; anything else is linked as an image file instead. */
function isInertSvg(svg: string): boolean {
  const trimmed = svg.trim();
  return (
    trimmed.startsWith('<svg') && !/<script|<foreignobject|<iframe|\son[a-z]+\s*=|javascript:/i.test(trimmed)
  );
}
