import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { DirBlobStore } from '../../lib/store/blobs.ts';
import { DynamoResultStore, ensureTable } from '../../lib/store/dynamo.ts';
import { openEmbeddedStore } from '../../lib/store/embedded.ts';
import { resultStoreContract, startMemoryDynalite } from './store-contract.ts';

const TABLE = 'contract-results';

resultStoreContract('DynamoResultStore on dynalite in memory', async () => {
  const server = await startMemoryDynalite();
  const blobDir = await mkdtemp(join(tmpdir(), 'swarm-bench-store-blobs-'));
  await ensureTable(server.raw, TABLE);
  const store = new DynamoResultStore({
    client: server.client,
    tableName: TABLE,
    blobs: new DirBlobStore({ dir: blobDir }),
  });
  return {
    store,
    putRawItem: async (item) => {
      await server.client.send(new PutCommand({ TableName: TABLE, Item: item }));
    },
    getRawItem: async (key) =>
      (await server.client.send(new GetCommand({ TableName: TABLE, Key: key }))).Item,
    teardown: async () => {
      await store.close();
      await server.stop();
      await rm(blobDir, { recursive: true, force: true });
    },
  };
});

resultStoreContract(
  'embedded on-disk store',
  async () => {
    const base = await mkdtemp(join(tmpdir(), 'swarm-bench-store-embedded-'));
    const dir = join(base, '.swarm-bench', 'store');
    let embedded = await openEmbeddedStore({ dir });
    return {
      store: embedded.store,
      putRawItem: async (item) => {
        await embedded.client.send(new PutCommand({ TableName: embedded.tableName, Item: item }));
      },
      getRawItem: async (key) =>
        (await embedded.client.send(new GetCommand({ TableName: embedded.tableName, Key: key }))).Item,
      reopen: async () => {
        await embedded.close();
        embedded = await openEmbeddedStore({ dir });
        return embedded.store;
      },
      teardown: async () => {
        await embedded.close();
        await rm(base, { recursive: true, force: true });
      },
    };
  },
  { persistent: true },
);
