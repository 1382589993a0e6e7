/**
 * What the chaos tests share: private sandbox roots (so a leak is attributed to the test that made
 * it, even while other test files run agents in parallel), agent-process discovery from /proc,
 * the run config and unit specs of custom scenarios, and the tally behind the suite's summary.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import type { BenchmarkDefinition } from '../../lib/bench/definition.ts';
import type { UnitSpec } from '../../lib/bench/model.ts';
import { buildPlan } from '../../lib/bench/plan.ts';
import { parseRunConfig, type RunConfig, type RunConfigInput } from '../../lib/config.ts';
import { LocalSandboxProvider } from '../../lib/sandbox/local.ts';
import { alivePids, killSurvivors } from '../helpers/processes.ts';
import type { ChaosCounts } from '../setup/chaos.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const AGENT_BUNDLE = join(REPO_ROOT, 'dist/agent.cjs');

/** A fresh private directory; local sandboxes made under it are this test file's alone. */
export function makeRoot(name: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `swarm-chaos-${name}-`));
}

export async function removeRoot(root: string | undefined): Promise<void> {
  if (root) await rm(root, { recursive: true, force: true });
}

/** Running processes whose command line names a sandbox directory under `root` (agents started there). */
export function agentPidsUnder(root: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmdline.includes(`${root}/swarm-sandbox-`)) pids.push(Number(entry));
  }
  return alivePids(pids);
}

/** Children of `pid` (by the ppid field of /proc/<n>/stat). */
export function childPids(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return children;
}

/** Poll until `condition` holds or `timeoutMs` passes; resolves with whether it held. */
export async function waitFor(
  condition: () => boolean,
  timeoutMs: number,
  intervalMs = 20,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return condition();
}

/**
 * Agents under `root` still running after a grace period: the leak count of a test. Survivors are
 * killed afterwards so one leak cannot spill into the next test, but they are still counted.
 */
export async function leakedUnder(root: string, graceMs = 2_000): Promise<number[]> {
  await waitFor(() => agentPidsUnder(root).length === 0, graceMs);
  const leaked = agentPidsUnder(root);
  killSurvivors(leaked);
  return leaked;
}

/** A local provider whose sandboxes live under `root`. */
export function localProvider(root: string, options: { maxConcurrent?: number } = {}): LocalSandboxProvider {
  return new LocalSandboxProvider({ bundlePath: AGENT_BUNDLE, tmpRoot: root, ...options });
}

/**
 * A quick-profile config without the built-in scenarios, with overrides. Without a sandbox pool:
 * every swarm creates its own sandboxes through the manager (retry, backoff, the admit guard),
 * which is what the runner-level faults target; the CLI tests run with the default pool.
 */
export function quickConfig(overrides: RunConfigInput = {}): RunConfig {
  return parseRunConfig({ profile: 'quick', scenarios: false, pooling: false, ...overrides });
}

/** The planned units of custom scenarios alone (no built-in benchmark). */
export function specsOf(defs: BenchmarkDefinition[], config: RunConfig): UnitSpec[] {
  return buildPlan({ ...config, categories: [] }, defs).units;
}

/** The unit spec of one built-in benchmark, e.g. "communication/state-sync". */
export function builtinSpec(unitId: string, config: RunConfig): UnitSpec {
  const [category] = unitId.split('/');
  const plan = buildPlan(
    parseRunConfig({
      profile: config.profile,
      scenarios: false,
      pooling: config.pooling,
      categories: [category],
    }),
  );
  const spec = plan.units.find((u) => u.unitId === unitId);
  if (!spec) throw new Error(`no unit ${unitId}`);
  return spec;
}

/** Add this file's figures to the suite's summary line. */
export function tally(counts: Partial<ChaosCounts>): void {
  const line: ChaosCounts = {
    faults: 0,
    badInputs: 0,
    leaked: 0,
    duplicates: 0,
    impostors: 0,
    slowLoris: 0,
    chains: 0,
    runsLeftRunning: 0,
    ...counts,
  };
  appendFileSync(inject('chaosTally'), `${JSON.stringify(line)}\n`);
}

/** A CLI process started by a test, with its output and its exit. */
export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Every agent process seen as a child of the CLI so far (polled until the CLI exits). */
  agents: Set<number>;
}

/** The built CLI (global setup rebuilds it from the sources), as `npx swarm-bench` runs it. */
export const BUILT_CLI = join(REPO_ROOT, 'dist/swarm-bench.js');

/** Start `swarm-bench <args>` on Node 22 (process.execPath) from the repository root. */
export function spawnCli(args: string[], env: Record<string, string>): CliProcess {
  const child = spawn(process.execPath, [BUILT_CLI, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (data: Buffer) => {
    stdout += data.toString();
  });
  child.stderr?.on('data', (data: Buffer) => {
    stderr += data.toString();
  });
  const agents = new Set<number>();
  const poll = setInterval(() => {
    if (child.pid === undefined) return;
    for (const pid of childPids(child.pid)) if (isAgent(pid)) agents.add(pid);
  }, 20);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => {
    child.once('exit', (code, signal) => {
      clearInterval(poll);
      resolveExit({ code, signal });
    });
  });
  return { child, stdout: () => stdout, stderr: () => stderr, exited, agents };
}

function isAgent(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('swarm-sandbox-');
  } catch {
    return false;
  }
}
