/**
 * Build the swarm-bench E2B template (Node.js 22 + the agent bundle) with the E2B SDK.
 *
 *   E2B_API_KEY=... tsx scripts/build-e2b-template.ts [--name swarm-bench-agent] [--bundle dist/agent.cjs]
 *       [--cpu 2] [--memory-mb 512]
 *
 * The default size is the one the cost model prices (E2B_TEMPLATES.base in lib/cost/prices.ts); a
 * template built without sizes would get E2B's 2 vCPU / 1024 MiB instead. Sizes E2B refuses (vCPUs
 * not 1 or even up to 32, memory odd or under 128 MiB) exit 2 before anything is sent.
 *
 * This is E2B's v2 template build (the SDK's Template.build). Without this script, the E2B CLI v2
 * builds the same image from templates/e2b/e2b.Dockerfile with `e2b template create` (the v1
 * `e2b template build` is deprecated).
 *
 * Then run with `--provider e2b` and the template name; the provider skips the upload when told the
 * template bakes the bundle in.
 */
import { existsSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { defaultBuildLogger, Template } from '@e2b/code-interpreter';
import { E2B_TEMPLATES } from '../lib/cost/prices.ts';
import { templateSizeProblem } from '../lib/sandbox/e2b-plans.ts';
import { agentTemplate } from '../templates/e2b/template.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** What the build needs from the outside world; injectable so the argument checks are testable. */
export interface BuildDeps {
  build: typeof Template.build;
  log: (line: string) => void;
}

/** Parse arguments, check the key and bundle, build; returns the process exit code. */
export async function main(
  argv: string[],
  env: Record<string, string | undefined>,
  deps: BuildDeps = {
    build: Template.build.bind(Template),
    log: (line) => process.stderr.write(`${line}\n`),
  },
): Promise<number> {
  let values: { name?: string; bundle?: string; cpu?: string; 'memory-mb'?: string };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        name: { type: 'string' },
        bundle: { type: 'string' },
        cpu: { type: 'string' },
        'memory-mb': { type: 'string' },
      },
    }));
  } catch (error) {
    deps.log(`build-e2b-template: ${(error as Error).message}`);
    return 2;
  }
  const name = values.name ?? 'swarm-bench-agent';
  const cpuCount = Number(values.cpu ?? String(E2B_TEMPLATES.base.vcpu));
  const memoryMB = Number(values['memory-mb'] ?? String(E2B_TEMPLATES.base.memoryMb));
  if (!/^[a-z0-9][a-z0-9_-]*(:[A-Za-z0-9._-]+)?$/.test(name)) {
    deps.log(`build-e2b-template: --name must be lower-case letters, digits, - or _ (got ${name})`);
    return 2;
  }
  const sizeProblem = templateSizeProblem(
    { vcpu: cpuCount, memoryMb: memoryMB },
    { vcpu: '--cpu', memoryMb: '--memory-mb' },
  );
  if (sizeProblem !== undefined) {
    deps.log(`build-e2b-template: ${sizeProblem}`);
    return 2;
  }
  const bundle = resolve(
    ROOT,
    values.bundle ?? (existsSync(resolve(ROOT, 'dist/agent.cjs')) ? 'dist/agent.cjs' : 'dist/agent.js'),
  );
  const relativeBundle = relative(ROOT, bundle);
  if (relativeBundle.startsWith('..')) {
    deps.log('build-e2b-template: --bundle must be inside the repository (the build context)');
    return 2;
  }
  // Input first (exit 2), then what the environment lacks (exit 1).
  const apiKey = env.E2B_API_KEY?.trim();
  if (!apiKey) {
    deps.log(
      'build-e2b-template: E2B_API_KEY is not set; export your E2B API key (https://e2b.dev/dashboard)',
    );
    return 1;
  }
  if (!existsSync(bundle)) {
    deps.log(`build-e2b-template: agent bundle ${bundle} not found; run npm run build:agent first`);
    return 1;
  }
  try {
    const info = await deps.build(agentTemplate(ROOT, relativeBundle), name, {
      apiKey,
      cpuCount,
      memoryMB,
      onBuildLogs: defaultBuildLogger(),
    });
    deps.log(`build-e2b-template: built ${info.name} (template ${info.templateId}, build ${info.buildId})`);
    return 0;
  } catch (error) {
    const message = (error as Error).message.split(apiKey).join('[redacted]');
    deps.log(`build-e2b-template: build failed: ${(error as Error).name}: ${message}`);
    return 1;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2), process.env);
}
