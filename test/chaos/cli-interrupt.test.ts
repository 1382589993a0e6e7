/**
 * The real CLI interrupted mid-run, once per category (SIGINT and SIGTERM alternating, two CLIs at
 * a time to stay fast on two cores), and once SIGKILLed. After SIGINT/SIGTERM the CLI kills every
 * agent, stores what completed, writes a partial report and exits with 128 + the signal number
 * (130, 143): the shell convention, so scripts can tell an interrupt from a failed unit (3).
 * After SIGKILL nothing runs in the CLI; its agents exit by themselves (they watch their stdin).
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEmbeddedStore } from '../../lib/store/embedded.ts';
import { alivePids, killSurvivors } from '../helpers/processes.ts';
import {
  agentPidsUnder,
  type CliProcess,
  leakedUnder,
  makeRoot,
  removeRoot,
  spawnCli,
  tally,
  waitFor,
} from './helpers.ts';

/**
 * How long agents may take to be gone after the signal before the test calls it a leak. A
 * correctness bound, not a speed goal (that lives in bench/): on a loaded machine the kill of a
 * process group can take a while to be seen. Measured figures are printed.
 */
const KILL_BOUND_MS = 10_000;
// One launcher chain: signals sent to the CLI process itself.
const counts = { faults: 0, leaked: 0, duplicates: 0, runsLeftRunning: 0, chains: 1 };
let root: string;
let tmp: string;
const started: CliProcess[] = [];
const killTimes: string[] = [];

beforeAll(async () => {
  root = await makeRoot('cli');
  // Sandbox directories of every CLI of this file go here, so leaks are ours.
  tmp = join(root, 'tmp');
  await mkdir(tmp);
});

afterAll(async () => {
  for (const cli of started)
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  const leaked = await leakedUnder(tmp);
  counts.leaked += leaked.length;
  tally(counts);
  process.stdout.write(`chaos: signal-to-agents-gone times: ${killTimes.join(', ')}\n`);
  await removeRoot(root);
  expect(leaked, 'agent processes left running by the CLI tests').toEqual([]);
});

function cliRun(category: string, label = category) {
  const dir = join(root, label);
  const cli = spawnCli(
    [
      'run',
      '--profile',
      'quick',
      '--category',
      category,
      '--store',
      join(dir, 'store'),
      '--out',
      join(dir, 'out'),
      '--no-scenarios',
    ],
    { TMPDIR: tmp },
  );
  started.push(cli);
  return { cli, dir };
}

/** Wait until agents of this CLI run (mid-unit), send the signal, and measure until they are gone. */
async function interrupt(
  cli: CliProcess,
  signal: NodeJS.Signals,
): Promise<{ goneMs: number; agents: number[] }> {
  const running = await waitFor(() => alivePids(cli.agents).length > 0, 45_000);
  if (!running) throw new Error(`no agent started; stderr: ${cli.stderr()}`);
  await new Promise((r) => setTimeout(r, 150));
  const sentAt = Date.now();
  cli.child.kill(signal);
  counts.faults++;
  // Polled until all are gone: agents spawned after the signal would join the set too.
  await waitFor(() => alivePids(cli.agents).length === 0, KILL_BOUND_MS, 10);
  return { goneMs: Date.now() - sentAt, agents: [...cli.agents] };
}

async function assessInterrupted(
  category: string,
  signal: NodeJS.Signals,
  run: { cli: CliProcess; dir: string },
  outcome: { goneMs: number; agents: number[] },
) {
  const { code } = await run.cli.exited;
  killTimes.push(`${category}/${signal} ${outcome.goneMs} ms`);
  const survivors = killSurvivors(outcome.agents);
  expect(survivors, `${category}: agents alive after the CLI exited`).toEqual([]);
  expect(outcome.agents.length, `${category}: agents seen`).toBeGreaterThan(0);
  expect(outcome.goneMs, `${category}: ms from ${signal} to every agent gone`).toBeLessThanOrEqual(
    KILL_BOUND_MS,
  );
  expect(code, `${category}: exit code; stderr: ${run.cli.stderr()}`).toBe(
    128 + (constants.signals[signal] ?? 0),
  );

  // The report exists, complete, and says partial.
  const json = JSON.parse(await readFile(join(run.dir, 'out', 'SWARM_BENCHMARKS_REPORT.json'), 'utf8')) as {
    meta: { status: string; reason?: string };
  };
  expect(json.meta.status).toBe('interrupted');
  expect(json.meta.reason).toMatch(new RegExp(`^interrupted by ${signal} after \\d+ of \\d+ units$`));
  const markdown = await readFile(join(run.dir, 'out', 'SWARM_BENCHMARKS_REPORT.md'), 'utf8');
  expect(markdown).toContain(`INTERRUPTED run: interrupted by ${signal}`);
  expect(readdirSync(join(run.dir, 'out')).filter((f) => f.endsWith('.partial'))).toEqual([]);

  // The store holds the run as partial and only whole results.
  const opened = await openEmbeddedStore({ dir: join(run.dir, 'store') });
  try {
    const runs = await opened.store.listRuns({});
    counts.runsLeftRunning += runs.filter((r) => r.status === 'running').length;
    expect(runs.map((r) => r.status)).toEqual(['interrupted']);
    const results = await opened.store.getResults(runs[0]?.runId as string);
    counts.duplicates += results.length - new Set(results.map((r) => r.unitId)).size;
    for (const result of results) {
      expect(result.unitId.startsWith(`${category}/`)).toBe(true);
      expect(['ok', 'partial', 'failed']).toContain(result.status);
      expect(Array.isArray(result.series)).toBe(true);
      expect(typeof result.endedAt).toBe('string');
    }
    // The unit in flight was stopped and recorded as such, not lost.
    expect(
      results.some((r) => r.status === 'partial' && r.error?.message === 'stopped early: interrupted'),
    ).toBe(true);
    expect(
      existsSync(join(run.dir, 'store', 'blobs')) ? tmpFilesUnder(join(run.dir, 'store', 'blobs')) : [],
    ).toEqual([]);
  } finally {
    await opened.close();
  }
}

function tmpFilesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.tmp'));
}

const PAIRS: Array<[[string, NodeJS.Signals], [string, NodeJS.Signals]]> = [
  [
    ['creation', 'SIGINT'],
    ['scalability', 'SIGTERM'],
  ],
  [
    ['trading', 'SIGTERM'],
    ['communication', 'SIGINT'],
  ],
  [
    ['resources', 'SIGINT'],
    ['cost', 'SIGTERM'],
  ],
];

describe('the CLI interrupted in the middle of each category', () => {
  for (const [a, b] of PAIRS) {
    it(`${a[0]} (${a[1]}) and ${b[0]} (${b[1]}): agents gone within ${KILL_BOUND_MS} ms, partial report, run stored interrupted`, async () => {
      // Prepare
      const runA = cliRun(a[0]);
      const runB = cliRun(b[0]);

      // Act
      const [outA, outB] = await Promise.all([interrupt(runA.cli, a[1]), interrupt(runB.cli, b[1])]);

      // Assess
      await assessInterrupted(a[0], a[1], runA, outA);
      await assessInterrupted(b[0], b[1], runB, outB);
      expect(agentPidsUnder(tmp)).toEqual([]);
      expect(readdirSync(tmp).filter((name) => name.startsWith('swarm-sandbox-'))).toEqual([]);
    });
  }

  it('SIGKILLed CLI: its agents exit by themselves; the next command marks the run abandoned and sweeps its folders', async () => {
    // Prepare
    const run = cliRun('trading', 'trading-sigkill');

    // Act
    const running = await waitFor(() => alivePids(run.cli.agents).length > 0, 45_000);
    run.cli.child.kill('SIGKILL');
    counts.faults++;
    await run.cli.exited;
    const sentAt = Date.now();
    await waitFor(() => alivePids(run.cli.agents).length === 0, 10_000, 10);
    const goneMs = Date.now() - sentAt;
    killTimes.push(`trading/SIGKILL ${goneMs} ms`);

    // Assess
    expect(running).toBe(true);
    expect(killSurvivors(run.cli.agents), 'agents outliving a SIGKILLed CLI').toEqual([]);
    // Nothing ran in the CLI after SIGKILL: the run was left "running"; the next command (history)
    // closes it as abandoned and sweeps its sandbox folders.
    const history = spawnCli(['history', '--store', join(run.dir, 'store'), '--json'], { TMPDIR: tmp });
    const { code } = await history.exited;
    expect(code, history.stderr()).toBe(0);
    expect(history.stderr()).toMatch(/was left running by a process that is gone .*: marked abandoned/);
    expect(readdirSync(tmp).filter((name) => name.startsWith('swarm-sandbox-'))).toEqual([]);
    const opened = await openEmbeddedStore({ dir: join(run.dir, 'store') });
    try {
      const runs = await opened.store.listRuns({});
      counts.runsLeftRunning += runs.filter((r) => r.status === 'running').length;
      expect(runs.map((r) => r.status)).toEqual(['abandoned']);
      expect(runs[0]?.heartbeatAt, 'the owner beat while it lived').toBeDefined();
      const results = await opened.store.getResults(runs[0]?.runId as string);
      for (const result of results) expect(result.unitId.startsWith('trading/')).toBe(true);
    } finally {
      await opened.close();
    }
  });
});
