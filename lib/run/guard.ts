/**
 * The guard of the process that owns a run: the shutdown controller (lib/run/signals.ts) wired to
 * the run's abort, its provider and its store, plus the launcher watch (lib/run/parent.ts). The CLI
 * installs one per run.
 */
import type { SandboxProvider } from '../sandbox/types.ts';
import type { ResultStore } from '../store/types.ts';
import { watchLaunchers } from './parent.ts';
import { describeCause, installShutdown, type ShutdownController, type ShutdownOptions } from './signals.ts';

export interface RunGuardOptions {
  /** Stops the run: aborts its AbortController with `reason` (the runner then stops, records, reports). */
  abort(reason: string): void;
  provider: Pick<SandboxProvider, 'killAll' | 'killAllSync'>;
  store: Pick<ResultStore, 'finishRun'>;
  /** The run's id once it exists. */
  runId(): string | undefined;
  /** One line for the user (stderr). */
  say?(line: string): void;
  /** Watch the launcher chain (npm, npx, sh, tsx) and stop when it goes. @default true */
  watchParent?: boolean;
  now?: () => Date;
  shutdown?: Pick<ShutdownOptions, 'host' | 'timers' | 'relayWindowMs' | 'graceMs' | 'forceWriteMs'>;
}

export function guardRun(options: RunGuardOptions): ShutdownController {
  const say = options.say ?? (() => {});
  const now = options.now ?? (() => new Date());
  const controller = installShutdown({
    ...options.shutdown,
    onStop(cause) {
      say(
        `swarm-bench: ${describeCause(cause)}: stopping; agents are being killed and a partial report written (a second signal forces the exit)`,
      );
      options.abort(describeCause(cause));
      void options.provider.killAll().catch(() => undefined);
    },
    killNow() {
      options.provider.killAllSync?.();
    },
    async onForce(cause, why) {
      say(`swarm-bench: forced exit (${why})`);
      const runId = options.runId();
      await Promise.all([
        options.provider.killAll().catch(() => undefined),
        runId === undefined
          ? undefined
          : options.store.finishRun(runId, {
              status: 'interrupted',
              endedAt: now().toISOString(),
              reason: `interrupted by ${describeCause(cause)}; forced exit (${why}) before the partial report was written`,
            }),
      ]);
    },
  });
  const unwatch =
    options.watchParent === false
      ? () => {}
      : watchLaunchers((ancestor) =>
          controller.request({ kind: 'parent-exit', pid: ancestor.pid, command: ancestor.comm }),
        );
  return {
    get cause() {
      return controller.cause;
    },
    get relays() {
      return controller.relays;
    },
    get forced() {
      return controller.forced;
    },
    request: (cause) => controller.request(cause),
    exitCode: () => controller.exitCode(),
    dispose() {
      unwatch();
      controller.dispose();
    },
  };
}
