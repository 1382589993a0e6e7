/** What `plan` and `run` read before planning: unit history and the agents' measured footprint. */
import os from 'node:os';
import { loadUnitHistory, type UnitHistory } from '../lib/bench/estimate.ts';
import {
  type AgentFootprint,
  DEFAULT_FOOTPRINT,
  type MachineInfo,
  measuredFootprint,
  previousLoadSize,
} from '../lib/bench/machine.ts';
import type { ProviderName } from '../lib/sandbox/types.ts';
import type { ResultStore } from '../lib/store/types.ts';

export interface PlanInputs {
  history: UnitHistory;
  footprint: AgentFootprint;
  machine: MachineInfo;
  /** The largest swarm the newest local load run was sized to (keeps the load profile's size steady). */
  previousLoadSize?: number | undefined;
}

/** Read history and footprint from an open store; an unreadable store means none (the model's defaults). */
export async function readPlanInputs(
  store: Pick<ResultStore, 'listRuns' | 'getResults'> | undefined,
  provider: ProviderName,
): Promise<PlanInputs> {
  const machine = { cores: os.cpus().length, memoryMb: os.totalmem() / 1024 ** 2 };
  if (store === undefined) return { history: new Map(), footprint: DEFAULT_FOOTPRINT, machine };
  try {
    const [history, footprint, previousLoad] = await Promise.all([
      loadUnitHistory(store, provider),
      measuredFootprint(store),
      previousLoadSize(store),
    ]);
    return { history, footprint: footprint ?? DEFAULT_FOOTPRINT, machine, previousLoadSize: previousLoad };
  } catch {
    return { history: new Map(), footprint: DEFAULT_FOOTPRINT, machine };
  }
}
