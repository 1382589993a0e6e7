/** The clock readings an agent's answer carries (`at`), as the coordinator's client reads them. */
import { describe, expect, it } from 'vitest';
import { readReplyClock } from '../../lib/agent/protocol.ts';

describe('readReplyClock', () => {
  it('reads two decimal nanosecond readings, in order, as bigints', () => {
    // Prepare
    const at = ['123456789012345678901', '123456789012345679001'];
    // Act
    const readings = readReplyClock(at);
    // Assess
    expect(readings).toEqual([123456789012345678901n, 123456789012345679001n]);
  });

  it('takes an answer made in the nanosecond it arrived', () => {
    expect(readReplyClock(['42', '42'])).toEqual([42n, 42n]);
  });

  it.each([
    ['absent', undefined],
    ['not a list', '1,2'],
    ['one reading', ['1']],
    ['three readings', ['1', '2', '3']],
    ['numbers instead of strings', [1, 2]],
    ['a negative reading', ['-1', '2']],
    ['a fraction', ['1.5', '2']],
    ['hex', ['0x10', '20']],
    ['an empty reading', ['', '2']],
    ['26 digits', ['1'.repeat(26), '1'.repeat(26)]],
    ['answered before it arrived', ['20', '10']],
  ])('refuses %s', (_name, at) => {
    expect(readReplyClock(at)).toBeUndefined();
  });
});
