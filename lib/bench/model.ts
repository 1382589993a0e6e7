/**
 * The data every part of swarm-bench passes around: what a run plans, what a unit measured, and
 * what a run was. Plain serialisable data (JSON), so it crosses Lambda boundaries, lands in the
 * store as is and merges across workers.
 */
import type { ProviderName } from '../sandbox/types.ts';
import type { PlannedSeries } from './definition.ts';
import type { EstimateBasis, UnitWork } from './estimate.ts';

/** The guide's six categories, in report order, with the guide's spelling as title. */
export const CATEGORIES = [
  { id: 'creation', title: 'Creation Performance' },
  { id: 'scalability', title: 'Scalability' },
  { id: 'trading', title: 'Trading Operations' },
  { id: 'communication', title: 'Communication' },
  { id: 'resources', title: 'Resource Usage' },
  { id: 'cost', title: 'Cost Analysis' },
] as const;

export type CategoryId = (typeof CATEGORIES)[number]['id'];

/** The three tests of each category (the guide's 18), by slug. */
export const TESTS = {
  creation: ['swarm-init', 'agent-deployment', 'parallel-vs-sequential'],
  scalability: ['agent-count', 'linear-scaling', 'topology-comparison'],
  trading: ['strategy-execution', 'task-distribution', 'consensus'],
  communication: ['inter-agent-latency', 'state-sync', 'message-throughput'],
  resources: ['memory-per-agent', 'cpu-per-topology', 'network-bandwidth'],
  cost: ['cost-per-operation', 'cost-per-topology', 'cost-scaling'],
} as const satisfies Record<CategoryId, readonly string[]>;

/** Units beyond the guide's 18 that swarm-bench runs by default (reported in their category). */
export const EXTRA_UNITS = ['resources/agent-packing'] as const;

export type ProfileName = 'quick' | 'default' | 'load';

/** Units of measure used in series and figures. */
export type MeasureUnit =
  | 'ms'
  | 'us'
  | 's'
  | 'msg/s'
  | 'ops/s'
  | 'bytes'
  | 'MB'
  | 'percent'
  | 'usd'
  | 'usd/h'
  | 'ratio'
  | 'count'
  | 'ops/usd';

export type Labels = Record<string, string | number>;

/** Raw measurements of one quantity under fixed labels. Every summary in a report derives from one. */
export interface Series {
  /** Stable name within its unit, e.g. "init-ms". */
  name: string;
  unit: MeasureUnit;
  /** Measured samples, warm-ups excluded, in the order taken. */
  samples: number[];
  /** Warm-up samples taken and discarded from statistics, kept for traceability. */
  warmup: number[];
  /** What distinguishes this series from its siblings, e.g. {topology: 'ring', agents: 10}. */
  labels: Labels;
  /** Set when `report` read more samples than its cap: how many the file held, how many were kept, and how. */
  thinned?: { inFile: number; kept: number; rule: string };
}

/** A single derived number (speed-up, fitted exponent, throughput) and the series it came from. */
export interface Figure {
  name: string;
  value: number;
  unit: MeasureUnit;
  labels: Labels;
  /** Names of the series this figure is computed from. */
  from: string[];
  /** One line: how it was computed. */
  how: string;
}

/**
 * A pass/fail threshold on a measured quantity: either a statistic of the matching series, or a
 * figure. When several series/figures match (e.g. one per topology), the worst one decides.
 */
export interface Target {
  id: string;
  /** The metric as people read it, e.g. "Swarm Initialization". */
  label: string;
  unitId: string;
  /** Exactly one of series+stat or figure. */
  series?: string;
  stat?: 'p50' | 'p95' | 'p99' | 'mean' | 'max' | 'min';
  figure?: string;
  /** Only series/figures whose labels include these. */
  labels?: Labels;
  op: '<' | '<=' | '>' | '>=';
  value: number;
  unit: MeasureUnit;
  importance: 'Critical' | 'High' | 'Medium' | 'Low';
  /** Where the threshold comes from: the guide's floor or a custom scenario. */
  source: 'guide' | 'custom';
}

/** One benchmark unit of a plan. */
export interface UnitSpec {
  /** `${category}/${test}` or `custom/${name}`, unique within a run. */
  unitId: string;
  category: CategoryId | 'custom';
  test: string;
  title: string;
  /** Effective parameters (agent counts, iterations, topologies) of this unit under the profile. */
  params: Record<string, unknown>;
  /** Targets a custom scenario declares for itself (the guide's targets live in lib/bench/targets.ts). */
  targets?: Target[];
  /**
   * What the planner expects the unit to use, before anything runs. With pooling, `sandboxes` is
   * what the unit creates (fresh ones plus what the pool lacks) and `reused` what it takes from the pool.
   */
  estimate: {
    sandboxes: number;
    sandboxSeconds: number;
    durationMs: number;
    reused?: number;
    fresh?: number;
    /** Sandboxes the unit's pooled swarms hold at once (what the run's pool must keep for it). */
    peakPooled?: number;
    /** What the unit does: the inputs of the duration model, stored so later plans can scale it. */
    work?: UnitWork;
    /** Where durationMs came from: earlier runs of the unit, or the parametric model. */
    basis?: EstimateBasis;
    /** Of durationMs, time spent waiting for the provider's creation rate (E2B: 1 sandbox/s on Hobby). */
    creationWaitMs?: number;
  };
  /** Samples the unit records per series that a target is judged on, and why that many. */
  samples?: PlannedSeries[];
  /** Set when the unit is one shard of a larger one (see lib/bench/shards.ts). */
  shard?: ShardSpec;
}

/** One shard of a unit split to fit a unit Lambda: the parameters it covers. */
export interface ShardSpec {
  /** The unit it is part of; results of all shards merge into one result of this id. */
  of: string;
  index: number;
  count: number;
  /** Profile parameters this shard overrides (a subset of topologies, sizes or rounds). */
  params: Record<string, unknown>;
}

/** Contention the machine showed while a unit ran (local provider), read from /proc. */
export interface UnitContention {
  /** Highest 1-minute load average seen, and the machine's cores. */
  loadAvgMax: number;
  cores: number;
  /** Highest count of runnable tasks (procs_running) seen. */
  runQueueMax: number;
  /** CPU time stolen by the hypervisor over the unit, percent of all CPU time. */
  stealPercent: number;
  /** Share of CPU time busy (not idle/iowait) over the unit, percent. */
  busyPercent: number;
  samples: number;
  /** True when load per core exceeded the stated threshold: results measured contention too. */
  contended: boolean;
  /** The threshold applied: 1-minute load average per core. */
  thresholdLoadPerCore: number;
  /** Fixed reference tasks timed while the unit ran (lib/bench/reference.ts): how slow the machine was. */
  reference?: UnitReference;
}

/** Timings of one reference task over a unit (ms). */
export interface ReferenceTimings {
  n: number;
  median: number;
  mean: number;
}

/** The reference tasks of a unit: a fixed CPU loop (`iterations`) and a thread ping-pong, timed every intervalMs. */
export interface UnitReference {
  iterations: number;
  intervalMs: number;
  cpuMs?: ReferenceTimings;
  pingMs?: ReferenceTimings;
}

export type UnitStatus = 'ok' | 'partial' | 'failed';

/** What one unit measured. */
export interface UnitResult {
  runId: string;
  unitId: string;
  category: UnitSpec['category'];
  test: string;
  title: string;
  status: UnitStatus;
  /** Why the unit failed or is partial. Never a stack trace or raw error object. */
  error?: { name: string; message: string };
  startedAt: string;
  endedAt: string;
  durationMs: number;
  params: Record<string, unknown>;
  series: Series[];
  figures: Figure[];
  usage: {
    sandboxesCreated: number;
    /** Billed sandbox-seconds: creation to kill of every sandbox the unit used. */
    sandboxSeconds: number;
    /** Trading/messaging operations performed, the denominator of cost per operation. */
    operations: number;
    /**
     * E2B: time the unit's sandbox creations spent waiting for the plan's creation rate (pacing and
     * backoff after 429), summed over its sandboxes; creation latency proper is the rest.
     */
    creationThrottledMs?: number;
    /** E2B: creations answered 429 and retried. */
    rateLimited?: number;
    /**
     * E2B: coordinator handshakes to agents through E2B's edge that failed and were tried again
     * (timeout, 502-504, unreachable); an agent that needed none counts 0.
     */
    handshakeRetries?: number;
  };
  /** Faults injected or observed (agent crash, retried creation), in plain words. */
  faults: string[];
  /** Machine contention measured during the unit (local provider). */
  contention?: UnitContention;
}

/**
 * `interrupted`: stopped by a signal (or its parent process going away) and finished by its own
 * process; `abandoned`: its process stopped heart-beating and a later command closed it.
 */
export type RunStatus = 'running' | 'completed' | 'partial' | 'failed' | 'interrupted' | 'abandoned';

/** Everything needed to reproduce and compare a run. */
export interface RunMeta {
  runId: string;
  status: RunStatus;
  startedAt: string;
  endedAt?: string;
  profile: ProfileName;
  provider: ProviderName;
  template: { name: string; vcpu: number; memoryMb: number };
  gitCommit: string;
  nodeVersion: string;
  machine: {
    platform: string;
    arch: string;
    cpus: number;
    memoryGb: number;
    cpuModel?: string;
    region?: string;
  };
  /** Hash of the effective configuration; history compares runs with the same hash and provider. */
  configHash: string;
  /** Why a run is partial, failed, interrupted or abandoned. */
  reason?: string;
  /**
   * Pipeline runs: whether the end of the run was notified. 'pending' between finishing the run
   * and the notification going out (a retried Publish or FailRun sends it then); absent on runs
   * that notify nobody and on runs finished before it was recorded.
   */
  notification?: 'pending' | 'sent';
  /** Last sign of life of the process that owns a running run (ResultStore.heartbeat). */
  heartbeatAt?: string;
  /** The market data the strategies ran on: where it came from and a SHA-256 of the bars. */
  market?: { source: string; sha256: string; bars: number };
  /** The user's plug-ins the agents carried: names and the agent bundle's SHA-256. */
  plugins?: { strategies: string[]; decisionRule?: string; sha256: string };
  /** The units planned for this run. */
  units: UnitSpec[];
  /** E2B runs: the plan tier and pacing the provider kept to, and the packing (lib/bench/e2b-limits.ts). */
  e2b?: { tier: 'hobby' | 'pro'; creationRate: number; agentsPerSandbox: number };
}

/** A run and its unit results: the input of every report rendering. */
export interface RunResults {
  meta: RunMeta;
  results: UnitResult[];
}
