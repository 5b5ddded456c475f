// The watchlist's tables: who watches which auction, and the notices watchers were sent. Reads
// join the auctions module's own projection (auctions_auctions), never another module's tables.
import type { Kysely } from 'kysely';
import { toNumber, type Database } from '../platform/db/database.js';
import { toAuctionRow, type AuctionRow, type AuctionsTables } from './store.js';

type Int = bigint | number;

interface WatchesTable {
  user_id: string;
  auction_id: string;
  watched_at_ms: Int;
}

interface WatchNoticesTable {
  auction_id: string;
  user_id: string;
  kind: string;
  sent_at_ms: Int;
}

export interface WatchlistTables extends AuctionsTables {
  auctions_watches: WatchesTable;
  auctions_watch_notices: WatchNoticesTable;
}

export type WatchlistExecutor = Kysely<WatchlistTables>;

/** The notices a watcher can be sent, each at most once per auction. */
export type WatchNoticeKind = 'starting_soon';

export interface WatchedAuction {
  auction: AuctionRow;
  watchedAtMs: number;
}

/** Where a page of a watchlist starts: strictly after this watch, newest first. */
export interface WatchKey {
  watchedAtMs: number;
  auctionId: string;
}

/** A watcher who has not yet been told that a scheduled auction starts soon. */
export interface StartingSoonCandidate {
  auctionId: string;
  userId: string;
  title: string;
  kind: AuctionRow['kind'];
  currency: string;
  startingPriceMinor: bigint;
  startsAtMs: number;
}

export class WatchlistStore {
  readonly db: WatchlistExecutor;

  constructor(readonly database: Database) {
    this.db = database.kysely as unknown as WatchlistExecutor;
  }

  /** When `userId` started watching the auction; undefined when they do not watch it. */
  async watchedAt(ex: WatchlistExecutor, userId: string, auctionId: string): Promise<number | undefined> {
    const row = await ex.selectFrom('auctions_watches').select('watched_at_ms').where('user_id', '=', userId).where('auction_id', '=', auctionId).executeTakeFirst();
    return row === undefined ? undefined : toNumber(row.watched_at_ms);
  }

  async count(ex: WatchlistExecutor, userId: string): Promise<number> {
    const row = await ex
      .selectFrom('auctions_watches')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('user_id', '=', userId)
      .executeTakeFirstOrThrow();
    return toNumber(row.n as Int);
  }

  /** Adds the watch unless it exists (the first time stays). */
  async insert(ex: WatchlistExecutor, userId: string, auctionId: string, nowMs: number): Promise<void> {
    await ex
      .insertInto('auctions_watches')
      .values({ user_id: userId, auction_id: auctionId, watched_at_ms: nowMs })
      .onConflict((oc) => oc.columns(['user_id', 'auction_id']).doNothing())
      .execute();
  }

  async remove(ex: WatchlistExecutor, userId: string, auctionId: string): Promise<void> {
    await ex.deleteFrom('auctions_watches').where('user_id', '=', userId).where('auction_id', '=', auctionId).execute();
  }

  /** Up to `limit` watched auctions, newest watch first, strictly after `after`. */
  async page(ex: WatchlistExecutor, userId: string, after: WatchKey | null, limit: number): Promise<WatchedAuction[]> {
    let q = ex
      .selectFrom('auctions_watches as w')
      .innerJoin('auctions_auctions as a', 'a.id', 'w.auction_id')
      .selectAll('a')
      .select('w.watched_at_ms')
      .where('w.user_id', '=', userId);
    if (after !== null) q = q.where((eb) => eb(eb.refTuple('w.watched_at_ms', 'w.auction_id'), '<', eb.tuple(after.watchedAtMs, after.auctionId)));
    const rows = await q.orderBy('w.watched_at_ms', 'desc').orderBy('w.auction_id', 'desc').limit(limit).execute();
    return rows.map(({ watched_at_ms, ...auction }) => ({ auction: toAuctionRow(auction), watchedAtMs: toNumber(watched_at_ms) }));
  }

  /** The ids of up to `limit` auctions the person watches, newest watch first. */
  async auctionIds(ex: WatchlistExecutor, userId: string, limit: number): Promise<string[]> {
    const rows = await ex.selectFrom('auctions_watches').select('auction_id').where('user_id', '=', userId).orderBy('watched_at_ms', 'desc').orderBy('auction_id', 'desc').limit(limit).execute();
    return rows.map((r) => r.auction_id);
  }

  /**
   * Watchers of scheduled auctions starting in (fromMs, toMs] who have no starting-soon notice
   * yet, soonest start first.
   */
  async startingSoonCandidates(ex: WatchlistExecutor, window: { fromMs: number; toMs: number }, limit: number): Promise<StartingSoonCandidate[]> {
    const rows = await ex
      .selectFrom('auctions_auctions as a')
      .innerJoin('auctions_watches as w', 'w.auction_id', 'a.id')
      .select(['a.id', 'w.user_id', 'a.title', 'a.kind', 'a.currency', 'a.starting_price_minor', 'a.starts_at_ms'])
      .where('a.status', '=', 'scheduled')
      .where('a.starts_at_ms', '>', window.fromMs)
      .where('a.starts_at_ms', '<=', window.toMs)
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('auctions_watch_notices as n')
              .select('n.auction_id')
              .whereRef('n.auction_id', '=', 'a.id')
              .whereRef('n.user_id', '=', 'w.user_id')
              .where('n.kind', '=', 'starting_soon'),
          ),
        ),
      )
      .orderBy('a.starts_at_ms')
      .orderBy('a.id')
      .orderBy('w.user_id')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      auctionId: r.id,
      userId: r.user_id,
      title: r.title,
      kind: r.kind as AuctionRow['kind'],
      currency: r.currency,
      startingPriceMinor: BigInt(r.starting_price_minor),
      startsAtMs: toNumber(r.starts_at_ms),
    }));
  }

  /**
   * Records that `userId` was sent a notice of `kind` about the auction. False when it was
   * recorded already (another sweep, here or on another node, got there first): then the
   * caller must not send it. On PostgreSQL a concurrent insert of the same key waits for the
   * first to commit, then finds it.
   */
  async claimNotice(tx: WatchlistExecutor, notice: { auctionId: string; userId: string; kind: WatchNoticeKind; nowMs: number }): Promise<boolean> {
    const inserted = await tx
      .insertInto('auctions_watch_notices')
      .values({ auction_id: notice.auctionId, user_id: notice.userId, kind: notice.kind, sent_at_ms: notice.nowMs })
      .onConflict((oc) => oc.columns(['auction_id', 'user_id', 'kind']).doNothing())
      .returning('auction_id')
      .executeTakeFirst();
    return inserted !== undefined;
  }
}
