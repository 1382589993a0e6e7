/**
 * Faults a run must survive, injected at the runner level with real agent processes: agents
 * SIGKILLed during consensus, state sync and throughput measurement; sandbox creation failing or
 * hanging; a store write and a report upload failing transiently; a unit reaching its deadline;
 * the same unit executed twice; measured spend reaching the budget. Each test asserts that nothing
 * was lost and that no agent process under this file's private sandbox root is left running.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BenchmarkDefinition } from '../../lib/bench/definition.ts';
import { buildRunMeta, newRunId } from '../../lib/bench/meta.ts';
import type { RunResults, UnitResult } from '../../lib/bench/model.ts';
import { buildPlan } from '../../lib/bench/plan.ts';
import { runUnit, runUnits, unitDeadlineMs } from '../../lib/bench/runner.ts';
import { defineScenario } from '../../lib/bench/scenario.ts';
import { DirReportSink } from '../../lib/publish/dir.ts';
import type { ReportSink } from '../../lib/publish/types.ts';
import { writeReport } from '../../lib/report/write.ts';
import { executeRun } from '../../lib/run.ts';
import type { LocalSandboxProvider } from '../../lib/sandbox/local.ts';
import type { Sandbox, SandboxCreateOptions, SandboxProvider } from '../../lib/sandbox/types.ts';
import { openEmbeddedStore } from '../../lib/store/embedded.ts';
import { SwarmManager } from '../../lib/swarm/manager.ts';
import type { TopologyKind } from '../../lib/swarm/topology.ts';
import { pidState } from '../helpers/processes.ts';
import { wrapProvider } from '../helpers/providers.ts';
import {
  agentPidsUnder,
  builtinSpec,
  leakedUnder,
  localProvider,
  makeRoot,
  quickConfig,
  removeRoot,
  specsOf,
  tally,
} from './helpers.ts';

const ENVIRONMENT = {
  gitCommit: 'chaos',
  nodeVersion: process.version,
  machine: { platform: 'linux', arch: 'x64', cpus: 2, memoryGb: 4 },
};
const counts = { faults: 0, leaked: 0, duplicates: 0 };
let root: string;
const providers: LocalSandboxProvider[] = [];

function provider(): LocalSandboxProvider {
  const made = localProvider(root);
  providers.push(made);
  return made;
}

beforeAll(async () => {
  root = await makeRoot('runner');
});

beforeEach(() => {
  // Prepare (shared): nothing of an earlier test may still run under this root.
  expect(agentPidsUnder(root)).toEqual([]);
});

afterEach(async () => {
  // Assess (shared): nothing left running once the runner returned; then clean up regardless.
  const leaked = await leakedUnder(root);
  await Promise.all(providers.splice(0).map((p) => p.killAll()));
  counts.leaked += leaked.length;
  expect(leaked, 'agent processes left running after the test').toEqual([]);
});

afterAll(async () => {
  tally(counts);
  await removeRoot(root);
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Fails the scenario instead of waiting forever when an operation hangs on a dead peer. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} still pending after ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

async function runScenario(def: BenchmarkDefinition, p: SandboxProvider = provider()) {
  const config = quickConfig({ categories: [] });
  const [spec] = specsOf([def], config);
  if (!spec) throw new Error('no unit planned');
  const runId = newRunId();
  const result = await runUnit(spec, { runId, config, provider: p, scenarios: [def] });
  return { result, runId, config, spec };
}

async function reportOf(results: UnitResult[], config = quickConfig({ categories: [] })): Promise<string> {
  const plan = buildPlan(config);
  const runId = results[0]?.runId ?? newRunId();
  const meta = buildRunMeta(runId, config, { ...plan, units: [] }, ENVIRONMENT, new Date());
  const run: RunResults = {
    meta: { ...meta, status: 'completed', endedAt: new Date().toISOString() },
    results,
  };
  const sink = new DirReportSink(join(root, `report-${runId}`));
  const written = await writeReport(run, sink);
  return readFile(written.markdown, 'utf8');
}

describe('an agent SIGKILLed mid-operation', () => {
  it('during consensus: the decision still commits with the remaining quorum and the report names the fault', async () => {
    // Prepare
    let crashedPid: number | undefined;
    const def = defineScenario({
      name: 'crash-in-consensus',
      agents: 5,
      async run(ctx) {
        const swarm = await ctx.createSwarm('mesh', 5);
        crashedPid = swarm.agents[3]?.endpoint.pid;
        const pending = swarm.consensus(ctx.bar(0));
        await swarm.crash(3);
        ctx.fault('agent a3 SIGKILLed during consensus');
        const first = await within(pending, 10_000, 'consensus');
        ctx.record('commit-ms', first.commitUs / 1000);
        const next = await within(swarm.consensus(ctx.bar(1)), 10_000, 'consensus after the crash');
        ctx.record('commit-ms', next.commitUs / 1000);
        ctx.figure(
          'votes-after-crash',
          next.votes,
          'count',
          ['commit-ms'],
          'votes of the decision after the crash',
        );
      },
    });
    counts.faults++;

    // Act
    const { result } = await runScenario(def);
    const markdown = await reportOf([result]);

    // Assess
    expect(result.status, JSON.stringify(result.error)).toBe('ok');
    expect(result.series.find((s) => s.name === 'commit-ms')?.samples).toHaveLength(2);
    const votes = result.figures.find((f) => f.name === 'votes-after-crash')?.value ?? 0;
    expect(votes).toBeGreaterThanOrEqual(3);
    expect(votes).toBeLessThanOrEqual(4);
    expect(result.faults).toContain('agent a3 SIGKILLed during consensus');
    expect(markdown).toContain('agent a3 SIGKILLed during consensus');
    expect(crashedPid && pidState(crashedPid)).not.toBe('alive');
  });

  it('during state sync: the round completes with the live agents instead of waiting for the dead one', async () => {
    // Prepare
    const syncs: Array<{ acked: number; expected: number }> = [];
    const def = defineScenario({
      name: 'crash-in-sync',
      agents: 5,
      async run(ctx) {
        const swarm = await ctx.createSwarm('mesh', 5);
        const pending = swarm.syncState({ positions: { BTC: 1 } }, { timeoutMs: 4_000 });
        await swarm.crash(4);
        ctx.fault('agent a4 SIGKILLed during state sync');
        const first = await pending;
        syncs.push(first);
        ctx.record('sync-ms', first.syncUs / 1000);
        const next = await swarm.syncState({ positions: { BTC: 2 } }, { timeoutMs: 4_000 });
        syncs.push(next);
        ctx.record('sync-ms', next.syncUs / 1000);
      },
    });
    counts.faults++;

    // Act
    const { result } = await runScenario(def);

    // Assess
    expect(result.status, JSON.stringify(result.error)).toBe('ok');
    expect(result.series.find((s) => s.name === 'sync-ms')?.samples).toHaveLength(2);
    // Every agent the round still waited for acknowledged it; the second round excludes a4.
    for (const sync of syncs) expect(sync.acked).toBeGreaterThanOrEqual(sync.expected);
    expect(syncs[1]?.expected).toBe(4);
    expect(result.faults).toContain('agent a4 SIGKILLed during state sync');
  });

  it('during throughput measurement: the blast ends with the survivors instead of hanging on the dead peer', async () => {
    // Prepare
    const def = defineScenario({
      name: 'crash-in-blast',
      agents: 5,
      async run(ctx) {
        const swarm = await ctx.createSwarm('mesh', 5);
        const pending = swarm.blast(5_000, 64);
        await swarm.crash(2);
        ctx.fault('agent a2 SIGKILLed during message throughput');
        // The agents' flush wait is 30 s: finishing well inside it proves the dead link ended it.
        const run = await within(pending, 15_000, 'blast with a dead peer');
        ctx.record('delivered-msgs', run.messages, 'count');
        ctx.record('survivors', run.perAgent.length, 'count');
      },
    });
    counts.faults++;

    // Act
    const { result } = await runScenario(def);

    // Assess
    expect(result.status, JSON.stringify(result.error)).toBe('ok');
    expect(result.series.find((s) => s.name === 'survivors')?.samples).toEqual([4]);
    expect(result.series.find((s) => s.name === 'delivered-msgs')?.samples[0]).toBeGreaterThan(0);
    expect(result.faults).toContain('agent a2 SIGKILLed during message throughput');
  });
});

/** A provider whose create() fails for some calls (decided per call), counting what it refused. */
function failingProvider(
  inner: SandboxProvider,
  fails: (options: SandboxCreateOptions, call: number) => boolean,
) {
  const state = { calls: 0, refused: 0 };
  const wrapped = wrapProvider(inner, {
    async create(options) {
      state.calls++;
      if (fails(options, state.calls)) {
        state.refused++;
        throw Object.assign(new Error('injected: sandbox service unavailable'), {
          name: 'ServiceUnavailable',
        });
      }
      return inner.create(options);
    },
  });
  return { provider: wrapped, state };
}

/** A two-agent scenario that creates one swarm and records one consensus decision. */
function tinyScenario(name: string, topology: TopologyKind) {
  return defineScenario({
    name,
    agents: 2,
    async run(ctx) {
      const swarm = await ctx.createSwarm(topology, 2);
      ctx.record('commit-ms', (await swarm.consensus(ctx.bar(0))).commitUs / 1000);
    },
  });
}

describe('sandbox creation failing', () => {
  it('retries a unit whose first creations fail, fails a unit whose creations always fail, and leaves the others alone', async () => {
    // Prepare
    const tiny = (name: string) => tinyScenario(name, 'star');
    const defs = [tiny('flaky-create'), tiny('dead-create'), tiny('healthy-create')];
    const config = quickConfig({ categories: [] });
    let flaky = 0;
    const { provider: p, state } = failingProvider(provider(), (options) => {
      if (options.metadata.unit === 'custom/dead-create') return true;
      return options.metadata.unit === 'custom/flaky-create' && ++flaky <= 2;
    });

    // Act
    const { results } = await runUnits(specsOf(defs, config), {
      runId: newRunId(),
      config,
      provider: p,
      scenarios: defs,
    });
    counts.faults += state.refused;

    // Assess
    const byId = new Map(results.map((r) => [r.unitId, r]));
    expect(results).toHaveLength(3);
    const retried = byId.get('custom/flaky-create');
    expect(retried?.status).toBe('ok');
    expect(retried?.faults.filter((f) => /sandbox creation attempt \d failed/.test(f))).toHaveLength(2);
    expect(retried?.faults.join('\n')).toMatch(/retrying in \d+ ms/);
    const dead = byId.get('custom/dead-create');
    expect(dead?.status).toBe('failed');
    expect(dead?.error?.message).toContain('injected: sandbox service unavailable');
    expect(dead?.usage.sandboxesCreated).toBe(0);
    expect(byId.get('custom/healthy-create')?.status).toBe('ok');
    expect(byId.get('custom/healthy-create')?.faults).toEqual([]);
    // Two for the flaky unit; three attempts (the manager's limit) for each of the dead unit's two sandboxes.
    expect(state.refused).toBe(2 + 2 * 3);
  });

  it('abandons a creation that hangs past createTimeoutMs, retries, and kills the sandbox when it arrives late', async () => {
    // Prepare
    const inner = provider();
    let late: Sandbox | undefined;
    let lateArrived!: () => void;
    const arrived = new Promise<void>((resolve) => {
      lateArrived = resolve;
    });
    const { provider: p } = failingProvider(inner, () => false);
    let calls = 0;
    // The first creation hangs until the swarm stands on the retry, however long that takes on a
    // loaded machine; the timeout leaves a real local creation (the retry) ample time.
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const hanging: SandboxProvider = {
      ...p,
      async create(options) {
        if (++calls > 1) return inner.create(options);
        await released;
        late = await inner.create(options);
        lateArrived();
        return late;
      },
    };
    const faults: string[] = [];
    const manager = new SwarmManager({
      provider: hanging,
      createTimeoutMs: 2_000,
      createRetry: { baseMs: 20, random: () => 0.5 },
      onFault: (text) => faults.push(text),
    });
    counts.faults++;

    // Act
    const swarm = await manager.createSwarm('star', 1);
    release();
    await arrived;
    const lateKilled = await waitUntil(() => late?.alive === false, 20_000);
    await swarm.destroy();

    // Assess
    expect(faults).toHaveLength(1);
    expect(faults[0]).toMatch(
      /attempt 1 failed \(TimeoutError: sandbox creation took longer than 2000 ms\); retrying in 10 ms/,
    );
    expect(lateKilled).toBe(true);
    expect(inner.live()).toEqual([]);
  });
});

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await sleep(20);
  return condition();
}

describe('deadlines, duplicates and budgets', () => {
  it('a unit whose deadline is a few hundred ms ahead stops itself and records a partial result with the reason', async () => {
    // Prepare
    const config = quickConfig({ categories: ['trading'] });
    const spec = builtinSpec('trading/consensus', config);
    counts.faults++;

    // Act
    const result = await runUnit(spec, {
      runId: newRunId(),
      config,
      provider: provider(),
      deadlineAt: Date.now() + 400,
    });

    // Assess
    expect(result.status).toBe('partial');
    expect(result.error?.message).toBe('stopped early: deadline reached');
    // Creating sandboxes stopped with the deadline: far fewer than the plan's.
    expect(result.usage.sandboxesCreated).toBeLessThan(spec.estimate.sandboxes);
  });

  it('a scenario whose run() never resolves ends at its derived deadline (factor x estimate + margin) with a partial result and the reason; its agents are killed', async () => {
    // Prepare: agents up, then a promise that never settles, holding its swarm.
    const hang = defineScenario({
      name: 'hangs-forever',
      agents: 2,
      workloadSeconds: 0,
      async run(ctx) {
        // Recorded first: on a loaded machine the swarm may still be starting at the deadline.
        ctx.record('before-hang-ms', 1);
        await ctx.createSwarm('mesh', 2);
        await new Promise<void>(() => {});
      },
    });
    const config = quickConfig({ categories: [], unitDeadlineFactor: 0.5 });
    const [spec] = specsOf([hang], config);
    if (!spec) throw new Error('no unit planned');
    counts.faults++;
    // The deadline this unit gets; every wait below is a generous window around it.
    const deadlineMs = unitDeadlineMs(spec, config.unitDeadlineFactor, 0);

    // Act
    const startedAt = Date.now();
    const result = await runUnit(spec, {
      runId: newRunId(),
      config,
      provider: provider(),
      scenarios: [hang],
      unitDeadlineMarginMs: 0,
    });
    const tookMs = Date.now() - startedAt;

    // Assess
    expect(result.status).toBe('partial');
    expect(result.error?.message).toBe('stopped early: deadline reached');
    expect(result.faults.join('\n')).toMatch(
      /run\(\) had not returned 2000 ms after the unit's deadline .*; abandoned/,
    );
    expect(result.series.map((s) => s.name)).toContain('before-hang-ms');
    expect(tookMs).toBeGreaterThanOrEqual(deadlineMs);
  });

  it('an interrupt ends a scenario that ignores it after a short grace, not at its deadline', async () => {
    // Prepare
    const hang = defineScenario({
      name: 'ignores-interrupts',
      agents: 1,
      async run(ctx) {
        await ctx.createSwarm('mesh', 1);
        await new Promise<void>(() => {});
      },
    });
    const config = quickConfig({ categories: [], unitDeadlineFactor: 100 });
    const [spec] = specsOf([hang], config);
    if (!spec) throw new Error('no unit planned');
    const controller = new AbortController();
    counts.faults++;

    // Act
    const running = runUnit(spec, {
      runId: newRunId(),
      config,
      provider: provider(),
      scenarios: [hang],
      signal: controller.signal,
      onEvent: () => undefined,
    });
    await sleep(3_000);
    controller.abort('SIGINT');
    const result = await running;

    // Assess
    expect(result.status).toBe('partial');
    expect(result.error?.message).toBe('stopped early: interrupted');
    expect(result.faults.join('\n')).toContain(
      'run() had not returned 2000 ms after the interrupt; abandoned',
    );
  });

  it('the same unit executed twice for one run id leaves one stored result and the same report', async () => {
    // Prepare
    const opened = await openEmbeddedStore({ dir: join(root, 'store-twice') });
    try {
      const def = defineScenario({
        name: 'twice',
        agents: 2,
        async run(ctx) {
          const swarm = await ctx.createSwarm('star', 2);
          ctx.record('commit-ms', (await swarm.consensus(ctx.bar(0))).commitUs / 1000);
        },
      });
      const config = quickConfig({ categories: [] });
      const plan = buildPlan(config, [def]);
      const runId = newRunId();
      const meta = buildRunMeta(runId, config, plan, ENVIRONMENT, new Date());
      await opened.store.createRun(meta);
      const spec = plan.units[0];
      if (!spec) throw new Error('no unit planned');
      const deps = { runId, config, provider: provider(), scenarios: [def] };
      const runOf = async (): Promise<RunResults> => ({
        meta,
        results: await opened.store.getResults(runId),
      });

      // Act
      const first = await runUnit(spec, deps);
      const firstPut = await opened.store.putResult(first);
      const reportAfterFirst = await writeReport(await runOf(), new DirReportSink(join(root, 'twice-1')));
      const second = await runUnit(spec, deps);
      const secondPut = await opened.store.putResult(second);
      const reportAfterSecond = await writeReport(await runOf(), new DirReportSink(join(root, 'twice-2')));
      const stored = await opened.store.getResults(runId);
      counts.duplicates += stored.length - new Set(stored.map((r) => r.unitId)).size;

      // Assess
      expect(first.status).toBe('ok');
      expect(second.status).toBe('ok');
      expect([firstPut, secondPut]).toEqual(['written', 'exists']);
      expect(stored).toHaveLength(1);
      expect(stored[0]?.startedAt).toBe(first.startedAt);
      expect(await readFile(reportAfterSecond.markdown, 'utf8')).toBe(
        await readFile(reportAfterFirst.markdown, 'utf8'),
      );
    } finally {
      await opened.close();
    }
  });

  it('measured spend reaching the budget stops sandbox creation inside the unit; the run says over budget', async () => {
    // Prepare: a provider billed 1000x (as an expensive template would be), so spend grows fast.
    const inner = provider();
    const expensive = wrapProvider(inner, {
      usage: () => {
        const usage = inner.usage();
        return { created: usage.created, sandboxSeconds: usage.sandboxSeconds * 1000 };
      },
    });
    const def = defineScenario({
      name: 'spender',
      agents: 1,
      workloadSeconds: 0,
      async run(ctx) {
        for (let i = 0; i < 5; i++) {
          await ctx.withSwarm('star', 1, async (swarm) => {
            ctx.record('commit-ms', (await swarm.consensus(ctx.bar(i))).commitUs / 1000);
            await sleep(300);
          });
        }
      },
    });
    const opened = await openEmbeddedStore({ dir: join(root, 'store-budget') });
    try {
      const config = quickConfig({ categories: [], budgetUsd: 0.001 });
      counts.faults++;

      // Act
      const outcome = await executeRun({
        config,
        provider: expensive,
        store: opened.store,
        sink: new DirReportSink(join(root, 'report-budget')),
        environment: ENVIRONMENT,
        scenarios: [def],
      });
      const markdown = await readFile(outcome.report.markdown, 'utf8');

      // Assess
      const [result] = outcome.results;
      expect(result?.status).toBe('partial');
      expect(result?.error?.message).toBe('stopped early: over budget');
      expect(result?.usage.sandboxesCreated).toBe(1);
      expect(result?.series.find((s) => s.name === 'commit-ms')?.samples).toHaveLength(1);
      expect(result?.faults.join('\n')).toMatch(/over budget: measured spend .* reached budgetUsd \$0\.001/);
      expect(outcome.meta.status).toBe('partial');
      expect(outcome.meta.reason).toMatch(/^over budget/);
      expect(markdown).toMatch(/over budget/);
      expect(outcome.exitCode).toBe(3);
    } finally {
      await opened.close();
    }
  });
});

describe('transient store and report failures', () => {
  it('a result write and a report upload that fail once are retried: the run completes, nothing duplicated', async () => {
    // Prepare
    const opened = await openEmbeddedStore({ dir: join(root, 'store-flaky') });
    const client = opened.client as unknown as { send: (command: unknown) => Promise<unknown> };
    const send = client.send.bind(client);
    let resultPuts = 0;
    client.send = async (command) => {
      const c = command as { constructor: { name: string }; input?: { Item?: { kind?: string } } };
      if (c.constructor.name === 'PutCommand' && c.input?.Item?.kind === 'result') {
        resultPuts++;
        // First put: throttled before it reaches the table. Second: applied, but the answer is lost.
        if (resultPuts === 1)
          throw Object.assign(new Error('injected throttle'), { name: 'ThrottlingException' });
        if (resultPuts === 3) {
          await send(command);
          throw Object.assign(new Error('injected: socket hang up'), { code: 'ECONNRESET' });
        }
      }
      return send(command);
    };
    const dir = new DirReportSink(join(root, 'report-flaky'));
    const puts = new Map<string, number>();
    let sinkFailures = 0;
    const flakySink: ReportSink = {
      async put(name, body, type) {
        if (sinkFailures === 0) {
          sinkFailures++;
          throw Object.assign(new Error('injected: upload connection reset'), { code: 'ECONNRESET' });
        }
        puts.set(name, (puts.get(name) ?? 0) + 1);
        return dir.put(name, body, type);
      },
    };
    const tiny = (name: string) => tinyScenario(name, 'ring');
    const defs = [tiny('flaky-store-a'), tiny('flaky-store-b')];
    counts.faults += 3;

    try {
      // Act
      const outcome = await executeRun({
        config: quickConfig({ categories: [] }),
        provider: provider(),
        store: opened.store,
        sink: flakySink,
        environment: ENVIRONMENT,
        scenarios: defs,
      });
      const stored = await opened.store.getResults(outcome.runId);
      counts.duplicates += stored.length - new Set(stored.map((r) => r.unitId)).size;
      counts.duplicates += [...puts.values()].filter((n) => n > 1).length;

      // Assess
      expect(outcome.meta.status).toBe('completed');
      expect(stored.map((r) => [r.unitId, r.status])).toEqual([
        ['custom/flaky-store-a', 'ok'],
        ['custom/flaky-store-b', 'ok'],
      ]);
      expect(resultPuts).toBeGreaterThanOrEqual(4);
      expect(sinkFailures).toBe(1);
      expect([...puts.values()].every((n) => n === 1)).toBe(true);
      expect(puts.has('SWARM_BENCHMARKS_REPORT.md')).toBe(true);
      expect(await readFile(outcome.report.markdown, 'utf8')).toContain('flaky-store-b');
    } finally {
      await opened.close();
    }
  });
});
