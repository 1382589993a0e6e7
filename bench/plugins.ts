/**
 * Plug-in overhead (`npm run bench:plugins`, not part of `npm test`): the round trip of a strategy
 * call to one agent, built-in momentum against the same momentum code as a plug-in (in its worker
 * thread, behind the plug-in interface), interleaved call by call on the same agent and windows so
 * machine noise hits both alike. The floor is the built-in's round trip; the goal is a plug-in
 * round trip at most 1.1x of it (medians). Writes raw samples to bench/results/plugins-latest.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPluginBundle } from '../lib/plugins/bundle.ts';
import { LocalSandboxProvider } from '../lib/sandbox/local.ts';
import { SwarmManager } from '../lib/swarm/manager.ts';
import { generateBars } from '../lib/trading/market.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS = join(ROOT, 'bench/results/plugins-latest.json');
const WARMUP = 300;
const ROUNDS = 2000;
const WINDOW_BARS = 500;
const GOAL = 1.1;

const bundle = await buildPluginBundle({
  root: ROOT,
  outDir: join(ROOT, '.swarm-bench/plugins'),
  modules: [{ path: join(ROOT, 'bench/fixtures/momentum-plugin.ts'), kind: 'strategy', flag: '--strategy' }],
});
const provider = new LocalSandboxProvider({ bundlePath: bundle.path });
const manager = new SwarmManager({ provider });
const bars = generateBars({ bars: WINDOW_BARS + 1000, seed: 7 });
const samples = {
  builtin: [] as number[],
  plugin: [] as number[],
  builtinComputeUs: [] as number[],
  pluginComputeUs: [] as number[],
};
try {
  const swarm = await manager.createSwarm('mesh', 1, {
    strategies: ['momentum'],
    pluginStrategies: ['momentum-plugin'],
  });
  for (let i = 0; i < WARMUP + ROUNDS; i++) {
    const window = bars.slice(i % 1000, (i % 1000) + WINDOW_BARS);
    // Alternate which goes first, so neither always follows the other.
    const order =
      i % 2 === 0 ? (['momentum', 'momentum-plugin'] as const) : (['momentum-plugin', 'momentum'] as const);
    for (const strategy of order) {
      const start = performance.now();
      const result = await swarm.execute(0, window, strategy);
      const ms = performance.now() - start;
      if (i < WARMUP) continue;
      if (strategy === 'momentum') {
        samples.builtin.push(ms);
        samples.builtinComputeUs.push(result.computeUs);
      } else {
        samples.plugin.push(ms);
        samples.pluginComputeUs.push(result.computeUs);
      }
    }
  }
} finally {
  await manager.destroyAll();
  await provider.killAll();
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
};
const builtin = quantile(samples.builtin, 0.5);
const plugin = quantile(samples.plugin, 0.5);
const ratio = plugin / builtin;
const lines = [
  `machine: ${cpus().length} x ${cpus()[0]?.model.trim()}, load ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
  `${ROUNDS} interleaved calls each, ${WINDOW_BARS}-bar windows, one local agent`,
  `built-in momentum        round trip p50 ${(builtin * 1000).toFixed(0)} us  p95 ${(quantile(samples.builtin, 0.95) * 1000).toFixed(0)} us  compute p50 ${quantile(samples.builtinComputeUs, 0.5).toFixed(0)} us`,
  `momentum as a plug-in    round trip p50 ${(plugin * 1000).toFixed(0)} us  p95 ${(quantile(samples.plugin, 0.95) * 1000).toFixed(0)} us  compute p50 ${quantile(samples.pluginComputeUs, 0.5).toFixed(0)} us (in its worker)`,
  `plug-in / built-in round trip (p50): ${ratio.toFixed(3)}x  goal <= ${GOAL}x  ${ratio <= GOAL ? 'PASS' : 'MISS'}`,
];
process.stdout.write(`${lines.join('\n')}\n`);
mkdirSync(dirname(RESULTS), { recursive: true });
writeFileSync(RESULTS, JSON.stringify({ lines, ratio, samples, bundleSha256: bundle.sha256 }, null, 1));
