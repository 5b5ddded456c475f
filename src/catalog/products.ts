// Fixed-price products and the stock they hold back for purchases. Pure: no storage, no clock.
//
// A product has `stock` units on the shelf; `reserved` of them are promised to purchases in
// flight; `available = stock − reserved` is what a new purchase may take. The database keeps
// 0 ≤ reserved ≤ stock (CHECK constraints), so available is never negative.
//
// The life of a reservation (one purchase, all its lines, one reservationRef):
//
//   (none) ─reserve→ reserved ─dispatch→ dispatched     units leave stock for good
//                    reserved ─release─→ released       units go back to available
//   (none) ─reserve→ refused                            nothing was held (a precise code says why)
//   (none) ─release→ released                           a release that came first: a late reserve
//                                                       with that ref is then refused
//
// dispatched, released and refused are final. Every step is idempotent by the ref.
import assert from 'node:assert/strict';
import { isAdmin, type Principal } from '../platform/auth/principal.js';

// --- products -----------------------------------------------------------------------------

export const PRODUCT_TITLE_MAX_LENGTH = 140;
export const PRODUCT_DESCRIPTION_MAX_LENGTH = 10_000;
/** Units a product may hold: fits a 32-bit integer column on both databases. */
export const STOCK_MAX = 1_000_000_000;

export interface Product {
  id: string;
  sellerId: string;
  title: string;
  description: string;
  categoryId: string;
  /** ISO 4217 code or ledger asset code. */
  currency: string;
  /** The unit price in the currency's minor units (cents for USD). Always > 0. */
  priceMinor: bigint;
  /** Units on the shelf, reserved ones included. */
  stock: number;
  /** Units promised to purchases in flight; never more than stock. */
  reserved: number;
  /** stock − reserved: what a new purchase may take. */
  available: number;
  /** When the seller (or an admin) withdrew it; archived products are never sold again. */
  archivedAtMs: number | null;
  createdAtMs: number;
  updatedAtMs: number;
}

/** Sellers offer products; admins may too (house sales, moderation). */
export function mayCreateProducts(principal: Principal): boolean {
  return principal.roles.includes('seller') || isAdmin(principal);
}

/** A product is changed by its seller, or by an admin. */
export function mayManageProduct(principal: Principal, product: Pick<Product, 'sellerId'>): boolean {
  return principal.userId === product.sellerId || isAdmin(principal);
}

/** Sets the stock to `set`, or moves it by `add` (which may be negative). */
export type StockChange = { set: number } | { add: number };

export type StockCheck = { ok: true; stock: number } | { ok: false; code: 'STOCK_BELOW_RESERVED' | 'STOCK_TOO_LARGE'; detail: string };

/** The stock after `change`, if it stays within [reserved, STOCK_MAX]. */
export function nextStock(product: Pick<Product, 'stock' | 'reserved'>, change: StockChange): StockCheck {
  const stock = 'set' in change ? change.set : product.stock + change.add;
  if (stock < 0) return { ok: false, code: 'STOCK_BELOW_RESERVED', detail: `stock would be ${stock}; it cannot go below zero` };
  if (stock < product.reserved) {
    return { ok: false, code: 'STOCK_BELOW_RESERVED', detail: `stock would be ${stock}, but ${product.reserved} unit(s) are reserved for purchases in progress` };
  }
  if (stock > STOCK_MAX) return { ok: false, code: 'STOCK_TOO_LARGE', detail: `stock would be ${stock}; at most ${STOCK_MAX}` };
  return { ok: true, stock };
}

// --- reservations (the purchase saga's port) -----------------------------------------------

export const RESERVATION_REF_MAX_LENGTH = 200;
export const RESERVATION_ITEMS_MAX = 100;

export interface ReserveProductsInput {
  /** The caller's id for this reservation (e.g. `purchase:<id>`): the idempotency key. */
  reservationRef: string;
  buyerId: string;
  /** Every product must be priced in this currency. */
  currency: string;
  /** Repeated product ids are added together. */
  items: Array<{ productId: string; quantity: number }>;
}

export interface ReservedLine {
  productId: string;
  sellerId: string;
  title: string;
  currency: string;
  /** The price when reserved: the purchase pays this, whatever the seller sets later. */
  unitPriceMinor: bigint;
  quantity: number;
}

export type ReservationRefusalCode = 'PRODUCT_NOT_FOUND' | 'PRODUCT_UNAVAILABLE' | 'OUT_OF_STOCK' | 'CURRENCY_MISMATCH' | 'OWN_PRODUCT';

export type ReserveProductsResult =
  | { ok: true; lines: ReservedLine[] }
  | { ok: false; code: ReservationRefusalCode; productId: string; detail: string };

export const RESERVATION_STATES = ['reserved', 'dispatched', 'released', 'refused'] as const;
export type ReservationState = (typeof RESERVATION_STATES)[number];

/** What a late reserve hears when its ref was released first. */
export const CANCELLED_DETAIL = 'reservation was cancelled';

/** Repeated product ids added together, in the order each first appears. */
export function mergeItems(items: ReadonlyArray<{ productId: string; quantity: number }>): Array<{ productId: string; quantity: number }> {
  const merged = new Map<string, number>();
  for (const item of items) merged.set(item.productId, (merged.get(item.productId) ?? 0) + item.quantity);
  return [...merged].map(([productId, quantity]) => ({ productId, quantity }));
}

/**
 * Whether every item can be reserved from `products` (read under lock), checked item by item in
 * order; the first that cannot decides the refusal. All or nothing: a refusal reserves nothing.
 */
export function decideReservation(
  input: { buyerId: string; currency: string; items: ReadonlyArray<{ productId: string; quantity: number }> },
  products: ReadonlyMap<string, Product>,
): ReserveProductsResult {
  const lines: ReservedLine[] = [];
  for (const { productId, quantity } of input.items) {
    assert(Number.isSafeInteger(quantity) && quantity > 0, 'quantities are checked before deciding');
    const p = products.get(productId);
    if (p === undefined) return { ok: false, code: 'PRODUCT_NOT_FOUND', productId, detail: `no product ${productId}` };
    if (p.archivedAtMs !== null) return { ok: false, code: 'PRODUCT_UNAVAILABLE', productId, detail: `product ${productId} is no longer offered` };
    if (p.sellerId === input.buyerId) return { ok: false, code: 'OWN_PRODUCT', productId, detail: `product ${productId} is the buyer's own` };
    if (p.currency !== input.currency) {
      return { ok: false, code: 'CURRENCY_MISMATCH', productId, detail: `product ${productId} is priced in ${p.currency}, the purchase is in ${input.currency}` };
    }
    if (p.available < quantity) {
      return { ok: false, code: 'OUT_OF_STOCK', productId, detail: `product ${productId} has ${p.available} unit(s) available, ${quantity} asked` };
    }
    lines.push({ productId, sellerId: p.sellerId, title: p.title, currency: p.currency, unitPriceMinor: p.priceMinor, quantity });
  }
  return { ok: true, lines };
}
