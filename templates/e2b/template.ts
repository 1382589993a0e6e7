/**
 * The E2B template swarm-bench agents run in: Node.js 22 with the agent bundle baked in at
 * /home/user/agent.js, so a sandbox starts the agent without uploading anything. Defined in code
 * with the SDK's Template builder; e2b.Dockerfile beside this file is the same image for the CLI.
 */
import { Template, type TemplateClass } from '@e2b/code-interpreter';

/** Where the bundle lands; must equal E2B_AGENT_PATH in lib/sandbox/e2b.ts. */
export const TEMPLATE_AGENT_PATH = '/home/user/agent.js';

/** The template, with `bundlePath` relative to `contextDir` (the SDK only copies from inside its context). */
export function agentTemplate(contextDir: string, bundlePath: string): TemplateClass {
  return (
    Template({ fileContextPath: contextDir })
      .fromNodeImage('22')
      // Fails the build early if the image ever stops shipping Node.js.
      .runCmd('node --version')
      .copy(bundlePath, TEMPLATE_AGENT_PATH, { mode: 0o644 })
      .setWorkdir('/home/user')
  );
}
