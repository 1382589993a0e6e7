// Raw floor of a plug-in call: the barest ws server (as echo-server.mjs) that answers a
// window-sized binary request either at once or after handing it to a worker thread of its own
// and back, so bench/plugins.ts can set the plug-in's extra cost beside the least any hop between
// two threads adds to a socket round trip on this machine, in the same run.
//
// The first byte of a binary request says how it is answered:
//   'W' (0x57)  at once, in the server's thread (the built-in's floor);
//   'H' (0x48)  after a hand-off to the parked worker: notify, then blocked until it answers;
//   'S' (0x53)  the same, but polling for the answer up to 200 us before blocking (as a
//               PluginHost's thread does by default).
// The worker reads nothing and computes nothing: it wakes, stores the call's number as its
// answer, and notifies. The server stamps the two wake-ups of every hop (to the worker, back to
// this thread) and prints them when asked (a line on stdin). Prints one ready line; exits when its
// stdin closes or on SIGTERM.
import { Worker } from 'node:worker_threads';
import { WebSocketServer } from 'ws';

// The answer an agent gives to execute, as echo-server.mjs sends it.
const ANSWER = JSON.stringify({
  t: 'res',
  id: 1234,
  ok: true,
  result: { action: 'hold', confidence: 0.1234567890123, size: 0, computeUs: 12.345 },
});
const SPIN_US = 200;

// Int32 words: the call counter the worker waits on, the answer counter this thread waits on;
// then a Float64 slot: when the worker saw the call (process clock, ms).
const shared = new SharedArrayBuffer(16);
const control = new Int32Array(shared, 0, 2);
const woke = new Float64Array(shared, 8, 1);
const worker = new Worker(
  `
const { workerData } = require('node:worker_threads');
const control = new Int32Array(workerData, 0, 2);
const woke = new Float64Array(workerData, 8, 1);
let seen = 0;
for (;;) {
  Atomics.wait(control, 0, seen);
  seen = Atomics.load(control, 0);
  const [s, ns] = process.hrtime();
  woke[0] = s * 1e3 + ns / 1e6;
  Atomics.store(control, 1, seen);
  Atomics.notify(control, 1);
}`,
  { eval: true, workerData: shared },
);
worker.unref();
let calls = 0;
const clockMs = () => {
  const [s, ns] = process.hrtime();
  return s * 1e3 + ns / 1e6;
};
// Each hop's two wake-ups, microseconds, by kind: to the worker, and back to this thread.
const steps = { H: { wakeWorker: [], wakeBack: [] }, S: { wakeWorker: [], wakeBack: [] } };

/** Hand one call to the worker and wait for its answer, polling first for `spinUs`. */
function hop(spinUs, into) {
  const call = ++calls;
  const signalled = clockMs();
  Atomics.store(control, 0, call);
  Atomics.notify(control, 0);
  const until = signalled + spinUs / 1000;
  while (Atomics.load(control, 1) !== call) {
    if (spinUs === 0 || clockMs() >= until) Atomics.wait(control, 1, call - 1, 1000);
  }
  const seen = clockMs();
  into.wakeWorker.push((woke[0] - signalled) * 1000);
  into.wakeBack.push((seen - woke[0]) * 1000);
}

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  perMessageDeflate: false,
  maxPayload: 1024 * 1024,
});
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    if (!isBinary) return;
    if (data[0] === 0x48) hop(0, steps.H);
    else if (data[0] === 0x53) hop(SPIN_US, steps.S);
    ws.send(ANSWER);
  });
});
wss.on('listening', () => {
  process.stdout.write(`${JSON.stringify({ event: 'ready', port: wss.address().port, pid: process.pid })}\n`);
});
// Any line on stdin: print the hops' wake-ups so far (JSON) and forget them.
process.stdin.setEncoding('utf8');
process.stdin.on('data', () => {
  process.stdout.write(`${JSON.stringify(steps)}\n`);
  for (const kind of Object.values(steps)) for (const list of Object.values(kind)) list.length = 0;
});
process.on('SIGTERM', () => process.exit(0));
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
