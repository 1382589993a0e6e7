/** swarm-bench site --out <dir>: the static trend site of every stored run, rendered incrementally. */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { InvalidInputError } from '../../lib/errors.ts';
import { publishSite } from '../../lib/site/generate.ts';
import { DirBlobStore } from '../../lib/store/blobs.ts';
import { DEFAULT_STORE_DIR, directoryFlag, openStore } from '../shared.ts';

export async function siteCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string' },
      store: { type: 'string' },
      force: { type: 'boolean' },
      workers: { type: 'string' },
      json: { type: 'boolean' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new InvalidInputError('arguments', 'flags only', positionals.join(' '));
  if (values.out === undefined) throw new InvalidInputError('--out', 'a directory path for the site');
  const out = directoryFlag('--out', values.out, '');
  const storeDir = directoryFlag('--store', values.store, DEFAULT_STORE_DIR);
  const workers = values.workers === undefined ? undefined : Number(values.workers);
  if (workers !== undefined && !(Number.isInteger(workers) && workers >= 0 && workers <= 8)) {
    throw new InvalidInputError('--workers', 'an integer from 0 to 8', values.workers);
  }
  const opened = await openStore(resolve(storeDir));
  try {
    const started = performance.now();
    const outcome = await publishSite(opened.store, new DirBlobStore({ dir: out }), {
      force: values.force === true,
      ...(workers === undefined ? {} : { workers }),
    });
    const seconds = (performance.now() - started) / 1000;
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ out, seconds, ...outcome }, null, 2)}\n`);
    } else {
      process.stdout.write(
        `site: ${resolve(out, 'index.html')}: ${outcome.runs} run(s), ${outcome.pages} pages ` +
          `(${outcome.rendered.length} rendered, ${outcome.unchanged} unchanged), ` +
          `${(outcome.totalBytes / 1e6).toFixed(2)} MB, ${seconds.toFixed(1)} s\n`,
      );
    }
    return 0;
  } finally {
    await opened.close();
  }
}
