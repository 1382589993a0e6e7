/** Shared loading of the report fixtures (test/fixtures/report/*.json). */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { RunResults } from '../../lib/bench/model.ts';

export type FixtureState = 'clean' | 'failed-targets' | 'failed-unit';

export const FIXTURE_STATES: readonly FixtureState[] = ['clean', 'failed-targets', 'failed-unit'];

/** A fresh copy of a fixture run (tests may mutate it). */
export function loadFixture(state: FixtureState): RunResults {
  const url = new URL(`../fixtures/report/${state}.json`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as RunResults;
}

/** The folder of the golden report files. */
export const GOLDEN_DIR = new URL('../golden/report/', import.meta.url);

/** Compare `markdown` with test/golden/report/<state>.md; UPDATE_GOLDEN=1 rewrites the file first. */
export function expectGolden(state: string, markdown: string): void {
  const golden = new URL(`${state}.md`, GOLDEN_DIR);
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(golden, markdown);
  }
  expect(markdown).toBe(readFileSync(golden, 'utf8'));
}
