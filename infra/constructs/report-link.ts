/**
 * The report link that lives as long as promised: a small function behind a Lambda function URL
 * that checks an HMAC-signed token (key prefix + expiry, lib/publish/link.ts) and serves the
 * report page from the bucket. The signing key is a secret the stack generates; Publish signs
 * with it, the function verifies with it. Nothing depends on how long the Lambda's temporary
 * credentials live, unlike a presigned S3 URL.
 */
import {
  Duration,
  type aws_iam as iam,
  aws_lambda as lambda,
  type aws_logs as logs,
  type aws_lambda_nodejs as nodejs,
  RemovalPolicy,
  aws_secretsmanager as secretsmanager,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { stepFunction } from './function.ts';
import type { Storage } from './storage.ts';

/** Key prefixes a link may cover: the trend site, and a run's report folder (when the site failed). */
export const LINKED_PREFIXES = ['site', 'runs'];

export interface ReportLinkProps {
  /** The bucket the pages are served from. */
  storage: Storage;
  /** Days the function's logs are kept. */
  logRetention: logs.RetentionDays;
}

/** The link function, its URL and the signing key. */
export class ReportLink extends Construct {
  readonly fn: nodejs.NodejsFunction;
  /** The function URL, `https://<id>.lambda-url.<region>.on.aws/`. */
  readonly url: string;
  /** The HMAC key tokens are signed with (64 generated characters). */
  readonly signingKey: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: ReportLinkProps) {
    super(scope, id);
    // Deleted with the stack: without the function no link works anyway.
    this.signingKey = new secretsmanager.Secret(this, 'SigningKey', {
      description: 'Signs swarm-bench report links (generated; read by Publish and the report-link function)',
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.fn = stepFunction(this, 'report-link', {
      memoryMb: 256,
      timeout: Duration.seconds(15),
      env: {
        BUCKET: props.storage.bucket.bucketName,
        LINK_KEY_SECRET_ARN: this.signingKey.secretArn,
      },
      logRetention: props.logRetention,
    });
    // Reads only what a link may cover; no write. ListBucket only so that S3 answers a missing page
    // with 404, not 403 (the function never lists).
    props.storage.grantObjects(this.fn, ['s3:GetObject'], LINKED_PREFIXES);
    props.storage.grantList(this.fn);
    this.signingKey.grantRead(this.fn);
    // Public by design: the token is the authorization, checked by the function on every request.
    this.url = this.fn.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE }).url;
  }

  /** Let `grantee` read the signing key (to sign links). */
  grantSign(grantee: iam.IGrantable): void {
    this.signingKey.grantRead(grantee);
  }
}
