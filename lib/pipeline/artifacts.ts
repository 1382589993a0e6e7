/**
 * The deployed artifacts on one machine: every Task of the synthesized state machine invokes the
 * function's bundled asset from the cloud assembly, in its own Node 22 process (lambda-host.ts),
 * with the environment the template gives it and its AWS SDK pointed at the local endpoint
 * (aws-local.ts), which records every call and checks it against the function's IAM policy.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { type RecordedCall, startLocalAws } from './aws-local.ts';
import { LambdaFunction, LambdaInvocationError, type LambdaStats } from './lambda-host.ts';
import {
  functionSpecs,
  resolveIntrinsics,
  resourcesOfType,
  type Template,
  type TemplateContext,
} from './template.ts';

/** A bundled stack: its template and the cloud assembly holding the function code. */
export interface BundledStack {
  template: Template;
  assemblyDir: string;
  context: TemplateContext;
}

/** The stand-ins the functions' calls end at. */
export interface StandIns {
  /** dynalite's endpoint and the table it holds (the template's table resolves to it). */
  dynamodb: { endpoint: string; tableName: string };
  /** s3rver: its endpoint, a client and the bucket (the template's bucket resolves to it). */
  s3: { endpoint: string; client: S3Client; bucket: string };
}

export interface ArtifactRuntimeOptions {
  stack: BundledStack;
  standIns: StandIns;
  /** The Node.js binary functions run on (Node 22). */
  nodePath: string;
  /** The `@aws-sdk` directory offered to functions, as Lambda's runtime offers its SDK. */
  sdkDir: string;
  /** Refuse calls the functions' policies deny, as AWS does. @default true */
  enforceIam?: boolean;
  /** Per function logical id prefix (e.g. 'UnitFunction'): environment variables replaced (tests). */
  environmentOverrides?: Record<string, Record<string, string>>;
}

/** Everything one local deployment of the stack holds; close() ends it. */
export interface ArtifactRuntime {
  /** Invoke a function by the ARN the definition names; errors as Step Functions sees them. */
  invoke(functionArn: string, payload: unknown): Promise<unknown>;
  /** The resolved ASL to run. */
  definition: Record<string, unknown>;
  calls(): readonly RecordedCall[];
  published(): ReadonlyArray<{ topicArn: string; subject: string | undefined; message: string }>;
  functions(): ReadonlyArray<{ name: string; logicalId: string; stats: LambdaStats; logTail: () => string }>;
  putSecret(arn: string, value: string): void;
  /** The local endpoint's URL (what AWS_ENDPOINT_URL_* name). */
  endpoint: string;
  close(): Promise<void>;
}

/** Set up the stand-in endpoint and one host per bundled function (instances start on first invoke). */
export async function startArtifactRuntime(options: ArtifactRuntimeOptions): Promise<ArtifactRuntime> {
  const { template, assemblyDir } = options.stack;
  const tables = resourcesOfType(template, 'AWS::DynamoDB::GlobalTable').concat(
    resourcesOfType(template, 'AWS::DynamoDB::Table'),
  );
  const buckets = resourcesOfType(template, 'AWS::S3::Bucket');
  if (tables.length !== 1 || buckets.length !== 1) {
    throw new Error(
      `expected one table and one bucket in the template, found ${tables.length} and ${buckets.length}`,
    );
  }
  const context: TemplateContext = {
    ...options.stack.context,
    names: {
      ...options.stack.context.names,
      [tables[0]!]: options.standIns.dynamodb.tableName,
      [buckets[0]!]: options.standIns.s3.bucket,
    },
  };
  const resolve = (value: unknown) => resolveIntrinsics(value, template, context);
  const arnOf = (logicalId: string) => resolve({ 'Fn::GetAtt': [logicalId, 'Arn'] }) as string;

  const aws = await startLocalAws({
    region: context.region,
    account: context.account,
    dynamodbEndpoint: options.standIns.dynamodb.endpoint,
    s3Endpoint: options.standIns.s3.endpoint,
    enforce: options.enforceIam ?? true,
    topics: resourcesOfType(template, 'AWS::SNS::Topic').map((id) => {
      const key = template.Resources[id].Properties?.KmsMasterKeyId;
      return { arn: arnOf(id), ...(key ? { kmsKeyArn: String(resolve(key)) } : {}) };
    }),
    secrets: resourcesOfType(template, 'AWS::SecretsManager::Secret').map((id) => {
      const value = template.Resources[id].Properties?.SecretString;
      // A secret without SecretString gets a generated random value at deploy.
      return { arn: arnOf(id), value: value === undefined ? crypto.randomUUID() : String(resolve(value)) };
    }),
  });
  const workDir = await mkdtemp(join(tmpdir(), 'swarm-bench-lambda-'));
  const hosts = new Map<string, LambdaFunction>();
  try {
    const endpoint = aws.endpoint;
    for (const spec of functionSpecs(template, context, assemblyDir)) {
      const credentials = aws.credentialsFor(spec.name, spec.policy);
      const override = Object.entries(options.environmentOverrides ?? {}).find(([prefix]) =>
        spec.logicalId.startsWith(prefix),
      )?.[1];
      hosts.set(
        spec.arn,
        new LambdaFunction({
          spec,
          workDir,
          sdkDir: options.sdkDir,
          nodePath: options.nodePath,
          ...(override ? { environmentOverrides: override } : {}),
          awsEnv: {
            AWS_REGION: context.region,
            AWS_DEFAULT_REGION: context.region,
            AWS_ACCESS_KEY_ID: credentials.accessKeyId,
            AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
            AWS_SESSION_TOKEN: credentials.sessionToken,
            AWS_ENDPOINT_URL_DYNAMODB: endpoint,
            AWS_ENDPOINT_URL_S3: endpoint,
            AWS_ENDPOINT_URL_SNS: endpoint,
            AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint,
          },
        }),
      );
    }
  } catch (error) {
    await aws.close();
    await rm(workDir, { recursive: true, force: true });
    throw error;
  }
  const stateMachine = resourcesOfType(template, 'AWS::StepFunctions::StateMachine')[0];
  const text = resolve(template.Resources[stateMachine ?? '']?.Properties?.DefinitionString);
  if (typeof text !== 'string') throw new Error('the state machine definition did not resolve to a string');

  return {
    definition: JSON.parse(text) as Record<string, unknown>,
    endpoint: aws.endpoint,
    async invoke(functionArn, payload) {
      const host = hosts.get(functionArn);
      if (!host)
        throw new LambdaInvocationError(
          'Lambda.ResourceNotFoundException',
          `Function not found: ${functionArn}`,
        );
      return host.invoke(payload);
    },
    calls: () => aws.calls,
    published: () => aws.published,
    functions: () =>
      [...hosts.values()].map((host) => ({
        name: host.spec.name,
        logicalId: host.spec.logicalId,
        stats: host.stats,
        logTail: () => host.logTail(),
      })),
    putSecret: (arn, value) => aws.putSecret(arn, value),
    async close() {
      await Promise.all([...hosts.values()].map((host) => host.close()));
      await aws.close();
      await rm(workDir, { recursive: true, force: true });
    },
  };
}

/** Every Task state's name in an ASL definition, Map iterations included. */
export function taskStateNames(definition: Record<string, unknown>): string[] {
  const names: string[] = [];
  const visit = (states: Record<string, Record<string, unknown>>) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === 'Task') names.push(name);
      const inner = (state.ItemProcessor ?? state.Iterator) as
        | { States?: Record<string, Record<string, unknown>> }
        | undefined;
      if (inner?.States) visit(inner.States);
      for (const branch of (state.Branches ?? []) as Array<{
        States: Record<string, Record<string, unknown>>;
      }>) {
        visit(branch.States);
      }
    }
  };
  visit((definition.States ?? {}) as Record<string, Record<string, unknown>>);
  return names;
}

/** Copy the objects under `prefix` of a bucket out through `put` (name relative to the prefix). */
export async function copyPrefix(
  client: S3Client,
  bucket: string,
  prefix: string,
  put: (name: string, body: string, contentType: string) => Promise<unknown>,
): Promise<void> {
  const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  for (const object of listed.Contents ?? []) {
    if (!object.Key) continue;
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: object.Key }));
    await put(
      object.Key.slice(prefix.length),
      await got.Body!.transformToString(),
      got.ContentType ?? 'text/plain',
    );
  }
}
