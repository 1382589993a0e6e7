/** Build the agent bundle once before any test runs, so `npx vitest` works without `npm test`'s pretest. */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  execFileSync(process.execPath, ['--import', 'tsx', 'scripts/build-agent.ts'], {
    cwd: root,
    stdio: 'inherit',
  });
}
