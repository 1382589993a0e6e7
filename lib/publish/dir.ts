/** A ReportSink that writes files under one directory and nowhere else. */
import { rename, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { InvalidInputError } from '../errors.ts';
import { makeDirs, OutputError } from '../fs/dirs.ts';
import type { ReportSink } from './types.ts';

const ALLOWED = 'a relative path inside the report directory (no "..", no absolute path, no NUL)';

/** Writes report artifacts under `directory`; names that could escape it are rejected. */
export class DirReportSink implements ReportSink {
  readonly directory: string;

  constructor(directory: string) {
    if (typeof directory !== 'string' || directory === '' || directory.includes('\0')) {
      throw new InvalidInputError('directory', 'a non-empty path without NUL', directory);
    }
    this.directory = resolve(directory);
  }

  /** Write `body` (UTF-8) to `<directory>/<name>`, creating folders; the content type is not stored. */
  async put(name: string, body: string, _contentType: string): Promise<{ location: string }> {
    const path = this.resolveName(name);
    // Write then rename, so a reader never sees half a report. A failure names the path and the
    // reason (OutputError: exit 3); each step fails or returns, none retries.
    const temporary = `${path}.partial`;
    try {
      await makeDirs(dirname(path));
      await writeFile(temporary, body, 'utf8');
      await rename(temporary, path);
    } catch (error) {
      throw new OutputError(`could not write ${path}: ${(error as Error).message}`, { cause: error });
    }
    return { location: path };
  }

  /** The absolute path a name maps to; throws InvalidInputError when it would leave the directory. */
  resolveName(name: string): string {
    if (typeof name !== 'string' || name === '' || name.includes('\0'))
      throw new InvalidInputError('name', ALLOWED, name);
    if (isAbsolute(name) || /^[A-Za-z]:/.test(name) || name.startsWith('\\') || name.startsWith('/')) {
      throw new InvalidInputError('name', ALLOWED, name);
    }
    if (name.split(/[\\/]/).some((segment) => segment === '..'))
      throw new InvalidInputError('name', ALLOWED, name);
    const path = resolve(this.directory, name);
    const inside = relative(this.directory, path);
    if (inside === '' || inside.startsWith(`..${sep}`) || inside === '..' || isAbsolute(inside)) {
      throw new InvalidInputError('name', ALLOWED, name);
    }
    return path;
  }
}
