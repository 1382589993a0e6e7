import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SandboxStartError } from '../../lib/errors.ts';
import { type LocalSandbox, LocalSandboxProvider } from '../../lib/sandbox/local.ts';
import { isProcessAlive } from '../../lib/sandbox/proc.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../..');
const fixtureAgent = join(here, '../fixtures/sandbox/fixture-agent.mjs');
const parentScript = join(here, '../fixtures/sandbox/parent-script.ts');

let tmpRoot: string;
const providers: LocalSandboxProvider[] = [];
const pidsToCheck = new Set<number>();
const savedEnv: Record<string, string | undefined> = {};

function makeProvider(options: Partial<ConstructorParameters<typeof LocalSandboxProvider>[0]> = {}) {
  const provider = new LocalSandboxProvider({ bundlePath: fixtureAgent, tmpRoot, ...options });
  providers.push(provider);
  return provider;
}

async function getJson<T>(agentUrl: string, path: string): Promise<T> {
  const response = await fetch(`${agentUrl.replace(/^ws:/, 'http:')}${path}`);
  return (await response.json()) as T;
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return condition();
}

beforeAll(async () => {
  tmpRoot = await mkdtemp(join(tmpdir(), 'sandbox-local-test-'));
  // Secrets in the parent's environment must never reach an agent.
  for (const key of ['AWS_SECRET_ACCESS_KEY', 'E2B_API_KEY', 'SOME_TOKEN']) {
    savedEnv[key] = process.env[key];
    process.env[key] = `fake-${key.toLowerCase()}`;
  }
});

afterEach(async () => {
  await Promise.all(providers.splice(0).map((provider) => provider.killAll()));
  const alive = [...pidsToCheck].filter((pid) => isProcessAlive(pid));
  for (const pid of alive) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  pidsToCheck.clear();
  expect(alive, 'fixture processes left running after the test').toEqual([]);
});

afterAll(async () => {
  for (const [key, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  await rm(tmpRoot, { recursive: true, force: true });
});

describe('LocalSandboxProvider with a real agent process', () => {
  it('starts the agent with only agent variables, in a private directory, on 127.0.0.1', async () => {
    // Prepare
    const provider = makeProvider();
    const sandbox = (await provider.create({ timeoutMs: 30_000, metadata: { run: 'r1' } })) as LocalSandbox;

    // Act
    const endpoint = await sandbox.startAgent({ agentId: 'a1', secret: 'top-secret' });
    pidsToCheck.add(endpoint.pid!);
    const env = await getJson<Record<string, string>>(endpoint.url, '/env');
    const address = await getJson<{ address: string }>(endpoint.url, '/address');

    // Assess
    expect(endpoint.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    expect(endpoint.sandboxId).toBe(sandbox.id);
    expect(statSync(sandbox.dir).mode & 0o777).toBe(0o700);
    expect(existsSync(join(sandbox.dir, 'fixture-agent.mjs'))).toBe(true);
    expect(address.address).toBe('127.0.0.1');
    expect(env.AWS_SECRET_ACCESS_KEY).toBeUndefined();
    expect(env.E2B_API_KEY).toBeUndefined();
    expect(env.SOME_TOKEN).toBeUndefined();
    const allowed = new Set([
      'PATH',
      'LANG',
      'HOME',
      'TMPDIR',
      'SWARM_AGENT_ID',
      'SWARM_AGENT_SECRET_FROM',
      'SWARM_AGENT_HOST',
      'SWARM_AGENT_PORT',
      'SWARM_AGENT_LIFETIME_MS',
      'SWARM_AGENT_WATCH_STDIN',
    ]);
    expect(Object.keys(env).filter((key) => !allowed.has(key))).toEqual([]);
    expect(env).toMatchObject({
      HOME: sandbox.dir,
      TMPDIR: sandbox.dir,
      SWARM_AGENT_ID: 'a1',
      SWARM_AGENT_SECRET_FROM: 'stdin',
      SWARM_AGENT_HOST: '127.0.0.1',
      SWARM_AGENT_WATCH_STDIN: '1',
    });
    expect(JSON.stringify(env)).not.toContain('top-secret');
    expect(Number(env.SWARM_AGENT_LIFETIME_MS)).toBeGreaterThan(25_000);
    expect(Number(env.SWARM_AGENT_LIFETIME_MS)).toBeLessThanOrEqual(30_000);
  });

  it('kills the whole process group, grandchildren included, and kill is idempotent', async () => {
    // Prepare
    const provider = makeProvider();
    const sandbox = (await provider.create({ timeoutMs: 30_000, metadata: {} })) as LocalSandbox;
    const endpoint = await sandbox.startAgent({ agentId: 'a1', secret: 's' });
    const { pid: grandchild } = await getJson<{ pid: number }>(endpoint.url, '/spawn-child');
    pidsToCheck.add(endpoint.pid!).add(grandchild);
    expect(isProcessAlive(grandchild)).toBe(true);

    // Act
    const first = await sandbox.kill();
    const second = await sandbox.kill();

    // Assess
    expect([first, second]).toEqual([true, false]);
    expect(sandbox.alive).toBe(false);
    expect(existsSync(sandbox.dir)).toBe(false);
    expect(await waitFor(() => !isProcessAlive(grandchild), 15_000)).toBe(true);
    expect(isProcessAlive(endpoint.pid!)).toBe(false);
    expect(provider.live()).toEqual([]);
    expect(provider.usage().created).toBe(1);
  });

  it('stopAgents ends the agents but keeps the sandbox for reuse', async () => {
    // Prepare
    const provider = makeProvider({ stopGraceMs: 500 });
    const sandbox = (await provider.create({ timeoutMs: 30_000, metadata: {} })) as LocalSandbox;
    const a = await sandbox.startAgent({ agentId: 'a', secret: 's' });
    const b = await sandbox.startAgent({ agentId: 'b', secret: 's' });
    const { pid: grandchild } = await getJson<{ pid: number }>(a.url, '/spawn-child');
    pidsToCheck.add(a.pid!).add(b.pid!).add(grandchild);

    // Act
    await sandbox.stopAgents();
    const again = await sandbox.startAgent({ agentId: 'a', secret: 's' });
    pidsToCheck.add(again.pid!);

    // Assess
    expect(a.url).not.toBe(b.url);
    expect(isProcessAlive(a.pid!)).toBe(false);
    expect(isProcessAlive(b.pid!)).toBe(false);
    expect(await waitFor(() => !isProcessAlive(grandchild), 15_000)).toBe(true);
    expect(sandbox.alive).toBe(true);
    expect(sandbox.agentState('b')?.exit?.reason).toBe('stopped');
    expect(isProcessAlive(again.pid!)).toBe(true);
  });

  it('ends the sandbox and its agents when its lifetime runs out', async () => {
    // Prepare
    const provider = makeProvider();
    // A lifetime long enough for the agent to start on a loaded machine; it is cut short below.
    const sandbox = (await provider.create({ timeoutMs: 60_000, metadata: {} })) as LocalSandbox;
    // A longer agent lifetime than the sandbox's, so only the sandbox timer can end it in time.
    const endpoint = await sandbox.startAgent({ agentId: 'a1', secret: 's', lifetimeMs: 120_000 });
    pidsToCheck.add(endpoint.pid!);

    // Act: the sandbox's end moves to 300 ms from now (E2B's setTimeout), well before the agent's own.
    await sandbox.setLifetime!(300);
    const ended = await waitFor(() => !sandbox.alive && !isProcessAlive(endpoint.pid!), 20_000);

    // Assess
    expect(ended).toBe(true);
    expect(await waitFor(() => !existsSync(sandbox.dir), 15_000)).toBe(true);
    expect(sandbox.agentState('a1')?.exit?.reason).toBe('sandbox expired');
    expect(await sandbox.kill()).toBe(false);
  });

  it('reports RSS and CPU time from /proc for the sandbox and per agent', async () => {
    // Prepare
    const provider = makeProvider();
    const sandbox = await provider.create({ timeoutMs: 30_000, metadata: {} });
    const a = await sandbox.startAgent({ agentId: 'a', secret: 's' });
    const b = await sandbox.startAgent({ agentId: 'b', secret: 's' });
    pidsToCheck.add(a.pid!).add(b.pid!);

    // Act
    const total = await sandbox.metrics();
    const one = await sandbox.agentMetrics?.('a');

    // Assess
    expect(total.source).toBe('proc');
    expect(total.rssBytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(total.cpuMs).toBeGreaterThan(0);
    expect(one?.rssBytes).toBeGreaterThan(0);
    expect(one!.rssBytes).toBeLessThan(total.rssBytes);
    expect(await sandbox.agentMetrics?.('nobody')).toBeUndefined();
  });

  it('kills an agent whose RSS grows past the memory cap and says why', async () => {
    // Prepare
    const exits: string[] = [];
    const provider = makeProvider({
      memoryMb: 128,
      watchdogIntervalMs: 100,
      onAgentExit: (exit) => exits.push(`${exit.agentId}:${exit.reason}`),
    });
    const sandbox = (await provider.create({ timeoutMs: 30_000, metadata: {} })) as LocalSandbox;
    const hog = await sandbox.startAgent({ agentId: 'hog', secret: 's' });
    const calm = await sandbox.startAgent({ agentId: 'calm', secret: 's' });
    pidsToCheck.add(hog.pid!).add(calm.pid!);

    // Act
    await getJson(hog.url, '/alloc?mb=200').catch(() => undefined);
    const killed = await waitFor(() => sandbox.agentState('hog')?.running === false, 15_000);

    // Assess
    expect(killed).toBe(true);
    expect(sandbox.agentState('hog')?.exit?.reason).toMatch(/^memory cap: rss \d+ MB exceeded 128 MB$/);
    expect(sandbox.agentState('hog')?.exit?.signal).toBe('SIGKILL');
    expect(exits).toEqual([expect.stringMatching(/^hog:memory cap/)]);
    expect(sandbox.agentState('calm')?.running).toBe(true);
  });

  it('refuses sandboxes beyond maxConcurrent', async () => {
    // Prepare
    const provider = makeProvider({ maxConcurrent: 1 });
    await provider.create({ timeoutMs: 30_000, metadata: {} });

    // Act
    const second = provider.create({ timeoutMs: 30_000, metadata: {} });

    // Assess
    await expect(second).rejects.toBeInstanceOf(SandboxStartError);
    expect(provider.live()).toHaveLength(1);
  });

  it('fails with the agent stderr when the bundle crashes before it is ready', async () => {
    // Prepare
    const provider = makeProvider({ bundlePath: join(here, '../fixtures/sandbox/crashing-agent.mjs') });
    const sandbox = await provider.create({ timeoutMs: 30_000, metadata: {} });

    // Act
    const start = sandbox.startAgent({ agentId: 'x', secret: 's' });

    // Assess
    await expect(start).rejects.toThrow(/exited before it was ready.*boom: no market data/s);
    await expect(start).rejects.toBeInstanceOf(SandboxStartError);
  });

  it('agents exit within seconds when their parent is SIGKILLed', async () => {
    // Prepare
    const parent = spawn(process.execPath, ['--import', 'tsx', parentScript, fixtureAgent, tmpRoot], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let agentPid: number | undefined;
    try {
      agentPid = await new Promise<number>((resolvePid, reject) => {
        let out = '';
        let err = '';
        parent.stderr.on('data', (chunk) => {
          err += chunk;
        });
        parent.stdout.on('data', (chunk) => {
          out += chunk;
          const line = out.split('\n')[0];
          if (out.includes('\n') && line) resolvePid((JSON.parse(line) as { pid: number }).pid);
        });
        parent.once('exit', (code) => reject(new Error(`parent exited early (${code}): ${err}`)));
      });
      pidsToCheck.add(agentPid);
      expect(isProcessAlive(agentPid)).toBe(true);

      // Act
      parent.kill('SIGKILL');
      const pid = agentPid;
      const gone = await waitFor(() => !isProcessAlive(pid), 15_000);

      // Assess
      expect(gone).toBe(true);
    } finally {
      parent.kill('SIGKILL');
      if (agentPid !== undefined && isProcessAlive(agentPid)) process.kill(-agentPid, 'SIGKILL');
    }
  });
});
