/**
 * PoolLedger on the result store's DynamoDB table: one item per sandbox under the run's partition,
 *   pool    pk=RUN#<runId> sk=POOL#<sandboxId>  state=idle|claimed holder releasedAt expiresAt
 * beside the run and its results (whose queries only read sk=META and sk=UNIT#...). A claim is a
 * conditional update (state = idle), so two units racing for the same sandbox cannot both win.
 */
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { PROVIDERS } from '../config.ts';
import { InvalidInputError } from '../errors.ts';
import { isTransientError, RETRY_DEFAULTS, type RetryOptions } from '../retry.ts';
import type { LedgerEntry, PoolLedger } from '../sandbox/ledger.ts';
import type { ProviderName } from '../sandbox/types.ts';
import { assertId, isConditionalCheckFailed, SCHEMA_VERSION, sendWithRetry } from './dynamo.ts';

/** A sandbox about to end is not worth connecting to. @default for claim's minRemainingMs */
const DEFAULT_MIN_REMAINING_MS = 15_000;

export class DynamoPoolLedger implements PoolLedger {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #retry: RetryOptions;

  constructor(options: {
    client: DynamoDBDocumentClient;
    tableName: string;
    sleep?: (ms: number) => Promise<void>;
  }) {
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#retry = {
      ...RETRY_DEFAULTS,
      isRetryable: isTransientError,
      ...(options.sleep ? { sleep: options.sleep } : {}),
    };
  }

  async offer(runId: string, entries: ReadonlyArray<Omit<LedgerEntry, 'state' | 'holder'>>): Promise<void> {
    assertId(runId, 'runId');
    for (const entry of entries) {
      assertId(entry.sandboxId, 'sandboxId');
      if (!PROVIDERS.includes(entry.provider)) {
        throw new InvalidInputError('provider', `one of ${PROVIDERS.join(', ')}`, entry.provider);
      }
      await this.#send('offer a pooled sandbox', () =>
        this.#client.send(
          new PutCommand({
            TableName: this.#tableName,
            Item: {
              ...key(runId, entry.sandboxId),
              schemaVersion: SCHEMA_VERSION,
              sandboxId: entry.sandboxId,
              provider: entry.provider,
              releasedAt: entry.releasedAt,
              expiresAt: entry.expiresAt,
              state: 'idle',
            },
          }),
        ),
      );
    }
  }

  async claim(
    runId: string,
    query: { max: number; holder: string; provider: ProviderName; now: number; minRemainingMs?: number },
  ): Promise<LedgerEntry[]> {
    assertId(runId, 'runId');
    assertId(query.holder, 'holder');
    if (!Number.isInteger(query.max) || query.max < 0) {
      throw new InvalidInputError('max', 'a non-negative integer', query.max);
    }
    const claimed: LedgerEntry[] = [];
    if (query.max === 0) return claimed;
    const usableAfter = query.now + (query.minRemainingMs ?? DEFAULT_MIN_REMAINING_MS);
    for (const entry of await this.entries(runId)) {
      if (claimed.length >= query.max) break;
      if (entry.state !== 'idle' || entry.provider !== query.provider) continue;
      if (entry.expiresAt <= usableAfter) {
        await this.#removeIf(runId, entry.sandboxId, 'idle');
        continue;
      }
      try {
        await this.#send('claim a pooled sandbox', () =>
          this.#client.send(
            new UpdateCommand({
              TableName: this.#tableName,
              Key: key(runId, entry.sandboxId),
              UpdateExpression: 'SET #state = :claimed, holder = :holder',
              ConditionExpression: '#state = :idle',
              ExpressionAttributeNames: { '#state': 'state' },
              ExpressionAttributeValues: { ':claimed': 'claimed', ':idle': 'idle', ':holder': query.holder },
            }),
          ),
        );
        claimed.push({ ...entry, state: 'claimed', holder: query.holder });
      } catch (error) {
        // Another unit claimed (or removed) it first.
        if (!isConditionalCheckFailed(error)) throw error;
      }
    }
    return claimed;
  }

  async entries(runId: string): Promise<LedgerEntry[]> {
    assertId(runId, 'runId');
    const entries: LedgerEntry[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const output = await this.#send('list pooled sandboxes', () =>
        this.#client.send(
          new QueryCommand({
            TableName: this.#tableName,
            KeyConditionExpression: 'pk = :pk AND begins_with(sk, :pool)',
            ExpressionAttributeValues: { ':pk': `RUN#${runId}`, ':pool': 'POOL#' },
            ConsistentRead: true,
            ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey }),
          }),
        ),
      );
      for (const item of output.Items ?? []) entries.push(entryOf(item));
      startKey = output.LastEvaluatedKey;
    } while (startKey !== undefined);
    return entries;
  }

  async remove(runId: string, sandboxId: string): Promise<void> {
    assertId(runId, 'runId');
    assertId(sandboxId, 'sandboxId');
    await this.#send('remove a pooled sandbox', () =>
      this.#client.send(new DeleteCommand({ TableName: this.#tableName, Key: key(runId, sandboxId) })),
    );
  }

  async #removeIf(runId: string, sandboxId: string, state: LedgerEntry['state']): Promise<void> {
    try {
      await this.#send('remove an expired pooled sandbox', () =>
        this.#client.send(
          new DeleteCommand({
            TableName: this.#tableName,
            Key: key(runId, sandboxId),
            ConditionExpression: '#state = :state',
            ExpressionAttributeNames: { '#state': 'state' },
            ExpressionAttributeValues: { ':state': state },
          }),
        ),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }

  #send<T>(what: string, request: () => Promise<T>): Promise<T> {
    return sendWithRetry(what, this.#tableName, this.#retry, request);
  }
}

function key(runId: string, sandboxId: string): { pk: string; sk: string } {
  return { pk: `RUN#${runId}`, sk: `POOL#${sandboxId}` };
}

function entryOf(item: Record<string, unknown>): LedgerEntry {
  const state = item.state === 'claimed' ? 'claimed' : 'idle';
  return {
    sandboxId: String(item.sandboxId),
    provider: item.provider === 'e2b' ? 'e2b' : 'local',
    releasedAt: Number(item.releasedAt),
    expiresAt: Number(item.expiresAt),
    state,
    ...(typeof item.holder === 'string' ? { holder: item.holder } : {}),
  };
}
