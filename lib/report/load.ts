/** Read a results file back into RunResults: the JSON report swarm-bench writes, or raw {meta, results}. */
import { z } from 'zod';
import type { RunResults } from '../bench/model.ts';
import { InvalidInputError } from '../errors.ts';

const labels = z.record(z.string(), z.union([z.string(), z.number()]));
/** Largest time sample accepted, per time unit: one day (no unit of a run takes longer). */
const TIME_LIMITS: Record<string, number> = { ms: 86_400_000, us: 86_400_000_000, s: 86_400 };

/** The physical range of a sample in `unit`, when it is a time. */
export function timeLimit(unit: string): { max: number; allowed: string } | undefined {
  const max = TIME_LIMITS[unit];
  if (max === undefined) return undefined;
  return {
    max,
    allowed: `a time from 0 to ${max.toLocaleString('en-US')} ${unit} (one day; no unit runs longer)`,
  };
}

const sample = z
  .number({ error: 'a finite number (NaN is written as null)' })
  .min(0, 'a sample of at least 0');
const series = z
  .object({
    name: z.string(),
    unit: z.string(),
    samples: z.array(sample),
    warmup: z.array(sample).default([]),
    labels: labels.default({}),
    /** Set by readResultsFile when the series had more samples than the cap (see stream-load.ts). */
    thinned: z.object({ inFile: z.number(), kept: z.number(), rule: z.string() }).optional(),
  })
  .superRefine((s, ctx) => {
    const limit = timeLimit(s.unit);
    if (limit === undefined) return;
    for (const key of ['samples', 'warmup'] as const) {
      const index = s[key].findIndex((v) => v > limit.max);
      if (index >= 0) ctx.addIssue({ code: 'custom', path: [key, index], message: limit.allowed });
    }
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
  usage: z.object({
    sandboxesCreated: z.number(),
    sandboxSeconds: z.number(),
    operations: z.number(),
    creationThrottledMs: z.number().optional(),
    rateLimited: z.number().optional(),
    handshakeRetries: z.number().optional(),
  }),
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
  return resultsFromJson(raw, source);
}

/**
 * Validate parsed results JSON: its shape, and every sample a finite, non-negative number (times
 * within one day); the first problem is named by its field path.
 */
export function resultsFromJson(raw: unknown, source = 'results file'): RunResults {
  const parsed = file.safeParse(raw);
  if (!parsed.success) {
    // The union reports its branches' issues; the branch this file meant to be is the one that got furthest.
    const issue = deepestIssue(parsed.error.issues);
    const where = issue && issue.path.length > 0 ? `${source} at ${issue.path.join('.')}` : source;
    const sampleIssue = issue?.path.some((p) => p === 'samples' || p === 'warmup');
    throw new InvalidInputError(
      where,
      sampleIssue && issue ? issue.message : 'a swarm-bench results or report JSON',
      sampleIssue ? valueAt(raw, issue?.path ?? []) : issue?.message,
    );
  }
  const data = parsed.data;
  const results =
    'results' in data ? data.results : data.units.map((u) => ({ ...u, runId: data.meta.runId }));
  return { meta: data.meta, results } as unknown as RunResults;
}

function deepestIssue(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue | undefined {
  const flat: z.core.$ZodIssue[] = [];
  for (const issue of issues) {
    if (issue.code === 'invalid_union') {
      for (const branch of issue.errors)
        for (const inner of branch) flat.push({ ...inner, path: [...issue.path, ...inner.path] });
    } else flat.push(issue);
  }
  return flat.reduce<z.core.$ZodIssue | undefined>(
    (best, i) => (!best || i.path.length > best.path.length ? i : best),
    undefined,
  );
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current === undefined ? 'missing' : current;
}
