/**
 * Swarms: N agents in sandboxes, wired in a topology. The manager deploys (in parallel or one by
 * one), configures and destroys them; a Swarm drives the measurements. Every figure a Swarm
 * returns is measured by the agents themselves or at the coordinator's socket, never assumed.
 */
import { randomBytes } from 'node:crypto';
import type {
  AgentMetricsReport,
  BlastResult,
  ExecuteResult,
  PingResult,
  ProposeResult,
  SyncResult,
} from '../agent/protocol.ts';
import { InvalidInputError, SandboxStartError, TimeoutError } from '../errors.ts';
import { type RetryOptions, retry } from '../retry.ts';
import type { AgentEndpoint, Sandbox, SandboxProvider } from '../sandbox/types.ts';
import type { BarColumns } from '../trading/columns.ts';
import { isStrategyName, STRATEGY_NAMES } from '../trading/strategies.ts';
import type { Bar } from '../trading/types.ts';
import { AgentClient, type WindowWire } from './client.ts';
import { mapLimit } from './concurrency.ts';
import {
  buildTopology,
  DEFAULT_FAN_OUT,
  defaultQuorum,
  parseTopology,
  type Topology,
  type TopologyKind,
} from './topology.ts';

export type DeployMode = 'parallel' | 'sequential';

/** Options of one swarm. */
export interface CreateSwarmOptions {
  /** @default 'parallel' */
  deploy?: DeployMode;
  /** Sandboxes created at once in parallel mode. @default 10 */
  concurrency?: number;
  /** Tree fan-out for hierarchical swarms. @default 3 */
  fanOut?: number;
  /** Votes needed to commit. @default 2f+1 of n */
  quorum?: number;
  /** Strategies assigned round-robin to agents. @default every built-in strategy */
  strategies?: readonly string[];
  /** Plug-in strategies the agents' bundle carries (names `strategies` may use besides the built-ins). */
  pluginStrategies?: readonly string[];
  /** Decision rule of the consensus vote: a plug-in's name. @default plurality (built in) */
  decisionRule?: string;
  /** Agents packed into one sandbox (separate processes). @default 1 */
  agentsPerSandbox?: number;
  /** Sandbox lifetime. @default the manager's sandboxTimeoutMs */
  sandboxTimeoutMs?: number;
  /** Market feed agents generate locally so proposals can name a bar (`consensus(at)`). */
  market?: { seed: number; bars: number; windowBars: number; columns?: BarColumns };
  /** Reuse these sandboxes instead of creating new ones (pooling); they must be empty. */
  sandboxes?: Sandbox[];
}

/** Collaborators and defaults of a manager. */
export interface SwarmManagerOptions {
  provider: SandboxProvider;
  /** Tags put on every sandbox (stack, run). */
  metadata?: Record<string, string>;
  /** @default 300_000 like E2B's default */
  sandboxTimeoutMs?: number;
  /** Largest swarm this manager builds. @default the provider's maxConcurrent */
  maxAgents?: number;
  /** Monotonic clock in ms. @default performance.now */
  now?: () => number;
  /** Time one sandbox creation may take before it is abandoned (and killed if it appears later). @default 60_000 */
  createTimeoutMs?: number;
  /** Retries of a failed or hung sandbox creation. @default 3 attempts, jittered backoff from 200 ms */
  createRetry?: RetryOptions;
  /** Told about faults survived (a retried creation), for the report. */
  onFault?: (text: string) => void;
  /**
   * Asked before every sandbox creation attempt; throws (InterruptedError, BudgetExceededError) to
   * refuse it, so an interrupted or over-budget unit starts nothing new.
   */
  admit?: () => void;
}

/** Errors of the provider that are worth another creation attempt (not bad input, not a missing key). */
function retryableCreateError(error: unknown): boolean {
  const name = (error as { name?: string } | null)?.name;
  return (
    name !== 'InvalidInputError' &&
    name !== 'ProviderUnavailableError' &&
    name !== 'InterruptedError' &&
    name !== 'BudgetExceededError'
  );
}

/** One agent of a swarm, as the coordinator knows it. */
export interface SwarmAgent {
  index: number;
  id: string;
  endpoint: AgentEndpoint;
  sandbox: Sandbox;
  client: AgentClient;
  strategy: string;
  alive: boolean;
  /** Sandbox create (or reuse) to healthy, ms. */
  deployMs: number;
}

/** What creating a swarm took. */
export interface SwarmTimings {
  /** createSwarm call to every agent healthy and linked to its peers. */
  initMs: number;
  /** createSwarm call to every agent healthy (before wiring). */
  deployMs: number;
  /** Per agent: sandbox creation start to agent healthy. */
  perAgentDeployMs: number[];
  sandboxesCreated: number;
}

let swarmCounter = 0;

export class SwarmManager {
  private readonly swarms = new Set<Swarm>();
  readonly provider: SandboxProvider;
  private readonly now: () => number;
  private handshakeRetryCount = 0;

  constructor(private readonly options: SwarmManagerOptions) {
    this.provider = options.provider;
    this.now = options.now ?? (() => performance.now());
  }

  /** Handshakes to agents that failed and were tried again (E2B's edge allows a few per agent). */
  get handshakeRetries(): number {
    return this.handshakeRetryCount;
  }

  /** Swarms created and not yet destroyed. */
  get live(): number {
    return this.swarms.size;
  }

  /** Create a swarm of `agentCount` agents in `topology`, deployed, healthy and wired. */
  async createSwarm(
    topology: TopologyKind,
    agentCount: number,
    options: CreateSwarmOptions = {},
  ): Promise<Swarm> {
    const kind = parseTopology(topology);
    const perSandbox = options.agentsPerSandbox ?? 1;
    if (!Number.isInteger(perSandbox) || perSandbox < 1 || perSandbox > 64) {
      throw new InvalidInputError('agentsPerSandbox', 'a whole number from 1 to 64', perSandbox);
    }
    const limit = this.options.maxAgents ?? this.provider.maxConcurrent * perSandbox;
    if (!Number.isInteger(agentCount) || agentCount < 1 || agentCount > limit) {
      throw new InvalidInputError('agents', `a whole number from 1 to ${limit}`, agentCount);
    }
    const deploy = options.deploy ?? 'parallel';
    if (deploy !== 'parallel' && deploy !== 'sequential') {
      throw new InvalidInputError('deploy', 'parallel or sequential', deploy);
    }
    const strategies = options.strategies ?? STRATEGY_NAMES;
    if (strategies.length === 0)
      throw new InvalidInputError('strategies', 'at least one strategy name', strategies);
    const known = [...STRATEGY_NAMES, ...(options.pluginStrategies ?? [])];
    const unknownStrategy = strategies.find((name) => !isStrategyName(name) && !known.includes(name));
    if (unknownStrategy !== undefined) {
      throw new InvalidInputError('strategies', `names from ${known.join(', ')}`, unknownStrategy);
    }
    const graph = buildTopology(kind, agentCount, options.fanOut ?? DEFAULT_FAN_OUT);
    const quorum = options.quorum ?? defaultQuorum(agentCount);
    if (!Number.isInteger(quorum) || quorum < 1 || quorum > agentCount) {
      throw new InvalidInputError('quorum', `a whole number from 1 to ${agentCount}`, quorum);
    }

    const id = `swarm-${process.pid}-${++swarmCounter}-${randomBytes(3).toString('hex')}`;
    const secret = randomBytes(24).toString('base64url');
    const swarm = new Swarm(id, graph, quorum, secret, this.now, () => this.swarms.delete(swarm));
    swarm.sharedClock = this.provider.name === 'local';
    this.swarms.add(swarm);
    const start = this.now();
    try {
      const groups = chunk(
        Array.from({ length: agentCount }, (_, i) => i),
        perSandbox,
      );
      const pool = options.sandboxes ?? [];
      if (pool.length > 0 && pool.length < groups.length) {
        throw new InvalidInputError('sandboxes', `at least ${groups.length} pooled sandboxes`, pool.length);
      }
      const concurrency = deploy === 'sequential' ? 1 : Math.max(1, options.concurrency ?? 10);
      const timeoutMs = options.sandboxTimeoutMs ?? this.options.sandboxTimeoutMs ?? 300_000;
      let created = 0;
      const deployed = await mapLimit(groups, concurrency, async (members, g) => {
        const t0 = this.now();
        let sandbox = pool[g];
        if (!sandbox) {
          sandbox = await this.createSandbox(timeoutMs, { ...this.options.metadata, swarm: id });
          created++;
          swarm.ownSandbox(sandbox);
        } else {
          swarm.borrowSandbox(sandbox);
        }
        const agents: SwarmAgent[] = [];
        for (const index of members) {
          const agentId = `a${index}`;
          const endpoint = await sandbox.startAgent({ agentId, secret });
          const client = await AgentClient.connectRetrying(agentId, endpoint.url, secret, {
            attempts: endpoint.handshakeAttempts ?? 1,
            onRetry: () => {
              this.handshakeRetryCount++;
            },
          });
          swarm.adoptClient(client);
          await client.request({ op: 'health' });
          agents.push({
            index,
            id: agentId,
            endpoint,
            sandbox,
            client,
            strategy: strategies[index % strategies.length] as string,
            alive: true,
            deployMs: this.now() - t0,
          });
        }
        return agents;
      });
      const agents = deployed.flat().sort((a, b) => a.index - b.index);
      const deployMs = this.now() - start;
      swarm.setAgents(agents);
      await swarm.configure(options.market, options.decisionRule);
      swarm.timings = {
        initMs: this.now() - start,
        deployMs,
        perAgentDeployMs: agents.map((a) => a.deployMs),
        sandboxesCreated: created,
      };
      return swarm;
    } catch (error) {
      await swarm.destroy();
      if (error instanceof InvalidInputError || error instanceof SandboxStartError) throw error;
      throw new SandboxStartError(`swarm ${id}: ${(error as Error).message}`, { cause: error });
    }
  }

  /**
   * Create one sandbox, retrying failures and hangs with jittered backoff. A creation abandoned
   * after its timeout is killed if it completes later, so a slow provider cannot leak sandboxes.
   */
  createSandbox(timeoutMs: number, metadata: Record<string, string>): Promise<Sandbox> {
    const limitMs = this.options.createTimeoutMs ?? 60_000;
    return retry(
      async () => {
        this.options.admit?.();
        const pending = this.provider.create({ timeoutMs, metadata });
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            pending.then((late) => late.kill()).catch(() => {});
            reject(new TimeoutError(`sandbox creation took longer than ${limitMs} ms`));
          }, limitMs);
        });
        try {
          return await Promise.race([pending, timeout]);
        } finally {
          clearTimeout(timer);
        }
      },
      {
        attempts: 3,
        baseMs: 200,
        capMs: 5_000,
        isRetryable: retryableCreateError,
        onRetry: ({ attempt, delayMs, error }) =>
          this.options.onFault?.(
            `sandbox creation attempt ${attempt} failed (${(error as Error).name}: ${(error as Error).message}); retrying in ${delayMs} ms`,
          ),
        ...this.options.createRetry,
      },
    );
  }

  /** Destroy every live swarm (used on interrupts). */
  async destroyAll(): Promise<void> {
    await Promise.allSettled([...this.swarms].map((s) => s.destroy()));
  }
}

/**
 * The answers of agents asked at once: an agent crashed (swarm.crash) while the request was in
 * flight is left out, any other failure is rethrown.
 */
function survivors<T>(agents: SwarmAgent[], settled: PromiseSettledResult<T>[]): T[] {
  const out: T[] = [];
  for (const [i, outcome] of settled.entries()) {
    if (outcome.status === 'fulfilled') out.push(outcome.value);
    else if (agents[i]?.alive !== false) throw outcome.reason;
  }
  return out;
}

function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** A deployed, wired swarm. */
export class Swarm {
  agents: SwarmAgent[] = [];
  timings: SwarmTimings = { initMs: 0, deployMs: 0, perAgentDeployMs: [], sandboxesCreated: 0 };
  private readonly owned: Sandbox[] = [];
  private readonly borrowed: Sandbox[] = [];
  private readonly clients: AgentClient[] = [];
  private stateVersion = 0;
  private destroyed = false;

  constructor(
    readonly id: string,
    readonly topology: Topology,
    readonly quorum: number,
    private readonly secret: string,
    private readonly now: () => number,
    private readonly onDestroy: () => void,
  ) {}

  /** Whether every agent reads one monotonic clock (one host), so agents can time across processes. */
  sharedClock = false;

  /** @internal */
  ownSandbox(sandbox: Sandbox): void {
    this.owned.push(sandbox);
  }
  /** @internal */
  borrowSandbox(sandbox: Sandbox): void {
    this.borrowed.push(sandbox);
  }
  /**
   * Give up ownership of the sandboxes this swarm created: destroy() then only empties them, and
   * the caller (a sandbox pool) keeps them for reuse. Returns them.
   */
  disownSandboxes(): Sandbox[] {
    const given = this.owned.splice(0);
    this.borrowed.push(...given);
    return given;
  }
  /** @internal */
  adoptClient(client: AgentClient): void {
    this.clients.push(client);
  }
  /** @internal */
  setAgents(agents: SwarmAgent[]): void {
    this.agents = agents;
  }

  get size(): number {
    return this.agents.length;
  }

  /** Sandboxes this swarm created (and will kill) or borrowed (and will only empty). */
  get sandboxes(): Sandbox[] {
    return [...this.owned, ...this.borrowed];
  }

  /** Indices of agents still alive. */
  liveIndices(): number[] {
    return this.agents.filter((a) => a.alive).map((a) => a.index);
  }

  private agent(index: number): SwarmAgent {
    const agent = this.agents[index];
    if (!agent) throw new InvalidInputError('agent', `an index from 0 to ${this.agents.length - 1}`, index);
    return agent;
  }

  /** @internal Send each agent its place in the topology and wait until every link is up. */
  async configure(market?: CreateSwarmOptions['market'], decisionRule?: string): Promise<void> {
    await Promise.all(
      this.agents.map((agent) =>
        agent.client.request({
          op: 'configure',
          self: agent.index,
          // Agents packed in one sandbox reach each other on its loopback, not through the provider's edge.
          urls: this.agents.map((peer) =>
            peer.sandbox.id === agent.sandbox.id && peer.endpoint.localUrl !== undefined
              ? peer.endpoint.localUrl
              : peer.endpoint.url,
          ),
          topology: this.topology,
          quorum: this.quorum,
          strategy: agent.strategy,
          // Local sandboxes are processes on one host: they read one monotonic clock.
          sharedClock: this.sharedClock,
          ...(market ? { market } : {}),
          ...(decisionRule === undefined ? {} : { decisionRule }),
        }),
      ),
    );
  }

  /** Agent `from` measures round trips to agent `to` along the topology's route. */
  ping(from: number, to: number, options: { count?: number; warmup?: number; payloadBytes?: number } = {}) {
    return this.agent(from).client.request({
      op: 'ping',
      to,
      count: options.count ?? 1,
      warmup: options.warmup ?? 0,
      payloadBytes: options.payloadBytes ?? 0,
    }) as Promise<PingResult>;
  }

  /** Route one message from `from` to `to` and back; returns the hops and path it travelled. */
  async route(
    from: number,
    to: number,
    payloadBytes = 0,
  ): Promise<{ hops: number; path: number[]; rttMs: number }> {
    const result = await this.ping(from, to, { count: 1, payloadBytes });
    return { hops: result.hops, path: result.path, rttMs: (result.samplesUs[0] ?? 0) / 1000 };
  }

  /**
   * The root proposes a trade on `subject` (a window, or the index of a bar of the swarm's market
   * feed); resolves when a quorum of agents holds the decision.
   */
  consensus(
    subject: Bar[] | number,
    options: { quorum?: number; timeoutMs?: number; proposer?: number } = {},
  ) {
    const proposer = this.agent(options.proposer ?? this.topology.root);
    return proposer.client.request(
      {
        op: 'propose',
        ...(typeof subject === 'number' ? { at: subject } : { window: subject }),
        ...(options.quorum === undefined ? {} : { quorum: options.quorum }),
        timeoutMs: options.timeoutMs ?? 5_000,
      },
      (options.timeoutMs ?? 5_000) + 5_000,
    ) as Promise<ProposeResult>;
  }

  /** Propagate a new version of the shared state; resolves when every live agent acknowledged it. */
  syncState(state: unknown, options: { timeoutMs?: number } = {}): Promise<SyncResult> {
    const root = this.agent(this.topology.root);
    this.stateVersion++;
    return root.client.request(
      {
        op: 'sync',
        version: this.stateVersion,
        state,
        expect: this.liveIndices(),
        timeoutMs: options.timeoutMs ?? 5_000,
      },
      (options.timeoutMs ?? 5_000) + 5_000,
    );
  }

  /** Broadcast a message from the root to every live agent (state-sync flood, acknowledged). */
  broadcast(message: unknown, options: { timeoutMs?: number } = {}): Promise<SyncResult> {
    return this.syncState({ broadcast: message }, options);
  }

  /**
   * Run a strategy on agent `index` and return its signal (the round trip is timed by the caller).
   * The window travels as Float64 columns in a binary frame (`wire` json: as JSON columns, for
   * comparison); encoding is part of the round trip.
   */
  execute(
    index: number,
    window: Bar[],
    strategy?: string,
    wire: WindowWire = 'binary',
  ): Promise<ExecuteResult> {
    return this.agent(index).client.request(
      { op: 'execute', window, ...(strategy === undefined ? {} : { strategy }) },
      undefined,
      wire,
    );
  }

  /**
   * Distribute tasks over live agents from one work queue: each agent holds at most `inflight`
   * tasks and pulls the next as soon as one finishes, so faster agents take more.
   */
  async distribute(
    windows: Bar[][],
    options: { inflight?: number; strategy?: string } = {},
  ): Promise<{ perAgent: number[]; latenciesMs: number[]; elapsedMs: number }> {
    const live = this.agents.filter((a) => a.alive);
    const perAgent = new Array(this.agents.length).fill(0);
    const latenciesMs: number[] = [];
    let next = 0;
    const start = this.now();
    const inflight = Math.max(1, options.inflight ?? 1);
    const lanes = live.flatMap((agent) => Array.from({ length: inflight }, () => agent));
    await Promise.all(
      lanes.map(async (agent) => {
        while (next < windows.length) {
          const window = windows[next++] as Bar[];
          const t0 = this.now();
          await agent.client.request({
            op: 'execute',
            window,
            ...(options.strategy === undefined ? {} : { strategy: options.strategy }),
          });
          latenciesMs.push(this.now() - t0);
          perAgent[agent.index]++;
        }
      }),
    );
    return { perAgent, latenciesMs, elapsedMs: this.now() - start };
  }

  /** Every live agent sends `count` messages to each neighbour; measures delivered messages/s. */
  async blast(
    count: number,
    payloadBytes = 16,
  ): Promise<{ messages: number; elapsedMs: number; perAgent: BlastResult[] }> {
    const live = this.agents.filter((a) => a.alive);
    const start = this.now();
    const perAgent = survivors(
      live,
      await Promise.allSettled(
        live.map((a) => a.client.request({ op: 'blast', count, payloadBytes }, 120_000)),
      ),
    );
    const elapsedMs = this.now() - start;
    return { messages: perAgent.reduce((sum, r) => sum + r.sent, 0), elapsedMs, perAgent };
  }

  /** Each live agent's own report of memory, CPU, bytes and messages. */
  async metrics(): Promise<AgentMetricsReport[]> {
    const live = this.agents.filter((a) => a.alive);
    return survivors(live, await Promise.allSettled(live.map((a) => a.client.request({ op: 'metrics' }))));
  }

  /** Fault injection: SIGKILL one agent's process (or its whole sandbox when the pid is unknown). */
  async crash(index: number): Promise<void> {
    const agent = this.agent(index);
    agent.alive = false;
    agent.client.close();
    if (agent.endpoint.pid !== undefined) {
      try {
        process.kill(agent.endpoint.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    } else {
      await agent.sandbox.kill();
    }
  }

  /** Close connections and kill every sandbox this swarm created; pooled ones are only emptied. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const client of this.clients) client.close();
    await Promise.allSettled([
      ...this.owned.map((s) => s.kill()),
      ...this.borrowed.map((s) => s.stopAgents()),
    ]);
    for (const agent of this.agents) agent.alive = false;
    this.onDestroy();
  }

  /** @internal The per-swarm secret (abuse tests need a wrong one, never this one in output). */
  get secretForTests(): string {
    return this.secret;
  }
}
