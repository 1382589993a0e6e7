/**
 * A local E2B: the REST API the E2B SDK calls (create, connect, list, kill, timeout, metrics), envd
 * (health, files, processes over the Connect protocol) and the edge that routes
 * `<port>-<sandboxId>.<domain>` to a sandbox's port over TLS, WebSockets included. Sandboxes are
 * process trees in their own network namespace and directory (see sandbox.ts, netns.ts). It is as
 * strict as the service: plan limits answer 429 without Retry-After, a timeout above the session
 * maximum 400, an unknown template 404, a wrong key 401; setTimeout is capped at start + the
 * session maximum; sandboxes end at their timeout; metrics appear every interval, empty at first.
 *
 * Everything listens on 127.0.0.1 (ephemeral ports) and on the bridge address it created for its
 * sandboxes; nothing else.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Socket as UdpSocket } from 'node:dgram';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, connect as netConnect, type Socket } from 'node:net';
import { dirname, join, normalize } from 'node:path';
import { z } from 'zod';
import { CreationWindow, E2B_PLANS, type E2BPlanLimits, type E2BTier } from '../sandbox/e2b-plans.ts';
import {
  ConnectError,
  ConnectStream,
  decodeRequest,
  readBody,
  sendUnary,
  sendUnaryError,
} from './connect.ts';
import { startDns } from './dns.ts';
import { NamespaceNetwork, type SandboxNetwork } from './netns.ts';
import {
  LocalSandbox,
  newSandboxId,
  type ProcessListener,
  readProcessTable,
  type SandboxProcess,
} from './sandbox.ts';
import { makeEdgeCertificates } from './tls.ts';

/** envd's port, where the SDK sends file and process calls. */
export const ENVD_PORT = 49983;
/** The envd version this local E2B claims: octet-stream uploads and closeStdin are supported. */
const ENVD_VERSION = '0.5.7';
const MAX_UPLOAD_BYTES = 64 * 1024 * 1024;
/** E2B's default sandbox life when the create request sets none. */
const DEFAULT_TIMEOUT_S = 15;
const MAX_PAGE = 100;

/** A template the local E2B can start: the host's filesystem with these sizes. */
export interface LocalTemplate {
  cpuCount: number;
  memoryMB: number;
  /**
   * Files baked into the template, as a Dockerfile COPY would: sandbox path (under /home or /tmp)
   * to the host file copied there when each sandbox is created.
   */
  files?: Record<string, string>;
}

/** Templates known by default: the one scripts/build-e2b-template.ts builds, and E2B's base. */
export const LOCAL_TEMPLATES: Readonly<Record<string, LocalTemplate>> = Object.freeze({
  'swarm-bench-agent': { cpuCount: 2, memoryMB: 512 },
  base: { cpuCount: 2, memoryMB: 512 },
});

/** Options of startLocalE2B. */
export interface LocalE2BOptions {
  /** The one API key accepted (X-API-KEY); anything else is 401. */
  apiKey: string;
  /** Plan whose limits are enforced. @default 'hobby' */
  tier?: E2BTier;
  /** Overrides of the tier's limits (tests lower them). */
  limits?: Partial<E2BPlanLimits>;
  /** How often metrics are sampled; E2B samples every 5 s. @default 5_000 */
  metricsIntervalMs?: number;
  /** Templates by name or id. @default LOCAL_TEMPLATES */
  templates?: Record<string, LocalTemplate>;
  /** Where sandbox directories and the CA live. @default a new directory under /tmp */
  rootDir?: string;
  /** Sandbox domain (host part). @default 'e2b.localhost' */
  domain?: string;
  /** Namespaces kept ready ahead of demand (E2B keeps VMs warm). @default 2 */
  spareNamespaces?: number;
  /**
   * Namespaces of ended sandboxes kept for new ones, as E2B's orchestrator reuses network slots
   * (it keeps up to 100). 0 deletes every namespace with its sandbox. @default 100
   */
  reusedNamespaces?: number;
  /** Directory of the node binary sandboxes get first on PATH (the template's Node.js). @default this process's */
  nodeBinDir?: string;
  /** Told at each hop of a request (profiling: bench/e2b-local.ts); `at` is performance.now(). */
  trace?: (event: LocalE2BTraceEvent) => void;
}

/** One hop of a request through the local E2B. */
export interface LocalE2BTraceEvent {
  hop:
    | 'create-received'
    | 'create-answered'
    | 'files-received'
    | 'files-written'
    | 'process-received'
    | 'process-spawned'
    | 'process-first-output';
  sandboxId: string;
  at: number;
  /** The file path (files hops) or the process id (process hops). */
  detail?: string;
}

/** A running local E2B. */
export interface LocalE2B {
  readonly apiKey: string;
  /** Carried by every namespace and link this instance makes (leak checks). */
  readonly instanceId: string;
  /** REST API base (plain HTTP on the loopback). */
  readonly apiUrl: string;
  /** The edge: TLS, routes `<port>-<id>.<domain>` and envd calls carrying E2b-Sandbox-Id. */
  readonly sandboxUrl: string;
  /** Domain with the edge's port, as getHost() builds hosts from it. */
  readonly domain: string;
  /** The CA the edge's certificate is signed by. */
  readonly caPath: string;
  readonly caPem: string;
  /** Environment for a client process (the SDK and the swarm-bench CLI). */
  env(): Record<string, string>;
  /** Ids of running sandboxes. */
  live(): string[];
  /** The bridge the sandboxes hang on, and the host's address on it (diagnostics and tests). */
  readonly bridge: { name: string; hostAddress: string };
  /** A running sandbox's namespace and bridge address (diagnostics and tests). */
  sandboxNetwork(sandboxId: string): SandboxNetwork | undefined;
  /** Resolves once every killed sandbox's namespace and directory are gone (a kill answers before that). */
  tornDown(): Promise<void>;
  /** Counters since start. */
  stats(): {
    created: number;
    killed: number;
    expired: number;
    rateLimited: number;
    concurrencyLimited: number;
    /** Time POST /v2/sandboxes spent making sandboxes (directory, namespace), summed; 429s excluded. */
    createHandlingMs: number;
    /** Namespaces handed out ready (made ahead) and made while a create waited, and the time spent making them. */
    namespacesFromSpare: number;
    namespacesOnDemand: number;
    /** Namespaces ended sandboxes left, given to new ones. */
    namespacesReused: number;
    namespaceSetupMs: number;
  };
  /** Kill every sandbox, remove every namespace and directory, stop listening. */
  close(): Promise<void>;
}

interface State {
  options: Required<
    Omit<LocalE2BOptions, 'limits' | 'tier' | 'rootDir' | 'spareNamespaces' | 'reusedNamespaces' | 'trace'>
  > & {
    limits: E2BPlanLimits;
  };
  rootDir: string;
  network: NamespaceNetwork;
  sandboxes: Map<string, LocalSandbox>;
  timers: Map<string, NodeJS.Timeout>;
  /** Sandboxes being torn down (namespace and directory removal). */
  teardowns: Set<Promise<void>>;
  pending: number;
  creations: CreationWindow;
  stats: Omit<
    ReturnType<LocalE2B['stats']>,
    'namespacesFromSpare' | 'namespacesOnDemand' | 'namespacesReused' | 'namespaceSetupMs'
  >;
  caPath: string;
  domain: string;
  closing: boolean;
  trace: Trace;
}

type Trace = (hop: LocalE2BTraceEvent['hop'], sandboxId: string, detail?: string, at?: number) => void;

/** Start a local E2B on ephemeral ports. Needs root (network namespaces) and openssl. */
export async function startLocalE2B(options: LocalE2BOptions): Promise<LocalE2B> {
  if (typeof options.apiKey !== 'string' || options.apiKey.length < 8) {
    throw new Error('local E2B: apiKey must be a string of at least 8 characters');
  }
  const limits = { ...E2B_PLANS[options.tier ?? 'hobby'], ...(options.limits ?? {}) };
  const id = randomBytes(3)
    .toString('hex')
    .slice(0, 4)
    .replace(/^[0-9]/, 'a');
  const rootDir = options.rootDir ?? (await mkdtemp('/tmp/e2b-local-'));
  await mkdir(join(rootDir, 'sandboxes'), { recursive: true });
  const domainHost = options.domain ?? 'e2b.localhost';
  const network = await NamespaceNetwork.create(id);
  const closers: Array<() => Promise<void>> = [() => network.close()];
  const close = async () => {
    for (const closer of closers.reverse()) await closer().catch(() => undefined);
  };
  try {
    const certs = await makeEdgeCertificates(rootDir, domainHost, ['127.0.0.1', network.hostAddress]);
    const state: State = {
      options: {
        apiKey: options.apiKey,
        metricsIntervalMs: options.metricsIntervalMs ?? 5_000,
        templates: options.templates ?? { ...LOCAL_TEMPLATES },
        domain: domainHost,
        nodeBinDir: options.nodeBinDir ?? dirname(process.execPath),
        limits,
      },
      rootDir,
      network,
      sandboxes: new Map(),
      timers: new Map(),
      teardowns: new Set(),
      pending: 0,
      creations: new CreationWindow(limits.creationsPerSecond),
      stats: {
        created: 0,
        killed: 0,
        expired: 0,
        rateLimited: 0,
        concurrencyLimited: 0,
        createHandlingMs: 0,
      },
      caPath: certs.caPath,
      domain: '',
      closing: false,
      trace: options.trace
        ? (hop, sandboxId, detail, at = performance.now()) =>
            options.trace?.({ hop, sandboxId, at, ...(detail === undefined ? {} : { detail }) })
        : () => undefined,
    };
    closers.push(async () => {
      state.closing = true;
      for (const timer of state.timers.values()) clearTimeout(timer);
      await Promise.all([...state.sandboxes.keys()].map((sandboxId) => removeSandbox(state, sandboxId)));
      await Promise.all([...state.teardowns]);
    });
    network.keepSpare(options.spareNamespaces ?? 2);
    network.keepReused(options.reusedNamespaces ?? 100);

    const api = createServer((req, res) => {
      handleApi(state, req, res).catch((error: unknown) => sendError(res, 500, String(error)));
    });
    const apiPort = await listen(api, '127.0.0.1', 0);
    closers.push(() => closeServer(api));

    const edgeHandler = (req: IncomingMessage, res: ServerResponse) => {
      handleEdge(state, req, res).catch((error: unknown) => sendError(res, 502, String(error)));
    };
    const edge = createHttpsServer({ key: certs.key, cert: certs.cert }, edgeHandler);
    edge.on('upgrade', (req, socket, head) => upgradeEdge(state, req, socket as Socket, head));
    const edgePort = await listen(edge, '127.0.0.1', 0);
    closers.push(() => closeServer(edge));
    // The sandboxes reach the edge on the bridge, on the same port, so one domain works everywhere.
    const inner = createHttpsServer({ key: certs.key, cert: certs.cert }, edgeHandler);
    inner.on('upgrade', (req, socket, head) => upgradeEdge(state, req, socket as Socket, head));
    await listen(inner, network.hostAddress, edgePort);
    closers.push(() => closeServer(inner));
    const dns: UdpSocket = await startDns(network.hostAddress, domainHost);
    closers.push(async () => {
      await new Promise<void>((resolve) => dns.close(() => resolve()));
    });
    state.domain = `${domainHost}:${edgePort}`;

    // One /proc scan per interval for all sandboxes; the next waits for the last, so a slow machine
    // samples less often rather than piling scans up.
    let sampler: NodeJS.Timeout | undefined;
    const sampleAll = async () => {
      if (state.sandboxes.size > 0) {
        const table = await readProcessTable();
        const now = Date.now();
        // A sandbox's first sample comes one interval after its start: none before, as on E2B.
        const due = [...state.sandboxes.values()].filter(
          (sandbox) => now - sandbox.spec.startedAt >= state.options.metricsIntervalMs,
        );
        await Promise.all(due.map((sandbox) => sandbox.sample(now, table).catch(() => undefined)));
      }
      if (!state.closing) sampler = setTimeout(() => void sampleAll(), state.options.metricsIntervalMs);
    };
    sampler = setTimeout(() => void sampleAll(), state.options.metricsIntervalMs);
    closers.push(async () => clearTimeout(sampler));
    if (options.rootDir === undefined) closers.unshift(() => rm(rootDir, { recursive: true, force: true }));

    const apiUrl = `http://127.0.0.1:${apiPort}`;
    const sandboxUrl = `https://127.0.0.1:${edgePort}`;
    return {
      apiKey: options.apiKey,
      instanceId: id,
      apiUrl,
      sandboxUrl,
      domain: state.domain,
      caPath: certs.caPath,
      caPem: certs.caPem,
      env: () => ({
        E2B_API_KEY: options.apiKey,
        E2B_API_URL: apiUrl,
        E2B_SANDBOX_URL: sandboxUrl,
        E2B_DOMAIN: state.domain,
        NODE_EXTRA_CA_CERTS: certs.caPath,
      }),
      live: () => [...state.sandboxes.keys()],
      bridge: { name: network.bridge, hostAddress: network.hostAddress },
      sandboxNetwork: (sandboxId) => {
        const net = state.sandboxes.get(sandboxId)?.net;
        return net === undefined ? undefined : { ...net };
      },
      tornDown: async () => {
        while (state.teardowns.size > 0) await Promise.all([...state.teardowns]);
      },
      stats: () => ({ ...state.stats, ...network.counters() }),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) return;
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(text);
}

/** E2B's error body: {code, message}. */
function sendError(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, { code: status, message });
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const body = await readBody(req, 1024 * 1024);
  if (body.length === 0) return {};
  const value = JSON.parse(body.toString('utf8')) as unknown;
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}

function keyMatches(given: string | string[] | undefined, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

async function handleApi(state: State, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://local');
  if (!keyMatches(req.headers['x-api-key'], state.options.apiKey)) {
    sendError(res, 401, 'Invalid API key, please visit https://e2b.dev/docs/api-key');
    return;
  }
  const path = url.pathname.replace(/\/+$/, '');
  const method = req.method ?? 'GET';
  if (method === 'POST' && path === '/v2/sandboxes') return createSandbox(state, req, res);
  if (method === 'GET' && (path === '/v2/sandboxes' || path === '/sandboxes'))
    return listSandboxes(state, url, res);
  const match = /^(?:\/v2)?\/sandboxes\/([a-z0-9]{1,64})(?:\/(timeout|metrics|connect|refreshes))?$/.exec(
    path,
  );
  const sandbox = match ? state.sandboxes.get(match[1] as string) : undefined;
  if (match === null) return sendError(res, 404, `no route ${method} ${path}`);
  if (sandbox === undefined) return sendError(res, 404, `sandbox "${match[1]}" not found`);
  const action = match[2];
  if (method === 'GET' && action === undefined) return sendJson(res, 200, detail(sandbox, state));
  if (method === 'DELETE' && action === undefined) {
    void removeSandbox(state, sandbox.id);
    state.stats.killed++;
    return sendJson(res, 204, undefined);
  }
  if (method === 'GET' && action === 'metrics') {
    const start = Number(url.searchParams.get('start') ?? 0) * 1000;
    const end = Number(url.searchParams.get('end') ?? Number.POSITIVE_INFINITY / 1) * 1000;
    return sendJson(
      res,
      200,
      sandbox.samples.filter(
        (sample) => sample.timestampUnix * 1000 >= start && sample.timestampUnix * 1000 <= end,
      ),
    );
  }
  if (method === 'POST' && (action === 'timeout' || action === 'connect' || action === 'refreshes')) {
    const body = await readJson(req);
    const seconds = body.timeout ?? body.duration ?? DEFAULT_TIMEOUT_S;
    if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 0) {
      return sendError(res, 400, 'timeout must be a non-negative integer number of seconds');
    }
    const cap = sandbox.spec.startedAt + state.options.limits.sessionMaxMs;
    const wanted = Date.now() + seconds * 1000;
    // setTimeout moves the end either way; connect and refreshes only extend. Both stop at the session maximum.
    const endAt = Math.min(cap, action === 'timeout' ? wanted : Math.max(sandbox.endAt, wanted));
    scheduleEnd(state, sandbox, endAt);
    if (action === 'connect') return sendJson(res, 200, created(sandbox, state));
    return sendJson(res, 204, undefined);
  }
  return sendError(res, 404, `no route ${method} ${path}`);
}

function created(sandbox: LocalSandbox, state: State) {
  return {
    sandboxID: sandbox.id,
    templateID: sandbox.spec.templateID,
    alias: sandbox.spec.alias,
    clientID: 'local',
    envdVersion: ENVD_VERSION,
    envdAccessToken: sandbox.envdAccessToken,
    trafficAccessToken: null,
    domain: state.domain,
  };
}

function detail(sandbox: LocalSandbox, state: State) {
  return {
    ...created(sandbox, state),
    startedAt: new Date(sandbox.spec.startedAt).toISOString(),
    endAt: new Date(sandbox.endAt).toISOString(),
    cpuCount: sandbox.spec.cpuCount,
    memoryMB: sandbox.spec.memoryMB,
    diskSizeMB: 10_240,
    metadata: sandbox.spec.metadata,
    state: 'running',
    volumeMounts: [],
  };
}

function stringRecord(value: unknown): Record<string, string> | undefined {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object') return undefined;
  const entries = Object.entries(value as Record<string, unknown>);
  return entries.every(([, v]) => typeof v === 'string')
    ? (Object.fromEntries(entries) as Record<string, string>)
    : undefined;
}

async function createSandbox(state: State, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const receivedAt = performance.now();
  const body = await readJson(req).catch(() => undefined);
  if (body === undefined) return sendError(res, 400, 'request body is not JSON');
  const templateID = body.templateID;
  if (typeof templateID !== 'string' || templateID === '')
    return sendError(res, 400, 'templateID is required');
  const template = state.options.templates[templateID];
  if (template === undefined) return sendError(res, 404, `template '${templateID}' not found`);
  const seconds = body.timeout ?? DEFAULT_TIMEOUT_S;
  const { limits } = state.options;
  if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 0) {
    return sendError(res, 400, 'timeout must be a non-negative integer number of seconds');
  }
  if (seconds * 1000 > limits.sessionMaxMs) {
    return sendError(
      res,
      400,
      `Timeout cannot be greater than ${limits.sessionMaxMs / 3_600_000} hours for your plan`,
    );
  }
  const metadata = stringRecord(body.metadata);
  const envVars = stringRecord(body.envVars);
  if (metadata === undefined || envVars === undefined) {
    return sendError(res, 400, 'metadata and envVars must map strings to strings');
  }
  if (state.sandboxes.size + state.pending >= limits.concurrentSandboxes) {
    state.stats.concurrencyLimited++;
    return sendError(
      res,
      429,
      `You have reached the maximum number of concurrent E2B sandboxes (${limits.concurrentSandboxes}).`,
    );
  }
  // Counted when the request arrived, not after its body was read and checked.
  if (!state.creations.admit(performance.timeOrigin + receivedAt)) {
    state.stats.rateLimited++;
    return sendError(
      res,
      429,
      `Rate limit exceeded: at most ${limits.creationsPerSecond} sandbox creations per second.`,
    );
  }
  state.pending++;
  const now = Date.now();
  const handlingStart = performance.now();
  const id = newSandboxId();
  state.trace('create-received', id, undefined, receivedAt);
  const dir = join(state.rootDir, 'sandboxes', id);
  let net: Awaited<ReturnType<NamespaceNetwork['add']>> | undefined;
  try {
    await LocalSandbox.prepareDir(
      dir,
      `# The template's profile: its Node.js first on PATH.\nexport PATH="${state.options.nodeBinDir}:$PATH"\n`,
    );
    await writeFile(join(dir, 'home', 'user', '.e2b-local-ca.pem'), await readFile(state.caPath));
    for (const [sandboxPath, hostPath] of Object.entries(template.files ?? {})) {
      const target = normalize(sandboxPath);
      if (!(target.startsWith('/home/') || target.startsWith('/tmp/'))) {
        throw new Error(`template file ${sandboxPath} is outside /home and /tmp`);
      }
      await mkdir(dirname(join(dir, target)), { recursive: true });
      await copyFile(hostPath, join(dir, target));
    }
    net = await state.network.add();
    const sandbox = new LocalSandbox(
      {
        templateID,
        alias: templateID,
        cpuCount: template.cpuCount,
        memoryMB: template.memoryMB,
        metadata,
        envVars,
        startedAt: now,
        endAt: now + seconds * 1000,
      },
      dir,
      net,
      {
        PATH: `${state.options.nodeBinDir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
        HOME: '/home/user',
        USER: 'user',
        LANG: 'C.UTF-8',
        E2B_SANDBOX: 'true',
        E2B_SANDBOX_ID: id,
        // The template trusts the edge's CA, as a VM trusts E2B's public certificate.
        NODE_EXTRA_CA_CERTS: '/home/user/.e2b-local-ca.pem',
      },
    );
    if (state.closing) throw new Error('local E2B is closing');
    state.sandboxes.set(id, sandbox);
    scheduleEnd(state, sandbox, sandbox.endAt);
    state.stats.created++;
    sendJson(res, 201, created(sandbox, state));
    state.trace('create-answered', id);
  } catch (error) {
    if (net !== undefined) await state.network.remove(net.ns);
    await rm(dir, { recursive: true, force: true });
    sendError(res, 500, `could not start sandbox: ${(error as Error).message}`);
  } finally {
    state.pending--;
    state.stats.createHandlingMs += performance.now() - handlingStart;
  }
}

function scheduleEnd(state: State, sandbox: LocalSandbox, endAt: number): void {
  sandbox.endAt = endAt;
  clearTimeout(state.timers.get(sandbox.id));
  const timer = setTimeout(
    () => {
      state.stats.expired++;
      void removeSandbox(state, sandbox.id);
    },
    Math.max(0, endAt - Date.now()),
  );
  state.timers.set(sandbox.id, timer);
}

/**
 * End a sandbox: it is gone for the API at once and its processes get SIGKILL now; the namespace
 * and directory are removed in the background (close() waits for that), as E2B answers a kill
 * before the VM is torn down.
 */
function removeSandbox(state: State, sandboxId: string): Promise<void> {
  const sandbox = state.sandboxes.get(sandboxId);
  if (sandbox === undefined) return Promise.resolve();
  state.sandboxes.delete(sandboxId);
  clearTimeout(state.timers.get(sandboxId));
  state.timers.delete(sandboxId);
  const teardown = (async () => {
    await sandbox.killProcesses();
    await state.network.release(sandbox.net.ns);
    await sandbox.removeDir();
  })().catch(() => undefined);
  state.teardowns.add(teardown);
  void teardown.finally(() => state.teardowns.delete(teardown));
  return teardown;
}

function listSandboxes(state: State, url: URL, res: ServerResponse): void {
  const filter: Array<[string, string]> = [];
  const encoded = url.searchParams.get('metadata');
  if (encoded) {
    for (const [key, value] of new URLSearchParams(encoded)) {
      filter.push([decodeURIComponent(key), decodeURIComponent(value)]);
    }
  }
  const states = url.searchParams.get('state');
  const wantsRunning = states === null || states.split(',').includes('running');
  const limitParam = Number(url.searchParams.get('limit') ?? MAX_PAGE);
  if (!Number.isInteger(limitParam) || limitParam < 1 || limitParam > MAX_PAGE) {
    sendError(res, 400, `limit must be an integer from 1 to ${MAX_PAGE}`);
    return;
  }
  const sorted = [...state.sandboxes.values()]
    .filter((sandbox) => wantsRunning && filter.every(([key, value]) => sandbox.spec.metadata[key] === value))
    .sort((a, b) => a.spec.startedAt - b.spec.startedAt || a.id.localeCompare(b.id));
  const token = url.searchParams.get('nextToken');
  let from = 0;
  if (token) {
    const [startedAt, id] = Buffer.from(token, 'base64url').toString('utf8').split(':');
    from = sorted.findIndex(
      (sandbox) =>
        sandbox.spec.startedAt > Number(startedAt) ||
        (sandbox.spec.startedAt === Number(startedAt) && sandbox.id > (id ?? '')),
    );
    if (from < 0) from = sorted.length;
  }
  const page = sorted.slice(from, from + limitParam);
  const last = page.at(-1);
  const headers: Record<string, string> =
    last !== undefined && from + limitParam < sorted.length
      ? { 'x-next-token': Buffer.from(`${last.spec.startedAt}:${last.id}`).toString('base64url') }
      : {};
  sendJson(
    res,
    200,
    page.map((sandbox) => detail(sandbox, state)),
    headers,
  );
}

/** Sandbox id and port from a `<port>-<id>.<domain>` host. */
function routeOf(state: State, host: string | undefined): { port: number; sandboxId: string } | undefined {
  const name = (host ?? '').replace(/:\d+$/, '').toLowerCase();
  const suffix = `.${state.options.domain}`;
  if (!name.endsWith(suffix)) return undefined;
  const match = /^(\d{1,5})-([a-z0-9]{1,64})$/.exec(name.slice(0, -suffix.length));
  return match ? { port: Number(match[1]), sandboxId: match[2] as string } : undefined;
}

/** The edge: envd calls (by header or port 49983) are served here; other ports are proxied into the sandbox. */
async function handleEdge(state: State, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const route = routeOf(state, req.headers.host);
  const headerId = req.headers['e2b-sandbox-id'];
  const sandboxId = route?.sandboxId ?? (typeof headerId === 'string' ? headerId : undefined);
  const port = route?.port ?? Number(req.headers['e2b-sandbox-port'] ?? ENVD_PORT);
  const sandbox = sandboxId === undefined ? undefined : state.sandboxes.get(sandboxId);
  if (sandbox === undefined) {
    sendJson(res, 502, { sandboxId: sandboxId ?? '', message: 'The sandbox was not found', code: 502 });
    return;
  }
  if (port === ENVD_PORT) return handleEnvd(sandbox, req, res, state.trace);
  const upstream = httpRequest(
    { host: sandbox.net.address, port, method: req.method, path: req.url, headers: req.headers },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.on('error', () => {
    sendJson(res, 502, {
      sandboxId: sandbox.id,
      port,
      message: `The sandbox is running but port is not open`,
      code: 502,
    });
  });
  req.pipe(upstream);
}

/** WebSocket (and any other) upgrade through the edge: the raw request goes on to the sandbox's port. */
function upgradeEdge(state: State, req: IncomingMessage, socket: Socket, head: Buffer): void {
  const route = routeOf(state, req.headers.host);
  const sandbox = route === undefined ? undefined : state.sandboxes.get(route.sandboxId);
  socket.on('error', () => undefined);
  if (route === undefined || sandbox === undefined) {
    socket.end('HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    return;
  }
  const upstream = netConnect(route.port, sandbox.net.address, () => {
    const lines = [`${req.method} ${req.url} HTTP/1.1`];
    for (let i = 0; i < req.rawHeaders.length; i += 2)
      lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length > 0) upstream.write(head);
    upstream.pipe(socket);
    socket.pipe(upstream);
  });
  upstream.setNoDelay(true);
  socket.setNoDelay(true);
  upstream.on('error', () => socket.destroy());
  socket.on('close', () => upstream.destroy());
  upstream.on('close', () => socket.destroy());
}

async function handleEnvd(
  sandbox: LocalSandbox,
  req: IncomingMessage,
  res: ServerResponse,
  trace: Trace,
): Promise<void> {
  const token = req.headers['x-access-token'];
  if (token !== undefined && !keyMatches(token, sandbox.envdAccessToken)) {
    sendError(res, 401, 'invalid access token');
    return;
  }
  const url = new URL(req.url ?? '/', 'http://envd');
  const path = url.pathname;
  try {
    if (path === '/health') {
      res.writeHead(204).end();
      return;
    }
    if (path === '/files') return await handleFiles(sandbox, req, res, url, trace);
    const rpc = /^\/process\.Process\/(\w+)$/.exec(path)?.[1];
    if (rpc === 'Start' || rpc === 'Connect') return await streamProcess(sandbox, rpc, req, res, trace);
    if (rpc === 'SendSignal' || rpc === 'List' || rpc === 'CloseStdin' || rpc === 'SendInput') {
      const message = parseMessage(ProcessRequest, decodeRequest(await readBody(req, 1024 * 1024), false));
      return sendUnary(res, unaryProcess(sandbox, rpc, message));
    }
    throw new ConnectError('not_found', `envd: no method ${path}`);
  } catch (error) {
    if (error instanceof ConnectError) sendUnaryError(res, error);
    else sendUnaryError(res, new ConnectError('internal', (error as Error).message));
  }
}

/** The fields of envd's process requests this service reads (proto3 JSON names). */
const Selector = z.object({ pid: z.number().int().optional(), tag: z.string().optional() });
const ProcessRequest = z.object({
  process: z
    .object({
      selector: Selector.optional(),
      cmd: z.string().optional(),
      args: z.array(z.string()).optional(),
      envs: z.record(z.string(), z.string()).optional(),
      cwd: z.string().optional(),
      pid: z.number().int().optional(),
      tag: z.string().optional(),
    })
    .optional(),
  tag: z.string().optional(),
  stdin: z.boolean().optional(),
  signal: z.union([z.string(), z.number()]).optional(),
  input: z.object({ stdin: z.string().optional() }).optional(),
});
type ProcessRequest = z.infer<typeof ProcessRequest>;

function parseMessage<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new ConnectError('invalid_argument', parsed.error.issues[0]?.message ?? 'bad request');
  return parsed.data;
}

function selectProcess(sandbox: LocalSandbox, request: ProcessRequest): SandboxProcess {
  const selector = request.process?.selector ?? request.process;
  const pid = Number(selector?.pid);
  const tag = selector?.tag;
  const proc =
    typeof tag === 'string'
      ? [...sandbox.processes.values()].find((candidate) => candidate.tag === tag)
      : sandbox.processes.get(pid);
  if (proc === undefined) throw new ConnectError('not_found', `process ${String(tag ?? pid)} not found`);
  return proc;
}

const SIGNALS: Record<string, NodeJS.Signals> = {
  SIGNAL_SIGKILL: 'SIGKILL',
  '9': 'SIGKILL',
  SIGNAL_SIGTERM: 'SIGTERM',
  '15': 'SIGTERM',
};

function unaryProcess(sandbox: LocalSandbox, rpc: string, message: ProcessRequest): unknown {
  if (rpc === 'List') {
    return {
      processes: [...sandbox.processes.values()].map((proc) => ({
        config: { cmd: proc.cmd, args: proc.args, envs: proc.envs, cwd: proc.cwd },
        pid: proc.pid,
        tag: proc.tag,
      })),
    };
  }
  const proc = selectProcess(sandbox, message);
  if (rpc === 'SendSignal') {
    const signal = SIGNALS[String(message.signal)];
    if (signal === undefined)
      throw new ConnectError('invalid_argument', `unsupported signal ${String(message.signal)}`);
    sandbox.signal(proc.pid, signal);
  } else if (rpc === 'CloseStdin') {
    proc.child.stdin?.end();
  } else if (rpc === 'SendInput') {
    const stdin = message.input?.stdin;
    if (typeof stdin === 'string') proc.child.stdin?.write(Buffer.from(stdin, 'base64'));
  }
  return {};
}

async function streamProcess(
  sandbox: LocalSandbox,
  rpc: 'Start' | 'Connect',
  req: IncomingMessage,
  res: ServerResponse,
  trace: Trace,
) {
  const receivedAt = performance.now();
  const message = parseMessage(ProcessRequest, decodeRequest(await readBody(req, 1024 * 1024), true));
  let proc: SandboxProcess;
  if (rpc === 'Start') {
    const config = message.process ?? {};
    if (config.cmd === undefined || config.cmd === '') {
      throw new ConnectError('invalid_argument', 'process.cmd is required');
    }
    proc = sandbox.start({
      cmd: config.cmd,
      args: config.args ?? [],
      envs: config.envs ?? {},
      ...(config.cwd === undefined ? {} : { cwd: config.cwd }),
      ...(message.tag === undefined ? {} : { tag: message.tag }),
    });
    if (message.stdin !== true) proc.child.stdin?.end();
    trace('process-received', sandbox.id, String(proc.pid), receivedAt);
    trace('process-spawned', sandbox.id, String(proc.pid));
  } else {
    proc = selectProcess(sandbox, message);
  }
  const stream = new ConnectStream(res);
  stream.send({ event: { start: { pid: proc.pid } } });
  const keepaliveS = Number(req.headers['keepalive-ping-interval'] ?? 0);
  const keepalive =
    keepaliveS > 0
      ? setInterval(() => stream.send({ event: { keepalive: {} } }), keepaliveS * 1000)
      : undefined;
  let quiet = rpc === 'Start';
  const listener: ProcessListener = {
    data: (name, chunk) => {
      if (quiet) {
        quiet = false;
        trace('process-first-output', sandbox.id, String(proc.pid));
      }
      stream.send({ event: { data: { [name]: chunk.toString('base64') } } });
    },
    end: (exitCode, status) => {
      clearInterval(keepalive);
      stream.send({ event: { end: { exitCode, exited: true, status } } });
      stream.end();
    },
  };
  if (proc.exit) {
    listener.end(proc.exit.exitCode, proc.exit.status);
    return;
  }
  proc.listeners.add(listener);
  res.on('close', () => {
    clearInterval(keepalive);
    proc.listeners.delete(listener);
  });
}

async function handleFiles(
  sandbox: LocalSandbox,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  trace: Trace,
): Promise<void> {
  const path = url.searchParams.get('path') ?? '';
  if (req.method === 'POST') trace('files-received', sandbox.id, path);
  if (req.method === 'GET') {
    const host = sandbox.hostPath(path);
    if (host === undefined) return sendError(res, 400, `path ${path} is outside /home and /tmp`);
    const data = await readFile(host).catch(() => undefined);
    if (data === undefined) return sendError(res, 404, `file ${path} not found`);
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(data);
    return;
  }
  if (req.method !== 'POST') return sendError(res, 405, 'GET or POST');
  const type = req.headers['content-type'] ?? '';
  const body = await readBody(req, MAX_UPLOAD_BYTES).catch(() => undefined);
  if (body === undefined) return sendError(res, 413, `upload above ${MAX_UPLOAD_BYTES} bytes`);
  const files: Array<{ path: string; data: Buffer }> = [];
  if (type.startsWith('multipart/form-data')) {
    const form = await new Response(body, { headers: { 'content-type': type } }).formData();
    for (const [, value] of form) {
      if (typeof value === 'string') continue;
      files.push({ path: path || value.name, data: Buffer.from(await value.arrayBuffer()) });
    }
  } else {
    files.push({ path, data: body });
  }
  const written = [];
  for (const file of files) {
    const host = sandbox.hostPath(file.path);
    if (host === undefined) return sendError(res, 400, `path ${file.path} is outside /home and /tmp`);
    await mkdir(dirname(host), { recursive: true });
    await writeFile(host, file.data);
    written.push({ name: file.path.split('/').at(-1), type: 'file', path: file.path });
  }
  trace('files-written', sandbox.id, path);
  sendJson(res, 200, written);
}
