// The sliced fan-out on its own, with subscriptions in memory: which subscriber gets which
// event, turn by turn, when sockets leave and join in the middle of a pass.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { Subscription } from '../../src/gateway/ws-connection.js';
import { TopicFanout, type FanoutEvent } from '../../src/gateway/ws-fanout.js';

const TOPIC = 'auction:a1';

function room(n: number) {
  const subscribers = new Set<Subscription>();
  const got = new Map<Subscription, number[]>();
  const join = () => {
    const connection = { subscriptions: new Map<string, Subscription>() };
    const subscription = { connection, topic: TOPIC, live: true, lastSeq: -1, buffered: [] } as unknown as Subscription;
    connection.subscriptions.set(TOPIC, subscription);
    subscribers.add(subscription);
    got.set(subscription, []);
    return subscription;
  };
  const leave = (s: Subscription) => {
    s.connection.subscriptions.delete(TOPIC);
    subscribers.delete(s);
  };
  const members = Array.from({ length: n }, join);
  const fanout = new TopicFanout(2, () => subscribers, (s, e) => got.get(s)!.push(e.seq));
  return { fanout, members, join, leave, got };
}

const event = (seq: number, conflationKey?: string): FanoutEvent => ({ seq, payload: Buffer.from(`{"seq":${seq}}`), conflationKey });

async function settle(fanout: TopicFanout): Promise<void> {
  for (let i = 0; i < 100 && fanout.busyTopics > 0; i++) await nextTurn();
  expect(fanout.busyTopics).toBe(0);
}

describe('TopicFanout', () => {
  it('a topic within the slice size is sent to at once, with no pass', () => {
    const { fanout, members, got } = room(2);
    fanout.publish(TOPIC, event(1));
    expect(members.map((m) => got.get(m))).toEqual([[1], [1]]);
    expect(fanout.busyTopics).toBe(0);
    expect(fanout.counters.passes).toBe(0);
  });

  it('a bigger topic gets one slice per turn; a socket that leaves before its slice gets nothing, one that joins gets the next pass', async () => {
    const { fanout, members, join, leave, got } = room(5);
    fanout.publish(TOPIC, event(1));
    expect(members.map((m) => got.get(m)!.length)).toEqual([1, 1, 0, 0, 0]);
    leave(members[3]!);
    const late = join();
    fanout.publish(TOPIC, event(2));
    await nextTurn();
    expect(members.map((m) => got.get(m)!.length)).toEqual([1, 1, 1, 0, 0]);
    await settle(fanout);
    expect(got.get(members[0]!)).toEqual([1, 2]);
    expect(got.get(members[2]!)).toEqual([1, 2]);
    expect(got.get(members[3]!)).toEqual([]);
    expect(got.get(members[4]!)).toEqual([1, 2]);
    // Not in the first pass's snapshot: its catch-up covers event 1 (published before it subscribed).
    expect(got.get(late)).toEqual([2]);
    expect(fanout.counters.passes).toBe(2);
  });

  it('while a pass runs, the latest event per key waits (moved to the end, seqs increasing) and keyless events all wait in order', async () => {
    const { fanout, members, got } = room(3);
    fanout.publish(TOPIC, event(1, 'price'));
    fanout.publish(TOPIC, event(2, 'price'));
    fanout.publish(TOPIC, event(3));
    fanout.publish(TOPIC, event(4, 'price'));
    fanout.publish(TOPIC, event(5, 'participants'));
    fanout.publish(TOPIC, event(6));
    fanout.publish(TOPIC, event(7, 'participants'));
    await settle(fanout);
    for (const m of members) expect(got.get(m)).toEqual([1, 3, 4, 6, 7]);
    expect(fanout.counters.eventsConflated).toBe(2);
  });
});
