// The bus over NATS JetStream (DESIGN, ports and adapters; issue 8), for nodes that share a
// PostgreSQL database and a NATS cluster. Same port as the in-process bus (outbox/bus.ts):
//
// - Producers still append to the transactional outbox in their own transaction (rule 5).
// - A publisher forwards the outbox to the stream: it is an outbox consumer of every topic
//   (relay.ts: batches, a durable checkpoint, retries, pruning), whose handler publishes each
//   event to `<prefix>.<topic>` with the event id as `Nats-Msg-Id` and waits for the stream's
//   ack before the checkpoint moves. A publisher that dies between the two publishes again;
//   the stream drops the repeat within its duplicate window, and consumers dedupe anyway. On
//   PostgreSQL every node runs a publisher and the checkpoint row's lock lets one work at a time.
// - Each `subscribe(consumer, …)` is a durable JetStream pull consumer of that name, shared by
//   every node that subscribes it (the worker role): each event goes to one of them. One
//   message in flight per consumer (max_ack_pending 1) keeps the outbox order, as the
//   in-process relay does. The handler runs in a database transaction that first records
//   (consumer, event id) in `platform_bus_inbox`: a redelivered event finds its row and is
//   acknowledged without running again, so its effect happens once. The message is acked
//   only after the commit; a handler that throws is redelivered with backoff.
// - Dead letters (dead-letters.ts): each failure is counted in storage; at the last attempt one
//   transaction writes the dead letter and the event's inbox row, and then the message is
//   acked. A node that dies between the commit and the ack gets the event again, finds the
//   inbox row and acks it: the dead letter is neither lost nor written twice, and the handler
//   does not run again. JetStream's own max_deliver stays off: the server would drop the
//   event silently.
//
// nats-server 2.9 (Debian's) allows one filter subject per consumer: a consumer of one topic
// filters on it; a consumer of several reads the whole stream and acknowledges the others'
// events unread.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type ConsumerMessages, type JetStreamClient, type JsMsg } from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../logging.js';
import type { Bus } from '../outbox/bus.js';
import { Outbox, TOPIC_PATTERN, type OutboxEvent } from '../outbox/outbox.js';
import { CONSUMER_NAME_PATTERN, OutboxRelay, RELAY_DEFAULTS, retryDelayMs, type EventHandler, type RelayOptions } from '../outbox/relay.js';
import { BusDeadLetters, type FailureCount } from './dead-letters.js';

export interface JetStreamBusOptions extends Partial<RelayOptions> {
  /** Run this node's subscribers (the worker role). The publisher runs on every node. */
  deliver: boolean;
  /** The stream's name. Default GAVEL_EVENTS. */
  stream?: string;
  /** Subjects are `<prefix>.<topic>`. Default gavel.events. */
  subjectPrefix?: string;
  /** Stream replicas: 3 in a 3-node NATS cluster (the events survive losing a node). Default 1. */
  replicas?: number;
  /** How long a delivered event may stay unacknowledged before JetStream redelivers it. Default 30 s. */
  ackWaitMs?: number;
  /** How long the stream keeps events (and the inbox its dedupe rows). Default 7 days. */
  maxAgeMs?: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const INBOX_PRUNE_INTERVAL_MS = 10 * 60_000;
const PUBLISHER = 'bus.jetstream-publisher';

interface Subscriber {
  consumer: string;
  topics: ReadonlySet<string>;
  handler: EventHandler;
  messages?: ConsumerMessages;
  loop?: Promise<void>;
}

/** JetStream consumer names may not contain dots; ours may. */
export function durableNameOf(consumer: string): string {
  return consumer.replace(/\./g, '_');
}

export function createJetStreamBus(database: Database, clock: Clock, logger: Logger, nc: NatsConnection, options: JetStreamBusOptions): Bus {
  const { deliver, stream = 'GAVEL_EVENTS', subjectPrefix = 'gavel.events', replicas = 1, ackWaitMs = 30_000, maxAgeMs = 7 * DAY_MS, ...relayOptions } = options;
  const log = logger.child({ part: 'jetstream-bus' });
  const outbox = new Outbox(database, clock);
  const relay = new OutboxRelay(database, outbox, clock, log, relayOptions);
  const js: JetStreamClient = jetstream(nc);
  const subscribers = new Map<string, Subscriber>();
  const db = database.kysely as unknown as Kysely<any>;
  const maxAttempts = relayOptions.maxAttempts ?? RELAY_DEFAULTS.maxAttempts;
  const retry = { retryFirstDelayMs: relayOptions.retryFirstDelayMs ?? RELAY_DEFAULTS.retryFirstDelayMs, retryMaxDelayMs: relayOptions.retryMaxDelayMs ?? RELAY_DEFAULTS.retryMaxDelayMs };
  // A redriven event keeps its inbox row (written with the dead letter): the stream may still
  // hold it, and a delivery of it must stay a no-op.
  const deadLetters = new BusDeadLetters(database, clock, log, { maxAttempts, onRedrive: (tx, consumer, event) => markHandled(tx, consumer, event.id).then(() => {}) });
  let stopped = false;
  let pruner: NodeJS.Timeout | undefined;

  relay.subscribe(PUBLISHER, 'all', async (event) => {
    // Published before the batch commits: not before the event's own commit is on disk.
    await database.untilDurable();
    const ack = await js.publish(`${subjectPrefix}.${event.topic}`, JSON.stringify(event), { msgID: event.id });
    if (ack.stream !== stream) throw new Error(`event ${event.id} was stored in stream ${ack.stream}, not ${stream}`);
  });

  async function ensureStream(): Promise<void> {
    const jsm = await jetstreamManager(nc);
    const config = { subjects: [`${subjectPrefix}.>`], num_replicas: replicas, max_age: nanos(maxAgeMs), duplicate_window: nanos(2 * 60_000) };
    try {
      await jsm.streams.info(stream);
      await jsm.streams.update(stream, config);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await jsm.streams.add({ name: stream, ...config });
    }
  }

  async function startSubscriber(s: Subscriber): Promise<void> {
    const jsm = await jetstreamManager(nc);
    const durable = durableNameOf(s.consumer);
    const filter = s.topics.size === 1 ? `${subjectPrefix}.${[...s.topics][0]}` : `${subjectPrefix}.>`;
    const config = { durable_name: durable, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, filter_subject: filter, max_ack_pending: 1, ack_wait: nanos(ackWaitMs), max_deliver: -1 };
    try {
      await jsm.consumers.info(stream, durable);
      await jsm.consumers.update(stream, durable, { filter_subject: filter, ack_wait: config.ack_wait, max_ack_pending: 1 });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await jsm.consumers.add(stream, config);
    }
    const consumer = await js.consumers.get(stream, durable);
    // Pull requests live on the consumer's Raft leader. When that NATS node dies, the client
    // only notices after two missed idle heartbeats (half of `expires` each) and then pulls
    // again from the new leader: with the default 30 s expiry delivery stalled ~40 s; with 5 s,
    // about the election plus 5 s (test/cluster/nats-cluster.test.ts).
    s.messages = await consumer.consume({ max_messages: 1, expires: 5_000 });
    s.loop = (async () => {
      for await (const m of s.messages!) await handle(s, m);
    })().catch((error) => {
      if (!stopped) log.error({ err: error, consumer: s.consumer }, 'a JetStream consumer stopped');
    });
  }

  async function handle(s: Subscriber, m: JsMsg): Promise<void> {
    let event: OutboxEvent;
    try {
      event = JSON.parse(m.string()) as OutboxEvent;
      assert(typeof event.id === 'string' && typeof event.topic === 'string');
    } catch (error) {
      // Not ours to read (published by hand?): leave it acknowledged, say so loudly.
      log.error({ err: error, consumer: s.consumer, subject: m.subject, seq: m.seq }, 'an unreadable message on the event stream was skipped');
      await acknowledge(m);
      return;
    }
    if (!s.topics.has(event.topic)) {
      await acknowledge(m);
      return;
    }
    const afterCommit: Array<() => void> = [];
    try {
      await db.transaction().execute(async (tx) => {
        if (!(await markHandled(tx, s.consumer, event.id))) return; // handled before: a redelivery
        await s.handler(event, { tx, afterCommit: (action) => afterCommit.push(action) });
      });
    } catch (error) {
      await failed(s, m, event, error);
      return;
    }
    for (const action of afterCommit) {
      try {
        action();
      } catch (error) {
        log.error({ err: error, consumer: s.consumer }, 'an after-commit action of an event consumer failed');
      }
    }
    // After the actions: a confirmation held up by a NATS failover must not delay them.
    await acknowledge(m);
  }

  /** Records (consumer, event) in the inbox in `tx`; false when it was there already. */
  async function markHandled(tx: Kysely<any>, consumer: string, eventId: string): Promise<boolean> {
    const first = await tx
      .insertInto('platform_bus_inbox')
      .values({ consumer, event_id: eventId, handled_at_ms: clock.nowMs() })
      .onConflict((oc) => oc.columns(['consumer', 'event_id']).doNothing())
      .returning('event_id')
      .executeTakeFirst();
    return first !== undefined;
  }

  /**
   * The handler threw (its transaction rolled back): count the failure; at the last attempt
   * write the dead letter with the inbox row in one transaction and ack, else redeliver later.
   */
  async function failed(s: Subscriber, m: JsMsg, event: OutboxEvent, error: unknown): Promise<void> {
    let outcome: { failure: FailureCount; result: 'retry' | 'dead-lettered' | 'handled-elsewhere' };
    try {
      outcome = await db.transaction().execute(async (tx) => {
        const failure = await deadLetters.recordFailure(tx, s.consumer, event, error);
        if (failure.attempts < maxAttempts) return { failure, result: 'retry' as const };
        // Another node handled it meanwhile (this delivery outlived ack_wait): nothing to give up on.
        if (!(await markHandled(tx, s.consumer, event.id))) return { failure, result: 'handled-elsewhere' as const };
        const fresh = await deadLetters.deadLetter(tx, s.consumer, event, failure);
        return { failure, result: fresh ? ('dead-lettered' as const) : ('handled-elsewhere' as const) };
      });
    } catch (recordError) {
      // Storage does not answer: not the event's fault, so nothing is counted; try again later.
      const delayMs = retryDelayMs(m.info.deliveryCount, retry);
      log.warn({ err: error, recordErr: recordError, consumer: s.consumer, eventId: event.id, topic: event.topic, retryInMs: delayMs }, 'event consumer failed and its failure could not be recorded; retrying');
      m.nak(delayMs);
      return;
    }
    const { failure, result } = outcome;
    if (result === 'retry') {
      const delayMs = retryDelayMs(failure.attempts, retry);
      log[failure.attempts >= 5 ? 'error' : 'warn']({ err: error, consumer: s.consumer, eventId: event.id, topic: event.topic, attempt: `${failure.attempts} of ${maxAttempts}`, retryInMs: delayMs }, 'event consumer failed; retrying');
      m.nak(delayMs);
      return;
    }
    if (result === 'dead-lettered') deadLetters.announce(s.consumer, event, failure, error);
    await acknowledge(m);
  }

  /**
   * Acks `m` and waits until the consumer's leader confirms it. An ack sent as its NATS node
   * dies is lost: the new leader would hold the event as pending until `ack_wait` and, with one
   * in flight, everything after it (a 30 s stall, test/cluster/nats-cluster.test.ts). So the ack
   * is sent again until a leader confirms it; past `ack_wait` the event comes again anyway and
   * the inbox skips it.
   */
  async function acknowledge(m: JsMsg): Promise<void> {
    // The ack subject: on the message at run time, though not in JsMsg's type.
    const ackSubject = (m as JsMsg & { reply?: string }).reply;
    if (!ackSubject) return m.ack();
    const giveUpAtMs = performance.now() + ackWaitMs;
    for (;;) {
      try {
        await nc.request(ackSubject, '+ACK', { timeout: 2_000 });
        return;
      } catch {
        if (stopped || nc.isClosed() || performance.now() >= giveUpAtMs) return;
        await sleep(200);
      }
    }
  }

  async function pruneInbox(): Promise<void> {
    try {
      await db.deleteFrom('platform_bus_inbox').where('handled_at_ms', '<', clock.nowMs() - maxAgeMs).execute();
    } catch (error) {
      log.error({ err: error }, 'pruning the event inbox failed');
    }
  }

  return {
    append: (tx, event) => outbox.append(tx, event),
    poke: () => relay.poke(),
    subscribe: (consumer, topics, handler) => {
      assert.match(consumer, CONSUMER_NAME_PATTERN);
      assert(consumer !== PUBLISHER && !subscribers.has(consumer), `consumer ${consumer} is subscribed already`);
      assert(topics.length > 0, 'subscribe to at least one topic');
      for (const topic of topics) assert.match(topic, TOPIC_PATTERN);
      subscribers.set(consumer, { consumer, topics: new Set(topics), handler });
      deadLetters.register(consumer, handler);
    },
    deadLetters,
    start: async () => {
      await ensureStream();
      relay.start();
      relay.poke();
      if (!deliver) return;
      for (const s of subscribers.values()) await startSubscriber(s);
      void pruneInbox();
      pruner = setInterval(() => void pruneInbox(), INBOX_PRUNE_INTERVAL_MS);
      pruner.unref();
      deadLetters.start();
    },
    stop: async () => {
      stopped = true;
      clearInterval(pruner);
      deadLetters.stop();
      await relay.stop();
      // Stop pulling; a message being handled finishes (its transaction commits or not) first.
      for (const s of subscribers.values()) await s.messages?.close().catch(() => {});
      await Promise.all([...subscribers.values()].map((s) => s.loop));
    },
  };
}

function isNotFound(error: unknown): boolean {
  const e = error as { api_error?: { err_code?: number }; code?: unknown; message?: string };
  // 10059 stream not found, 10014 consumer not found.
  return e?.api_error?.err_code === 10059 || e?.api_error?.err_code === 10014 || /not found/i.test(String(e?.message ?? ''));
}
