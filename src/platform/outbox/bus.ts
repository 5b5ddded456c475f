// The bus port (DESIGN, ports and adapters). Producers publish by appending to the outbox in
// their own transaction and poking after the commit; consumers subscribe by name. The
// embedded adapter below delivers from the outbox table in this process; the NATS JetStream
// adapter (issue 8) keeps the same two halves: its relay publishes outbox rows to streams,
// and each subscription becomes a durable consumer whose handler runs in a transaction that
// commits before the message is acked.
import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../logging.js';
import { BusDeadLetters } from '../bus/dead-letters.js';
import { Outbox, type NewEvent } from './outbox.js';
import { OutboxRelay, RELAY_DEFAULTS, type EventHandler, type RelayOptions } from './relay.js';

/** The half a producer needs. */
export interface EventPublisher {
  /** Appends `event` inside `tx` (the transaction of the change that causes it); returns its id. */
  append(tx: Kysely<any>, event: NewEvent): Promise<string>;
  /** After the transaction that appended committed: start delivering now rather than at the next poll. */
  poke(): void;
}

export interface Bus extends EventPublisher {
  /**
   * Registers a durable consumer: `handler` sees every event on `topics` appended since the
   * consumer first ran, at least once, in outbox order, whichever process appended it.
   */
  subscribe(consumer: string, topics: readonly string[], handler: EventHandler): void;
  /** Events a consumer gave up on after its last attempt: recorded, listed, redriven, discarded. */
  readonly deadLetters: BusDeadLetters;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface OutboxBusOptions extends Partial<RelayOptions> {
  /** false: events are appended here but delivered by other nodes (the worker role), or after a restart. */
  deliver: boolean;
}

export function createOutboxBus(database: Database, clock: Clock, logger: Logger, options: OutboxBusOptions): Bus {
  const { deliver, ...relayOptions } = options;
  const outbox = new Outbox(database, clock);
  const log = logger.child({ part: 'outbox-relay' });
  const deadLetters = new BusDeadLetters(database, clock, log, { maxAttempts: relayOptions.maxAttempts ?? RELAY_DEFAULTS.maxAttempts });
  const relay = new OutboxRelay(database, outbox, clock, log, relayOptions, deadLetters);
  return {
    append: (tx, event) => outbox.append(tx, event),
    poke: () => relay.poke(),
    subscribe: (consumer, topics, handler) => {
      relay.subscribe(consumer, topics, handler);
      deadLetters.register(consumer, handler);
    },
    deadLetters,
    start: async () => {
      if (!deliver) return;
      relay.start();
      deadLetters.start();
    },
    stop: async () => {
      deadLetters.stop();
      await relay.stop();
    },
  };
}
