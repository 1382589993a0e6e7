/**
 * The cost-optimal configuration for a workload, chosen from what the latest run measured. Pure:
 * a run's results, a workload and a budget in; ranked options out, each with its projected cost
 * and the measurements it rests on. Nothing here is typed in: latency per topology comes from
 * trading/consensus, the effect of packing k agents per sandbox on latency and throughput from
 * resources/agent-packing, prices from lib/cost.
 */
import type { RunResults, UnitResult } from '../bench/model.ts';
import { e2bHourlyUsd, HOURS_PER_MONTH } from '../cost/model.ts';
import { InvalidInputError } from '../errors.ts';
import { summarize } from '../stats/summary.ts';

/** What has to run. */
export interface Workload {
  /** Agents the swarm needs at least (strategies, markets). */
  agents: number;
  /** Strategy executions per second the swarm must sustain. */
  opsPerSecond: number;
  /** Bound on the p95 decision (consensus) latency, ms. */
  latencyBoundMs: number;
}

/** What may be spent on continuous operation. */
export interface Budget {
  hourlyUsd?: number;
  monthlyUsd?: number;
}

/** One configuration and what it is projected to cost and deliver. */
export interface RecommendedOption {
  topology: string;
  agentsPerSandbox: number;
  /** Agents deployed: the workload's, or more when throughput needs them. */
  agents: number;
  sandboxes: number;
  hourlyUsd: number;
  monthlyUsd: number;
  /** Projected p95 consensus latency: the topology's, scaled by the packing's measured ratio. */
  projectedP95Ms: number;
  /** Strategy executions per second the deployed agents are projected to sustain. */
  projectedOpsPerSecond: number;
  fitsLatency: boolean;
  fitsThroughput: boolean;
  fitsBudget: boolean;
  fits: boolean;
  /** The measurements behind the projection, in words. */
  basis: string[];
}

/** The recommender's answer. */
export interface Recommendation {
  runId: string;
  workload: Workload;
  budget: Budget;
  /** Every option, cheapest fitting first, then the non-fitting ones by how close they come. */
  options: RecommendedOption[];
  /** The cheapest option that meets every constraint, if any. */
  best?: RecommendedOption;
  /** Why nothing fits, or what is missing from the run; empty when `best` exists. */
  notes: string[];
}

/** The guide's own numbers as a default workload: 10 agents, > 10 strategies/s, consensus < 200 ms, < $2/h. */
export const DEFAULT_WORKLOAD: Workload = { agents: 10, opsPerSecond: 10, latencyBoundMs: 200 };
export const DEFAULT_BUDGET: Budget = { hourlyUsd: 2 };

const CONSENSUS_UNIT = 'trading/consensus';
const PACKING_UNIT = 'resources/agent-packing';

/** Rank topology x agents-per-sandbox options for a workload from a run's measurements. */
export function recommend(run: RunResults, workload: Workload, budget: Budget = {}): Recommendation {
  checkWorkload(workload, budget);
  const notes: string[] = [];
  const resources = { vcpu: run.meta.template.vcpu, memoryMb: run.meta.template.memoryMb };
  const consensus = usable(run, CONSENSUS_UNIT);
  const packing = usable(run, PACKING_UNIT);
  if (consensus === undefined)
    notes.push(`${CONSENSUS_UNIT} has no result in run ${run.meta.runId}: no topology latency to rest on.`);
  if (packing === undefined)
    notes.push(
      `${PACKING_UNIT} has no result in run ${run.meta.runId}: no throughput per agent or packing effect to rest on.`,
    );
  if (consensus === undefined || packing === undefined) {
    return { runId: run.meta.runId, workload, budget, options: [], notes };
  }

  // Latency of each topology at the size it was measured (p95 over all its rounds).
  const topologies = new Map<string, { p95: number; agents: number; n: number }>();
  for (const series of consensus.series) {
    if (series.name !== 'consensus-ms' || series.samples.length === 0) continue;
    const topology = String(series.labels.topology);
    topologies.set(topology, {
      p95: summarize(series.samples).p95,
      agents: Number(series.labels.agents),
      n: series.samples.length,
    });
  }
  // Per packing k: consensus p95 (for the ratio to k=1) and tasks per second per agent.
  const packings = new Map<number, { p95: number; opsPerAgent: number; agents: number }>();
  for (const k of uniqueNumbers(packing.series.map((s) => Number(s.labels.agentsPerSandbox)))) {
    const of = (name: string) =>
      packing.series
        .filter((s) => s.name === name && Number(s.labels.agentsPerSandbox) === k)
        .flatMap((s) => s.samples);
    const latency = of('consensus-ms');
    const throughput = of('throughput-ops-s');
    const agents = Number(packing.series.find((s) => Number(s.labels.agentsPerSandbox) === k)?.labels.agents);
    if (latency.length === 0 || throughput.length === 0 || !(agents > 0)) continue;
    packings.set(k, {
      p95: summarize(latency).p95,
      opsPerAgent: summarize(throughput).p50 / agents,
      agents,
    });
  }
  const base = packings.get(1);
  if (topologies.size === 0 || packings.size === 0 || base === undefined) {
    notes.push('the run has no consensus-ms per topology or no packing measurement at 1 agent per sandbox.');
    return { runId: run.meta.runId, workload, budget, options: [], notes };
  }

  const options: RecommendedOption[] = [];
  for (const [topology, latency] of topologies) {
    for (const [k, packed] of packings) {
      const ratio = packed.p95 / base.p95;
      const needed = Math.ceil(workload.opsPerSecond / packed.opsPerAgent);
      const agents = Math.max(workload.agents, needed);
      const sandboxes = Math.ceil(agents / k);
      const hourlyUsd = e2bHourlyUsd(resources, sandboxes);
      const monthlyUsd = hourlyUsd * HOURS_PER_MONTH;
      const projectedP95Ms = latency.p95 * ratio;
      const projectedOpsPerSecond = packed.opsPerAgent * agents;
      const fitsLatency = projectedP95Ms <= workload.latencyBoundMs;
      const fitsThroughput = projectedOpsPerSecond >= workload.opsPerSecond;
      const fitsBudget =
        (budget.hourlyUsd === undefined || hourlyUsd <= budget.hourlyUsd) &&
        (budget.monthlyUsd === undefined || monthlyUsd <= budget.monthlyUsd);
      const basis = [
        `${CONSENSUS_UNIT} consensus-ms p95 ${round(latency.p95)} ms for ${topology} at ${latency.agents} agents (n=${latency.n})`,
        `${PACKING_UNIT} consensus-ms p95 at ${k}/sandbox is ${round(ratio)}x that at 1/sandbox (${round(packed.p95)} vs ${round(base.p95)} ms)`,
        `${PACKING_UNIT} throughput-ops-s p50 / ${packed.agents} agents = ${round(packed.opsPerAgent)} ops/s per agent at ${k}/sandbox`,
        `E2B list price of ${sandboxes} sandbox(es) of ${resources.vcpu} vCPU / ${resources.memoryMb} MiB`,
      ];
      if (agents > latency.agents) {
        basis.push(
          `latency measured at ${latency.agents} agents, projected to ${agents} unchanged (an extrapolation)`,
        );
      }
      options.push({
        topology,
        agentsPerSandbox: k,
        agents,
        sandboxes,
        hourlyUsd,
        monthlyUsd,
        projectedP95Ms,
        projectedOpsPerSecond,
        fitsLatency,
        fitsThroughput,
        fitsBudget,
        fits: fitsLatency && fitsThroughput && fitsBudget,
        basis,
      });
    }
  }
  options.sort(
    (a, b) =>
      Number(b.fits) - Number(a.fits) ||
      a.monthlyUsd - b.monthlyUsd ||
      a.projectedP95Ms - b.projectedP95Ms ||
      a.topology.localeCompare(b.topology),
  );
  const best = options.find((option) => option.fits);
  if (best === undefined) {
    const fastest = Math.min(...options.map((o) => o.projectedP95Ms));
    const cheapest = Math.min(
      ...options.filter((o) => o.fitsLatency && o.fitsThroughput).map((o) => o.monthlyUsd),
    );
    if (!options.some((o) => o.fitsLatency)) {
      notes.push(
        `no option meets the latency bound ${workload.latencyBoundMs} ms: the fastest projected p95 is ${round(fastest)} ms.`,
      );
    } else if (!options.some((o) => o.fitsLatency && o.fitsThroughput)) {
      notes.push(`no option meeting the latency bound also sustains ${workload.opsPerSecond} ops/s.`);
    } else {
      notes.push(
        `no option fits the budget: the cheapest that meets latency and throughput costs $${cheapest.toFixed(2)} a month ($${(cheapest / HOURS_PER_MONTH).toFixed(3)}/h).`,
      );
    }
  }
  return { runId: run.meta.runId, workload, budget, options, ...(best ? { best } : {}), notes };
}

function usable(run: RunResults, unitId: string): UnitResult | undefined {
  const result = run.results.find((r) => r.unitId === unitId);
  return result !== undefined && result.status !== 'failed' ? result : undefined;
}

function checkWorkload(workload: Workload, budget: Budget): void {
  const positive = (field: string, value: number | undefined, integer = false) => {
    if (value === undefined) return;
    if (
      !(typeof value === 'number' && Number.isFinite(value) && value > 0) ||
      (integer && !Number.isInteger(value))
    ) {
      throw new InvalidInputError(field, integer ? 'a whole number > 0' : 'a number > 0', value);
    }
  };
  positive('agents', workload.agents, true);
  positive('opsPerSecond', workload.opsPerSecond);
  positive('latencyBoundMs', workload.latencyBoundMs);
  positive('budget.hourlyUsd', budget.hourlyUsd);
  positive('budget.monthlyUsd', budget.monthlyUsd);
}

function uniqueNumbers(values: number[]): number[] {
  return [...new Set(values.filter((v) => Number.isFinite(v)))].sort((a, b) => a - b);
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
