/**
 * SIGTERM to the top process of each way a run is started, with agents up, the chains side by side:
 *
 * - `cli`: the built CLI itself (`node dist/swarm-bench.js run ...`);
 * - `npx`: `npx swarm-bench run ...` (npx resolves the package's own bin, dist/swarm-bench.js);
 * - `npm-start`: the `start` script's chain, npm → sh -c → `node dist/swarm-bench.js pipeline
 *   --local` (the artifacts pipeline: Lambda host processes run the unit and hold its agents). The
 *   script is the repository's own `start` with its `npm run build` step replaced by a `cd` to the
 *   repository, run by `npm start` from a scratch package: rebuilding dist/ here would rewrite the
 *   bundles other test files are executing.
 *
 * npm and npx forward SIGTERM only to `sh -c`, which dies without passing it on, then exit 143:
 * the CLI notices its launcher went away (lib/run/parent.ts) and stops gracefully. Each chain must
 * end with: every process of the chain gone (agents and Lambda hosts included), the sandbox
 * folders its agents used removed, and its run stored `interrupted` (never `running`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localBundledStack } from '../../lib/pipeline/local.ts';
import { openEmbeddedStore } from '../../lib/store/embedded.ts';
import { alivePids, killSurvivors } from '../helpers/processes.ts';
import { BUILT_CLI, makeRoot, REPO_ROOT, removeRoot, tally, waitFor } from './helpers.ts';

/** The pipeline's unit: one cheap built-in unit whose agents stay up for seconds. */
const PIPELINE_UNIT = 'communication/state-sync';
/** Correctness windows on a loaded machine, not speed goals. */
const START_WINDOW_MS = 120_000;
const END_WINDOW_MS = 45_000;

let root: string;
const started: ChildProcess[] = [];
const seen = new Set<number>();
const counts = { faults: 0, leaked: 0, chains: 0, runsLeftRunning: 0 };
const figures: string[] = [];

/** A custom scenario that holds two agents until the run is stopped. */
const SCENARIO = `
import { defineScenario } from '${join(REPO_ROOT, 'lib/bench/scenario.ts')}';
export default defineScenario({
  name: 'holds-agents',
  agents: 2,
  workloadSeconds: 60,
  async run(ctx) {
    const swarm = await ctx.createSwarm('mesh', 2);
    while (!ctx.stopped) await new Promise((r) => setTimeout(r, 100));
    void swarm;
  },
});
`;

beforeAll(async () => {
  // The pipeline's cloud assembly (units one at a time), bundled once and cached by source hash,
  // as `npm start` finds it after a first run: the chain's window then covers the run alone.
  await localBundledStack(join(REPO_ROOT, '.swarm-bench/cdk.out'));
  root = await makeRoot('chains');
  await writeFile(join(root, 'holds-agents.mts'), SCENARIO);
  // A scratch package whose `start` is the repository's, minus the build step.
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const start = pkg.scripts.start ?? '';
  expect(start).toMatch(/^npm run build --silent && node dist\/swarm-bench\.js pipeline --local$/);
  const script = start.replace('npm run build --silent', `cd '${REPO_ROOT}'`);
  await mkdir(join(root, 'starter'));
  await writeFile(
    join(root, 'starter', 'package.json'),
    JSON.stringify({ name: 'starter', private: true, scripts: { start: script } }),
  );
}, 400_000);

afterAll(async () => {
  for (const child of started)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  counts.leaked += killSurvivors([...seen]).length;
  tally(counts);
  process.stdout.write(`chaos: SIGTERM-to-agents-gone per chain: ${figures.join(', ')}\n`);
  await removeRoot(root);
});

/** Every process under `pid`, with its command line (from /proc). */
function descendants(pid: number): Map<number, string> {
  const parent = new Map<number, number>();
  const cmdline = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      cmdline.set(Number(entry), readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' '));
    } catch {
      // exited while we looked
    }
  }
  const found = new Map<number, string>();
  let frontier = [pid];
  while (frontier.length > 0) {
    const next: number[] = [];
    for (const [child, ppid] of parent)
      if (frontier.includes(ppid) && !found.has(child)) {
        found.set(child, cmdline.get(child) ?? '');
        next.push(child);
      }
    frontier = next;
  }
  return found;
}

const SANDBOX_DIR = /(\/\S*swarm-sandbox-local-[0-9a-f]{12})/;

interface Chain {
  command: string[];
  cwd: string;
  args: string[];
}

function chains(dir: (name: string) => string): Record<string, Chain> {
  const runArgs = (name: string) => [
    'run',
    '--profile',
    'quick',
    '--scenario',
    join(root, 'holds-agents.mts'),
    '--test',
    'custom/holds-agents',
    '--store',
    join(dir(name), 'store'),
    '--out',
    join(dir(name), 'out'),
  ];
  return {
    cli: { command: [process.execPath, BUILT_CLI], cwd: REPO_ROOT, args: runArgs('cli') },
    npx: { command: ['npx', '--no-install', 'swarm-bench'], cwd: REPO_ROOT, args: runArgs('npx') },
    'npm-start': {
      command: ['npm', 'start', '--silent', '--'],
      cwd: join(root, 'starter'),
      args: [
        '--profile',
        'quick',
        '--test',
        PIPELINE_UNIT,
        '--store',
        join(dir('npm-start'), 'store'),
        '--out',
        join(dir('npm-start'), 'out'),
      ],
    },
  };
}

async function chain(name: string, spec: Chain): Promise<void> {
  const dir = join(root, name);
  const tmp = join(dir, 'tmp');
  await mkdir(tmp, { recursive: true });
  const [command, ...prefix] = spec.command;
  // Its own process group, as a shell's job control gives it.
  const top = spawn(command as string, [...prefix, ...spec.args], {
    cwd: spec.cwd,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    // Node 22 from the node package first, as `npm run` scripts get it.
    env: {
      ...process.env,
      TMPDIR: tmp,
      PATH: `${join(REPO_ROOT, 'node_modules/.bin')}:${process.env.PATH ?? ''}`,
    },
  });
  started.push(top);
  let stderr = '';
  top.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  let topExited = false;
  const exited = new Promise<void>((r) =>
    top.once('exit', () => {
      topExited = true;
      r();
    }),
  );
  const tree = () => descendants(top.pid as number);
  const agentsOf = (procs: Map<number, string>) =>
    [...procs].filter(([, cmd]) => SANDBOX_DIR.test(cmd)).map(([pid]) => pid);

  // Agents up (the run exists and a unit holds them), or the chain ended early (then it failed).
  const up = await waitFor(() => topExited || agentsOf(tree()).length > 0, START_WINDOW_MS, 200);
  expect(up && !topExited, `${name}: the run never got its agents up; stderr: ${stderr}`).toBe(true);
  const procs = tree();
  for (const pid of procs.keys()) seen.add(pid);
  const agents = agentsOf(procs);
  const folders = [...new Set(agents.map((pid) => SANDBOX_DIR.exec(procs.get(pid) ?? '')?.[1] as string))];

  const signalledAt = performance.now();
  process.kill(top.pid as number, 'SIGTERM');
  counts.faults++;
  counts.chains++;
  await exited;
  const agentsGone = await waitFor(() => alivePids(agents).length === 0, END_WINDOW_MS, 50);
  const agentsGoneMs = performance.now() - signalledAt;
  const allGone = await waitFor(() => alivePids(procs.keys()).length === 0, END_WINDOW_MS, 50);
  figures.push(`${name} ${Math.round(agentsGoneMs)} ms`);
  const leaked = killSurvivors([...procs.keys(), ...agentsOf(tree())]);
  counts.leaked += leaked.length;

  expect(agentsGone, `${name}: agents outlived the run; stderr: ${stderr}`).toBe(true);
  expect(allGone, `${name}: processes of the chain outlived it: ${leaked.join(', ')}`).toBe(true);
  expect(
    folders.filter((folder) => existsSync(folder)),
    `${name}: sandbox folders left`,
  ).toEqual([]);
  const opened = await openEmbeddedStore({ dir: join(dir, 'store') });
  try {
    const runs = await opened.store.listRuns({});
    counts.runsLeftRunning += runs.filter((r) => r.status === 'running').length;
    expect(
      runs.map((r) => r.status),
      `${name}: stderr: ${stderr}`,
    ).toEqual(['interrupted']);
  } finally {
    await opened.close();
  }
  // The graceful stop writes a partial report where the report would go, whichever launcher.
  expect(existsSync(join(dir, 'out', 'SWARM_BENCHMARKS_REPORT.md')), `${name}: no partial report`).toBe(true);
}

describe('SIGTERM to the top process of each launcher chain', () => {
  it('cli, npx and npm start: the run ends interrupted, no agent, host or sandbox folder left', async () => {
    const all = chains((name) => join(root, name));
    const outcomes = await Promise.allSettled(Object.entries(all).map(([name, spec]) => chain(name, spec)));
    const failures = outcomes.flatMap((o) => (o.status === 'rejected' ? [String(o.reason)] : []));
    expect(failures).toEqual([]);
  }, 200_000);
});
