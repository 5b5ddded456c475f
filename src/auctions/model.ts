// The rules of an auction: an English (ascending) auction with proxy bids, soft close, a
// hidden reserve and buy-now, either timed or run live by an auctioneer with bids from the
// floor and from the internet. Pure: no I/O, no clock, no randomness — time (`ctx.nowMs`)
// and ids (`bidId`, `auctionId`) come in as arguments. The full rules in prose are in
// docs/auctions.md; read this file top to bottom for the same rules as code.
//
// API
//   initialState()                          the empty state before `AuctionCreated` (seq 0)
//   decide(state, command, { nowMs })       → { ok: true, events } | { ok: false, rejection }
//                                           never changes `state`; events come numbered
//                                           state.seq + 1, + 2, … and stamped `atMs: nowMs`;
//                                           `events: []` means "accepted, nothing to do" (repeats)
//   evolve(state, event)                    applies one event IN PLACE and returns `state`;
//                                           refuses (throws) an event whose seq is not seq + 1.
//                                           In place because a sale may have 100,000
//                                           participants: copying them per join is quadratic.
//                                           Keep a `cloneState` (or replay) to roll back.
//   evolveAll(state, events)                one command's events, then `checkInvariants`
//   replay(events)                          fold of evolve from initialState()
//   minimumNextBid(state)                   the smallest amount a bid may have now
//   nextIncrements(state, n)                the next n one-tap bid amounts on the ladder
//   publicView(state, nowMs)                what the room may see (no reserve, no maxima)
//   bidderView(state, bidderId)             what one bidder may see about themselves
//   publicEventOf(event, state)             the room's version of an event, or null
//   settlementOf(state)                     at the end: winner, price, holds to capture/release
//   checkInvariants(state)                  asserts the rules that must always hold
//
// Engine contract, for the one writer of each auction:
//   1. decide(state, command, ctx); on rejection answer the caller with the code.
//   2. In one ledger commit, place every `HoldRequired` (ledger ref = event.ref) and release
//      every `HoldReleased`. If a placement fails (INSUFFICIENT_FUNDS) refuse the command:
//      nothing is journaled. Events are ordered place-then-release, so money is never
//      unprotected between the two.
//   3. Append the events to the auction's journal; then evolveAll(state, events); then answer.
//   4. Timers: send `open` at config.startsAtMs and `close` at state.endsAtMs (re-arm after
//      every `EndExtended`; an early `close` is refused with AUCTION_NOT_DUE and changes nothing).
//   5. Once closed or cancelled, settlementOf(state) names the hold to capture and the holds
//      to release (all idempotent through their refs).
import assert from 'node:assert/strict';
import type { ProblemCode } from '../platform/errors.js';
import { MAX_AMOUNT_MINOR, formatAmount } from '../platform/money.js';

// --- the increment ladder -------------------------------------------------------------------

/** From `fromMinor` upward (until the next band) every bid must rise by `incrementMinor`. */
export interface IncrementBand {
  fromMinor: bigint;
  incrementMinor: bigint;
}

/**
 * eBay's US table in cents: under $1 → 5¢, $1 → 25¢, $5 → 50¢, $25 → $1, $100 → $2.50,
 * $250 → $5, $500 → $10, $1,000 → $25, $2,500 → $50, $5,000 and up → $100.
 */
const EBAY_USD_CENTS: readonly (readonly [bigint, bigint])[] = [
  [0n, 5n],
  [100n, 25n],
  [500n, 50n],
  [2_500n, 100n],
  [10_000n, 250n],
  [25_000n, 500n],
  [50_000n, 1_000n],
  [100_000n, 2_500n],
  [250_000n, 5_000n],
  [500_000n, 10_000n],
];

/**
 * The default ladder for a currency with `currencyScale` decimals. Scale 2 (USD, EUR, …) is
 * eBay's table as is. More decimals: the same table in major units (×10^(scale−2)), so an
 * 8-decimal asset steps by 0.05 under 1. Fewer decimals (JPY): the table's numbers are kept
 * as minor units (¥5 under ¥100 … ¥10,000 from ¥500,000), because dividing would lose the
 * small steps and one yen is worth about a cent. Any auction may bring its own ladder.
 */
export function defaultIncrements(currencyScale: number): IncrementBand[] {
  assert(Number.isInteger(currencyScale) && currencyScale >= 0, 'currency scale must be a non-negative integer');
  const factor = 10n ** BigInt(Math.max(0, currencyScale - 2));
  return EBAY_USD_CENTS.map(([fromMinor, incrementMinor]) => ({ fromMinor: fromMinor * factor, incrementMinor: incrementMinor * factor }));
}

export const MAX_INCREMENT_BANDS = 50;

/** Why a ladder is not usable, or null: bands start at 0, rise strictly, increments > 0. */
export function checkIncrements(bands: readonly IncrementBand[]): string | null {
  if (!Array.isArray(bands) || bands.length === 0) return 'needs at least one band';
  if (bands.length > MAX_INCREMENT_BANDS) return `may have ${MAX_INCREMENT_BANDS} bands at most`;
  for (const [i, band] of bands.entries()) {
    if (typeof band.fromMinor !== 'bigint' || typeof band.incrementMinor !== 'bigint') return `band ${i}: amounts must be integers of minor units`;
    if (i === 0 && band.fromMinor !== 0n) return 'the first band must start from 0';
    const previous = bands[i - 1];
    if (previous && band.fromMinor <= previous.fromMinor) return `band ${i}: bands must be in ascending order of fromMinor`;
    if (band.incrementMinor <= 0n || band.incrementMinor > MAX_AMOUNT_MINOR) return `band ${i}: the increment must be positive`;
    if (band.fromMinor > MAX_AMOUNT_MINOR) return `band ${i}: fromMinor is too large`;
  }
  return null;
}

/** The increment at a price level: the band with the largest `fromMinor` ≤ price. */
export function incrementAt(bands: readonly IncrementBand[], priceMinor: bigint): bigint {
  let increment = bands[0]?.incrementMinor;
  for (const band of bands) {
    if (band.fromMinor > priceMinor) break;
    increment = band.incrementMinor;
  }
  assert(increment !== undefined && increment > 0n, 'an auction always has a valid ladder');
  return increment;
}

// --- configuration ----------------------------------------------------------------------------

export type AuctionKind = 'timed' | 'live';

/** A bid in the last N seconds moves the end to N seconds after it (timed auctions). */
export const SOFT_CLOSE_DEFAULT_SECONDS = 120;
export const SOFT_CLOSE_MAX_SECONDS = 3_600;
export const MAX_AUCTION_DURATION_MS = 30 * 24 * 3_600 * 1_000;
export const MAX_CLERKS = 20;
export const MAX_CHAT_CHARS = 500;
export const MAX_REASON_CHARS = 500;
export const MAX_NEXT_INCREMENTS = 20;
export const MAX_ID_CHARS = 100;
export const REPUTATION_MAX = 100;
/** Paddle numbers as the floor writes them: "12", "A-7". */
export const PADDLE_PATTERN = /^[A-Za-z0-9-]{1,16}$/;

/** An auction's settings, complete: defaults are resolved at creation and journaled with it. */
export interface AuctionConfig {
  auctionId: string;
  lotId: string;
  sellerId: string;
  kind: AuctionKind;
  /** ISO 4217 or asset code; every amount of the auction is in its minor units. */
  currency: string;
  currencyScale: number;
  startingPriceMinor: bigint;
  /** Hidden: the room only learns whether it is met. */
  reserveMinor: bigint | null;
  /** Available while open until the first bid. */
  buyNowMinor: bigint | null;
  increments: IncrementBand[];
  /** 0–100; bidders below it cannot join. */
  minReputation: number;
  /** Timed: when bidding opens. Live: the advertised start; the auctioneer opens the sale. */
  startsAtMs: number;
  /** Timed: the scheduled end before any extension. Live: null (the hammer ends it). */
  endsAtMs: number | null;
  /** Timed: the soft-close window and extension; 0 turns soft close off. Live: 0. */
  softCloseSeconds: number;
  /** Live: who runs the sale. Timed: null. */
  auctioneerId: string | null;
  /** Live: who may enter floor bids and chat besides the auctioneer. */
  clerkIds: string[];
}

/** What `create` takes: the config with the defaults left out. */
export interface AuctionConfigInput {
  auctionId: string;
  lotId: string;
  sellerId: string;
  kind: AuctionKind;
  currency: string;
  currencyScale: number;
  startingPriceMinor: bigint;
  reserveMinor?: bigint | null;
  buyNowMinor?: bigint | null;
  /** Default: `defaultIncrements(currencyScale)`. */
  increments?: IncrementBand[] | null;
  /** Default 0. */
  minReputation?: number;
  startsAtMs: number;
  endsAtMs?: number | null;
  /** Timed only; default SOFT_CLOSE_DEFAULT_SECONDS. */
  softCloseSeconds?: number;
  auctioneerId?: string | null;
  clerkIds?: string[];
}

// --- state ------------------------------------------------------------------------------------

export type AuctionStatus = 'none' | 'scheduled' | 'open' | 'closed' | 'cancelled';
/** Live auctions while open: taking bids at an asking price, under fair warning, or paused. */
export type LivePhase = 'asking' | 'fairWarning' | 'paused';
export type Outcome = 'sold' | 'unsold';
export type ClosedVia = 'timer' | 'hammer' | 'buyNow';

/** Who bid: a signed-in bidder online, or a paddle on the floor entered by a clerk. */
export type BidderRef = { source: 'online'; bidderId: string } | { source: 'floor'; paddle: string };

export interface Leader {
  bidder: BidderRef;
  /** The proxy maximum; for a floor bid, the bid itself. Never less than the price. */
  maxMinor: bigint;
  /** The bid that set this maximum. */
  bidId: string;
}

/** A pending ledger hold on a bidder's wallet, named by its ledger ref. */
export interface Hold {
  ref: string;
  bidderId: string;
  amountMinor: bigint;
}

/** Plain data: JSON-serialisable except for the bigint amounts. */
export interface AuctionState {
  /** The seq of the last event applied; 0 before creation. */
  seq: number;
  status: AuctionStatus;
  config: AuctionConfig | null;
  /** Live and open only; null otherwise. */
  phase: LivePhase | null;
  /** Live: an asking price the auctioneer set above the ladder's minimum; cleared by each bid. */
  askingMinor: bigint | null;
  /** Timed: the current end, soft-close extensions included. */
  endsAtMs: number | null;
  openedAtMs: number | null;
  closedAtMs: number | null;
  /** bidderId → join number (1, 2, …): "bidder 3" to the room. Null prototype: ids are keys. */
  participants: Record<string, number>;
  participantCount: number;
  /** Bids the room saw (a leader quietly raising their maximum is not counted). */
  bidCount: number;
  /** The visible price; null until the first bid. */
  priceMinor: bigint | null;
  leader: Leader | null;
  /** Only the leader (online) holds funds, for their maximum. At most one between commands. */
  holds: Hold[];
  outcome: Outcome | null;
  closedVia: ClosedVia | null;
  cancellation: { byUserId: string; byAdmin: boolean; reason: string } | null;
  /**
   * bidId → who placed it (a bidder id, or `floor:<paddle>`), for every bid and buy-now taken:
   * a command repeating a bidId is a retry, applied once. Null prototype: ids are keys.
   */
  bidIds: Record<string, string>;
}

export function initialState(): AuctionState {
  return {
    seq: 0,
    status: 'none',
    config: null,
    phase: null,
    askingMinor: null,
    endsAtMs: null,
    openedAtMs: null,
    closedAtMs: null,
    participants: Object.create(null) as Record<string, number>,
    participantCount: 0,
    bidCount: 0,
    priceMinor: null,
    leader: null,
    holds: [],
    outcome: null,
    closedVia: null,
    cancellation: null,
    bidIds: Object.create(null) as Record<string, string>,
  };
}

/** A deep copy (bigints included), for an engine that wants to roll back a batch. */
export function cloneState(state: AuctionState): AuctionState {
  const copy = structuredClone(state);
  copy.participants = Object.assign(Object.create(null) as Record<string, number>, copy.participants);
  copy.bidIds = Object.assign(Object.create(null) as Record<string, string>, copy.bidIds);
  return copy;
}

// --- commands, events, rejections ---------------------------------------------------------------

export type AuctionCommand =
  | { type: 'create'; config: AuctionConfigInput }
  /** Timed: the engine's timer at startsAtMs (byUserId null). Live: the auctioneer. */
  | { type: 'open'; byUserId: string | null }
  /** `reputation` is the bidder's current index, read from accounts by the service. */
  | { type: 'join'; bidderId: string; reputation: number }
  /** An online bid of `amountMinor`; `maxMinor` (≥ amount) lets the engine bid on up to it. */
  | { type: 'bid'; bidId: string; bidderId: string; amountMinor: bigint; maxMinor?: bigint }
  | { type: 'floorBid'; bidId: string; paddle: string; amountMinor: bigint; clerkId: string }
  | { type: 'setAsking'; byUserId: string; amountMinor: bigint }
  | { type: 'fairWarning'; byUserId: string }
  | { type: 'hammer'; byUserId: string }
  | { type: 'pause'; byUserId: string }
  | { type: 'resume'; byUserId: string }
  | { type: 'chat'; fromUserId: string; text: string }
  /** Timed: the engine's timer at state.endsAtMs. */
  | { type: 'close' }
  | { type: 'cancel'; byUserId: string; isAdmin: boolean; reason: string }
  | { type: 'buyNow'; bidId: string; bidderId: string };

/**
 * How a bid ended: `leads` (it took the lead), `raisedMax` (the leader raised their own
 * maximum), `outbid` (the leader's proxy maximum beat it at once).
 */
export type BidResult = 'leads' | 'raisedMax' | 'outbid';

export type AuctionEventBody =
  | { type: 'AuctionCreated'; config: AuctionConfig }
  | { type: 'AuctionOpened'; endsAtMs: number | null; byUserId: string | null }
  | { type: 'BidderJoined'; bidderId: string; number: number }
  | {
      type: 'BidAccepted';
      bidId: string;
      bidder: BidderRef;
      /** Floor bids: who entered it. */
      clerkId: string | null;
      amountMinor: bigint;
      /** Private: the bidder's proxy maximum. */
      maxMinor: bigint;
      result: BidResult;
      /** Whether the room sees this bid: false only for a leader's quiet raise of their maximum. */
      visible: boolean;
      /** After the bid: the price, who leads, how many bids the room saw, reserve met. */
      priceMinor: bigint;
      leader: BidderRef;
      bidCount: number;
      reserveMet: boolean;
      /** Who lost the lead (for `leads`) or whose bid was beaten at once (for `outbid`). */
      outbid: BidderRef | null;
    }
  | { type: 'BoughtNow'; bidId: string; bidderId: string; priceMinor: bigint }
  | { type: 'HoldRequired'; ref: string; bidderId: string; amountMinor: bigint }
  | { type: 'HoldReleased'; ref: string; bidderId: string; amountMinor: bigint }
  | { type: 'EndExtended'; endsAtMs: number; previousEndsAtMs: number }
  | { type: 'AskingSet'; amountMinor: bigint; byUserId: string }
  | { type: 'FairWarning'; byUserId: string }
  | { type: 'Paused'; byUserId: string }
  | { type: 'Resumed'; byUserId: string }
  | { type: 'ChatPosted'; fromUserId: string; text: string }
  | { type: 'AuctionClosed'; outcome: Outcome; via: ClosedVia; winner: BidderRef | null; priceMinor: bigint | null }
  | { type: 'AuctionCancelled'; byUserId: string; byAdmin: boolean; reason: string };

/** Every event carries the auction's sequence number and the time of its command. */
export type AuctionEvent = AuctionEventBody & { seq: number; atMs: number };
export type AuctionEventType = AuctionEvent['type'];

export type AuctionRejectionCode = Extract<
  ProblemCode,
  | 'VALIDATION'
  | 'NOT_FOUND'
  | 'FORBIDDEN'
  | 'AUCTION_EXISTS'
  | 'AUCTION_NOT_OPEN'
  | 'AUCTION_NOT_DUE'
  | 'AUCTION_CLOSED'
  | 'AUCTION_HAMMERED'
  | 'AUCTION_CANCELLED'
  | 'AUCTION_PAUSED'
  | 'WRONG_AUCTION_KIND'
  | 'NOT_AUCTIONEER'
  | 'OWN_AUCTION'
  | 'REPUTATION_TOO_LOW'
  | 'NOT_JOINED'
  | 'BID_TOO_LOW'
  | 'BID_ID_REUSED'
  | 'ALREADY_LEADING'
  | 'BUY_NOW_UNAVAILABLE'
  | 'FAIR_WARNING_REQUIRED'
  | 'CANNOT_CANCEL'
>;

export interface Rejection {
  code: AuctionRejectionCode;
  detail: string;
  /** The command field at fault, when there is one. */
  field?: string;
  /** BID_TOO_LOW: the smallest amount that would have been accepted. */
  minimumNextBidMinor?: bigint;
}

export type Decision = { ok: true; events: AuctionEvent[] } | { ok: false; rejection: Rejection };
export interface DecideContext {
  nowMs: number;
}

type Bodies = AuctionEventBody[];

function reject(code: AuctionRejectionCode, detail: string, extra: Omit<Rejection, 'code' | 'detail'> = {}): Rejection {
  return { code, detail, ...extra };
}

function invalid(field: string, message: string): Rejection {
  return reject('VALIDATION', `${field}: ${message}`, { field });
}

/** The ledger ref of the hold a bid places: unique per bid, so retries are idempotent. */
export function holdRefOf(auctionId: string, bidId: string): string {
  return `auction:${auctionId}:bid:${bidId}`;
}

// --- decide -----------------------------------------------------------------------------------

export function decide(state: AuctionState, command: AuctionCommand, ctx: DecideContext): Decision {
  assert(Number.isSafeInteger(ctx.nowMs), 'ctx.nowMs must be an integer of milliseconds');
  const outcome = decideBodies(state, command, ctx.nowMs);
  if (!Array.isArray(outcome)) return { ok: false, rejection: outcome };
  const events = outcome.map((body, i) => ({ ...body, seq: state.seq + 1 + i, atMs: ctx.nowMs }) as AuctionEvent);
  return { ok: true, events };
}

function decideBodies(state: AuctionState, command: AuctionCommand, nowMs: number): Bodies | Rejection {
  if (command.type === 'create') return decideCreate(state, command.config);
  if (state.status === 'none') return reject('NOT_FOUND', 'no such auction');
  switch (command.type) {
    case 'open':
      return decideOpen(state, command.byUserId, nowMs);
    case 'join':
      return decideJoin(state, command.bidderId, command.reputation);
    case 'bid':
      return decideBid(state, command, nowMs);
    case 'floorBid':
      return decideFloorBid(state, command, nowMs);
    case 'buyNow':
      return decideBuyNow(state, command, nowMs);
    case 'setAsking':
      return decideSetAsking(state, command.byUserId, command.amountMinor, nowMs);
    case 'fairWarning':
      return refuseUnlessAuctioneer(state, command.byUserId) ?? refuseUnlessBidding(state, nowMs) ?? [{ type: 'FairWarning', byUserId: command.byUserId }];
    case 'hammer':
      return decideHammer(state, command.byUserId, nowMs);
    case 'pause':
    case 'resume':
      return decidePauseResume(state, command.type, command.byUserId);
    case 'chat':
      return decideChat(state, command.fromUserId, command.text);
    case 'close':
      return decideClose(state, nowMs);
    case 'cancel':
      return decideCancel(state, command);
  }
}

// --- creating and opening -----------------------------------------------------------------------

function decideCreate(state: AuctionState, input: AuctionConfigInput): Bodies | Rejection {
  if (state.status !== 'none') return reject('AUCTION_EXISTS', 'an auction with that id exists already');
  const config = configFrom(input);
  return 'code' in config ? config : [{ type: 'AuctionCreated', config }];
}

/** Resolves the defaults and checks every setting; the first problem is the answer. */
export function configFrom(input: AuctionConfigInput): AuctionConfig | Rejection {
  const scaleOk = Number.isInteger(input.currencyScale) && input.currencyScale >= 0 && input.currencyScale <= 18;
  if (!scaleOk) return invalid('currencyScale', 'must be an integer from 0 to 18');
  const live = input.kind === 'live';
  const config: AuctionConfig = {
    auctionId: input.auctionId,
    lotId: input.lotId,
    sellerId: input.sellerId,
    kind: input.kind,
    currency: input.currency,
    currencyScale: input.currencyScale,
    startingPriceMinor: input.startingPriceMinor,
    reserveMinor: input.reserveMinor ?? null,
    buyNowMinor: input.buyNowMinor ?? null,
    increments: input.increments ?? defaultIncrements(input.currencyScale),
    minReputation: input.minReputation ?? 0,
    startsAtMs: input.startsAtMs,
    endsAtMs: input.endsAtMs ?? null,
    softCloseSeconds: live ? (input.softCloseSeconds ?? 0) : (input.softCloseSeconds ?? SOFT_CLOSE_DEFAULT_SECONDS),
    auctioneerId: input.auctioneerId ?? null,
    clerkIds: input.clerkIds ?? [],
  };
  return identityProblem(config) ?? moneyProblem(config) ?? scheduleProblem(config) ?? staffProblem(config) ?? config;
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_CHARS;
}

function isAmount(value: unknown): value is bigint {
  return typeof value === 'bigint' && value > 0n && value <= MAX_AMOUNT_MINOR;
}

function identityProblem(c: AuctionConfig): Rejection | null {
  for (const field of ['auctionId', 'lotId', 'sellerId'] as const) {
    if (!isId(c[field])) return invalid(field, `must be a non-empty id of at most ${MAX_ID_CHARS} characters`);
  }
  if (c.kind !== 'timed' && c.kind !== 'live') return invalid('kind', 'must be "timed" or "live"');
  if (typeof c.currency !== 'string' || !/^[A-Z][A-Z0-9]{1,11}$/.test(c.currency)) return invalid('currency', 'must be a currency or asset code');
  const repOk = Number.isInteger(c.minReputation) && c.minReputation >= 0 && c.minReputation <= REPUTATION_MAX;
  return repOk ? null : invalid('minReputation', `must be an integer from 0 to ${REPUTATION_MAX}`);
}

function moneyProblem(c: AuctionConfig): Rejection | null {
  if (!isAmount(c.startingPriceMinor)) return invalid('startingPriceMinor', 'must be a positive amount of minor units');
  const reserve = c.reserveMinor;
  if (reserve !== null && (!isAmount(reserve) || reserve < c.startingPriceMinor)) return invalid('reserveMinor', 'must be at least the starting price');
  const buyNow = c.buyNowMinor;
  if (buyNow !== null && (!isAmount(buyNow) || buyNow < c.startingPriceMinor)) return invalid('buyNowMinor', 'must be at least the starting price');
  if (buyNow !== null && reserve !== null && buyNow < reserve) return invalid('buyNowMinor', 'must be at least the reserve');
  const ladder = checkIncrements(c.increments);
  return ladder ? invalid('increments', ladder) : null;
}

function scheduleProblem(c: AuctionConfig): Rejection | null {
  if (!Number.isSafeInteger(c.startsAtMs) || c.startsAtMs < 0) return invalid('startsAtMs', 'must be a time in milliseconds');
  if (c.kind === 'live') {
    if (c.endsAtMs !== null) return invalid('endsAtMs', 'a live auction has no end time; the hammer ends it');
    return c.softCloseSeconds === 0 ? null : invalid('softCloseSeconds', 'a live auction has no soft close');
  }
  const ends = c.endsAtMs;
  if (ends === null || !Number.isSafeInteger(ends) || ends <= c.startsAtMs) return invalid('endsAtMs', 'must be after startsAtMs');
  if (ends - c.startsAtMs > MAX_AUCTION_DURATION_MS) return invalid('endsAtMs', 'an auction may run 30 days at most');
  const softOk = Number.isInteger(c.softCloseSeconds) && c.softCloseSeconds >= 0 && c.softCloseSeconds <= SOFT_CLOSE_MAX_SECONDS;
  return softOk ? null : invalid('softCloseSeconds', `must be an integer from 0 to ${SOFT_CLOSE_MAX_SECONDS}`);
}

function staffProblem(c: AuctionConfig): Rejection | null {
  if (!Array.isArray(c.clerkIds) || c.clerkIds.length > MAX_CLERKS || !c.clerkIds.every(isId)) return invalid('clerkIds', `must be at most ${MAX_CLERKS} ids`);
  if (c.kind === 'timed') {
    if (c.auctioneerId !== null) return invalid('auctioneerId', 'only live auctions have an auctioneer');
    return c.clerkIds.length === 0 ? null : invalid('clerkIds', 'only live auctions have clerks');
  }
  if (!isId(c.auctioneerId)) return invalid('auctioneerId', 'a live auction needs an auctioneer');
  if (c.auctioneerId === c.sellerId) return invalid('auctioneerId', 'the seller cannot run their own sale');
  return c.clerkIds.includes(c.sellerId) ? invalid('clerkIds', 'the seller cannot clerk their own sale') : null;
}

function decideOpen(state: AuctionState, byUserId: string | null, nowMs: number): Bodies | Rejection {
  const config = configOf(state);
  if (config.kind === 'live') {
    const refused = refuseUnlessAuctioneer(state, byUserId);
    if (refused) return refused;
  }
  if (state.status === 'open') return [];
  const ended = refuseIfEnded(state);
  if (ended) return ended;
  if (config.kind === 'timed' && nowMs < config.startsAtMs) return reject('AUCTION_NOT_DUE', `bidding opens at ${isoOf(config.startsAtMs)}`);
  return [{ type: 'AuctionOpened', endsAtMs: config.endsAtMs, byUserId }];
}

// --- joining ------------------------------------------------------------------------------------

function decideJoin(state: AuctionState, bidderId: string, reputation: number): Bodies | Rejection {
  if (!isId(bidderId)) return invalid('bidderId', 'must be an id');
  if (!Number.isFinite(reputation)) return invalid('reputation', 'must be a number');
  const config = configOf(state);
  const ended = refuseIfEnded(state);
  if (ended) return ended;
  const staff = refuseStaff(config, bidderId);
  if (staff) return staff;
  if (isJoined(state, bidderId)) return [];
  if (reputation < config.minReputation) {
    return reject('REPUTATION_TOO_LOW', `this auction needs a reputation of ${config.minReputation}; yours is ${reputation}`);
  }
  return [{ type: 'BidderJoined', bidderId, number: state.participantCount + 1 }];
}

/** The seller, the auctioneer and the clerks of a sale may not bid in it. */
function refuseStaff(config: AuctionConfig, userId: string): Rejection | null {
  if (userId === config.sellerId) return reject('OWN_AUCTION', 'you cannot bid in your own auction');
  if (userId === config.auctioneerId || config.clerkIds.includes(userId)) return reject('OWN_AUCTION', 'the auctioneer and clerks of a sale cannot bid in it');
  return null;
}

export function isJoined(state: AuctionState, bidderId: string): boolean {
  return Object.hasOwn(state.participants, bidderId);
}

// --- when bids are taken --------------------------------------------------------------------------

/** A closed, hammered or cancelled auction answers every bid and action with why. */
function refuseIfEnded(state: AuctionState): Rejection | null {
  const config = configOf(state);
  if (state.status === 'cancelled') return reject('AUCTION_CANCELLED', 'the auction was cancelled');
  if (state.status !== 'closed') return null;
  if (config.kind === 'live') return reject('AUCTION_HAMMERED', `the hammer has fallen: ${state.outcome === 'sold' ? 'sold' : 'passed'}; no more bids`);
  return reject('AUCTION_CLOSED', `the auction ended at ${isoOf(state.closedAtMs ?? state.endsAtMs ?? 0)}`);
}

/** Bids (and the auctioneer's price calls) need an open auction, before its end, not paused. */
function refuseUnlessBidding(state: AuctionState, nowMs: number): Rejection | null {
  const config = configOf(state);
  const ended = refuseIfEnded(state);
  if (ended) return ended;
  if (state.status === 'scheduled') {
    return reject('AUCTION_NOT_OPEN', config.kind === 'timed' ? `bidding opens at ${isoOf(config.startsAtMs)}` : 'the auctioneer has not opened the sale yet');
  }
  // The end has passed but the engine's timer has not closed it yet: it is over all the same.
  const endsAtMs = state.endsAtMs;
  if (config.kind === 'timed' && endsAtMs !== null && nowMs >= endsAtMs) return reject('AUCTION_CLOSED', `the auction ended at ${isoOf(endsAtMs)}`);
  if (state.phase === 'paused') return reject('AUCTION_PAUSED', 'the auctioneer has paused the sale');
  return null;
}

/** Live-only actions: the auctioneer (and, where `clerks`, a clerk of the sale). */
function refuseUnlessAuctioneer(state: AuctionState, userId: string | null, options: { clerks: boolean } = { clerks: false }): Rejection | null {
  const config = configOf(state);
  if (config.kind !== 'live') return reject('WRONG_AUCTION_KIND', 'only live auctions have an auctioneer');
  if (userId !== null && userId === config.auctioneerId) return null;
  if (options.clerks && userId !== null && config.clerkIds.includes(userId)) return null;
  return reject('NOT_AUCTIONEER', options.clerks ? 'only the auctioneer or a clerk of this sale may do that' : 'only the auctioneer of this sale may do that');
}

// --- bids -----------------------------------------------------------------------------------------

/** The minimum before any bid is the starting price; after, the price plus its increment. */
function ladderMinimumAt(config: AuctionConfig, priceMinor: bigint | null): bigint {
  return priceMinor === null ? config.startingPriceMinor : priceMinor + incrementAt(config.increments, priceMinor);
}

/** The smallest bid accepted now: the ladder's minimum, or the live asking price if higher. */
export function minimumNextBid(state: AuctionState): bigint {
  const ladder = ladderMinimumAt(configOf(state), state.priceMinor);
  return state.askingMinor !== null && state.askingMinor > ladder ? state.askingMinor : ladder;
}

/** The next `n` one-tap amounts: the minimum next bid, then one increment above the other. */
export function nextIncrements(state: AuctionState, n: number): bigint[] {
  const config = configOf(state);
  const count = Math.max(1, Math.min(MAX_NEXT_INCREMENTS, Math.trunc(n)));
  const amounts = [minimumNextBid(state)];
  while (amounts.length < count) {
    const last = amounts[amounts.length - 1]!;
    amounts.push(last + incrementAt(config.increments, last));
  }
  return amounts;
}

function decideBid(state: AuctionState, cmd: Extract<AuctionCommand, { type: 'bid' }>, nowMs: number): Bodies | Rejection {
  const maxMinor = cmd.maxMinor ?? cmd.amountMinor;
  if (!isId(cmd.bidId)) return invalid('bidId', 'must be an id');
  if (!isAmount(cmd.amountMinor)) return invalid('amountMinor', 'must be a positive amount of minor units');
  if (!isAmount(maxMinor)) return invalid('maxMinor', 'must be a positive amount of minor units');
  if (maxMinor < cmd.amountMinor) return invalid('maxMinor', 'must be at least the bid amount');
  const repeat = repeatedBid(state, cmd.bidId, cmd.bidderId);
  if (repeat) return repeat;
  const closed = refuseUnlessBidding(state, nowMs);
  if (closed) return closed;
  const staff = refuseStaff(configOf(state), cmd.bidderId);
  if (staff) return staff;
  if (!isJoined(state, cmd.bidderId)) return reject('NOT_JOINED', 'join the auction before bidding');
  const bidder: BidderRef = { source: 'online', bidderId: cmd.bidderId };
  return placeBid(state, nowMs, { bidder, bidId: cmd.bidId, amountMinor: cmd.amountMinor, maxMinor, clerkId: null });
}

/**
 * A bidId seen before: the same person's retry is applied once (no events: nothing new
 * happened); anyone else's reuse of it is refused. Undefined for a new bidId.
 */
function repeatedBid(state: AuctionState, bidId: string, placedBy: string): Bodies | Rejection | undefined {
  const seen = state.bidIds[bidId];
  if (seen === undefined) return undefined;
  return seen === placedBy ? [] : reject('BID_ID_REUSED', `bidId ${bidId} names another bid: choose a new one`, { field: 'bidId' });
}

/** A floor bid is a paddle's bid at an amount, entered by the auctioneer or a clerk. No proxy. */
function decideFloorBid(state: AuctionState, cmd: Extract<AuctionCommand, { type: 'floorBid' }>, nowMs: number): Bodies | Rejection {
  if (!isId(cmd.bidId)) return invalid('bidId', 'must be an id');
  const repeat = repeatedBid(state, cmd.bidId, `floor:${cmd.paddle}`);
  if (repeat) return repeat;
  if (typeof cmd.paddle !== 'string' || !PADDLE_PATTERN.test(cmd.paddle)) return invalid('paddle', 'must be 1–16 letters, digits or dashes');
  if (!isAmount(cmd.amountMinor)) return invalid('amountMinor', 'must be a positive amount of minor units');
  const refused = refuseUnlessAuctioneer(state, cmd.clerkId, { clerks: true }) ?? refuseUnlessBidding(state, nowMs);
  if (refused) return refused;
  const bidder: BidderRef = { source: 'floor', paddle: cmd.paddle };
  return placeBid(state, nowMs, { bidder, bidId: cmd.bidId, amountMinor: cmd.amountMinor, maxMinor: cmd.amountMinor, clerkId: cmd.clerkId });
}

interface BidInput {
  bidder: BidderRef;
  bidId: string;
  amountMinor: bigint;
  maxMinor: bigint;
  clerkId: string | null;
}

interface BidOutcome {
  result: BidResult;
  leader: Leader;
  priceMinor: bigint;
  outbid: BidderRef | null;
}

function placeBid(state: AuctionState, nowMs: number, bid: BidInput): Bodies | Rejection {
  const config = configOf(state);
  const minimum = minimumNextBid(state);
  if (bid.amountMinor < minimum) {
    return reject('BID_TOO_LOW', `the minimum bid is ${moneyOf(config, minimum)}`, { field: 'amountMinor', minimumNextBidMinor: minimum });
  }
  const leader = state.leader;
  if (leader && sameBidder(leader.bidder, bid.bidder) && (bid.bidder.source === 'floor' || bid.maxMinor <= leader.maxMinor)) {
    const detail = bid.bidder.source === 'floor'
      ? `paddle ${bid.bidder.paddle} leads already`
      : `you lead already with a maximum of ${moneyOf(config, leader.maxMinor)}; to bid more, raise your maximum above it`;
    return reject('ALREADY_LEADING', detail, { field: 'maxMinor' });
  }
  const outcome = resolveBid(state, bid);
  // A leader quietly raising their maximum shows the room nothing, so it neither counts as a
  // bid nor extends the end — unless it lifts the price to the reserve.
  const visible = outcome.result !== 'raisedMax' || outcome.priceMinor !== state.priceMinor;
  const accepted: AuctionEventBody = {
    type: 'BidAccepted',
    bidId: bid.bidId,
    bidder: bid.bidder,
    clerkId: bid.clerkId,
    amountMinor: bid.amountMinor,
    maxMinor: bid.maxMinor,
    result: outcome.result,
    visible,
    priceMinor: outcome.priceMinor,
    leader: outcome.leader.bidder,
    bidCount: state.bidCount + (visible ? 1 : 0),
    reserveMet: isReserveMet(config, outcome.priceMinor),
    outbid: outcome.outbid,
  };
  return [accepted, ...holdChanges(state, outcome, bid.bidId), ...(visible ? softCloseExtension(state, nowMs) : [])];
}

/**
 * Proxy bidding, as eBay does it. Each bid has an amount (a real bid at that amount) and a
 * maximum (how far the engine may bid on for its bidder); a plain bid's maximum is its amount.
 * - No leader yet: the bid leads at its amount.
 * - The leader again, with a higher maximum: the maximum rises, the price does not.
 * - A maximum above the leader's: the new bid leads at the larger of its amount and one
 *   increment over the old leader's maximum (never above its own maximum).
 * - A maximum at or below the leader's: the leader's proxy answers at once; the leader stays
 *   (on equal maxima the earlier bid wins) and the price rises to one increment over the new
 *   maximum, capped at the leader's maximum.
 * Then the reserve: a leader whose maximum reaches the reserve lifts the price to it.
 */
function resolveBid(state: AuctionState, bid: BidInput): BidOutcome {
  const config = configOf(state);
  const leader = state.leader;
  const price = state.priceMinor;
  const bidLeads: Leader = { bidder: bid.bidder, maxMinor: bid.maxMinor, bidId: bid.bidId };
  let outcome: BidOutcome;
  if (!leader || price === null) {
    outcome = { result: 'leads', leader: bidLeads, priceMinor: bid.amountMinor, outbid: null };
  } else if (sameBidder(leader.bidder, bid.bidder)) {
    outcome = { result: 'raisedMax', leader: bidLeads, priceMinor: price, outbid: null };
  } else if (bid.maxMinor > leader.maxMinor) {
    const proxyPrice = minBig(bid.maxMinor, leader.maxMinor + incrementAt(config.increments, leader.maxMinor));
    outcome = { result: 'leads', leader: bidLeads, priceMinor: maxBig(bid.amountMinor, proxyPrice), outbid: leader.bidder };
  } else {
    const proxyPrice = minBig(leader.maxMinor, bid.maxMinor + incrementAt(config.increments, bid.maxMinor));
    outcome = { result: 'outbid', leader, priceMinor: maxBig(price, proxyPrice), outbid: bid.bidder };
  }
  const reserve = config.reserveMinor;
  if (reserve !== null && outcome.leader.maxMinor >= reserve && outcome.priceMinor < reserve) outcome.priceMinor = reserve;
  return outcome;
}

/**
 * Holds: only the leader holds funds, for their whole maximum, so the proxy can climb to it
 * without another funds check. When the lead (or the leader's maximum) changes, the new hold is
 * placed and the old one released in the same commit. Paddles on the floor hold nothing.
 */
function holdChanges(state: AuctionState, outcome: BidOutcome, bidId: string): Bodies {
  if (outcome.result === 'outbid') return [];
  const { bidder, maxMinor } = outcome.leader;
  const placed: Bodies = bidder.source === 'online'
    ? [{ type: 'HoldRequired', ref: holdRefOf(configOf(state).auctionId, bidId), bidderId: bidder.bidderId, amountMinor: maxMinor }]
    : [];
  const released: Bodies = state.holds.map((hold) => ({ type: 'HoldReleased', ...hold }));
  return [...placed, ...released];
}

/** Soft close: a bid with less than the window left moves the end to one window after it. */
function softCloseExtension(state: AuctionState, nowMs: number): Bodies {
  const config = configOf(state);
  const endsAtMs = state.endsAtMs;
  if (config.kind !== 'timed' || config.softCloseSeconds === 0 || endsAtMs === null) return [];
  const windowMs = config.softCloseSeconds * 1_000;
  if (endsAtMs - nowMs >= windowMs) return [];
  return [{ type: 'EndExtended', endsAtMs: nowMs + windowMs, previousEndsAtMs: endsAtMs }];
}

function decideBuyNow(state: AuctionState, cmd: Extract<AuctionCommand, { type: 'buyNow' }>, nowMs: number): Bodies | Rejection {
  if (!isId(cmd.bidId)) return invalid('bidId', 'must be an id');
  const repeat = repeatedBid(state, cmd.bidId, cmd.bidderId);
  if (repeat) return repeat;
  const config = configOf(state);
  const refused = refuseUnlessBidding(state, nowMs) ?? refuseStaff(config, cmd.bidderId);
  if (refused) return refused;
  if (!isJoined(state, cmd.bidderId)) return reject('NOT_JOINED', 'join the auction before buying');
  const priceMinor = config.buyNowMinor;
  if (priceMinor === null) return reject('BUY_NOW_UNAVAILABLE', 'this auction has no buy-now price');
  if (state.leader !== null) return reject('BUY_NOW_UNAVAILABLE', 'buy-now ends with the first bid');
  const winner: BidderRef = { source: 'online', bidderId: cmd.bidderId };
  return [
    { type: 'BoughtNow', bidId: cmd.bidId, bidderId: cmd.bidderId, priceMinor },
    { type: 'HoldRequired', ref: holdRefOf(config.auctionId, cmd.bidId), bidderId: cmd.bidderId, amountMinor: priceMinor },
    { type: 'AuctionClosed', outcome: 'sold', via: 'buyNow', winner, priceMinor },
  ];
}

// --- the live sale ----------------------------------------------------------------------------------

function decideSetAsking(state: AuctionState, byUserId: string, amountMinor: bigint, nowMs: number): Bodies | Rejection {
  if (!isAmount(amountMinor)) return invalid('amountMinor', 'must be a positive amount of minor units');
  const refused = refuseUnlessAuctioneer(state, byUserId) ?? refuseUnlessBidding(state, nowMs);
  if (refused) return refused;
  // The auctioneer may ask above the ladder, or come back down to it, never below it.
  const config = configOf(state);
  const floor = ladderMinimumAt(config, state.priceMinor);
  if (amountMinor < floor) {
    return reject('BID_TOO_LOW', `the asking price must be at least ${moneyOf(config, floor)}`, { field: 'amountMinor', minimumNextBidMinor: floor });
  }
  return [{ type: 'AskingSet', amountMinor, byUserId }];
}

/** The hammer follows a fair warning, so the internet always gets its last chance. */
function decideHammer(state: AuctionState, byUserId: string, nowMs: number): Bodies | Rejection {
  const refused = refuseUnlessAuctioneer(state, byUserId) ?? refuseUnlessBidding(state, nowMs);
  if (refused) return refused;
  if (state.phase !== 'fairWarning') return reject('FAIR_WARNING_REQUIRED', 'give fair warning before the hammer');
  return [closingOf(state, 'hammer')];
}

function decidePauseResume(state: AuctionState, type: 'pause' | 'resume', byUserId: string): Bodies | Rejection {
  const refused = refuseUnlessAuctioneer(state, byUserId) ?? refuseIfEnded(state);
  if (refused) return refused;
  if (state.status === 'scheduled') return reject('AUCTION_NOT_OPEN', 'the auctioneer has not opened the sale yet');
  const paused = state.phase === 'paused';
  if (type === 'pause') return paused ? [] : [{ type: 'Paused', byUserId }];
  return paused ? [{ type: 'Resumed', byUserId }] : [];
}

/** The auctioneer and clerks talk to the room, before, during and after the sale. */
function decideChat(state: AuctionState, fromUserId: string, text: string): Bodies | Rejection {
  if (typeof text !== 'string' || text.trim().length === 0 || text.length > MAX_CHAT_CHARS) return invalid('text', `must be 1 to ${MAX_CHAT_CHARS} characters`);
  const refused = refuseUnlessAuctioneer(state, fromUserId, { clerks: true });
  if (refused) return refused;
  return [{ type: 'ChatPosted', fromUserId, text: text.trim() }];
}

// --- the end ------------------------------------------------------------------------------------

/** Reserve met: no reserve, or a price at or above it. Only the boolean leaves the model. */
function isReserveMet(config: AuctionConfig, priceMinor: bigint | null): boolean {
  return priceMinor !== null && (config.reserveMinor === null || priceMinor >= config.reserveMinor);
}

/** Sold to the leader at the price when there is one and the reserve is met; else unsold. */
function closingOf(state: AuctionState, via: ClosedVia): AuctionEventBody {
  const leader = state.leader;
  const sold = leader !== null && isReserveMet(configOf(state), state.priceMinor);
  return sold
    ? { type: 'AuctionClosed', outcome: 'sold', via, winner: leader.bidder, priceMinor: state.priceMinor }
    : { type: 'AuctionClosed', outcome: 'unsold', via, winner: null, priceMinor: null };
}

function decideClose(state: AuctionState, nowMs: number): Bodies | Rejection {
  if (configOf(state).kind === 'live') return reject('WRONG_AUCTION_KIND', 'a live auction ends with the hammer');
  if (state.status === 'closed' || state.status === 'cancelled') return [];
  const endsAtMs = state.endsAtMs;
  assert(endsAtMs !== null, 'a timed auction has an end');
  if (nowMs < endsAtMs) return reject('AUCTION_NOT_DUE', `the auction ends at ${isoOf(endsAtMs)}`);
  return [closingOf(state, 'timer')];
}

/** The seller may cancel before the first bid; an admin at any time until it closes. */
function decideCancel(state: AuctionState, cmd: Extract<AuctionCommand, { type: 'cancel' }>): Bodies | Rejection {
  if (typeof cmd.reason !== 'string' || cmd.reason.length > MAX_REASON_CHARS) return invalid('reason', `must be at most ${MAX_REASON_CHARS} characters`);
  const config = configOf(state);
  if (state.status === 'cancelled') return [];
  if (state.status === 'closed') return reject('CANNOT_CANCEL', 'the auction has closed and can no longer be cancelled');
  const reason = cmd.reason.trim();
  if (cmd.isAdmin) {
    if (reason.length === 0) return invalid('reason', 'an admin must say why');
  } else {
    if (cmd.byUserId !== config.sellerId) return reject('FORBIDDEN', 'only the seller or an admin may cancel an auction');
    if (state.leader !== null) return reject('CANNOT_CANCEL', 'bids have been placed; only an admin can cancel now');
  }
  return [{ type: 'AuctionCancelled', byUserId: cmd.byUserId, byAdmin: cmd.isAdmin, reason }];
}

// --- evolve -------------------------------------------------------------------------------------

/** Applies one event to `state` in place and returns it. A gap in seq is a corrupt journal. */
export function evolve(state: AuctionState, event: AuctionEvent): AuctionState {
  assert.equal(event.seq, state.seq + 1, `event seq ${event.seq} does not follow ${state.seq}`);
  assert(event.type === 'AuctionCreated' ? state.status === 'none' : state.config !== null, `${event.type} at status ${state.status}`);
  state.seq = event.seq;
  switch (event.type) {
    case 'AuctionCreated':
      state.config = event.config;
      state.status = 'scheduled';
      state.endsAtMs = event.config.endsAtMs;
      break;
    case 'AuctionOpened':
      state.status = 'open';
      state.openedAtMs = event.atMs;
      state.endsAtMs = event.endsAtMs;
      state.phase = configOf(state).kind === 'live' ? 'asking' : null;
      break;
    case 'BidderJoined':
      assert(!isJoined(state, event.bidderId) && event.number === state.participantCount + 1, 'join numbers run 1, 2, …');
      state.participants[event.bidderId] = event.number;
      state.participantCount = event.number;
      break;
    case 'BidAccepted':
      applyBid(state, event);
      break;
    case 'BoughtNow':
      state.bidIds[event.bidId] = event.bidderId;
      state.leader = { bidder: { source: 'online', bidderId: event.bidderId }, maxMinor: event.priceMinor, bidId: event.bidId };
      state.priceMinor = event.priceMinor;
      break;
    case 'HoldRequired':
      state.holds.push({ ref: event.ref, bidderId: event.bidderId, amountMinor: event.amountMinor });
      break;
    case 'HoldReleased': {
      const index = state.holds.findIndex((h) => h.ref === event.ref);
      assert(index >= 0, `released hold ${event.ref} is not held`);
      state.holds.splice(index, 1);
      break;
    }
    default:
      applySaleEvent(state, event);
  }
  return state;
}

function applyBid(state: AuctionState, event: Extract<AuctionEvent, { type: 'BidAccepted' }>): void {
  assert(state.priceMinor === null || event.priceMinor >= state.priceMinor, 'the price never falls');
  state.bidIds[event.bidId] = event.bidder.source === 'online' ? event.bidder.bidderId : `floor:${event.bidder.paddle}`;
  if (event.result !== 'outbid') state.leader = { bidder: event.bidder, maxMinor: event.maxMinor, bidId: event.bidId };
  state.priceMinor = event.priceMinor;
  state.bidCount = event.bidCount;
  state.askingMinor = null;
  if (state.phase === 'fairWarning') state.phase = 'asking';
}

function applySaleEvent(state: AuctionState, event: AuctionEvent): void {
  switch (event.type) {
    case 'EndExtended':
      state.endsAtMs = event.endsAtMs;
      break;
    case 'AskingSet':
      state.askingMinor = event.amountMinor;
      state.phase = 'asking';
      break;
    case 'FairWarning':
      state.phase = 'fairWarning';
      break;
    case 'Paused':
      state.phase = 'paused';
      break;
    case 'Resumed':
      // A pause breaks the rhythm: fair warning must be given again.
      state.phase = 'asking';
      break;
    case 'ChatPosted':
      break;
    case 'AuctionClosed':
      state.status = 'closed';
      state.outcome = event.outcome;
      state.closedVia = event.via;
      state.closedAtMs = event.atMs;
      state.phase = null;
      break;
    case 'AuctionCancelled':
      state.status = 'cancelled';
      state.cancellation = { byUserId: event.byUserId, byAdmin: event.byAdmin, reason: event.reason };
      state.closedAtMs = event.atMs;
      state.phase = null;
      break;
    default:
      assert.fail(`unhandled event ${event.type}`);
  }
}

/** One command's events, then the invariants (which may not hold between its events). */
export function evolveAll(state: AuctionState, events: readonly AuctionEvent[]): AuctionState {
  for (const event of events) evolve(state, event);
  checkInvariants(state);
  return state;
}

/** The state is a fold of its journal. */
export function replay(events: readonly AuctionEvent[]): AuctionState {
  return evolveAll(initialState(), events);
}

/** What must hold after every command; a failure is a bug, and stops the engine. */
export function checkInvariants(state: AuctionState): void {
  assert.equal(state.config === null, state.status === 'none', 'a created auction has a config');
  const { leader, priceMinor } = state;
  assert.equal(leader === null, priceMinor === null, 'a price exists exactly when someone leads');
  if (leader && priceMinor !== null) assert(priceMinor <= leader.maxMinor, 'the price never exceeds the leader\'s maximum');
  const expected = leader?.bidder.source === 'online' ? [{ bidderId: leader.bidder.bidderId, amountMinor: leader.maxMinor }] : [];
  assert.deepEqual(state.holds.map((h) => ({ bidderId: h.bidderId, amountMinor: h.amountMinor })), expected, 'only the leader holds funds, for their maximum');
  if (!state.config) return;
  const liveAndOpen = state.config.kind === 'live' && state.status === 'open';
  assert.equal(state.phase !== null, liveAndOpen, 'only an open live sale has a phase');
  if (state.config.kind === 'timed' && state.config.endsAtMs !== null) assert(state.endsAtMs !== null && state.endsAtMs >= state.config.endsAtMs, 'soft close only moves the end later');
}

// --- views --------------------------------------------------------------------------------------

/** What the room may see. Bidders are "bidder N" by join order; paddles show their number. */
export interface PublicView {
  seq: number;
  auctionId: string;
  lotId: string;
  kind: AuctionKind;
  currency: string;
  currencyScale: number;
  status: Exclude<AuctionStatus, 'none'>;
  outcome: Outcome | null;
  closedVia: ClosedVia | null;
  phase: LivePhase | null;
  startingPriceMinor: bigint;
  priceMinor: bigint | null;
  /** While open: the smallest bid accepted (live: the asking price). */
  minimumNextBidMinor: bigint | null;
  leader: string | null;
  leaderSource: 'online' | 'floor' | null;
  bidCount: number;
  participantCount: number;
  hasReserve: boolean;
  reserveMet: boolean;
  /** Null once buy-now is gone (first bid, close) or when there is none. */
  buyNowMinor: bigint | null;
  startsAtMs: number;
  endsAtMs: number | null;
  /** Timed and open: time until the (extended) end, never negative. */
  timeLeftMs: number | null;
}

export function publicView(state: AuctionState, nowMs: number): PublicView {
  const config = configOf(state);
  assert(state.status !== 'none');
  const open = state.status === 'open';
  const buyNowOpen = config.buyNowMinor !== null && state.leader === null && (state.status === 'scheduled' || open);
  return {
    seq: state.seq,
    auctionId: config.auctionId,
    lotId: config.lotId,
    kind: config.kind,
    currency: config.currency,
    currencyScale: config.currencyScale,
    status: state.status,
    outcome: state.outcome,
    closedVia: state.closedVia,
    phase: state.phase,
    startingPriceMinor: config.startingPriceMinor,
    priceMinor: state.priceMinor,
    minimumNextBidMinor: open ? minimumNextBid(state) : null,
    leader: state.leader ? labelOf(state, state.leader.bidder) : null,
    leaderSource: state.leader?.bidder.source ?? null,
    bidCount: state.bidCount,
    participantCount: state.participantCount,
    hasReserve: config.reserveMinor !== null,
    reserveMet: state.leader !== null && isReserveMet(config, state.priceMinor),
    buyNowMinor: buyNowOpen ? config.buyNowMinor : null,
    startsAtMs: config.startsAtMs,
    endsAtMs: state.endsAtMs,
    timeLeftMs: config.kind === 'timed' && open && state.endsAtMs !== null ? Math.max(0, state.endsAtMs - nowMs) : null,
  };
}

/** How the room names a bidder: "bidder 3" (third to join) or "paddle 12". */
export function labelOf(state: AuctionState, bidder: BidderRef): string {
  if (bidder.source === 'floor') return `paddle ${bidder.paddle}`;
  const number = state.participants[bidder.bidderId];
  assert(number !== undefined, 'an online bidder has joined');
  return `bidder ${number}`;
}

/** What one bidder may see about themselves. */
export interface BidderView {
  joined: boolean;
  number: number | null;
  leading: boolean;
  /** Their proxy maximum while they lead. */
  maxMinor: bigint | null;
  heldMinor: bigint;
}

export function bidderView(state: AuctionState, bidderId: string): BidderView {
  const leader = state.leader;
  const leading = leader?.bidder.source === 'online' && leader.bidder.bidderId === bidderId;
  return {
    joined: isJoined(state, bidderId),
    number: state.participants[bidderId] ?? null,
    leading,
    maxMinor: leading ? leader.maxMinor : null,
    heldMinor: state.holds.filter((h) => h.bidderId === bidderId).reduce((sum, h) => sum + h.amountMinor, 0n),
  };
}

/** Events as the room may see them: no maxima, no holds, no reserve, bidders by label. */
export type RoomEvent = { seq: number; atMs: number } & (
  | { type: 'AuctionOpened'; endsAtMs: number | null }
  | { type: 'ParticipantsChanged'; participantCount: number }
  | {
      type: 'PriceChanged';
      priceMinor: bigint;
      leader: string;
      leaderSource: 'online' | 'floor';
      bidCount: number;
      reserveMet: boolean;
      minimumNextBidMinor: bigint;
    }
  | { type: 'EndExtended'; endsAtMs: number }
  | { type: 'AskingSet'; amountMinor: bigint }
  | { type: 'FairWarning' }
  | { type: 'Paused' }
  | { type: 'Resumed' }
  | { type: 'Chat'; from: 'auctioneer' | 'clerk'; text: string }
  | { type: 'AuctionClosed'; outcome: Outcome; via: ClosedVia; winner: string | null; priceMinor: bigint | null }
  | { type: 'AuctionCancelled'; reason: string }
);

/**
 * The room's version of an event, or null when the room has nothing to learn from it (creation,
 * holds, buy-now before its close, a leader's quiet raise). `state` is any state at or after
 * the event (labels only need the participants, who never leave). Room feeds therefore skip
 * some seq numbers; a client catching up asks for everything after the last seq it saw.
 */
export function publicEventOf(event: AuctionEvent, state: AuctionState): RoomEvent | null {
  const config = configOf(state);
  const at = { seq: event.seq, atMs: event.atMs };
  switch (event.type) {
    case 'AuctionOpened':
      return { ...at, type: 'AuctionOpened', endsAtMs: event.endsAtMs };
    case 'BidderJoined':
      return { ...at, type: 'ParticipantsChanged', participantCount: event.number };
    case 'BidAccepted': {
      if (!event.visible) return null;
      const leader = { leader: labelOf(state, event.leader), leaderSource: event.leader.source };
      const minimumNextBidMinor = ladderMinimumAt(config, event.priceMinor);
      return { ...at, type: 'PriceChanged', priceMinor: event.priceMinor, ...leader, bidCount: event.bidCount, reserveMet: event.reserveMet, minimumNextBidMinor };
    }
    case 'EndExtended':
      return { ...at, type: 'EndExtended', endsAtMs: event.endsAtMs };
    case 'AskingSet':
      return { ...at, type: 'AskingSet', amountMinor: event.amountMinor };
    case 'FairWarning':
    case 'Paused':
    case 'Resumed':
      return { ...at, type: event.type };
    case 'ChatPosted':
      return { ...at, type: 'Chat', from: event.fromUserId === config.auctioneerId ? 'auctioneer' : 'clerk', text: event.text };
    case 'AuctionClosed':
      return { ...at, type: 'AuctionClosed', outcome: event.outcome, via: event.via, winner: event.winner ? labelOf(state, event.winner) : null, priceMinor: event.priceMinor };
    case 'AuctionCancelled':
      return { ...at, type: 'AuctionCancelled', reason: event.reason };
    default:
      return null;
  }
}

/** What the engine does with money once the auction is over. */
export type Settlement =
  | {
      outcome: 'sold';
      winner: BidderRef;
      priceMinor: bigint;
      /** Capture `amountMinor` (the price) of the winner's hold; the ledger releases the rest of it. Null for a floor winner, who pays at the desk. */
      capture: (Hold & { heldMinor: bigint }) | null;
      release: Hold[];
    }
  | { outcome: 'unsold' | 'cancelled'; winner: null; priceMinor: null; capture: null; release: Hold[] };

/** Null while the auction still runs. */
export function settlementOf(state: AuctionState): Settlement | null {
  if (state.status === 'cancelled') return { outcome: 'cancelled', winner: null, priceMinor: null, capture: null, release: [...state.holds] };
  if (state.status !== 'closed') return null;
  const leader = state.leader;
  const priceMinor = state.priceMinor;
  if (state.outcome !== 'sold' || leader === null || priceMinor === null) {
    return { outcome: 'unsold', winner: null, priceMinor: null, capture: null, release: [...state.holds] };
  }
  const winnerId = leader.bidder.source === 'online' ? leader.bidder.bidderId : null;
  const held = state.holds.find((h) => h.bidderId === winnerId);
  assert(winnerId === null || (held !== undefined && held.amountMinor >= priceMinor), 'an online winner holds at least the price');
  const capture = held ? { ref: held.ref, bidderId: held.bidderId, amountMinor: priceMinor, heldMinor: held.amountMinor } : null;
  return { outcome: 'sold', winner: leader.bidder, priceMinor, capture, release: state.holds.filter((h) => h !== held) };
}

// --- small things ---------------------------------------------------------------------------------

function configOf(state: AuctionState): AuctionConfig {
  assert(state.config !== null, 'the auction has been created');
  return state.config;
}

function sameBidder(a: BidderRef, b: BidderRef): boolean {
  return a.source === 'online' ? b.source === 'online' && a.bidderId === b.bidderId : b.source === 'floor' && a.paddle === b.paddle;
}

function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

function maxBig(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

function moneyOf(config: AuctionConfig, minor: bigint): string {
  return `${formatAmount(minor, config.currencyScale)} ${config.currency}`;
}

function isoOf(ms: number): string {
  return new Date(ms).toISOString();
}
