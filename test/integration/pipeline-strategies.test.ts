/**
 * A user's strategy package through the deployed artifacts, run locally: packed from
 * examples/strategies (validated in a local sandbox), put into the bucket stand-in under
 * strategies/, named with its SHA-256 in the execution input. The bundled unit function fetches
 * it (the call checked against its IAM policy), checks the hash and runs the plug-ins in its local
 * sandboxes. A tampered object fails that unit with PluginPackageError, not retried.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ArtifactRuntime, startArtifactRuntime } from '../../lib/pipeline/artifacts.ts';
import { STORE_BLOB_PREFIX } from '../../lib/pipeline/events.ts';
import { deniedCalls, type PolicyStatement } from '../../lib/pipeline/iam.ts';
import {
  LAMBDA_SDK_DIR,
  type LocalPipelineResult,
  localBundledStack,
  runLocalPipeline,
} from '../../lib/pipeline/local.ts';
import { type LocalS3, startS3rver } from '../../lib/pipeline/s3rver.ts';
import { type PackedPlugins, packPlugins } from '../../lib/plugins/pack.ts';
import { createProvider } from '../../lib/sandbox/index.ts';
import { S3BlobStore } from '../../lib/store/blobs.ts';
import { DynamoResultStore, ensureTable } from '../../lib/store/dynamo.ts';
import { startMemoryDynalite } from './store-contract.ts';

const TABLE = 'pipeline-strategies';
const BUCKET = 'reports';
const ROOT = resolve('.');
const INPUT = { profile: 'quick', tests: ['trading/strategy-execution'], scenarios: false };

describe('a strategy package in the weekly pipeline (bundled functions, local stand-ins)', () => {
  let dir: string;
  let dynamo: Awaited<ReturnType<typeof startMemoryDynalite>>;
  let s3: LocalS3;
  let store: DynamoResultStore;
  let runtime: ArtifactRuntime;
  let packed: PackedPlugins;
  let good: LocalPipelineResult;
  let tampered: LocalPipelineResult;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'swarm-bench-strategies-'));
    const stack = await localBundledStack();
    dynamo = await startMemoryDynalite();
    await ensureTable(dynamo.raw, TABLE);
    s3 = await startS3rver({ directory: join(dir, 's3'), bucket: BUCKET });
    store = new DynamoResultStore({
      client: dynamo.client,
      tableName: TABLE,
      blobs: new S3BlobStore({ client: s3.client, bucket: BUCKET, prefix: STORE_BLOB_PREFIX }),
    });
    const endpoint = await dynamo.raw.config.endpoint!();
    runtime = await startArtifactRuntime({
      stack,
      standIns: { dynamodb: { endpoint: `http://127.0.0.1:${endpoint.port}`, tableName: TABLE }, s3 },
      nodePath: process.execPath,
      sdkDir: LAMBDA_SDK_DIR,
    });
    packed = await packPlugins({
      root: ROOT,
      outDir: join(dir, 'bundles'),
      agentBundle: resolve('dist/agent.cjs'),
      modules: ['rsi-pullback', 'volume-breakout'].map((name) => ({
        path: `examples/strategies/${name}.ts`,
        kind: 'strategy' as const,
        flag: '--strategy',
      })),
      sandboxes: (bundlePath) => createProvider('local', { local: { bundlePath, tmpRoot: dir } }),
    });
    const run = (strategyPackage: PackedPlugins) =>
      runLocalPipeline({
        input: INPUT,
        strategyPackage,
        runtime,
        store,
        outDir: join(dir, 'docs'),
        retryIntervalMs: 0,
      });
    good = await run(packed);
    // The same key and input, other bytes: one strategy's threshold changed after packing.
    const text = packed.bytes.toString('utf8');
    const altered = Buffer.from(text.replace('oversold:40', 'oversold:45'));
    expect(altered.equals(packed.bytes)).toBe(false);
    tampered = await run({ ...packed, bytes: altered });
  }, 900_000);

  afterAll(async () => {
    await runtime?.close();
    await s3?.close();
    await dynamo?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("measures the package's strategies beside the built-ins, and the report shows their series", async () => {
    expect(good.error).toBeUndefined();
    expect(good.status).toBe('SUCCEEDED');
    const unit = good.results.find((r) => r.unitId === 'trading/strategy-execution');
    expect(unit?.status).toBe('ok');
    for (const strategy of ['rsi-pullback', 'volume-breakout', 'momentum']) {
      const series = unit?.series.find((s) => s.name === 'strategy-rtt-ms' && s.labels.strategy === strategy);
      expect(series?.samples.length, strategy).toBeGreaterThan(0);
    }
    const meta = await store.getRun(good.runId!);
    expect(meta?.plugins).toEqual({ strategies: ['rsi-pullback', 'volume-breakout'], sha256: packed.sha256 });
    const markdown = await readFile(good.reportLocation!, 'utf8');
    expect(markdown).toContain('rsi-pullback');
    expect(markdown).toContain('volume-breakout');
    expect(markdown).toContain(packed.sha256.slice(0, 16));
  });

  it('fetched the package with a call only the unit grant allows', () => {
    const fetches = (good.calls ?? []).filter(
      (c) => c.action === 's3:GetObject' && c.resource.endsWith(`/${packed.key}`),
    );
    expect(fetches.length).toBeGreaterThan(0);
    expect(fetches.every((c) => c.principal.startsWith('UnitFunction') && c.decision === 'allowed')).toBe(
      true,
    );
    const unitName = fetches[0]!.principal;
    const withoutGrant: PolicyStatement[] = (runtime.policyOf(unitName) ?? []).filter(
      (s) => !JSON.stringify(s.Resource ?? '').includes('/strategies/'),
    );
    const denied = deniedCalls(fetches, (name) =>
      name === unitName ? withoutGrant : runtime.policyOf(name),
    );
    expect(denied).toHaveLength(fetches.length);
  });

  it('fails the unit of a tampered package with PluginPackageError, once, and runs none of it', async () => {
    const unit = tampered.results.find((r) => r.unitId === 'trading/strategy-execution');
    expect(unit?.status).toBe('failed');
    expect(unit?.error?.name).toBe('PluginPackageError');
    expect(unit?.error?.message).toContain(packed.sha256);
    expect(unit?.usage.sandboxesCreated ?? 0).toBe(0);
    const unitFetches = (tampered.calls ?? []).filter(
      (c) => c.action === 's3:GetObject' && c.resource.endsWith(`/${packed.key}`),
    );
    // Not retried: the Map's retry list names only transient errors.
    expect(unitFetches).toHaveLength(1);
  });
});
