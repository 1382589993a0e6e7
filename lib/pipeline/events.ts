/**
 * The payloads the state machine hands each step, as zod schemas, shared by the Lambda handlers
 * (functions/) and the local interpreter's in-process bindings (lib/pipeline/local.ts), so both
 * refuse the same malformed event the same way.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { PROVIDERS } from '../config.ts';
import { InvalidInputError } from '../errors.ts';

/**
 * Names of the state machine's states: infra/stack.ts names them so, the local interpreter binds
 * its handlers and `status` counts progress by them.
 */
export const STATE_NAMES = {
  /** Wraps the execution input as `{input}`, so any JSON value reaches Plan and its Catch. */
  readInput: 'ReadInput',
  plan: 'Plan',
  /** First Map: units with fresh (creation) swarms, or every unit without pooling. */
  map: 'RunUnits',
  unit: 'RunUnit',
  recordFailure: 'RecordFailure',
  /** Second Map: units that only take pooled sandboxes, as many at once as the pool serves. */
  pooledMap: 'RunPooledUnits',
  pooledUnit: 'RunPooledUnit',
  pooledRecordFailure: 'RecordPooledFailure',
  drainPool: 'DrainPool',
  drainPoolAfterFailure: 'DrainPoolAfterFailure',
  publish: 'Publish',
  failRun: 'FailRun',
  failed: 'RunFailed',
  done: 'Done',
} as const;

/** S3 keys of samples too large for a table item live under this prefix of the bucket. */
export const STORE_BLOB_PREFIX = 'store/';

/** What a Task's Catch puts at `$.error`: the ASL error name and its cause (often JSON from Lambda). */
export const stepErrorSchema = z.object({
  Error: z.string().max(512).default('Error'),
  // Lambda puts a JSON string here; other integrations (and local interpreters) may put anything.
  Cause: z
    .unknown()
    .optional()
    .transform((cause) =>
      cause === undefined || cause === null
        ? undefined
        : (typeof cause === 'string'
            ? cause
            : String((cause as Error)?.message ?? JSON.stringify(cause))
          ).slice(0, 262_144),
    ),
});
export type StepError = z.infer<typeof stepErrorSchema>;

/** Plan: the execution input, plus the execution's id and start so a retried Plan reuses its run id. */
export const planEventSchema = z.object({
  input: z.unknown(),
  executionId: z.string().min(1).max(2048).optional(),
  startTime: z.string().max(64).optional(),
});

/** One Map item: which unit of which run, and the run's validated config. */
export const unitEventSchema = z.object({
  runId: z.string().max(64),
  unitId: z.string().max(128),
  config: z.record(z.string(), z.unknown()),
  /** The phase's pool settings (Plan's `pool.creation` or `pool.pooled`). */
  pool: z
    .object({ claimAll: z.boolean(), concurrency: z.number().int().min(1).max(40) })
    .strict()
    .optional(),
});

/** DrainPool: the run whose shared pool is emptied. */
export const drainPoolEventSchema = z.object({
  runId: z.string().max(64),
  /** The run's sandbox provider: a local run's pool holds local sandboxes, never E2B ones. */
  provider: z.enum(PROVIDERS).default('e2b'),
});

/** The Map iteration's Catch target: the item plus the error that ended it. */
export const recordFailureEventSchema = z.object({
  runId: z.string().max(64),
  unitId: z.string().max(128),
  error: stepErrorSchema,
});

export const publishEventSchema = z.object({ runId: z.string().max(64) });

/** FailRun receives the whole execution state: `plan` only exists when Plan got that far. */
export const failRunEventSchema = z.object({
  plan: z
    .object({ runId: z.string().max(64) })
    .partial()
    .optional(),
  error: stepErrorSchema,
});

/** Parse a step's event with `schema`, or throw InvalidInputError naming the field. */
export function parseEvent<T extends z.ZodType>(schema: T, event: unknown, step: string): z.output<T> {
  const parsed = schema.safeParse(event);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue?.path.length ? `${step}.${issue.path.join('.')}` : step;
  throw new InvalidInputError(field, issue?.message ?? 'a valid step event');
}

/**
 * The run id of an execution: its start time as the sortable stamp and a hash of its id as the
 * suffix. Deterministic, so a Plan retried by Step Functions finds the run it already created.
 */
export function runIdForExecution(executionId: string, startTime: string): string {
  const start = new Date(startTime);
  if (Number.isNaN(start.getTime())) throw new InvalidInputError('startTime', 'an ISO timestamp', startTime);
  const stamp = start
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${createHash('sha256').update(executionId).digest('hex').slice(0, 6)}`;
}
