/** The one line an error prints and the exit code it maps to (kept light: the CLI's entry loads it). */
import { EXIT, InvalidInputError, SwarmBenchError } from '../lib/errors.ts';

/** Print a one-line error and pick the exit code for it. */
export function exitCodeFor(error: unknown, write: (line: string) => void): number {
  if (error instanceof InvalidInputError) {
    write(`swarm-bench: ${error.message}`);
    return EXIT.usage;
  }
  if (error instanceof SwarmBenchError) {
    write(`swarm-bench: ${error.name}: ${error.message}`);
    return error.code === 'BUDGET_EXCEEDED' || error.code === 'PROVIDER_UNAVAILABLE'
      ? EXIT.usage
      : EXIT.unitFailed;
  }
  write(`swarm-bench: unexpected error: ${(error as Error)?.message ?? String(error)}`);
  return EXIT.unitFailed;
}
