// Raw floor: a bare ws client in its own node process, driven by JSON commands on stdin, one
// JSON answer per line on stdout. Usage: node client.mjs ws://127.0.0.1:<port>
//   {"cmd":"ping","count":N,"warmup":W}       sequential round trips of a small frame, microseconds
//   {"cmd":"ping","count":N,"warmup":W,"bytes":B}  the same with a B-byte binary request (a window
//                                             frame's size) answered by a short text frame
//   {"cmd":"load","count":N,"window":K}       N echoed frames with at most K unanswered, messages/s
import { createInterface } from 'node:readline';
import { WebSocket } from 'ws';

const url = process.argv[2];
const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 1024 * 1024 });
await new Promise((resolve, reject) => {
  ws.once('open', resolve);
  ws.once('error', reject);
});

let onMessage = () => undefined;
ws.on('message', () => onMessage());

const micros = (start) => Number(process.hrtime.bigint() - start) / 1000;

async function ping(count, warmup, bytes) {
  const samplesUs = [];
  const warmupUs = [];
  for (let i = 0; i < warmup + count; i++) {
    // The same shape and size as an agent's ping frame, or a fresh buffer of a window frame's size
    // starting with its magic byte (the coordinator builds each request anew, too).
    const frame =
      bytes > 0 ? windowSized(bytes) : JSON.stringify({ t: 'ping', src: 0, dst: 1, id: i + 1, path: [0] });
    const start = process.hrtime.bigint();
    await new Promise((resolve) => {
      onMessage = resolve;
      ws.send(frame);
    });
    (i < warmup ? warmupUs : samplesUs).push(micros(start));
  }
  return { samplesUs, warmupUs };
}

function windowSized(bytes) {
  const frame = Buffer.alloc(bytes);
  frame[0] = 0x57;
  return frame;
}

async function load(count, window) {
  // The same frame as an agent's blast message with a 16-byte payload.
  const frame = JSON.stringify({ t: 'm', p: 'x'.repeat(16) });
  let sent = 0;
  let received = 0;
  const start = process.hrtime.bigint();
  await new Promise((resolve) => {
    onMessage = () => {
      received++;
      if (received === count) resolve();
      else if (sent < count) {
        sent++;
        ws.send(frame);
      }
    };
    for (; sent < Math.min(window, count); sent++) ws.send(frame);
  });
  const elapsedUs = micros(start);
  return { messages: received, elapsedUs, messagesPerSecond: received / (elapsedUs / 1e6) };
}

const lines = createInterface({ input: process.stdin });
process.stdout.write(`${JSON.stringify({ event: 'ready', pid: process.pid })}\n`);
for await (const line of lines) {
  const command = JSON.parse(line);
  const result =
    command.cmd === 'ping'
      ? await ping(command.count, command.warmup ?? 0, command.bytes ?? 0)
      : await load(command.count, command.window);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
ws.terminate();
process.exit(0);
