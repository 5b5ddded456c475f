// The shop: fixed-price products (GET /api/products, docs/catalog.md) and purchases, which run
// as a saga on the server (POST /api/purchases, docs/purchases.md). Shapes of those answers,
// the calls, and what each saga step and outcome means in words a buyer understands.
import { api } from './api.js';
import type { CategoryRef } from './auctions.js';
import { fromMinor, toMinor } from './money.js';

export interface Product {
  id: string;
  sellerId: string;
  title: string;
  description: string;
  categoryId: string;
  categoryPath: CategoryRef[];
  /** Unit price, a decimal string in major units of `currency`. */
  price: string;
  currency: string;
  stock: number;
  reserved: number;
  /** stock − reserved: what a purchase may take now. */
  available: number;
  archived: boolean;
  archivedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface ProductList {
  items: Product[];
  nextCursor: string | null;
}

export interface ProductFilters {
  categoryId?: string | undefined;
  currency?: string | undefined;
  inStock?: boolean | undefined;
}

export const STEP_NAMES = ['ValidateInventory', 'ReserveProducts', 'ChargeWallet', 'CreateOrder'] as const;
export type StepName = (typeof STEP_NAMES)[number];
export type StepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'timed_out' | 'compensating' | 'compensated';
export type PurchaseStatus = 'running' | 'compensating' | 'completed' | 'compensated';

export interface PurchaseStep {
  name: StepName;
  status: StepStatus;
  startedAt: string | null;
  finishedAt: string | null;
  compensatedAt: string | null;
  attempts: number;
  error: { code: string; detail: string } | null;
}

export interface Purchase {
  id: string;
  status: PurchaseStatus;
  buyerId: string;
  currency: string;
  total: string | null;
  items: Array<{ productId: string; quantity: number; title: string | null; sellerId: string | null; unitPrice: string | null; amount: string | null }>;
  steps: PurchaseStep[];
  failure: { step: StepName; reason: string; detail: string } | null;
  orderIds: string[];
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

/** Most units one purchase line may ask for (the API's limit). */
export const QUANTITY_MAX = 10_000;

export function listProducts(filters: ProductFilters, cursor: string | null, signal?: AbortSignal): Promise<ProductList> {
  return api<ProductList>('GET', '/api/products', {
    query: { categoryId: filters.categoryId, currency: filters.currency, inStock: filters.inStock === undefined ? undefined : String(filters.inStock), limit: 24, cursor },
    ...(signal && { signal }),
  });
}

export function getProduct(id: string, signal?: AbortSignal): Promise<Product> {
  return api<Product>('GET', `/api/products/${id}`, { ...(signal && { signal }) });
}

/**
 * Starts a purchase. The key makes a retry (the network failed mid-request, a double click)
 * answer the purchase the first request started instead of buying twice.
 */
export function startPurchase(input: { items: Array<{ productId: string; quantity: number }>; currency: string }, idempotencyKey: string): Promise<Purchase> {
  return api<Purchase>('POST', '/api/purchases', { body: input, idempotencyKey });
}

export function getPurchase(id: string, signal?: AbortSignal): Promise<Purchase> {
  return api<Purchase>('GET', `/api/purchases/${id}`, { ...(signal && { signal }) });
}

export function listPurchases(cursor: string | null, signal?: AbortSignal): Promise<{ items: Purchase[]; nextCursor: string | null }> {
  return api('GET', '/api/purchases', { query: { limit: 20, cursor }, ...(signal && { signal }) });
}

/** A purchase has ended for good: completed or compensated. */
export function hasEnded(p: Pick<Purchase, 'status'>): boolean {
  return p.status === 'completed' || p.status === 'compensated';
}

/** unit price × quantity, exactly (bigint minor units); null when the price is not readable. */
export function lineTotal(unitPrice: string, quantity: number, scale: number): string | null {
  const minor = toMinor(unitPrice, scale);
  if (minor === null || !Number.isSafeInteger(quantity) || quantity < 0) return null;
  return fromMinor(minor * BigInt(quantity), scale);
}

export const STEP_TEXT: Record<StepName, { title: string; does: string; undo: string | null }> = {
  ValidateInventory: { title: 'Check stock', does: 'Every item exists, is on sale and has enough units.', undo: null },
  ReserveProducts: { title: 'Reserve the items', does: 'The units are set aside for you at today’s price.', undo: 'The units went back on sale.' },
  ChargeWallet: { title: 'Hold the payment', does: 'The total is held in your wallet.', undo: 'The held money was released to your wallet.' },
  CreateOrder: { title: 'Create the order', does: 'The seller is paid from the hold and your order is created.', undo: 'No order was created.' },
};

export const STEP_STATUS_TEXT: Record<StepStatus, string> = {
  pending: 'Waiting',
  running: 'In progress',
  succeeded: 'Done',
  failed: 'Refused',
  timed_out: 'Timed out',
  compensating: 'Undoing',
  compensated: 'Undone',
};

/** Why a purchase was compensated, for the buyer. */
export function failureText(reason: string, currency: string): string {
  switch (reason) {
    case 'OUT_OF_STOCK':
      return 'An item sold out before it could be reserved for you.';
    case 'INSUFFICIENT_FUNDS':
      return `Your ${currency} wallet did not hold enough available money to pay for it.`;
    case 'PRODUCT_NOT_FOUND':
      return 'An item no longer exists.';
    case 'PRODUCT_UNAVAILABLE':
      return 'An item is no longer for sale.';
    case 'OWN_PRODUCT':
      return 'You cannot buy your own product.';
    case 'CURRENCY_MISMATCH':
      return 'An item is priced in another currency.';
    case 'ORDER_FAILED':
      return 'The order could not be created.';
    case 'STEP_TIMEOUT':
      return 'A step took too long, so the purchase was called off.';
    default:
      return `It could not be completed (${reason}).`;
  }
}
