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
  Spin,
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

/** A clock for a Spin that moves `stepMs` at every reading, and counts its readings. */
function steppingClock(stepMs: number): { now: () => number; readings: () => number } {
  let readings = 0;
  return { now: () => readings++ * stepMs, readings: () => readings };
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
    expect(channel.readAnswer()).toMatchObject({ t: 'ok', id: 7, decision: 'buy' });
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
        if (channel.state === ANSWER) answers.push(channel.readAnswer());
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

describe('a spin on the channel', () => {
  it('ends as soon as the state changes, and at its deadline when it does not', () => {
    // Prepare
    const channel = new Channel();
    const clock = steppingClock(0.001);
    const spin = new Spin(clock.now);

    // Act
    const unchanged = spin.until(channel.control, IDLE, 0.5);
    const readings = clock.readings();
    channel.signal(REQUEST);
    const changed = spin.until(channel.control, IDLE, 1000);

    // Assess: it looked until the deadline (0.5 ms of 1 us readings), then saw the change at once.
    expect(unchanged).toBe(false);
    expect(readings).toBeGreaterThanOrEqual(500);
    expect(changed).toBe(true);
    expect(clock.readings() - readings).toBe(1);
  });

  it('backs off for a second after it was preempted (a long gap between two looks)', () => {
    // Prepare: a clock that jumps 5 ms at its second reading, as a preempted thread sees it.
    const channel = new Channel();
    const times = [0, 5, 6, 900, 1006];
    const spin = new Spin(() => times.shift() ?? 2000);

    // Act
    const preempted = spin.until(channel.control, IDLE, 10);
    channel.signal(REQUEST);
    const backingOff = [spin.until(channel.control, IDLE, 2000), spin.until(channel.control, IDLE, 2000)];
    const after = spin.until(channel.control, IDLE, 2000);

    // Assess: no look while backing off (at 6 and 900 ms), spinning again after (1006 ms).
    expect(preempted).toBe(false);
    expect(backingOff).toEqual([false, false]);
    expect(after).toBe(true);
  });
});

describe('the worker spinning between calls', () => {
  it('polls for the next call after answering one of a series, and blocks at once after a lone call', async () => {
    // Prepare: call 100 is lone; call 101 comes (from the first blocking wait) right after it.
    const channel = new Channel();
    const clock = steppingClock(0.001);
    const blockedAt: number[] = [];
    const waits: ChannelWaits = {
      block: () => {
        blockedAt.push(clock.readings());
        if (blockedAt.length === 1) {
          call(channel, 101);
          return 'ok';
        }
        return 'timed-out';
      },
      park: () => ({ async: true, value: new Promise<'ok'>(() => {}) }),
    };
    call(channel, 100);

    // Act: a 1 ms spin, on a clock that moves 1 us per reading.
    serve(rule, channel, waits, 1000, new Spin(clock.now));
    await turns(2);

    // Assess: both answered; blocked within a few readings of the lone call, but only after
    // a millisecond of looking after the call of the series.
    expect(channel.readAnswer()).toMatchObject({ t: 'ok', id: 101 });
    expect(blockedAt).toHaveLength(2);
    expect(blockedAt[0]).toBeLessThan(10);
    expect((blockedAt[1] as number) - (blockedAt[0] as number)).toBeGreaterThanOrEqual(1000);
  });
});
