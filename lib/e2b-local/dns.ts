/**
 * The sandboxes' DNS: answers A queries for `<anything>.<domain>` with the edge's bridge address, as
 * E2B's public DNS sends `<port>-<id>.e2b.app` to its edge; every other name is NXDOMAIN (local
 * sandboxes have no internet). Listens only on the bridge address the local E2B created. The
 * message format is RFC 1035 section 4; only single-question queries are answered.
 */
import { createSocket, type Socket } from 'node:dgram';

const TYPE_A = 1;
const CLASS_IN = 1;
const TTL_SECONDS = 5;

/** Parse the question of a query: name (lower-case, no trailing dot), type, and where it ends. */
export function parseQuestion(query: Buffer): { name: string; type: number; end: number } | undefined {
  if (query.length < 12 || query.readUInt16BE(4) !== 1) return undefined;
  const labels: string[] = [];
  let offset = 12;
  for (;;) {
    const length = query[offset];
    if (length === undefined || length > 63) return undefined;
    offset++;
    if (length === 0) break;
    labels.push(
      query
        .subarray(offset, offset + length)
        .toString('latin1')
        .toLowerCase(),
    );
    offset += length;
  }
  if (offset + 4 > query.length) return undefined;
  return { name: labels.join('.'), type: query.readUInt16BE(offset), end: offset + 4 };
}

/** The answer to one query: `address` for names under `domain`, NXDOMAIN otherwise. */
export function answer(query: Buffer, domain: string, address: string): Buffer | undefined {
  const question = parseQuestion(query);
  if (question === undefined) return undefined;
  const ours = question.name === domain || question.name.endsWith(`.${domain}`);
  const withA = ours && question.type === TYPE_A;
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0);
  // QR=1, opcode 0, RD copied, RA=1; rcode 3 (NXDOMAIN) for names that are not ours.
  header.writeUInt16BE(0x8080 | (query.readUInt16BE(2) & 0x0100) | (ours ? 0 : 3), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(withA ? 1 : 0, 6);
  const parts = [header, query.subarray(12, question.end)];
  if (withA) {
    const record = Buffer.alloc(16);
    record.writeUInt16BE(0xc00c, 0); // pointer to the name in the question
    record.writeUInt16BE(TYPE_A, 2);
    record.writeUInt16BE(CLASS_IN, 4);
    record.writeUInt32BE(TTL_SECONDS, 6);
    record.writeUInt16BE(4, 10);
    address.split('.').forEach((octet, i) => {
      record.writeUInt8(Number(octet), 12 + i);
    });
    parts.push(record);
  }
  return Buffer.concat(parts);
}

/** Serve DNS on udp `address`:53 until closed. */
export async function startDns(address: string, domain: string): Promise<Socket> {
  const socket = createSocket('udp4');
  socket.on('message', (query, peer) => {
    const reply = answer(query, domain.toLowerCase(), address);
    if (reply) socket.send(reply, peer.port, peer.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(53, address, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return socket;
}
