#!/usr/bin/env -S npx tsx
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { didYouMean } from '../lib/config.ts';
/** swarm-bench: benchmark trading-agent swarms in sandboxes. One file per command in bin/commands. */
import { InvalidInputError } from '../lib/errors.ts';
import { exitCodeFor } from './shared.ts';

type Command = (argv: string[], env: NodeJS.ProcessEnv) => Promise<number>;

const COMMANDS: Record<string, { load: () => Promise<Command>; help: string }> = {
  run: {
    load: async () => (await import('./commands/run.ts')).runCommand,
    help: 'run benchmarks and write the report',
  },
  plan: {
    load: async () => (await import('./commands/plan.ts')).planCommand,
    help: 'show what a run would do and cost',
  },
  report: {
    load: async () => (await import('./commands/report.ts')).reportCommand,
    help: 'render a report from a results JSON file',
  },
  pipeline: {
    load: async () => (await import('./commands/pipeline.ts')).pipelineCommand,
    help: 'run the serverless pipeline locally (--local): synthesized state machine, local stand-ins',
  },
  start: {
    load: async () => (await import('./commands/start.ts')).startCommand,
    help: 'start the deployed pipeline on AWS',
  },
  status: {
    load: async () => (await import('./commands/status.ts')).statusCommand,
    help: 'progress and report link of an execution',
  },
  'e2b-local': {
    load: async () => (await import('./commands/e2b-local.ts')).e2bLocalCommand,
    help: 'run an E2B-compatible service here and print the env for --provider e2b [--tier hobby|pro]',
  },
  doctor: {
    load: async () => (await import('./commands/doctor.ts')).doctorCommand,
    help: 'check this machine and the E2B key',
  },
  history: {
    load: async () => (await import('./commands/history.ts')).historyCommand,
    help: 'list stored runs [--config h] [--provider p] [--benchmark unit|series] [--limit n] [--json] [--store dir]',
  },
  recommend: {
    load: async () => (await import('./commands/recommend.ts')).recommendCommand,
    help: 'cost-optimal topology and agents per sandbox for a workload, from the latest run: [--agents n] [--ops n] [--latency-ms n] [--budget-hourly usd] [--budget-monthly usd] [--run id] [--json]',
  },
  site: {
    load: async () => (await import('./commands/site.ts')).siteCommand,
    help: 'static trend site of every stored run: site --out <dir> [--store dir] [--force] [--json]',
  },
  compare: {
    load: async () => (await import('./commands/compare.ts')).compareCommand,
    help: 'compare two stored runs series by series: compare <runA> <runB> [--json] [--store dir]',
  },
};

const USAGE = `usage: swarm-bench <command> [flags]

commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.help}`)
  .join('\n')}

run / plan flags:
  --category <name>...    Creation Performance | Scalability | Trading Operations | Communication | Resource Usage | Cost Analysis
  --test <pattern>...     e.g. creation/swarm-init or consensus
  --profile <p>           quick | default | load (LOAD_TEST=1 selects load)
  --provider <p>          local (default) | e2b (needs E2B_API_KEY)
  --topology <t>...       mesh | hierarchical | ring | star
  --agents <n>            largest swarm size
  --budget <usd>          refuse to start above this estimated cost (default 5)
  --scenario <file>...    add custom scenarios (default export of defineScenario)
  --strategy <file>...    your strategy plug-ins (default export of defineStrategy), run beside the built-ins
  --decision-rule <r>     plurality (default) or a module (default export of defineDecisionRule)
  --market <m>            bars.csv, or gbm:seed=..,bars=..,drift=..,volatility=.. (default: the seeded generator)
  --unit-deadline-factor <f>  a unit stops (partial result) after f x its plan estimate + 30 s (default 5)
  --out <dir>             report directory (default docs/e2b)
  --json                  machine-readable output

exit codes: 0 all targets pass, 1 a target failed, 2 bad input, 3 a unit could not run
`;

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE);
    return name ? 0 : 2;
  }
  try {
    const command = COMMANDS[name];
    if (!command) {
      const hint = didYouMean(name, Object.keys(COMMANDS));
      throw new InvalidInputError(
        'command',
        `one of ${Object.keys(COMMANDS).join(', ')}${hint ? `; did you mean "${hint}"?` : ''}`,
        name,
      );
    }
    return await (await command.load())(rest, env);
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

/** Errors print as one line (parseArgs adds hint lines), so scripts can read them line by line. */
function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ');
}

// Run only as the entry script, so tests can import main() and call it in-process.
if (isEntryScript()) {
  main(process.argv.slice(2), process.env).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`swarm-bench: ${(error as Error).message}\n`);
      process.exitCode = 3;
    },
  );
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
