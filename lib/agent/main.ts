/**
 * Entry point of the agent program (bundled to dist/agent.cjs and started inside a sandbox).
 * Reads its launch contract from the environment, serves, prints its ready line and exits when
 * its parent goes away, its lifetime ends or it is told to stop.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { EmbeddedPlugins } from './bundle.ts';
import { AGENT_ENV, AGENT_PROTOCOL_VERSION, type AgentReadyLine } from './launch.ts';
import { AgentPlugins } from './plugin-host.ts';
import { AgentServer } from './server.ts';

/** Set by esbuild in a bundle built with plug-ins (lib/plugins/bundle.ts); absent otherwise. */
declare const __SWARM_BENCH_PLUGINS__: EmbeddedPlugins | undefined;

const env = process.env;
const agentId = env[AGENT_ENV.id] ?? '';
const secret = env[AGENT_ENV.secret] ?? '';
const host = env[AGENT_ENV.host] ?? '127.0.0.1';
const port = Number(env[AGENT_ENV.port] ?? '0');
const lifetimeMs = Number(env[AGENT_ENV.lifetimeMs] ?? '300000');

if (!agentId || secret.length < 16 || !Number.isInteger(port) || port < 0) {
  process.stderr.write(
    `agent: ${AGENT_ENV.id}, ${AGENT_ENV.secret} (>= 16 chars) and a valid ${AGENT_ENV.port} are required\n`,
  );
  process.exit(2);
}
// The secret has been read; keep it out of the environment any child or crash dump could see.
delete env[AGENT_ENV.secret];

const embedded = typeof __SWARM_BENCH_PLUGINS__ === 'undefined' ? undefined : __SWARM_BENCH_PLUGINS__;
const server = new AgentServer({ agentId, secret, host, port, plugins: new AgentPlugins(embedded) });

function stop(code: number): never {
  process.exit(code);
}

process.on('SIGTERM', () => stop(0));
process.on('SIGINT', () => stop(0));
if (Number.isFinite(lifetimeMs) && lifetimeMs > 0) setTimeout(() => stop(0), lifetimeMs).unref();
if (env[AGENT_ENV.watchStdin] === '1') {
  // The parent holds our stdin open; when it dies for any reason the pipe closes.
  process.stdin.on('end', () => stop(0));
  process.stdin.on('error', () => stop(0));
  process.stdin.resume();
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

server.listen().then(
  (boundPort) => {
    const ready: AgentReadyLine = {
      event: 'ready',
      agentId,
      port: boundPort,
      pid: process.pid,
      protocol: AGENT_PROTOCOL_VERSION,
      bundleSha256: ownBundleSha256(),
    };
    process.stdout.write(`${JSON.stringify(ready)}\n`);
  },
  (error: Error) => {
    process.stderr.write(`agent: cannot listen on ${host}:${port}: ${error.message}\n`);
    stop(1);
  },
);
