/** Communication: agent-to-agent latency, state synchronization, message passing throughput. */
import { buildTopology, eccentricity, shortestPath } from '../../swarm/topology.ts';
import { median } from '../context.ts';
import { type BenchmarkDefinition, messagesPerRound } from '../definition.ts';

export const interAgentLatency: BenchmarkDefinition = {
  category: 'communication',
  test: 'inter-agent-latency',
  title: 'Inter-agent communication latency',
  // Pings to the adjacent and to the farthest agent, each hop forwarded both ways.
  swarms: (p) =>
    p.topologies.map((topology) => {
      const far = p.swarmSize > 1 ? eccentricity(buildTopology(topology, p.swarmSize), 0) : 0;
      const pings = p.pingSamples + Math.max(20, Math.ceil(p.pingSamples / 10));
      return { agents: p.swarmSize, topology, messages: 2 * pings * (1 + (far > 1 ? far : 0)) };
    }),
  samples: (p) => [
    {
      series: 'rtt-ms',
      n: p.pingSamples,
      why: 'agent-measured round trips per topology and hop count; its p95 target needs about 20',
    },
  ],
  describe: (p) => ({
    topologies: p.topologies,
    agents: p.swarmSize,
    samplesPerPair: p.pingSamples,
    payloadBytes: 64,
  }),
  async run(ctx) {
    const { topologies, swarmSize, pingSamples } = ctx.params;
    const warmup = Math.max(20, Math.ceil(pingSamples / 10));
    for (const topology of topologies) {
      if (ctx.stopped) break;
      await ctx.withSwarm(topology, swarmSize, async (swarm) => {
        const origin = swarm.topology.root;
        const pairs = new Map<number, number>();
        const adjacent = swarm.topology.neighbors[origin]?.[0];
        if (adjacent !== undefined) pairs.set(1, adjacent);
        // The farthest agent from the root: the longest route this topology makes a message take.
        const far = eccentricity(swarm.topology, origin);
        for (let to = swarm.size - 1; to > 0 && far > 1; to--) {
          if ((shortestPath(swarm.topology, origin, to)?.length ?? 0) - 1 === far) {
            pairs.set(far, to);
            break;
          }
        }
        for (const [hops, to] of pairs) {
          if (ctx.stopped) break;
          const rtt = ctx.series('rtt-ms', 'ms', { topology, hops });
          // Measured by the sending agent, along the topology's route, in batches so a stop is honoured.
          for (let done = 0; done < pingSamples && !ctx.stopped; done += 500) {
            const count = Math.min(500, pingSamples - done);
            const result = await swarm.ping(origin, to, {
              count,
              warmup: done === 0 ? warmup : 0,
              payloadBytes: 64,
            });
            for (const us of result.warmupUs) rtt.warm(us / 1000);
            for (const us of result.samplesUs) rtt.add(us / 1000);
            ctx.operations += count;
          }
        }
      });
    }
  },
};

export const stateSync: BenchmarkDefinition = {
  category: 'communication',
  test: 'state-sync',
  title: 'State synchronization overhead',
  swarms: (p) => [{ agents: p.swarmSize, rounds: p.stateSizes.length * (p.syncRounds + 3) }],
  samples: (p) => [
    {
      series: 'sync-ms',
      n: p.syncRounds,
      why: 'one sample per state version, per state size; its p95 target needs about 20',
    },
  ],
  describe: (p) => ({
    topology: 'mesh',
    agents: p.swarmSize,
    stateBytes: p.stateSizes,
    rounds: p.syncRounds,
  }),
  async run(ctx) {
    const { swarmSize, stateSizes, syncRounds } = ctx.params;
    await ctx.withSwarm('mesh', swarmSize, async (swarm) => {
      for (const stateBytes of stateSizes) {
        const sync = ctx.series('sync-ms', 'ms', { topology: 'mesh', stateBytes, agents: swarm.size });
        for (let r = 0; r < syncRounds + 3 && !ctx.stopped; r++) {
          const state = portfolioState(stateBytes, r);
          let syncUs = 0;
          await ctx.time(async () => {
            syncUs = (await swarm.syncState(state)).syncUs;
          });
          sync.record(syncUs / 1000, r < 3);
          if (r >= 3) ctx.operations++;
        }
      }
    });
  },
};

/** A portfolio-shaped state of about `bytes` bytes of JSON. */
export function portfolioState(bytes: number, version: number): unknown {
  const positions: Array<{ symbol: string; qty: number; avg: number }> = [];
  let size = 40;
  for (let i = 0; size < bytes; i++) {
    const position = {
      symbol: `SYM${String(i).padStart(4, '0')}`,
      qty: (i * 37 + version) % 1000,
      avg: 100 + (i % 97) / 7,
    };
    positions.push(position);
    size += JSON.stringify(position).length + 1;
  }
  return { version, cash: 1_000_000 - version, positions };
}

export const messageThroughput: BenchmarkDefinition = {
  category: 'communication',
  test: 'message-throughput',
  title: 'Message passing throughput',
  swarms: (p) => [
    {
      agents: p.swarmSize,
      messages:
        (Math.ceil(p.blastCount / 5) + p.blastTrials * p.blastCount) * messagesPerRound('mesh', p.swarmSize),
    },
  ],
  samples: (p) => [
    {
      series: 'throughput-msg-s',
      n: p.blastTrials,
      why: 'one sample per burst trial (after a discarded one); the throughput figure is their median',
    },
  ],
  describe: (p) => ({
    topology: 'mesh',
    agents: p.swarmSize,
    perNeighbour: p.blastCount,
    trials: p.blastTrials,
    payloadBytes: 16,
  }),
  async run(ctx) {
    const { swarmSize, blastCount, blastTrials } = ctx.params;
    await ctx.withSwarm('mesh', swarmSize, async (swarm) => {
      const tput = ctx.series('throughput-msg-s', 'msg/s', { topology: 'mesh', agents: swarm.size });
      for (let t = 0; t < blastTrials + 1 && !ctx.stopped; t++) {
        const run = await swarm.blast(t === 0 ? Math.ceil(blastCount / 5) : blastCount, 16);
        tput.record((run.messages / run.elapsedMs) * 1000, t === 0);
        if (t > 0) ctx.operations += run.messages;
      }
      if (tput.samples.length > 0) {
        ctx.figure(
          'throughput',
          median(tput.samples),
          'msg/s',
          ['throughput-msg-s'],
          'median over trials of messages delivered swarm-wide (each agent to each neighbour, flushed) / wall time',
        );
      }
    });
  },
};

export const COMMUNICATION = [interAgentLatency, stateSync, messageThroughput];
