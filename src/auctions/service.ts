// Auctions use cases: create an auction for a lot, read its page, join, bid, buy now, the
// auctioneer's console, cancel, the replay and statistics. Every command goes through the
// engine (the auction's one writer); this layer checks who is calling and turns API input
// (decimal strings, ISO times) into the model's terms (minor units, ms).
import { AppError, fieldError } from '../platform/errors.js';
import { isAdmin, requirePrincipal, type Principal } from '../platform/auth/principal.js';
import type { Clock } from '../platform/clock.js';
import { uuidv7 } from '../platform/ids.js';
import { parseAmount } from '../platform/money.js';
import type { LedgerService } from '../ledger/service.js';
import type { CatalogService, LotSummary } from '../catalog/service.js';
import { verifyChain, type ChainEntry } from '../platform/journal/hash-chain.js';
import { AUCTION_MARKET, AuctionEngine, AuctionRejected, eventOf } from './engine.js';
import type { MarketRouter } from '../cluster/market-router.js';
import {
  bidderView,
  checkInvariants,
  configFrom,
  defaultIncrements,
  evolve,
  initialState,
  nextIncrements,
  publicEventOf,
  publicView,
  replay,
  type AuctionCommand,
  type AuctionEvent,
  type AuctionKind,
  type AuctionState,
  type BidderView,
  type IncrementBand,
  type PublicView,
  type RoomEvent,
} from './model.js';
import type { AuctionRow, AuctionsStore } from './store.js';

export interface NewAuction {
  lotId: string;
  kind: AuctionKind;
  currency: string;
  startingPrice: string;
  reserve?: string | null;
  buyNow?: string | null;
  increments?: Array<{ from: string; increment: string }> | null;
  minReputation?: number;
  startsAt: string;
  endsAt?: string | null;
  softCloseSeconds?: number;
  auctioneerId?: string | null;
  clerkIds?: string[];
}

export interface AuctionPage {
  auction: AuctionRow;
  lot: LotSummary;
  view: PublicView;
  /** The next one-tap bid amounts (minor units). */
  nextBidsMinor: bigint[];
  /** The caller's own standing, when signed in. */
  me: BidderView | null;
  /** The caller's part in running a live sale: what the console lets them do. */
  staffRole: StaffRole | null;
  serverTimeMs: number;
}

/** Who runs a live sale: the auctioneer does everything; a clerk enters floor bids and chats. */
export type StaffRole = 'auctioneer' | 'clerk';

/** A live sale someone may run from the console, as the room sees it now. */
export interface ConsoleSale {
  auction: AuctionRow;
  view: PublicView;
  role: StaffRole;
}

/** The console lists at most this many sales (open ones first, then by start time). */
export const CONSOLE_SALES_MAX = 100;

export interface ReplayEntry {
  seq: number;
  atMs: number;
  type: string;
  event: unknown;
  prevHash: string;
  hash: string;
  payload: string;
}

export interface AuctionReplay {
  auctionId: string;
  /** full: the journal itself, hash-chained and checkable offline; room: what the room saw. */
  view: 'full' | 'room';
  recordingUrl: string | null;
  entries: ReplayEntry[];
  lastHash: string | null;
}

/** What a command for an auction answers, on whichever node it ran: its events and the views after it. */
export interface CommandAnswer {
  events: AuctionEvent[];
  /** The room's view once the command committed (null once the auction has left the engine). */
  view: PublicView | null;
  /** The viewer's standing, when the command named one. */
  me: BidderView | null;
}

/** The auctions' operations on the engine that owns the auction (src/cluster/market-router.ts). */
export const AUCTION_COMMAND = 'auction.command';
export const AUCTION_CREATE = 'auction.create';
/** Reads answered by the owner from memory (AuctionsService.atOwner). */
export const AUCTION_STANDING = 'auction.standing';
export const AUCTION_CATCH_UP = 'auction.catchUp';

/** The live part of an auction's page. */
export interface LiveStanding {
  view: PublicView;
  nextBidsMinor: bigint[];
  me: BidderView | null;
  staffRole: StaffRole | null;
}

/** A WebSocket subscriber's start: a snapshot, or the room's events after `fromSeq`. */
export interface RoomCatchUp {
  snapshot?: PublicView;
  seq: number;
  events: Array<{ seq: number; event: RoomEvent }>;
}

/**
 * Registers what runs on the engine: a command for a running auction, and creating one (on
 * any engine, which then owns it). In one process both simply run here.
 */
export function registerAuctionOperations(router: MarketRouter, engine: AuctionEngine): void {
  router.register(AUCTION_COMMAND, async (_market, args) => {
    const { auctionId, command, viewer } = args as { auctionId: string; command: AuctionCommand; viewer: string | null };
    const events = await engine.submit(auctionId, command);
    const state = engine.stateOf(auctionId);
    return { events, view: engine.viewOf(auctionId) ?? null, me: viewer !== null && state ? bidderView(state, viewer) : null } satisfies CommandAnswer;
  });
  router.register(AUCTION_CREATE, async (_market, args) => {
    const { row, command } = args as { row: AuctionRow; command: Extract<AuctionCommand, { type: 'create' }> };
    await engine.create(row, command);
    return null;
  });
}

export class AuctionsService {
  constructor(
    private readonly engine: AuctionEngine,
    private readonly router: MarketRouter,
    private readonly store: AuctionsStore,
    private readonly ledger: LedgerService,
    private readonly catalog: CatalogService,
    private readonly reputationOf: (userId: string) => Promise<number | undefined>,
    private readonly clock: Clock,
  ) {}

  // --- creating -------------------------------------------------------------------------------

  async create(caller: Principal | null, input: NewAuction): Promise<AuctionPage> {
    const me = requirePrincipal(caller);
    const lot = await this.catalog.lotSummary(input.lotId).catch((error: unknown) => {
      if (error instanceof AppError && error.code === 'NOT_FOUND') throw fieldError('NOT_FOUND', 'body', 'lotId', `no lot ${input.lotId}`);
      throw error;
    });
    if (lot.sellerId !== me.userId && !isAdmin(me)) throw fieldError('FORBIDDEN', 'body', 'lotId', 'only the seller of a lot may auction it');
    const currency = await this.ledger.requireCurrency(input.currency);
    const money = (field: string, text: string) => minorIn(field, text, currency.scale, currency.code);
    const time = (field: string, text: string) => {
      const ms = Date.parse(text);
      if (!Number.isFinite(ms) || !/^\d{4}-\d\d-\d\dT/.test(text)) throw fieldError('VALIDATION', 'body', field, 'must be an ISO 8601 date-time, e.g. 2030-01-31T18:00:00Z');
      return ms;
    };
    const nowMs = this.clock.nowMs();
    const id = uuidv7(nowMs);
    const increments: IncrementBand[] | null = input.increments
      ? // The first band starts from 0, which an amount (positive) cannot be.
        input.increments.map((band, i) => ({ fromMinor: /^0(\.0+)?$/.test(band.from) ? 0n : money(`increments.${i}.from`, band.from), incrementMinor: money(`increments.${i}.increment`, band.increment) }))
      : null;
    const config = {
      auctionId: id,
      lotId: lot.id,
      sellerId: lot.sellerId,
      kind: input.kind,
      currency: currency.code,
      currencyScale: currency.scale,
      startingPriceMinor: money('startingPrice', input.startingPrice),
      reserveMinor: input.reserve == null ? null : money('reserve', input.reserve),
      buyNowMinor: input.buyNow == null ? null : money('buyNow', input.buyNow),
      increments,
      startsAtMs: time('startsAt', input.startsAt),
      endsAtMs: input.endsAt == null ? null : time('endsAt', input.endsAt),
      ...(input.minReputation !== undefined && { minReputation: input.minReputation }),
      ...(input.softCloseSeconds !== undefined && { softCloseSeconds: input.softCloseSeconds }),
      ...(input.auctioneerId !== undefined && { auctioneerId: input.auctioneerId }),
      ...(input.clerkIds !== undefined && { clerkIds: input.clerkIds }),
    };
    const checked = configFrom(config);
    if ('code' in checked) throw new AuctionRejected(checked);
    if (checked.auctioneerId !== null && !(await this.reputationOf(checked.auctioneerId).then((r) => r !== undefined))) {
      throw fieldError('VALIDATION', 'body', 'auctioneerId', 'is not a user');
    }
    // The lot is frozen while it is auctioned: bidders bid on what they saw.
    await this.catalog.lockLot(lot.id, `auction:${id}`);
    const row: AuctionRow = {
      id,
      lotId: lot.id,
      sellerId: lot.sellerId,
      kind: checked.kind,
      currency: currency.code,
      categoryId: lot.categoryId,
      title: lot.title,
      description: lot.description,
      startingPriceMinor: checked.startingPriceMinor,
      startsAtMs: checked.startsAtMs,
      settledAtMs: null,
      recordingUrl: null,
      createdAtMs: nowMs,
      // filled in by the engine from the first event
      status: 'scheduled',
      outcome: null,
      currentPriceMinor: checked.startingPriceMinor,
      bidCount: 0,
      participantCount: 0,
      reserveMet: false,
      endsAtMs: checked.endsAtMs,
      closedAtMs: null,
      seq: 0,
      lastHash: '',
      winnerId: null,
    };
    try {
      await this.router.callAny(AUCTION_CREATE, { row, command: { type: 'create', config } });
    } catch (error) {
      await this.catalog.unlockLot(lot.id, `auction:${id}`).catch(() => {});
      if (this.store.database.isUniqueViolation(error)) throw fieldError('AUCTION_EXISTS', 'body', 'lotId', 'this lot already has a scheduled or open auction');
      throw error;
    }
    return this.page(caller, id);
  }

  // --- reading --------------------------------------------------------------------------------

  async page(caller: Principal | null, auctionId: string): Promise<AuctionPage> {
    const nowMs = this.clock.nowMs();
    const row = this.engine.rowOf(auctionId) ?? (await this.store.findAuction(this.store.db, auctionId));
    if (!row) throw new AppError('NOT_FOUND', `no auction ${auctionId}`);
    const live = (await this.atOwner<LiveStanding>(row, AUCTION_STANDING, { auctionId, viewer: caller?.userId ?? null })) ?? (await this.standingHere(row, caller?.userId ?? null));
    const view = live.view;
    const timeLeftMs = view.endsAtMs === null || view.status !== 'open' ? null : Math.max(0, view.endsAtMs - nowMs);
    return {
      auction: row,
      lot: await this.catalog.lotSummary(row.lotId),
      view: { ...view, timeLeftMs },
      // Arrays of bigints cross NATS as strings (only `…Minor` fields are read back as bigints).
      nextBidsMinor: live.nextBidsMinor.map((v) => BigInt(v)),
      me: live.me,
      staffRole: live.staffRole,
      serverTimeMs: nowMs,
    };
  }

  /** What a page shows of the live auction, from this node's engine or the journal. */
  async standingHere(row: AuctionRow, viewer: string | null): Promise<LiveStanding> {
    const state = await this.stateOf(row);
    const view = this.engine.viewOf(row.id) ?? publicView(state, this.clock.nowMs());
    return {
      view,
      nextBidsMinor: state.status === 'open' ? nextIncrements(state, 3) : [],
      me: viewer ? bidderView(state, viewer) : null,
      staffRole: viewer ? staffRoleOf(state, viewer) : null,
    };
  }

  /**
   * Scaled out, a read of a running auction held by another engine is answered from that
   * engine's memory: replaying the whole journal from storage on every page view and every
   * WebSocket subscribe would cost the api node more than the answer is worth. Undefined when
   * this node should answer itself: one process, the auction held here, over, or no owner now.
   */
  private async atOwner<T>(row: AuctionRow, operation: string, args: unknown): Promise<T | undefined> {
    if (!this.router.distributed || this.engine.rowOf(row.id) || (row.status !== 'scheduled' && row.status !== 'open')) return undefined;
    try {
      return await this.router.call<T>(`${AUCTION_MARKET}.${row.id}`, operation, args);
    } catch (error) {
      if (error instanceof AppError && (error.code === 'NOT_READY' || error.code === 'NOT_FOUND')) return undefined;
      throw error;
    }
  }

  /** In memory while it runs; rebuilt from the journal once it is over. */
  private async stateOf(row: AuctionRow): Promise<AuctionState> {
    return this.engine.stateOf(row.id) ?? replay((await this.store.readJournal(this.store.db, row.id)).map(eventOf));
  }

  /** For WebSocket subscribers: a snapshot, or the room's events after `fromSeq`. */
  async roomCatchUp(auctionId: string, fromSeq: number | null): Promise<RoomCatchUp> {
    const row = this.engine.rowOf(auctionId) ?? (await this.store.findAuction(this.store.db, auctionId));
    if (!row) throw new AppError('NOT_FOUND', `no auction ${auctionId}`);
    return (await this.atOwner<RoomCatchUp>(row, AUCTION_CATCH_UP, { auctionId, fromSeq })) ?? (await this.roomCatchUpHere(row, fromSeq));
  }

  async roomCatchUpHere(row: AuctionRow, fromSeq: number | null): Promise<RoomCatchUp> {
    const auctionId = row.id;
    const state = await this.stateOf(row);
    const nowMs = this.clock.nowMs();
    if (fromSeq === null) {
      const view = this.engine.viewOf(auctionId) ?? publicView(state, nowMs);
      return { snapshot: { ...view, timeLeftMs: view.endsAtMs === null || view.status !== 'open' ? null : Math.max(0, view.endsAtMs - nowMs) }, seq: view.seq, events: [] };
    }
    const entries = await this.store.readJournal(this.store.db, auctionId, fromSeq);
    const events: Array<{ seq: number; event: RoomEvent }> = [];
    for (const entry of entries) {
      if (entry.seq > state.seq) break; // committed, not yet announced: the live feed brings it
      const event = publicEventOf(eventOf(entry), state);
      if (event) events.push({ seq: entry.seq, event });
    }
    return { seq: Math.min(state.seq, entries.at(-1)?.seq ?? fromSeq), events };
  }

  // --- bidders ----------------------------------------------------------------------------------

  async join(caller: Principal | null, auctionId: string): Promise<BidderView> {
    const me = requirePrincipal(caller);
    await this.requireRunning(auctionId, () => new AppError('NOT_FOUND', `no running auction ${auctionId}`));
    const reputation = (await this.reputationOf(me.userId)) ?? 0;
    return (await this.command(auctionId, { type: 'join', bidderId: me.userId, reputation }, me.userId)).me!;
  }

  async bid(caller: Principal | null, auctionId: string, input: { amount: string; max?: string; currency: string }, bidId: string = uuidv7(this.clock.nowMs())): Promise<{ bidId: string; events: AuctionEvent[]; me: BidderView; view: PublicView }> {
    const me = requirePrincipal(caller);
    const row = await this.requireRunning(auctionId);
    if (input.currency !== row.currency) throw fieldError('CURRENCY_MISMATCH', 'body', 'currency', `this auction is in ${row.currency}`);
    const scale = this.ledger.currency(row.currency)!.scale;
    const amountMinor = this.amount('amount', input.amount, scale);
    const maxMinor = input.max === undefined ? undefined : this.amount('max', input.max, scale);
    const answer = await this.command(auctionId, { type: 'bid', bidId, bidderId: me.userId, amountMinor, ...(maxMinor !== undefined && { maxMinor }) }, me.userId);
    return { bidId, events: answer.events, me: answer.me!, view: answer.view! };
  }

  async buyNow(caller: Principal | null, auctionId: string, bidId: string = uuidv7(this.clock.nowMs())): Promise<AuctionEvent[]> {
    const me = requirePrincipal(caller);
    await this.requireRunning(auctionId, () => new AppError('NOT_FOUND', `no running auction ${auctionId}`));
    return (await this.command(auctionId, { type: 'buyNow', bidId, bidderId: me.userId })).events;
  }

  // --- the auctioneer's console -----------------------------------------------------------------

  async console(caller: Principal | null, auctionId: string, action: ConsoleAction): Promise<AuctionEvent[]> {
    const me = requirePrincipal(caller);
    const row = await this.requireRunning(auctionId);
    const scale = this.ledger.currency(row.currency)!.scale;
    const by = me.userId;
    let command: AuctionCommand;
    switch (action.type) {
      case 'open':
        command = { type: 'open', byUserId: by };
        break;
      case 'asking':
        command = { type: 'setAsking', byUserId: by, amountMinor: this.amount('amount', action.amount, scale) };
        break;
      case 'fairWarning':
      case 'hammer':
      case 'pause':
      case 'resume':
        command = { type: action.type, byUserId: by };
        break;
      case 'floorBid':
        command = { type: 'floorBid', bidId: uuidv7(this.clock.nowMs()), paddle: action.paddle, amountMinor: this.amount('amount', action.amount, scale), clerkId: by };
        break;
      case 'chat':
        command = { type: 'chat', fromUserId: by, text: action.text };
        break;
    }
    return (await this.command(auctionId, command)).events;
  }

  /**
   * The live sales the caller may run from the console: those naming them as auctioneer or
   * clerk, scheduled or open. Open sales first, then by start time. Admins are no exception:
   * the console API takes only the sale's own staff.
   */
  async consoleSales(caller: Principal | null): Promise<ConsoleSale[]> {
    const me = requirePrincipal(caller);
    const sales: ConsoleSale[] = [];
    for (const { row, state, view } of await this.running()) {
      if (state.config?.kind !== 'live' || (state.status !== 'scheduled' && state.status !== 'open')) continue;
      const role = staffRoleOf(state, me.userId);
      if (role) sales.push({ auction: row, view, role });
    }
    const rank = (s: ConsoleSale) => (s.view.status === 'open' ? 0 : 1);
    sales.sort((a, b) => rank(a) - rank(b) || a.auction.startsAtMs - b.auction.startsAtMs || (a.auction.id < b.auction.id ? -1 : 1));
    return sales.slice(0, CONSOLE_SALES_MAX);
  }

  async cancel(caller: Principal | null, auctionId: string, reason: string): Promise<AuctionEvent[]> {
    const me = requirePrincipal(caller);
    return (await this.command(auctionId, { type: 'cancel', byUserId: me.userId, isAdmin: isAdmin(me), reason })).events;
  }

  // --- after the fact ---------------------------------------------------------------------------

  /**
   * The whole timeline. Participants, the seller, the auctioneer and admins get the journal
   * itself once the auction is over (every event, maxima and reserve included, with hashes:
   * what `gavel verify-auction` checks); anyone else, and everyone while it runs, gets the
   * room's events.
   */
  async replay(caller: Principal | null, auctionId: string): Promise<AuctionReplay> {
    const row = this.engine.rowOf(auctionId) ?? (await this.store.findAuction(this.store.db, auctionId));
    if (!row) throw new AppError('NOT_FOUND', `no auction ${auctionId}`);
    const entries = await this.store.readJournal(this.store.db, auctionId);
    const state = replay(entries.map(eventOf));
    const over = state.status === 'closed' || state.status === 'cancelled';
    const insider =
      caller !== null && (isAdmin(caller) || caller.userId === row.sellerId || caller.userId === state.config?.auctioneerId || state.participants[caller.userId] !== undefined);
    const full = over && insider;
    const out: ReplayEntry[] = [];
    for (const entry of entries) {
      const event = eventOf(entry);
      if (full) out.push({ ...entry, event });
      else {
        const room = publicEventOf(event, state);
        if (room) out.push({ seq: entry.seq, atMs: entry.atMs, type: room.type, event: room, prevHash: '', hash: '', payload: '' });
      }
    }
    return { auctionId, view: full ? 'full' : 'room', recordingUrl: row.recordingUrl, entries: out, // The final hash is public once the sale is over: anyone may keep it, and a journal
    // shown later to settle a dispute must chain to it.
    lastHash: over ? (entries.at(-1)?.hash ?? null) : null };
  }

  async setRecording(caller: Principal | null, auctionId: string, url: string | null): Promise<void> {
    const me = requirePrincipal(caller);
    const row = this.engine.rowOf(auctionId) ?? (await this.store.findAuction(this.store.db, auctionId));
    if (!row) throw new AppError('NOT_FOUND', `no auction ${auctionId}`);
    const state = await this.stateOf(row);
    if (me.userId !== row.sellerId && me.userId !== state.config?.auctioneerId && !isAdmin(me)) throw new AppError('FORBIDDEN', 'only the seller, the auctioneer or an admin may attach a recording');
    await this.store.setRecordingUrl(this.store.db, auctionId, url);
    row.recordingUrl = url;
  }

  // --- statistics -------------------------------------------------------------------------------

  /** One auction's figures: for its seller, its auctioneer and admins. */
  async auctionStats(caller: Principal | null, auctionId: string): Promise<AuctionStats> {
    const me = requirePrincipal(caller);
    const row = this.engine.rowOf(auctionId) ?? (await this.store.findAuction(this.store.db, auctionId));
    if (!row) throw new AppError('NOT_FOUND', `no auction ${auctionId}`);
    const entries = await this.store.readJournal(this.store.db, auctionId);
    const events = entries.map(eventOf);
    const state = replay(events);
    if (me.userId !== row.sellerId && me.userId !== state.config?.auctioneerId && !isAdmin(me)) throw new AppError('NOT_FOUND', `no auction ${auctionId}`);
    const bidders = new Set<string>();
    const bidsOverTime: Array<{ atMs: number; priceMinor: bigint }> = [];
    for (const e of events) {
      if (e.type !== 'BidAccepted') continue;
      bidders.add(e.bidder.source === 'online' ? `online:${e.bidder.bidderId}` : `floor:${e.bidder.paddle}`);
      if (e.visible) bidsOverTime.push({ atMs: e.atMs, priceMinor: e.priceMinor });
    }
    const reserveMinor = state.config?.reserveMinor ?? null;
    // A timed sale ended at its (extended) end, even if the timer fired later (a restart).
    const endedAtMs = state.closedVia === 'timer' && state.endsAtMs !== null ? state.endsAtMs : state.closedAtMs;
    return {
      auctionId,
      currency: row.currency,
      status: row.status,
      outcome: state.outcome,
      participants: state.participantCount,
      bidders: bidders.size,
      bids: state.bidCount,
      startingPriceMinor: row.startingPriceMinor,
      finalPriceMinor: state.status === 'closed' ? state.priceMinor : null,
      reserveMinor,
      // The final price as a share of the reserve (1.0 = exactly met); null without a reserve or a price.
      priceToReserve: reserveMinor && state.priceMinor !== null ? Number((state.priceMinor * 10_000n) / reserveMinor) / 10_000 : null,
      openedAtMs: state.openedAtMs,
      closedAtMs: state.closedAtMs,
      durationMs: state.openedAtMs !== null && endedAtMs !== null ? endedAtMs - state.openedAtMs : null,
      bidsOverTime,
    };
  }

  /**
   * Figures over the auctions that ended in [fromMs, toMs): admins see every seller's, a
   * seller their own. Sell-through is sold ÷ (sold + unsold): cancelled sales are counted apart.
   */
  async periodStats(caller: Principal | null, query: { fromMs: number; toMs: number; sellerId?: string }): Promise<PeriodStats> {
    const me = requirePrincipal(caller);
    const sellerId = isAdmin(me) ? query.sellerId : me.userId;
    const rows = await this.store.listClosedBetween(this.store.db, query.fromMs, query.toMs, sellerId);
    const sold = rows.filter((r) => r.outcome === 'sold');
    const unsold = rows.filter((r) => r.status === 'closed' && r.outcome !== 'sold');
    const cancelled = rows.filter((r) => r.status === 'cancelled');
    const revenue = new Map<string, bigint>();
    for (const r of sold) revenue.set(r.currency, (revenue.get(r.currency) ?? 0n) + r.currentPriceMinor);
    const ended = [...sold, ...unsold];
    const mean = (xs: number[]) => (xs.length ? Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 100) / 100 : null);
    return {
      fromMs: query.fromMs,
      toMs: query.toMs,
      sellerId: sellerId ?? null,
      auctions: rows.length,
      sold: sold.length,
      unsold: unsold.length,
      cancelled: cancelled.length,
      sellThrough: ended.length ? sold.length / ended.length : null,
      salesByCurrency: [...revenue].map(([currency, totalMinor]) => ({ currency, totalMinor })),
      meanBids: mean(ended.map((r) => r.bidCount)),
      meanParticipants: mean(ended.map((r) => r.participantCount)),
      meanDurationMs: mean(ended.flatMap((r) => (r.closedAtMs !== null ? [r.closedAtMs - r.startsAtMs] : []))),
    };
  }

  /** The ladder an auction in `currency` gets when it brings none (the create form shows it). */
  async defaultLadder(currency: string): Promise<{ currency: string; scale: number; bands: IncrementBand[] }> {
    const known = await this.ledger.requireCurrency(currency);
    return { currency: known.code, scale: known.scale, bands: defaultIncrements(known.scale) };
  }

  // --- helpers ----------------------------------------------------------------------------------

  /**
   * The running auctions: this engine's in one process; scaled out, every one, read back from
   * the journals (the engines that hold them may be elsewhere).
   */
  private async running(): Promise<Iterable<{ row: AuctionRow; state: AuctionState; view: PublicView }>> {
    if (!this.router.distributed) return this.engine.held();
    const nowMs = this.clock.nowMs();
    const out: Array<{ row: AuctionRow; state: AuctionState; view: PublicView }> = [];
    for (const row of await this.store.listUnfinished(this.store.db)) {
      if (row.kind !== 'live' || (row.status !== 'scheduled' && row.status !== 'open')) continue;
      const state = await this.stateOf(row);
      out.push({ row, state, view: this.engine.viewOf(row.id) ?? publicView(state, nowMs) });
    }
    return out;
  }

  /** The currency of an auction (routes format amounts with it). */
  async currencyOf(auctionId: string): Promise<string> {
    const row = this.engine.rowOf(auctionId) ?? (await this.store.findAuction(this.store.db, auctionId));
    if (!row) throw new AppError('NOT_FOUND', `no auction ${auctionId}`);
    return row.currency;
  }

  /** Runs a command on the engine that owns the auction: here, or over NATS (docs/cluster.md). */
  private command(auctionId: string, command: AuctionCommand, viewer: string | null = null): Promise<CommandAnswer> {
    return this.router.call<CommandAnswer>(`${AUCTION_MARKET}.${auctionId}`, AUCTION_COMMAND, { auctionId, command, viewer });
  }

  /**
   * The row of a running auction. One that is over and settled has left the engine: it is
   * refused as its rules would refuse it (a live lot after the hammer: AUCTION_HAMMERED).
   */
  private async requireRunning(auctionId: string, missing?: () => AppError): Promise<AuctionRow> {
    const running = this.engine.rowOf(auctionId);
    if (running) return running;
    const stored = await this.store.findAuction(this.store.db, auctionId);
    // Scaled out, a running auction is usually another engine's: its command goes there.
    if (this.router.distributed && (stored?.status === 'scheduled' || stored?.status === 'open')) return stored;
    if (stored?.status === 'cancelled') throw new AppError('AUCTION_CANCELLED', 'the auction was cancelled');
    if (stored?.status === 'closed' && stored.kind === 'live') throw new AppError('AUCTION_HAMMERED', `the hammer has fallen: ${stored.outcome === 'sold' ? 'sold' : 'passed'}; no more bids`);
    if (stored?.status === 'closed') throw new AppError('AUCTION_CLOSED', `the auction ended at ${new Date(stored.closedAtMs ?? stored.endsAtMs ?? 0).toISOString()}`);
    if (missing) throw missing();
    return this.runningRow(auctionId);
  }

  private runningRow(auctionId: string): AuctionRow {
    const row = this.engine.rowOf(auctionId);
    if (!row) throw new AppError('AUCTION_CLOSED', `auction ${auctionId} is not running (it is over, or does not exist)`);
    return row;
  }

  private amount(field: string, text: string, scale: number): bigint {
    return minorIn(field, text, scale, '');
  }
}

function staffRoleOf(state: AuctionState, userId: string): StaffRole | null {
  const config = state.config;
  if (config?.kind !== 'live') return null;
  if (config.auctioneerId === userId) return 'auctioneer';
  return config.clerkIds.includes(userId) ? 'clerk' : null;
}

/** A decimal string in a currency's minor units, or a 400 naming the field. */
function minorIn(field: string, text: string, scale: number, code: string): bigint {
  const parsed = parseAmount(text, scale);
  if (!parsed.ok) throw fieldError('VALIDATION', 'body', field, code ? `${parsed.reason} (${code})` : parsed.reason);
  return parsed.minor;
}

export interface AuctionStats {
  auctionId: string;
  currency: string;
  status: string;
  outcome: string | null;
  participants: number;
  bidders: number;
  bids: number;
  startingPriceMinor: bigint;
  finalPriceMinor: bigint | null;
  reserveMinor: bigint | null;
  priceToReserve: number | null;
  openedAtMs: number | null;
  closedAtMs: number | null;
  durationMs: number | null;
  /** The room's price after each visible bid: the chart of the sale. */
  bidsOverTime: Array<{ atMs: number; priceMinor: bigint }>;
}

export interface PeriodStats {
  fromMs: number;
  toMs: number;
  sellerId: string | null;
  auctions: number;
  sold: number;
  unsold: number;
  cancelled: number;
  sellThrough: number | null;
  salesByCurrency: Array<{ currency: string; totalMinor: bigint }>;
  meanBids: number | null;
  meanParticipants: number | null;
  meanDurationMs: number | null;
}

export type ConsoleAction =
  | { type: 'open' | 'fairWarning' | 'hammer' | 'pause' | 'resume' }
  | { type: 'asking'; amount: string }
  | { type: 'floorBid'; paddle: string; amount: string }
  | { type: 'chat'; text: string };

/**
 * Re-checks a replay offline: the hash chain, then the rules, by folding it through the model
 * one event at a time, so a failure names the entry that broke them. The invariants hold
 * between commands (not inside one), and a command's events share its time: they are checked
 * wherever the time changes, and at the end.
 */
export function verifyReplay(replayed: { entries: Array<Pick<ChainEntry, 'seq' | 'atMs' | 'type' | 'payload' | 'prevHash' | 'hash'>> }): { ok: true; entries: number; lastHash: string; state: AuctionState } | { ok: false; seq: number; reason: string } {
  const chain = verifyChain(replayed.entries);
  if (!chain.ok) return chain;
  const state = initialState();
  const entries = replayed.entries;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    try {
      const event = eventOf(entry);
      // The columns beside the payload are hashed too, but the fold reads the payload: they must agree.
      if (event.seq !== entry.seq || event.atMs !== entry.atMs || event.type !== entry.type) {
        return { ok: false, seq: entry.seq, reason: `the entry says ${entry.type} at seq ${entry.seq}, its payload ${String(event.type)} at seq ${String(event.seq)}` };
      }
      evolve(state, event);
      if (entries[i + 1]?.atMs !== entry.atMs) checkInvariants(state);
    } catch (error) {
      return { ok: false, seq: entry.seq, reason: `the events do not follow the auction rules: ${(error as Error).message}` };
    }
  }
  return { ...chain, state };
}
