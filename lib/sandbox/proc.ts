/**
 * Reading process resource use from Linux /proc. The parsers are pure (tested on sample text); the
 * readers return undefined when the process is gone or /proc does not exist (macOS), so callers
 * never mistake a missing reading for a zero.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

/** Page size assumed for /proc/<pid>/statm: 4 KiB on every Linux platform swarm-bench runs on. */
export const PAGE_SIZE_BYTES = 4096;

/** Fields of /proc/<pid>/stat that swarm-bench uses. */
export interface ProcStat {
  pid: number;
  /** Executable name, without the parentheses. */
  comm: string;
  /** R, S, D, Z (zombie), T, ... */
  state: string;
  ppid: number;
  /** Process group id. */
  pgrp: number;
  /** User-mode CPU time, clock ticks. */
  utimeTicks: number;
  /** Kernel-mode CPU time, clock ticks. */
  stimeTicks: number;
  /** Start time after boot, clock ticks: tells a reused pid from the process it once named. */
  startTicks: number;
}

/** Parse /proc/<pid>/stat. The command name may contain spaces and parentheses, so fields are taken after the last ')'. */
export function parseProcStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  const rest = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  const state = rest[0];
  const ppid = Number(rest[1]);
  const pgrp = Number(rest[2]);
  const utimeTicks = Number(rest[11]);
  const stimeTicks = Number(rest[12]);
  const startTicks = Number(rest[19]);
  if (state === undefined || ![pid, ppid, pgrp, utimeTicks, stimeTicks, startTicks].every(Number.isFinite))
    return undefined;
  return { pid, comm: text.slice(open + 1, close), state, ppid, pgrp, utimeTicks, stimeTicks, startTicks };
}

/** Resident set size in bytes from /proc/<pid>/statm (second field, in pages). */
export function parseStatmRssBytes(text: string, pageSizeBytes = PAGE_SIZE_BYTES): number | undefined {
  const pages = Number(text.trim().split(/\s+/)[1]);
  return Number.isFinite(pages) && pages >= 0 ? pages * pageSizeBytes : undefined;
}

/** Resident set size in bytes from the VmRSS line of /proc/<pid>/status (reported in kB). */
export function parseStatusVmRssBytes(text: string): number | undefined {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(text);
  return match?.[1] === undefined ? undefined : Number(match[1]) * 1024;
}

/** CPU milliseconds from clock ticks. */
export function ticksToMs(ticks: number, clockTicksPerSecond: number): number {
  return (ticks * 1000) / clockTicksPerSecond;
}

let clockTicks: number | undefined;

/** The kernel's USER_HZ (`getconf CLK_TCK`), read once; 100 when it cannot be read. */
export function clockTicksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 2000 }).trim());
      clockTicks = Number.isFinite(value) && value > 0 ? value : 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

async function readProc(pid: number, file: string): Promise<string | undefined> {
  try {
    return await readFile(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined;
  }
}

function readProcSync(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined;
  }
}

/** Resident set size of a process in bytes; undefined if it is gone or /proc is unavailable. */
export async function readProcessRss(pid: number): Promise<number | undefined> {
  const text = await readProc(pid, 'statm');
  return text === undefined ? undefined : parseStatmRssBytes(text);
}

/** Synchronous RSS read, for a watchdog tick that must not pile up pending reads. */
export function readProcessRssSync(pid: number): number | undefined {
  const text = readProcSync(pid, 'statm');
  return text === undefined ? undefined : parseStatmRssBytes(text);
}

/** User + system CPU time of a process in milliseconds; undefined if it is gone or /proc is unavailable. */
export async function readProcessCpuMs(pid: number): Promise<number | undefined> {
  const text = await readProc(pid, 'stat');
  const stat = text === undefined ? undefined : parseProcStat(text);
  return stat === undefined ? undefined : ticksToMs(stat.utimeTicks + stat.stimeTicks, clockTicksPerSecond());
}

/**
 * Whether a process exists and is not a zombie. `kill(pid, 0)` alone says yes for zombies, which
 * linger when nobody reaps an orphan (e.g. a container whose PID 1 does not reap).
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  const text = readProcSync(pid, 'stat');
  if (text === undefined) return process.platform !== 'linux';
  return parseProcStat(text)?.state !== 'Z';
}

/** /proc/<pid>/stat parsed, synchronously; undefined once the process is gone (or without /proc). */
export function readProcStatSync(pid: number): ProcStat | undefined {
  const text = readProcSync(pid, 'stat');
  return text === undefined ? undefined : parseProcStat(text);
}
