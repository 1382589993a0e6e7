/**
 * Synthesize the stack in-process and return its template and the state machine's ASL with the
 * CloudFormation intrinsics resolved (lib/pipeline/template.ts), so the exact definition CDK
 * deploys can run under a local ASL interpreter; optionally keep the cloud assembly with the
 * bundled functions, which the local pipeline runs.
 */
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { assertValidDefinition } from '../lib/pipeline/asl.ts';
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
    const definition = stateMachineAsl(template, STACK_CONTEXT);
    // Checked here, as CreateStateMachine checks it at deploy: executions of it do not check again.
    assertValidDefinition(definition);
    return {
      template,
      definition,
      scheduleInput: stack.scheduleInput,
      ...(options.outdir ? { assemblyDir: options.outdir } : {}),
    };
  } finally {
    if (options.outdir === undefined) rmSync(outdir, { recursive: true, force: true });
  }
}

/** The files a bundle is built from: a change to any of them makes a new cloud assembly. */
const SOURCE_ROOTS = [
  'infra',
  'functions',
  'lib',
  'scripts',
  'package-lock.json',
  'cdk.json',
  'tsconfig.json',
];

/** A hash of the stack's sources and settings: the key of a cached cloud assembly. */
export function sourceHash(root: string, props: SwarmBenchStackProps = {}): string {
  const hash = createHash('sha256').update(JSON.stringify(props));
  const files = SOURCE_ROOTS.flatMap((entry) => {
    const path = join(root, entry);
    if (!existsSync(path)) return [];
    if (!statSync(path).isDirectory()) return [entry];
    return readdirSync(path, { recursive: true, encoding: 'utf8' })
      .map((name) => join(entry, name))
      .filter((name) => statSync(join(root, name)).isFile());
  });
  for (const file of files.sort())
    hash
      .update(file)
      .update('\0')
      .update(readFileSync(join(root, file)));
  return hash.digest('hex').slice(0, 16);
}

/**
 * The stack synthesized with its functions bundled, cached under `cacheDir` by the hash of the
 * sources: the first call bundles (seconds per function), later ones with the same sources reuse
 * the assembly. Built in a temporary directory and renamed into place, so concurrent callers
 * never see half an assembly.
 */
export function bundledAssembly(options: {
  cacheDir: string;
  props?: SwarmBenchStackProps;
}): SynthesizedStack & {
  assemblyDir: string;
} {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const dir = join(options.cacheDir, sourceHash(root, options.props));
  const templatePath = join(dir, `${STACK_NAME}.template.json`);
  if (!existsSync(templatePath)) {
    mkdirSync(options.cacheDir, { recursive: true });
    const building = mkdtempSync(join(options.cacheDir, 'building-'));
    try {
      synthesizeStack({ bundle: true, outdir: building, ...(options.props ? { props: options.props } : {}) });
      try {
        renameSync(building, dir);
      } catch (error) {
        // Another process finished the same assembly first: use theirs.
        if (!existsSync(templatePath)) throw error;
      }
    } finally {
      rmSync(building, { recursive: true, force: true });
    }
  }
  const template = JSON.parse(readFileSync(templatePath, 'utf8')) as SynthesizedStack['template'];
  return {
    template,
    definition: stateMachineAsl(template, STACK_CONTEXT),
    scheduleInput: {},
    assemblyDir: dir,
  };
}
