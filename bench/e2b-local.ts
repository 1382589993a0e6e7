/**
 * The E2B provider against the local E2B vs the local provider, same run, same process
 * (`npm run bench:e2b-local -- [quick|default] [category...] [--tier hobby|pro] [--rate n]`,
 * default `quick creation`). Runs the profile once on each provider (local first, then E2B), each
 * through executeRun as `swarm-bench run` does, and prints:
 *   - wall time of each and the ratio E2B / local (goal: <= 1.5x on the quick profile), with the
 *     E2B run's creation time spent throttled (the tier's pacing and 429 backoff) taken out too,
 *     since that part is E2B's published limit, not our overhead;
 *   - 429s the local E2B answered and the provider retried, and units that failed (goal: none).
 * The rest of the overhead is the TLS edge (every agent connection goes through it), the SDK's
 * REST and Connect calls (create, file upload, process start), and a network namespace per sandbox.
 * Where the E2B side's time goes is printed too: per sandbox the SDK's create (REST; the local
 * E2B's own handling of it, namespace set-up included, shown apart), the agent upload, and per agent
 * the secret write, the process start through envd and the wait for the agent's ready line.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { Sandbox as SdkSandbox } from '@e2b/code-interpreter';
import { AGENT_BUNDLE, ensureAgentBundle } from '../bin/shared.ts';
import { describeMachine } from '../lib/bench/meta.ts';
import type { CategoryId } from '../lib/bench/model.ts';
import { creationRate, parseRunConfig, sandboxLimit } from '../lib/config.ts';
import { startLocalE2B } from '../lib/e2b-local/server.ts';
import { DirReportSink } from '../lib/publish/dir.ts';
import { executeRun } from '../lib/run.ts';
import {
  E2B_AGENT_PATH,
  type E2BSandboxInstance,
  E2BSandboxProvider,
  type E2BSdk,
} from '../lib/sandbox/e2b.ts';
import { E2B_TIERS, type E2BTier } from '../lib/sandbox/e2b-plans.ts';
import { LocalSandboxProvider } from '../lib/sandbox/local.ts';
import type { SandboxProvider } from '../lib/sandbox/types.ts';
import { openEmbeddedStore } from '../lib/store/embedded.ts';

const args = process.argv.slice(2);
const flag = (name: string) => {
  const at = args.indexOf(name);
  if (at < 0) return undefined;
  const value = args[at + 1];
  args.splice(at, 2);
  return value;
};
const tier = (flag('--tier') ?? 'hobby') as E2BTier;
if (!E2B_TIERS.includes(tier)) throw new Error(`--tier must be one of ${E2B_TIERS.join(', ')}`);
const rateFlag = flag('--rate');
const profile = (args[0] ?? 'quick') as 'quick' | 'default';
const categories = (args.length > 1 ? args.slice(1) : ['creation']) as CategoryId[];

ensureAgentBundle();
const base = await mkdtemp(join(os.tmpdir(), 'swarm-bench-e2b-bench-'));
const store = await openEmbeddedStore({ dir: join(base, 'store') });
const environment = { gitCommit: 'bench', nodeVersion: process.version, machine: describeMachine() };

async function timed(name: string, provider: SandboxProvider, config: ReturnType<typeof parseRunConfig>) {
  const start = performance.now();
  try {
    const outcome = await executeRun({
      config,
      provider,
      store: store.store,
      sink: new DirReportSink(join(base, name)),
      environment,
    });
    return { wallMs: performance.now() - start, results: outcome.results };
  } finally {
    await provider.killAll();
  }
}

/** Time spent in each E2B call the provider makes, in ms, one entry per call. */
const phases = {
  create: [] as number[],
  upload: [] as number[],
  secret: [] as number[],
  processStart: [] as number[],
  readyLine: [] as number[],
};

/** The real SDK, its calls timed (nothing else changes: same requests, same answers). */
function timedSdk(real: E2BSdk): E2BSdk {
  const wrap = (instance: E2BSandboxInstance): E2BSandboxInstance =>
    new Proxy(instance, {
      get(target, key) {
        if (key === 'files') {
          return {
            write: async (path: string, data: string) => {
              const t0 = performance.now();
              try {
                return await target.files.write(path, data);
              } finally {
                (path === E2B_AGENT_PATH ? phases.upload : phases.secret).push(performance.now() - t0);
              }
            },
          };
        }
        if (key === 'commands') {
          return {
            run: async (cmd: string, opts: Parameters<E2BSandboxInstance['commands']['run']>[1]) => {
              const t0 = performance.now();
              let ready = false;
              const handle = await target.commands.run(cmd, {
                ...opts,
                onStdout: (data) => {
                  if (!ready && data.includes('\n')) {
                    ready = true;
                    phases.readyLine.push(performance.now() - t0);
                  }
                  return opts.onStdout?.(data);
                },
              });
              phases.processStart.push(performance.now() - t0);
              return handle;
            },
          };
        }
        const value = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  return {
    create: async (template, opts) => {
      const t0 = performance.now();
      const instance = await real.create(template, opts);
      phases.create.push(performance.now() - t0);
      return wrap(instance);
    },
    list: (opts) => real.list(opts),
    kill: (id, opts) => real.kill(id, opts),
    connect: async (id, opts) => wrap(await real.connect(id, opts)),
  };
}

const common = { profile, categories, scenarios: false };
const localConfig = parseRunConfig({ ...common, provider: 'local' });
const local = await timed(
  'local',
  new LocalSandboxProvider({ bundlePath: AGENT_BUNDLE, passthroughEnv: { PATH: process.env.PATH ?? '' } }),
  localConfig,
);

const e2bConfig = parseRunConfig({
  ...common,
  provider: 'e2b',
  e2bTier: tier,
  ...(rateFlag === undefined ? {} : { e2bCreationRate: Number(rateFlag) }),
});
const service = await startLocalE2B({
  apiKey: 'e2b_local_bench_0123456789',
  tier,
  ...(rateFlag === undefined ? {} : { limits: { creationsPerSecond: Number(rateFlag) } }),
});
tls.setDefaultCACertificates([...tls.getCACertificates('default'), service.caPem]);
let e2b: Awaited<ReturnType<typeof timed>>;
let serviceStats: ReturnType<typeof service.stats> | undefined;
try {
  e2b = await timed(
    'e2b',
    new E2BSandboxProvider({
      apiKey: service.apiKey,
      bundle: readFileSync(AGENT_BUNDLE, 'utf8'),
      template: e2bConfig.template,
      tier,
      creationRate: creationRate(e2bConfig),
      maxConcurrent: sandboxLimit(e2bConfig),
      connection: { apiUrl: service.apiUrl, sandboxUrl: service.sandboxUrl, domain: service.domain },
      sdk: timedSdk(SdkSandbox),
    }),
    e2bConfig,
  );
} finally {
  serviceStats = service.stats();
  const left = service.live();
  await service.close();
  if (left.length > 0) console.log(`LEAK: ${left.length} sandboxes live after the run`);
}
await store.close();
await rm(base, { recursive: true, force: true });

const sum = (results: typeof e2b.results, pick: (r: (typeof e2b.results)[number]) => number) =>
  results.reduce((total, r) => total + pick(r), 0);
const throttled = sum(e2b.results, (r) => r.usage.creationThrottledMs ?? 0);
const retried = sum(e2b.results, (r) => r.usage.rateLimited ?? 0);
const failed = (results: typeof e2b.results) =>
  results
    .filter((r) => r.status === 'failed')
    .map((r) => `${r.unitId} (${r.error?.name}: ${r.error?.message})`);
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
console.log(
  `profile ${profile}, categories ${categories.join(',')}, E2B ${tier} at ${creationRate(e2bConfig)}/s; load ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
console.log(
  `local provider:        ${s(local.wallMs)} (${local.results.length} units, failed: ${failed(local.results).join(', ') || 'none'})`,
);
console.log(
  `e2b on the local E2B:  ${s(e2b.wallMs)} (${e2b.results.length} units, failed: ${failed(e2b.results).join(', ') || 'none'})`,
);
console.log(
  `  creation throttled:  ${s(throttled)} summed over ${sum(e2b.results, (r) => r.usage.sandboxesCreated)} sandboxes; 429s answered and retried: ${retried}`,
);
console.log(`ratio e2b / local:     ${(e2b.wallMs / local.wallMs).toFixed(2)}x (goal <= 1.5x)`);
const total = (values: number[]) => values.reduce((a, b) => a + b, 0);
const spread = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return `n ${values.length}, total ${s(total(values))}, median ${(sorted[Math.floor(sorted.length / 2)] ?? 0).toFixed(0)} ms, max ${(sorted.at(-1) ?? 0).toFixed(0)} ms`;
};
console.log('E2B side, per call (summed over calls that may overlap):');
console.log(`  SDK create (REST):        ${spread(phases.create)}`);
if (serviceStats) {
  console.log(
    `    of which the local E2B:  ${s(serviceStats.createHandlingMs)} handling creates; namespaces ${serviceStats.namespacesFromSpare} ready, ` +
      `${serviceStats.namespacesOnDemand} made while a create waited; ${s(serviceStats.namespaceSetupMs)} making namespaces in all`,
  );
}
console.log(`  agent upload:             ${spread(phases.upload)}`);
console.log(`  agent secret write:       ${spread(phases.secret)}`);
console.log(`  agent process start:      ${spread(phases.processStart)}`);
console.log(`  agent ready line:         ${spread(phases.readyLine)} (from the start call)`);
// Where the difference lies, unit by unit: each unit's own duration on both providers and the E2B
// unit's creation time spent throttled (summed over its sandboxes, so it can exceed the unit's wall
// time when creations wait side by side). Run with --tier pro to see the ratio with little pacing;
// bench/e2b-handshake.ts times the TLS edge's stages on their own.
const byUnit = new Map(local.results.map((r) => [r.unitId, r]));
for (const r of e2b.results) {
  const l = byUnit.get(r.unitId);
  console.log(
    `  ${r.unitId.padEnd(40)} local ${s(l?.durationMs ?? 0).padStart(8)}  e2b ${s(r.durationMs).padStart(8)}  throttled ${s(r.usage.creationThrottledMs ?? 0).padStart(8)}  ${l ? `${(r.durationMs / l.durationMs).toFixed(2)}x` : ''}`,
  );
}
