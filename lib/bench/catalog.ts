/**
 * The guide's 18 tests as data: what each one measures and exactly how, in words. The report's
 * "How measured" appendix is written from this, so a reader can tell where every number starts
 * and stops without reading the runner.
 */
import type { CategoryId } from './model.ts';

/** One test of the guide and how swarm-bench measures it. */
export interface CatalogEntry {
  unitId: string;
  category: CategoryId;
  test: string;
  /** The guide's name for the test. */
  title: string;
  /** One line: the quantity. */
  measures: string;
  /** Start and end points, who takes the measurement, what is excluded. */
  how: string;
}

const entry = (
  category: CategoryId,
  test: string,
  title: string,
  measures: string,
  how: string,
): CatalogEntry => ({
  unitId: `${category}/${test}`,
  category,
  test,
  title,
  measures,
  how,
});

/** The 18 tests, in the guide's order. */
export const CATALOG: readonly CatalogEntry[] = Object.freeze([
  entry(
    'creation',
    'swarm-init',
    'Swarm initialization time',
    'Time to bring up a whole swarm, per topology and size (series init-ms).',
    'The coordinator starts its clock when it asks for the swarm and stops it when every agent is connected to its topology peers and has answered a health check. One sample per iteration; warm-up iterations are discarded. Teardown is excluded.',
  ),
  entry(
    'creation',
    'agent-deployment',
    'Agent deployment latency',
    'Time to deploy one agent (series deploy-ms, one sample per agent).',
    'Per agent, the coordinator times sandbox creation, agent bundle start and the first healthy answer. Peer wiring and teardown are excluded.',
  ),
  entry(
    'creation',
    'parallel-vs-sequential',
    'Parallel vs sequential deployment',
    'Wall time to deploy the same swarm in parallel and one agent after another (parallel-ms, sequential-ms), and their ratio (speedup).',
    'The coordinator times each deployment mode from the first create request until the last agent is healthy; the speedup figure is sequential over parallel time (the figure\u2019s own note gives the exact formula). Both modes use fresh sandboxes; teardown is excluded.',
  ),
  entry(
    'scalability',
    'agent-count',
    'Agent count scaling',
    'Swarm initialization time and resident memory per agent at 1, 5 and 10 agents (init-ms, rss-per-agent-mb).',
    'init-ms is measured as in swarm initialization, per swarm size; in a pooled run (the default) the swarm starts in running sandboxes, so the series carries sandboxes=pooled and its time excludes sandbox creation, which the creation category measures. rss-per-agent-mb is the sandboxes\u2019 resident memory (from /proc locally, from the provider\u2019s metrics on E2B) divided by the agent count, read once the swarm is healthy.',
  ),
  entry(
    'scalability',
    'linear-scaling',
    'Linear scaling',
    'How initialization time and memory grow over a sweep of swarm sizes (init-ms, rss-per-agent-mb; time-exponent, memory-exponent, memory-per-agent-spread).',
    'init-ms and rss-per-agent-mb as in agent count scaling, for every size of the sweep. time-exponent and memory-exponent are least-squares slopes of log(median) against log(agents) (1 = linear, < 1 sub-linear); memory-per-agent-spread is the largest over the smallest mean per-agent RSS across sizes.',
  ),
  entry(
    'scalability',
    'topology-comparison',
    'Topology performance comparison',
    'Initialization, consensus and broadcast time of each topology at the same size (init-ms, consensus-ms, broadcast-ms).',
    'init-ms as in agent count scaling (sandboxes=pooled: without sandbox creation); consensus-ms from proposal until a quorum of agents hold the decision; broadcast-ms from the send until every agent acknowledges the message over the topology route. All taken by the coordinator on the same swarm per topology.',
  ),
  entry(
    'trading',
    'strategy-execution',
    'Strategy execution throughput',
    'Round-trip time of one strategy execution in an agent, per strategy (strategy-rtt-ms), and strategies completed per second across the swarm (throughput).',
    'The coordinator times from sending a market-data window to an agent until its signal arrives; the agent computes the strategy on real indicators. Throughput is completed executions divided by the wall time of the batch across all agents. Swarm creation is excluded.',
  ),
  entry(
    'trading',
    'task-distribution',
    'Task distribution efficiency',
    'Time per distributed strategy task (task-ms), tasks per second (throughput) and how evenly tasks spread (balance = fewest / most tasks per agent).',
    'The coordinator hands a queue of strategy tasks to the swarm and times each from dispatch to result; throughput is tasks over the batch wall time; balance counts tasks completed per agent. Swarm creation is excluded.',
  ),
  entry(
    'trading',
    'consensus',
    'Consensus decision latency',
    'Time for the swarm to agree on a trade, per topology and size (consensus-ms, with commit-ms and consensus-ack-ms beside it).',
    'Each agent computes a signal and votes over the topology; consensus-ms runs from the proposal until a quorum (2f+1 of n) of agents hold the committed decision. On one host (local) the agents stamp their commit receipt on the monotonic clock they share and the latest stamp of the first quorum to acknowledge ends the interval; across hosts (E2B) clocks are not comparable and the interval ends when the proposer has a quorum of acknowledgements (an upper bound). commit-ms ends when the proposer has a quorum of votes; consensus-ack-ms is always the acknowledgement round trip.',
  ),
  entry(
    'communication',
    'inter-agent-latency',
    'Inter-agent communication latency',
    'Round-trip time between two agents over the topology route, per topology and hop count (rtt-ms).',
    'Measured by the sending agent, not the coordinator: agent A timestamps a ping, it travels the route to agent B (forwarded hop by hop) and back. Coordinator-to-agent time is excluded.',
  ),
  entry(
    'communication',
    'state-sync',
    'State synchronization overhead',
    'Time to propagate a new version of the shared state, per state size and swarm size (sync-ms).',
    'From the coordinator publishing a new state version until every live agent has acknowledged that version.',
  ),
  entry(
    'communication',
    'message-throughput',
    'Message passing throughput',
    'Messages delivered per second across the swarm (throughput-msg-s per trial, throughput overall).',
    'Every agent sends a burst of messages to each neighbour; a trial\u2019s throughput is messages acknowledged by receivers divided by the trial\u2019s wall time from first send to last receipt. Messages that are not delivered do not count.',
  ),
  entry(
    'resources',
    'memory-per-agent',
    'Memory usage per agent',
    'Resident memory of one agent, idle and under load (rss-mb by phase).',
    'Read from the OS (/proc of the agent process) locally or the provider\u2019s sandbox metrics on E2B, per agent, once idle and once during a strategy workload.',
  ),
  entry(
    'resources',
    'cpu-per-topology',
    'CPU utilization per topology',
    'CPU use of each agent under load, per topology, as a percentage of one core (cpu-percent).',
    'CPU time consumed by each agent process over the load window divided by the window\u2019s wall time (locally from /proc; on E2B the provider\u2019s CPU percentage). One sample per agent.',
  ),
  entry(
    'resources',
    'network-bandwidth',
    'Network bandwidth usage',
    'Bytes written to sockets per operation, per topology (bytes-per-op).',
    'The agents count bytes where they write them to their WebSockets (payload and framing); the total over a workload is divided by the operations it performed.',
  ),
  entry(
    'cost',
    'cost-per-operation',
    'Cost per trading operation',
    'E2B cost of one trading operation (cost-per-op), operations per dollar (ops-per-usd) and the sandbox time behind them (sandbox-seconds).',
    'Sandbox-seconds are counted from each sandbox\u2019s creation to its kill during a strategy workload and priced at E2B\u2019s per-second rates for the template\u2019s allocated vCPU and memory; divided by the operations completed.',
  ),
  entry(
    'cost',
    'cost-per-topology',
    'Cost comparison across topologies',
    'Hourly E2B cost of a swarm (hourly-usd) and cost per operation (cost-per-op) per topology and size.',
    'The same workload runs on each topology; cost per operation is its measured sandbox-seconds priced as above over its operations; hourly cost is the price of keeping that swarm\u2019s sandboxes alive for an hour.',
  ),
  entry(
    'cost',
    'cost-scaling',
    'Scalability cost efficiency',
    'Cost per operation and operations per dollar as the swarm grows (cost-per-op, ops-per-usd by agents), and the growth exponent (cost-exponent).',
    'The cost workload runs at several swarm sizes and is priced as above; cost-exponent is the log-log slope of the workload\u2019s cost against swarm size (< 1 sub-linear; the figure\u2019s note gives the exact formula).',
  ),
]);

/** Units swarm-bench adds to the guide's 18, described the same way (not part of CATALOG). */
export const EXTRA_CATALOG: readonly CatalogEntry[] = Object.freeze([
  entry(
    'resources',
    'agent-packing',
    'Agents per sandbox (packing)',
    'The same workload with 1, 2 and 5 agents per sandbox: consensus and task latency, CPU per agent, throughput and cost per operation (consensus-ms, task-ms, cpu-percent, throughput-ops-s, cost-per-op-usd by agentsPerSandbox).',
    'A 10-agent mesh in pooled sandboxes with k agent processes per sandbox, two rounds round-robin over k. Latencies as in consensus and task distribution; CPU from the agents\u2019 own counters over the workload window; cost per operation is sandboxes x measured workload time x the template\u2019s price / operations. Locally a sandbox is a directory, so packing adds no CPU contention beyond the machine\u2019s; on E2B packed agents share the sandbox\u2019s vCPUs.',
  ),
]);

/** The catalog entry of a unit: one of the guide's tests, or one of swarm-bench's additions. */
export function catalogEntry(unitId: string): CatalogEntry | undefined {
  return [...CATALOG, ...EXTRA_CATALOG].find((candidate) => candidate.unitId === unitId);
}
