import { SqliteAdapter, sql, type Kysely, type Migration } from 'kysely';

/**
 * auctions_auctions: one row per auction — its configuration and a projection of its state
 * that discovery reads (written in the same transaction as the journal entries it reflects).
 * auctions_journal: every accepted event, in seq order per auction, each with the hash of
 * the one before it. Full-text search: an FTS5 table on SQLite, a tsvector column on
 * PostgreSQL ('simple' configuration: titles come in many languages).
 */
export const auctionsMigration: Migration = {
  async up(db: Kysely<any>) {
    const sqlite = db.getExecutor().adapter instanceof SqliteAdapter;
    await db.schema
      .createTable('auctions_auctions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('lot_id', 'text', (c) => c.notNull())
      .addColumn('seller_id', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('currency', 'text', (c) => c.notNull())
      .addColumn('category_id', 'text')
      .addColumn('title', 'text', (c) => c.notNull())
      .addColumn('description', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('outcome', 'text')
      .addColumn('starting_price_minor', 'bigint', (c) => c.notNull())
      .addColumn('current_price_minor', 'bigint', (c) => c.notNull())
      .addColumn('bid_count', 'integer', (c) => c.notNull())
      .addColumn('participant_count', 'integer', (c) => c.notNull())
      .addColumn('reserve_met', 'integer', (c) => c.notNull())
      .addColumn('starts_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('ends_at_ms', 'bigint')
      .addColumn('closed_at_ms', 'bigint')
      .addColumn('settled_at_ms', 'bigint')
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('last_hash', 'text', (c) => c.notNull())
      .addColumn('winner_id', 'text')
      .addColumn('recording_url', 'text')
      .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('auctions_by_status_end').on('auctions_auctions').columns(['status', 'ends_at_ms', 'id']).execute();
    await db.schema.createIndex('auctions_by_seller').on('auctions_auctions').columns(['seller_id', 'id']).execute();
    await db.schema.createIndex('auctions_by_lot').on('auctions_auctions').columns(['lot_id']).execute();
    // One live (scheduled or open) auction per lot at a time.
    await sql`create unique index auctions_one_running_per_lot on auctions_auctions (lot_id) where status in ('scheduled', 'open')`.execute(db);

    await db.schema
      .createTable('auctions_journal')
      .addColumn('auction_id', 'text', (c) => c.notNull())
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('at_ms', 'bigint', (c) => c.notNull())
      .addColumn('payload', 'text', (c) => c.notNull())
      .addColumn('prev_hash', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('auctions_journal_pk', ['auction_id', 'seq'])
      .execute();

    if (sqlite) {
      await sql`create virtual table auctions_search using fts5(auction_id unindexed, title, description, tokenize = 'unicode61 remove_diacritics 2')`.execute(db);
    } else {
      await sql`alter table auctions_auctions add column search tsvector generated always as (to_tsvector('simple', title || ' ' || description)) stored`.execute(db);
      await sql`create index auctions_search on auctions_auctions using gin (search)`.execute(db);
    }
  },
  async down(db: Kysely<any>) {
    const sqlite = db.getExecutor().adapter instanceof SqliteAdapter;
    if (sqlite) await sql`drop table auctions_search`.execute(db);
    await db.schema.dropTable('auctions_journal').execute();
    await db.schema.dropTable('auctions_auctions').execute();
  },
};
