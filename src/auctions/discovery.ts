// Discovery: finding auctions by text, category, state, kind, start window and price, in one of
// three orders, a page at a time. Reads only the auctions module's own projection
// (auctions_auctions) and its full-text index; the category tree arrives as a list of ids.
//
// Paging is keyset: each page starts strictly after the (sort value, id) of the last row of the
// one before, so rows that share a sort value are neither skipped nor repeated. There is no
// relevance order: a text score shifts as the index grows, which would break that promise; a
// search filters, and the chosen order sorts.
import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import type { Dialect } from '../platform/db/database.js';
import { fieldError } from '../platform/errors.js';
import { isUuid } from '../platform/ids.js';
import { decodeCursor, pageOf, type Page } from '../platform/pagination.js';
import { toAuctionRow, type AuctionRow, type AuctionsExecutor, type AuctionsTables } from './store.js';

export const DISCOVERY_SORTS = ['ending_soonest', 'newest', 'most_bids'] as const;
export type DiscoverySort = (typeof DISCOVERY_SORTS)[number];

export const AUCTION_STATUSES = ['scheduled', 'open', 'closed', 'cancelled'] as const;
export type AuctionStatus = (typeof AUCTION_STATUSES)[number];

/** What a search asks for; every field but `statuses` is optional and narrows the result. */
export interface DiscoveryFilter {
  /** Words every auction must contain (title or description); the last may be the start of a word. */
  words: string[];
  /** The category and its subcategories; an auction in any of them matches. */
  categoryIds?: string[];
  statuses: AuctionStatus[];
  kind?: 'timed' | 'live';
  currency?: string;
  /** starts_at in [startsFromMs, startsBeforeMs). */
  startsFromMs?: number;
  startsBeforeMs?: number;
  /** The current price (the starting price before the first bid), inclusive, in `currency`'s minor units. */
  minPriceMinor?: bigint;
  maxPriceMinor?: bigint;
  /** Only this seller's auctions (My listings). */
  sellerId?: string;
}

/** Where a page starts: strictly after this row in the sort's order. */
export interface SortKey {
  /** ends_at_ms, created_at_ms or bid_count; null only for an auction without an end (live). */
  value: number | null;
  id: string;
}

export interface DiscoveryQuery {
  filter: DiscoveryFilter;
  sort: DiscoverySort;
  after: SortKey | null;
  limit: number;
}

// --- text: user input in, a query the index cannot choke on out ------------------------------

/** Characters that make a word; everything else (quotes, `*`, `-`, brackets…) separates words. */
const WORD = /[\p{L}\p{N}\p{M}]+/gu;
const HAS_LETTER_OR_DIGIT = /[\p{L}\p{N}]/u;

/**
 * The words of a search box, in order. Only letters, digits and combining marks survive, so
 * no operator of either engine's query syntax can reach it: `NEAR(`, `"`, `-x` and `' or 1=1`
 * are just the words they contain.
 */
export function searchWords(text: string): string[] {
  return (text.normalize('NFC').match(WORD) ?? []).filter((w) => HAS_LETTER_OR_DIGIT.test(w));
}

/** SQLite FTS5: every word quoted (a string, never syntax), all required, the last as a prefix. */
export function fts5Query(words: readonly string[]): string {
  return words.map((w, i) => `"${w.replaceAll('"', '""')}"${i === words.length - 1 ? ' *' : ''}`).join(' ');
}

/** PostgreSQL to_tsquery: the words ANDed, the last as a prefix (`:*`). */
export function tsQuery(words: readonly string[]): string {
  return words.map((w, i) => `${w.toLowerCase()}${i === words.length - 1 ? ':*' : ''}`).join(' & ');
}

type AuctionsEb = ExpressionBuilder<AuctionsTables, 'auctions_auctions'>;

/** The one place the two engines' full-text search differs. */
const TEXT_MATCH: Record<Dialect, (eb: AuctionsEb, words: readonly string[]) => Expression<SqlBool>> = {
  sqlite: (eb, words) => eb('id', 'in', eb.selectFrom('auctions_search').select('auction_id').where(sql<SqlBool>`auctions_search match ${fts5Query(words)}`)),
  // `search` is the generated tsvector column ('simple' configuration) with its GIN index.
  postgres: (_eb, words) => sql<SqlBool>`search @@ to_tsquery('simple', ${tsQuery(words)})`,
};

// --- the query ---------------------------------------------------------------------------------

function filterConditions(eb: AuctionsEb, dialect: Dialect, f: DiscoveryFilter): Expression<SqlBool>[] {
  const all: Expression<SqlBool>[] = [eb('status', 'in', f.statuses)];
  if (f.words.length > 0) all.push(TEXT_MATCH[dialect](eb, f.words));
  if (f.categoryIds !== undefined) all.push(eb('category_id', 'in', f.categoryIds));
  if (f.kind !== undefined) all.push(eb('kind', '=', f.kind));
  if (f.currency !== undefined) all.push(eb('currency', '=', f.currency));
  if (f.startsFromMs !== undefined) all.push(eb('starts_at_ms', '>=', f.startsFromMs));
  if (f.startsBeforeMs !== undefined) all.push(eb('starts_at_ms', '<', f.startsBeforeMs));
  if (f.minPriceMinor !== undefined) all.push(eb('current_price_minor', '>=', f.minPriceMinor));
  if (f.maxPriceMinor !== undefined) all.push(eb('current_price_minor', '<=', f.maxPriceMinor));
  if (f.sellerId !== undefined) all.push(eb('seller_id', '=', f.sellerId));
  return all;
}

/** Rows strictly after `after` in the sort's order. */
function afterCondition(eb: AuctionsEb, sort: DiscoverySort, after: SortKey): Expression<SqlBool> {
  switch (sort) {
    case 'ending_soonest':
      // Auctions without an end come last, among themselves by id.
      if (after.value === null) return eb.and([eb('ends_at_ms', 'is', null), eb('id', '>', after.id)]);
      return eb.or([eb('ends_at_ms', 'is', null), eb(eb.refTuple('ends_at_ms', 'id'), '>', eb.tuple(after.value, after.id))]);
    case 'newest':
      return eb(eb.refTuple('created_at_ms', 'id'), '<', eb.tuple(after.value ?? 0, after.id));
    case 'most_bids':
      return eb(eb.refTuple('bid_count', 'id'), '<', eb.tuple(after.value ?? 0, after.id));
  }
}

/** One page of auctions matching the filter, in the sort's order. */
export async function discoverAuctions(ex: AuctionsExecutor, dialect: Dialect, query: DiscoveryQuery): Promise<Page<AuctionRow>> {
  const { filter, sort, after, limit } = query;
  let select = ex
    .selectFrom('auctions_auctions')
    .selectAll()
    .where((eb) => eb.and([...filterConditions(eb, dialect, filter), ...(after === null ? [] : [afterCondition(eb, sort, after)])]));
  switch (sort) {
    case 'ending_soonest':
      // NULLS LAST is PostgreSQL's own order for ascending btrees, so its (status, ends_at_ms, id) index serves it.
      select = select.orderBy('ends_at_ms', (ob) => ob.asc().nullsLast()).orderBy('id');
      break;
    case 'newest':
      select = select.orderBy('created_at_ms', 'desc').orderBy('id', 'desc');
      break;
    case 'most_bids':
      select = select.orderBy('bid_count', 'desc').orderBy('id', 'desc');
      break;
  }
  const rows = (await select.limit(limit + 1).execute()).map(toAuctionRow);
  return pageOf(rows, limit, (row) => cursorKey(sort, sortKeyOf(sort, row)));
}

export function sortKeyOf(sort: DiscoverySort, row: AuctionRow): SortKey {
  const value = sort === 'ending_soonest' ? row.endsAtMs : sort === 'newest' ? row.createdAtMs : row.bidCount;
  return { value, id: row.id };
}

// --- cursors: the sort's name, its value and the id --------------------------------------------

const KEY_PATTERN = /^(ending_soonest|newest|most_bids)~(-?\d{1,16}|)~([0-9a-f-]{36})$/;

function cursorKey(sort: DiscoverySort, key: SortKey): string {
  return `${sort}~${key.value ?? ''}~${key.id}`;
}

function parseKey(text: string): { sort: DiscoverySort; key: SortKey } | undefined {
  const match = KEY_PATTERN.exec(text);
  if (!match || !isUuid(match[3]!)) return undefined;
  const sort = match[1] as DiscoverySort;
  const value = match[2] === '' ? null : Number(match[2]);
  if (value !== null && !Number.isSafeInteger(value)) return undefined;
  if (value === null && sort !== 'ending_soonest') return undefined; // only an end time may be missing
  return { sort, key: { value, id: match[3]! } };
}

/** The position a cursor names, for this sort; a cursor that is not ours, or from another sort, is a 400. */
export function cursorPosition(cursor: string, sort: DiscoverySort): SortKey {
  const parsed = parseKey(decodeCursor(cursor, (k) => parseKey(k) !== undefined))!;
  if (parsed.sort !== sort) throw fieldError('VALIDATION', 'query', 'cursor', `was given out for sort=${parsed.sort}, not sort=${sort}; start again without a cursor`);
  return parsed.key;
}
