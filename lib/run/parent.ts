/**
 * Noticing that the processes that started us went away. npm and npx forward SIGTERM only to their
 * direct child, `sh -c <script>`, which dies of it without passing it on; npm then exits 143 and
 * whatever `sh` started (tsx, the CLI) keeps running as an orphan. Linux's parent-death signal is
 * not reachable from Node, so the owner of a run watches its launcher chain instead: its ancestors
 * inside its own process group (a shell puts `npm start` / `npx ...` and everything it starts in
 * one group, led by npm), or at least its direct parent. When one of them exits, the run stops
 * gracefully, as on SIGHUP.
 */
import { type ProcStat, readProcStatSync } from '../sandbox/proc.ts';

/**
 * The ancestors to watch: every ancestor in `self`'s process group (up to its leader), or the
 * direct parent alone when it is in another group (a CLI started straight from a shell).
 */
export function launcherChain(selfPid: number, read: (pid: number) => ProcStat | undefined): ProcStat[] {
  const self = read(selfPid);
  if (self === undefined || self.ppid <= 1) return [];
  const chain: ProcStat[] = [];
  let next = read(self.ppid);
  if (next === undefined) return [];
  chain.push(next);
  while (next.pgrp === self.pgrp && next.pid !== self.pgrp && next.ppid > 1 && chain.length < 16) {
    const up = read(next.ppid);
    if (up === undefined || up.pgrp !== self.pgrp) break;
    chain.push(up);
    next = up;
  }
  return chain;
}

/** Whether an ancestor recorded by launcherChain has exited (or its pid now names another process). */
export function isGone(recorded: ProcStat, read: (pid: number) => ProcStat | undefined): boolean {
  const now = read(recorded.pid);
  return (
    now === undefined || now.state === 'Z' || now.state === 'X' || now.startTicks !== recorded.startTicks
  );
}

/**
 * Polls the launcher chain every `intervalMs` and calls `onGone` once, with the first ancestor
 * found gone. Returns a function that stops watching. The timer never keeps the process alive.
 */
export function watchLaunchers(
  onGone: (ancestor: ProcStat) => void,
  options: { intervalMs?: number; selfPid?: number; read?: (pid: number) => ProcStat | undefined } = {},
): () => void {
  const read = options.read ?? readProcStatSync;
  const chain = launcherChain(options.selfPid ?? process.pid, read);
  if (chain.length === 0) return () => {};
  const timer = setInterval(() => {
    const gone = chain.find((ancestor) => isGone(ancestor, read));
    if (gone === undefined) return;
    clearInterval(timer);
    onGone(gone);
  }, options.intervalMs ?? 250);
  timer.unref();
  return () => clearInterval(timer);
}
