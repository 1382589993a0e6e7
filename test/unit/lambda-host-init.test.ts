/**
 * The local Lambda host keeps Lambda's invocation clock around the init phase: an init within the
 * phase is outside the timeout, a longer one counts against it, and an init that never finishes
 * ends the invocation as a timeout instead of hanging. Real Node processes, tiny hand-written
 * handlers; the phase is shortened so the test stays quick.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LambdaFunction, LambdaInvocationError } from '../../lib/pipeline/lambda-host.ts';
import { LAMBDA_SDK_DIR } from '../../lib/pipeline/local.ts';

let dir: string;
const hosts: LambdaFunction[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'swarm-bench-host-init-'));
});
afterAll(async () => {
  await Promise.all(hosts.map((host) => host.close()));
  await rm(dir, { recursive: true, force: true });
});

/** A function whose module takes `initMs` to load (forever when null) and reports its remaining time. */
async function fn(
  name: string,
  initMs: number | null,
  options: { timeoutSeconds: number; initPhaseMs: number },
) {
  const assetDir = join(dir, `asset-${name}`);
  await rm(assetDir, { recursive: true, force: true });
  await mkdir(assetDir, { recursive: true });
  const init =
    initMs === null
      ? 'setInterval(() => {}, 1000); await new Promise(() => {});'
      : `await new Promise((done) => setTimeout(done, ${initMs}));`;
  await writeFile(
    join(assetDir, 'index.mjs'),
    `${init}\nexport const handler = async (_event, context) => ({ remainingMs: context.getRemainingTimeInMillis() });\n`,
  );
  const host = new LambdaFunction({
    spec: {
      logicalId: `${name}Function`,
      name,
      arn: `arn:aws:lambda:us-east-1:000000000000:function:${name}`,
      handler: 'index.handler',
      runtime: 'nodejs22.x',
      memoryMb: 128,
      timeoutSeconds: options.timeoutSeconds,
      environment: {},
      assetDir,
      policy: [],
    },
    workDir: join(dir, 'work'),
    awsEnv: {},
    sdkDir: LAMBDA_SDK_DIR,
    nodePath: process.execPath,
    initPhaseMs: options.initPhaseMs,
  });
  hosts.push(host);
  return host;
}

describe('Lambda host init phase', () => {
  it('keeps an init within the phase outside the timeout', async () => {
    const host = await fn('within', 1500, { timeoutSeconds: 10, initPhaseMs: 30_000 });
    const { remainingMs } = (await host.invoke({})) as { remainingMs: number };
    // The 10 s start when the handler is called (less the IPC hop), not at process start.
    expect(remainingMs).toBeGreaterThan(8_500);
    expect(host.stats.initsOverPhase).toBe(0);
  });

  it('counts an init past the phase against the timeout', async () => {
    const host = await fn('past', 1500, { timeoutSeconds: 10, initPhaseMs: 100 });
    const { remainingMs } = (await host.invoke({})) as { remainingMs: number };
    // Deadline = process start + phase + timeout; the handler runs >= 1.5 s after the start.
    expect(remainingMs).toBeLessThanOrEqual(10_000 + 100 - 1_500);
    expect(host.stats.initsOverPhase).toBe(1);
  });

  it('ends an init that never finishes as a timeout, naming the unfinished init', async () => {
    const host = await fn('hung', null, { timeoutSeconds: 1, initPhaseMs: 100 });
    const failure = await host.invoke({}).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(LambdaInvocationError);
    expect((failure as LambdaInvocationError).errorType).toBe('Sandbox.Timedout');
    expect((failure as LambdaInvocationError).errorMessage).toMatch(/init had not finished/);
  });
});
