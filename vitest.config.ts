import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/global.ts', 'test/setup/assembly.ts', 'test/setup/chaos.ts'],
    // Generous: a limit, not a speed goal. Tests that start real processes and CLIs must pass on a
    // loaded two-core machine (CI shares it); a hang still fails, only later.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    // Integration tests spawn real agent processes and some compare timings between runs (history):
    // on two cores, files running side by side would measure each other. One file at a time.
    fileParallelism: false,
    reporters: ['default'],
  },
});
