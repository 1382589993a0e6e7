/** Publish step: finish the run, write the report to S3, presign its link, notify, emit run metrics. */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { SNSClient } from '@aws-sdk/client-sns';
import { z } from 'zod';
import { SnsNotifier } from '../lib/notify/sns.ts';
import { parseEvent, publishEventSchema } from '../lib/pipeline/events.ts';
import { publishStep } from '../lib/pipeline/steps.ts';
import { DEFAULT_PRESIGN_SECONDS, MAX_PRESIGN_SECONDS, S3ReportSink } from '../lib/publish/s3.ts';
import { S3BlobStore } from '../lib/store/blobs.ts';
import {
  baseEnvSchema,
  invocation,
  type LambdaContext,
  logger,
  makeAws,
  metrics,
  readEnv,
} from './shared/runtime.ts';

const env = readEnv(
  baseEnvSchema.extend({
    TOPIC_ARN: z.string().startsWith('arn:'),
    REPORT_EXPIRY_SECONDS: z.coerce
      .number()
      .int()
      .min(1)
      .max(MAX_PRESIGN_SECONDS)
      .default(DEFAULT_PRESIGN_SECONDS),
  }),
);
const { s3, store } = makeAws(env);
const sink = new S3ReportSink({ client: s3, bucket: env.BUCKET });
// The trend site lives beside the reports, under site/ (lib/site); its manifest makes it incremental.
const SITE_PREFIX = 'site/';
const site = {
  sink: new S3BlobStore({ client: s3, bucket: env.BUCKET, prefix: SITE_PREFIX }),
  prefix: SITE_PREFIX,
};
const notifier = new SnsNotifier({
  client: new SNSClient({ region: env.AWS_REGION }),
  topicArn: env.TOPIC_ARN,
});

export const handler = (event: unknown, context: LambdaContext) =>
  invocation(context, 'publish', async (appendKeys) => {
    const { runId } = parseEvent(publishEventSchema, event, 'Publish');
    appendKeys({ runId });
    const output = await publishStep(
      { runId },
      {
        store,
        sink,
        presign: (name) => sink.presign(name, env.REPORT_EXPIRY_SECONDS),
        notifier,
        now: () => new Date(),
        site,
      },
    );
    logger.info('published', { status: output.status, units: output.units, targets: output.targets });
    // Once per run, so the daily Sum the cost alarm watches counts each run once.
    if (output.notified) {
      metrics.addMetric('EstimatedE2BCostUsd', MetricUnit.NoUnit, output.e2bCostUsd);
      metrics.addMetric('TargetsPassed', MetricUnit.Count, output.targets.pass);
      metrics.addMetric('TargetsFailed', MetricUnit.Count, output.targets.fail);
      metrics.addMetric('TargetsInconclusive', MetricUnit.Count, output.targets.inconclusive);
      metrics.addMetric('RunUnitsFailed', MetricUnit.Count, output.units.failed);
    }
    return output;
  });
