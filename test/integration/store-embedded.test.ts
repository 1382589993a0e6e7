import { createHash } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreError } from '../../lib/errors.ts';
import { openEmbeddedStore } from '../../lib/store/embedded.ts';
import { caught, makeResult, makeRun } from './store-contract.ts';

/** Every file under `dir` with the sha256 of its bytes. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true })) {
    const path = join(dir, entry);
    if ((await stat(path)).isFile())
      out[entry] = createHash('sha256')
        .update(await readFile(path))
        .digest('hex');
  }
  return out;
}

describe('embedded store on disk', () => {
  let base: string;
  /** A closed store holding one run, one result and a blob; copied for each damage test. */
  let template: string;
  const run = makeRun({ status: 'completed' });

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'swarm-bench-embedded-'));
    template = join(base, 'template');
    const embedded = await openEmbeddedStore({ dir: template });
    await embedded.store.createRun(run);
    const samples = Array.from({ length: 40_000 }, (_, i) => i / 3);
    await embedded.store.putResult(makeResult(run.runId, 'creation/swarm-init', 'ok', samples));
    await embedded.close();
  });

  afterAll(async () => {
    await rm(base, { recursive: true, force: true });
  });

  async function copyOfTemplate(name: string): Promise<string> {
    const dir = join(base, name);
    await cp(template, dir, { recursive: true });
    return dir;
  }

  it('keeps runs, results and blobs across close and reopen', async () => {
    // Prepare
    const dir = await copyOfTemplate('reopen');

    // Act
    const embedded = await openEmbeddedStore({ dir });
    const stored = await embedded.store.getRun(run.runId);
    const results = await embedded.store.getResults(run.runId);
    await embedded.close();

    // Assess
    expect(stored).toEqual(run);
    expect(results).toHaveLength(1);
    expect(results[0]!.series[0]!.samples).toHaveLength(40_000);
    expect(await readdir(join(dir, 'blobs', 'runs'))).toEqual([run.runId]);
  });

  it('refuses a second open of a directory in use, naming it, and the first keeps working', async () => {
    // Prepare
    const dir = await copyOfTemplate('locked');
    const first = await openEmbeddedStore({ dir });

    // Act
    const error = await caught(openEmbeddedStore({ dir }));

    // Assess
    try {
      expect(error).toBeInstanceOf(StoreError);
      expect((error as Error).message).toMatch(/in use by another process/);
      expect((error as Error).message).toContain(join(dir, 'db'));
      expect((error as Error).message).not.toContain('\n');
      expect(await first.store.getRun(run.runId)).toEqual(run);
    } finally {
      await first.close();
    }
  });

  it('fails on a closed store and releases the directory for the next open', async () => {
    // Prepare
    const dir = await copyOfTemplate('closed');
    const first = await openEmbeddedStore({ dir });
    await first.store.close();

    // Act
    const error = await caught(first.store.getRun(run.runId));
    const second = await openEmbeddedStore({ dir });

    // Assess
    expect(error).toBeInstanceOf(StoreError);
    expect(await second.store.getRun(run.runId)).toEqual(run);
    await second.close();
  });

  const damages: Array<{
    name: string;
    file: RegExp;
    damage: (dbDir: string) => Promise<void>;
    message: RegExp;
  }> = [
    {
      name: 'garbled CURRENT',
      file: /CURRENT/,
      damage: (db) => writeFile(join(db, 'CURRENT'), 'not a manifest name\n'),
      message: /corrupted: .*CURRENT does not name an existing MANIFEST/,
    },
    {
      name: 'garbled MANIFEST',
      file: /MANIFEST-\d+/,
      damage: async (db) => {
        const manifest = (await readdir(db)).find((f) => f.startsWith('MANIFEST-'))!;
        const bytes = await readFile(join(db, manifest));
        bytes[10] = bytes[10]! ^ 0xff;
        await writeFile(join(db, manifest), bytes);
      },
      message: /corrupted: .*MANIFEST-\d+: record at byte 0 fails its checksum/,
    },
    {
      name: 'truncated MANIFEST',
      file: /MANIFEST-\d+/,
      damage: async (db) => {
        const manifest = (await readdir(db)).find((f) => f.startsWith('MANIFEST-'))!;
        await writeFile(join(db, manifest), (await readFile(join(db, manifest))).subarray(0, 5));
      },
      message: /corrupted: .*MANIFEST-\d+: it holds no complete record/,
    },
    {
      name: 'missing CURRENT',
      file: /CURRENT/,
      damage: (db) => rm(join(db, 'CURRENT')),
      message: /damaged or truncated: .*CURRENT is missing/,
    },
    {
      name: 'garbled write-ahead log',
      file: /\d+\.log/,
      damage: async (db) => {
        const log = (await readdir(db))
          .filter((f) => f.endsWith('.log'))
          .sort()
          .at(-1)!;
        const bytes = await readFile(join(db, log));
        bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0x55;
        await writeFile(join(db, log), bytes);
      },
      message: /corrupted: .*\d+\.log: record at byte \d+ fails its checksum/,
    },
  ];

  for (const { name, file, damage, message } of damages) {
    it(`fails with a one-line StoreError on a ${name} and leaves every file byte-identical`, async () => {
      // Prepare
      const dir = await copyOfTemplate(name.replaceAll(' ', '-'));
      await damage(join(dir, 'db'));
      const before = await snapshot(dir);

      // Act
      const error = await caught(openEmbeddedStore({ dir }));

      // Assess
      expect(error).toBeInstanceOf(StoreError);
      const text = (error as Error).message;
      expect(text).toMatch(message);
      expect(text).toMatch(file);
      expect(text).toContain(join(dir, 'db'));
      expect(text).not.toContain('\n');
      expect(await snapshot(dir)).toEqual(before);
    });
  }
});
