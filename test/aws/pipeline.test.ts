/**
 * Live test of a deployed stack. Runs only when AWS credentials are present (AWS_ACCESS_KEY_ID or
 * AWS_PROFILE) and names the stack in SWARM_BENCH_STACK; otherwise it reports itself skipped with
 * the reason in its name. AWS cannot be reached from the development machines, so everything else
 * about the pipeline is tested against the synthesized template and the local interpreter.
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { stateMachineArnOf } from '../../bin/commands/start.ts';
import { describeExecution, startExecution } from '../../lib/pipeline/execution.ts';

const credentials = Boolean(process.env.AWS_ACCESS_KEY_ID || process.env.AWS_PROFILE);
const stack = process.env.SWARM_BENCH_STACK;
const skipReason = !credentials
  ? ' (skipped: no AWS credentials)'
  : !stack
    ? ' (skipped: SWARM_BENCH_STACK names no deployed stack)'
    : '';

describe('the deployed pipeline', () => {
  it.skipIf(skipReason !== '')(
    `runs a quick creation benchmark end to end and publishes a readable report${skipReason}`,
    async () => {
      // Prepare
      const client = new SFNClient({});
      const arn = await stateMachineArnOf(stack as string, undefined);
      // Act
      const { executionArn } = await startExecution(client, arn, {
        profile: 'quick',
        provider: 'e2b',
        categories: ['creation'],
        scenarios: false,
      });
      let progress = await describeExecution(client, executionArn);
      const deadline = Date.now() + 14 * 60_000;
      while (progress.status === 'RUNNING' && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10_000));
        progress = await describeExecution(client, executionArn);
      }
      // Assess
      expect(progress.status, progress.error?.message).toBe('SUCCEEDED');
      expect(progress.unitsDone).toBe(progress.unitsTotal);
      expect(progress.reportUrl).toMatch(/^https:\/\//);
      const report = await fetch(progress.reportUrl as string);
      expect(report.status).toBe(200);
      expect(await report.text()).toContain('## Performance Targets');
    },
    15 * 60_000,
  );
});
