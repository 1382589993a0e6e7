/**
 * The agent: a WebSocket server that runs inside a sandbox. It authenticates every connection
 * with the swarm secret, schema-checks every frame, executes strategies, routes and floods
 * messages over its topology, votes, holds replicated state and reports its own resource use.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { broadcastChildren, nextHops, type Topology } from '../swarm/topology.ts';
import { fromColumns, toColumns } from '../trading/columns.ts';
import { generateBars } from '../trading/market.ts';
import type { Bar } from '../trading/types.ts';
import { AgentPlugins, type AgentVote, BUILTIN_RULE, plurality, type RuleOutcome } from './plugin-host.ts';
import {
  type AgentMetricsReport,
  MAX_FRAME_BYTES,
  type OpResults,
  type PeerFrame,
  peerFrameSchema,
  type Request,
  ROLE_HEADER,
  requestSchema,
  SECRET_HEADER,
  type WireWindow,
} from './protocol.ts';

/** Options of one agent server. */
export interface AgentServerOptions {
  agentId: string;
  secret: string;
  host: string;
  port: number;
  /** Strategy and decision-rule plug-ins (lib/agent/plugin-host.ts). @default built-ins only */
  plugins?: AgentPlugins;
}

/** Buffered bytes on one socket above which throughput senders wait for the socket to drain. */
const HIGH_WATER_BYTES = 1024 * 1024;
/** Buffered bytes above which a flooding client's frames are shed rather than queued. */
const SHED_BYTES = 16 * 1024 * 1024;

type Action = 'buy' | 'sell' | 'hold';

interface Proposal {
  pid: number;
  started: bigint;
  quorum: number;
  votes: Map<number, AgentVote>;
  /** Set while a plug-in decision rule decides (votes arriving meanwhile are not counted). */
  deciding?: boolean;
  rule?: RuleOutcome;
  acks: Set<number>;
  /** Latest commit receipt time among the acknowledging agents (shared clock only). */
  heldAt: bigint;
  hops: number;
  commitUs?: number;
  decision?: Action;
  done: (result: OpResults['propose']) => void;
  fail: (error: Error) => void;
  timer: NodeJS.Timeout;
}

interface SyncRound {
  ver: number;
  started: bigint;
  expect: Set<number>;
  acked: Set<number>;
  done: (result: OpResults['sync']) => void;
  timer: NodeJS.Timeout;
}

interface PendingPing {
  resolve: (path: number[]) => void;
}

class RequestError extends Error {}

function microsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1000;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A running agent. `listen()` starts it; `close()` stops it and drops every connection. */
export class AgentServer {
  private secret: string;
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly started = Date.now();
  private readonly plugins: AgentPlugins;

  // Topology state, set by configure.
  private self = -1;
  private topology: Topology | undefined;
  private urls: string[] = [];
  private quorum = 1;
  private strategyName = 'momentum';
  private decisionRule = BUILTIN_RULE;
  private sharedClock = false;
  private market: { bars: Bar[]; windowBars: number } | undefined;
  private readonly links = new Map<number, WebSocket>();
  private readonly down = new Set<number>();
  private hopTable: Array<number | undefined> = [];
  private readonly childCache = new Map<number, number[]>();
  private linkWaiters: Array<() => void> = [];

  // Protocol state.
  private readonly seen = new Set<string>();
  private readonly pings = new Map<number, PendingPing>();
  private nextPingId = 1;
  private readonly proposals = new Map<number, Proposal>();
  private nextPid = 1;
  private syncRound: SyncRound | undefined;
  private stateVersion = 0;
  private state: unknown;
  private readonly flushes = new Map<number, () => void>();
  private nextFlush = 1;

  // Counters.
  private readonly sockets = new Map<Socket, 'peer' | 'control'>();
  private closedBytes = { peerIn: 0, peerOut: 0, controlIn: 0, controlOut: 0 };
  private messagesIn = 0;
  private messagesOut = 0;
  private readonly rejected = { auth: 0, malformed: 0, oversize: 0, unknown: 0, shed: 0 };
  private blastReceived = 0;

  constructor(private readonly options: AgentServerOptions) {
    this.secret = options.secret;
    this.plugins = options.plugins ?? new AgentPlugins(undefined);
    this.http = createServer((_req, res) => {
      res.writeHead(426).end();
    });
    this.wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false });
    this.http.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket as Socket, head));
  }

  /** Start listening; resolves with the bound port. */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.options.port, this.options.host, () => {
        const address = this.http.address();
        resolve(typeof address === 'object' && address ? address.port : this.options.port);
      });
    });
  }

  /** Stop serving and close every connection. */
  async close(): Promise<void> {
    for (const ws of this.links.values()) ws.terminate();
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
    await this.plugins.close();
  }

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const secret = req.headers[SECRET_HEADER];
    const role = req.headers[ROLE_HEADER];
    if (typeof secret !== 'string' || !safeEqual(secret, this.secret) || typeof role !== 'string') {
      this.rejected.auth++;
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const peer = /^peer:(\d+)$/.exec(role);
    if (role !== 'coordinator' && !peer) {
      this.rejected.auth++;
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      if (peer) this.adoptPeer(Number(peer[1]), ws, socket);
      else this.adoptController(ws, socket);
    });
  }

  private track(socket: Socket, kind: 'peer' | 'control'): void {
    this.sockets.set(socket, kind);
    socket.once('close', () => {
      if (kind === 'peer') {
        this.closedBytes.peerIn += socket.bytesRead;
        this.closedBytes.peerOut += socket.bytesWritten;
      } else {
        this.closedBytes.controlIn += socket.bytesRead;
        this.closedBytes.controlOut += socket.bytesWritten;
      }
      this.sockets.delete(socket);
    });
  }

  private watchErrors(ws: WebSocket): void {
    ws.on('error', (error: Error & { code?: string }) => {
      if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' || /payload/i.test(error.message)) {
        this.rejected.oversize++;
      } else {
        this.rejected.malformed++;
      }
    });
  }

  // ---- coordinator connections ------------------------------------------------------------

  private adoptController(ws: WebSocket, socket: Socket): void {
    this.track(socket, 'control');
    this.watchErrors(ws);
    ws.on('message', (data, isBinary) => {
      this.messagesIn++;
      if (isBinary) {
        this.rejected.malformed++;
        return;
      }
      let request: Request;
      let raw: unknown;
      try {
        raw = JSON.parse(data.toString());
      } catch {
        this.rejected.malformed++;
        this.reply(ws, undefined, undefined, { name: 'MalformedFrame', message: 'frame is not JSON' });
        return;
      }
      const parsed = requestSchema.safeParse(raw);
      if (!parsed.success) {
        const op = (raw as { op?: unknown } | null)?.op;
        const known = typeof op === 'string' && KNOWN_OPS.has(op);
        if (known) this.rejected.malformed++;
        else this.rejected.unknown++;
        const issue = parsed.error.issues[0];
        this.reply(ws, (raw as { id?: unknown } | null)?.id, undefined, {
          name: known ? 'MalformedFrame' : 'UnknownOperation',
          message: known
            ? `${issue?.path.join('.') || 'frame'}: ${issue?.message ?? 'invalid'}`
            : `unknown op ${JSON.stringify(op)?.slice(0, 40)}`,
        });
        return;
      }
      request = parsed.data;
      this.handle(request).then(
        (result) => this.reply(ws, request.id, result),
        (error: Error) =>
          this.reply(ws, request.id, undefined, {
            name: error instanceof RequestError ? 'RequestError' : error.name,
            message: error.message,
          }),
      );
    });
  }

  private reply(
    ws: WebSocket,
    id: unknown,
    result: unknown,
    error?: { name: string; message: string },
  ): void {
    if (ws.readyState !== WebSocket.OPEN) return;
    const frame =
      error === undefined
        ? { t: 'res', id: typeof id === 'number' ? id : -1, ok: true, result }
        : { t: 'res', id: typeof id === 'number' ? id : -1, ok: false, error };
    this.messagesOut++;
    ws.send(JSON.stringify(frame));
  }

  private async handle(request: Request): Promise<unknown> {
    switch (request.op) {
      case 'health':
        return {
          agentId: this.options.agentId,
          configured: this.topology !== undefined,
          links: this.openLinks(),
          expectedLinks: this.expectedLinks(),
        } satisfies OpResults['health'];
      case 'configure':
        return this.configure(request);
      case 'execute':
        return this.execute(request.window, request.strategy ?? this.strategyName);
      case 'plugins':
        return { plugins: await this.plugins.describe() } satisfies OpResults['plugins'];
      case 'ping':
        return this.pingPeer(request.to, request.count, request.warmup, request.payloadBytes);
      case 'propose':
        return this.propose(
          { window: request.window === undefined ? undefined : barsOf(request.window), at: request.at },
          request.quorum ?? this.quorum,
          request.timeoutMs,
        );
      case 'sync':
        return this.startSync(request.version, request.state, request.expect, request.timeoutMs);
      case 'blast':
        return this.blast(request.count, request.payloadBytes);
      case 'metrics':
        return this.metrics();
      case 'reset':
        this.reset(request.secret);
        return { ok: true };
    }
  }

  // ---- configuration and links ------------------------------------------------------------

  private async configure(request: Extract<Request, { op: 'configure' }>): Promise<OpResults['configure']> {
    const topology = request.topology as Topology;
    if (request.self >= topology.size || request.urls.length !== topology.size) {
      throw new RequestError('configure: self and urls must match the topology size');
    }
    if (this.topology) throw new RequestError('configure: already configured; reset first');
    // Fail early on an unknown strategy or decision rule.
    await this.plugins.check(request.strategy, request.decisionRule).catch((error: Error) => {
      throw new RequestError(`configure: ${error.message}`);
    });
    if (this.topology) throw new RequestError('configure: already configured; reset first');
    // Links that lower-indexed peers opened before this request arrived are kept.
    this.self = request.self;
    this.topology = topology;
    this.urls = request.urls;
    this.quorum = request.quorum;
    this.sharedClock = request.sharedClock === true;
    this.strategyName = request.strategy;
    this.decisionRule = request.decisionRule ?? BUILTIN_RULE;
    if (request.market) {
      const { seed, bars, windowBars, columns } = request.market;
      this.market = { bars: columns ? barsOf(columns) : generateBars({ bars, seed }), windowBars };
    }
    this.recomputeRoutes();
    // Each link is dialled by its lower-indexed end, so every pair shares exactly one socket.
    const dials = (topology.neighbors[this.self] ?? [])
      .filter((peer) => peer > this.self)
      .map((peer) => this.dial(peer));
    await Promise.all(dials);
    await this.waitForLinks(10_000);
    return { links: this.openLinks() };
  }

  private expectedLinks(): number {
    return this.topology?.neighbors[this.self]?.length ?? 0;
  }

  private openLinks(): number {
    let open = 0;
    for (const ws of this.links.values()) if (ws.readyState === WebSocket.OPEN) open++;
    return open;
  }

  private waitForLinks(timeoutMs: number): Promise<void> {
    if (this.openLinks() >= this.expectedLinks()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.linkWaiters = this.linkWaiters.filter((w) => w !== check);
        reject(new RequestError(`configure: only ${this.openLinks()}/${this.expectedLinks()} peer links`));
      }, timeoutMs);
      const check = () => {
        if (this.openLinks() >= this.expectedLinks()) {
          clearTimeout(timer);
          this.linkWaiters = this.linkWaiters.filter((w) => w !== check);
          resolve();
        }
      };
      this.linkWaiters.push(check);
    });
  }

  private dial(peer: number): Promise<void> {
    const url = this.urls[peer] as string;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, {
        headers: { [SECRET_HEADER]: this.secret, [ROLE_HEADER]: `peer:${this.self}` },
        maxPayload: MAX_FRAME_BYTES,
        perMessageDeflate: false,
      });
      ws.once('upgrade', (res) => this.track(res.socket as Socket, 'peer'));
      ws.once('open', () => {
        this.attachPeer(peer, ws);
        resolve();
      });
      ws.once('unexpected-response', (_req, res) => {
        reject(new RequestError(`peer ${peer} refused the link (HTTP ${res.statusCode})`));
      });
      ws.once('error', (error) => reject(new RequestError(`peer ${peer} unreachable: ${error.message}`)));
    });
  }

  private adoptPeer(peer: number, ws: WebSocket, socket: Socket): void {
    this.track(socket, 'peer');
    this.attachPeer(peer, ws);
  }

  private attachPeer(peer: number, ws: WebSocket): void {
    this.watchErrors(ws);
    const previous = this.links.get(peer);
    if (previous && previous !== ws) previous.terminate();
    this.links.set(peer, ws);
    if (this.down.delete(peer)) this.recomputeRoutes();
    ws.on('message', (data, isBinary) => this.onPeerFrame(peer, data as Buffer, isBinary));
    ws.once('close', () => {
      if (this.links.get(peer) !== ws) return;
      this.links.delete(peer);
      if (this.topology) {
        this.down.add(peer);
        this.recomputeRoutes();
      }
    });
    for (const waiter of [...this.linkWaiters]) waiter();
  }

  private dropLinks(): void {
    const links = [...this.links.values()];
    this.links.clear();
    for (const ws of links) ws.terminate();
    this.down.clear();
    this.seen.clear();
  }

  private reset(secret: string): void {
    this.dropLinks();
    for (const ws of this.wss.clients) {
      if (this.sockets.get((ws as unknown as { _socket: Socket })._socket) === 'peer') ws.terminate();
    }
    this.secret = secret;
    this.topology = undefined;
    this.self = -1;
    this.urls = [];
    this.state = undefined;
    this.stateVersion = 0;
    this.hopTable = [];
    this.childCache.clear();
  }

  private recomputeRoutes(): void {
    if (!this.topology) return;
    this.hopTable = nextHops(this.topology, this.self, this.down);
    this.childCache.clear();
    this.releaseSyncRound();
  }

  /** A sync round waits for live agents only: one that went down mid-round no longer holds it open. */
  private releaseSyncRound(): void {
    const round = this.syncRound;
    if (!round) return;
    for (const peer of this.down) if (!round.acked.has(peer)) round.expect.delete(peer);
    this.onStateAck(round.ver, this.self);
  }

  private children(origin: number): number[] {
    let cached = this.childCache.get(origin);
    if (!cached && this.topology) {
      cached = broadcastChildren(this.topology, origin, this.self, this.down);
      this.childCache.set(origin, cached);
    }
    return cached ?? [];
  }

  // ---- sending ------------------------------------------------------------------------------

  private sendTo(peer: number, frame: PeerFrame | string): boolean {
    const ws = this.links.get(peer);
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    if (ws.bufferedAmount > SHED_BYTES) {
      this.rejected.shed++;
      return false;
    }
    this.messagesOut++;
    ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
    return true;
  }

  /** Send a unicast frame one hop closer to its destination, learning of dead peers on the way. */
  private forward(frame: Extract<PeerFrame, { dst: number }>): void {
    for (let attempt = 0; attempt < 2; attempt++) {
      const hop = this.hopTable[frame.dst];
      if (hop === undefined) return; // unreachable: the sender's timeout reports it
      const out = this.down.size > 0 ? { ...frame, dn: [...this.down] } : frame;
      if (this.sendTo(hop, out)) return;
      this.down.add(hop);
      this.recomputeRoutes();
    }
  }

  private flood(frame: Extract<PeerFrame, { origin: number }>): void {
    const out = this.down.size > 0 ? { ...frame, dn: [...this.down] } : frame;
    const text = JSON.stringify(out);
    for (const child of this.children(frame.origin)) {
      if (!this.sendTo(child, text)) {
        // A dead child: its subtree is re-parented in our view; send to whoever we now cover.
        this.down.add(child);
        this.recomputeRoutes();
        for (const adopted of this.children(frame.origin)) {
          if (adopted !== child) this.sendTo(adopted, text);
        }
      }
    }
  }

  private learnDown(dn: number[] | undefined): void {
    if (!dn) return;
    let changed = false;
    for (const peer of dn) {
      if (peer !== this.self && !this.down.has(peer) && !this.links.has(peer)) {
        this.down.add(peer);
        changed = true;
      }
    }
    if (changed) this.recomputeRoutes();
  }

  // ---- peer frames --------------------------------------------------------------------------

  private onPeerFrame(from: number, data: Buffer, isBinary: boolean): void {
    this.messagesIn++;
    if (isBinary) {
      this.rejected.malformed++;
      return;
    }
    let frame: PeerFrame;
    try {
      const parsed = peerFrameSchema.safeParse(JSON.parse(data.toString()));
      if (!parsed.success) {
        this.rejected.malformed++;
        return;
      }
      frame = parsed.data;
    } catch {
      this.rejected.malformed++;
      return;
    }
    if ('dn' in frame) this.learnDown(frame.dn);
    switch (frame.t) {
      case 'm':
        this.blastReceived++;
        return;
      case 'fl':
        this.sendTo(from, { t: 'fa', id: frame.id });
        return;
      case 'fa':
        this.flushes.get(frame.id)?.();
        return;
      case 'ping':
        if (frame.dst !== this.self) {
          this.forward({ ...frame, path: [...frame.path, this.self] });
          return;
        }
        this.forward({
          t: 'pong',
          src: this.self,
          dst: frame.src,
          id: frame.id,
          path: [...frame.path, this.self],
          ...(frame.p === undefined ? {} : { p: frame.p }),
        });
        return;
      case 'pong':
        if (frame.dst !== this.self) {
          this.forward({ ...frame, path: [...frame.path, this.self] });
          return;
        }
        this.pings.get(frame.id)?.resolve([...frame.path, this.self]);
        return;
      case 'prop':
        this.onProposal(frame);
        return;
      case 'vote':
        if (frame.dst !== this.self) this.forward({ ...frame, hops: frame.hops + 1 });
        else
          this.onVote(
            frame.pid,
            frame.src,
            { action: frame.action, confidence: frame.c ?? 0 },
            frame.hops + 1,
          );
        return;
      case 'commit':
        this.onCommit(frame);
        return;
      case 'cack':
        if (frame.dst !== this.self) this.forward({ ...frame, hops: frame.hops + 1 });
        else
          this.onCommitAck(
            frame.pid,
            frame.src,
            frame.hops + 1,
            frame.at === undefined ? undefined : BigInt(frame.at),
          );
        return;
      case 'st':
        this.onState(frame);
        return;
      case 'sack':
        if (frame.dst !== this.self) this.forward({ ...frame, hops: frame.hops + 1 });
        else this.onStateAck(frame.ver, frame.src);
        return;
    }
  }

  // ---- strategy execution -------------------------------------------------------------------

  private execute(wire: WireWindow, name: string): OpResults['execute'] | Promise<OpResults['execute']> {
    if (this.plugins.isPlugin(name)) return this.plugins.execute(name, wire);
    const window = barsOf(wire);
    const start = process.hrtime.bigint();
    const signal = this.plugins.builtin(name).signal(window);
    return { ...signal, computeUs: microsSince(start) };
  }

  /** This agent's vote on a window: at once for a built-in strategy, from its worker for a plug-in. */
  private castVote(window: Bar[], cast: (vote: AgentVote) => void): void {
    if (!this.plugins.isPlugin(this.strategyName)) {
      const { action, confidence } = this.plugins.builtin(this.strategyName).signal(window);
      cast({ action, confidence });
      return;
    }
    this.plugins.vote(this.strategyName, window).then(cast, () => cast({ action: 'hold', confidence: 0 }));
  }

  // ---- latency ------------------------------------------------------------------------------

  private async pingPeer(
    to: number,
    count: number,
    warmup: number,
    payloadBytes: number,
  ): Promise<OpResults['ping']> {
    this.requireConfigured();
    if (to === this.self || to >= (this.topology?.size ?? 0)) {
      throw new RequestError(`ping: "to" must be another agent index below ${this.topology?.size}`);
    }
    const payload = payloadBytes > 0 ? 'x'.repeat(payloadBytes) : undefined;
    const samplesUs: number[] = [];
    const warmupUs: number[] = [];
    let path: number[] = [];
    for (let i = 0; i < warmup + count; i++) {
      const id = this.nextPingId++;
      const start = process.hrtime.bigint();
      path = await new Promise<number[]>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.pings.delete(id);
          reject(new RequestError(`ping to agent ${to} timed out`));
        }, 5_000);
        this.pings.set(id, {
          resolve: (p) => {
            clearTimeout(timer);
            this.pings.delete(id);
            resolve(p);
          },
        });
        this.forward({
          t: 'ping',
          src: this.self,
          dst: to,
          id,
          path: [this.self],
          ...(payload === undefined ? {} : { p: payload }),
        });
      });
      (i < warmup ? warmupUs : samplesUs).push(microsSince(start));
    }
    // path holds the round trip: self .. to .. self; its outbound half is the route.
    const outbound = path.slice(0, path.indexOf(to) + 1);
    return { samplesUs, warmupUs, hops: outbound.length - 1, path: outbound };
  }

  // ---- consensus ----------------------------------------------------------------------------

  private requireConfigured(): Topology {
    if (!this.topology) throw new RequestError('agent is not configured');
    return this.topology;
  }

  /** The window a proposal is about: shipped with it, or cut from the local market feed. */
  private proposalWindow(subject: { window?: Bar[] | undefined; at?: number | undefined }): Bar[] {
    if (subject.window) return subject.window;
    if (subject.at === undefined || !this.market)
      throw new RequestError('propose: needs a window, or "at" with a market feed');
    const { bars, windowBars } = this.market;
    const end = Math.max(windowBars, subject.at % bars.length);
    return bars.slice(end - windowBars, end);
  }

  private propose(
    subject: { window?: Bar[] | undefined; at?: number | undefined },
    quorum: number,
    timeoutMs: number,
  ): Promise<OpResults['propose']> {
    const topology = this.requireConfigured();
    const window = this.proposalWindow(subject);
    if (quorum > topology.size)
      throw new RequestError(`propose: quorum ${quorum} exceeds ${topology.size} agents`);
    const pid = this.self * 1_000_000 + this.nextPid++;
    return new Promise((resolve, reject) => {
      const proposal: Proposal = {
        pid,
        started: process.hrtime.bigint(),
        quorum,
        votes: new Map(),
        acks: new Set(),
        heldAt: 0n,
        hops: 0,
        done: resolve,
        fail: reject,
        timer: setTimeout(() => {
          this.proposals.delete(pid);
          reject(
            new RequestError(
              `propose: ${proposal.votes.size} votes and ${proposal.acks.size} commit acks of quorum ${quorum} after ${timeoutMs} ms`,
            ),
          );
        }, timeoutMs),
      };
      this.proposals.set(pid, proposal);
      this.seen.add(`p${pid}`);
      this.flood({
        t: 'prop',
        origin: this.self,
        pid,
        ...(subject.window ? { window: toWire(subject.window) } : { at: subject.at as number }),
      });
      this.castVote(window, (vote) => this.onVote(pid, this.self, vote, 0));
    });
  }

  private onProposal(frame: Extract<PeerFrame, { t: 'prop' }>): void {
    const key = `p${frame.pid}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.flood(frame);
    const send = ({ action, confidence }: AgentVote): void => {
      // The confidence travels only when a decision rule may weigh it (plurality does not).
      const c = this.decisionRule === BUILTIN_RULE ? {} : { c: confidence };
      this.forward({ t: 'vote', src: this.self, dst: frame.origin, pid: frame.pid, action, hops: 0, ...c });
    };
    let window: Bar[];
    try {
      window = this.proposalWindow({
        window: frame.window === undefined ? undefined : barsOf(frame.window),
        at: frame.at,
      });
    } catch {
      // No window and no feed: abstain by voting hold rather than stalling the quorum.
      send({ action: 'hold', confidence: 0 });
      return;
    }
    try {
      this.castVote(window, send);
    } catch {
      send({ action: 'hold', confidence: 0 });
    }
  }

  private onVote(pid: number, voter: number, vote: AgentVote, hops: number): void {
    const proposal = this.proposals.get(pid);
    if (!proposal || proposal.votes.has(voter) || proposal.decision || proposal.deciding) return;
    proposal.votes.set(voter, vote);
    proposal.hops += hops;
    if (proposal.votes.size < proposal.quorum) return;
    if (this.decisionRule === BUILTIN_RULE) {
      this.commit(proposal, plurality(proposal.votes));
      return;
    }
    // A plug-in rule decides in its worker; its time is part of the decision's latency.
    proposal.deciding = true;
    const context = { agents: this.topology?.size ?? proposal.quorum, quorum: proposal.quorum };
    this.plugins.decide(this.decisionRule, proposal.votes, context).then(
      (outcome) => {
        proposal.rule = outcome;
        this.commit(proposal, outcome.decision);
      },
      (error: Error) => {
        proposal.rule = { decision: 'hold', error: error.message };
        this.commit(proposal, 'hold');
      },
    );
  }

  private commit(proposal: Proposal, decision: Action): void {
    const { pid } = proposal;
    if (!this.proposals.has(pid)) return; // timed out meanwhile
    proposal.commitUs = microsSince(proposal.started);
    proposal.decision = decision;
    this.seen.add(`c${pid}`);
    this.flood({ t: 'commit', origin: this.self, pid, decision: proposal.decision });
    this.onCommitAck(pid, this.self, 0, process.hrtime.bigint());
  }

  private onCommit(frame: Extract<PeerFrame, { t: 'commit' }>): void {
    const key = `c${frame.pid}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const receivedAt = process.hrtime.bigint();
    this.flood(frame);
    this.forward({
      t: 'cack',
      src: this.self,
      dst: frame.origin,
      pid: frame.pid,
      hops: 0,
      ...(this.sharedClock ? { at: receivedAt.toString() } : {}),
    });
  }

  private onCommitAck(pid: number, from: number, hops: number, at: bigint | undefined): void {
    const proposal = this.proposals.get(pid);
    if (!proposal || proposal.acks.has(from)) return;
    proposal.acks.add(from);
    proposal.hops += hops;
    if (at !== undefined && at > proposal.heldAt) proposal.heldAt = at;
    if (proposal.acks.size < proposal.quorum || proposal.commitUs === undefined) return;
    clearTimeout(proposal.timer);
    this.proposals.delete(pid);
    proposal.done({
      decision: proposal.decision as Action,
      votes: proposal.votes.size,
      quorum: proposal.quorum,
      commitUs: proposal.commitUs,
      heldUs:
        this.sharedClock && proposal.heldAt > 0n
          ? Number(proposal.heldAt - proposal.started) / 1000
          : microsSince(proposal.started),
      heldRttUs: microsSince(proposal.started),
      hops: proposal.hops,
      ...(proposal.rule === undefined ? {} : { rule: { name: this.decisionRule, ...proposal.rule } }),
    });
  }

  // ---- state sync ---------------------------------------------------------------------------

  private startSync(
    ver: number,
    state: unknown,
    expect: number[],
    timeoutMs: number,
  ): Promise<OpResults['sync']> {
    this.requireConfigured();
    if (this.syncRound) throw new RequestError('sync: a round is already in progress');
    if (ver <= this.stateVersion) throw new RequestError(`sync: version must exceed ${this.stateVersion}`);
    return new Promise((resolve, reject) => {
      const round: SyncRound = {
        ver,
        started: process.hrtime.bigint(),
        expect: new Set(expect),
        acked: new Set(),
        done: resolve,
        timer: setTimeout(() => {
          this.syncRound = undefined;
          reject(
            new RequestError(`sync: ${round.acked.size}/${round.expect.size} acks after ${timeoutMs} ms`),
          );
        }, timeoutMs),
      };
      this.syncRound = round;
      this.stateVersion = ver;
      this.state = state;
      this.flood({ t: 'st', origin: this.self, ver, state });
      this.onStateAck(ver, this.self);
    });
  }

  private onState(frame: Extract<PeerFrame, { t: 'st' }>): void {
    if (frame.ver <= this.stateVersion) return;
    this.stateVersion = frame.ver;
    this.state = frame.state;
    this.flood(frame);
    this.forward({ t: 'sack', src: this.self, dst: frame.origin, ver: frame.ver, hops: 0 });
  }

  private onStateAck(ver: number, from: number): void {
    const round = this.syncRound;
    if (!round || round.ver !== ver) return;
    round.acked.add(from);
    for (const agent of round.expect) if (!round.acked.has(agent)) return;
    clearTimeout(round.timer);
    this.syncRound = undefined;
    round.done({ syncUs: microsSince(round.started), acked: round.acked.size, expected: round.expect.size });
  }

  /** The replicated state this agent holds (for tests and diagnostics). */
  get stateSnapshot(): { version: number; state: unknown } {
    return { version: this.stateVersion, state: this.state };
  }

  // ---- throughput ---------------------------------------------------------------------------

  private async blast(count: number, payloadBytes: number): Promise<OpResults['blast']> {
    this.requireConfigured();
    const frame = JSON.stringify({ t: 'm', p: 'x'.repeat(payloadBytes) });
    const peers = [...this.links.entries()].filter(([, ws]) => ws.readyState === WebSocket.OPEN);
    const start = process.hrtime.bigint();
    let sent = 0;
    await Promise.all(
      peers.map(async ([peer, ws]) => {
        const socket = (ws as unknown as { _socket: Socket })._socket;
        for (let i = 0; i < count; i++) {
          if (ws.readyState !== WebSocket.OPEN) break;
          ws.send(frame);
          this.messagesOut++;
          sent++;
          if (ws.bufferedAmount > HIGH_WATER_BYTES) await untilDrainedOrClosed(ws, socket);
        }
        // A peer that died mid-blast never answers the flush: its link closing ends the wait.
        const id = this.nextFlush++;
        await new Promise<void>((resolve) => {
          const done = (): void => {
            clearTimeout(timer);
            this.flushes.delete(id);
            ws.off('close', done);
            resolve();
          };
          const timer = setTimeout(done, 30_000);
          this.flushes.set(id, done);
          ws.once('close', done);
          if (!this.sendTo(peer, { t: 'fl', id })) done();
        });
      }),
    );
    return { sent, elapsedUs: microsSince(start) };
  }

  // ---- metrics ------------------------------------------------------------------------------

  private metrics(): AgentMetricsReport {
    const bytes = { ...this.closedBytes };
    for (const [socket, kind] of this.sockets) {
      if (kind === 'peer') {
        bytes.peerIn += socket.bytesRead;
        bytes.peerOut += socket.bytesWritten;
      } else {
        bytes.controlIn += socket.bytesRead;
        bytes.controlOut += socket.bytesWritten;
      }
    }
    const cpu = process.cpuUsage();
    const memory = process.memoryUsage();
    return {
      agentId: this.options.agentId,
      pid: process.pid,
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
      cpuUserUs: cpu.user,
      cpuSystemUs: cpu.system,
      peerBytesIn: bytes.peerIn,
      peerBytesOut: bytes.peerOut,
      controlBytesIn: bytes.controlIn,
      controlBytesOut: bytes.controlOut,
      messagesIn: this.messagesIn,
      messagesOut: this.messagesOut,
      blastReceived: this.blastReceived,
      rejected: { ...this.rejected },
      links: this.openLinks(),
      uptimeMs: Date.now() - this.started,
      ...(this.plugins.host === undefined ? {} : { plugins: this.plugins.host.stats() }),
    };
  }
}

/** Resolves when the socket drains, or when the link closes (a dead peer never drains). */
function untilDrainedOrClosed(ws: WebSocket, socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('drain', done);
      ws.off('close', done);
      resolve();
    };
    socket.once('drain', done);
    ws.once('close', done);
  });
}

/** A window as it arrived (bar objects or columns) as bars. */
function barsOf(window: WireWindow): Bar[] {
  return Array.isArray(window) ? (window as Bar[]) : fromColumns(window);
}

/** A proposal's window for the wire: columns, the compact form. */
function toWire(window: Bar[]): WireWindow {
  return toColumns(window);
}

const KNOWN_OPS = new Set([
  'health',
  'configure',
  'execute',
  'ping',
  'propose',
  'sync',
  'blast',
  'metrics',
  'reset',
  'plugins',
]);
