/**
 * The DynamoDB result store: one table, single-item conditional writes and queries only, because
 * those are what both DynamoDB and the embedded stand-in (dynalite: no transactions, no TTL
 * updates) support identically.
 *
 * Items (all strings keys, every item carries `schemaVersion`):
 *   run     pk=RUN#<runId> sk=META          gsi1pk=CFG#<provider>#<configHash> gsi1sk=<startedAt>#<runId>
 *                                            gsi2pk=RUNS                        gsi2sk=<startedAt>#<runId>
 *   result  pk=RUN#<runId> sk=UNIT#<unitId>
 * Bodies are stored as JSON strings: numbers round-trip exactly, the item size is known before
 * the write, and no DynamoDB marshalling rule (empty map keys, NaN) can reject a result.
 */
import { createHash } from 'node:crypto';
import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  type TableDescription,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { RunMeta, RunStatus, UnitResult, UnitStatus } from '../bench/model.ts';
import { PROVIDERS } from '../config.ts';
import { InvalidInputError, StoreError } from '../errors.ts';
import { isTransientError, RETRY_DEFAULTS, type RetryOptions, retry } from '../retry.ts';
import type { ProviderName } from '../sandbox/types.ts';
import type { BlobStore, HistoryQuery, ListRunsQuery, ResultStore, RunFinish } from './types.ts';

/** The item layout version this build writes and reads. */
export const SCHEMA_VERSION = 1;

/** The table's keys and indexes as data, so the CDK stack declares exactly what the store queries. */
export const TABLE_SCHEMA = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Every key attribute is a string. */
  attributeDefinitions: [
    { name: 'pk', type: 'S' },
    { name: 'sk', type: 'S' },
    { name: 'gsi1pk', type: 'S' },
    { name: 'gsi1sk', type: 'S' },
    { name: 'gsi2pk', type: 'S' },
    { name: 'gsi2sk', type: 'S' },
  ],
  globalSecondaryIndexes: [
    /** Runs of one provider + configuration, by start time: history and baselines. */
    { indexName: 'byConfig', partitionKey: 'gsi1pk', sortKey: 'gsi1sk', projection: 'ALL' },
    /** Every run by start time: listing without a configuration. One weekly run keeps this partition cold. */
    { indexName: 'byStartedAt', partitionKey: 'gsi2pk', sortKey: 'gsi2sk', projection: 'ALL' },
  ],
  billingMode: 'PAY_PER_REQUEST',
} as const;

const BY_CONFIG = TABLE_SCHEMA.globalSecondaryIndexes[0];
const BY_STARTED_AT = TABLE_SCHEMA.globalSecondaryIndexes[1];
const ALL_RUNS_PARTITION = 'RUNS';
/** Sort key prefix of result items: `UNIT#<unitId>`. */
const UNIT_PREFIX = 'UNIT#';

/**
 * Above this many bytes of JSON a result's series move to the blob store. DynamoDB's item limit
 * is 400 KB including attribute names; the margin covers them and the other attributes.
 */
export const INLINE_LIMIT_BYTES = 350_000;

const RUN_STATUSES: readonly RunStatus[] = [
  'running',
  'completed',
  'partial',
  'failed',
  'interrupted',
  'abandoned',
];
const UNIT_STATUSES: readonly UnitStatus[] = ['ok', 'partial', 'failed'];
const DEFAULT_LIST_LIMIT = 50;
const MAX_LIMIT = 1_000;

/** Options of `DynamoResultStore`. */
export interface DynamoResultStoreOptions {
  /** Injected; the store never builds an AWS client. */
  client: DynamoDBDocumentClient;
  tableName: string;
  /** Where oversized series go (S3 on AWS, a directory locally). */
  blobs: BlobStore;
  /** Backoff for transient errors. @default 5 attempts, base 50 ms, cap 2 s */
  retry?: { attempts?: number; baseMs?: number; capMs?: number };
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  onRetry?: RetryOptions['onRetry'];
  /** Called once by close(): releases what the creator of this store owns (the embedded server). */
  onClose?: () => Promise<void>;
}

type Item = Record<string, unknown>;

/** ResultStore on one DynamoDB table (AWS or any DynamoDB-compatible server). */
export class DynamoResultStore implements ResultStore {
  readonly tableName: string;
  readonly #client: DynamoDBDocumentClient;
  readonly #blobs: BlobStore;
  readonly #retry: RetryOptions;
  readonly #onClose: (() => Promise<void>) | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: DynamoResultStoreOptions) {
    assertTableName(options.tableName);
    this.tableName = options.tableName;
    this.#client = options.client;
    this.#blobs = options.blobs;
    this.#onClose = options.onClose;
    this.#retry = {
      attempts: options.retry?.attempts ?? RETRY_DEFAULTS.attempts,
      baseMs: options.retry?.baseMs ?? RETRY_DEFAULTS.baseMs,
      capMs: options.retry?.capMs ?? RETRY_DEFAULTS.capMs,
      isRetryable: isTransientError,
      ...(options.sleep && { sleep: options.sleep }),
      ...(options.random && { random: options.random }),
      ...(options.onRetry && { onRetry: options.onRetry }),
    };
  }

  async createRun(meta: RunMeta): Promise<'created' | 'exists'> {
    assertId(meta?.runId, 'runId');
    assertOneOf(meta.status, RUN_STATUSES, 'status');
    assertOneOf(meta.provider, PROVIDERS, 'provider');
    assertId(meta.configHash, 'configHash');
    const startedAt = isoTimestamp(meta.startedAt, 'startedAt');
    const body = JSON.stringify(meta);
    const order = `${startedAt}#${meta.runId}`;
    const item: Item = {
      ...runKey(meta.runId),
      schemaVersion: SCHEMA_VERSION,
      kind: 'run',
      runId: meta.runId,
      status: meta.status,
      startedAt: meta.startedAt,
      provider: meta.provider,
      configHash: meta.configHash,
      profile: meta.profile,
      gsi1pk: configPartition(meta.provider, meta.configHash),
      gsi1sk: order,
      gsi2pk: ALL_RUNS_PARTITION,
      gsi2sk: order,
      body,
      ...(meta.endedAt !== undefined && { endedAt: meta.endedAt }),
      ...(meta.reason !== undefined && { reason: meta.reason }),
    };
    return this.#conditionalPut(`createRun ${meta.runId}`, item, 'attribute_not_exists(pk)').then(
      (written) => (written ? 'created' : 'exists'),
    );
  }

  async finishRun(runId: string, patch: RunFinish): Promise<void> {
    assertId(runId, 'runId');
    assertOneOf(patch?.status, RUN_STATUSES, 'status');
    isoTimestamp(patch.endedAt, 'endedAt');
    const names: Record<string, string> = { '#status': 'status', '#endedAt': 'endedAt' };
    const values: Record<string, unknown> = { ':status': patch.status, ':endedAt': patch.endedAt };
    let update = 'SET #status = :status, #endedAt = :endedAt';
    if (patch.reason !== undefined) {
      names['#reason'] = 'reason';
      values[':reason'] = patch.reason;
      update += ', #reason = :reason';
    }
    if (patch.notification !== undefined) {
      assertOneOf(patch.notification, ['pending'], 'notification');
      names['#notification'] = 'notification';
      values[':notification'] = patch.notification;
      update += ', #notification = :notification';
    }
    try {
      await this.#send(`finishRun ${runId}`, () =>
        this.#client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: runKey(runId),
            UpdateExpression: update,
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
          }),
        ),
      );
    } catch (error) {
      if (isConditionalCheckFailed(error)) throw new StoreError(`finishRun: run ${runId} does not exist`);
      throw error;
    }
  }

  async markNotified(runId: string): Promise<void> {
    assertId(runId, 'runId');
    try {
      await this.#send(`markNotified ${runId}`, () =>
        this.#client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: runKey(runId),
            UpdateExpression: 'SET #notification = :sent',
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeNames: { '#notification': 'notification' },
            ExpressionAttributeValues: { ':sent': 'sent' },
          }),
        ),
      );
    } catch (error) {
      if (isConditionalCheckFailed(error)) throw new StoreError(`markNotified: run ${runId} does not exist`);
      throw error;
    }
  }

  async heartbeat(runId: string, at: string): Promise<'ok' | 'not-running'> {
    assertId(runId, 'runId');
    const heartbeatAt = isoTimestamp(at, 'at');
    try {
      await this.#send(`heartbeat ${runId}`, () =>
        this.#client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: runKey(runId),
            UpdateExpression: 'SET #heartbeatAt = :at',
            ConditionExpression: '#status = :running',
            ExpressionAttributeNames: { '#heartbeatAt': 'heartbeatAt', '#status': 'status' },
            ExpressionAttributeValues: { ':at': heartbeatAt, ':running': 'running' satisfies RunStatus },
          }),
        ),
      );
      return 'ok';
    } catch (error) {
      if (isConditionalCheckFailed(error)) return 'not-running';
      throw error;
    }
  }

  async abandonRun(
    runId: string,
    patch: { staleBefore: string; endedAt: string; reason: string },
  ): Promise<boolean> {
    assertId(runId, 'runId');
    const staleBefore = isoTimestamp(patch?.staleBefore, 'staleBefore');
    isoTimestamp(patch.endedAt, 'endedAt');
    if (typeof patch.reason !== 'string' || patch.reason === '')
      throw new InvalidInputError('reason', 'a non-empty string', patch.reason);
    try {
      await this.#send(`abandonRun ${runId}`, () =>
        this.#client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: runKey(runId),
            UpdateExpression: 'SET #status = :abandoned, #endedAt = :endedAt, #reason = :reason',
            // startedAt is stored as written; the owner writes toISOString() form, which compares in time order.
            ConditionExpression:
              '#status = :running AND (#heartbeatAt < :stale OR (attribute_not_exists(#heartbeatAt) AND #startedAt < :stale))',
            ExpressionAttributeNames: {
              '#status': 'status',
              '#endedAt': 'endedAt',
              '#reason': 'reason',
              '#heartbeatAt': 'heartbeatAt',
              '#startedAt': 'startedAt',
            },
            ExpressionAttributeValues: {
              ':abandoned': 'abandoned' satisfies RunStatus,
              ':running': 'running' satisfies RunStatus,
              ':endedAt': patch.endedAt,
              ':reason': patch.reason,
              ':stale': staleBefore,
            },
          }),
        ),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  async getRun(runId: string): Promise<RunMeta | undefined> {
    assertId(runId, 'runId');
    const item = await this.#getItem(`getRun ${runId}`, runKey(runId));
    return item === undefined ? undefined : decodeRun(item);
  }

  async putResult(result: UnitResult): Promise<'written' | 'exists'> {
    assertId(result?.runId, 'runId');
    assertId(result.unitId, 'unitId');
    assertOneOf(result.status, UNIT_STATUSES, 'status');
    if (!Array.isArray(result.series))
      throw new InvalidInputError('series', 'an array of series', result.series);
    const { series, ...rest } = result;
    const body = JSON.stringify(rest);
    const seriesJson = JSON.stringify(series);
    const bodyBytes = Buffer.byteLength(body);
    const seriesBytes = Buffer.byteLength(seriesJson);
    const key = resultKey(result.runId, result.unitId);
    const what = `putResult ${result.runId} ${result.unitId}`;
    // A failed attempt never replaces anything; a good one may replace a stored failure.
    const condition =
      result.status === 'failed'
        ? 'attribute_not_exists(pk)'
        : 'attribute_not_exists(pk) OR #status = :failed';

    let seriesAttributes: Item = { seriesJson };
    if (bodyBytes + seriesBytes > INLINE_LIMIT_BYTES) {
      if (bodyBytes > INLINE_LIMIT_BYTES) {
        throw new StoreError(
          `${what}: result is ${bodyBytes} bytes without its series (limit ${INLINE_LIMIT_BYTES})`,
        );
      }
      // Skip writing a blob nobody will read when the stored result cannot be replaced anyway.
      const existing = await this.#getItem(what, key);
      if (existing !== undefined && !(existing.status === 'failed' && result.status !== 'failed'))
        return 'exists';
      const sha256 = createHash('sha256').update(seriesJson).digest('hex');
      // Content-addressed, so a concurrent attempt of the same unit can never overwrite the
      // samples an already stored item points to.
      const blobKey = samplesBlobKey(result.runId, result.unitId, sha256);
      await this.#blobs.put(blobKey, seriesJson, 'application/json');
      seriesAttributes = { seriesBlob: { key: blobKey, sha256, bytes: seriesBytes } };
    }

    const item: Item = {
      ...key,
      schemaVersion: SCHEMA_VERSION,
      kind: 'result',
      runId: result.runId,
      unitId: result.unitId,
      status: result.status,
      body,
      ...seriesAttributes,
    };
    const written = await this.#conditionalPut(what, item, condition, result.status !== 'failed');
    return written ? 'written' : 'exists';
  }

  async getResults(runId: string): Promise<UnitResult[]> {
    assertId(runId, 'runId');
    const items: Item[] = [];
    await this.#queryPages(`getResults ${runId}`, resultItemsQuery(runId), (page) => {
      items.push(...page);
      return true;
    });
    return Promise.all(items.map((item) => this.#decodeResult(item)));
  }

  async getResult(runId: string, unitId: string): Promise<UnitResult | undefined> {
    assertId(runId, 'runId');
    assertId(unitId, 'unitId');
    const item = await this.#getItem(`getResult ${runId} ${unitId}`, resultKey(runId, unitId));
    return item === undefined ? undefined : this.#decodeResult(item);
  }

  async resultUnitIds(runId: string): Promise<string[]> {
    assertId(runId, 'runId');
    const unitIds: string[] = [];
    await this.#queryPages(
      `resultUnitIds ${runId}`,
      // The sort key carries the unitId: nothing else of the item is read back.
      { ...resultItemsQuery(runId), ProjectionExpression: 'sk' },
      (page) => {
        for (const item of page) unitIds.push(String(item.sk).slice(UNIT_PREFIX.length));
        return true;
      },
    );
    return unitIds;
  }

  async listRuns(query: ListRunsQuery): Promise<RunMeta[]> {
    const limit = assertLimit(query?.limit ?? DEFAULT_LIST_LIMIT);
    if (query.provider !== undefined) assertOneOf(query.provider, PROVIDERS, 'provider');
    if (query.status !== undefined) assertOneOf(query.status, RUN_STATUSES, 'status');
    if (query.configHash !== undefined) assertId(query.configHash, 'configHash');
    const byConfig = query.configHash !== undefined && query.provider !== undefined;
    const filters: string[] = [];
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    if (query.status !== undefined) {
      filters.push('#status = :status');
      names['#status'] = 'status';
      values[':status'] = query.status;
    }
    if (!byConfig && query.provider !== undefined) {
      filters.push('provider = :provider');
      values[':provider'] = query.provider;
    }
    if (!byConfig && query.configHash !== undefined) {
      filters.push('configHash = :configHash');
      values[':configHash'] = query.configHash;
    }
    const input = runIndexQuery(
      byConfig
        ? { index: BY_CONFIG, partition: configPartition(query.provider!, query.configHash!) }
        : { index: BY_STARTED_AT, partition: ALL_RUNS_PARTITION },
      query.beforeStartedAt,
      filters,
      names,
      values,
    );
    const runs: RunMeta[] = [];
    await this.#queryPages(
      'listRuns',
      // Without filters a page of exactly the remaining size avoids reading more than returned.
      { ...input, Limit: filters.length === 0 ? limit : Math.max(limit, 100) },
      (page) => {
        for (const item of page) {
          if (runs.length >= limit) break;
          runs.push(decodeRun(item));
        }
        return runs.length < limit;
      },
    );
    return runs;
  }

  async history(query: HistoryQuery): Promise<Array<{ run: RunMeta; result: UnitResult }>> {
    assertId(query?.configHash, 'configHash');
    assertOneOf(query.provider, PROVIDERS, 'provider');
    assertId(query.unitId, 'unitId');
    const limit = assertLimit(query.limit);
    const input = runIndexQuery(
      { index: BY_CONFIG, partition: configPartition(query.provider, query.configHash) },
      query.beforeStartedAt,
      ['#status = :status'],
      { '#status': 'status' },
      { ':status': 'completed' satisfies RunStatus },
    );
    const found: Array<{ run: RunMeta; result: UnitResult }> = [];
    const what = `history ${query.provider} ${query.configHash} ${query.unitId}`;
    await this.#queryPages(what, { ...input, Limit: Math.max(limit, 25) }, async (page) => {
      const runs = page.map(decodeRun);
      // Look results up in small parallel batches, in newest-first order, until enough are found.
      for (let start = 0; start < runs.length && found.length < limit; ) {
        const batch = runs.slice(start, start + (limit - found.length));
        start += batch.length;
        const items = await Promise.all(
          batch.map((run) => this.#getItem(what, resultKey(run.runId, query.unitId))),
        );
        for (const [i, item] of items.entries()) {
          if (item === undefined || found.length >= limit) continue;
          const result = await this.#decodeResult(item);
          if (result.status !== 'failed') found.push({ run: batch[i]!, result });
        }
      }
      return found.length < limit;
    });
    return found;
  }

  async close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#onClose?.();
    })();
    return this.#closing;
  }

  /** Puts `item` if `condition` holds; false when the condition failed (the item already exists). */
  async #conditionalPut(
    what: string,
    item: Item,
    condition: string,
    replacesFailed = false,
  ): Promise<boolean> {
    try {
      await this.#send(what, () =>
        this.#client.send(
          new PutCommand({
            TableName: this.tableName,
            Item: item,
            ConditionExpression: condition,
            ...(replacesFailed && {
              ExpressionAttributeNames: { '#status': 'status' },
              ExpressionAttributeValues: { ':failed': 'failed' satisfies UnitStatus },
            }),
          }),
        ),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  async #getItem(what: string, key: { pk: string; sk: string }): Promise<Item | undefined> {
    const output = await this.#send(what, () =>
      this.#client.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true })),
    );
    return output.Item;
  }

  /** Runs a query page by page; `onPage` returns false to stop. */
  async #queryPages(
    what: string,
    input: Omit<QueryCommandInput, 'TableName'>,
    onPage: (items: Item[]) => boolean | Promise<boolean>,
  ): Promise<void> {
    let startKey: Record<string, unknown> | undefined;
    do {
      const output = await this.#send(what, () =>
        this.#client.send(
          new QueryCommand({
            ...input,
            TableName: this.tableName,
            ...(startKey !== undefined && { ExclusiveStartKey: startKey }),
          }),
        ),
      );
      if (!(await onPage(output.Items ?? []))) return;
      startKey = output.LastEvaluatedKey;
    } while (startKey !== undefined);
  }

  /** Sends one request (sendWithRetry), refused once the store is closed. */
  async #send<T>(what: string, request: () => Promise<T>): Promise<T> {
    if (this.#closing !== undefined) throw new StoreError(`${what}: the store is closed`);
    return sendWithRetry(what, this.tableName, this.#retry, request);
  }

  async #decodeResult(item: Item): Promise<UnitResult> {
    assertSchemaVersion(item);
    const rest = parseBody(item) as Omit<UnitResult, 'series'>;
    let seriesJson: string;
    if (typeof item.seriesJson === 'string') {
      seriesJson = item.seriesJson;
    } else {
      const pointer = item.seriesBlob as { key?: unknown; sha256?: unknown } | undefined;
      if (typeof pointer?.key !== 'string' || typeof pointer.sha256 !== 'string') {
        throw new StoreError(`item ${itemName(item)} has neither inline series nor a series blob pointer`);
      }
      const text = await this.#blobs.get(pointer.key);
      if (text === undefined) {
        throw new StoreError(`item ${itemName(item)}: its series blob ${pointer.key} is missing`);
      }
      if (createHash('sha256').update(text).digest('hex') !== pointer.sha256) {
        throw new StoreError(
          `item ${itemName(item)}: its series blob ${pointer.key} does not match its checksum`,
        );
      }
      seriesJson = text;
    }
    try {
      return { ...rest, series: JSON.parse(seriesJson) } as UnitResult;
    } catch (error) {
      throw new StoreError(`item ${itemName(item)}: series are not valid JSON`, { cause: error });
    }
  }
}

/**
 * Creates the store's table (on-demand) unless it exists, waits until it is ACTIVE and checks an
 * existing table has the keys and indexes the store queries. On AWS the CDK stack owns the table;
 * this is for the embedded store and test servers.
 */
export async function ensureTable(
  client: DynamoDBClient,
  tableName: string,
  options: { maxWaitSeconds?: number } = {},
): Promise<'created' | 'exists'> {
  assertTableName(tableName);
  let outcome: 'created' | 'exists' = 'exists';
  try {
    let table: TableDescription | undefined;
    try {
      table = (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
    } catch (error) {
      if ((error as { name?: unknown }).name !== 'ResourceNotFoundException') throw error;
    }
    if (table === undefined) {
      try {
        await client.send(new CreateTableCommand(createTableInput(tableName)));
        outcome = 'created';
      } catch (error) {
        // Someone else created it between our describe and create: wait for theirs.
        if ((error as { name?: unknown }).name !== 'ResourceInUseException') throw error;
      }
    } else {
      assertTableShape(tableName, table);
    }
    if (table?.TableStatus !== 'ACTIVE') {
      // The waiter rejects a minDelay that is not below maxWaitTime.
      const maxWaitTime = options.maxWaitSeconds ?? 120;
      await waitUntilTableExists(
        { client, maxWaitTime, minDelay: Math.min(1, maxWaitTime / 2), maxDelay: Math.min(5, maxWaitTime) },
        { TableName: tableName },
      );
    }
  } catch (error) {
    if (error instanceof StoreError) throw error;
    throw new StoreError(`could not ensure table ${tableName}: ${messageOf(error)}`, { cause: error });
  }
  return outcome;
}

function createTableInput(tableName: string) {
  return {
    TableName: tableName,
    BillingMode: TABLE_SCHEMA.billingMode,
    AttributeDefinitions: TABLE_SCHEMA.attributeDefinitions.map((a) => ({
      AttributeName: a.name,
      AttributeType: a.type,
    })),
    KeySchema: [
      { AttributeName: TABLE_SCHEMA.partitionKey, KeyType: 'HASH' as const },
      { AttributeName: TABLE_SCHEMA.sortKey, KeyType: 'RANGE' as const },
    ],
    GlobalSecondaryIndexes: TABLE_SCHEMA.globalSecondaryIndexes.map((gsi) => ({
      IndexName: gsi.indexName,
      KeySchema: [
        { AttributeName: gsi.partitionKey, KeyType: 'HASH' as const },
        { AttributeName: gsi.sortKey, KeyType: 'RANGE' as const },
      ],
      Projection: { ProjectionType: gsi.projection },
    })),
  };
}

function assertTableShape(tableName: string, table: TableDescription): void {
  const keyOf = (schema: TableDescription['KeySchema']) =>
    (schema ?? []).map((k) => `${k.AttributeName}:${k.KeyType}`).join(',');
  const problems: string[] = [];
  if (keyOf(table.KeySchema) !== `${TABLE_SCHEMA.partitionKey}:HASH,${TABLE_SCHEMA.sortKey}:RANGE`) {
    problems.push(`key schema is ${keyOf(table.KeySchema)}`);
  }
  for (const gsi of TABLE_SCHEMA.globalSecondaryIndexes) {
    const found = table.GlobalSecondaryIndexes?.find((g) => g.IndexName === gsi.indexName);
    if (found === undefined) problems.push(`index ${gsi.indexName} is missing`);
    else if (keyOf(found.KeySchema) !== `${gsi.partitionKey}:HASH,${gsi.sortKey}:RANGE`) {
      problems.push(`index ${gsi.indexName} has keys ${keyOf(found.KeySchema)}`);
    }
  }
  if (problems.length > 0) {
    throw new StoreError(
      `table ${tableName} exists but does not have the result store's layout: ${problems.join('; ')}`,
    );
  }
}

function runIndexQuery(
  target: { index: { indexName: string; partitionKey: string; sortKey: string }; partition: string },
  beforeStartedAt: string | undefined,
  filters: string[],
  names: Record<string, string>,
  values: Record<string, unknown>,
): Omit<QueryCommandInput, 'TableName'> {
  const allNames: Record<string, string> = { ...names, '#ipk': target.index.partitionKey };
  const allValues: Record<string, unknown> = { ...values, ':ipk': target.partition };
  let keyCondition = '#ipk = :ipk';
  if (beforeStartedAt !== undefined) {
    // Sort keys are "<startedAt>#<runId>", so "< startedAt" means strictly earlier starts.
    allNames['#isk'] = target.index.sortKey;
    allValues[':before'] = isoTimestamp(beforeStartedAt, 'beforeStartedAt');
    keyCondition += ' AND #isk < :before';
  }
  return {
    IndexName: target.index.indexName,
    KeyConditionExpression: keyCondition,
    ...(filters.length > 0 && { FilterExpression: filters.join(' AND ') }),
    ExpressionAttributeNames: allNames,
    ExpressionAttributeValues: allValues,
    ScanIndexForward: false,
  };
}

function decodeRun(item: Item): RunMeta {
  assertSchemaVersion(item);
  const meta = parseBody(item) as RunMeta;
  // finishRun updates these top-level attributes only; they win over the body written at creation.
  if (typeof item.status === 'string') meta.status = item.status as RunStatus;
  if (typeof item.endedAt === 'string') meta.endedAt = item.endedAt;
  if (typeof item.reason === 'string') meta.reason = item.reason;
  if (typeof item.heartbeatAt === 'string') meta.heartbeatAt = item.heartbeatAt;
  if (item.notification === 'pending' || item.notification === 'sent') meta.notification = item.notification;
  return meta;
}

function assertSchemaVersion(item: Item): void {
  if (item.schemaVersion !== SCHEMA_VERSION) {
    throw new StoreError(
      `item ${itemName(item)} has schemaVersion ${JSON.stringify(item.schemaVersion)}; this build reads only ${SCHEMA_VERSION}`,
    );
  }
}

function parseBody(item: Item): unknown {
  if (typeof item.body !== 'string') throw new StoreError(`item ${itemName(item)} has no body`);
  try {
    return JSON.parse(item.body);
  } catch (error) {
    throw new StoreError(`item ${itemName(item)} has a body that is not valid JSON`, { cause: error });
  }
}

function itemName(item: Item): string {
  return `pk=${String(item.pk)} sk=${String(item.sk)}`;
}

function runKey(runId: string): { pk: string; sk: string } {
  return { pk: `RUN#${runId}`, sk: 'META' };
}

function resultKey(runId: string, unitId: string): { pk: string; sk: string } {
  return { pk: `RUN#${runId}`, sk: `${UNIT_PREFIX}${unitId}` };
}

/** The query of every result item of a run, consistent (a unit's write is seen by the next step). */
function resultItemsQuery(runId: string): Omit<QueryCommandInput, 'TableName'> {
  return {
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :unit)',
    ExpressionAttributeValues: { ':pk': runKey(runId).pk, ':unit': UNIT_PREFIX },
    ConsistentRead: true,
  };
}

function configPartition(provider: ProviderName, configHash: string): string {
  return `CFG#${provider}#${configHash}`;
}

/**
 * `runs/<runId>/samples/<unitId>.<sha256 prefix>.json` with ids percent-encoded, so the '/' in a
 * unitId stays inside one key segment.
 */
export function samplesBlobKey(runId: string, unitId: string, sha256: string): string {
  return `runs/${encodeURIComponent(runId)}/samples/${encodeURIComponent(unitId)}.${sha256.slice(0, 16)}.json`;
}

/**
 * Sends one request to `tableName` with retries on transient errors. A conditional-check failure
 * is passed through untouched (the callers map it); anything else becomes a StoreError naming
 * `what`, the attempts made and whether the error was transient.
 */
export async function sendWithRetry<T>(
  what: string,
  tableName: string,
  options: RetryOptions,
  request: () => Promise<T>,
): Promise<T> {
  let attempts = 0;
  try {
    return await retry((attempt) => {
      attempts = attempt;
      return request();
    }, options);
  } catch (error) {
    if (isConditionalCheckFailed(error)) throw error;
    const transient = isTransientError(error) ? 'transient error, retries exhausted' : 'error';
    throw new StoreError(
      `${what} failed after ${attempts} attempt(s) on table ${tableName} (${transient}): ${messageOf(error)}`,
      { cause: error },
    );
  }
}

export function isConditionalCheckFailed(error: unknown): boolean {
  return (error as { name?: unknown } | null)?.name === 'ConditionalCheckFailedException';
}

function assertTableName(tableName: unknown): asserts tableName is string {
  if (typeof tableName !== 'string' || !/^[A-Za-z0-9_.-]{3,255}$/.test(tableName)) {
    throw new InvalidInputError('tableName', '3-255 characters of A-Z a-z 0-9 _ . -', tableName);
  }
}

export function assertId(value: unknown, field: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 256 || value.includes('\0')) {
    throw new InvalidInputError(field, 'a non-empty string of at most 256 characters', value);
  }
}

function assertOneOf<T extends string>(
  value: unknown,
  allowed: readonly T[],
  field: string,
): asserts value is T {
  if (!allowed.includes(value as T))
    throw new InvalidInputError(field, `one of ${allowed.join(', ')}`, value);
}

function assertLimit(limit: unknown): number {
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new InvalidInputError('limit', `an integer from 1 to ${MAX_LIMIT}`, limit);
  }
  return limit;
}

/**
 * Normalises an ISO-8601 timestamp to `toISOString()` form, so index sort keys compare in time
 * order ("...:00Z" and "...:00.500Z" would not).
 */
function isoTimestamp(value: unknown, field: string): string {
  const ms = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) throw new InvalidInputError(field, 'an ISO-8601 timestamp', value);
  return new Date(ms).toISOString();
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 300);
  return String(error).slice(0, 300);
}
