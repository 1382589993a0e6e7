/**
 * Sandbox churn in the local E2B: sandboxes killed and created one after another get the bridge
 * addresses just freed, each on a new veth with a new MAC, and the coordinator dials each new
 * agent at once, as a run's units do. Every dial must succeed at its first handshake: the host must
 * not keep sending to the previous sandbox's MAC (a neighbour entry confirmed by the traffic just
 * before the kill stays REACHABLE for 15-45 s, and frames to a MAC no port has are dropped), and
 * the bridge must keep one MAC while ports come and go (the sandboxes cache it).
 *
 * No spare namespaces and a wait for each generation's teardown, so the reuse is certain
 * (asserted). A bystander sandbox lives through the churn, as a run's pool sandbox does: it keeps
 * the bridge up, since a bridge left without ports drops its carrier and the kernel then forgets
 * every neighbour on it, which would hide stale entries.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { E2BSandboxProvider } from '../../lib/sandbox/e2b.ts';
import { AgentClient } from '../../lib/swarm/client.ts';
import { useLocalE2B } from '../helpers/e2b-local.ts';

const run = promisify(execFile);
const bundle = readFileSync(fileURLToPath(new URL('../../dist/agent.cjs', import.meta.url)), 'utf8');
// Nor namespaces of ended sandboxes kept for reuse: each new sandbox gets a new veth on a freed address.
const local = useLocalE2B({
  tier: 'pro',
  limits: { creationsPerSecond: 100 },
  spareNamespaces: 0,
  reusedNamespaces: 0,
});
const GENERATIONS = 2;
const PER_GENERATION = 2;
/** One handshake attempt, the client's default deadline. */
const DIAL_TIMEOUT_MS = 10_000;

/** A provider on the local E2B that creates as fast as the test asks (Pro tier, no pacing to speak of). */
function churnProvider(e2b: ReturnType<typeof local.get>, maxConcurrent: number): E2BSandboxProvider {
  return new E2BSandboxProvider({
    apiKey: e2b.apiKey,
    bundle,
    tier: 'pro',
    creationRate: 100,
    maxConcurrent,
    connection: { apiUrl: e2b.apiUrl, sandboxUrl: e2b.sandboxUrl, domain: e2b.domain },
  });
}

async function macOf(device: string, ns?: string): Promise<string | undefined> {
  const { stdout } = await run('ip', [...(ns ? ['-n', ns] : []), '-j', 'link', 'show', 'dev', device]);
  return (JSON.parse(stdout) as Array<{ address?: string }>)[0]?.address;
}

describe('local E2B sandbox churn', () => {
  it('keeps one bridge MAC while sandboxes come and go', async () => {
    const e2b = local.get();
    const provider = churnProvider(e2b, PER_GENERATION);
    const macs = new Set<string | undefined>([await macOf(e2b.bridge.name)]);
    try {
      for (let g = 0; g < GENERATIONS; g++) {
        const sandboxes = await Promise.all(
          Array.from({ length: PER_GENERATION }, () =>
            provider.create({ timeoutMs: 60_000, metadata: { test: 'churn-mac' } }),
          ),
        );
        macs.add(await macOf(e2b.bridge.name));
        await Promise.all(sandboxes.map((sandbox) => sandbox.kill()));
        await e2b.tornDown();
        macs.add(await macOf(e2b.bridge.name));
      }
    } finally {
      await provider.killAll();
    }
    expect([...macs], 'bridge MACs seen').toHaveLength(1);
  });

  it('reaches every new agent on a reused bridge address at the first handshake', async () => {
    // Prepare
    const e2b = local.get();
    const provider = churnProvider(e2b, PER_GENERATION + 1);
    const secret = 'churn-test-secret';
    const failures: string[] = [];
    const generations: string[][] = [];
    try {
      await provider.create({ timeoutMs: 120_000, metadata: { test: 'churn-bystander' } });
      for (let g = 0; g < GENERATIONS; g++) {
        // Act: a generation of sandboxes, each agent dialled once as soon as it is ready, then
        // talked to (which keeps the host's neighbour entry confirmed), then killed.
        const started = await Promise.all(
          Array.from({ length: PER_GENERATION }, async (_, i) => {
            const sandbox = await provider.create({ timeoutMs: 120_000, metadata: { test: 'churn' } });
            const endpoint = await sandbox.startAgent({ agentId: `g${g}a${i}`, secret });
            return { sandbox, endpoint, address: e2b.sandboxNetwork(sandbox.id)?.address ?? '' };
          }),
        );
        generations.push(started.map((s) => s.address));
        await Promise.all(
          started.map(async ({ endpoint, address }) => {
            try {
              const client = await AgentClient.connect(
                endpoint.agentId,
                endpoint.url,
                secret,
                DIAL_TIMEOUT_MS,
              );
              for (let k = 0; k < 3; k++) await client.request({ op: 'health' });
              client.close();
            } catch (error) {
              failures.push(`generation ${g}, ${address}: ${(error as Error).message}`);
            }
          }),
        );
        await Promise.all(started.map(({ sandbox }) => sandbox.kill()));
        await e2b.tornDown();
      }
    } finally {
      await provider.killAll();
    }

    // Assess: the churn reused addresses (else it proves nothing), and no dial needed a retry.
    for (let g = 1; g < GENERATIONS; g++) {
      expect([...(generations[g] ?? [])].sort(), `generation ${g} reuses ${g - 1}'s addresses`).toEqual(
        [...(generations[g - 1] ?? [])].sort(),
      );
    }
    expect(failures).toEqual([]);
  });
});
