/**
 * The worker's side of the plug-in call channel (lib/plugins/worker.ts `serve`), with the two
 * waits replaced by scripted ones so an interleaving that real threads hit only now and then (a
 * host's call landing between the worker's timed-out blocking wait and its asynchronous wait) is
 * played every time. The channel, its shared memory and the plug-in are real.
 */
import { describe, expect, it } from 'vitest';
import {
  ANSWER,
  C_ID,
  C_KIND,
  C_STATE,
  Channel,
  IDLE,
  KIND_DECIDE,
  REQUEST,
} from '../../lib/plugins/channel.ts';
import { defineDecisionRule } from '../../lib/plugins/define.ts';
import { type ChannelWaits, serve } from '../../lib/plugins/worker.ts';

const rule = defineDecisionRule({ name: 'first-vote', decide: (votes) => votes[0]?.action ?? 'hold' });

/** Write a decide call as the host does and signal it. */
function call(channel: Channel, id: number): void {
  channel.control[C_ID] = id;
  channel.control[C_KIND] = KIND_DECIDE;
  channel.writeRequest(
    JSON.stringify({
      votes: [{ agent: 0, action: 'buy', confidence: 0.9 }],
      context: { agents: 1, quorum: 1 },
    }),
  );
  channel.signal(REQUEST);
}

/** Let setImmediate and promise callbacks run, a bounded number of turns (no clock involved). */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

describe('the plug-in worker serving its channel', () => {
  it('answers a call signalled between its timed-out blocking wait and its asynchronous wait', async () => {
    // Prepare: the first blocking wait times out, and the host's call lands right after it.
    const channel = new Channel();
    const parkedOn: number[] = [];
    let blocks = 0;
    const waits: ChannelWaits = {
      block: () => {
        blocks++;
        if (blocks === 1) call(channel, 7);
        return 'timed-out';
      },
      // A parked worker sleeps while the state is the value it parked on; otherwise it goes on at once.
      park: (control, value) => {
        parkedOn.push(value);
        return Atomics.load(control, C_STATE) === value
          ? { async: true, value: new Promise<'ok'>(() => {}) }
          : { async: false, value: 'not-equal' };
      },
    };

    // Act
    serve(rule, channel, waits);
    await turns(5);

    // Assess: answered without another wake-up from the host, and it never parked on REQUEST.
    expect(channel.state).toBe(ANSWER);
    expect(JSON.parse(channel.readAnswer())).toMatchObject({ t: 'ok', id: 7, decision: 'buy' });
    expect(parkedOn[0]).toBe(IDLE);
    expect(parkedOn).not.toContain(REQUEST);
  });

  it('answers calls back to back while they keep coming, and parks when they stop', async () => {
    // Prepare: every blocking wait but the last sees the next call arrive.
    const channel = new Channel();
    let blocks = 0;
    const answers: unknown[] = [];
    const parkedOn: number[] = [];
    const waits: ChannelWaits = {
      block: () => {
        if (channel.state === ANSWER) answers.push(JSON.parse(channel.readAnswer()));
        blocks++;
        if (blocks <= 3) {
          call(channel, 100 + blocks);
          return 'ok';
        }
        return 'timed-out';
      },
      park: (_control, value) => {
        parkedOn.push(value);
        return { async: true, value: new Promise<'ok'>(() => {}) };
      },
    };
    call(channel, 100);

    // Act
    serve(rule, channel, waits);
    await turns(2);

    // Assess
    expect(answers.map((a) => (a as { id: number }).id)).toEqual([100, 101, 102, 103]);
    expect(parkedOn).toEqual([ANSWER]);
  });
});
