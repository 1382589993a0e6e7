/**
 * The slice of the Connect protocol (connectrpc.com/docs/protocol) envd speaks, JSON encoding only,
 * which is what the E2B SDK sends (`useBinaryFormat: false`): unary calls are plain JSON bodies;
 * server-streaming calls wrap every message in a 5-byte envelope (flags, big-endian length) and end
 * with an end-of-stream envelope (flag 0x02) carrying `{}` or `{"error": ...}`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Connect error codes envd answers with (names as the protocol spells them on the wire). */
export type ConnectCode = 'invalid_argument' | 'not_found' | 'unauthenticated' | 'unavailable' | 'internal';

const HTTP_STATUS: Record<ConnectCode, number> = {
  invalid_argument: 400,
  not_found: 404,
  unauthenticated: 401,
  unavailable: 503,
  internal: 500,
};

/** A failure to send back as a Connect error. */
export class ConnectError extends Error {
  constructor(
    readonly code: ConnectCode,
    message: string,
  ) {
    super(message);
  }
}

const END_STREAM = 0x02;

/** One enveloped message. */
export function envelope(message: unknown, flags = 0): Buffer {
  const body = Buffer.from(JSON.stringify(message));
  const head = Buffer.alloc(5);
  head.writeUInt8(flags, 0);
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

/** Read a whole request body. */
export async function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limitBytes)
      throw new ConnectError('invalid_argument', `request body above ${limitBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The JSON request of a call: enveloped for streaming calls, bare for unary ones. */
export function decodeRequest(body: Buffer, streaming: boolean): unknown {
  let json = body;
  if (streaming) {
    if (body.length < 5) throw new ConnectError('invalid_argument', 'missing request envelope');
    const length = body.readUInt32BE(1);
    json = body.subarray(5, 5 + length);
  }
  try {
    return json.length === 0 ? {} : JSON.parse(json.toString('utf8'));
  } catch {
    throw new ConnectError('invalid_argument', 'request is not JSON');
  }
}

/** Answer a unary call. */
export function sendUnary(res: ServerResponse, message: unknown): void {
  const body = JSON.stringify(message);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Answer a unary call with an error. */
export function sendUnaryError(res: ServerResponse, error: ConnectError): void {
  const body = JSON.stringify({ code: error.code, message: error.message });
  res.writeHead(HTTP_STATUS[error.code], { 'content-type': 'application/json' });
  res.end(body);
}

/** A server-streaming response: messages, then exactly one end. */
export class ConnectStream {
  #ended = false;
  constructor(private readonly res: ServerResponse) {
    res.writeHead(200, { 'content-type': 'application/connect+json' });
    res.flushHeaders();
  }

  get ended(): boolean {
    return this.#ended || this.res.destroyed;
  }

  send(message: unknown): void {
    if (!this.ended) this.res.write(envelope(message));
  }

  end(error?: ConnectError): void {
    if (this.ended) return;
    this.#ended = true;
    this.res.end(envelope(error ? { error: { code: error.code, message: error.message } } : {}, END_STREAM));
  }
}
