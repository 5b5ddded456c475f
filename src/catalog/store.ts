// The catalog's tables. No other module reads them; they ask the service.
import { sql, type Kysely } from 'kysely';
import { toNumber, type Database } from '../platform/db/database.js';
import { CATEGORY_DEPTH_MAX, type Category, type Lot, type LotCondition, type LotImage } from './model.js';

type Int = bigint | number;

interface CategoriesTable {
  id: string;
  parent_id: string | null;
  name: string;
  slug: string;
  created_at_ms: Int;
  updated_at_ms: Int;
}

interface LotsTable {
  id: string;
  seller_id: string;
  title: string;
  description: string;
  category_id: string;
  condition: string;
  locked_by: string | null;
  created_at_ms: Int;
  updated_at_ms: Int;
}

interface ImagesTable {
  id: string;
  lot_id: string;
  position: Int;
  content_type: string;
  size_bytes: Int;
  sha256: string;
  created_at_ms: Int;
}

export interface CatalogTables {
  catalog_categories: CategoriesTable;
  catalog_lots: LotsTable;
  catalog_images: ImagesTable;
}

function toCategory(row: CategoriesTable): Category {
  return { id: row.id, parentId: row.parent_id, name: row.name, slug: row.slug, createdAtMs: toNumber(row.created_at_ms), updatedAtMs: toNumber(row.updated_at_ms) };
}

function toLot(row: LotsTable): Lot {
  return {
    id: row.id,
    sellerId: row.seller_id,
    title: row.title,
    description: row.description,
    categoryId: row.category_id,
    condition: row.condition as LotCondition,
    lockedBy: row.locked_by,
    createdAtMs: toNumber(row.created_at_ms),
    updatedAtMs: toNumber(row.updated_at_ms),
  };
}

function toImage(row: ImagesTable): LotImage {
  return {
    id: row.id,
    lotId: row.lot_id,
    position: toNumber(row.position),
    contentType: row.content_type as LotImage['contentType'],
    sizeBytes: toNumber(row.size_bytes),
    sha256: row.sha256,
    createdAtMs: toNumber(row.created_at_ms),
  };
}

export type SlugResult = { ok: true } | { ok: false; code: 'SLUG_TAKEN' };

/**
 * Reads and writes of the catalog's tables. `transaction` hands its callback a store bound to
 * one transaction, so a use case can check and write on the same locked rows.
 */
export class CatalogStore {
  private readonly db: Kysely<CatalogTables>;

  constructor(
    private readonly database: Database,
    db?: Kysely<CatalogTables>,
  ) {
    this.db = db ?? (database.kysely as unknown as Kysely<CatalogTables>);
  }

  transaction<T>(work: (tx: CatalogStore) => Promise<T>): Promise<T> {
    return this.db.transaction().execute((trx) => work(new CatalogStore(this.database, trx)));
  }

  // --- categories -------------------------------------------------------------------------

  async categories(): Promise<Category[]> {
    const rows = await this.db.selectFrom('catalog_categories').selectAll().execute();
    return rows.map(toCategory);
  }

  /**
   * Every category, locked until the transaction ends. Changes to the tree's shape take this
   * first, so two moves cannot each pass the cycle check and together make a loop.
   */
  async lockTree(): Promise<Category[]> {
    const rows = await this.database.forUpdate(this.db.selectFrom('catalog_categories').selectAll().orderBy('id')).execute();
    return rows.map(toCategory);
  }

  async findCategory(id: string): Promise<Category | undefined> {
    const row = await this.db.selectFrom('catalog_categories').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toCategory(row) : undefined;
  }

  /** The category's row locked (a lot is being filed under it), or undefined when absent. */
  async lockCategory(id: string): Promise<Category | undefined> {
    const row = await this.database.forUpdate(this.db.selectFrom('catalog_categories').selectAll().where('id', '=', id)).executeTakeFirst();
    return row ? toCategory(row) : undefined;
  }

  async insertCategory(c: Category): Promise<SlugResult> {
    return this.slugUnique(() =>
      this.db
        .insertInto('catalog_categories')
        .values({ id: c.id, parent_id: c.parentId, name: c.name, slug: c.slug, created_at_ms: c.createdAtMs, updated_at_ms: c.updatedAtMs })
        .execute(),
    );
  }

  async updateCategory(c: Category): Promise<SlugResult> {
    return this.slugUnique(() =>
      this.db.updateTable('catalog_categories').set({ parent_id: c.parentId, name: c.name, slug: c.slug, updated_at_ms: c.updatedAtMs }).where('id', '=', c.id).execute(),
    );
  }

  async deleteCategory(id: string): Promise<void> {
    await this.db.deleteFrom('catalog_categories').where('id', '=', id).execute();
  }

  async hasLotsIn(categoryId: string): Promise<boolean> {
    const row = await this.db.selectFrom('catalog_lots').select('id').where('category_id', '=', categoryId).limit(1).executeTakeFirst();
    return row !== undefined;
  }

  async hasProductsIn(categoryId: string): Promise<boolean> {
    const { rows } = await sql<{ id: string }>`select id from catalog_products where category_id = ${categoryId} limit 1`.execute(this.db);
    return rows.length > 0;
  }

  /** The category's id and all below it (empty when absent), in one recursive query. */
  async descendantIds(id: string): Promise<string[]> {
    const { rows } = await sql<{ id: string }>`
      with recursive below (id, depth) as (
        select id, 0 from catalog_categories where id = ${id}
        union all
        select c.id, b.depth + 1 from catalog_categories c join below b on c.parent_id = b.id where b.depth < ${CATEGORY_DEPTH_MAX}
      )
      select id from below`.execute(this.db);
    return rows.map((r) => r.id);
  }

  /** The category and its ancestors, from the top down (empty when absent). */
  async ancestry(id: string): Promise<Category[]> {
    const { rows } = await sql<CategoriesTable & { depth: Int }>`
      with recursive above (id, parent_id, name, slug, created_at_ms, updated_at_ms, depth) as (
        select id, parent_id, name, slug, created_at_ms, updated_at_ms, 0 from catalog_categories where id = ${id}
        union all
        select c.id, c.parent_id, c.name, c.slug, c.created_at_ms, c.updated_at_ms, a.depth + 1
          from catalog_categories c join above a on c.id = a.parent_id where a.depth < ${CATEGORY_DEPTH_MAX}
      )
      select * from above order by depth desc`.execute(this.db);
    return rows.map(toCategory);
  }

  private async slugUnique(write: () => Promise<unknown>): Promise<SlugResult> {
    try {
      await write();
      return { ok: true };
    } catch (error) {
      if (this.database.isUniqueViolation(error)) return { ok: false, code: 'SLUG_TAKEN' };
      throw error;
    }
  }

  // --- lots --------------------------------------------------------------------------------

  async insertLot(lot: Lot): Promise<void> {
    await this.db.insertInto('catalog_lots').values({ id: lot.id, seller_id: lot.sellerId, ...lotColumns(lot), created_at_ms: lot.createdAtMs }).execute();
  }

  async findLot(id: string): Promise<Lot | undefined> {
    const row = await this.db.selectFrom('catalog_lots').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toLot(row) : undefined;
  }

  /** The lot's row locked until the transaction ends, or undefined when absent. */
  async lockLot(id: string): Promise<Lot | undefined> {
    const row = await this.database.forUpdate(this.db.selectFrom('catalog_lots').selectAll().where('id', '=', id)).executeTakeFirst();
    return row ? toLot(row) : undefined;
  }

  async updateLot(lot: Lot): Promise<void> {
    await this.db.updateTable('catalog_lots').set(lotColumns(lot)).where('id', '=', lot.id).execute();
  }

  async deleteLot(id: string): Promise<void> {
    await this.db.deleteFrom('catalog_images').where('lot_id', '=', id).execute();
    await this.db.deleteFrom('catalog_lots').where('id', '=', id).execute();
  }

  /** Up to `limit` of a seller's lots, newest first, with an id before `beforeId` when given. */
  async lotsOfSeller(sellerId: string, beforeId: string | undefined, limit: number): Promise<Lot[]> {
    let query = this.db.selectFrom('catalog_lots').selectAll().where('seller_id', '=', sellerId);
    if (beforeId !== undefined) query = query.where('id', '<', beforeId);
    const rows = await query.orderBy('id', 'desc').limit(limit).execute();
    return rows.map(toLot);
  }

  // --- images ------------------------------------------------------------------------------

  async imagesOf(lotIds: readonly string[]): Promise<LotImage[]> {
    if (lotIds.length === 0) return [];
    const rows = await this.db.selectFrom('catalog_images').selectAll().where('lot_id', 'in', lotIds).orderBy('lot_id').orderBy('position').orderBy('id').execute();
    return rows.map(toImage);
  }

  async findImage(id: string): Promise<LotImage | undefined> {
    const row = await this.db.selectFrom('catalog_images').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toImage(row) : undefined;
  }

  async insertImages(images: readonly LotImage[]): Promise<void> {
    if (images.length === 0) return;
    await this.db
      .insertInto('catalog_images')
      .values(
        images.map((i) => ({ id: i.id, lot_id: i.lotId, position: i.position, content_type: i.contentType, size_bytes: i.sizeBytes, sha256: i.sha256, created_at_ms: i.createdAtMs })),
      )
      .execute();
  }

  async deleteImage(id: string): Promise<void> {
    await this.db.deleteFrom('catalog_images').where('id', '=', id).execute();
  }

  /** Numbers the lot's images 0, 1, 2… in the order given. */
  async setImageOrder(lotId: string, imageIds: readonly string[]): Promise<void> {
    for (const [position, id] of imageIds.entries()) {
      await this.db.updateTable('catalog_images').set({ position }).where('id', '=', id).where('lot_id', '=', lotId).execute();
    }
  }
}

function lotColumns(lot: Lot) {
  return { title: lot.title, description: lot.description, category_id: lot.categoryId, condition: lot.condition, locked_by: lot.lockedBy, updated_at_ms: lot.updatedAtMs };
}
