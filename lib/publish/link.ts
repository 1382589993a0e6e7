/**
 * Report links that live as long as promised. A presigned S3 URL dies with the credentials that
 * signed it (a Lambda role's last hours, not 7 days), so the notification links to the stack's
 * report-link function instead: `<base>/<token>/<object key>`, where the token is an HMAC-SHA256
 * over a key prefix and an expiry, signed with a key only the stack holds. The function checks the
 * token on every request and serves the object (or redirects to a freshly presigned URL).
 *
 * The token covers a prefix, not one object, and sits in the path: a page's relative links
 * (`../../index.html`) resolve under the same token, so one can browse on through the trend site
 * (site/) for the link's whole lifetime, and nowhere outside that prefix.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { InvalidInputError } from '../errors.ts';
import { assertSafeBlobKey } from '../store/blobs.ts';

/** Version tag inside the signed text, so a later format cannot be confused with this one. */
const VERSION = 'v1';
/** Shortest signing key accepted (bytes of text): the stack generates 64. */
export const MIN_LINK_KEY_LENGTH = 32;

/** Why a link is refused (the function answers 403 for each, 404 only for a missing object). */
export type LinkRefusal = 'malformed' | 'bad-signature' | 'expired' | 'out-of-scope';

export class LinkRefusedError extends Error {
  override name = 'LinkRefusedError';
  constructor(
    readonly reason: LinkRefusal,
    message: string,
  ) {
    super(message);
  }
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

function checkKey(key: string): void {
  if (typeof key !== 'string' || key.length < MIN_LINK_KEY_LENGTH) {
    throw new InvalidInputError(
      'link signing key',
      `a string of at least ${MIN_LINK_KEY_LENGTH} characters`,
      '(hidden)',
    );
  }
}

function signature(key: string, scope: string, expiresAt: number): Buffer {
  return createHmac('sha256', key).update(`${VERSION}\n${expiresAt}\n${scope}`).digest();
}

/** The prefix a link to `name` covers: the whole site for a site page, else the object's folder. */
export function linkScopeOf(name: string): string {
  assertSafeBlobKey(name, 'name');
  if (name.startsWith('site/')) return 'site/';
  const slash = name.lastIndexOf('/');
  return slash < 0 ? name : name.slice(0, slash + 1);
}

/** A token granting GET on keys under `scope` until `expiresAt` (Unix seconds). */
export function signLinkToken(key: string, scope: string, expiresAt: number): string {
  checkKey(key);
  if (!Number.isInteger(expiresAt) || expiresAt <= 0) {
    throw new InvalidInputError('expiresAt', 'a positive integer of Unix seconds', expiresAt);
  }
  if (scope === '' || scope.includes('..') || scope.startsWith('/')) {
    throw new InvalidInputError('scope', 'a key prefix inside the bucket', scope);
  }
  return `${expiresAt}.${b64url(scope)}.${b64url(signature(key, scope, expiresAt))}`;
}

/** The scope and expiry of a token, or LinkRefusedError (malformed, bad signature, expired). */
export function verifyLinkToken(
  key: string,
  token: string,
  nowSeconds: number,
): { scope: string; expiresAt: number } {
  checkKey(key);
  const parts = token.split('.');
  if (parts.length !== 3 || !/^[1-9][0-9]{0,11}$/.test(parts[0]!)) {
    throw new LinkRefusedError('malformed', 'the link is not a report link');
  }
  const expiresAt = Number(parts[0]);
  const scope = Buffer.from(parts[1]!, 'base64url').toString('utf8');
  const given = Buffer.from(parts[2]!, 'base64url');
  const expected = signature(key, scope, expiresAt);
  // Constant time, and only over equal lengths (timingSafeEqual throws otherwise).
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new LinkRefusedError('bad-signature', 'the link was altered or signed by another stack');
  }
  if (nowSeconds >= expiresAt) {
    throw new LinkRefusedError('expired', `the link expired at ${new Date(expiresAt * 1000).toISOString()}`);
  }
  return { scope, expiresAt };
}

/** The URL of object `name` under the link function's base URL, valid for `lifetimeSeconds`. */
export function reportLink(options: {
  baseUrl: string;
  key: string;
  name: string;
  nowSeconds: number;
  lifetimeSeconds: number;
}): string {
  const scope = linkScopeOf(options.name);
  const token = signLinkToken(options.key, scope, Math.floor(options.nowSeconds) + options.lifetimeSeconds);
  const base = options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`;
  return `${base}${token}/${options.name.split('/').map(encodeURIComponent).join('/')}`;
}

/**
 * The object key a request path asks for, once its token is checked: `/<token>/<key>`; a path
 * ending in `/` asks for its index.html. Throws LinkRefusedError.
 */
export function resolveLinkPath(key: string, path: string, nowSeconds: number): string {
  const match = /^\/([^/]+)\/(.+)$/.exec(path);
  if (!match) throw new LinkRefusedError('malformed', 'the link has no token and object');
  const { scope } = verifyLinkToken(key, match[1]!, nowSeconds);
  let objectKey: string;
  try {
    objectKey = match[2]!.split('/').map(decodeURIComponent).join('/');
  } catch {
    throw new LinkRefusedError('malformed', 'the link is not valid URL encoding');
  }
  if (objectKey.endsWith('/')) objectKey += 'index.html';
  const inside = scope.endsWith('/') ? objectKey.startsWith(scope) : objectKey === scope;
  if (!inside || objectKey.split('/').some((part) => part === '..' || part === '.' || part === '')) {
    throw new LinkRefusedError('out-of-scope', 'the link does not cover that object');
  }
  return objectKey;
}

/** The parts of a Lambda function URL request (payload format 2.0) the link function reads. */
export interface LinkRequest {
  rawPath?: string;
  requestContext?: { http?: { method?: string } };
}

/** A Lambda function URL response. */
export interface LinkResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  isBase64Encoded: boolean;
}

/** What the link function needs from outside: the signing key, the bucket, a clock. */
export interface LinkServerDeps {
  key: () => Promise<string>;
  /** The object's bytes and type, or undefined when it does not exist. */
  getObject: (key: string) => Promise<{ body: Uint8Array; contentType: string } | undefined>;
  /** The object's size in bytes, or undefined when it does not exist. */
  sizeOf: (key: string) => Promise<number | undefined>;
  /** A short-lived presigned GET URL (objects too large to return through the function). */
  presign: (key: string) => Promise<string>;
  nowSeconds: () => number;
}

/**
 * Largest object served in the response itself: a function URL response is at most 6 MB and the
 * body goes base64 (4/3). Larger objects get a redirect to a presigned URL minutes long.
 */
export const INLINE_LIMIT_BYTES = 4 * 1024 * 1024;

/**
 * Headers of every answer: nothing cached by shared caches, no referrer (the token is in the
 * path), no scripts (the site has none) and no framing.
 */
const SECURITY_HEADERS = {
  'cache-control': 'private, max-age=300',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'content-security-policy': "script-src 'none'; object-src 'none'; frame-ancestors 'none'",
};

const text = (statusCode: number, message: string): LinkResponse => ({
  statusCode,
  headers: { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8' },
  body: `${message}\n`,
  isBase64Encoded: false,
});

/** Answer one request to the link function: 403 for a refused link, 404, 405, 200 or 302. */
export async function handleLinkRequest(request: LinkRequest, deps: LinkServerDeps): Promise<LinkResponse> {
  const method = request.requestContext?.http?.method ?? 'GET';
  if (method !== 'GET' && method !== 'HEAD') return text(405, 'only GET and HEAD are served');
  let objectKey: string;
  try {
    objectKey = resolveLinkPath(await deps.key(), request.rawPath ?? '', deps.nowSeconds());
  } catch (error) {
    if (error instanceof LinkRefusedError) return text(403, `report link refused: ${error.message}`);
    throw error;
  }
  const size = await deps.sizeOf(objectKey);
  if (size === undefined) return text(404, 'no such report page');
  if (size > INLINE_LIMIT_BYTES) {
    return {
      statusCode: 302,
      headers: { ...SECURITY_HEADERS, 'cache-control': 'no-store', location: await deps.presign(objectKey) },
      body: '',
      isBase64Encoded: false,
    };
  }
  const object = await deps.getObject(objectKey);
  if (object === undefined) return text(404, 'no such report page');
  return {
    statusCode: 200,
    headers: { ...SECURITY_HEADERS, 'content-type': object.contentType },
    body: method === 'HEAD' ? '' : Buffer.from(object.body).toString('base64'),
    isBase64Encoded: method !== 'HEAD',
  };
}
