/** Reaper: kills this stack's E2B sandboxes that outlived their maximum age (scheduled hourly). */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { reapStep } from '../lib/pipeline/steps.ts';
import { killStaleSandboxes } from '../lib/sandbox/e2b.ts';
import { cachedSecret, invocation, type LambdaContext, logger, metrics, readEnv } from './shared/runtime.ts';

const env = readEnv(
  z.object({
    STACK_ID: z.string().min(1),
    AWS_REGION: z.string().min(1),
    E2B_SECRET_ARN: z.string().startsWith('arn:'),
    SANDBOX_MAX_AGE_MS: z.coerce
      .number()
      .int()
      .min(60_000)
      .default(30 * 60_000),
  }),
);
const e2bApiKey = cachedSecret(new SecretsManagerClient({ region: env.AWS_REGION }), env.E2B_SECRET_ARN);

export const handler = (_event: unknown, context: LambdaContext) =>
  invocation(context, 'reaper', async () => {
    const apiKey = await e2bApiKey();
    const { killed } = await reapStep({
      listAndKill: (query) => killStaleSandboxes({ apiKey }, query),
      stack: env.STACK_ID,
      maxAgeMs: env.SANDBOX_MAX_AGE_MS,
      now: () => new Date(),
    });
    if (killed.length > 0) logger.warn('killed stale sandboxes', { killed });
    metrics.addMetric('SandboxesReaped', MetricUnit.Count, killed.length);
    return { killed: killed.length };
  });
