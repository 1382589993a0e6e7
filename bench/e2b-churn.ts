/**
 * Sandbox churn through the local E2B, with the network's state at every dial
 * (`npx tsx bench/e2b-churn.ts [generations] [sandboxes] [dial-timeout-ms]`, default 8, 3, 10000).
 * Each generation creates `sandboxes` sandboxes with the real SDK (Pro limits, no pacing), starts
 * one agent in each and dials every agent at once through the TLS edge, ONE attempt each, then
 * talks to it for a moment (as a unit does) and kills the generation; the next one starts at once,
 * so freed bridge addresses come back on new veths (new MACs) seconds after their last traffic.
 * Before each dial it reads what the kernel holds: the host's neighbour entry for the sandbox's
 * address (state and MAC) against the sandbox interface's real MAC, the sandbox's entry for the
 * host against the bridge's MAC, and whether the bridge's own MAC changed since the last dial.
 * Prints every failed dial with that state, then a summary: dials, failures, reused addresses,
 * stale neighbour entries seen, bridge MAC changes.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { AGENT_BUNDLE, ensureAgentBundle } from '../bin/shared.ts';
import { startLocalE2B } from '../lib/e2b-local/server.ts';
import { E2BSandboxProvider } from '../lib/sandbox/e2b.ts';
import { AgentClient } from '../lib/swarm/client.ts';

const run = promisify(execFile);
const generations = Number(process.argv[2] ?? 8);
const perGeneration = Number(process.argv[3] ?? 3);
const dialTimeoutMs = Number(process.argv[4] ?? 10_000);
if (!(Number.isInteger(generations) && generations >= 1 && generations <= 100))
  throw new Error('generations must be 1..100');
if (!(Number.isInteger(perGeneration) && perGeneration >= 1 && perGeneration <= 20))
  throw new Error('sandboxes must be 1..20');

interface LinkJson {
  ifname: string;
  address?: string;
}
interface NeighJson {
  dst: string;
  lladdr?: string;
  state?: string[];
}

async function ipJson<T>(args: string[]): Promise<T[]> {
  const { stdout } = await run('ip', ['-j', ...args]).catch(() => ({ stdout: '[]' }));
  return (JSON.parse(stdout || '[]') as T[]) ?? [];
}

/** What the kernel holds for one sandbox right before it is dialled. */
async function snapshot(bridge: string, hostAddress: string, ns: string, address: string) {
  const [bridgeLink] = await ipJson<LinkJson>(['link', 'show', 'dev', bridge]);
  const [hostEntry] = await ipJson<NeighJson>(['neigh', 'show', 'to', address, 'dev', bridge]);
  const sandboxLinks = await ipJson<LinkJson>(['-n', ns, 'link', 'show']);
  const sandboxMac = sandboxLinks.find((link) => link.ifname !== 'lo')?.address;
  const [sandboxEntry] = await ipJson<NeighJson>(['-n', ns, 'neigh', 'show', 'to', hostAddress]);
  return {
    bridgeMac: bridgeLink?.address,
    sandboxMac,
    host: hostEntry ? `${hostEntry.state?.join(',') ?? '?'} ${hostEntry.lladdr ?? '-'}` : 'none',
    hostStale: hostEntry?.lladdr !== undefined && hostEntry.lladdr !== sandboxMac,
    sandbox: sandboxEntry ? `${sandboxEntry.state?.join(',') ?? '?'} ${sandboxEntry.lladdr ?? '-'}` : 'none',
    sandboxStale: sandboxEntry?.lladdr !== undefined && sandboxEntry.lladdr !== bridgeLink?.address,
  };
}

ensureAgentBundle();
const service = await startLocalE2B({
  apiKey: 'e2b_local_bench_0123456789',
  tier: 'pro',
  limits: { creationsPerSecond: 100 },
});
tls.setDefaultCACertificates([...tls.getCACertificates('default'), service.caPem]);
const provider = new E2BSandboxProvider({
  apiKey: service.apiKey,
  bundle: readFileSync(AGENT_BUNDLE, 'utf8'),
  tier: 'pro',
  creationRate: 100,
  maxConcurrent: perGeneration * 2,
  connection: { apiUrl: service.apiUrl, sandboxUrl: service.sandboxUrl, domain: service.domain },
});
const secret = 'churn-bench-secret';
const seen = new Set<string>();
let dials = 0;
let failures = 0;
let reused = 0;
let hostStale = 0;
let sandboxStale = 0;
let bridgeChanges = 0;
let lastBridgeMac: string | undefined;
const dialMs: number[] = [];
try {
  for (let g = 0; g < generations; g++) {
    const started = await Promise.all(
      Array.from({ length: perGeneration }, async (_, i) => {
        const sandbox = await provider.create({ timeoutMs: 300_000, metadata: { bench: 'churn' } });
        const endpoint = await sandbox.startAgent({ agentId: `g${g}a${i}`, secret });
        const net = service.sandboxNetwork(sandbox.id);
        if (net === undefined) throw new Error(`no network for ${sandbox.id}`);
        return { sandbox, endpoint, net };
      }),
    );
    await Promise.all(
      started.map(async ({ endpoint, net }) => {
        const state = await snapshot(service.bridge.name, service.bridge.hostAddress, net.ns, net.address);
        const again = seen.has(net.address);
        seen.add(net.address);
        if (again) reused++;
        if (state.hostStale) hostStale++;
        if (state.sandboxStale) sandboxStale++;
        if (lastBridgeMac !== undefined && state.bridgeMac !== lastBridgeMac) bridgeChanges++;
        lastBridgeMac = state.bridgeMac;
        dials++;
        const t0 = performance.now();
        try {
          const client = await AgentClient.connect(endpoint.agentId, endpoint.url, secret, dialTimeoutMs);
          dialMs.push(performance.now() - t0);
          // Traffic, as a unit makes: it keeps the neighbour entries confirmed (REACHABLE).
          for (let k = 0; k < 5; k++) await client.request({ op: 'health' });
          client.close();
        } catch (error) {
          failures++;
          const after = await snapshot(service.bridge.name, service.bridge.hostAddress, net.ns, net.address);
          console.log(
            `FAILED gen ${g} ${net.address}${again ? ' (reused)' : ''} after ${(performance.now() - t0).toFixed(0)} ms: ${(error as Error).message}\n` +
              `  before dial: host neigh ${state.host} vs sandbox MAC ${state.sandboxMac}; sandbox neigh for host ${state.sandbox} vs bridge ${state.bridgeMac}\n` +
              `  after:       host neigh ${after.host}; sandbox neigh ${after.sandbox}; bridge ${after.bridgeMac}`,
          );
        }
      }),
    );
    await Promise.all(started.map(({ sandbox }) => sandbox.kill()));
  }
} finally {
  await provider.killAll();
  const left = service.live();
  await service.close();
  if (left.length > 0) console.log(`LEAK: ${left.length} sandboxes live after the run`);
}
const sorted = [...dialMs].sort((a, b) => a - b);
console.log(
  `${generations} generations x ${perGeneration} sandboxes, one dial each (timeout ${dialTimeoutMs} ms); load ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
console.log(
  `dials ${dials}, failed ${failures}; to a reused address ${reused}; host neighbour entry with a wrong MAC at dial ${hostStale}; sandbox entry for the host with a wrong MAC ${sandboxStale}; bridge MAC changes ${bridgeChanges}`,
);
console.log(
  `successful dial ms median/max: ${(sorted[Math.floor(sorted.length / 2)] ?? 0).toFixed(0)}/${(sorted.at(-1) ?? 0).toFixed(0)}`,
);
