/**
 * The agent's replicated logic (routing, consensus, state sync, probes) over an in-memory network:
 * real PeerNodes exchanging real, checked frames (binary for the hot kinds, JSON text for the rest),
 * no sockets and no processes.
 */
import { describe, expect, it } from 'vitest';
import type { DecisionRule, UserDecisionRule } from '../../lib/agent/consensus.ts';
import { AgentCounters } from '../../lib/agent/counters.ts';
import { InMemoryNetwork } from '../../lib/agent/inmem-net.ts';
import { PeerNode } from '../../lib/agent/peer-node.ts';
import { encodePeerWire, WIRE } from '../../lib/agent/peer-wire.ts';
import type { RouterOptions } from '../../lib/agent/routing.ts';
import { StrategyRegistry } from '../../lib/agent/workload.ts';
import { buildTopology, defaultQuorum, TOPOLOGIES, type TopologyKind } from '../../lib/swarm/topology.ts';
import { columnsOf } from '../../lib/trading/columns.ts';
import { generateBars } from '../../lib/trading/market.ts';
import type { Action, BarWindow, Strategy } from '../../lib/trading/types.ts';

const MARKET = { seed: 7, bars: 400, windowBars: 50 };

/** The close column of every window a `fixed` strategy was asked about, in order. */
const closesSeen: ArrayLike<number>[] = [];

/** A strategy that always answers `action`: votes become predictable. */
function fixed(action: Action): Strategy {
  return {
    name: `always-${action}`,
    signal: (window: BarWindow) => {
      closesSeen.push(columnsOf(window).close);
      return { action, confidence: 1, size: 1 };
    },
  } as unknown as Strategy;
}

interface InMemorySwarm {
  net: InMemoryNetwork;
  nodes: PeerNode[];
  counters: AgentCounters[];
  /** Kinds of the frames delivered so far, by wire form (`t` of a JSON frame, WIRE code of a binary one). */
  wire: { json: string[]; binary: number[] };
}

/** n PeerNodes over an in-memory network; agent i votes `votes(i)`. */
function swarm(
  kind: TopologyKind,
  n: number,
  votes: (i: number) => Action = () => 'buy',
  decide?: DecisionRule,
  rule?: UserDecisionRule,
  routing?: RouterOptions,
): InMemorySwarm {
  const topology = buildTopology(kind, n);
  const net = new InMemoryNetwork(topology);
  const counters = Array.from({ length: n }, () => new AgentCounters());
  const nodes: PeerNode[] = [];
  const wire: InMemorySwarm['wire'] = { json: [], binary: [] };
  for (let i = 0; i < n; i++) {
    const registry = new StrategyRegistry(() => fixed(votes(i)));
    let node!: PeerNode;
    const peerNet = net.join(i, {
      receive: (from, data) => {
        if (typeof data === 'string') wire.json.push(String(JSON.parse(data).t));
        else wire.binary.push(data[0] as number);
        node.receive(from, data);
      },
      linkDown: (peer) => node.router.linkDown(peer),
      linkUp: (peer) => node.router.linkUp(peer),
    });
    node = new PeerNode(peerNet, counters[i] as AgentCounters, registry, decide, routing);
    node.configure({
      self: i,
      topology,
      quorum: defaultQuorum(n),
      strategy: 'fixed',
      sharedClock: true,
      market: MARKET,
      rule,
    });
    nodes.push(node);
  }
  return { net, nodes, counters, wire };
}

describe('consensus over an in-memory network', () => {
  it.each(TOPOLOGIES)(
    '%s of 10: a quorum of votes commits the plurality and a quorum holds it',
    async (kind) => {
      // Prepare: 6 buy, 4 sell
      const { nodes } = swarm(kind, 10, (i) => (i < 6 ? 'buy' : 'sell'));
      const root = buildTopology(kind, 10).root;
      // Act
      const result = await (nodes[root] as PeerNode).consensus.propose({ at: 120 }, 10, 2_000);
      // Assess
      expect(result).toMatchObject({ decision: 'buy', votes: 10, quorum: 10 });
      expect(result.commitUs).toBeLessThanOrEqual(result.heldRttUs);
    },
  );

  it('a shipped window reaches every voter as columns, read in place, with the values proposed', async () => {
    // Prepare: the window as the agent decodes it from a binary propose frame, Float64 columns
    const bars = generateBars({ bars: 50, seed: 11 });
    const window = {
      t: Float64Array.from(bars, (bar) => bar.t),
      open: Float64Array.from(bars, (bar) => bar.open),
      high: Float64Array.from(bars, (bar) => bar.high),
      low: Float64Array.from(bars, (bar) => bar.low),
      close: Float64Array.from(bars, (bar) => bar.close),
      volume: Float64Array.from(bars, (bar) => bar.volume),
    };
    const { nodes } = swarm('mesh', 4);
    closesSeen.length = 0;
    // Act
    const result = await (nodes[0] as PeerNode).consensus.propose({ window }, 4, 2_000);
    // Assess: the proposer voted on its columns as they are; the others on the flooded copy
    expect(result).toMatchObject({ decision: 'buy', votes: 4 });
    expect(closesSeen).toHaveLength(4);
    expect(closesSeen[0]).toBe(window.close);
    for (const close of closesSeen) expect(Array.from(close)).toEqual(Array.from(window.close));
  });

  it('ties resolve to the safer action, and a custom decision rule is used when given', async () => {
    // Prepare: 2 buy, 2 sell on a mesh of 4
    const split = (i: number): Action => (i % 2 === 0 ? 'buy' : 'sell');
    const { nodes } = swarm('mesh', 4, split);
    const bold = swarm('mesh', 4, split, (votes) => ([...votes.values()].includes('buy') ? 'buy' : 'hold'));
    // Act
    const tie = await (nodes[0] as PeerNode).consensus.propose({ at: 60 }, 4, 2_000);
    const custom = await (bold.nodes[0] as PeerNode).consensus.propose({ at: 60 }, 4, 2_000);
    // Assess
    expect(tie.decision).toBe('sell');
    expect(custom.decision).toBe('buy');
  });

  it('a user rule configured for the swarm weighs the confidences the votes carry, asynchronously', async () => {
    // Prepare: 3 buy, 1 sell; a rule that trusts only a unanimous, fully confident swarm
    const seen: number[] = [];
    const rule: UserDecisionRule = {
      name: 'cautious',
      decide: async (votes) => {
        for (const vote of votes.values()) seen.push(vote.confidence);
        await new Promise((resolve) => setTimeout(resolve, 5));
        const actions = new Set([...votes.values()].map((vote) => vote.action));
        return { decision: actions.size === 1 ? 'buy' : 'hold', ruleUs: 5000 };
      },
    };
    const { nodes } = swarm('mesh', 4, (i) => (i < 3 ? 'buy' : 'sell'), undefined, rule);
    // Act
    const result = await (nodes[0] as PeerNode).consensus.propose({ at: 60 }, 4, 2_000);
    // Assess: every voter's confidence (1) reached the proposer, and the rule's outcome is reported
    expect(seen).toEqual([1, 1, 1, 1]);
    expect(result).toMatchObject({
      decision: 'hold',
      rule: { name: 'cautious', decision: 'hold', ruleUs: 5000 },
    });
    expect(result.commitUs).toBeGreaterThanOrEqual(5000);
  });

  it('a user rule that fails leaves hold and says why', async () => {
    // Prepare
    const rule: UserDecisionRule = { name: 'broken', decide: () => Promise.reject(new Error('boom')) };
    const { nodes } = swarm('star', 4, () => 'buy', undefined, rule);
    // Act
    const result = await (nodes[0] as PeerNode).consensus.propose({ at: 60 }, 4, 2_000);
    // Assess
    expect(result).toMatchObject({ decision: 'hold', rule: { name: 'broken', error: 'boom' } });
  });

  it('still commits with a quorum after an agent crashes, routing around it on a ring', async () => {
    // Prepare
    const { net, nodes } = swarm('ring', 10);
    net.crash(3);
    // Act
    const result = await (nodes[0] as PeerNode).consensus.propose({ at: 90 }, defaultQuorum(10), 2_000);
    // Assess
    expect(result.votes).toBeGreaterThanOrEqual(defaultQuorum(10));
    expect(result.decision).toBe('buy');
  });

  it('fails with the counts it reached when no quorum is possible', async () => {
    // Prepare
    const { net, nodes } = swarm('star', 4);
    net.crash(1);
    net.crash(2);
    // Act
    const outcome = (nodes[0] as PeerNode).consensus.propose({ at: 60 }, 4, 200);
    // Assess
    await expect(outcome).rejects.toThrow(/2 votes and 0 commit acks of quorum 4/);
  });
});

describe('routing, probes and state sync over an in-memory network', () => {
  it('a ring probe to the opposite agent takes n/2 hops through the agents between', async () => {
    // Prepare
    const { nodes } = swarm('ring', 10);
    // Act
    const result = await (nodes[0] as PeerNode).prober.ping(5, 2, 0, 8);
    // Assess
    expect(result.hops).toBe(5);
    expect(result.path).toEqual([0, 1, 2, 3, 4, 5]);
    expect(result.samplesUs).toHaveLength(2);
  });

  it('state reaches every live agent, which then all hold the version', async () => {
    // Prepare
    const { net, nodes } = swarm('hierarchical', 13);
    net.crash(4);
    const live = nodes.map((_, i) => i).filter((i) => i !== 4);
    // Act
    const result = await (nodes[0] as PeerNode).sync.start(1, { cash: 5 }, live, 2_000);
    // Assess
    expect(result).toMatchObject({ acked: 12, expected: 12 });
    for (const i of live) expect(nodes[i]?.sync.snapshot).toEqual({ version: 1, state: { cash: 5 } });
    expect(nodes[4]?.sync.snapshot.version).toBe(0);
  });

  it('refuses and counts frames that are not JSON or not in the protocol', () => {
    // Prepare
    const { nodes, counters } = swarm('mesh', 2);
    // Act
    nodes[0]?.receive(1, '{"t":');
    nodes[0]?.receive(1, JSON.stringify({ t: 'vote', src: 1, dst: 0, pid: 1, action: 'sell-all', hops: 0 }));
    nodes[0]?.receive(1, JSON.stringify({ t: 'nope' }));
    // Assess
    expect(counters[0]?.rejected.malformed).toBe(3);
  });

  it('carries the hot frames as binary, hop by hop, and a proposal shipping its window as JSON', async () => {
    // Prepare
    const { nodes, wire } = swarm('ring', 6);
    const root = nodes[0] as PeerNode;
    // Act
    const probe = await root.prober.ping(3, 2, 0, 16);
    const decided = await root.consensus.propose({ at: 100 }, 4, 2_000);
    const synced = await root.sync.start(1, { cash: 1 }, [0, 1, 2, 3, 4, 5], 2_000);
    const binaryOnly = wire.json.length;
    const withWindow = await root.consensus.propose(
      { window: generateBars({ bars: 60, seed: 2 }) },
      4,
      2_000,
    );
    // Assess
    expect(probe).toMatchObject({ hops: 3, path: [0, 1, 2, 3] });
    expect(decided.votes).toBeGreaterThanOrEqual(4);
    expect(synced.acked).toBe(6);
    expect(withWindow.votes).toBeGreaterThanOrEqual(4);
    expect(wire.json.slice(0, binaryOnly)).toEqual(Array(binaryOnly).fill('st'));
    expect(new Set(wire.json.slice(binaryOnly))).toEqual(new Set(['prop']));
    expect(new Set(wire.binary)).toEqual(
      new Set([WIRE.ping, WIRE.pong, WIRE.prop, WIRE.vote, WIRE.commit, WIRE.cack, WIRE.sack]),
    );
  });

  it('refuses and counts damaged binary frames as malformed ones, and binary frames naming outsiders', () => {
    // Prepare
    const { nodes, counters } = swarm('ring', 4);
    const ping = encodePeerWire({ t: 'ping', src: 1, dst: 0, id: 1, path: [1] }) as Buffer;
    const outsider = encodePeerWire({ t: 'ping', src: 1, dst: 0, id: 1, path: [1, 9] }) as Buffer;
    const badKind = Buffer.from(ping);
    badKind[0] = 99;
    // Act
    nodes[0]?.receive(1, ping.subarray(0, ping.length - 1));
    nodes[0]?.receive(1, Buffer.concat([ping, Buffer.alloc(1)]));
    nodes[0]?.receive(1, badKind);
    nodes[0]?.receive(1, Buffer.alloc(0));
    nodes[0]?.receive(1, outsider);
    // Assess
    expect(counters[0]?.rejected.malformed).toBe(4);
    expect(counters[0]?.rejected.outsider).toBe(1);
  });

  it('refuses and counts frames naming agents outside the swarm, and never routes around them', async () => {
    // Prepare
    const { nodes, counters } = swarm('ring', 4);
    const ping = { t: 'ping', src: 1, dst: 0, id: 1, path: [1] };
    // Act: fake dead agents 50 and 60, a fake source, a fake hop on the path
    nodes[0]?.receive(1, JSON.stringify({ ...ping, dn: [50, 60] }));
    nodes[0]?.receive(1, JSON.stringify({ ...ping, src: 9 }));
    nodes[0]?.receive(1, JSON.stringify({ ...ping, path: [1, 77] }));
    const probe = await (nodes[0] as PeerNode).prober.ping(2, 1, 0, 0);
    // Assess
    expect(counters[0]?.rejected.outsider).toBe(3);
    expect([...(nodes[0]?.router.down ?? [])]).toEqual([]);
    expect(probe.hops).toBe(2);
  });
});

describe('healing once dropped links return', () => {
  /** Down-marks heard from others last this long on the swarm's clock, which the test moves by hand. */
  const TTL_MS = 1_000;

  it.each([
    {
      kind: 'ring',
      n: 10,
      cut: 3,
      links: [
        [2, 3],
        [3, 4],
      ],
    },
    { kind: 'hierarchical', n: 13, cut: 4, links: [[1, 4]] },
  ] as const)(
    '$kind of $n: agent $cut, cut off and back, is reached by every agent and votes again',
    async ({ kind, n, cut, links }) => {
      // Prepare: agent `cut` loses its links; probes to the others spread its down-mark second-hand
      let clock = 0;
      const { net, nodes } = swarm(kind, n, () => 'buy', undefined, undefined, {
        downTtlMs: TTL_MS,
        now: () => clock,
      });
      const root = nodes[0] as PeerNode;
      for (const [a, b] of links) net.cutLink(a, b);
      for (let to = 1; to < n; to++) if (to !== cut) await root.prober.ping(to, 1, 0, 0);
      const during = await root.consensus.propose({ at: 90 }, n - 1, 2_000);
      const firstHand = new Set<number>(links.flat());
      const hearsay = nodes.filter((node, i) => !firstHand.has(i) && node.router.down.has(cut));
      expect(during.votes).toBe(n - 1);
      expect(hearsay.length).toBeGreaterThan(0);
      // Act: the links come back; a frame from the agent proves it alive where it passes
      for (const [a, b] of links) net.restoreLink(a, b);
      await (nodes[cut] as PeerNode).prober.ping(0, 1, 0, 0);
      const rootHeard = root.router.down.has(cut);
      // ... and every other second-hand mark runs out once its time has passed
      clock += TTL_MS + 1;
      const after = await root.consensus.propose({ at: 90 }, n, 2_000);
      // Assess
      expect(rootHeard).toBe(false);
      expect(after.votes).toBe(n);
      for (const node of nodes) expect([...node.router.down]).toEqual([]);
      for (let from = 0; from < n; from++) {
        for (let to = 0; to < n; to++) {
          if (to !== from) await (nodes[from] as PeerNode).prober.ping(to, 1, 0, 0);
        }
      }
    },
  );
});
