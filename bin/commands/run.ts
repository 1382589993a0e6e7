/** swarm-bench run: the benchmark on this machine (or E2B), results stored, report written. */

import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { TargetOutcome } from '../../lib/bench/targets.ts';
import { DirReportSink } from '../../lib/publish/dir.ts';
import { executeRun } from '../../lib/run.ts';
import { onShutdownSignals } from '../../lib/sandbox/lifecycle.ts';
import { openEmbeddedStore } from '../../lib/store/embedded.ts';
import { progressReporter } from '../progress.ts';
import {
  configFromFlags,
  DEFAULT_REPORT_DIR,
  DEFAULT_STORE_DIR,
  environment,
  formatUsd,
  loadScenarios,
  providerFor,
  RUN_FLAGS,
} from '../shared.ts';

export async function runCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({ args: argv, options: RUN_FLAGS, strict: true, allowPositionals: false });
  const config = configFromFlags(values, env);
  const scenarios = await loadScenarios(values.scenario);
  const provider = await providerFor(config, env);
  const reportDir = resolve(values.out ?? DEFAULT_REPORT_DIR);
  const opened = await openEmbeddedStore({ dir: resolve(values.store ?? DEFAULT_STORE_DIR) });
  const controller = new AbortController();
  // Ctrl-C: kill every agent at once, then let the run record what completed and write a partial report.
  const dispose = onShutdownSignals(async () => {
    controller.abort();
    await provider.killAll();
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
      onEvent: (event) => progress.onEvent(event),
      onPlan: (plan, runId) =>
        process.stderr.write(
          `run ${runId}: ${plan.totals.units} units, ~${plan.totals.sandboxes} sandboxes, ` +
            `~${Math.round(plan.totals.sandboxSeconds)} sandbox-s, est. ${formatUsd(plan.totals.e2bCostUsd)} E2B` +
            `${config.provider === 'local' ? ' (projected; local sandboxes cost nothing)' : ''}\n`,
        ),
    });
    progress.stop();
    if (values.json) {
      process.stdout.write(
        `${JSON.stringify({ runId: outcome.runId, status: outcome.meta.status, report: outcome.report, targets: outcome.targets.map(brief) }, null, 2)}\n`,
      );
    } else {
      process.stdout.write(summary(outcome.targets, outcome.meta.status, outcome.report.markdown));
    }
    return outcome.exitCode;
  } finally {
    progress.stop();
    dispose();
    await provider.killAll();
    await opened.close();
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
    `run ${status}: targets ${count('pass')} passed, ${count('fail')} failed, ${count('pending')} pending`,
    ...failed,
    `report: ${location}`,
    '',
  ].join('\n');
}
