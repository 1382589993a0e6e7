/** Sandbox providers: pick one by name, or import the classes directly. */
import { InvalidInputError } from '../errors.ts';
import { E2BSandboxProvider, type E2BSandboxProviderOptions } from './e2b.ts';
import { LocalSandboxProvider, type LocalSandboxProviderOptions } from './local.ts';
import type { ProviderName, SandboxProvider } from './types.ts';

export * from './e2b.ts';
export * from './local.ts';
export * from './proc.ts';
export type * from './types.ts';

/** Options for each provider; only the chosen one's are needed. */
export interface ProviderDeps {
  local?: LocalSandboxProviderOptions;
  e2b?: E2BSandboxProviderOptions;
}

const PROVIDER_NAMES: readonly ProviderName[] = ['local', 'e2b'];

/** Make the provider called `name` from its options in `deps`. */
export function createProvider(name: ProviderName, deps: ProviderDeps): SandboxProvider {
  if (!PROVIDER_NAMES.includes(name)) throw new InvalidInputError('provider', 'one of local, e2b', name);
  if (name === 'local') {
    if (deps.local === undefined) throw new InvalidInputError('local', 'local provider options (bundlePath)');
    return new LocalSandboxProvider(deps.local);
  }
  // Without e2b options there is no key either: report it the way a missing key is reported.
  return new E2BSandboxProvider(deps.e2b ?? { apiKey: undefined, bundle: '' });
}
