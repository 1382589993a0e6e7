/**
 * How long a unit will take, from what it really does (swarms, agents, links wired, rounds over
 * the topology, messages, strategy tasks) and, when the result store holds earlier runs of the
 * same unit on the same provider, from those measurements. The parametric model is the fallback
 * for a unit never measured; every estimate says which it used.
 */
import type { ProviderName } from '../sandbox/types.ts';
import type { ResultStore } from '../store/types.ts';
import { buildTopology, edges } from '../swarm/topology.ts';
import { messagesPerRound, type PlannedSwarm } from './definition.ts';
import type { UnitSpec } from './model.ts';
import { mergeShardedRun } from './shards.ts';

/** The work of one unit, summed over its planned swarms: the inputs of the duration model. */
export interface UnitWork {
  swarms: number;
  /** Agents deployed in new sandboxes (create + start + health). */
  freshAgents: number;
  /** Agents started in sandboxes taken from the pool. */
  pooledAgents: number;
  /** Peer connections wired (undirected topology links). */
  links: number;
  /** Messages of topology-wide rounds: rounds x messages per round of the swarm's topology. */
  roundMessages: number;
  /** Point-to-point messages. */
  messages: number;
  /** Strategy executions. */
  tasks: number;
  /** Per-agent resource reads. */
  probes: number;
  /** Seconds no count describes (custom scenarios). */
  fixedSeconds: number;
  /** The largest swarm, in agents. */
  largestSwarm: number;
}

/** Milliseconds per unit of each work quantity. */
export type Coefficients = Record<Exclude<keyof UnitWork, 'largestSwarm' | 'fixedSeconds'>, number>;

/**
 * Parametric coefficients per provider. Local: bench/calibration.ts's non-negative least-squares
 * refit on two quick runs on a 2-core machine shared with other work (2026-12-02, 1-minute load
 * average 30-40, i.e. 15-20 per core), rounded, with pooled agents and links kept above zero;
 * on an idle machine units run several times faster, so the model errs long (safe for budgets
 * and Lambda fits). E2B: not measured from here (no network): a swarm's creation and wiring
 * about 0.8 s (API calls at concurrency 10, TLS WebSockets through E2B's edge), an agent start
 * 150 ms, a round's messages slower than on one host (edge round trips) but agents compute on
 * their own vCPUs, so tasks and bulk messages cost less than on a shared 2-core machine.
 * History replaces both after the first run on the provider.
 */
export const PARAMETRIC_MS: Record<ProviderName, Coefficients> = {
  local: {
    swarms: 3000,
    freshAgents: 200,
    pooledAgents: 60,
    links: 2,
    roundMessages: 8,
    messages: 0.2,
    tasks: 33,
    probes: 25,
  },
  e2b: {
    swarms: 800,
    freshAgents: 150,
    pooledAgents: 50,
    links: 5,
    roundMessages: 0.1,
    messages: 0.005,
    tasks: 1.5,
    probes: 60,
  },
};

/** Fresh sandboxes E2B lets a team create per second (Hobby 1/s, Pro 5/s). */
export const DEFAULT_CREATION_RATE_PER_S = { e2b: 1, local: Number.POSITIVE_INFINITY } as const;

/** The work of a list of planned swarms; `source` tells fresh from pooled sandboxes. */
export function workOf(
  swarms: readonly PlannedSwarm[],
  source: (swarm: PlannedSwarm) => 'fresh' | 'pool',
): UnitWork {
  const work: UnitWork = {
    swarms: 0,
    freshAgents: 0,
    pooledAgents: 0,
    links: 0,
    roundMessages: 0,
    messages: 0,
    tasks: 0,
    probes: 0,
    fixedSeconds: 0,
    largestSwarm: 0,
  };
  for (const swarm of swarms) {
    const topology = swarm.topology ?? 'mesh';
    work.swarms += 1;
    if (source(swarm) === 'fresh') work.freshAgents += swarm.agents;
    else work.pooledAgents += swarm.agents;
    work.links += swarm.agents > 1 ? edges(buildTopology(topology, swarm.agents)).length : 0;
    work.roundMessages += (swarm.rounds ?? 0) * messagesPerRound(topology, swarm.agents);
    work.messages += swarm.messages ?? 0;
    work.tasks += swarm.tasks ?? 0;
    work.probes += swarm.probes ?? 0;
    work.fixedSeconds += swarm.workloadSeconds ?? 0;
    work.largestSwarm = Math.max(work.largestSwarm, swarm.agents);
  }
  return work;
}

/** Duration of a unit's work by the parametric model (ms). */
export function parametricMs(work: UnitWork, coefficients: Coefficients): number {
  let ms = work.fixedSeconds * 1000;
  for (const [key, perUnit] of Object.entries(coefficients) as Array<[keyof Coefficients, number]>) {
    ms += perUnit * work[key];
  }
  return ms;
}

/** One earlier measurement of a unit, as the plan uses it. */
export interface UnitMeasurement {
  runId: string;
  startedAt: string;
  /** The unit's parameters when it ran (UnitSpec.params). */
  params: Record<string, unknown>;
  /** Its planned work when recorded with the run (older runs lack it). */
  work?: UnitWork;
  durationMs: number;
  sandboxSeconds: number;
}

/** Earlier measurements per unit id, newest first, of one provider. */
export type UnitHistory = ReadonlyMap<string, readonly UnitMeasurement[]>;

/** How many of the newest measurements an estimate rests on. */
export const HISTORY_RUNS = 5;

/**
 * Earlier unit measurements on `provider` from the store: results that completed ('ok') in any
 * run, newest first, at most `runs` runs back. The plan reads them before it estimates.
 */
export async function loadUnitHistory(
  store: Pick<ResultStore, 'listRuns' | 'getResults'>,
  provider: ProviderName,
  runs = 20,
): Promise<UnitHistory> {
  const history = new Map<string, UnitMeasurement[]>();
  for (const run of await store.listRuns({ provider, limit: runs })) {
    if (run.status === 'running') continue;
    // A unit split into shards on AWS counts as the whole unit: its shards' durations add up.
    const merged = mergeShardedRun({ meta: run, results: await store.getResults(run.runId) });
    const planned = new Map(merged.meta.units.map((unit) => [unit.unitId, unit]));
    for (const result of merged.results) {
      if (result.status !== 'ok') continue;
      const work = planned.get(result.unitId)?.estimate.work;
      const list = history.get(result.unitId) ?? [];
      list.push({
        runId: run.runId,
        startedAt: run.startedAt,
        params: result.params,
        ...(work ? { work } : {}),
        durationMs: result.durationMs,
        sandboxSeconds: result.usage.sandboxSeconds,
      });
      history.set(result.unitId, list);
    }
  }
  return history;
}

/** Where an estimate came from, in the plan and the report. */
export interface EstimateBasis {
  source: 'history' | 'history-scaled' | 'parametric';
  /** Measurements the estimate rests on (0 for parametric). */
  runs: number;
  /** One line for people. */
  note: string;
}

/** A unit's calibrated duration and the basis of it. */
export interface DurationEstimate {
  durationMs: number;
  /** Measured sandbox-seconds of the same parameters, when history has them. */
  sandboxSeconds?: number;
  basis: EstimateBasis;
}

/** Same parameters: every key of the planned params equal (as JSON) in the measured ones. */
export function sameParams(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) return false;
  return true;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * Estimate one unit: the median of its newest measurements with the same parameters; else its
 * measurements with other parameters, scaled by the parametric model's ratio of the two works
 * (the unit's own measured/modelled factor times the model for this work); else the model alone.
 */
export function estimateDuration(
  unit: Pick<UnitSpec, 'unitId' | 'params'>,
  work: UnitWork,
  coefficients: Coefficients,
  history: UnitHistory | undefined,
): DurationEstimate {
  const modelled = parametricMs(work, coefficients);
  const measured = history?.get(unit.unitId) ?? [];
  const same = measured.filter((m) => sameParams(m.params, unit.params)).slice(0, HISTORY_RUNS);
  if (same.length > 0) {
    return {
      durationMs: median(same.map((m) => m.durationMs)),
      sandboxSeconds: median(same.map((m) => m.sandboxSeconds)),
      basis: {
        source: 'history',
        runs: same.length,
        note: `median of ${same.length} earlier run(s) with the same parameters`,
      },
    };
  }
  const scalable = measured
    .filter((m) => m.work !== undefined && parametricMs(m.work, coefficients) > 0)
    .slice(0, HISTORY_RUNS);
  if (scalable.length > 0 && modelled > 0) {
    const factor = median(scalable.map((m) => m.durationMs / parametricMs(m.work as UnitWork, coefficients)));
    return {
      durationMs: factor * modelled,
      basis: {
        source: 'history-scaled',
        runs: scalable.length,
        note: `${scalable.length} earlier run(s) with other parameters, scaled by the work model (measured/modelled ${factor.toFixed(2)})`,
      },
    };
  }
  return {
    durationMs: modelled,
    basis: { source: 'parametric', runs: 0, note: 'no earlier run of this unit: parametric work model' },
  };
}
