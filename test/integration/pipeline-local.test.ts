/**
 * The deployed artifacts run locally: the synthesized state machine with every Task invoking the
 * bundled function from the cloud assembly, each in its own Node 22 process, their AWS calls going
 * to the local endpoint (dynalite, s3rver, SNS and Secrets Manager stand-ins) that checks each
 * against the function's IAM policy. The only fake is E2B's API (a loopback server answering 503),
 * since E2B cannot be reached from here. Not 429: the provider backs off and retries a 429 itself
 * (E2B sends no Retry-After), which would only make this test wait.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPlan } from '../../lib/bench/plan.ts';
import { parseRunConfig } from '../../lib/config.ts';
import * as errors from '../../lib/errors.ts';
import {
  type ArtifactRuntime,
  type BundledStack,
  startArtifactRuntime,
} from '../../lib/pipeline/artifacts.ts';
import { E2B_KEY_PLACEHOLDER } from '../../lib/pipeline/e2b-key.ts';
import { STORE_BLOB_PREFIX } from '../../lib/pipeline/events.ts';
import { deniedCalls, type PolicyStatement } from '../../lib/pipeline/iam.ts';
import {
  LAMBDA_SDK_DIR,
  type LocalPipelineResult,
  localBundledStack,
  runLocalPipeline,
} from '../../lib/pipeline/local.ts';
import { type LocalS3, startS3rver } from '../../lib/pipeline/s3rver.ts';
import { functionSpecs, resourcesOfType } from '../../lib/pipeline/template.ts';
import { S3BlobStore } from '../../lib/store/blobs.ts';
import { DynamoResultStore, ensureTable } from '../../lib/store/dynamo.ts';
import { DynamoPoolLedger } from '../../lib/store/pool-ledger.ts';
import { startMemoryDynalite } from './store-contract.ts';

const TABLE = 'pipeline-results';
const E2B_UNIT = { profile: 'quick', provider: 'e2b', tests: ['creation/swarm-init'], scenarios: false };

describe('the bundled artifacts, run locally by the synthesized state machine', () => {
  let dir: string;
  let dynamo: Awaited<ReturnType<typeof startMemoryDynalite>>;
  let s3: LocalS3;
  let store: DynamoResultStore;
  let stack: BundledStack;
  let runtime: ArtifactRuntime;
  /** Stands in for E2B's API: every request is refused with 503 (unavailable: a transient start failure). */
  let e2b: Server;
  let e2bRequests = 0;
  const invocations = (prefix: string) =>
    runtime.functions().find((f) => f.logicalId.startsWith(prefix))?.stats.invocations ?? 0;
  const arnOf = (prefix: string) =>
    functionSpecs(stack.template, stack.context, undefined).find((f) => f.logicalId.startsWith(prefix))!.arn;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'swarm-bench-pipeline-'));
    stack = await localBundledStack();
    dynamo = await startMemoryDynalite();
    await ensureTable(dynamo.raw, TABLE);
    s3 = await startS3rver({ directory: join(dir, 's3'), bucket: 'reports' });
    store = new DynamoResultStore({
      client: dynamo.client,
      tableName: TABLE,
      blobs: new S3BlobStore({ client: s3.client, bucket: 'reports', prefix: STORE_BLOB_PREFIX }),
    });
    e2b = createServer((req, res) => {
      e2bRequests++;
      req.resume();
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"code":503,"message":"unavailable"}');
    });
    await new Promise<void>((resolve) => e2b.listen(0, '127.0.0.1', resolve));
    const e2bUrl = `http://127.0.0.1:${(e2b.address() as AddressInfo).port}`;
    const endpoint = await dynamo.raw.config.endpoint!();
    runtime = await startArtifactRuntime({
      stack,
      standIns: {
        dynamodb: { endpoint: `http://127.0.0.1:${endpoint.port}`, tableName: TABLE },
        s3,
      },
      nodePath: process.execPath,
      sdkDir: LAMBDA_SDK_DIR,
      environmentOverrides: {
        UnitFunction: { E2B_API_URL: e2bUrl },
        DrainPoolFunction: { E2B_API_URL: e2bUrl },
      },
    });
    // Bundling the eight functions takes a while the first time; the assembly is cached by source hash.
  }, 600_000);

  afterAll(async () => {
    await runtime?.close();
    await s3?.close();
    await dynamo?.stop();
    await new Promise((resolve) => e2b?.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  const run = (input: unknown) =>
    runLocalPipeline({ input, runtime, store, outDir: join(dir, 'docs'), retryIntervalMs: 0 });

  describe('a quick run of three local units (one creates swarms, two take pooled sandboxes)', () => {
    const input = {
      profile: 'quick',
      tests: ['creation/swarm-init', 'trading/strategy-execution', 'communication/state-sync'],
      scenarios: false,
    };
    let outcome: LocalPipelineResult;

    beforeAll(async () => {
      outcome = await run(input);
    }, 300_000);

    it('completes, stores every unit and creates exactly the sandboxes the plan says, draining the pool', async () => {
      const plan = buildPlan(parseRunConfig(input));
      const ledger = new DynamoPoolLedger({ client: dynamo.client, tableName: TABLE });

      expect(outcome.error).toBeUndefined();
      expect(outcome.status).toBe('SUCCEEDED');
      expect(outcome.runStatus).toBe('completed');
      expect(outcome.results.map((r) => [r.unitId, r.status]).sort()).toEqual(
        input.tests.map((t) => [t, 'ok']).sort(),
      );
      expect(outcome.sandboxesCreated).toBe(plan.totals.pipeline.sandboxes);
      const created = Object.fromEntries(outcome.results.map((r) => [r.unitId, r.usage.sandboxesCreated]));
      expect(created['trading/strategy-execution']).toBe(0);
      expect(created['communication/state-sync']).toBe(0);
      expect(await ledger.entries(outcome.runId!)).toEqual([]);
    });

    it('ran each function in one warm process: three unit invocations, one cold start', () => {
      const unit = outcome.functions?.find((f) => f.logicalId.startsWith('UnitFunction'));
      expect(unit?.stats.invocations).toBe(3);
      expect(unit?.stats.coldStarts).toBe(1);
      expect(unit?.stats.firstResponseMs).toHaveLength(1);
    });

    it('made only calls its IAM policies allow, through every stand-in', () => {
      const calls = outcome.calls ?? [];
      expect(calls.filter((c) => c.decision !== 'allowed')).toEqual([]);
      const services = new Set(calls.map((c) => c.service));
      expect([...services].sort()).toEqual(['dynamodb', 's3', 'secretsmanager', 'sns']);
      // The only secret read is the link-signing key, by Publish: local units never ask for the
      // E2B key, and nothing reached E2B.
      const secretReads = calls.filter((c) => c.service === 'secretsmanager');
      expect(new Set(secretReads.map((c) => `${c.principal} ${c.resource}`)).size).toBe(1);
      expect(secretReads[0]?.resource).toMatch(/:secret:ReportLinkSigningKey/);
      expect(secretReads[0]?.principal).toMatch(/^PublishFunction/);
      expect(e2bRequests).toBe(0);
    });

    it('puts the report in the bucket behind a working signed link, mirrors it locally and notifies once', async () => {
      // The link points at the run's page in the trend site Publish regenerates (site/ in the
      // bucket), served by the bundled report-link function behind its (local) function URL.
      const response = await fetch(outcome.reportUrl!);
      const page = await response.text();
      const markdown = await readFile(outcome.reportLocation!, 'utf8');

      expect(response.status).toBe(200);
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
      expect(outcome.reportUrl).toMatch(
        new RegExp(`^http://127\\.0\\.0\\.1:\\d+/[^/]+/site/runs/${outcome.runId}/index\\.html$`),
      );
      expect(page).toMatch(/^<!doctype html>/i);
      expect(page).toContain(outcome.runId);
      expect(markdown).toMatch(/^# /m);
      expect(markdown).toContain(outcome.runId);
      expect(outcome.notifications).toHaveLength(1);
      expect(outcome.notifications[0]?.subject).toContain('completed');
      expect(outcome.notifications[0]?.message).toContain(outcome.reportUrl);
    });

    it("stores the run's end before it notifies: bundled Publish's finishRun, then SNS, then the notified mark", async () => {
      const publish = (outcome.calls ?? [])
        .filter((c) => c.principal.startsWith('PublishFunction'))
        .filter((c) => c.action === 'dynamodb:UpdateItem' || c.action === 'sns:Publish')
        .map((c) => c.action);

      expect(publish).toEqual(['dynamodb:UpdateItem', 'sns:Publish', 'dynamodb:UpdateItem']);
      expect((await store.getRun(outcome.runId!))?.notification).toBe('sent');
    });

    it('lets one browse on from the linked page through relative links, and refuses an altered link', async () => {
      const link = outcome.reportUrl!;
      const index = await fetch(new URL('../../index.html', link));
      const token = new URL(link).pathname.split('/')[1]!;
      const [expiry, scope, signature] = token.split('.');
      const later = link.replace(token, `${Number(expiry) + 3600}.${scope}.${signature}`);
      const outside = new URL(`/${token}/store/anything.json`, link);

      expect(index.status).toBe(200);
      expect(await index.text()).toContain(outcome.runId);
      expect((await fetch(later)).status).toBe(403);
      expect((await fetch(outside)).status).toBe(403);
      expect((await fetch(new URL('../../no-such-page.html', link))).status).toBe(404);
    });

    it('yields the same report and no duplicate when the bundled Publish runs again', async () => {
      const list = async () =>
        (
          await s3.client.send(
            new ListObjectsV2Command({ Bucket: 'reports', Prefix: `runs/${outcome.runId}/` }),
          )
        ).Contents?.map((object) => object.Key).sort();
      const before = await list();
      const first = await (await fetch(outcome.reportUrl!)).text();
      const published = runtime.published().length;

      const output = (await runtime.invoke(arnOf('PublishFunction'), { runId: outcome.runId })) as {
        notified: boolean;
        reportUrl: string;
      };

      expect(output.notified).toBe(false);
      expect(runtime.published()).toHaveLength(published);
      expect(await list()).toEqual(before);
      expect(await (await fetch(output.reportUrl)).text()).toBe(first);
    });
  });

  describe('an E2B run', () => {
    it('with the key secret as deployed (the placeholder): the unit refuses, nothing reaches E2B, the unit is recorded failed', async () => {
      const before = invocations('UnitFunction');

      const outcome = await run(E2B_UNIT);

      expect(outcome.status).toBe('SUCCEEDED');
      expect(outcome.runStatus).toBe('partial');
      expect(outcome.results[0]?.error).toMatchObject({
        name: 'ProviderUnavailableError',
        message: expect.stringContaining('set the E2B API key'),
      });
      // Not a transient error: no retry.
      expect(invocations('UnitFunction') - before).toBe(1);
      expect(e2bRequests).toBe(0);
      expect(outcome.notifications[0]?.subject).toContain('partial');
    });

    it('with a key but E2B refusing: SandboxStartError keeps its name through the bundle, the Retry matches it, RecordFailure records it', async () => {
      const secret = resourcesOfType(stack.template, 'AWS::SecretsManager::Secret').find((id) =>
        id.startsWith('E2BApiKey'),
      )!;
      const secretArn = `arn:aws:secretsmanager:${stack.context.region}:${stack.context.account}:secret:${secret}-AbCdEf`;
      runtime.putSecret(secretArn, 'e2b_local_test_key');
      const before = { unit: invocations('UnitFunction'), record: invocations('RecordFailureFunction') };

      const outcome = await run(E2B_UNIT);

      expect(outcome.status).toBe('SUCCEEDED');
      expect(outcome.results[0]?.error?.name).toBe('SandboxStartError');
      // One try and two retries (MaxAttempts 2 on SandboxStartError), then RecordFailure once.
      expect(invocations('UnitFunction') - before.unit).toBe(3);
      expect(invocations('RecordFailureFunction') - before.record).toBe(1);
      expect(e2bRequests).toBeGreaterThan(0);
      expect(outcome.calls?.filter((c) => c.decision !== 'allowed')).toEqual([]);
      runtime.putSecret(secretArn, E2B_KEY_PLACEHOLDER);
    });
  });

  it.each([
    [null, /^input: /],
    [[], /^input: /],
    ['a string', /^input: /],
    [42, /^input: /],
    [{ categories: [] }, /^categories: /],
    [{ ...E2B_UNIT, provider: 'local', bogus: true }, /bogus: unknown field/],
    [{ ...E2B_UNIT, provider: 'local', budgetUsd: 0 }, /^budgetUsd: /],
  ])(
    'fails the execution through FailRun for input %j: typed error recorded and notified, no run, no sandbox',
    async (input, message) => {
      const runsBefore = (await store.listRuns({ limit: 100 })).length;
      const failRuns = invocations('FailRunFunction');

      const outcome = await run(input);

      expect(outcome.status).toBe('FAILED');
      expect(outcome.error?.name).toBe('InvalidInputError');
      expect(outcome.error?.message).toMatch(message);
      expect(outcome.runId).toBeUndefined();
      expect(outcome.sandboxesCreated).toBe(0);
      expect(invocations('FailRunFunction') - failRuns).toBe(1);
      expect((await store.listRuns({ limit: 100 })).length).toBe(runsBefore);
      expect(outcome.notifications).toHaveLength(1);
      expect(outcome.notifications[0]?.subject).toContain('FAILED');
      expect(outcome.notifications[0]?.message).toContain('InvalidInputError');
    },
  );

  it('reports errors by class name from every bundled handler (minified with keepNames)', async () => {
    const failure = async (prefix: string, event: unknown) =>
      runtime.invoke(arnOf(prefix), event).then(
        () => 'no error',
        (error: Error) => error.name,
      );

    expect(await failure('PlanFunction', { input: { budgetUsd: -1 } })).toBe('InvalidInputError');
    expect(await failure('PublishFunction', { runId: '20200101T000000Z-abcdef' })).toBe('StoreError');
    expect(await failure('RecordFailureFunction', {})).toBe('InvalidInputError');
    expect(await failure('DrainPoolFunction', { runId: 'not a run id' })).toBe('InvalidInputError');
    expect(await failure('FailRunFunction', null)).toBe('InvalidInputError');
    // Every project error class keeps its name in the bundles that carry it.
    const names = Object.values(errors)
      .filter((value) => typeof value === 'function' && value.prototype instanceof Error)
      .map((value) => (value as { name: string }).name);
    const unit = readFileSync(
      join(
        functionSpecs(stack.template, stack.context, stack.assemblyDir).find((f) =>
          f.logicalId.startsWith('UnitFunction'),
        )!.assetDir!,
        'index.mjs',
      ),
      'utf8',
    );
    for (const name of names) expect(unit, name).toContain(`"${name}"`);
  });

  it('would deny a call the run made if one permission were missing (the IAM check can fail)', () => {
    const policyOf = (name: string) => runtime.policyOf(name);
    const calls = runtime.calls();
    const publish = runtime.functions().find((f) => f.logicalId.startsWith('PublishFunction'))!;
    const withoutPublish: PolicyStatement[] = (policyOf(publish.name) ?? []).filter(
      (statement) => ![statement.Action].flat().includes('sns:Publish'),
    );

    expect(deniedCalls(calls, policyOf)).toEqual([]);
    const denied = deniedCalls(calls, (name) => (name === publish.name ? withoutPublish : policyOf(name)));
    expect(denied.length).toBeGreaterThan(0);
    expect(denied.every((c) => c.principal === publish.name && c.action === 'sns:Publish')).toBe(true);
  });
});
