/** What every command shares: turning flags and the environment into lib/ collaborators. */
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchmarkDefinition } from '../lib/bench/definition.ts';
import { describeMachine, type RunEnvironment } from '../lib/bench/meta.ts';
import { BUILTIN_SCENARIOS, unitIdOf } from '../lib/bench/registry.ts';
import { parseRunConfig, type RunConfig, type RunConfigInput } from '../lib/config.ts';
import { InvalidInputError } from '../lib/errors.ts';
import { assertWritableDir } from '../lib/fs/dirs.ts';
import { preparePlugins } from '../lib/plugins/prepare.ts';
import { openStoreAndRecover } from '../lib/run/recovery.ts';
import { e2bRunOptions } from '../lib/sandbox/e2b-run.ts';
import { createProvider } from '../lib/sandbox/index.ts';
import type { SandboxProvider } from '../lib/sandbox/types.ts';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const AGENT_BUNDLE = resolve(ROOT, 'dist/agent.cjs');
export const DEFAULT_REPORT_DIR = resolve(ROOT, 'docs/e2b');
export const DEFAULT_STORE_DIR = resolve(ROOT, '.swarm-bench/store');

/** Flags shared by run, plan and pipeline. */
export const RUN_FLAGS = {
  category: { type: 'string', multiple: true },
  test: { type: 'string', multiple: true },
  profile: { type: 'string' },
  provider: { type: 'string' },
  topology: { type: 'string', multiple: true },
  agents: { type: 'string' },
  'agents-per-sandbox': { type: 'string' },
  budget: { type: 'string' },
  seed: { type: 'string' },
  template: { type: 'string' },
  'template-size': { type: 'string' },
  scenario: { type: 'string', multiple: true },
  'no-scenarios': { type: 'boolean' },
  'no-pooling': { type: 'boolean' },
  'max-sandboxes': { type: 'string' },
  'e2b-tier': { type: 'string' },
  'e2b-creation-rate': { type: 'string' },
  slowdown: { type: 'string' },
  'unit-deadline-factor': { type: 'string' },
  strategy: { type: 'string', multiple: true },
  'decision-rule': { type: 'string' },
  market: { type: 'string' },
  json: { type: 'boolean' },
  strict: { type: 'boolean' },
  'fail-on-inconclusive': { type: 'boolean' },
  out: { type: 'string' },
  store: { type: 'string' },
} as const;

type RunFlagValues = {
  [K in keyof typeof RUN_FLAGS]?: (typeof RUN_FLAGS)[K] extends { multiple: true }
    ? string[]
    : (typeof RUN_FLAGS)[K] extends { type: 'boolean' }
      ? boolean
      : string;
};

/** Decimal notation only: Number() would also read "0x10", "0b1", "0o7" and surrounding blanks. */
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function numberFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!DECIMAL.test(value) || !Number.isFinite(number))
    throw new InvalidInputError(`--${name}`, 'a number in decimal notation', value);
  return number;
}

/** Turn flags (and LOAD_TEST) into a validated RunConfig; conflicting flags are refused. */
export function configFromFlags(
  values: RunFlagValues,
  env: NodeJS.ProcessEnv,
  scenarios: readonly BenchmarkDefinition[] = [],
): RunConfig {
  let profile = values.profile;
  if (env.LOAD_TEST === '1') {
    if (profile !== undefined && profile !== 'load') {
      throw new InvalidInputError('--profile', `"load" (LOAD_TEST=1 is set), or unset LOAD_TEST`, profile);
    }
    profile = 'load';
  }
  let slowdown: RunConfigInput['slowdown'];
  if (values.slowdown !== undefined) {
    const match = /^([a-z-]+\/[a-z0-9-]+)=(\d+(?:\.\d+)?)$/.exec(values.slowdown);
    if (!match)
      throw new InvalidInputError(
        '--slowdown',
        'unit=ms, e.g. trading/strategy-execution=5',
        values.slowdown,
      );
    slowdown = { unitId: match[1] as string, ms: Number(match[2]) };
  }
  const input: Record<string, unknown> = {
    profile,
    provider: values.provider,
    categories: values.category,
    tests: values.test,
    topologies: values.topology,
    agents: numberFlag('agents', values.agents),
    agentsPerSandbox: numberFlag('agents-per-sandbox', values['agents-per-sandbox']),
    budgetUsd: numberFlag('budget', values.budget),
    seed: numberFlag('seed', values.seed),
    template: values.template,
    templateSize: values['template-size'],
    scenarios: values['no-scenarios'] ? false : undefined,
    pooling: values['no-pooling'] ? false : undefined,
    maxSandboxes: numberFlag('max-sandboxes', values['max-sandboxes']),
    e2bTier: values['e2b-tier'],
    e2bCreationRate: numberFlag('e2b-creation-rate', values['e2b-creation-rate']),
    slowdown,
    unitDeadlineFactor: numberFlag('unit-deadline-factor', values['unit-deadline-factor']),
    strategies: values.strategy,
    decisionRule: values['decision-rule'],
    market: values.market,
    failOnInconclusive: values['fail-on-inconclusive'] ? true : undefined,
  };
  for (const key of Object.keys(input)) if (input[key] === undefined) delete input[key];
  // --test may select scenario units too: the built-in ones and those given with --scenario.
  const config = parseRunConfig(input, [...BUILTIN_SCENARIOS, ...scenarios].map(unitIdOf));
  if (config.tests && values.category) {
    const orphan = config.tests.find(
      (t) => !config.categories.some((c) => t.startsWith(`${c}/`) || !t.includes('/')),
    );
    if (orphan) {
      throw new InvalidInputError(
        '--test',
        `a test inside the selected categories (${config.categories.join(', ')})`,
        orphan,
      );
    }
  }
  return config;
}

/**
 * A directory flag (--out, --store): any path the user chooses, but not empty, not NUL, and one
 * that can be written (an existing writable directory, or creatable): checked before anything
 * starts, so a bad destination is exit 2 instead of a failure after sandboxes ran.
 */
export function directoryFlag(name: string, value: string | undefined, fallback: string): string {
  if (value === undefined) return fallback;
  const allowed = 'a directory path (created if missing)';
  if (value.trim() === '' || value.includes('\0') || value.length > 4096) {
    throw new InvalidInputError(name, allowed, value);
  }
  return assertWritableDir(name, value);
}

const SCENARIO_EXTENSIONS = /\.(?:ts|mts|js|mjs)$/;

const SCENARIO_SHAPE = 'a module whose default export is defineScenario(...)';
const SCENARIO_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * Load user scenario modules (each default-exports defineScenario(...)). A file that fails to
 * load (throws at import, a syntax error, a missing import) or exports the wrong shape (no run(),
 * a name that is not a slug, such as a path) is an input error naming --scenario and the file.
 */
export async function loadScenarios(paths: string[] | undefined): Promise<BenchmarkDefinition[]> {
  const out: BenchmarkDefinition[] = [];
  for (const path of paths ?? []) {
    const file = resolve(path);
    if (!SCENARIO_EXTENSIONS.test(file) || !existsSync(file) || !statSync(file).isFile()) {
      throw new InvalidInputError('--scenario', 'an existing .ts, .mts, .js or .mjs file', path);
    }
    let module: { default?: Partial<BenchmarkDefinition> };
    try {
      module = (await importModule(file)) as typeof module;
    } catch (error) {
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new InvalidInputError('--scenario', `a module that loads; ${file} failed at import`, reason);
    }
    const definition = module.default;
    if (!definition || typeof definition !== 'object' || typeof definition.run !== 'function') {
      throw new InvalidInputError('--scenario', `${SCENARIO_SHAPE}; ${file} has none`);
    }
    if (
      definition.category !== 'custom' ||
      typeof definition.test !== 'string' ||
      !SCENARIO_NAME.test(definition.test)
    ) {
      throw new InvalidInputError(
        '--scenario',
        `${SCENARIO_SHAPE} with a name of lower-case letters, digits and "-"; ${file} names it`,
        `${String(definition.category)}/${String(definition.test)}`,
      );
    }
    out.push(definition as BenchmarkDefinition);
  }
  return out;
}

/**
 * Import a user module. The built CLI runs on plain Node, which cannot load TypeScript that uses
 * more than erasable syntax, so .ts files go through tsx's loader there; from source (tsx,
 * vitest) the running loader already handles them.
 */
async function importModule(file: string): Promise<unknown> {
  const built = !import.meta.url.endsWith('.ts');
  if (built && /\.(?:ts|mts)$/.test(file)) {
    const { tsImport } = await import('tsx/esm/api');
    return tsImport(pathToFileURL(file).href, import.meta.url);
  }
  return import(pathToFileURL(file).href);
}

/** The git commit of this checkout, or "unknown" outside git. */
export function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .trim();
  } catch {
    return 'unknown';
  }
}

export function environment(): RunEnvironment {
  return { gitCommit: gitCommit(), nodeVersion: process.version, machine: describeMachine() };
}

/** Build the agent bundle if it is missing (a fresh clone). */
export function ensureAgentBundle(): void {
  if (existsSync(AGENT_BUNDLE)) return;
  execFileSync(process.execPath, ['--import', 'tsx', resolve(ROOT, 'scripts/build-agent.ts')], {
    stdio: 'inherit',
  });
}

/** Where agent bundles with user plug-ins are built (named by their hash). */
export const PLUGIN_BUNDLE_DIR = resolve(ROOT, '.swarm-bench/plugins');

/**
 * Bundle and validate the plug-ins a config names (--strategy, --decision-rule) in a local
 * sandbox; the config comes back with their manifest and the agent bundle to run.
 */
export async function withPlugins(config: RunConfig): Promise<{ config: RunConfig; bundlePath: string }> {
  ensureAgentBundle();
  const prepared = await preparePlugins(config, {
    root: ROOT,
    outDir: PLUGIN_BUNDLE_DIR,
    sandboxes: (bundlePath) => createProvider('local', { local: { bundlePath } }),
  });
  return { config: prepared.config, bundlePath: prepared.bundle?.path ?? AGENT_BUNDLE };
}

/**
 * The sandbox provider a config asks for; E2B without a key fails here, before anything starts.
 * With plug-ins, `bundlePath` is the agent bundle that carries them (uploaded to E2B sandboxes per
 * run, since the template's baked-in agent has none).
 *
 * `templateHasBundle` (run --template-has-bundle) skips the upload of the agent to every E2B
 * sandbox: the user says the template bakes in this build's agent, as `doctor` checks. It is a
 * flag, not detected per run, because detecting costs a sandbox creation (a second of a Hobby
 * team's creation rate) before every run; it stays safe because every agent's ready line carries
 * its bundle's sha256, checked against this build's, so a stale template fails at the first agent
 * with the rebuild command.
 */
export async function providerFor(
  config: RunConfig,
  env: NodeJS.ProcessEnv,
  bundlePath = AGENT_BUNDLE,
  options: { templateHasBundle?: boolean; say?: (line: string) => void } = {},
): Promise<SandboxProvider> {
  if (config.provider === 'local') ensureAgentBundle();
  const bundle = config.provider === 'e2b' ? await readFile(bundlePath, 'utf8').catch(() => '') : '';
  const templateHasBundle = options.templateHasBundle === true && config.provider === 'e2b';
  const withPlugins = bundlePath !== AGENT_BUNDLE;
  if (templateHasBundle && withPlugins) {
    // The template's agent carries no plug-ins: this run's agent is uploaded, as a unit Lambda does.
    options.say?.(
      "--template-has-bundle: the run's strategy plug-ins are not in the template; uploading the agent",
    );
  }
  return createProvider(config.provider, {
    local: {
      bundlePath,
      passthroughEnv: { ...(env.PATH ? { PATH: env.PATH } : {}), ...(env.LANG ? { LANG: env.LANG } : {}) },
    },
    // The SDK finds the service from E2B_API_URL / E2B_SANDBOX_URL / E2B_DOMAIN (swarm-bench e2b-local).
    // The bundle's sha256 is checked against every agent's ready line, also when nothing is uploaded.
    e2b: e2bRunOptions(config, { apiKey: env.E2B_API_KEY, bundle, templateHasBundle, withPlugins }),
  });
}

export { exitCodeFor } from './exit.ts';

export function formatUsd(usd: number): string {
  return usd >= 0.01 ? `$${usd.toFixed(2)}` : `$${usd.toPrecision(2)}`;
}

/**
 * Open the embedded store for a command; runs left `running` by a dead process are marked
 * abandoned and their sandbox folders swept first (said on stderr).
 */
export function openStore(dir: string) {
  return openStoreAndRecover(resolve(dir), { say: (line) => process.stderr.write(`${line}\n`) });
}
