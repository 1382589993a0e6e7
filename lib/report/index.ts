/** Report rendering (Markdown, HTML, JSON, charts) and writing to a sink. */
export * from './analysis.ts';
export * from './charts.ts';
export * from './format.ts';
export * from './history.ts';
export * from './html.ts';
export * from './json.ts';
export * from './markdown.ts';
export * from './sections.ts';
export * from './write.ts';
