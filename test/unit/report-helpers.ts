/** Shared loading of the report fixtures (test/fixtures/report/*.json). */
import { readFileSync } from 'node:fs';
import type { RunResults } from '../../lib/bench/model.ts';

export type FixtureState = 'clean' | 'failed-targets' | 'failed-unit';

export const FIXTURE_STATES: readonly FixtureState[] = ['clean', 'failed-targets', 'failed-unit'];

/** A fresh copy of a fixture run (tests may mutate it). */
export function loadFixture(state: FixtureState): RunResults {
  const url = new URL(`../fixtures/report/${state}.json`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as RunResults;
}
