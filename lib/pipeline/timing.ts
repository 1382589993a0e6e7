/** Timing helpers of the pipeline's steps (where a step's time went). */

/** Laps of a monotonic clock: each lap() is the ms since the previous one (or the start). */
export function stopwatch(): { lap: () => number } {
  let last = performance.now();
  return {
    lap() {
      const now = performance.now();
      const ms = now - last;
      last = now;
      return ms;
    },
  };
}

/**
 * Wall time during which at least one call of a wrapped object's async methods was in flight
 * (overlapping calls count once): the store-read or upload share of a rendering step.
 */
export function busyClock() {
  let inFlight = 0;
  let since = 0;
  let total = 0;
  const begin = () => {
    if (inFlight++ === 0) since = performance.now();
  };
  const end = () => {
    if (--inFlight === 0) total += performance.now() - since;
  };
  return {
    ms: () => total + (inFlight > 0 ? performance.now() - since : 0),
    /** `target` with every method timed; non-async results pass through untouched. */
    wrap<T extends object>(target: T): T {
      return new Proxy(target, {
        get(object, key, receiver) {
          const value = Reflect.get(object, key, receiver);
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) => {
            begin();
            let result: unknown;
            try {
              result = value.apply(object, args);
            } catch (error) {
              end();
              throw error;
            }
            if (result instanceof Promise) return result.finally(end);
            end();
            return result;
          };
        },
      });
    },
  };
}
