/** RecordFailure step: the Map iteration's Catch target stores the unit as failed with its reason. */

import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { parseEvent, recordFailureEventSchema } from '../lib/pipeline/events.ts';
import { recordFailureStep } from '../lib/pipeline/steps.ts';
import {
  baseEnvSchema,
  invocation,
  type LambdaContext,
  logger,
  makeAws,
  metrics,
  readEnv,
} from './shared/runtime.ts';

const env = readEnv(baseEnvSchema);
const { store } = makeAws(env);

export const handler = (event: unknown, context: LambdaContext) =>
  invocation(context, 'record-failure', async (appendKeys) => {
    const input = parseEvent(recordFailureEventSchema, event, 'RecordFailure');
    appendKeys({ runId: input.runId, unitId: input.unitId });
    const output = await recordFailureStep(input, { store, now: () => new Date() });
    logger.warn('unit recorded as failed', { error: input.error.Error, status: output.status });
    metrics.addMetric('UnitsFailed', MetricUnit.Count, 1);
    return output;
  });
