import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/global.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests spawn real agent processes; two cores cannot run many files at once.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
