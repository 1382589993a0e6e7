/**
 * Read-only health checks of the embedded store's LevelDB directory, run before anything opens it.
 *
 * Why not just let LevelDB open it: an open rotates LevelDB's info log, recovers (and then
 * deletes) write-ahead logs while silently dropping corrupted records, and with create-if-missing
 * writes a fresh MANIFEST over a directory that lost its CURRENT file. And dynalite, which opens
 * lazily, turns an open failure into an unhandled stream error that kills the process. So the
 * files LevelDB trusts are verified here (record checksums included), and the lock is probed with
 * a plain LevelDB open only once the files look sound.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { StoreError } from '../errors.ts';

const BLOCK_BYTES = 32_768;
const HEADER_BYTES = 7;
const MASK_DELTA = 0xa282ead8;

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32C (Castagnoli), the checksum LevelDB puts on every log record. */
export function crc32c(bytes: Uint8Array, initial = 0): number {
  let crc = ~initial >>> 0;
  for (const byte of bytes) crc = CRC32C_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}

function maskCrc(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + MASK_DELTA) >>> 0;
}

/**
 * Walks LevelDB's log format (MANIFEST and *.log files): 32 KiB blocks of records, each
 * `crc32c(4) length(2) type(1) data`. Returns the number of complete records, or a reason the
 * file is corrupt. A record cut off at the very end is tolerated, as LevelDB does after a crash.
 */
export function verifyLogRecords(bytes: Uint8Array): { records: number } | { corrupt: string } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let records = 0;
  for (let blockStart = 0; blockStart < bytes.length; blockStart += BLOCK_BYTES) {
    const blockEnd = Math.min(blockStart + BLOCK_BYTES, bytes.length);
    let pos = blockStart;
    while (blockEnd - pos >= HEADER_BYTES) {
      const storedCrc = view.getUint32(pos, true);
      const length = view.getUint16(pos + 4, true);
      const type = bytes[pos + 6]!;
      // Zero-filled padding: LevelDB skips the rest of the block.
      if (type === 0 && length === 0) break;
      const end = pos + HEADER_BYTES + length;
      if (end > blockEnd) {
        if (blockEnd === bytes.length) return { records };
        return { corrupt: `record at byte ${pos} overruns its block` };
      }
      if (type < 1 || type > 4) return { corrupt: `record at byte ${pos} has unknown type ${type}` };
      const actual = maskCrc(crc32c(bytes.subarray(pos + 7, end), crc32c(bytes.subarray(pos + 6, pos + 7))));
      if (actual !== storedCrc) return { corrupt: `record at byte ${pos} fails its checksum` };
      if (type === 1 || type === 4) records++;
      pos = end;
    }
  }
  return { records };
}

/**
 * Verifies a LevelDB directory without writing to it: CURRENT names an existing MANIFEST, and the
 * MANIFEST and write-ahead logs pass their record checksums. A missing or empty directory is a
 * new store. Throws StoreError naming the offending file.
 */
export async function checkLevelDbFiles(dbDir: string): Promise<'new' | 'existing'> {
  let names: string[];
  try {
    names = await readdir(dbDir);
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return 'new';
    throw new StoreError(`embedded store ${dbDir} cannot be read: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (names.length === 0) return 'new';
  const currentPath = join(dbDir, 'CURRENT');
  if (!names.includes('CURRENT')) {
    throw new StoreError(`embedded store ${dbDir} is damaged or truncated: ${currentPath} is missing`);
  }
  const current = await readFile(currentPath, 'latin1');
  const manifestName = /^(MANIFEST-\d+)\n$/.exec(current)?.[1];
  if (manifestName === undefined || !names.includes(manifestName)) {
    throw new StoreError(
      `embedded store ${dbDir} is corrupted: ${currentPath} does not name an existing MANIFEST`,
    );
  }
  const manifestPath = join(dbDir, manifestName);
  const manifest = verifyLogRecords(await readFile(manifestPath));
  if ('corrupt' in manifest || manifest.records === 0) {
    const why = 'corrupt' in manifest ? manifest.corrupt : 'it holds no complete record';
    throw new StoreError(`embedded store ${dbDir} is corrupted: ${manifestPath}: ${why}`);
  }
  for (const name of names.filter((n) => n.endsWith('.log')).sort()) {
    const path = join(dbDir, name);
    if ((await stat(path)).size === 0) continue;
    const log = verifyLogRecords(await readFile(path));
    if ('corrupt' in log)
      throw new StoreError(`embedded store ${dbDir} is corrupted: ${path}: ${log.corrupt}`);
  }
  return 'existing';
}

/**
 * Opens and closes the database once to learn whether another process holds its lock (or LevelDB
 * finds damage the file checks missed), with an error that names the directory.
 */
export async function probeLevelDb(dbDir: string, createIfMissing: boolean): Promise<void> {
  const db = new ClassicLevel(dbDir);
  try {
    await db.open({ createIfMissing });
  } catch (error) {
    const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
    const code = cause?.code ?? (error as { code?: unknown }).code;
    const detail = typeof cause?.message === 'string' ? cause.message : (error as Error).message;
    if (code === 'LEVEL_LOCKED') {
      throw new StoreError(
        `embedded store ${dbDir} is in use by another process (LevelDB lock ${join(dbDir, 'LOCK')})`,
        {
          cause: error,
        },
      );
    }
    if (code === 'LEVEL_CORRUPTION') {
      throw new StoreError(`embedded store ${dbDir} is corrupted: ${detail}`, { cause: error });
    }
    throw new StoreError(`embedded store ${dbDir} cannot be opened: ${detail}`, { cause: error });
  }
  await db.close();
}
