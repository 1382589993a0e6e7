/**
 * E2B sandboxes (Firecracker microVMs) through the `@e2b/code-interpreter` SDK. Every SDK call goes
 * through the narrow E2BSdk interface, so tests inject a recorded fake and the real Sandbox class
 * is only the default. The API key is held privately and scrubbed from every error message.
 */
import { createHash } from 'node:crypto';
import { Sandbox as E2BSandboxClass } from '@e2b/code-interpreter';
import {
  AGENT_ENV,
  AGENT_PROTOCOL_VERSION,
  type AgentReadyLine,
  E2B_AGENT_BASE_PORT,
  parseReadyLine,
} from '../agent/launch.ts';
import {
  InvalidInputError,
  ProviderUnavailableError,
  SandboxStartError,
  type SwarmBenchError,
  TimeoutError,
} from '../errors.ts';
import { E2B_PLANS, E2B_TIERS, type E2BTier, pacedCreationRate } from './e2b-plans.ts';
import type {
  AgentEndpoint,
  AgentLaunch,
  Sandbox,
  SandboxCreateOptions,
  SandboxMetrics,
  SandboxProvider,
} from './types.ts';

// Checked by the compiler: the real Sandbox class satisfies the narrow interface tests fake.
const REAL_SDK: E2BSdk = E2BSandboxClass;

/** Where the template bakes in the agent bundle, and where it is uploaded otherwise. */
export const E2B_AGENT_PATH = '/home/user/agent.js';
/** Name of the template built by scripts/build-e2b-template.ts. */
export const E2B_DEFAULT_TEMPLATE = 'swarm-bench-agent';
/** Agents per sandbox: each gets its own port above E2B_AGENT_BASE_PORT. */
const MAX_AGENTS_PER_SANDBOX = 100;
const STDERR_TAIL_BYTES = 4096;

/** A running command in an E2B sandbox (subset of the SDK's CommandHandle). */
export interface E2BCommandHandle {
  readonly pid: number;
  /** Write to the command's stdin (it was started with `stdin: true`). */
  sendStdin(data: string): Promise<void>;
  /** Settles when the command ends (rejects on a non-zero exit). */
  wait(): Promise<unknown>;
  kill(): Promise<boolean>;
}

/** One E2B sandbox instance (subset of the SDK's Sandbox). */
export interface E2BSandboxInstance {
  readonly sandboxId: string;
  readonly files: { write(path: string, data: string): Promise<unknown> };
  readonly commands: {
    run(
      cmd: string,
      opts: {
        background: true;
        stdin?: boolean;
        envs?: Record<string, string>;
        cwd?: string;
        timeoutMs?: number;
        onStdout?: (data: string) => void | Promise<void>;
        onStderr?: (data: string) => void | Promise<void>;
      },
    ): Promise<E2BCommandHandle>;
  };
  getHost(port: number): string;
  getMetrics(): Promise<Array<{ timestamp: Date; cpuUsedPct: number; memUsed: number }>>;
  kill(): Promise<boolean>;
  /** Reset the sandbox's timeout to `timeoutMs` from now (the SDK's instance setTimeout). */
  setTimeout?(timeoutMs: number): Promise<void>;
  /** The sandbox's start and end as E2B knows them (the SDK's instance getInfo). */
  getInfo?(): Promise<{ startedAt: Date }>;
}

/** What Sandbox.list yields per sandbox (subset of the SDK's SandboxInfo). */
export interface E2BSandboxSummary {
  sandboxId: string;
  metadata: Record<string, string>;
  startedAt: Date;
}

/**
 * Where the E2B API and sandboxes are, when not E2B's cloud (the local E2B of lib/e2b-local). The
 * SDK also reads E2B_API_URL, E2B_SANDBOX_URL and E2B_DOMAIN itself, so a process started with
 * those needs no option here.
 */
export interface E2BConnection {
  apiUrl?: string;
  sandboxUrl?: string;
  domain?: string;
}

/** The static side of the SDK's Sandbox class that swarm-bench uses: the only boundary tests fake. */
export interface E2BSdk {
  create(
    template: string,
    opts: { apiKey: string; timeoutMs: number; metadata: Record<string, string> } & E2BConnection,
  ): Promise<E2BSandboxInstance>;
  list(opts: { apiKey: string; query: { metadata: Record<string, string> } } & E2BConnection): {
    readonly hasNext: boolean;
    nextItems(): Promise<E2BSandboxSummary[]>;
  };
  kill(sandboxId: string, opts: { apiKey: string } & E2BConnection): Promise<boolean>;
  /** Reach a running sandbox by id from anywhere (another Lambda); extends its timeout to at least timeoutMs. */
  connect(
    sandboxId: string,
    opts: { apiKey: string; timeoutMs: number } & E2BConnection,
  ): Promise<E2BSandboxInstance>;
}

/** Options of the E2B provider. */
export interface E2BSandboxProviderOptions {
  /** E2B API key; the CLI reads it from E2B_API_KEY, Lambdas from Secrets Manager. */
  apiKey: string | undefined;
  /** Template name or id. @default 'swarm-bench-agent' */
  template?: string;
  /** True when the template already holds the bundle at /home/user/agent.js, so nothing is uploaded. @default false */
  templateHasBundle?: boolean;
  /**
   * Agent bundle source, uploaded to each sandbox unless templateHasBundle. Given with
   * templateHasBundle (may be empty then), it is only the reference the template's agent is checked against.
   */
  bundle: string;
  /** Resources the template allocates, for the cost model. @default { vcpu: 2, memoryMb: 512 } */
  resources?: { vcpu: number; memoryMb: number };
  /** Sandboxes alive at once. @default the tier's concurrency (20 on Hobby) */
  maxConcurrent?: number;
  /** E2B plan tier: its creation rate paces create(), its session maximum caps lifetimes. @default 'hobby' */
  tier?: E2BTier;
  /** Sandbox creations per second, when not the tier's (a team sharing its quota sets less). */
  creationRate?: number;
  /** How often a create answered 429 is tried again (with backoff) before it fails. @default 6 */
  rateLimitRetries?: number;
  /** sha256 (hex) every agent's ready line must report. @default the sha256 of `bundle` when it is not empty (uploaded or not) */
  expectedBundleSha256?: string;
  /** Where E2B is, when not E2B's cloud. @default the SDK's own (E2B_API_URL... or e2b.app) */
  connection?: E2BConnection;
  /** Wait used for pacing and backoff (tests make it record instead). @default setTimeout */
  sleep?: (ms: number) => Promise<void>;
  /** How long an agent may take to print its ready line. @default 30_000 */
  startTimeoutMs?: number;
  /** How long metrics() waits for E2B's first metrics sample (collected every few seconds). @default 10_000 */
  metricsWaitMs?: number;
  /** The SDK's Sandbox class. @default Sandbox from @e2b/code-interpreter */
  sdk?: E2BSdk;
  /** Tags added to every sandbox (e.g. {stack}), merged under the per-create metadata. */
  metadata?: Record<string, string>;
  /** Epoch-ms clock. @default Date.now */
  clock?: () => number;
}

/** Which sandboxes count as stale, for the reaper. */
export interface StaleQuery {
  /** Value of the `stack` metadata tag the sandboxes carry. */
  stack: string;
  /** Sandboxes started longer ago than this are stale. */
  maxAgeMs: number;
  /** Epoch ms. @default Date.now() */
  now?: number;
}

/** Creates E2B sandboxes and starts agents in them. */
/** WebSocket handshakes the coordinator may try per agent through E2B's edge. */
export const E2B_HANDSHAKE_ATTEMPTS = 3;

export class E2BSandboxProvider implements SandboxProvider {
  readonly name = 'e2b' as const;
  readonly maxConcurrent: number;
  /** The plan tier whose limits this provider keeps to. */
  readonly tier: E2BTier;
  /** Creations per second this provider paces itself to. */
  readonly creationRate: number;
  readonly resources: { vcpu: number; memoryMb: number };
  readonly #apiKey: string;
  readonly #sdk: E2BSdk;
  readonly #template: string;
  readonly #templateHasBundle: boolean;
  readonly #bundle: string;
  readonly #startTimeoutMs: number;
  readonly #metricsWaitMs: number;
  readonly #metadata: Record<string, string>;
  readonly #clock: () => number;
  readonly #live = new Set<E2BSandbox>();
  /** Creation time spent throttled, summed over the sandboxes created. */
  #throttledMs = 0;
  readonly #connection: E2BConnection;
  readonly #sessionMaxMs: number;
  readonly #creationIntervalMs: number;
  readonly #rateLimitRetries: number;
  readonly #expectedBundleSha256: string | undefined;
  readonly #sleep: (ms: number) => Promise<void>;
  /** Earliest time the next creation may be sent (pacing to the plan's creation rate). */
  #nextCreationAt = 0;
  /** When the last creation was sent. */
  #lastSentAt = Number.NEGATIVE_INFINITY;
  readonly #throttle = { rateLimited: 0, pacedMs: 0, backoffMs: 0 };
  #pending = 0;
  #created = 0;
  #endedSeconds = 0;

  constructor(options: E2BSandboxProviderOptions) {
    this.#apiKey = requireApiKey(options?.apiKey);
    if (typeof options.bundle !== 'string') {
      throw new InvalidInputError('bundle', 'the agent bundle source as a string', typeof options.bundle);
    }
    this.#templateHasBundle = options.templateHasBundle ?? false;
    if (!this.#templateHasBundle && options.bundle.trim() === '') {
      throw new InvalidInputError('bundle', 'non-empty when the template does not bake in the agent');
    }
    this.#bundle = options.bundle;
    this.#template = options.template ?? E2B_DEFAULT_TEMPLATE;
    this.resources = { ...(options.resources ?? { vcpu: 2, memoryMb: 512 }) };
    if (!(this.resources.vcpu > 0 && this.resources.memoryMb > 0)) {
      throw new InvalidInputError('resources', 'positive vcpu and memoryMb', options.resources);
    }
    const tier = options.tier ?? 'hobby';
    if (!E2B_TIERS.includes(tier)) throw new InvalidInputError('e2bTier', E2B_TIERS.join(' or '), tier);
    const plan = E2B_PLANS[tier];
    this.tier = tier;
    this.maxConcurrent = positiveInt('maxConcurrent', options.maxConcurrent ?? plan.concurrentSandboxes);
    const rate = options.creationRate ?? plan.creationsPerSecond;
    if (!(typeof rate === 'number' && rate > 0 && rate <= 1000)) {
      throw new InvalidInputError(
        'e2bCreationRate',
        'sandbox creations per second, above 0 and at most 1000',
        rate,
      );
    }
    this.creationRate = rate;
    this.#creationIntervalMs = 1000 / pacedCreationRate(rate);
    this.#sessionMaxMs = plan.sessionMaxMs;
    this.#rateLimitRetries = options.rateLimitRetries ?? 6;
    this.#connection = { ...(options.connection ?? {}) };
    // With templateHasBundle and no bundle given, only the protocol version is checked.
    this.#expectedBundleSha256 =
      options.expectedBundleSha256 ??
      (options.bundle === '' ? undefined : createHash('sha256').update(options.bundle).digest('hex'));
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#startTimeoutMs = positiveInt('startTimeoutMs', options.startTimeoutMs ?? 30_000);
    this.#metricsWaitMs = options.metricsWaitMs ?? 10_000;
    this.#metadata = { ...(options.metadata ?? {}) };
    this.#sdk = options.sdk ?? REAL_SDK;
    this.#clock = options.clock ?? Date.now;
  }

  async create(options: SandboxCreateOptions): Promise<Sandbox> {
    const timeoutMs = positiveInt('timeoutMs', options?.timeoutMs);
    this.#assertLifetime(timeoutMs);
    this.#assertRoom();
    this.#pending++;
    let createdAt = this.#clock();
    let instance: E2BSandboxInstance | undefined;
    let throttledMs = 0;
    try {
      for (let attempt = 0; ; attempt++) {
        throttledMs += await this.#pace();
        // Billing starts when E2B boots the VM, which is at most the request time: count from here.
        createdAt = this.#clock();
        try {
          instance = await this.#sdk.create(this.#template, {
            apiKey: this.#apiKey,
            timeoutMs,
            metadata: { ...this.#metadata, ...(options.metadata ?? {}) },
            ...this.#connection,
          });
          break;
        } catch (error) {
          // 429 carries no Retry-After and the SDK does not retry it: back off and try again.
          if (errorName(error) !== 'RateLimitError' || attempt >= this.#rateLimitRetries) throw error;
          this.#throttle.rateLimited++;
          const backoffMs = Math.min(30_000, Math.max(this.#creationIntervalMs, 500) * 2 ** attempt);
          const jittered = backoffMs / 2 + Math.random() * (backoffMs / 2);
          this.#throttle.backoffMs += jittered;
          throttledMs += jittered;
          await this.#sleep(jittered);
        }
      }
      if (!this.#templateHasBundle) await instance.files.write(E2B_AGENT_PATH, this.#bundle);
    } catch (error) {
      if (instance !== undefined) await instance.kill().catch(() => undefined);
      throw this.mapError(error, 'create sandbox', SandboxStartError);
    } finally {
      this.#pending--;
    }
    const sandbox = new E2BSandbox(instance, createdAt, timeoutMs, this, createdAt, throttledMs);
    this.#live.add(sandbox);
    this.#created++;
    this.#throttledMs += throttledMs;
    return sandbox;
  }

  /**
   * Take over a sandbox another unit Lambda left idle in the run's pool: connect by id, then set
   * its timeout to exactly `timeoutMs` (connect alone only ever extends it). The agent bundle is
   * already in it.
   */
  async connect(sandboxId: string, options: { timeoutMs: number }): Promise<Sandbox> {
    const timeoutMs = positiveInt('timeoutMs', options?.timeoutMs);
    if (typeof sandboxId !== 'string' || !/^[A-Za-z0-9_-]{1,128}$/.test(sandboxId)) {
      throw new InvalidInputError('sandboxId', 'an E2B sandbox id', sandboxId);
    }
    this.#assertRoom();
    this.#pending++;
    const connectedAt = this.#clock();
    let instance: E2BSandboxInstance;
    try {
      instance = await this.#sdk.connect(sandboxId, { apiKey: this.#apiKey, timeoutMs, ...this.#connection });
    } catch (error) {
      throw this.mapError(error, `connect to sandbox ${sandboxId}`, SandboxStartError);
    } finally {
      this.#pending--;
    }
    // The session maximum counts from the sandbox's start, which only E2B knows.
    const startedAt = (await instance.getInfo?.().catch(() => undefined))?.startedAt?.getTime();
    const sandbox = new E2BSandbox(instance, connectedAt, timeoutMs, this, startedAt ?? connectedAt, 0);
    this.#live.add(sandbox);
    try {
      await sandbox.setLifetime(timeoutMs);
    } catch (error) {
      await sandbox.kill().catch(() => false);
      throw error;
    }
    return sandbox;
  }

  /** Let go of an idle sandbox without killing it; it ends at its timeout unless someone connects. */
  async detach(sandbox: Sandbox): Promise<void> {
    if (!(sandbox instanceof E2BSandbox) || !this.#live.has(sandbox)) {
      throw new InvalidInputError('sandbox', 'a live sandbox of this provider', sandbox?.id);
    }
    sandbox.detachNow();
    this.sandboxEnded(sandbox);
  }

  /**
   * Wait for this provider's turn to create, so creations leave at the plan's rate (E2B counts
   * them per team and answers 429 beyond it). Returns how long it waited.
   */
  async #pace(): Promise<number> {
    const interval = this.#creationIntervalMs;
    const start = this.#clock();
    const at = Math.max(start, this.#nextCreationAt);
    this.#nextCreationAt = at + interval;
    if (at > start) await this.#sleep(at - start);
    // A wait that ended late (a busy event loop) must not bring this creation nearer to the one
    // sent before it: the interval counts from when creations are really sent.
    // (Also when several waits end together: each looks again once the others were sent. A clock
    // that did not move across a wait, as in tests, ends the loop.)
    for (let now = this.#clock(); now < this.#lastSentAt + interval; ) {
      await this.#sleep(this.#lastSentAt + interval - now);
      const later = this.#clock();
      if (later <= now) break;
      now = later;
    }
    const sent = this.#clock();
    this.#lastSentAt = sent;
    this.#nextCreationAt = Math.max(this.#nextCreationAt, sent + interval);
    this.#throttle.pacedMs += sent - start;
    return sent - start;
  }

  /** Refuse a lifetime above the plan's session maximum before E2B answers 400. */
  #assertLifetime(timeoutMs: number): void {
    if (timeoutMs > this.#sessionMaxMs) {
      throw new InvalidInputError(
        'timeoutMs',
        `at most the ${this.tier} plan's session maximum of ${this.#sessionMaxMs / 3_600_000} h; ` +
          `shorten the run (fewer units per Lambda) or use --e2b-tier pro`,
        timeoutMs,
      );
    }
  }

  /** Creation throttling so far: 429s answered, time spent pacing and backing off. */
  throttle(): { rateLimited: number; pacedMs: number; backoffMs: number } {
    return { ...this.#throttle };
  }

  /** Refuse a sandbox beyond maxConcurrent without asking anyone. */
  #assertRoom(): void {
    if (this.#live.size + this.#pending >= this.maxConcurrent) {
      throw new SandboxStartError(
        `e2b provider: ${this.maxConcurrent} sandboxes already alive (maxConcurrent); kill some first`,
      );
    }
  }

  live(): Sandbox[] {
    for (const sandbox of this.#live) if (!sandbox.alive) this.sandboxEnded(sandbox);
    return [...this.#live];
  }

  usage(): { created: number; sandboxSeconds: number; throttledMs: number; rateLimited: number } {
    let liveSeconds = 0;
    for (const sandbox of this.#live) liveSeconds += sandbox.billedSeconds();
    return {
      created: this.#created,
      sandboxSeconds: this.#endedSeconds + liveSeconds,
      throttledMs: this.#throttledMs,
      rateLimited: this.#throttle.rateLimited,
    };
  }

  async killAll(): Promise<number> {
    const results = await Promise.all([...this.#live].map((sandbox) => sandbox.kill()));
    return results.filter(Boolean).length;
  }

  /** Sandboxes tagged with this stack that started more than maxAgeMs ago. */
  listStale(query: StaleQuery): Promise<E2BSandboxSummary[]> {
    return listStaleSandboxes({ apiKey: this.#apiKey, sdk: this.#sdk, connection: this.#connection }, query);
  }

  /** Kill stale sandboxes of this stack; returns the ids actually killed. */
  killStale(query: StaleQuery): Promise<string[]> {
    return killStaleSandboxes({ apiKey: this.#apiKey, sdk: this.#sdk, connection: this.#connection }, query);
  }

  /** @internal */
  get settings() {
    return {
      startTimeoutMs: this.#startTimeoutMs,
      metricsWaitMs: this.#metricsWaitMs,
      clock: this.#clock,
      sessionMaxMs: this.#sessionMaxMs,
      expectedBundleSha256: this.#expectedBundleSha256,
      template: this.#template,
    };
  }

  /** @internal */
  sandboxEnded(sandbox: E2BSandbox): void {
    if (!this.#live.delete(sandbox)) return;
    this.#endedSeconds += sandbox.billedSeconds();
  }

  /** @internal Text with the API key replaced by [redacted]. */
  redact(text: string): string {
    return scrub(text, this.#apiKey);
  }

  /** @internal Map an SDK error to ours, scrubbing the key. */
  mapError(
    error: unknown,
    action: string,
    fallback: new (message: string, options?: { cause?: unknown }) => SwarmBenchError,
  ): SwarmBenchError {
    return mapE2BError(error, action, this.#apiKey, fallback);
  }
}

/** One E2B sandbox and the agents started in it. */
class E2BSandbox implements Sandbox {
  readonly id: string;
  readonly provider = 'e2b' as const;
  readonly createdAt: number;
  readonly #instance: E2BSandboxInstance;
  /** When E2B ends the VM on its own (createdAt + timeoutMs, moved by setLifetime). */
  #expiresAt: number;
  readonly #owner: E2BSandboxProvider;
  readonly #agents = new Map<string, { handle: E2BCommandHandle; port: number }>();
  #nextIndex = 0;
  #endedAt: number | undefined;
  #killing: Promise<boolean> | undefined;
  /** When E2B started the VM: the session maximum counts from here. */
  readonly #startedAt: number;
  /** Time create() spent waiting for the plan's creation rate (pacing, 429 backoff). */
  readonly throttledMs: number;

  constructor(
    instance: E2BSandboxInstance,
    createdAt: number,
    timeoutMs: number,
    owner: E2BSandboxProvider,
    startedAt: number,
    throttledMs: number,
  ) {
    this.#instance = instance;
    this.id = instance.sandboxId;
    this.createdAt = createdAt;
    this.#owner = owner;
    this.#startedAt = startedAt;
    this.throttledMs = throttledMs;
    this.#expiresAt = Math.min(createdAt + timeoutMs, startedAt + owner.settings.sessionMaxMs);
  }

  get alive(): boolean {
    // E2B kills the VM itself at timeoutMs; no call is needed to know it is gone.
    return this.#killing === undefined && this.#owner.settings.clock() < this.#expiresAt;
  }

  /** Seconds billed so far: until kill, or until E2B's own timeout. */
  billedSeconds(): number {
    const end = Math.min(this.#endedAt ?? this.#owner.settings.clock(), this.#expiresAt);
    return Math.max(0, end - this.createdAt) / 1000;
  }

  async startAgent(launch: AgentLaunch): Promise<AgentEndpoint> {
    if (!this.alive) throw new SandboxStartError(`sandbox ${this.id} is no longer alive`);
    const agentId = launch?.agentId;
    if (typeof agentId !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(agentId)) {
      throw new InvalidInputError('agentId', '1-64 characters of A-Z a-z 0-9 _ . -', agentId);
    }
    if (typeof launch.secret !== 'string' || launch.secret === '') {
      throw new InvalidInputError('secret', 'a non-empty string');
    }
    if (this.#agents.has(agentId)) {
      throw new InvalidInputError('agentId', `unique within sandbox ${this.id}`, agentId);
    }
    if (this.#nextIndex >= MAX_AGENTS_PER_SANDBOX) {
      throw new SandboxStartError(`sandbox ${this.id} already ran ${MAX_AGENTS_PER_SANDBOX} agents`);
    }
    const { startTimeoutMs, clock } = this.#owner.settings;
    const port = E2B_AGENT_BASE_PORT + this.#nextIndex++;
    const remainingMs = Math.max(1, this.#expiresAt - clock());
    const lifetimeMs = launch.lifetimeMs ?? remainingMs;

    let stderrTail = '';
    let stdoutLine = '';
    let onReady: ((line: AgentReadyLine) => void) | undefined;
    const ready = new Promise<AgentReadyLine>((resolve) => {
      onReady = resolve;
    });
    let handle: E2BCommandHandle;
    try {
      handle = await this.#instance.commands.run(`node ${E2B_AGENT_PATH}`, {
        background: true,
        // The secret goes down the agent's stdin (below), never into its environment or a file:
        // sent while node boots, it costs no round trip of its own before the start.
        stdin: true,
        // Only agent variables: nothing of the coordinator's environment enters the sandbox.
        envs: {
          [AGENT_ENV.id]: agentId,
          [AGENT_ENV.secretFrom]: 'stdin',
          [AGENT_ENV.host]: '0.0.0.0',
          [AGENT_ENV.port]: String(port),
          [AGENT_ENV.lifetimeMs]: String(Math.round(lifetimeMs)),
          // envd holds stdin open whatever becomes of the coordinator: the VM's timeout is the parent watch.
          [AGENT_ENV.watchStdin]: '0',
        },
        cwd: '/home/user',
        // 0 disables the SDK's 60 s default, which would cut a long-running agent's stream.
        timeoutMs: 0,
        onStdout: (data) => {
          stdoutLine += data;
          let newline = stdoutLine.indexOf('\n');
          while (newline >= 0) {
            const line = parseReadyLine(stdoutLine.slice(0, newline).trim());
            stdoutLine = stdoutLine.slice(newline + 1);
            if (line !== undefined) onReady?.(line);
            newline = stdoutLine.indexOf('\n');
          }
          if (stdoutLine.length > 65_536) stdoutLine = '';
        },
        onStderr: (data) => {
          stderrTail = (stderrTail + data).slice(-STDERR_TAIL_BYTES);
        },
      });
    } catch (error) {
      throw this.#owner.mapError(error, `start agent ${agentId}`, SandboxStartError);
    }
    this.#agents.set(agentId, { handle, port });

    let timer: NodeJS.Timeout | undefined;
    const failure = new Promise<never>((_, reject) => {
      const fail = (why: string, cause?: unknown) => {
        // The agent never gets the key, but its output is not ours to trust: redact it anyway.
        const tail = this.#owner.redact(stderrTail.slice(-500).trim());
        reject(
          new SandboxStartError(
            `agent ${agentId} in sandbox ${this.id} ${why}${tail ? `; stderr: ${tail}` : ''}`,
            cause === undefined ? undefined : { cause },
          ),
        );
      };
      timer = setTimeout(() => fail(`printed no ready line within ${startTimeoutMs} ms`), startTimeoutMs);
      handle.wait().then(
        () => fail('exited before it was ready'),
        (error: unknown) => fail('exited before it was ready', error),
      );
    });
    failure.catch(() => undefined);
    try {
      await handle.sendStdin(`${launch.secret}\n`).catch((error: unknown) => {
        throw this.#owner.mapError(error, `send agent ${agentId} its secret`, SandboxStartError);
      });
      const line = await Promise.race([ready, failure]);
      this.#checkAgent(line);
      return {
        agentId,
        url: `wss://${this.#instance.getHost(line.port)}`,
        // Agents packed in this sandbox dial each other here, not through E2B's edge.
        localUrl: `ws://127.0.0.1:${line.port}`,
        sandboxId: this.id,
        // The coordinator reaches the agent through E2B's edge, which can be slow or answer 502
        // for a moment: a bounded retry (waiting 0.5 s, then 1 s) instead of a failed unit.
        handshakeAttempts: E2B_HANDSHAKE_ATTEMPTS,
        agent: {
          ...(line.protocol === undefined ? {} : { protocol: line.protocol }),
          ...(line.bundleSha256 === undefined ? {} : { bundleSha256: line.bundleSha256 }),
        },
      };
    } catch (error) {
      this.#agents.delete(agentId);
      await handle.kill().catch(() => false);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Fail fast when the agent in the sandbox is not the one this coordinator speaks to. */
  #checkAgent(line: AgentReadyLine): void {
    const { expectedBundleSha256, template } = this.#owner.settings;
    const fix =
      `rebuild the agent and the template (npm run build:agent && tsx scripts/build-e2b-template.ts --name ${template}), ` +
      'or run without templateHasBundle so the current bundle is uploaded';
    if (line.protocol !== AGENT_PROTOCOL_VERSION) {
      throw new InvalidInputError(
        'template',
        `an agent speaking protocol ${AGENT_PROTOCOL_VERSION} (${fix})`,
        `protocol ${line.protocol ?? 'unknown'} in sandbox ${this.id}`,
      );
    }
    if (expectedBundleSha256 !== undefined && line.bundleSha256 !== expectedBundleSha256) {
      throw new InvalidInputError(
        'template',
        `the agent bundle ${expectedBundleSha256.slice(0, 12)} (${fix})`,
        `bundle ${line.bundleSha256?.slice(0, 12) ?? 'unknown'} in sandbox ${this.id}`,
      );
    }
  }

  async stopAgents(): Promise<void> {
    const agents = [...this.#agents.values()];
    this.#agents.clear();
    await Promise.all(agents.map(({ handle }) => handle.kill().catch(() => false)));
    // The killed agents' ports are free again: a pooled sandbox reuses them for the next swarm.
    this.#nextIndex = 0;
  }

  async setLifetime(timeoutMs: number): Promise<void> {
    positiveInt('timeoutMs', timeoutMs);
    if (!this.alive) throw new SandboxStartError(`sandbox ${this.id} is no longer alive`);
    if (this.#instance.setTimeout === undefined) {
      throw new SandboxStartError(`sandbox ${this.id}: this E2B SDK cannot change a sandbox's timeout`);
    }
    try {
      await this.#instance.setTimeout(timeoutMs);
    } catch (error) {
      throw this.#owner.mapError(error, `set the timeout of sandbox ${this.id}`, ProviderUnavailableError);
    }
    // E2B caps the end at start + the plan's session maximum, silently: count what it will do.
    this.#expiresAt = Math.min(
      this.#owner.settings.clock() + timeoutMs,
      this.#startedAt + this.#owner.settings.sessionMaxMs,
    );
  }

  async metrics(): Promise<SandboxMetrics> {
    const { metricsWaitMs, clock } = this.#owner.settings;
    const deadline = clock() + metricsWaitMs;
    for (;;) {
      let samples: Awaited<ReturnType<E2BSandboxInstance['getMetrics']>>;
      try {
        samples = await this.#instance.getMetrics();
      } catch (error) {
        throw this.#owner.mapError(error, 'read sandbox metrics', ProviderUnavailableError);
      }
      const latest = samples.reduce<(typeof samples)[number] | undefined>(
        (best, sample) => (best === undefined || sample.timestamp > best.timestamp ? sample : best),
        undefined,
      );
      if (latest !== undefined) {
        return {
          rssBytes: latest.memUsed,
          cpuPercent: latest.cpuUsedPct,
          source: 'e2b',
          // The whole VM (envd and system included), never one agent's share.
          scope: 'sandbox',
          at: latest.timestamp.getTime(),
        };
      }
      if (clock() >= deadline) {
        throw new TimeoutError(`E2B reported no metrics for sandbox ${this.id} within ${metricsWaitMs} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  kill(): Promise<boolean> {
    if (this.#killing !== undefined) return this.#killing.then(() => false);
    this.#killing = this.#killNow();
    return this.#killing;
  }

  /** @internal For detach(): the handle stops billing and counts as ended; the VM keeps running. */
  detachNow(): void {
    if (!this.alive) throw new SandboxStartError(`sandbox ${this.id} is no longer alive`);
    if (this.#agents.size > 0) {
      throw new InvalidInputError('sandbox', `a sandbox without running agents (${this.id} has some)`);
    }
    this.#endedAt = this.#owner.settings.clock();
    this.#killing = Promise.resolve(false);
  }

  async #killNow(): Promise<boolean> {
    this.#endedAt = this.#owner.settings.clock();
    const expired = this.#endedAt >= this.#expiresAt;
    this.#agents.clear();
    try {
      const killed = await this.#instance.kill();
      return killed && !expired;
    } catch (error) {
      if (errorName(error) === 'SandboxNotFoundError') return false;
      throw this.#owner.mapError(error, `kill sandbox ${this.id}`, ProviderUnavailableError);
    } finally {
      this.#owner.sandboxEnded(this);
    }
  }
}

/** Sandboxes tagged {stack} that started more than maxAgeMs before now. */
export async function listStaleSandboxes(
  deps: { apiKey: string | undefined; sdk?: E2BSdk; connection?: E2BConnection },
  query: StaleQuery,
): Promise<E2BSandboxSummary[]> {
  const apiKey = requireApiKey(deps.apiKey);
  if (typeof query?.stack !== 'string' || query.stack === '') {
    throw new InvalidInputError('stack', 'a non-empty stack tag', query?.stack);
  }
  if (!(Number.isFinite(query.maxAgeMs) && query.maxAgeMs >= 0)) {
    throw new InvalidInputError('maxAgeMs', 'a non-negative number of milliseconds', query.maxAgeMs);
  }
  const sdk = deps.sdk ?? REAL_SDK;
  const cutoff = (query.now ?? Date.now()) - query.maxAgeMs;
  const stale: E2BSandboxSummary[] = [];
  try {
    const pages = sdk.list({
      apiKey,
      query: { metadata: { stack: query.stack } },
      ...(deps.connection ?? {}),
    });
    while (pages.hasNext) {
      for (const info of await pages.nextItems()) {
        // The query already filters by tag; checking again guards against a server ignoring it.
        if (info.metadata?.stack === query.stack && info.startedAt.getTime() <= cutoff) stale.push(info);
      }
    }
  } catch (error) {
    throw mapE2BError(error, 'list sandboxes', apiKey, ProviderUnavailableError);
  }
  return stale;
}

/** Kill the stale sandboxes of a stack; returns the ids that were killed (gone ones are skipped). */
export async function killStaleSandboxes(
  deps: { apiKey: string | undefined; sdk?: E2BSdk; connection?: E2BConnection },
  query: StaleQuery,
): Promise<string[]> {
  const stale = await listStaleSandboxes(deps, query);
  const apiKey = requireApiKey(deps.apiKey);
  const sdk = deps.sdk ?? REAL_SDK;
  const killed: string[] = [];
  for (const info of stale) {
    if (
      await killSandboxById(
        { apiKey, sdk, ...(deps.connection ? { connection: deps.connection } : {}) },
        info.sandboxId,
      )
    ) {
      killed.push(info.sandboxId);
    }
  }
  return killed;
}

/** Kill one sandbox by id (the SDK's static kill); false when it was already gone. */
export async function killSandboxById(
  deps: { apiKey: string | undefined; sdk?: E2BSdk; connection?: E2BConnection },
  sandboxId: string,
): Promise<boolean> {
  const apiKey = requireApiKey(deps.apiKey);
  try {
    return await (deps.sdk ?? REAL_SDK).kill(sandboxId, { apiKey, ...(deps.connection ?? {}) });
  } catch (error) {
    if (errorName(error) === 'SandboxNotFoundError') return false;
    throw mapE2BError(error, `kill sandbox ${sandboxId}`, apiKey, ProviderUnavailableError);
  }
}

/** Translate an E2B SDK error into ours, keeping it as `cause` and never echoing the API key. */
export function mapE2BError(
  error: unknown,
  action: string,
  apiKey: string,
  fallback: new (message: string, options?: { cause?: unknown }) => SwarmBenchError,
): SwarmBenchError {
  const name = errorName(error);
  const detail = scrub(error instanceof Error ? error.message : String(error), apiKey).slice(0, 300);
  const options = { cause: error };
  const status = (error as { statusCode?: unknown } | undefined)?.statusCode;
  // Configuration errors: another try cannot cure them, so they are not SandboxStartError (retried).
  if (status === 404 && /create sandbox/.test(action)) {
    return new InvalidInputError(
      'template',
      `a template your E2B team has (build it: tsx scripts/build-e2b-template.ts, or pass --template); E2B said: ${detail}`,
    );
  }
  if (status === 400) {
    return new InvalidInputError(
      'E2B request',
      `what the plan allows (a timeout within the session maximum: --e2b-tier); E2B said: ${detail}`,
    );
  }
  switch (name) {
    case 'AuthenticationError':
      return new ProviderUnavailableError(
        `E2B rejected the API key (check E2B_API_KEY) while trying to ${action}: ${detail}`,
        options,
      );
    case 'RateLimitError':
    case 'ServiceBusyError':
      return new SandboxStartError(
        `E2B is rate limiting or busy (429 after backing off); could not ${action}: lower --max-sandboxes or --e2b-creation-rate, or share the team's quota with fewer runs: ${detail}`,
        options,
      );
    case 'TimeoutError':
      return new TimeoutError(`E2B timed out while trying to ${action}: ${detail}`, options);
    case 'SandboxNotFoundError':
      return new SandboxStartError(`E2B sandbox not found (expired or killed); could not ${action}`, options);
    default:
      if (error instanceof TypeError && /fetch failed/i.test(error.message)) {
        return new ProviderUnavailableError(`E2B is unreachable; could not ${action}: ${detail}`, options);
      }
      return new fallback(`E2B: could not ${action}: ${name}: ${detail}`, options);
  }
}

function requireApiKey(apiKey: unknown): string {
  if (typeof apiKey !== 'string' || apiKey.trim() === '') {
    throw new ProviderUnavailableError(
      'the e2b provider needs an API key: set E2B_API_KEY (https://e2b.dev/dashboard), or use --provider local',
    );
  }
  return apiKey;
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'Error';
}

function scrub(text: string, secret: string): string {
  return secret.length >= 4 ? text.split(secret).join('[redacted]') : text;
}

function positiveInt(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new InvalidInputError(field, 'a positive integer', value);
  }
  return value;
}
