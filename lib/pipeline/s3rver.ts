/**
 * s3rver, the local S3 stand-in, started on loopback with one bucket and a client configured for
 * it. A stand-in only: it does not verify signatures, so it proves no security property.
 */
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { S3Client } from '@aws-sdk/client-s3';

interface S3rverServer {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
// s3rver ships no type declarations; this is the part used here.
const S3rver = createRequire(import.meta.url)('s3rver') as new (
  options: Record<string, unknown>,
) => S3rverServer;

/** A running s3rver with `bucket` created; close() stops the server and the client. */
export interface LocalS3 {
  client: S3Client;
  bucket: string;
  endpoint: string;
  close(): Promise<void>;
}

/** Start s3rver on 127.0.0.1 (a free port) storing objects under `directory`. */
export async function startS3rver(options: { directory: string; bucket: string }): Promise<LocalS3> {
  const server = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory: options.directory,
    configureBuckets: [{ name: options.bucket }],
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  // s3rver accepts only these credentials; without WHEN_REQUIRED it stores chunked-upload framing.
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    maxAttempts: 1,
  });
  return {
    client,
    bucket: options.bucket,
    endpoint,
    close: async () => {
      client.destroy();
      await server.close();
    },
  };
}
