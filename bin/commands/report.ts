/** swarm-bench report <results.json>: render the report again from a results file. */
import { parseArgs } from 'node:util';
import { InvalidInputError } from '../../lib/errors.ts';
import { DirReportSink } from '../../lib/publish/dir.ts';
import { DEFAULT_MAX_SAMPLES, readResultsFile, THINNING_RULE } from '../../lib/report/stream-load.ts';
import { writeReport } from '../../lib/report/write.ts';
import { DEFAULT_REPORT_DIR, directoryFlag } from '../shared.ts';

export async function reportCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { out: { type: 'string' }, 'max-samples': { type: 'string' } },
    strict: true,
    allowPositionals: true,
  });
  const [file, ...extra] = positionals;
  if (!file || extra.length > 0)
    throw new InvalidInputError('results file', 'exactly one path to a results JSON file');
  const outDir = directoryFlag('--out', values.out, DEFAULT_REPORT_DIR);
  const maxSamples =
    values['max-samples'] === undefined ? DEFAULT_MAX_SAMPLES : Number(values['max-samples']);
  if (!/^\d+$/.test(values['max-samples'] ?? '1') || !Number.isSafeInteger(maxSamples) || maxSamples < 1) {
    throw new InvalidInputError('--max-samples', 'a decimal integer of at least 1', values['max-samples']);
  }
  // Streamed: a results file of any size is read in bounded memory, every sample checked.
  const { run, thinned } = await readResultsFile(file, { maxSamples });
  if (thinned > 0) {
    process.stderr.write(
      `report: ${thinned} series held more than ${maxSamples} samples and were thinned to ${maxSamples} (${THINNING_RULE}); the JSON report gives each one's count in the file\n`,
    );
  }
  const written = await writeReport(run, new DirReportSink(outDir));
  process.stdout.write(`report: ${written.markdown}\n`);
  return 0;
}
