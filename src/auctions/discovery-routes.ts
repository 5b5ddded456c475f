// HTTP for discovery: GET /api/auctions. The query string is checked here and turned into a
// DiscoveryQuery (ids lower-cased, times in ms, prices in the named currency's minor units);
// discovery.ts runs it. The catalog is reached only through the functions passed in.
import { Type, type Static } from '@sinclair/typebox';
import { requirePrincipal, type Principal } from '../platform/auth/principal.js';
import type { Clock } from '../platform/clock.js';
import { AppError, fieldError } from '../platform/errors.js';
import type { HttpServer } from '../platform/http/server.js';
import { problemResponses, Uuid } from '../platform/http/schemas.js';
import { parseAmount } from '../platform/money.js';
import { PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX } from '../platform/pagination.js';
import { AmountText, CurrencyCode } from '../ledger/routes.js';
import {
  AUCTION_STATUSES,
  cursorPosition,
  discoverAuctions,
  DISCOVERY_SORTS,
  searchWords,
  type AuctionStatus,
  type DiscoveryFilter,
  type DiscoveryQuery,
  type DiscoverySort,
} from './discovery.js';
import { auctionRowJson } from './routes.js';
import type { AuctionRow, AuctionsExecutor, AuctionsStore } from './store.js';

export const SEARCH_TEXT_MAX_LENGTH = 200;
const DEFAULT_STATUSES: AuctionStatus[] = ['scheduled', 'open'];

type PathStep = { id: string; name: string; slug: string };

export interface DiscoveryDeps {
  store: AuctionsStore;
  clock: Clock;
  catalog: {
    /** The category and every category below it; NOT_FOUND when there is no such category. */
    descendantIds(categoryId: string): Promise<string[]>;
    categoryPath(categoryId: string): Promise<PathStep[]>;
  };
  ledger: {
    /** UNKNOWN_CURRENCY when the ledger does not know the code. */
    requireCurrency(code: string, field?: string): Promise<{ code: string; scale: number }>;
    currency(code: string): { scale: number } | undefined;
  };
}

const Iso = Type.String({ format: 'date-time', maxLength: 40, description: 'ISO 8601 date-time with a zone, e.g. 2030-01-31T18:00:00Z' });

const DiscoveryQueryString = Type.Object(
  {
    q: Type.Optional(Type.String({ maxLength: SEARCH_TEXT_MAX_LENGTH, description: 'words to find in the title or description; all must occur, the last may be the start of a word' })),
    category: Type.Optional(Type.Union([Uuid], { description: 'this category and all its subcategories' })),
    status: Type.Optional(
      Type.Array(Type.String({ maxLength: 60 }), {
        maxItems: AUCTION_STATUSES.length,
        description: `${AUCTION_STATUSES.join(', ')}; repeat the parameter or separate by commas (default: scheduled,open)`,
      }),
    ),
    kind: Type.Optional(Type.Union([Type.Literal('timed'), Type.Literal('live')])),
    currency: Type.Optional(CurrencyCode),
    startsAfter: Type.Optional(Type.Union([Iso], { description: 'starts at or after this time' })),
    startsBefore: Type.Optional(Type.Union([Iso], { description: 'starts before this time' })),
    minPrice: Type.Optional(Type.Union([AmountText], { description: 'current price at least this, in `currency` (required with a price)' })),
    maxPrice: Type.Optional(Type.Union([AmountText], { description: 'current price at most this, in `currency` (required with a price)' })),
    sort: Type.Optional(
      Type.Union(
        DISCOVERY_SORTS.map((s) => Type.Literal(s)),
        { description: 'ending_soonest (auctions without an end last), newest, most_bids. Default: ending_soonest; newest when only closed or cancelled auctions are asked for' },
      ),
    ),
    limit: Type.Integer({ minimum: 1, maximum: PAGE_LIMIT_MAX, default: PAGE_LIMIT_DEFAULT }),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 300, description: 'nextCursor of the page before, with the same sort' })),
    sellerId: Type.Optional(Type.Union([Type.Literal('me'), Uuid], { description: "only this seller's auctions; `me` (signed in) for your own" })),
  },
  { additionalProperties: false },
);
type DiscoveryQueryText = Static<typeof DiscoveryQueryString>;

const DiscoveryPage = Type.Object({
  items: Type.Array(Type.Object({}, { additionalProperties: true })),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
  serverTime: Type.String({ format: 'date-time', description: "the server's clock: count down to endsAt from this, not from the browser's clock" }),
  serverTimeMs: Type.Integer(),
});

export function discoveryRoutes(app: HttpServer, deps: DiscoveryDeps): void {
  app.get(
    '/api/auctions',
    {
      schema: {
        tags: ['auctions'],
        summary: 'Find auctions: full-text search, filters (category with its subcategories, status, kind, start window, price in a currency, seller) and sorts, by cursor (public)',
        querystring: DiscoveryQueryString,
        response: { 200: DiscoveryPage, ...problemResponses(400) },
      },
    },
    async (req) => {
      const query = await discoveryQueryOf(req.query, deps, req.principal);
      const nowMs = deps.clock.nowMs();
      // Search tolerates the replicas' lag; a seller's own listings must show what they just listed.
      const ownListings = query.filter.sellerId !== undefined && query.filter.sellerId === req.principal?.userId;
      const reader = ownListings ? deps.store.db : (deps.store.database.replica as unknown as AuctionsExecutor);
      const page = await discoverAuctions(reader, deps.store.database.dialect, query);
      const paths = await categoryPaths(page.items, deps);
      return {
        items: page.items.map((row) => ({
          ...auctionRowJson(row, deps.ledger.currency(row.currency)?.scale ?? 0),
          categoryPath: row.categoryId === null ? [] : (paths.get(row.categoryId) ?? []),
        })),
        nextCursor: page.nextCursor,
        serverTime: new Date(nowMs).toISOString(),
        serverTimeMs: nowMs,
      };
    },
  );
}

/** The query string in the query's terms, or a 400 naming the field at fault (`sellerId=me` signed out: 401). */
export async function discoveryQueryOf(text: DiscoveryQueryText, deps: DiscoveryDeps, caller: Principal | null = null): Promise<DiscoveryQuery> {
  const statuses = text.status === undefined ? DEFAULT_STATUSES : statusesOf(text.status);
  const sort: DiscoverySort = text.sort ?? (statuses.some((s) => s === 'scheduled' || s === 'open') ? 'ending_soonest' : 'newest');
  const filter: DiscoveryFilter = {
    words: searchWords(text.q ?? ''),
    statuses,
    ...(text.kind !== undefined && { kind: text.kind }),
    ...(text.startsAfter !== undefined && { startsFromMs: timeOf('startsAfter', text.startsAfter) }),
    ...(text.startsBefore !== undefined && { startsBeforeMs: timeOf('startsBefore', text.startsBefore) }),
    ...(await priceFilterOf(text, deps)),
    ...(text.sellerId !== undefined && { sellerId: text.sellerId === 'me' ? requirePrincipal(caller).userId : text.sellerId.toLowerCase() }),
  };
  if (text.category !== undefined) filter.categoryIds = await categoryIdsOf(text.category.toLowerCase(), deps);
  return { filter, sort, limit: text.limit, after: text.cursor === undefined ? null : cursorPosition(text.cursor, sort) };
}

function statusesOf(given: string[]): AuctionStatus[] {
  const named = given.flatMap((s) => s.split(',')).map((s) => s.trim());
  const known = new Set<string>(AUCTION_STATUSES);
  const unknown = named.find((s) => !known.has(s));
  if (unknown !== undefined) throw fieldError('VALIDATION', 'query', 'status', `"${unknown}" is not one of ${AUCTION_STATUSES.join(', ')}`);
  return [...new Set(named)] as AuctionStatus[];
}

function timeOf(field: string, text: string): number {
  const ms = Date.parse(text);
  if (!Number.isSafeInteger(ms)) throw fieldError('VALIDATION', 'query', field, 'must be an ISO 8601 date-time, e.g. 2030-01-31T18:00:00Z');
  return ms;
}

/** Prices compare in one currency's minor units, so a price needs its currency. */
async function priceFilterOf(text: DiscoveryQueryText, deps: DiscoveryDeps): Promise<Pick<DiscoveryFilter, 'currency' | 'minPriceMinor' | 'maxPriceMinor'>> {
  const wantsPrice = text.minPrice !== undefined || text.maxPrice !== undefined;
  if (text.currency === undefined) {
    if (wantsPrice) throw fieldError('VALIDATION', 'query', 'currency', 'is required with minPrice or maxPrice: prices compare in one currency');
    return {};
  }
  const currency = await deps.ledger.requireCurrency(text.currency).catch((error: unknown) => {
    if (error instanceof AppError && error.code === 'UNKNOWN_CURRENCY') throw fieldError('UNKNOWN_CURRENCY', 'query', 'currency', 'is not a known currency or asset');
    throw error;
  });
  const price = (field: 'minPrice' | 'maxPrice', amount: string | undefined) => {
    if (amount === undefined) return undefined;
    const parsed = parseAmount(amount, currency.scale);
    if (parsed.ok) return parsed.minor;
    if (parsed.error === 'AMOUNT_NOT_POSITIVE') return 0n; // "at least 0.00" is a fair thing to ask
    throw fieldError('VALIDATION', 'query', field, parsed.reason);
  };
  const minPriceMinor = price('minPrice', text.minPrice);
  const maxPriceMinor = price('maxPrice', text.maxPrice);
  if (minPriceMinor !== undefined && maxPriceMinor !== undefined && minPriceMinor > maxPriceMinor) throw fieldError('VALIDATION', 'query', 'maxPrice', 'must not be below minPrice');
  return {
    currency: currency.code,
    ...(minPriceMinor !== undefined && { minPriceMinor }),
    ...(maxPriceMinor !== undefined && { maxPriceMinor }),
  };
}

async function categoryIdsOf(categoryId: string, deps: DiscoveryDeps): Promise<string[]> {
  return deps.catalog.descendantIds(categoryId).catch((error: unknown) => {
    if (error instanceof AppError && error.code === 'NOT_FOUND') throw fieldError('VALIDATION', 'query', 'category', `there is no category ${categoryId}`);
    throw error;
  });
}

/** One lookup per distinct category on the page (at most `limit`), not one per auction. */
async function categoryPaths(rows: readonly AuctionRow[], deps: DiscoveryDeps): Promise<Map<string, PathStep[]>> {
  const ids = [...new Set(rows.flatMap((r) => (r.categoryId === null ? [] : [r.categoryId])))];
  const paths = await Promise.all(
    ids.map((id) =>
      deps.catalog.categoryPath(id).then(
        (path) => path.map(({ id: stepId, name, slug }) => ({ id: stepId, name, slug })),
        (error: unknown) => {
          // The auction keeps the category it was listed in; if that is gone, it has no path.
          if (error instanceof AppError && error.code === 'NOT_FOUND') return [];
          throw error;
        },
      ),
    ),
  );
  return new Map(ids.map((id, i) => [id, paths[i]!]));
}
