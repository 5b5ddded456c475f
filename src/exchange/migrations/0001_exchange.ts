import { type Kysely, type Migration } from 'kysely';

/**
 * exchange_instruments: what trades (admin-listed), with its status and the head of its journal.
 * exchange_journal: every accepted command per instrument, in seq order, hash-chained; the
 * books are a fold of it. exchange_orders: each order's latest state (a projection written in
 * the same transaction as the journal entry that changed it). exchange_trades: every fill.
 * exchange_candles: one-minute OHLCV per instrument, kept up to date with the trades.
 */
export const exchangeMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('exchange_instruments')
      .addColumn('symbol', 'text', (c) => c.primaryKey())
      .addColumn('base', 'text', (c) => c.notNull())
      .addColumn('quote', 'text', (c) => c.notNull())
      .addColumn('tick_minor', 'bigint', (c) => c.notNull())
      .addColumn('lot_minor', 'bigint', (c) => c.notNull())
      .addColumn('min_lots', 'bigint', (c) => c.notNull())
      .addColumn('max_lots', 'bigint', (c) => c.notNull())
      .addColumn('maker_fee_bps', 'integer', (c) => c.notNull())
      .addColumn('taker_fee_bps', 'integer', (c) => c.notNull())
      .addColumn('protection_bps', 'integer', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('exchange_journal')
      .addColumn('symbol', 'text', (c) => c.notNull())
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('at_ms', 'bigint', (c) => c.notNull())
      .addColumn('payload', 'text', (c) => c.notNull())
      .addColumn('prev_hash', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('exchange_journal_pk', ['symbol', 'seq'])
      .execute();

    await db.schema
      .createTable('exchange_orders')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('symbol', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('client_order_id', 'text')
      .addColumn('side', 'text', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('tif', 'text', (c) => c.notNull())
      .addColumn('post_only', 'integer', (c) => c.notNull())
      .addColumn('price_ticks', 'bigint', (c) => c.notNull())
      .addColumn('qty_lots', 'bigint', (c) => c.notNull())
      .addColumn('filled_lots', 'bigint', (c) => c.notNull())
      .addColumn('notional_minor', 'bigint', (c) => c.notNull())
      .addColumn('fee_minor', 'bigint', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('cancel_reason', 'text')
      .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('exchange_orders_client_id').unique().on('exchange_orders').columns(['user_id', 'client_order_id']).execute();
    await db.schema.createIndex('exchange_orders_by_user').on('exchange_orders').columns(['user_id', 'status', 'id']).execute();

    await db.schema
      .createTable('exchange_trades')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('symbol', 'text', (c) => c.notNull())
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('price_ticks', 'bigint', (c) => c.notNull())
      .addColumn('qty_lots', 'bigint', (c) => c.notNull())
      .addColumn('notional_minor', 'bigint', (c) => c.notNull())
      .addColumn('taker_side', 'text', (c) => c.notNull())
      .addColumn('maker_order_id', 'text', (c) => c.notNull())
      .addColumn('maker_user_id', 'text', (c) => c.notNull())
      .addColumn('maker_fee_minor', 'bigint', (c) => c.notNull())
      .addColumn('taker_order_id', 'text', (c) => c.notNull())
      .addColumn('taker_user_id', 'text', (c) => c.notNull())
      .addColumn('taker_fee_minor', 'bigint', (c) => c.notNull())
      .addColumn('at_ms', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('exchange_trades_by_symbol').unique().on('exchange_trades').columns(['symbol', 'seq']).execute();
    await db.schema.createIndex('exchange_trades_by_maker').on('exchange_trades').columns(['maker_user_id', 'at_ms']).execute();
    await db.schema.createIndex('exchange_trades_by_taker').on('exchange_trades').columns(['taker_user_id', 'at_ms']).execute();

    await db.schema
      .createTable('exchange_candles')
      .addColumn('symbol', 'text', (c) => c.notNull())
      .addColumn('minute_ms', 'bigint', (c) => c.notNull())
      .addColumn('open_ticks', 'bigint', (c) => c.notNull())
      .addColumn('high_ticks', 'bigint', (c) => c.notNull())
      .addColumn('low_ticks', 'bigint', (c) => c.notNull())
      .addColumn('close_ticks', 'bigint', (c) => c.notNull())
      .addColumn('volume_lots', 'bigint', (c) => c.notNull())
      .addColumn('trades', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('exchange_candles_pk', ['symbol', 'minute_ms'])
      .execute();
  },
  async down(db: Kysely<any>) {
    for (const table of ['exchange_candles', 'exchange_trades', 'exchange_orders', 'exchange_journal', 'exchange_instruments']) await db.schema.dropTable(table).execute();
  },
};
