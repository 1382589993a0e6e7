/**
 * The weekly serverless pipeline as one CDK stack, assembled from one construct per concern
 * (infra/constructs/): Storage (table, bucket), Alerts (topic, budget, cost alarm), Workflow (the
 * state machine, its functions, the E2B key), Schedules (weekly run, reaper). Everything a user
 * tunes is a prop with a documented default.
 */
import {
  type CfnElement,
  CfnOutput,
  type aws_dynamodb as dynamodb,
  aws_iam as iam,
  aws_logs as logs,
  type aws_lambda_nodejs as nodejs,
  RemovalPolicy,
  Stack,
  type StackProps,
  type aws_s3 as s3,
  type aws_secretsmanager as secretsmanager,
  type aws_stepfunctions as sfn,
  type aws_sns as sns,
  Tags,
  Validations,
} from 'aws-cdk-lib';
import type { Construct, IConstruct } from 'constructs';
import { CATEGORIES, type ProfileName } from '../lib/bench/model.ts';
import { MAX_MAP_CONCURRENCY } from '../lib/bench/plan.ts';
import { parseRunConfig } from '../lib/config.ts';
import { InvalidInputError } from '../lib/errors.ts';
import { STATE_NAMES } from '../lib/pipeline/events.ts';
import { DEFAULT_PRESIGN_SECONDS, parseExpirySeconds } from '../lib/publish/s3.ts';
import { E2B_DEFAULT_TEMPLATE } from '../lib/sandbox/e2b.ts';
import { Alerts, E2B_COST_METRIC, METRICS_NAMESPACE, METRICS_SERVICE } from './constructs/alerts.ts';
import { ReportLink } from './constructs/report-link.ts';
import { Schedules } from './constructs/schedules.ts';
import { Storage } from './constructs/storage.ts';
import { LAMBDA_RETRY_ERRORS, PIPELINE_TIMEOUT, UNIT_RETRY_ERRORS, Workflow } from './constructs/workflow.ts';

export {
  E2B_COST_METRIC,
  LAMBDA_RETRY_ERRORS,
  MAX_MAP_CONCURRENCY,
  METRICS_NAMESPACE,
  METRICS_SERVICE,
  STATE_NAMES,
  UNIT_RETRY_ERRORS,
};

/** Weekly, Sunday 00:00. */
export const DEFAULT_SCHEDULE = 'cron(0 0 ? * SUN *)';

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

/** Ids of the concern constructs left out of logical ids (see allocateLogicalId). */
const FLATTENED_CONSTRUCTS = new Set(['Storage', 'Alerts', 'Workflow', 'Schedules']);
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

    const storage = new Storage(this, 'Storage', {
      removalPolicy: settings.removalPolicy,
      reportRetentionDays: settings.reportRetentionDays,
    });
    this.table = storage.table;
    this.bucket = storage.bucket;
    const alerts = new Alerts(this, 'Alerts', {
      notificationEmails: settings.notificationEmails,
      monthlyBudgetUsd: settings.monthlyBudgetUsd,
      dailyE2BCostUsd: settings.runBudgetUsd,
      removalPolicy: settings.removalPolicy,
    });
    this.topic = alerts.topic;
    const reportLink = new ReportLink(this, 'ReportLink', {
      storage,
      logRetention: settings.logRetention,
    });
    const workflow = new Workflow(this, 'Workflow', {
      storage,
      reportLink,
      topic: this.topic,
      mapMaxConcurrency: settings.mapMaxConcurrency,
      e2bTemplateHasBundle: settings.e2bTemplateHasBundle,
      reportExpirySeconds: settings.reportExpirySeconds,
      gitCommit: settings.gitCommit,
      logRetention: settings.logRetention,
      removalPolicy: settings.removalPolicy,
    });
    this.stateMachine = workflow.stateMachine;

    this.scheduleInput = {
      profile: settings.profile,
      provider: 'e2b',
      categories: settings.categories,
      template: settings.e2bTemplate,
      budgetUsd: settings.runBudgetUsd,
    };
    const schedules = new Schedules(this, 'Schedules', {
      stateMachine: this.stateMachine,
      runInput: this.scheduleInput,
      scheduleExpression: settings.scheduleExpression,
      scheduleTimeZone: settings.scheduleTimeZone,
      reaperSchedule: settings.reaperSchedule,
      sandboxMaxAgeMinutes: settings.sandboxMaxAgeMinutes,
      e2bSecret: workflow.e2bSecret,
      table: this.table,
      pipelineTimeout: PIPELINE_TIMEOUT,
      commonEnv: workflow.commonEnv,
      logRetention: settings.logRetention,
    });

    new CfnOutput(this, 'StateMachineArn', { value: this.stateMachine.stateMachineArn });
    new CfnOutput(this, 'ReportBucket', { value: this.bucket.bucketName });
    new CfnOutput(this, 'E2BSecretArn', { value: workflow.e2bSecret.secretArn });
    new CfnOutput(this, 'ReportLinkUrl', {
      description: 'Base URL of the signed report links in the notifications',
      value: reportLink.url,
    });
    new CfnOutput(this, 'ScheduledInput', {
      description: 'Execution input of the weekly run; any RunConfig works with `swarm-bench start`',
      value: JSON.stringify(this.scheduleInput),
    });

    this.#suppressions(workflow.e2bSecret, reportLink, {
      ...workflow.functions,
      reaperFn: schedules.reaperFn,
      reportLinkFn: reportLink.fn,
    });
  }

  /**
   * Logical ids as if the concern constructs were not in the path: the resources keep the ids they
   * had when the stack was one constructor, so the split replaces nothing on deploy (a new logical
   * id would replace the table and the bucket). By id, not by instance: some ids are resolved
   * while a concern construct is still being built (the scheduler role is named after its target).
   */
  protected override allocateLogicalId(element: CfnElement): string {
    const scopes = element.node.scopes.filter(
      (scope) => !(scope.node.scope === this && FLATTENED_CONSTRUCTS.has(scope.node.id)),
    );
    return super.allocateLogicalId({ node: { scopes }, stack: this } as unknown as CfnElement);
  }

  /** Every acknowledged cdk-nag finding, each with its reason; anything else fails the synth. */
  #suppressions(
    secret: secretsmanager.Secret,
    reportLink: ReportLink,
    fns: Record<string, nodejs.NodejsFunction>,
  ): void {
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
      reportLink.signingKey,
      'AwsSolutions-SMG4',
      'Rotating the link-signing key would end every report link before the lifetime it promised; a leaked key is replaced by redeploying with a new secret.',
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
      if (name !== 'reportLinkFn') {
        iam5(
          role,
          `Resource::<${table}.Arn>/index/*`,
          'Reads or queries the run indexes (byConfig, byStartedAt) of its own table.',
        );
      }
      if (name === 'unitFn' || name === 'publishFn' || name === 'recordFailureFn') {
        iam5(
          role,
          `Resource::<${bucket}.Arn>/store/*`,
          'Samples are objects with run/unit-derived keys under store/.',
        );
      }
      if (name === 'unitFn') {
        iam5(
          role,
          `Resource::<${bucket}.Arn>/strategies/*`,
          'Reads the strategy package an execution input names (strategies/<name>/<sha256>.json), checked by its SHA-256.',
        );
      }
      if (name === 'reportLinkFn') {
        for (const prefix of ['runs', 'site']) {
          iam5(
            role,
            `Resource::<${bucket}.Arn>/${prefix}/*`,
            `Serves report pages under ${prefix}/, and only to holders of a valid signed link.`,
          );
        }
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
      if (fn === fns.reaperFn || fn === fns.reportLinkFn) continue;
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
