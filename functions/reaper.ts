/** Reaper: kills this stack's E2B sandboxes that outlived their maximum age (scheduled hourly). */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { ProviderUnavailableError } from '../lib/errors.ts';
import { reapStep } from '../lib/pipeline/steps.ts';
import { killStaleSandboxes } from '../lib/sandbox/e2b.ts';
import { cachedE2BKey, invocation, type LambdaContext, logger, metrics, readEnv } from './shared/runtime.ts';

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
const e2bApiKey = cachedE2BKey(new SecretsManagerClient({ region: env.AWS_REGION }), env.E2B_SECRET_ARN);

export const handler = (_event: unknown, context: LambdaContext) =>
  invocation(context, 'reaper', async () => {
    let apiKey: string;
    try {
      apiKey = await e2bApiKey();
    } catch (error) {
      // No key set: this stack cannot have started an E2B sandbox, so there is nothing to reap.
      if (error instanceof ProviderUnavailableError) {
        logger.warn('E2B API key not set; nothing to reap', { error: error.message });
        return { killed: 0 };
      }
      throw error;
    }
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
