/**
 * Reaper: kills this stack's E2B sandboxes that outlived their maximum age (scheduled hourly),
 * sparing those a live run still holds (lib/pipeline/reap.ts asks the store and the pool ledger).
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { ProviderUnavailableError } from '../lib/errors.ts';
import { reapStep } from '../lib/pipeline/reap.ts';
import { killSandboxById, listStaleSandboxes } from '../lib/sandbox/e2b.ts';
import {
  baseEnvSchema,
  cachedE2BKey,
  invocation,
  type LambdaContext,
  logger,
  makeAws,
  metrics,
  readEnv,
} from './shared/runtime.ts';

const env = readEnv(
  baseEnvSchema.extend({
    E2B_SECRET_ARN: z.string().startsWith('arn:'),
    SANDBOX_MAX_AGE_MS: z.coerce
      .number()
      .int()
      .min(60_000)
      .default(30 * 60_000),
    /** The pipeline's timeout: a run still 'running' after it is abandoned. */
    RUN_MAX_AGE_MS: z.coerce
      .number()
      .int()
      .min(60_000)
      .default(6 * 3_600_000),
  }),
);
const e2bApiKey = cachedE2BKey(new SecretsManagerClient({ region: env.AWS_REGION }), env.E2B_SECRET_ARN);
const { store, ledger } = makeAws(env);

export const handler = (_event: unknown, context: LambdaContext) =>
  invocation(context, 'reaper', async () => {
    let apiKey: string;
    try {
      apiKey = await e2bApiKey();
    } catch (error) {
      // No key set: this stack cannot have started an E2B sandbox, so there is nothing to reap.
      if (error instanceof ProviderUnavailableError) {
        logger.warn('E2B API key not set; nothing to reap', { error: error.message });
        return { killed: 0, spared: 0 };
      }
      throw error;
    }
    const { killed, spared } = await reapStep({
      listStale: (query) => listStaleSandboxes({ apiKey }, query),
      kill: (sandboxId) => killSandboxById({ apiKey }, sandboxId),
      runs: store,
      ledger,
      stack: env.STACK_ID,
      maxAgeMs: env.SANDBOX_MAX_AGE_MS,
      liveRunMaxMs: env.RUN_MAX_AGE_MS,
      now: () => new Date(),
    });
    if (killed.length > 0) logger.warn('killed stale sandboxes', { killed });
    if (spared.length > 0) logger.info('spared old sandboxes live runs hold', { spared });
    metrics.addMetric('SandboxesReaped', MetricUnit.Count, killed.length);
    metrics.addMetric('SandboxesSpared', MetricUnit.Count, spared.length);
    return { killed: killed.length, spared: spared.length };
  });
