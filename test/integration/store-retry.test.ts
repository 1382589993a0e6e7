import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreError } from '../../lib/errors.ts';
import { DirBlobStore } from '../../lib/store/blobs.ts';
import { DynamoResultStore, ensureTable } from '../../lib/store/dynamo.ts';
import { caught, makeResult, makeRun, startMemoryDynalite } from './store-contract.ts';

const TABLE = 'retry-results';

function throttled(): Error {
  return Object.assign(new Error('Rate of requests exceeds the allowed throughput.'), {
    name: 'ThrottlingException',
    $metadata: { httpStatusCode: 400 },
  });
}

describe('DynamoResultStore retries transient errors', () => {
  let server: Awaited<ReturnType<typeof startMemoryDynalite>>;
  let blobDir: string;
  /** Sends that fail before the real client is reached; set per test. */
  let failNext = 0;
  /** Sends that reach the server and then lose their response (as a reset connection would). */
  let dropResponses = 0;
  let sends = 0;
  const sleeps: number[] = [];

  function makeStore(attempts: number): DynamoResultStore {
    return new DynamoResultStore({
      client: server.client,
      tableName: TABLE,
      blobs: new DirBlobStore({ dir: blobDir }),
      retry: { attempts, baseMs: 50, capMs: 2_000 },
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      random: () => 0.5,
    });
  }

  async function countItems(runId: string): Promise<number> {
    const output = await original(
      new QueryCommand({
        TableName: TABLE,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `RUN#${runId}` },
      }),
    );
    return output.Items?.length ?? 0;
  }

  let original: (command: QueryCommand) => Promise<{ Items?: Record<string, unknown>[] }>;

  beforeAll(async () => {
    server = await startMemoryDynalite();
    blobDir = await mkdtemp(join(tmpdir(), 'swarm-bench-store-retry-'));
    await ensureTable(server.raw, TABLE);
    const send = server.client.send.bind(server.client) as (command: unknown) => Promise<never>;
    original = send;
    // Intercept the real client: fail before sending, or send and then lose the answer.
    (server.client as { send: unknown }).send = async (command: unknown) => {
      sends += 1;
      if (failNext > 0) {
        failNext -= 1;
        throw throttled();
      }
      if (dropResponses > 0) {
        dropResponses -= 1;
        await send(command);
        throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      }
      return send(command);
    };
  });

  afterAll(async () => {
    await server?.stop();
    await rm(blobDir, { recursive: true, force: true });
  });

  it('succeeds when fewer sends fail than there are attempts, with backed-off waits', async () => {
    // Prepare
    const store = makeStore(5);
    const run = makeRun();
    failNext = 3;
    sends = 0;
    sleeps.length = 0;

    // Act
    const outcome = await store.createRun(run);

    // Assess
    expect(outcome).toBe('created');
    expect(sends).toBe(4);
    // Full jitter with random 0.5: half of 50, 100, 200 ms.
    expect(sleeps).toEqual([25, 50, 100]);
    expect(await store.getRun(run.runId)).toEqual(run);
  });

  it('throws StoreError with the reason and cause once every attempt failed, and writes nothing', async () => {
    // Prepare
    const store = makeStore(3);
    const run = makeRun();
    failNext = 3;
    sends = 0;

    // Act
    const error = await caught(store.createRun(run));

    // Assess
    failNext = 0;
    expect(error).toBeInstanceOf(StoreError);
    expect((error as Error).message).toMatch(/after 3 attempt\(s\).*ThrottlingException/);
    expect((error as Error).cause).toMatchObject({ name: 'ThrottlingException' });
    expect(sends).toBe(3);
    expect(await store.getRun(run.runId)).toBeUndefined();
  });

  it('never duplicates a result when a write landed but its answer was lost', async () => {
    // Prepare
    const store = makeStore(5);
    const run = makeRun();
    await store.createRun(run);
    const result = makeResult(run.runId, 'creation/swarm-init');
    dropResponses = 1;

    // Act
    const outcome = await store.putResult(result);
    const retriedUnit = await store.putResult(makeResult(run.runId, 'creation/swarm-init', 'ok', [42]));

    // Assess: the retry met its own earlier write and did not replace or add anything.
    expect(outcome).toBe('exists');
    expect(retriedUnit).toBe('exists');
    expect(await store.getResults(run.runId)).toEqual([result]);
    expect(await countItems(run.runId)).toBe(2);
  });

  it('does not retry an error that is not transient', async () => {
    // Prepare
    sends = 0;
    const missingTable = new DynamoResultStore({
      client: server.client,
      tableName: 'no-such-table',
      blobs: new DirBlobStore({ dir: blobDir }),
      sleep: async () => undefined,
    });

    // Act: the server rejects a table that does not exist; retrying cannot help.
    const error = await caught(missingTable.getRun('r1'));

    // Assess
    expect(error).toBeInstanceOf(StoreError);
    expect((error as Error).message).toMatch(/after 1 attempt\(s\).*ResourceNotFoundException/);
    expect(sends).toBe(1);
  });
});
