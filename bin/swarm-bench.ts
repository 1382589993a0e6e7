/**
 * swarm-bench: benchmark trading-agent swarms in sandboxes. One file per command in bin/commands.
 *
 * commander owns the command line: per-command --help (every flag, its default and allowed
 * values), --version, unknown flags, missing values, choices, and single-value flags given twice
 * with different values, all refused with exit 2 naming the flag. The command then reads its own
 * argv (node:util parseArgs, the same flags) into lib/ collaborators, so each command file stays
 * callable on its own (tests do). Built to dist/swarm-bench.js by scripts/build-cli.ts.
 */
import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { didYouMean, PROFILES, PROVIDERS, TEMPLATE_SIZES } from '../lib/config.ts';
import { InvalidInputError } from '../lib/errors.ts';
import { E2B_TIERS } from '../lib/sandbox/e2b-plans.ts';
import { TOPOLOGIES } from '../lib/swarm/topology.ts';
import { exitCodeFor } from './exit.ts';

type CommandFn = (argv: string[], env: NodeJS.ProcessEnv) => Promise<number>;

/** One flag as commander shows and checks it. `multiple` flags may repeat; others may not disagree. */
interface Flag {
  flags: string;
  help: string;
  default?: string;
  choices?: readonly string[];
  multiple?: boolean;
}

const CATEGORY_NAMES =
  'Creation Performance | Scalability | Trading Operations | Communication | Resource Usage | Cost Analysis (or creation, trading, cost, ...)';

/** Flags shared by run, plan, pipeline and start (bin/shared.ts RUN_FLAGS reads the same names). */
const RUN_FLAGS: Flag[] = [
  { flags: '--category <name>', help: `benchmark category: ${CATEGORY_NAMES}`, multiple: true },
  {
    flags: '--test <pattern>',
    help: 'unit id or part of one, e.g. creation/swarm-init, consensus, custom/high-frequency-trading',
    multiple: true,
  },
  {
    flags: '--profile <name>',
    help: 'sample counts and swarm sizes (LOAD_TEST=1 selects load)',
    default: 'default',
    choices: PROFILES,
  },
  {
    flags: '--provider <name>',
    help: 'where sandboxes run (e2b needs E2B_API_KEY)',
    default: 'local',
    choices: PROVIDERS,
  },
  {
    flags: '--topology <kind>',
    help: 'swarm topologies to measure (all when not given)',
    choices: TOPOLOGIES,
    multiple: true,
  },
  {
    flags: '--agents <n>',
    help: 'largest swarm size, a decimal integer 1-100 (the profile decides when not given)',
  },
  { flags: '--agents-per-sandbox <n>', help: 'agents packed into one sandbox, 1-16', default: '1' },
  {
    flags: '--budget <usd>',
    help: 'refuse to start above this estimated cost, > 0 and <= 1000',
    default: '5',
  },
  { flags: '--seed <n>', help: 'seed of the market data and workloads, 0 to 2^31-1', default: '42' },
  {
    flags: '--template <name>',
    help: 'E2B template (letters, digits, ".", "_", "-")',
    default: 'swarm-bench-agent',
  },
  { flags: '--template-size <size>', help: 'E2B sandbox size', default: 'base', choices: TEMPLATE_SIZES },
  {
    flags: '--scenario <file>',
    help: 'custom scenario module (.ts/.mts/.js/.mjs, default export defineScenario)',
    multiple: true,
  },
  { flags: '--no-scenarios', help: 'leave out the built-in custom scenarios' },
  { flags: '--no-pooling', help: 'create fresh sandboxes for every swarm (no run-wide pool)' },
  { flags: '--max-sandboxes <n>', help: 'sandboxes alive at once, 1-1000 (default: 20 on e2b, 64 locally)' },
  {
    flags: '--e2b-tier <tier>',
    help: 'E2B plan: its creation rate and session limit',
    default: 'hobby',
    choices: E2B_TIERS,
  },
  {
    flags: '--e2b-creation-rate <per-s>',
    help: "sandbox creations per second, when the team's share is not the tier's whole rate",
  },
  {
    flags: '--unit-deadline-factor <f>',
    help: 'a unit stops (partial result, reason recorded) after f x its plan estimate + 30 s (default 5)',
  },
  {
    flags: '--slowdown <unit=ms>',
    help: "add ms to one unit's samples (proves regression detection), e.g. trading/strategy-execution=5",
  },
  {
    flags: '--strategy <file>',
    help: 'strategy plug-in module (default export defineStrategy)',
    multiple: true,
  },
  {
    flags: '--decision-rule <rule>',
    help: 'consensus rule: plurality, or a module (default export defineDecisionRule)',
    default: 'plurality',
  },
  {
    flags: '--market <spec>',
    help: 'bars.csv, or gbm:seed=..,bars=..,drift=..,volatility=.. (default: the seeded generator)',
  },
  { flags: '--strict', help: 'refuse (exit 2) a swarm too large for this machine instead of warning' },
  {
    flags: '--fail-on-inconclusive',
    help: 'exit 1 also when a target is Inconclusive (default: only a Fail exits 1)',
  },
  { flags: '--json', help: 'machine-readable output on stdout' },
  { flags: '--out <dir>', help: 'report directory (must be writable or creatable)', default: 'docs/e2b' },
  {
    flags: '--store <dir>',
    help: 'result store directory (must be writable or creatable)',
    default: '.swarm-bench/store',
  },
];

const STORE: Flag = { flags: '--store <dir>', help: 'result store directory', default: '.swarm-bench/store' };
const JSON_FLAG: Flag = { flags: '--json', help: 'machine-readable output on stdout' };

interface CommandSpec {
  help: string;
  args?: string[];
  flags: Flag[];
  load: () => Promise<CommandFn>;
}

const COMMANDS: Record<string, CommandSpec> = {
  run: {
    help: 'run benchmarks, store the results and write the report',
    flags: [
      ...RUN_FLAGS,
      {
        flags: '--template-has-bundle',
        help: "e2b: the template already holds this build's agent (doctor says so): nothing is uploaded per sandbox",
      },
    ],
    load: async () => (await import('./commands/run.ts')).runCommand,
  },
  plan: {
    help: 'show what a run would do and cost; nothing starts',
    flags: RUN_FLAGS,
    load: async () => (await import('./commands/plan.ts')).planCommand,
  },
  report: {
    help: 'render a report from a results JSON file',
    args: ['<results.json>'],
    flags: [
      { flags: '--out <dir>', help: 'report directory (must be writable or creatable)', default: 'docs/e2b' },
      {
        flags: '--max-samples <n>',
        help: 'samples kept per series; longer series are thinned evenly and the JSON report says so',
        default: '10000',
      },
    ],
    load: async () => (await import('./commands/report.ts')).reportCommand,
  },
  pipeline: {
    help: 'run the serverless pipeline locally: the synthesized state machine and bundled functions, local stand-ins',
    flags: [
      { flags: '--local', help: 'required: run here (use `start` for AWS)' },
      { flags: '--source', help: 'run the functions from source in-process instead of the bundled assets' },
      ...RUN_FLAGS,
    ],
    load: async () => (await import('./commands/pipeline.ts')).pipelineCommand,
  },
  strategies: {
    help: 'pack strategy plug-ins into a package for the weekly pipeline (upload: into the stack bucket)',
    args: ['<action>'],
    flags: [
      {
        flags: '--strategy <file>',
        help: 'strategy plug-in module (default export defineStrategy)',
        multiple: true,
      },
      {
        flags: '--decision-rule <file>',
        help: 'decision-rule plug-in module (default export defineDecisionRule)',
      },
      { flags: '--name <name>', help: 'package name under strategies/ (default: the first plug-in name)' },
      { flags: '--out <dir>', help: 'where the package file is written', default: '.swarm-bench/packages' },
      { flags: '--bucket <name>', help: "upload: the stack's bucket (its ReportBucket output)" },
    ],
    load: async () => (await import('./commands/strategies.ts')).strategiesCommand,
  },
  start: {
    help: 'start the deployed pipeline on AWS',
    flags: [
      {
        flags: '--stack <name>',
        help: 'CloudFormation stack to read the state machine from',
        default: 'SwarmBench',
      },
      { flags: '--state-machine-arn <arn>', help: 'state machine to start (skips the stack lookup)' },
      { flags: '--package <file>', help: 'strategy package: the JSON `strategies upload` printed' },
      ...RUN_FLAGS,
    ],
    load: async () => (await import('./commands/start.ts')).startCommand,
  },
  status: {
    help: 'progress and report link of an execution',
    args: ['<execution-arn>'],
    flags: [JSON_FLAG],
    load: async () => (await import('./commands/status.ts')).statusCommand,
  },
  'e2b-local': {
    help: 'run an E2B-compatible service here and print the env for --provider e2b',
    flags: [
      {
        flags: '--tier <tier>',
        help: 'plan whose limits the service enforces',
        default: 'hobby',
        choices: E2B_TIERS,
      },
      {
        flags: '--metrics-interval-ms <ms>',
        help: 'sandbox metrics interval, an integer >= 100',
        default: '5000',
      },
      { flags: '--creation-rate <per-s>', help: "sandbox creations per second (default: the tier's rate)" },
    ],
    load: async () => (await import('./commands/e2b-local.ts')).e2bLocalCommand,
  },
  doctor: {
    help: "check this machine, the E2B key and the E2B template's agent",
    flags: [
      JSON_FLAG,
      { flags: '--template <name>', help: 'E2B template whose agent to check', default: 'swarm-bench-agent' },
    ],
    load: async () => (await import('./commands/doctor.ts')).doctorCommand,
  },
  history: {
    help: 'list stored runs',
    flags: [
      { flags: '--config <hash>', help: 'only runs of this config hash' },
      { flags: '--provider <name>', help: 'only runs on this provider', choices: PROVIDERS },
      { flags: '--benchmark <unit|series>', help: 'the trend of one unit or series' },
      { flags: '--limit <n>', help: 'most recent runs shown' },
      JSON_FLAG,
      STORE,
    ],
    load: async () => (await import('./commands/history.ts')).historyCommand,
  },
  recommend: {
    help: 'cost-optimal topology and agents per sandbox for a workload, from the latest run',
    flags: [
      { flags: '--agents <n>', help: 'agents in the workload' },
      { flags: '--ops <n>', help: 'operations per second' },
      { flags: '--latency-ms <ms>', help: 'largest acceptable latency' },
      { flags: '--budget-hourly <usd>', help: 'hourly budget' },
      { flags: '--budget-monthly <usd>', help: 'monthly budget' },
      { flags: '--run <id>', help: 'stored run to base it on (default: the latest)' },
      STORE,
      JSON_FLAG,
    ],
    load: async () => (await import('./commands/recommend.ts')).recommendCommand,
  },
  site: {
    help: 'static trend site of every stored run',
    flags: [
      { flags: '--out <dir>', help: 'site directory (required; must be writable or creatable)' },
      STORE,
      { flags: '--force', help: 'rebuild every page, not only those whose inputs changed' },
      {
        flags: '--workers <n>',
        help: 'worker threads rendering pages beside the main one, 0 to 8 (default 0)',
      },
      JSON_FLAG,
    ],
    load: async () => (await import('./commands/site.ts')).siteCommand,
  },
  compare: {
    help: 'compare two stored runs series by series',
    args: ['<runA>', '<runB>'],
    flags: [JSON_FLAG, STORE],
    load: async () => (await import('./commands/compare.ts')).compareCommand,
  },
};

const EPILOG = `
exit codes: 0 all targets pass, 1 a target failed, 2 bad input, 3 a unit could not run or an output could not be written
'swarm-bench <command> --help' lists a command's flags with their defaults and allowed values.`;

function version(): string {
  return (createRequire(import.meta.url)('../package.json') as { version: string }).version;
}

/**
 * The command tree. Built per call: the record of flags already given (to refuse a second,
 * different value) belongs to one parse.
 */
function buildProgram(onRun: (name: string) => void): Command {
  const program = new Command('swarm-bench')
    .description('Benchmark trading-agent swarms in sandboxes (local processes or E2B microVMs).')
    .version(version(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (text) => process.stdout.write(text),
      writeErr: (text) => process.stderr.write(text),
      outputError: (text, write) => write(`swarm-bench: ${oneLine(text.replace(/^error: /, ''))}\n`),
    })
    .addHelpText('after', EPILOG);
  program.helpCommand(false);
  for (const [name, spec] of Object.entries(COMMANDS)) {
    const seen = new Map<string, string>();
    const command = program.command(name).description(spec.help).allowExcessArguments(true);
    for (const arg of spec.args ?? []) command.argument(arg);
    for (const flag of spec.flags) command.addOption(optionOf(flag, seen));
    command.addHelpText('after', EPILOG);
    command.action(() => onRun(name));
  }
  return program;
}

function optionOf(flag: Flag, seen: Map<string, string>): Option {
  const option = new Option(flag.flags, flag.help);
  if (flag.choices) option.choices(flag.choices);
  if (flag.default !== undefined) option.default(flag.default);
  if (!option.required) return option;
  const check = option.parseArg;
  const name = option.long ?? flag.flags;
  option.argParser((value: string, previous: unknown) => {
    if (flag.multiple) {
      if (check) check(value, undefined);
      return [...(Array.isArray(previous) ? previous : []), value];
    }
    const earlier = seen.get(name);
    if (earlier !== undefined && earlier !== value) {
      throw new InvalidArgumentError(
        `${name} given twice with different values ("${earlier}", then "${value}"): give it once.`,
      );
    }
    seen.set(name, value);
    return check ? check(value, previous) : value;
  });
  return option;
}

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    buildProgram(() => {}).outputHelp({ error: true });
    return 2;
  }
  if (name === 'help') {
    buildProgram(() => {}).outputHelp();
    return 0;
  }
  if (!name.startsWith('-') && !(name in COMMANDS)) {
    const hint = didYouMean(name, Object.keys(COMMANDS));
    process.stderr.write(
      `swarm-bench: command: one of ${Object.keys(COMMANDS).join(', ')}${hint ? `; did you mean "${hint}"?` : ''} (got "${name.slice(0, 40)}")\n`,
    );
    return 2;
  }
  let chosen: string | undefined;
  try {
    await buildProgram((command) => {
      chosen = command;
    }).parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here with exit 0; every parse error was printed as one line.
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? 0 : 2;
    }
    throw error;
  }
  const spec = chosen === undefined ? undefined : COMMANDS[chosen];
  if (spec === undefined) throw new InvalidInputError('command', Object.keys(COMMANDS).join(', '), name);
  try {
    return await (await spec.load())(rest, env);
  } catch (error) {
    // parseArgs reports unknown or malformed flags with its own error codes.
    const code = (error as { code?: string }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`swarm-bench: ${oneLine((error as Error).message)}\n`);
      return 2;
    }
    return exitCodeFor(error, (line) => process.stderr.write(`${oneLine(line)}\n`));
  }
}

/** Errors print as one line (parsers add hint lines), so scripts can read them line by line. */
function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

// Run only as the entry script, so tests can import main() and call it in-process.
if (isEntryScript()) {
  main(process.argv.slice(2), process.env).then(
    (code) => {
      // exitCode, not exit(): stdout to a pipe is flushed before the process ends.
      process.exitCode = code;
      exitSoon();
    },
    (error: unknown) => {
      process.stderr.write(`swarm-bench: ${(error as Error).message}\n`);
      process.exitCode = 3;
      exitSoon();
    },
  );
}

/**
 * The command is over and its results stored: exit even if something still holds the event loop
 * (a scenario stopped at its unit deadline may keep a timer). Unref'd, so a process with nothing
 * left ends at once, after its output is flushed. Here, not in a command: tests call commands
 * in-process and must not be exited.
 */
function exitSoon(): void {
  setTimeout(() => process.exit(), 1_000).unref();
}

function isEntryScript(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}
