/**
 * Step Functions cannot be reached from here; the progress count is pure logic over the history
 * events GetExecutionHistory returns, so synthetic events in the SDK's own shape stand in for them.
 */
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { mapProgress } from '../../lib/pipeline/execution.ts';

const at = new Date(0);
let id = 0;
const event = (type: HistoryEvent['type'], extra: Partial<HistoryEvent> = {}): HistoryEvent => ({
  id: ++id,
  timestamp: at,
  type,
  ...extra,
});
const mapStarted = (length: number) => event('MapStateStarted', { mapStateStartedEventDetails: { length } });
const entered = (name: string) => event('TaskStateEntered', { stateEnteredEventDetails: { name } });

describe('mapProgress', () => {
  it('counts the units of both Maps, iterations finished and failures recorded in either Map', () => {
    // Act
    const creationOnly = mapProgress([
      mapStarted(3),
      event('MapIterationSucceeded'),
      entered('RecordFailure'),
    ]);
    const both = mapProgress([
      mapStarted(3),
      event('MapIterationSucceeded'),
      entered('RecordFailure'),
      event('MapIterationSucceeded'),
      event('MapIterationSucceeded'),
      mapStarted(17),
      entered('RunPooledUnit'),
      entered('RecordPooledFailure'),
      event('MapIterationSucceeded'),
    ]);

    // Assess
    expect(creationOnly).toEqual({ unitsTotal: 3, mapsStarted: 1, unitsDone: 1, unitsFailed: 1 });
    expect(both).toEqual({ unitsTotal: 20, mapsStarted: 2, unitsDone: 4, unitsFailed: 2 });
    expect(mapProgress([entered('Plan')])).toEqual({ mapsStarted: 0, unitsDone: 0, unitsFailed: 0 });
  });
});
