import type { Kysely, Migration } from 'kysely';

// Currency exchange: the rates admins set per ordered pair, and one record per conversion
// (written in the same transaction as its ledger transfers).
export const exchangeRatesMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('ledger_exchange_rates')
      .addColumn('base', 'text', (c) => c.notNull())
      .addColumn('quote', 'text', (c) => c.notNull())
      // An exact decimal in its canonical text ("0.9215"): quote major units per base major unit.
      .addColumn('rate', 'text', (c) => c.notNull())
      .addColumn('spread_bps', 'integer', (c) => c.notNull())
      .addColumn('updated_by', 'text', (c) => c.notNull())
      .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('ledger_exchange_rates_pk', ['base', 'quote'])
      .execute();

    await db.schema
      .createTable('ledger_exchanges')
      .addColumn('id', 'text', (c) => c.primaryKey())
      // The ledger reference prefix of its transfers (`exchange:<user>:<key>`): one conversion per ref.
      .addColumn('ref', 'text', (c) => c.notNull().unique())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('from_currency', 'text', (c) => c.notNull())
      .addColumn('to_currency', 'text', (c) => c.notNull())
      .addColumn('from_amount_minor', 'bigint', (c) => c.notNull())
      .addColumn('gross_minor', 'bigint', (c) => c.notNull())
      .addColumn('net_minor', 'bigint', (c) => c.notNull())
      .addColumn('spread_minor', 'bigint', (c) => c.notNull())
      .addColumn('rate', 'text', (c) => c.notNull())
      .addColumn('spread_bps', 'integer', (c) => c.notNull())
      .addColumn('batch_id', 'text', (c) => c.notNull())
      .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('ledger_exchanges_user').on('ledger_exchanges').columns(['user_id', 'id']).execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('ledger_exchanges').execute();
    await db.schema.dropTable('ledger_exchange_rates').execute();
  },
};
