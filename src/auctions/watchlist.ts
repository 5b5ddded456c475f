// The watchlist: people mark auctions to follow, list them, and hear once, a set time before a
// watched auction starts, that it is about to (the `auctions.watch.starting_soon` event, which
// the notifications module turns into an `auction_starting` notification).
//
// "Once per (auction, watcher)" rests on one row: a sweep claims the notice
// (auctions_watch_notices, unique on auction, watcher and kind) and appends the event in the
// same transaction (the outbox, DESIGN rule 5). A second sweep, a restart, another node
// sweeping at the same moment, or unwatching and watching again all find the claim and send
// nothing; a crash before the commit leaves neither, and the next sweep sends it.
import type { Clock } from '../platform/clock.js';
import { requirePrincipal, type Principal } from '../platform/auth/principal.js';
import { AppError, fieldError } from '../platform/errors.js';
import { isUuid } from '../platform/ids.js';
import type { Logger } from '../platform/logging.js';
import { formatAmount } from '../platform/money.js';
import type { EventPublisher } from '../platform/outbox/bus.js';
import type { NewEvent } from '../platform/outbox/outbox.js';
import { decodeCursor, pageOf, type Page } from '../platform/pagination.js';
import type { AuctionsStore } from './store.js';
import type { StartingSoonCandidate, WatchedAuction, WatchKey, WatchlistStore } from './watchlist-store.js';

/** Auctions one person may watch at once. */
export const WATCHLIST_MAX = 500;
/** How often a worker looks for watched auctions entering the starting-soon window. */
export const STARTING_SOON_SWEEP_INTERVAL_MS = 5_000;
/** Notices claimed per transaction; a sweep takes at most SWEEP_ROUNDS_MAX of them and the next tick the rest. */
const SWEEP_BATCH = 200;
const SWEEP_ROUNDS_MAX = 50;

export const STARTING_SOON_TOPIC = 'auctions.watch.starting_soon';

export interface WatchState {
  auctionId: string;
  /** null: not watching. */
  watchedAtMs: number | null;
}

export interface WatchlistDeps {
  store: WatchlistStore;
  auctions: AuctionsStore;
  events: EventPublisher;
  clock: Clock;
  logger: Logger;
  /** How long before its start a watcher is told that an auction starts; 0: never. */
  startingSoonMs: number;
  scaleOf(currency: string): number;
}

export class WatchlistService {
  private sweeping: Promise<number> | undefined;
  private stopped = false;

  constructor(private readonly d: WatchlistDeps) {}

  /** Watches the auction; watching it again changes nothing (the first time stays). */
  async watch(caller: Principal | null, rawAuctionId: string): Promise<WatchState & { watchedAtMs: number }> {
    const me = requirePrincipal(caller);
    const auctionId = await this.existing(rawAuctionId);
    const { store } = this.d;
    const watchedAtMs = await store.db.transaction().execute(async (tx) => {
      const earlier = await store.watchedAt(tx, me.userId, auctionId);
      if (earlier !== undefined) return earlier;
      if ((await store.count(tx, me.userId)) >= WATCHLIST_MAX) {
        throw new AppError('WATCHLIST_FULL', `your watchlist holds ${WATCHLIST_MAX} auctions already: unwatch one (DELETE /api/auctions/{id}/watch) to watch another`);
      }
      await store.insert(tx, me.userId, auctionId, this.d.clock.nowMs());
      // A concurrent request of the same person may have inserted first: its time is the one kept.
      return (await store.watchedAt(tx, me.userId, auctionId))!;
    });
    return { auctionId, watchedAtMs };
  }

  /** Stops watching; not watching it already is fine. */
  async unwatch(caller: Principal | null, rawAuctionId: string): Promise<void> {
    const me = requirePrincipal(caller);
    const auctionId = await this.existing(rawAuctionId);
    await this.d.store.remove(this.d.store.db, me.userId, auctionId);
  }

  async state(caller: Principal | null, rawAuctionId: string): Promise<WatchState> {
    const me = requirePrincipal(caller);
    const auctionId = await this.existing(rawAuctionId);
    return { auctionId, watchedAtMs: (await this.d.store.watchedAt(this.d.store.db, me.userId, auctionId)) ?? null };
  }

  /** The caller's watched auctions, the latest watched first. */
  async list(caller: Principal | null, query: { limit: number; cursor?: string | undefined }): Promise<Page<WatchedAuction>> {
    const me = requirePrincipal(caller);
    const after = query.cursor === undefined ? null : watchKeyOf(decodeCursor(query.cursor, (k) => watchKeyOf(k) !== null));
    const rows = await this.d.store.page(this.d.store.db, me.userId, after, query.limit + 1);
    return pageOf(rows, query.limit, (w) => `${w.watchedAtMs}~${w.auction.id}`);
  }

  /** Every auction the caller watches (at most WATCHLIST_MAX), for marking stars on lists. */
  async auctionIds(caller: Principal | null): Promise<string[]> {
    const me = requirePrincipal(caller);
    return this.d.store.auctionIds(this.d.store.db, me.userId, WATCHLIST_MAX);
  }

  private async existing(rawAuctionId: string): Promise<string> {
    const auctionId = rawAuctionId.toLowerCase();
    if (!(await this.d.auctions.findAuction(this.d.auctions.db, auctionId))) throw fieldError('NOT_FOUND', 'params', 'id', `there is no auction ${auctionId}`);
    return auctionId;
  }

  // --- starting soon ----------------------------------------------------------------------------

  /**
   * Tells every watcher of a scheduled auction that starts within the lead time, and was not
   * told yet, that it starts soon. One sweep at a time per node; resolves with how many
   * notices this sweep sent.
   */
  sweepStartingSoon(): Promise<number> {
    if (this.stopped || this.d.startingSoonMs <= 0) return Promise.resolve(0);
    this.sweeping ??= this.sweepOnce().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  /** No sweep starts after this; the one in flight finishes. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.sweeping?.catch(() => 0);
  }

  private async sweepOnce(): Promise<number> {
    const { store, events } = this.d;
    let sent = 0;
    for (let round = 0; round < SWEEP_ROUNDS_MAX; round++) {
      const nowMs = this.d.clock.nowMs();
      // Auctions whose start has passed are not "starting soon": the engine is opening them.
      const candidates = await store.startingSoonCandidates(store.db, { fromMs: nowMs, toMs: nowMs + this.d.startingSoonMs }, SWEEP_BATCH);
      if (candidates.length === 0) break;
      const claimed = await store.db.transaction().execute(async (tx) => {
        let count = 0;
        for (const c of candidates) {
          if (!(await store.claimNotice(tx, { auctionId: c.auctionId, userId: c.userId, kind: 'starting_soon', nowMs }))) continue;
          await events.append(tx, startingSoonEvent(c, this.d.scaleOf(c.currency)));
          count += 1;
        }
        return count;
      });
      if (claimed > 0) events.poke();
      sent += claimed;
      if (candidates.length < SWEEP_BATCH) break;
    }
    if (sent > 0) this.d.logger.debug({ sent }, 'starting-soon notices sent to watchers');
    return sent;
  }
}

/** The event one watcher's notice is made from. Amounts as decimal strings, times as ISO 8601. */
export function startingSoonEvent(c: StartingSoonCandidate, scale: number): NewEvent {
  return {
    topic: STARTING_SOON_TOPIC,
    key: c.userId,
    payload: {
      auctionId: c.auctionId,
      userId: c.userId,
      title: c.title,
      kind: c.kind,
      startsAt: new Date(c.startsAtMs).toISOString(),
      startingPrice: formatAmount(c.startingPriceMinor, scale),
      currency: c.currency,
    },
  };
}

const WATCH_KEY = /^(\d{1,16})~([0-9a-f-]{36})$/;

function watchKeyOf(text: string): WatchKey | null {
  const match = WATCH_KEY.exec(text);
  if (!match || !isUuid(match[2]!)) return null;
  const watchedAtMs = Number(match[1]);
  return Number.isSafeInteger(watchedAtMs) ? { watchedAtMs, auctionId: match[2]! } : null;
}
