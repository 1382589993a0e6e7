/**
 * One error base for the project. Every error carries a stable `code` that the CLI maps to an exit
 * code and Step Functions maps to an ASL error name; `cause` is passed through, never serialised
 * into reports or responses.
 */
/** Exit codes of the CLI. */
export const EXIT = { ok: 0, targetFailed: 1, usage: 2, unitFailed: 3 } as const;

export class SwarmBenchError extends Error {
  readonly code: string = 'SWARM_BENCH_ERROR';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad input: names the field and what is allowed. CLI exit code 2. */
export class InvalidInputError extends SwarmBenchError {
  override readonly code = 'INVALID_INPUT';
  constructor(
    readonly field: string,
    readonly allowed: string,
    readonly received?: unknown,
  ) {
    super(`${field}: ${allowed}${received === undefined ? '' : ` (got ${preview(received)})`}`);
  }
}

/** A sandbox could not be created or its agent did not become healthy. */
export class SandboxStartError extends SwarmBenchError {
  override readonly code = 'SANDBOX_START';
}

/** A sandbox provider cannot be used (missing key, unreachable). */
export class ProviderUnavailableError extends SwarmBenchError {
  override readonly code = 'PROVIDER_UNAVAILABLE';
}

/** An agent refused, failed or did not answer a request in time. */
export class AgentError extends SwarmBenchError {
  override readonly code = 'AGENT';
}

/** Something did not finish within its time limit. */
export class TimeoutError extends SwarmBenchError {
  override readonly code = 'TIMEOUT';
}

/** A run's estimated or measured spend reached its budget. */
export class BudgetExceededError extends SwarmBenchError {
  override readonly code = 'BUDGET_EXCEEDED';
}

/** The result store failed or holds data it cannot read. */
export class StoreError extends SwarmBenchError {
  override readonly code = 'STORE';
}

/** A run or unit was interrupted (signal, deadline). */
export class InterruptedError extends SwarmBenchError {
  override readonly code = 'INTERRUPTED';
}

function preview(value: unknown): string {
  let text: string;
  try {
    text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** The name and message of an error, safe to store or print (no stack, no cause chain). */
export function describeError(error: unknown): { name: string; message: string } {
  if (error instanceof Error) return { name: error.name, message: error.message.slice(0, 500) };
  return { name: 'Error', message: String(error).slice(0, 500) };
}

/** A strategy package from S3 is missing, unreadable or not the bytes its SHA-256 names. Not retried. */
export class PluginPackageError extends SwarmBenchError {
  override readonly code = 'PLUGIN_PACKAGE';
}
