/**
 * The agent's listening side: an HTTP server that only upgrades to WebSocket, and only for a
 * connection that presents the swarm secret and says who it is (`coordinator` or `peer:<i>`).
 * Knows nothing of what the frames mean: it hands authenticated connections to its owner.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import type { AgentCounters } from './counters.ts';
import { MAX_FRAME_BYTES, ROLE_HEADER, SECRET_HEADER } from './protocol.ts';

/** Who the transport hands authenticated connections to. */
export interface Acceptor {
  control(ws: WebSocket, socket: Socket): void;
  peer(index: number, ws: WebSocket, socket: Socket): void;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class AgentTransport {
  private readonly http: Server;
  private readonly wss: WebSocketServer;

  constructor(
    private readonly secret: () => string,
    private readonly counters: AgentCounters,
    private readonly acceptor: Acceptor,
  ) {
    this.http = createServer((_req, res) => {
      res.writeHead(426).end();
    });
    this.wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false });
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

  /** Connections accepted and still open. */
  get clients(): Set<WebSocket> {
    return this.wss.clients;
  }

  async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const secret = req.headers[SECRET_HEADER];
    const role = req.headers[ROLE_HEADER];
    if (typeof secret !== 'string' || !safeEqual(secret, this.secret()) || typeof role !== 'string') {
      this.counters.rejected.auth++;
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const peer = /^peer:(\d+)$/.exec(role);
    if (role !== 'coordinator' && !peer) {
      this.counters.rejected.auth++;
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      if (peer) {
        this.counters.track(socket, 'peer');
        this.acceptor.peer(Number(peer[1]), ws, socket);
      } else {
        this.counters.track(socket, 'control');
        this.acceptor.control(ws, socket);
      }
    });
  }
}
