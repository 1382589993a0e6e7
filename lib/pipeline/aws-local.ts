/**
 * The local AWS endpoint the bundled functions talk to (every `AWS_ENDPOINT_URL_*` points here):
 * one HTTP server on loopback that tells the service from the SigV4 credential scope and the
 * calling function from its access key id, records every call as (function, action, resource),
 * checks it against that function's IAM policy and refuses it as AWS would (AccessDenied), then
 * serves it: DynamoDB and S3 are forwarded to their stand-ins (dynalite, s3rver); SNS and Secrets
 * Manager are served here and keep what they receive.
 *
 * Like AWS, S3 answers a missing key with 403 instead of 404 when the caller may not list the bucket.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Decision, evaluate, type PolicyStatement } from './iam.ts';

/** One call a function made, and what its policy decided. */
export interface RecordedCall {
  principal: string;
  service: string;
  action: string;
  resource: string;
  decision: Decision;
}

/** A message published to a topic. */
export interface PublishedMessage {
  principal: string;
  topicArn: string;
  subject: string | undefined;
  message: string;
}

export interface LocalAwsOptions {
  region: string;
  account: string;
  /** dynalite's endpoint. */
  dynamodbEndpoint: string;
  /** s3rver's endpoint (it accepts only the S3RVER key id). */
  s3Endpoint: string;
  /** Topics that exist, with the KMS key that encrypts each (publishing then needs the key too). */
  topics: Array<{ arn: string; kmsKeyArn?: string }>;
  /** Secrets that exist, by ARN, with their initial value. */
  secrets: Array<{ arn: string; value: string }>;
  /** Refuse denied calls, as AWS does. @default true */
  enforce?: boolean;
}

/** The running endpoint. */
export interface LocalAws {
  endpoint: string;
  /** Credentials of one principal (a function): its calls are attributed and checked by `policy`. */
  credentialsFor(
    principal: string,
    policy: readonly PolicyStatement[],
  ): { accessKeyId: string; secretAccessKey: string; sessionToken: string };
  /** Every call so far, in order. */
  readonly calls: readonly RecordedCall[];
  readonly published: readonly PublishedMessage[];
  /** Set a secret's value (as `aws secretsmanager put-secret-value` would). */
  putSecret(arn: string, value: string): void;
  close(): Promise<void>;
}

interface Principal {
  name: string;
  policy: readonly PolicyStatement[];
}

interface Needed {
  action: string;
  resource: string;
}

/** Start the endpoint on 127.0.0.1 (a free port). */
export async function startLocalAws(options: LocalAwsOptions): Promise<LocalAws> {
  const principals = new Map<string, Principal>();
  const calls: RecordedCall[] = [];
  const published: PublishedMessage[] = [];
  const secrets = new Map(options.secrets.map((s) => [s.arn, { value: s.value, version: randomUUID() }]));
  const topics = new Map(options.topics.map((t) => [t.arn, t]));
  const enforce = options.enforce ?? true;
  const { region, account } = options;

  /** Record each needed permission; false (and an AccessDenied answer) when any is denied. */
  const authorize = (principal: Principal, service: string, needed: Needed[]): Needed | undefined => {
    let denied: Needed | undefined;
    for (const need of needed) {
      const decision = evaluate(principal.policy, need.action, need.resource);
      calls.push({ principal: principal.name, service, ...need, decision });
      if (decision !== 'allowed') denied ??= need;
    }
    return enforce ? denied : undefined;
  };
  const deniedMessage = (principal: Principal, need: Needed) =>
    `User: arn:aws:sts::${account}:assumed-role/${principal.name} is not authorized to perform: ${need.action} on resource: ${need.resource} because no identity-based policy allows the ${need.action} action`;

  const server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String((error as Error)?.message ?? error));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://local');
    const credential =
      /Credential=([^,\s]+)/.exec(req.headers.authorization ?? '')?.[1] ??
      url.searchParams.get('X-Amz-Credential') ??
      '';
    const [accessKeyId = '', , , service = ''] = credential.split('/');
    const principal = principals.get(accessKeyId);
    if (!principal) {
      return send(res, 403, 'text/plain', `unknown access key id ${JSON.stringify(accessKeyId)}`);
    }
    switch (service) {
      case 'dynamodb':
        return dynamodb(principal, req, res, body);
      case 's3':
        return s3(principal, req, res, body, url, accessKeyId);
      case 'sns':
        return sns(principal, res, body);
      case 'secretsmanager':
        return secretsManager(principal, req, res, body);
      default:
        return send(res, 400, 'text/plain', `no local stand-in for service ${JSON.stringify(service)}`);
    }
  }

  async function dynamodb(principal: Principal, req: IncomingMessage, res: ServerResponse, body: Buffer) {
    const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
    const input = JSON.parse(body.toString('utf8') || '{}') as {
      TableName?: string;
      IndexName?: string;
      RequestItems?: Record<string, unknown>;
    };
    const table = (name: string) => `arn:aws:dynamodb:${region}:${account}:table/${name}`;
    const tables = input.RequestItems ? Object.keys(input.RequestItems) : [input.TableName ?? '*'];
    const needed = tables.map((name) => ({
      action: `dynamodb:${operation}`,
      resource: input.IndexName ? `${table(name)}/index/${input.IndexName}` : table(name),
    }));
    const denied = authorize(principal, 'dynamodb', needed);
    if (denied) {
      return send(
        res,
        400,
        'application/x-amz-json-1.0',
        JSON.stringify({
          __type: 'com.amazon.coral.service#AccessDeniedException',
          Message: deniedMessage(principal, denied),
        }),
      );
    }
    await forward(options.dynamodbEndpoint, req, res, body);
  }

  async function s3(
    principal: Principal,
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
    url: URL,
    accessKeyId: string,
  ) {
    const [, bucket = '', ...rest] = url.pathname.split('/');
    const key = decodeURIComponent(rest.join('/'));
    const method = req.method ?? 'GET';
    const bucketArn = `arn:aws:s3:::${bucket}`;
    const objectArn = `${bucketArn}/${key}`;
    let action: string;
    if (key) {
      action =
        method === 'GET' || method === 'HEAD'
          ? 's3:GetObject'
          : method === 'DELETE'
            ? url.searchParams.has('uploadId')
              ? 's3:AbortMultipartUpload'
              : 's3:DeleteObject'
            : 's3:PutObject';
    } else if (method === 'GET' || method === 'HEAD') {
      action = url.searchParams.has('versions')
        ? 's3:ListBucketVersions'
        : url.searchParams.has('location')
          ? 's3:GetBucketLocation'
          : 's3:ListBucket';
    } else if (method === 'POST' && url.searchParams.has('delete')) {
      action = 's3:DeleteObject';
    } else {
      action =
        method === 'PUT' ? 's3:CreateBucket' : method === 'DELETE' ? 's3:DeleteBucket' : `s3:${method}`;
    }
    const resource = key || action === 's3:DeleteObject' ? (key ? objectArn : `${bucketArn}/*`) : bucketArn;
    const denied = authorize(principal, 's3', [{ action, resource }]);
    if (denied) return s3Error(res, 403, 'AccessDenied', deniedMessage(principal, denied));
    // s3rver knows one key id and does not check signatures: the caller's id is swapped for it.
    const swapped = (text: string) => text.replace(accessKeyId, 'S3RVER');
    if (req.headers.authorization) req.headers.authorization = swapped(req.headers.authorization);
    const path = url.searchParams.has('X-Amz-Credential')
      ? swapped(req.url ?? '/')
      : (req.url ?? '/').replace(encodeURIComponent(accessKeyId), 'S3RVER');
    const upstream = await call(options.s3Endpoint, method, path, req.headers, body);
    // Without s3:ListBucket, S3 hides whether a key exists: 403, not 404.
    if (upstream.status === 404 && key && action === 's3:GetObject') {
      if (evaluate(principal.policy, 's3:ListBucket', bucketArn) !== 'allowed') {
        calls.push({
          principal: principal.name,
          service: 's3',
          action: 's3:ListBucket',
          resource: bucketArn,
          decision: evaluate(principal.policy, 's3:ListBucket', bucketArn),
        });
        return s3Error(res, 403, 'AccessDenied', 'Access Denied', method === 'HEAD');
      }
    }
    res.writeHead(upstream.status, upstream.headers);
    res.end(upstream.body);
  }

  function sns(principal: Principal, res: ServerResponse, body: Buffer) {
    const params = new URLSearchParams(body.toString('utf8'));
    const action = params.get('Action') ?? '';
    const topicArn = params.get('TopicArn') ?? '';
    const topic = topics.get(topicArn);
    const needed: Needed[] = [{ action: `sns:${action}`, resource: topicArn }];
    // Publishing to a KMS-encrypted topic also uses the caller's permissions on the key.
    if (topic?.kmsKeyArn) {
      needed.push(
        { action: 'kms:GenerateDataKey', resource: topic.kmsKeyArn },
        { action: 'kms:Decrypt', resource: topic.kmsKeyArn },
      );
    }
    const denied = authorize(principal, 'sns', needed);
    const xmlError = (status: number, code: string, message: string) =>
      send(
        res,
        status,
        'text/xml',
        `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
      );
    if (denied) return xmlError(403, 'AuthorizationError', deniedMessage(principal, denied));
    if (action !== 'Publish') return xmlError(400, 'InvalidAction', `${action} is not served locally`);
    if (!topic) return xmlError(404, 'NotFound', 'Topic does not exist');
    const message = params.get('Message') ?? '';
    if (Buffer.byteLength(message) > 256 * 1024) {
      return xmlError(400, 'InvalidParameter', 'Invalid parameter: Message too long');
    }
    published.push({
      principal: principal.name,
      topicArn,
      subject: params.get('Subject') ?? undefined,
      message,
    });
    send(
      res,
      200,
      'text/xml',
      `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>${randomUUID()}</MessageId></PublishResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></PublishResponse>`,
    );
  }

  function secretsManager(principal: Principal, req: IncomingMessage, res: ServerResponse, body: Buffer) {
    const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
    const input = JSON.parse(body.toString('utf8') || '{}') as { SecretId?: string; SecretString?: string };
    const arn = [...secrets.keys()].find(
      (candidate) =>
        candidate === input.SecretId || candidate.split(':')[6]?.replace(/-.{6}$/, '') === input.SecretId,
    );
    const jsonError = (type: string, message: string) =>
      send(res, 400, 'application/x-amz-json-1.1', JSON.stringify({ __type: type, Message: message }));
    const denied = authorize(principal, 'secretsmanager', [
      { action: `secretsmanager:${operation}`, resource: arn ?? String(input.SecretId) },
    ]);
    if (denied) return jsonError('AccessDeniedException', deniedMessage(principal, denied));
    const secret = arn === undefined ? undefined : secrets.get(arn);
    if (arn === undefined || secret === undefined) {
      return jsonError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    }
    if (operation === 'GetSecretValue') {
      return send(
        res,
        200,
        'application/x-amz-json-1.1',
        JSON.stringify({
          ARN: arn,
          Name: arn.split(':')[6]?.replace(/-.{6}$/, ''),
          SecretString: secret.value,
          VersionId: secret.version,
          VersionStages: ['AWSCURRENT'],
          CreatedDate: Date.now() / 1000,
        }),
      );
    }
    if (operation === 'PutSecretValue' && typeof input.SecretString === 'string') {
      secrets.set(arn, { value: input.SecretString, version: randomUUID() });
      return send(res, 200, 'application/x-amz-json-1.1', JSON.stringify({ ARN: arn }));
    }
    return jsonError('InvalidRequestException', `${operation} is not served locally`);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let next = 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    credentialsFor(principal, policy) {
      const accessKeyId = `ASIALOCAL${String(next++).padStart(7, '0')}`;
      principals.set(accessKeyId, { name: principal, policy });
      return { accessKeyId, secretAccessKey: 'local-secret', sessionToken: `local-session-${principal}` };
    },
    calls,
    published,
    putSecret(arn, value) {
      if (!secrets.has(arn)) throw new Error(`no secret ${arn}`);
      secrets.set(arn, { value, version: randomUUID() });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'x-amzn-requestid': randomUUID() });
  res.end(body);
}

function s3Error(res: ServerResponse, status: number, code: string, message: string, head = false): void {
  res.writeHead(status, { 'content-type': 'application/xml', 'x-amz-request-id': randomUUID() });
  res.end(
    head
      ? undefined
      : `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error>`,
  );
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function call(
  endpoint: string,
  method: string,
  path: string,
  headers: IncomingMessage['headers'],
  body: Buffer,
): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }> {
  const target = new URL(endpoint);
  return new Promise((resolve, reject) => {
    const upstream = request(
      { host: target.hostname, port: target.port, method, path, headers: { ...headers, host: target.host } },
      (response) => {
        readBody(response).then(
          (data) => resolve({ status: response.statusCode ?? 502, headers: response.headers, body: data }),
          reject,
        );
      },
    );
    upstream.on('error', reject);
    upstream.end(body);
  });
}

async function forward(
  endpoint: string,
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
): Promise<void> {
  const upstream = await call(endpoint, req.method ?? 'POST', req.url ?? '/', req.headers, body);
  res.writeHead(upstream.status, upstream.headers);
  res.end(upstream.body);
}
