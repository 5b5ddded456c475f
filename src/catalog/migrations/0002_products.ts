import { sql, type Kysely, type Migration } from 'kysely';

// Fixed-price products and the reservations purchases hold on their stock. The CHECK
// constraints are the last word on stock: whatever a bug in the service did, no row can hold
// more reserved than stock, or less than nothing.
export const productsMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('catalog_products')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('seller_id', 'text', (c) => c.notNull())
      .addColumn('title', 'text', (c) => c.notNull())
      .addColumn('description', 'text', (c) => c.notNull())
      .addColumn('category_id', 'text', (c) => c.notNull().references('catalog_categories.id'))
      .addColumn('currency', 'text', (c) => c.notNull())
      .addColumn('price_minor', 'bigint', (c) => c.notNull())
      .addColumn('stock', 'integer', (c) => c.notNull())
      .addColumn('reserved', 'integer', (c) => c.notNull())
      .addColumn('archived_at_ms', 'bigint')
      .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
      .addCheckConstraint('catalog_products_price_positive', sql`price_minor > 0`)
      .addCheckConstraint('catalog_products_reserved_in_stock', sql`reserved >= 0 and reserved <= stock`)
      .execute();
    await db.schema.createIndex('catalog_products_seller').on('catalog_products').columns(['seller_id', 'id']).execute();
    await db.schema.createIndex('catalog_products_category').on('catalog_products').columns(['category_id', 'id']).execute();

    await db.schema
      .createTable('catalog_reservations')
      .addColumn('ref', 'text', (c) => c.primaryKey())
      // Null for a ref released before any reserve arrived.
      .addColumn('buyer_id', 'text')
      .addColumn('currency', 'text')
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('refusal_code', 'text')
      .addColumn('refusal_product_id', 'text')
      .addColumn('refusal_detail', 'text')
      .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('catalog_reservation_lines')
      .addColumn('reservation_ref', 'text', (c) => c.notNull().references('catalog_reservations.ref'))
      .addColumn('position', 'integer', (c) => c.notNull())
      .addColumn('product_id', 'text', (c) => c.notNull().references('catalog_products.id'))
      .addColumn('seller_id', 'text', (c) => c.notNull())
      .addColumn('title', 'text', (c) => c.notNull())
      .addColumn('currency', 'text', (c) => c.notNull())
      .addColumn('unit_price_minor', 'bigint', (c) => c.notNull())
      .addColumn('quantity', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('catalog_reservation_lines_pk', ['reservation_ref', 'position'])
      .execute();
    await db.schema.createIndex('catalog_reservation_lines_product').on('catalog_reservation_lines').column('product_id').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('catalog_reservation_lines').execute();
    await db.schema.dropTable('catalog_reservations').execute();
    await db.schema.dropTable('catalog_products').execute();
  },
};
