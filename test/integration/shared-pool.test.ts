/**
 * The run's pool shared across unit invocations, with real parts only: the ledger on a dynalite
 * server, local sandboxes detached by one provider and connected by another (as one unit Lambda
 * hands its idle sandboxes to the next), unitStep driving it, and the drain step at the end.
 */
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRunMeta, newRunId } from '../../lib/bench/meta.ts';
import { buildPlan } from '../../lib/bench/plan.ts';
import { parseRunConfig } from '../../lib/config.ts';
import { SandboxStartError, StoreError } from '../../lib/errors.ts';
import { drainPoolStep, unitStep } from '../../lib/pipeline/steps.ts';
import type { PoolLedger } from '../../lib/sandbox/ledger.ts';
import { LocalSandboxProvider } from '../../lib/sandbox/local.ts';
import { DirBlobStore } from '../../lib/store/blobs.ts';
import { DynamoResultStore, ensureTable } from '../../lib/store/dynamo.ts';
import { DynamoPoolLedger } from '../../lib/store/pool-ledger.ts';
import { expectPidsDead } from '../helpers/processes.ts';
import { caught, makeResult, startMemoryDynalite } from './store-contract.ts';

const bundlePath = resolve(import.meta.dirname, '../../dist/agent.cjs');
const TABLE = 'shared-pool';
const ENVIRONMENT = {
  gitCommit: 'test',
  nodeVersion: process.version,
  machine: { platform: 'linux', arch: 'x64', cpus: 2, memoryGb: 1 },
};

describe('the shared sandbox pool', () => {
  let dir: string;
  let sandboxRoot: string;
  let dynamo: Awaited<ReturnType<typeof startMemoryDynalite>>;
  let ledger: DynamoPoolLedger;
  let store: DynamoResultStore;
  const pids: number[] = [];
  const provider = (options: { clock?: () => number } = {}) =>
    new LocalSandboxProvider({
      bundlePath,
      tmpRoot: sandboxRoot,
      onAgentExit: (exit) => pids.push(exit.pid),
      ...options,
    });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'swarm-bench-shared-pool-'));
    sandboxRoot = join(dir, 'sandboxes');
    await mkdir(sandboxRoot);
    dynamo = await startMemoryDynalite();
    await ensureTable(dynamo.raw, TABLE);
    ledger = new DynamoPoolLedger({ client: dynamo.client, tableName: TABLE });
    store = new DynamoResultStore({
      client: dynamo.client,
      tableName: TABLE,
      blobs: new DirBlobStore({ dir: join(dir, 'blobs') }),
    });
  });

  afterAll(async () => {
    await dynamo?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  describe('the ledger', () => {
    it('gives each idle sandbox to one claimer only, however many claim at once', async () => {
      // Prepare
      const runId = newRunId();
      const now = Date.now();
      await ledger.offer(
        runId,
        Array.from({ length: 6 }, (_, i) => ({
          sandboxId: `local-00000000000${i}`,
          provider: 'local' as const,
          releasedAt: now,
          expiresAt: now + 600_000,
        })),
      );

      // Act: eight claimers race for four each.
      const claims = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          ledger.claim(runId, { max: 4, holder: `unit-${i}`, provider: 'local', now }),
        ),
      );

      // Assess
      const ids = claims.flat().map((entry) => entry.sandboxId);
      expect(ids).toHaveLength(6);
      expect(new Set(ids).size).toBe(6);
      expect((await ledger.entries(runId)).every((entry) => entry.state === 'claimed')).toBe(true);
    });

    it('skips other providers, drops expired entries and claims nothing for max 0', async () => {
      // Prepare
      const runId = newRunId();
      const now = Date.now();
      await ledger.offer(runId, [
        { sandboxId: 'sbx-e2b', provider: 'e2b', releasedAt: now, expiresAt: now + 600_000 },
        { sandboxId: 'local-aaaaaaaaaaaa', provider: 'local', releasedAt: now, expiresAt: now + 5_000 },
        { sandboxId: 'local-bbbbbbbbbbbb', provider: 'local', releasedAt: now, expiresAt: now + 600_000 },
      ]);

      // Act
      const none = await ledger.claim(runId, { max: 0, holder: 'u', provider: 'local', now });
      const claimed = await ledger.claim(runId, { max: 5, holder: 'u', provider: 'local', now });

      // Assess: the one expiring within the margin is gone, the E2B one untouched.
      expect(none).toEqual([]);
      expect(claimed.map((entry) => entry.sandboxId)).toEqual(['local-bbbbbbbbbbbb']);
      expect((await ledger.entries(runId)).map((entry) => [entry.sandboxId, entry.state])).toEqual([
        ['local-bbbbbbbbbbbb', 'claimed'],
        ['sbx-e2b', 'idle'],
      ]);
      await expect(ledger.claim('', { max: 1, holder: 'u', provider: 'local', now })).rejects.toThrow(
        /runId/,
      );
    });
  });

  describe('local sandboxes across provider instances', () => {
    it('detach keeps the directory; another provider connects once, runs agents in it and kills it', async () => {
      // Prepare
      const first = provider();
      const sandbox = await first.create({ timeoutMs: 60_000, metadata: { run: 'r' } });
      await sandbox.startAgent({ agentId: 'a0', secret: 'shared-pool-secret-0' });
      await sandbox.stopAgents();

      // Act
      await first.detach(sandbox);
      const second = provider();
      const adopted = await second.connect(sandbox.id, { timeoutMs: 60_000 });
      const endpoint = await adopted.startAgent({ agentId: 'b0', secret: 'shared-pool-secret-1' });
      const again = await caught(provider().connect(sandbox.id, { timeoutMs: 60_000 }));

      // Assess
      expect(first.live()).toEqual([]);
      expect(first.usage().created).toBe(1);
      expect(await sandbox.kill()).toBe(false);
      expect(adopted.id).toBe(sandbox.id);
      expect(endpoint.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
      expect(second.usage().created).toBe(0);
      expect(again).toBeInstanceOf(SandboxStartError);
      expect(await adopted.kill()).toBe(true);
      expect(await readdir(sandboxRoot)).toEqual([]);
    });

    it('refuses a sandbox whose lifetime ended while detached, and removes it', async () => {
      // Prepare
      let now = Date.now();
      const first = provider({ clock: () => now });
      const sandbox = await first.create({ timeoutMs: 10_000, metadata: {} });
      await first.detach(sandbox);
      now += 11_000;

      // Act
      const late = await caught(provider({ clock: () => now }).connect(sandbox.id, { timeoutMs: 60_000 }));

      // Assess
      expect(late).toBeInstanceOf(SandboxStartError);
      expect(String((late as Error).message)).toMatch(/expired/);
      expect(await readdir(sandboxRoot)).toEqual([]);
    });

    it('refuses to detach a sandbox with a running agent, and ids that are not sandbox ids', async () => {
      const owner = provider();
      const sandbox = await owner.create({ timeoutMs: 60_000, metadata: {} });
      await sandbox.startAgent({ agentId: 'a0', secret: 'shared-pool-secret-0' });
      await expect(owner.detach(sandbox)).rejects.toThrow(/without running agents/);
      await expect(owner.connect('../../etc', { timeoutMs: 1000 })).rejects.toThrow(/sandboxId/);
      await owner.killAll();
      expect(await readdir(sandboxRoot)).toEqual([]);
    });
  });

  describe('unit steps, each with its own provider like a Lambda', () => {
    /** A quick run of these tests, planned and recorded in the store as Plan records it. */
    async function recordedRun(tests: string[]) {
      const config = parseRunConfig({ profile: 'quick', scenarios: false, tests });
      const plan = buildPlan(config);
      const runId = newRunId();
      await store.createRun(buildRunMeta(runId, config, plan, ENVIRONMENT, new Date()));
      return { config, plan, runId };
    }

    it('hand the pool from unit to unit: later units create nothing, and the drain leaves nothing', async () => {
      // Prepare: a quick run of three units that take pooled sandboxes.
      const { config, plan, runId } = await recordedRun([
        'trading/strategy-execution',
        'communication/state-sync',
        'cost/cost-per-operation',
      ]);
      const providers: LocalSandboxProvider[] = [];

      // Act
      const outputs = [];
      for (const unit of plan.units) {
        const own = provider();
        providers.push(own);
        outputs.push(
          await unitStep(
            { runId, unitId: unit.unitId, config },
            { store, ledger, provider: own, deadlineAt: Date.now() + 120_000 },
          ),
        );
      }
      const afterUnits = await ledger.entries(runId);
      const drained = await drainPoolStep(
        { runId },
        {
          ledger,
          kill: async (id) => (await provider().connect(id, { timeoutMs: 10_000 })).kill(),
        },
      );

      // Assess
      expect(outputs.map((output) => output.status)).toEqual(['ok', 'ok', 'ok']);
      const created = providers.map((own) => own.usage().created);
      expect(created).toEqual([4, 0, 0]);
      expect(plan.totals.pipeline.sandboxes).toBe(4);
      const results = await store.getResults(runId);
      expect(results.map((result) => result.usage.sandboxesCreated).sort()).toEqual([0, 0, 4]);
      // Every unit's sandbox-seconds include the sandboxes it held.
      expect(results.every((result) => result.usage.sandboxSeconds > 0)).toBe(true);
      // After the last unit nothing is needed any more: nothing is handed on, so nothing to drain.
      expect(afterUnits).toEqual([]);
      expect(drained).toEqual({ runId, killed: 0, gone: 0 });
      expect(providers.every((own) => own.live().length === 0)).toBe(true);
      expect(await readdir(sandboxRoot)).toEqual([]);
      await expectPidsDead(pids);
    });

    it("reads its own result and the other units' ids only: no other result, series or blob", async () => {
      // Prepare: a run of three units; the second already stored a result whose series sit in a blob.
      const { config, plan, runId } = await recordedRun([
        'trading/strategy-execution',
        'communication/state-sync',
        'cost/cost-per-operation',
      ]);
      const [first, second] = plan.units.map((unit) => unit.unitId) as [string, string];
      const samples = Array.from({ length: 40_000 }, (_, i) => i + Math.sin(i) / 7);
      await store.putResult(makeResult(runId, second, 'ok', samples));
      // The same table and blob directory as `store`, every read written down.
      const reads: string[] = [];
      const client = new Proxy(dynamo.client, {
        get(target, property, receiver) {
          if (property !== 'send') return Reflect.get(target, property, receiver);
          return (command: { input: Record<string, unknown> }) => {
            const input = command.input as {
              Key?: { sk: string };
              ExpressionAttributeValues?: Record<string, string>;
              ProjectionExpression?: string;
            };
            if (command instanceof GetCommand) reads.push(`get ${input.Key?.sk}`);
            if (command instanceof QueryCommand) {
              const prefix = Object.values(input.ExpressionAttributeValues ?? {}).find((v) =>
                v.endsWith('#'),
              );
              reads.push(`query ${prefix} ${input.ProjectionExpression ?? 'whole items'}`);
            }
            return target.send(command as never);
          };
        },
      });
      const blobs = new DirBlobStore({ dir: join(dir, 'blobs') });
      const blobReads: string[] = [];
      const counted = new DynamoResultStore({
        client,
        tableName: TABLE,
        blobs: {
          put: (key, body, type) => blobs.put(key, body, type),
          get: (key) => {
            blobReads.push(key);
            return blobs.get(key);
          },
        },
      });

      // Act
      const output = await unitStep(
        { runId, unitId: first, config },
        { store: counted, ledger, provider: provider(), deadlineAt: Date.now() + 120_000 },
      );

      // Assess: the run, this unit's (absent) result before it runs, and after it, which units
      // still lack a result (for the pool it hands on), from the keys alone.
      expect(output).toMatchObject({ unitId: first, status: 'ok', reused: false });
      expect(reads).toEqual(['get META', `get UNIT#${first}`, 'query UNIT# sk']);
      expect(blobReads).toEqual([]);
      // It handed on what the one unit still without a result needs.
      const third = plan.units[2]!;
      expect((await ledger.entries(runId)).length).toBe(third.estimate.peakPooled);
      await drainPoolStep(
        { runId },
        { ledger, kill: async (id) => (await provider().connect(id, { timeoutMs: 10_000 })).kill() },
      );
      expect(await readdir(sandboxRoot)).toEqual([]);
      await expectPidsDead(pids);
    });

    it('a ledger that cannot be read costs reuse, not the unit', async () => {
      // Prepare
      const { config, plan, runId } = await recordedRun(['communication/state-sync']);
      const broken: PoolLedger = {
        offer: (id, entries) => ledger.offer(id, entries),
        entries: (id) => ledger.entries(id),
        remove: (id, sandboxId) => ledger.remove(id, sandboxId),
        claim: async () => {
          throw new StoreError('injected: table unreachable');
        },
      };
      const own = provider();

      // Act
      const output = await unitStep(
        { runId, unitId: plan.units[0]!.unitId, config },
        { store, ledger: broken, provider: own, deadlineAt: Date.now() + 120_000 },
      );

      // Assess
      expect(output.status).toBe('ok');
      expect(own.usage().created).toBe(4);
      expect(own.live()).toEqual([]);
      expect(await readdir(sandboxRoot)).toEqual([]);
    });

    it('the drain kills what a unit handed on when the run ends early', async () => {
      // Prepare: a run of two units; only the first runs, then the pipeline drains (as on failure).
      const { config, plan, runId } = await recordedRun([
        'trading/strategy-execution',
        'communication/state-sync',
      ]);
      await unitStep(
        { runId, unitId: plan.units[0]!.unitId, config },
        { store, ledger, provider: provider(), deadlineAt: Date.now() + 120_000 },
      );
      const handedOn = await ledger.entries(runId);

      // Act
      const drained = await drainPoolStep(
        { runId },
        {
          ledger,
          kill: async (id) => (await provider().connect(id, { timeoutMs: 10_000 })).kill(),
        },
      );

      // Assess
      expect(handedOn.map((entry) => entry.state)).toEqual(['idle', 'idle', 'idle', 'idle']);
      expect(drained).toEqual({ runId, killed: 4, gone: 0 });
      expect(await ledger.entries(runId)).toEqual([]);
      expect(await readdir(sandboxRoot)).toEqual([]);
      await expectPidsDead(pids);
    });
  });
});
