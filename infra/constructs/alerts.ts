/**
 * Who hears about runs and money: the encrypted SNS topic that carries reports, failures and cost
 * alerts (with its e-mail subscriptions), the monthly AWS Budget, and the alarm on the E2B cost the
 * runs measured (E2B bills outside AWS, so Budgets cannot see it).
 */
import {
  aws_budgets as budgets,
  aws_cloudwatch as cloudwatch,
  aws_cloudwatch_actions as cwActions,
  Duration,
  aws_iam as iam,
  aws_kms as kms,
  type RemovalPolicy,
  Stack,
  aws_sns as sns,
  aws_sns_subscriptions as subscriptions,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';

/** CloudWatch namespace and service dimension of the EMF metrics the handlers emit. */
export const METRICS_NAMESPACE = 'SwarmBench';
export const METRICS_SERVICE = 'swarm-bench';
/** The metric the cost alarm watches: E2B list price of measured sandbox-seconds, one datapoint per run. */
export const E2B_COST_METRIC = 'EstimatedE2BCostUsd';

export interface AlertsProps {
  /** E-mail addresses subscribed to the topic (each confirms by mail). */
  notificationEmails: string[];
  /** AWS Budgets monthly cost limit, USD; alerts at 80% and 100%. */
  monthlyBudgetUsd: number;
  /** Threshold of the daily E2B cost alarm, USD (the per-run budget). */
  dailyE2BCostUsd: number;
  /** What happens to the topic's key when the stack is deleted. */
  removalPolicy: RemovalPolicy;
}

/** The notification topic, the monthly budget and the E2B cost alarm. */
export class Alerts extends Construct {
  readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: AlertsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const topicKey = new kms.Key(this, 'TopicKey', {
      description: 'Encrypts the swarm-bench notification topic',
      enableKeyRotation: true,
      removalPolicy: props.removalPolicy,
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
          conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
        }),
      );
      topicKey.addToResourcePolicy(
        new iam.PolicyStatement({
          principals: [principal],
          actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          resources: ['*'],
          conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
        }),
      );
    }
    for (const email of props.notificationEmails) {
      this.topic.addSubscription(new subscriptions.EmailSubscription(email));
    }

    new budgets.CfnBudget(this, 'MonthlyBudget', {
      budget: {
        budgetName: `${stack.stackName}-monthly`,
        budgetType: 'COST',
        timeUnit: 'MONTHLY',
        budgetLimit: { amount: props.monthlyBudgetUsd, unit: 'USD' },
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
    const e2bCost = new cloudwatch.Alarm(this, 'E2BCostAlarm', {
      alarmDescription: `Estimated E2B cost of one day's runs exceeded the per-run budget ($${props.dailyE2BCostUsd})`,
      metric: new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: E2B_COST_METRIC,
        dimensionsMap: { service: METRICS_SERVICE },
        statistic: 'Sum',
        period: Duration.days(1),
      }),
      threshold: props.dailyE2BCostUsd,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    e2bCost.addAlarmAction(new cwActions.SnsAction(this.topic));
  }
}
