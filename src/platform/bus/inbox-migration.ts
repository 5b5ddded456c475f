// The JetStream bus's dedupe table (jetstream-bus.ts): one row per (consumer, event id)
// handled, written in the handler's own transaction. Kept apart so that migrating does not
// load the NATS client on nodes that never use it.
import type { Kysely, Migration } from 'kysely';

export const busInboxMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('platform_bus_inbox')
      .addColumn('consumer', 'text', (c) => c.notNull())
      .addColumn('event_id', 'text', (c) => c.notNull())
      .addColumn('handled_at_ms', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('platform_bus_inbox_pk', ['consumer', 'event_id'])
      .execute();
    await db.schema.createIndex('platform_bus_inbox_handled').on('platform_bus_inbox').column('handled_at_ms').execute();
  },
};
