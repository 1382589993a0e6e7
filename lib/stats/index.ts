/** Statistics: summaries, histograms, scaling fits and two-sample tests. */
export * from './compare.ts';
export * from './distributions.ts';
export * from './intervals.ts';
export * from './paired.ts';
export * from './scaling.ts';
export * from './summary.ts';
