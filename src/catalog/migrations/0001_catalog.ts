import { sql, type Kysely, type Migration } from 'kysely';

// Foreign keys stay inside the module (categories ← lots ← images); other modules' ids, such
// as the seller's, are plain columns.
export const catalogMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('catalog_categories')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('parent_id', 'text', (c) => c.references('catalog_categories.id'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('slug', 'text', (c) => c.notNull())
      .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
      .execute();
    // Slugs are unique among siblings. NULLs are distinct in a unique index, so the top
    // level (parent_id null) needs its own.
    await sql`create unique index catalog_categories_sibling_slug on catalog_categories (parent_id, slug) where parent_id is not null`.execute(db);
    await sql`create unique index catalog_categories_top_slug on catalog_categories (slug) where parent_id is null`.execute(db);

    await db.schema
      .createTable('catalog_lots')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('seller_id', 'text', (c) => c.notNull())
      .addColumn('title', 'text', (c) => c.notNull())
      .addColumn('description', 'text', (c) => c.notNull())
      .addColumn('category_id', 'text', (c) => c.notNull().references('catalog_categories.id'))
      .addColumn('condition', 'text', (c) => c.notNull())
      .addColumn('locked_by', 'text')
      .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('catalog_lots_seller').on('catalog_lots').columns(['seller_id', 'id']).execute();
    await db.schema.createIndex('catalog_lots_category').on('catalog_lots').column('category_id').execute();

    await db.schema
      .createTable('catalog_images')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('lot_id', 'text', (c) => c.notNull().references('catalog_lots.id').onDelete('cascade'))
      .addColumn('position', 'integer', (c) => c.notNull())
      .addColumn('content_type', 'text', (c) => c.notNull())
      .addColumn('size_bytes', 'bigint', (c) => c.notNull())
      .addColumn('sha256', 'text', (c) => c.notNull())
      .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('catalog_images_lot').on('catalog_images').columns(['lot_id', 'position']).execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('catalog_images').execute();
    await db.schema.dropTable('catalog_lots').execute();
    await db.schema.dropTable('catalog_categories').execute();
  },
};
