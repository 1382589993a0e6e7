/**
 * E2B cannot be reached from here (no network), so these tests fake exactly one boundary: the SDK's
 * Sandbox class, behind the E2BSdk interface. The fake records every call and behaves like the SDK
 * as its type declarations describe it; everything above that boundary is the real provider.
 */
import { createHash } from 'node:crypto';
import {
  AuthenticationError,
  RateLimitError,
  SandboxError,
  SandboxNotFoundError,
} from '@e2b/code-interpreter';
import { describe, expect, it } from 'vitest';
import { AGENT_PROTOCOL_VERSION, E2B_AGENT_BASE_PORT } from '../../lib/agent/launch.ts';
import { parseRunConfig } from '../../lib/config.ts';
import { InvalidInputError, ProviderUnavailableError, SandboxStartError } from '../../lib/errors.ts';
import {
  E2B_AGENT_PATH,
  type E2BCommandHandle,
  type E2BSandboxInstance,
  E2BSandboxProvider,
  type E2BSandboxProviderOptions,
  type E2BSandboxSummary,
  type E2BSdk,
  killStaleSandboxes,
} from '../../lib/sandbox/e2b.ts';
import { CreationWindow, E2B_PLANS } from '../../lib/sandbox/e2b-plans.ts';
import { type E2BRunDeps, e2bRunOptions } from '../../lib/sandbox/e2b-run.ts';

const API_KEY = 'e2b_live_0123456789abcdef';
const BUNDLE = 'console.log("agent")';
const BUNDLE_SHA256 = createHash('sha256').update(BUNDLE).digest('hex');

type Call = { method: string; args: unknown[] };

interface FakeOptions {
  createError?: Error;
  /** Errors thrown by the first creates, one each, before creates succeed. */
  createFailures?: Error[];
  /** What each started agent prints on stdout. */
  agentOutput?: (envs: Record<string, string>) => string[];
  listed?: E2BSandboxSummary[];
  /** E2B's rate limit: false answers the create with 429. */
  admit?: () => boolean;
  metrics?: Array<{ timestamp: Date; cpuUsedPct: number; memUsed: number }>;
}

class FakeSdk implements E2BSdk {
  readonly calls: Call[] = [];
  readonly sandboxes: FakeSandbox[] = [];
  constructor(readonly options: FakeOptions = {}) {}

  async create(
    template: string,
    opts: { apiKey: string; timeoutMs: number; metadata: Record<string, string> },
  ) {
    this.calls.push({ method: 'create', args: [template, opts] });
    if (this.options.createError) throw this.options.createError;
    const failure = this.options.createFailures?.shift();
    if (failure) throw failure;
    if (this.options.admit?.() === false) throw new RateLimitError('429: rate limit exceeded');
    const sandbox = new FakeSandbox(`sbx-${this.sandboxes.length + 1}`, this);
    this.sandboxes.push(sandbox);
    return sandbox;
  }

  list(opts: { apiKey: string; query: { metadata: Record<string, string> } }) {
    this.calls.push({ method: 'list', args: [opts] });
    const pages = [(this.options.listed ?? []).slice(0, 2), (this.options.listed ?? []).slice(2)];
    return {
      get hasNext() {
        return pages.length > 0;
      },
      nextItems: async () => pages.shift() ?? [],
    };
  }

  async kill(sandboxId: string, opts: { apiKey: string }) {
    this.calls.push({ method: 'kill', args: [sandboxId, opts] });
    return true;
  }

  async connect(sandboxId: string, opts: { apiKey: string; timeoutMs: number }) {
    this.calls.push({ method: 'connect', args: [sandboxId, opts] });
    const sandbox = this.sandboxes.find((candidate) => candidate.sandboxId === sandboxId);
    if (sandbox === undefined || sandbox.killed)
      throw new SandboxNotFoundError(`sandbox ${sandboxId} not found`);
    return sandbox;
  }
}

class FakeSandbox implements E2BSandboxInstance {
  killed = false;
  readonly files;
  readonly commands;
  constructor(
    readonly sandboxId: string,
    readonly sdk: FakeSdk,
  ) {
    this.files = {
      write: async (path: string, data: string) => {
        sdk.calls.push({ method: 'files.write', args: [sandboxId, path, data] });
        return { path };
      },
    };
    this.commands = {
      run: async (
        cmd: string,
        opts: { background: true; envs?: Record<string, string>; onStdout?: (data: string) => void },
      ): Promise<E2BCommandHandle> => {
        sdk.calls.push({ method: 'commands.run', args: [sandboxId, cmd, opts] });
        const envs = opts.envs ?? {};
        const lines = sdk.options.agentOutput?.(envs) ?? [
          'booting\n',
          // Split across chunks, as a real stream may deliver it.
          `{"event":"ready","agentId":"${envs.SWARM_AGENT_ID}",`,
          `"port":${envs.SWARM_AGENT_PORT},"pid":42,"protocol":${AGENT_PROTOCOL_VERSION},"bundleSha256":"${BUNDLE_SHA256}"}\n`,
        ];
        setImmediate(() => {
          for (const line of lines) opts.onStdout?.(line);
        });
        return {
          pid: 42,
          sendStdin: async (data: string) => {
            sdk.calls.push({ method: 'command.sendStdin', args: [sandboxId, data] });
          },
          wait: () => new Promise(() => undefined),
          kill: async () => {
            sdk.calls.push({ method: 'command.kill', args: [sandboxId] });
            return true;
          },
        };
      },
    };
  }

  getHost(port: number) {
    return `${port}-${this.sandboxId}.e2b.app`;
  }

  async getMetrics() {
    this.sdk.calls.push({ method: 'getMetrics', args: [this.sandboxId] });
    return this.sdk.options.metrics ?? [];
  }

  async kill() {
    this.sdk.calls.push({ method: 'sandbox.kill', args: [this.sandboxId] });
    const wasAlive = !this.killed;
    this.killed = true;
    return wasAlive;
  }

  async setTimeout(timeoutMs: number) {
    this.sdk.calls.push({ method: 'sandbox.setTimeout', args: [this.sandboxId, timeoutMs] });
  }
}

function makeProvider(sdk: FakeSdk, options: Partial<E2BSandboxProviderOptions> = {}) {
  let now = Date.UTC(2026, 11, 1);
  return new E2BSandboxProvider({
    apiKey: API_KEY,
    bundle: BUNDLE,
    sdk,
    // Pacing and 429 backoff wait through this: no test sleeps for real, time moves by the waits.
    clock: () => now,
    sleep: async (ms) => {
      now += ms;
    },
    metadata: { stack: 'swarm-bench-test' },
    startTimeoutMs: 1000,
    metricsWaitMs: 0,
    ...options,
  });
}

const callsOf = (sdk: FakeSdk, method: string) => sdk.calls.filter((call) => call.method === method);

describe('E2BSandboxProvider.create', () => {
  it('passes template, timeout and merged metadata, and uploads the bundle when the template lacks it', async () => {
    // Prepare
    const sdk = new FakeSdk();
    const provider = makeProvider(sdk, { template: 'my-template' });

    // Act
    const sandbox = await provider.create({ timeoutMs: 120_000, metadata: { run: 'r1', swarm: 's1' } });

    // Assess
    expect(callsOf(sdk, 'create')).toEqual([
      {
        method: 'create',
        args: [
          'my-template',
          {
            apiKey: API_KEY,
            timeoutMs: 120_000,
            metadata: { stack: 'swarm-bench-test', run: 'r1', swarm: 's1' },
          },
        ],
      },
    ]);
    expect(callsOf(sdk, 'files.write')).toEqual([
      { method: 'files.write', args: ['sbx-1', E2B_AGENT_PATH, 'console.log("agent")'] },
    ]);
    expect(sandbox.id).toBe('sbx-1');
    expect(provider.live()).toEqual([sandbox]);
  });

  it('uploads nothing when the template bakes the bundle in, and defaults the template name', async () => {
    // Prepare
    const sdk = new FakeSdk();
    const provider = makeProvider(sdk, { templateHasBundle: true });

    // Act
    await provider.create({ timeoutMs: 60_000, metadata: {} });

    // Assess
    expect(callsOf(sdk, 'create')[0]?.args[0]).toBe('swarm-bench-agent');
    expect(callsOf(sdk, 'files.write')).toEqual([]);
  });

  it('refuses to go beyond maxConcurrent without calling E2B', async () => {
    // Prepare
    const sdk = new FakeSdk();
    const provider = makeProvider(sdk, { maxConcurrent: 1 });
    await provider.create({ timeoutMs: 60_000, metadata: {} });

    // Act
    const second = provider.create({ timeoutMs: 60_000, metadata: {} });

    // Assess
    await expect(second).rejects.toBeInstanceOf(SandboxStartError);
    expect(callsOf(sdk, 'create')).toHaveLength(1);
  });
});

describe('E2BSandbox.startAgent', () => {
  it('runs node in the background with only agent variables, the secret on its stdin, and returns a wss URL from getHost', async () => {
    // Prepare
    const sdk = new FakeSdk();
    const provider = makeProvider(sdk);
    const sandbox = await provider.create({ timeoutMs: 60_000, metadata: {} });

    // Act
    const first = await sandbox.startAgent({ agentId: 'a0', secret: 'swarm-secret', lifetimeMs: 30_000 });
    const second = await sandbox.startAgent({ agentId: 'a1', secret: 'swarm-secret' });

    // Assess
    const runs = callsOf(sdk, 'commands.run');
    expect(runs).toHaveLength(2);
    const [, cmd, opts] = runs[0]!.args as [string, string, Record<string, unknown>];
    expect(cmd).toBe(`node ${E2B_AGENT_PATH}`);
    expect(opts.background).toBe(true);
    expect(opts.stdin).toBe(true);
    expect(opts.envs).toEqual({
      SWARM_AGENT_ID: 'a0',
      SWARM_AGENT_SECRET_FROM: 'stdin',
      SWARM_AGENT_HOST: '0.0.0.0',
      SWARM_AGENT_PORT: String(E2B_AGENT_BASE_PORT),
      SWARM_AGENT_LIFETIME_MS: '30000',
      SWARM_AGENT_WATCH_STDIN: '0',
    });
    expect(JSON.stringify(opts.envs)).not.toContain(API_KEY);
    expect(JSON.stringify(opts.envs)).not.toContain('swarm-secret');
    expect(callsOf(sdk, 'files.write').slice(1)).toEqual([]);
    expect(callsOf(sdk, 'command.sendStdin')).toEqual([
      { method: 'command.sendStdin', args: ['sbx-1', 'swarm-secret\n'] },
      { method: 'command.sendStdin', args: ['sbx-1', 'swarm-secret\n'] },
    ]);
    expect(first).toEqual({
      agentId: 'a0',
      url: `wss://${E2B_AGENT_BASE_PORT}-sbx-1.e2b.app`,
      localUrl: `ws://127.0.0.1:${E2B_AGENT_BASE_PORT}`,
      sandboxId: 'sbx-1',
      handshakeAttempts: 3,
      agent: { protocol: AGENT_PROTOCOL_VERSION, bundleSha256: BUNDLE_SHA256 },
    });
    expect(second.url).toBe(`wss://${E2B_AGENT_BASE_PORT + 1}-sbx-1.e2b.app`);
  });

  it('fails with the stderr tail when no ready line comes, and kills the command', async () => {
    // Prepare
    const sdk = new FakeSdk({ agentOutput: () => ['still booting\n'] });
    const provider = makeProvider(sdk, { startTimeoutMs: 50 });
    const sandbox = await provider.create({ timeoutMs: 60_000, metadata: {} });

    // Act
    const start = sandbox.startAgent({ agentId: 'slow', secret: 's' });

    // Assess
    await expect(start).rejects.toThrow(/slow.*no ready line within 50 ms/);
    await expect(start).rejects.toBeInstanceOf(SandboxStartError);
    expect(callsOf(sdk, 'command.kill')).toHaveLength(1);
  });
});

describe('E2BSandbox metrics and kill', () => {
  it('reports the latest E2B metrics sample', async () => {
    // Prepare
    const sdk = new FakeSdk({
      metrics: [
        { timestamp: new Date(2000), cpuUsedPct: 80, memUsed: 300e6 },
        { timestamp: new Date(1000), cpuUsedPct: 10, memUsed: 100e6 },
      ],
    });
    const sandbox = await makeProvider(sdk).create({ timeoutMs: 60_000, metadata: {} });

    // Act
    const metrics = await sandbox.metrics();

    // Assess
    expect(metrics).toEqual({ rssBytes: 300e6, cpuPercent: 80, source: 'e2b', scope: 'sandbox', at: 2000 });
  });

  it('kills once: true the first time, false after, and counts billed seconds', async () => {
    // Prepare
    let now = 1_000_000;
    const sdk = new FakeSdk();
    const provider = makeProvider(sdk, { clock: () => now });
    const sandbox = await provider.create({ timeoutMs: 60_000, metadata: {} });
    now += 12_000;

    // Act
    const results = [await sandbox.kill(), await sandbox.kill()];

    // Assess
    expect(results).toEqual([true, false]);
    expect(callsOf(sdk, 'sandbox.kill')).toHaveLength(1);
    expect(sandbox.alive).toBe(false);
    expect(provider.live()).toEqual([]);
    expect(provider.usage()).toEqual({ created: 1, sandboxSeconds: 12, throttledMs: 0, rateLimited: 0 });
  });

  it('treats a sandbox E2B no longer knows as already gone', async () => {
    // Prepare
    const sdk = new FakeSdk();
    const sandbox = await makeProvider(sdk).create({ timeoutMs: 60_000, metadata: {} });
    sdk.sandboxes[0]!.kill = async () => {
      throw new SandboxNotFoundError('sandbox sbx-1 not found');
    };

    // Act / Assess
    expect(await sandbox.kill()).toBe(false);
  });
});

describe('errors', () => {
  it('a missing key fails in the constructor, names E2B_API_KEY and creates nothing', () => {
    // Prepare
    const sdk = new FakeSdk();

    // Act
    const make = (apiKey: string | undefined) => () => makeProvider(sdk, { apiKey });

    // Assess
    expect(make(undefined)).toThrow(ProviderUnavailableError);
    expect(make(undefined)).toThrow(/E2B_API_KEY/);
    expect(make('  ')).toThrow(/E2B_API_KEY/);
    expect(sdk.calls).toEqual([]);
  });

  it('maps SDK errors to ours, keeps the cause and never shows the key', async () => {
    // Prepare
    const authError = new AuthenticationError(`Invalid API key ${API_KEY}`);
    const rateError = new RateLimitError(`Rate limit for key ${API_KEY}`);

    // Act
    const failure = (error: Error) =>
      makeProvider(new FakeSdk({ createError: error }))
        .create({ timeoutMs: 60_000, metadata: {} })
        .then(
          () => new Error('create unexpectedly succeeded'),
          (thrown: unknown) => thrown as Error,
        );
    const auth = await failure(authError);
    const rate = await failure(rateError);

    // Assess
    expect(auth).toBeInstanceOf(ProviderUnavailableError);
    expect(auth.message).toMatch(/E2B_API_KEY/);
    expect(auth.cause).toBe(authError);
    expect(rate).toBeInstanceOf(SandboxStartError);
    expect(rate.cause).toBe(rateError);
    for (const error of [auth, rate]) {
      expect(error.message).not.toContain(API_KEY);
      expect(error.message).toContain('[redacted]');
    }
  });
});

describe('E2B plan limits', () => {
  it('paces creations to the tier rate less a 10% margin: Hobby 1/s, Pro 5/s, or an explicit rate', async () => {
    // Prepare: a clock that moves only when the provider waits, so every wait is the pacer's.
    const waits = (options: Partial<E2BSandboxProviderOptions>) => {
      const slept: number[] = [];
      let now = 1_000_000;
      const provider = makeProvider(new FakeSdk(), {
        clock: () => now,
        sleep: async (ms) => {
          slept.push(ms);
          now += ms;
        },
        ...options,
      });
      return { provider, slept };
    };
    const hobby = waits({});
    const pro = waits({ tier: 'pro' });
    const explicit = waits({ creationRate: 2 });

    // Act
    for (const { provider } of [hobby, pro, explicit]) {
      for (let i = 0; i < 3; i++) await provider.create({ timeoutMs: 60_000, metadata: {} });
    }

    // Assess
    expect(hobby.slept).toEqual([1100, 1100]);
    expect(pro.slept).toEqual([220, 220]);
    expect(explicit.slept).toEqual([550, 550]);
    expect(hobby.provider.throttle()).toEqual({ rateLimited: 0, pacedMs: 2200, backoffMs: 0 });
    expect(hobby.provider.maxConcurrent).toBe(20);
    expect(pro.provider.maxConcurrent).toBe(100);
  });

  it('gets no 429 when creations reach E2B up to 95 ms nearer to each other than they were sent, or its waits end late', async () => {
    // Prepare: time moves only when the provider waits; E2B counts each creation when it arrives,
    // in a sliding window as the local E2B does, and the trip there alternates 95 ms and 0 ms (the
    // worst order: a slow request followed by a fast one). Paced at exactly the rate, every second
    // creation would be refused.
    const run = async (tier: 'hobby' | 'pro') => {
      let now = 1_000_000;
      let sent = 0;
      const window = new CreationWindow(E2B_PLANS[tier].creationsPerSecond);
      let waits = 0;
      const sdk = new FakeSdk({ admit: () => window.admit(now + (sent++ % 2 === 0 ? 95 : 0)) });
      const provider = makeProvider(sdk, {
        tier,
        clock: () => now,
        // Every third wait ends 300 ms late, as a timer on a busy event loop does.
        sleep: async (ms) => {
          now += ms + (waits++ % 3 === 0 ? 300 : 0);
        },
        rateLimitRetries: 0,
        maxConcurrent: 30,
      });
      for (let i = 0; i < 30; i++) await provider.create({ timeoutMs: 60_000, metadata: {} });
      return { provider, sent };
    };

    // Act
    const hobby = await run('hobby');
    const pro = await run('pro');

    // Assess
    for (const { provider, sent } of [hobby, pro]) {
      expect(sent).toBe(30);
      expect(provider.throttle().rateLimited).toBe(0);
      expect(provider.usage().created).toBe(30);
    }
  });

  it('retries a 429 with growing backoff and counts it; a sandbox comes back with its throttled time', async () => {
    // Prepare
    let now = 0;
    const sdk = new FakeSdk({ createFailures: [new RateLimitError('429'), new RateLimitError('429')] });
    const provider = makeProvider(sdk, {
      clock: () => now,
      sleep: async (ms) => {
        now += ms;
      },
    });

    // Act
    const sandbox = await provider.create({ timeoutMs: 60_000, metadata: {} });

    // Assess: backoff from max(1.1 s interval, 0.5 s) doubling, half jittered; pacing on every attempt.
    const throttle = provider.throttle();
    expect(callsOf(sdk, 'create')).toHaveLength(3);
    expect(throttle.rateLimited).toBe(2);
    expect(throttle.backoffMs).toBeGreaterThanOrEqual(550 + 1100);
    expect(throttle.backoffMs).toBeLessThanOrEqual(1100 + 2200);
    // The clock moved only while throttled: every millisecond of it is counted.
    expect(now).toBeCloseTo(throttle.pacedMs + throttle.backoffMs, 6);
    expect(sandbox.throttledMs).toBeCloseTo(throttle.pacedMs + throttle.backoffMs, 6);
  });

  it('gives up after rateLimitRetries with a message naming the fix', async () => {
    // Prepare
    const sdk = new FakeSdk({ createError: new RateLimitError('429') });
    const provider = makeProvider(sdk, { rateLimitRetries: 2 });

    // Act
    const creating = provider.create({ timeoutMs: 60_000, metadata: {} });

    // Assess
    await expect(creating).rejects.toBeInstanceOf(SandboxStartError);
    await expect(creating).rejects.toThrow(/--max-sandboxes|--e2b-creation-rate/);
    expect(callsOf(sdk, 'create')).toHaveLength(3);
  });

  it('refuses a lifetime above the session maximum before asking E2B, and caps setLifetime at start + maximum', async () => {
    // Prepare
    let now = 0;
    const sdk = new FakeSdk();
    const provider = makeProvider(sdk, { clock: () => now });

    // Act
    const tooLong = await provider.create({ timeoutMs: 3_600_001, metadata: {} }).catch((e: unknown) => e);
    const sandbox = await provider.create({ timeoutMs: 3_500_000, metadata: {} });
    now = 3_000_000;
    await sandbox.setLifetime?.(3_600_000);
    now = 3_600_000;

    // Assess: Hobby ends every sandbox one hour after its start, whatever setTimeout asked.
    expect(tooLong).toBeInstanceOf(InvalidInputError);
    expect((tooLong as Error).message).toMatch(/session maximum.*--e2b-tier pro/);
    expect(callsOf(sdk, 'create')).toHaveLength(1);
    expect(sandbox.alive).toBe(false);
    expect(provider.usage().sandboxSeconds).toBe(3600);
  });

  it('never retries configuration errors: an unknown template and a 400 fail at once, naming the fix', async () => {
    // Prepare
    const notFound = Object.assign(new SandboxError("404: template 'nope' not found"), { statusCode: 404 });
    const badRequest = Object.assign(new SandboxError('400: Timeout cannot be greater than 1 hours'), {
      statusCode: 400,
    });

    // Act
    const results = await Promise.all(
      [notFound, badRequest].map(async (error) => {
        const sdk = new FakeSdk({ createError: error });
        const thrown = await makeProvider(sdk)
          .create({ timeoutMs: 60_000, metadata: {} })
          .then(
            () => new Error('create unexpectedly succeeded'),
            (e: unknown) => e as Error,
          );
        return { thrown, calls: callsOf(sdk, 'create').length };
      }),
    );

    // Assess
    expect(results.map((r) => r.calls)).toEqual([1, 1]);
    for (const { thrown } of results) expect(thrown).toBeInstanceOf(InvalidInputError);
    expect(results[0]!.thrown.message).toMatch(/build-e2b-template/);
    expect(results[1]!.thrown.message).toMatch(/--e2b-tier/);
  });

  it('fails fast, naming the rebuild, when the template bakes in another agent', async () => {
    // Prepare
    const stale = (envs: Record<string, string>) => [
      `{"event":"ready","agentId":"${envs.SWARM_AGENT_ID}","port":${envs.SWARM_AGENT_PORT},"pid":1,"protocol":${AGENT_PROTOCOL_VERSION},"bundleSha256":"0ld"}\n`,
    ];
    const sdk = new FakeSdk({ agentOutput: stale });
    const provider = makeProvider(sdk, { templateHasBundle: true, expectedBundleSha256: BUNDLE_SHA256 });
    const sandbox = await provider.create({ timeoutMs: 60_000, metadata: {} });

    // Act
    const start = sandbox.startAgent({ agentId: 'a0', secret: 's' });

    // Assess
    await expect(start).rejects.toBeInstanceOf(InvalidInputError);
    await expect(start).rejects.toThrow(/build:agent.*build-e2b-template/);
    expect(callsOf(sdk, 'command.kill')).toHaveLength(1);
  });
});

describe("a run's E2B options (e2bRunOptions: the CLI and the unit Lambda)", () => {
  const config = parseRunConfig({ provider: 'e2b' });
  const stale = (envs: Record<string, string>) => [
    `{"event":"ready","agentId":"${envs.SWARM_AGENT_ID}","port":${envs.SWARM_AGENT_PORT},"pid":1,"protocol":${AGENT_PROTOCOL_VERSION},"bundleSha256":"0ld"}\n`,
  ];
  const provider = (sdk: FakeSdk, deps: Partial<E2BRunDeps> = {}) =>
    new E2BSandboxProvider({
      ...e2bRunOptions(config, { apiKey: API_KEY, bundle: BUNDLE, templateHasBundle: true, ...deps }),
      sdk,
      sleep: async () => undefined,
    });

  it("with the bundle baked in, uploads nothing and still checks every agent against the bundle's sha256", async () => {
    // Prepare
    const current = new FakeSdk();
    const old = new FakeSdk({ agentOutput: stale });

    // Act
    const started = await (await provider(current).create({ timeoutMs: 60_000, metadata: {} })).startAgent({
      agentId: 'a0',
      secret: 's',
    });
    const refused = (await provider(old).create({ timeoutMs: 60_000, metadata: {} })).startAgent({
      agentId: 'a0',
      secret: 's',
    });

    // Assess
    expect(started.agent).toEqual({ protocol: AGENT_PROTOCOL_VERSION, bundleSha256: BUNDLE_SHA256 });
    expect(callsOf(current, 'files.write')).toEqual([]);
    await expect(refused).rejects.toBeInstanceOf(InvalidInputError);
    await expect(refused).rejects.toThrow(/bundle [0-9a-f]{12} .*build-e2b-template/);
    expect(callsOf(old, 'command.kill')).toHaveLength(1);
  });

  it('uploads the agent when the run carries plug-ins the template lacks, and takes limits from the config', async () => {
    // Prepare
    const sdk = new FakeSdk();
    const options = e2bRunOptions(parseRunConfig({ provider: 'e2b', e2bTier: 'pro', maxSandboxes: 7 }), {
      apiKey: API_KEY,
      bundle: BUNDLE,
      templateHasBundle: true,
      withPlugins: true,
    });

    // Act
    await provider(sdk, { withPlugins: true }).create({ timeoutMs: 60_000, metadata: {} });

    // Assess
    expect(callsOf(sdk, 'files.write')).toEqual([
      { method: 'files.write', args: ['sbx-1', E2B_AGENT_PATH, BUNDLE] },
    ]);
    expect(options).toMatchObject({
      templateHasBundle: false,
      tier: 'pro',
      creationRate: 5,
      maxConcurrent: 7,
    });
  });
});

describe('stale sandboxes (reaper)', () => {
  it('kills only sandboxes of this stack older than the max age, across pages', async () => {
    // Prepare
    const now = Date.UTC(2026, 10, 29, 12);
    const hour = 3_600_000;
    const sdk = new FakeSdk({
      listed: [
        { sandboxId: 'old-1', metadata: { stack: 'prod' }, startedAt: new Date(now - 3 * hour) },
        { sandboxId: 'young', metadata: { stack: 'prod' }, startedAt: new Date(now - 10 * 60_000) },
        { sandboxId: 'other-stack', metadata: { stack: 'dev' }, startedAt: new Date(now - 5 * hour) },
        { sandboxId: 'old-2', metadata: { stack: 'prod', run: 'r9' }, startedAt: new Date(now - 2 * hour) },
      ],
    });

    // Act
    const killed = await killStaleSandboxes({ apiKey: API_KEY, sdk }, { stack: 'prod', maxAgeMs: hour, now });

    // Assess
    expect(killed).toEqual(['old-1', 'old-2']);
    expect(callsOf(sdk, 'list')).toEqual([
      { method: 'list', args: [{ apiKey: API_KEY, query: { metadata: { stack: 'prod' } } }] },
    ]);
    expect(callsOf(sdk, 'kill').map((call) => call.args[0])).toEqual(['old-1', 'old-2']);
  });

  it('is also available on the provider', async () => {
    // Prepare
    const now = 10 * 3_600_000;
    const sdk = new FakeSdk({
      listed: [{ sandboxId: 'old', metadata: { stack: 'prod' }, startedAt: new Date(0) }],
    });
    const provider = makeProvider(sdk);

    // Act
    const stale = await provider.listStale({ stack: 'prod', maxAgeMs: 1000, now });

    // Assess
    expect(stale.map((info) => info.sandboxId)).toEqual(['old']);
    expect(callsOf(sdk, 'kill')).toEqual([]);
  });
});

describe('E2BSandboxProvider.connect and detach (the pool shared across unit Lambdas)', () => {
  it('detaches an idle sandbox without killing it, and another provider connects to it with an exact timeout', async () => {
    // Prepare: one Lambda creates a sandbox, runs an agent, stops it and lets go.
    const sdk = new FakeSdk();
    let now = 1_000_000;
    const first = makeProvider(sdk, { clock: () => now });
    const sandbox = await first.create({ timeoutMs: 120_000, metadata: {} });
    await sandbox.startAgent({ agentId: 'a0', secret: 's' });
    await sandbox.stopAgents();
    now += 30_000;

    // Act
    await first.detach(sandbox);
    now += 5_000;
    const second = makeProvider(sdk, { clock: () => now });
    const adopted = await second.connect('sbx-1', { timeoutMs: 90_000 });

    // Assess: nothing killed; the first provider billed 30 s and forgot it; the second bills from
    // the connection, counts no creation, and set the timeout itself (connect only extends).
    expect(callsOf(sdk, 'sandbox.kill')).toEqual([]);
    expect(first.live()).toEqual([]);
    expect(first.usage()).toEqual({ created: 1, sandboxSeconds: 30, throttledMs: 0, rateLimited: 0 });
    expect(await sandbox.kill()).toBe(false);
    expect(callsOf(sdk, 'sandbox.kill')).toEqual([]);
    expect(callsOf(sdk, 'connect')[0]?.args).toEqual(['sbx-1', { apiKey: API_KEY, timeoutMs: 90_000 }]);
    expect(callsOf(sdk, 'sandbox.setTimeout').at(-1)?.args).toEqual(['sbx-1', 90_000]);
    expect(adopted.id).toBe('sbx-1');
    expect(second.live()).toEqual([adopted]);
    now += 10_000;
    expect(second.usage()).toEqual({ created: 0, sandboxSeconds: 10, throttledMs: 0, rateLimited: 0 });
    // Agent ports start over: the stopped agents freed them.
    const endpoint = await adopted.startAgent({ agentId: 'b0', secret: 't' });
    expect(endpoint.url).toContain(`${E2B_AGENT_BASE_PORT}-sbx-1`);
  });

  it('refuses to detach a sandbox with running agents, and maps a vanished sandbox to SandboxStartError', async () => {
    // Prepare
    const sdk = new FakeSdk();
    const provider = makeProvider(sdk);
    const sandbox = await provider.create({ timeoutMs: 60_000, metadata: {} });
    await sandbox.startAgent({ agentId: 'a0', secret: 's' });

    // Act
    const detaching = provider.detach(sandbox);
    await sandbox.kill();
    const connecting = makeProvider(sdk).connect('sbx-1', { timeoutMs: 60_000 });

    // Assess
    await expect(detaching).rejects.toThrow(/without running agents/);
    await expect(connecting).rejects.toBeInstanceOf(SandboxStartError);
    await expect(makeProvider(sdk).connect('../etc', { timeoutMs: 60_000 })).rejects.toThrow(/sandboxId/);
  });
});
