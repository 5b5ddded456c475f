import { sql, type Kysely, type Migration } from 'kysely';

/**
 * orders_orders: one row per order, with a column per milestone (paid, shipped, delivered,
 * cancelled, refunded). (source, source_ref) is unique: the auction (or purchase) an order
 * comes from makes at most one, however often its event is delivered.
 * orders_lines: what was bought, one row per line. Buyers, sellers, lots and products are plain
 * ids: no foreign keys across modules. The same statements run on SQLite and PostgreSQL.
 */
export const ordersMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('orders_orders')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('source', 'text', (c) => c.notNull())
      .addColumn('source_ref', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('buyer_id', 'text', (c) => c.notNull())
      .addColumn('seller_id', 'text', (c) => c.notNull())
      .addColumn('title', 'text', (c) => c.notNull())
      .addColumn('currency', 'text', (c) => c.notNull())
      .addColumn('amount_minor', 'bigint', (c) => c.notNull())
      .addColumn('payment_ref', 'text')
      .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('paid_at_ms', 'bigint')
      .addColumn('shipped_at_ms', 'bigint')
      .addColumn('carrier', 'text')
      .addColumn('tracking_number', 'text')
      .addColumn('delivered_at_ms', 'bigint')
      .addColumn('rating', 'integer')
      .addColumn('rating_comment', 'text')
      .addColumn('cancelled_at_ms', 'bigint')
      .addColumn('cancelled_by', 'text')
      .addColumn('cancel_reason', 'text')
      .addColumn('refunded_at_ms', 'bigint')
      .addColumn('refund_reason', 'text')
      .addColumn('refund_ref', 'text')
      .addUniqueConstraint('orders_one_per_source', ['source', 'source_ref'])
      .addCheckConstraint('orders_status_known', sql`status in ('created', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded')`)
      .addCheckConstraint('orders_source_known', sql`source in ('auction', 'purchase')`)
      .addCheckConstraint('orders_amount_positive', sql`amount_minor > 0`)
      .addCheckConstraint('orders_rating_range', sql`rating is null or rating between 1 and 5`)
      .execute();
    // "My orders", newest first, as buyer and as seller.
    await db.schema.createIndex('orders_by_buyer').on('orders_orders').columns(['buyer_id', 'id']).execute();
    await db.schema.createIndex('orders_by_seller').on('orders_orders').columns(['seller_id', 'id']).execute();

    await db.schema
      .createTable('orders_lines')
      .addColumn('order_id', 'text', (c) => c.notNull())
      .addColumn('line_no', 'integer', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('ref_id', 'text', (c) => c.notNull())
      .addColumn('title', 'text', (c) => c.notNull())
      .addColumn('quantity', 'integer', (c) => c.notNull())
      .addColumn('unit_price_minor', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('orders_lines_pk', ['order_id', 'line_no'])
      .addCheckConstraint('orders_lines_quantity_positive', sql`quantity > 0`)
      .execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('orders_lines').execute();
    await db.schema.dropTable('orders_orders').execute();
  },
};
