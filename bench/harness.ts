/**
 * The harness's own timing overhead per sample: what ctx.time() and a series recorder add to a
 * measurement, against a bare monotonic-clock read around the same empty operation, in one run.
 * Goal: < 1 microsecond per sample. Run with `npm run bench:harness`.
 */
import os from 'node:os';
import { BenchContext } from '../lib/bench/context.ts';
import { PROFILE_PARAMS } from '../lib/bench/profiles.ts';
import type { SandboxProvider } from '../lib/sandbox/types.ts';
import type { SwarmManager } from '../lib/swarm/manager.ts';

const SAMPLES = 1_000_000;
const ROUNDS = 5;

function context(): BenchContext {
  return new BenchContext({
    runId: 'bench',
    unitId: 'bench/harness',
    params: PROFILE_PARAMS.quick,
    seed: 1,
    manager: {} as SwarmManager,
    provider: {} as SandboxProvider,
    resources: { vcpu: 2, memoryMb: 512 },
    agentsPerSandbox: 1,
    now: () => performance.now(),
    wallClock: Date.now,
    signal: new AbortController().signal,
    deadlineAt: Number.POSITIVE_INFINITY,
    injectedDelayMs: 0,
    log: () => {},
  });
}

const noop = async (): Promise<void> => {};

/** The floor: read the clock, await the same empty async operation, read the clock, keep the number. */
async function floor(): Promise<number> {
  const kept = new Float64Array(SAMPLES);
  const start = performance.now();
  for (let i = 0; i < SAMPLES; i++) {
    const t0 = performance.now();
    await noop();
    kept[i] = performance.now() - t0;
  }
  return ((performance.now() - start) * 1000) / SAMPLES;
}

/** Ours: ctx.time() around the same operation, recorded into a series (warm-up flag checked). */
async function harness(): Promise<number> {
  const ctx = context();
  const series = ctx.series('x', 'ms');
  const start = performance.now();
  for (let i = 0; i < SAMPLES; i++) series.record(await ctx.time(noop), false);
  return ((performance.now() - start) * 1000) / SAMPLES;
}

const floors: number[] = [];
const ours: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  floors.push(await floor());
  ours.push(await harness());
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const f = median(floors);
const o = median(ours);
const overhead = o - f;
process.stdout.write(
  [
    `machine: ${os.cpus().length} cpus, ${os.cpus()[0]?.model.trim()}, node ${process.version}`,
    `floor (clock + await + store), per sample:   ${f.toFixed(3)} us`,
    `harness (ctx.time + series.record), per sample: ${o.toFixed(3)} us  (${(o / f).toFixed(2)}x the floor)`,
    `harness overhead per sample: ${overhead.toFixed(3)} us  goal < 1 us: ${overhead < 1 ? 'PASS' : 'MISS'}`,
    '',
  ].join('\n'),
);
