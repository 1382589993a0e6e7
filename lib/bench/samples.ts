/**
 * Enough samples behind every target: the plan states, per series a target is judged on, how many
 * samples the unit will record and whether that supports the target's statistic.
 */
import { minCountForQuantileInterval } from '../stats/intervals.ts';
import type { PlannedSeries } from './definition.ts';
import type { Target, UnitSpec } from './model.ts';
import { FIGURE_SOURCES, labelsMatch, QUANTILE_OF } from './targets.ts';

/**
 * Samples a statistic needs to exist: a p95 is an order statistic that needs about 20 samples
 * (with fewer it is the maximum), a p99 about 100; a median, mean, extreme or a figure taken as a
 * median of batches needs at least 10 for an interval worth printing.
 */
export function samplesNeeded(stat: Target['stat'] | undefined): number {
  if (stat === 'p99') return 100;
  if (stat === 'p95') return 20;
  return 10;
}

/**
 * Samples a quantile target needs before its verdict can be Pass: a Pass needs the interval's upper
 * bound (for "below" targets) and a distribution-free 95% interval of the p-quantile has both bounds
 * only from minCountForQuantileInterval(p) samples (72 for a p95, 366 for a p99). Below that the
 * same samples can still show a Fail (the lower bound above the target) or read Inconclusive.
 * Undefined for statistics that are not quantiles.
 */
export function samplesToDecide(stat: Target['stat'] | undefined): number | undefined {
  const p = stat === undefined ? undefined : QUANTILE_OF[stat];
  return p === undefined ? undefined : minCountForQuantileInterval(p);
}

/** One target's planned sample count. */
export interface SampleCheck {
  targetId: string;
  unitId: string;
  /** The series behind it (for a figure, the series the figure is computed from). */
  series: string;
  n: number;
  needed: number;
  /** For a quantile: the n from which both interval bounds exist, so a Pass is possible. */
  toDecide?: number;
  ok: boolean;
  why: string;
}

/**
 * For each target whose unit is planned: the fewest samples any series behind it gets, against
 * what its statistic needs. A series target is judged on its series; a figure target on the series
 * the figure is computed from (FIGURE_SOURCES), or on every planned series of its unit when the
 * figure has no recipe. Targets of units that declare no sample plan are skipped.
 */
export function checkSamples(units: readonly UnitSpec[], targets: readonly Target[]): SampleCheck[] {
  return targets.flatMap((target) => {
    const unit = units.find((u) => (u.shard?.of ?? u.unitId) === target.unitId);
    const plan = unit?.samples ?? [];
    const sources = target.series !== undefined ? [target.series] : FIGURE_SOURCES[target.figure ?? ''];
    const behind: PlannedSeries[] =
      sources !== undefined
        ? plan.filter(
            (entry) =>
              sources.includes(entry.series) &&
              (target.labels === undefined ||
                entry.labels === undefined ||
                labelsMatch(entry.labels, target.labels) ||
                labelsMatch(target.labels, entry.labels)),
          )
        : plan;
    if (unit === undefined || behind.length === 0) return [];
    const weakest = behind.reduce((min, entry) => (entry.n < min.n ? entry : min));
    const needed = samplesNeeded(target.stat);
    const toDecide = samplesToDecide(target.stat);
    return [
      {
        targetId: target.id,
        unitId: target.unitId,
        series: weakest.series,
        n: weakest.n,
        needed,
        ...(toDecide === undefined ? {} : { toDecide }),
        ok: weakest.n >= needed,
        why: weakest.why,
      },
    ];
  });
}
