import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../lib/errors.ts';
import { backoffDelayMs, isTransientError, retry } from '../../lib/retry.ts';

function failing(times: number, error: () => unknown = () => new Error('boom')) {
  let calls = 0;
  const fn = async (attempt: number) => {
    calls += 1;
    if (calls <= times) throw error();
    return `ok on attempt ${attempt}`;
  };
  return { fn, calls: () => calls };
}

describe('backoffDelayMs', () => {
  it('grows exponentially from the base and never exceeds the cap (full jitter upper bound)', () => {
    // Prepare
    const almostOne = () => 0.999_999;

    // Act
    const ceilings = [1, 2, 3, 4, 5, 6, 7, 10].map((n) =>
      backoffDelayMs(n, { baseMs: 50, capMs: 2_000, random: almostOne }),
    );

    // Assess
    expect(ceilings).toEqual([49, 99, 199, 399, 799, 1599, 1999, 1999]);
  });

  it('is zero when random returns 0, and proportional to random in between', () => {
    expect(backoffDelayMs(4, { baseMs: 50, capMs: 2_000, random: () => 0 })).toBe(0);
    expect(backoffDelayMs(4, { baseMs: 50, capMs: 2_000, random: () => 0.25 })).toBe(100);
    expect(backoffDelayMs(9, { baseMs: 50, capMs: 2_000, random: () => 0.25 })).toBe(500);
  });
});

describe('retry', () => {
  it('retries until success and sleeps the jittered backoff between tries', async () => {
    // Prepare
    const { fn, calls } = failing(3);
    const sleeps: number[] = [];
    const retried: number[] = [];

    // Act
    const value = await retry(fn, {
      attempts: 5,
      baseMs: 100,
      capMs: 250,
      random: () => 0.5,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      onRetry: ({ attempt }) => retried.push(attempt),
    });

    // Assess
    expect(value).toBe('ok on attempt 4');
    expect(calls()).toBe(4);
    expect(sleeps).toEqual([50, 100, 125]);
    expect(retried).toEqual([1, 2, 3]);
  });

  it('rethrows the last error unchanged after the last attempt', async () => {
    // Prepare
    let n = 0;
    const { fn, calls } = failing(10, () => new Error(`failure ${++n}`));

    // Act
    const error = await retry(fn, { attempts: 3, sleep: async () => undefined }).catch((e: unknown) => e);

    // Assess
    expect((error as Error).message).toBe('failure 3');
    expect(calls()).toBe(3);
  });

  it('does not retry an error the predicate rejects', async () => {
    // Prepare
    const { fn, calls } = failing(10, () => Object.assign(new Error('no'), { name: 'ValidationException' }));

    // Act
    const error = await retry(fn, {
      attempts: 5,
      isRetryable: isTransientError,
      sleep: async () => undefined,
    }).catch((e: unknown) => e);

    // Assess
    expect((error as Error).name).toBe('ValidationException');
    expect(calls()).toBe(1);
  });

  it('rejects nonsensical options with InvalidInputError', async () => {
    await expect(retry(async () => 1, { attempts: 0 })).rejects.toThrow(InvalidInputError);
    await expect(retry(async () => 1, { attempts: 1.5 })).rejects.toThrow(/retry.attempts/);
    await expect(retry(async () => 1, { baseMs: -1 })).rejects.toThrow(/retry.baseMs/);
  });
});

describe('isTransientError', () => {
  it.each([
    [{ name: 'ThrottlingException' }, true],
    [{ name: 'ProvisionedThroughputExceededException' }, true],
    [{ name: 'InternalServerError' }, true],
    [{ name: 'RequestLimitExceeded' }, true],
    [{ name: 'ServiceUnavailable' }, true],
    [{ name: 'Whatever', $metadata: { httpStatusCode: 503 } }, true],
    [{ code: 'ECONNRESET' }, true],
    [{ code: 'ECONNREFUSED' }, true],
    [{ name: 'TypeError', cause: { code: 'ECONNREFUSED' } }, true],
    [{ name: 'ConditionalCheckFailedException', $metadata: { httpStatusCode: 400 } }, false],
    [{ name: 'ValidationException' }, false],
    [{ name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } }, false],
    ['ECONNRESET', false],
    [null, false],
  ])('%j -> %s', (error, expected) => {
    expect(isTransientError(error)).toBe(expected);
  });
});
