/**
 * The benchmark run: a Step Functions workflow (ReadInput -> Plan -> Map of creation units -> Map
 * of pooled units -> DrainPool -> Publish; a failed unit is recorded, a failed run drains, is
 * recorded and notified) with the six Lambda steps it invokes, each granted exactly what its step
 * uses, and the E2B API key secret the units read.
 */
import {
  Duration,
  aws_lambda as lambda,
  aws_logs as logs,
  type aws_lambda_nodejs as nodejs,
  RemovalPolicy,
  SecretValue,
  Stack,
  aws_secretsmanager as secretsmanager,
  aws_stepfunctions as sfn,
  type aws_sns as sns,
  aws_stepfunctions_tasks as tasks,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { STEP_LAMBDA_MEMORY_MB, UNIT_LAMBDA_MEMORY_MB } from '../../lib/bench/plan.ts';
import { E2B_KEY_PLACEHOLDER } from '../../lib/pipeline/e2b-key.ts';
import { STATE_NAMES } from '../../lib/pipeline/events.ts';
import { METRICS_NAMESPACE, METRICS_SERVICE } from './alerts.ts';
import { stepFunction } from './function.ts';
import type { ReportLink } from './report-link.ts';
import type { Storage } from './storage.ts';

/** The whole pipeline's time limit; the reaper treats a run still 'running' after it as abandoned. */
export const PIPELINE_TIMEOUT = Duration.hours(6);

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

export interface WorkflowProps {
  /** The table and bucket the steps read and write. */
  storage: Storage;
  /** The topic Publish and FailRun notify. */
  topic: sns.Topic;
  /** Most units running at once in either Map (Plan lowers it per run). */
  mapMaxConcurrency: number;
  /** True when the E2B template has the agent bundle baked in (nothing uploaded per sandbox). */
  e2bTemplateHasBundle: boolean;
  /** Lifetime of the report link Publish puts in the notification, seconds. */
  reportExpirySeconds: number;
  /** The function that serves report links; Publish signs them with its key. */
  reportLink: ReportLink;
  /** Commit recorded with every run. */
  gitCommit: string;
  /** Days the functions' and the state machine's logs are kept. */
  logRetention: logs.RetentionDays;
  /** What happens to the E2B key secret when the stack is deleted. */
  removalPolicy: RemovalPolicy;
}

/** The six steps the workflow invokes. */
export interface WorkflowFunctions {
  planFn: nodejs.NodejsFunction;
  unitFn: nodejs.NodejsFunction;
  recordFailureFn: nodejs.NodejsFunction;
  publishFn: nodejs.NodejsFunction;
  failRunFn: nodejs.NodejsFunction;
  drainPoolFn: nodejs.NodejsFunction;
}

/** The state machine, its functions and the E2B key secret. */
export class Workflow extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly functions: WorkflowFunctions;
  /** The E2B API key; starts as a placeholder the units refuse. */
  readonly e2bSecret: secretsmanager.Secret;
  /** Environment every step shares (table, bucket, stack, commit, Powertools names). */
  readonly commonEnv: Record<string, string>;

  constructor(scope: Construct, id: string, props: WorkflowProps) {
    super(scope, id);
    const { table, bucket } = props.storage;
    // Starts as a fixed placeholder, not a generated random string: the units recognise it and
    // refuse with "set the E2B API key", instead of sending a random key to E2B.
    this.e2bSecret = new secretsmanager.Secret(this, 'E2BApiKey', {
      description: 'E2B API key used by the swarm-bench unit and reaper Lambdas (set it after deploying)',
      secretStringValue: SecretValue.unsafePlainText(E2B_KEY_PLACEHOLDER),
      removalPolicy: props.removalPolicy,
    });
    const e2bSecret = this.e2bSecret;

    this.commonEnv = {
      TABLE_NAME: table.tableName,
      BUCKET: bucket.bucketName,
      STACK_ID: Stack.of(this).stackName,
      GIT_COMMIT: props.gitCommit,
      POWERTOOLS_SERVICE_NAME: METRICS_SERVICE,
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
    };
    const fn = (
      name: string,
      options: { memoryMb: number; timeout: Duration; env?: Record<string, string> },
    ) =>
      stepFunction(this, name, {
        ...options,
        env: { ...this.commonEnv, ...options.env },
        logRetention: props.logRetention,
      });

    const planFn = fn('plan', {
      memoryMb: STEP_LAMBDA_MEMORY_MB,
      timeout: Duration.minutes(1),
      env: { MAP_MAX_CONCURRENCY: String(props.mapMaxConcurrency) },
    });
    const unitFn = fn('unit', {
      memoryMb: UNIT_LAMBDA_MEMORY_MB,
      timeout: Duration.minutes(15),
      env: {
        E2B_SECRET_ARN: e2bSecret.secretArn,
        E2B_TEMPLATE_HAS_BUNDLE: String(props.e2bTemplateHasBundle),
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
      env: {
        TOPIC_ARN: props.topic.topicArn,
        REPORT_EXPIRY_SECONDS: String(props.reportExpirySeconds),
        REPORT_LINK_URL: props.reportLink.url,
        LINK_KEY_SECRET_ARN: props.reportLink.signingKey.secretArn,
      },
    });
    const failRunFn = fn('fail-run', {
      memoryMb: STEP_LAMBDA_MEMORY_MB,
      timeout: Duration.minutes(1),
      env: { TOPIC_ARN: props.topic.topicArn },
    });
    const drainPoolFn = fn('drain-pool', {
      memoryMb: 512,
      timeout: Duration.minutes(2),
      env: { E2B_SECRET_ARN: e2bSecret.secretArn },
    });
    this.functions = { planFn, unitFn, recordFailureFn, publishFn, failRunFn, drainPoolFn };

    // Least privilege: each function gets exactly the grants its step uses.
    for (const f of Object.values(this.functions)) table.grantReadWriteData(f);
    // Samples too large for an item live under store/ (S3BlobStore prefix); reports under runs/ and
    // latest/.
    props.storage.grantObjects(unitFn, ['s3:GetObject', 's3:PutObject'], ['store']);
    // Strategy packages named by the execution input (lib/plugins/package.ts): read-only, unit only.
    props.storage.grantObjects(unitFn, ['s3:GetObject'], ['strategies']);
    // RecordFailure reads a unit's stored result (its large series live under store/) before
    // recording the failure over it.
    props.storage.grantObjects(recordFailureFn, ['s3:GetObject'], ['store']);
    for (const f of [unitFn, recordFailureFn, publishFn]) props.storage.grantList(f);
    // The trend site lives under site/: Publish reads its manifest and writes the pages it changes.
    // (Links are signed tokens served by the report-link function: no read of runs/ or latest/.)
    props.storage.grantObjects(publishFn, ['s3:GetObject'], ['store', 'site']);
    props.storage.grantObjects(publishFn, ['s3:PutObject'], ['runs', 'latest', 'site']);
    e2bSecret.grantRead(unitFn);
    e2bSecret.grantRead(drainPoolFn);
    props.reportLink.grantSign(publishFn);
    props.topic.grantPublish(publishFn);
    props.topic.grantPublish(failRunFn);

    this.stateMachine = this.#stateMachine(props.logRetention);
  }

  #stateMachine(logRetention: logs.RetentionDays): sfn.StateMachine {
    const fns = this.functions;
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
      retention: logRetention,
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
}
