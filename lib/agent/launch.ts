/**
 * The contract between a sandbox provider and the agent program it starts.
 *
 * The provider runs `node <bundle> ` with these environment variables (and nothing else from the
 * parent's environment). The swarm secret is not among them (a process's environment stays
 * readable in /proc for its whole life): it comes on stdin as the first line, or in a file the
 * agent deletes once read, as `SWARM_AGENT_SECRET_FROM` says. The agent prints exactly one JSON line `{"event":"ready",...}` on
 * stdout once its WebSocket server listens. The agent exits when stdin closes (the parent died),
 * when its lifetime ends, or on SIGTERM.
 */
export const AGENT_ENV = {
  id: 'SWARM_AGENT_ID',
  /** Where the secret comes from: `stdin` (its first line) or the absolute path of a file the agent deletes. */
  secretFrom: 'SWARM_AGENT_SECRET_FROM',
  host: 'SWARM_AGENT_HOST',
  port: 'SWARM_AGENT_PORT',
  lifetimeMs: 'SWARM_AGENT_LIFETIME_MS',
  /** "1" when the agent must exit as soon as its stdin closes (local provider: parent watch). */
  watchStdin: 'SWARM_AGENT_WATCH_STDIN',
} as const;

/**
 * Version of the coordinator-agent protocol: bump it with any change an older agent would
 * misunderstand. A provider refuses an agent that reports another (a stale template).
 * 2: per-role credentials instead of the swarm secret, the secret on stdin or in a one-time file.
 * 3: `execute`, and `propose` with a window, arrive as binary frames of Float64 columns
 *    (window-frame.ts); an agent of protocol 2 refuses every binary frame.
 * 4: peer links negotiate the `swarm-bench-peer.4` subprotocol and carry the hot peer frames as
 *    binary (peer-wire.ts); an agent of protocol 3 neither offers it nor reads those frames.
 */
export const AGENT_PROTOCOL_VERSION = 4;

/** The line an agent prints when it is ready. */
export interface AgentReadyLine {
  event: 'ready';
  agentId: string;
  port: number;
  pid: number;
  /** AGENT_PROTOCOL_VERSION of the agent program. */
  protocol?: number;
  /** sha256 (hex) of the agent's own bundle file, to tell a stale template from the current bundle. */
  bundleSha256?: string;
}

/** Fixed port agents listen on inside E2B sandboxes (reached via getHost(port)). */
export const E2B_AGENT_BASE_PORT = 8700;

/** Parse a stdout line; undefined when it is not a ready line. */
export function parseReadyLine(line: string): AgentReadyLine | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(line) as Partial<AgentReadyLine>;
    if (value.event === 'ready' && typeof value.port === 'number' && typeof value.agentId === 'string') {
      return value as AgentReadyLine;
    }
  } catch {
    // not a ready line
  }
  return undefined;
}
