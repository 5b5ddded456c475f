// Resolvers: each one checks its arguments the way the REST route's schema does, then calls the
// SAME service method as the REST route with the caller's Principal, so every rule (who may
// see or do what) is the service's, shared by both APIs. Results are the REST views with
// amounts as Money (views.ts).
import { createHash } from 'node:crypto';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AccountsService } from '../../accounts/service.js';
import { discoverAuctions } from '../../auctions/discovery.js';
import { discoveryQueryOf, SEARCH_TEXT_MAX_LENGTH, type DiscoveryDeps } from '../../auctions/discovery-routes.js';
import type { AuctionEvent } from '../../auctions/model.js';
import type { AuctionsService } from '../../auctions/service.js';
import type { CategoryTree } from '../../catalog/model.js';
import type { CatalogService } from '../../catalog/service.js';
import type { Account } from '../../ledger/model.js';
import { CurrencyCode } from '../../ledger/routes.js';
import type { LedgerService } from '../../ledger/service.js';
import { CARRIER_MAX_LENGTH, COMMENT_MAX_LENGTH, REASON_MAX_LENGTH, TRACKING_NUMBER_MAX_LENGTH } from '../../orders/model.js';
import type { OrdersService } from '../../orders/service.js';
import { ITEMS_MAX, QUANTITY_MAX } from '../../orders/purchase-model.js';
import { PURCHASE_ANSWER_WAIT_MS } from '../../orders/purchase-routes.js';
import type { PurchaseSaga } from '../../orders/purchase-saga.js';
import { requirePrincipal, type Principal } from '../../platform/auth/principal.js';
import { AppError, type FieldError } from '../../platform/errors.js';
import { Uuid } from '../../platform/http/schemas.js';
import { bodyValidator } from '../../platform/http/validation.js';
import type { Idempotency } from '../../platform/idempotency/idempotency.js';
import { fieldWithNul } from '../../platform/json-checks.js';
import { PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX } from '../../platform/pagination.js';
// One line of text / free text, exactly as the orders routes accept them.
import { LINE_PATTERN, TEXT_PATTERN } from '../../orders/routes.js';
import { auctionJson, auctionPageJson, categoryJson, liveJson, lotJson, orderJson, productJson, purchaseJson, standingJson, transferJson, userJson, walletJson } from './views.js';

export interface GraphqlServices {
  accounts: AccountsService;
  catalog: CatalogService;
  auctions: AuctionsService;
  ledger: LedgerService;
  orders: OrdersService;
  purchases: PurchaseSaga;
  idempotency: Idempotency;
  discovery: DiscoveryDeps;
}

/** Per request: the caller (resolved from the bearer token by the HTTP edge) and a memo. */
export interface GraphqlContext {
  principal: Principal | null;
  reply: FastifyReply;
  memo: Map<string, Promise<unknown>>;
}

type Args = Record<string, unknown>;
type Resolver = (parent: any, args: Args, ctx: GraphqlContext) => unknown;

// --- arguments: the REST routes' constraints, in TypeBox, checked by the same validator --------

const Limit = Type.Integer({ minimum: 1, maximum: PAGE_LIMIT_MAX, default: PAGE_LIMIT_DEFAULT });
const Cursor = Type.String({ minLength: 1, maxLength: 200 });
const IdempotencyKey = Type.String({ pattern: '^[\\x21-\\x7e]{1,200}$', description: '1-200 visible ASCII characters' });
const obj = <P extends Record<string, TSchema>>(properties: P) => Type.Object(properties, { additionalProperties: false });

const ARGS = {
  id: obj({ id: Uuid }),
  lots: obj({ sellerId: Type.Optional(Uuid), limit: Limit, cursor: Type.Optional(Cursor) }),
  auctions: obj({
    q: Type.Optional(Type.String({ maxLength: SEARCH_TEXT_MAX_LENGTH })),
    category: Type.Optional(Uuid),
    status: Type.Optional(Type.Array(Type.String())),
    kind: Type.Optional(Type.String()),
    currency: Type.Optional(CurrencyCode),
    startsAfter: Type.Optional(Type.String()),
    startsBefore: Type.Optional(Type.String()),
    minPrice: Type.Optional(Type.String()),
    maxPrice: Type.Optional(Type.String()),
    sort: Type.Optional(Type.String()),
    limit: Limit,
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 300 })),
  }),
  products: obj({
    category: Type.Optional(Uuid),
    sellerId: Type.Optional(Type.Union([Type.Literal('me'), Uuid])),
    currency: Type.Optional(CurrencyCode),
    inStock: Type.Optional(Type.Boolean()),
    archived: Type.Boolean({ default: false }),
    limit: Limit,
    cursor: Type.Optional(Cursor),
  }),
  currency: obj({ currency: CurrencyCode }),
  page: obj({ limit: Limit, cursor: Type.Optional(Cursor) }),
  orders: obj({ role: Type.Optional(Type.String()), status: Type.Optional(Type.String()), limit: Limit, cursor: Type.Optional(Cursor) }),
  auctionId: obj({ auctionId: Uuid }),
  placeBid: obj({ auctionId: Uuid, amount: Type.String(), max: Type.Optional(Type.String()), currency: CurrencyCode, idempotencyKey: Type.Optional(IdempotencyKey) }),
  shipOrder: obj({
    orderId: Uuid,
    carrier: Type.Optional(Type.String({ minLength: 1, maxLength: CARRIER_MAX_LENGTH, pattern: LINE_PATTERN })),
    trackingNumber: Type.Optional(Type.String({ minLength: 1, maxLength: TRACKING_NUMBER_MAX_LENGTH, pattern: LINE_PATTERN })),
    idempotencyKey: Type.Optional(IdempotencyKey),
  }),
  confirmDelivery: obj({
    orderId: Uuid,
    rating: Type.Integer({ minimum: 1, maximum: 5 }),
    comment: Type.Optional(Type.String({ minLength: 1, maxLength: COMMENT_MAX_LENGTH, pattern: TEXT_PATTERN })),
    idempotencyKey: Type.Optional(IdempotencyKey),
  }),
  buyProducts: obj({
    items: Type.Array(obj({ productId: Uuid, quantity: Type.Integer({ minimum: 1, maximum: QUANTITY_MAX }) }), { minItems: 1, maxItems: ITEMS_MAX }),
    currency: CurrencyCode,
    idempotencyKey: IdempotencyKey,
  }),
  cancelOrder: obj({ orderId: Uuid, reason: Type.String({ minLength: 1, maxLength: REASON_MAX_LENGTH, pattern: TEXT_PATTERN }), idempotencyKey: Type.Optional(IdempotencyKey) }),
};

const validators = new Map<TSchema, ReturnType<typeof bodyValidator>>(Object.values(ARGS).map((schema) => [schema, bodyValidator(schema)]));

interface AjvError {
  instancePath?: string;
  keyword?: string;
  params?: Record<string, unknown>;
  message?: string;
}

/** The arguments, checked (a null argument is an absent one); VALIDATION naming each one at fault. */
function argsOf<S extends TSchema>(schema: S, given: Args): Static<S> {
  const args = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== null && v !== undefined));
  const validate = validators.get(schema)!;
  if (validate(args)) return args as Static<S>;
  const errors: FieldError[] = ((validate.errors ?? []) as AjvError[]).map((e) => ({
    in: 'body',
    field: [...(e.instancePath ?? '').split('/').filter(Boolean), ...(e.keyword === 'required' ? [String(e.params?.missingProperty)] : [])].join('.'),
    message: e.keyword === 'required' ? 'is required' : (e.message ?? 'is not valid'),
  }));
  throw new AppError('VALIDATION', errors.map((e) => `${e.field}: ${e.message}`).join('; '), { errors });
}

// --- helpers -------------------------------------------------------------------------------------

/** The account behind a wallet view, for its statement (not part of the JSON). */
const ACCOUNT = Symbol('account');

function memo<T>(ctx: GraphqlContext, key: string, load: () => Promise<T>): Promise<T> {
  let value = ctx.memo.get(key) as Promise<T> | undefined;
  if (!value) {
    value = load();
    ctx.memo.set(key, value);
  }
  return value;
}

const tree = (s: GraphqlServices, ctx: GraphqlContext) => memo<CategoryTree>(ctx, 'categoryTree', () => s.catalog.categoryTree());

/** A bid id derived from the caller's idempotency key: a retry after a lost answer places the same hold. */
function bidIdOf(userId: string, key: string): string {
  return createHash('sha256').update(`graphql\n${userId}\n${key}`).digest('base64url').slice(0, 26);
}

function bidResultOf(events: readonly AuctionEvent[], bidId: string): string | null {
  for (const e of events) if (e.type === 'BidAccepted' && e.bidId === bidId) return e.result;
  return null;
}

/**
 * Runs a mutation through the platform's Idempotency-Key store, as the REST route does: the
 * same key with the same arguments answers the first result; with other arguments,
 * IDEMPOTENCY_KEY_REUSED. Keys are the caller's, shared with REST (a key used for a REST
 * request is refused here, as its request differs).
 */
async function idempotent<T>(s: GraphqlServices, ctx: GraphqlContext, operation: string, args: Args, work: (key: string | undefined) => Promise<T>): Promise<T> {
  const me = requirePrincipal(ctx.principal);
  const { idempotencyKey, ...request } = args;
  if (idempotencyKey === undefined) return work(undefined);
  const req = { headers: { 'idempotency-key': idempotencyKey }, method: 'POST', url: `/graphql#${operation}`, body: request } as unknown as FastifyRequest;
  const reply = {
    code: () => reply,
    header: (name: string, value: string) => {
      ctx.reply.header(name, value);
      return reply;
    },
  } as unknown as FastifyReply;
  return s.idempotency.handle(req, reply, me.userId, async (key) => ({ status: 200, body: await work(key) }));
}

// --- the resolvers ------------------------------------------------------------------------------

export function gatewayResolvers(s: GraphqlServices) {
  return guarded({ Query: queries(s), Mutation: mutations(s), ...fieldResolvers(s) });
}

const scaleIn = (s: GraphqlServices) => (currency: string) => s.ledger.currency(currency)?.scale ?? 0;

/** The caller's open wallets (once per request), each with its account for the statement. */
async function myAccounts(s: GraphqlServices, ctx: GraphqlContext) {
  const accounts = await memo(ctx, 'myWallets', () => s.ledger.myWallets(ctx.principal));
  return accounts.map((a) => ({ ...walletJson(a, scaleIn(s)(a.currency)), [ACCOUNT]: a }));
}

function queries(s: GraphqlServices): Record<string, Resolver> {
  const scaleOf = scaleIn(s);
  return {
    me: async (_p, _a, ctx) => userJson(await s.accounts.getUser(ctx.principal, ctx.principal?.userId ?? '')),
    categories: async (_p, _a, ctx) => {
      const t = await tree(s, ctx);
      return t.children(null).map((c) => categoryJson(t.placed(c.id)!));
    },
    category: async (_p, args) => categoryJson(await s.catalog.getCategory(argsOf(ARGS.id, args).id.toLowerCase())),
    lot: async (_p, args) => lotJson(await s.catalog.lotDetails(argsOf(ARGS.id, args).id.toLowerCase())),
    lots: async (_p, args, ctx) => {
      const { sellerId, limit, cursor } = argsOf(ARGS.lots, args);
      const page = await s.catalog.listLots(ctx.principal, { sellerId: sellerId ?? 'me', limit, ...(cursor !== undefined && { cursor }) });
      return { items: page.items.map(lotJson), nextCursor: page.nextCursor };
    },
    auctions: async (_p, args) => {
      const text = argsOf(ARGS.auctions, args) as Parameters<typeof discoveryQueryOf>[0];
      const query = await discoveryQueryOf(text, s.discovery);
      const nowMs = s.discovery.clock.nowMs();
      const page = await discoverAuctions(s.discovery.store.db, s.discovery.store.database.dialect, query);
      return { items: page.items.map((row) => auctionJson(row, scaleOf(row.currency))), nextCursor: page.nextCursor, serverTime: new Date(nowMs).toISOString() };
    },
    auction: async (_p, args, ctx) => {
      const page = await s.auctions.page(ctx.principal, argsOf(ARGS.id, args).id.toLowerCase());
      return auctionPageJson(page, scaleOf(page.auction.currency));
    },
    products: async (_p, args, ctx) => {
      const { category, sellerId, currency, inStock, archived, limit, cursor } = argsOf(ARGS.products, args);
      const page = await s.catalog.products.listProducts(ctx.principal, {
        archived,
        limit,
        ...(category !== undefined && { categoryId: category.toLowerCase() }),
        ...(sellerId !== undefined && { sellerId }),
        ...(currency !== undefined && { currency }),
        ...(inStock !== undefined && { inStock }),
        ...(cursor !== undefined && { cursor }),
      });
      return { items: page.items.map(productJson), nextCursor: page.nextCursor };
    },
    product: async (_p, args) => productJson(await s.catalog.products.productDetails(argsOf(ARGS.id, args).id.toLowerCase())),
    wallets: async (_p, _a, ctx) => myAccounts(s, ctx),
    wallet: async (_p, args, ctx) => {
      const { currency } = argsOf(ARGS.currency, args);
      return (await myAccounts(s, ctx)).find((w) => w.currency === currency) ?? null;
    },
    orders: async (_p, args, ctx) => {
      const query = argsOf(ARGS.orders, args) as Parameters<OrdersService['list']>[1];
      const page = await s.orders.list(ctx.principal, query);
      return { items: page.items.map((o) => orderJson(o, scaleOf(o.currency))), nextCursor: page.nextCursor };
    },
    order: async (_p, args, ctx) => {
      const order = await s.orders.get(ctx.principal, argsOf(ARGS.id, args).id);
      return orderJson(order, scaleOf(order.currency));
    },
    purchases: async (_p, args, ctx) => {
      const page = await s.purchases.list(ctx.principal, argsOf(ARGS.page, args));
      return { items: page.items.map((p) => purchaseJson(p, scaleOf(p.currency))), nextCursor: page.nextCursor };
    },
    purchase: async (_p, args, ctx) => {
      const purchase = await s.purchases.get(ctx.principal, argsOf(ARGS.id, args).id);
      return purchaseJson(purchase, scaleOf(purchase.currency));
    },
  };
}

function mutations(s: GraphqlServices): Record<string, Resolver> {
  const scaleOf = scaleIn(s);
  return {
    joinAuction: async (_p, args, ctx) => {
      const id = argsOf(ARGS.auctionId, args).auctionId.toLowerCase();
      const standing = await s.auctions.join(ctx.principal, id);
      const currency = await s.auctions.currencyOf(id);
      return standingJson(standing, currency, scaleOf(currency));
    },
    placeBid: async (_p, given, ctx) => {
      const args = argsOf(ARGS.placeBid, given);
      const id = args.auctionId.toLowerCase();
      return idempotent(s, ctx, 'placeBid', args, async (key) => {
        const me = requirePrincipal(ctx.principal);
        const input = { amount: args.amount, currency: args.currency, ...(args.max !== undefined && { max: args.max }) };
        const result = await s.auctions.bid(ctx.principal, id, input, key === undefined ? undefined : bidIdOf(me.userId, key));
        const scale = scaleOf(result.view.currency);
        return { bidId: result.bidId, result: bidResultOf(result.events, result.bidId), auction: liveJson(result.view, scale), me: standingJson(result.me, result.view.currency, scale) };
      });
    },
    openWallet: async (_p, args, ctx) => {
      const me = requirePrincipal(ctx.principal);
      const { account, created } = await s.ledger.openWallet(me.userId, argsOf(ARGS.currency, args).currency);
      return { wallet: { ...walletJson(account, scaleOf(account.currency)), [ACCOUNT]: account }, created };
    },
    shipOrder: async (_p, given, ctx) => {
      const { orderId, carrier, trackingNumber, ...rest } = argsOf(ARGS.shipOrder, given);
      return idempotent(s, ctx, 'shipOrder', { orderId, carrier, trackingNumber, ...rest }, async () => {
        const order = await s.orders.ship(ctx.principal, orderId, { carrier, trackingNumber });
        return orderJson(order, scaleOf(order.currency));
      });
    },
    confirmDelivery: async (_p, given, ctx) => {
      const args = argsOf(ARGS.confirmDelivery, given);
      return idempotent(s, ctx, 'confirmDelivery', args, async () => {
        const order = await s.orders.confirmDelivery(ctx.principal, args.orderId, { rating: args.rating, comment: args.comment });
        return orderJson(order, scaleOf(order.currency));
      });
    },
    // As POST /api/purchases: begun under the key, answered once ended or after a short wait.
    buyProducts: async (_p, given, ctx) => {
      const args = argsOf(ARGS.buyProducts, given);
      return idempotent(s, ctx, 'buyProducts', args, async (key) => {
        const started = await s.purchases.begin(ctx.principal, { currency: args.currency, items: args.items }, key!);
        if (started.finishedAtMs === null) await s.purchases.waitForEnd(started.id, PURCHASE_ANSWER_WAIT_MS);
        const now = await s.purchases.get(ctx.principal, started.id);
        return purchaseJson(now, scaleOf(now.currency));
      });
    },
    cancelOrder: async (_p, given, ctx) => {
      const args = argsOf(ARGS.cancelOrder, given);
      return idempotent(s, ctx, 'cancelOrder', args, async () => {
        const order = await s.orders.cancel(ctx.principal, args.orderId, { reason: args.reason });
        return orderJson(order, scaleOf(order.currency));
      });
    },
  };
}

function fieldResolvers(s: GraphqlServices): Record<string, Record<string, Resolver>> {
  const scaleOf = scaleIn(s);
  const Category: Record<string, Resolver> = {
    children: async (parent: { id: string }, _a, ctx) => {
      const t = await tree(s, ctx);
      return t.children(parent.id).map((c) => categoryJson(t.placed(c.id)!));
    },
  };

  const Auction: Record<string, Resolver> = {
    // One lookup per distinct category in a request, as GET /api/auctions does per page.
    categoryPath: async (parent: { categoryId: string | null; categoryPath?: unknown }, _a, ctx) => {
      if (parent.categoryPath !== undefined) return parent.categoryPath;
      const categoryId = parent.categoryId;
      if (categoryId === null) return [];
      const path = await memo(ctx, `categoryPath:${categoryId}`, () =>
        s.catalog.categoryPath(categoryId).catch((error: unknown) => {
          // The auction keeps the category it was listed in; if that is gone, it has no path.
          if (error instanceof AppError && error.code === 'NOT_FOUND') return [];
          throw error;
        }),
      );
      return path.map(({ id, name, slug }) => ({ id, name, slug }));
    },
  };

  const Wallet: Record<string, Resolver> = {
    statement: async (parent: { currency: string; [ACCOUNT]?: Account }, args, ctx) => {
      const { limit, cursor } = argsOf(ARGS.page, args);
      const account = parent[ACCOUNT] ?? (await s.ledger.myWallets(ctx.principal)).find((a) => a.currency === parent.currency);
      if (!account) throw new AppError('NOT_FOUND', `you have no open ${parent.currency} wallet`);
      const page = await s.ledger.history(account, { limit, ...(cursor !== undefined && { cursor }) });
      return { items: page.items.map((t) => transferJson(t, account.id, scaleOf(account.currency))), nextCursor: page.nextCursor };
    },
  };

  return { Category, Auction, Wallet };
}

/**
 * No argument may hold U+0000: PostgreSQL text cannot store it, and a GraphQL string literal
 * ("\u0000") slips past the JSON body's own check. Refused before any resolver runs.
 */
function guarded<T extends Record<string, Record<string, Resolver>>>(types: T): T {
  for (const fields of Object.values(types)) {
    for (const [name, resolve] of Object.entries(fields)) {
      fields[name] = (parent, args, ctx) => {
        const field = fieldWithNul(args);
        if (field !== undefined) throw new AppError('VALIDATION', `${field}: must not contain the NUL character (U+0000)`, { errors: [{ in: 'body', field, message: 'must not contain the NUL character (U+0000)' }] });
        return resolve(parent, args, ctx);
      };
    }
  }
  return types;
}
