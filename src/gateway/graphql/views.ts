// What the GraphQL types are made of: the REST views of each module (the same JSON a REST
// caller gets), with every amount turned into a Money object { amount, currency }. Values are
// plain JSON, so an idempotent mutation's stored answer replays exactly as it first resolved.
import type { User } from '../../accounts/model.js';
import type { AuctionPage } from '../../auctions/service.js';
import type { BidderView } from '../../auctions/model.js';
import { auctionRowJson, viewJson } from '../../auctions/routes.js';
import type { AuctionRow } from '../../auctions/store.js';
import type { Category, LotImage, PlacedCategory } from '../../catalog/model.js';
import { imageUrl } from '../../catalog/model.js';
import type { LotDetails } from '../../catalog/service.js';
import type { ProductDetails } from '../../catalog/products-service.js';
import type { Account, Transfer } from '../../ledger/model.js';
import { accountView } from '../../ledger/routes.js';
import type { Order } from '../../orders/model.js';
import { orderView } from '../../orders/routes.js';
import type { Purchase } from '../../orders/purchase-model.js';
import { purchaseView } from '../../orders/purchase-routes.js';
import { formatAmount } from '../../platform/money.js';

export interface Money {
  amount: string;
  currency: string;
}

const iso = (ms: number) => new Date(ms).toISOString();
const money = (amount: string, currency: string): Money => ({ amount, currency });
const maybeMoney = (amount: string | null, currency: string): Money | null => (amount === null ? null : money(amount, currency));

export function userJson(user: User) {
  return {
    id: user.id,
    name: user.name,
    email: user.email,
    group: user.group,
    roles: user.roles,
    reputation: user.reputation,
    createdAt: iso(user.createdAtMs),
    updatedAt: iso(user.updatedAtMs),
  };
}

// --- catalog -----------------------------------------------------------------------------------

export function categoryJson(c: PlacedCategory) {
  return { id: c.id, parentId: c.parentId, name: c.name, slug: c.slug, path: c.path, depth: c.depth };
}

const stepJson = (c: Pick<Category, 'id' | 'name' | 'slug'>) => ({ id: c.id, name: c.name, slug: c.slug });

function imageJson(i: LotImage) {
  return { id: i.id, url: imageUrl(i.id), contentType: i.contentType, sizeBytes: i.sizeBytes, position: i.position, createdAt: iso(i.createdAtMs) };
}

export function lotJson({ lot, categoryPath, images }: LotDetails) {
  return {
    id: lot.id,
    sellerId: lot.sellerId,
    title: lot.title,
    description: lot.description,
    categoryId: lot.categoryId,
    categoryPath: categoryPath.map(stepJson),
    condition: lot.condition,
    locked: lot.lockedBy !== null,
    images: images.map(imageJson),
    createdAt: iso(lot.createdAtMs),
    updatedAt: iso(lot.updatedAtMs),
  };
}

export function productJson({ product: p, price, categoryPath }: ProductDetails) {
  return {
    id: p.id,
    sellerId: p.sellerId,
    title: p.title,
    description: p.description,
    categoryId: p.categoryId,
    categoryPath: categoryPath.map(stepJson),
    price: money(price, p.currency),
    stock: p.stock,
    reserved: p.reserved,
    available: p.available,
    archived: p.archivedAtMs !== null,
    archivedAt: p.archivedAtMs === null ? null : iso(p.archivedAtMs),
    createdAt: iso(p.createdAtMs),
    updatedAt: iso(p.updatedAtMs),
  };
}

// --- auctions ----------------------------------------------------------------------------------

export function auctionJson(row: AuctionRow, scale: number, categoryPath?: Array<Pick<Category, 'id' | 'name' | 'slug'>>) {
  const rest = auctionRowJson(row, scale);
  return {
    ...rest,
    startingPrice: money(rest.startingPrice, rest.currency),
    currentPrice: money(rest.currentPrice, rest.currency),
    // Search results carry their path; an auction page's is looked up when asked for.
    ...(categoryPath !== undefined && { categoryPath: categoryPath.map(stepJson) }),
  };
}

export function liveJson(view: Parameters<typeof viewJson>[0], scale: number) {
  const rest = viewJson(view, scale);
  const c = rest.currency;
  return {
    ...rest,
    startingPrice: money(rest.startingPrice!, c),
    price: maybeMoney(rest.price, c),
    minimumNextBid: maybeMoney(rest.minimumNextBid, c),
    buyNow: maybeMoney(rest.buyNow, c),
  };
}

export function standingJson(me: BidderView, currency: string, scale: number) {
  return {
    joined: me.joined,
    number: me.number,
    leading: me.leading,
    maxBid: me.maxMinor === null ? null : money(formatAmount(me.maxMinor, scale), currency),
    held: money(formatAmount(me.heldMinor, scale), currency),
  };
}

export function auctionPageJson(page: AuctionPage, scale: number) {
  const currency = page.auction.currency;
  return {
    // Its category path is the auction's own (looked up when asked for), not the lot's today.
    auction: auctionJson(page.auction, scale),
    lot: page.lot,
    live: liveJson(page.view, scale),
    nextBids: page.nextBidsMinor.map((m) => money(formatAmount(m, scale), currency)),
    me: page.me ? standingJson(page.me, currency, scale) : null,
    serverTime: iso(page.serverTimeMs),
  };
}

// --- wallets -----------------------------------------------------------------------------------

export function walletJson(account: Account, scale: number) {
  const rest = accountView(account, scale);
  return { ...rest, posted: money(rest.posted, rest.currency), held: money(rest.held, rest.currency), available: money(rest.available, rest.currency) };
}

export function transferJson(t: Transfer, accountId: string, scale: number) {
  return {
    id: t.id,
    kind: t.kind,
    direction: t.creditAccountId === accountId ? 'in' : 'out',
    amount: money(formatAmount(t.amountMinor, scale), t.currency),
    owner: t.owner,
    holdStatus: t.holdStatus,
    memo: t.memo,
    createdAt: iso(t.createdAtMs),
  };
}

// --- orders ------------------------------------------------------------------------------------

export function orderJson(order: Order, scale: number) {
  const rest = orderView(order, scale);
  const c = rest.currency;
  return { ...rest, amount: money(rest.amount, c), items: rest.items.map((i) => ({ ...i, unitPrice: money(i.unitPrice, c), amount: money(i.amount, c) })) };
}

export function purchaseJson(purchase: Purchase, scale: number) {
  const rest = purchaseView(purchase, scale);
  const c = rest.currency;
  return {
    ...rest,
    total: maybeMoney(rest.total, c),
    items: rest.items.map((i) => ({ ...i, unitPrice: maybeMoney(i.unitPrice, c), amount: maybeMoney(i.amount, c) })),
  };
}
