/**
 * The chaos suite's tally: every test file under test/chaos appends its figures (faults injected,
 * bad inputs tried, processes leaked, duplicates) to one JSON-lines file; the teardown prints one
 * summary line. Vitest runs files in separate workers, so the file path is handed to them with
 * `provide` and read back with `inject('chaosTally')`.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    chaosTally: string;
  }
}

/** One file's contribution to the summary. */
export interface ChaosCounts {
  faults: number;
  badInputs: number;
  leaked: number;
  duplicates: number;
  /** Connections that claimed to be a peer they are not (or a peer outside the swarm). */
  impostors: number;
  /** Connections that never completed their handshake (idle TCP, slow headers). */
  slowLoris: number;
  /** Launcher chains (CLI, npm, npx) signalled with a run in progress. */
  chains: number;
  /** Runs found still `running` in a store after the test that made them ended. */
  runsLeftRunning: number;
}

export default function setup(project: TestProject): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'swarm-chaos-tally-'));
  const file = join(dir, 'tally.jsonl');
  project.provide('chaosTally', file);
  return () => {
    try {
      if (!existsSync(file)) return;
      const total: ChaosCounts = {
        faults: 0,
        badInputs: 0,
        leaked: 0,
        duplicates: 0,
        impostors: 0,
        slowLoris: 0,
        chains: 0,
        runsLeftRunning: 0,
      };
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (line.trim() === '') continue;
        const counts = JSON.parse(line) as Partial<ChaosCounts>;
        total.faults += counts.faults ?? 0;
        total.badInputs += counts.badInputs ?? 0;
        total.leaked += counts.leaked ?? 0;
        total.duplicates += counts.duplicates ?? 0;
        total.impostors += counts.impostors ?? 0;
        total.slowLoris += counts.slowLoris ?? 0;
        total.chains += counts.chains ?? 0;
        total.runsLeftRunning += counts.runsLeftRunning ?? 0;
      }
      process.stdout.write(
        `chaos: ${total.faults} faults injected, ${total.badInputs} bad inputs tried, ` +
          `${total.leaked} processes leaked, ${total.duplicates} duplicates, ` +
          `${total.impostors} impostor connections, ${total.slowLoris} slow-loris connections, ` +
          `signal chains tested: ${total.chains}, runs left running: ${total.runsLeftRunning}\n`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}
