/** Start and follow executions of the deployed pipeline (`swarm-bench start` / `status`). */
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  type SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { parseRunConfig } from '../config.ts';
import { InvalidInputError } from '../errors.ts';
import { STATE_NAMES } from './events.ts';

/**
 * Validate `input` exactly as Plan will (so a typo fails here, not in the cloud a minute later)
 * and start an execution with it.
 */
export async function startExecution(
  client: SFNClient,
  stateMachineArn: string,
  input: unknown,
  options: { name?: string } = {},
): Promise<{ executionArn: string; startDate: Date | undefined }> {
  if (!/^arn:aws[a-z-]*:states:/.test(stateMachineArn)) {
    throw new InvalidInputError('stateMachineArn', 'a Step Functions state machine ARN', stateMachineArn);
  }
  parseRunConfig(input);
  const output = await client.send(
    new StartExecutionCommand({
      stateMachineArn,
      input: JSON.stringify(input ?? {}),
      ...(options.name ? { name: options.name } : {}),
    }),
  );
  if (!output.executionArn) throw new Error('StartExecution returned no execution ARN');
  return { executionArn: output.executionArn, startDate: output.startDate };
}

/** Where an execution is: status, units done of planned, failed units, and the report once published. */
export interface ExecutionProgress {
  executionArn: string;
  status: string;
  startDate?: Date;
  stopDate?: Date;
  /** Units the started Maps were given (creation units, then pooled units); undefined until the first started. */
  unitsTotal?: number;
  /** Maps started so far (2: every planned unit is counted in unitsTotal). */
  mapsStarted: number;
  /** Map iterations finished (ok or recorded as failed). */
  unitsDone: number;
  /** Iterations that went through RecordFailure. */
  unitsFailed: number;
  runId?: string;
  runStatus?: string;
  reportUrl?: string;
  summary?: string;
  error?: { name: string; message: string };
}

/** The Task states a failed unit goes through, one per Map. */
const RECORD_FAILURE_STATES = new Set<string>([STATE_NAMES.recordFailure, STATE_NAMES.pooledRecordFailure]);

/** Units planned, finished and failed so far, counted from an execution's history events. */
export function mapProgress(
  events: readonly HistoryEvent[],
): Pick<ExecutionProgress, 'unitsTotal' | 'mapsStarted' | 'unitsDone' | 'unitsFailed'> {
  let unitsTotal: number | undefined;
  let mapsStarted = 0;
  let unitsDone = 0;
  let unitsFailed = 0;
  for (const event of events) {
    if (event.type === 'MapStateStarted') {
      mapsStarted++;
      unitsTotal = (unitsTotal ?? 0) + (event.mapStateStartedEventDetails?.length ?? 0);
    } else if (event.type === 'MapIterationSucceeded' || event.type === 'MapIterationFailed') unitsDone++;
    else if (
      event.type === 'TaskStateEntered' &&
      RECORD_FAILURE_STATES.has(event.stateEnteredEventDetails?.name ?? '')
    )
      unitsFailed++;
  }
  return { ...(unitsTotal === undefined ? {} : { unitsTotal }), mapsStarted, unitsDone, unitsFailed };
}

/** Describe an execution and count its Map progress from the execution history. */
export async function describeExecution(client: SFNClient, executionArn: string): Promise<ExecutionProgress> {
  const description = await client.send(new DescribeExecutionCommand({ executionArn }));
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.send(
      new GetExecutionHistoryCommand({
        executionArn,
        maxResults: 1000,
        includeExecutionData: false,
        nextToken,
      }),
    );
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);

  const progress: ExecutionProgress = {
    executionArn,
    status: description.status ?? 'UNKNOWN',
    ...(description.startDate ? { startDate: description.startDate } : {}),
    ...(description.stopDate ? { stopDate: description.stopDate } : {}),
    ...mapProgress(events),
  };
  if (description.output) {
    try {
      const output = JSON.parse(description.output) as Record<string, unknown>;
      if (typeof output.runId === 'string') progress.runId = output.runId;
      if (typeof output.status === 'string') progress.runStatus = output.status;
      if (typeof output.reportUrl === 'string') progress.reportUrl = output.reportUrl;
      if (typeof output.summary === 'string') progress.summary = output.summary;
    } catch {
      // An output that is not JSON carries no report link.
    }
  }
  if (description.error) {
    progress.error = { name: description.error, message: lambdaMessage(description.cause) };
  }
  return progress;
}

function lambdaMessage(cause: string | undefined): string {
  if (!cause) return '';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // Not Lambda's JSON: the cause is the message.
  }
  return cause.split('\n')[0] ?? '';
}
