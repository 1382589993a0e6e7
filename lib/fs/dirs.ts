/**
 * Output directories: checked before a run starts (writable, or creatable), and created one level
 * at a time. Node's `mkdir(..., { recursive: true })` never returns on some pseudo file systems
 * (/proc); creating each missing component with a plain mkdir fails at once there instead.
 */
import { mkdtempSync, rmdirSync, statSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { InvalidInputError, SwarmBenchError } from '../errors.ts';

/** Writing an output failed after the work was done: exit 3 with the path and the reason. */
export class OutputError extends SwarmBenchError {
  override readonly code = 'OUTPUT';
}

/** The missing components of `path`, outermost first, and the deepest one that exists. */
function missingComponents(
  path: string,
  exists: (p: string) => boolean,
): { existing: string; missing: string[] } {
  const missing: string[] = [];
  let current = resolve(path);
  while (!exists(current)) {
    missing.unshift(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  return { existing: current, missing };
}

function existsSync(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Refuse (InvalidInputError naming `flag`) a directory that cannot be written: an existing path
 * that is not a directory, a parent that is a file, or a place where nothing can be created
 * (/proc, a read-only mount, no permission). Proven by creating and removing a probe directory in
 * the deepest existing ancestor; nothing else is created, so a run refused later leaves no trace.
 */
export function assertWritableDir(flag: string, path: string): string {
  const absolute = resolve(path);
  const allowed = 'a writable directory, or one that can be created';
  const { existing, missing } = missingComponents(absolute, existsSync);
  let isDir: boolean;
  try {
    isDir = statSync(existing).isDirectory();
  } catch (error) {
    throw new InvalidInputError(flag, allowed, `${absolute}: ${(error as Error).message}`);
  }
  if (!isDir) {
    const what = missing.length === 0 ? 'exists and is not a directory' : `${existing} is a file`;
    throw new InvalidInputError(
      flag,
      `${allowed}; ${absolute} ${missing.length === 0 ? what : `cannot be created: ${what}`}`,
    );
  }
  try {
    rmdirSync(mkdtempSync(join(existing, '.swarm-bench-probe-')));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new InvalidInputError(
      flag,
      `${allowed}; ${absolute} ${missing.length === 0 ? 'is not writable' : `cannot be created in ${existing}`} (${code})`,
    );
  }
  return absolute;
}

/** mkdir -p, one component at a time (bounded by the path's depth), so it fails instead of looping. */
export async function makeDirs(path: string): Promise<void> {
  const exists = async (p: string) =>
    stat(p).then(
      () => true,
      () => false,
    );
  const missing: string[] = [];
  let current = resolve(path);
  while (!(await exists(current))) {
    missing.unshift(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const dir of missing) {
    await mkdir(dir).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
  }
}
