import { sql, type Kysely, type Migration } from 'kysely';

// The in-app inbox. One row per (recipient, event, kind): a redelivered event inserts nothing.
// Recipients are plain user ids (no foreign key across modules).
export const inboxMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('notifications_inbox')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('recipient_user_id', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('event_id', 'text', (c) => c.notNull())
      .addColumn('title', 'text', (c) => c.notNull())
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull())
      .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('read_at_ms', 'bigint')
      .addUniqueConstraint('notifications_inbox_once', ['recipient_user_id', 'event_id', 'kind'])
      .execute();
    // Newest first per person, and the unread ones (the badge count and the unread filter).
    await db.schema.createIndex('notifications_inbox_recipient').on('notifications_inbox').columns(['recipient_user_id', 'id']).execute();
    await sql`create index notifications_inbox_unread on notifications_inbox (recipient_user_id, id) where read_at_ms is null`.execute(db);
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('notifications_inbox').execute();
  },
};
