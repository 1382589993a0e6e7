/**
 * Agent start on the local provider, next to its floor in the same run: per-agent start to ready
 * (p50/p95) and the agent's CPU to ready against a bare Node started the same way (same flags,
 * same scrubbed environment, detached, piped stdio) that prints one line and waits; the agent
 * bundle's size; and a 10-agent swarm's set-up (create to every agent healthy and linked) against
 * ten floor processes started at once. Runs interleave agent and floor so load drifts hit both.
 * Builds the agent bundle first (dist/agent.cjs), so it measures the code as it is; `--bundle`
 * measures a bundle built elsewhere instead (another commit's, for a before/after).
 *
 *   npm run bench:sandbox-start -- [--runs 20] [--swarms 5] [--agents 10] [--bundle path]
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { quantileSorted } from 'simple-statistics';
import { buildAgentBundle } from '../lib/agent/bundle.ts';
import { LocalSandboxProvider } from '../lib/sandbox/local.ts';
import { readProcessCpuMs } from '../lib/sandbox/proc.ts';
import { SwarmManager } from '../lib/swarm/manager.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    swarms: { type: 'string', default: '5' },
    agents: { type: 'string', default: '10' },
    bundle: { type: 'string' },
  },
});
const runs = Number(values.runs);
const swarms = Number(values.swarms);
const agents = Number(values.agents);

const loadAverage = async (): Promise<string> =>
  (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');

const bundlePath = values.bundle ?? join(root, 'dist', 'agent.cjs');
const bundleBytes = values.bundle
  ? (await stat(values.bundle)).size
  : await buildAgentBundle({ root, outfile: bundlePath });

const scratch = await mkdtemp(join(tmpdir(), 'bench-sandbox-start-'));
// Long start timeout: at nice 19 beside a loaded machine an agent may wait seconds for a CPU.
const provider = new LocalSandboxProvider({ bundlePath, tmpRoot: scratch, startTimeoutMs: 120_000 });
const MEMORY_MB = 512;

/**
 * The floor: the same Node binary started as the provider starts an agent, printing one line as
 * soon as it runs and then waiting on stdin, so its CPU can be read while it lives.
 */
async function floorStart(): Promise<{ readyMs: number; cpuMs: number; pid: number; stop: () => void }> {
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [`--max-old-space-size=${MEMORY_MB}`, '-e', 'process.stdout.write("ready\\n");process.stdin.resume()'],
    {
      cwd: scratch,
      detached: true,
      env: { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8', HOME: scratch, TMPDIR: scratch },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('error', reject);
  });
  const readyMs = performance.now() - started;
  const pid = child.pid as number;
  const cpuMs = (await readProcessCpuMs(pid)) ?? Number.NaN;
  return { readyMs, cpuMs, pid, stop: () => child.kill('SIGKILL') };
}

const stats = (samples: number[]): { p50: number; p95: number } => {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: quantileSorted(sorted, 0.5), p95: quantileSorted(sorted, 0.95) };
};

const agentReady: number[] = [];
const agentCpu: number[] = [];
const floorReady: number[] = [];
const floorCpu: number[] = [];
const swarmInit: number[] = [];
const floorSwarm: number[] = [];
const swarmFailures: string[] = [];
const loadBefore = await loadAverage();
try {
  const sandbox = await provider.create({ timeoutMs: 600_000, metadata: { bench: 'sandbox-start' } });
  for (let i = 0; i < runs; i++) {
    const floor = await floorStart();
    floorReady.push(floor.readyMs);
    floorCpu.push(floor.cpuMs);
    floor.stop();

    const started = performance.now();
    const endpoint = await sandbox.startAgent({ agentId: `a${i}`, secret: 'bench-secret-0123456789' });
    agentReady.push(performance.now() - started);
    agentCpu.push((await readProcessCpuMs(endpoint.pid as number)) ?? Number.NaN);
    await sandbox.stopAgents();
  }
  await sandbox.kill();

  const manager = new SwarmManager({ provider, sandboxTimeoutMs: 120_000 });
  for (let i = 0; i < swarms; i++) {
    const started = performance.now();
    const floors = await Promise.all(Array.from({ length: agents }, () => floorStart()));
    floorSwarm.push(performance.now() - started);
    for (const floor of floors) floor.stop();

    try {
      const swarm = await manager.createSwarm('mesh', agents);
      swarmInit.push(swarm.timings.initMs);
      await swarm.destroy();
    } catch (error) {
      // A starved machine can miss a handshake or link deadline: counted and shown, not hidden.
      swarmFailures.push((error as Error).message);
    }
  }
  await manager.destroyAll();
} finally {
  await provider.killAll();
  await rm(scratch, { recursive: true, force: true });
}
const loadAfter = await loadAverage();

const ready = stats(agentReady);
const readyFloor = stats(floorReady);
const cpu = stats(agentCpu);
const cpuFloor = stats(floorCpu);
const swarm = swarmInit.length > 0 ? stats(swarmInit) : { p50: Number.NaN, p95: Number.NaN };
const swarmFloor = stats(floorSwarm);
const ms = (value: number): string => `${value.toFixed(0).padStart(6)} ms`;
const line = (name: string, ours: number, floor: number): string =>
  `  ${name.padEnd(34)} ${ms(ours)}   floor ${ms(floor)}   ${(ours / floor).toFixed(2)}x\n`;
process.stdout.write(
  `Agent start on the local provider (load average ${loadBefore} before, ${loadAfter} after)\n` +
    `  agent bundle                       ${(bundleBytes / 1024).toFixed(0).padStart(6)} KiB\n` +
    `  floor: node -e (prints a line) spawned as the provider spawns an agent\n` +
    line(`start to ready p50 (n = ${runs})`, ready.p50, readyFloor.p50) +
    line(`start to ready p95 (n = ${runs})`, ready.p95, readyFloor.p95) +
    line(`CPU to ready p50 (n = ${runs})`, cpu.p50, cpuFloor.p50) +
    `  ${agents}-agent mesh swarm set-up, create to linked; floor: ${agents} floor processes at once\n` +
    line(`set-up p50 (n = ${swarmInit.length})`, swarm.p50, swarmFloor.p50) +
    line(`set-up p95 (n = ${swarmInit.length})`, swarm.p95, swarmFloor.p95) +
    swarmFailures.map((message) => `  failed swarm set-up: ${message}\n`).join(''),
);
