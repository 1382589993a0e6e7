/** The agent's own counters: messages, refusals, and bytes counted at the socket. */
import type { Socket } from 'node:net';
import type { AgentMetricsReport } from './protocol.ts';

export type SocketKind = 'peer' | 'control';

/** Counters every module of one agent adds to; `report()` reads them with the process's figures. */
export class AgentCounters {
  messagesIn = 0;
  messagesOut = 0;
  blastReceived = 0;
  readonly rejected = {
    auth: 0,
    malformed: 0,
    oversize: 0,
    unknown: 0,
    shed: 0,
    outsider: 0,
    duplicate: 0,
    handshake: 0,
  };
  private readonly sockets = new Map<Socket, SocketKind>();
  private readonly closedBytes = { peerIn: 0, peerOut: 0, controlIn: 0, controlOut: 0 };
  private readonly started = Date.now();

  /** Count a socket's bytes from now on, also after it closes. */
  track(socket: Socket, kind: SocketKind): void {
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

  kindOf(socket: Socket): SocketKind | undefined {
    return this.sockets.get(socket);
  }

  /** The report the `metrics` op answers. */
  report(agentId: string, links: number): AgentMetricsReport {
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
      agentId,
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
      links,
      uptimeMs: Date.now() - this.started,
    };
  }
}

/** Count the protocol errors a connection raises: oversized frames apart from other malformed ones. */
export function countErrors(
  ws: { on(event: 'error', listener: (error: Error) => void): unknown },
  counters: AgentCounters,
): void {
  ws.on('error', (error: Error & { code?: string }) => {
    if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' || /payload/i.test(error.message)) {
      counters.rejected.oversize++;
    } else {
      counters.rejected.malformed++;
    }
  });
}
