/** Which kind of sandbox runs the agents. */
export type ProviderName = 'local' | 'e2b';

/** What a sandbox is asked for when created. */
export interface SandboxCreateOptions {
  /** Lifetime after which the sandbox kills itself even if nobody calls kill(), like E2B's timeoutMs. */
  timeoutMs: number;
  /** Tags carried by the sandbox (E2B metadata; local: kept on the handle). stack/run/swarm ids. */
  metadata: Record<string, string>;
}

/** How to start one agent process inside a sandbox. */
export interface AgentLaunch {
  /** Unique within the swarm, e.g. "a3". */
  agentId: string;
  /** Per-swarm shared secret every connection to the agent must present. */
  secret: string;
  /** Agent lifetime; the agent exits on its own after it (defaults to the sandbox timeout). */
  lifetimeMs?: number;
}

/** A running agent as the coordinator reaches it. */
export interface AgentEndpoint {
  agentId: string;
  /** ws:// (local) or wss:// (E2B) address of the agent's WebSocket server. */
  url: string;
  /** Address other agents in the same sandbox use (E2B: localhost, not the public edge). */
  localUrl?: string;
  /** OS process id where the provider knows it (local). */
  pid?: number;
  /** The sandbox the agent runs in. */
  sandboxId: string;
  /** What the agent said it is in its ready line (E2B: tells a stale template from the current bundle). */
  agent?: { protocol?: number; bundleSha256?: string };
  /**
   * How many times the coordinator may try the WebSocket handshake (default 1). E2B sets more: its
   * edge can answer 502 while a new sandbox's port is being routed, or be slow, and a retry helps.
   */
  handshakeAttempts?: number;
}

/** Resource figures for a whole sandbox, from the OS (/proc) or the provider's metrics API. */
export interface SandboxMetrics {
  /** Resident set size of everything running in the sandbox, bytes. */
  rssBytes: number;
  /** CPU time consumed so far (user + system), milliseconds. Local only; E2B reports a percentage. */
  cpuMs?: number;
  /** CPU use over the provider's last sampling window, as a percentage of all the sandbox's vCPUs together (E2B). */
  cpuPercent?: number;
  /** Where the figures came from. */
  source: 'proc' | 'e2b';
  /** What they cover: the whole sandbox (E2B: the VM, system included) or one process. Never divide a sandbox figure among agents. */
  scope?: 'sandbox' | 'process';
  /** When they were read (epoch ms). */
  at: number;
}

/** One isolated sandbox: start agents in it, measure it, kill it. */
export interface Sandbox {
  readonly id: string;
  readonly provider: ProviderName;
  /**
   * Epoch ms from which this handle counts billed seconds (to kill or detach): the creation, or
   * the moment it was connected, for a sandbox adopted from the run's shared pool.
   */
  readonly createdAt: number;
  /** False once killed or expired. */
  readonly alive: boolean;
  /** Time create() spent waiting for the provider's creation rate limit (E2B pacing and 429 backoff), ms. */
  readonly throttledMs?: number;
  /** Start one agent process (several may share a sandbox) and wait until it answers. */
  startAgent(launch: AgentLaunch): Promise<AgentEndpoint>;
  /** Stop every agent process in the sandbox but keep the sandbox (for pooling). */
  stopAgents(): Promise<void>;
  /**
   * Set the sandbox to end `timeoutMs` from now (E2B's setTimeout), so a pooled sandbox lives as
   * long as the unit that uses it needs, and no longer, if the coordinator dies.
   */
  setLifetime?(timeoutMs: number): Promise<void>;
  /** Current resource use of the sandbox. */
  metrics(): Promise<SandboxMetrics>;
  /** Per-agent-process RSS/CPU where the provider can see processes (local). */
  agentMetrics?(agentId: string): Promise<SandboxMetrics | undefined>;
  /** Kill the sandbox and everything in it. Idempotent: resolves true only if it killed something. */
  kill(): Promise<boolean>;
}

/** Creates sandboxes of one kind and keeps account of them. */
export interface SandboxProvider {
  readonly name: ProviderName;
  /** How many sandboxes may be alive at once (E2B plan limit; local: what the machine bears). */
  readonly maxConcurrent: number;
  /** Allocated resources per sandbox, the basis of the cost model. */
  readonly resources: { vcpu: number; memoryMb: number };
  create(options: SandboxCreateOptions): Promise<Sandbox>;
  /** Sandboxes created by this provider that are still alive. */
  live(): Sandbox[];
  /** Totals since the provider was made: sandboxes created and billed sandbox-seconds of killed ones. */
  usage(): {
    created: number;
    sandboxSeconds: number;
    /** E2B: creation time spent waiting for the plan's rate (pacing, 429 backoff), summed. */
    throttledMs?: number;
    /** E2B: creations answered 429 and retried. */
    rateLimited?: number;
  };
  /** Kill every sandbox this provider created. Returns how many were killed. */
  killAll(): Promise<number>;
  /**
   * Kill every agent now, synchronously, for a process about to exit (local: SIGKILL to each
   * agent's process group). Providers whose sandboxes are remote have none.
   */
  killAllSync?(): void;
  /**
   * Take over an idle sandbox another provider instance (another unit Lambda) created and
   * detached, so a run's pool outlives any one unit. It lives `timeoutMs` from now; its seconds
   * count in this provider's usage from now, and it does not count as created. Rejects with
   * SandboxStartError when the sandbox is gone or expired.
   */
  connect?(sandboxId: string, options: { timeoutMs: number }): Promise<Sandbox>;
  /**
   * Stop tracking a sandbox without killing it (its agents must be stopped first): it keeps
   * running until its lifetime ends or someone connects to it and kills it. Its seconds so far
   * stay in this provider's usage; killAll() no longer touches it.
   */
  detach?(sandbox: Sandbox): Promise<void>;
}
