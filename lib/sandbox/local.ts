/**
 * Local sandboxes: each sandbox is a private temporary directory, each agent a child process in its
 * own process group, started with a scrubbed environment and a memory cap. This is the default
 * provider and the one the weekly report compares E2B against, so it kills as thoroughly as E2B
 * does: whole process groups, on kill(), on lifetime expiry and on parent exit.
 *
 * Signals: the provider installs no SIGINT/SIGTERM handlers (library code must not hijack them; the
 * CLI guards its run with lib/run/signals.ts, which calls killAll()). If the parent dies without running
 * any handler (SIGKILL, crash), agents still exit: they watch their stdin pipe, which the kernel
 * closes when the parent goes away.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { chmod, copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { AGENT_ENV, parseReadyLine } from '../agent/launch.ts';
import { InvalidInputError, SandboxStartError } from '../errors.ts';
import { readProcessCpuMs, readProcessRss, readProcessRssSync } from './proc.ts';
import { ownerRecordPath, removeOwnerRecord, removeOwnerRecordSync, writeOwnerRecord } from './sweep.ts';
import type {
  AgentEndpoint,
  AgentLaunch,
  Sandbox,
  SandboxCreateOptions,
  SandboxMetrics,
  SandboxProvider,
} from './types.ts';

const MIB = 1024 * 1024;
const STDERR_TAIL_BYTES = 4096;
const MAX_STDOUT_LINE_BYTES = 64 * 1024;
const AGENT_ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
const SANDBOX_ID_PATTERN = /^local-[0-9a-f]{12}$/;
/** Directory of a sandbox under the provider's root; its id names it, so connect() can find it. */
const SANDBOX_DIR_PREFIX = 'swarm-sandbox-';
/** Environment keys a caller may pass through from its own environment. */
const PASSTHROUGH_ENV_KEYS = ['PATH', 'LANG'] as const;

/** Options of the local provider. */
export interface LocalSandboxProviderOptions {
  /** The agent bundle (dist/agent.js), copied into every sandbox. */
  bundlePath: string;
  /** Node.js binary that runs agents. @default process.execPath */
  nodePath?: string;
  /** Memory cap per agent process: V8 old space and RSS (watchdog). @default 512 */
  memoryMb?: number;
  /** Nominal vCPUs per sandbox, for the cost model only (nothing pins CPUs). @default 2 */
  vcpu?: number;
  /** Sandboxes alive at once. @default 64 */
  maxConcurrent?: number;
  /** Where sandbox directories are made. @default os.tmpdir() */
  tmpRoot?: string;
  /**
   * How long an agent may take to print its ready line. 30 s, as on E2B: ten agents starting at
   * once on a 2-core machine at a load average of 10-16 took over 10 s, and a start that is slow
   * because the machine is busy is not a failed start. @default 30_000
   */
  startTimeoutMs?: number;
  /** Grace between SIGTERM and SIGKILL in stopAgents(). @default 2_000 */
  stopGraceMs?: number;
  /** RSS watchdog period. @default 1_000 */
  watchdogIntervalMs?: number;
  /** PATH and LANG to give agents (only these two keys are used); the CLI passes its own. @default PATH=/usr/local/bin:/usr/bin:/bin, LANG=C.UTF-8 */
  passthroughEnv?: Partial<Record<(typeof PASSTHROUGH_ENV_KEYS)[number], string | undefined>>;
  /** Told whenever an agent process ends, whatever the reason (crash detection for swarms). */
  onAgentExit?: (exit: AgentExit) => void;
  /** Epoch-ms clock. @default Date.now */
  clock?: () => number;
}

/** How an agent process ended. */
export interface AgentExit {
  sandboxId: string;
  agentId: string;
  pid: number;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the provider killed it on purpose: "memory cap ...", "stopped", "sandbox killed", "sandbox expired". */
  reason?: string;
}

/** State of one agent process as the local provider sees it. */
export interface LocalAgentState {
  agentId: string;
  pid: number;
  running: boolean;
  exit?: AgentExit;
}

interface ResolvedOptions {
  bundlePath: string;
  nodePath: string;
  tmpRoot: string | undefined;
  startTimeoutMs: number;
  stopGraceMs: number;
  watchdogIntervalMs: number;
  onAgentExit: ((exit: AgentExit) => void) | undefined;
  clock: () => number;
}

interface AgentProcess {
  agentId: string;
  pid: number;
  child: ChildProcess;
  running: boolean;
  exited: Promise<void>;
  reason?: string;
  exit?: AgentExit;
  stderrTail: string;
}

/** Runs sandboxes as private directories and agents as local process groups. */
export class LocalSandboxProvider implements SandboxProvider {
  readonly name = 'local' as const;
  readonly maxConcurrent: number;
  readonly resources: { vcpu: number; memoryMb: number };
  readonly #options: ResolvedOptions;
  readonly #baseEnv: Record<string, string>;
  readonly #live = new Set<LocalSandbox>();
  #pending = 0;
  #created = 0;
  #killedSeconds = 0;
  #watchdog: NodeJS.Timeout | undefined;
  readonly #onParentExit = (): void => this.#killAllSync();

  constructor(options: LocalSandboxProviderOptions) {
    if (typeof options?.bundlePath !== 'string' || options.bundlePath === '') {
      throw new InvalidInputError('bundlePath', 'path of the agent bundle', options?.bundlePath);
    }
    const memoryMb = positiveInt('memoryMb', options.memoryMb ?? 512);
    const vcpu = options.vcpu ?? 2;
    if (!(Number.isFinite(vcpu) && vcpu > 0)) throw new InvalidInputError('vcpu', 'a positive number', vcpu);
    this.maxConcurrent = positiveInt('maxConcurrent', options.maxConcurrent ?? 64);
    this.resources = { vcpu, memoryMb };
    this.#options = {
      bundlePath: options.bundlePath,
      nodePath: options.nodePath ?? process.execPath,
      tmpRoot: options.tmpRoot,
      startTimeoutMs: positiveInt('startTimeoutMs', options.startTimeoutMs ?? 30_000),
      stopGraceMs: nonNegativeInt('stopGraceMs', options.stopGraceMs ?? 2_000),
      watchdogIntervalMs: positiveInt('watchdogIntervalMs', options.watchdogIntervalMs ?? 1_000),
      onAgentExit: options.onAgentExit,
      clock: options.clock ?? Date.now,
    };
    const passthrough = options.passthroughEnv ?? {};
    this.#baseEnv = {
      PATH: passthrough.PATH || '/usr/local/bin:/usr/bin:/bin',
      LANG: passthrough.LANG || 'C.UTF-8',
    };
  }

  async create(options: SandboxCreateOptions): Promise<Sandbox> {
    const timeoutMs = positiveInt('timeoutMs', options?.timeoutMs);
    const metadata = stringRecord('metadata', options.metadata ?? {});
    this.#assertRoom();
    this.#pending++;
    let dir: string | undefined;
    try {
      const id = `local-${randomUUID().replaceAll('-', '').slice(0, 12)}`;
      // mkdir, not mkdtemp: the id names the directory, so a later connect(id) finds it. Exclusive:
      // it fails rather than reuse an existing directory.
      dir = this.#dirOf(id);
      // Who owns the directory, written before it exists: a later command removes the directory of
      // an owner that died without cleaning up (lib/sandbox/sweep.ts).
      await writeOwnerRecord(dir, id);
      await mkdir(dir, { mode: 0o700 });
      await chmod(dir, 0o700);
      const bundleInSandbox = join(dir, basename(this.#options.bundlePath));
      await copyFile(this.#options.bundlePath, bundleInSandbox);
      return this.#adopt(
        new LocalSandbox({
          id,
          dir,
          bundlePath: bundleInSandbox,
          metadata,
          timeoutMs,
          createdAt: this.#options.clock(),
          provider: this,
        }),
        true,
      );
    } catch (error) {
      if (dir !== undefined) {
        await rm(dir, { recursive: true, force: true }).catch(() => undefined);
        await rm(ownerRecordPath(dir), { force: true }).catch(() => undefined);
      }
      throw new SandboxStartError(`local sandbox could not be prepared: ${(error as Error).message}`, {
        cause: error,
      });
    } finally {
      this.#pending--;
    }
  }

  /**
   * Take over a sandbox another local provider detached (a unit of the local pipeline handing its
   * idle sandboxes to the next). Reads the record detach() left beside the directory; an expired
   * sandbox is removed and refused.
   */
  async connect(sandboxId: string, options: { timeoutMs: number }): Promise<Sandbox> {
    const timeoutMs = positiveInt('timeoutMs', options?.timeoutMs);
    if (typeof sandboxId !== 'string' || !SANDBOX_ID_PATTERN.test(sandboxId)) {
      throw new InvalidInputError('sandboxId', 'a local sandbox id like local-0123456789ab', sandboxId);
    }
    this.#assertRoom();
    const dir = this.#dirOf(sandboxId);
    let record: DetachedRecord;
    try {
      record = parseDetachedRecord(await readFile(`${dir}.json`, 'utf8'), sandboxId);
    } catch (error) {
      throw new SandboxStartError(`local sandbox ${sandboxId} cannot be connected: it is gone`, {
        cause: error,
      });
    }
    // Claimed once: the record goes, so a second connect to the same sandbox fails.
    await writeOwnerRecord(dir, sandboxId);
    await rm(`${dir}.json`, { force: true });
    const now = this.#options.clock();
    if (record.expiresAt <= now) {
      await rm(dir, { recursive: true, force: true });
      await removeOwnerRecord(dir);
      throw new SandboxStartError(`local sandbox ${sandboxId} expired before it was connected`);
    }
    return this.#adopt(
      new LocalSandbox({
        id: sandboxId,
        dir,
        bundlePath: join(dir, basename(this.#options.bundlePath)),
        metadata: record.metadata,
        timeoutMs,
        createdAt: now,
        provider: this,
      }),
      false,
    );
  }

  /**
   * Stop tracking an idle sandbox and leave a record (lifetime end, tags) beside its directory,
   * outside what agents can write, for connect().
   */
  async detach(sandbox: Sandbox): Promise<void> {
    if (!(sandbox instanceof LocalSandbox) || !this.#live.has(sandbox)) {
      throw new InvalidInputError('sandbox', 'a live sandbox of this provider', sandbox?.id);
    }
    const record: DetachedRecord = {
      id: sandbox.id,
      metadata: { ...sandbox.metadata },
      expiresAt: sandbox.detachNow(),
    };
    this.sandboxEnded(sandbox, this.#options.clock());
    await writeFile(`${sandbox.dir}.json`, JSON.stringify(record), { mode: 0o600 });
    // From here its lifetime, not this process, decides when it may be swept.
    await removeOwnerRecord(sandbox.dir);
  }

  #dirOf(sandboxId: string): string {
    return join(this.#options.tmpRoot ?? tmpdir(), `${SANDBOX_DIR_PREFIX}${sandboxId}`);
  }

  #adopt(sandbox: LocalSandbox, created: boolean): LocalSandbox {
    this.#live.add(sandbox);
    if (created) this.#created++;
    this.#updateHooks();
    return sandbox;
  }

  /** Refuse a sandbox beyond maxConcurrent without asking anyone. */
  #assertRoom(): void {
    if (this.#live.size + this.#pending >= this.maxConcurrent) {
      throw new SandboxStartError(
        `local provider: ${this.maxConcurrent} sandboxes already alive (maxConcurrent); kill some first`,
      );
    }
  }

  live(): Sandbox[] {
    return [...this.#live];
  }

  usage(): { created: number; sandboxSeconds: number } {
    const now = this.#options.clock();
    let liveSeconds = 0;
    for (const sandbox of this.#live) liveSeconds += Math.max(0, now - sandbox.createdAt) / 1000;
    return { created: this.#created, sandboxSeconds: this.#killedSeconds + liveSeconds };
  }

  async killAll(): Promise<number> {
    const results = await Promise.all([...this.#live].map((sandbox) => sandbox.kill()));
    return results.filter(Boolean).length;
  }

  /** @internal Settings shared with the sandboxes this provider made. */
  get settings() {
    return { ...this.#options, memoryMb: this.resources.memoryMb, baseEnv: this.#baseEnv };
  }

  /** @internal Called by a sandbox once it is dead. */
  sandboxEnded(sandbox: LocalSandbox, endedAt: number): void {
    if (!this.#live.delete(sandbox)) return;
    this.#killedSeconds += Math.max(0, endedAt - sandbox.createdAt) / 1000;
    this.#updateHooks();
  }

  // The watchdog and the exit listener exist only while sandboxes are alive, so an idle provider
  // neither keeps timers nor leaves listeners on the process.
  #updateHooks(): void {
    if (this.#live.size > 0 && this.#watchdog === undefined) {
      this.#watchdog = setInterval(() => this.#enforceMemoryCap(), this.#options.watchdogIntervalMs);
      this.#watchdog.unref();
      process.on('exit', this.#onParentExit);
    } else if (this.#live.size === 0 && this.#watchdog !== undefined) {
      clearInterval(this.#watchdog);
      this.#watchdog = undefined;
      process.off('exit', this.#onParentExit);
    }
  }

  #enforceMemoryCap(): void {
    const capBytes = this.resources.memoryMb * MIB;
    for (const sandbox of this.#live) {
      for (const agent of sandbox.runningAgents()) {
        const rss = readProcessRssSync(agent.pid);
        if (rss !== undefined && rss > capBytes) {
          sandbox.killAgent(
            agent,
            `memory cap: rss ${(rss / MIB).toFixed(0)} MB exceeded ${this.resources.memoryMb} MB`,
          );
        }
      }
    }
  }

  #killAllSync(): void {
    for (const sandbox of this.#live) sandbox.killSync();
  }

  /** SIGKILL every agent's process group and remove the sandbox directories, synchronously. */
  killAllSync(): void {
    this.#killAllSync();
  }
}

/** What detach() leaves beside a sandbox's directory for connect(). */
interface DetachedRecord {
  id: string;
  metadata: Record<string, string>;
  /** Epoch ms after which nobody may connect to it. */
  expiresAt: number;
}

function parseDetachedRecord(text: string, sandboxId: string): DetachedRecord {
  const value = JSON.parse(text) as Partial<DetachedRecord>;
  if (value?.id !== sandboxId || typeof value.expiresAt !== 'number') {
    throw new Error(`the record of ${sandboxId} is damaged`);
  }
  return {
    id: sandboxId,
    metadata: stringRecord('metadata', value.metadata ?? {}),
    expiresAt: value.expiresAt,
  };
}

interface LocalSandboxInit {
  id: string;
  dir: string;
  bundlePath: string;
  metadata: Record<string, string>;
  timeoutMs: number;
  createdAt: number;
  provider: LocalSandboxProvider;
}

/** One local sandbox: a private directory holding the bundle, and the agent processes started in it. */
export class LocalSandbox implements Sandbox {
  readonly id: string;
  readonly provider = 'local' as const;
  readonly createdAt: number;
  /** Private working directory (mode 0700); agents' cwd, HOME and TMPDIR. */
  readonly dir: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly #bundlePath: string;
  readonly #owner: LocalSandboxProvider;
  readonly #agents = new Map<string, AgentProcess>();
  #lifetimeTimer: NodeJS.Timeout;
  /** Epoch ms at which the sandbox kills itself (createdAt + timeoutMs, moved by setLifetime). */
  #expiresAt: number;
  #killing: Promise<boolean> | undefined;
  #endReason = 'sandbox killed';

  constructor(init: LocalSandboxInit) {
    this.id = init.id;
    this.dir = init.dir;
    this.#bundlePath = init.bundlePath;
    this.metadata = Object.freeze({ ...init.metadata });
    this.timeoutMs = init.timeoutMs;
    this.createdAt = init.createdAt;
    this.#owner = init.provider;
    this.#expiresAt = init.createdAt + init.timeoutMs;
    this.#lifetimeTimer = this.#armLifetime(init.timeoutMs);
  }

  #armLifetime(timeoutMs: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.#endReason = 'sandbox expired';
      void this.kill();
    }, timeoutMs);
    timer.unref();
    return timer;
  }

  async setLifetime(timeoutMs: number): Promise<void> {
    positiveInt('timeoutMs', timeoutMs);
    if (!this.alive) throw new SandboxStartError(`sandbox ${this.id} is no longer alive`);
    clearTimeout(this.#lifetimeTimer);
    this.#expiresAt = this.#owner.settings.clock() + timeoutMs;
    this.#lifetimeTimer = this.#armLifetime(timeoutMs);
  }

  get alive(): boolean {
    return this.#killing === undefined;
  }

  async startAgent(launch: AgentLaunch): Promise<AgentEndpoint> {
    if (!this.alive) throw new SandboxStartError(`sandbox ${this.id} is no longer alive`);
    const agentId = launch?.agentId;
    if (typeof agentId !== 'string' || !AGENT_ID_PATTERN.test(agentId)) {
      throw new InvalidInputError('agentId', '1-64 characters of A-Z a-z 0-9 _ . -', agentId);
    }
    if (typeof launch.secret !== 'string' || launch.secret === '') {
      throw new InvalidInputError('secret', 'a non-empty string');
    }
    if (this.#agents.get(agentId)?.running) {
      throw new InvalidInputError('agentId', `unique among running agents of sandbox ${this.id}`, agentId);
    }
    const settings = this.#owner.settings;
    const remainingMs = Math.max(1, this.#expiresAt - settings.clock());
    const lifetimeMs =
      launch.lifetimeMs === undefined ? remainingMs : positiveInt('lifetimeMs', launch.lifetimeMs);

    const env: Record<string, string> = {
      ...settings.baseEnv,
      HOME: this.dir,
      TMPDIR: this.dir,
      [AGENT_ENV.id]: agentId,
      // The secret goes down the stdin pipe, never into the environment (readable in /proc).
      [AGENT_ENV.secretFrom]: 'stdin',
      [AGENT_ENV.host]: '127.0.0.1',
      [AGENT_ENV.port]: '0',
      [AGENT_ENV.lifetimeMs]: String(Math.round(lifetimeMs)),
      [AGENT_ENV.watchStdin]: '1',
    };
    const child = spawn(settings.nodePath, [`--max-old-space-size=${settings.memoryMb}`, this.#bundlePath], {
      cwd: this.dir,
      detached: true,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const agent = this.#track(agentId, child);
    child.stdin?.write(`${launch.secret}\n`);
    try {
      const port = await this.#waitReady(agent, settings.startTimeoutMs);
      return { agentId, url: `ws://127.0.0.1:${port}`, pid: agent.pid, sandboxId: this.id };
    } catch (error) {
      this.killAgent(agent, 'failed to start');
      await agent.exited;
      throw error;
    }
  }

  async stopAgents(): Promise<void> {
    const grace = this.#owner.settings.stopGraceMs;
    await Promise.all(
      [...this.runningAgents()].map(async (agent) => {
        agent.reason ??= 'stopped';
        signalGroup(agent.pid, 'SIGTERM');
        if (!(await settlesWithin(agent.exited, grace))) signalGroup(agent.pid, 'SIGKILL');
        await agent.exited;
        // The leader may have exited on SIGTERM while a child of it lingers in the group.
        signalGroup(agent.pid, 'SIGKILL');
      }),
    );
  }

  async metrics(): Promise<SandboxMetrics> {
    let rssBytes = 0;
    let cpuMs = 0;
    for (const agent of this.runningAgents()) {
      const [rss, cpu] = await Promise.all([readProcessRss(agent.pid), readProcessCpuMs(agent.pid)]);
      rssBytes += rss ?? 0;
      cpuMs += cpu ?? 0;
    }
    return { rssBytes, cpuMs, source: 'proc', at: this.#owner.settings.clock() };
  }

  async agentMetrics(agentId: string): Promise<SandboxMetrics | undefined> {
    const agent = this.#agents.get(agentId);
    if (agent === undefined || !agent.running) return undefined;
    const [rss, cpu] = await Promise.all([readProcessRss(agent.pid), readProcessCpuMs(agent.pid)]);
    if (rss === undefined || cpu === undefined) return undefined;
    return { rssBytes: rss, cpuMs: cpu, source: 'proc', at: this.#owner.settings.clock() };
  }

  /** What became of an agent started in this sandbox (running, or how it ended). */
  agentState(agentId: string): LocalAgentState | undefined {
    const agent = this.#agents.get(agentId);
    if (agent === undefined) return undefined;
    return {
      agentId,
      pid: agent.pid,
      running: agent.running,
      ...(agent.exit === undefined ? {} : { exit: agent.exit }),
    };
  }

  kill(): Promise<boolean> {
    if (this.#killing !== undefined) return this.#killing.then(() => false);
    this.#killing = this.#killNow();
    return this.#killing;
  }

  /**
   * @internal For detach(): stop the lifetime timer and let go of the handle without touching the
   * directory; returns when the sandbox was due to end. The handle is dead afterwards.
   */
  detachNow(): number {
    if (!this.alive) throw new SandboxStartError(`sandbox ${this.id} is no longer alive`);
    if ([...this.runningAgents()].length > 0) {
      throw new InvalidInputError('sandbox', `a sandbox without running agents (${this.id} has some)`);
    }
    clearTimeout(this.#lifetimeTimer);
    this.#killing = Promise.resolve(false);
    return this.#expiresAt;
  }

  /** @internal Agents whose process has not exited yet. */
  *runningAgents(): Iterable<AgentProcess> {
    for (const agent of this.#agents.values()) if (agent.running) yield agent;
  }

  /** @internal SIGKILL one agent's process group, recording why. */
  killAgent(agent: AgentProcess, reason: string): void {
    agent.reason ??= reason;
    signalGroup(agent.pid, 'SIGKILL');
  }

  /** @internal Synchronous kill for the parent's 'exit' event, where no promise will ever settle. */
  killSync(): void {
    clearTimeout(this.#lifetimeTimer);
    for (const agent of this.#agents.values()) signalGroup(agent.pid, 'SIGKILL');
    try {
      rmSync(this.dir, { recursive: true, force: true });
      removeOwnerRecordSync(this.dir);
    } catch {
      // the process is exiting; nothing useful can be done
    }
  }

  async #killNow(): Promise<boolean> {
    clearTimeout(this.#lifetimeTimer);
    const agents = [...this.#agents.values()];
    for (const agent of agents) this.killAgent(agent, this.#endReason);
    await Promise.all(agents.map((agent) => agent.exited));
    await rm(this.dir, { recursive: true, force: true });
    await removeOwnerRecord(this.dir);
    this.#owner.sandboxEnded(this, this.#owner.settings.clock());
    return true;
  }

  #track(agentId: string, child: ChildProcess): AgentProcess {
    let resolveExited!: () => void;
    const exited = new Promise<void>((resolve) => {
      resolveExited = resolve;
    });
    const agent: AgentProcess = {
      agentId,
      pid: child.pid ?? -1,
      child,
      running: child.pid !== undefined,
      exited,
      stderrTail: '',
    };
    if (child.pid === undefined) {
      // spawn failed synchronously-ish (ENOENT...): 'error' follows, 'exit' may not.
      child.once('error', () => resolveExited());
    } else {
      this.#agents.set(agentId, agent);
    }
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      agent.stderrTail = (agent.stderrTail + chunk).slice(-STDERR_TAIL_BYTES);
    });
    // Writes to a dead agent's stdin would otherwise surface as unhandled EPIPE errors.
    child.stdin?.on('error', () => undefined);
    child.once('exit', (exitCode, signal) => {
      agent.running = false;
      agent.exit = {
        sandboxId: this.id,
        agentId,
        pid: agent.pid,
        exitCode,
        signal,
        ...(agent.reason === undefined ? {} : { reason: agent.reason }),
      };
      resolveExited();
      try {
        this.#owner.settings.onAgentExit?.(agent.exit);
      } catch {
        // a listener's failure must not break process bookkeeping
      }
    });
    return agent;
  }

  #waitReady(agent: AgentProcess, startTimeoutMs: number): Promise<number> {
    const { child } = agent;
    return new Promise<number>((resolve, reject) => {
      let line = '';
      let ready = false;
      const fail = (why: string, cause?: unknown) => {
        if (ready) return;
        ready = true;
        clearTimeout(timer);
        const tail = agent.stderrTail.slice(-500).trim();
        reject(
          new SandboxStartError(
            `agent ${agent.agentId} in sandbox ${this.id} ${why}${tail ? `; stderr: ${tail}` : ''}`,
            cause === undefined ? undefined : { cause },
          ),
        );
      };
      const timer = setTimeout(
        () => fail(`printed no ready line within ${startTimeoutMs} ms`),
        startTimeoutMs,
      );
      child.once('error', (error) => fail(`could not be spawned: ${error.message}`, error));
      child.once('exit', (code, signal) => {
        // Let the last stderr chunk arrive before quoting it.
        setImmediate(() => fail(`exited before it was ready (code ${code}, signal ${signal})`));
      });
      child.stdout?.setEncoding('utf8');
      // Keep reading stdout after the ready line too, so a chatty agent never blocks on a full pipe.
      child.stdout?.on('data', (chunk: string) => {
        if (ready) return;
        line += chunk;
        let newline = line.indexOf('\n');
        while (newline >= 0) {
          const ready_ = parseReadyLine(line.slice(0, newline).trim());
          line = line.slice(newline + 1);
          if (ready_ !== undefined) {
            ready = true;
            clearTimeout(timer);
            resolve(ready_.port);
            return;
          }
          newline = line.indexOf('\n');
        }
        if (line.length > MAX_STDOUT_LINE_BYTES) line = '';
      });
    });
  }
}

/** Signal a whole process group; a group that is already gone is not an error. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  if (pid <= 0) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: nothing left in the group
  }
}

async function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function positiveInt(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new InvalidInputError(field, 'a positive integer', value);
  }
  return value;
}

function nonNegativeInt(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new InvalidInputError(field, 'a non-negative integer', value);
  }
  return value;
}

function stringRecord(field: string, value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidInputError(field, 'an object of string values', value);
  }
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry !== 'string') throw new InvalidInputError(`${field}.${key}`, 'a string', entry);
  }
  return value as Record<string, string>;
}
