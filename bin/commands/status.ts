/** swarm-bench status <execution-arn>: progress of a pipeline execution and its report link. */

import { parseArgs } from 'node:util';
import { SFNClient } from '@aws-sdk/client-sfn';
import { InvalidInputError } from '../../lib/errors.ts';
import { describeExecution } from '../../lib/pipeline/execution.ts';

export async function statusCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { json: { type: 'boolean' } },
    strict: true,
    allowPositionals: true,
  });
  const [arn] = positionals;
  if (!arn || !/^arn:aws[a-z-]*:states:[^:]*:\d*:execution:/.test(arn)) {
    throw new InvalidInputError('execution', 'an execution ARN as printed by `swarm-bench start`', arn);
  }
  const progress = await describeExecution(new SFNClient({}), arn);
  if (values.json) {
    process.stdout.write(`${JSON.stringify(progress, null, 2)}\n`);
  } else {
    const units =
      progress.unitsTotal === undefined
        ? 'planning'
        : `${progress.unitsDone}/${progress.unitsTotal} units done, ${progress.unitsFailed} failed` +
          (progress.mapsStarted < 2 ? ' (creation units; the pooled units follow)' : '');
    process.stdout.write(
      [
        `${progress.status}: ${units}`,
        progress.runId ? `run ${progress.runId} (${progress.runStatus ?? 'running'})` : '',
        progress.reportUrl ? `report: ${progress.reportUrl}` : '',
        progress.error ? `error: ${progress.error.name}: ${progress.error.message}` : '',
        '',
      ]
        .filter((line, i, all) => line !== '' || i === all.length - 1)
        .join('\n'),
    );
  }
  return progress.status === 'FAILED' || progress.status === 'TIMED_OUT' || progress.status === 'ABORTED'
    ? 3
    : 0;
}
