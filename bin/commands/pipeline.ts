/**
 * swarm-bench pipeline --local: the serverless pipeline on this machine. The CDK stack is
 * synthesized with its functions bundled, its state machine definition run by an ASL interpreter
 * with each Lambda task invoking the bundled function in its own Node process, against local
 * stand-ins of DynamoDB, S3, SNS and Secrets Manager that check every call against the function's
 * IAM policy. `--source` binds the tasks to the step code in-process instead (faster, development).
 */
import { parseArgs } from 'node:util';
import { InvalidInputError } from '../../lib/errors.ts';
import type { ArtifactRuntime } from '../../lib/pipeline/artifacts.ts';
import { describeTaskFailures, runLocalPipeline } from '../../lib/pipeline/local.ts';
import { packPlugins } from '../../lib/plugins/pack.ts';
import { pluginModules } from '../../lib/plugins/prepare.ts';
import { guardRun } from '../../lib/run/guard.ts';
import { createProvider } from '../../lib/sandbox/index.ts';
import type { ResultStore } from '../../lib/store/types.ts';
import { checkPipelineMarket } from '../../lib/trading/feed.ts';
import { progressReporter } from '../progress.ts';
import {
  AGENT_BUNDLE,
  configFromFlags,
  DEFAULT_REPORT_DIR,
  DEFAULT_STORE_DIR,
  directoryFlag,
  ensureAgentBundle,
  environment,
  loadScenarios,
  PLUGIN_BUNDLE_DIR,
  ROOT,
  RUN_FLAGS,
} from '../shared.ts';

export async function pipelineCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...RUN_FLAGS, local: { type: 'boolean' }, source: { type: 'boolean' } },
    strict: true,
    allowPositionals: false,
  });
  if (!values.local) {
    throw new InvalidInputError('--local', 'required: the pipeline runs locally here; use `start` for AWS');
  }
  // Validate before anything starts; the Plan step validates the same input again, as on AWS.
  const config = configFromFlags(values, env);
  if (config.provider !== 'local') {
    throw new InvalidInputError(
      '--provider',
      'local for the local pipeline (E2B runs go through `start`)',
      config.provider,
    );
  }
  // Refused as Plan refuses it on AWS, but before anything starts.
  checkPipelineMarket(config.market, '--market');
  if (!values.source && values.scenario?.length) {
    throw new InvalidInputError(
      '--scenario',
      'only with --source: the bundled functions run the built-in benchmarks, as on AWS',
    );
  }
  const storeDir = directoryFlag('--store', values.store, DEFAULT_STORE_DIR);
  const outDir = directoryFlag('--out', values.out, DEFAULT_REPORT_DIR);
  ensureAgentBundle();
  const progress = progressReporter(process.stderr);
  const { slowdown, categories, tests, strategies, decisionRule, ...rest } = config;
  // Plug-ins go as on AWS: packed (validated in a local sandbox), uploaded to the bucket stand-in,
  // named in the input with their SHA-256; module paths never reach the pipeline.
  const modules = pluginModules({ strategies, decisionRule });
  if (modules.length > 0 && values.source) {
    throw new InvalidInputError(
      '--strategy',
      'only without --source: packages reach the bundled unit function',
    );
  }
  const strategyPackage =
    modules.length === 0
      ? undefined
      : await packPlugins({
          root: ROOT,
          outDir: PLUGIN_BUNDLE_DIR,
          agentBundle: AGENT_BUNDLE,
          modules,
          sandboxes: (bundlePath) => createProvider('local', { local: { bundlePath } }),
        });
  // This process owns the run (Plan creates it in a function instance): SIGINT/SIGTERM/SIGHUP or
  // the launcher (npm start, npx) going away stops the execution, kills the function instances
  // and their agents and stores the run `interrupted`; a later second signal forces the exit
  // (lib/run/signals.ts), as for `run`.
  const controller = new AbortController();
  let runId: string | undefined;
  let runtime: ArtifactRuntime | undefined;
  let store: ResultStore | undefined;
  const guard = guardRun({
    abort: (reason) => controller.abort(reason),
    provider: {
      // The function instances hold the agents; runLocalPipeline also closes them on abort.
      killAll: async () => {
        runtime?.killSync();
        return 0;
      },
      killAllSync: () => runtime?.killSync(),
    },
    store: {
      finishRun: (id, patch) => store?.finishRun(id, patch) ?? Promise.resolve(),
    },
    runId: () => runId,
    say: (line) => process.stderr.write(`${line}\n`),
  });
  const input = {
    ...rest,
    ...(values.category ? { categories } : {}),
    ...(tests ? { tests } : {}),
    ...(slowdown ? { slowdown } : {}),
  };
  try {
    const result = await runLocalPipeline({
      mode: values.source ? 'source' : 'artifacts',
      input,
      ...(strategyPackage ? { strategyPackage } : {}),
      bundlePath: AGENT_BUNDLE,
      passthroughEnv: { PATH: env.PATH, LANG: env.LANG },
      storeDir: storeDir,
      outDir: outDir,
      environment: environment(),
      scenarios: await loadScenarios(values.scenario),
      onEvent: (event) => progress.onEvent(event),
      signal: controller.signal,
      onRun: (id) => {
        runId = id;
      },
      onStore: (opened) => {
        store = opened;
      },
      onRuntime: (started) => {
        runtime = started;
      },
    });
    progress.stop();
    const output = {
      execution: result.status,
      runId: result.runId,
      runStatus: result.runStatus,
      report: result.reportLocation,
      summary: result.summary,
      error: result.error,
      ...(result.taskFailures?.length ? { taskFailures: result.taskFailures } : {}),
      sandboxesCreated: result.sandboxesCreated,
      ...(result.calls
        ? {
            awsCalls: result.calls.length,
            iamDenials: result.calls.filter((call) => call.decision !== 'allowed').length,
          }
        : {}),
    };
    if (values.json) process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
    else {
      process.stdout.write(
        result.status === 'SUCCEEDED'
          ? // The presigned link points at the s3rver this command stopped; the copy on disk stays.
            `${(result.summary ?? '').replace(/ Report: \S+$/, '')}\nreport: ${result.reportLocation}\n`
          : `pipeline execution failed: ${result.error?.name}: ${result.error?.message}\n${describeTaskFailures(result.taskFailures)}`,
      );
    }
    const stopped = guard.exitCode();
    if (stopped !== undefined) return stopped;
    if (result.status !== 'SUCCEEDED') return result.error?.name === 'InvalidInputError' ? 2 : 3;
    if (result.results.some((r) => r.status !== 'ok') || result.runStatus !== 'completed') return 3;
    return (result.targets?.fail ?? 0) > 0 ? 1 : 0;
  } finally {
    progress.stop();
    guard.dispose();
  }
}
