/** swarm-bench start: start a real execution of the deployed pipeline (input validated first). */

import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { SFNClient } from '@aws-sdk/client-sfn';
import { pluginManifestSchema } from '../../lib/config.ts';
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

/** The `plugins` of what `strategies upload` printed (the whole output, or its input fragment). */
async function readPackageOutput(file: string): Promise<unknown> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  let parsed: { input?: { plugins?: unknown }; plugins?: unknown } | undefined;
  try {
    parsed = text === undefined ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const plugins = parsed?.input?.plugins ?? parsed?.plugins;
  if (plugins === undefined || typeof plugins !== 'object') {
    throw new InvalidInputError('--package', 'a JSON file printed by `swarm-bench strategies upload`', file);
  }
  // Same check as Plan's, before anything starts (the bucket is checked there, against the stack's).
  const checked = pluginManifestSchema.safeParse(plugins);
  if (!checked.success || checked.data.package === undefined) {
    throw new InvalidInputError('--package', 'plugins with sha256, strategies and an s3:// package', file);
  }
  return checked.data;
}

export async function startCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...RUN_FLAGS,
      stack: { type: 'string' },
      'state-machine-arn': { type: 'string' },
      package: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.strategy?.length || (values['decision-rule'] ?? 'plurality') !== 'plurality') {
    throw new InvalidInputError(
      values.strategy?.length ? '--strategy' : '--decision-rule',
      'not with start: upload a package (`swarm-bench strategies upload`) and give its output with --package',
    );
  }
  const plugins = values.package === undefined ? undefined : await readPackageOutput(values.package);
  const config = configFromFlags({ provider: 'e2b', ...values }, env);
  const { slowdown: _slowdown, ...rest } = config;
  const input = plugins === undefined ? rest : { ...rest, plugins };
  const arn = await stateMachineArnOf(values.stack ?? DEFAULT_STACK, values['state-machine-arn']);
  const started = await startExecution(new SFNClient({}), arn, input);
  process.stdout.write(
    values.json
      ? `${JSON.stringify(started)}\n`
      : `started ${started.executionArn}\nfollow it with: swarm-bench status ${started.executionArn}\n`,
  );
  return 0;
}
