/**
 * The local E2B (lib/e2b-local) with the real, unmodified E2B SDK as its client: the REST API, envd
 * over the Connect protocol, the TLS edge and the plan limits, as the SDK sees them. Each sandbox is
 * a network namespace; every test kills what it starts (asserted after each test), and the file
 * ends with no namespace or link left (asserted after all).
 */

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  AuthenticationError,
  CommandExitError,
  RateLimitError,
  Sandbox,
  SandboxNotFoundError,
} from '@e2b/code-interpreter';
import { describe, expect, it } from 'vitest';
import { sdkOptions, useLocalE2B } from '../helpers/e2b-local.ts';

const run = promisify(execFile);
const METRICS_INTERVAL_MS = 300;
const SESSION_MAX_MS = 60_000;
const TIMEOUT_MS = 30_000;
const local = useLocalE2B({
  metricsIntervalMs: METRICS_INTERVAL_MS,
  limits: { concurrentSandboxes: 3, creationsPerSecond: 50, sessionMaxMs: SESSION_MAX_MS },
});

/** Create sandboxes, run `body`, and kill them whatever happens. */
async function withSandboxes<T>(
  count: number,
  body: (sandboxes: Sandbox[]) => Promise<T>,
  metadata = {},
  timeoutMs = TIMEOUT_MS,
) {
  const sandboxes: Sandbox[] = [];
  try {
    for (let i = 0; i < count; i++) {
      sandboxes.push(
        await Sandbox.create('base', {
          ...sdkOptions(local.get()),
          timeoutMs,
          metadata: { ...metadata, i: String(i) },
        }),
      );
    }
    return await body(sandboxes);
  } finally {
    await Promise.all(sandboxes.map((sandbox) => Sandbox.kill(sandbox.sandboxId, sdkOptions(local.get()))));
  }
}

describe('local E2B REST API', () => {
  it('creates, lists by metadata page by page, describes and kills; a killed sandbox is 404', async () => {
    await withSandboxes(
      3,
      async ([a, b, c]) => {
        // Act
        const paginator = Sandbox.list({
          ...sdkOptions(local.get()),
          query: { metadata: { suite: 'rest' } },
          limit: 2,
        });
        const pages: string[][] = [];
        while (paginator.hasNext) pages.push((await paginator.nextItems()).map((info) => info.sandboxId));
        const filtered = await Sandbox.list({
          ...sdkOptions(local.get()),
          query: { metadata: { i: '1' } },
        }).nextItems();
        const info = await Sandbox.getInfo(a!.sandboxId, sdkOptions(local.get()));
        const killed = await Sandbox.kill(c!.sandboxId, sdkOptions(local.get()));
        const again = await Sandbox.kill(c!.sandboxId, sdkOptions(local.get()));

        // Assess
        expect(pages.map((page) => page.length)).toEqual([2, 1]);
        expect(pages.flat().sort()).toEqual([a!.sandboxId, b!.sandboxId, c!.sandboxId].sort());
        expect(filtered.map((item) => item.sandboxId)).toEqual([b!.sandboxId]);
        expect(info).toMatchObject({
          templateId: 'base',
          metadata: { suite: 'rest', i: '0' },
          cpuCount: 2,
          memoryMB: 512,
        });
        expect(info.endAt.getTime() - info.startedAt.getTime()).toBe(TIMEOUT_MS);
        expect([killed, again]).toEqual([true, false]);
        await expect(Sandbox.getInfo(c!.sandboxId, sdkOptions(local.get()))).rejects.toBeInstanceOf(
          SandboxNotFoundError,
        );
        await expect(c!.getMetrics()).rejects.toBeInstanceOf(SandboxNotFoundError);
      },
      { suite: 'rest' },
    );
  });

  it('answers 401 to a wrong key, 404 to an unknown template, 400 to a timeout above the session maximum', async () => {
    // Act
    const wrongKey = Sandbox.create('base', sdkOptions(local.get(), 'e2b_wrong_key_000000'));
    const unknown = Sandbox.create('no-such-template', sdkOptions(local.get()));
    const tooLong = Sandbox.create('base', { ...sdkOptions(local.get()), timeoutMs: SESSION_MAX_MS + 1_000 });

    // Assess
    await expect(wrongKey).rejects.toBeInstanceOf(AuthenticationError);
    await expect(unknown).rejects.toThrow(/404.*no-such-template/);
    await expect(tooLong).rejects.toThrow(/400.*Timeout cannot be greater/);
  });

  it('refuses a sandbox beyond the concurrency limit with 429 and no Retry-After, which the SDK does not retry', async () => {
    await withSandboxes(3, async () => {
      // Act
      const started = Date.now();
      const fourth = Sandbox.create('base', { ...sdkOptions(local.get()), timeoutMs: TIMEOUT_MS });

      // Assess
      await expect(fourth).rejects.toBeInstanceOf(RateLimitError);
      expect(local.get().stats().concurrencyLimited).toBeGreaterThanOrEqual(1);
      const response = await fetch(`${local.get().apiUrl}/v2/sandboxes`, {
        method: 'POST',
        headers: { 'x-api-key': local.get().apiKey, 'content-type': 'application/json' },
        body: JSON.stringify({ templateID: 'base' }),
      });
      expect(response.status).toBe(429);
      expect(response.headers.get('retry-after')).toBeNull();
      expect(Date.now() - started).toBeLessThan(30_000);
    });
  });

  it('caps setTimeout at start + the session maximum, and ends a sandbox at its timeout', async () => {
    await withSandboxes(2, async ([capped, short]) => {
      // Act
      await capped!.setTimeout(SESSION_MAX_MS * 3);
      const info = await Sandbox.getInfo(capped!.sandboxId, sdkOptions(local.get()));
      await short!.setTimeout(1_000);
      const deadline = Date.now() + 20_000;
      while (local.get().live().includes(short!.sandboxId) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }

      // Assess
      expect(info.endAt.getTime() - info.startedAt.getTime()).toBe(SESSION_MAX_MS);
      expect(local.get().live()).not.toContain(short!.sandboxId);
      await expect(short!.commands.run('true')).rejects.toThrow(/not (found|running)/i);
      expect(local.get().stats().expired).toBe(1);
    });
  });
});

describe('local E2B envd and edge', () => {
  it('writes files, runs commands with streamed output and exit codes, and kills a background command', async () => {
    await withSandboxes(1, async ([sandbox]) => {
      // Prepare
      await sandbox!.files.write(
        '/home/user/hello.js',
        'console.log("out", process.argv[2]); console.error("err")',
      );
      const chunks: string[] = [];

      // Act
      const ok = await sandbox!.commands.run('node hello.js 42', {
        onStdout: (data) => {
          chunks.push(data);
        },
      });
      const failed = await sandbox!.commands.run('echo nope >&2; exit 3').catch((error: unknown) => error);
      const background = await sandbox!.commands.run('sleep 60', { background: true });
      const killed = await background.kill();
      const waited = await background.wait().catch((error: unknown) => error);
      const read = await sandbox!.files.read('/home/user/hello.js');

      // Assess
      expect(ok).toMatchObject({ exitCode: 0, stdout: 'out 42\n', stderr: 'err\n' });
      expect(chunks.join('')).toBe('out 42\n');
      expect(failed).toBeInstanceOf(CommandExitError);
      expect(failed).toMatchObject({ exitCode: 3, stderr: 'nope\n' });
      expect(killed).toBe(true);
      expect(waited).toBeInstanceOf(CommandExitError);
      expect(read).toContain('process.argv[2]');
    });
  });

  it('gives every sandbox its own network: both bind the same port, and each reaches the other only through the TLS edge', async () => {
    await withSandboxes(2, async ([a, b]) => {
      // Prepare: the same server on the same port in both sandboxes, answering its sandbox id.
      const server =
        'require("http").createServer((q, s) => s.end(process.env.E2B_SANDBOX_ID)).listen(8080, "0.0.0.0", () => console.log("up"))';
      for (const sandbox of [a!, b!]) {
        await sandbox.files.write('/home/user/server.js', server);
        const ready = new Promise<void>((resolve) => {
          void sandbox.commands.run('node server.js', {
            background: true,
            timeoutMs: 0,
            onStdout: () => resolve(),
          });
        });
        await ready;
      }

      // Act: from here through the edge, and from inside a to b through the edge (DNS + TLS).
      const fromHere = await (await fetch(`https://${a!.getHost(8080)}/`)).text();
      const fromA = await a!.commands.run(
        `node -e 'fetch("https://${b!.getHost(8080)}/").then(r => r.text()).then(console.log)'`,
      );
      const direct = await a!.commands.run(
        'node -e \'fetch("http://127.0.0.1:8080/").then(r => r.text()).then(console.log)\'',
      );

      // Assess
      expect(fromHere).toBe(a!.sandboxId);
      expect(fromA.stdout.trim()).toBe(b!.sandboxId);
      expect(direct.stdout.trim()).toBe(a!.sandboxId);
    });
  });

  it("gives ended sandboxes' namespaces to new sandboxes, emptied: none of their processes or files remain", async () => {
    // Prepare: a sandbox that leaves a file and a running process behind when it is killed.
    const e2b = local.get();
    const first = await Sandbox.create('base', { ...sdkOptions(e2b), timeoutMs: TIMEOUT_MS });
    let before: ReturnType<typeof e2b.sandboxNetwork>;
    try {
      before = e2b.sandboxNetwork(first.sandboxId);
      await first.files.write('/home/user/mark', 'first');
      await first.commands.run('sleep 60', { background: true });
    } finally {
      await Sandbox.kill(first.sandboxId, sdkOptions(e2b));
    }
    await e2b.tornDown();
    const reusedBefore = e2b.stats().namespacesReused;

    // Act: the next sandbox takes a namespace an ended sandbox left (the oldest one kept).
    await withSandboxes(1, async ([second]) => {
      const after = e2b.sandboxNetwork(second!.sandboxId);
      const pids = await Promise.all(
        [before!.ns, after!.ns].map(async (ns) => (await run('ip', ['netns', 'pids', ns])).stdout.trim()),
      );
      const mark = await second!.files.read('/home/user/mark').catch((error: unknown) => error);

      // Assess
      expect(e2b.stats().namespacesReused).toBe(reusedBefore + 1);
      expect(pids).toEqual(['', '']);
      expect(mark).toBeInstanceOf(Error);
    });
  });

  it('reports whole-sandbox metrics once per interval, the first one interval after the start', async () => {
    await withSandboxes(1, async ([sandbox]) => {
      // Act
      await sandbox!.commands.run('sleep 30', { background: true });
      // A loaded machine samples late, never early: wait for two samples, however long they take.
      let later = await sandbox!.getMetrics();
      const deadline = Date.now() + 20_000;
      while (later.length < 2 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, METRICS_INTERVAL_MS));
        later = await sandbox!.getMetrics();
      }

      const { startedAt } = await Sandbox.getInfo(sandbox!.sandboxId, sdkOptions(local.get()));

      // Assess: no sample before one interval passed, none closer together than the interval.
      expect(later.length).toBeGreaterThanOrEqual(2);
      const times = later.map((sample) => sample.timestamp.getTime()).sort((a, b) => a - b);
      expect(times[0]! - startedAt.getTime()).toBeGreaterThanOrEqual(METRICS_INTERVAL_MS);
      for (let i = 1; i < times.length; i++)
        expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(METRICS_INTERVAL_MS);
      expect(later.at(-1)!.memUsed).toBeGreaterThan(0);
      expect(later.at(-1)).toMatchObject({ cpuCount: 2, memTotal: 512 * 1024 * 1024 });
    });
  });
});
