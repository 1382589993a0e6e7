/**
 * Report-link function (behind a Lambda function URL): checks the signed token of
 * `/<token>/<key>` (lib/publish/link.ts) and serves the report page from the bucket, or redirects
 * to a presigned URL minutes long for an object too large to return.
 */
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { z } from 'zod';
import { handleLinkRequest, type LinkRequest } from '../lib/publish/link.ts';
import { cachedSecret, readEnv } from './shared/runtime.ts';

const env = readEnv(
  z.object({
    BUCKET: z.string().min(3),
    LINK_KEY_SECRET_ARN: z.string().startsWith('arn:'),
    AWS_REGION: z.string().min(1),
  }),
);
const s3 = new S3Client({ region: env.AWS_REGION });
const secrets = new SecretsManagerClient({ region: env.AWS_REGION });
/** A redirect's presigned URL only has to outlive the browser following it. */
const REDIRECT_SECONDS = 300;

const key = cachedSecret(secrets, env.LINK_KEY_SECRET_ARN);

/** A missing page: 404 (the function has s3:ListBucket); a 403 is answered the same way, revealing nothing. */
const missing = (error: unknown) =>
  ['NotFound', 'NoSuchKey', 'AccessDenied', 'Forbidden'].includes((error as Error).name) ||
  [403, 404].includes((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 0);

export const handler = (event: LinkRequest) =>
  handleLinkRequest(event, {
    key,
    nowSeconds: () => Date.now() / 1000,
    sizeOf: async (name) => {
      try {
        const head = await s3.send(new HeadObjectCommand({ Bucket: env.BUCKET, Key: name }));
        return head.ContentLength ?? 0;
      } catch (error) {
        if (missing(error)) return undefined;
        throw error;
      }
    },
    getObject: async (name) => {
      try {
        const got = await s3.send(new GetObjectCommand({ Bucket: env.BUCKET, Key: name }));
        return {
          body: (await got.Body?.transformToByteArray()) ?? new Uint8Array(),
          contentType: got.ContentType ?? 'application/octet-stream',
        };
      } catch (error) {
        if (missing(error)) return undefined;
        throw error;
      }
    },
    presign: (name) =>
      getSignedUrl(s3, new GetObjectCommand({ Bucket: env.BUCKET, Key: name }), {
        expiresIn: REDIRECT_SECONDS,
      }),
  });
