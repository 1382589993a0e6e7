/**
 * Synthesize the stack in-process and return its template and the state machine's ASL with the
 * CloudFormation intrinsics resolved (lib/pipeline/template.ts), so the exact definition CDK
 * deploys can run under a local ASL interpreter; optionally keep the cloud assembly with the
 * bundled functions, which the local pipeline runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { stateMachineAsl, type TemplateContext } from '../lib/pipeline/template.ts';
import { SwarmBenchStack, type SwarmBenchStackProps } from './stack.ts';

export const PLACEHOLDER_ACCOUNT = '123456789012';
export const PLACEHOLDER_REGION = 'us-east-1';
export const STACK_NAME = 'SwarmBench';

export interface SynthOptions {
  props?: SwarmBenchStackProps;
  /** Bundle the Lambda code with esbuild (slow; only needed to deploy or to test bundling). @default false */
  bundle?: boolean;
  /** CDK's built-in CloudFormation validation. @default false */
  validate?: boolean;
  /** cdk-nag AwsSolutionsChecks as a validation plugin; a finding throws. @default false */
  nag?: boolean;
  /** Keep the cloud assembly in this directory. @default a temporary directory, removed */
  outdir?: string;
}

export interface SynthesizedStack {
  // biome-ignore lint/suspicious/noExplicitAny: a CloudFormation template is untyped JSON.
  template: Record<string, any>;
  /** The state machine's ASL, intrinsics resolved. */
  definition: Record<string, unknown>;
  /** The input the weekly schedule starts executions with. */
  scheduleInput: Record<string, unknown>;
  /** The kept cloud assembly (only with `outdir`). */
  assemblyDir?: string;
}

/** Where the synthesized stack's resources resolve (placeholder account and region). */
export const STACK_CONTEXT: TemplateContext = {
  account: PLACEHOLDER_ACCOUNT,
  region: PLACEHOLDER_REGION,
  stackName: STACK_NAME,
};

/**
 * Synthesize the stack. Into a temporary directory removed afterwards, or into `outdir`, kept
 * (the cloud assembly, with the bundled function code when `bundle` is set).
 */
export function synthesizeStack(options: SynthOptions = {}): SynthesizedStack {
  const outdir = options.outdir ?? mkdtempSync(join(tmpdir(), 'swarm-bench-cdk-'));
  try {
    const app = new App({
      outdir,
      builtinCloudFormationValidation: options.validate ?? false,
      // An empty list skips asset bundling for every stack (the definition does not need code).
      context: {
        'aws:cdk:enable-asset-metadata': true,
        ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }),
      },
    });
    if (options.nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const stack = new SwarmBenchStack(app, STACK_NAME, {
      env: { account: PLACEHOLDER_ACCOUNT, region: PLACEHOLDER_REGION },
      ...options.props,
    });
    const assembly = app.synth();
    const template = assembly.getStackArtifact(stack.artifactId).template;
    return {
      template,
      definition: stateMachineAsl(template, STACK_CONTEXT),
      scheduleInput: stack.scheduleInput,
      ...(options.outdir ? { assemblyDir: options.outdir } : {}),
    };
  } finally {
    if (options.outdir === undefined) rmSync(outdir, { recursive: true, force: true });
  }
}
