import { describe, expect, it } from 'vitest';
import { InvalidInputError, ProviderUnavailableError } from '../../lib/errors.ts';
import {
  createProvider,
  E2BSandboxProvider,
  LocalSandboxProvider,
  type ProviderName,
} from '../../lib/sandbox/index.ts';

describe('createProvider', () => {
  it('makes the provider named, with its resources', () => {
    // Prepare / Act
    const local = createProvider('local', {
      local: { bundlePath: 'dist/agent.cjs', memoryMb: 256, vcpu: 1 },
    });
    const e2b = createProvider('e2b', { e2b: { apiKey: 'k-123456', bundle: 'x', maxConcurrent: 100 } });

    // Assess
    expect(local).toBeInstanceOf(LocalSandboxProvider);
    expect(local.resources).toEqual({ vcpu: 1, memoryMb: 256 });
    expect(local.maxConcurrent).toBe(64);
    expect(e2b).toBeInstanceOf(E2BSandboxProvider);
    expect(e2b.maxConcurrent).toBe(100);
    expect(e2b.resources).toEqual({ vcpu: 2, memoryMb: 512 });
  });

  it('rejects an unknown provider name, naming the allowed ones', () => {
    // Prepare / Act
    const make = () => createProvider('docker' as ProviderName, {});

    // Assess
    expect(make).toThrow(InvalidInputError);
    expect(make).toThrow('provider: one of local, e2b (got "docker")');
  });

  it('reports a missing E2B key as provider unavailable, and missing local options as bad input', () => {
    // Prepare / Act / Assess
    expect(() => createProvider('e2b', {})).toThrow(ProviderUnavailableError);
    expect(() => createProvider('e2b', { e2b: { apiKey: undefined, bundle: 'x' } })).toThrow(/E2B_API_KEY/);
    expect(() => createProvider('local', {})).toThrow(InvalidInputError);
  });
});
