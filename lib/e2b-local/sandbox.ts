/**
 * One local sandbox: a directory that is its /home and /tmp, a network namespace, and the processes
 * envd started in it. Processes run through `ip netns exec` (which also gives them a private mount
 * namespace) so the sandbox directory is bound over /home and /tmp, as a VM has its own disk.
 * Everything in the namespace belongs to the sandbox: metrics sum it, kill ends it.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import { promisify } from 'node:util';
import { clockTicksPerSecond, type ProcStat, parseProcStat, parseStatmRssBytes } from '../sandbox/proc.ts';
import type { SandboxNetwork } from './netns.ts';

const run = promisify(execFile);

/** Binds the sandbox directory over /home and /tmp, then runs the command in `cwd`. */
const MOUNT_AND_RUN =
  'mount --bind "$1/home" /home && mount --bind "$1/tmp" /tmp && cd "$2" 2>/dev/null || cd /home/user; shift 2; exec "$@"';

/** One metrics sample, as GET /sandboxes/{id}/metrics returns it. */
export interface MetricsSample {
  timestamp: string;
  timestampUnix: number;
  cpuCount: number;
  cpuUsedPct: number;
  memUsed: number;
  memTotal: number;
  memCache: number;
  diskUsed: number;
  diskTotal: number;
}

/** Something listening to a process's output (a Start or Connect stream). */
export interface ProcessListener {
  data(stream: 'stdout' | 'stderr', chunk: Buffer): void;
  end(exitCode: number, status: string): void;
}

/** A process envd started. */
export interface SandboxProcess {
  pid: number;
  cmd: string;
  args: string[];
  envs: Record<string, string>;
  cwd: string | undefined;
  tag: string | undefined;
  child: ChildProcess;
  listeners: Set<ProcessListener>;
  exit?: { exitCode: number; status: string };
}

/** What a sandbox is created with. */
export interface SandboxSpec {
  templateID: string;
  alias: string;
  cpuCount: number;
  memoryMB: number;
  metadata: Record<string, string>;
  envVars: Record<string, string>;
  startedAt: number;
  endAt: number;
}

/** A live local sandbox. */
export class LocalSandbox {
  readonly id: string;
  readonly envdAccessToken = randomBytes(16).toString('hex');
  readonly processes = new Map<number, SandboxProcess>();
  readonly samples: MetricsSample[] = [];
  endAt: number;
  #lastCpuTicks: number | undefined;
  #lastSampleAt: number | undefined;

  constructor(
    readonly spec: SandboxSpec,
    readonly dir: string,
    readonly net: SandboxNetwork,
    /** Environment every process starts with (the template's image environment). */
    readonly baseEnv: Record<string, string>,
  ) {
    this.id = dir.split('/').at(-1) as string;
    this.endAt = spec.endAt;
  }

  /** Make the sandbox's directory tree (home with the template's profile, tmp). */
  static async prepareDir(dir: string, profile: string): Promise<void> {
    await mkdir(join(dir, 'home', 'user'), { recursive: true });
    await mkdir(join(dir, 'tmp'), { recursive: true, mode: 0o1777 });
    await writeFile(join(dir, 'home', 'user', '.bash_profile'), profile);
  }

  /** Where a sandbox path lives on the host; undefined outside /home and /tmp. */
  hostPath(path: string): string | undefined {
    const clean = normalize(path.startsWith('/') ? path : `/home/user/${path}`);
    if (!(clean.startsWith('/home/') || clean === '/home' || clean.startsWith('/tmp/'))) return undefined;
    return join(this.dir, clean);
  }

  /** Start a process in the sandbox; output goes to the listeners. */
  start(config: { cmd: string; args: string[]; envs: Record<string, string>; cwd?: string; tag?: string }) {
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        this.net.ns,
        'sh',
        '-c',
        MOUNT_AND_RUN,
        'sh',
        this.dir,
        config.cwd ?? '/home/user',
        config.cmd,
        ...config.args,
      ],
      {
        env: { ...this.baseEnv, ...this.spec.envVars, ...config.envs },
        stdio: ['pipe', 'pipe', 'pipe'],
        // Its own process group, so a signal reaches the command's children too.
        detached: true,
      },
    );
    if (child.pid === undefined) throw new Error(`could not start ${config.cmd}`);
    const proc: SandboxProcess = {
      pid: child.pid,
      cmd: config.cmd,
      args: config.args,
      envs: config.envs,
      cwd: config.cwd,
      tag: config.tag,
      child,
      listeners: new Set(),
    };
    this.processes.set(proc.pid, proc);
    child.stdout?.on('data', (chunk: Buffer) => {
      for (const listener of proc.listeners) listener.data('stdout', chunk);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      for (const listener of proc.listeners) listener.data('stderr', chunk);
    });
    child.on('error', () => undefined);
    child.on('close', (code, signal) => {
      proc.exit =
        signal === null
          ? { exitCode: code ?? 0, status: `exit status ${code ?? 0}` }
          : { exitCode: -1, status: `signal: ${signal === 'SIGKILL' ? 'killed' : signal.toLowerCase()}` };
      this.processes.delete(proc.pid);
      for (const listener of proc.listeners) listener.end(proc.exit.exitCode, proc.exit.status);
      proc.listeners.clear();
    });
    return proc;
  }

  /** Signal a process's group; false when no such process runs. */
  signal(pid: number, signal: NodeJS.Signals): boolean {
    if (!this.processes.has(pid)) return false;
    try {
      process.kill(-pid, signal);
    } catch {
      return false;
    }
    return true;
  }

  /** Pids of every process in the sandbox's network namespace. */
  async pids(): Promise<number[]> {
    const { stdout } = await run('ip', ['netns', 'pids', this.net.ns]).catch(() => ({ stdout: '' }));
    return stdout
      .split('\n')
      .map(Number)
      .filter((pid) => Number.isInteger(pid) && pid > 0);
  }

  /** Pids of the sandbox's processes and all their descendants, from a process table. */
  members(table: ProcessTable): number[] {
    const children = new Map<number, number[]>();
    for (const entry of table.values()) {
      const list = children.get(entry.ppid) ?? [];
      list.push(entry.pid);
      children.set(entry.ppid, list);
    }
    const found = new Set<number>();
    const queue = [...this.processes.keys()].filter((pid) => table.has(pid));
    while (queue.length > 0) {
      const pid = queue.pop() as number;
      if (found.has(pid)) continue;
      found.add(pid);
      queue.push(...(children.get(pid) ?? []));
    }
    return [...found];
  }

  /** Take one metrics sample of the whole sandbox: every process envd started and their descendants. */
  async sample(now: number, table: ProcessTable): Promise<void> {
    let rss = 0;
    let ticks = 0;
    for (const pid of this.members(table)) {
      ticks += (table.get(pid) as ProcStat).utimeTicks + (table.get(pid) as ProcStat).stimeTicks;
      const statm = await readFile(`/proc/${pid}/statm`, 'utf8').catch(() => undefined);
      rss += (statm === undefined ? undefined : parseStatmRssBytes(statm)) ?? 0;
    }
    let cpuUsedPct = 0;
    if (this.#lastCpuTicks !== undefined && this.#lastSampleAt !== undefined && now > this.#lastSampleAt) {
      const cpuMs = (Math.max(0, ticks - this.#lastCpuTicks) * 1000) / clockTicksPerSecond();
      // Aggregated over all vCPUs, as E2B reports it: 100 means every vCPU busy.
      cpuUsedPct = Math.min(100, (cpuMs / ((now - this.#lastSampleAt) * this.spec.cpuCount)) * 100);
    }
    this.#lastCpuTicks = ticks;
    this.#lastSampleAt = now;
    const diskUsed = await directorySize(this.dir);
    this.samples.push({
      timestamp: new Date(now).toISOString(),
      timestampUnix: Math.floor(now / 1000),
      cpuCount: this.spec.cpuCount,
      cpuUsedPct: Math.round(cpuUsedPct * 100) / 100,
      memUsed: rss,
      memTotal: this.spec.memoryMB * 1024 * 1024,
      memCache: 0,
      diskUsed,
      diskTotal: 10 * 1024 ** 3,
    });
    // Keep the last hour at most.
    if (this.samples.length > 720) this.samples.shift();
  }

  /** Kill everything in the sandbox and wait until it is gone. */
  async killProcesses(): Promise<void> {
    for (const pid of this.processes.keys()) this.signal(pid, 'SIGKILL');
    for (const pid of await this.pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    const exits = [...this.processes.values()].map(
      (proc) =>
        new Promise<void>((resolve) => (proc.exit ? resolve() : proc.child.once('close', () => resolve()))),
    );
    await Promise.all(exits);
  }

  /** Remove the sandbox's directory. */
  async removeDir(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

async function directorySize(dir: string): Promise<number> {
  let total = 0;
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    total += (await stat(join(entry.parentPath, entry.name)).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

/** Every process on the machine by pid (one /proc scan shared by all sandboxes per sample). */
export type ProcessTable = Map<number, ProcStat>;

/** Read /proc once. */
export async function readProcessTable(): Promise<ProcessTable> {
  const table: ProcessTable = new Map();
  const names = await readdir('/proc').catch(() => [] as string[]);
  await Promise.all(
    names
      .filter((name) => /^\d+$/.test(name))
      .map(async (name) => {
        const text = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => undefined);
        const stat = text === undefined ? undefined : parseProcStat(text);
        if (stat !== undefined) table.set(stat.pid, stat);
      }),
  );
  return table;
}

/** A new sandbox id in E2B's shape (lower-case letters and digits). */
export function newSandboxId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return [...randomBytes(20)].map((byte) => alphabet[byte % alphabet.length]).join('');
}
