// Raw floor (f): one of ten bare node + ws processes running the message pattern of our consensus
// round and nothing else: no auth, no validation, no strategy, frames of a few bytes. The bench
// links ten of them in our swarm's topology and gives each the routes our router computes
// (lib/swarm/topology.ts), so a round takes the same message delays and messages as ours:
//   agent 0, on a control request: floods a proposal down its broadcast tree, votes itself;
//   every other agent: floods the proposal on to its children, then routes a vote to agent 0;
//   agent 0, at the quorum of votes: floods a commit, acknowledges it itself;
//   every other agent: notes the commit's arrival on the shared monotonic clock, floods it on,
//   routes an ack (with that time) to agent 0; relays pass votes and acks on, unread;
//   agent 0, at the quorum of acks: answers the control request with held (latest receipt among
//   the acks minus the proposal's start), commit and ack round trip times, in microseconds.
// Usage: node consensus-agent.mjs. Prints {"event":"ready","port":P}; then takes one JSON line on
// stdin, {"self","quorum","urls","dials","neighbours","children","toRoot"}, dials the neighbours
// above it (as our agents do, at ws://.../<self>), and prints {"event":"linked"} once every link
// is open. The bench drives agent 0 over a ws at /control. Exits when its stdin closes.
import { createInterface } from 'node:readline';
import { WebSocket, WebSocketServer } from 'ws';

const PROP = 1;
const VOTE = 2;
const COMMIT = 3;
const CACK = 4;

let self = -1;
let quorum = 0;
let children = [];
/** Neighbour index -> its open ws. */
const links = new Map();
let toRoot;
let expected = Number.POSITIVE_INFINITY;
let onLinked = () => undefined;

// Agent 0's round in flight.
let pid = 0;
let control;
let started = 0n;
let votes = 0;
let acks = 0;
let heldAt = 0n;
let commitUs = -1;

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
wss.on('connection', (ws, req) => {
  if (req.url === '/control') {
    control = ws;
    ws.on('message', propose);
    return;
  }
  attach(Number(req.url.slice(1)), ws);
});
wss.on('listening', () => {
  process.stdout.write(`${JSON.stringify({ event: 'ready', port: wss.address().port, pid: process.pid })}\n`);
});

function attach(peer, ws) {
  links.set(peer, ws);
  ws.on('message', (data) => receive(data));
  if (links.size === expected) onLinked();
}

const frame = (kind, id, bytes) => {
  const out = Buffer.allocUnsafe(bytes);
  out[0] = kind;
  out.writeUInt32LE(id, 1);
  return out;
};
const flood = (data) => {
  for (const child of children) links.get(child).send(data);
};
const micros = (from, to) => Number(to - from) / 1000;

function propose() {
  pid++;
  started = process.hrtime.bigint();
  acks = 0;
  heldAt = 0n;
  commitUs = -1;
  flood(frame(PROP, pid, 5));
  votes = 1; // its own vote
}

function receive(data) {
  const kind = data[0];
  if (self !== 0 && (kind === VOTE || kind === CACK)) {
    toRoot.send(data); // a relay: on toward agent 0, unread
    return;
  }
  const id = data.readUInt32LE(1);
  if (kind === PROP) {
    flood(data);
    const vote = frame(VOTE, id, 6);
    vote[5] = self;
    toRoot.send(vote);
  } else if (kind === COMMIT) {
    const receivedAt = process.hrtime.bigint();
    flood(data);
    const ack = frame(CACK, id, 14);
    ack[5] = self;
    ack.writeBigUInt64LE(receivedAt, 6);
    toRoot.send(ack);
  } else if (kind === VOTE) {
    if (id !== pid || commitUs >= 0 || ++votes < quorum) return;
    commitUs = micros(started, process.hrtime.bigint());
    flood(frame(COMMIT, pid, 5));
    heldAt = process.hrtime.bigint(); // its own ack
    acks = 1;
  } else if (kind === CACK) {
    if (id !== pid || acks >= quorum) return;
    const at = data.readBigUInt64LE(6);
    if (at > heldAt) heldAt = at;
    if (++acks < quorum) return;
    const now = process.hrtime.bigint();
    control.send(JSON.stringify({ heldUs: micros(started, heldAt), commitUs, ackUs: micros(started, now) }));
  }
}

const lines = createInterface({ input: process.stdin });
lines.once('line', async (line) => {
  const plan = JSON.parse(line);
  ({ self, quorum, children } = plan);
  expected = plan.neighbours.length;
  const linked = new Promise((resolve) => {
    onLinked = resolve;
  });
  if (links.size === expected) onLinked();
  for (const peer of plan.dials) {
    const ws = new WebSocket(`${plan.urls[peer]}/${self}`, { perMessageDeflate: false });
    ws.once('open', () => attach(peer, ws));
  }
  await linked;
  toRoot = links.get(plan.toRoot);
  process.stdout.write(`${JSON.stringify({ event: 'linked' })}\n`);
});
lines.once('close', () => process.exit(0));
