import { describe, expect, it } from 'vitest';
import {
  isProcessAlive,
  parseProcStat,
  parseStatmRssBytes,
  parseStatusVmRssBytes,
  ticksToMs,
} from '../../lib/sandbox/proc.ts';

// Captured from a Linux 6.x machine, with fields shortened after rss where they do not matter.
const STAT_NODE =
  '4242 (node) S 4100 4242 4035 0 -1 4194560 5120 0 3 0 1234 567 0 0 20 0 11 0 170797 1153433600 11520 18446744073709551615';
// A command name may contain spaces and parentheses; the kernel does not escape them.
const STAT_ODD_NAME =
  '77 (my (odd) agent) Z 1 77 77 0 -1 4194304 98 0 0 0 30 12 0 0 20 0 1 0 170797 3133440 413';

describe('parseProcStat', () => {
  it('reads state, parent, group and CPU ticks', () => {
    // Prepare / Act
    const stat = parseProcStat(STAT_NODE);

    // Assess
    expect(stat).toEqual({
      pid: 4242,
      comm: 'node',
      state: 'S',
      ppid: 4100,
      pgrp: 4242,
      utimeTicks: 1234,
      stimeTicks: 567,
      startTicks: 170797,
    });
  });

  it('takes fields after the last parenthesis when the name contains spaces and parentheses', () => {
    // Prepare / Act
    const stat = parseProcStat(STAT_ODD_NAME);

    // Assess
    expect(stat).toMatchObject({
      pid: 77,
      comm: 'my (odd) agent',
      state: 'Z',
      utimeTicks: 30,
      stimeTicks: 12,
    });
  });

  it('rejects truncated or garbled text', () => {
    // Prepare / Act / Assess
    expect(parseProcStat('4242 (node) S 4100')).toBeUndefined();
    expect(parseProcStat('not a stat line')).toBeUndefined();
  });
});

describe('RSS parsing', () => {
  it('multiplies the statm resident pages by the page size', () => {
    // Prepare / Act / Assess
    expect(parseStatmRssBytes('282158 11520 4870 1234 0 70000 0\n')).toBe(11520 * 4096);
    expect(parseStatmRssBytes('10 3 1 1 0 1 0', 16384)).toBe(3 * 16384);
    expect(parseStatmRssBytes('')).toBeUndefined();
  });

  it('reads VmRSS in kB from status', () => {
    // Prepare
    const status = 'Name:\tnode\nVmPeak:\t 1200000 kB\nVmRSS:\t   46080 kB\nRssAnon:\t 30000 kB\n';

    // Act / Assess
    expect(parseStatusVmRssBytes(status)).toBe(46080 * 1024);
    expect(parseStatusVmRssBytes('Name:\tkthreadd\n')).toBeUndefined();
  });
});

describe('CPU time', () => {
  it('converts clock ticks to milliseconds', () => {
    // Prepare / Act / Assess
    expect(ticksToMs(1234 + 567, 100)).toBe(18_010);
    expect(ticksToMs(250, 250)).toBe(1000);
  });
});

describe('isProcessAlive', () => {
  it('is true for this process and false for a pid that cannot exist', () => {
    // Prepare / Act / Assess
    expect(isProcessAlive(process.pid)).toBe(true);
    expect(isProcessAlive(2 ** 22 + 1)).toBe(false);
  });
});
