/**
 * Garbage an agent makes per strategy execute (`npm run bench:execute-gc`, not part of `npm test`):
 * a real agent process (dist/agent.cjs, run with --trace-gc) executes a strategy on a 500-bar
 * window N times for this process's coordinator client, and the bench prints the agent's young
 * (scavenge) GCs per 1000 executes and the execute round trip's p50/p99, next to the floor measured
 * in the same run: the bare ws echo server (bench/floors/echo-server.mjs, also with --trace-gc)
 * answering the same binary frame, unread, with an answer of the same size. Blocks of the two
 * alternate so machine noise hits both alike. `--baseline <agent.cjs>` adds another agent bundle
 * (say, one built from main) measured in the same blocks, for a before/after in one run.
 *
 *   npm run bench:execute-gc -- [--executes 20000] [--strategy momentum] [--baseline path]
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { AGENT_ENV } from '../lib/agent/launch.ts';
import { encodeWindowFrame } from '../lib/agent/window-frame.ts';
import { summarize } from '../lib/stats/summary.ts';
import { AgentClient } from '../lib/swarm/client.ts';
import { generateBars } from '../lib/trading/market.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BARS = 500;
const BLOCK = 500;
const WARMUP = 2_000;
/** V8's young-generation collections as --trace-gc prints them. */
const YOUNG_GC = /Scavenge|Minor Mark/;

const { values: args } = parseArgs({
  options: {
    executes: { type: 'string', default: '20000' },
    strategy: { type: 'string', default: 'momentum' },
    baseline: { type: 'string' },
  },
});
const EXECUTES = Number(args.executes);
if (!Number.isInteger(EXECUTES) || EXECUTES < BLOCK) throw new Error(`--executes: an integer >= ${BLOCK}`);

/** A node process run with --trace-gc, its young GCs counted off its stdout. */
class TracedProcess {
  youngGcs = 0;
  private readonly ready: Promise<number>;

  constructor(readonly child: ChildProcess) {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    this.ready = new Promise((resolvePort, reject) => {
      child.once('exit', (code) =>
        reject(new Error(`process ${child.pid} exited (${code}) before it was ready`)),
      );
      lines.on('line', (line) => {
        if (YOUNG_GC.test(line)) this.youngGcs++;
        else if (line.startsWith('{')) {
          const port = (JSON.parse(line) as { port?: unknown }).port;
          if (typeof port === 'number') resolvePort(port);
        }
      });
    });
  }

  static start(script: string, env: NodeJS.ProcessEnv = {}, secret?: string): TracedProcess {
    const child = spawn(process.execPath, ['--trace-gc', script], {
      cwd: ROOT,
      env: { ...env, PATH: process.env.PATH },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    if (secret !== undefined) child.stdin?.write(`${secret}\n`);
    live.add(child);
    child.once('exit', (code, signal) => {
      live.delete(child);
      if (!stopping) process.stderr.write(`bench: ${script} exited (${code ?? signal}) mid-run\n`);
    });
    return new TracedProcess(child);
  }

  url(): Promise<string> {
    return this.ready.then((port) => `ws://127.0.0.1:${port}`);
  }

  /** The young GCs counted once the process's stdout has caught up (trace lines trail the frames). */
  async settledYoungGcs(): Promise<number> {
    await new Promise((r) => setTimeout(r, 300));
    return this.youngGcs;
  }
}

const live = new Set<ChildProcess>();
let stopping = false;

/** One measured party: how it runs one round trip, and the process whose GCs are counted. */
interface Target {
  name: string;
  process: TracedProcess;
  roundTrip: () => Promise<void>;
  samplesUs: number[];
  youngGcs: number;
}

async function agentTarget(name: string, bundle: string, strategy: string): Promise<Target> {
  const secret = randomBytes(24).toString('hex');
  const agent = TracedProcess.start(
    bundle,
    {
      [AGENT_ENV.id]: name,
      [AGENT_ENV.secretFrom]: 'stdin',
      [AGENT_ENV.host]: '127.0.0.1',
      [AGENT_ENV.port]: '0',
      [AGENT_ENV.watchStdin]: '1',
      // Longer than any run of this bench on a loaded machine (the default is 5 minutes).
      [AGENT_ENV.lifetimeMs]: String(3_600_000),
    },
    secret,
  );
  const client = await AgentClient.connect(name, await agent.url(), secret);
  const window = generateBars({ bars: BARS, seed: 1 });
  return {
    name,
    process: agent,
    roundTrip: async () => {
      await client.request({ op: 'execute', strategy, window });
    },
    samplesUs: [],
    youngGcs: 0,
  };
}

/** The floor: the bare ws echo server answering the same binary frame, unread. */
async function floorTarget(): Promise<Target> {
  const echo = TracedProcess.start(join(ROOT, 'bench/floors/echo-server.mjs'));
  const ws = new WebSocket(await echo.url(), { perMessageDeflate: false });
  await new Promise((r, reject) => ws.once('open', r).once('error', reject));
  const frame = encodeWindowFrame(1, {
    op: 'execute',
    strategy: 'momentum',
    window: generateBars({ bars: BARS, seed: 1 }),
  }) as Buffer;
  return {
    name: 'floor: bare ws, same frame',
    process: echo,
    roundTrip: () =>
      new Promise<void>((r) => {
        ws.once('message', () => r());
        ws.send(frame);
      }),
    samplesUs: [],
    youngGcs: 0,
  };
}

async function runBlock(target: Target, count: number, record: boolean): Promise<void> {
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    await target.roundTrip();
    if (record) target.samplesUs.push(Number(process.hrtime.bigint() - start) / 1000);
  }
}

function row(target: Target, floor: Target): string {
  const s = summarize(target.samplesUs);
  const f = summarize(floor.samplesUs);
  const perThousand = (target.youngGcs * 1000) / target.samplesUs.length;
  const ratios = target === floor ? '' : `  ${(s.p50 / f.p50).toFixed(2)}x  ${(s.p99 / f.p99).toFixed(2)}x`;
  return `${target.name.padEnd(34)}${perThousand.toFixed(2).padStart(12)}${s.p50.toFixed(0).padStart(9)}${s.p99.toFixed(0).padStart(9)}${ratios}`;
}

async function main(): Promise<void> {
  const bundle = join(ROOT, 'dist/agent.cjs');
  execFileSync(process.execPath, ['--import', 'tsx', 'scripts/build-agent.ts'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  const targets = [await agentTarget('agent (this build)', bundle, args.strategy)];
  if (args.baseline)
    targets.push(await agentTarget('agent (baseline)', resolve(args.baseline), args.strategy));
  const floor = await floorTarget();
  targets.push(floor);
  for (const target of targets) await runBlock(target, WARMUP, false);
  const before = await Promise.all(targets.map((target) => target.process.settledYoungGcs()));
  for (let done = 0; done < EXECUTES; done += BLOCK) {
    for (const target of targets) await runBlock(target, Math.min(BLOCK, EXECUTES - done), true);
    process.stderr.write(`\r${Math.min(EXECUTES, done + BLOCK)} / ${EXECUTES}`);
  }
  process.stderr.write('\n');
  const after = await Promise.all(targets.map((target) => target.process.settledYoungGcs()));
  targets.forEach((target, i) => {
    target.youngGcs = (after[i] as number) - (before[i] as number);
  });
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  process.stdout.write(
    [
      '',
      `strategy execute round trip, ${args.strategy} on a ${BARS}-bar window, ${EXECUTES} per target in blocks of ${BLOCK} (load ${load})`,
      `${'target'.padEnd(34)}  young GCs   p50 us   p99 us  p50 and p99 / floor`,
      `${''.padEnd(34)}  per 1000`,
      ...targets.map((target) => row(target, floor)),
      '',
    ].join('\n'),
  );
}

main()
  .catch((error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    stopping = true;
    for (const child of live) child.kill('SIGKILL');
    process.exit();
  });
