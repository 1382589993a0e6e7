/**
 * Where an agent connection through the local E2B's TLS edge spends its time
 * (`npx tsx bench/e2b-handshake.ts [sandboxes] [metrics-interval-ms]`, default 10 and 5000). Creates the sandboxes with the real
 * SDK against an in-process local E2B (Pro limits, so pacing does not interfere), starts one agent
 * in each, then opens every coordinator WebSocket at once, as a swarm's deployment does, and prints
 * per stage (DNS lookup, TCP connect, TLS handshake, HTTP upgrade answered) the median and maximum,
 * and this process's event-loop delay meanwhile (the edge, the SDK and the coordinator share that loop).
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import tls from 'node:tls';
import { WebSocket } from 'ws';
import { AGENT_BUNDLE, ensureAgentBundle } from '../bin/shared.ts';
import { credentialFor } from '../lib/agent/auth.ts';
import { ROLE_HEADER, SECRET_HEADER } from '../lib/agent/protocol.ts';
import { startLocalE2B } from '../lib/e2b-local/server.ts';
import { E2BSandboxProvider } from '../lib/sandbox/e2b.ts';
import type { AgentEndpoint } from '../lib/sandbox/types.ts';

const count = Number(process.argv[2] ?? 10);
// A shorter metrics interval makes the /proc sampling run during more handshakes (default E2B's 5 s).
const metricsIntervalMs = Number(process.argv[3] ?? 5_000);
const ROUNDS = 6;
if (!Number.isInteger(count) || count < 1 || count > 50) throw new Error('sandboxes must be 1..50');

interface Stages {
  lookup: number;
  connect: number;
  tls: number;
  upgrade: number;
}

/** Open one coordinator connection and time its stages from the moment the request is made. */
function timedHandshake(url: string, secret: string): Promise<Stages> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const at: Partial<Stages> = {};
    const ws = new WebSocket(url, {
      headers: { [SECRET_HEADER]: credentialFor(secret, 'coordinator'), [ROLE_HEADER]: 'coordinator' },
      perMessageDeflate: false,
      handshakeTimeout: 60_000,
    });
    const req = (ws as unknown as { _req: import('node:http').ClientRequest })._req;
    req.on('socket', (socket) => {
      socket.once('lookup', () => {
        at.lookup = performance.now() - start;
      });
      socket.once('connect', () => {
        at.connect = performance.now() - start;
      });
      socket.once('secureConnect', () => {
        at.tls = performance.now() - start;
      });
    });
    ws.once('open', () => {
      const upgrade = performance.now() - start;
      ws.terminate();
      resolve({
        lookup: at.lookup ?? 0,
        connect: at.connect ?? at.lookup ?? 0,
        tls: at.tls ?? at.connect ?? 0,
        upgrade,
      });
    });
    ws.once('error', reject);
  });
}

function summary(label: string, runs: Stages[]): string {
  const pick = (key: keyof Stages) => {
    const values = runs.map((r) => r[key]).sort((a, b) => a - b);
    const median = values[Math.floor(values.length / 2)] ?? 0;
    return `${key} ${median.toFixed(0)}/${(values.at(-1) ?? 0).toFixed(0)}`;
  };
  return `${label.padEnd(22)} ms median/max (cumulative): ${(['lookup', 'connect', 'tls', 'upgrade'] as const).map(pick).join(', ')}`;
}

ensureAgentBundle();
const service = await startLocalE2B({ apiKey: 'e2b_local_bench_0123456789', tier: 'pro', metricsIntervalMs });
tls.setDefaultCACertificates([...tls.getCACertificates('default'), service.caPem]);
const provider = new E2BSandboxProvider({
  apiKey: service.apiKey,
  bundle: readFileSync(AGENT_BUNDLE, 'utf8'),
  template: 'swarm-bench-agent',
  tier: 'pro',
  maxConcurrent: count,
  connection: { apiUrl: service.apiUrl, sandboxUrl: service.sandboxUrl, domain: service.domain },
});
const secret = 'handshake-bench-secret';
try {
  const creates: number[] = [];
  const agentStarts: number[] = [];
  const start = () =>
    Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const t0 = performance.now();
        const sandbox = await provider.create({ timeoutMs: 300_000, metadata: { bench: 'handshake' } });
        const t1 = performance.now();
        const endpoint = await sandbox.startAgent({ agentId: `a${i}`, secret });
        creates.push(t1 - t0);
        agentStarts.push(performance.now() - t1);
        return { sandbox, endpoint };
      }),
    );
  // A first generation, connected once and killed: the next one reuses its bridge addresses, as
  // the units of a run do one after another.
  const first = await start();
  const firstEdge = await Promise.all(first.map((s) => timedHandshake(s.endpoint.url, secret)));
  await Promise.all(first.map((s) => s.sandbox.kill()));
  const endpoints: AgentEndpoint[] = (await start()).map((s) => s.endpoint);
  // Several rounds spread over more than one metrics interval (5 s), so some meet a sample.
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const edge: Stages[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    edge.push(...(await Promise.all(endpoints.map((e) => timedHandshake(e.url, secret)))));
    await new Promise((resolve) => setTimeout(resolve, 1_300));
  }
  loop.disable();
  const edgeLoop = `${(loop.percentile(50) / 1e6).toFixed(0)}/${(loop.max / 1e6).toFixed(0)}`;
  console.log(
    `${count} sandboxes, one agent each, all handshakes at once, ${ROUNDS} rounds, metrics every ${metricsIntervalMs} ms; load ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  const mm = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return `${(sorted[Math.floor(sorted.length / 2)] ?? 0).toFixed(0)}/${(sorted.at(-1) ?? 0).toFixed(0)}`;
  };
  console.log(
    `SDK create (REST, netns, upload) ms median/max: ${mm(creates)}; agent start (envd process, ready line): ${mm(agentStarts)}`,
  );
  console.log(summary('first generation', firstEdge));
  console.log(summary('next generation', edge));
  console.log(`event-loop delay during the edge handshakes (ms median/max): ${edgeLoop}`);
} finally {
  await provider.killAll();
  const left = service.live();
  await service.close();
  if (left.length > 0) console.log(`LEAK: ${left.length} sandboxes live after the run`);
}
