import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidInputError, StoreError } from '../../lib/errors.ts';
import { type LocalS3, startS3rver } from '../../lib/pipeline/s3rver.ts';
import { S3BlobStore } from '../../lib/store/blobs.ts';
import { DynamoResultStore, ensureTable } from '../../lib/store/dynamo.ts';
import { caught, makeResult, makeRun, startMemoryDynalite } from './store-contract.ts';

describe('S3BlobStore against s3rver', () => {
  let dir: string;
  let s3: LocalS3;
  let client: S3Client;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'swarm-bench-s3rver-'));
    s3 = await startS3rver({ directory: dir, bucket: 'results' });
    client = s3.client;
  });

  afterAll(async () => {
    await s3?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips text and bytes under its prefix with the given content type', async () => {
    // Prepare
    const blobs = new S3BlobStore({ client, bucket: 'results', prefix: 'bench/' });
    const text = JSON.stringify([{ samples: [1.25, 2.5] }, 'üñí']);

    // Act
    await blobs.put('runs/r1/samples/creation%2Fswarm-init.json', text, 'application/json');
    await blobs.put('runs/r1/raw.bin', new Uint8Array([104, 105]));
    const readText = await blobs.get('runs/r1/samples/creation%2Fswarm-init.json');
    const readBytes = await blobs.get('runs/r1/raw.bin');
    const object = await client.send(
      new GetObjectCommand({ Bucket: 'results', Key: 'bench/runs/r1/samples/creation%2Fswarm-init.json' }),
    );

    // Assess
    expect(readText).toBe(text);
    expect(readBytes).toBe('hi');
    expect(object.ContentType).toBe('application/json');
    expect(await object.Body?.transformToString()).toBe(text);
  });

  it('returns undefined for a missing key but a StoreError for a missing bucket', async () => {
    // Prepare
    const blobs = new S3BlobStore({ client, bucket: 'results' });
    const noBucket = new S3BlobStore({ client, bucket: 'no-such-bucket', retry: { attempts: 1 } });

    // Act
    const missing = await blobs.get('runs/none.json');
    const error = await caught(noBucket.get('runs/none.json'));

    // Assess
    expect(missing).toBeUndefined();
    expect(error).toBeInstanceOf(StoreError);
    expect((error as Error).message).toContain('s3://no-such-bucket/runs/none.json');
  });

  it('rejects unsafe keys and prefixes before sending anything', async () => {
    const blobs = new S3BlobStore({ client, bucket: 'results' });
    await expect(blobs.put('../other/x', 'x')).rejects.toBeInstanceOf(InvalidInputError);
    expect(() => new S3BlobStore({ client, bucket: 'results', prefix: 'a/../b/' })).toThrow(
      InvalidInputError,
    );
    expect(() => new S3BlobStore({ client, bucket: 'results', prefix: 'no-slash' })).toThrow(
      InvalidInputError,
    );
  });

  it('holds the huge series of a DynamoDB result, restoring them on read', async () => {
    // Prepare
    const dynamo = await startMemoryDynalite();
    try {
      await ensureTable(dynamo.raw, 'results-with-s3');
      const blobs = new S3BlobStore({ client, bucket: 'results', prefix: 'swarm-bench/' });
      const store = new DynamoResultStore({ client: dynamo.client, tableName: 'results-with-s3', blobs });
      const run = makeRun();
      await store.createRun(run);
      const samples = Array.from({ length: 50_000 }, (_, i) => i * 1.000_1);
      const result = makeResult(run.runId, 'communication/message-throughput', 'ok', samples);

      // Act
      await store.putResult(result);
      const [read] = await store.getResults(run.runId);

      // Assess
      expect(read).toEqual(result);
      const prefix = `swarm-bench/runs/${run.runId}/samples/communication%2Fmessage-throughput.`;
      const objects = await client.send(new ListObjectsV2Command({ Bucket: 'results', Prefix: prefix }));
      expect(objects.Contents).toHaveLength(1);
      expect(objects.Contents?.[0]?.Size).toBe(Buffer.byteLength(JSON.stringify(result.series)));
    } finally {
      await dynamo.stop();
    }
  });
});
