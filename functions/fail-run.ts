/** FailRun step: the run-level Catch target marks the run failed and sends an alert. */
import { SNSClient } from '@aws-sdk/client-sns';
import { z } from 'zod';
import { SnsNotifier } from '../lib/notify/sns.ts';
import { failRunEventSchema, parseEvent } from '../lib/pipeline/events.ts';
import { failRunStep } from '../lib/pipeline/steps.ts';
import { baseEnvSchema, invocation, type LambdaContext, logger, makeAws, readEnv } from './shared/runtime.ts';

const env = readEnv(baseEnvSchema.extend({ TOPIC_ARN: z.string().startsWith('arn:') }));
const { store } = makeAws(env);
const notifier = new SnsNotifier({
  client: new SNSClient({ region: env.AWS_REGION }),
  topicArn: env.TOPIC_ARN,
});

export const handler = (event: unknown, context: LambdaContext) =>
  invocation(context, 'fail-run', async (appendKeys) => {
    const state = parseEvent(failRunEventSchema, event, 'FailRun');
    const runId = state.plan?.runId;
    if (runId) appendKeys({ runId });
    const output = await failRunStep(
      { runId, error: state.error },
      { store, notifier, now: () => new Date() },
    );
    logger.error('run failed', { reason: output.reason });
    return output;
  });
