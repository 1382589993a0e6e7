import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../lib/errors.ts';
import { assertSafeBlobKey, DirBlobStore } from '../../lib/store/blobs.ts';

describe('blob key confinement', () => {
  it.each([
    ['../escape.json'],
    ['runs/../../escape.json'],
    ['runs/..'],
    ['/etc/passwd'],
    ['runs\\..\\escape'],
    ['runs/a\0b'],
    ['runs//double'],
    ['runs/./here'],
    ['runs/'],
    [''],
  ])('rejects %j', (key) => {
    expect(() => assertSafeBlobKey(key)).toThrow(InvalidInputError);
  });

  it.each([['runs/r1/samples/creation%2Fswarm-init.0123456789abcdef.json'], ['a'], ['a..b/c...d']])(
    'accepts %j',
    (key) => {
      expect(() => assertSafeBlobKey(key)).not.toThrow();
    },
  );

  it('names the field and what is allowed', () => {
    expect(() => assertSafeBlobKey('../x', 'prefix')).toThrow(/^prefix: a relative '\/'-separated path/);
  });
});

describe('DirBlobStore', () => {
  let base: string;
  let blobs: DirBlobStore;

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'swarm-bench-blobs-'));
    blobs = new DirBlobStore({ dir: join(base, 'blobs') });
  });

  afterAll(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('writes nested keys as files under its directory and reads them back', async () => {
    // Prepare
    const key = 'runs/r1/samples/creation%2Fswarm-init.json';

    // Act
    await blobs.put(key, '[1,2,3]', 'application/json');
    await blobs.put(key, '[4]');
    await blobs.put('runs/r1/raw.bin', new Uint8Array([104, 105]));

    // Assess
    expect(await blobs.get(key)).toBe('[4]');
    expect(
      await readFile(join(base, 'blobs', 'runs', 'r1', 'samples', 'creation%2Fswarm-init.json'), 'utf8'),
    ).toBe('[4]');
    expect(await blobs.get('runs/r1/raw.bin')).toBe('hi');
    // No temp files are left behind by the atomic writes.
    expect((await readdir(join(base, 'blobs', 'runs', 'r1', 'samples'))).sort()).toEqual([
      'creation%2Fswarm-init.json',
    ]);
  });

  it('returns undefined for a key never written', async () => {
    expect(await blobs.get('runs/none/x.json')).toBeUndefined();
  });

  it('refuses to read or write outside its directory and writes nothing', async () => {
    // Act
    const put = await blobs.put('../outside.json', 'x').catch((e: unknown) => e);
    const get = await blobs.get('../../etc/hostname').catch((e: unknown) => e);

    // Assess
    expect(put).toBeInstanceOf(InvalidInputError);
    expect(get).toBeInstanceOf(InvalidInputError);
    expect(await readdir(base)).toEqual(['blobs']);
  });
});
