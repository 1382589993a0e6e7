/**
 * Wall time of a full profile on the local provider (goal for `default`: under 5 minutes on a
 * 2-core machine; the guide's suite takes about 45). `npm run bench:suite -- [profile]`.
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { buildPlan } from '../lib/bench/plan.ts';
import { runUnits } from '../lib/bench/runner.ts';
import { parseRunConfig } from '../lib/config.ts';
import { LocalSandboxProvider } from '../lib/sandbox/local.ts';

const profile = process.argv[2] ?? 'default';
const config = parseRunConfig({ profile });
const plan = buildPlan(config);
const provider = new LocalSandboxProvider({
  bundlePath: fileURLToPath(new URL('../dist/agent.cjs', import.meta.url)),
  ...(process.env.PATH ? { passthroughEnv: { PATH: process.env.PATH } } : {}),
});
const start = performance.now();
try {
  const { results } = await runUnits(plan.units, { runId: 'bench-suite', config, provider });
  const seconds = (performance.now() - start) / 1000;
  const usage = provider.usage();
  process.stdout.write(
    [
      `machine: ${os.cpus().length} cpus, ${os.cpus()[0]?.model.trim()}, node ${process.version}, load ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
      `profile ${profile}: ${results.length} units (${results.filter((r) => r.status !== 'ok').length} not ok) in ${seconds.toFixed(1)} s`,
      `sandboxes created: ${usage.created}, sandbox-seconds: ${usage.sandboxSeconds.toFixed(0)}`,
      profile === 'default'
        ? `goal < 300 s: ${seconds < 300 ? 'PASS' : 'MISS'} (${(seconds / 2700).toFixed(3)}x the guide's ~45 min)`
        : '',
      '',
    ].join('\n'),
  );
} finally {
  await provider.killAll();
}
