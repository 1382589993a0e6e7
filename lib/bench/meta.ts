/** Run identity and reproducibility metadata: what a run was, where, on which code. */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { configHash, creationRate, type RunConfig, templateResources } from '../config.ts';
import { InvalidInputError } from '../errors.ts';
import type { RunMeta } from './model.ts';
import type { Plan } from './plan.ts';

/** Where a run executes; gathered by the caller (CLI: git and os; Lambda: env set at deploy). */
export interface RunEnvironment {
  gitCommit: string;
  nodeVersion: string;
  machine: RunMeta['machine'];
}

const RUN_ID = /^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}$/;

/** A sortable, path-safe run id: 20261127T024500Z-a1b2c3. */
export function newRunId(now: Date = new Date(), random: (n: number) => Buffer = randomBytes): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${random(3).toString('hex')}`;
}

/** Check a run id from outside (CLI argument, execution input) before it names a path or key. */
export function parseRunId(value: unknown): string {
  if (typeof value === 'string' && RUN_ID.test(value)) return value;
  throw new InvalidInputError('runId', 'an id like 20261127T024500Z-a1b2c3', value);
}

/** This machine, as recorded with a run. */
export function describeMachine(region?: string): RunMeta['machine'] {
  const cpus = os.cpus();
  return {
    platform: os.platform(),
    arch: os.arch(),
    cpus: cpus.length,
    memoryGb: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    ...(cpus[0]?.model ? { cpuModel: cpus[0].model.trim() } : {}),
    ...(region ? { region } : {}),
  };
}

/** The metadata stored with a run when it starts. */
export function buildRunMeta(
  runId: string,
  config: RunConfig,
  plan: Plan,
  environment: RunEnvironment,
  startedAt: Date,
): RunMeta {
  return {
    runId,
    status: 'running',
    startedAt: startedAt.toISOString(),
    profile: config.profile,
    provider: config.provider,
    template: { name: config.template, ...templateResources(config) },
    gitCommit: environment.gitCommit,
    nodeVersion: environment.nodeVersion,
    machine: environment.machine,
    configHash: configHash(config),
    units: plan.units,
    // The plug-ins the agents carry (a local run's bundle, or the pipeline's package): names and hash.
    ...(config.plugins
      ? {
          plugins: {
            strategies: config.plugins.strategies,
            ...(config.plugins.decisionRule ? { decisionRule: config.plugins.decisionRule } : {}),
            sha256: config.plugins.sha256,
          },
        }
      : {}),
    ...(config.provider === 'e2b'
      ? {
          e2b: {
            tier: config.e2bTier,
            creationRate: creationRate(config),
            agentsPerSandbox: config.agentsPerSandbox,
          },
        }
      : {}),
  };
}
