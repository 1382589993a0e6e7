/**
 * The E2B provider against the local E2B vs the local provider, same run, same process
 * (`npm run bench:e2b-local -- [quick|default] [category...] [--tier hobby|pro] [--rate n]
 * [--template-has-bundle] [--agents-per-sandbox k]`, default `quick creation`, Hobby, the agent uploaded to every sandbox;
 * with --template-has-bundle the template holds it, as a team's built template does). Runs the profile once on each provider (local first, then E2B), each
 * through executeRun as `swarm-bench run` does, and prints:
 *   - wall time of each and the ratio E2B / local (goal: <= 1.5x on the quick profile), with the
 *     E2B run's creation time spent throttled (the tier's pacing and 429 backoff) taken out too,
 *     since that part is E2B's published limit, not our overhead;
 *   - 429s the local E2B answered and the provider retried, and units that failed (goal: none).
 * The rest of the overhead is the TLS edge (every agent connection goes through it), the SDK's
 * REST and Connect calls (create, file upload, process start), and a network namespace per sandbox.
 * Where the E2B side's time goes is printed too: per sandbox the SDK's create (REST; the local
 * E2B's own handling of it, namespace set-up included, shown apart), the agent upload, and per agent
 * the process start through envd, the secret sent to its stdin and the wait for its ready line, each
 * split at the hops the local E2B reports (request arrived, answered, process spawned, its first
 * output), so the SDK and TLS edge's share is told from the namespace's and node's.
 * Last, the creation-rate floor: the sandboxes this run created at the tier's pace, against the local
 * run's wall time, and how many agents per sandbox (packing) would bring the floor within the goal.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { Sandbox as SdkSandbox } from '@e2b/code-interpreter';
import { AGENT_BUNDLE, ensureAgentBundle } from '../bin/shared.ts';
import { creationFloorMs, packingToMeet } from '../lib/bench/e2b-limits.ts';
import { describeMachine } from '../lib/bench/meta.ts';
import type { CategoryId } from '../lib/bench/model.ts';
import { creationRate, parseRunConfig } from '../lib/config.ts';
import { LOCAL_TEMPLATES, type LocalE2BTraceEvent, startLocalE2B } from '../lib/e2b-local/server.ts';
import { DirReportSink } from '../lib/publish/dir.ts';
import { executeRun } from '../lib/run.ts';
import {
  E2B_AGENT_PATH,
  type E2BSandboxInstance,
  E2BSandboxProvider,
  type E2BSdk,
} from '../lib/sandbox/e2b.ts';
import { E2B_TIERS, type E2BTier, pacedCreationRate } from '../lib/sandbox/e2b-plans.ts';
import { e2bRunOptions } from '../lib/sandbox/e2b-run.ts';
import { LocalSandboxProvider } from '../lib/sandbox/local.ts';
import type { AgentLaunch, Sandbox, SandboxCreateOptions, SandboxProvider } from '../lib/sandbox/types.ts';
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
const packFlag = flag('--agents-per-sandbox');
const hasBundleAt = args.indexOf('--template-has-bundle');
const templateHasBundle = hasBundleAt >= 0;
if (templateHasBundle) args.splice(hasBundleAt, 1);
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

/** Per-sandbox create and per-agent start as the run sees them (either provider), in ms. */
function timedProvider(provider: SandboxProvider, into: { create: number[]; startAgent: number[] }) {
  const wrapSandbox = (sandbox: Sandbox): Sandbox =>
    new Proxy(sandbox, {
      get(target, key) {
        if (key === 'startAgent') {
          return async (launch: AgentLaunch) => {
            const t0 = performance.now();
            const endpoint = await target.startAgent(launch);
            into.startAgent.push(performance.now() - t0);
            return endpoint;
          };
        }
        const value = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  return new Proxy(provider, {
    get(target, key) {
      if (key === 'create') {
        return async (options: SandboxCreateOptions) => {
          const t0 = performance.now();
          const sandbox = await target.create(options);
          // Creation latency proper: what the sandbox spent waiting for the tier's pace is E2B's limit.
          into.create.push(performance.now() - t0 - (sandbox.throttledMs ?? 0));
          return wrapSandbox(sandbox);
        };
      }
      const value = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** One SDK call: when it was made and answered, and on which sandbox (and process). */
interface SdkCall {
  kind: 'create' | 'upload' | 'start';
  sandboxId: string;
  t0: number;
  t1: number;
  pid?: number;
  /** The agent's ready line reached the SDK's onStdout (start only). */
  ready?: number;
  /** The secret written to the agent's stdin was acknowledged (start only). */
  stdinSent?: number;
}
const calls: SdkCall[] = [];

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
                calls.push({ kind: 'upload', sandboxId: target.sandboxId, t0, t1: performance.now() });
              }
            },
          };
        }
        if (key === 'commands') {
          return {
            run: async (cmd: string, opts: Parameters<E2BSandboxInstance['commands']['run']>[1]) => {
              const call: SdkCall = {
                kind: 'start',
                sandboxId: target.sandboxId,
                t0: performance.now(),
                t1: 0,
              };
              calls.push(call);
              const handle = await target.commands.run(cmd, {
                ...opts,
                onStdout: (data) => {
                  if (call.ready === undefined && data.includes('\n')) call.ready = performance.now();
                  return opts.onStdout?.(data);
                },
              });
              call.t1 = performance.now();
              call.pid = handle.pid;
              return new Proxy(handle, {
                get(h, key) {
                  if (key === 'sendStdin') {
                    return async (data: string) => {
                      await h.sendStdin(data);
                      call.stdinSent = performance.now();
                    };
                  }
                  const value = Reflect.get(h, key, h);
                  return typeof value === 'function' ? value.bind(h) : value;
                },
              });
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
      calls.push({ kind: 'create', sandboxId: instance.sandboxId, t0, t1: performance.now() });
      return wrap(instance);
    },
    list: (opts) => real.list(opts),
    kill: (id, opts) => real.kill(id, opts),
    connect: async (id, opts) => wrap(await real.connect(id, opts)),
  };
}

const common = {
  profile,
  categories,
  scenarios: false,
  ...(packFlag === undefined ? {} : { agentsPerSandbox: Number(packFlag) }),
};
const localConfig = parseRunConfig({ ...common, provider: 'local' });
const localSteps = { create: [] as number[], startAgent: [] as number[] };
const local = await timed(
  'local',
  timedProvider(
    new LocalSandboxProvider({ bundlePath: AGENT_BUNDLE, passthroughEnv: { PATH: process.env.PATH ?? '' } }),
    localSteps,
  ),
  localConfig,
);

const e2bConfig = parseRunConfig({
  ...common,
  provider: 'e2b',
  e2bTier: tier,
  ...(rateFlag === undefined ? {} : { e2bCreationRate: Number(rateFlag) }),
});
const hops: LocalE2BTraceEvent[] = [];
const service = await startLocalE2B({
  apiKey: 'e2b_local_bench_0123456789',
  tier,
  ...(rateFlag === undefined ? {} : { limits: { creationsPerSecond: Number(rateFlag) } }),
  // The agent template as scripts/build-e2b-template.ts builds it: this build's agent baked in.
  templates: {
    ...LOCAL_TEMPLATES,
    [e2bConfig.template]: { cpuCount: 2, memoryMB: 512, files: { [E2B_AGENT_PATH]: AGENT_BUNDLE } },
  },
  trace: (event) => hops.push(event),
});
tls.setDefaultCACertificates([...tls.getCACertificates('default'), service.caPem]);
const e2bSteps = { create: [] as number[], startAgent: [] as number[] };
let e2b: Awaited<ReturnType<typeof timed>>;
let serviceStats: ReturnType<typeof service.stats> | undefined;
try {
  e2b = await timed(
    'e2b',
    timedProvider(
      new E2BSandboxProvider({
        ...e2bRunOptions(e2bConfig, {
          apiKey: service.apiKey,
          bundle: readFileSync(AGENT_BUNDLE, 'utf8'),
          templateHasBundle,
          connection: { apiUrl: service.apiUrl, sandboxUrl: service.sandboxUrl, domain: service.domain },
        }),
        sdk: timedSdk(SdkSandbox),
      }),
      e2bSteps,
    ),
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
const created = sum(e2b.results, (r) => r.usage.sandboxesCreated);
const failed = (results: typeof e2b.results) =>
  results
    .filter((r) => r.status === 'failed')
    .map((r) => `${r.unitId} (${r.error?.name}: ${r.error?.message})`);
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const rate = creationRate(e2bConfig);
console.log(
  `profile ${profile}, categories ${categories.join(',')}, E2B ${tier} at ${rate}/s, agent ${
    templateHasBundle ? 'in the template' : 'uploaded to every sandbox'
  }; load ${os
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
  `  creation throttled:  ${s(throttled)} summed over ${created} sandboxes; 429s answered and retried: ${retried}` +
    (serviceStats
      ? ` (the local E2B answered ${serviceStats.rateLimited} for the rate, ${serviceStats.concurrencyLimited} for concurrency)`
      : ''),
);
console.log(`ratio e2b / local:     ${(e2b.wallMs / local.wallMs).toFixed(2)}x (goal <= 1.5x)`);

const median = (values: number[]) => {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : (sorted[Math.floor(sorted.length / 2)] as number);
};
const ms = (value: number) => `${Number.isNaN(value) ? '-' : value.toFixed(0)} ms`.padStart(8);
const spread = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return `n ${String(values.length).padStart(3)}, median ${ms(median(values))}, max ${ms(sorted.at(-1) ?? Number.NaN)}`;
};
console.log('per sandbox and per agent, as the run sees them (throttling excluded from create):');
console.log(`  create    local ${spread(localSteps.create)}   e2b ${spread(e2bSteps.create)}`);
console.log(`  start     local ${spread(localSteps.startAgent)}   e2b ${spread(e2bSteps.startAgent)}`);

// The SDK's calls split at the hops the local E2B reported: medians over calls, in ms.
const hopAt = (hop: LocalE2BTraceEvent['hop'], sandboxId: string, detail?: (d: string) => boolean) =>
  hops.find(
    (e) => e.hop === hop && e.sandboxId === sandboxId && (detail === undefined || detail(e.detail ?? '')),
  )?.at ?? Number.NaN;
const row = (label: string, parts: Array<[string, number[]]>) =>
  console.log(
    `  ${label.padEnd(22)}${parts.map(([name, values]) => `${name} ${ms(median(values))}`).join(' | ')}`,
  );
const of = (kind: SdkCall['kind']) => calls.filter((call) => call.kind === kind);
console.log(
  'E2B side, hop by hop (medians; "to ..." includes the SDK, the TLS edge and this loop\'s delay):',
);
{
  const c = of('create');
  const recv = c.map((x) => hopAt('create-received', x.sandboxId));
  const ans = c.map((x) => hopAt('create-answered', x.sandboxId));
  row(`SDK create (n ${c.length})`, [
    ['whole', c.map((x) => x.t1 - x.t0)],
    ['to the API', c.map((x, i) => (recv[i] as number) - x.t0)],
    ['local E2B (namespace, dir)', c.map((_, i) => (ans[i] as number) - (recv[i] as number))],
    ['back to the SDK', c.map((x, i) => x.t1 - (ans[i] as number))],
  ]);
}
{
  const c = of('upload');
  const isUpload = (d: string) => d === E2B_AGENT_PATH;
  const recv = c.map((x) => hopAt('files-received', x.sandboxId, isUpload));
  const done = c.map((x) => hopAt('files-written', x.sandboxId, isUpload));
  if (c.length > 0)
    row(`agent upload (n ${c.length})`, [
      ['whole', c.map((x) => x.t1 - x.t0)],
      ['to the edge', c.map((x, i) => (recv[i] as number) - x.t0)],
      ['body and write', c.map((_, i) => (done[i] as number) - (recv[i] as number))],
      ['back to the SDK', c.map((x, i) => x.t1 - (done[i] as number))],
    ]);
}
{
  const c = of('start');
  const byPid = (hop: LocalE2BTraceEvent['hop'], x: SdkCall) =>
    hopAt(hop, x.sandboxId, (d) => d === String(x.pid));
  row(`process start (n ${c.length})`, [
    ['to envd', c.map((x) => byPid('process-received', x) - x.t0)],
    ['spawn', c.map((x) => byPid('process-spawned', x) - byPid('process-received', x))],
    ['start event to the SDK', c.map((x) => x.t1 - byPid('process-spawned', x))],
    ['secret on stdin acknowledged', c.map((x) => (x.stdinSent ?? Number.NaN) - x.t1)],
  ]);
  row('  then to ready', [
    [
      'spawned to first output (netns exec, bash -l, node boot, listen)',
      c.map((x) => byPid('process-first-output', x) - byPid('process-spawned', x)),
    ],
    ['first output to the SDK', c.map((x) => (x.ready ?? Number.NaN) - byPid('process-first-output', x))],
    ['whole (run() to ready line)', c.map((x) => (x.ready ?? Number.NaN) - x.t0)],
  ]);
}
if (serviceStats) {
  console.log(
    `  namespaces: ${serviceStats.namespacesReused} reused from ended sandboxes, ${serviceStats.namespacesFromSpare} ready ahead, ${serviceStats.namespacesOnDemand} made while a create waited; ` +
      `${s(serviceStats.namespaceSetupMs)} making them in all`,
  );
}

// The tier's creation rate is a floor no overhead of ours can lower (the provider sends creations at
// the tier's rate less its margin); packing k agents per sandbox divides the creations by about k.
const paced = pacedCreationRate(rate);
const floorMs = creationFloorMs(created, paced);
const budgetMs = 1.5 * local.wallMs;
const packing = packingToMeet(created * e2bConfig.agentsPerSandbox, budgetMs, paced);
console.log(
  `creation-rate floor at ${tier}: ${created} sandboxes at ${paced.toFixed(2)}/s take ${s(floorMs)}; 1.5x the local run is ${s(budgetMs)}, ` +
    `so the floor alone is ${floorMs < budgetMs ? 'within' : 'beyond'} it. ` +
    (packing === undefined
      ? 'No packing up to 16 agents per sandbox brings it within.'
      : `At ${packing} agent(s) per sandbox (--agents-per-sandbox) the floor is ${s(creationFloorMs(Math.ceil((created * e2bConfig.agentsPerSandbox) / packing), paced))}.`),
);

// Where the difference lies, unit by unit: each unit's own duration on both providers and the E2B
// unit's creation time spent throttled (summed over its sandboxes, so it can exceed the unit's wall
// time when creations wait side by side). bench/e2b-handshake.ts times the TLS edge's stages on their own.
const byUnit = new Map(local.results.map((r) => [r.unitId, r]));
for (const r of e2b.results) {
  const l = byUnit.get(r.unitId);
  console.log(
    `  ${r.unitId.padEnd(40)} local ${s(l?.durationMs ?? 0).padStart(8)}  e2b ${s(r.durationMs).padStart(8)}  throttled ${s(r.usage.creationThrottledMs ?? 0).padStart(8)}  ${l ? `${(r.durationMs / l.durationMs).toFixed(2)}x` : ''}`,
  );
}
