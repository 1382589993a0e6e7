/**
 * The built CLI (dist/swarm-bench.js, run by plain node as `npx swarm-bench` runs it): help,
 * version, refused flags, output destinations, scenario errors and `report` input sanity, each
 * with its exit code. The bundle is rebuilt first so the test sees this checkout's code. Spawns
 * run side by side and each gets a generous window: a hang fails the test, slowness does not.
 * Checks that need no process (the flag's wiring, the cap rule) run in-process through main().
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { exitCodeFor } from '../../bin/exit.ts';
import { configFromFlags, RUN_FLAGS } from '../../bin/shared.ts';
import { main } from '../../bin/swarm-bench.ts';
import type { TargetOutcome } from '../../lib/bench/targets.ts';
import { parseRunConfig } from '../../lib/config.ts';
import { InvalidInputError } from '../../lib/errors.ts';
import { OutputError } from '../../lib/fs/dirs.ts';
import { DirReportSink } from '../../lib/publish/dir.ts';
import { targetExitCode } from '../../lib/run.ts';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const CLI = join(ROOT, 'dist/swarm-bench.js');
/** A window for one CLI process to answer; far above its normal second or two. */
const WINDOW_MS = 90_000;

let dir: string;

beforeAll(() => {
  execFileSync(process.execPath, ['--import', 'tsx', 'scripts/build-cli.ts'], { cwd: ROOT, stdio: 'pipe' });
}, 120_000);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'swarm-cli-'));
  writeFileSync(join(dir, 'a-file'), 'not a directory');
  writeFileSync(join(dir, 'throws.mjs'), "throw new Error('boom at import');\nexport default {};\n");
  writeFileSync(
    join(dir, 'path-name.mjs'),
    "export default { category: 'custom', test: '../../etc/x', title: 'x', targets: [], swarms: () => [], describe: () => ({}), run: async () => {} };\n",
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the built CLI with plain node; resolves when it exits, rejects (and kills it) after the window. */
function cli(args: string[]): Promise<Outcome> {
  return new Promise((resolvePromise, reject) => {
    const child: ChildProcess = spawn(process.execPath, [CLI, ...args], {
      cwd: ROOT,
      env: { ...process.env, TMPDIR: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `swarm-bench ${args.join(' ')}: no exit within ${WINDOW_MS} ms; stdout ${stdout} stderr ${stderr}`,
        ),
      );
    }, WINDOW_MS);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** Run main() in-process, capturing what it writes. */
async function inProcess(argv: string[]): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += chunk.toString();
    return true;
  });
  try {
    const code = await main(argv, { PATH: process.env.PATH });
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe('the built CLI', () => {
  it('prints its version on stdout and exits 0 (node, no TypeScript loader)', async () => {
    // Act
    const version = await cli(['--version']);

    // Assess
    const expected = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string })
      .version;
    expect(version).toEqual({ code: 0, stdout: `${expected}\n`, stderr: '' });
    expect(readFileSync(CLI, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('shows every run flag with its default and allowed values, and refuses bad flags with exit 2 naming them', async () => {
    // Act
    const [help, conflicting, provider, hex, unknown, proc, reportOut, historyStore, throws, pathName, plan] =
      await Promise.all([
        cli(['run', '--help']),
        cli(['run', '--profile', 'quick', '--profile', 'load']),
        cli(['run', '--provider', 'e2b', '--provider', 'local']),
        cli(['run', '--agents', '0x10']),
        cli(['plan', '--bogus']),
        cli(['run', '--profile', 'quick', '--out', '/proc/x']),
        cli(['report', join(ROOT, 'test/fixtures/report/clean.json'), '--out', join(dir, 'a-file')]),
        cli(['history', '--store', join(dir, 'a-file')]),
        cli(['run', '--profile', 'quick', '--scenario', join(dir, 'throws.mjs')]),
        cli(['run', '--profile', 'quick', '--scenario', join(dir, 'path-name.mjs')]),
        cli([
          'plan',
          '--profile',
          'quick',
          '--test',
          'custom/high-frequency-trading',
          '--json',
          '--store',
          join(dir, 'plan-store'),
        ]),
      ]);

    // Assess
    expect(help.code).toBe(0);
    for (const flag of Object.keys(RUN_FLAGS)) expect(help.stdout).toContain(`--${flag}`);
    const helpText = help.stdout.replace(/\s+/g, ' ');
    expect(helpText).toMatch(
      /--profile <name> [^-]*\(choices: "quick", "default", "load", default: "default"\)/,
    );
    expect(helpText).toMatch(/--budget <usd> [^-]*\(default: "5"\)/);
    const refused: Array<[Outcome, RegExp]> = [
      [conflicting, /--profile given twice with different values \("quick", then "load"\)/],
      [provider, /--provider given twice with different values \("e2b", then "local"\)/],
      [hex, /--agents: a number in decimal notation \(got "0x10"\)/],
      [unknown, /unknown option '--bogus'/],
      [proc, /--out: a writable directory, or one that can be created; \/proc\/x cannot be created/],
      [reportOut, /--out: .*a-file exists and is not a directory/],
      [historyStore, /--store: .*a-file exists and is not a directory/],
      [throws, /--scenario: a module that loads; .*throws\.mjs failed at import .*boom at import/],
      [pathName, /--scenario: .*name of lower-case letters.*path-name\.mjs.*custom\/\.\.\/\.\.\/etc\/x/],
    ];
    for (const [outcome, names] of refused) {
      expect(outcome.code, outcome.stderr).toBe(2);
      expect(outcome.stderr.split('\n').filter(Boolean)).toHaveLength(1);
      expect(outcome.stderr).toMatch(names);
    }
    expect(existsSync('/proc/x')).toBe(false);
    expect(plan.code, plan.stderr).toBe(0);
    const units = (JSON.parse(plan.stdout) as { units: Array<{ unitId: string }> }).units.map(
      (u) => u.unitId,
    );
    expect(units).toEqual(['custom/high-frequency-trading']);
  });
});

/** A results file from the clean fixture with one sample replaced by `raw` (JSON text). */
function resultsWith(name: string, raw: string, unitIndex = 0): string {
  const text = JSON.stringify(
    JSON.parse(readFileSync(join(ROOT, 'test/fixtures/report/clean.json'), 'utf8')),
  );
  const data = JSON.parse(text) as { results: Array<{ series: Array<{ samples: number[] }> }> };
  const samples = data.results[unitIndex]?.series[0]?.samples as number[];
  samples[1] = 123_456.789;
  const marked = JSON.stringify(data).replace('123456.789', raw);
  const file = join(dir, name);
  writeFileSync(file, marked);
  return file;
}

describe('report refuses results files it cannot render honestly', () => {
  it('names the field of a null (NaN), infinite, negative or out-of-range sample and writes nothing', async () => {
    // Prepare
    const cases: Array<[string, RegExp]> = [
      ['null', /results\.0\.series\.0\.samples\.1: a finite number \(NaN is written as null.*\(got "null"\)/],
      ['1e999', /results\.0\.series\.0\.samples\.1: a finite number .*\(got "1e999"\)/],
      ['-967.1', /results\.0\.series\.0\.samples\.1: a sample of at least 0 \(got -967\.1\)/],
      ['90000000', /results\.0\.series\.0\.samples\.1: a time from 0 to 86,400,000 ms \(one day/],
    ];

    for (const [raw, names] of cases) {
      // Act
      const out = join(dir, `refused-${raw}`);
      const outcome = await inProcess(['report', resultsWith(`bad-${raw}.json`, raw), '--out', out]);

      // Assess
      expect(outcome.code, raw).toBe(2);
      expect(outcome.stderr.split('\n').filter(Boolean), raw).toHaveLength(1);
      expect(outcome.stderr, raw).toMatch(names);
      expect(existsSync(out) ? readdirSync(out) : [], raw).toEqual([]);
    }
  });

  it('caps long series by the stated evenly spaced rule and says so in the JSON report', async () => {
    // Prepare: the fixture's first series, 10 samples in the file, cap 4.
    const source = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/report/clean.json'), 'utf8')) as {
      results: Array<{ series: Array<{ samples: number[] }> }>;
    };
    const series = source.results[0]?.series[0] as { samples: number[] };
    series.samples = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const file = join(dir, 'long.json');
    writeFileSync(file, JSON.stringify(source, null, 2));
    const out = join(dir, 'capped');
    mkdirSync(out);

    // Act
    const outcome = await inProcess(['report', file, '--out', out, '--max-samples', '4']);

    // Assess: kept i where floor((i+1)*4/10) > floor(i*4/10): i = 2, 4, 7, 9.
    expect(outcome.code, outcome.stderr).toBe(0);
    expect(outcome.stderr).toMatch(/thinned to 4 \(evenly spaced/);
    const json = JSON.parse(readFileSync(join(out, 'SWARM_BENCHMARKS_REPORT.json'), 'utf8')) as {
      units: Array<{ series: Array<{ samples: number[]; thinned?: unknown }> }>;
    };
    const first = json.units[0]?.series[0];
    expect(first?.samples).toEqual([3, 5, 8, 10]);
    expect(first?.thinned).toEqual({ inFile: 10, kept: 4, rule: expect.stringMatching(/^evenly spaced/) });
    // Every series over the cap says what it held; those at or under it keep every raw sample, unmarked.
    for (const s of json.units.flatMap((u) => u.series) as Array<{
      samples: number[];
      thinned?: { inFile: number };
    }>) {
      if (s.thinned) expect([s.samples.length, s.thinned.inFile > 4]).toEqual([4, true]);
      else expect(s.samples.length).toBeLessThanOrEqual(4);
    }
  });
});

describe('flags wired to the run config', () => {
  it('--fail-on-inconclusive makes an Inconclusive verdict exit 1; without it only a Fail does', () => {
    // Prepare
    const inconclusive = [{ status: 'inconclusive' }, { status: 'pass' }] as TargetOutcome[];

    // Act
    const withFlag = configFromFlags({ 'fail-on-inconclusive': true }, {});
    const without = configFromFlags({}, {});

    // Assess
    expect(withFlag.failOnInconclusive).toBe(true);
    expect(without.failOnInconclusive).toBe(false);
    expect(targetExitCode(inconclusive, withFlag.failOnInconclusive)).toBe(1);
    expect(targetExitCode(inconclusive, without.failOnInconclusive)).toBe(0);
  });

  it('type errors read "an array", "an object", "an integer"', () => {
    const messages = [{ categories: 'creation' }, { slowdown: 'x' }, { agents: 2.5 }].map((input) => {
      try {
        parseRunConfig(input);
        return 'accepted';
      } catch (error) {
        return error instanceof InvalidInputError ? error.message : String(error);
      }
    });
    expect(messages[0]).toMatch(/^categories: an array/);
    expect(messages[1]).toMatch(/^slowdown: an object/);
    expect(messages[2]).toMatch(/^agents: an integer/);
    for (const message of messages) expect(message).not.toMatch(/\ba (array|object|int)\b/);
  });
});

describe('a write that fails after the work is done', () => {
  it('is an OutputError naming the path and the reason (exit 3), at once', async () => {
    // Prepare: the report directory exists, but where its charts folder should be there is a file.
    const out = join(dir, 'blocked');
    mkdirSync(out);
    writeFileSync(join(out, 'charts'), 'a file in the way');
    const lines: string[] = [];

    // Act
    const error = await new DirReportSink(out)
      .put('charts/x.svg', '<svg/>', 'image/svg+xml')
      .catch((e: unknown) => e);
    const code = exitCodeFor(error, (line) => lines.push(line));

    // Assess
    expect(error).toBeInstanceOf(OutputError);
    expect(code).toBe(3);
    expect(lines).toEqual([
      expect.stringMatching(
        /^swarm-bench: OutputError: could not write .*blocked\/charts\/x\.svg: .*ENOTDIR/,
      ),
    ]);
  });
});
