// The bus's dead letters (dead-letters.ts), shared by both adapters:
// - platform_bus_failures: per consumer, the event it is failing on and how often it failed,
//   written when a handler throws; it is what makes the count survive a restart and be shared
//   by every node delivering to that consumer.
// - platform_bus_dead_letters: an event a consumer gave up on after the last attempt, kept
//   until an admin redrives or discards it (and then for DEAD_LETTER_RESOLVED_RETENTION_MS).
// Kept apart, like the inbox's, so that migrating loads nothing else.
import { sql, type Kysely, type Migration } from 'kysely';

type Int = bigint | number;

export const DEAD_LETTER_STATES = ['pending', 'redriven', 'discarded'] as const;
export type DeadLetterState = (typeof DEAD_LETTER_STATES)[number];

export interface BusFailuresTable {
  consumer: string;
  event_id: string;
  attempts: Int;
  first_failed_at_ms: Int;
  last_failed_at_ms: Int;
  last_error: string;
}

export interface BusDeadLettersTable {
  id: string;
  consumer: string;
  event_id: string;
  topic: string;
  key: string;
  version: Int;
  /** The event's payload as JSON text, as the outbox stores it. */
  payload: string;
  event_created_at_ms: Int;
  attempts: Int;
  last_error: string;
  first_failed_at_ms: Int;
  last_failed_at_ms: Int;
  state: DeadLetterState;
  /** When it was dead-lettered. */
  created_at_ms: Int;
  resolved_at_ms: Int | null;
  /** The admin who redrove or discarded it. */
  resolved_by: string | null;
}

export interface BusDeadLetterTables {
  platform_bus_failures: BusFailuresTable;
  platform_bus_dead_letters: BusDeadLettersTable;
  platform_bus_inbox: { consumer: string; event_id: string; handled_at_ms: Int };
}

export const busDeadLettersMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('platform_bus_failures')
      .addColumn('consumer', 'text', (c) => c.primaryKey())
      .addColumn('event_id', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('first_failed_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('last_failed_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('last_error', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('platform_bus_dead_letters')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('consumer', 'text', (c) => c.notNull())
      .addColumn('event_id', 'text', (c) => c.notNull())
      .addColumn('topic', 'text', (c) => c.notNull())
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('payload', 'text', (c) => c.notNull())
      .addColumn('event_created_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('last_error', 'text', (c) => c.notNull())
      .addColumn('first_failed_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('last_failed_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('resolved_at_ms', 'bigint')
      .addColumn('resolved_by', 'text')
      // One dead letter per consumer and event: writing it again (a redelivery after a crash) is a no-op.
      .addUniqueConstraint('platform_bus_dead_letters_event', ['consumer', 'event_id'])
      .addCheckConstraint('platform_bus_dead_letters_state', sql`state in ('pending', 'redriven', 'discarded')`)
      .execute();
    await db.schema.createIndex('platform_bus_dead_letters_state').on('platform_bus_dead_letters').columns(['state', 'id']).execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('platform_bus_dead_letters').execute();
    await db.schema.dropTable('platform_bus_failures').execute();
  },
};
