/**
 * Does the E2B template a run would use answer, and is the agent baked into it the one this
 * coordinator speaks to? One sandbox from the template, its baked-in agent started (nothing
 * uploaded), the agent's ready line read for its protocol version and bundle hash, and the sandbox
 * killed. `swarm-bench doctor` runs it when an E2B key is set.
 */
import { createHash } from 'node:crypto';
import { AGENT_PROTOCOL_VERSION } from '../agent/launch.ts';
import { E2BSandboxProvider, type E2BSandboxProviderOptions } from './e2b.ts';

export interface TemplateCheckResult {
  ok: boolean;
  /** One line for the user: what answered, or what failed and how to fix it. */
  detail: string;
  /** What the template's agent reported (absent when it never got that far). */
  protocol?: number;
  bundleSha256?: string;
}

/** sha256 (hex) of an agent bundle's bytes, as the agent reports its own file. */
export function bundleSha256(bundle: string | Uint8Array): string {
  return createHash('sha256').update(bundle).digest('hex');
}

export async function checkE2BTemplate(options: {
  apiKey: string;
  template: string;
  /** sha256 of the coordinator's agent bundle. */
  expectedBundleSha256: string;
  connection?: E2BSandboxProviderOptions['connection'];
  tier?: E2BSandboxProviderOptions['tier'];
  sdk?: E2BSandboxProviderOptions['sdk'];
  /** Tags for the sandbox (the stack, so the reaper finds a leftover). */
  metadata?: Record<string, string>;
}): Promise<TemplateCheckResult> {
  const provider = new E2BSandboxProvider({
    apiKey: options.apiKey,
    template: options.template,
    templateHasBundle: true,
    bundle: '',
    expectedBundleSha256: options.expectedBundleSha256,
    maxConcurrent: 1,
    ...(options.connection ? { connection: options.connection } : {}),
    ...(options.tier ? { tier: options.tier } : {}),
    ...(options.sdk ? { sdk: options.sdk } : {}),
    metadata: { purpose: 'doctor', ...options.metadata },
  });
  const start = performance.now();
  try {
    const sandbox = await provider.create({ timeoutMs: 60_000, metadata: {} });
    const endpoint = await sandbox.startAgent({
      agentId: 'doctor',
      secret: `doctor-${bundleSha256(String(Math.random())).slice(0, 24)}`,
    });
    const protocol = endpoint.agent?.protocol;
    const sha = endpoint.agent?.bundleSha256;
    return {
      ok: true,
      detail:
        `${options.template} answers in ${(performance.now() - start).toFixed(0)} ms: agent protocol ` +
        `${protocol ?? '?'} (coordinator ${AGENT_PROTOCOL_VERSION}), bundle ${sha?.slice(0, 12) ?? '?'} ` +
        "(matches the coordinator's)",
      ...(protocol === undefined ? {} : { protocol }),
      ...(sha === undefined ? {} : { bundleSha256: sha }),
    };
  } catch (error) {
    // The provider's own messages name the fix (build-e2b-template, the key, the template name).
    return { ok: false, detail: `${options.template}: ${(error as Error).message}` };
  } finally {
    await provider.killAll().catch(() => 0);
  }
}
