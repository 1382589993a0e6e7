/**
 * Retry with full-jitter exponential backoff, shared by the result store, sandbox creation and
 * report upload. Sleep and randomness are injected so tests run instantly and deterministically.
 */
import { InvalidInputError } from './errors.ts';

/** How `retry` retries. */
export interface RetryOptions {
  /** Total tries, the first included. @default 5 */
  attempts?: number;
  /** Backoff base: the ceiling of the delay before retry k is min(capMs, baseMs * 2^(k-1)). @default 50 */
  baseMs?: number;
  /** Largest delay between two tries. @default 2000 */
  capMs?: number;
  /** Whether an error is worth another try. @default every error */
  isRetryable?: (error: unknown) => boolean;
  /** @default setTimeout-based sleep */
  sleep?: (ms: number) => Promise<void>;
  /** A number in [0, 1). @default Math.random */
  random?: () => number;
  /** Called before each wait, e.g. to log or count retries. */
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
}

export const RETRY_DEFAULTS = { attempts: 5, baseMs: 50, capMs: 2_000 } as const;

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The wait before retry number `retryNumber` (1 = the wait after the first failure): uniform in
 * [0, min(capMs, baseMs * 2^(retryNumber-1))). Full jitter spreads retrying callers apart, which
 * matters when many Lambdas are throttled at the same moment.
 */
export function backoffDelayMs(
  retryNumber: number,
  options: { baseMs: number; capMs: number; random: () => number },
): number {
  const ceilingMs = Math.min(options.capMs, options.baseMs * 2 ** (retryNumber - 1));
  const r = Math.min(Math.max(options.random(), 0), 1);
  return Math.floor(r * ceilingMs);
}

/**
 * Runs `fn` until it resolves, an error is not retryable, or the attempts are used up; then
 * rethrows the last error unchanged so the caller can wrap it in its own error type.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? RETRY_DEFAULTS.attempts;
  const baseMs = options.baseMs ?? RETRY_DEFAULTS.baseMs;
  const capMs = options.capMs ?? RETRY_DEFAULTS.capMs;
  if (!Number.isInteger(attempts) || attempts < 1) {
    throw new InvalidInputError('retry.attempts', 'an integer >= 1', attempts);
  }
  if (!Number.isFinite(baseMs) || baseMs < 0)
    throw new InvalidInputError('retry.baseMs', 'a number >= 0', baseMs);
  if (!Number.isFinite(capMs) || capMs < 0)
    throw new InvalidInputError('retry.capMs', 'a number >= 0', capMs);
  const isRetryable = options.isRetryable ?? (() => true);
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;

  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      if (attempt >= attempts || !isRetryable(error)) throw error;
      const delayMs = backoffDelayMs(attempt, { baseMs, capMs, random });
      options.onRetry?.({ attempt, delayMs, error });
      await sleep(delayMs);
    }
  }
}

const TRANSIENT_ERROR_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'InternalServerError',
  'InternalFailure',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'SlowDown',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
]);

const TRANSIENT_SOCKET_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * True for errors that another try may cure: AWS throttling and server faults (by name or a 5xx
 * status), and dropped or refused connections.
 */
export function isTransientError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as {
    name?: unknown;
    code?: unknown;
    $metadata?: { httpStatusCode?: unknown };
    cause?: unknown;
  };
  if (typeof e.name === 'string' && TRANSIENT_ERROR_NAMES.has(e.name)) return true;
  if (typeof e.code === 'string' && TRANSIENT_SOCKET_CODES.has(e.code)) return true;
  const status = e.$metadata?.httpStatusCode;
  if (typeof status === 'number' && status >= 500 && status <= 599) return true;
  // Node's fetch and some SDK handlers wrap the socket error one level down.
  if (e.cause !== undefined && e.cause !== error) {
    const cause = e.cause as { code?: unknown };
    if (typeof cause === 'object' && cause !== null && typeof cause.code === 'string') {
      return TRANSIENT_SOCKET_CODES.has(cause.code);
    }
  }
  return false;
}
