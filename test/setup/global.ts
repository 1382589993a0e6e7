/**
 * Before any test runs: build the agent bundle and the CLI once (so `npx vitest` works without
 * `npm test`'s pretest), and tell the guide's entry point whether it was invoked to judge the guide's targets.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /**
     * True when the run was filtered by test name (`-t "Creation Performance"`, the guide's own
     * invocation) or SWARM_BENCH_ASSERT_TARGETS=1: then test/e2b/swarm-benchmarks.test.ts asserts
     * the guide's targets. In the default `npm test` it checks the mechanics only, because a target
     * verdict is a statement about the machine's speed, which a shared CI machine cannot promise.
     */
    assertGuideTargets: boolean;
  }
}

export default function setup(project: TestProject): void {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  // The agent bundle and the built CLI (dist/swarm-bench.js), which the CLI and signal-chain tests
  // spawn: rebuilt from the checked-out sources so no test runs a stale build.
  for (const script of ['scripts/build-agent.ts', 'scripts/build-cli.ts']) {
    execFileSync(process.execPath, ['--import', 'tsx', script], { cwd: root, stdio: 'inherit' });
  }
  const filteredByName = project.config.testNamePattern !== undefined;
  project.provide('assertGuideTargets', filteredByName || process.env.SWARM_BENCH_ASSERT_TARGETS === '1');
}
