/**
 * The deployed artifacts on one machine: every Task of the synthesized state machine invokes the
 * function's bundled asset from the cloud assembly, in its own Node 22 process (lambda-host.ts),
 * with the environment the template gives it and its AWS SDK pointed at the local endpoint
 * (aws-local.ts), which records every call and checks it against the function's IAM policy.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { type RecordedCall, startLocalAws } from './aws-local.ts';
import type { PolicyStatement } from './iam.ts';
import {
  type InvocationTiming,
  LambdaFunction,
  LambdaInvocationError,
  type LambdaStats,
} from './lambda-host.ts';
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
  /**
   * Invoke a function by the ARN the definition names; errors as Step Functions sees them.
   * `observe` is told where the invocation's time went (cold start parts, handler).
   */
  invoke(
    functionArn: string,
    payload: unknown,
    observe?: (timing: InvocationTiming) => void,
  ): Promise<unknown>;
  /** The resolved ASL to run. */
  definition: Record<string, unknown>;
  standIns: StandIns;
  calls(): readonly RecordedCall[];
  /** The IAM statements of a function (by name), as the local endpoint checks them. */
  policyOf(name: string): readonly PolicyStatement[] | undefined;
  published(): ReadonlyArray<{ topicArn: string; subject: string | undefined; message: string }>;
  functions(): ReadonlyArray<{
    name: string;
    arn: string;
    logicalId: string;
    stats: LambdaStats;
    logTail: () => string;
  }>;
  putSecret(arn: string, value: string): void;
  /** The local endpoint's URL (what AWS_ENDPOINT_URL_* name). */
  endpoint: string;
  /** Kill every function instance now, without waiting (a forced exit); close() still follows. */
  killSync(): void;
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
  // Each function URL is a loopback HTTP server that invokes its function as Lambda's URL service
  // does (payload format 2.0), so links the functions hand out work while the runtime runs.
  const urlServers = await Promise.all(
    resourcesOfType(template, 'AWS::Lambda::Url').map(async (logicalId) => {
      const server = createServer();
      await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
      return { logicalId, server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
    }),
  );
  const context: TemplateContext = {
    ...options.stack.context,
    names: {
      ...options.stack.context.names,
      ...Object.fromEntries(urlServers.map(({ logicalId, url }) => [logicalId, url])),
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
    for (const { logicalId, server } of urlServers) {
      const target = resolve(template.Resources[logicalId].Properties?.TargetFunctionArn) as string;
      const host = hosts.get(target);
      if (!host) throw new Error(`function URL ${logicalId} targets no bundled function (${target})`);
      server.on('request', (req, res) => serveFunctionUrl(host, req, res));
    }
  } catch (error) {
    await closeServers(urlServers.map(({ server }) => server));
    await aws.close();
    await rm(workDir, { recursive: true, force: true });
    throw error;
  }
  const stateMachine = resourcesOfType(template, 'AWS::StepFunctions::StateMachine')[0];
  const text = resolve(template.Resources[stateMachine ?? '']?.Properties?.DefinitionString);
  if (typeof text !== 'string') throw new Error('the state machine definition did not resolve to a string');

  return {
    definition: JSON.parse(text) as Record<string, unknown>,
    standIns: options.standIns,
    endpoint: aws.endpoint,
    async invoke(functionArn, payload, observe) {
      const host = hosts.get(functionArn);
      if (!host)
        throw new LambdaInvocationError(
          'Lambda.ResourceNotFoundException',
          `Function not found: ${functionArn}`,
        );
      return host.invoke(payload, observe);
    },
    calls: () => aws.calls,
    policyOf: (name) => [...hosts.values()].find((host) => host.spec.name === name)?.spec.policy,
    published: () => aws.published,
    functions: () =>
      [...hosts.values()].map((host) => ({
        name: host.spec.name,
        arn: host.spec.arn,
        logicalId: host.spec.logicalId,
        stats: host.stats,
        logTail: () => host.logTail(),
      })),
    putSecret: (arn, value) => aws.putSecret(arn, value),
    killSync() {
      for (const host of hosts.values()) host.killSync();
    },
    async close() {
      await closeServers(urlServers.map(({ server }) => server));
      await Promise.all([...hosts.values()].map((host) => host.close()));
      await aws.close();
      await rm(workDir, { recursive: true, force: true });
    },
  };
}

function closeServers(servers: Server[]): Promise<unknown> {
  return Promise.all(
    servers.map((server) => {
      server.closeAllConnections();
      return new Promise((done) => server.close(done));
    }),
  );
}

/** One HTTP request to a function URL: the event Lambda builds, the response it writes back. */
async function serveFunctionUrl(
  host: LambdaFunction,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const body = Buffer.concat(chunks);
  const event = {
    version: '2.0',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
    requestContext: { http: { method: req.method ?? 'GET', path: url.pathname, sourceIp: '127.0.0.1' } },
    body: body.toString('base64'),
    isBase64Encoded: true,
  };
  try {
    const out = (await host.invoke(event)) as {
      statusCode?: number;
      headers?: Record<string, string>;
      body?: string;
      isBase64Encoded?: boolean;
    };
    res.writeHead(out.statusCode ?? 200, out.headers ?? {});
    res.end(out.body === undefined ? '' : Buffer.from(out.body, out.isBase64Encoded ? 'base64' : 'utf8'));
  } catch {
    // Lambda's URL service answers a function error with 502.
    res.writeHead(502, { 'content-type': 'text/plain' }).end('Internal Server Error\n');
  }
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
