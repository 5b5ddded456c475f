// The admin pages' calls: users and roles, the category tree, assets and instruments, exchange
// rates, dead letters (notifications and purchases) and the ledger check. Every one of these
// routes refuses anyone but an admin on the server; the pages only mirror that.
import { api } from './api.js';
import { flattenCategories, type Category } from './catalog.js';
import type { Instrument } from './exchange.js';
import { newKey } from './ids.js';
import { currencies, type Currency } from './money.js';

export const ROLES = ['bidder', 'seller', 'auctioneer', 'admin'] as const;
export type Role = (typeof ROLES)[number];
export const ROLE_MEANINGS: Record<Role, string> = {
  bidder: 'bids and buys',
  seller: 'lists lots and products',
  auctioneer: 'runs live sales',
  admin: 'everything, including these pages',
};

export function isAdmin(user: { roles: readonly string[] } | null | undefined): boolean {
  return user?.roles.includes('admin') === true;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

// --- users ------------------------------------------------------------------------------------

export interface AdminUser {
  id: string;
  name: string;
  email: string;
  group: number;
  roles: Role[];
  reputation: number;
  createdAt: string;
  updatedAt: string;
}

/** Oldest first by cursor; 100 a page, the most the API gives. */
export const listUsers = (cursor: string | null, signal?: AbortSignal) => api<Page<AdminUser>>('GET', '/api/user', { query: { limit: 100, cursor }, ...(signal && { signal }) });
export const countUsers = (signal?: AbortSignal) => api<{ count: number }>('GET', '/api/user/count', signal ? { signal } : {});
export const getUser = (id: string) => api<AdminUser>('GET', `/api/user/${encodeURIComponent(id)}`);
/** Partial update: only the fields given change (PUT /api/user carries the id in the body). */
export const updateUser = (id: string, patch: { roles?: Role[]; reputation?: number }) => api<AdminUser>('PUT', '/api/user', { body: { id, ...patch } });

// --- categories -------------------------------------------------------------------------------

export type CategoryNode = Category;

export const categoryTree = (signal?: AbortSignal) => api<{ items: CategoryNode[] }>('GET', '/api/categories', signal ? { signal } : {});
export const createCategory = (input: { name: string; parentId: string | null; slug?: string }) =>
  api<CategoryNode>('POST', '/api/categories', { body: { name: input.name, parentId: input.parentId, ...(input.slug && { slug: input.slug }) }, idempotencyKey: newKey('category') });
export const updateCategory = (id: string, patch: { name?: string; slug?: string; parentId?: string | null }) => api<CategoryNode>('PATCH', `/api/categories/${id}`, { body: patch });
/** Resolves true once deleted (a value, so callers can tell success from a failure they caught). */
export const deleteCategory = (id: string) => api<void>('DELETE', `/api/categories/${id}`).then(() => true as const);

/** The ids of a category and everything below it: where it cannot move to. */
export function subtreeIds(node: CategoryNode): Set<string> {
  return new Set(flattenCategories([node]).map((c) => c.id));
}

// --- assets, instruments, issuance -------------------------------------------------------------

export interface NewInstrument {
  base: string;
  quote: string;
  tickSize: string;
  lotSize: string;
  minQuantity?: string;
  maxQuantity: string;
  makerFeeBps?: number;
  takerFeeBps?: number;
  protectionBps?: number;
}

export const createInstrument = (input: NewInstrument) => api<Instrument>('POST', '/api/exchange/instruments', { body: input });
export const setHalted = (symbol: string, halted: boolean) => api<Instrument>('POST', `/api/exchange/instruments/${symbol}/${halted ? 'halt' : 'resume'}`);
export const createAsset = (input: { code: string; scale: number; name: string }) => api<Currency>('POST', '/api/ledger/assets', { body: input });

/** After listing an asset: the app's currency list (loaded once per page) learns it. */
export async function refreshCurrencies(): Promise<void> {
  const r = await api<{ items: Currency[] }>('GET', '/api/currencies');
  currencies.set(new Map(r.items.map((c) => [c.code, c])));
}

export interface Adjustment {
  userId: string;
  currency: string;
  amount: string;
  direction: 'credit' | 'debit';
  memo: string;
}
/** Issues (credit) or redeems (debit) against the currency's issuance account; the key makes a retry move the money once. */
export const adjust = (input: Adjustment, idempotencyKey: string) => api<{ id: string; amount: string; currency: string }>('POST', '/api/ledger/adjustments', { body: input, idempotencyKey });

// --- exchange rates ---------------------------------------------------------------------------

export interface Rate {
  base: string;
  quote: string;
  rate: string;
  spreadBps: number;
  updatedAt: string;
}

export const listRates = (signal?: AbortSignal) => api<{ items: Rate[] }>('GET', '/api/ledger/rates', signal ? { signal } : {});
export const setRate = (base: string, quote: string, body: { rate: string; spreadBps: number }) => api<Rate>('PUT', `/api/ledger/rates/${base}/${quote}`, { body });
export const deleteRate = (base: string, quote: string) => api<void>('DELETE', `/api/ledger/rates/${base}/${quote}`).then(() => true as const);

/** The API's rule for a rate: a decimal above zero, at most 12 decimals and 15 digits before the point. */
export function rateProblem(text: string): string | undefined {
  const t = text.trim();
  if (!/^(0|[1-9][0-9]{0,14})(\.[0-9]{1,12})?$/.test(t)) return 'Enter a decimal like 0.9215 (at most 12 decimals)';
  if (/^0(\.0+)?$/.test(t)) return 'The rate must be above zero';
  return undefined;
}

// --- dead letters -----------------------------------------------------------------------------

export interface NotificationDeadLetter {
  id: string;
  channel: 'email' | 'webhook';
  recipientUserId: string;
  kind: string;
  notification: { title: string; body: string };
  attempts: number;
  lastError: string | null;
  lastAttemptAt: string | null;
  finishedAt: string | null;
  createdAt: string;
}

export const notificationDeadLetters = (cursor: string | null, signal?: AbortSignal) =>
  api<Page<NotificationDeadLetter> & { total: number }>('GET', '/api/admin/notifications/dead-letters', { query: { limit: 50, cursor }, ...(signal && { signal }) });
export const redriveNotification = (id: string) => api<NotificationDeadLetter>('POST', `/api/admin/notifications/dead-letters/${id}/redrive`);
export const redriveAllNotifications = () => api<{ redriven: number; remaining: number }>('POST', '/api/admin/notifications/dead-letters/redrive-all');

export interface PurchaseDeadLetter {
  consumer: string;
  eventId: string;
  topic: string;
  reason: string;
  createdAt: string;
  message: string | null;
  purchaseId: string | null;
  redrivable: boolean;
  problemNow: string | null;
  payloadBytes: number;
  payloadPreview: string;
}

const purchaseLetterPath = (l: { consumer: string; eventId: string }) => `/api/admin/purchases/dead-letters/${encodeURIComponent(l.consumer)}/${l.eventId}`;
export const purchaseDeadLetters = (cursor: string | null, signal?: AbortSignal) =>
  api<Page<PurchaseDeadLetter> & { total: number }>('GET', '/api/admin/purchases/dead-letters', { query: { limit: 50, cursor }, ...(signal && { signal }) });
export const redrivePurchaseLetter = (l: PurchaseDeadLetter) => api<{ eventId: string; topic: string; purchaseId: string }>('POST', `${purchaseLetterPath(l)}/redrive`);
export const discardPurchaseLetter = (l: PurchaseDeadLetter) => api<void>('DELETE', purchaseLetterPath(l)).then(() => true as const);

// --- the ledger -------------------------------------------------------------------------------

export interface LedgerCheck {
  ok: boolean;
  accounts: number;
  transfers: number;
  violations: Array<{ rule: string; detail: string }>;
}

export interface SystemAccount {
  id: string;
  currency: string;
  kind: string;
  posted: string;
  held: string;
  available: string;
  closed: boolean;
}

export const ledgerCheck = () => api<LedgerCheck>('GET', '/api/ledger/check');
export const systemAccounts = (currency: string | null, signal?: AbortSignal) => api<{ items: SystemAccount[] }>('GET', '/api/ledger/accounts', { query: { currency }, ...(signal && { signal }) });
