/**
 * Checks of what plug-in code answers, shared by the worker (which reports a bad answer as that
 * plug-in's error) and the host (which cannot trust anything a worker running user code writes).
 */
import type { PluginAction, PluginSignal } from './types.ts';

export const ACTIONS: ReadonlySet<string> = new Set<PluginAction>(['buy', 'sell', 'hold']);
const MAX_DIAGNOSTICS = 32;

/** A signal as the agent may pass it on: known action, confidence and size in 0..1, few numeric diagnostics. */
export function checkSignal(name: string, value: unknown): PluginSignal {
  const signal = value as Partial<PluginSignal> | null;
  if (signal === null || typeof signal !== 'object')
    throw new Error(`${name}: signal returned ${typeof value}, not { action, confidence }`);
  if (!ACTIONS.has(signal.action as string))
    throw new Error(`${name}: action must be buy, sell or hold (got ${JSON.stringify(signal.action)})`);
  const action = signal.action as PluginAction;
  const confidence = signal.confidence;
  if (typeof confidence !== 'number' || !(confidence >= 0 && confidence <= 1)) {
    throw new Error(`${name}: confidence must be a number in 0..1 (got ${String(confidence)})`);
  }
  const size = signal.size ?? (action === 'hold' ? 0 : 0.25 * confidence);
  if (typeof size !== 'number' || !(size >= 0 && size <= 1))
    throw new Error(`${name}: size must be a number in 0..1 (got ${String(size)})`);
  const out: PluginSignal = { action, confidence, size };
  if (signal.diagnostics !== undefined) {
    const entries = Object.entries(signal.diagnostics ?? {});
    if (entries.length > MAX_DIAGNOSTICS || entries.some(([, v]) => typeof v !== 'number')) {
      throw new Error(`${name}: diagnostics must be at most ${MAX_DIAGNOSTICS} numbers`);
    }
    out.diagnostics = Object.fromEntries(entries) as Record<string, number>;
  }
  return out;
}
