/**
 * Reading a synthesized CloudFormation template for a local run: CloudFormation intrinsics
 * resolved to the names and ARNs the local stand-ins answer to, and each Lambda function's
 * deployment (asset directory, handler, environment, memory, timeout, IAM policy) as the template
 * gives it.
 */
import { join } from 'node:path';
import type { PolicyStatement } from './iam.ts';

// biome-ignore lint/suspicious/noExplicitAny: a CloudFormation template is untyped JSON.
export type Template = Record<string, any>;

/** Where the resolved names and ARNs live. */
export interface TemplateContext {
  account: string;
  region: string;
  stackName: string;
  /** Physical names chosen for some resources (e.g. the table and bucket a stand-in holds). */
  names?: Record<string, string>;
}

/** A Lambda function as the template deploys it, intrinsics resolved. */
export interface FunctionSpec {
  logicalId: string;
  /** Its physical name (what its ARN ends with). */
  name: string;
  arn: string;
  /** `file.export`, e.g. index.handler. */
  handler: string;
  runtime: string;
  memoryMb: number;
  timeoutSeconds: number;
  environment: Record<string, string>;
  /** The bundled code's directory in the cloud assembly (undefined when bundling was skipped). */
  assetDir: string | undefined;
  /** Every statement of every policy attached to the function's role. */
  policy: PolicyStatement[];
}

/** The physical name a resource gets locally: the given one, else derived from its logical id. */
export function physicalName(template: Template, logicalId: string, context: TemplateContext): string {
  const given = context.names?.[logicalId];
  if (given) return given;
  const type = template.Resources?.[logicalId]?.Type as string | undefined;
  // Bucket names are lower case; the rest keep the logical id.
  return type === 'AWS::S3::Bucket' ? `${context.stackName}-${logicalId}`.toLowerCase() : logicalId;
}

/** What `Ref` and `Fn::GetAtt ... Arn` give for a resource, per type, as CloudFormation documents it. */
function refOf(
  template: Template,
  logicalId: string,
  context: TemplateContext,
): { ref: string; arn: string } {
  const { account, region } = context;
  const name = physicalName(template, logicalId, context);
  const type = (template.Resources?.[logicalId]?.Type as string | undefined) ?? '';
  switch (type) {
    case 'AWS::DynamoDB::GlobalTable':
    case 'AWS::DynamoDB::Table':
      return { ref: name, arn: `arn:aws:dynamodb:${region}:${account}:table/${name}` };
    case 'AWS::S3::Bucket':
      return { ref: name, arn: `arn:aws:s3:::${name}` };
    case 'AWS::SNS::Topic': {
      const arn = `arn:aws:sns:${region}:${account}:${name}`;
      return { ref: arn, arn };
    }
    case 'AWS::SecretsManager::Secret': {
      // Secrets Manager appends six random characters to a secret's ARN.
      const arn = `arn:aws:secretsmanager:${region}:${account}:secret:${name}-AbCdEf`;
      return { ref: arn, arn };
    }
    case 'AWS::KMS::Key':
      return { ref: name, arn: `arn:aws:kms:${region}:${account}:key/${name}` };
    case 'AWS::Lambda::Function':
      return { ref: name, arn: `arn:aws:lambda:${region}:${account}:function:${name}` };
    case 'AWS::IAM::Role':
      return { ref: name, arn: `arn:aws:iam::${account}:role/${name}` };
    case 'AWS::Logs::LogGroup':
      return { ref: name, arn: `arn:aws:logs:${region}:${account}:log-group:${name}:*` };
    case 'AWS::StepFunctions::StateMachine': {
      const arn = `arn:aws:states:${region}:${account}:stateMachine:${name}`;
      return { ref: arn, arn };
    }
    default:
      return { ref: name, arn: `arn:aws:local:${region}:${account}:${logicalId}` };
  }
}

/** Resolve Ref, Fn::GetAtt, Fn::Join, Fn::Select and Fn::Split; any other intrinsic is an error. */
export function resolveIntrinsics(value: unknown, template: Template, context: TemplateContext): unknown {
  const resolve = (inner: unknown) => resolveIntrinsics(inner, template, context);
  if (Array.isArray(value)) return value.map(resolve);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 1) {
    const [[key, argument]] = entries as [[string, unknown]];
    switch (key) {
      case 'Ref':
        return pseudo(String(argument), context) ?? refOf(template, String(argument), context).ref;
      case 'Fn::GetAtt': {
        const [logicalId, attribute] = (typeof argument === 'string' ? argument.split('.') : argument) as [
          string,
          string,
        ];
        const { ref, arn } = refOf(template, logicalId, context);
        if (attribute === 'Arn' || attribute === 'TopicArn') return arn;
        if (attribute === 'TopicName' || attribute === 'Name') return ref;
        // A function URL: the one given for the resource (a local server), else the AWS form.
        if (attribute === 'FunctionUrl') {
          return (
            context.names?.[logicalId] ??
            `https://${logicalId.toLowerCase()}.lambda-url.${context.region}.on.aws/`
          );
        }
        return `${logicalId}.${attribute}`;
      }
      case 'Fn::Join': {
        const [separator, parts] = argument as [string, unknown[]];
        return (resolve(parts) as unknown[]).map(String).join(separator);
      }
      case 'Fn::Select': {
        const [index, list] = argument as [unknown, unknown];
        return (resolve(list) as unknown[])[Number(resolve(index))];
      }
      case 'Fn::Split': {
        const [separator, text] = argument as [string, unknown];
        return String(resolve(text)).split(separator);
      }
      default:
        if (key.startsWith('Fn::')) throw new Error(`cannot resolve ${key} locally`);
    }
  }
  return Object.fromEntries(entries.map(([key, inner]) => [key, resolve(inner)]));
}

function pseudo(name: string, context: TemplateContext): string | undefined {
  switch (name) {
    case 'AWS::Partition':
      return 'aws';
    case 'AWS::Region':
      return context.region;
    case 'AWS::AccountId':
      return context.account;
    case 'AWS::URLSuffix':
      return 'amazonaws.com';
    case 'AWS::StackName':
      return context.stackName;
    default:
      return undefined;
  }
}

/** Logical ids of the template's resources of one type. */
export function resourcesOfType(template: Template, type: string): string[] {
  return Object.entries(template.Resources ?? {})
    .filter(([, resource]) => (resource as { Type?: string })?.Type === type)
    .map(([logicalId]) => logicalId);
}

/** The state machine's ASL with intrinsics resolved, parsed. */
export function stateMachineAsl(template: Template, context: TemplateContext): Record<string, unknown> {
  const machines = resourcesOfType(template, 'AWS::StepFunctions::StateMachine');
  if (machines.length !== 1) throw new Error(`expected one state machine, found ${machines.length}`);
  const text = resolveIntrinsics(
    template.Resources[machines[0]!].Properties.DefinitionString,
    template,
    context,
  );
  if (typeof text !== 'string') throw new Error('the state machine definition did not resolve to a string');
  return JSON.parse(text) as Record<string, unknown>;
}

/** Every Lambda function of the template, as deployed; `assemblyDir` locates bundled code. */
export function functionSpecs(
  template: Template,
  context: TemplateContext,
  assemblyDir: string | undefined,
): FunctionSpec[] {
  const resolve = (value: unknown) => resolveIntrinsics(value, template, context);
  const policies = resourcesOfType(template, 'AWS::IAM::Policy').map(
    (id) => template.Resources[id].Properties as { Roles?: unknown[]; PolicyDocument: unknown },
  );
  return resourcesOfType(template, 'AWS::Lambda::Function').map((logicalId) => {
    const resource = template.Resources[logicalId];
    const properties = resource.Properties;
    const { ref: name, arn } = refOf(template, logicalId, context);
    const roleId = (properties.Role?.['Fn::GetAtt'] as [string, string] | undefined)?.[0];
    const role = roleId ? template.Resources[roleId] : undefined;
    const documents: unknown[] = [
      ...((role?.Properties?.Policies ?? []) as Array<{ PolicyDocument: unknown }>).map(
        (p) => p.PolicyDocument,
      ),
      ...policies
        .filter((policy) =>
          (policy.Roles ?? []).some((r) => (r as { Ref?: string })?.Ref === roleId && roleId !== undefined),
        )
        .map((policy) => policy.PolicyDocument),
    ];
    const policy = documents.flatMap((document) => {
      const statements = (resolve(document) as { Statement?: unknown }).Statement;
      return (Array.isArray(statements) ? statements : [statements]) as PolicyStatement[];
    });
    const assetPath =
      (resource.Metadata?.['aws:asset:path'] as string | undefined) ??
      (typeof properties.Code?.S3Key === 'string'
        ? `asset.${properties.Code.S3Key.replace(/\.zip$/, '')}`
        : undefined);
    return {
      logicalId,
      name,
      arn,
      handler: String(properties.Handler ?? 'index.handler'),
      runtime: String(properties.Runtime ?? ''),
      memoryMb: Number(properties.MemorySize ?? 128),
      timeoutSeconds: Number(properties.Timeout ?? 3),
      environment: Object.fromEntries(
        Object.entries(
          (resolve(properties.Environment?.Variables ?? {}) as Record<string, unknown>) ?? {},
        ).map(([key, value]) => [key, String(value)]),
      ),
      assetDir: assemblyDir && assetPath ? join(assemblyDir, assetPath) : undefined,
      policy,
    };
  });
}
