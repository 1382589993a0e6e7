/**
 * DrainPool step: kill the E2B sandboxes a run's units left idle in the shared pool, after the last
 * unit and when the run fails. Sandboxes already gone count as such; the reaper sweeps the rest.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { drainPoolEventSchema, parseEvent } from '../lib/pipeline/events.ts';
import { drainPoolStep } from '../lib/pipeline/steps.ts';
import { killSandboxById } from '../lib/sandbox/e2b.ts';
import {
  baseEnvSchema,
  cachedSecret,
  invocation,
  type LambdaContext,
  logger,
  makeAws,
  metrics,
  readEnv,
} from './shared/runtime.ts';

const env = readEnv(baseEnvSchema.extend({ E2B_SECRET_ARN: z.string().startsWith('arn:') }));
const { ledger } = makeAws(env);
const e2bApiKey = cachedSecret(new SecretsManagerClient({ region: env.AWS_REGION }), env.E2B_SECRET_ARN);

export const handler = (event: unknown, context: LambdaContext) =>
  invocation(context, 'drain-pool', async (appendKeys) => {
    const { runId } = parseEvent(drainPoolEventSchema, event, 'DrainPool');
    appendKeys({ runId });
    const apiKey = await e2bApiKey();
    const output = await drainPoolStep({ runId }, { ledger, kill: (id) => killSandboxById({ apiKey }, id) });
    logger.info('pool drained', { killed: output.killed, gone: output.gone });
    metrics.addMetric('PooledSandboxesDrained', MetricUnit.Count, output.killed);
    return output;
  });
