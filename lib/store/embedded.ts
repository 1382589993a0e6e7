/**
 * The embedded default store: no external server, persisted on disk across runs.
 *
 * It is the DynamoDB store itself, talking to dynalite (a DynamoDB-compatible server on LevelDB)
 * started in-process on loopback. One code path on purpose: a separate file-based store would
 * re-implement the conditional writes, the index queries and the history rules, and the two would
 * drift; this way local runs exercise exactly the code that runs on AWS.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import { InvalidInputError, StoreError } from '../errors.ts';
import { DirBlobStore } from './blobs.ts';
import { DynamoResultStore, type DynamoResultStoreOptions, ensureTable } from './dynamo.ts';
import { checkLevelDbFiles, probeLevelDb } from './leveldb.ts';

/** Table name inside the embedded server. */
export const EMBEDDED_TABLE_NAME = 'swarm-bench-results';

/** An open embedded store; `close()` (or `store.close()`) stops the server and frees the directory. */
export interface EmbeddedStore {
  store: DynamoResultStore;
  blobs: DirBlobStore;
  /** The client pointed at the embedded server, for tools and tests that read raw items. */
  client: DynamoDBDocumentClient;
  tableName: string;
  /** Absolute store directory: `db/` (LevelDB) and `blobs/`. */
  dir: string;
  close(): Promise<void>;
}

/**
 * Opens (creating if new) the embedded store under `dir`, e.g. `<base>/.swarm-bench/store`.
 * A damaged or locked database fails with a one-line StoreError naming the directory or file,
 * before anything in it is written.
 */
export async function openEmbeddedStore(options: {
  dir: string;
  retry?: DynamoResultStoreOptions['retry'];
}): Promise<EmbeddedStore> {
  if (typeof options?.dir !== 'string' || options.dir.length === 0) {
    throw new InvalidInputError('dir', 'a directory path for the embedded store', options?.dir);
  }
  const dir = resolve(options.dir);
  const dbDir = join(dir, 'db');
  const state = await checkLevelDbFiles(dbDir);
  await probeLevelDb(dbDir, state === 'new');

  // There is a window between the probe's close and dynalite's open in which another process
  // could take the lock; the probe makes that a race rather than the common failure.
  const server = dynalite({ path: dbDir, createTableMs: 0 });
  try {
    await new Promise<void>((resolveListen, rejectListen) => {
      server.once('error', rejectListen);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', rejectListen);
        resolveListen();
      });
    });
  } catch (error) {
    throw new StoreError(`embedded store ${dir}: could not start its server: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const { port } = server.address() as AddressInfo;

  // A loopback stand-in, not AWS: fake static credentials, and no SDK retries so the store's own
  // backoff is the only retry layer.
  const raw = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'local',
    credentials: { accessKeyId: 'embedded', secretAccessKey: 'embedded' },
    maxAttempts: 1,
  });
  const client = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  const blobs = new DirBlobStore({ dir: join(dir, 'blobs') });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      raw.destroy();
      await closeServer(server);
    })();
    return stopping;
  };

  try {
    await ensureTable(raw, EMBEDDED_TABLE_NAME);
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
  const store = new DynamoResultStore({
    client,
    tableName: EMBEDDED_TABLE_NAME,
    blobs,
    ...(options.retry && { retry: options.retry }),
    onClose: stop,
  });
  return { store, blobs, client, tableName: EMBEDDED_TABLE_NAME, dir, close: () => store.close() };
}

async function closeServer(server: Server): Promise<void> {
  // Idle keep-alive sockets would hold close() open until they time out.
  server.closeAllConnections();
  await new Promise<void>((resolveClose, rejectClose) => {
    server.close((error) => {
      if (error)
        rejectClose(new StoreError(`embedded store server did not stop: ${error.message}`, { cause: error }));
      else resolveClose();
    });
  });
}
