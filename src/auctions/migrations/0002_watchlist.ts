import type { Kysely, Migration } from 'kysely';

/**
 * auctions_watches: who watches which auction (a person's watchlist), newest first per person.
 * auctions_watch_notices: the notices a watcher was sent about an auction, one row per
 * (auction, watcher, kind), written in the transaction that appends the notice's outbox event:
 * the row is what makes "once per watcher" hold across restarts, repeated sweeps, unwatching
 * and watching again, and several nodes sweeping at once.
 * auctions_by_status_start: the starting-soon sweep finds scheduled auctions by start time.
 */
export const watchlistMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('auctions_watches')
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('auction_id', 'text', (c) => c.notNull())
      .addColumn('watched_at_ms', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('auctions_watches_pk', ['user_id', 'auction_id'])
      .execute();
    await db.schema.createIndex('auctions_watches_by_user_time').on('auctions_watches').columns(['user_id', 'watched_at_ms', 'auction_id']).execute();
    await db.schema.createIndex('auctions_watches_by_auction').on('auctions_watches').columns(['auction_id', 'user_id']).execute();

    await db.schema
      .createTable('auctions_watch_notices')
      .addColumn('auction_id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('sent_at_ms', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('auctions_watch_notices_pk', ['auction_id', 'user_id', 'kind'])
      .execute();

    await db.schema.createIndex('auctions_by_status_start').on('auctions_auctions').columns(['status', 'starts_at_ms', 'id']).execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropIndex('auctions_by_status_start').execute();
    await db.schema.dropTable('auctions_watch_notices').execute();
    await db.schema.dropTable('auctions_watches').execute();
  },
};
