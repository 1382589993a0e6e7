/**
 * Process-leak checks for tests that start real agent processes. Deliberately independent of
 * lib/sandbox/proc.ts, so a bug there cannot hide a leak here.
 */
import { readFileSync } from 'node:fs';

/** How a pid looks from here: gone, a zombie (exited, not yet reaped: counts as dead) or running. */
export type PidState = 'gone' | 'zombie' | 'alive';

/** Inspect one pid: `kill(pid, 0)` first, then the state letter of /proc/<pid>/stat (Linux). */
export function pidState(pid: number): PidState {
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`not a pid: ${pid}`);
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to someone else, so it is alive.
    return (error as NodeJS.ErrnoException).code === 'ESRCH' ? 'gone' : 'alive';
  }
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    // Vanished between the two checks, or no /proc (then kill(0) succeeding means alive).
    return process.platform === 'linux' ? 'gone' : 'alive';
  }
  // The command name may hold spaces and parentheses: the state follows the last ')'.
  const state = stat.slice(stat.lastIndexOf(')') + 1).trim()[0];
  return state === 'Z' || state === 'X' ? 'zombie' : 'alive';
}

/** Pids among `pids` that are still running (zombies excluded). */
export function alivePids(pids: Iterable<number>): number[] {
  return [...new Set(pids)].filter((pid) => pidState(pid) === 'alive');
}

function describePid(pid: number): string {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
    return `${pid} (${cmdline.slice(0, 120)})`;
  } catch {
    return String(pid);
  }
}

/**
 * Wait up to `timeoutMs` for every pid to be gone or a zombie; throws naming the survivors (with
 * their command lines) otherwise. Kills nothing: a leak must fail the test, not be tidied away.
 */
export async function expectPidsDead(
  pids: Iterable<number>,
  { timeoutMs = 15_000, intervalMs = 25 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<void> {
  const list = [...new Set(pids)];
  const deadline = Date.now() + timeoutMs;
  let alive = alivePids(list);
  while (alive.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    alive = alivePids(alive);
  }
  if (alive.length > 0) {
    throw new Error(
      `${alive.length} of ${list.length} processes still running after ${timeoutMs} ms: ${alive.map(describePid).join(', ')}`,
    );
  }
}

/** SIGKILL whatever survived (clean-up of last resort, after the assertion has already failed). */
export function killSurvivors(pids: Iterable<number>): number[] {
  const alive = alivePids(pids);
  for (const pid of alive) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone in the meantime
    }
  }
  return alive;
}
