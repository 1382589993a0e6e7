/** The trend site: every stored run as a static, script-free site (index, runs, benchmarks, topologies). */
export * from './charts.ts';
export * from './generate.ts';
export * from './model.ts';
export * from './pages.ts';
export * from './synthetic.ts';
