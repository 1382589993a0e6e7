/**
 * The weekly serverless pipeline as one CDK stack: a schedule starts a Step Functions workflow
 * (Plan -> Map of units -> Publish; failures recorded, never lost), with its table, bucket, topic,
 * secret, budget and cost alarm. Everything a user tunes is a prop with a documented default.
 */
import { fileURLToPath } from 'node:url';
import {
  aws_budgets as budgets,
  type CfnElement,
  CfnOutput,
  aws_cloudwatch as cloudwatch,
  aws_cloudwatch_actions as cwActions,
  Duration,
  aws_dynamodb as dynamodb,
  aws_iam as iam,
  aws_kms as kms,
  aws_lambda as lambda,
  aws_logs as logs,
  aws_lambda_nodejs as nodejs,
  RemovalPolicy,
  SecretValue,
  Stack,
  type StackProps,
  aws_s3 as s3,
  aws_scheduler as scheduler,
  aws_secretsmanager as secretsmanager,
  aws_stepfunctions as sfn,
  aws_sns as sns,
  aws_sns_subscriptions as subscriptions,
  Tags,
  TimeZone,
  aws_scheduler_targets as targets,
  aws_stepfunctions_tasks as tasks,
  Validations,
} from 'aws-cdk-lib';
import type { Construct, IConstruct } from 'constructs';
import { CATEGORIES, type ProfileName } from '../lib/bench/model.ts';
import { MAX_MAP_CONCURRENCY, STEP_LAMBDA_MEMORY_MB, UNIT_LAMBDA_MEMORY_MB } from '../lib/bench/plan.ts';
import { E2B_KEY_PLACEHOLDER } from '../lib/pipeline/e2b-key.ts';
import { STATE_NAMES } from '../lib/pipeline/events.ts';

export { MAX_MAP_CONCURRENCY, STATE_NAMES };

import { parseRunConfig } from '../lib/config.ts';
import { InvalidInputError } from '../lib/errors.ts';
import { DEFAULT_PRESIGN_SECONDS, parseExpirySeconds } from '../lib/publish/s3.ts';
import { E2B_DEFAULT_TEMPLATE } from '../lib/sandbox/e2b.ts';
import { TABLE_SCHEMA } from '../lib/store/dynamo.ts';

/** The whole pipeline's limit; the reaper treats a run still 'running' after it as abandoned. */
const PIPELINE_TIMEOUT = Duration.hours(6);

/** Weekly, Sunday 00:00. */
export const DEFAULT_SCHEDULE = 'cron(0 0 ? * SUN *)';
/** CloudWatch namespace and service dimension of the EMF metrics the handlers emit. */
export const METRICS_NAMESPACE = 'SwarmBench';
export const METRICS_SERVICE = 'swarm-bench';
/** The metric the cost alarm watches: E2B list price of measured sandbox-seconds, one datapoint per run. */
export const E2B_COST_METRIC = 'EstimatedE2BCostUsd';
/** Error names worth another attempt of a unit (thrown by lib/pipeline's unitStep). */
export const UNIT_RETRY_ERRORS = ['SandboxStartError', 'TimeoutError'];
/** Lambda service errors worth another attempt of any task. */
export const LAMBDA_RETRY_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.ClientExecutionTimeoutException',
];

/** What a user tunes. */
export interface SwarmBenchStackProps extends StackProps {
  /** EventBridge Scheduler expression of the benchmark run. @default 'cron(0 0 ? * SUN *)' */
  scheduleExpression?: string;
  /** IANA time zone of the schedule. @default 'Etc/UTC' */
  scheduleTimeZone?: string;
  /** Categories of the scheduled run (ids or guide titles). @default all six */
  categories?: string[];
  /** Profile of the scheduled run. @default 'default' */
  profile?: ProfileName;
  /** E2B template name or id of the scheduled run. @default 'swarm-bench-agent' */
  e2bTemplate?: string;
  /** True when the template has the agent bundle baked in (nothing uploaded per sandbox). @default true */
  e2bTemplateHasBundle?: boolean;
  /**
   * Most units running at once in either Map; Plan lowers it per run so that concurrent units'
   * sandboxes fit under the run's maxSandboxes and the shared pool. @default 5, at most 40
   */
  mapMaxConcurrency?: number;
  /** Per-run cap on the estimated cost, checked by Plan; also the daily E2B cost alarm threshold. @default 5 */
  runBudgetUsd?: number;
  /** AWS Budgets monthly cost limit (alerts at 80% and 100%). @default 20 */
  monthlyBudgetUsd?: number;
  /** E-mail addresses subscribed to reports, failures and budget alerts. @default none */
  notificationEmails?: string[];
  /** Days old report versions and stored samples are kept. @default 90 */
  reportRetentionDays?: number;
  /** Lifetime of the presigned report link, seconds (at most 7 days). @default 604800 */
  reportExpirySeconds?: number;
  /** What happens to the table, bucket and secret when the stack is deleted. @default RETAIN */
  removalPolicy?: RemovalPolicy;
  /** Days Lambda and state-machine logs are kept. @default ONE_MONTH */
  logRetention?: logs.RetentionDays;
  /** Schedule of the reaper that kills the stack's leftover sandboxes. @default 'rate(1 hour)' */
  reaperSchedule?: string;
  /** Sandboxes older than this are killed by the reaper. @default 30 */
  sandboxMaxAgeMinutes?: number;
  /** Commit recorded with every run. @default 'unknown' */
  gitCommit?: string;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** The swarm-bench pipeline. */
export class SwarmBenchStack extends Stack {
  readonly stateMachine: sfn.StateMachine;
  readonly table: dynamodb.TableV2;
  readonly bucket: s3.Bucket;
  readonly topic: sns.Topic;
  /** The input the schedule starts each execution with (a RunConfig). */
  readonly scheduleInput: Record<string, unknown>;

  constructor(scope: Construct, id: string, props: SwarmBenchStackProps = {}) {
    super(scope, id, props);
    const settings = resolveProps(props);
    Tags.of(this).add('project', 'swarm-bench');

    // --- Storage -------------------------------------------------------------------------------
    const [byConfig, byStartedAt] = TABLE_SCHEMA.globalSecondaryIndexes;
    const attribute = (name: string) => ({ name, type: dynamodb.AttributeType.STRING });
    this.table = new dynamodb.TableV2(this, 'Results', {
      partitionKey: attribute(TABLE_SCHEMA.partitionKey),
      sortKey: attribute(TABLE_SCHEMA.sortKey),
      billing: dynamodb.Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      globalSecondaryIndexes: [byConfig, byStartedAt].map((gsi) => ({
        indexName: gsi.indexName,
        partitionKey: attribute(gsi.partitionKey),
        sortKey: attribute(gsi.sortKey),
        projectionType: dynamodb.ProjectionType.ALL,
      })),
      removalPolicy: settings.removalPolicy,
    });

    this.bucket = new s3.Bucket(this, 'Reports', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [
        {
          id: 'expire-old-report-versions',
          noncurrentVersionExpiration: Duration.days(settings.reportRetentionDays),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      removalPolicy: settings.removalPolicy,
    });

    // --- Notifications -------------------------------------------------------------------------
    const topicKey = new kms.Key(this, 'TopicKey', {
      description: 'Encrypts the swarm-bench notification topic',
      enableKeyRotation: true,
      removalPolicy: settings.removalPolicy,
    });
    this.topic = new sns.Topic(this, 'Notifications', {
      displayName: 'swarm-bench',
      masterKey: topicKey,
      enforceSSL: true,
    });
    // AWS Budgets and CloudWatch alarms publish as services: the topic and its key must let them.
    for (const service of ['budgets.amazonaws.com', 'cloudwatch.amazonaws.com']) {
      const principal = new iam.ServicePrincipal(service);
      this.topic.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: `Allow${service.split('.')[0]}Publish`,
          principals: [principal],
          actions: ['sns:Publish'],
          resources: [this.topic.topicArn],
          conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
        }),
      );
      topicKey.addToResourcePolicy(
        new iam.PolicyStatement({
          principals: [principal],
          actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          resources: ['*'],
          conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
        }),
      );
    }
    for (const email of settings.notificationEmails) {
      this.topic.addSubscription(new subscriptions.EmailSubscription(email));
    }

    // Starts as a fixed placeholder, not a generated random string: the units recognise it and
    // refuse with "set the E2B API key", instead of sending a random key to E2B.
    const e2bSecret = new secretsmanager.Secret(this, 'E2BApiKey', {
      description: 'E2B API key used by the swarm-bench unit and reaper Lambdas (set it after deploying)',
      secretStringValue: SecretValue.unsafePlainText(E2B_KEY_PLACEHOLDER),
      removalPolicy: settings.removalPolicy,
    });

    // --- Functions -----------------------------------------------------------------------------
    const common = {
      TABLE_NAME: this.table.tableName,
      BUCKET: this.bucket.bucketName,
      STACK_ID: this.stackName,
      GIT_COMMIT: settings.gitCommit,
      POWERTOOLS_SERVICE_NAME: METRICS_SERVICE,
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
    };
    const fn = (
      name: string,
      options: { memoryMb: number; timeout: Duration; env?: Record<string, string> },
    ) =>
      this.#function(name, {
        ...options,
        env: { ...common, ...options.env },
        logRetention: settings.logRetention,
      });

    const planFn = fn('plan', {
      memoryMb: STEP_LAMBDA_MEMORY_MB,
      timeout: Duration.minutes(1),
      env: { MAP_MAX_CONCURRENCY: String(settings.mapMaxConcurrency) },
    });
    const unitFn = fn('unit', {
      memoryMb: UNIT_LAMBDA_MEMORY_MB,
      timeout: Duration.minutes(15),
      env: {
        E2B_SECRET_ARN: e2bSecret.secretArn,
        E2B_TEMPLATE_HAS_BUNDLE: String(settings.e2bTemplateHasBundle),
        UNIT_SAFETY_MARGIN_MS: '60000',
      },
    });
    const recordFailureFn = fn('record-failure', {
      memoryMb: STEP_LAMBDA_MEMORY_MB,
      timeout: Duration.minutes(1),
    });
    const publishFn = fn('publish', {
      memoryMb: STEP_LAMBDA_MEMORY_MB,
      timeout: Duration.minutes(5),
      env: { TOPIC_ARN: this.topic.topicArn, REPORT_EXPIRY_SECONDS: String(settings.reportExpirySeconds) },
    });
    const failRunFn = fn('fail-run', {
      memoryMb: STEP_LAMBDA_MEMORY_MB,
      timeout: Duration.minutes(1),
      env: { TOPIC_ARN: this.topic.topicArn },
    });
    const drainPoolFn = fn('drain-pool', {
      memoryMb: 512,
      timeout: Duration.minutes(2),
      env: { E2B_SECRET_ARN: e2bSecret.secretArn },
    });
    const reaperFn = fn('reaper', {
      memoryMb: 512,
      timeout: Duration.minutes(2),
      env: {
        E2B_SECRET_ARN: e2bSecret.secretArn,
        SANDBOX_MAX_AGE_MS: String(settings.sandboxMaxAgeMinutes * 60_000),
        // A run still 'running' past the pipeline's timeout is abandoned; before that its sandboxes are spared.
        RUN_MAX_AGE_MS: String(PIPELINE_TIMEOUT.toMilliseconds()),
      },
    });

    // Least privilege: each function gets exactly the grants its step uses.
    for (const f of [planFn, unitFn, recordFailureFn, publishFn, failRunFn, drainPoolFn]) {
      this.table.grantReadWriteData(f);
    }
    // The reaper reads runs and pool ledgers to spare the sandboxes live runs hold; it writes nothing.
    this.table.grantReadData(reaperFn);
    // Samples too large for an item live under store/ (S3BlobStore prefix); reports under runs/ and
    // latest/. Exact object actions on exact prefixes (the bucket grants would add s3:List*, s3:Abort*).
    const objects = (fn: lambda.IFunction, actions: string[], prefixes: string[]) =>
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions,
          resources: prefixes.map((prefix) => this.bucket.arnForObjects(`${prefix}/*`)),
        }),
      );
    objects(unitFn, ['s3:GetObject', 's3:PutObject'], ['store']);
    // RecordFailure reads a unit's stored result (its large series live under store/) before
    // recording the failure over it.
    objects(recordFailureFn, ['s3:GetObject'], ['store']);
    // Without s3:ListBucket, S3 answers a missing key with 403 instead of 404, and the blob store's
    // not-found path never matches. The bucket holds only reports and samples.
    for (const f of [unitFn, recordFailureFn, publishFn]) {
      f.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }),
      );
    }
    // A presigned link carries the signer's permissions: the publisher must be able to read reports.
    // The trend site lives under site/: Publish reads its manifest and writes the pages it changes.
    objects(publishFn, ['s3:GetObject'], ['store', 'runs', 'latest', 'site']);
    objects(publishFn, ['s3:PutObject'], ['runs', 'latest', 'site']);
    e2bSecret.grantRead(unitFn);
    e2bSecret.grantRead(reaperFn);
    e2bSecret.grantRead(drainPoolFn);
    this.topic.grantPublish(publishFn);
    this.topic.grantPublish(failRunFn);

    // --- State machine -------------------------------------------------------------------------
    this.stateMachine = this.#stateMachine(
      { planFn, unitFn, recordFailureFn, publishFn, failRunFn, drainPoolFn },
      settings,
    );

    // --- Schedules -----------------------------------------------------------------------------
    this.scheduleInput = {
      profile: settings.profile,
      provider: 'e2b',
      categories: settings.categories,
      template: settings.e2bTemplate,
      budgetUsd: settings.runBudgetUsd,
    };
    new scheduler.Schedule(this, 'WeeklyRun', {
      description: 'Starts the swarm-bench benchmark run',
      schedule: scheduler.ScheduleExpression.expression(
        settings.scheduleExpression,
        TimeZone.of(settings.scheduleTimeZone),
      ),
      target: new targets.StepFunctionsStartExecution(this.stateMachine, {
        input: scheduler.ScheduleTargetInput.fromObject(this.scheduleInput),
        retryAttempts: 2,
      }),
    });
    new scheduler.Schedule(this, 'Reaper', {
      description: 'Kills swarm-bench sandboxes that outlived their maximum age',
      schedule: scheduler.ScheduleExpression.expression(settings.reaperSchedule),
      target: new targets.LambdaInvoke(reaperFn, { retryAttempts: 0 }),
    });

    // --- Cost guards ---------------------------------------------------------------------------
    new budgets.CfnBudget(this, 'MonthlyBudget', {
      budget: {
        budgetName: `${this.stackName}-monthly`,
        budgetType: 'COST',
        timeUnit: 'MONTHLY',
        budgetLimit: { amount: settings.monthlyBudgetUsd, unit: 'USD' },
      },
      notificationsWithSubscribers: [80, 100].map((threshold) => ({
        notification: {
          notificationType: 'ACTUAL',
          comparisonOperator: 'GREATER_THAN',
          threshold,
          thresholdType: 'PERCENTAGE',
        },
        subscribers: [{ subscriptionType: 'SNS', address: this.topic.topicArn }],
      })),
    });
    // E2B is billed outside AWS, so Budgets cannot see it: alarm on what the runs measured.
    const e2bCost = new cloudwatch.Alarm(this, 'E2BCostAlarm', {
      alarmDescription: `Estimated E2B cost of one day's runs exceeded the per-run budget ($${settings.runBudgetUsd})`,
      metric: new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: E2B_COST_METRIC,
        dimensionsMap: { service: METRICS_SERVICE },
        statistic: 'Sum',
        period: Duration.days(1),
      }),
      threshold: settings.runBudgetUsd,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    e2bCost.addAlarmAction(new cwActions.SnsAction(this.topic));

    new CfnOutput(this, 'StateMachineArn', { value: this.stateMachine.stateMachineArn });
    new CfnOutput(this, 'ReportBucket', { value: this.bucket.bucketName });
    new CfnOutput(this, 'E2BSecretArn', { value: e2bSecret.secretArn });
    new CfnOutput(this, 'ScheduledInput', {
      description: 'Execution input of the weekly run; any RunConfig works with `swarm-bench start`',
      value: JSON.stringify(this.scheduleInput),
    });

    this.#suppressions(e2bSecret, {
      planFn,
      unitFn,
      recordFailureFn,
      publishFn,
      failRunFn,
      drainPoolFn,
      reaperFn,
    });
  }

  #function(
    name: string,
    options: {
      memoryMb: number;
      timeout: Duration;
      env: Record<string, string>;
      logRetention: logs.RetentionDays;
    },
  ): nodejs.NodejsFunction {
    const id = name.replace(/(^|-)([a-z])/g, (_m, _d, c: string) => c.toUpperCase());
    const logGroup = new logs.LogGroup(this, `${id}Logs`, {
      retention: options.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // An explicit role instead of the managed basic-execution policy: logs only to its own group.
    const role = new iam.Role(this, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `swarm-bench ${name} step`,
    });
    logGroup.grantWrite(role);
    return new nodejs.NodejsFunction(this, `${id}Function`, {
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
        mainFields: ['module', 'main'],
        // Some dependencies still call require(); ESM output needs it defined.
        banner:
          "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
        externalModules: ['@aws-sdk/*'],
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

  #stateMachine(
    fns: Record<
      'planFn' | 'unitFn' | 'recordFailureFn' | 'publishFn' | 'failRunFn' | 'drainPoolFn',
      lambda.IFunction
    >,
    settings: ResolvedProps,
  ): sfn.StateMachine {
    const lambdaRetry = (task: tasks.LambdaInvoke) =>
      task.addRetry({
        errors: LAMBDA_RETRY_ERRORS,
        interval: Duration.seconds(2),
        backoffRate: 2,
        maxAttempts: 4,
        maxDelay: Duration.seconds(30),
        jitterStrategy: sfn.JitterType.FULL,
      });
    // The Task waits as long as its function may run. Step Functions' own default is no limit, but
    // state-machine interpreters differ (aws-local-stepfunctions cuts a Task at 60 s), so say it.
    const taskTimeout = (fn: lambda.IFunction) => {
      const timeout = fn instanceof lambda.Function ? fn.timeout : undefined;
      return timeout === undefined ? {} : { taskTimeout: sfn.Timeout.duration(timeout) };
    };
    const invoke = (
      name: string,
      fn: lambda.IFunction,
      payload: sfn.TaskInput,
      selector: Record<string, string>,
      resultPath?: string,
    ) =>
      lambdaRetry(
        new tasks.LambdaInvoke(this, name, {
          lambdaFunction: fn,
          payload,
          retryOnServiceExceptions: false,
          ...taskTimeout(fn),
          ...(resultPath ? { resultPath } : {}),
          resultSelector: Object.fromEntries(
            Object.entries(selector).map(([key, path]) => [key, sfn.JsonPath.stringAt(path)]),
          ),
        }),
      );

    const failed = new sfn.Fail(this, STATE_NAMES.failed, {
      errorPath: '$.error.Error',
      causePath: '$.error.Cause',
    });
    // FailRun keeps $.error in place for the Fail state's ErrorPath/CausePath.
    const failRun = invoke(
      STATE_NAMES.failRun,
      fns.failRunFn,
      sfn.TaskInput.fromJsonPathAt('$'),
      { status: '$.Payload.status' },
      '$.failRun',
    );
    failRun.addCatch(failed, { resultPath: '$.failRunError' });
    failRun.next(failed);
    // Empty the run's shared sandbox pool; a failure here must not stop the run (the sandboxes end
    // at their lifetime and the reaper sweeps the stack).
    const drain = (name: string, onDone: sfn.IChainable) => {
      const task = invoke(
        name,
        fns.drainPoolFn,
        sfn.TaskInput.fromObject({
          runId: sfn.JsonPath.stringAt('$.plan.runId'),
          // Local sandboxes are drained locally; only E2B runs fetch the key and call E2B.
          provider: sfn.JsonPath.stringAt('$.plan.config.provider'),
        }),
        { killed: '$.Payload.killed' },
        '$.drain',
      );
      task.addCatch(onDone, { resultPath: '$.drainError' });
      task.next(onDone);
      return task;
    };
    // A failed run drains first (when Plan got far enough to name it), keeping $.error for FailRun.
    const onRunError = { resultPath: '$.error' };
    const drainAfterFailure = drain(STATE_NAMES.drainPoolAfterFailure, failRun);

    const plan = new tasks.LambdaInvoke(this, STATE_NAMES.plan, {
      lambdaFunction: fns.planFn,
      ...taskTimeout(fns.planFn),
      payload: sfn.TaskInput.fromObject({
        input: sfn.JsonPath.objectAt('$.input'),
        executionId: sfn.JsonPath.executionId,
        startTime: sfn.JsonPath.executionStartTime,
      }),
      retryOnServiceExceptions: false,
      resultSelector: {
        runId: sfn.JsonPath.stringAt('$.Payload.runId'),
        creationUnits: sfn.JsonPath.listAt('$.Payload.creationUnits'),
        pooledUnits: sfn.JsonPath.listAt('$.Payload.pooledUnits'),
        concurrency: sfn.JsonPath.objectAt('$.Payload.concurrency'),
        pool: sfn.JsonPath.objectAt('$.Payload.pool'),
        config: sfn.JsonPath.objectAt('$.Payload.config'),
      },
      resultPath: '$.plan',
    });
    lambdaRetry(plan).addCatch(failRun, onRunError);

    // One Map per phase; each iteration runs its unit and records a failure instead of failing.
    const unitsMap = (
      names: { map: string; unit: string; recordFailure: string },
      phase: 'creation' | 'pooled',
    ) => {
      const runUnit = invoke(names.unit, fns.unitFn, sfn.TaskInput.fromJsonPathAt('$'), {
        unitId: '$.Payload.unitId',
        status: '$.Payload.status',
      });
      runUnit.addRetry({
        errors: UNIT_RETRY_ERRORS,
        interval: Duration.seconds(10),
        backoffRate: 2,
        maxAttempts: 2,
        maxDelay: Duration.minutes(1),
        jitterStrategy: sfn.JitterType.FULL,
      });
      const recordFailure = invoke(
        names.recordFailure,
        fns.recordFailureFn,
        sfn.TaskInput.fromObject({
          runId: sfn.JsonPath.stringAt('$.runId'),
          unitId: sfn.JsonPath.stringAt('$.unitId'),
          error: sfn.JsonPath.objectAt('$.error'),
        }),
        { unitId: '$.Payload.unitId', status: '$.Payload.status' },
      );
      // The Catch sits inside the iteration: one failed unit is recorded, the others carry on.
      runUnit.addCatch(recordFailure, { errors: ['States.ALL'], resultPath: '$.error' });
      const map = new sfn.Map(this, names.map, {
        itemsPath: `$.plan.${phase}Units`,
        itemSelector: {
          runId: sfn.JsonPath.stringAt('$$.Map.Item.Value.runId'),
          unitId: sfn.JsonPath.stringAt('$$.Map.Item.Value.unitId'),
          config: sfn.JsonPath.objectAt('$.plan.config'),
          pool: sfn.JsonPath.objectAt(`$.plan.pool.${phase}`),
        },
        // Plan sets it: at most the stack's mapMaxConcurrency, and only as many units as the
        // sandbox limit and the pool allow side by side.
        maxConcurrencyPath: `$.plan.concurrency.${phase}`,
        resultPath: sfn.JsonPath.DISCARD,
      });
      map.itemProcessor(runUnit);
      map.addCatch(drainAfterFailure, onRunError);
      return map;
    };
    const creationUnits = unitsMap(
      { map: STATE_NAMES.map, unit: STATE_NAMES.unit, recordFailure: STATE_NAMES.recordFailure },
      'creation',
    );
    const pooledUnits = unitsMap(
      {
        map: STATE_NAMES.pooledMap,
        unit: STATE_NAMES.pooledUnit,
        recordFailure: STATE_NAMES.pooledRecordFailure,
      },
      'pooled',
    );

    const publish = invoke(
      STATE_NAMES.publish,
      fns.publishFn,
      sfn.TaskInput.fromObject({ runId: sfn.JsonPath.stringAt('$.plan.runId') }),
      {
        runId: '$.Payload.runId',
        status: '$.Payload.status',
        reportUrl: '$.Payload.reportUrl',
        summary: '$.Payload.summary',
      },
      '$.report',
    );
    publish.addCatch(failRun, onRunError);
    publish.next(new sfn.Succeed(this, STATE_NAMES.done, { outputPath: '$.report' }));
    // Whatever the execution input is (null, a list, a number), the state is an object from here
    // on, so a Catch can add $.error and FailRun records and notifies the typed error.
    // (The execution input from the context object: `$` on a null input points to no value.)
    const readInput = new sfn.Pass(this, STATE_NAMES.readInput, {
      parameters: { 'input.$': '$$.Execution.Input' },
    });
    const definition = readInput
      .next(plan)
      .next(creationUnits)
      .next(pooledUnits)
      .next(drain(STATE_NAMES.drainPool, publish));

    const logGroup = new logs.LogGroup(this, 'StateMachineLogs', {
      retention: settings.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    return new sfn.StateMachine(this, 'Pipeline', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      timeout: PIPELINE_TIMEOUT,
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      comment:
        'swarm-bench: plan, run creation units then pooled units (failures recorded), drain the pool, publish the report',
    });
  }

  /** Every acknowledged cdk-nag finding, each with its reason; anything else fails the synth. */
  #suppressions(secret: secretsmanager.Secret, fns: Record<string, nodejs.NodejsFunction>): void {
    const ack = (scope: IConstruct, id: string, reason: string) =>
      Validations.of(scope).acknowledge({ id, reason });
    const logicalId = (scope: IConstruct) =>
      this.resolve((scope.node.defaultChild as CfnElement).logicalId) as string;
    const iam5 = (scope: IConstruct, finding: string, reason: string) =>
      ack(scope, `AwsSolutions-IAM5[${finding}]`, reason);
    ack(
      secret,
      'AwsSolutions-SMG4',
      'E2B API keys are issued in the E2B dashboard; there is no API to rotate them.',
    );
    ack(
      this.bucket,
      'AwsSolutions-S1',
      'The bucket holds generated reports written by one Lambda role; CloudTrail data events can audit it if needed.',
    );
    const bucket = logicalId(this.bucket);
    const table = logicalId(this.table);
    for (const [name, fn] of Object.entries(fns)) {
      ack(
        fn,
        'AwsSolutions-L1',
        'Node.js 22 LTS is pinned on purpose: the same major the project builds, tests and runs locally on.',
      );
      const role = fn.role as IConstruct;
      // The reaper only reads (runs and pool ledgers, to spare live runs' sandboxes); the others query too.
      iam5(
        role,
        `Resource::<${table}.Arn>/index/*`,
        'Reads or queries the run indexes (byConfig, byStartedAt) of its own table.',
      );
      if (name === 'unitFn' || name === 'publishFn' || name === 'recordFailureFn') {
        iam5(
          role,
          `Resource::<${bucket}.Arn>/store/*`,
          'Samples are objects with run/unit-derived keys under store/.',
        );
      }
      if (name === 'publishFn') {
        for (const prefix of ['runs', 'latest', 'site']) {
          iam5(role, `Resource::<${bucket}.Arn>/${prefix}/*`, `Report files are objects under ${prefix}/.`);
        }
      }
      if (name === 'publishFn' || name === 'failRunFn') {
        iam5(
          role,
          'Action::kms:GenerateDataKey*',
          'Publishing to the encrypted topic needs a data key; the grant is scoped to the topic key.',
        );
      }
    }
    const machineRole = this.stateMachine.role;
    for (const fn of Object.values(fns)) {
      if (fn === fns.reaperFn) continue;
      iam5(
        machineRole,
        `Resource::<${logicalId(fn)}.Arn>:*`,
        "CDK grants invoke on the function and its versions/aliases; only this stack's functions.",
      );
    }
    iam5(
      machineRole,
      'Resource::*',
      'X-Ray PutTraceSegments and CloudWatch Logs delivery actions do not support resource-level permissions.',
    );
    for (const child of this.node.findAll()) {
      if (child.node.id.startsWith('SchedulerRoleForTarget') && child instanceof iam.Role) {
        iam5(
          child,
          `Resource::<${logicalId(fns.reaperFn!)}.Arn>:*`,
          'The scheduler target grant covers the reaper function and its versions only.',
        );
      }
    }
  }
}

interface ResolvedProps {
  scheduleExpression: string;
  scheduleTimeZone: string;
  categories: string[];
  profile: ProfileName;
  e2bTemplate: string;
  e2bTemplateHasBundle: boolean;
  mapMaxConcurrency: number;
  runBudgetUsd: number;
  monthlyBudgetUsd: number;
  notificationEmails: string[];
  reportRetentionDays: number;
  reportExpirySeconds: number;
  removalPolicy: RemovalPolicy;
  logRetention: logs.RetentionDays;
  reaperSchedule: string;
  sandboxMaxAgeMinutes: number;
  gitCommit: string;
}

/** Defaults applied and every prop checked, so a bad value fails the synth with the prop's name. */
export function resolveProps(props: SwarmBenchStackProps): ResolvedProps {
  const resolved: ResolvedProps = {
    scheduleExpression: props.scheduleExpression ?? DEFAULT_SCHEDULE,
    scheduleTimeZone: props.scheduleTimeZone ?? 'Etc/UTC',
    categories: props.categories ?? CATEGORIES.map((c) => c.id),
    profile: props.profile ?? 'default',
    e2bTemplate: props.e2bTemplate ?? E2B_DEFAULT_TEMPLATE,
    e2bTemplateHasBundle: props.e2bTemplateHasBundle ?? true,
    mapMaxConcurrency: props.mapMaxConcurrency ?? 5,
    runBudgetUsd: props.runBudgetUsd ?? 5,
    monthlyBudgetUsd: props.monthlyBudgetUsd ?? 20,
    notificationEmails: props.notificationEmails ?? [],
    reportRetentionDays: props.reportRetentionDays ?? 90,
    reportExpirySeconds: props.reportExpirySeconds ?? DEFAULT_PRESIGN_SECONDS,
    removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    logRetention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    reaperSchedule: props.reaperSchedule ?? 'rate(1 hour)',
    sandboxMaxAgeMinutes: props.sandboxMaxAgeMinutes ?? 30,
    gitCommit: props.gitCommit ?? 'unknown',
  };
  if (!/^(cron|rate|at)\(.+\)$/.test(resolved.scheduleExpression)) {
    throw new InvalidInputError(
      'scheduleExpression',
      'cron(...), rate(...) or at(...)',
      resolved.scheduleExpression,
    );
  }
  const { mapMaxConcurrency: n } = resolved;
  if (!Number.isInteger(n) || n < 1 || n > MAX_MAP_CONCURRENCY) {
    throw new InvalidInputError('mapMaxConcurrency', `an integer from 1 to ${MAX_MAP_CONCURRENCY}`, n);
  }
  for (const key of ['runBudgetUsd', 'monthlyBudgetUsd'] as const) {
    if (!(Number.isFinite(resolved[key]) && resolved[key] > 0)) {
      throw new InvalidInputError(key, 'a number of dollars greater than 0', resolved[key]);
    }
  }
  for (const key of ['reportRetentionDays', 'sandboxMaxAgeMinutes'] as const) {
    if (!(Number.isInteger(resolved[key]) && resolved[key] >= 1)) {
      throw new InvalidInputError(key, 'an integer >= 1', resolved[key]);
    }
  }
  for (const email of resolved.notificationEmails) {
    if (!EMAIL.test(email)) throw new InvalidInputError('notificationEmails', 'e-mail addresses', email);
  }
  parseExpirySeconds(resolved.reportExpirySeconds);
  // The scheduled input must pass the same validation Plan applies, or every run would fail at Plan.
  parseRunConfig({
    profile: resolved.profile,
    provider: 'e2b',
    categories: resolved.categories,
    template: resolved.e2bTemplate,
    budgetUsd: resolved.runBudgetUsd,
  });
  return resolved;
}
