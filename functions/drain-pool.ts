/**
 * DrainPool step: kill the sandboxes a run's units left idle in the shared pool, after the last
 * unit and when the run fails (a local run's pool holds local sandboxes: no key is fetched, E2B is
 * never called). Sandboxes already gone count as such; the reaper sweeps the rest.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { drainPoolEventSchema, parseEvent } from '../lib/pipeline/events.ts';
import { drainPoolStep, killPooledLocalSandbox } from '../lib/pipeline/steps.ts';
import { LocalSandboxProvider } from '../lib/sandbox/local.ts';
import {
  baseEnvSchema,
  cachedE2BKey,
  invocation,
  type LambdaContext,
  LOCAL_SANDBOX_ROOT,
  logger,
  makeAws,
  metrics,
  readEnv,
} from './shared/runtime.ts';

const env = readEnv(baseEnvSchema.extend({ E2B_SECRET_ARN: z.string().startsWith('arn:') }));
const { ledger } = makeAws(env);
const e2bApiKey = cachedE2BKey(new SecretsManagerClient({ region: env.AWS_REGION }), env.E2B_SECRET_ARN);

export const handler = (event: unknown, context: LambdaContext) =>
  invocation(context, 'drain-pool', async (appendKeys) => {
    const { runId, provider } = parseEvent(drainPoolEventSchema, event, 'DrainPool');
    appendKeys({ runId });
    const kill =
      provider === 'e2b'
        ? async (id: string) => {
            // The E2B SDK loads only on E2B runs, not at every cold start.
            const { killSandboxById } = await import('../lib/sandbox/e2b.ts');
            return killSandboxById({ apiKey: await e2bApiKey() }, id);
          }
        : (id: string) =>
            // Nothing is started here: the provider only connects to pooled sandboxes and kills them.
            killPooledLocalSandbox(
              id,
              new LocalSandboxProvider({ bundlePath: '/nonexistent/agent.cjs', tmpRoot: LOCAL_SANDBOX_ROOT }),
            );
    const output = await drainPoolStep({ runId }, { ledger, kill });
    logger.info('pool drained', { killed: output.killed, gone: output.gone });
    metrics.addMetric('PooledSandboxesDrained', MetricUnit.Count, output.killed);
    return output;
  });
