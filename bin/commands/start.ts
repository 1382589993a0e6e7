/** swarm-bench start: start a real execution of the deployed pipeline (input validated first). */

import { parseArgs } from 'node:util';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { SFNClient } from '@aws-sdk/client-sfn';
import { InvalidInputError } from '../../lib/errors.ts';
import { startExecution } from '../../lib/pipeline/execution.ts';
import { configFromFlags, RUN_FLAGS } from '../shared.ts';

export const DEFAULT_STACK = 'SwarmBench';

/** The state machine ARN: given directly, or read from the stack's StateMachineArn output. */
export async function stateMachineArnOf(stack: string, explicit: string | undefined): Promise<string> {
  if (explicit) return explicit;
  const cfn = new CloudFormationClient({});
  const { Stacks } = await cfn.send(new DescribeStacksCommand({ StackName: stack }));
  const arn = Stacks?.[0]?.Outputs?.find((o) => o.OutputKey === 'StateMachineArn')?.OutputValue;
  if (!arn)
    throw new InvalidInputError(
      '--stack',
      'a deployed swarm-bench stack with a StateMachineArn output',
      stack,
    );
  return arn;
}

export async function startCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...RUN_FLAGS, stack: { type: 'string' }, 'state-machine-arn': { type: 'string' } },
    strict: true,
    allowPositionals: false,
  });
  const config = configFromFlags({ provider: 'e2b', ...values }, env);
  const { slowdown: _slowdown, ...input } = config;
  const arn = await stateMachineArnOf(values.stack ?? DEFAULT_STACK, values['state-machine-arn']);
  const started = await startExecution(new SFNClient({}), arn, input);
  process.stdout.write(
    values.json
      ? `${JSON.stringify(started)}\n`
      : `started ${started.executionArn}\nfollow it with: swarm-bench status ${started.executionArn}\n`,
  );
  return 0;
}
