/**
 * Unit step: run one benchmark unit in E2B sandboxes and store its result. Stops measuring a
 * safety margin before the Lambda deadline, so a slow unit is recorded as partial instead of lost.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { parseRunConfig } from '../lib/config.ts';
import { parseEvent, unitEventSchema } from '../lib/pipeline/events.ts';
import { unitStep } from '../lib/pipeline/steps.ts';
import { agentWithPackage } from '../lib/plugins/package.ts';
import { e2bRunOptions } from '../lib/sandbox/e2b-run.ts';
import { LocalSandboxProvider } from '../lib/sandbox/local.ts';
import type { SandboxProvider } from '../lib/sandbox/types.ts';
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

const env = readEnv(
  baseEnvSchema.extend({
    E2B_SECRET_ARN: z.string().startsWith('arn:'),
    E2B_TEMPLATE_HAS_BUNDLE: z
      .enum(['true', 'false'])
      .default('true')
      .transform((value) => value === 'true'),
    UNIT_SAFETY_MARGIN_MS: z.coerce.number().int().min(0).max(600_000).default(60_000),
  }),
);
const { s3, store, ledger } = makeAws(env);
const e2bApiKey = cachedE2BKey(new SecretsManagerClient({ region: env.AWS_REGION }), env.E2B_SECRET_ARN);
// Copied next to the handler at bundling (infra/stack.ts), for templates without the agent baked in.
const BUNDLE_PATH = fileURLToPath(new URL('./agent.cjs', import.meta.url));
let bundle: Promise<string> | undefined;
function agentBundle(): Promise<string> {
  bundle ??= readFile(BUNDLE_PATH, 'utf8');
  return bundle;
}

export const handler = (event: unknown, context: LambdaContext) =>
  invocation(context, 'unit', async (appendKeys) => {
    const input = parseEvent(unitEventSchema, event, 'RunUnit');
    appendKeys({ runId: input.runId, unitId: input.unitId });
    const deadlineAt = Date.now() + context.getRemainingTimeInMillis() - env.UNIT_SAFETY_MARGIN_MS;
    const config = parseRunConfig(input.config);
    const metadata = { stack: env.STACK_ID };
    // A run with strategy plug-ins: the package from S3 (sha256 checked, else PluginPackageError,
    // which the Map does not retry) embedded into this function's agent, under /tmp.
    const manifest = config.plugins;
    const agent =
      manifest?.package === undefined
        ? undefined
        : await agentWithPackage({
            manifest: { ...manifest, package: manifest.package },
            agentSource: await agentBundle(),
            dir: LOCAL_SANDBOX_ROOT,
            get: async (bucket, key) => {
              const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
              return object.Body!.transformToByteArray();
            },
          });
    let provider: SandboxProvider;
    if (config.provider === 'e2b') {
      // The E2B SDK loads on the first E2B unit, not at every cold start (local units never need it).
      const { E2BSandboxProvider } = await import('../lib/sandbox/e2b.ts');
      // The bundle goes along even when the template bakes it in: every agent's ready line is checked
      // against its sha256, so a template older than this deployment fails at the first agent.
      provider = new E2BSandboxProvider(
        e2bRunOptions(config, {
          apiKey: await e2bApiKey(),
          bundle: agent?.source ?? (await agentBundle()),
          templateHasBundle: env.E2B_TEMPLATE_HAS_BUNDLE,
          withPlugins: agent !== undefined,
          metadata,
        }),
      );
    } else {
      provider = new LocalSandboxProvider({
        bundlePath: agent?.path ?? BUNDLE_PATH,
        tmpRoot: LOCAL_SANDBOX_ROOT,
      });
    }
    const output = await unitStep(input, {
      store,
      ledger,
      provider,
      deadlineAt,
      metadata,
      onEvent: (runEvent) => {
        if (runEvent.type === 'log') logger.debug(runEvent.message);
      },
    });
    logger.info('unit finished', { status: output.status, reused: output.reused });
    if (!output.reused) {
      metrics.addDimension('category', input.unitId.split('/')[0] ?? 'custom');
      metrics.addMetric('UnitDurationMs', MetricUnit.Milliseconds, output.durationMs);
      metrics.addMetric('UnitSandboxSeconds', MetricUnit.Seconds, output.sandboxSeconds);
      metrics.addMetric(output.status === 'ok' ? 'UnitsOk' : 'UnitsNotOk', MetricUnit.Count, 1);
    }
    return output;
  });
