/**
 * Local sandbox directories left behind by a process that died without cleaning up (SIGKILL, a
 * crash, a machine reset). Every local sandbox directory `<root>/swarm-sandbox-<id>` has a record
 * beside it, outside what its agents can write:
 *
 * - `<dir>.owner.json`: the process that owns it (pid and start time, so a reused pid is not
 *   mistaken for it). The directory is expired once that process is gone.
 * - `<dir>.json`: a sandbox detached for another process to connect (the local pipeline hands
 *   idle sandboxes from unit to unit). It is expired once its lifetime ends.
 *
 * A directory with neither record is not ours to judge (an older version, or another tool) and is
 * left alone. Agents still running in an expired directory are killed before it is removed.
 */
import { readdirSync, readlinkSync, rmSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ProcStat, readProcStatSync } from './proc.ts';

const SANDBOX_DIR = /^swarm-sandbox-(local-[0-9a-f]{12})(\.owner\.json|\.json)?$/;

interface OwnerRecord {
  id: string;
  pid: number;
  startTicks: number;
}

export function ownerRecordPath(dir: string): string {
  return `${dir}.owner.json`;
}

/** Record this process as the owner of sandbox directory `dir`. */
export async function writeOwnerRecord(dir: string, id: string): Promise<void> {
  const self = readProcStatSync(process.pid);
  const record: OwnerRecord = { id, pid: process.pid, startTicks: self?.startTicks ?? -1 };
  await writeFile(ownerRecordPath(dir), JSON.stringify(record), { mode: 0o600 });
}

export async function removeOwnerRecord(dir: string): Promise<void> {
  await rm(ownerRecordPath(dir), { force: true });
}

export function removeOwnerRecordSync(dir: string): void {
  rmSync(ownerRecordPath(dir), { force: true });
}

export interface SweepOutcome {
  /** Sandbox ids whose directory (and records) were removed. */
  removed: string[];
  /** Agent processes found still running in them and killed. */
  killed: number[];
}

export interface SweepOptions {
  /** Where the sandboxes were made (the provider's tmpRoot, os.tmpdir() by default). */
  root: string;
  now?: () => number;
  readStat?: (pid: number) => ProcStat | undefined;
}

/** Remove every expired local sandbox directory under `root`. */
export async function sweepLocalSandboxes(options: SweepOptions): Promise<SweepOutcome> {
  const now = options.now ?? Date.now;
  const readStat = options.readStat ?? readProcStatSync;
  let names: string[];
  try {
    names = await readdir(options.root);
  } catch {
    return { removed: [], killed: [] };
  }
  const ids = new Map<string, Set<string>>();
  for (const name of names) {
    const match = SANDBOX_DIR.exec(name);
    if (!match) continue;
    const id = match[1] as string;
    if (!ids.has(id)) ids.set(id, new Set());
    ids.get(id)?.add(match[2] ?? 'dir');
  }
  const outcome: SweepOutcome = { removed: [], killed: [] };
  for (const [id, parts] of ids) {
    const dir = join(options.root, `swarm-sandbox-${id}`);
    let expired: boolean;
    if (parts.has('.json')) {
      const record = await readJson(`${dir}.json`);
      const expiresAt = (record as { expiresAt?: unknown } | undefined)?.expiresAt;
      expired = typeof expiresAt !== 'number' || expiresAt <= now();
    } else if (parts.has('.owner.json')) {
      const record = (await readJson(ownerRecordPath(dir))) as Partial<OwnerRecord> | undefined;
      expired = record === undefined || ownerGone(record, readStat);
    } else {
      continue;
    }
    if (!expired) continue;
    if (parts.has('dir')) outcome.killed.push(...killAgentsIn(dir, readStat));
    await rm(dir, { recursive: true, force: true });
    await rm(`${dir}.json`, { force: true });
    await rm(ownerRecordPath(dir), { force: true });
    outcome.removed.push(id);
  }
  return outcome;
}

function ownerGone(record: Partial<OwnerRecord>, readStat: (pid: number) => ProcStat | undefined): boolean {
  if (typeof record.pid !== 'number' || record.pid <= 0) return true;
  const stat = readStat(record.pid);
  return (
    stat === undefined || stat.state === 'Z' || stat.state === 'X' || stat.startTicks !== record.startTicks
  );
}

async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch {
    return undefined;
  }
}

/** SIGKILL the process group of every process whose working directory is `dir` (agents run there). */
function killAgentsIn(dir: string, readStat: (pid: number) => ProcStat | undefined): number[] {
  const killed: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return killed;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let cwd: string;
    try {
      cwd = readlinkSync(`/proc/${entry}/cwd`);
    } catch {
      continue;
    }
    if (cwd !== dir) continue;
    const pid = Number(entry);
    const stat = readStat(pid);
    try {
      // Agents lead their own process group (spawned detached); anything else is killed alone.
      process.kill(stat?.pgrp === pid ? -pid : pid, 'SIGKILL');
      killed.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return killed;
}
