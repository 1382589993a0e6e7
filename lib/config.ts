/**
 * The run configuration: one zod schema shared by the CLI, the state machine's Plan step and the
 * tests, so every entry point refuses the same bad input with the same one-line message.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { CATEGORIES, type CategoryId, EXTRA_UNITS, type ProfileName, TESTS } from './bench/model.ts';
import { E2B_TEMPLATES } from './cost/prices.ts';
import { InvalidInputError } from './errors.ts';
import { MAX_PLUGIN_MODULES } from './plugins/limits.ts';
import { E2B_PLANS, E2B_TIERS, type E2BTier } from './sandbox/e2b-plans.ts';
import { TOPOLOGIES, type TopologyKind } from './swarm/topology.ts';
import { parseMarketSpec } from './trading/feed.ts';

export const PROFILES = ['quick', 'default', 'load'] as const satisfies readonly ProfileName[];
export const PROVIDERS = ['local', 'e2b'] as const;
export const TEMPLATE_SIZES = Object.keys(E2B_TEMPLATES) as Array<keyof typeof E2B_TEMPLATES>;

/** Largest swarm any run may ask for (the load profile's 50, with room for custom scenarios). */
export const MAX_AGENTS = 100;
/** Largest per-run budget accepted, a guard against a typo of a few zeros. */
export const MAX_BUDGET_USD = 1_000;

const safeName = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const pluginName = /^[a-z0-9][a-z0-9-]{0,47}$/;
const modulePath = z
  .string()
  .max(4096)
  .regex(/^[^\0]+\.(?:ts|mts|cts|js|mjs|cjs)$/, 'a .ts, .mts, .js or .mjs file');

/**
 * What a run knows of its plug-ins once they are bundled and validated (lib/plugins/validate.ts):
 * their names and the bundle's identity, never their code. The CLI sets it; the pipeline's
 * execution input carries it with `package`, the S3 object unit Lambdas fetch.
 */
export const pluginManifestSchema = z
  .object({
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 in hex'),
    bytes: z.number().int().min(1),
    strategies: z.array(z.string().regex(pluginName, 'a plug-in name')).max(MAX_PLUGIN_MODULES),
    decisionRule: z.string().regex(pluginName, 'a plug-in name').optional(),
    package: z
      .string()
      .regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/[A-Za-z0-9!_.*'()/-]{1,900}$/, 's3://bucket/key')
      .optional(),
  })
  .strict();

const runConfigSchema = z
  .object({
    profile: z.enum(PROFILES).default('default'),
    provider: z.enum(PROVIDERS).default('local'),
    categories: z.array(z.string().max(64)).max(12).optional(),
    tests: z.array(z.string().max(128)).max(64).optional(),
    topologies: z.array(z.enum(TOPOLOGIES)).min(1).max(4).optional(),
    agents: z.number().int().min(1).max(MAX_AGENTS).optional(),
    template: z
      .string()
      .regex(safeName, 'letters, digits, ".", "_" or "-", at most 64')
      .default('swarm-bench-agent'),
    templateSize: z.enum(TEMPLATE_SIZES as [string, ...string[]]).default('base'),
    agentsPerSandbox: z.number().int().min(1).max(16).default(1),
    budgetUsd: z.number().gt(0, 'greater than 0').max(MAX_BUDGET_USD).default(5),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1)
      .default(42),
    scenarios: z.boolean().default(true),
    /**
     * Reuse sandboxes across swarms (a run-wide pool); creation benchmarks still create fresh ones.
     * Not part of configHash: pooling must not move results (bench/pooling.ts checks it), and units
     * record `pooled` in their params.
     */
    pooling: z.boolean().default(true),
    /**
     * Sandboxes alive at once across the run: the E2B plan's concurrency limit (Hobby 20, Pro
     * 100). The pipeline runs units side by side only as far as their sandboxes fit under it.
     * @default 20 on e2b, 64 locally. Not part of configHash (it changes scheduling, not measuring).
     */
    maxSandboxes: z.number().int().min(1).max(1000).optional(),
    /** Strategy plug-in modules (`--strategy`, repeatable); bundled and validated before the run. */
    strategies: z.array(modulePath).min(1).max(MAX_PLUGIN_MODULES).optional(),
    /** Consensus decision rule (`--decision-rule`): "plurality" (built in) or a plug-in module. */
    decisionRule: z.union([z.literal('plurality'), modulePath]).optional(),
    /** Market data (`--market`): a .csv file, or gbm:seed=..,bars=..,drift=..,volatility=.. */
    market: z.string().min(1).max(4096).optional(),
    /** The validated plug-in bundle (set by the CLI, or the pipeline's input with `package`). */
    plugins: pluginManifestSchema.optional(),
    /** E2B plan tier: its creation rate paces the provider and its session maximum caps lifetimes. */
    e2bTier: z.enum(E2B_TIERS as [E2BTier, ...E2BTier[]]).default('hobby'),
    /** Sandbox creations per second, when the team's share is not the tier's whole rate. */
    e2bCreationRate: z.number().gt(0, 'greater than 0').max(100).optional(),
    /**
     * Exit 1 also when a target is inconclusive (its 95% interval straddles the threshold, or the
     * sample is too small for the deciding bound). By default only a Fail exits 1: an inconclusive
     * verdict is reported, not failed. Not part of configHash (it judges, it does not measure).
     * @default false
     */
    failOnInconclusive: z.boolean().default(false),
    /** Artificial delay added to one benchmark's samples, to prove regression detection (tests only). */
    slowdown: z
      .object({ unitId: z.string().max(128), ms: z.number().min(0).max(10_000) })
      .strict()
      .optional(),
  })
  .strict();

export type RunConfigInput = z.input<typeof runConfigSchema>;
export type RunConfig = z.output<typeof runConfigSchema> & { categories: CategoryId[] };

const CATEGORY_ALIASES = new Map<string, CategoryId>();
for (const { id, title } of CATEGORIES) {
  CATEGORY_ALIASES.set(id, id);
  CATEGORY_ALIASES.set(normalise(title), id);
  CATEGORY_ALIASES.set(normalise(title.split(' ')[0] as string), id);
}
CATEGORY_ALIASES.set('resource', 'resources');
CATEGORY_ALIASES.set('comms', 'communication');

function normalise(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/[\s_]+/g, '-');
}

/** Resolve a category the way people write it ("Creation Performance", "creation", "cost"). */
export function parseCategory(name: string): CategoryId {
  const id = CATEGORY_ALIASES.get(normalise(name));
  if (id) return id;
  const titles = CATEGORIES.map((c) => c.title);
  const hint = didYouMean(name, [...CATEGORIES.map((c) => c.id), ...titles]);
  throw new InvalidInputError(
    'category',
    `one of ${titles.map((t) => `"${t}"`).join(', ')}${hint ? `; did you mean "${hint}"?` : ''}`,
    name,
  );
}

/** The test slugs of the guide, for validating `--test` patterns. */
export function allTestIds(): string[] {
  return [...CATEGORIES.flatMap(({ id }) => TESTS[id].map((test) => `${id}/${test}`)), ...EXTRA_UNITS];
}

/** Closest candidate by edit distance when it is close enough to be a typo. */
export function didYouMean(input: string, candidates: readonly string[]): string | undefined {
  const needle = input.toLowerCase();
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(needle, candidate.toLowerCase());
    if (!best || distance < best.distance) best = { candidate, distance };
  }
  return best && best.distance <= Math.max(2, Math.floor(needle.length / 3)) ? best.candidate : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] as number;
}

/** The CLI flag behind a field, named in its errors next to the field. */
const PLUGIN_FLAGS: Record<string, string> = {
  strategies: '--strategy',
  decisionRule: '--decision-rule',
  market: '--market',
};

/**
 * Validate raw input (CLI flags or execution input) into a RunConfig, or throw InvalidInputError.
 * `extraTests`: unit ids beyond the guide's that `tests` may select (scenarios, e.g. custom/my-swarm).
 */
export function parseRunConfig(input: unknown, extraTests: readonly string[] = []): RunConfig {
  const parsed = runConfigSchema.safeParse(input ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.length ? issue.path.join('.') : 'input';
    const flag = PLUGIN_FLAGS[String(issue?.path[0])];
    const field = flag === undefined ? path : `${path} (${flag})`;
    if (issue?.code === 'unrecognized_keys') {
      throw new InvalidInputError(
        issue.keys.join(', '),
        `unknown field; allowed: ${Object.keys(runConfigSchema.shape).join(', ')}`,
      );
    }
    throw new InvalidInputError(field, describeIssue(issue), valueAt(input, issue?.path ?? []));
  }
  const config = parsed.data;
  const categories = config.categories?.map(parseCategory) ?? CATEGORIES.map((c) => c.id);
  const tests = config.tests?.map((pattern) => {
    const known = [...allTestIds(), ...extraTests];
    if (!known.some((id) => id.includes(pattern.toLowerCase()))) {
      const hint = didYouMean(pattern, [...known, ...known.map((id) => id.split('/')[1] as string)]);
      throw new InvalidInputError(
        'test',
        `a test id or part of one, e.g. creation/swarm-init${hint ? `; did you mean "${hint}"?` : ''}`,
        pattern,
      );
    }
    return pattern.toLowerCase();
  });
  if (config.market !== undefined) parseMarketSpec(config.market);
  return { ...config, categories: [...new Set(categories)], ...(tests ? { tests } : {}) };
}

function describeIssue(issue: z.core.$ZodIssue | undefined): string {
  if (!issue) return 'invalid';
  switch (issue.code) {
    case 'invalid_value':
      return `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_type':
      return withArticle(issue.expected === 'int' ? 'integer' : issue.expected);
    case 'too_small':
      return `at least ${issue.minimum}${issue.inclusive === false ? ' (exclusive)' : ''}`;
    case 'too_big':
      return `at most ${issue.maximum}`;
    default:
      return issue.message;
  }
}

/** "an array", "an object", "an integer", "a number". */
export function withArticle(noun: string): string {
  return `${/^[aeiou]/i.test(noun) ? 'an' : 'a'} ${noun}`;
}

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** Stable hash of what makes two runs comparable (not seed-free: a different seed is another config). */
export function configHash(config: RunConfig): string {
  const comparable = {
    profile: config.profile,
    provider: config.provider,
    templateSize: config.templateSize,
    agentsPerSandbox: config.agentsPerSandbox,
    topologies: config.topologies ?? null,
    agents: config.agents ?? null,
    seed: config.seed,
    // Present only when used, so the hashes of runs without them do not move.
    ...(config.market === undefined ? {} : { market: config.market }),
    ...(config.plugins === undefined
      ? {}
      : { plugins: config.plugins.sha256, decisionRule: config.plugins.decisionRule ?? null }),
  };
  return createHash('sha256').update(JSON.stringify(comparable)).digest('hex').slice(0, 16);
}

/** Default of config.maxSandboxes per provider: E2B's Hobby limit, what one machine bears locally. */
export const DEFAULT_MAX_SANDBOXES = { e2b: 20, local: 64 } as const;

/** Sandboxes that may be alive at once in a run of this config. */
export function sandboxLimit(
  config: Pick<RunConfig, 'provider' | 'maxSandboxes'> & { e2bTier?: E2BTier },
): number {
  if (config.maxSandboxes !== undefined) return config.maxSandboxes;
  return config.provider === 'e2b' && config.e2bTier !== undefined
    ? E2B_PLANS[config.e2bTier].concurrentSandboxes
    : DEFAULT_MAX_SANDBOXES[config.provider];
}

/** Sandbox creations per second a run may make (E2B), for pacing and the plan's time estimate. */
export function creationRate(config: Pick<RunConfig, 'e2bTier' | 'e2bCreationRate'>): number {
  return config.e2bCreationRate ?? E2B_PLANS[config.e2bTier].creationsPerSecond;
}

/** Template resources of a config (the basis of projected cost). */
export function templateResources(config: Pick<RunConfig, 'templateSize'>): {
  vcpu: number;
  memoryMb: number;
} {
  return E2B_TEMPLATES[config.templateSize as keyof typeof E2B_TEMPLATES];
}

export type { TopologyKind };
