/** Plan step: validate the execution input, plan the units, check the budget, record the run. */
import { z } from 'zod';
import { MAX_MAP_CONCURRENCY } from '../lib/bench/plan.ts';
import { parseEvent, planEventSchema, runIdForExecution } from '../lib/pipeline/events.ts';
import { planStep } from '../lib/pipeline/steps.ts';
import { baseEnvSchema, invocation, type LambdaContext, logger, makeAws, readEnv } from './shared/runtime.ts';

const env = readEnv(
  baseEnvSchema.extend({
    // The stack's cap on either Map's concurrency (its mapMaxConcurrency).
    MAP_MAX_CONCURRENCY: z.coerce.number().int().min(1).max(MAX_MAP_CONCURRENCY).default(5),
  }),
);
const { store, environment } = makeAws(env);

export const handler = (event: unknown, context: LambdaContext) =>
  invocation(context, 'plan', async (appendKeys) => {
    const { input, executionId, startTime } = parseEvent(planEventSchema, event, 'Plan');
    const runId = executionId && startTime ? runIdForExecution(executionId, startTime) : undefined;
    if (runId) appendKeys({ runId });
    const output = await planStep(input, {
      store,
      now: () => new Date(),
      environment,
      maxConcurrency: env.MAP_MAX_CONCURRENCY,
      bucket: env.BUCKET,
      ...(runId ? { runId } : {}),
    });
    logger.info('planned', {
      units: output.units.length,
      concurrency: output.concurrency,
      estimate: output.estimate,
    });
    return output;
  });
