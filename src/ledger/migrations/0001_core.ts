import { sql, type Kysely, type Migration } from 'kysely';

export const coreMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('ledger_assets')
      .addColumn('code', 'text', (c) => c.primaryKey())
      .addColumn('scale', 'integer', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('ledger_accounts')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('currency', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('owner_user_id', 'text')
      .addColumn('no_overdraft', 'integer', (c) => c.notNull())
      .addColumn('closed_at_ms', 'bigint')
      .addColumn('debits_pending', 'bigint', (c) => c.notNull())
      .addColumn('debits_posted', 'bigint', (c) => c.notNull())
      .addColumn('credits_pending', 'bigint', (c) => c.notNull())
      .addColumn('credits_posted', 'bigint', (c) => c.notNull())
      .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
      .execute();
    await sql`create unique index ledger_accounts_wallet on ledger_accounts (owner_user_id, currency) where owner_user_id is not null`.execute(db);
    await sql`create unique index ledger_accounts_system on ledger_accounts (kind, currency) where owner_user_id is null`.execute(db);

    await db.schema
      .createTable('ledger_transfers')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('ref', 'text', (c) => c.notNull().unique())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('debit_account_id', 'text', (c) => c.notNull())
      .addColumn('credit_account_id', 'text', (c) => c.notNull())
      .addColumn('currency', 'text', (c) => c.notNull())
      .addColumn('amount_minor', 'bigint', (c) => c.notNull())
      .addColumn('hold_id', 'text')
      .addColumn('hold_status', 'text')
      .addColumn('owner', 'text', (c) => c.notNull())
      .addColumn('expires_at_ms', 'bigint')
      .addColumn('batch_id', 'text', (c) => c.notNull())
      .addColumn('memo', 'text', (c) => c.notNull())
      .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('ledger_transfers_debit').on('ledger_transfers').columns(['debit_account_id', 'id']).execute();
    await db.schema.createIndex('ledger_transfers_credit').on('ledger_transfers').columns(['credit_account_id', 'id']).execute();
    await sql`create index ledger_transfers_pending_holds on ledger_transfers (expires_at_ms) where hold_status = 'pending'`.execute(db);
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('ledger_transfers').execute();
    await db.schema.dropTable('ledger_accounts').execute();
    await db.schema.dropTable('ledger_assets').execute();
  },
};
