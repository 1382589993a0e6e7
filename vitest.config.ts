import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/global.ts', 'test/setup/chaos.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests spawn real agent processes and some compare timings between runs (history):
    // on two cores, files running side by side would measure each other. One file at a time.
    fileParallelism: false,
    reporters: ['default'],
  },
});
