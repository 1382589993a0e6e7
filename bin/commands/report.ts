/** swarm-bench report <results.json>: render the report again from a results file. */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { InvalidInputError } from '../../lib/errors.ts';
import { DirReportSink } from '../../lib/publish/dir.ts';
import { parseResultsFile } from '../../lib/report/load.ts';
import { writeReport } from '../../lib/report/write.ts';
import { DEFAULT_REPORT_DIR, directoryFlag } from '../shared.ts';

export async function reportCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { out: { type: 'string' } },
    strict: true,
    allowPositionals: true,
  });
  const [file, ...extra] = positionals;
  if (!file || extra.length > 0)
    throw new InvalidInputError('results file', 'exactly one path to a results JSON file');
  const outDir = directoryFlag('--out', values.out, DEFAULT_REPORT_DIR);
  const text = await readFile(file, 'utf8').catch((error: Error) => {
    throw new InvalidInputError('results file', 'a readable file', `${file}: ${error.message}`);
  });
  const run = parseResultsFile(text, file);
  const written = await writeReport(run, new DirReportSink(outDir));
  process.stdout.write(`report: ${written.markdown}\n`);
  return 0;
}
