/** The coordinator's connection to one agent: authenticated, request/response, with timeouts. */
import { WebSocket } from 'ws';
import { credentialFor } from '../agent/auth.ts';
import {
  MAX_FRAME_BYTES,
  type OpResults,
  type RequestBody,
  ROLE_HEADER,
  readReplyClock,
  SECRET_HEADER,
} from '../agent/protocol.ts';
import { encodeWindowFrame } from '../agent/window-frame.ts';
import { AgentError, TimeoutError } from '../errors.ts';
import { toColumns } from '../trading/columns.ts';
import type { Bar } from '../trading/types.ts';
import { DeadlineQueue } from './deadlines.ts';

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  op: string;
  timeoutMs: number;
  startNs: bigint;
  sentNs: bigint;
}

/**
 * The hops of one answered request, each a `process.hrtime.bigint()` reading in ns. The agent's
 * two readings come from its answer (`at`, protocol.ts ReplyClock) and compare with this
 * process's only when both read one clock (agents in local sandboxes on this host).
 */
export interface RequestTrace {
  /** `request` was called: the frame is not built yet. */
  startNs: bigint;
  /** `ws.send` returned: the frame was built, masked and handed to the socket. */
  sentNs: bigint;
  /** The agent was handed the request's frame, and serialised its answer (absent if it did not say). */
  agentReceivedNs?: bigint;
  agentAnsweredNs?: bigint;
  /** The answer's frame was handed to this client. */
  receivedNs: bigint;
}

/** A failed WebSocket handshake; `retryable` when trying again could succeed (timeout, 502-504, refused port). */
export class HandshakeError extends AgentError {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/** Default time an agent has to answer one request. */
export const REQUEST_TIMEOUT_MS = 30_000;

/**
 * How a request carrying a window travels: `binary` (Float64 columns, window-frame.ts; what the
 * client does), or `json` (the columns as JSON number arrays: the wire form before protocol 3,
 * kept for comparison in bench/ and for tests).
 */
export type WindowWire = 'binary' | 'json';

export class AgentClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Every request's deadline, behind one timer (not one setTimeout per round trip). */
  private readonly deadlines = new DeadlineQueue<number>((id) => this.expire(id));
  private closed = false;
  /** The hops of the latest answered request. */
  lastTrace: RequestTrace | undefined;

  private constructor(
    readonly agentId: string,
    private readonly ws: WebSocket,
  ) {
    ws.on('message', (data) => this.onMessage(data.toString(), process.hrtime.bigint()));
    ws.on('close', () => this.failAll(new AgentError(`agent ${agentId}: connection closed`)));
    ws.on('error', () => {
      // 'close' follows and fails what is pending.
    });
  }

  /** Connect to an agent at `url` as the coordinator of the swarm whose secret is `secret`. */
  static connect(agentId: string, url: string, secret: string, timeoutMs = 10_000): Promise<AgentClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, {
        headers: { [SECRET_HEADER]: credentialFor(secret, 'coordinator'), [ROLE_HEADER]: 'coordinator' },
        maxPayload: 64 * MAX_FRAME_BYTES,
        perMessageDeflate: false,
        handshakeTimeout: timeoutMs,
      });
      ws.once('open', () => resolve(new AgentClient(agentId, ws)));
      ws.once('unexpected-response', (_req, res) => {
        ws.terminate();
        const status = res.statusCode ?? 0;
        reject(
          new HandshakeError(
            `agent ${agentId} refused the connection (HTTP ${status})`,
            status === 502 || status === 503 || status === 504,
          ),
        );
      });
      ws.once('error', (error: Error & { code?: string }) => {
        // A certificate the client does not trust stays untrusted: only network trouble is retried.
        const certificate = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(error.code ?? '');
        reject(new HandshakeError(`agent ${agentId} unreachable: ${error.message}`, !certificate));
      });
    });
  }

  /**
   * Connect as `connect` does, trying up to `attempts` times when the handshake timed out, the
   * agent was unreachable or an edge answered 502/503/504, waiting `backoffMs` doubled after each
   * failure. A refusal for any other status (bad credential) is never retried.
   */
  static async connectRetrying(
    agentId: string,
    url: string,
    secret: string,
    options: { attempts: number; timeoutMs?: number; backoffMs?: number; onRetry?: (error: Error) => void },
  ): Promise<AgentClient> {
    const attempts = Math.max(1, Math.floor(options.attempts));
    let backoffMs = options.backoffMs ?? 500;
    for (let attempt = 1; ; attempt++) {
      try {
        return await AgentClient.connect(agentId, url, secret, options.timeoutMs);
      } catch (error) {
        const retryable = error instanceof HandshakeError && error.retryable;
        if (!retryable || attempt >= attempts) throw error;
        options.onRetry?.(error);
        await new Promise((resolve) => setTimeout(resolve, backoffMs));
        backoffMs *= 2;
      }
    }
  }

  get open(): boolean {
    return !this.closed && this.ws.readyState === WebSocket.OPEN;
  }

  /**
   * Send one request and wait for its answer. `execute`, and `propose` with a window, go as a
   * binary frame (the window written straight from bars into Float64 columns) unless `wire` says
   * json or the body holds something only the JSON form can state (then the agent's schema judges
   * it); a window of bar objects sent as JSON travels as columns.
   */
  request<O extends keyof OpResults>(
    body: Extract<RequestBody, { op: O }>,
    timeoutMs = REQUEST_TIMEOUT_MS,
    wire: WindowWire = 'binary',
  ): Promise<OpResults[O]> {
    if (!this.open) return Promise.reject(new AgentError(`agent ${this.agentId}: not connected`));
    const id = this.nextId++;
    const startNs = process.hrtime.bigint();
    return new Promise((resolve, reject) => {
      const pending: Pending = {
        resolve: resolve as (value: unknown) => void,
        reject,
        op: body.op,
        timeoutMs,
        startNs,
        sentNs: 0n,
      };
      this.pending.set(id, pending);
      this.deadlines.add(id, timeoutMs);
      const frame = wire === 'binary' ? encodeWindowFrame(id, body) : undefined;
      this.ws.send(frame ?? jsonFrame(id, body));
      pending.sentNs = process.hrtime.bigint();
    });
  }

  /** Send raw text (for abuse tests: malformed or oversized frames). */
  sendRaw(data: string | Buffer): void {
    this.ws.send(data);
  }

  close(): void {
    this.closed = true;
    this.ws.terminate();
    this.failAll(new AgentError(`agent ${this.agentId}: connection closed`));
  }

  private onMessage(text: string, receivedNs: bigint): void {
    let frame: {
      t?: string;
      id?: number;
      ok?: boolean;
      result?: unknown;
      error?: { name: string; message: string };
      at?: unknown;
    };
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (frame.t !== 'res' || typeof frame.id !== 'number') return;
    const pending = this.pending.get(frame.id);
    if (!pending) return;
    this.pending.delete(frame.id);
    this.deadlines.delete(frame.id);
    const agent = readReplyClock(frame.at);
    this.lastTrace = {
      startNs: pending.startNs,
      sentNs: pending.sentNs,
      receivedNs,
      ...(agent ? { agentReceivedNs: agent[0], agentAnsweredNs: agent[1] } : {}),
    };
    if (frame.ok) pending.resolve(frame.result);
    else
      pending.reject(new AgentError(`agent ${this.agentId}: ${frame.error?.name}: ${frame.error?.message}`));
  }

  private expire(id: number): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    pending.reject(
      new TimeoutError(`agent ${this.agentId}: ${pending.op} got no answer within ${pending.timeoutMs} ms`),
    );
  }

  private failAll(error: Error): void {
    this.deadlines.clear();
    for (const [id, pending] of this.pending) {
      pending.reject(error);
      this.pending.delete(id);
    }
  }
}

/** A request as JSON text; a window of bar objects goes as columns (30% smaller, faster to parse). */
function jsonFrame(id: number, body: RequestBody): string {
  const window = (body as { window?: unknown }).window;
  if (Array.isArray(window) && window.every((bar) => bar !== null && typeof bar === 'object')) {
    return JSON.stringify({ t: 'req', id, ...body, window: toColumns(window as Bar[]) });
  }
  return JSON.stringify({ t: 'req', id, ...body });
}
