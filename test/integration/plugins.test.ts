/**
 * Strategy plug-ins end to end with real agents: the example strategies and rule, and three faulty
 * plug-ins (one throws, one hangs, one allocates 1 GiB), bundled into the agent, validated in a
 * sandbox, and run by the strategy-execution and consensus benchmarks beside the built-ins.
 */
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPlan } from '../../lib/bench/plan.ts';
import { PROFILE_PARAMS } from '../../lib/bench/profiles.ts';
import { runUnits } from '../../lib/bench/runner.ts';
import { parseRunConfig, type RunConfig } from '../../lib/config.ts';
import { InvalidInputError } from '../../lib/errors.ts';
import { preparePlugins } from '../../lib/plugins/prepare.ts';
import { LocalSandboxProvider } from '../../lib/sandbox/local.ts';
import { STRATEGY_NAMES } from '../../lib/trading/strategies.ts';
import { expectPidsDead } from '../helpers/processes.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const OUT = resolve(ROOT, '.swarm-bench/test-plugins');
const examples = (file: string) => resolve(ROOT, 'examples/strategies', file);
const faulty = (file: string) => resolve(ROOT, 'test/fixtures/plugins', file);

let config: RunConfig;
let bundlePath: string;

beforeAll(async () => {
  // Arrange: the user's flags, bundled and validated the way `swarm-bench run` does it.
  const prepared = await preparePlugins(
    parseRunConfig({
      profile: 'quick',
      agents: 2,
      scenarios: false,
      tests: ['trading/strategy-execution', 'trading/consensus'],
      topologies: ['mesh'],
      strategies: [
        examples('rsi-pullback.ts'),
        examples('volume-breakout.ts'),
        faulty('throws.ts'),
        faulty('hangs.ts'),
        faulty('hog.ts'),
      ],
      decisionRule: examples('confidence-veto.ts'),
      market: examples('bars.csv'),
    }),
    { root: ROOT, outDir: OUT, sandboxes: (path) => new LocalSandboxProvider({ bundlePath: path }) },
  );
  config = prepared.config;
  bundlePath = prepared.bundle?.path ?? '';
});

describe('plug-in validation', () => {
  it('names every module by the name it declares, and the decision rule apart', () => {
    expect(config.plugins?.strategies).toEqual([
      'rsi-pullback',
      'volume-breakout',
      'faulty-throws',
      'faulty-hangs',
      'faulty-hog',
    ]);
    expect(config.plugins?.decisionRule).toBe('confidence-veto');
    expect(config.plugins?.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses a module without the interface, naming the flag and the file', async () => {
    const bad = parseRunConfig({ strategies: [faulty('bad-shape.ts')] });
    const attempt = preparePlugins(bad, {
      root: ROOT,
      outDir: OUT,
      sandboxes: (path) => new LocalSandboxProvider({ bundlePath: path }),
    });
    await expect(attempt).rejects.toBeInstanceOf(InvalidInputError);
    await expect(attempt).rejects.toThrow(/^--strategy: .*signal must be a function.*bad-shape\.ts/);
  });
});

describe('benchmarks with plug-ins', () => {
  const pids: number[] = [];
  let results: Awaited<ReturnType<typeof runUnits>>['results'];
  let provider: LocalSandboxProvider;

  beforeAll(async () => {
    provider = new LocalSandboxProvider({ bundlePath, onAgentExit: (exit) => pids.push(exit.pid) });
    ({ results } = await runUnits(buildPlan(config).units, { runId: 'plugins-test', config, provider }));
  }, 120_000);

  afterAll(async () => {
    await provider.killAll();
  });

  it('measures every plug-in beside the built-ins, under its own name', () => {
    const unit = results.find((r) => r.unitId === 'trading/strategy-execution');
    expect(unit?.status).toBe('ok');
    const rtt = (strategy: string) =>
      unit?.series.find((s) => s.name === 'strategy-rtt-ms' && s.labels.strategy === strategy);
    for (const strategy of [...STRATEGY_NAMES, 'rsi-pullback', 'volume-breakout']) {
      expect(rtt(strategy)?.samples.length, strategy).toBe(10);
    }
  });

  it('charges a throwing, hanging or 1 GiB plug-in to its own series only', () => {
    const unit = results.find((r) => r.unitId === 'trading/strategy-execution');
    const failures = (strategy: string) =>
      unit?.series.find((s) => s.name === 'strategy-failures' && s.labels.strategy === strategy)?.samples
        .length ?? 0;
    // Every call after the dry run fails: 5 warm-ups and 10 measured.
    for (const strategy of ['faulty-throws', 'faulty-hangs', 'faulty-hog']) {
      expect(failures(strategy), strategy).toBe(15);
    }
    for (const strategy of [...STRATEGY_NAMES, 'rsi-pullback', 'volume-breakout']) {
      expect(failures(strategy), strategy).toBe(0);
    }
    const faults = unit?.faults.join('\n') ?? '';
    expect(faults).toMatch(/faulty-throws failed \(error: RangeError: this strategy always throws/);
    expect(faults).toMatch(/faulty-hangs failed \(timeout: no answer within 1000 ms/);
    // 1 GiB hits the 256 MB heap limit, or on a loaded machine the deadline first; either way it is
    // the hog's failure (test/unit/plugin-host.test.ts pins the memory path itself).
    expect(faults).toMatch(/faulty-hog failed \((memory: heap limit of 256 MB reached|timeout: no answer)/);
    // The throughput series ran after the faulty plug-ins, on the same agents: they stayed up.
    // (one sample per batch of the quick profile).
    expect(unit?.series.find((s) => s.name === 'throughput-ops-s')?.samples.length).toBe(
      PROFILE_PARAMS.quick.batches,
    );
  });

  it("runs a consensus series with the user's strategies and decision rule", () => {
    const unit = results.find((r) => r.unitId === 'trading/consensus');
    expect(unit?.status).toBe('ok');
    const builtIn = unit?.series.find((s) => s.name === 'consensus-ms' && s.labels.rule === undefined);
    const user = unit?.series.find((s) => s.name === 'consensus-ms' && s.labels.rule === 'confidence-veto');
    expect(builtIn?.samples.length).toBe(15);
    // Votes of the faulty strategies abstain (hold, confidence 0); every round still decides.
    expect(user?.samples.length).toBe(15);
    expect(unit?.series.find((s) => s.name === 'rule-compute-ms')?.samples.length).toBe(15);
  });

  it('leaves no agent process behind', async () => {
    await provider.killAll();
    expect(pids.length).toBeGreaterThan(0);
    await expectPidsDead(pids);
  });
});
