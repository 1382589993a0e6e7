/**
 * The heartbeat of a running run: its owner writes the time into the store every `intervalMs`, so
 * a later command can tell a run whose process is gone (stale heartbeat) from one still going.
 */
import type { ResultStore } from '../store/types.ts';

/** How often the owner of a run beats. */
export const HEARTBEAT_INTERVAL_MS = 5_000;
/** A shared store (DynamoDB) closes a run as abandoned after this long without a beat: six missed beats. */
export const STALE_AFTER_MS = 30_000;

export interface Heartbeat {
  /** Beats written so far. */
  readonly beats: number;
  /** Stops beating and waits for a beat in flight, so no beat lands after the run is finished. */
  stop(): Promise<void>;
}

/**
 * Beats at once, then every `intervalMs`. A failed beat is not fatal (the next one may pass); a run
 * the store no longer holds as running (closed by someone else) stops the beating.
 */
export function startHeartbeat(
  store: Pick<ResultStore, 'heartbeat'>,
  runId: string,
  options: { intervalMs?: number; now?: () => Date; onError?: (error: unknown) => void } = {},
): Heartbeat {
  const now = options.now ?? (() => new Date());
  let beats = 0;
  let stopped = false;
  let inFlight: Promise<void> = Promise.resolve();
  const beat = (): void => {
    if (stopped) return;
    inFlight = store.heartbeat(runId, now().toISOString()).then(
      (outcome) => {
        beats++;
        if (outcome === 'not-running') stop();
      },
      (error: unknown) => options.onError?.(error),
    );
  };
  const timer = setInterval(beat, options.intervalMs ?? HEARTBEAT_INTERVAL_MS);
  timer.unref();
  const stop = (): void => {
    stopped = true;
    clearInterval(timer);
  };
  beat();
  return {
    get beats() {
      return beats;
    },
    async stop() {
      stop();
      await inFlight;
    },
  };
}
