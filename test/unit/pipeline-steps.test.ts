import { describe, expect, it } from 'vitest';
import { STACK_CONTEXT } from '../../infra/definition.ts';
import type { RunMeta, UnitResult } from '../../lib/bench/model.ts';
import { countTargets, evaluateTargets } from '../../lib/bench/targets.ts';
import { MemoryNotifier } from '../../lib/notify/local.ts';
import { runIdForExecution } from '../../lib/pipeline/events.ts';
import { reapStep } from '../../lib/pipeline/reap.ts';
import {
  failRunStep,
  failureReason,
  planStep,
  publishStep,
  REPORT_BASENAME,
  unitStep,
} from '../../lib/pipeline/steps.ts';
import { resolveIntrinsics } from '../../lib/pipeline/template.ts';
import { parseExpirySeconds } from '../../lib/publish/s3.ts';
import type { ReportSink } from '../../lib/publish/types.ts';
import type { SandboxProvider } from '../../lib/sandbox/types.ts';
import { writeBehind } from '../../lib/site/write-behind.ts';
import type { ResultStore } from '../../lib/store/types.ts';
import { loadFixture } from './report-helpers.ts';

/** Just enough of a ResultStore, in memory, recording every call. */
function memoryStore() {
  const runs = new Map<string, RunMeta>();
  const results = new Map<string, UnitResult>();
  const calls: string[] = [];
  const store: ResultStore = {
    async createRun(meta) {
      calls.push('createRun');
      if (runs.has(meta.runId)) return 'exists';
      runs.set(meta.runId, structuredClone(meta));
      return 'created';
    },
    async finishRun(runId, patch) {
      calls.push('finishRun');
      const run = runs.get(runId);
      if (run) Object.assign(run, patch);
    },
    async markNotified(runId) {
      calls.push('markNotified');
      const run = runs.get(runId);
      if (run) run.notification = 'sent';
    },
    async getRun(runId) {
      return runs.get(runId);
    },
    // The pipeline steps neither beat nor sweep; these keep the fake a whole ResultStore.
    async heartbeat(runId) {
      return runs.get(runId)?.status === 'running' ? 'ok' : 'not-running';
    },
    async abandonRun() {
      return false;
    },
    async putResult(result) {
      calls.push('putResult');
      const key = `${result.runId}/${result.unitId}`;
      const stored = results.get(key);
      if (stored && !(stored.status === 'failed' && result.status !== 'failed')) return 'exists';
      results.set(key, result);
      return 'written';
    },
    async getResults(runId) {
      calls.push('getResults');
      return [...results.values()].filter((r) => r.runId === runId);
    },
    async getResult(runId, unitId) {
      calls.push('getResult');
      return results.get(`${runId}/${unitId}`);
    },
    async resultUnitIds(runId) {
      calls.push('resultUnitIds');
      return [...results.values()].filter((r) => r.runId === runId).map((r) => r.unitId);
    },
    async listRuns() {
      return [...runs.values()];
    },
    async history() {
      return [];
    },
    async close() {},
  };
  return { store, calls, runs, results };
}

const environment = {
  gitCommit: 'abc',
  nodeVersion: 'v22',
  machine: { platform: 'linux', arch: 'arm64', cpus: 2, memoryGb: 4 },
};
const now = () => new Date('2026-11-29T00:00:00Z');

function refusingProvider(): SandboxProvider & { created: number; killed: number } {
  return {
    name: 'local',
    maxConcurrent: 4,
    resources: { vcpu: 2, memoryMb: 512 },
    created: 0,
    killed: 0,
    async create() {
      this.created++;
      throw Object.assign(new Error('no capacity'), { name: 'SandboxStartError' });
    },
    live: () => [],
    usage: () => ({ created: 0, sandboxSeconds: 0 }),
    async killAll() {
      this.killed++;
      return 0;
    },
  };
}

describe('planStep', () => {
  it.each([
    [{ bogus: 1 }, /^bogus: unknown field/],
    [{ budgetUsd: 0 }, /^budgetUsd: /],
    [{ agents: 500 }, /^agents: at most 100/],
    [{ categories: ['astrology'] }, /^category: /],
    [{ profile: 7 }, /^profile: /],
    // A CSV path names a file on the requester's machine; the unit Lambdas could never read it.
    [{ market: './bars.csv' }, /^market: gbm:key=value/],
  ])('refuses %j naming the field, before recording a run', async (input, message) => {
    // Prepare
    const { store, calls } = memoryStore();

    // Act
    const attempt = planStep(input, { store, now, environment });

    // Assess
    await expect(attempt).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: expect.stringMatching(message),
    });
    expect(calls).toEqual([]);
  });

  it('refuses a plan over the per-run budget with BudgetExceededError', async () => {
    const { store, calls } = memoryStore();
    const attempt = planStep({ profile: 'load', budgetUsd: 0.0001 }, { store, now, environment });
    await expect(attempt).rejects.toMatchObject({ name: 'BudgetExceededError' });
    expect(calls).toEqual([]);
  });

  it('plans the same run again for a retried Plan of the same execution', async () => {
    // Prepare
    const { store, runs } = memoryStore();
    const runId = runIdForExecution('arn:aws:states:us-east-1:1:execution:m:e1', '2026-11-29T00:00:00.123Z');
    const input = { profile: 'quick', categories: ['creation'], scenarios: false };

    // Act
    const first = await planStep(input, { store, now, environment, runId });
    const second = await planStep(input, { store, now, environment, runId });

    // Assess
    expect(runId).toMatch(/^20261129T000000Z-[0-9a-f]{6}$/);
    expect(second).toEqual(first);
    expect(runs.size).toBe(1);
    expect(first.units.map((u) => u.unitId)).toEqual([
      'creation/swarm-init',
      'creation/agent-deployment',
      'creation/parallel-vs-sequential',
    ]);
  });

  it('splits the units over the two Maps and sets their concurrency and pool settings', async () => {
    // Prepare
    const { store } = memoryStore();
    const input = { provider: 'e2b', profile: 'quick', maxSandboxes: 100, scenarios: false };

    // Act
    const wide = await planStep(input, { store, now, environment, maxConcurrency: 5 });
    const local = await planStep(
      { ...input, provider: 'local' },
      { store, now, environment, maxConcurrency: 5 },
    );
    const unpooled = await planStep(
      { ...input, pooling: false },
      { store, now, environment, maxConcurrency: 5 },
    );

    // Assess: creation units one at a time passing the whole pool on; pooled units side by side,
    // each claiming what it needs.
    expect(wide.creationUnits.map((item) => item.unitId)).toEqual([
      'creation/swarm-init',
      'creation/agent-deployment',
      'creation/parallel-vs-sequential',
    ]);
    expect(wide.creationUnits.length + wide.pooledUnits.length).toBe(wide.units.length);
    expect(wide.concurrency).toEqual({ creation: 1, pooled: 5 });
    expect(wide.pool).toEqual({
      creation: { claimAll: true, concurrency: 5 },
      pooled: { claimAll: false, concurrency: 5 },
    });
    expect(wide.estimate.pipeline.sandboxes).toBe(wide.estimate.sandboxes);
    expect(local.concurrency).toEqual({ creation: 1, pooled: 1 });
    expect(local.pool.pooled.claimAll).toBe(true);
    expect(unpooled.pooledUnits).toEqual([]);
    expect(unpooled.creationUnits).toHaveLength(unpooled.units.length);
  });
});

describe('unitStep', () => {
  it('returns a stored good result without running the unit again', async () => {
    // Prepare
    const { store } = memoryStore();
    const { runId, config } = await planStep(
      { profile: 'quick', categories: ['creation'], scenarios: false },
      { store, now, environment },
    );
    const stored = {
      runId,
      unitId: 'creation/swarm-init',
      status: 'ok',
      durationMs: 5,
      usage: { sandboxesCreated: 1, sandboxSeconds: 2, operations: 0 },
    };
    await store.putResult(stored as UnitResult);
    const provider = refusingProvider();

    // Act
    const output = await unitStep(
      { runId, unitId: 'creation/swarm-init', config },
      { store, provider, deadlineAt: Date.now() + 60_000 },
    );

    // Assess
    expect(output).toMatchObject({ status: 'ok', reused: true, sandboxSeconds: 2 });
    expect(provider.created).toBe(0);
  });

  it('throws a sandbox start failure for the state machine to retry, storing nothing, killing everything', async () => {
    // Prepare
    const { store, results } = memoryStore();
    const { runId, config } = await planStep(
      { profile: 'quick', categories: ['creation'], scenarios: false },
      { store, now, environment },
    );
    const provider = refusingProvider();

    // Act
    const attempt = unitStep(
      { runId, unitId: 'creation/swarm-init', config },
      { store, provider, deadlineAt: Date.now() + 60_000 },
    );

    // Assess
    await expect(attempt).rejects.toMatchObject({ name: 'SandboxStartError' });
    expect(results.size).toBe(0);
    expect(provider.killed).toBe(1);
  });
});

describe('publishStep', () => {
  it('counts passed, failed, inconclusive and pending targets in its output and the notification', async () => {
    // Prepare: the clean report fixture as a running run in the store (its targets: 3 pass, 14 inconclusive).
    const fixture = loadFixture('clean');
    const runId = '20261129T000000Z-abc123';
    const { store } = memoryStore();
    await store.createRun({ ...fixture.meta, runId, status: 'running' });
    for (const result of fixture.results) await store.putResult({ ...result, runId });
    const stored: string[] = [];
    const sink: ReportSink = {
      async put(name) {
        stored.push(name);
        return { location: `memory://${name}` };
      },
    };
    const notifier = new MemoryNotifier();
    const expected = countTargets(evaluateTargets({ ...fixture, meta: { ...fixture.meta, runId } }));
    // Act
    const output = await publishStep({ runId }, { store, sink, notifier, now });
    // Assess
    expect(expected.inconclusive).toBeGreaterThan(0);
    expect(output.targets).toEqual(expected);
    const line = `Targets: ${expected.pass} passed, ${expected.fail} failed, ${expected.inconclusive} inconclusive, ${expected.pending} pending.`;
    expect(output.summary).toContain(line);
    expect(notifier.sent).toHaveLength(1);
    expect(notifier.sent[0]!.message).toContain(line);
    expect(stored).toContain(`runs/${runId}/${REPORT_BASENAME}.md`);
  });
});

describe('publishStep and the stored run', () => {
  /** A notifier that reads the stored run as a reader of the notification would, failing the first `failures` sends. */
  function readingNotifier(store: ResultStore, runId: string, failures = 0) {
    const seen: Array<{ subject: string; stored: string | undefined }> = [];
    let attempts = 0;
    return {
      seen,
      async notify(subject: string) {
        attempts++;
        if (attempts <= failures)
          throw Object.assign(new Error('SNS unavailable'), { name: 'InternalError' });
        seen.push({ subject, stored: (await store.getRun(runId))?.status });
      },
    };
  }
  const sink: ReportSink = {
    async put(name) {
      return { location: `memory://${name}` };
    },
  };
  async function storedCleanRun() {
    const fixture = loadFixture('clean');
    const runId = '20261129T000000Z-def456';
    const memory = memoryStore();
    await memory.store.createRun({ ...fixture.meta, runId, status: 'running' });
    for (const result of fixture.results) await memory.store.putResult({ ...result, runId });
    return { ...memory, runId };
  }

  it('stores the run finished before it notifies: the notified reader finds it finished, not running', async () => {
    // Prepare
    const { store, runs, runId, calls } = await storedCleanRun();
    const notifier = readingNotifier(store, runId);

    // Act
    const output = await publishStep({ runId }, { store, sink, notifier, now });

    // Assess
    expect(notifier.seen).toEqual([
      { subject: expect.stringContaining(output.status), stored: output.status },
    ]);
    expect(output.status).not.toBe('running');
    expect(calls.filter((call) => call === 'finishRun' || call === 'markNotified')).toEqual([
      'finishRun',
      'markNotified',
    ]);
    expect(runs.get(runId)?.notification).toBe('sent');
    expect(Object.keys(output.timings).sort()).toEqual(
      ['finish', 'read', 'report', 'reportIo', 'reportStore', 'site', 'siteIo', 'siteStore'].sort(),
    );
  });

  it('a retry after a failed notification sends it (the run is already finished), and a third run sends nothing', async () => {
    // Prepare
    const { store, runs, runId } = await storedCleanRun();
    const notifier = readingNotifier(store, runId, 1);

    // Act
    const failed = await publishStep({ runId }, { store, sink, notifier, now }).catch(
      (error: Error) => error,
    );
    const pending = runs.get(runId)?.notification;
    const retried = await publishStep({ runId }, { store, sink, notifier, now });
    const again = await publishStep({ runId }, { store, sink, notifier, now });

    // Assess
    expect(failed).toMatchObject({ name: 'InternalError' });
    expect(pending).toBe('pending');
    expect(retried.notified).toBe(true);
    expect(again.notified).toBe(false);
    expect(notifier.seen).toEqual([{ subject: expect.any(String), stored: retried.status }]);
    expect(runs.get(runId)?.notification).toBe('sent');
  });
});

describe('writeBehind (the site sink of Publish)', () => {
  /** A sink whose puts finish only when released, in any order the test picks. */
  function gatedSink(failing = '') {
    const stored: string[] = [];
    const gates = new Map<string, () => void>();
    return {
      stored,
      release: (key: string) => gates.get(key)?.(),
      sink: {
        async get() {
          return undefined;
        },
        put(key: string) {
          return new Promise<void>((resolve, reject) => {
            gates.set(key, () => {
              if (key === failing) return reject(new Error(`${key} refused`));
              stored.push(key);
              resolve();
            });
          });
        },
      },
    };
  }
  const tick = () => new Promise((resolve) => setImmediate(resolve));

  it('returns from each put at once and puts the manifest only after every earlier page is stored', async () => {
    // Prepare
    const gated = gatedSink();
    const sink = writeBehind(gated.sink, 'manifest.json');

    // Act: both pages and the manifest are handed over before any upload finished.
    await sink.put('a.html', 'a');
    await sink.put('b.html', 'b');
    await sink.put('manifest.json', '{}');
    gated.release('b.html');
    await tick();
    gated.release('manifest.json');
    await tick();
    const beforeA = [...gated.stored];
    gated.release('a.html');
    await tick();
    gated.release('manifest.json');
    await sink.flush();

    // Assess
    expect(beforeA).toEqual(['b.html']);
    expect(gated.stored).toEqual(['b.html', 'a.html', 'manifest.json']);
  });

  it('never puts the manifest after a failed page, and flush throws that failure', async () => {
    // Prepare
    const gated = gatedSink('a.html');
    const sink = writeBehind(gated.sink, 'manifest.json');

    // Act
    await sink.put('a.html', 'a');
    await sink.put('manifest.json', '{}');
    gated.release('a.html');
    const flushed = await sink.flush().catch((error: Error) => error);
    gated.release('manifest.json');
    await tick();

    // Assess
    expect(flushed).toMatchObject({ message: 'a.html refused' });
    expect(gated.stored).toEqual([]);
  });
});

describe('failureReason', () => {
  it('takes the errorMessage of a Lambda Cause and drops its trace', () => {
    const cause = JSON.stringify({
      errorType: 'TimeoutError',
      errorMessage: 'agent a3 silent',
      trace: ['at x (y.ts:1)'],
    });
    expect(failureReason({ Error: 'TimeoutError', Cause: cause })).toEqual({
      name: 'TimeoutError',
      message: 'agent a3 silent',
    });
  });

  it('keeps only the first line of a plain Cause, so no stack trace is ever stored', () => {
    const reason = failureReason({ Error: 'Error', Cause: 'boom\n    at thing (file.ts:3:4)' });
    expect(reason).toEqual({ name: 'Error', message: 'boom' });
  });

  it('names the error when there is no Cause', () => {
    expect(failureReason({ Error: 'Sandbox.Timedout', Cause: undefined })).toEqual({
      name: 'Sandbox.Timedout',
      message: 'Sandbox.Timedout (no message)',
    });
  });
});

describe('failRunStep', () => {
  it('marks an existing run failed and alerts once, also when run again', async () => {
    // Prepare
    const { store, runs } = memoryStore();
    const { runId } = await planStep(
      { profile: 'quick', categories: ['creation'], scenarios: false },
      { store, now, environment },
    );
    const notifier = new MemoryNotifier();
    const error = { Error: 'States.TaskFailed', Cause: 'publish broke' };

    // Act
    await failRunStep({ runId, error }, { store, notifier, now });
    await failRunStep({ runId, error }, { store, notifier, now });

    // Assess
    expect(runs.get(runId)).toMatchObject({ status: 'failed', reason: 'States.TaskFailed: publish broke' });
    expect(notifier.sent).toHaveLength(1);
  });

  it('stores the failure before it alerts, and a retry after a failed alert sends it once', async () => {
    // Prepare
    const { store, runs } = memoryStore();
    const { runId } = await planStep(
      { profile: 'quick', categories: ['creation'], scenarios: false },
      { store, now, environment },
    );
    const seen: Array<string | undefined> = [];
    let attempts = 0;
    const notifier = {
      async notify() {
        if (++attempts === 1) throw new Error('SNS unavailable');
        seen.push((await store.getRun(runId))?.status);
      },
    };
    const error = { Error: 'States.TaskFailed', Cause: 'publish broke' };

    // Act
    const first = await failRunStep({ runId, error }, { store, notifier, now }).catch((e: Error) => e);
    await failRunStep({ runId, error }, { store, notifier, now });
    await failRunStep({ runId, error }, { store, notifier, now });

    // Assess
    expect(first).toBeInstanceOf(Error);
    expect(seen).toEqual(['failed']);
    expect(runs.get(runId)?.notification).toBe('sent');
  });
});

describe('reapStep', () => {
  const old = (sandboxId: string, run?: string) => ({
    sandboxId,
    metadata: { stack: 'SwarmBench', ...(run ? { run } : {}) },
    startedAt: new Date(0),
  });

  it("asks for the stack's old sandboxes; kills those of abandoned or ended runs, spares unreadable ones", async () => {
    // Prepare: a run still 'running' 7 h after it started outlived the 6 h pipeline: abandoned.
    const queries: unknown[] = [];
    const kills: string[] = [];
    const hour = 3_600_000;
    const runs: Record<string, Partial<RunMeta>> = {
      abandoned: { status: 'running', startedAt: new Date(now().getTime() - 7 * hour).toISOString() },
      live: { status: 'running', startedAt: new Date(now().getTime() - hour).toISOString() },
    };

    // Act
    const out = await reapStep({
      listStale: async (query) => {
        queries.push(query);
        return [old('a', 'abandoned'), old('l', 'live'), old('g', 'gone'), old('u', 'unreadable'), old('n')];
      },
      kill: async (sandboxId) => {
        kills.push(sandboxId);
        return sandboxId !== 'n';
      },
      runs: {
        getRun: async (runId) => {
          if (runId === 'unreadable') throw new Error('throttled');
          return runs[runId] as RunMeta | undefined;
        },
      },
      ledger: {
        entries: async () => [
          { sandboxId: 'l', provider: 'e2b', releasedAt: 0, expiresAt: 0, state: 'claimed', holder: 'u-7' },
        ],
      },
      stack: 'SwarmBench',
      maxAgeMs: 1_800_000,
      liveRunMaxMs: 6 * hour,
      now,
    });

    // Assess
    expect(queries).toEqual([{ stack: 'SwarmBench', maxAgeMs: 1_800_000, now: now().getTime() }]);
    expect(kills).toEqual(['a', 'g', 'n']);
    expect(out.killed).toEqual(['a', 'g']);
    expect(out.spared).toEqual([
      { sandboxId: 'l', runId: 'live', reason: 'claimed by unit u-7 of a running run' },
      {
        sandboxId: 'u',
        runId: 'unreadable',
        reason: expect.stringMatching(/could not be read \(throttled\)/),
      },
    ]);
  });

  it('refuses a missing live-run window', async () => {
    await expect(
      reapStep({
        listStale: async () => [],
        kill: async () => true,
        runs: { getRun: async () => undefined },
        stack: 's',
        maxAgeMs: 0,
        liveRunMaxMs: Number.NaN,
        now,
      }),
    ).rejects.toThrow(/liveRunMaxMs/);
  });
});

describe('helpers', () => {
  it('accepts presign lifetimes from 1 s to 7 days only', () => {
    expect(parseExpirySeconds(604_800)).toBe(604_800);
    expect(() => parseExpirySeconds(604_801)).toThrow(/reportExpirySeconds/);
    expect(() => parseExpirySeconds(0)).toThrow(/reportExpirySeconds/);
    expect(() => parseExpirySeconds(1.5)).toThrow(/reportExpirySeconds/);
  });

  it('resolves Fn::Join, Ref and Fn::GetAtt to the ARNs and names each resource type has', () => {
    const template = {
      Resources: {
        Fn1: { Type: 'AWS::Lambda::Function' },
        Bucket1: { Type: 'AWS::S3::Bucket' },
        Topic1: { Type: 'AWS::SNS::Topic' },
      },
    };
    const resolve = (value: unknown) => resolveIntrinsics(value, template, STACK_CONTEXT);
    const resolved = resolve({
      'Fn::Join': [
        '',
        ['{"A":"', { 'Fn::GetAtt': ['Fn1', 'Arn'] }, '","P":"', { Ref: 'AWS::Partition' }, '"}'],
      ],
    });
    expect(JSON.parse(resolved as string)).toEqual({
      A: 'arn:aws:lambda:us-east-1:123456789012:function:Fn1',
      P: 'aws',
    });
    expect(resolve({ Ref: 'Bucket1' })).toBe('swarmbench-bucket1');
    expect(resolve({ 'Fn::GetAtt': ['Bucket1', 'Arn'] })).toBe('arn:aws:s3:::swarmbench-bucket1');
    expect(resolve({ Ref: 'Topic1' })).toBe('arn:aws:sns:us-east-1:123456789012:Topic1');
    expect(() => resolve({ 'Fn::ImportValue': 'x' })).toThrow(/Fn::ImportValue/);
  });
});
