/**
 * Real 10-agent swarms on the local provider, one per topology. Each topology's swarm is shared by
 * the tests of its describe (creating 10 processes per test would take most of the time budget);
 * its processes are checked dead in afterAll, crashed agents in afterEach, and every swarm made by
 * a single test is destroyed and checked in afterEach, whether the test passed or not.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AgentError, InvalidInputError } from '../../lib/errors.ts';
import { LocalSandboxProvider } from '../../lib/sandbox/local.ts';
import type { Sandbox, SandboxProvider } from '../../lib/sandbox/types.ts';
import { type CreateSwarmOptions, type Swarm, SwarmManager } from '../../lib/swarm/manager.ts';
import { hopCount, shortestPath, type Topology, type TopologyKind } from '../../lib/swarm/topology.ts';
import { generateBars } from '../../lib/trading/market.ts';
import { alivePids, expectPidsDead, killSurvivors } from '../helpers/processes.ts';
import { wrapProvider } from '../helpers/providers.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bundlePath = resolve(repoRoot, 'dist/agent.cjs');
const WINDOW = generateBars({ bars: 500, seed: 1 });
const AGENTS = 10;
const QUORUM = 7;

/**
 * A provider wrapper that counts deployments in flight (sandbox creation until its first agent
 * answers): parallel deployment must overlap them, sequential must not.
 */
function probeDeployments(inner: SandboxProvider) {
  const counts = { inFlight: 0, max: 0 };
  const provider = wrapProvider(inner, {
    async create(options) {
      counts.inFlight++;
      counts.max = Math.max(counts.max, counts.inFlight);
      let deploying = true;
      const settle = () => {
        if (deploying) counts.inFlight--;
        deploying = false;
      };
      let sandbox: Sandbox;
      try {
        sandbox = await inner.create(options);
      } catch (error) {
        settle();
        throw error;
      }
      return {
        id: sandbox.id,
        provider: sandbox.provider,
        createdAt: sandbox.createdAt,
        get alive() {
          return sandbox.alive;
        },
        startAgent: (launch) => sandbox.startAgent(launch).finally(settle),
        stopAgents: () => sandbox.stopAgents(),
        metrics: () => sandbox.metrics(),
        kill: () => sandbox.kill(),
      };
    },
  });
  return { provider, counts };
}

function pidsOf(swarm: Swarm): number[] {
  return swarm.agents.map((a) => a.endpoint.pid).filter((pid): pid is number => pid !== undefined);
}

function degreeSum(topology: Topology): number {
  return topology.neighbors.reduce((sum, list) => sum + list.length, 0);
}

/** Fewest hops `quorum - 1` remote votes (and as many commit acks) can travel to the root. */
function minimumConsensusHops(topology: Topology, quorum: number, down: ReadonlySet<number>): number {
  const distances = topology.neighbors
    .map((_, i) => i)
    .filter((i) => i !== topology.root && !down.has(i))
    .map((i) => hopCount(topology, i, topology.root) ?? Number.POSITIVE_INFINITY)
    .sort((a, b) => a - b);
  return 2 * distances.slice(0, quorum - 1).reduce((sum, d) => sum + d, 0);
}

async function waitUntil(condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return condition();
}

function catchAsync(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

// Per-test resources: destroyed and checked after every test.
const perTest = { swarms: [] as Swarm[], providers: [] as LocalSandboxProvider[], pids: new Set<number>() };

function newProvider(): LocalSandboxProvider {
  const provider = new LocalSandboxProvider({ bundlePath });
  perTest.providers.push(provider);
  return provider;
}

async function createTracked(manager: SwarmManager, kind: TopologyKind, options?: CreateSwarmOptions) {
  const swarm = await manager.createSwarm(kind, AGENTS, options);
  perTest.swarms.push(swarm);
  for (const pid of pidsOf(swarm)) perTest.pids.add(pid);
  return swarm;
}

afterEach(async () => {
  const pids = [...perTest.pids];
  try {
    await Promise.allSettled(perTest.swarms.map((s) => s.destroy()));
    await Promise.all(perTest.providers.map((p) => p.killAll()));
    for (const provider of perTest.providers) expect(provider.live()).toHaveLength(0);
    await expectPidsDead(pids);
  } finally {
    killSurvivors(pids);
    perTest.swarms = [];
    perTest.providers = [];
    perTest.pids.clear();
  }
});

interface TopologyCase {
  kind: TopologyKind;
  /** A route that must cross intermediate agents (or prove there are none). */
  route: { from: number; to: number; path: number[] };
  /** A non-root agent to SIGKILL; its loss must leave the live agents connected. */
  victim: number;
}

const CASES: TopologyCase[] = [
  { kind: 'ring', route: { from: 0, to: 5, path: [0, 1, 2, 3, 4, 5] }, victim: 3 },
  // Fan-out 3: 4 hangs under 1, 9 under 2; leaf to leaf climbs to the root and down.
  { kind: 'hierarchical', route: { from: 4, to: 9, path: [4, 1, 0, 2, 9] }, victim: 9 },
  { kind: 'star', route: { from: 3, to: 7, path: [3, 0, 7] }, victim: 4 },
  { kind: 'mesh', route: { from: 0, to: 5, path: [0, 5] }, victim: 3 },
];

describe.each(CASES)('$kind swarm of 10 agents', ({ kind, route, victim }) => {
  let provider: LocalSandboxProvider;
  let counts: { max: number };
  let swarm: Swarm;
  let allPids: number[] = [];
  let syncs = 0;

  beforeAll(async () => {
    provider = new LocalSandboxProvider({ bundlePath });
    const probe = probeDeployments(provider);
    counts = probe.counts;
    swarm = await new SwarmManager({ provider: probe.provider }).createSwarm(kind, AGENTS);
    allPids = pidsOf(swarm);
  });

  afterEach(async () => {
    // A crashed agent must really be gone, not merely marked dead.
    const crashed = swarm?.agents.filter((a) => !a.alive).map((a) => a.endpoint.pid as number) ?? [];
    await expectPidsDead(crashed);
  });

  afterAll(async () => {
    try {
      await swarm?.destroy();
      await provider.killAll();
      expect(provider.live()).toHaveLength(0);
      await expectPidsDead(allPids);
    } finally {
      killSurvivors(allPids);
    }
  });

  it('is created healthy: every agent running and linked to exactly its neighbours', async () => {
    // Act
    const health = await Promise.all(swarm.agents.map((a) => a.client.request({ op: 'health' })));
    // Assess
    expect(swarm.size).toBe(AGENTS);
    expect(new Set(allPids).size).toBe(AGENTS);
    expect(alivePids(allPids)).toHaveLength(AGENTS);
    health.forEach((h, i) => {
      expect(h.agentId).toBe(`a${i}`);
      expect(h.configured).toBe(true);
      expect(h.expectedLinks).toBe(swarm.topology.neighbors[i]?.length);
      expect(h.links).toBe(h.expectedLinks);
    });
    expect(swarm.quorum).toBe(QUORUM);
    expect(swarm.timings.initMs).toBeGreaterThan(0);
    expect(swarm.timings.deployMs).toBeLessThanOrEqual(swarm.timings.initMs);
    expect(swarm.timings.sandboxesCreated).toBe(AGENTS);
    // Parallel deployment (the default) really overlapped all ten deployments.
    expect(counts.max).toBe(AGENTS);
  });

  it(`routes ${route.from} -> ${route.to} hop by hop through the agents between`, async () => {
    // Act
    const result = await swarm.route(route.from, route.to);
    const fromRoot = await Promise.all(
      swarm.agents.slice(1).map((a) => swarm.route(swarm.topology.root, a.index)),
    );
    // Assess: the path is recorded by the agents that forwarded the message.
    expect(result.path).toEqual(route.path);
    expect(result.hops).toBe(route.path.length - 1);
    expect(result.rttMs).toBeGreaterThan(0);
    fromRoot.forEach((r, i) => {
      expect(r.path).toEqual(shortestPath(swarm.topology, swarm.topology.root, i + 1));
    });
  });

  it('reaches consensus: a quorum of votes travelled the topology and the decision is held', async () => {
    // Act
    const result = await swarm.consensus(WINDOW);
    // Assess
    expect(['buy', 'sell', 'hold']).toContain(result.decision);
    expect(result.quorum).toBe(QUORUM);
    expect(result.votes).toBeGreaterThanOrEqual(QUORUM);
    expect(result.commitUs).toBeGreaterThan(0);
    expect(result.heldUs).toBeGreaterThanOrEqual(result.commitUs);
    // Local agents share one monotonic clock: their own receipt stamps end heldUs, which can only
    // precede the proposer hearing back from them.
    expect(result.heldUs).toBeLessThan(result.heldRttUs);
    expect(result.hops).toBeGreaterThanOrEqual(minimumConsensusHops(swarm.topology, QUORUM, new Set()));
  });

  it('syncs state to every agent, and every agent then holds that version', async () => {
    // Act
    const result = await swarm.syncState({ portfolio: { cash: 1_000_000 }, note: 'x'.repeat(10_000) });
    syncs++;
    // Asking each agent to originate the same version again is refused with the version it holds.
    const probes = await Promise.all(
      swarm.agents.map((a) =>
        catchAsync(a.client.request({ op: 'sync', version: syncs, state: null, expect: [] })),
      ),
    );
    // Assess
    expect(result).toMatchObject({ acked: AGENTS, expected: AGENTS });
    expect(result.syncUs).toBeGreaterThan(0);
    for (const error of probes) {
      expect(error).toBeInstanceOf(AgentError);
      expect((error as Error).message).toMatch(new RegExp(`version must exceed ${syncs}$`));
    }
  });

  it('blasts count x (sum of degrees) messages and they arrive', async () => {
    // Prepare
    const count = 500;
    const before = await swarm.metrics();
    // Act
    const result = await swarm.blast(count, 16);
    const after = await swarm.metrics();
    // Assess
    expect(result.messages).toBe(count * degreeSum(swarm.topology));
    result.perAgent.forEach((r, i) => {
      expect(r.sent).toBe(count * (swarm.topology.neighbors[i]?.length ?? 0));
    });
    const received = after.reduce((sum, m, i) => sum + m.messagesIn - (before[i]?.messagesIn ?? 0), 0);
    expect(received).toBeGreaterThanOrEqual(result.messages);
    // Each frame {"t":"m","p":"<16 bytes>"} is 32 bytes of payload before framing.
    const bytesOut = after.reduce((sum, m, i) => sum + m.peerBytesOut - (before[i]?.peerBytesOut ?? 0), 0);
    expect(bytesOut).toBeGreaterThanOrEqual(result.messages * 32);
  });

  it('reports metrics measured by each agent: its pid, rss and bytes on both kinds of socket', async () => {
    // Act
    const metrics = await swarm.metrics();
    // Assess
    expect(metrics).toHaveLength(AGENTS);
    metrics.forEach((m, i) => {
      const pid = swarm.agents[i]?.endpoint.pid as number;
      expect(m.pid).toBe(pid);
      expect(m.rssBytes).toBeGreaterThan(0);
      expect(m.peerBytesIn).toBeGreaterThan(0);
      expect(m.peerBytesOut).toBeGreaterThan(0);
      expect(m.controlBytesIn).toBeGreaterThan(0);
      expect(m.controlBytesOut).toBeGreaterThan(0);
      expect(m.links).toBe(swarm.topology.neighbors[i]?.length);
      // Cross-check the agent's own rss against the OS.
      const vmRss = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      const osRss = Number(vmRss?.[1]) * 1024;
      expect(m.rssBytes / osRss).toBeGreaterThan(0.5);
      expect(m.rssBytes / osRss).toBeLessThan(2);
    });
  });

  it(`still commits with quorum ${QUORUM} of ${AGENTS} after agent ${victim} is SIGKILLed, and routes around it`, async () => {
    // Prepare
    const victimPid = swarm.agents[victim]?.endpoint.pid as number;
    const neighbour = swarm.agents[swarm.topology.neighbors[victim]?.[0] as number];
    await swarm.crash(victim);
    await expectPidsDead([victimPid]);
    const noticed = await waitUntil(async () => {
      const h = await neighbour?.client.request({ op: 'health' });
      return h !== undefined && h.links === h.expectedLinks - 1;
    }, 20_000);
    // Act
    const consensus = await swarm.consensus(WINDOW);
    const sync = await swarm.syncState({ after: 'crash' });
    syncs++;
    const routes = await Promise.all(
      swarm
        .liveIndices()
        .filter((i) => i !== swarm.topology.root)
        .map((i) => swarm.route(swarm.topology.root, i)),
    );
    // Assess
    expect(noticed).toBe(true);
    expect(consensus.quorum).toBe(QUORUM);
    expect(consensus.votes).toBeGreaterThanOrEqual(QUORUM);
    expect(consensus.heldUs).toBeGreaterThanOrEqual(consensus.commitUs);
    expect(sync).toMatchObject({ acked: AGENTS - 1, expected: AGENTS - 1 });
    const down = new Set([victim]);
    for (const r of routes) {
      expect(r.path).not.toContain(victim);
      expect(r.path).toEqual(
        shortestPath(swarm.topology, swarm.topology.root, r.path.at(-1) as number, down),
      );
    }
    if (kind === 'ring') {
      expect(routes.find((r) => r.path.at(-1) === 5)?.path).toEqual([0, 9, 8, 7, 6, 5]);
    }
  });
});

describe('deployment', () => {
  it('sequential deployment starts one sandbox at a time and yields a healthy swarm', async () => {
    // Prepare
    const probe = probeDeployments(newProvider());
    const manager = new SwarmManager({ provider: probe.provider });
    // Act
    const swarm = await createTracked(manager, 'star', { deploy: 'sequential' });
    const health = await Promise.all(swarm.agents.map((a) => a.client.request({ op: 'health' })));
    // Assess
    expect(probe.counts.max).toBe(1);
    expect(swarm.timings.sandboxesCreated).toBe(AGENTS);
    for (const h of health) expect(h.links).toBe(h.expectedLinks);
    expect((await swarm.route(1, 2)).path).toEqual([1, 0, 2]);
  });

  it('agentsPerSandbox: 2 packs 10 agent processes into 5 sandboxes that still form one swarm', async () => {
    // Prepare
    const provider = newProvider();
    const manager = new SwarmManager({ provider });
    const createdBefore = provider.usage().created;
    // Act
    const swarm = await createTracked(manager, 'ring', { agentsPerSandbox: 2 });
    const health = await Promise.all(swarm.agents.map((a) => a.client.request({ op: 'health' })));
    const route = await swarm.route(0, 5);
    // Assess
    expect(swarm.timings.sandboxesCreated).toBe(5);
    expect(provider.usage().created - createdBefore).toBe(5);
    expect(provider.live()).toHaveLength(5);
    const bySandbox = new Map<string, number[]>();
    for (const agent of swarm.agents) {
      bySandbox.set(agent.endpoint.sandboxId, [
        ...(bySandbox.get(agent.endpoint.sandboxId) ?? []),
        agent.index,
      ]);
    }
    expect([...bySandbox.values()].map((members) => members.length)).toEqual([2, 2, 2, 2, 2]);
    expect(new Set(pidsOf(swarm)).size).toBe(AGENTS);
    for (const h of health) expect(h.links).toBe(h.expectedLinks);
    expect(route.path).toEqual([0, 1, 2, 3, 4, 5]);
  });
});

describe('bad input is refused before any sandbox is created', () => {
  const cases: Array<[string, string, number, CreateSwarmOptions, string]> = [
    ['topology torus', 'torus', 10, {}, 'topology'],
    ['0 agents', 'ring', 0, {}, 'agents'],
    ['-1 agents', 'ring', -1, {}, 'agents'],
    ['2.5 agents', 'mesh', 2.5, {}, 'agents'],
    ['65 agents, above the provider limit', 'mesh', 65, {}, 'agents'],
    ['13 agents, above maxAgents 12', 'mesh', 13, {}, 'agents'],
    ['an unknown strategy', 'mesh', 4, { strategies: ['momentum', 'astrology'] }, 'strategies'],
    ['no strategy', 'mesh', 4, { strategies: [] }, 'strategies'],
    ['a quorum above n', 'mesh', 4, { quorum: 5 }, 'quorum'],
    ['an unknown deploy mode', 'mesh', 4, { deploy: 'eventually' as 'parallel' }, 'deploy'],
    ['agentsPerSandbox 0', 'mesh', 4, { agentsPerSandbox: 0 }, 'agentsPerSandbox'],
    ['fanOut 1', 'hierarchical', 4, { fanOut: 1 }, 'fanOut'],
  ];

  it.each(cases)('%s -> InvalidInputError naming the field', async (label, kind, agents, options, field) => {
    // Prepare
    const provider = newProvider();
    expect(provider.maxConcurrent).toBe(64);
    const manager = new SwarmManager({ provider, ...(label.includes('maxAgents') ? { maxAgents: 12 } : {}) });
    // Act
    const error = await catchAsync(manager.createSwarm(kind as TopologyKind, agents, options));
    // Assess
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).field).toBe(field);
    expect((error as Error).message).toMatch(new RegExp(`^${field}: `));
    expect(provider.usage().created).toBe(0);
    expect(provider.live()).toHaveLength(0);
    expect(manager.live).toBe(0);
  });
});
