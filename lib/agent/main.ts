/**
 * Entry point of the agent program (bundled to dist/agent.cjs and started inside a sandbox).
 * Reads its launch contract from the environment and its secret from stdin or a one-time file,
 * serves, prints its ready line and exits when its parent goes away, its lifetime ends or it is
 * told to stop.
 */
import { createHash } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import type { EmbeddedPlugins } from './embed.ts';
import { AGENT_ENV, AGENT_PROTOCOL_VERSION, type AgentReadyLine } from './launch.ts';
import { AgentPlugins } from './plugin-host.ts';
import { AgentServer } from './server.ts';

/** Set by esbuild in a bundle built with plug-ins (lib/plugins/bundle.ts); absent otherwise. */
declare const __SWARM_BENCH_PLUGINS__: EmbeddedPlugins | undefined;

const env = process.env;
const agentId = env[AGENT_ENV.id] ?? '';
const secretFrom = env[AGENT_ENV.secretFrom] ?? '';
const host = env[AGENT_ENV.host] ?? '127.0.0.1';
const port = Number(env[AGENT_ENV.port] ?? '0');
const lifetimeMs = Number(env[AGENT_ENV.lifetimeMs] ?? '300000');

function stop(code: number): never {
  process.exit(code);
}

function fail(message: string): never {
  process.stderr.write(`agent: ${message}\n`);
  stop(2);
}

if (
  !agentId ||
  !Number.isInteger(port) ||
  port < 0 ||
  !(secretFrom === 'stdin' || secretFrom.startsWith('/'))
) {
  fail(
    `${AGENT_ENV.id}, a valid ${AGENT_ENV.port} and ${AGENT_ENV.secretFrom} (stdin or an absolute path) are required`,
  );
}

/** The first line on stdin; the rest of stdin stays for the parent watch. */
function firstLine(): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('utf8');
      const newline = buffered.indexOf('\n');
      if (newline >= 0) {
        process.stdin.off('data', onData);
        process.stdin.pause();
        resolve(buffered.slice(0, newline));
      } else if (buffered.length > 4096) reject(new Error('no secret line on stdin'));
    };
    process.stdin.on('data', onData);
    process.stdin.once('end', () => reject(new Error('stdin closed before the secret')));
  });
}

/** Read the secret from its channel; a file is deleted as soon as it is read. */
async function readSecret(): Promise<string> {
  if (secretFrom === 'stdin') return firstLine();
  try {
    return readFileSync(secretFrom, 'utf8').trim();
  } finally {
    try {
      unlinkSync(secretFrom);
    } catch {
      // already gone: nothing left to remove
    }
  }
}

/** sha256 of the file this program runs from (the bundle), so a coordinator can tell a stale one. */
function ownBundleSha256(): string | undefined {
  try {
    return createHash('sha256')
      .update(readFileSync(process.argv[1] ?? ''))
      .digest('hex');
  } catch {
    return undefined;
  }
}

async function start(): Promise<void> {
  let secret: string;
  try {
    secret = (await readSecret()).trim();
  } catch (error) {
    fail(`cannot read the secret from ${AGENT_ENV.secretFrom}: ${(error as Error).message}`);
  }
  if (secret.length < 16) fail('the secret must have at least 16 characters');

  process.on('SIGTERM', () => stop(0));
  process.on('SIGINT', () => stop(0));
  if (Number.isFinite(lifetimeMs) && lifetimeMs > 0) setTimeout(() => stop(0), lifetimeMs).unref();
  if (env[AGENT_ENV.watchStdin] === '1') {
    // The parent holds our stdin open; when it dies for any reason the pipe closes.
    process.stdin.on('end', () => stop(0));
    process.stdin.on('error', () => stop(0));
    process.stdin.resume();
  }

  const embedded = typeof __SWARM_BENCH_PLUGINS__ === 'undefined' ? undefined : __SWARM_BENCH_PLUGINS__;
  const server = new AgentServer({ agentId, secret, host, port, plugins: new AgentPlugins(embedded) });
  try {
    const boundPort = await server.listen();
    const ready: AgentReadyLine = {
      event: 'ready',
      agentId,
      port: boundPort,
      pid: process.pid,
      protocol: AGENT_PROTOCOL_VERSION,
      bundleSha256: ownBundleSha256(),
    };
    process.stdout.write(`${JSON.stringify(ready)}\n`);
  } catch (error) {
    process.stderr.write(`agent: cannot listen on ${host}:${port}: ${(error as Error).message}\n`);
    stop(1);
  }
}

void start();
