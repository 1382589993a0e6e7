import { CreateTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreError } from '../../lib/errors.ts';
import { ensureTable, TABLE_SCHEMA } from '../../lib/store/dynamo.ts';
import { caught, startMemoryDynalite } from './store-contract.ts';

describe('ensureTable', () => {
  let server: Awaited<ReturnType<typeof startMemoryDynalite>>;

  beforeAll(async () => {
    server = await startMemoryDynalite();
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('creates the table with the keys and indexes of TABLE_SCHEMA, once', async () => {
    // Act
    const first = await ensureTable(server.raw, 'schema-results');
    const second = await ensureTable(server.raw, 'schema-results');
    const { Table } = await server.raw.send(new DescribeTableCommand({ TableName: 'schema-results' }));

    // Assess
    expect([first, second]).toEqual(['created', 'exists']);
    expect(Table?.TableStatus).toBe('ACTIVE');
    expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    expect(Table?.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(
      Table?.GlobalSecondaryIndexes?.map((g) => [g.IndexName, g.KeySchema?.map((k) => k.AttributeName)]),
    ).toEqual(TABLE_SCHEMA.globalSecondaryIndexes.map((g) => [g.indexName, [g.partitionKey, g.sortKey]]));
  });

  it('refuses an existing table of another layout, naming what differs', async () => {
    // Prepare
    await server.raw.send(
      new CreateTableCommand({
        TableName: 'foreign-table',
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      }),
    );

    // Act
    const error = await caught(ensureTable(server.raw, 'foreign-table'));

    // Assess
    expect(error).toBeInstanceOf(StoreError);
    expect((error as Error).message).toMatch(
      /foreign-table .*key schema is id:HASH.*index byConfig is missing/,
    );
  });
});
