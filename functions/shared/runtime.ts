/**
 * What every step handler shares: environment parsed once at cold start, AWS clients built once,
 * Powertools logger (runId/unitId on every line) and EMF metrics flushed after each invocation.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { describeMachine, type RunEnvironment } from '../../lib/bench/meta.ts';
import { describeError } from '../../lib/errors.ts';
import { requireE2BKey } from '../../lib/pipeline/e2b-key.ts';
import { STORE_BLOB_PREFIX } from '../../lib/pipeline/events.ts';
import { S3BlobStore } from '../../lib/store/blobs.ts';
import { DynamoResultStore } from '../../lib/store/dynamo.ts';
import { DynamoPoolLedger } from '../../lib/store/pool-ledger.ts';

/** The subset of the Lambda context the handlers use. */
export interface LambdaContext {
  awsRequestId: string;
  functionName: string;
  getRemainingTimeInMillis(): number;
}

/** Variables every step function has (set by infra/stack.ts). */
export const baseEnvSchema = z.object({
  TABLE_NAME: z.string().min(3),
  BUCKET: z.string().min(3),
  STACK_ID: z.string().min(1),
  GIT_COMMIT: z.string().min(1).default('unknown'),
  AWS_REGION: z.string().min(1),
});

/** Parse the environment with `schema`; a misconfigured function fails its cold start naming the variable. */
export function readEnv<T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv = process.env): z.output<T> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  throw new Error(`invalid function environment: ${problems.join('; ')}`);
}

export const logger = new Logger({ serviceName: 'swarm-bench' });
export const metrics = new Metrics({ namespace: 'SwarmBench', serviceName: 'swarm-bench' });

/** Where the unit and DrainPool functions keep local-provider sandboxes (a Lambda's writable /tmp). */
export const LOCAL_SANDBOX_ROOT = '/tmp';

/** Clients and the result store for one function instance. */
export function makeAws(env: z.output<typeof baseEnvSchema>) {
  const s3 = new S3Client({ region: env.AWS_REGION });
  const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({ region: env.AWS_REGION }), {
    marshallOptions: { removeUndefinedValues: true },
  });
  const store = new DynamoResultStore({
    client: dynamo,
    tableName: env.TABLE_NAME,
    blobs: new S3BlobStore({ client: s3, bucket: env.BUCKET, prefix: STORE_BLOB_PREFIX }),
  });
  // The run's shared sandbox pool lives in the same table, beside the run.
  const ledger = new DynamoPoolLedger({ client: dynamo, tableName: env.TABLE_NAME });
  const environment: RunEnvironment = {
    gitCommit: env.GIT_COMMIT,
    nodeVersion: process.version,
    machine: describeMachine(env.AWS_REGION),
  };
  return { s3, dynamo, store, ledger, environment };
}

/**
 * The E2B key, fetched by the first invocation that needs it (a local run never asks) and cached;
 * a failed fetch, an empty secret or the stack's placeholder is retried by the next invocation.
 * The value is never logged.
 */
export function cachedE2BKey(client: SecretsManagerClient, secretArn: string): () => Promise<string> {
  let value: Promise<string> | undefined;
  const load = (): Promise<string> => {
    const pending = client
      .send(new GetSecretValueCommand({ SecretId: secretArn }))
      .then((output) => requireE2BKey(output.SecretString, secretArn));
    pending.catch(() => {
      value = undefined;
    });
    return pending;
  };
  return () => (value ??= load());
}

/**
 * A secret's value, read by the first invocation that needs it and cached for the instance; a
 * failed read is retried by the next one. The value is never logged.
 */
export function cachedSecret(client: SecretsManagerClient, secretArn: string): () => Promise<string> {
  let value: Promise<string> | undefined;
  return () => {
    if (value === undefined) {
      const pending = client
        .send(new GetSecretValueCommand({ SecretId: secretArn }))
        .then((output) => output.SecretString ?? '');
      pending.catch(() => {
        value = undefined;
      });
      value = pending;
    }
    return value;
  };
}

/**
 * Run one invocation: request id and `keys` on every log line, metrics flushed at the end, the
 * error logged by name and message and rethrown (its name becomes the state machine's error).
 */
export async function invocation<T>(
  context: LambdaContext,
  step: string,
  body: (appendKeys: (keys: Record<string, string>) => void) => Promise<T>,
): Promise<T> {
  logger.addContext(context as never);
  logger.appendKeys({ step });
  try {
    return await body((keys) => logger.appendKeys(keys));
  } catch (error) {
    logger.error(`${step} failed`, { error: describeError(error) });
    throw error;
  } finally {
    metrics.publishStoredMetrics();
    logger.removeKeys(['step', 'runId', 'unitId']);
  }
}
