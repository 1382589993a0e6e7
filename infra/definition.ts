/**
 * Synthesize the stack in-process and return its template and the state machine's ASL with the
 * CloudFormation intrinsics resolved to placeholder ARNs, so the exact definition CDK deploys can
 * run under a local ASL interpreter.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { SwarmBenchStack, type SwarmBenchStackProps } from './stack.ts';

export const PLACEHOLDER_ACCOUNT = '123456789012';
export const PLACEHOLDER_REGION = 'us-east-1';

export interface SynthOptions {
  props?: SwarmBenchStackProps;
  /** Bundle the Lambda code with esbuild (slow; only needed to deploy or to test bundling). @default false */
  bundle?: boolean;
  /** CDK's built-in CloudFormation validation. @default false */
  validate?: boolean;
  /** cdk-nag AwsSolutionsChecks as a validation plugin; a finding throws. @default false */
  nag?: boolean;
}

export interface SynthesizedStack {
  // biome-ignore lint/suspicious/noExplicitAny: a CloudFormation template is untyped JSON.
  template: Record<string, any>;
  /** The state machine's ASL, intrinsics resolved. */
  definition: Record<string, unknown>;
  /** The input the weekly schedule starts executions with. */
  scheduleInput: Record<string, unknown>;
}

/** Synthesize the stack into a temporary directory (removed afterwards). */
export function synthesizeStack(options: SynthOptions = {}): SynthesizedStack {
  const outdir = mkdtempSync(join(tmpdir(), 'swarm-bench-cdk-'));
  try {
    const app = new App({
      outdir,
      builtinCloudFormationValidation: options.validate ?? false,
      // An empty list skips asset bundling for every stack (the definition does not need code).
      context: options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] },
    });
    if (options.nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const stack = new SwarmBenchStack(app, 'SwarmBench', {
      env: { account: PLACEHOLDER_ACCOUNT, region: PLACEHOLDER_REGION },
      ...options.props,
    });
    const assembly = app.synth();
    const template = assembly.getStackArtifact(stack.artifactId).template;
    return { template, definition: stateMachineDefinition(template), scheduleInput: stack.scheduleInput };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** The one state machine's DefinitionString, resolved and parsed. */
// biome-ignore lint/suspicious/noExplicitAny: a CloudFormation template is untyped JSON.
export function stateMachineDefinition(template: Record<string, any>): Record<string, unknown> {
  const machines = Object.values(template.Resources ?? {}).filter(
    // biome-ignore lint/suspicious/noExplicitAny: untyped template resource.
    (resource: any) => resource?.Type === 'AWS::StepFunctions::StateMachine',
  );
  if (machines.length !== 1) throw new Error(`expected one state machine, found ${machines.length}`);
  // biome-ignore lint/suspicious/noExplicitAny: untyped template resource.
  const text = resolveIntrinsics((machines[0] as any).Properties.DefinitionString);
  if (typeof text !== 'string') throw new Error('the state machine definition did not resolve to a string');
  return JSON.parse(text) as Record<string, unknown>;
}

/** Resolve Fn::Join, Ref and Fn::GetAtt to placeholder values; anything else is an error. */
export function resolveIntrinsics(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(resolveIntrinsics);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 1) {
    const [[key, argument]] = entries as [[string, unknown]];
    if (key === 'Fn::Join') {
      const [separator, parts] = argument as [string, unknown[]];
      return parts.map((part) => String(resolveIntrinsics(part))).join(separator);
    }
    if (key === 'Ref') return pseudo(String(argument)) ?? placeholderArn(String(argument));
    if (key === 'Fn::GetAtt') {
      const [logicalId, attribute] = argument as [string, string];
      return attribute === 'Arn' ? placeholderArn(logicalId) : `${logicalId}.${attribute}`;
    }
    if (key.startsWith('Fn::')) throw new Error(`cannot resolve ${key} locally`);
  }
  return Object.fromEntries(entries.map(([key, inner]) => [key, resolveIntrinsics(inner)]));
}

function pseudo(name: string): string | undefined {
  switch (name) {
    case 'AWS::Partition':
      return 'aws';
    case 'AWS::Region':
      return PLACEHOLDER_REGION;
    case 'AWS::AccountId':
      return PLACEHOLDER_ACCOUNT;
    case 'AWS::URLSuffix':
      return 'amazonaws.com';
    default:
      return undefined;
  }
}

function placeholderArn(logicalId: string): string {
  return `arn:aws:lambda:${PLACEHOLDER_REGION}:${PLACEHOLDER_ACCOUNT}:function:${logicalId}`;
}
