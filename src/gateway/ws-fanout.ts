// Fan-out of one topic's events to its subscribers, in slices, with conflation before the loop.
//
// Why: a broadcast is one loop writing to one socket after another, about 14 µs of CPU per socket
// on our 2-core VM (bench/README.md, bench:fanout). To 15,000 subscribers that is ~210 ms of one
// core per event. Done in one go, every other request on the node (the next bid's answer
// included) waits behind it; at 10 events/s the loop needs more than a core and latency grows
// without bound. So a topic with more subscribers than `sliceSize` is served in passes:
// - a pass sends its events to a snapshot of the subscribers, `sliceSize` sockets per turn of
//   the event loop (setImmediate between slices), so other work runs between slices;
// - events published while a pass runs wait for the next pass, and there a conflatable event
//   (a key such as 'price') replaces the waiting one with the same key: latest wins, and it
//   moves to the end so seqs stay increasing. Key events (no key) are never dropped.
// Every subscriber gets a topic's events in seq order: passes of one topic never overlap.
// A topic with at most `sliceSize` subscribers and no pass running is sent to at once, as
// before. Subscriptions that end during a pass are skipped; ones that start during it get the
// pass's events from their catch-up (the source reflects everything published before), and
// duplicates are dropped by seq in `deliver`.
import type { Subscription } from './ws-connection.js';

export interface FanoutEvent {
  seq: number;
  payload: Buffer;
  conflationKey: string | undefined;
}

interface Pass {
  events: FanoutEvent[];
  subscribers: Subscription[];
  next: number;
}

interface TopicState {
  pass: Pass;
  /** Waiting for the next pass, in publish order; null where a later event superseded it. */
  waiting: Array<FanoutEvent | null>;
  waitingByKey: Map<string, number>;
}

export interface FanoutCounters {
  /** Events replaced before they were fanned out because a later one had the same key. */
  eventsConflated: number;
  /** Publishes served in passes (topics above the slice size). */
  passes: number;
}

export class TopicFanout {
  private readonly topics = new Map<string, TopicState>();
  readonly counters: FanoutCounters = { eventsConflated: 0, passes: 0 };

  constructor(
    private readonly sliceSize: number,
    /** The subscribers of a topic now (the gateway's own set). */
    private readonly subscribersOf: (topic: string) => ReadonlySet<Subscription> | undefined,
    /** Sends one event to one subscription (seq checks and buffering are the gateway's). */
    private readonly deliver: (subscription: Subscription, event: FanoutEvent) => void,
  ) {}

  /** Topics with a pass in progress. */
  get busyTopics(): number {
    return this.topics.size;
  }

  publish(topic: string, event: FanoutEvent): void {
    const state = this.topics.get(topic);
    if (state) return this.wait(state, event);
    const subscribers = this.subscribersOf(topic);
    if (!subscribers || subscribers.size === 0) return;
    if (subscribers.size <= this.sliceSize) {
      for (const subscription of subscribers) this.deliver(subscription, event);
      return;
    }
    const started: TopicState = { pass: { events: [event], subscribers: [...subscribers], next: 0 }, waiting: [], waitingByKey: new Map() };
    this.topics.set(topic, started);
    this.counters.passes += 1;
    this.runSlice(topic, started);
  }

  private wait(state: TopicState, event: FanoutEvent): void {
    if (event.conflationKey !== undefined) {
      const superseded = state.waitingByKey.get(event.conflationKey);
      if (superseded !== undefined) {
        state.waiting[superseded] = null;
        this.counters.eventsConflated += 1;
      }
      state.waitingByKey.set(event.conflationKey, state.waiting.length);
    }
    state.waiting.push(event);
  }

  private runSlice(topic: string, state: TopicState): void {
    const { pass } = state;
    const end = Math.min(pass.next + this.sliceSize, pass.subscribers.length);
    for (let i = pass.next; i < end; i++) {
      const subscription = pass.subscribers[i]!;
      // Unsubscribed, resubscribed (a new Subscription) or closed since the pass began.
      if (subscription.connection.subscriptions.get(topic) !== subscription) continue;
      for (const event of pass.events) this.deliver(subscription, event);
    }
    pass.next = end;
    if (end < pass.subscribers.length) {
      setImmediate(() => this.runSlice(topic, state));
      return;
    }
    const events = state.waiting.filter((e): e is FanoutEvent => e !== null);
    if (events.length === 0) {
      this.topics.delete(topic);
      return;
    }
    const subscribers = this.subscribersOf(topic);
    if (!subscribers || subscribers.size === 0) {
      this.topics.delete(topic);
      return;
    }
    state.pass = { events, subscribers: [...subscribers], next: 0 };
    state.waiting = [];
    state.waitingByKey.clear();
    this.counters.passes += 1;
    setImmediate(() => this.runSlice(topic, state));
  }
}
