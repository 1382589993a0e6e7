/**
 * The E2B key never leaves the process that holds it: not in logs, reports, errors or stored items.
 * A canary key is set for a real CLI run (local provider) and searched for, binary-safe, in its
 * output, its report directory and its store directory; and an E2B provider holding the canary is
 * driven through a fake SDK whose every failure quotes the key back.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AuthenticationError, RateLimitError } from '@e2b/code-interpreter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newRunId } from '../../lib/bench/meta.ts';
import { runUnit } from '../../lib/bench/runner.ts';
import { describeError } from '../../lib/errors.ts';
import { DirReportSink } from '../../lib/publish/dir.ts';
import { writeReport } from '../../lib/report/write.ts';
import {
  type E2BCommandHandle,
  type E2BSandboxInstance,
  E2BSandboxProvider,
  type E2BSdk,
} from '../../lib/sandbox/e2b.ts';
import { openEmbeddedStore } from '../../lib/store/embedded.ts';
import { builtinSpec, leakedUnder, makeRoot, quickConfig, removeRoot, spawnCli, tally } from './helpers.ts';

const CANARY = 'e2b_canary_7f3c9a1d5e2b4c6a8f0e1d3c';
const counts = { faults: 0, leaked: 0 };
let root: string;

beforeAll(async () => {
  root = await makeRoot('secrets');
});

afterAll(async () => {
  const leaked = await leakedUnder(join(root, 'tmp'), 0);
  counts.leaked += leaked.length;
  tally(counts);
  await removeRoot(root);
});

/** Files under `dir` (recursively) whose bytes contain the canary. */
function filesWithCanary(dir: string): string[] {
  const needle = Buffer.from(CANARY);
  const hits: string[] = [];
  for (const name of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    const path = join(dir, name);
    if (statSync(path).isFile() && readFileSync(path).includes(needle)) hits.push(path);
  }
  return hits;
}

/** An SDK that fails in every way it can, quoting the caller's key in each message. */
function hostileSdk(
  failure: 'create' | 'connect' | 'run' | 'stdin' | 'stderr' | 'metrics' | 'kill' | 'list',
  make: () => unknown,
): E2BSdk {
  const instance: E2BSandboxInstance = {
    sandboxId: 'sbx-hostile',
    files: { write: async () => undefined },
    commands: {
      async run(_cmd, opts): Promise<E2BCommandHandle> {
        if (failure === 'run') throw make();
        let exit!: (error: unknown) => void;
        const exited = new Promise((_, reject) => {
          exit = reject;
        });
        exited.catch(() => undefined);
        setImmediate(() => {
          void opts.onStderr?.(`auth header was ${CANARY}\n`);
          exit(make());
        });
        const sendStdin = async () => {
          if (failure === 'stdin') throw make();
        };
        return { pid: 7, sendStdin, wait: () => exited, kill: async () => true };
      },
    },
    getHost: (port) => `${port}-sbx-hostile.e2b.app`,
    async getMetrics() {
      throw make();
    },
    async kill() {
      if (failure === 'kill') throw make();
      return true;
    },
  };
  return {
    async create() {
      if (failure === 'create') throw make();
      return instance;
    },
    async connect() {
      if (failure === 'connect') throw make();
      return instance;
    },
    list() {
      return {
        hasNext: true,
        nextItems: async () => {
          throw make();
        },
      };
    },
    async kill() {
      throw make();
    },
  };
}

const ERRORS: Array<[string, () => unknown]> = [
  ['AuthenticationError', () => new AuthenticationError(`Invalid API key ${CANARY}`)],
  ['RateLimitError', () => new RateLimitError(`Rate limit exceeded for ${CANARY}`)],
  ['fetch failed', () => new TypeError(`fetch failed (key=${CANARY})`, { cause: new Error(CANARY) })],
  ['plain Error', () => new Error(`request with X-API-Key: ${CANARY} failed; retry with ${CANARY}`)],
  ['thrown string', () => `boom ${CANARY}`],
];

function provider(sdk: E2BSdk): E2BSandboxProvider {
  return new E2BSandboxProvider({
    apiKey: CANARY,
    sdk,
    bundle: 'console.log("agent")',
    startTimeoutMs: 2_000,
    metricsWaitMs: 0,
  });
}

/** Start an agent in a sandbox of an SDK that fails at `failure` while starting it. */
function startAgentFailing(failure: 'run' | 'stdin' | 'stderr', make: () => unknown) {
  return async () => {
    const sandbox = await provider(hostileSdk(failure, make)).create({ timeoutMs: 60_000, metadata: {} });
    return sandbox.startAgent({ agentId: 'a0', secret: 's' });
  };
}

async function failureOf(action: () => Promise<unknown>): Promise<unknown> {
  try {
    await action();
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

describe('the E2B key never appears in errors', () => {
  it('every SDK failure, whatever it quotes, becomes an error without the key', async () => {
    const leaks: string[] = [];
    for (const [kind, make] of ERRORS) {
      // Prepare
      const cases: Array<[string, () => Promise<unknown>]> = [
        ['create', () => provider(hostileSdk('create', make)).create({ timeoutMs: 60_000, metadata: {} })],
        [
          'connect',
          () => provider(hostileSdk('connect', make)).connect('sbx-hostile', { timeoutMs: 60_000 }),
        ],
        ['start agent', startAgentFailing('run', make)],
        ['agent secret on stdin', startAgentFailing('stdin', make)],
        ['agent stderr', startAgentFailing('stderr', make)],
        [
          'metrics',
          async () =>
            (
              await provider(hostileSdk('metrics', make)).create({ timeoutMs: 60_000, metadata: {} })
            ).metrics(),
        ],
        [
          'kill',
          async () =>
            (await provider(hostileSdk('kill', make)).create({ timeoutMs: 60_000, metadata: {} })).kill(),
        ],
        ['list stale', () => provider(hostileSdk('list', make)).listStale({ stack: 's', maxAgeMs: 0 })],
        ['kill stale', () => provider(hostileSdk('list', make)).killStale({ stack: 's', maxAgeMs: 0 })],
      ];
      for (const [where, action] of cases) {
        counts.faults++;

        // Act
        const error = await failureOf(action);

        // Assess (collected)
        const shown = [String(error), JSON.stringify(describeError(error)), (error as Error).stack ?? ''];
        if (shown.some((text) => text.includes(CANARY))) leaks.push(`${kind} at ${where}: ${shown[0]}`);
      }
    }
    expect(leaks).toEqual([]);
  });

  it('a unit run on a failing E2B provider stores and reports its failure without the key', async () => {
    // Prepare
    const config = quickConfig({ categories: ['creation'], provider: 'e2b' });
    const spec = builtinSpec('creation/swarm-init', config);
    const make = ERRORS[3]?.[1] as () => unknown;
    counts.faults++;

    // Act
    const result = await runUnit(spec, {
      runId: newRunId(),
      config,
      provider: provider(hostileSdk('create', make)),
    });
    const reportDir = join(root, 'e2b-report');
    await writeReport(
      {
        meta: {
          runId: result.runId,
          status: 'completed',
          startedAt: result.startedAt,
          profile: 'quick',
          provider: 'e2b',
          template: { name: 'swarm-bench-agent', vcpu: 2, memoryMb: 512 },
          gitCommit: 'chaos',
          nodeVersion: process.version,
          machine: { platform: 'linux', arch: 'x64', cpus: 2, memoryGb: 4 },
          configHash: 'chaos',
          units: [spec],
        },
        results: [result],
      },
      new DirReportSink(reportDir),
    );

    // Assess
    expect(result.status).toBe('failed');
    expect(result.error?.message).toContain('[redacted]');
    expect(JSON.stringify(result)).not.toContain(CANARY);
    expect(filesWithCanary(reportDir)).toEqual([]);
  });
});

describe('the E2B key never appears in a CLI run', () => {
  it('a run with a canary E2B_API_KEY leaves it in no output, report file or stored item', async () => {
    // Prepare
    const tmp = join(root, 'tmp');
    const out = join(root, 'out');
    const store = join(root, 'store');
    await mkdir(tmp);
    const cli = spawnCli(
      [
        'run',
        '--profile',
        'quick',
        '--test',
        'trading/strategy-execution',
        '--no-scenarios',
        '--store',
        store,
        '--out',
        out,
      ],
      { TMPDIR: tmp, E2B_API_KEY: CANARY, SWARM_BENCH_DEBUG: '1', DEBUG: '*' },
    );

    // Act
    const { code } = await cli.exited;
    const opened = await openEmbeddedStore({ dir: store });
    let stored: string;
    try {
      const runs = await opened.store.listRuns({});
      const results = await Promise.all(runs.map((r) => opened.store.getResults(r.runId)));
      stored = JSON.stringify({ runs, results });
    } finally {
      await opened.close();
    }

    // Assess
    expect([0, 1], cli.stderr()).toContain(code);
    expect(stored).toContain('trading/strategy-execution');
    expect(cli.stdout()).not.toContain(CANARY);
    expect(cli.stderr()).not.toContain(CANARY);
    expect(stored).not.toContain(CANARY);
    expect(filesWithCanary(out)).toEqual([]);
    expect(filesWithCanary(store)).toEqual([]);
    expect(filesWithCanary(tmp)).toEqual([]);
  });
});
