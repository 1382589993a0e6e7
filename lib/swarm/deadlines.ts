/**
 * The deadlines of a client's outstanding requests behind one timer. A timer per request costs a
 * setTimeout and a clearTimeout on every round trip (a timer-list insert and removal, and an
 * object for the young generation); here a request adds an entry to a list kept in deadline
 * order, and the one timer is armed for the earliest deadline: moved earlier only when a request
 * with a shorter timeout arrives, and otherwise left to fire, expire what is due and re-arm for
 * the next. Each key still expires no earlier than its own timeout after it was added.
 */

/** The deadlines of outstanding keys behind one timer; `expire` is called for each key whose time is up. */
export class DeadlineQueue<K> {
  /** Outstanding deadlines, earliest first; equal deadlines in the order they were added. */
  private readonly entries: { at: number; key: K }[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** When the timer fires (Infinity when none is armed). */
  private armedAt = Number.POSITIVE_INFINITY;

  constructor(
    private readonly expire: (key: K) => void,
    /** A monotonic clock in ms. @default performance.now */
    private readonly now: () => number = () => performance.now(),
  ) {}

  get size(): number {
    return this.entries.length;
  }

  /** Expire `key` `timeoutMs` from now unless it is deleted first. */
  add(key: K, timeoutMs: number): void {
    const at = this.now() + timeoutMs;
    const entries = this.entries;
    let lo = 0;
    let hi = entries.length;
    // Requests of one timeout arrive in deadline order: the search ends at the tail.
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((entries[mid] as { at: number }).at <= at) lo = mid + 1;
      else hi = mid;
    }
    if (lo === entries.length) entries.push({ at, key });
    else entries.splice(lo, 0, { at, key });
    if (at < this.armedAt) this.arm(at);
    else this.timer?.ref();
  }

  /** Forget `key` (answered): whether it was outstanding. The timer stays armed, unreferenced when nothing is left. */
  delete(key: K): boolean {
    const entries = this.entries;
    // Answers mostly come oldest first: the search starts at the head.
    for (let i = 0; i < entries.length; i++) {
      if ((entries[i] as { key: K }).key !== key) continue;
      if (i === 0) entries.shift();
      else entries.splice(i, 1);
      // A timer left armed must not keep the process alive for requests that are all answered.
      if (entries.length === 0) this.timer?.unref();
      return true;
    }
    return false;
  }

  /** Forget every key and stop the timer. */
  clear(): void {
    this.entries.length = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedAt = Number.POSITIVE_INFINITY;
  }

  private arm(at: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.armedAt = at;
    // Never early: a timer that fires before `at` by the event loop's clock finds nothing due and re-arms.
    this.timer = setTimeout(() => this.fire(), Math.max(1, Math.ceil(at - this.now())));
  }

  private fire(): void {
    this.timer = undefined;
    this.armedAt = Number.POSITIVE_INFINITY;
    const now = this.now();
    let due = 0;
    while (due < this.entries.length && (this.entries[due] as { at: number }).at <= now) due++;
    const expired = this.entries.splice(0, due);
    const next = this.entries[0];
    if (next) this.arm(next.at);
    for (const { key } of expired) this.expire(key);
  }
}
