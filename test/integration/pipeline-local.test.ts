import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPlan } from '../../lib/bench/plan.ts';
import { parseRunConfig } from '../../lib/config.ts';
import { SandboxStartError } from '../../lib/errors.ts';
import { MemoryNotifier } from '../../lib/notify/local.ts';
import { type LocalPipelineResult, localDefinition, runLocalPipeline } from '../../lib/pipeline/local.ts';
import { type LocalS3, startS3rver } from '../../lib/pipeline/s3rver.ts';
import { publishStep } from '../../lib/pipeline/steps.ts';
import { S3ReportSink } from '../../lib/publish/s3.ts';
import { LocalSandboxProvider } from '../../lib/sandbox/local.ts';
import type { SandboxProvider } from '../../lib/sandbox/types.ts';
import { DirBlobStore } from '../../lib/store/blobs.ts';
import { DynamoResultStore, ensureTable } from '../../lib/store/dynamo.ts';
import { DynamoPoolLedger } from '../../lib/store/pool-ledger.ts';
import { startMemoryDynalite } from './store-contract.ts';

const FAILING_UNIT = 'creation/agent-deployment';
const INPUT = {
  profile: 'quick',
  categories: ['creation'],
  tests: ['swarm-init', 'agent-deployment'],
  scenarios: false,
};

describe('the synthesized state machine, run locally end to end', () => {
  let dir: string;
  let dynamo: Awaited<ReturnType<typeof startMemoryDynalite>>;
  let store: DynamoResultStore;
  let s3: LocalS3;
  let definition: Record<string, unknown>;
  const creates = new Map<string, number>();
  /** Unit invocations (one provider each) that tried to start a sandbox of FAILING_UNIT. */
  let failingAttempts = 0;

  /** Local sandboxes, except that every sandbox of FAILING_UNIT fails to start. */
  const createProvider = (): SandboxProvider => {
    const inner = new LocalSandboxProvider({
      bundlePath: resolve('dist/agent.cjs'),
      passthroughEnv: { PATH: process.env.PATH },
    });
    let counted = false;
    return Object.assign(Object.create(inner) as SandboxProvider, {
      create: async (options: Parameters<SandboxProvider['create']>[0]) => {
        const unit = options.metadata.unit ?? '?';
        creates.set(unit, (creates.get(unit) ?? 0) + 1);
        if (unit === FAILING_UNIT) {
          if (!counted) failingAttempts++;
          counted = true;
          throw new SandboxStartError('injected: sandbox image missing');
        }
        return inner.create(options);
      },
      usage: () => inner.usage(),
      killAll: () => inner.killAll(),
      live: () => inner.live(),
      connect: (sandboxId: string, options: { timeoutMs: number }) => inner.connect(sandboxId, options),
      detach: (sandbox: Parameters<LocalSandboxProvider['detach']>[0]) => inner.detach(sandbox),
    });
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'swarm-bench-pipeline-'));
    dynamo = await startMemoryDynalite();
    await ensureTable(dynamo.raw, 'pipeline-results');
    store = new DynamoResultStore({
      client: dynamo.client,
      tableName: 'pipeline-results',
      blobs: new DirBlobStore({ dir: join(dir, 'blobs') }),
    });
    s3 = await startS3rver({ directory: join(dir, 's3'), bucket: 'reports' });
    definition = await localDefinition();
  });

  afterAll(async () => {
    await s3?.close();
    await dynamo?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const run = (input: unknown, notifier = new MemoryNotifier()) =>
    runLocalPipeline({
      input,
      definition,
      store,
      ledger: new DynamoPoolLedger({ client: dynamo.client, tableName: 'pipeline-results' }),
      s3,
      createProvider,
      outDir: join(dir, 'docs'),
      notifier,
      retryIntervalMs: 0,
    });

  describe('a run with one unit whose sandboxes never start', () => {
    let outcome: LocalPipelineResult;
    const notifier = new MemoryNotifier();

    beforeAll(async () => {
      outcome = await run(INPUT, notifier);
    });

    it('succeeds as an execution, records the run as partial and every unit in the store', async () => {
      // Act
      const items = await dynamo.client.send(
        new QueryCommand({
          TableName: 'pipeline-results',
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': `RUN#${outcome.runId}` },
        }),
      );

      // Assess
      expect(outcome.status).toBe('SUCCEEDED');
      expect(outcome.runStatus).toBe('partial');
      expect(items.Items?.map((item) => item.sk).sort()).toEqual([
        'META',
        'UNIT#creation/agent-deployment',
        'UNIT#creation/swarm-init',
      ]);
      const byUnit = Object.fromEntries(outcome.results.map((r) => [r.unitId, r]));
      expect(byUnit['creation/swarm-init']?.status).toBe('ok');
      expect(byUnit['creation/swarm-init']?.series.length).toBeGreaterThan(0);
      expect(byUnit[FAILING_UNIT]).toMatchObject({
        status: 'failed',
        error: {
          name: 'SandboxStartError',
          message: expect.stringContaining('injected: sandbox image missing'),
        },
      });
      expect(byUnit[FAILING_UNIT]?.error?.message).not.toMatch(/\n|at .*\.ts:\d+/);
    });

    it('retried the failing unit before the Catch inside the iteration recorded it', () => {
      // One try and two retries (MaxAttempts 2 on SandboxStartError), then RecordFailure.
      expect(failingAttempts).toBe(3);
      expect(creates.get('creation/swarm-init')).toBeGreaterThan(0);
    });

    it('puts a Markdown report in the bucket behind a working presigned link, and in the local directory', async () => {
      // Act
      const response = await fetch(outcome.reportUrl!);
      const markdown = await response.text();
      const local = await readFile(outcome.reportLocation!, 'utf8');

      // Assess
      expect(response.status).toBe(200);
      expect(outcome.reportUrl).toContain(`/reports/runs/${outcome.runId}/SWARM_BENCHMARKS_REPORT.md?`);
      expect(markdown).toMatch(/^# /m);
      expect(markdown).toContain(FAILING_UNIT);
      expect(markdown).toContain('injected: sandbox image missing');
      expect(local).toBe(markdown);
    });

    it('sends one notification naming the failed unit and the link', () => {
      expect(notifier.sent).toHaveLength(1);
      const [sent] = notifier.sent;
      expect(sent?.subject).toContain('partial');
      expect(sent?.message).toContain('1 failed');
      expect(sent?.message).toContain(`${FAILING_UNIT} (`);
      expect(sent?.message).toContain(outcome.reportUrl);
    });

    it('yields the same report and no duplicates when Publish runs again', async () => {
      // Prepare
      const list = async () =>
        (
          await s3.client.send(
            new ListObjectsV2Command({ Bucket: 'reports', Prefix: `runs/${outcome.runId}/` }),
          )
        ).Contents?.map((object) => object.Key).sort();
      const before = await list();
      const first = await (await fetch(outcome.reportUrl!)).text();
      const again = new MemoryNotifier();
      const sink = new S3ReportSink({ client: s3.client, bucket: 'reports' });

      // Act
      const output = await publishStep(
        { runId: outcome.runId! },
        { store, sink, presign: (name) => sink.presign(name, 3600), notifier: again, now: () => new Date() },
      );

      // Assess
      expect(output.notified).toBe(false);
      expect(output.status).toBe('partial');
      expect(again.sent).toEqual([]);
      expect(await list()).toEqual(before);
      expect(await (await fetch(output.reportUrl)).text()).toBe(first);
      expect(await store.getResults(outcome.runId!)).toHaveLength(2);
    });
  });

  it('hands idle sandboxes from unit Lambda to unit Lambda and drains the pool: it creates what the plan says', async () => {
    // Prepare: a creation unit (fresh swarms, donated to the pool) and two pooled units.
    const input = {
      profile: 'quick',
      tests: ['creation/swarm-init', 'trading/strategy-execution', 'communication/state-sync'],
      scenarios: false,
    };
    const plan = buildPlan(parseRunConfig(input));
    const ledger = new DynamoPoolLedger({ client: dynamo.client, tableName: 'pipeline-results' });

    // Act
    const outcome = await run(input);

    // Assess
    expect(outcome.status).toBe('SUCCEEDED');
    expect(outcome.runStatus).toBe('completed');
    expect(outcome.sandboxesCreated).toBe(plan.totals.pipeline.sandboxes);
    // One unit at a time locally, so the pipeline creates exactly what the one-process runner would.
    expect(plan.totals.pipeline.sandboxes).toBe(plan.totals.sandboxes);
    const created = Object.fromEntries(outcome.results.map((r) => [r.unitId, r.usage.sandboxesCreated]));
    expect(created['trading/strategy-execution']).toBe(0);
    expect(created['communication/state-sync']).toBe(0);
    expect(await ledger.entries(outcome.runId!)).toEqual([]);
  });

  it.each([
    [{ ...INPUT, bogus: true }, /bogus: unknown field/],
    [{ ...INPUT, budgetUsd: 0 }, /^budgetUsd: /],
  ])(
    'fails the execution at Plan for bad input %j, naming the field, before any sandbox',
    async (input, message) => {
      // Prepare
      const runsBefore = (await store.listRuns({ limit: 100 })).length;
      const createsBefore = [...creates.values()].reduce((a, b) => a + b, 0);
      const notifier = new MemoryNotifier();

      // Act
      const outcome = await run(input, notifier);

      // Assess
      expect(outcome.status).toBe('FAILED');
      expect(outcome.error?.name).toBe('InvalidInputError');
      expect(outcome.error?.message).toMatch(message);
      expect(outcome.runId).toBeUndefined();
      expect(outcome.sandboxesCreated).toBe(0);
      expect([...creates.values()].reduce((a, b) => a + b, 0)).toBe(createsBefore);
      expect((await store.listRuns({ limit: 100 })).length).toBe(runsBefore);
      expect(notifier.sent[0]?.subject).toContain('FAILED');
    },
  );
});
