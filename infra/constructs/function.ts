/**
 * One bundled Lambda step of the pipeline: its own log group, its own role (logs only to that
 * group; every other grant is added by the construct that uses the function), Node 22 on arm64,
 * ESM bundled by esbuild with class names kept and source maps on (mappings only, no sources).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type Duration,
  aws_iam as iam,
  aws_lambda as lambda,
  aws_logs as logs,
  aws_lambda_nodejs as nodejs,
  RemovalPolicy,
} from 'aws-cdk-lib';
import type { Construct } from 'constructs';

/**
 * The repository root (with a trailing slash): the nearest folder above this module holding a
 * package.json. This module sits in infra/constructs/ in the sources but in dist/ once bundled
 * into the CLI (`npm start` synthesizes the stack from there), so a fixed `../..` is wrong in one.
 */
const ROOT = `${repositoryRoot(dirname(fileURLToPath(import.meta.url)))}/`;

function repositoryRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export interface StepFunctionProps {
  /** Memory of the function, MB. */
  memoryMb: number;
  /** Longest run of one invocation. */
  timeout: Duration;
  /** Environment variables (NODE_OPTIONS is set here). */
  env: Record<string, string>;
  /** How long its logs are kept. */
  logRetention: logs.RetentionDays;
}

/** `unit` -> `Unit`, `record-failure` -> `RecordFailure`: the id prefix of the function's constructs. */
export function constructIdOf(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_m, _d, c: string) => c.toUpperCase());
}

/**
 * The function whose handler is `functions/<name>.ts`, created in `scope` as `<Id>Function`, with
 * `<Id>Logs` and `<Id>Role` beside it.
 */
export function stepFunction(
  scope: Construct,
  name: string,
  options: StepFunctionProps,
): nodejs.NodejsFunction {
  const id = constructIdOf(name);
  const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
    retention: options.logRetention,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  // An explicit role instead of the managed basic-execution policy: logs only to its own group.
  const role = new iam.Role(scope, `${id}Role`, {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: `swarm-bench ${name} step`,
  });
  logGroup.grantWrite(role);
  return new nodejs.NodejsFunction(scope, `${id}Function`, {
    entry: `${ROOT}functions/${name}.ts`,
    handler: 'handler',
    projectRoot: ROOT,
    depsLockFilePath: `${ROOT}package-lock.json`,
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: lambda.Architecture.ARM_64,
    memorySize: options.memoryMb,
    timeout: options.timeout,
    logGroup,
    role,
    environment: { NODE_OPTIONS: '--enable-source-maps', ...options.env },
    bundling: {
      forceDockerBundling: false,
      format: nodejs.OutputFormat.ESM,
      target: 'node22',
      minify: true,
      // Error names are what Step Functions' Retry/Catch match and what the store records:
      // minified class names ('St', 'fe') would match nothing.
      keepNames: true,
      sourceMap: true,
      // Stack traces need the mappings, not the sources: a map without them is a fraction of the
      // size, and --enable-source-maps reads and parses the whole map at every cold start.
      sourcesContent: false,
      mainFields: ['module', 'main'],
      // Some dependencies still call require(); ESM output needs it defined.
      banner: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      // The AWS SDK is bundled (tree-shaken, minified) instead of taken from the runtime: one file
      // to load instead of hundreds of modules at every cold start, and the version tested here is
      // the version that runs.
      externalModules: [],
      // The unit step uploads the agent bundle to sandboxes whose template lacks it.
      ...(name === 'unit'
        ? {
            commandHooks: {
              beforeBundling: () => [],
              beforeInstall: () => [],
              // Built from the checked-out source at every synth: no manual step, never a stale copy.
              afterBundling: (inputDir: string, outputDir: string) => [
                `cd "${inputDir}" && "${process.execPath}" --import tsx scripts/build-agent.ts --outfile "${outputDir}/agent.cjs"`,
              ],
            },
          }
        : {}),
    },
  });
}
