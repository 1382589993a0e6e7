/**
 * Validating a plug-in bundle before a run: one agent of the bundle is started in a sandbox (never
 * in this process), loads every module in its worker, checks its shape and runs it once on a
 * seeded window; anything wrong is a one-line InvalidInputError naming the flag and the file.
 */
import { randomBytes } from 'node:crypto';
import { InvalidInputError } from '../errors.ts';
import type { SandboxProvider } from '../sandbox/types.ts';
import { AgentClient } from '../swarm/client.ts';
import { STRATEGY_NAMES } from '../trading/strategies.ts';
import type { PluginBundle, PluginModuleRef } from './bundle.ts';
import type { PluginDescription } from './types.ts';

/** What a run carries about its plug-ins (RunConfig.plugins): names and the bundle's identity, no code. */
export interface PluginManifest {
  /** SHA-256 of the agent bundle with the plug-ins inside. */
  sha256: string;
  bytes: number;
  /** Strategy plug-ins, by the names they run under. */
  strategies: string[];
  /** The decision rule plug-in, when one was given. */
  decisionRule?: string;
  /** Where the pipeline's unit Lambdas fetch the bundle (s3://bucket/key); absent for local runs. */
  package?: string;
}

const VALIDATE_TIMEOUT_MS = 60_000;

/** Start the bundle's agent in a sandbox of `provider`, describe its plug-ins, refuse bad ones. */
export async function validatePluginBundle(
  bundle: Pick<PluginBundle, 'sha256' | 'bytes'>,
  refs: readonly PluginModuleRef[],
  provider: SandboxProvider,
): Promise<{ manifest: PluginManifest; descriptions: PluginDescription[] }> {
  const sandbox = await provider.create({
    timeoutMs: VALIDATE_TIMEOUT_MS * 2,
    metadata: { purpose: 'plugin-validation' },
  });
  let descriptions: PluginDescription[];
  try {
    const secret = randomBytes(24).toString('base64url');
    const endpoint = await sandbox.startAgent({
      agentId: 'validate',
      secret,
      lifetimeMs: VALIDATE_TIMEOUT_MS * 2,
    });
    const client = await AgentClient.connect('validate', endpoint.url, secret);
    try {
      ({ plugins: descriptions } = await client.request({ op: 'plugins' }, VALIDATE_TIMEOUT_MS));
    } finally {
      client.close();
    }
  } finally {
    await sandbox.kill();
  }
  return { manifest: manifestOf(bundle, refs, descriptions), descriptions };
}

/** Check what the sandbox found against what the flags asked for. */
export function manifestOf(
  bundle: Pick<PluginBundle, 'sha256' | 'bytes'>,
  refs: readonly PluginModuleRef[],
  descriptions: readonly PluginDescription[],
): PluginManifest {
  const seen = new Map<string, string>();
  const strategies: string[] = [];
  let decisionRule: string | undefined;
  for (const [module, ref] of refs.entries()) {
    const found = descriptions.find((d) => d.module === module);
    if (found === undefined) throw new InvalidInputError(ref.flag, 'a module the agent could load', ref.path);
    if (found.error !== undefined) {
      throw new InvalidInputError(
        ref.flag,
        `a module that loads and passes its dry run: ${found.error}`,
        ref.path,
      );
    }
    if ((STRATEGY_NAMES as readonly string[]).includes(found.name) || found.name === 'plurality') {
      throw new InvalidInputError(
        ref.flag,
        `a name other than the built-ins (${STRATEGY_NAMES.join(', ')}, plurality)`,
        found.name,
      );
    }
    const other = seen.get(found.name);
    if (other !== undefined)
      throw new InvalidInputError(ref.flag, `a name not already used by ${other}`, found.name);
    seen.set(found.name, ref.path);
    if (found.kind === 'strategy') strategies.push(found.name);
    else decisionRule = found.name;
  }
  return {
    sha256: bundle.sha256,
    bytes: bundle.bytes,
    strategies,
    ...(decisionRule ? { decisionRule } : {}),
  };
}
