/** swarm-bench doctor: can this machine run a benchmark? Checks like the guide's troubleshooting. */
import { existsSync } from 'node:fs';
import { access, constants, readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parseRunConfig } from '../../lib/config.ts';
import { bundleSha256, checkE2BTemplate } from '../../lib/sandbox/e2b-template-check.ts';
import { LocalSandboxProvider } from '../../lib/sandbox/local.ts';
import { AgentClient } from '../../lib/swarm/client.ts';
import { AGENT_BUNDLE, ensureAgentBundle, ROOT } from '../shared.ts';

interface Check {
  name: string;
  ok: boolean;
  detail: string;
  /** Informational checks do not fail the doctor. */
  optional?: boolean;
}

export async function doctorCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { json: { type: 'boolean' }, template: { type: 'string', default: 'swarm-bench-agent' } },
    strict: true,
  });
  // Same rule as a run's --template (lib/config.ts): checked before anything starts.
  const template = parseRunConfig({ template: values.template }).template;
  const checks: Check[] = [];
  const major = Number(process.versions.node.split('.')[0]);
  checks.push({ name: 'Node.js', ok: major >= 22, detail: `${process.version} (22 or newer required)` });
  checks.push({
    name: '/proc readable',
    ok: existsSync('/proc/self/stat'),
    detail: 'local provider reads memory and CPU from /proc',
  });
  try {
    ensureAgentBundle();
    checks.push({ name: 'agent bundle', ok: true, detail: AGENT_BUNDLE });
  } catch (error) {
    checks.push({ name: 'agent bundle', ok: false, detail: (error as Error).message });
  }
  checks.push(await localSandboxCheck(env));
  checks.push(await writable(`${ROOT}`, 'report and store directory'));
  const key = env.E2B_API_KEY;
  checks.push({
    name: 'E2B_API_KEY',
    ok: typeof key === 'string' && key.length > 0,
    detail: key
      ? `set (${key.length} characters; needed only for --provider e2b)`
      : 'not set: --provider e2b will refuse to start',
    optional: true,
  });
  if (key) {
    const reachable = await e2bReachable(key);
    checks.push(reachable);
    if (reachable.ok) checks.push(await e2bTemplateCheck(key, template));
  }
  if (values.json) process.stdout.write(`${JSON.stringify(checks, null, 2)}\n`);
  else {
    for (const c of checks)
      process.stdout.write(`${c.ok ? '✅' : c.optional ? '⚠️ ' : '❌'} ${c.name}: ${c.detail}\n`);
  }
  return checks.every((c) => c.ok || c.optional) ? 0 : 3;
}

async function writable(path: string, what: string): Promise<Check> {
  try {
    await access(path, constants.W_OK);
    return { name: what, ok: true, detail: `${path} is writable` };
  } catch {
    return { name: what, ok: false, detail: `${path} is not writable` };
  }
}

/** Start one real local sandbox and agent, ask it for health, kill it: the whole path a run uses. */
async function localSandboxCheck(env: NodeJS.ProcessEnv): Promise<Check> {
  const provider = new LocalSandboxProvider({
    bundlePath: AGENT_BUNDLE,
    ...(env.PATH ? { passthroughEnv: { PATH: env.PATH } } : {}),
  });
  const start = performance.now();
  try {
    const sandbox = await provider.create({ timeoutMs: 20_000, metadata: { purpose: 'doctor' } });
    const secret = 'doctor-check-secret-0123456789';
    const endpoint = await sandbox.startAgent({ agentId: 'doctor', secret });
    const client = await AgentClient.connect('doctor', endpoint.url, secret);
    await client.request({ op: 'health' });
    client.close();
    const killed = await sandbox.kill();
    return {
      name: 'local sandbox',
      ok: killed,
      detail: `created, agent healthy and killed in ${(performance.now() - start).toFixed(0)} ms`,
    };
  } catch (error) {
    return { name: 'local sandbox', ok: false, detail: (error as Error).message };
  } finally {
    await provider.killAll();
  }
}

/** The template answers, and its baked-in agent speaks our protocol with our bundle. */
async function e2bTemplateCheck(apiKey: string, template: string): Promise<Check> {
  let expected: string;
  try {
    expected = bundleSha256(await readFile(AGENT_BUNDLE));
  } catch (error) {
    return { name: 'E2B template', ok: false, detail: (error as Error).message, optional: true };
  }
  // The SDK finds a local E2B itself from E2B_API_URL / E2B_SANDBOX_URL / E2B_DOMAIN.
  const result = await checkE2BTemplate({ apiKey, template, expectedBundleSha256: expected });
  // A template with this build's agent needs no upload per sandbox: say how to use that.
  const detail = result.ok ? `${result.detail}; run --template-has-bundle skips uploading it` : result.detail;
  return { name: 'E2B template', ok: result.ok, detail, optional: true };
}

async function e2bReachable(apiKey: string): Promise<Check> {
  try {
    const { Sandbox } = await import('@e2b/code-interpreter');
    const paginator = Sandbox.list({ apiKey, limit: 1 });
    await paginator.nextItems();
    return { name: 'E2B API', ok: true, detail: 'reachable with this key', optional: true };
  } catch (error) {
    return {
      name: 'E2B API',
      ok: false,
      detail: `not reachable: ${(error as Error).name}: ${(error as Error).message}`,
      optional: true,
    };
  }
}
