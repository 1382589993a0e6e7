/**
 * A ReportSink on one S3 bucket, and presigned GET links to what it stored. Against s3rver (the
 * local stand-in) the client needs `forcePathStyle: true` and
 * `requestChecksumCalculation: 'WHEN_REQUIRED'`.
 */
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { InvalidInputError, StoreError } from '../errors.ts';
import { isTransientError, type RetryOptions, retry } from '../retry.ts';
import { assertSafeBlobKey } from '../store/blobs.ts';
import type { ReportSink } from './types.ts';

/** SigV4 presigned URLs live at most 7 days. */
export const MAX_PRESIGN_SECONDS = 7 * 24 * 60 * 60;
/** Default lifetime of a report link: the week until the next scheduled run. */
export const DEFAULT_PRESIGN_SECONDS = MAX_PRESIGN_SECONDS;

/** Check a presigned-link lifetime: an integer number of seconds in [1, 604800]. */
export function parseExpirySeconds(value: unknown): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_PRESIGN_SECONDS) {
    return value;
  }
  throw new InvalidInputError(
    'reportExpirySeconds',
    `an integer number of seconds from 1 to ${MAX_PRESIGN_SECONDS} (7 days)`,
    value,
  );
}

/**
 * A presigned GET URL for one object. A URL signed with temporary credentials (a Lambda role)
 * stops working when those credentials expire, whatever `expiresInSeconds` says.
 */
export async function presignGet(
  client: S3Client,
  bucket: string,
  key: string,
  expiresInSeconds: number,
): Promise<string> {
  assertSafeBlobKey(key);
  return getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: key }), {
    expiresIn: parseExpirySeconds(expiresInSeconds),
  });
}

/** Stores report artifacts as objects `<prefix><name>` with their content types. */
export class S3ReportSink implements ReportSink {
  readonly bucket: string;
  readonly prefix: string;
  readonly #client: S3Client;
  readonly #retry: RetryOptions;

  constructor(options: { client: S3Client; bucket: string; prefix?: string; retry?: RetryOptions }) {
    if (typeof options.bucket !== 'string' || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(options.bucket)) {
      throw new InvalidInputError('bucket', 'an S3 bucket name', options.bucket);
    }
    const prefix = options.prefix ?? '';
    if (prefix !== '') {
      if (!prefix.endsWith('/')) throw new InvalidInputError('prefix', "empty or ending with '/'", prefix);
      assertSafeBlobKey(prefix.slice(0, -1), 'prefix');
    }
    this.#client = options.client;
    this.bucket = options.bucket;
    this.prefix = prefix;
    this.#retry = { isRetryable: isTransientError, ...options.retry };
  }

  /** The object key a report name maps to. */
  keyOf(name: string): string {
    assertSafeBlobKey(name, 'name');
    return this.prefix + name;
  }

  async put(name: string, body: string, contentType: string): Promise<{ location: string }> {
    const key = this.keyOf(name);
    try {
      await retry(
        () =>
          this.#client.send(
            new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType }),
          ),
        this.#retry,
      );
    } catch (error) {
      throw new StoreError(`could not put report object s3://${this.bucket}/${key}`, { cause: error });
    }
    return { location: `s3://${this.bucket}/${key}` };
  }

  /** A presigned GET URL for a stored report name. */
  presign(name: string, expiresInSeconds: number): Promise<string> {
    return presignGet(this.#client, this.bucket, this.keyOf(name), expiresInSeconds);
  }
}
