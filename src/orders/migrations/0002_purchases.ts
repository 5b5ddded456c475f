import { sql, type Kysely, type Migration } from 'kysely';

/**
 * orders_purchases: one row per purchase saga — where it stands (status, the steps as JSON,
 * the deadline of the command in flight), what was reserved and which orders it made.
 * (buyer_id, idempotency_key) is unique: a request retried after a crash finds its purchase.
 * orders_purchase_inbox: the commands the participants received, one row per purchase and
 * command (a command sent again lands on the same row), worked off outside the delivery
 * transaction and retried until done; a compensation fences the step it undoes here.
 * orders_purchase_dead_letters: saga messages that could not be read, kept for a person.
 * The same statements run on SQLite and PostgreSQL.
 */
export const purchasesMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('orders_purchases')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('buyer_id', 'text', (c) => c.notNull())
      .addColumn('idempotency_key', 'text')
      .addColumn('currency', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('items', 'text', (c) => c.notNull())
      .addColumn('steps', 'text', (c) => c.notNull())
      .addColumn('lines', 'text')
      .addColumn('order_ids', 'text', (c) => c.notNull())
      .addColumn('failure_step', 'text')
      .addColumn('failure_code', 'text')
      .addColumn('failure_detail', 'text')
      .addColumn('deadline_at_ms', 'bigint')
      .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('finished_at_ms', 'bigint')
      .addUniqueConstraint('orders_purchases_one_per_key', ['buyer_id', 'idempotency_key'])
      .addCheckConstraint('orders_purchases_status_known', sql`status in ('running', 'compensating', 'completed', 'compensated')`)
      .addCheckConstraint('orders_purchases_deadline_while_open', sql`(deadline_at_ms is null) = (status in ('completed', 'compensated'))`)
      .execute();
    await db.schema.createIndex('orders_purchases_by_buyer').on('orders_purchases').columns(['buyer_id', 'id']).execute();
    // The deadline sweep: only open purchases have one.
    await db.schema.createIndex('orders_purchases_by_deadline').on('orders_purchases').column('deadline_at_ms').execute();

    await db.schema
      .createTable('orders_purchase_inbox')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('participant', 'text', (c) => c.notNull())
      .addColumn('purchase_id', 'text', (c) => c.notNull())
      .addColumn('command', 'text', (c) => c.notNull())
      .addColumn('message', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('result', 'text')
      .addColumn('reply', 'text')
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('next_attempt_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('last_error', 'text')
      .addColumn('arrival', 'text', (c) => c.notNull())
      .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
      .addCheckConstraint('orders_purchase_inbox_status_known', sql`status in ('pending', 'pivoted', 'done', 'fenced')`)
      .execute();
    await db.schema.createIndex('orders_purchase_inbox_due').on('orders_purchase_inbox').columns(['status', 'next_attempt_at_ms']).execute();
    await db.schema.createIndex('orders_purchase_inbox_by_purchase').on('orders_purchase_inbox').columns(['purchase_id']).execute();

    await db.schema
      .createTable('orders_purchase_dead_letters')
      .addColumn('consumer', 'text', (c) => c.notNull())
      .addColumn('event_id', 'text', (c) => c.notNull())
      .addColumn('topic', 'text', (c) => c.notNull())
      .addColumn('payload', 'text', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('orders_purchase_dead_letters_pk', ['consumer', 'event_id'])
      .execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('orders_purchase_dead_letters').execute();
    await db.schema.dropTable('orders_purchase_inbox').execute();
    await db.schema.dropTable('orders_purchases').execute();
  },
};
