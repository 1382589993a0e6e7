/** Seeded runs for the site's tests: a real default run cut to three units, so rendering stays quick. */
import type { RunResults } from '../../lib/bench/model.ts';
import { loadFixture } from '../unit/report-helpers.ts';

const UNITS = new Set(['trading/consensus', 'communication/inter-agent-latency', 'cost/cost-per-topology']);

/** The clean fixture run with only consensus, inter-agent latency and cost per topology. */
export function smallTemplate(): RunResults {
  const run = loadFixture('clean');
  return { meta: run.meta, results: run.results.filter((result) => UNITS.has(result.unitId)) };
}
