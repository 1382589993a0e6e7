/**
 * A real headless browser for site tests and the site bench: Debian's Chromium driven by
 * playwright-core, with a fresh profile, and a static file server on 127.0.0.1 (ephemeral port).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, relative, resolve, sep } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A running browser with its own profile; `close()` ends it and removes the profile. */
export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Launch Chromium; a clear error (never a skip) when it is not installed. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM_PATH}: the site's browser tests need it. ` +
        'Install it with `apt-get update && apt-get install -y chromium` (.ci/run does this).',
    );
  }
  const profile = await mkdtemp(join(tmpdir(), 'swarm-bench-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 900 },
      deviceScaleFactor: 1,
    });
    return {
      context,
      async close() {
        await context.close();
        await rm(profile, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(profile, { recursive: true, force: true });
    throw error;
  }
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.css': 'text/css',
};

/**
 * Serve `root` read-only on 127.0.0.1; `url` ends with '/'. With `prefix` ('a/b/'), the files are
 * served only under it, as objects (no directory index), and anything outside it is refused (403):
 * the shape of a link scoped to one key prefix, with its token in the path.
 */
export async function serveDirectory(
  root: string,
  options: { prefix?: string } = {},
): Promise<{ url: string; close(): Promise<void> }> {
  const base = resolve(root);
  const prefix = `/${options.prefix ?? ''}`;
  const server: Server = createServer((request, response) => {
    void (async () => {
      const full = decodeURIComponent(new URL(request.url ?? '/', 'http://127.0.0.1').pathname);
      if (!full.startsWith(prefix)) {
        response.writeHead(403).end();
        return;
      }
      const path = `/${full.slice(prefix.length)}`;
      let file = resolve(base, `.${path}`);
      const inside = relative(base, file);
      if (inside.startsWith(`..${sep}`) || inside === '..') {
        response.writeHead(403).end();
        return;
      }
      try {
        if ((await stat(file)).isDirectory()) {
          if (options.prefix !== undefined) throw new Error('no directory index under a prefix');
          file = join(file, 'index.html');
        }
        const body = await readFile(file);
        response.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
        response.end(request.method === 'HEAD' ? undefined : body);
      } catch {
        response.writeHead(404).end();
      }
    })();
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${prefix}`,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
