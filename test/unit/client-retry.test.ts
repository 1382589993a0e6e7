/**
 * The coordinator's bounded handshake retry (used on E2B, whose edge can answer 502 or be slow):
 * a real WebSocket server on loopback answers 502 a given number of times, then accepts; a refusal
 * for a bad credential (401) is never retried.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { AgentClient, HandshakeError } from '../../lib/swarm/client.ts';

let server: Server | undefined;
let wss: WebSocketServer | undefined;

/** A server that answers `status` to the first `failures` upgrades, then accepts. */
async function flakyServer(
  failures: number,
  status: number,
): Promise<{ url: string; upgrades: () => number }> {
  let upgrades = 0;
  wss = new WebSocketServer({ noServer: true });
  server = createServer();
  server.on('upgrade', (req, socket, head) => {
    upgrades++;
    if (upgrades <= failures) {
      socket.end(`HTTP/1.1 ${status} No\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    wss?.handleUpgrade(req, socket, head, (ws) => wss?.emit('connection', ws, req));
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `ws://127.0.0.1:${port}`, upgrades: () => upgrades };
}

afterEach(async () => {
  for (const client of wss?.clients ?? []) client.terminate();
  wss?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
  wss = undefined;
});

describe('AgentClient.connectRetrying', () => {
  it('retries 502 answers up to the attempts given, then connects', async () => {
    const flaky = await flakyServer(2, 502);
    const retried: string[] = [];
    const client = await AgentClient.connectRetrying('a0', flaky.url, 'secret', {
      attempts: 3,
      backoffMs: 10,
      onRetry: (error) => retried.push(error.message),
    });
    expect(client.open).toBe(true);
    expect(flaky.upgrades()).toBe(3);
    expect(retried).toEqual([
      'agent a0 refused the connection (HTTP 502)',
      'agent a0 refused the connection (HTTP 502)',
    ]);
    client.close();
  });

  it('gives up after the last attempt with the last error', async () => {
    const flaky = await flakyServer(5, 503);
    await expect(
      AgentClient.connectRetrying('a0', flaky.url, 'secret', { attempts: 2, backoffMs: 10 }),
    ).rejects.toThrow('HTTP 503');
    expect(flaky.upgrades()).toBe(2);
  });

  it('never retries a refused credential', async () => {
    const flaky = await flakyServer(5, 401);
    const error = await AgentClient.connectRetrying('a0', flaky.url, 'secret', {
      attempts: 3,
      backoffMs: 10,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HandshakeError);
    expect((error as HandshakeError).retryable).toBe(false);
    expect(flaky.upgrades()).toBe(1);
  });

  it('retries a port nobody listens on, as an edge would answer while routing', async () => {
    const flaky = await flakyServer(0, 200);
    const url = flaky.url;
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    server = undefined;
    const retried: string[] = [];
    await expect(
      AgentClient.connectRetrying('a0', url, 'secret', {
        attempts: 2,
        backoffMs: 10,
        onRetry: (error) => retried.push(error.message),
      }),
    ).rejects.toThrow('unreachable');
    expect(retried).toHaveLength(1);
  });
});
