/**
 * swarm-bench e2b-local: run an E2B-compatible service on this machine (lib/e2b-local) until
 * Ctrl-C, and print the environment that points the E2B SDK (and so `swarm-bench run --provider
 * e2b`) at it. Needs root (network namespaces) and openssl.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { LOCAL_TEMPLATES, startLocalE2B } from '../../lib/e2b-local/server.ts';
import { InvalidInputError } from '../../lib/errors.ts';
import { E2B_AGENT_PATH } from '../../lib/sandbox/e2b.ts';
import { E2B_PLANS, E2B_TIERS, type E2BTier } from '../../lib/sandbox/e2b-plans.ts';
import { AGENT_BUNDLE, ensureAgentBundle } from '../shared.ts';

export async function e2bLocalCommand(argv: string[], _env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      tier: { type: 'string' },
      'metrics-interval-ms': { type: 'string' },
      'creation-rate': { type: 'string' },
    },
    strict: true,
  });
  const tier = (values.tier ?? 'hobby') as E2BTier;
  if (!E2B_TIERS.includes(tier)) throw new InvalidInputError('--tier', E2B_TIERS.join(' | '), values.tier);
  const metricsIntervalMs = Number(values['metrics-interval-ms'] ?? 5_000);
  if (!Number.isInteger(metricsIntervalMs) || metricsIntervalMs < 100) {
    throw new InvalidInputError(
      '--metrics-interval-ms',
      'an integer of at least 100',
      values['metrics-interval-ms'],
    );
  }
  const rate = values['creation-rate'] === undefined ? undefined : Number(values['creation-rate']);
  if (rate !== undefined && !(rate > 0 && rate <= 1000)) {
    throw new InvalidInputError(
      '--creation-rate',
      'creations per second above 0, at most 1000',
      values['creation-rate'],
    );
  }
  // The agent template has the current agent baked in, as scripts/build-e2b-template.ts would build
  // it (doctor checks it); runs upload their bundle unless run --template-has-bundle, as on E2B.
  ensureAgentBundle();
  const e2b = await startLocalE2B({
    apiKey: `e2b_local_${randomBytes(16).toString('hex')}`,
    tier,
    metricsIntervalMs,
    templates: {
      ...LOCAL_TEMPLATES,
      'swarm-bench-agent': {
        ...LOCAL_TEMPLATES['swarm-bench-agent']!,
        files: { [E2B_AGENT_PATH]: AGENT_BUNDLE },
      },
    },
    ...(rate === undefined ? {} : { limits: { creationsPerSecond: rate } }),
  });
  const limits = { ...E2B_PLANS[tier], ...(rate === undefined ? {} : { creationsPerSecond: rate }) };
  process.stderr.write(
    `local E2B (${tier}: ${limits.concurrentSandboxes} sandboxes, ${limits.creationsPerSecond} creations/s, ` +
      `${limits.sessionMaxMs / 3_600_000} h sessions) on ${e2b.apiUrl}, edge ${e2b.domain}\n` +
      'in another terminal, export these and run e.g. swarm-bench run --provider e2b --profile quick:\n',
  );
  for (const [name, value] of Object.entries(e2b.env())) process.stdout.write(`export ${name}=${value}\n`);
  process.stderr.write('Ctrl-C kills every sandbox and stops.\n');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await e2b.close();
  process.stderr.write(`local E2B stopped; ${JSON.stringify(e2b.stats())}\n`);
  return 0;
}
