/**
 * Shutdown on SIGINT/SIGTERM for programs (the CLI), not for library code: providers never install
 * signal handlers themselves. Agents of a process that dies without running the handler still exit
 * on their own, because they watch their stdin pipe.
 */
import { constants } from 'node:os';

/** The part of `process` that onShutdownSignals touches, injectable for tests. */
export interface SignalTarget {
  on(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  off(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  exit(code: number): void;
}

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/**
 * On the first SIGINT or SIGTERM run `handler` (e.g. `() => provider.killAll()`), then exit with
 * 128 + the signal number. A second signal while the handler runs exits at once. Returns a function
 * that removes the listeners.
 */
export function onShutdownSignals(
  handler: (signal: NodeJS.Signals) => Promise<void>,
  target: SignalTarget = process,
): () => void {
  let shuttingDown = false;
  const exitCode = (signal: NodeJS.Signals) => 128 + (constants.signals[signal] ?? 0);
  const listener = (signal: NodeJS.Signals): void => {
    if (shuttingDown) {
      target.exit(exitCode(signal));
      return;
    }
    // The listener stays installed, so a second Ctrl-C forces the exit instead of being ignored.
    shuttingDown = true;
    void handler(signal)
      .catch(() => undefined)
      .finally(() => target.exit(exitCode(signal)));
  };
  for (const name of SIGNALS) target.on(name, listener);
  return () => {
    for (const name of SIGNALS) target.off(name, listener);
  };
}
