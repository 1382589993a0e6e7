/**
 * Before any test runs: synthesize the stack with its functions bundled, into the cache the local
 * pipeline reads (`.swarm-bench/cdk.out`, keyed by a hash of the sources). Bundling seven handlers
 * took minutes on a loaded two-core machine; done here, outside any test's time limit, the infra
 * and pipeline tests that need the assembly find it ready instead of each racing a timeout.
 * SWARM_BENCH_SKIP_ASSEMBLY=1 skips it when running only tests that do not need it.
 */
import { resolve } from 'node:path';
import { bundledAssembly } from '../../infra/definition.ts';

export default function setup(): void {
  if (process.env.SWARM_BENCH_SKIP_ASSEMBLY === '1') return;
  const started = Date.now();
  const { assemblyDir } = bundledAssembly({ cacheDir: resolve('.swarm-bench/cdk.out') });
  console.log(`cloud assembly ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${assemblyDir}`);
}
