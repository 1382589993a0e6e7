/**
 * Start the local E2B (lib/e2b-local) for a test file, trust its CA in this process, and check after
 * each test that no sandbox is left running, and after the file that no namespace or link is left.
 */
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { leftovers } from '../../lib/e2b-local/netns.ts';
import { type LocalE2B, type LocalE2BOptions, startLocalE2B } from '../../lib/e2b-local/server.ts';

/** The key the test service accepts. */
export const LOCAL_E2B_KEY = 'e2b_local_test_0123456789';

/** Trust a local E2B's CA for TLS clients in this process (ws, fetch), keeping the CAs trusted already. */
export function trustLocalE2B(e2b: LocalE2B): void {
  tls.setDefaultCACertificates([...tls.getCACertificates('default'), e2b.caPem]);
}

/** A local E2B for the whole file; `get()` returns it once beforeAll ran. */
export function useLocalE2B(options: Partial<LocalE2BOptions> = {}): { get(): LocalE2B } {
  let e2b: LocalE2B | undefined;
  beforeAll(async () => {
    e2b = await startLocalE2B({ apiKey: LOCAL_E2B_KEY, ...options });
    trustLocalE2B(e2b);
  }, 60_000);
  afterEach(() => {
    // Every test kills what it made: nothing may outlive it.
    expect(e2b?.live() ?? [], 'sandboxes left running by the test').toEqual([]);
  });
  afterAll(async () => {
    if (e2b === undefined) return;
    await e2b.close();
    expect(await leftovers(e2b.instanceId), 'namespaces or links left behind').toEqual([]);
  });
  return {
    get() {
      if (e2b === undefined) throw new Error('local E2B not started (use it inside tests)');
      return e2b;
    },
  };
}

/** Connection options for the real SDK pointing at a local E2B. */
export function sdkOptions(e2b: LocalE2B, apiKey = e2b.apiKey) {
  return { apiKey, apiUrl: e2b.apiUrl, sandboxUrl: e2b.sandboxUrl, domain: e2b.domain };
}
