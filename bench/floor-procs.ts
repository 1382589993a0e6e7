/**
 * The raw floors' processes (bench/floors/): a bare node + ws echo server and a bare ws client
 * driven over stdin, and the ten bare consensus processes of floor (f), each a child of this
 * process, started with its node. Used by the benches that print a figure next to its floor
 * measured in the same run (runtime.ts, breakdown.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { broadcastChildren, buildTopology, nextHops, type TopologyKind } from '../lib/swarm/topology.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FLOORS = join(ROOT, 'bench/floors');

/** Every floor process still running, so a failure anywhere still kills them. */
export const live = new Set<ChildProcess>();

/** A child started with process.execPath, its stdout read line by line. */
export class Child {
  readonly lines: Interface;
  private readonly queue: string[] = [];
  private waiter: ((line: string) => void) | undefined;

  constructor(readonly process: ChildProcess) {
    this.lines = createInterface({ input: process.stdout as NodeJS.ReadableStream });
    this.lines.on('line', (line) => {
      const waiter = this.waiter;
      this.waiter = undefined;
      if (waiter) waiter(line);
      else this.queue.push(line);
    });
  }

  static start(script: string, args: string[] = []): Child {
    const child = spawn(process.execPath, [join(FLOORS, script), ...args], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    live.add(child);
    child.once('exit', () => live.delete(child));
    return new Child(child);
  }

  get pid(): number {
    return this.process.pid as number;
  }

  next<T>(): Promise<T> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(JSON.parse(queued) as T);
    return new Promise((resolvePromise, reject) => {
      const onExit = () => reject(new Error(`floor process ${this.pid} exited`));
      this.process.once('exit', onExit);
      this.waiter = (line) => {
        this.process.off('exit', onExit);
        resolvePromise(JSON.parse(line) as T);
      };
    });
  }

  async command<T>(body: object): Promise<T> {
    this.process.stdin?.write(`${JSON.stringify(body)}\n`);
    return this.next<T>();
  }

  async stop(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    const exited = new Promise((r) => this.process.once('exit', r));
    this.process.kill('SIGKILL');
    await exited;
  }
}

/** A floor server of bench/floors/ (it prints its port when ready), and its URL. */
export async function startServer(script: string): Promise<{ child: Child; url: string }> {
  const child = Child.start(script);
  const ready = await child.next<{ port: number }>();
  return { child, url: `ws://127.0.0.1:${ready.port}` };
}

export function startEcho(): Promise<{ child: Child; url: string }> {
  return startServer('echo-server.mjs');
}

export async function startClient(url: string): Promise<Child> {
  const child = Child.start('client.mjs', [url]);
  await child.next();
  return child;
}

/** What one round of floor (f) measured, in microseconds (as our propose result names them). */
export interface FloorRound {
  heldUs: number;
  commitUs: number;
  ackUs: number;
}

/**
 * Floor (f): `size` bare consensus processes (consensus-agent.mjs) linked in our swarm's topology,
 * each with the routes our router takes (votes and acks hop toward agent 0 along `nextHops`, floods
 * go down agent 0's broadcast tree), driven over a control ws to agent 0, one request a round.
 */
export async function startConsensusFloor(
  kind: TopologyKind,
  size: number,
  quorum: number,
): Promise<{ pids: number[]; round: () => Promise<FloorRound>; stop: () => Promise<void> }> {
  const topology = buildTopology(kind, size);
  const root = topology.root;
  const agents = Array.from({ length: size }, () => Child.start('consensus-agent.mjs'));
  const ports = await Promise.all(agents.map((a) => a.next<{ port: number }>()));
  const urls = ports.map(({ port }) => `ws://127.0.0.1:${port}`);
  await Promise.all(
    agents.map((agent, self) => {
      const neighbours = topology.neighbors[self] ?? [];
      return agent.command({
        self,
        quorum,
        urls,
        neighbours,
        dials: neighbours.filter((peer) => peer > self),
        children: broadcastChildren(topology, root, self),
        toRoot: nextHops(topology, self)[root],
      });
    }),
  );
  const control = new WebSocket(`${urls[root]}/control`, { perMessageDeflate: false });
  await new Promise((resolvePromise, reject) => {
    control.once('open', resolvePromise);
    control.once('error', reject);
  });
  return {
    pids: agents.map((a) => a.pid),
    round: () =>
      new Promise<FloorRound>((resolvePromise) => {
        control.once('message', (data) => resolvePromise(JSON.parse(String(data)) as FloorRound));
        control.send(Buffer.of(1));
      }),
    stop: async () => {
      control.terminate();
      await Promise.all(agents.map((a) => a.stop()));
    },
  };
}
