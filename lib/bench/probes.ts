/**
 * Resource probes over a live swarm. Memory and CPU come from the OS or the provider (the local
 * provider reads /proc per agent process; E2B reports per sandbox), with the agents' own reports
 * beside them as a cross-check. Bytes are the agents' socket counters.
 */
import type { AgentMetricsReport } from '../agent/protocol.ts';
import type { Swarm } from '../swarm/manager.ts';

const MB = 1024 * 1024;

/**
 * RSS of each live agent in MB: from the OS where the provider sees processes (local); otherwise
 * (E2B sees whole VMs) from the agents' own reports. A whole-sandbox figure is never divided into
 * per-agent pseudo values: it includes the system and says nothing about one agent.
 */
export async function rssPerAgentMb(swarm: Swarm): Promise<number[]> {
  const live = swarm.agents.filter((a) => a.alive);
  const own = await Promise.all(live.map((agent) => agent.sandbox.agentMetrics?.(agent.id)));
  if (own.every((metrics) => metrics !== undefined)) return own.map((metrics) => metrics.rssBytes / MB);
  return (await swarm.metrics()).map((report) => report.rssBytes / MB);
}

/** Whole-sandbox memory in MB, one figure per sandbox, as the provider reports it (E2B: the VM). */
export async function sandboxRssMb(
  swarm: Swarm,
): Promise<{ mb: number[]; source: 'proc' | 'e2b' | undefined }> {
  const sandboxes = [
    ...new Map(swarm.agents.filter((a) => a.alive).map((a) => [a.sandbox.id, a.sandbox])).values(),
  ];
  const metrics = await Promise.all(sandboxes.map((sandbox) => sandbox.metrics()));
  return { mb: metrics.map((m) => m.rssBytes / MB), source: metrics[0]?.source };
}

/** CPU time (ms) of each live agent from the OS where the provider can see processes. */
export async function osCpuMs(swarm: Swarm): Promise<Array<number | undefined>> {
  return Promise.all(
    swarm.agents.filter((a) => a.alive).map(async (a) => (await a.sandbox.agentMetrics?.(a.id))?.cpuMs),
  );
}

/** Totals over agent reports. */
export function totals(reports: AgentMetricsReport[]): {
  peerBytesOut: number;
  messagesOut: number;
  cpuUs: number[];
} {
  return {
    peerBytesOut: reports.reduce((sum, r) => sum + r.peerBytesOut, 0),
    messagesOut: reports.reduce((sum, r) => sum + r.messagesOut, 0),
    cpuUs: reports.map((r) => r.cpuUserUs + r.cpuSystemUs),
  };
}
