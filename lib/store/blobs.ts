/**
 * Blob stores: a local directory (embedded store, local runs) and an S3 bucket (AWS). Both accept
 * the same key grammar so a key that works locally works in the cloud and cannot escape its root.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { InvalidInputError, StoreError } from '../errors.ts';
import { isTransientError, type RetryOptions, retry } from '../retry.ts';
import type { BlobStore } from './types.ts';

const MAX_KEY_BYTES = 900;

/**
 * Checks a blob key: relative, '/'-separated, no empty, '.' or '..' segments, no NUL or backslash.
 * Throws InvalidInputError naming `field` otherwise.
 */
export function assertSafeBlobKey(key: unknown, field = 'key'): asserts key is string {
  const allowed =
    "a relative '/'-separated path without '..' or '.' segments, NUL, backslashes or empty segments";
  if (typeof key !== 'string' || key.length === 0) throw new InvalidInputError(field, allowed, key);
  if (key.includes('\0') || key.includes('\\') || key.startsWith('/') || isAbsolute(key)) {
    throw new InvalidInputError(field, allowed, key);
  }
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw new InvalidInputError(field, `at most ${MAX_KEY_BYTES} bytes`, key);
  }
  for (const segment of key.split('/')) {
    if (segment === '' || segment === '.' || segment === '..')
      throw new InvalidInputError(field, allowed, key);
  }
}

/** Blobs as files under one directory; writes are atomic (temp file + rename). */
export class DirBlobStore implements BlobStore {
  /** Absolute root every key resolves inside. */
  readonly dir: string;

  constructor(options: { dir: string }) {
    if (typeof options.dir !== 'string' || options.dir.length === 0) {
      throw new InvalidInputError('dir', 'a directory path', options.dir);
    }
    this.dir = resolve(options.dir);
  }

  async put(key: string, body: string | Uint8Array, _contentType?: string): Promise<void> {
    const path = this.#pathOf(key);
    const tempPath = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(tempPath, body);
      await rename(tempPath, path);
    } catch (error) {
      await rm(tempPath, { force: true }).catch(() => undefined);
      throw new StoreError(`could not write blob ${key} under ${this.dir}: ${messageOf(error)}`, {
        cause: error,
      });
    }
  }

  async get(key: string): Promise<string | undefined> {
    const path = this.#pathOf(key);
    try {
      return await readFile(path, 'utf8');
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ENOENT') return undefined;
      throw new StoreError(`could not read blob ${key} under ${this.dir}: ${messageOf(error)}`, {
        cause: error,
      });
    }
  }

  #pathOf(key: string): string {
    assertSafeBlobKey(key);
    const path = join(this.dir, ...key.split('/'));
    // Belt and braces after the grammar check: the resolved path must stay below the root.
    const rel = relative(this.dir, path);
    if (rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) {
      throw new InvalidInputError('key', 'a path inside the blob directory', key);
    }
    return path;
  }
}

/**
 * Blobs as objects in one S3 bucket under a prefix. Against s3rver (the local stand-in) the
 * caller's S3Client needs `forcePathStyle: true` and `requestChecksumCalculation: 'WHEN_REQUIRED'`,
 * or s3rver stores the SDK's chunked-upload framing inside the object.
 */
export class S3BlobStore implements BlobStore {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #retry: RetryOptions;

  constructor(options: { client: S3Client; bucket: string; prefix?: string; retry?: RetryOptions }) {
    if (typeof options.bucket !== 'string' || options.bucket.length === 0) {
      throw new InvalidInputError('bucket', 'a bucket name', options.bucket);
    }
    const prefix = options.prefix ?? '';
    if (prefix !== '') {
      if (!prefix.endsWith('/')) throw new InvalidInputError('prefix', "empty or ending with '/'", prefix);
      assertSafeBlobKey(prefix.slice(0, -1), 'prefix');
    }
    this.#client = options.client;
    this.#bucket = options.bucket;
    this.#prefix = prefix;
    this.#retry = { isRetryable: isTransientError, ...options.retry };
  }

  async put(key: string, body: string | Uint8Array, contentType?: string): Promise<void> {
    assertSafeBlobKey(key);
    const objectKey = this.#prefix + key;
    try {
      await retry(
        () =>
          this.#client.send(
            new PutObjectCommand({
              Bucket: this.#bucket,
              Key: objectKey,
              Body: body,
              ContentType: contentType ?? 'application/octet-stream',
            }),
          ),
        this.#retry,
      );
    } catch (error) {
      throw new StoreError(`could not put s3://${this.#bucket}/${objectKey}: ${messageOf(error)}`, {
        cause: error,
      });
    }
  }

  async get(key: string): Promise<string | undefined> {
    assertSafeBlobKey(key);
    const objectKey = this.#prefix + key;
    try {
      return await retry(async () => {
        try {
          const output = await this.#client.send(
            new GetObjectCommand({ Bucket: this.#bucket, Key: objectKey }),
          );
          return output.Body === undefined ? '' : await output.Body.transformToString('utf-8');
        } catch (error) {
          if (isNotFound(error)) return undefined;
          throw error;
        }
      }, this.#retry);
    } catch (error) {
      throw new StoreError(`could not get s3://${this.#bucket}/${objectKey}: ${messageOf(error)}`, {
        cause: error,
      });
    }
  }
}

function isNotFound(error: unknown): boolean {
  const e = error as { name?: unknown; $metadata?: { httpStatusCode?: unknown } } | null;
  if (e?.name === 'NoSuchKey') return true;
  // A missing bucket is also a 404, but it is a misconfiguration, not an absent blob.
  return e?.name !== 'NoSuchBucket' && e?.$metadata?.httpStatusCode === 404;
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 300);
  return String(error).slice(0, 300);
}
