/** Read a results file back into RunResults: the JSON report swarm-bench writes, or raw {meta, results}. */
import { z } from 'zod';
import type { RunResults } from '../bench/model.ts';
import { InvalidInputError } from '../errors.ts';

const labels = z.record(z.string(), z.union([z.string(), z.number()]));
const series = z.object({
  name: z.string(),
  unit: z.string(),
  samples: z.array(z.number()),
  warmup: z.array(z.number()).default([]),
  labels: labels.default({}),
});
const figure = z.object({
  name: z.string(),
  value: z.number(),
  unit: z.string(),
  labels: labels.default({}),
  from: z.array(z.string()).default([]),
  how: z.string().default(''),
});
const unit = z.object({
  unitId: z.string(),
  category: z.string(),
  test: z.string(),
  title: z.string(),
  status: z.enum(['ok', 'partial', 'failed']),
  error: z.object({ name: z.string(), message: z.string() }).optional(),
  startedAt: z.string(),
  endedAt: z.string(),
  durationMs: z.number(),
  params: z.record(z.string(), z.unknown()).default({}),
  series: z.array(series),
  figures: z.array(figure),
  usage: z.object({ sandboxesCreated: z.number(), sandboxSeconds: z.number(), operations: z.number() }),
  faults: z.array(z.string()).default([]),
  contention: z.object({ loadAvgMax: z.number(), cores: z.number() }).passthrough().optional(),
});
const meta = z
  .object({
    runId: z.string(),
    status: z.enum(['running', 'completed', 'partial', 'failed', 'interrupted', 'abandoned']),
    startedAt: z.string(),
    profile: z.enum(['quick', 'default', 'load']),
    provider: z.enum(['local', 'e2b']),
    template: z.object({ name: z.string(), vcpu: z.number(), memoryMb: z.number() }),
    units: z.array(z.object({ unitId: z.string() }).passthrough()),
  })
  .passthrough();
const file = z.union([
  z.object({ meta, results: z.array(unit.extend({ runId: z.string() })) }),
  z.object({ reportVersion: z.number(), meta, units: z.array(unit) }),
]);

/** Parse results JSON text; a file that is not one gets an InvalidInputError naming where it breaks. */
export function parseResultsFile(text: string, source = 'results file'): RunResults {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new InvalidInputError(source, 'valid JSON', (error as Error).message);
  }
  const parsed = file.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? `${source} at ${issue.path.join('.')}` : source;
    throw new InvalidInputError(where, 'a swarm-bench results or report JSON', issue?.message);
  }
  const data = parsed.data;
  const results =
    'results' in data ? data.results : data.units.map((u) => ({ ...u, runId: data.meta.runId }));
  return { meta: data.meta, results } as unknown as RunResults;
}
