// The products' and reservations' tables. No other module reads them; they ask the service.
import { sql, type Kysely } from 'kysely';
import { toNumber, type Database } from '../platform/db/database.js';
import type { Product, ReservationRefusalCode, ReservationState, ReservedLine } from './products.js';

type Int = bigint | number;

interface ProductsTable {
  id: string;
  seller_id: string;
  title: string;
  description: string;
  category_id: string;
  currency: string;
  price_minor: bigint;
  stock: Int;
  reserved: Int;
  archived_at_ms: Int | null;
  created_at_ms: Int;
  updated_at_ms: Int;
}

interface ReservationsTable {
  ref: string;
  buyer_id: string | null;
  currency: string | null;
  state: string;
  refusal_code: string | null;
  refusal_product_id: string | null;
  refusal_detail: string | null;
  created_at_ms: Int;
  updated_at_ms: Int;
}

interface ReservationLinesTable {
  reservation_ref: string;
  position: Int;
  product_id: string;
  seller_id: string;
  title: string;
  currency: string;
  unit_price_minor: bigint;
  quantity: Int;
}

export interface ProductTables {
  /** Only what filing a product needs of the category tree. */
  catalog_categories: { id: string };
  catalog_products: ProductsTable;
  catalog_reservations: ReservationsTable;
  catalog_reservation_lines: ReservationLinesTable;
}

export interface StoredReservation {
  ref: string;
  buyerId: string | null;
  currency: string | null;
  state: ReservationState;
  refusal: { code: ReservationRefusalCode; productId: string; detail: string } | null;
  lines: ReservedLine[];
  createdAtMs: number;
  updatedAtMs: number;
}

export interface ProductFilter {
  /** Any of these categories (a category and its subcategories). */
  categoryIds?: readonly string[];
  sellerId?: string;
  currency?: string;
  /** Only products with at least one unit available. */
  inStock?: boolean;
  /** true: only archived ones; false: only those offered. */
  archived: boolean;
}

function toProduct(row: ProductsTable): Product {
  const stock = toNumber(row.stock);
  const reserved = toNumber(row.reserved);
  return {
    id: row.id,
    sellerId: row.seller_id,
    title: row.title,
    description: row.description,
    categoryId: row.category_id,
    currency: row.currency,
    priceMinor: BigInt(row.price_minor),
    stock,
    reserved,
    available: stock - reserved,
    archivedAtMs: row.archived_at_ms === null ? null : toNumber(row.archived_at_ms),
    createdAtMs: toNumber(row.created_at_ms),
    updatedAtMs: toNumber(row.updated_at_ms),
  };
}

function toLine(row: ReservationLinesTable): ReservedLine {
  return { productId: row.product_id, sellerId: row.seller_id, title: row.title, currency: row.currency, unitPriceMinor: BigInt(row.unit_price_minor), quantity: toNumber(row.quantity) };
}

/**
 * Reads and writes of products and reservations. `transaction` hands its callback a store bound
 * to one transaction, so a use case checks and writes on the same locked rows.
 */
export class ProductsStore {
  private readonly db: Kysely<ProductTables>;

  constructor(
    readonly database: Database,
    db?: Kysely<ProductTables>,
  ) {
    this.db = db ?? (database.kysely as unknown as Kysely<ProductTables>);
  }

  /** The same reads on the read replicas, which may lag the primary by the replication delay. */
  onReplica(): ProductsStore {
    return new ProductsStore(this.database, this.database.replica as unknown as Kysely<ProductTables>);
  }

  transaction<T>(work: (tx: ProductsStore) => Promise<T>): Promise<T> {
    return this.db.transaction().execute((trx) => work(new ProductsStore(this.database, trx)));
  }

  isUniqueViolation(error: unknown): boolean {
    return this.database.isUniqueViolation(error);
  }

  // --- products ------------------------------------------------------------------------------

  /** Locks the category's row (a product is being filed under it); false when absent. */
  async lockCategory(id: string): Promise<boolean> {
    const row = await this.database.forUpdate(this.db.selectFrom('catalog_categories').select('id').where('id', '=', id)).executeTakeFirst();
    return row !== undefined;
  }

  async insertProduct(p: Product): Promise<void> {
    await this.db
      .insertInto('catalog_products')
      .values({ id: p.id, seller_id: p.sellerId, ...productColumns(p), stock: p.stock, reserved: 0, created_at_ms: p.createdAtMs })
      .execute();
  }

  async findProduct(id: string): Promise<Product | undefined> {
    const row = await this.db.selectFrom('catalog_products').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toProduct(row) : undefined;
  }

  async findProducts(ids: readonly string[]): Promise<Product[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.selectFrom('catalog_products').selectAll().where('id', 'in', ids).execute();
    return rows.map(toProduct);
  }

  /**
   * The products' rows locked until the transaction ends, taken in id order so two
   * transactions locking overlapping sets never wait on each other in a circle.
   */
  async lockProducts(ids: readonly string[]): Promise<Map<string, Product>> {
    if (ids.length === 0) return new Map();
    const sorted = [...new Set(ids)].sort();
    const rows = await this.database.forUpdate(this.db.selectFrom('catalog_products').selectAll().where('id', 'in', sorted).orderBy('id')).execute();
    return new Map(rows.map((r) => [r.id, toProduct(r)]));
  }

  /** Writes the fields a seller edits (not stock, not reserved). */
  async updateProduct(p: Product): Promise<void> {
    await this.db.updateTable('catalog_products').set(productColumns(p)).where('id', '=', p.id).execute();
  }

  /** Sets the stock; refused (false) if it would fall below what is reserved. */
  async setStock(id: string, stock: number, nowMs: number): Promise<boolean> {
    const result = await this.db
      .updateTable('catalog_products')
      .set({ stock, updated_at_ms: nowMs })
      .where('id', '=', id)
      .where('reserved', '<=', stock)
      .executeTakeFirst();
    return result.numUpdatedRows === 1n;
  }

  /**
   * Holds `quantity` units back, only while at least that many are available and the product
   * is offered: the condition is in the UPDATE, so no interleaving can take more than is there.
   */
  async reserveUnits(id: string, quantity: number, nowMs: number): Promise<boolean> {
    const result = await this.db
      .updateTable('catalog_products')
      .set((eb) => ({ reserved: eb('reserved', '+', quantity), updated_at_ms: nowMs }))
      .where('id', '=', id)
      .where('archived_at_ms', 'is', null)
      .where(sql<boolean>`stock - reserved >= ${quantity}`)
      .executeTakeFirst();
    return result.numUpdatedRows === 1n;
  }

  /** Gives back `quantity` reserved units (a release). */
  async unreserveUnits(id: string, quantity: number, nowMs: number): Promise<boolean> {
    const result = await this.db
      .updateTable('catalog_products')
      .set((eb) => ({ reserved: eb('reserved', '-', quantity), updated_at_ms: nowMs }))
      .where('id', '=', id)
      .where('reserved', '>=', quantity)
      .executeTakeFirst();
    return result.numUpdatedRows === 1n;
  }

  /** `quantity` reserved units leave the shelf (a dispatch): stock and reserved both fall. */
  async dispatchUnits(id: string, quantity: number, nowMs: number): Promise<boolean> {
    const result = await this.db
      .updateTable('catalog_products')
      .set((eb) => ({ stock: eb('stock', '-', quantity), reserved: eb('reserved', '-', quantity), updated_at_ms: nowMs }))
      .where('id', '=', id)
      .where('reserved', '>=', quantity)
      .executeTakeFirst();
    return result.numUpdatedRows === 1n;
  }

  /** Up to `limit` products matching `filter`, newest first, with an id before `beforeId` when given. */
  async listProducts(filter: ProductFilter, beforeId: string | undefined, limit: number): Promise<Product[]> {
    let query = this.db.selectFrom('catalog_products').selectAll();
    query = filter.archived ? query.where('archived_at_ms', 'is not', null) : query.where('archived_at_ms', 'is', null);
    if (filter.categoryIds !== undefined) query = query.where('category_id', 'in', filter.categoryIds);
    if (filter.sellerId !== undefined) query = query.where('seller_id', '=', filter.sellerId);
    if (filter.currency !== undefined) query = query.where('currency', '=', filter.currency);
    if (filter.inStock === true) query = query.where(sql<boolean>`stock > reserved`);
    if (filter.inStock === false) query = query.where(sql<boolean>`stock <= reserved`);
    if (beforeId !== undefined) query = query.where('id', '<', beforeId);
    const rows = await query.orderBy('id', 'desc').limit(limit).execute();
    return rows.map(toProduct);
  }

  // --- reservations --------------------------------------------------------------------------

  async findReservation(ref: string): Promise<StoredReservation | undefined> {
    const row = await this.db.selectFrom('catalog_reservations').selectAll().where('ref', '=', ref).executeTakeFirst();
    if (!row) return undefined;
    const lines = await this.db.selectFrom('catalog_reservation_lines').selectAll().where('reservation_ref', '=', ref).orderBy('position').execute();
    return toReservation(row, lines.map(toLine));
  }

  /** The reservation's row locked until the transaction ends (with its lines), or undefined. */
  async lockReservation(ref: string): Promise<StoredReservation | undefined> {
    const row = await this.database.forUpdate(this.db.selectFrom('catalog_reservations').selectAll().where('ref', '=', ref)).executeTakeFirst();
    if (!row) return undefined;
    const lines = await this.db.selectFrom('catalog_reservation_lines').selectAll().where('reservation_ref', '=', ref).orderBy('position').execute();
    return toReservation(row, lines.map(toLine));
  }

  /** Records a new reservation and its lines. A ref recorded already raises a unique violation. */
  async insertReservation(r: StoredReservation): Promise<void> {
    await this.db
      .insertInto('catalog_reservations')
      .values({
        ref: r.ref,
        buyer_id: r.buyerId,
        currency: r.currency,
        state: r.state,
        refusal_code: r.refusal?.code ?? null,
        refusal_product_id: r.refusal?.productId ?? null,
        refusal_detail: r.refusal?.detail ?? null,
        created_at_ms: r.createdAtMs,
        updated_at_ms: r.updatedAtMs,
      })
      .execute();
    if (r.lines.length === 0) return;
    await this.db
      .insertInto('catalog_reservation_lines')
      .values(
        r.lines.map((l, position) => ({
          reservation_ref: r.ref,
          position,
          product_id: l.productId,
          seller_id: l.sellerId,
          title: l.title,
          currency: l.currency,
          unit_price_minor: l.unitPriceMinor,
          quantity: l.quantity,
        })),
      )
      .execute();
  }

  async setReservationState(ref: string, state: ReservationState, nowMs: number): Promise<void> {
    await this.db.updateTable('catalog_reservations').set({ state, updated_at_ms: nowMs }).where('ref', '=', ref).execute();
  }
}

function toReservation(row: ReservationsTable, lines: ReservedLine[]): StoredReservation {
  return {
    ref: row.ref,
    buyerId: row.buyer_id,
    currency: row.currency,
    state: row.state as ReservationState,
    refusal:
      row.refusal_code === null
        ? null
        : { code: row.refusal_code as ReservationRefusalCode, productId: row.refusal_product_id ?? '', detail: row.refusal_detail ?? '' },
    lines,
    createdAtMs: toNumber(row.created_at_ms),
    updatedAtMs: toNumber(row.updated_at_ms),
  };
}

function productColumns(p: Product) {
  return {
    title: p.title,
    description: p.description,
    category_id: p.categoryId,
    currency: p.currency,
    price_minor: p.priceMinor,
    archived_at_ms: p.archivedAtMs,
    updated_at_ms: p.updatedAtMs,
  };
}
