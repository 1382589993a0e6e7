/**
 * Signed report links (lib/publish/link.ts): a token covers a key prefix until its expiry; any
 * change to it, an expired one, or a key outside its prefix is refused; the server answers from an
 * in-memory bucket (the S3 calls are the handler's, tested through the bundled function in
 * test/integration/pipeline-local.test.ts).
 */
import { describe, expect, it } from 'vitest';
import {
  handleLinkRequest,
  INLINE_LIMIT_BYTES,
  LinkRefusedError,
  type LinkServerDeps,
  linkScopeOf,
  reportLink,
  resolveLinkPath,
  signLinkToken,
  verifyLinkToken,
} from '../../lib/publish/link.ts';

const KEY = `${'k'.repeat(40)}abcdefghijklmnopqrstuvwx`;
const OTHER_KEY = 'x'.repeat(64);
const NOW = 1_800_000_000;
const WEEK = 7 * 24 * 3600;
const BASE = 'https://abc.lambda-url.us-east-1.on.aws/';

const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    if (error instanceof LinkRefusedError) return error.reason;
    throw error;
  }
  return 'accepted';
};
const pathOf = (url: string) => new URL(url).pathname;

describe('report link tokens', () => {
  const page = 'site/runs/2026-12-01T00-00-00Z-abc/index.html';
  const link = reportLink({ baseUrl: BASE, key: KEY, name: page, nowSeconds: NOW, lifetimeSeconds: WEEK });

  it('covers the whole site for a site page, a run folder otherwise', () => {
    expect(linkScopeOf(page)).toBe('site/');
    expect(linkScopeOf('runs/r1/report.md')).toBe('runs/r1/');
    expect(link.startsWith(BASE)).toBe(true);
  });

  it('opens the page, and pages reached by relative links, until the last second of its lifetime', () => {
    expect(resolveLinkPath(KEY, pathOf(link), NOW)).toBe(page);
    expect(resolveLinkPath(KEY, pathOf(link), NOW + WEEK - 1)).toBe(page);
    // The browser resolves ../../index.html against the page: the token stays in the path.
    const index = new URL('../../index.html', link);
    expect(resolveLinkPath(KEY, index.pathname, NOW + 3600)).toBe('site/index.html');
    expect(resolveLinkPath(KEY, new URL('../../', link).pathname, NOW)).toBe('site/index.html');
  });

  it('is refused once expired', () => {
    expect(refusal(() => resolveLinkPath(KEY, pathOf(link), NOW + WEEK))).toBe('expired');
    expect(refusal(() => resolveLinkPath(KEY, pathOf(link), NOW + 30 * WEEK))).toBe('expired');
  });

  it('is refused when any part of the token is changed, or signed with another key', () => {
    const [, token, ...rest] = pathOf(link).split('/');
    const [exp, scope, sig] = token!.split('.');
    const withToken = (t: string) => `/${t}/${rest.join('/')}`;
    const later = String(Number(exp) + WEEK);
    const widened = Buffer.from('').toString('base64url');
    const flipped = `${sig!.slice(0, -2)}${sig!.endsWith('AA') ? 'BA' : 'AA'}`;
    expect(refusal(() => resolveLinkPath(KEY, withToken(`${later}.${scope}.${sig}`), NOW))).toBe(
      'bad-signature',
    );
    expect(refusal(() => resolveLinkPath(KEY, withToken(`${exp}.${widened}.${sig}`), NOW))).toBe(
      'bad-signature',
    );
    expect(refusal(() => resolveLinkPath(KEY, withToken(`${exp}.${scope}.${flipped}`), NOW))).toBe(
      'bad-signature',
    );
    expect(refusal(() => resolveLinkPath(KEY, withToken(`${exp}.${scope}.`), NOW))).toBe('bad-signature');
    expect(refusal(() => resolveLinkPath(OTHER_KEY, pathOf(link), NOW))).toBe('bad-signature');
    expect(refusal(() => resolveLinkPath(KEY, withToken('garbage'), NOW))).toBe('malformed');
    expect(refusal(() => resolveLinkPath(KEY, '/', NOW))).toBe('malformed');
  });

  it('opens nothing outside its prefix, however the path is spelt', () => {
    const runLink = reportLink({
      baseUrl: BASE,
      key: KEY,
      name: 'runs/r1/report.md',
      nowSeconds: NOW,
      lifetimeSeconds: WEEK,
    });
    const token = pathOf(runLink).split('/')[1];
    expect(resolveLinkPath(KEY, `/${token}/runs/r1/report.html`, NOW)).toBe('runs/r1/report.html');
    for (const path of [
      `/${token}/runs/r2/report.md`,
      `/${token}/store/r1/u1.json`,
      `/${token}/runs/r1/..%2F..%2Fstore/x`,
      `/${token}/runs/r1/%2E%2E/r2/report.md`,
      `/${token}/runs/r1//x`,
    ]) {
      expect(
        refusal(() => resolveLinkPath(KEY, path, NOW)),
        path,
      ).toBe('out-of-scope');
    }
  });

  it('refuses short signing keys and bad expiries when signing', () => {
    expect(() => signLinkToken('short', 'site/', NOW)).toThrow(/signing key/);
    expect(() => signLinkToken(KEY, 'site/', 1.5)).toThrow(/expiresAt/);
    expect(() => verifyLinkToken('short', 'a.b.c', NOW)).toThrow(/signing key/);
  });
});

describe('the link server', () => {
  const objects = new Map<string, { body: Uint8Array; contentType: string }>([
    ['site/index.html', { body: Buffer.from('<!doctype html><p>index'), contentType: 'text/html' }],
    ['site/big.json', { body: new Uint8Array(INLINE_LIMIT_BYTES + 1), contentType: 'application/json' }],
  ]);
  const deps = (now = NOW): LinkServerDeps => ({
    key: async () => KEY,
    nowSeconds: () => now,
    sizeOf: async (key) => objects.get(key)?.body.byteLength,
    getObject: async (key) => objects.get(key),
    presign: async (key) => `https://bucket.s3.amazonaws.com/${key}?X-Amz-Expires=300`,
  });
  const token = pathOf(
    reportLink({ baseUrl: BASE, key: KEY, name: 'site/index.html', nowSeconds: NOW, lifetimeSeconds: 60 }),
  ).split('/')[1];
  const get = (path: string, now = NOW, method = 'GET') =>
    handleLinkRequest({ rawPath: path, requestContext: { http: { method } } }, deps(now));

  it('serves the page with headers that keep the token private, and redirects what is too large to return', async () => {
    const ok = await get(`/${token}/site/index.html`);
    expect(ok.statusCode).toBe(200);
    expect(Buffer.from(ok.body, 'base64').toString()).toBe('<!doctype html><p>index');
    expect(ok.headers).toMatchObject({ 'content-type': 'text/html', 'referrer-policy': 'no-referrer' });
    const big = await get(`/${token}/site/big.json`);
    expect(big.statusCode).toBe(302);
    expect(big.headers.location).toContain('site/big.json');
    expect((await get(`/${token}/site/index.html`, NOW, 'HEAD')).body).toBe('');
  });

  it('answers 403 for a refused link, 404 for a missing page, 405 for other methods', async () => {
    expect((await get(`/${token}/site/index.html`, NOW + 60)).statusCode).toBe(403);
    expect((await get(`/${token}x/site/index.html`)).statusCode).toBe(403);
    expect((await get(`/${token}/runs/r1/report.md`)).statusCode).toBe(403);
    expect((await get(`/${token}/site/missing.html`)).statusCode).toBe(404);
    expect((await get(`/${token}/site/index.html`, NOW, 'POST')).statusCode).toBe(405);
  });
});
