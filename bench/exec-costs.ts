/**
 * What one strategy round trip costs outside the kernel, step by step, for a window sent as JSON
 * columns (protocol 2) and as a binary window frame (protocol 3), measured in this process: the
 * coordinator's encode, the agent's decode + validation, the strategy (reading the window's
 * columns in place: no bar objects are made), the reply (serialise at the agent, parse at the coordinator). Used by bench/breakdown.ts and,
 * in the same run as its socket figures, by bench/runtime.ts.
 */
import { requestSchema } from '../lib/agent/protocol.ts';
import { decodeWindowFrame, encodeWindowFrame, isRefusal } from '../lib/agent/window-frame.ts';
import type { RequestTrace } from '../lib/swarm/client.ts';
import { toColumns } from '../lib/trading/columns.ts';
import { generateBars } from '../lib/trading/market.ts';
import { createStrategy } from '../lib/trading/strategies.ts';

export interface ExecuteCosts {
  bars: number;
  /** Frame bytes on the wire (payload, without ws framing). */
  bytes: { json: number; binary: number };
  /**
   * CPU microseconds (user + system) per call, median of several batches: CPU time, not wall
   * time, so a loaded machine that takes the core away mid-batch does not inflate the figure.
   */
  us: {
    encodeJson: number;
    encodeBinary: number;
    decodeJson: number;
    decodeBinary: number;
    compute: number;
    reply: number;
  };
}

function medianBatchUs(calls: number, batches: number, fn: () => unknown): number {
  // Warm up long enough for the optimising compiler to take over, as it has on a running agent.
  for (let i = 0; i < Math.max(calls, 1_000); i++) fn();
  const perCall: number[] = [];
  for (let b = 0; b < batches; b++) {
    const t0 = process.cpuUsage();
    for (let i = 0; i < calls; i++) fn();
    const spent = process.cpuUsage(t0);
    perCall.push((spent.user + spent.system) / calls);
  }
  perCall.sort((a, b) => a - b);
  return perCall[Math.floor(perCall.length / 2)] as number;
}

/** Costs of one execute round trip on a `bars`-bar window, both wire forms. */
export function measureExecuteCosts(bars = 500, calls = 200, batches = 7): ExecuteCosts {
  const window = generateBars({ bars, seed: 1 });
  const body = { op: 'execute' as const, strategy: 'momentum', window };
  const strategy = createStrategy('momentum');
  // The coordinator: text to bytes (what ws.send does with a string) vs the binary frame.
  const jsonBytes = () =>
    Buffer.from(JSON.stringify({ t: 'req', id: 7, ...body, window: toColumns(window) }));
  const binaryBytes = () => encodeWindowFrame(7, body) as Buffer;
  const jsonFrame = jsonBytes();
  const binaryFrame = binaryBytes();
  // The agent: bytes to a checked request.
  const decodeJson = () => {
    const parsed = requestSchema.safeParse(JSON.parse(jsonFrame.toString()));
    if (!parsed.success) throw new Error('bench: JSON frame refused');
    return parsed.data;
  };
  const decodeBinary = () => {
    const decoded = decodeWindowFrame(binaryFrame);
    if (isRefusal(decoded)) throw new Error(`bench: binary frame refused: ${decoded.message}`);
    return decoded;
  };
  const decoded = decodeBinary();
  const signal = strategy.signal(decoded.window);
  const reply = () =>
    JSON.parse(
      JSON.stringify({ t: 'res', id: 7, ok: true, result: { ...signal, computeUs: 123.456 } }),
    ) as unknown;
  return {
    bars,
    bytes: { json: jsonFrame.length, binary: binaryFrame.length },
    us: {
      encodeJson: medianBatchUs(calls, batches, jsonBytes),
      encodeBinary: medianBatchUs(calls, batches, binaryBytes),
      decodeJson: medianBatchUs(calls, batches, decodeJson),
      decodeBinary: medianBatchUs(calls, batches, decodeBinary),
      compute: medianBatchUs(calls, batches, () => strategy.signal(decoded.window)),
      reply: medianBatchUs(calls * 10, batches, reply),
    },
  };
}

/** The costs as lines of text; `rttUs` (median socket round trips) adds the remainder: send, wake, ws. */
export function formatExecuteCosts(costs: ExecuteCosts, rttUs?: { json: number; binary: number }): string {
  const { us, bytes } = costs;
  const jsonSide = us.encodeJson + us.decodeJson;
  const binarySide = us.encodeBinary + us.decodeBinary;
  const sum = (encode: number, decode: number) => encode + decode + us.compute + us.reply;
  const f = (n: number) => n.toFixed(1).padStart(8);
  const lines = [
    `one strategy round trip, ${costs.bars} bars, CPU us per call (medians)  JSON    binary`,
    `  frame bytes                                              ${String(bytes.json).padStart(8)}  ${String(bytes.binary).padStart(8)}`,
    `  encode at the coordinator (to bytes)                     ${f(us.encodeJson)}  ${f(us.encodeBinary)}`,
    `  decode + validate at the agent                           ${f(us.decodeJson)}  ${f(us.decodeBinary)}`,
    `  encode + decode + validate                               ${f(jsonSide)}  ${f(binarySide)}   (${(jsonSide / binarySide).toFixed(1)}x less)`,
    `  strategy compute (on the columns in place)               ${f(us.compute)}  ${f(us.compute)}`,
    `  reply (serialise + parse)                                ${f(us.reply)}  ${f(us.reply)}`,
    `  all of it in user space                                  ${f(sum(us.encodeJson, us.decodeJson))}  ${f(sum(us.encodeBinary, us.decodeBinary))}`,
  ];
  if (rttUs) {
    lines.push(
      `  round trip measured over sockets (median)                ${f(rttUs.json)}  ${f(rttUs.binary)}`,
      `  remainder: send, ws framing, kernel, wake-ups            ${f(rttUs.json - sum(us.encodeJson, us.decodeJson))}  ${f(rttUs.binary - sum(us.encodeBinary, us.decodeBinary))}`,
    );
  }
  return lines.join('\n');
}

/**
 * One strategy round trip over sockets cut at its hops, us per sample, from the readings of the
 * coordinator's client and the agent's answer (`at`) on the host's one monotonic clock.
 */
export interface ExecuteHops {
  /** Request made to the agent handed the frame: encode, ws.send (mask, write), kernel, wake-up, read, ws parse. */
  toAgent: number[];
  /** The part of `toAgent` spent in the send call (encode, mask, write; and any preemption by the woken agent). */
  sendCall: number[];
  /** Frame handed to the agent to its answer serialised: decode + validate, compute. */
  inAgent: number[];
  /** Answer serialised to the coordinator handed it: ws.send, kernel, wake-up, read, ws parse. */
  toCoordinator: number[];
  /** Answer handed to the coordinator to the caller's await returning: parse, resolve, a microtask. */
  settle: number[];
}

export function emptyHops(): ExecuteHops {
  return { toAgent: [], sendCall: [], inAgent: [], toCoordinator: [], settle: [] };
}

/** Add one round trip's hops (a trace without the agent's readings is skipped). */
export function recordHops(hops: ExecuteHops, trace: RequestTrace | undefined, endNs: bigint): void {
  if (trace?.agentReceivedNs === undefined || trace.agentAnsweredNs === undefined) return;
  const us = (from: bigint, to: bigint) => Number(to - from) / 1000;
  hops.toAgent.push(us(trace.startNs, trace.agentReceivedNs));
  hops.sendCall.push(us(trace.startNs, trace.sentNs));
  hops.inAgent.push(us(trace.agentReceivedNs, trace.agentAnsweredNs));
  hops.toCoordinator.push(us(trace.agentAnsweredNs, trace.receivedNs));
  hops.settle.push(us(trace.receivedNs, endNs));
}

function pick(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.round((sorted.length - 1) * p))] as number;
}

/** The hops as lines of text: p50 and p99 of each, next to the floor's whole round trip (p50). */
export function formatHops(hops: ExecuteHops, floorP50Us: number): string {
  const f = (n: number) => n.toFixed(1).padStart(9);
  const row = (name: string, samples: readonly number[]) =>
    `  ${name.padEnd(62)}${f(pick(samples, 0.5))}${f(pick(samples, 0.99))}`;
  return [
    `one strategy round trip over sockets, hop by hop (binary, ${hops.inAgent.length} samples)   p50 us   p99 us`,
    row('coordinator request -> agent has the frame', hops.toAgent),
    row('  of which encode + ws.send call (mask, write)', hops.sendCall),
    row('in the agent: decode + validate, compute   ', hops.inAgent),
    row('agent answer -> coordinator has it (write, kernel, wake, ws)', hops.toCoordinator),
    row('coordinator: parse the answer, resolve, await', hops.settle),
    `  floor (e), the whole bare round trip of the same size:          ${f(floorP50Us)}`,
  ].join('\n');
}
