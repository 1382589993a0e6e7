/**
 * The ResultStore contract, run against every implementation (a dynalite server in memory, the
 * embedded on-disk store). Each test uses its own runIds and configHashes, so one store per suite
 * serves every test.
 */
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunMeta, RunStatus, UnitResult, UnitStatus } from '../../lib/bench/model.ts';
import { InvalidInputError, StoreError } from '../../lib/errors.ts';
import type { ProviderName } from '../../lib/sandbox/types.ts';
import type { ResultStore } from '../../lib/store/types.ts';

/** What a contract run needs from an implementation. */
export interface ContractHarness {
  store: ResultStore;
  /** Writes an item straight to the table, bypassing the store (to plant unreadable items). */
  putRawItem(item: Record<string, unknown>): Promise<void>;
  /** Reads an item straight from the table. */
  getRawItem(key: { pk: string; sk: string }): Promise<Record<string, unknown> | undefined>;
  /** Closes the store and opens a new one on the same data, when the implementation persists. */
  reopen?(): Promise<ResultStore>;
  teardown(): Promise<void>;
}

let counter = 0;
/** A name unique within the process, so tests sharing one store never see each other's data. */
function unique(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

/** The rejection reason of `promise`, or undefined if it resolved. */
export async function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

/** A run started `minute` minutes after a fixed origin. */
export function makeRun(overrides: Partial<RunMeta> & { minute?: number } = {}): RunMeta {
  const { minute = 0, ...rest } = overrides;
  return {
    runId: unique('run'),
    status: 'running',
    startedAt: new Date(Date.UTC(2026, 10, 1, 0, minute)).toISOString(),
    profile: 'quick',
    provider: 'local',
    template: { name: 'local', vcpu: 2, memoryMb: 512 },
    gitCommit: 'abc1234',
    nodeVersion: 'v22.23.3',
    machine: { platform: 'linux', arch: 'x64', cpus: 2, memoryGb: 4 },
    configHash: unique('cfg'),
    units: [
      {
        unitId: 'creation/swarm-init',
        category: 'creation',
        test: 'swarm-init',
        title: 'Swarm Initialization',
        params: { agents: 3 },
        estimate: { sandboxes: 3, sandboxSeconds: 10, durationMs: 5000 },
      },
    ],
    ...rest,
  };
}

/** A unit result with one small series. */
export function makeResult(
  runId: string,
  unitId: string,
  status: UnitStatus = 'ok',
  samples: number[] = [1.5, 2.25, 3],
): UnitResult {
  const [category, test] = unitId.split('/') as [UnitResult['category'], string];
  return {
    runId,
    unitId,
    category,
    test,
    title: `title of ${unitId}`,
    status,
    ...(status === 'failed' && { error: { name: 'SandboxStartError', message: 'agent did not answer' } }),
    startedAt: '2026-11-01T00:00:00.000Z',
    endedAt: '2026-11-01T00:00:01.000Z',
    durationMs: 1000,
    params: { agents: 3, topology: 'mesh' },
    series: [
      { name: 'init-ms', unit: 'ms', samples, warmup: [9.75], labels: { topology: 'mesh', agents: 3 } },
    ],
    figures: [
      { name: 'speedup', value: 2.5, unit: 'ratio', labels: {}, from: ['init-ms'], how: 'seq / par' },
    ],
    usage: { sandboxesCreated: 3, sandboxSeconds: 12.5, operations: 30 },
    faults: [],
  };
}

/** Registers the contract tests for one implementation. */
export function resultStoreContract(
  name: string,
  open: () => Promise<ContractHarness>,
  options: { persistent?: boolean } = {},
): void {
  describe(`ResultStore contract: ${name}`, () => {
    let harness: ContractHarness;
    let store: ResultStore;

    beforeAll(async () => {
      harness = await open();
      store = harness.store;
    });

    afterAll(async () => {
      await harness?.teardown();
    });

    async function createRuns(specs: Array<Partial<RunMeta> & { minute?: number }>): Promise<RunMeta[]> {
      const runs = specs.map((spec) => makeRun(spec));
      for (const run of runs) expect(await store.createRun(run)).toBe('created');
      return runs;
    }

    it('creates a run once; a second create of the same runId is "exists" and changes nothing', async () => {
      // Prepare
      const run = makeRun();

      // Act
      const first = await store.createRun(run);
      const second = await store.createRun({ ...run, gitCommit: 'other', status: 'failed' });

      // Assess
      expect(first).toBe('created');
      expect(second).toBe('exists');
      expect(await store.getRun(run.runId)).toEqual(run);
    });

    it('returns undefined for a run that was never created', async () => {
      expect(await store.getRun(unique('missing'))).toBeUndefined();
    });

    it('finishes a run with status, end time and reason; finishing an unknown run is a StoreError', async () => {
      // Prepare
      const [run] = await createRuns([{}]);

      // Act
      await store.finishRun(run!.runId, {
        status: 'partial',
        endedAt: '2026-11-01T01:00:00.000Z',
        reason: '1 failed',
      });
      const missing = await caught(
        store.finishRun(unique('missing'), { status: 'completed', endedAt: '2026-11-01T01:00:00.000Z' }),
      );

      // Assess
      expect(await store.getRun(run!.runId)).toEqual({
        ...run,
        status: 'partial',
        endedAt: '2026-11-01T01:00:00.000Z',
        reason: '1 failed',
      });
      expect(missing).toBeInstanceOf(StoreError);
      expect(String(missing)).toMatch(/does not exist/);
    });

    it('keeps a pending notification with the finish until markNotified; marking an unknown run is a StoreError', async () => {
      // Prepare
      const [run] = await createRuns([{}]);
      const endedAt = '2026-11-01T01:00:00.000Z';

      // Act
      await store.finishRun(run!.runId, { status: 'completed', endedAt, notification: 'pending' });
      const pending = await store.getRun(run!.runId);
      await store.markNotified(run!.runId);
      const sent = await store.getRun(run!.runId);
      const missing = await caught(store.markNotified(unique('missing')));

      // Assess
      expect(pending).toEqual({ ...run, status: 'completed', endedAt, notification: 'pending' });
      expect(sent).toEqual({ ...run, status: 'completed', endedAt, notification: 'sent' });
      expect(missing).toBeInstanceOf(StoreError);
    });

    it('never overwrites a stored ok result: a retried unit is "exists" and the first result stays', async () => {
      // Prepare
      const [run] = await createRuns([{}]);
      const original = makeResult(run!.runId, 'trading/consensus', 'ok', [10, 20]);

      // Act
      const first = await store.putResult(original);
      const retried = await store.putResult(makeResult(run!.runId, 'trading/consensus', 'ok', [99]));
      const failedLater = await store.putResult(makeResult(run!.runId, 'trading/consensus', 'failed'));

      // Assess
      expect([first, retried, failedLater]).toEqual(['written', 'exists', 'exists']);
      expect(await store.getResults(run!.runId)).toEqual([original]);
    });

    it('replaces a stored failed result with a later ok attempt, but not with another failure', async () => {
      // Prepare
      const [run] = await createRuns([{}]);
      const failed = makeResult(run!.runId, 'communication/state-sync', 'failed');
      const failedAgain = {
        ...makeResult(run!.runId, 'communication/state-sync', 'failed'),
        faults: ['second'],
      };
      const ok = makeResult(run!.runId, 'communication/state-sync', 'partial', [4, 5, 6]);

      // Act
      const outcomes = [
        await store.putResult(failed),
        await store.putResult(failedAgain),
        await store.putResult(ok),
        await store.putResult(failed),
      ];

      // Assess
      expect(outcomes).toEqual(['written', 'exists', 'written', 'exists']);
      expect(await store.getResults(run!.runId)).toEqual([ok]);
    });

    it("returns a run's results ordered by unitId, and only that run's", async () => {
      // Prepare
      const [run, other] = await createRuns([{}, {}]);
      const unitIds = [
        'trading/consensus',
        'creation/swarm-init',
        'communication/state-sync',
        'cost/cost-scaling',
      ];
      for (const unitId of unitIds) await store.putResult(makeResult(run!.runId, unitId));
      await store.putResult(makeResult(other!.runId, 'creation/agent-deployment'));

      // Act
      const results = await store.getResults(run!.runId);

      // Assess
      expect(results.map((r) => r.unitId)).toEqual([...unitIds].sort());
      expect(results.every((r) => r.runId === run!.runId)).toBe(true);
    });

    it("reads one unit's result, and which units of a run have one (any status)", async () => {
      // Prepare
      const [run, other] = await createRuns([{}, {}]);
      const samples = Array.from({ length: 40_000 }, (_, i) => i + Math.sin(i) / 7);
      const huge = makeResult(run!.runId, 'resources/network-bandwidth', 'ok', samples);
      const failed = makeResult(run!.runId, 'creation/swarm-init', 'failed');
      for (const result of [huge, failed, makeResult(other!.runId, 'cost/cost-scaling')]) {
        expect(await store.putResult(result)).toBe('written');
      }

      // Act
      const one = await store.getResult(run!.runId, 'resources/network-bandwidth');
      const missing = await store.getResult(run!.runId, 'cost/cost-scaling');
      const unitIds = await store.resultUnitIds(run!.runId);
      const none = await store.resultUnitIds(makeRun().runId);

      // Assess
      expect(one).toEqual(huge);
      expect(missing).toBeUndefined();
      expect(unitIds).toEqual(['creation/swarm-init', 'resources/network-bandwidth']);
      expect(none).toEqual([]);
      await expect(store.getResult(run!.runId, '')).rejects.toThrow(/unitId/);
      await expect(store.resultUnitIds('')).rejects.toThrow(/runId/);
    });

    it('lists runs of one configuration and provider newest first, with status filter, limit and before', async () => {
      // Prepare
      const configHash = unique('cfg');
      const [r1, r2, r3, r4] = await createRuns([
        { configHash, minute: 1, status: 'completed' },
        { configHash, minute: 3, status: 'failed' },
        { configHash, minute: 2, status: 'completed' },
        { configHash, minute: 4, status: 'completed' },
      ]);
      await createRuns([{ configHash, minute: 5, provider: 'e2b' }, { minute: 6 }]);
      const q = { configHash, provider: 'local' as ProviderName };

      // Act
      const all = await store.listRuns(q);
      const completed = await store.listRuns({ ...q, status: 'completed' });
      const limited = await store.listRuns({ ...q, limit: 2 });
      const before = await store.listRuns({ ...q, beforeStartedAt: r2!.startedAt });
      const anyProvider = await store.listRuns({ configHash });

      // Assess
      expect(all.map((r) => r.runId)).toEqual([r4, r2, r3, r1].map((r) => r!.runId));
      expect(completed.map((r) => r.runId)).toEqual([r4, r3, r1].map((r) => r!.runId));
      expect(limited.map((r) => r.runId)).toEqual([r4, r2].map((r) => r!.runId));
      expect(before.map((r) => r.runId)).toEqual([r3, r1].map((r) => r!.runId));
      expect(anyProvider.map((r) => r.provider)).toEqual(['e2b', 'local', 'local', 'local', 'local']);
      expect(all[0]).toEqual(r4);
    });

    it('lists runs across configurations newest first, filtered by provider and status', async () => {
      // Prepare: far in the future so beforeStartedAt isolates this test's runs from the others'.
      const base = { minute: 60 * 24 * 400 };
      const [a, , c, d] = await createRuns([
        { minute: base.minute + 1, provider: 'e2b', status: 'completed' },
        { minute: base.minute + 2, provider: 'local', status: 'completed' },
        { minute: base.minute + 3, provider: 'e2b', status: 'completed' },
        { minute: base.minute + 4, provider: 'e2b', status: 'running' },
      ]);
      const beforeStartedAt = new Date(Date.UTC(2026, 10, 1, 0, base.minute + 5)).toISOString();

      // Act
      const e2bCompleted = await store.listRuns({
        provider: 'e2b',
        status: 'completed',
        beforeStartedAt,
        limit: 10,
      });
      const newestTwo = await store.listRuns({ beforeStartedAt, limit: 2 });

      // Assess
      const ours = e2bCompleted.filter((r) => [a, c].some((x) => x!.runId === r.runId));
      expect(ours.map((r) => r.runId)).toEqual([c!.runId, a!.runId]);
      expect(e2bCompleted.every((r) => r.provider === 'e2b' && r.status === 'completed')).toBe(true);
      expect(newestTwo.map((r) => r.runId)).toEqual([d!.runId, c!.runId]);
    });

    it("history returns the unit's results in completed runs of the same configuration, newest first", async () => {
      // Prepare
      const configHash = unique('cfg');
      const unitId = 'trading/strategy-execution';
      const specs: Array<{ minute: number; status: RunStatus; provider?: ProviderName; config?: string }> = [
        { minute: 1, status: 'completed' }, // r1: in history
        { minute: 2, status: 'completed' }, // r2: in history
        { minute: 3, status: 'running' }, // not completed
        { minute: 4, status: 'failed' }, // not completed
        { minute: 5, status: 'completed' }, // no result for the unit
        { minute: 6, status: 'completed' }, // failed result for the unit
        { minute: 7, status: 'completed', config: unique('cfg') }, // other configuration
        { minute: 8, status: 'completed', provider: 'e2b' }, // other provider
        { minute: 9, status: 'completed' }, // r9: in history
      ];
      const runs = await createRuns(
        specs.map((s) => ({
          minute: s.minute,
          status: s.status,
          provider: s.provider ?? 'local',
          configHash: s.config ?? configHash,
        })),
      );
      for (const [i, run] of runs.entries()) {
        if (i === 4) {
          await store.putResult(makeResult(run.runId, 'creation/swarm-init'));
          continue;
        }
        await store.putResult(makeResult(run.runId, unitId, i === 5 ? 'failed' : 'ok', [i, i + 1]));
      }
      const r = (i: number) => runs[i]!.runId;

      // Act
      const all = await store.history({ configHash, provider: 'local', unitId, limit: 10 });
      const before = await store.history({
        configHash,
        provider: 'local',
        unitId,
        limit: 10,
        beforeStartedAt: runs[8]!.startedAt,
      });
      const limited = await store.history({ configHash, provider: 'local', unitId, limit: 2 });

      // Assess
      expect(all.map((h) => h.run.runId)).toEqual([r(8), r(1), r(0)]);
      expect(all.map((h) => h.result.series[0]!.samples)).toEqual([
        [8, 9],
        [1, 2],
        [0, 1],
      ]);
      expect(all.every((h) => h.result.unitId === unitId && h.run.status === 'completed')).toBe(true);
      expect(before.map((h) => h.run.runId)).toEqual([r(1), r(0)]);
      expect(limited.map((h) => h.run.runId)).toEqual([r(8), r(1)]);
    });

    it('keeps a result with a huge series (> 400 KB) in the blob store and restores it on read', async () => {
      // Prepare
      const [run] = await createRuns([{}]);
      const samples = Array.from({ length: 40_000 }, (_, i) => i + Math.sin(i) / 7);
      const huge = makeResult(run!.runId, 'resources/network-bandwidth', 'ok', samples);
      expect(Buffer.byteLength(JSON.stringify(huge.series))).toBeGreaterThan(400_000);

      // Act
      const written = await store.putResult(huge);
      const again = await store.putResult(
        makeResult(run!.runId, 'resources/network-bandwidth', 'ok', samples),
      );
      const [read] = await store.getResults(run!.runId);
      const raw = await harness.getRawItem({
        pk: `RUN#${run!.runId}`,
        sk: 'UNIT#resources/network-bandwidth',
      });

      // Assess
      expect([written, again]).toEqual(['written', 'exists']);
      expect(read).toEqual(huge);
      expect(raw?.seriesJson).toBeUndefined();
      expect((raw?.seriesBlob as { key?: string } | undefined)?.key).toMatch(
        new RegExp(`^runs/${run!.runId}/samples/resources%2Fnetwork-bandwidth\\.[0-9a-f]{16}\\.json$`),
      );
    });

    it('refuses to read an item of an unknown schemaVersion, naming its pk and sk', async () => {
      // Prepare
      const runId = unique('future');
      const pk = `RUN#${runId}`;
      await harness.putRawItem({ pk, sk: 'META', schemaVersion: 2, body: '{}' });
      await harness.putRawItem({ pk, sk: 'UNIT#creation/swarm-init', schemaVersion: 99, body: '{}' });

      // Act
      const runError = await caught(store.getRun(runId));
      const resultsError = await caught(store.getResults(runId));

      // Assess
      expect(runError).toBeInstanceOf(StoreError);
      expect((runError as Error).message).toContain(`pk=${pk} sk=META`);
      expect(resultsError).toBeInstanceOf(StoreError);
      expect((resultsError as Error).message).toContain(`pk=${pk} sk=UNIT#creation/swarm-init`);
    });

    it('rejects bad input with InvalidInputError naming the field', async () => {
      const run = makeRun();
      await expect(store.createRun({ ...run, startedAt: 'yesterday' })).rejects.toThrow(InvalidInputError);
      await expect(store.createRun({ ...run, startedAt: 'yesterday' })).rejects.toThrow(/startedAt/);
      await expect(
        store.putResult({ ...makeResult(run.runId, 'creation/swarm-init'), status: 'great' as UnitStatus }),
      ).rejects.toThrow(/status: one of ok, partial, failed/);
      await expect(store.listRuns({ limit: 0 })).rejects.toThrow(/limit/);
      expect(await store.getRun(run.runId)).toBeUndefined();
    });

    if (options.persistent) {
      it('keeps its data across a close and reopen on the same directory', async () => {
        // Prepare
        const [run] = await createRuns([{ status: 'completed' }]);
        const result = makeResult(run!.runId, 'creation/swarm-init');
        await store.putResult(result);
        expect(harness.reopen).toBeDefined();

        // Act
        store = await harness.reopen!();

        // Assess
        expect(await store.getRun(run!.runId)).toEqual(run);
        expect(await store.getResults(run!.runId)).toEqual([result]);
        expect(await store.createRun(run!)).toBe('exists');
      });
    }
  });
}

/** A dynalite server in memory on 127.0.0.1:0 with its own clients; `stop()` closes everything. */
export async function startMemoryDynalite(): Promise<{
  raw: DynamoDBClient;
  client: DynamoDBDocumentClient;
  stop(): Promise<void>;
}> {
  const server = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const raw = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'local',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  const client = DynamoDBDocumentClient.from(raw);
  return {
    raw,
    client,
    async stop() {
      raw.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
    },
  };
}
