import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, aws_iam as iam, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { StateMachine } from 'aws-local-stepfunctions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { synthesizeStack } from '../../infra/definition.ts';
import { resolveProps, SwarmBenchStack } from '../../infra/stack.ts';
import { UNIT_LAMBDA_MEMORY_MB } from '../../lib/bench/plan.ts';
import { E2B_KEY_PLACEHOLDER } from '../../lib/pipeline/e2b-key.ts';
import { localBundledStack } from '../../lib/pipeline/local.ts';

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation and ASL documents are untyped JSON.
type Json = Record<string, any>;

const props = { mapMaxConcurrency: 7, notificationEmails: ['bench@example.com'], reportRetentionDays: 30 };

describe('SwarmBenchStack', () => {
  let template: Template;
  let raw: Json;
  let definition: Json;

  beforeAll(() => {
    // Prepare + Act: cdk-nag and CloudFormation validation on; a finding would throw here.
    const synthesized = synthesizeStack({ props, nag: true, validate: true });
    raw = synthesized.template;
    template = Template.fromJSON(raw);
    definition = synthesized.definition as Json;
  });

  it('schedules the run weekly on Sunday 00:00 UTC with a valid RunConfig as input', () => {
    const schedules = template.findResources('AWS::Scheduler::Schedule');
    const weekly = Object.values(schedules).find((s: Json) =>
      s.Properties.ScheduleExpression.startsWith('cron'),
    );
    expect(weekly?.Properties.ScheduleExpression).toBe('cron(0 0 ? * SUN *)');
    expect(weekly?.Properties.ScheduleExpressionTimezone).toBe('Etc/UTC');
    const input = JSON.parse(weekly?.Properties.Target.Input);
    expect(input).toMatchObject({ profile: 'default', provider: 'e2b', budgetUsd: 5 });
    expect(weekly?.Properties.Target.Arn).toEqual({ Ref: expect.stringMatching(/^Pipeline/) });
    template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(1 hour)' });
  });

  it('runs creation units, then pooled units, in two Maps whose concurrency Plan sets, each with a Catch inside the iteration', () => {
    const phases = [
      ['RunUnits', 'creation', 'RunUnit', 'RecordFailure'],
      ['RunPooledUnits', 'pooled', 'RunPooledUnit', 'RecordPooledFailure'],
    ] as const;
    for (const [name, phase, unit, record] of phases) {
      const map = definition.States[name];
      expect(map.Type).toBe('Map');
      expect(map.MaxConcurrencyPath).toBe(`$.plan.concurrency.${phase}`);
      expect(map.MaxConcurrency).toBeUndefined();
      expect(map.ItemsPath).toBe(`$.plan.${phase}Units`);
      expect(map.ItemSelector['pool.$']).toBe(`$.plan.pool.${phase}`);
      const iteration = map.ItemProcessor;
      expect(iteration.StartAt).toBe(unit);
      expect(iteration.States[unit].Catch).toEqual([
        { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: record },
      ]);
      expect(Object.keys(iteration.States).sort()).toEqual([record, unit].sort());
    }
    // Plan caps both at the stack's mapMaxConcurrency.
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ MAP_MAX_CONCURRENCY: '7' }) },
    });
  });

  it('deploys the E2B key secret as the placeholder units refuse, never a random generated value', () => {
    const secret = Object.entries(template.findResources('AWS::SecretsManager::Secret')).find(([id]) =>
      id.startsWith('E2BApiKey'),
    )?.[1] as Json | undefined;
    expect(secret?.Properties.SecretString).toBe(E2B_KEY_PLACEHOLDER);
    expect(secret?.Properties.GenerateSecretString).toBeUndefined();
  });

  it('starts by wrapping the execution input, so any input (null, a list, a number) reaches Plan and its Catch', () => {
    expect(definition.StartAt).toBe('ReadInput');
    expect(definition.States.ReadInput).toMatchObject({
      Type: 'Pass',
      Parameters: { 'input.$': '$$.Execution.Input' },
      Next: 'Plan',
    });
    expect(definition.States.Plan.Parameters.Payload['input.$']).toBe('$.input');
  });

  it('retries transient unit errors with backoff and full jitter', () => {
    const retries = definition.States.RunUnits.ItemProcessor.States.RunUnit.Retry as Json[];
    const unit = retries.find((r) => r.ErrorEquals.includes('SandboxStartError'));
    expect(unit).toMatchObject({ ErrorEquals: ['SandboxStartError', 'TimeoutError'], BackoffRate: 2 });
    expect(unit?.JitterStrategy).toBe('FULL');
    const service = retries.find((r) => r.ErrorEquals.includes('Lambda.TooManyRequestsException'));
    expect(service).toMatchObject({ JitterStrategy: 'FULL', MaxDelaySeconds: 30 });
    expect(service?.ErrorEquals).toContain('Lambda.ServiceException');
  });

  it('routes every run-level failure through DrainPoolAfterFailure to FailRun and a Fail state', () => {
    for (const name of ['RunUnits', 'RunPooledUnits']) {
      expect(definition.States[name].Catch).toEqual([
        { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'DrainPoolAfterFailure' },
      ]);
    }
    for (const name of ['Plan', 'Publish']) {
      expect(definition.States[name].Catch).toEqual([
        { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'FailRun' },
      ]);
    }
    // Draining keeps $.error (its result goes to $.drain) and never stops the way to FailRun.
    expect(definition.States.DrainPoolAfterFailure).toMatchObject({ ResultPath: '$.drain', Next: 'FailRun' });
    expect(definition.States.DrainPoolAfterFailure.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.drainError', Next: 'FailRun' },
    ]);
    expect(definition.States.FailRun.Next).toBe('RunFailed');
    expect(definition.States.RunFailed).toMatchObject({ Type: 'Fail', ErrorPath: '$.error.Error' });
    expect(definition.States.Plan.Next).toBe('RunUnits');
    expect(definition.States.RunUnits.Next).toBe('RunPooledUnits');
    expect(definition.States.RunPooledUnits.Next).toBe('DrainPool');
    expect(definition.States.DrainPool.Next).toBe('Publish');
    expect(definition.States.DrainPool.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.drainError', Next: 'Publish' },
    ]);
    expect(definition.States.Publish.Next).toBe('Done');
  });

  it('is a valid ASL definition whose every Next and Catch target exists', () => {
    // Prepare
    const missing: string[] = [];
    const check = (states: Json) => {
      for (const [name, state] of Object.entries(states)) {
        const targets = [state.Next, state.Default, ...(state.Catch ?? []).map((c: Json) => c.Next)];
        for (const target of targets.filter(Boolean))
          if (!(target in states)) missing.push(`${name} -> ${target}`);
        if (state.ItemProcessor) check(state.ItemProcessor.States);
      }
    };

    // Act
    check(definition.States);
    const construct = () => new StateMachine(definition as never);

    // Assess
    expect(missing).toEqual([]);
    expect(construct).not.toThrow();
    expect(definition.QueryLanguage ?? 'JSONPath').toBe('JSONPath');
  });

  it('declares a standard workflow with logging of all events and tracing', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: false }),
    });
  });

  it('uses Node.js 22 on arm64 for every function, the unit Lambda with its memory and 15 minutes', () => {
    const functions = Object.values(template.findResources('AWS::Lambda::Function')) as Json[];
    expect(functions).toHaveLength(8);
    for (const fn of functions) {
      expect(fn.Properties.Runtime).toBe('nodejs22.x');
      expect(fn.Properties.Architectures).toEqual(['arm64']);
      expect(fn.Properties.LoggingConfig.LogGroup).toBeDefined();
    }
    template.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: UNIT_LAMBDA_MEMORY_MB,
      Timeout: 900,
      Environment: { Variables: Match.objectLike({ UNIT_SAFETY_MARGIN_MS: '60000' }) },
    });
  });

  it('keeps logs for a bounded time', () => {
    const groups = Object.values(template.findResources('AWS::Logs::LogGroup')) as Json[];
    expect(groups).toHaveLength(9);
    for (const group of groups) expect(group.Properties.RetentionInDays).toBe(30);
  });

  it('builds the table from TABLE_SCHEMA: on demand, both indexes, point-in-time recovery', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        Match.objectLike({ IndexName: 'byConfig' }),
        Match.objectLike({ IndexName: 'byStartedAt' }),
      ],
      Replicas: [
        Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }),
      ],
    });
  });

  it('keeps the report bucket private, encrypted, versioned, SSL-only, with old versions expiring', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      VersioningConfiguration: { Status: 'Enabled' },
      BucketEncryption: Match.objectLike({}),
      LifecycleConfiguration: {
        Rules: [Match.objectLike({ NoncurrentVersionExpiration: { NoncurrentDays: 30 }, Status: 'Enabled' })],
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('encrypts the topic, subscribes the e-mails and lets Budgets and CloudWatch publish', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'bench@example.com',
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Principal: { Service: 'budgets.amazonaws.com' }, Action: 'sns:Publish' }),
          Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish' }),
        ]),
      },
    });
    // The E2B key and the report-link signing key.
    template.resourceCountIs('AWS::SecretsManager::Secret', 2);
  });

  it('alerts at 80% and 100% of the monthly budget and on the E2B cost metric', () => {
    const budget = Object.values(template.findResources('AWS::Budgets::Budget'))[0] as Json;
    expect(budget.Properties.Budget).toMatchObject({ BudgetType: 'COST', TimeUnit: 'MONTHLY' });
    const notifications = budget.Properties.NotificationsWithSubscribers as Json[];
    expect(notifications.map((n) => n.Notification.Threshold)).toEqual([80, 100]);
    for (const n of notifications) expect(n.Subscribers[0]).toMatchObject({ SubscriptionType: 'SNS' });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'SwarmBench',
      MetricName: 'EstimatedE2BCostUsd',
      Dimensions: [{ Name: 'service', Value: 'swarm-bench' }],
      Statistic: 'Sum',
      Threshold: 5,
      AlarmActions: [{ Ref: Match.stringLikeRegexp('^Notifications') }],
    });
  });

  it('serves report links from a public function URL that may only read site/, runs/ and the signing key', () => {
    const [url] = Object.values(template.findResources('AWS::Lambda::Url')) as Json[];
    expect(url?.Properties.AuthType).toBe('NONE');
    const [key] = Object.entries(template.findResources('AWS::SecretsManager::Secret')).filter(([id]) =>
      id.startsWith('ReportLinkSigningKey'),
    ) as [string, Json][];
    expect(key?.[1].Properties.GenerateSecretString).toMatchObject({ PasswordLength: 64 });
    const [, policy] = Object.entries(template.findResources('AWS::IAM::Policy')).find(([id]) =>
      id.startsWith('ReportLinkReportLinkRole'),
    ) as [string, Json];
    const actions = (policy.Properties.PolicyDocument.Statement as Json[]).flatMap((s) => [s.Action].flat());
    expect(actions.filter((a: string) => a.startsWith('s3:')).sort()).toEqual([
      's3:GetObject',
      's3:ListBucket',
    ]);
    const text = JSON.stringify(policy.Properties.PolicyDocument);
    expect(text).toContain('/site/*');
    expect(text).toContain('/runs/*');
    expect(text).not.toContain('/store/*');
    const publish = Object.values(template.findResources('AWS::Lambda::Function')).find(
      (f: Json) => f.Properties.Environment?.Variables?.REPORT_LINK_URL,
    ) as Json;
    expect(publish.Properties.Environment.Variables.REPORT_LINK_URL).toEqual({
      'Fn::GetAtt': [expect.stringMatching(/^ReportLinkReportLinkFunctionFunctionUrl/), 'FunctionUrl'],
    });
  });

  it('lets only the unit function read strategy packages, and only read them (strategies/*)', () => {
    const statements = Object.entries(template.findResources('AWS::IAM::Policy')).flatMap(([id, policy]) =>
      (policy.Properties.PolicyDocument.Statement as Json[])
        .filter((statement) => JSON.stringify(statement.Resource).includes('/strategies/*'))
        .map((statement) => ({ id, actions: [statement.Action].flat() })),
    );
    expect(statements).toEqual([{ id: expect.stringMatching(/^UnitRole/), actions: ['s3:GetObject'] }]);
  });

  it("scopes every function policy to this stack's table, bucket, topic, key or secret", () => {
    // Prepare
    const policies = Object.entries(template.findResources('AWS::IAM::Policy')).filter(([id]) =>
      /^(Plan|Unit|RecordFailure|Publish|FailRun|DrainPool|Reaper|ReportLinkReportLink)Role/.test(id),
    );
    const ownResource = /^(Results|Reports|Notifications|TopicKey|E2BApiKey|ReportLinkSigningKey|\w+Logs)/;

    // Act
    const unscoped: string[] = [];
    for (const [id, policy] of policies) {
      for (const statement of policy.Properties.PolicyDocument.Statement as Json[]) {
        for (const resource of [statement.Resource].flat()) {
          const text = JSON.stringify(resource);
          const ref = text.match(/"(?:Ref|Fn::GetAtt)":\s*\[?"([A-Za-z0-9]+)/)?.[1] ?? '';
          if (resource === '*' || !ownResource.test(ref)) unscoped.push(`${id}: ${text}`);
        }
      }
    }

    // Assess
    expect(policies).toHaveLength(8);
    expect(unscoped).toEqual([]);
  });

  it('fails the synth on an unacknowledged cdk-nag finding', () => {
    // Prepare
    const outdir = mkdtempSync(join(tmpdir(), 'swarm-bench-nag-'));
    try {
      const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
      Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
      const stack = new SwarmBenchStack(app, 'Nag', {
        env: { account: '123456789012', region: 'us-east-1' },
      });
      const role = new iam.Role(stack, 'Sloppy', {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      });
      role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] }));

      // Act + Assess
      expect(() => app.synth()).toThrow(/AwsSolutions-IAM5\[Resource::\*\]/);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });

  it('refuses props outside their limits, naming the prop', () => {
    expect(() => resolveProps({ mapMaxConcurrency: 41 })).toThrow(/mapMaxConcurrency/);
    expect(() => resolveProps({ monthlyBudgetUsd: 0 })).toThrow(/monthlyBudgetUsd/);
    expect(() => resolveProps({ reportExpirySeconds: 8 * 24 * 3600 })).toThrow(/reportExpirySeconds/);
    expect(() => resolveProps({ categories: ['nope'] })).toThrow(/category/);
    expect(() => resolveProps({ notificationEmails: ['not-an-email'] })).toThrow(/notificationEmails/);
  });

  it('bundles every handler offline with the local esbuild, the unit with the agent bundle', async () => {
    // Prepare + Act: the same cached cloud assembly the local pipeline runs (bundled once per source
    // hash, so this test and test/integration/pipeline-local.test.ts share one bundling instead of
    // two: on a loaded two-core machine each took minutes).
    const { assemblyDir } = await localBundledStack();

    // Assess
    const assets = readdirSync(assemblyDir).filter((name) => name.startsWith('asset.'));
    const handlers = assets.filter((asset) => existsSync(join(assemblyDir, asset, 'index.mjs')));
    expect(handlers).toHaveLength(8);
    expect(handlers.filter((asset) => existsSync(join(assemblyDir, asset, 'agent.cjs')))).toHaveLength(1);
  });
});
