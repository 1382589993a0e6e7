/**
 * The inside of a plug-in worker thread: loads one user module, checks its shape, runs it once on
 * a seeded window (the dry run), then answers calls from the agent's PluginHost. Every answer is
 * checked here, so a malformed signal is that plug-in's error, never the agent's.
 *
 * Bundled by lib/plugins/bundle.ts together with the user's modules; it never runs in the
 * coordinator, only in an agent's worker thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { generateBars } from '../trading/market.ts';
import {
  ANSWER,
  C_BARS,
  C_ID,
  C_KIND,
  C_STATE,
  Channel,
  type ChannelAnswer,
  clockMs,
  KIND_SIGNAL,
  MAX_BARS,
  REQUEST,
  S_ANSWERED,
  S_COMPUTED,
  S_READ,
  S_WOKE,
  Spin,
  waitAsync,
} from './channel.ts';
import { ACTIONS, checkSignal } from './checks.ts';
import type {
  ColumnarWindow,
  DecisionRulePlugin,
  Plugin,
  PluginAction,
  PluginDescription,
  PluginParams,
  PluginSignal,
  PluginVote,
  StrategyPlugin,
} from './types.ts';

/** A call as the worker reads it off the channel. */
export type ToWorker =
  | { t: 'signal'; id: number; window: ColumnarWindow; params?: PluginParams }
  | { t: 'decide'; id: number; votes: PluginVote[]; context: { agents: number; quorum: number } };

/** The worker's ready message (a port message), and its answers (numbers on the channel). */
export type FromWorker = { t: 'ready'; description: PluginDescription } | ChannelAnswer;

/** What the worker is started with. */
export interface PluginWorkerData {
  kind: 'swarm-bench-plugin';
  module: number;
  expect: Plugin['kind'];
  /** The call channel's shared memory (channel.ts). */
  channel: SharedArrayBuffer;
  /** How long the worker spins for the next call after an answer before it blocks (microseconds). */
  spinUs?: number;
}

const NAME = /^[a-z0-9][a-z0-9-]{0,47}$/;
const DRY_RUN_BARS = 300;
const DRY_RUN_SEED = 20_261_202;
/**
 * How long the worker waits for the next call blocked on the channel (answering at once) before
 * it gives its event loop a turn (console output, timers) and waits asynchronously instead.
 */
const HOT_WAIT_MS = 20;

/** Serve one module of `loaders` (the one workerData names) until the host terminates the thread. */
export async function runPluginWorker(loaders: ReadonlyArray<() => Promise<unknown>>): Promise<void> {
  const port = parentPort;
  const data = workerData as PluginWorkerData;
  if (port === null || data?.kind !== 'swarm-bench-plugin') return;
  const description: PluginDescription = { module: data.module, kind: data.expect, name: '', minBars: 1 };
  let plugin: Plugin | undefined;
  try {
    const loader = loaders[data.module];
    if (loader === undefined) throw new Error(`no module ${data.module} in this bundle`);
    plugin = checkShape(exportOf(await loader()), data.expect);
    description.name = plugin.name;
    if (plugin.kind === 'strategy') description.minBars = plugin.minBars ?? 1;
    description.dryRun = dryRun(plugin);
  } catch (error) {
    description.error = messageOf(error);
  }
  port.postMessage({ t: 'ready', description } satisfies FromWorker);
  if (description.error !== undefined || plugin === undefined) return;
  // Calls come on the channel; a listening port keeps the thread alive between bursts.
  port.on('message', () => {});
  serve(plugin, new Channel(data.channel), ATOMIC_WAITS, data.spinUs ?? 0, new Spin());
}

/** The two waits `serve` makes on the channel's state word (a test interleaves a host's call between them). */
export interface ChannelWaits {
  /** Block while the state is `value`, at most `ms` (Atomics.wait). */
  block(control: Int32Array, value: number, ms: number): 'ok' | 'not-equal' | 'timed-out';
  /** Wait through the event loop while the state is `value` (Atomics.waitAsync). */
  park(control: Int32Array, value: number): ReturnType<typeof waitAsync>;
}

const ATOMIC_WAITS: ChannelWaits = {
  block: (control, value, ms) => Atomics.wait(control, C_STATE, value, ms),
  park: (control, value) => waitAsync(control, C_STATE, value),
};

/**
 * Answer calls off the channel: polling it for up to `spinUs` after an answer while calls come
 * that close together (a series: no wake-up per call), otherwise blocked on it while calls keep
 * coming (a futex wake-up per call), and between bursts through the event loop
 * (Atomics.waitAsync), so the worker's own console output and timers still run.
 */
export function serve(
  plugin: Plugin,
  channel: Channel,
  waits: ChannelWaits = ATOMIC_WAITS,
  spinUs = 0,
  spin: Spin = new Spin(),
): void {
  const { control, stamps } = channel;
  const spinMs = spinUs / 1000;
  let state: number;
  // A call that came within spinUs of the last answer starts a series: after answering it, the
  // worker polls for the next call for up to spinUs before it blocks. A lone call never spins.
  let answeredAt = Number.NEGATIVE_INFINITY;
  let spinUntil = 0;
  for (;;) {
    state = Atomics.load(control, C_STATE);
    if (state === REQUEST) {
      const woke = spin.now();
      stamps[S_WOKE] = clockMs();
      channel.writeAnswer(answerCall(plugin, channel));
      stamps[S_ANSWERED] = clockMs();
      channel.signal(ANSWER);
      const answered = spin.now();
      spinUntil = spinMs > 0 && woke - answeredAt <= spinMs ? answered + spinMs : 0;
      answeredAt = answered;
      continue;
    }
    if (spinUntil !== 0 && spin.until(control, state, spinUntil)) continue;
    spinUntil = 0;
    if (waits.block(control, state, HOT_WAIT_MS) === 'timed-out') break;
  }
  // Park on the state last seen, never on a fresh load: a call the host signalled after the
  // blocking wait timed out has already changed it, so this wait ends at once. Parking on a fresh
  // REQUEST would sleep through that call (the host waits for ANSWER) until its deadline killed us.
  const waiting = waits.park(control, state);
  // The same spin goes on, its back-off with it.
  if (waiting.async) void waiting.value.then(() => serve(plugin, channel, waits, spinUs, spin));
  else setImmediate(() => serve(plugin, channel, waits, spinUs, spin));
}

/** The call on the channel, answered (an error answer when the call fails). */
function answerCall(plugin: Plugin, channel: Channel): ChannelAnswer {
  const id = channel.control[C_ID] as number;
  try {
    const call = readCall(channel, id);
    channel.stamps[S_READ] = clockMs();
    const result = answer(plugin, call);
    channel.stamps[S_COMPUTED] = clockMs();
    return result;
  } catch (error) {
    return { t: 'err', id, error: messageOf(error) };
  }
}

/** The call the host wrote: a window's columns (views of the channel's, read in place) or votes. */
function readCall(channel: Channel, id: number): ToWorker {
  const request = channel.readRequest();
  const extra = (request === '' ? {} : JSON.parse(request)) as {
    params?: PluginParams;
    votes?: PluginVote[];
    context?: { agents: number; quorum: number };
  };
  if (channel.control[C_KIND] === KIND_SIGNAL) {
    const bars = Math.max(0, Math.min(MAX_BARS, channel.control[C_BARS] as number));
    // Views of the shared columns, not copies: the host wrote them for this call and does not
    // touch them until the answer, and never reads them back.
    const window: ColumnarWindow = { length: bars, ...channel.columnViews(bars) };
    return { t: 'signal', id, window, ...(extra.params ? { params: extra.params } : {}) };
  }
  return { t: 'decide', id, votes: extra.votes ?? [], context: extra.context ?? { agents: 0, quorum: 0 } };
}

function answer(plugin: Plugin, message: ToWorker): ChannelAnswer {
  const start = performance.now();
  if (message.t === 'signal') {
    if (plugin.kind !== 'strategy') throw new Error(`${plugin.name} is a decision rule, not a strategy`);
    const signal = runSignal(plugin, message.window, message.params);
    return { t: 'ok', id: message.id, signal, computeUs: (performance.now() - start) * 1000 };
  }
  if (plugin.kind !== 'decision-rule') throw new Error(`${plugin.name} is a strategy, not a decision rule`);
  const decision = runDecide(plugin, message.votes, message.context);
  return { t: 'ok', id: message.id, decision, computeUs: (performance.now() - start) * 1000 };
}

function exportOf(module: unknown): unknown {
  const value = (module as { default?: unknown } | null)?.default ?? module;
  // A CommonJS module bundled as ESM arrives as { default: { default: ... } }.
  const inner = (value as { default?: unknown } | null)?.default;
  return inner !== undefined && typeof inner === 'object' ? inner : value;
}

/** The module's default export, checked against the interface; the message says what is wrong. */
function checkShape(value: unknown, expect: Plugin['kind']): Plugin {
  const what =
    expect === 'strategy'
      ? 'a default export defineStrategy({ name, signal })'
      : 'a default export defineDecisionRule({ name, decide })';
  if (value === null || typeof value !== 'object') throw new Error(`needs ${what}`);
  const plugin = value as {
    kind?: string;
    name?: unknown;
    minBars?: unknown;
    params?: unknown;
    signal?: unknown;
    decide?: unknown;
  };
  if (typeof plugin.name !== 'string' || !NAME.test(plugin.name)) {
    throw new Error(
      `name must be lower-case letters, digits and "-", at most 48 (got ${JSON.stringify(plugin.name)})`,
    );
  }
  const kind = plugin.kind ?? expect;
  if (kind !== expect) throw new Error(`${plugin.name} is a ${kind}; needs ${what}`);
  if (expect === 'strategy') {
    if (typeof plugin.signal !== 'function') throw new Error(`${plugin.name}: signal must be a function`);
    const { minBars } = plugin;
    if (
      minBars !== undefined &&
      !(typeof minBars === 'number' && Number.isInteger(minBars) && minBars >= 1 && minBars <= 5000)
    ) {
      throw new Error(`${plugin.name}: minBars must be an integer 1..5000`);
    }
    if (plugin.params !== undefined) checkParams(plugin.name, plugin.params);
    return { ...(plugin as unknown as StrategyPlugin), kind: 'strategy' };
  }
  if (typeof plugin.decide !== 'function') throw new Error(`${plugin.name}: decide must be a function`);
  return { ...(plugin as unknown as DecisionRulePlugin), kind: 'decision-rule' };
}

function checkParams(name: string, params: unknown): void {
  if (params === null || typeof params !== 'object')
    throw new Error(`${name}: params must be an object of numbers`);
  for (const [key, value] of Object.entries(params)) {
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw new Error(`${name}: params.${key} must be a finite number`);
  }
}

function runSignal(
  plugin: StrategyPlugin,
  window: ColumnarWindow,
  params: PluginParams | undefined,
): PluginSignal {
  if (window.length < (plugin.minBars ?? 1)) return { action: 'hold', confidence: 0, size: 0 };
  const merged = { ...plugin.params, ...params };
  return checkSignal(plugin.name, plugin.signal(window, merged));
}

function runDecide(
  plugin: DecisionRulePlugin,
  votes: PluginVote[],
  context: { agents: number; quorum: number },
): PluginAction {
  const decision = plugin.decide(votes, context);
  if (!ACTIONS.has(decision))
    throw new Error(`${plugin.name}: decide must return buy, sell or hold (got ${JSON.stringify(decision)})`);
  return decision;
}

/** The module's first call, on a seeded window (strategies) or a split vote (rules). */
function dryRun(plugin: Plugin): PluginDescription['dryRun'] {
  const start = performance.now();
  if (plugin.kind === 'strategy') {
    const window = seededWindow(Math.max(DRY_RUN_BARS, plugin.minBars ?? 1));
    const signal = runSignal(plugin, window, undefined);
    return { signal, computeUs: (performance.now() - start) * 1000 };
  }
  const votes: PluginVote[] = [
    { agent: 0, action: 'buy', confidence: 0.9 },
    { agent: 1, action: 'sell', confidence: 0.4 },
    { agent: 2, action: 'hold', confidence: 0.6 },
  ];
  const decision = runDecide(plugin, votes, { agents: 3, quorum: 3 });
  return { decision, computeUs: (performance.now() - start) * 1000 };
}

/** The dry run's window: seeded, so every agent and every validation sees the same bars. */
export function seededWindow(bars: number): ColumnarWindow {
  const generated = generateBars({ bars, seed: DRY_RUN_SEED });
  const column = (pick: (i: number) => number) => Float64Array.from(generated, (_, i) => pick(i));
  return {
    length: bars,
    t: column((i) => generated[i]!.t),
    open: column((i) => generated[i]!.open),
    high: column((i) => generated[i]!.high),
    low: column((i) => generated[i]!.low),
    close: column((i) => generated[i]!.close),
    volume: column((i) => generated[i]!.volume),
  };
}

function messageOf(error: unknown): string {
  const text =
    error instanceof Error
      ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}`
      : String(error);
  return text.slice(0, 500);
}
