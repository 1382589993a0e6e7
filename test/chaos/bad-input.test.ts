/**
 * Bad input refused before anything starts: a corpus of malformed CLI flags (run in-process through
 * main(), a few spawned for the real exit code) and state-machine inputs (parseRunConfig), each
 * refused with one line naming the field, exit code 2 or InvalidInputError, and no sandbox made.
 * Also: output paths confined to their directory, and a plan over budget never starting.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseRunId } from '../../lib/bench/meta.ts';
import type { RunResults } from '../../lib/bench/model.ts';
import { parseRunConfig } from '../../lib/config.ts';
import { InvalidInputError } from '../../lib/errors.ts';
import { DirReportSink } from '../../lib/publish/dir.ts';
import { writeReport } from '../../lib/report/write.ts';
import { DirBlobStore } from '../../lib/store/blobs.ts';
import { agentPidsUnder, leakedUnder, makeRoot, REPO_ROOT, removeRoot, spawnCli, tally } from './helpers.ts';

const counts = { badInputs: 0, leaked: 0 };
let root: string;
let sandboxTmp: string;
let savedTmpdir: string | undefined;
let main: (argv: string[], env: NodeJS.ProcessEnv) => Promise<number>;

beforeAll(async () => {
  root = await makeRoot('input');
  sandboxTmp = join(root, 'tmp');
  await mkdir(sandboxTmp);
  // Any sandbox the CLI made in-process would land here (os.tmpdir() reads TMPDIR at each call).
  savedTmpdir = process.env.TMPDIR;
  process.env.TMPDIR = sandboxTmp;
  ({ main } = await import('../../bin/swarm-bench.ts'));
  writeFileSync(join(root, 'a-file'), 'not a directory');
  writeFileSync(join(root, 'no-default.ts'), 'export const x = 1;\n');
});

afterAll(async () => {
  if (savedTmpdir === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = savedTmpdir;
  const leaked = await leakedUnder(sandboxTmp, 0);
  counts.leaked += leaked.length;
  tally(counts);
  await removeRoot(root);
});

/** Run main() in-process, capturing what it writes. */
async function runMain(argv: string[], env: NodeJS.ProcessEnv = {}) {
  let stderr = '';
  let stdout = '';
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += chunk.toString();
    return true;
  });
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    return true;
  });
  try {
    const code = await main(argv, { PATH: process.env.PATH, ...env });
    return { code, stderr, stdout };
  } finally {
    err.mockRestore();
    out.mockRestore();
  }
}

function sandboxesMade(): number {
  const dirs = readdirSync(sandboxTmp).filter((name) => name.startsWith('swarm-sandbox-'));
  return dirs.length + agentPidsUnder(sandboxTmp).length;
}

const LONG = 'x'.repeat(10_000);

/** argv after `run`, the environment, and what the one error line must name. */
const CLI_CORPUS: Array<{ argv: string[]; env?: NodeJS.ProcessEnv; names: RegExp }> = [
  {
    argv: ['--profile', 'fast'],
    names:
      /^swarm-bench: option '--profile <name>' argument 'fast' is invalid. Allowed choices are quick, default, load\./,
  },
  { argv: ['--profile', ''], names: /profile/ },
  { argv: ['--profile', 'quick'], env: { LOAD_TEST: '1' }, names: /--profile: .*LOAD_TEST/ },
  {
    argv: ['--provider', 'aws'],
    names: /'--provider <name>' argument 'aws' is invalid. Allowed choices are local, e2b/,
  },
  { argv: ['--provider', 'e2b'], names: /E2B_API_KEY/ },
  { argv: ['--category', 'nonsense'], names: /category: one of/ },
  { argv: ['--category', ''], names: /category/ },
  { argv: ['--category', LONG], names: /categories\.0: at most 64/ },
  { argv: ['--category', 'creation\nrm -rf /'], names: /category/ },
  { argv: ['--test', 'nope/nothing'], names: /test: a test id/ },
  {
    argv: ['--test', 'creation/swarm-init', '--category', 'trading'],
    names: /--test: a test inside the selected categories/,
  },
  {
    argv: ['--topology', 'donut'],
    names: /'--topology <kind>' argument 'donut' is invalid. Allowed choices are mesh/,
  },
  {
    argv: [
      '--topology',
      'mesh',
      '--topology',
      'ring',
      '--topology',
      'star',
      '--topology',
      'hierarchical',
      '--topology',
      'mesh',
    ],
    names: /topologies: at most 4/,
  },
  { argv: ['--agents', 'abc'], names: /--agents: a number/ },
  { argv: ['--agents', ''], names: /--agents: a number/ },
  { argv: ['--agents', 'NaN'], names: /--agents: a number/ },
  { argv: ['--agents', 'Infinity'], names: /--agents: a number/ },
  { argv: ['--agents', '0'], names: /agents: at least 1/ },
  { argv: ['--agents', '-5'], names: /Option '--agents' argument is ambiguous/ },
  { argv: ['--agents=-5'], names: /agents: at least 1/ },
  { argv: ['--agents', '2.5'], names: /agents: / },
  { argv: ['--agents', '1e9'], names: /agents: at most 100/ },
  { argv: ['--agents', '101'], names: /agents: at most 100/ },
  { argv: ['--agents'], names: /--agents/ },
  { argv: ['--budget', '-1'], names: /Option '--budget' argument is ambiguous/ },
  { argv: ['--budget=-1'], names: /budgetUsd: at least 0 \(exclusive\)/ },
  { argv: ['--budget', '0'], names: /budgetUsd: / },
  { argv: ['--budget', 'NaN'], names: /--budget: a number/ },
  { argv: ['--budget', 'Infinity'], names: /--budget: a number/ },
  { argv: ['--budget=-Infinity'], names: /--budget: a number/ },
  { argv: ['--budget', '1e308'], names: /budgetUsd: at most 1000/ },
  { argv: ['--budget', '5$'], names: /--budget: a number/ },
  { argv: ['--seed=-1'], names: /seed: at least 0/ },
  { argv: ['--seed', '3.5'], names: /seed: / },
  { argv: ['--seed', '99999999999'], names: /seed: at most/ },
  { argv: ['--template', '../../etc/passwd'], names: /template: / },
  { argv: ['--template', 'a'.repeat(200)], names: /template: / },
  {
    argv: ['--template-size', 'huge'],
    names: /'--template-size <size>' argument 'huge' is invalid. Allowed choices are base/,
  },
  { argv: ['--agents-per-sandbox', '0'], names: /agentsPerSandbox: at least 1/ },
  { argv: ['--agents-per-sandbox', '17'], names: /agentsPerSandbox: at most 16/ },
  { argv: ['--slowdown', 'garbage'], names: /--slowdown: unit=ms/ },
  { argv: ['--slowdown', 'trading/strategy-execution=999999'], names: /slowdown\.ms: at most 10000/ },
  { argv: ['--bogus-flag'], names: /unknown option '--bogus-flag'/ },
  { argv: ['extra-positional'], names: /Unexpected argument 'extra-positional'/ },
  { argv: ['--out', ''], names: /^swarm-bench: --out: a directory path/ },
  { argv: ['--out', 'reports\0evil'], names: /^swarm-bench: --out: a directory path/ },
  { argv: ['--out', '<ROOT>/a-file'], names: /--out: .*exists and is not a directory/ },
  { argv: ['--store', '<ROOT>/a-file'], names: /--store: .*exists and is not a directory/ },
  { argv: ['--store', LONG], names: /--store: a directory path/ },
  { argv: ['--scenario', '/etc/passwd'], names: /--scenario: an existing \.ts/ },
  { argv: ['--scenario', '<ROOT>/missing.ts'], names: /--scenario: an existing \.ts/ },
  { argv: ['--scenario', '<ROOT>/no-default.ts'], names: /--scenario: a module whose default export/ },
];

describe('the CLI refuses malformed flags with one line naming the field, exit 2, nothing started', () => {
  it(`refuses ${CLI_CORPUS.length} malformed invocations of run, in-process`, async () => {
    const failures: string[] = [];
    for (const entry of CLI_CORPUS) {
      // Prepare
      // Never the repository's default store: a `run` or `npm start` holding it would answer first.
      const store = entry.argv.includes('--store') ? [] : ['--store', join(root, 'corpus-store')];
      const argv = ['run', ...store, ...entry.argv.map((a) => a.replace('<ROOT>', root))];
      counts.badInputs++;

      // Act
      const { code, stderr, stdout } = await runMain(argv, entry.env);

      // Assess (collected, so one run reports every case that slipped through)
      const lines = stderr.split('\n').filter((line) => line !== '');
      const label = JSON.stringify(entry.argv.map((a) => (a.length > 40 ? `${a.slice(0, 20)}...` : a)));
      if (code !== 2) failures.push(`${label}: exit ${code}, stderr ${JSON.stringify(stderr.slice(0, 200))}`);
      else if (lines.length !== 1 || !stderr.endsWith('\n'))
        failures.push(`${label}: ${lines.length} lines: ${stderr.slice(0, 300)}`);
      else if (!entry.names.test(lines[0] as string))
        failures.push(`${label}: does not name the field: ${lines[0]}`);
      else if ((lines[0] as string).length > 1_000)
        failures.push(`${label}: line of ${lines[0]?.length} chars`);
      if (stdout !== '') failures.push(`${label}: wrote to stdout: ${stdout.slice(0, 100)}`);
    }
    expect(failures).toEqual([]);
    expect(sandboxesMade()).toBe(0);
  });

  it('refuses an unknown command and a run whose plan exceeds the budget, naming budgetUsd, before any sandbox', async () => {
    // Prepare
    const out = join(root, 'budget-out');
    counts.badInputs += 2;

    // Act
    const unknown = await runMain(['rnu']);
    const overBudget = await runMain([
      'run',
      '--profile',
      'quick',
      '--category',
      'cost',
      '--budget',
      '0.0001',
      '--store',
      join(root, 'budget-store'),
      '--out',
      out,
    ]);

    // Assess
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^swarm-bench: command: one of .*did you mean "run"\?.*\n$/);
    expect(overBudget.code).toBe(2);
    expect(overBudget.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(overBudget.stderr).toMatch(
      /BudgetExceededError: estimated cost \$[\d.]+ exceeds the per-run budget \$0\.00; raise budgetUsd/,
    );
    expect(existsSync(out)).toBe(false);
    expect(sandboxesMade()).toBe(0);
  });

  it('refuses a CSV market for the local pipeline, as Plan refuses it on AWS, before anything starts', async () => {
    // Prepare
    const store = join(root, 'pipeline-market-store');
    const out = join(root, 'pipeline-market-out');
    counts.badInputs++;

    // Act
    const { code, stderr } = await runMain([
      'pipeline',
      '--local',
      '--profile',
      'quick',
      '--market',
      join(root, 'bars.csv'),
      '--store',
      store,
      '--out',
      out,
    ]);

    // Assess
    expect(code).toBe(2);
    expect(stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(stderr).toMatch(/--market: gbm:key=value,\.\.\. in a pipeline input/);
    expect(existsSync(store)).toBe(false);
    expect(existsSync(out)).toBe(false);
    expect(sandboxesMade()).toBe(0);
  });

  it('exits with code 2 as a real process, for a few of them', async () => {
    // Prepare
    const tmp = join(root, 'spawn-tmp');
    await mkdir(tmp);
    const cases = [
      { argv: ['--budget=-1'], names: /budgetUsd: / },
      { argv: ['--bogus-flag'], names: /--bogus-flag/ },
      {
        argv: [
          '--category',
          'cost',
          '--budget',
          '0.0001',
          '--store',
          join(root, 'spawn-store'),
          '--out',
          join(root, 'spawn-out'),
        ],
        names: /budgetUsd/,
      },
    ];
    counts.badInputs += cases.length;

    // Act
    const outcomes = await Promise.all(
      cases.map(async (entry) => {
        const cli = spawnCli(['run', '--profile', 'quick', ...entry.argv], { TMPDIR: tmp });
        const { code } = await cli.exited;
        return { code, stderr: cli.stderr(), agents: cli.agents.size, names: entry.names };
      }),
    );

    // Assess
    for (const outcome of outcomes) {
      expect(outcome.code, outcome.stderr).toBe(2);
      expect(outcome.stderr.split('\n').filter(Boolean)).toHaveLength(1);
      expect(outcome.stderr).toMatch(outcome.names);
      expect(outcome.agents).toBe(0);
    }
    expect(readdirSync(tmp).filter((name) => name.startsWith('swarm-sandbox-'))).toEqual([]);
  });
});

/** State-machine input (execution input JSON) and the field the error must name. */
const CONFIG_CORPUS: Array<{ input: unknown; field: RegExp }> = [
  { input: 'quick', field: /^input$/ },
  { input: 42, field: /^input$/ },
  { input: [], field: /^input$/ },
  { input: { profile: 3 }, field: /^profile$/ },
  { input: { profile: 'fast' }, field: /^profile$/ },
  { input: { provider: 'aws' }, field: /^provider$/ },
  { input: { unknownField: 1 }, field: /^unknownField$/ },
  { input: JSON.parse('{"__proto__": {"budgetUsd": 1e9}}'), field: /^__proto__$/ },
  { input: { constructor: 'x' }, field: /^constructor$/ },
  { input: { budgetUsd: -1 }, field: /^budgetUsd$/ },
  { input: { budgetUsd: 0 }, field: /^budgetUsd$/ },
  { input: { budgetUsd: 'NaN' }, field: /^budgetUsd$/ },
  { input: { budgetUsd: 'Infinity' }, field: /^budgetUsd$/ },
  { input: { budgetUsd: Number.NaN }, field: /^budgetUsd$/ },
  { input: { budgetUsd: Number.POSITIVE_INFINITY }, field: /^budgetUsd$/ },
  { input: { budgetUsd: 1e12 }, field: /^budgetUsd$/ },
  { input: { budgetUsd: '5' }, field: /^budgetUsd$/ },
  { input: { agents: 1e9 }, field: /^agents$/ },
  { input: { agents: -1 }, field: /^agents$/ },
  { input: { agents: 0.5 }, field: /^agents$/ },
  { input: { agents: '10' }, field: /^agents$/ },
  { input: { categories: 'creation' }, field: /^categories$/ },
  { input: { categories: ['nope'] }, field: /^category$/ },
  { input: { categories: [LONG] }, field: /^categories\.0$/ },
  { input: { categories: Array.from({ length: 13 }, () => 'cost') }, field: /^categories$/ },
  { input: { tests: ['nope'] }, field: /^test$/ },
  { input: { tests: 'consensus' }, field: /^tests$/ },
  { input: { topologies: ['donut'] }, field: /^topologies\.0$/ },
  { input: { topologies: [] }, field: /^topologies$/ },
  { input: { template: '../x' }, field: /^template$/ },
  { input: { template: 'a/b' }, field: /^template$/ },
  { input: { template: 'x'.repeat(65) }, field: /^template$/ },
  { input: { templateSize: 'huge' }, field: /^templateSize$/ },
  { input: { seed: -1 }, field: /^seed$/ },
  { input: { seed: 2 ** 31 }, field: /^seed$/ },
  { input: { seed: 1.5 }, field: /^seed$/ },
  { input: { scenarios: 'yes' }, field: /^scenarios$/ },
  { input: { agentsPerSandbox: 0 }, field: /^agentsPerSandbox$/ },
  { input: { slowdown: { unitId: 'x', ms: -1 } }, field: /^slowdown\.ms$/ },
  { input: { slowdown: { unitId: 'x', ms: 1, extra: 1 } }, field: /^extra$/ },
  { input: { slowdown: 'trading/x=5' }, field: /^slowdown$/ },
];

describe('the state-machine input refuses malformed objects with InvalidInputError naming the field', () => {
  it(`refuses ${CONFIG_CORPUS.length} malformed inputs`, () => {
    const failures: string[] = [];
    for (const { input, field } of CONFIG_CORPUS) {
      counts.badInputs++;
      let caught: unknown;
      try {
        parseRunConfig(input);
      } catch (error) {
        caught = error;
      }
      const label = JSON.stringify(input)?.slice(0, 60);
      if (!(caught instanceof InvalidInputError)) failures.push(`${label}: ${String(caught)}`);
      else if (!field.test(caught.field)) failures.push(`${label}: names "${caught.field}"`);
      else if (caught.message.includes('\n')) failures.push(`${label}: message spans lines`);
      else if (caught.message.length > 1_000)
        failures.push(`${label}: message of ${caught.message.length} chars`);
    }
    expect(failures).toEqual([]);
  });
});

describe('output paths stay inside their directory', () => {
  const ESCAPES = [
    '../escape.md',
    '/etc/escape.md',
    'charts/../../escape.md',
    '..',
    'a/../../escape',
    'C:\\escape.md',
    '\\escape',
    'a\0b',
    '',
  ];

  it('a report name, a blob key or a run id cannot name a path outside the configured directory', async () => {
    // Prepare
    const base = join(root, 'confined');
    const sink = new DirReportSink(join(base, 'reports'));
    const blobs = new DirBlobStore({ dir: join(base, 'blobs') });
    await mkdir(base, { recursive: true });
    const refused: string[] = [];

    // Act
    for (const name of ESCAPES) {
      counts.badInputs += 3;
      await sink
        .put(name, 'x', 'text/plain')
        .catch((e: unknown) => e instanceof InvalidInputError && refused.push(`sink ${name}`));
      await blobs
        .put(name, 'x')
        .catch((e: unknown) => e instanceof InvalidInputError && refused.push(`blob ${name}`));
      try {
        parseRunId(name);
      } catch (error) {
        if (error instanceof InvalidInputError) refused.push(`runId ${name}`);
      }
    }
    counts.badInputs += 2;
    const run = JSON.parse(
      readFileSync(join(REPO_ROOT, 'test/fixtures/report/clean.json'), 'utf8'),
    ) as RunResults;
    const viaReport = await writeReport(run, sink, { basename: '../../escape' }).then(
      () => 'written',
      (e: unknown) => (e instanceof InvalidInputError ? 'refused' : String(e)),
    );
    const viaRunId = (() => {
      try {
        return parseRunId('20261127T024500Z-a1b2c3/../../x');
      } catch (error) {
        return error instanceof InvalidInputError ? 'refused' : String(error);
      }
    })();

    // Assess
    expect(refused).toHaveLength(ESCAPES.length * 3);
    expect(viaReport).toBe('refused');
    expect(viaRunId).toBe('refused');
    // Nothing was written beside or above the configured directories.
    expect(readdirSync(base).sort()).toEqual(
      readdirSync(base)
        .filter((n) => n === 'reports' || n === 'blobs')
        .sort(),
    );
    expect(existsSync(join(root, 'escape.md'))).toBe(false);
    expect(existsSync(join(root, 'escape'))).toBe(false);
    expect(existsSync('/etc/escape.md')).toBe(false);
  });
});
