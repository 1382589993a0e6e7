/**
 * Where results live: the DynamoDB table of runs, units and samples (lib/store/dynamo.ts's schema)
 * and the S3 bucket of large samples (store/), reports (runs/, latest/) and the trend site (site/).
 */
import {
  Duration,
  aws_dynamodb as dynamodb,
  aws_iam as iam,
  type RemovalPolicy,
  aws_s3 as s3,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { TABLE_SCHEMA } from '../../lib/store/dynamo.ts';

export interface StorageProps {
  /** What happens to the table and bucket when the stack is deleted. */
  removalPolicy: RemovalPolicy;
  /** Days noncurrent (overwritten) object versions are kept. */
  reportRetentionDays: number;
}

/** The table and the bucket. */
export class Storage extends Construct {
  readonly table: dynamodb.TableV2;
  readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: StorageProps) {
    super(scope, id);
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
      removalPolicy: props.removalPolicy,
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
          noncurrentVersionExpiration: Duration.days(props.reportRetentionDays),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      removalPolicy: props.removalPolicy,
    });
  }

  /** Exact object actions on exact prefixes (the bucket's grant helpers would add s3:List*, s3:Abort*). */
  grantObjects(grantee: iam.IGrantable, actions: string[], prefixes: string[]): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions,
        resources: prefixes.map((prefix) => this.bucket.arnForObjects(`${prefix}/*`)),
      }),
    );
  }

  /**
   * s3:ListBucket on the bucket: without it S3 answers a missing key with 403 instead of 404, and
   * the blob store's not-found path never matches. The bucket holds only reports and samples.
   */
  grantList(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }),
    );
  }
}
