/**
 * The CDK app: `npx cdk synth` / `npx cdk deploy` (cdk.json runs this with tsx). Settings come
 * from CDK context (`-c profile=quick -c notificationEmails=a@b.c,d@e.f`); cdk-nag's AWS
 * Solutions rules run as a validation plugin, so a finding fails the synth.
 */
import { execFileSync } from 'node:child_process';
import { App, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { ProfileName } from '../lib/bench/model.ts';
import { SwarmBenchStack, type SwarmBenchStackProps } from './stack.ts';

const app = new App();
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

const context = (key: string): string | undefined => {
  const value: unknown = app.node.tryGetContext(key);
  return value === undefined || value === '' ? undefined : String(value);
};
const number = (key: string) => (context(key) === undefined ? undefined : Number(context(key)));
const list = (key: string) =>
  context(key)
    ?.split(',')
    .map((item) => item.trim())
    .filter(Boolean);

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return 'unknown';
  }
}

const props: SwarmBenchStackProps = {
  ...(context('scheduleExpression') ? { scheduleExpression: context('scheduleExpression')! } : {}),
  ...(context('scheduleTimeZone') ? { scheduleTimeZone: context('scheduleTimeZone')! } : {}),
  ...(list('categories') ? { categories: list('categories')! } : {}),
  ...(context('profile') ? { profile: context('profile') as ProfileName } : {}),
  ...(context('e2bTemplate') ? { e2bTemplate: context('e2bTemplate')! } : {}),
  ...(number('mapMaxConcurrency') !== undefined ? { mapMaxConcurrency: number('mapMaxConcurrency')! } : {}),
  ...(number('runBudgetUsd') !== undefined ? { runBudgetUsd: number('runBudgetUsd')! } : {}),
  ...(number('monthlyBudgetUsd') !== undefined ? { monthlyBudgetUsd: number('monthlyBudgetUsd')! } : {}),
  ...(list('notificationEmails') ? { notificationEmails: list('notificationEmails')! } : {}),
  ...(number('reportRetentionDays') !== undefined
    ? { reportRetentionDays: number('reportRetentionDays')! }
    : {}),
  ...(context('removalPolicy') === 'destroy' ? { removalPolicy: RemovalPolicy.DESTROY } : {}),
  gitCommit: gitCommit(),
  ...(context('region') ? { env: { region: context('region')! } } : {}),
};

new SwarmBenchStack(app, context('stackName') ?? 'SwarmBench', props);
app.synth();
