// Raw floor of a plug-in call: the barest ws server (as echo-server.mjs) that answers a
// window-sized binary request either at once or after handing it to a worker thread of its own
// and back (wake.ts's WakeFloor: a bare worker parked on Atomics.wait), so bench/plugins.ts can set
// the plug-in's extra cost beside the least any hop between two threads adds to a socket round
// trip on this machine, in the same run. Run by node itself (type stripping), like the .mjs floors.
//
// The first byte of a binary request says how it is answered:
//   'W' (0x57)  at once, in the server's thread (the built-in's floor);
//   'H' (0x48)  after a hop to the parked worker: notify, then blocked until it answers;
//   'S' (0x53)  the same, but polling for the answer up to 200 us before blocking.
// The worker reads nothing and computes nothing. The server keeps every hop's two wake-ups (to the
// worker, back to this thread) and prints them when asked (a line on stdin). Prints one ready
// line; exits when its stdin closes or on SIGTERM.
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { WakeFloor } from './wake.ts';

// The answer an agent gives to execute, as echo-server.mjs sends it.
const ANSWER = JSON.stringify({
  t: 'res',
  id: 1234,
  ok: true,
  result: { action: 'hold', confidence: 0.1234567890123, size: 0, computeUs: 12.345 },
});
const SPIN_US = 200;

const floor = await WakeFloor.start();
// Each hop's two wake-ups, microseconds, by kind: to the worker, and back to this thread.
const steps = {
  H: { wakeWorker: [] as number[], wakeBack: [] as number[] },
  S: { wakeWorker: [] as number[], wakeBack: [] as number[] },
};

function hop(spinUs: number, into: { wakeWorker: number[]; wakeBack: number[] }): void {
  const { wakeWorker, wakeBack } = floor.roundTrip(spinUs);
  into.wakeWorker.push(wakeWorker);
  into.wakeBack.push(wakeBack);
}

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  perMessageDeflate: false,
  maxPayload: 1024 * 1024,
});
wss.on('connection', (ws) => {
  ws.on('message', (data: Buffer, isBinary) => {
    if (!isBinary) return;
    if (data[0] === 0x48) hop(0, steps.H);
    else if (data[0] === 0x53) hop(SPIN_US, steps.S);
    ws.send(ANSWER);
  });
});
wss.on('listening', () => {
  const { port } = wss.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ event: 'ready', port, pid: process.pid })}\n`);
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
