/**
 * The agent's listening side: an HTTP server that only upgrades to WebSocket, and only for a
 * connection that presents the credential of the role it claims (see auth.ts); a peer must also
 * offer the peer protocol's subprotocol (peer-wire.ts), or it is refused with 426. A connection that
 * has not completed its upgrade within the handshake deadline (idle TCP, slow headers) is closed
 * and counted. Knows nothing of what frames mean: it hands authenticated connections to its owner.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import { parseRole, verifyCredential } from './auth.ts';
import type { AgentCounters } from './counters.ts';
import { PEER_PROTOCOL } from './peer-wire.ts';
import { MAX_FRAME_BYTES, ROLE_HEADER, SECRET_HEADER } from './protocol.ts';

/** Time a connection has to complete an authenticated upgrade. */
export const HANDSHAKE_TIMEOUT_MS = 3_000;

/** Why a peer connection is refused although its credential is valid. */
export type PeerRefusal = 'outsider' | 'duplicate';

/** Who the transport hands authenticated connections to. */
export interface Acceptor {
  /** Whether a peer connection claiming `index` may be taken now. */
  admitPeer(index: number): PeerRefusal | undefined;
  control(ws: WebSocket, socket: Socket): void;
  peer(index: number, ws: WebSocket, socket: Socket): void;
}

const REFUSALS = {
  400: 'HTTP/1.1 400 Bad Request',
  401: 'HTTP/1.1 401 Unauthorized',
  403: 'HTTP/1.1 403 Forbidden',
  409: 'HTTP/1.1 409 Conflict',
  426: `HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nSec-WebSocket-Protocol: ${PEER_PROTOCOL}`,
} as const;

/** Whether a `Sec-WebSocket-Protocol` header offers `protocol` (a comma-separated list). */
function offers(header: string | undefined, protocol: string): boolean {
  return header?.split(',').some((offered) => offered.trim() === protocol) ?? false;
}

export class AgentTransport {
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly deadlines = new Map<Socket, NodeJS.Timeout>();

  constructor(
    private readonly secret: () => string,
    private readonly counters: AgentCounters,
    private readonly acceptor: Acceptor,
    private readonly handshakeTimeoutMs = HANDSHAKE_TIMEOUT_MS,
  ) {
    this.http = createServer((_req, res) => {
      res.writeHead(426, { Connection: 'close' }).end();
    });
    this.http.on('connection', (socket: Socket) => this.armDeadline(socket));
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: MAX_FRAME_BYTES,
      perMessageDeflate: false,
      // Peers were checked to offer it; a coordinator offering subprotocols gets none.
      handleProtocols: (offered) => (offered.has(PEER_PROTOCOL) ? PEER_PROTOCOL : false),
    });
    this.http.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket as Socket, head));
  }

  /** Start listening; resolves with the bound port. */
  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        const address = this.http.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
    });
  }

  async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    for (const socket of this.deadlines.keys()) socket.destroy();
    this.wss.close();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  private armDeadline(socket: Socket): void {
    const timer = setTimeout(() => {
      this.deadlines.delete(socket);
      this.counters.rejected.handshake++;
      socket.destroy();
    }, this.handshakeTimeoutMs);
    this.deadlines.set(socket, timer);
    socket.once('close', () => this.clearDeadline(socket));
  }

  private clearDeadline(socket: Socket): void {
    clearTimeout(this.deadlines.get(socket));
    this.deadlines.delete(socket);
  }

  private refuse(socket: Socket, status: keyof typeof REFUSALS): void {
    this.clearDeadline(socket);
    socket.end(`${REFUSALS[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  }

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const presented = req.headers[SECRET_HEADER];
    const claim = parseRole(req.headers[ROLE_HEADER]);
    if (!claim) {
      this.counters.rejected.auth++;
      this.refuse(socket, typeof presented === 'string' ? 400 : 401);
      return;
    }
    if (typeof presented !== 'string' || !verifyCredential(this.secret(), claim.role, presented)) {
      this.counters.rejected.auth++;
      this.refuse(socket, 401);
      return;
    }
    const peer = claim.peer;
    if (peer !== undefined && !offers(req.headers['sec-websocket-protocol'], PEER_PROTOCOL)) {
      // An authenticated peer of another protocol version: told which one this agent speaks.
      this.counters.rejected.unknown++;
      this.refuse(socket, 426);
      return;
    }
    if (peer !== undefined) {
      const refusal = this.acceptor.admitPeer(peer);
      if (refusal) {
        this.counters.rejected[refusal]++;
        this.refuse(socket, refusal === 'outsider' ? 403 : 409);
        return;
      }
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.clearDeadline(socket);
      if (peer !== undefined) {
        // Checked again: another connection for this peer may have completed meanwhile.
        const refusal = this.acceptor.admitPeer(peer);
        if (refusal) {
          this.counters.rejected[refusal]++;
          ws.close(4409, refusal);
          return;
        }
        this.counters.track(socket, 'peer');
        this.acceptor.peer(peer, ws, socket);
      } else {
        this.counters.track(socket, 'control');
        this.acceptor.control(ws, socket);
      }
    });
  }
}
