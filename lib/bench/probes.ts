/**
 * Resource probes over a live swarm. Memory and CPU come from the OS or the provider (the local
 * provider reads /proc per agent process; E2B reports per sandbox), with the agents' own reports
 * beside them as a cross-check. Bytes are the agents' socket counters.
 */
import type { AgentMetricsReport } from '../agent/protocol.ts';
import type { Swarm } from '../swarm/manager.ts';

const MB = 1024 * 1024;

/** RSS of each live agent in MB, from the OS/provider (not from the agent's own report). */
export async function rssPerAgentMb(swarm: Swarm): Promise<number[]> {
  const live = swarm.agents.filter((a) => a.alive);
  const perSandbox = new Map<string, number>();
  for (const agent of live) perSandbox.set(agent.sandbox.id, (perSandbox.get(agent.sandbox.id) ?? 0) + 1);
  return Promise.all(
    live.map(async (agent) => {
      const own = await agent.sandbox.agentMetrics?.(agent.id);
      if (own) return own.rssBytes / MB;
      // The provider sees only the whole sandbox: share it among the agents packed in it.
      const whole = await agent.sandbox.metrics();
      return whole.rssBytes / MB / (perSandbox.get(agent.sandbox.id) ?? 1);
    }),
  );
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
