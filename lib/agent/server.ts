/**
 * The agent: a WebSocket server that runs inside a sandbox. It wires the transport (listening and
 * authentication), the peer links, and the replicated logic of a `PeerNode` (routing, consensus,
 * state sync, probes, workload), and answers the coordinator's requests.
 */
import { type RawData, WebSocket } from 'ws';
import type { Topology } from '../swarm/topology.ts';
import { credentialFor } from './auth.ts';
import type { UserDecisionRule } from './consensus.ts';
import { AgentCounters, countErrors } from './counters.ts';
import { PeerLinks } from './links.ts';
import { RequestError } from './peer-net.ts';
import { PeerNode } from './peer-node.ts';
import { AgentPlugins, BUILTIN_RULE } from './plugin-host.ts';
import { describeProblem, type OpResults, type ReplyClock, type Request, requestSchema } from './protocol.ts';
import { AgentTransport } from './transport.ts';
import { decodeWindowFrame, isRefusal, type WindowRequest } from './window-frame.ts';
import { StrategyRegistry } from './workload.ts';

/** Options of one agent server. */
export interface AgentServerOptions {
  agentId: string;
  secret: string;
  host: string;
  port: number;
  /** Strategy and decision-rule plug-ins (lib/agent/plugin-host.ts). @default built-ins only */
  plugins?: AgentPlugins;
  /** Strategies by name. @default the built-in strategies and the plug-ins' */
  strategies?: StrategyRegistry;
}

/** Time `configure` waits for every neighbour link. */
const LINK_WAIT_MS = 10_000;

const KNOWN_OPS = new Set([
  'health',
  'configure',
  'execute',
  'ping',
  'propose',
  'sync',
  'blast',
  'metrics',
  'plugins',
]);

/** A running agent. `listen()` starts it; `close()` stops it and drops every connection. */
export class AgentServer {
  private readonly secret: string;
  private readonly counters = new AgentCounters();
  private readonly transport: AgentTransport;
  private readonly links: PeerLinks;
  private readonly node: PeerNode;
  private readonly plugins: AgentPlugins;

  constructor(private readonly options: AgentServerOptions) {
    this.secret = options.secret;
    this.plugins = options.plugins ?? new AgentPlugins(undefined);
    this.links = new PeerLinks(this.counters, {
      frame: (peer, text) => this.node.receive(peer, text),
      up: (peer) => this.node.router.linkUp(peer),
      down: (peer) => this.node.router.linkDown(peer),
    });
    this.node = new PeerNode(
      this.links,
      this.counters,
      options.strategies ?? new StrategyRegistry(undefined, this.plugins),
    );
    this.transport = new AgentTransport(() => this.secret, this.counters, {
      admitPeer: (index) => this.links.admit(index),
      control: (ws) => this.adoptController(ws),
      peer: (index, ws) => this.links.attach(index, ws),
    });
  }

  /** Start listening; resolves with the bound port. */
  listen(): Promise<number> {
    return this.transport.listen(this.options.port, this.options.host);
  }

  /** Stop serving and close every connection. */
  async close(): Promise<void> {
    this.links.dropAll();
    await this.transport.close();
    await this.plugins.close();
  }

  /** The replicated state this agent holds (for tests and diagnostics). */
  get stateSnapshot(): { version: number; state: unknown } {
    return this.node.sync.snapshot;
  }

  private adoptController(ws: WebSocket): void {
    countErrors(ws, this.counters);
    ws.on('message', (data, isBinary) => {
      const receivedNs = process.hrtime.bigint();
      this.counters.messagesIn++;
      if (isBinary) {
        this.onWindowFrame(ws, data, receivedNs);
        return;
      }
      let raw: unknown;
      try {
        raw = JSON.parse(data.toString());
      } catch {
        this.counters.rejected.malformed++;
        this.reply(ws, undefined, receivedNs, undefined, {
          name: 'MalformedFrame',
          message: 'frame is not JSON',
        });
        return;
      }
      const parsed = requestSchema.safeParse(raw);
      if (!parsed.success) {
        const op = (raw as { op?: unknown } | null)?.op;
        const known = typeof op === 'string' && KNOWN_OPS.has(op);
        if (known) this.counters.rejected.malformed++;
        else this.counters.rejected.unknown++;
        this.reply(ws, (raw as { id?: unknown } | null)?.id, receivedNs, undefined, {
          name: known ? 'MalformedFrame' : 'UnknownOperation',
          message: known
            ? describeProblem(parsed.error.issues)
            : `unknown op ${JSON.stringify(op)?.slice(0, 40)}`,
        });
        return;
      }
      this.run(ws, parsed.data, receivedNs);
    });
  }

  /**
   * A binary frame: `execute` or `propose` with its window as Float64 columns (window-frame.ts),
   * checked as the schema checks the JSON form; refused, it is counted and answered as a refused
   * JSON frame is.
   */
  private onWindowFrame(ws: WebSocket, data: RawData, receivedNs: bigint): void {
    const bytes = Array.isArray(data)
      ? Buffer.concat(data)
      : data instanceof ArrayBuffer
        ? new Uint8Array(data)
        : data;
    const decoded = decodeWindowFrame(bytes);
    if (isRefusal(decoded)) {
      if (decoded.unknown) this.counters.rejected.unknown++;
      else this.counters.rejected.malformed++;
      this.reply(ws, decoded.id, receivedNs, undefined, {
        name: decoded.unknown ? 'UnknownOperation' : 'MalformedFrame',
        message: decoded.message,
      });
      return;
    }
    this.run(ws, decoded, receivedNs);
  }

  /**
   * Answer a request: a result at hand (health, metrics, a built-in strategy's signal, a plug-in's
   * answered while the thread waited) at once, from within the frame's own callback; a later one
   * when it settles. Answering at once sends the reply before the rest of the event-loop turn (the
   * socket stream's bookkeeping, other callbacks' promise turns), about 8 us sooner on this
   * machine's local round trips (bench:plugins, by the agent's own clock).
   */
  private run(ws: WebSocket, request: Request | WindowRequest, receivedNs: bigint): void {
    const fail = (error: Error) =>
      this.reply(ws, request.id, receivedNs, undefined, {
        name: error instanceof RequestError ? 'RequestError' : error.name,
        message: error.message,
      });
    let result: unknown;
    try {
      result = this.handle(request);
    } catch (error) {
      fail(error as Error);
      return;
    }
    if (result instanceof Promise)
      result.then((value) => this.reply(ws, request.id, receivedNs, value), fail);
    else this.reply(ws, request.id, receivedNs, result);
  }

  /** Answer request `id`; `receivedNs` is when its frame arrived (the answer's `at`, ReplyClock). */
  private reply(
    ws: WebSocket,
    id: unknown,
    receivedNs: bigint,
    result: unknown,
    error?: { name: string; message: string },
  ): void {
    if (ws.readyState !== WebSocket.OPEN) return;
    const at: ReplyClock = [receivedNs.toString(), process.hrtime.bigint().toString()];
    const frame =
      error === undefined
        ? { t: 'res', id: typeof id === 'number' ? id : -1, ok: true, result, at }
        : { t: 'res', id: typeof id === 'number' ? id : -1, ok: false, error, at };
    this.counters.messagesOut++;
    ws.send(JSON.stringify(frame));
  }

  /** A request's result, at once or as a promise; a failure is thrown or rejected (RequestError for a bad request). */
  private handle(request: Request | WindowRequest): unknown {
    switch (request.op) {
      case 'health':
        return {
          agentId: this.options.agentId,
          configured: this.node.configured !== undefined,
          links: this.links.openCount,
          expectedLinks: this.expectedLinks(),
        } satisfies OpResults['health'];
      case 'configure':
        return this.configure(request);
      case 'execute':
        return this.node.workload.execute(
          request.window,
          request.strategy ?? this.node.workload.strategyName,
        );
      case 'plugins':
        return this.plugins.describe().then((plugins) => ({ plugins }) satisfies OpResults['plugins']);
      case 'ping': {
        const { self, topology } = this.node.requireConfigured();
        if (request.to === self || request.to >= topology.size) {
          throw new RequestError(`ping: "to" must be another agent index below ${topology.size}`);
        }
        return this.node.prober.ping(request.to, request.count, request.warmup, request.payloadBytes);
      }
      case 'propose': {
        const config = this.node.requireConfigured();
        return this.node.consensus.propose(
          { window: request.window, at: request.at },
          request.quorum ?? config.quorum,
          request.timeoutMs,
        );
      }
      case 'sync':
        this.node.requireConfigured();
        return this.node.sync.start(request.version, request.state, request.expect, request.timeoutMs);
      case 'blast':
        this.node.requireConfigured();
        return this.node.workload.blast(request.count, request.payloadBytes);
      case 'metrics': {
        const report = this.counters.report(this.options.agentId, this.links.openCount);
        const host = this.plugins.host;
        return host === undefined ? report : { ...report, plugins: host.stats() };
      }
    }
  }

  private async configure(request: Extract<Request, { op: 'configure' }>): Promise<OpResults['configure']> {
    const topology = request.topology as Topology;
    if (request.self >= topology.size || request.urls.length !== topology.size) {
      throw new RequestError('configure: self and urls must match the topology size');
    }
    if (this.node.configured) throw new RequestError('configure: already configured; reset first');
    // Fail early on an unknown strategy or decision rule (plug-ins load in their workers meanwhile).
    await this.plugins.check(request.strategy, request.decisionRule).catch((error: Error) => {
      throw new RequestError(`configure: ${error.message}`);
    });
    // Links that lower-indexed peers opened before this request arrived are kept.
    this.node.configure({
      self: request.self,
      topology,
      quorum: request.quorum,
      strategy: request.strategy,
      sharedClock: request.sharedClock === true,
      market: request.market,
      rule: this.userRule(request.decisionRule),
    });
    // Each link is dialled by its lower-indexed end, so every pair shares exactly one socket.
    const neighbours = topology.neighbors[request.self] ?? [];
    await this.links.follow({
      self: request.self,
      urls: request.urls,
      dials: neighbours.filter((peer) => peer > request.self),
      neighbours: new Set(neighbours),
      credential: credentialFor(this.secret, `peer:${request.self}`),
    });
    await this.links.waitFor(this.expectedLinks(), LINK_WAIT_MS);
    return { links: this.links.openCount };
  }

  /** A plug-in decision rule for consensus, or none for the built-in plurality. */
  private userRule(name: string | undefined): UserDecisionRule | undefined {
    if (name === undefined || name === BUILTIN_RULE) return undefined;
    return { name, decide: (votes, context) => this.plugins.decide(name, votes, context) };
  }

  private expectedLinks(): number {
    const config = this.node.configured;
    return config?.topology.neighbors[config.self]?.length ?? 0;
  }
}
