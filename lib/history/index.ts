/** Results history: baselines from the store and the comparison of a run with them. */
export * from './compare.ts';
export * from './load.ts';
export * from './report.ts';
