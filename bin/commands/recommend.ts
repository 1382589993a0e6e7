/** swarm-bench recommend: the cost-optimal topology and packing for a workload, from the latest completed run. */
import { parseArgs } from 'node:util';
import { parseRunId } from '../../lib/bench/meta.ts';
import { InvalidInputError } from '../../lib/errors.ts';
import {
  DEFAULT_BUDGET,
  DEFAULT_WORKLOAD,
  type Recommendation,
  recommend,
} from '../../lib/recommend/index.ts';
import { openEmbeddedStore } from '../../lib/store/embedded.ts';
import { DEFAULT_STORE_DIR, directoryFlag, formatUsd } from '../shared.ts';
import { table } from './history.ts';

function numberFlag(
  name: string,
  value: string | undefined,
  fallback: number | undefined,
): number | undefined {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0)
    throw new InvalidInputError(`--${name}`, 'a number > 0', value);
  return n;
}

export async function recommendCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      agents: { type: 'string' },
      ops: { type: 'string' },
      'latency-ms': { type: 'string' },
      'budget-hourly': { type: 'string' },
      'budget-monthly': { type: 'string' },
      run: { type: 'string' },
      store: { type: 'string' },
      json: { type: 'boolean' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new InvalidInputError('arguments', 'flags only', positionals.join(' '));
  const workload = {
    agents: numberFlag('agents', values.agents, DEFAULT_WORKLOAD.agents) as number,
    opsPerSecond: numberFlag('ops', values.ops, DEFAULT_WORKLOAD.opsPerSecond) as number,
    latencyBoundMs: numberFlag('latency-ms', values['latency-ms'], DEFAULT_WORKLOAD.latencyBoundMs) as number,
  };
  const monthly = numberFlag('budget-monthly', values['budget-monthly'], undefined);
  const hourly = numberFlag(
    'budget-hourly',
    values['budget-hourly'],
    monthly === undefined ? DEFAULT_BUDGET.hourlyUsd : undefined,
  );
  const budget = {
    ...(hourly === undefined ? {} : { hourlyUsd: hourly }),
    ...(monthly === undefined ? {} : { monthlyUsd: monthly }),
  };
  const runId = values.run === undefined ? undefined : parseRunId(values.run);

  const opened = await openEmbeddedStore({ dir: directoryFlag('--store', values.store, DEFAULT_STORE_DIR) });
  try {
    const meta =
      runId !== undefined
        ? await opened.store.getRun(runId)
        : (await opened.store.listRuns({ limit: 50 })).find((run) => run.status === 'completed');
    if (meta === undefined) {
      process.stderr.write(
        `swarm-bench: ${runId ? `run ${runId} is not stored` : 'no completed run stored'}; run swarm-bench run first\n`,
      );
      return 3;
    }
    const answer = recommend({ meta, results: await opened.store.getResults(meta.runId) }, workload, budget);
    if (values.json) {
      process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
    } else {
      process.stdout.write(render(answer));
    }
    return answer.best === undefined ? 1 : 0;
  } finally {
    await opened.close();
  }
}

function render(answer: Recommendation): string {
  const w = answer.workload;
  const lines = [
    `run ${answer.runId}; workload ${w.agents} agents, ${w.opsPerSecond} ops/s, p95 <= ${w.latencyBoundMs} ms` +
      `${answer.budget.hourlyUsd === undefined ? '' : `, <= ${formatUsd(answer.budget.hourlyUsd)}/h`}` +
      `${answer.budget.monthlyUsd === undefined ? '' : `, <= ${formatUsd(answer.budget.monthlyUsd)}/month`}`,
  ];
  if (answer.best) {
    const b = answer.best;
    lines.push(
      `recommended: ${b.topology}, ${b.agentsPerSandbox} agent(s)/sandbox, ${b.agents} agents in ${b.sandboxes} sandboxes: ` +
        `${formatUsd(b.hourlyUsd)}/h, ${formatUsd(b.monthlyUsd)}/month, p95 ~${b.projectedP95Ms.toFixed(1)} ms`,
      ...b.basis.map((line) => `  from ${line}`),
    );
  }
  for (const note of answer.notes) lines.push(`note: ${note}`);
  if (answer.options.length > 0) {
    lines.push(
      '',
      table(
        ['TOPOLOGY', 'K', 'AGENTS', 'SANDBOXES', 'P95 MS', 'OPS/S', 'HOURLY', 'MONTHLY', 'FITS'],
        answer.options.map((o) => [
          o.topology,
          String(o.agentsPerSandbox),
          String(o.agents),
          String(o.sandboxes),
          o.projectedP95Ms.toFixed(1),
          o.projectedOpsPerSecond.toFixed(1),
          formatUsd(o.hourlyUsd),
          formatUsd(o.monthlyUsd),
          o.fits ? 'yes' : 'no',
        ]),
      ),
    );
  }
  return `${lines.join('\n')}\n`;
}
