/**
 * Units that fit a unit Lambda. On AWS each unit runs in one Lambda invocation (15 minutes, less
 * the unit's safety margin); a unit whose estimate, times a safety factor, would pass 80% of that
 * is split by the plan into shards (by topology, by swarm size, or by ranges of rounds), each its
 * own Map item, and the shards' results merge back into one result for the report.
 */
import { median } from 'simple-statistics';
import type { Figure, RunResults, Series, UnitResult, UnitSpec } from './model.ts';
import type { ProfileParams } from './profiles.ts';

/** Lambda's hard limit and the unit step's stop margin before it (functions/unit.ts UNIT_SAFETY_MARGIN_MS). */
export const LAMBDA_TIMEOUT_MS = 15 * 60_000;
export const UNIT_SAFETY_MARGIN_MS = 60_000;
/** Usable time of a unit Lambda: measuring stops at the deadline minus the margin. */
export const UNIT_USABLE_MS = LAMBDA_TIMEOUT_MS - UNIT_SAFETY_MARGIN_MS;
/** No unit is planned above this share of the usable time... */
export const MAX_PLANNED_SHARE = 0.8;
/** ...after its estimate is multiplied by this factor (estimates miss by up to +-25% once calibrated; 1.5 covers a slower week). */
export const SAFETY_FACTOR = 1.5;
/** Most shards one unit is split into. */
const MAX_SHARDS = 16;

/**
 * Parameters a unit can be split along, in order of preference: a list is split into subsets
 * (topologies, sizes), a count into ranges (rounds, iterations, swarms). Units whose figures span
 * the whole list (a fit over sizes) are split by counts only.
 */
export const SHARD_DIMENSIONS: Readonly<Record<string, ReadonlyArray<keyof ProfileParams>>> = {
  'creation/swarm-init': ['freshInitSwarms'],
  'creation/agent-deployment': ['freshDeploySwarms'],
  'creation/parallel-vs-sequential': ['freshPairs'],
  'scalability/agent-count': ['agentCounts', 'countRepeats'],
  'scalability/linear-scaling': ['sweepRepeats'],
  'scalability/topology-comparison': ['topologies', 'consensusRounds', 'initIterations'],
  'trading/strategy-execution': ['strategyIterations'],
  'trading/task-distribution': ['tasks'],
  'trading/consensus': ['topologies', 'consensusRounds'],
  'communication/inter-agent-latency': ['topologies', 'pingSamples'],
  'communication/state-sync': ['stateSizes', 'syncRounds'],
  'communication/message-throughput': ['blastTrials'],
  'resources/memory-per-agent': ['consensusRounds'],
  'resources/cpu-per-topology': ['topologies', 'consensusRounds'],
  'resources/network-bandwidth': ['topologies', 'consensusRounds'],
  'resources/agent-packing': ['consensusRounds'],
  'cost/cost-per-topology': ['topologies', 'batches'],
  'cost/cost-scaling': ['batches'],
};

/** Largest estimate a unit may have to run in one Lambda. */
export function maxUnitEstimateMs(usableMs = UNIT_USABLE_MS): number {
  return (usableMs * MAX_PLANNED_SHARE) / SAFETY_FACTOR;
}

/** Split a list into `k` near-equal consecutive parts, or a count into `k` near-equal counts. */
function splitValue(value: unknown, k: number): unknown[] | undefined {
  if (Array.isArray(value)) {
    if (value.length < k) return undefined;
    const size = Math.ceil(value.length / k);
    return Array.from({ length: k }, (_, i) => value.slice(i * size, (i + 1) * size)).filter(
      (part) => part.length > 0,
    );
  }
  if (typeof value === 'number' && Number.isInteger(value) && value >= k) {
    const base = Math.floor(value / k);
    return Array.from({ length: k }, (_, i) => base + (i < value % k ? 1 : 0));
  }
  return undefined;
}

/**
 * Shards of one unit: the fewest (along the first dimension that can be split that far) whose
 * largest share of the estimate fits `limitMs`. Each shard's estimate is the unit's, scaled by
 * its share of the work (`shareOf`, the model's duration of the shard over the unit's). Returns
 * the unit unchanged when it fits, or when no dimension splits it.
 */
export function shardUnit(
  unit: UnitSpec,
  params: ProfileParams,
  shareOf: (overrides: Partial<ProfileParams>) => number,
  limitMs = maxUnitEstimateMs(),
): UnitSpec[] {
  if (unit.estimate.durationMs <= limitMs) return [unit];
  const dimensions = SHARD_DIMENSIONS[unit.unitId] ?? [];
  const wanted = Math.min(MAX_SHARDS, Math.ceil(unit.estimate.durationMs / limitMs));
  for (const dimension of dimensions) {
    for (let k = wanted; k <= MAX_SHARDS; k++) {
      const parts = splitValue(params[dimension], k);
      if (parts === undefined) break;
      const shares = parts.map((part) => shareOf({ [dimension]: part } as Partial<ProfileParams>));
      if (Math.max(...shares) * unit.estimate.durationMs > limitMs) continue;
      return parts.map((part, index) => {
        const share = shares[index] ?? 0;
        return {
          ...unit,
          unitId: shardId(unit.unitId, index, parts.length),
          estimate: {
            ...unit.estimate,
            sandboxes: Math.round(unit.estimate.sandboxes * share),
            sandboxSeconds: unit.estimate.sandboxSeconds * share,
            durationMs: unit.estimate.durationMs * share,
          },
          shard: { of: unit.unitId, index, count: parts.length, params: { [dimension]: part } },
        };
      });
    }
  }
  return [unit];
}

/** The id of shard `index` of `count` of a unit. */
export function shardId(unitId: string, index: number, count: number): string {
  return `${unitId}#shard-${index + 1}-of-${count}`;
}

/** Profile parameters with a shard's overrides applied. */
export function shardParams(params: ProfileParams, spec: Pick<UnitSpec, 'shard'>): ProfileParams {
  return spec.shard ? ({ ...params, ...spec.shard.params } as ProfileParams) : params;
}

const keyOf = (item: { name: string; labels: Record<string, unknown> }) =>
  `${item.name}|${JSON.stringify(Object.entries(item.labels).sort(([a], [b]) => a.localeCompare(b)))}`;

/**
 * Merge shard results into one result per unit, for the report: series with the same name and
 * labels concatenate their samples (in shard order); a figure that several shards computed for
 * the same labels becomes the median of theirs, and says so; usage adds up; the status is the
 * worst. Results that are not shards pass through unchanged.
 */
export function mergeShards(results: readonly UnitResult[], planned: readonly UnitSpec[]): UnitResult[] {
  const shardOf = new Map(
    planned.flatMap((unit) => (unit.shard ? [[unit.unitId, unit.shard] as const] : [])),
  );
  const groups = new Map<string, UnitResult[]>();
  const merged: UnitResult[] = [];
  for (const result of results) {
    const shard = shardOf.get(result.unitId);
    if (!shard) {
      merged.push(result);
      continue;
    }
    const group = groups.get(shard.of);
    if (group) group.push(result);
    else {
      const list = [result];
      groups.set(shard.of, list);
      // Placeholder keeps the unit's place among the results.
      merged.push({ ...result, unitId: shard.of });
    }
  }
  return merged.map((result) => {
    const group = groups.get(result.unitId);
    if (!group) return result;
    group.sort((a, b) => (shardOf.get(a.unitId)?.index ?? 0) - (shardOf.get(b.unitId)?.index ?? 0));
    return mergeGroup(result.unitId, group, shardOf.get(group[0]?.unitId ?? '')?.count ?? group.length);
  });
}

function mergeGroup(unitId: string, group: UnitResult[], count: number): UnitResult {
  const series = new Map<string, Series>();
  for (const result of group) {
    for (const s of result.series) {
      const key = keyOf(s);
      const seen = series.get(key);
      if (seen) {
        seen.samples.push(...s.samples);
        seen.warmup.push(...s.warmup);
      } else series.set(key, { ...s, samples: [...s.samples], warmup: [...s.warmup] });
    }
  }
  const figures = new Map<string, Figure[]>();
  for (const result of group) {
    for (const f of result.figures) figures.set(keyOf(f), [...(figures.get(keyOf(f)) ?? []), f]);
  }
  const rank = { ok: 0, partial: 1, failed: 2 } as const;
  const worst = group.reduce((w, r) => (rank[r.status] > rank[w.status] ? r : w));
  const first = group[0] as UnitResult;
  const missing = count - group.length;
  const status = missing > 0 && worst.status === 'ok' ? 'partial' : worst.status;
  return {
    ...first,
    unitId,
    status,
    ...(worst.error
      ? { error: worst.error }
      : missing > 0
        ? { error: { name: 'Stopped', message: `${missing} of ${count} shards have no result` } }
        : {}),
    startedAt: group.map((r) => r.startedAt).sort()[0] as string,
    endedAt: group
      .map((r) => r.endedAt)
      .sort()
      .at(-1) as string,
    durationMs: group.reduce((sum, r) => sum + r.durationMs, 0),
    series: [...series.values()],
    figures: [...figures.values()].map((list) =>
      list.length === 1
        ? (list[0] as Figure)
        : {
            ...(list[0] as Figure),
            value: median(list.map((f) => f.value)),
            how: `median over ${list.length} shards of: ${(list[0] as Figure).how}`,
          },
    ),
    usage: {
      sandboxesCreated: group.reduce((sum, r) => sum + r.usage.sandboxesCreated, 0),
      sandboxSeconds: group.reduce((sum, r) => sum + r.usage.sandboxSeconds, 0),
      operations: group.reduce((sum, r) => sum + r.usage.operations, 0),
      ...sumOptional(group, 'creationThrottledMs'),
      ...sumOptional(group, 'rateLimited'),
      ...sumOptional(group, 'handshakeRetries'),
    },
    faults: group.flatMap((r) => r.faults),
  };
}

/**
 * The sum of an optional usage field over shards, absent when no shard recorded it (a local run, or
 * results from before it was measured), so the report keeps telling "not recorded" from zero.
 */
function sumOptional(
  group: readonly UnitResult[],
  field: 'creationThrottledMs' | 'rateLimited' | 'handshakeRetries',
): Partial<UnitResult['usage']> {
  const values = group.map((r) => r.usage[field]).filter((v): v is number => v !== undefined);
  return values.length === 0 ? {} : { [field]: values.reduce((sum, v) => sum + v, 0) };
}

/** The planned units with each sharded unit's shards folded back into one spec (estimates added). */
export function mergeShardSpecs(units: readonly UnitSpec[]): UnitSpec[] {
  const out: UnitSpec[] = [];
  const byParent = new Map<string, UnitSpec>();
  for (const unit of units) {
    if (!unit.shard) {
      out.push(unit);
      continue;
    }
    const seen = byParent.get(unit.shard.of);
    if (seen) {
      seen.estimate = {
        ...seen.estimate,
        sandboxes: seen.estimate.sandboxes + unit.estimate.sandboxes,
        sandboxSeconds: seen.estimate.sandboxSeconds + unit.estimate.sandboxSeconds,
        durationMs: seen.estimate.durationMs + unit.estimate.durationMs,
      };
      continue;
    }
    const { shard, ...rest } = unit;
    const parent: UnitSpec = { ...rest, unitId: shard.of, estimate: { ...unit.estimate } };
    byParent.set(shard.of, parent);
    out.push(parent);
  }
  return out;
}

/** A run as the report reads it: shard results and shard specs merged into their units. */
export function mergeShardedRun(run: RunResults): RunResults {
  if (!run.meta.units.some((unit) => unit.shard)) return run;
  return {
    meta: { ...run.meta, units: mergeShardSpecs(run.meta.units) },
    results: mergeShards(run.results, run.meta.units),
  };
}
