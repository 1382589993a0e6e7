/** swarm-bench run: the benchmark on this machine (or E2B), results stored, report written. */

import { parseArgs } from 'node:util';
import { ContentionProbe, planForMachine, readProc } from '../../lib/bench/machine.ts';
import { buildPlan } from '../../lib/bench/plan.ts';
import { ReferenceProbe } from '../../lib/bench/reference.ts';
import type { TargetOutcome } from '../../lib/bench/targets.ts';
import { DirReportSink } from '../../lib/publish/dir.ts';
import { guardRun } from '../../lib/run/guard.ts';
import { executeRun } from '../../lib/run.ts';
import { readPlanInputs } from '../plan-inputs.ts';
import { progressReporter } from '../progress.ts';
import {
  configFromFlags,
  DEFAULT_REPORT_DIR,
  DEFAULT_STORE_DIR,
  directoryFlag,
  environment,
  formatUsd,
  loadScenarios,
  openStore,
  providerFor,
  RUN_FLAGS,
  withPlugins,
} from '../shared.ts';

export async function runCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...RUN_FLAGS, 'template-has-bundle': { type: 'boolean' } },
    strict: true,
    allowPositionals: false,
  });
  // Every input checked before anything starts: destinations, scenarios, flags, then plug-ins.
  const reportDir = directoryFlag('--out', values.out, DEFAULT_REPORT_DIR);
  const storeDir = directoryFlag('--store', values.store, DEFAULT_STORE_DIR);
  const scenarios = await loadScenarios(values.scenario);
  const { config: requested, bundlePath } = await withPlugins(configFromFlags(values, env, scenarios));
  const opened = await openStore(storeDir);
  // Estimates from this store's earlier runs; a local plan checked against this machine (the load
  // profile sized to it, a swarm too large warned about or, with --strict, refused: exit 2).
  const inputs = await readPlanInputs(opened.store, requested.provider);
  let fitted: ReturnType<typeof planForMachine>;
  try {
    fitted = planForMachine(
      requested,
      (config) => buildPlan(config, scenarios, { history: inputs.history }),
      inputs.machine,
      inputs.footprint,
      { strict: values.strict === true, previousLoadSize: inputs.previousLoadSize },
    );
  } catch (error) {
    await opened.close();
    throw error;
  }
  const { config } = fitted;
  // Said only when it changes or risks the run (a warning, or the load profile resized): a plan that
  // fits needs no line, and an input error after this point must stay the only line on stderr.
  if (fitted.note && (fitted.warning || config !== requested)) process.stderr.write(`${fitted.note}\n`);
  const provider = await providerFor(config, env, bundlePath, {
    templateHasBundle: values['template-has-bundle'] === true,
    say: (line) => process.stderr.write(`${line}\n`),
  }).catch(async (error: unknown) => {
    await opened.close();
    throw error;
  });
  const controller = new AbortController();
  let runId: string | undefined;
  // SIGINT/SIGTERM/SIGHUP or the launcher (npm, npx) exiting: stop gracefully (agents killed, run
  // stored `interrupted`, partial report); relayed duplicates are ignored; a later second signal
  // forces the exit (lib/run/signals.ts).
  const guard = guardRun({
    abort: (reason) => controller.abort(reason),
    provider,
    store: opened.store,
    runId: () => runId,
    say: (line) => process.stderr.write(`${line}\n`),
  });
  const progress = progressReporter(process.stderr);
  try {
    const outcome = await executeRun({
      config,
      provider,
      store: opened.store,
      sink: new DirReportSink(reportDir),
      environment: environment(),
      signal: controller.signal,
      scenarios,
      planOptions: { history: inputs.history },
      ...(config.provider === 'local'
        ? {
            contention: () =>
              new ContentionProbe(readProc, {
                cores: inputs.machine.cores,
                reference: new ReferenceProbe(),
              }),
          }
        : {}),
      onEvent: (event) => progress.onEvent(event),
      onPlan: (plan, id) => {
        runId = id;
        process.stderr.write(
          `run ${runId}: ${plan.totals.units} units, ~${plan.totals.sandboxes} sandboxes, ` +
            `~${Math.round(plan.totals.sandboxSeconds)} sandbox-s, est. ${formatUsd(plan.totals.e2bCostUsd)} E2B` +
            `${config.provider === 'local' ? ' (projected; local sandboxes cost nothing)' : ''}\n`,
        );
      },
    });
    progress.stop();
    if (values.json) {
      process.stdout.write(
        `${JSON.stringify({ runId: outcome.runId, status: outcome.meta.status, report: outcome.report, targets: outcome.targets.map(brief) }, null, 2)}\n`,
      );
    } else {
      process.stdout.write(summary(outcome.targets, outcome.meta.status, outcome.report.markdown));
    }
    return guard.exitCode() ?? outcome.exitCode;
  } finally {
    progress.stop();
    await provider.killAll();
    await opened.close();
    guard.dispose();
  }
}

function brief(t: TargetOutcome) {
  return { id: t.target.id, label: t.target.label, status: t.status, measured: t.measured, reason: t.reason };
}

function summary(targets: TargetOutcome[], status: string, location: string): string {
  const count = (s: string) => targets.filter((t) => t.status === s).length;
  const failed = targets
    .filter((t) => t.status === 'fail')
    .map((t) => `  ❌ ${t.target.label}: ${t.measured}`);
  return [
    `run ${status}: targets ${count('pass')} passed, ${count('fail')} failed, ${count('inconclusive')} inconclusive, ${count('pending')} pending`,
    ...failed,
    `report: ${location}`,
    '',
  ].join('\n');
}
