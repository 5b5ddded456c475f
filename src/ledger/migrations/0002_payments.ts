import { sql, type Kysely, type Migration } from 'kysely';

// Top-ups and withdrawals through a payment provider, the webhook events already processed,
// the payments settings (the generated webhook secret), and the sandbox provider's own state.
export const paymentsMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('ledger_topups')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('currency', 'text', (c) => c.notNull())
      .addColumn('amount_minor', 'bigint', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('provider', 'text', (c) => c.notNull())
      .addColumn('provider_payment_id', 'text')
      .addColumn('redirect_url', 'text')
      .addColumn('request_key', 'text')
      .addColumn('expires_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('ledger_topups_owner').on('ledger_topups').columns(['user_id', 'currency', 'id']).execute();
    await sql`create unique index ledger_topups_provider_payment on ledger_topups (provider, provider_payment_id) where provider_payment_id is not null`.execute(db);
    await sql`create unique index ledger_topups_request_key on ledger_topups (user_id, request_key) where request_key is not null`.execute(db);
    await sql`create index ledger_topups_pending on ledger_topups (expires_at_ms) where status = 'pending'`.execute(db);

    await db.schema
      .createTable('ledger_withdrawals')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('currency', 'text', (c) => c.notNull())
      .addColumn('amount_minor', 'bigint', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('provider', 'text', (c) => c.notNull())
      .addColumn('provider_payout_id', 'text')
      .addColumn('provider_page_url', 'text')
      .addColumn('hold_id', 'text', (c) => c.notNull())
      .addColumn('request_key', 'text')
      .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('ledger_withdrawals_owner').on('ledger_withdrawals').columns(['user_id', 'currency', 'id']).execute();
    await sql`create unique index ledger_withdrawals_provider_payout on ledger_withdrawals (provider, provider_payout_id) where provider_payout_id is not null`.execute(db);
    await sql`create unique index ledger_withdrawals_request_key on ledger_withdrawals (user_id, request_key) where request_key is not null`.execute(db);

    await db.schema
      .createTable('ledger_payment_events')
      .addColumn('provider', 'text', (c) => c.notNull())
      .addColumn('event_id', 'text', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('object_id', 'text', (c) => c.notNull())
      .addColumn('outcome', 'text', (c) => c.notNull())
      .addColumn('received_at_ms', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('ledger_payment_events_pk', ['provider', 'event_id'])
      .execute();
    await db.schema.createIndex('ledger_payment_events_received').on('ledger_payment_events').column('received_at_ms').execute();

    await db.schema
      .createTable('ledger_payment_settings')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('ledger_sandbox_payments')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('reference', 'text', (c) => c.notNull())
      .addColumn('amount_minor', 'bigint', (c) => c.notNull())
      .addColumn('currency', 'text', (c) => c.notNull())
      .addColumn('scale', 'integer', (c) => c.notNull())
      .addColumn('description', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('expires_at_ms', 'bigint')
      .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('decided_at_ms', 'bigint')
      .addUniqueConstraint('ledger_sandbox_payments_reference', ['kind', 'reference'])
      .execute();

    await db.schema
      .createTable('ledger_sandbox_events')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('payment_id', 'text', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('next_attempt_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('last_status', 'integer')
      .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('ledger_sandbox_events_payment').on('ledger_sandbox_events').column('payment_id').execute();
    await sql`create index ledger_sandbox_events_pending on ledger_sandbox_events (next_attempt_at_ms) where state = 'pending'`.execute(db);
  },
  async down(db: Kysely<any>) {
    for (const table of ['ledger_sandbox_events', 'ledger_sandbox_payments', 'ledger_payment_settings', 'ledger_payment_events', 'ledger_withdrawals', 'ledger_topups']) {
      await db.schema.dropTable(table).execute();
    }
  },
};
