/** Test doubles at the provider seam: a real provider with one behaviour replaced. */
import type { SandboxProvider } from '../../lib/sandbox/types.ts';

/** A provider that forwards everything to `inner` except what `overrides` replaces. */
export function wrapProvider(inner: SandboxProvider, overrides: Partial<SandboxProvider>): SandboxProvider {
  return {
    name: inner.name,
    maxConcurrent: inner.maxConcurrent,
    resources: inner.resources,
    live: () => inner.live(),
    usage: () => inner.usage(),
    killAll: () => inner.killAll(),
    create: (options) => inner.create(options),
    ...overrides,
  };
}
