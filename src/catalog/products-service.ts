// Products use cases: sellers offer fixed-price products with stock; purchases (the orders
// module's saga) reserve units, then dispatch or release them. Methods that act for someone
// take the caller and check them. Other modules use the methods under "for other modules",
// reached as `catalog.service.reserveProducts` and so on (CatalogService passes them through).
import assert from 'node:assert/strict';
import { isAdmin, requirePrincipal, type Principal } from '../platform/auth/principal.js';
import type { Clock } from '../platform/clock.js';
import { AppError, fieldError } from '../platform/errors.js';
import { isUuid, uuidv7 } from '../platform/ids.js';
import { formatAmount, parseAmount } from '../platform/money.js';
import { decodeCursor, pageOf, type Page } from '../platform/pagination.js';
import type { Category } from './model.js';
import {
  CANCELLED_DETAIL,
  decideReservation,
  mayCreateProducts,
  mayManageProduct,
  mergeItems,
  nextStock,
  RESERVATION_ITEMS_MAX,
  RESERVATION_REF_MAX_LENGTH,
  STOCK_MAX,
  type Product,
  type ReserveProductsInput,
  type ReserveProductsResult,
  type StockChange,
} from './products.js';
import type { ProductsStore, StoredReservation } from './products-store.js';
import type { CatalogStore } from './store.js';

/** What the catalog needs to know of a currency: the ledger's list, through its service. */
export interface CurrencyLookup {
  /** The currency, or an UNKNOWN_CURRENCY problem naming `field`. */
  requireCurrency(code: string, field?: string): Promise<{ code: string; scale: number }>;
}

export interface NewProduct {
  title: string;
  description: string;
  categoryId: string;
  /** Decimal string in major units ("12.50"), at most the currency's decimals. */
  price: string;
  currency: string;
  stock: number;
}

export interface ProductPatch {
  title?: string;
  description?: string;
  categoryId?: string;
  price?: string;
  /** Changing the currency needs the price in it too. */
  currency?: string;
}

export interface ProductQuery {
  /** This category and every one below it. */
  categoryId?: string;
  /** A seller's id, or 'me'. */
  sellerId?: string;
  currency?: string;
  inStock?: boolean;
  /** Archived products instead of offered ones: only the seller's own (or an admin's look). */
  archived?: boolean;
  limit: number;
  cursor?: string;
}

/** A product as its page shows it: the product, its price in major units, and where it is filed. */
export interface ProductDetails {
  product: Product;
  /** `priceMinor` written in major units of its currency ("12.50"). */
  price: string;
  categoryPath: Category[];
}

/** At most this many ids in one productsByIds call. */
export const PRODUCTS_BY_IDS_MAX = 1000;

export class ProductsService {
  constructor(
    private readonly store: ProductsStore,
    private readonly categories: CatalogStore,
    private readonly currencies: CurrencyLookup,
    private readonly clock: Clock,
  ) {}

  // --- products ------------------------------------------------------------------------------

  async createProduct(caller: Principal | null, input: NewProduct): Promise<ProductDetails> {
    const me = requirePrincipal(caller);
    if (!mayCreateProducts(me)) throw new AppError('FORBIDDEN', 'offering products needs the seller role (add it to your account with PUT /api/user)');
    checkStock(input.stock, 'stock');
    const priceMinor = await this.priceOf(input.price, input.currency);
    const nowMs = this.clock.nowMs();
    const product: Product = {
      id: uuidv7(nowMs),
      sellerId: me.userId,
      title: input.title,
      description: input.description,
      categoryId: input.categoryId,
      currency: input.currency,
      priceMinor,
      stock: input.stock,
      reserved: 0,
      available: input.stock,
      archivedAtMs: null,
      createdAtMs: nowMs,
      updatedAtMs: nowMs,
    };
    await this.store.transaction(async (tx) => {
      // Locked, so a concurrent delete of the category cannot leave the product unfiled.
      if (!(await tx.lockCategory(input.categoryId))) throw categoryNotFound(input.categoryId);
      await tx.insertProduct(product);
    });
    return this.productDetails(product.id);
  }

  /** A product, archived ones included (orders link to them). NOT_FOUND when absent. */
  async getProduct(productId: string): Promise<Product> {
    const product = await this.store.findProduct(productId.toLowerCase());
    if (!product) throw new AppError('NOT_FOUND', `no product ${productId}`);
    return product;
  }

  async productDetails(productId: string): Promise<ProductDetails> {
    return (await this.detailsOf([await this.getProduct(productId)]))[0]!;
  }

  /** Offered products (or, for their seller, archived ones), newest first, by cursor. */
  async listProducts(caller: Principal | null, query: ProductQuery): Promise<Page<ProductDetails>> {
    const sellerId = query.sellerId === 'me' ? requirePrincipal(caller).userId : query.sellerId?.toLowerCase();
    const archived = query.archived ?? false;
    if (archived) {
      const me = requirePrincipal(caller);
      if (sellerId !== me.userId && !isAdmin(me)) throw fieldError('FORBIDDEN', 'query', 'archived', 'only your own archived products can be listed (sellerId=me)');
    }
    let categoryIds: string[] | undefined;
    if (query.categoryId !== undefined) {
      categoryIds = await this.categories.descendantIds(query.categoryId.toLowerCase());
      if (categoryIds.length === 0) throw new AppError('NOT_FOUND', `no category ${query.categoryId}`, { errors: [{ in: 'query', field: 'categoryId', message: 'no such category' }] });
    }
    const beforeId = query.cursor === undefined ? undefined : decodeCursor(query.cursor, isUuid);
    const filter = {
      archived,
      ...(categoryIds !== undefined && { categoryIds }),
      ...(sellerId !== undefined && { sellerId }),
      ...(query.currency !== undefined && { currency: query.currency }),
      ...(query.inStock !== undefined && { inStock: query.inStock }),
    };
    // The shop window tolerates the replicas' lag; a seller's own list must show what they just changed.
    const reader = archived || (caller !== null && sellerId === caller.userId) ? this.store : this.store.onReplica();
    const page = pageOf(await reader.listProducts(filter, beforeId, query.limit + 1), query.limit, (p) => p.id);
    return { items: await this.detailsOf(page.items), nextCursor: page.nextCursor };
  }

  /** Changes what is given; the rest stays. Reservations made earlier keep the price they were made at. */
  async updateProduct(caller: Principal | null, productId: string, patch: ProductPatch): Promise<ProductDetails> {
    const me = requirePrincipal(caller);
    if (patch.currency !== undefined && patch.price === undefined) throw fieldError('VALIDATION', 'body', 'price', 'is required when the currency changes');
    const current = await this.getProduct(productId);
    const currency = patch.currency ?? current.currency;
    const priceMinor = patch.price === undefined ? undefined : await this.priceOf(patch.price, currency);
    await this.store.transaction(async (tx) => {
      const product = await this.editableProduct(tx, me, current.id);
      // The price was read in the currency seen before the lock; it must still be the product's.
      if (product.currency !== current.currency && patch.currency === undefined) {
        throw fieldError('VALIDATION', 'body', 'currency', `the product's currency changed to ${product.currency} meanwhile; send the price with its currency`);
      }
      if (patch.categoryId !== undefined && patch.categoryId !== product.categoryId && !(await tx.lockCategory(patch.categoryId))) throw categoryNotFound(patch.categoryId);
      await tx.updateProduct({
        ...product,
        title: patch.title ?? product.title,
        description: patch.description ?? product.description,
        categoryId: patch.categoryId ?? product.categoryId,
        currency,
        priceMinor: priceMinor ?? product.priceMinor,
        updatedAtMs: this.clock.nowMs(),
      });
    });
    return this.productDetails(current.id);
  }

  /**
   * Withdraws a product: it leaves the public list and no purchase may reserve it again. Units
   * reserved already stay reserved until their purchases dispatch or release them. Final;
   * archiving an archived product changes nothing.
   */
  async archiveProduct(caller: Principal | null, productId: string): Promise<ProductDetails> {
    const me = requirePrincipal(caller);
    const id = productId.toLowerCase();
    await this.store.transaction(async (tx) => {
      const product = await this.lockedProduct(tx, me, id);
      if (product.archivedAtMs !== null) return;
      const nowMs = this.clock.nowMs();
      await tx.updateProduct({ ...product, archivedAtMs: nowMs, updatedAtMs: nowMs });
    });
    return this.productDetails(id);
  }

  /** Sets the stock, or moves it by a delta; never below the units reserved for purchases in progress. */
  async adjustStock(caller: Principal | null, productId: string, change: StockChange): Promise<ProductDetails> {
    const me = requirePrincipal(caller);
    const field = 'set' in change ? 'set' : 'add';
    const value = 'set' in change ? change.set : change.add;
    if (!Number.isSafeInteger(value) || ('set' in change && value < 0) || Math.abs(value) > STOCK_MAX) {
      throw fieldError('VALIDATION', 'body', field, `must be a whole number${field === 'set' ? ' from 0' : ''} up to ${STOCK_MAX}`);
    }
    const id = productId.toLowerCase();
    await this.store.transaction(async (tx) => {
      const product = await this.editableProduct(tx, me, id);
      const next = nextStock(product, change);
      if (!next.ok && next.code === 'STOCK_BELOW_RESERVED') throw new AppError('STOCK_BELOW_RESERVED', next.detail, { errors: [{ in: 'body', field, message: next.detail }] });
      if (!next.ok) throw fieldError('VALIDATION', 'body', field, next.detail);
      assert(await tx.setStock(id, next.stock, this.clock.nowMs()), 'the stock was checked against reserved on the locked row');
    });
    return this.productDetails(id);
  }

  // --- for other modules: products and reservations -----------------------------------------

  /** The products with these ids that exist (archived ones included), in the order asked; unknown ids are left out. */
  async productsByIds(ids: string[]): Promise<Product[]> {
    if (ids.length > PRODUCTS_BY_IDS_MAX) throw new AppError('VALIDATION', `at most ${PRODUCTS_BY_IDS_MAX} product ids at once`);
    const wanted = [...new Set(ids.map((id) => id.toLowerCase()))];
    const found = new Map((await this.store.findProducts(wanted)).map((p) => [p.id, p]));
    return wanted.flatMap((id) => found.get(id) ?? []);
  }

  /**
   * Holds units of every item back for a purchase, all or none, in one transaction. Idempotent
   * by `reservationRef`: a repeat answers what the first call answered (a refusal included),
   * except that a released reservation answers PRODUCT_UNAVAILABLE "reservation was cancelled".
   */
  async reserveProducts(input: ReserveProductsInput): Promise<ReserveProductsResult> {
    const request = checkReserveInput(input);
    const earlier = await this.store.findReservation(request.reservationRef);
    if (earlier) return repeatAnswer(earlier, request);
    try {
      return await this.store.transaction(async (tx) => {
        const raced = await tx.lockReservation(request.reservationRef);
        if (raced) return repeatAnswer(raced, request);
        const products = await tx.lockProducts(request.items.map((i) => i.productId));
        const result = decideReservation(request, products);
        const nowMs = this.clock.nowMs();
        if (result.ok) {
          for (const line of [...result.lines].sort(byProductId)) {
            assert(await tx.reserveUnits(line.productId, line.quantity, nowMs), 'availability was checked on the locked row');
          }
        }
        await tx.insertReservation({
          ref: request.reservationRef,
          buyerId: request.buyerId,
          currency: request.currency,
          state: result.ok ? 'reserved' : 'refused',
          refusal: result.ok ? null : { code: result.code, productId: result.productId, detail: result.detail },
          lines: result.ok ? result.lines : [],
          createdAtMs: nowMs,
          updatedAtMs: nowMs,
        });
        return result;
      });
    } catch (error) {
      // The same ref recorded by a concurrent call (a reserve, or a release that came first).
      if (!this.store.isUniqueViolation(error)) throw error;
      const winner = await this.store.findReservation(request.reservationRef);
      if (!winner) throw error;
      return repeatAnswer(winner, request);
    }
  }

  /**
   * Compensation: gives the reserved units back. Idempotent. A ref never reserved is recorded as
   * released, so a reserve arriving later with it is refused. `released: false` only when the
   * units were dispatched already: there is nothing to give back.
   */
  async releaseReservation(reservationRef: string): Promise<{ released: boolean }> {
    const ref = checkRef(reservationRef);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.store.transaction(async (tx) => {
          const r = await tx.lockReservation(ref);
          const nowMs = this.clock.nowMs();
          if (!r) {
            await tx.insertReservation({ ref, buyerId: null, currency: null, state: 'released', refusal: null, lines: [], createdAtMs: nowMs, updatedAtMs: nowMs });
            return { released: true };
          }
          if (r.state === 'dispatched') return { released: false };
          if (r.state !== 'reserved') return { released: true };
          await tx.lockProducts(r.lines.map((l) => l.productId));
          for (const line of [...r.lines].sort(byProductId)) {
            assert(await tx.unreserveUnits(line.productId, line.quantity, nowMs), 'a reserved reservation\'s units are reserved on its products');
          }
          await tx.setReservationState(ref, 'released', nowMs);
          return { released: true };
        });
      } catch (error) {
        // A reserve recorded the ref between our look and our insert: look again, once.
        if (attempt >= 2 || !this.store.isUniqueViolation(error)) throw error;
      }
    }
  }

  /**
   * The reserved units leave stock for good (the order ships): stock and reserved both fall.
   * Idempotent. A released or refused reservation is refused with RESERVATION_NOT_ACTIVE, an
   * unknown ref with NOT_FOUND.
   */
  async dispatchReservation(reservationRef: string): Promise<{ dispatched: boolean }> {
    const ref = checkRef(reservationRef);
    return this.store.transaction(async (tx) => {
      const r = await tx.lockReservation(ref);
      if (!r) throw new AppError('NOT_FOUND', `no reservation ${ref}`);
      if (r.state === 'dispatched') return { dispatched: true };
      if (r.state !== 'reserved') throw new AppError('RESERVATION_NOT_ACTIVE', `reservation ${ref} was ${r.state}: it holds no units to dispatch`);
      const nowMs = this.clock.nowMs();
      await tx.lockProducts(r.lines.map((l) => l.productId));
      for (const line of [...r.lines].sort(byProductId)) {
        assert(await tx.dispatchUnits(line.productId, line.quantity, nowMs), 'a reserved reservation\'s units are reserved on its products');
      }
      await tx.setReservationState(ref, 'dispatched', nowMs);
      return { dispatched: true };
    });
  }

  /** A reservation as recorded, for inspection (tests, support). */
  async reservation(reservationRef: string): Promise<StoredReservation | undefined> {
    return this.store.findReservation(checkRef(reservationRef));
  }

  /** The price's decimal string in the currency's major units (scale from the ledger's list). */
  async priceText(product: Pick<Product, 'priceMinor' | 'currency'>): Promise<string> {
    const { scale } = await this.currencies.requireCurrency(product.currency);
    return formatAmount(product.priceMinor, scale);
  }

  // --- internals ------------------------------------------------------------------------------

  private async priceOf(price: string, currencyCode: string): Promise<bigint> {
    const currency = await this.currencies.requireCurrency(currencyCode, 'currency');
    const parsed = parseAmount(price, currency.scale);
    if (!parsed.ok) throw fieldError('VALIDATION', 'body', 'price', parsed.reason);
    return parsed.minor;
  }

  private async detailsOf(products: Product[]): Promise<ProductDetails[]> {
    const paths = new Map<string, Category[]>();
    for (const categoryId of new Set(products.map((p) => p.categoryId))) paths.set(categoryId, await this.categories.ancestry(categoryId));
    const out: ProductDetails[] = [];
    for (const product of products) out.push({ product, price: await this.priceText(product), categoryPath: paths.get(product.categoryId) ?? [] });
    return out;
  }

  /** The product, locked in `tx`, if the caller may manage it. */
  private async lockedProduct(tx: ProductsStore, me: Principal, id: string): Promise<Product> {
    const product = (await tx.lockProducts([id])).get(id);
    if (!product) throw new AppError('NOT_FOUND', `no product ${id}`);
    if (!mayManageProduct(me, product)) throw new AppError('FORBIDDEN', 'only the product\'s seller can change it');
    return product;
  }

  /** As lockedProduct, and not archived. */
  private async editableProduct(tx: ProductsStore, me: Principal, id: string): Promise<Product> {
    const product = await this.lockedProduct(tx, me, id);
    if (product.archivedAtMs !== null) throw new AppError('PRODUCT_ARCHIVED', `product ${id} is archived and can no longer change`);
    return product;
  }
}

function byProductId(a: { productId: string }, b: { productId: string }): number {
  return a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0;
}

function checkStock(stock: number, field: string): void {
  if (!Number.isSafeInteger(stock) || stock < 0 || stock > STOCK_MAX) throw fieldError('VALIDATION', 'body', field, `must be a whole number from 0 to ${STOCK_MAX}`);
}

function checkRef(ref: unknown): string {
  if (typeof ref !== 'string' || ref.length === 0 || ref.length > RESERVATION_REF_MAX_LENGTH) {
    throw new AppError('VALIDATION', `reservationRef must be 1–${RESERVATION_REF_MAX_LENGTH} characters`);
  }
  return ref;
}

/** The input, checked (a caller's bug is a VALIDATION error, not a refusal), ids lower-cased and repeats merged. */
function checkReserveInput(input: ReserveProductsInput): ReserveProductsInput {
  const reservationRef = checkRef(input.reservationRef);
  if (typeof input.buyerId !== 'string' || input.buyerId.length === 0) throw new AppError('VALIDATION', 'buyerId is required');
  if (typeof input.currency !== 'string' || input.currency.length === 0) throw new AppError('VALIDATION', 'currency is required');
  if (!Array.isArray(input.items) || input.items.length === 0 || input.items.length > RESERVATION_ITEMS_MAX) {
    throw new AppError('VALIDATION', `items must hold 1–${RESERVATION_ITEMS_MAX} entries`);
  }
  for (const [n, item] of input.items.entries()) {
    if (typeof item?.productId !== 'string' || item.productId.length === 0 || item.productId.length > 100) throw new AppError('VALIDATION', `items.${n}.productId is not a product id`);
    if (!Number.isSafeInteger(item.quantity) || item.quantity < 1 || item.quantity > STOCK_MAX) throw new AppError('VALIDATION', `items.${n}.quantity must be a whole number from 1 to ${STOCK_MAX}`);
  }
  const items = mergeItems(input.items.map((i) => ({ productId: i.productId.toLowerCase(), quantity: i.quantity })));
  for (const [n, item] of items.entries()) {
    if (item.quantity > STOCK_MAX) throw new AppError('VALIDATION', `items.${n}.quantity: more than ${STOCK_MAX} units of one product`);
  }
  return { reservationRef, buyerId: input.buyerId.toLowerCase(), currency: input.currency, items };
}

/** What a repeat of a reserve hears: the first answer, unless the reservation was released since. */
function repeatAnswer(r: StoredReservation, request: ReserveProductsInput): ReserveProductsResult {
  if (r.state === 'refused' && r.refusal !== null) return { ok: false, ...r.refusal };
  if (r.state === 'released') {
    const productId = r.lines[0]?.productId ?? request.items[0]!.productId;
    return { ok: false, code: 'PRODUCT_UNAVAILABLE', productId, detail: CANCELLED_DETAIL };
  }
  return { ok: true, lines: r.lines };
}

function categoryNotFound(id: string): AppError {
  return new AppError('NOT_FOUND', `no category ${id}`, { errors: [{ in: 'body', field: 'categoryId', message: 'no such category' }] });
}
