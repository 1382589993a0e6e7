/**
 * What runs on a clock: the EventBridge Scheduler schedule that starts the benchmark workflow with
 * a fixed RunConfig, and the hourly reaper (its function and schedule) that kills the stack's
 * sandboxes that outlived their maximum age.
 */

import type { aws_dynamodb as dynamodb, aws_lambda_nodejs as nodejs } from 'aws-cdk-lib';
import {
  Duration,
  type aws_logs as logs,
  aws_scheduler as scheduler,
  type aws_secretsmanager as secretsmanager,
  type aws_stepfunctions as sfn,
  TimeZone,
  aws_scheduler_targets as targets,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { stepFunction } from './function.ts';

export interface SchedulesProps {
  /** The workflow the schedule starts. */
  stateMachine: sfn.IStateMachine;
  /** Execution input of every scheduled run (a RunConfig that Plan accepts). */
  runInput: Record<string, unknown>;
  /** EventBridge Scheduler expression of the run, e.g. 'cron(0 0 ? * SUN *)'. */
  scheduleExpression: string;
  /** IANA time zone the run's expression is read in. */
  scheduleTimeZone: string;
  /** Scheduler expression of the reaper, e.g. 'rate(1 hour)'. */
  reaperSchedule: string;
  /** Sandboxes older than this are killed by the reaper, minutes. */
  sandboxMaxAgeMinutes: number;
  /** The E2B API key the reaper lists and kills with. */
  e2bSecret: secretsmanager.ISecret;
  /** The results table: the reaper reads runs and pool ledgers to spare live runs' sandboxes. */
  table: dynamodb.ITableV2;
  /** The workflow's own time limit: a run still 'running' after it is abandoned, its sandboxes reaped. */
  pipelineTimeout: Duration;
  /** Environment every step shares (the workflow's). */
  commonEnv: Record<string, string>;
  /** Days the reaper's logs are kept. */
  logRetention: logs.RetentionDays;
}

/** The weekly run schedule and the reaper. */
export class Schedules extends Construct {
  readonly reaperFn: nodejs.NodejsFunction;

  constructor(scope: Construct, id: string, props: SchedulesProps) {
    super(scope, id);
    this.reaperFn = stepFunction(this, 'reaper', {
      memoryMb: 512,
      timeout: Duration.minutes(2),
      env: {
        ...props.commonEnv,
        E2B_SECRET_ARN: props.e2bSecret.secretArn,
        SANDBOX_MAX_AGE_MS: String(props.sandboxMaxAgeMinutes * 60_000),
        // A run still 'running' past the pipeline's timeout is abandoned; before that its sandboxes are spared.
        RUN_MAX_AGE_MS: String(props.pipelineTimeout.toMilliseconds()),
      },
      logRetention: props.logRetention,
    });
    props.e2bSecret.grantRead(this.reaperFn);
    // It reads runs and pool ledgers to spare the sandboxes live runs hold; it writes nothing.
    props.table.grantReadData(this.reaperFn);

    new scheduler.Schedule(this, 'WeeklyRun', {
      description: 'Starts the swarm-bench benchmark run',
      schedule: scheduler.ScheduleExpression.expression(
        props.scheduleExpression,
        TimeZone.of(props.scheduleTimeZone),
      ),
      target: new targets.StepFunctionsStartExecution(props.stateMachine, {
        input: scheduler.ScheduleTargetInput.fromObject(props.runInput),
        retryAttempts: 2,
      }),
    });
    new scheduler.Schedule(this, 'Reaper', {
      description: 'Kills swarm-bench sandboxes that outlived their maximum age',
      schedule: scheduler.ScheduleExpression.expression(props.reaperSchedule),
      target: new targets.LambdaInvoke(this.reaperFn, { retryAttempts: 0 }),
    });
  }
}
