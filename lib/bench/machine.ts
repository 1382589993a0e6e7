/**
 * The local provider runs every agent on this machine, so a swarm larger than the machine can
 * host measures the machine's contention, not the swarm. Before a run the plan compares its
 * largest swarm with the cores, the memory and the agents' measured footprint; during a run a
 * probe reads /proc so the report can say how contended each unit was.
 */

import { readFile } from 'node:fs/promises';
import { median } from 'simple-statistics';
import type { RunConfig } from '../config.ts';
import { InvalidInputError } from '../errors.ts';
import type { ResultStore } from '../store/types.ts';
import type { UnitContention } from './model.ts';
import type { Plan } from './plan.ts';
import type { ReferenceProbe } from './reference.ts';

/** What the check knows about this machine. */
export interface MachineInfo {
  cores: number;
  memoryMb: number;
}

/** An agent's footprint under the benchmark workloads. */
export interface AgentFootprint {
  /** Resident memory of one agent (MB). */
  rssMb: number;
  /** CPU one agent keeps busy under load, percent of one core. */
  cpuPercent: number;
  /** Where the figures come from: a stored run, or defaults. */
  source: string;
}

/**
 * Footprint used before anything was measured: about 75 MB per agent (Node's baseline RSS plus
 * the agent) and 8% of a core per agent under the mixed workload, as measured on a 2-core machine.
 */
export const DEFAULT_FOOTPRINT: AgentFootprint = {
  rssMb: 75,
  cpuPercent: 8,
  source: 'defaults (75 MB, 8% of a core per agent)',
};

/** Share of the machine's memory the agents may use (the coordinator and other work keep the rest). */
const MEMORY_SHARE = 0.5;
/** Share of the machine's cores the agents may keep busy before run queues build up. */
const CPU_SHARE = 0.8;
/** A unit ran contended when its 1-minute load average per core exceeded this. */
export const CONTENTION_LOAD_PER_CORE = 1.5;

/** Largest swarm this machine hosts without contention, and what limits it. */
export interface MachineCapacity {
  agents: number;
  byCpu: number;
  byMemory: number;
  footprint: AgentFootprint;
}

export function machineCapacity(machine: MachineInfo, footprint: AgentFootprint): MachineCapacity {
  const byCpu = Math.floor((machine.cores * 100 * CPU_SHARE) / Math.max(0.1, footprint.cpuPercent));
  const byMemory = Math.floor((machine.memoryMb * MEMORY_SHARE) / Math.max(1, footprint.rssMb));
  return { agents: Math.max(1, Math.min(byCpu, byMemory)), byCpu, byMemory, footprint };
}

/** The verdict of comparing a plan's largest swarm with the machine. */
export interface MachineCheck {
  largestSwarm: number;
  capacity: MachineCapacity;
  fits: boolean;
  /** One line for people: fits, or why not and what to do. */
  message: string;
  /** How the capacity was computed (cores, memory, footprint), for people. */
  limits: string;
}

/** Compare the plan's largest swarm with what this machine hosts. */
export function checkMachine(plan: Plan, machine: MachineInfo, footprint: AgentFootprint): MachineCheck {
  const largestSwarm = plan.units.reduce(
    (max, unit) => Math.max(max, unit.estimate.work?.largestSwarm ?? 0),
    0,
  );
  const capacity = machineCapacity(machine, footprint);
  const fits = largestSwarm <= capacity.agents;
  const limits = `${machine.cores} cores x ${CPU_SHARE * 100}% / ${footprint.cpuPercent.toFixed(1)}% per agent = ${capacity.byCpu} agents; ${Math.round(machine.memoryMb)} MB x ${MEMORY_SHARE * 100}% / ${footprint.rssMb.toFixed(0)} MB per agent = ${capacity.byMemory} agents; footprint from ${footprint.source}`;
  const message = fits
    ? `largest swarm ${largestSwarm} agents fits this machine (up to ${capacity.agents}: ${limits})`
    : `largest swarm ${largestSwarm} agents exceeds what this machine hosts without contention (${capacity.agents}: ${limits}); results would measure the machine, not the swarm. Use --agents ${capacity.agents}, the e2b provider, or a larger machine`;
  return { largestSwarm, capacity, fits, message, limits };
}

/**
 * How far the capacity may move from the previous load run's size and the size still be kept: the
 * footprint is re-measured by every run and moves a few percent (8.0% then 8.1% of a core per
 * agent put the capacity at 20, then 19 agents), and a size that moved with it would change the
 * units' parameters, so no run could be planned from the measurements of the one before. Below:
 * the capacity may be up to 15% above the kept size. Above: the kept size may exceed the capacity
 * by up to 10%; the capacity leaves 20% of the cores free (CPU_SHARE), so such a swarm still keeps
 * its agents within 88% of the cores.
 */
export const SIZE_TOLERANCE = 0.15;
export const SIZE_TOLERANCE_ABOVE = 0.1;

/**
 * Agents a profile's largest swarm is sized to on this machine: the capacity, at least 10 (the
 * guide's scale); or the previous load run's size while the capacity stays within the tolerances.
 */
export function agentsForMachine(capacity: MachineCapacity, previous?: number): number {
  const sized = Math.max(10, capacity.agents);
  if (previous === undefined || previous < 10) return sized;
  const kept = previous >= sized * (1 - SIZE_TOLERANCE) && previous <= sized * (1 + SIZE_TOLERANCE_ABOVE);
  return kept ? previous : sized;
}

/**
 * The footprint measured by the newest run on the local provider that has one: the median
 * under-load RSS of resources/memory-per-agent and the median CPU of resources/cpu-per-topology.
 */
export async function measuredFootprint(
  store: Pick<ResultStore, 'listRuns' | 'getResults'>,
): Promise<AgentFootprint | undefined> {
  for (const run of await store.listRuns({ provider: 'local', limit: 10 })) {
    const results = await store.getResults(run.runId);
    const samples = (unitId: string, series: string, phase?: string) =>
      results
        .filter((r) => r.unitId === unitId && r.status !== 'failed')
        .flatMap((r) => r.series)
        .filter((s) => s.name === series && (phase === undefined || s.labels.phase === phase))
        .flatMap((s) => s.samples);
    const rss = samples('resources/memory-per-agent', 'rss-mb', 'load');
    const cpu = samples('resources/cpu-per-topology', 'cpu-percent');
    if (rss.length > 0 && cpu.length > 0) {
      return { rssMb: median(rss), cpuPercent: median(cpu), source: `run ${run.runId}` };
    }
  }
  return undefined;
}

/** The largest swarm of the newest completed load-profile run on the local provider, if any. */
export async function previousLoadSize(store: Pick<ResultStore, 'listRuns'>): Promise<number | undefined> {
  for (const run of await store.listRuns({ provider: 'local', limit: 20 })) {
    if (run.profile !== 'load' || run.status === 'running') continue;
    const largest = Math.max(0, ...run.units.map((unit) => unit.estimate.work?.largestSwarm ?? 0));
    if (largest > 0) return largest;
  }
  return undefined;
}

/** CPU time counters of the machine, from the first line of /proc/stat (USER_HZ ticks). */
export interface CpuTimes {
  busy: number;
  idle: number;
  steal: number;
  total: number;
}

/** Parse /proc/stat: the aggregate cpu line and procs_running. */
export function parseProcStat(text: string): { cpu: CpuTimes; procsRunning: number } | undefined {
  const cpuLine = text.split('\n').find((line) => line.startsWith('cpu '));
  if (cpuLine === undefined) return undefined;
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = cpuLine
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const running = /^procs_running\s+(\d+)/m.exec(text);
  const idleAll = idle + iowait;
  const busy = user + nice + system + irq + softirq;
  return {
    cpu: { busy, idle: idleAll, steal, total: busy + idleAll + steal },
    procsRunning: running ? Number(running[1]) : 0,
  };
}

/** Parse /proc/loadavg: the 1-minute load average and the runnable count of "running/total". */
export function parseLoadAvg(text: string): { load1: number; runnable: number } | undefined {
  const parts = text.trim().split(/\s+/);
  const load1 = Number(parts[0]);
  const runnable = Number(parts[3]?.split('/')[0]);
  if (!Number.isFinite(load1)) return undefined;
  return { load1, runnable: Number.isFinite(runnable) ? runnable : 0 };
}

/** Reads a /proc file; undefined where there is none (not Linux). */
export type ProcReader = (path: '/proc/stat' | '/proc/loadavg') => Promise<string | undefined>;

/**
 * Samples the machine's contention while a unit runs: load average and run queue every
 * `intervalMs`, CPU steal and busy time between start and stop.
 */
export class ContentionProbe {
  private first: CpuTimes | undefined;
  private loadMax = 0;
  private queueMax = 0;
  private samples = 0;
  private timer: NodeJS.Timeout | undefined;
  private pending: Promise<void> = Promise.resolve();

  constructor(
    private readonly read: ProcReader,
    private readonly options: {
      cores: number;
      intervalMs?: number;
      thresholdLoadPerCore?: number;
      /** Reference tasks timed beside the unit (recorded as `reference`); none: not measured. */
      reference?: ReferenceProbe;
    },
  ) {}

  /** Take the first reading and sample on an interval until stop(). */
  async start(): Promise<void> {
    this.first = (await this.sample())?.cpu;
    this.options.reference?.start();
    this.timer = setInterval(() => {
      this.pending = this.pending.then(async () => {
        await this.sample();
      });
    }, this.options.intervalMs ?? 2_000);
    this.timer.unref();
  }

  /** Stop sampling and summarise; undefined where /proc cannot be read. */
  async stop(): Promise<UnitContention | undefined> {
    if (this.timer) clearInterval(this.timer);
    await this.pending;
    const last = (await this.sample())?.cpu;
    const reference = await this.options.reference?.stop();
    if (this.first === undefined || last === undefined) return undefined;
    const total = Math.max(1, last.total - this.first.total);
    const threshold = this.options.thresholdLoadPerCore ?? CONTENTION_LOAD_PER_CORE;
    return {
      loadAvgMax: this.loadMax,
      cores: this.options.cores,
      runQueueMax: this.queueMax,
      stealPercent: ((last.steal - this.first.steal) / total) * 100,
      busyPercent: ((last.busy - this.first.busy) / total) * 100,
      samples: this.samples,
      contended: this.loadMax / this.options.cores > threshold,
      thresholdLoadPerCore: threshold,
      ...(reference ? { reference } : {}),
    };
  }

  private async sample(): Promise<{ cpu: CpuTimes } | undefined> {
    const [stat, loadavg] = await Promise.all([this.read('/proc/stat'), this.read('/proc/loadavg')]);
    const parsedStat = stat === undefined ? undefined : parseProcStat(stat);
    const parsedLoad = loadavg === undefined ? undefined : parseLoadAvg(loadavg);
    if (parsedStat === undefined || parsedLoad === undefined) return undefined;
    this.samples++;
    this.loadMax = Math.max(this.loadMax, parsedLoad.load1);
    // procs_running counts this reader too; loadavg's runnable field likewise.
    this.queueMax = Math.max(this.queueMax, parsedStat.procsRunning, parsedLoad.runnable);
    return { cpu: parsedStat.cpu };
  }
}

/** A plan fitted to this machine, and what the check said. */
export interface MachinePlan {
  config: RunConfig;
  plan: Plan;
  check?: MachineCheck;
  /** One line for the user: fits, sized to the machine, or a contention warning. */
  note?: string;
  /** True when the note is a warning (results would measure contention). */
  warning: boolean;
}

/**
 * Plan a local run against this machine: a plan whose largest swarm fits passes; the load
 * profile without --agents is sized to the machine (its largest swarm becomes the capacity, at
 * least 10); anything else that does not fit is a warning, or refused under `strict` (exit 2).
 * Other providers host agents elsewhere: no check.
 */
export function planForMachine(
  config: RunConfig,
  build: (config: RunConfig) => Plan,
  machine: MachineInfo,
  footprint: AgentFootprint,
  options: { strict?: boolean; previousLoadSize?: number | undefined } = {},
): MachinePlan {
  const plan = build(config);
  if (config.provider !== 'local') return { config, plan, warning: false };
  const check = checkMachine(plan, machine, footprint);
  if (check.fits) return { config, plan, check, note: check.message, warning: false };
  if (config.profile === 'load' && config.agents === undefined) {
    const sizedAgain = agentsForMachine(check.capacity, options.previousLoadSize);
    const keptPrevious = sizedAgain !== agentsForMachine(check.capacity);
    const agents = Math.min(sizedAgain, check.largestSwarm);
    const sized = { ...config, agents };
    const resized = build(sized);
    const again = checkMachine(resized, machine, footprint);
    // A kept size may exceed the capacity by the stated tolerance: by design, not a warning.
    const keptNote = `, as the previous load run (the capacity, ${check.capacity.agents}, is within -${SIZE_TOLERANCE * 100}%/+${SIZE_TOLERANCE_ABOVE * 100}% of it)`;
    const verdict =
      keptPrevious && !again.fits
        ? `largest swarm ${agents} agents, at most ${SIZE_TOLERANCE_ABOVE * 100}% above the capacity of ${again.capacity.agents} (${again.limits})`
        : again.message;
    return {
      config: sized,
      plan: resized,
      check: again,
      note: `load profile sized to this machine: largest swarm ${agents} agents instead of ${check.largestSwarm}${keptPrevious ? keptNote : ''} (${verdict}); --agents ${check.largestSwarm} forces the full size`,
      warning: !again.fits && !keptPrevious,
    };
  }
  if (options.strict) {
    throw new InvalidInputError('--strict', `a plan whose largest swarm fits this machine; ${check.message}`);
  }
  return { config, plan, check, note: `warning: ${check.message}`, warning: true };
}

/** Reads /proc files from this machine; undefined where there are none. */
export const readProc: ProcReader = async (path) => {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
};
