import { describe, expect, it } from 'vitest';
import { MAX_AMOUNT_MINOR } from '../platform/money.js';
import {
  SOFT_CLOSE_DEFAULT_SECONDS,
  bidderView,
  checkIncrements,
  cloneState,
  decide,
  defaultIncrements,
  evolve,
  evolveAll,
  incrementAt,
  initialState,
  minimumNextBid,
  nextIncrements,
  publicEventOf,
  publicView,
  replay,
  settlementOf,
  type AuctionCommand,
  type AuctionConfigInput,
  type AuctionEvent,
  type AuctionRejectionCode,
  type AuctionState,
  type IncrementBand,
  type Rejection,
} from './model.js';
import { mulberry32 } from '../../test/support/random.js';

// --- a small harness: a sale driven command by command -------------------------------------------

const T0 = Date.UTC(2030, 0, 1, 12);
const HOUR = 3_600_000;
const END = T0 + HOUR;
const WINDOW = SOFT_CLOSE_DEFAULT_SECONDS * 1_000;

let bidSeq = 0;
const nextBidId = () => `b${++bidSeq}`;

const bid = (bidderId: string, amountMinor: bigint, maxMinor?: bigint): AuctionCommand => ({ type: 'bid', bidId: nextBidId(), bidderId, amountMinor, ...(maxMinor === undefined ? {} : { maxMinor }) });
const floorBid = (paddle: string, amountMinor: bigint, clerkId = 'clerk'): AuctionCommand => ({ type: 'floorBid', bidId: nextBidId(), paddle, amountMinor, clerkId });
const buyNow = (bidderId: string): AuctionCommand => ({ type: 'buyNow', bidId: nextBidId(), bidderId });
const join = (bidderId: string, reputation = 50): AuctionCommand => ({ type: 'join', bidderId, reputation });
const by = (type: 'fairWarning' | 'hammer' | 'pause' | 'resume', byUserId = 'auct'): AuctionCommand => ({ type, byUserId });
const asking = (amountMinor: bigint, byUserId = 'auct'): AuctionCommand => ({ type: 'setAsking', byUserId, amountMinor });
const cancel = (byUserId: string, isAdmin = false, reason = ''): AuctionCommand => ({ type: 'cancel', byUserId, isAdmin, reason });

function timedInput(over: Partial<AuctionConfigInput> = {}): AuctionConfigInput {
  return { auctionId: 'a1', lotId: 'lot1', sellerId: 'seller', kind: 'timed', currency: 'USD', currencyScale: 2, startingPriceMinor: 1_000n, startsAtMs: T0, endsAtMs: END, ...over };
}

function liveInput(over: Partial<AuctionConfigInput> = {}): AuctionConfigInput {
  return { auctionId: 'a2', lotId: 'lot2', sellerId: 'seller', kind: 'live', currency: 'USD', currencyScale: 2, startingPriceMinor: 1_000n, startsAtMs: T0, auctioneerId: 'auct', clerkIds: ['clerk'], ...over };
}

class Sale {
  state: AuctionState = initialState();
  events: AuctionEvent[] = [];
  nowMs = T0;

  at(nowMs: number): this {
    this.nowMs = nowMs;
    return this;
  }

  /** Applies an accepted command; a refusal fails the test with its code. */
  do(command: AuctionCommand): AuctionEvent[] {
    const decision = decide(this.state, command, { nowMs: this.nowMs });
    if (!decision.ok) throw new Error(`${command.type} refused: ${decision.rejection.code} ${decision.rejection.detail}`);
    evolveAll(this.state, decision.events);
    this.events.push(...decision.events);
    return decision.events;
  }

  /** A refused command leaves the state exactly as it was. */
  refuse(command: AuctionCommand): Rejection {
    const before = cloneState(this.state);
    const decision = decide(this.state, command, { nowMs: this.nowMs });
    if (decision.ok) throw new Error(`${command.type} was accepted: ${decision.events.map((e) => e.type).join(', ')}`);
    expect(this.state).toEqual(before);
    return decision.rejection;
  }

  types(command: AuctionCommand): string[] {
    return this.do(command).map((e) => e.type);
  }
}

function timedSale(over: Partial<AuctionConfigInput> = {}, bidders = ['alice', 'bob', 'carol']): Sale {
  const sale = new Sale();
  sale.do({ type: 'create', config: timedInput(over) });
  sale.do({ type: 'open', byUserId: null });
  for (const b of bidders) sale.do(join(b));
  return sale;
}

function liveSale(over: Partial<AuctionConfigInput> = {}, bidders = ['alice', 'bob']): Sale {
  const sale = new Sale();
  sale.do({ type: 'create', config: liveInput(over) });
  for (const b of bidders) sale.do(join(b));
  sale.do({ type: 'open', byUserId: 'auct' });
  return sale;
}

const leaderOf = (s: AuctionState) => s.leader?.bidder;
const holdsOf = (s: AuctionState) => Object.fromEntries(s.holds.map((h) => [h.bidderId, h.amountMinor]));
const online = (bidderId: string) => ({ source: 'online', bidderId });
const paddle = (p: string) => ({ source: 'floor', paddle: p });
const json = (value: unknown) => JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

// --- the increment ladder ------------------------------------------------------------------------

describe('increment ladder', () => {
  const usd = defaultIncrements(2);

  it.each([
    [0n, 5n],
    [99n, 5n],
    [100n, 25n],
    [499n, 25n],
    [500n, 50n],
    [2_499n, 50n],
    [2_500n, 100n],
    [9_999n, 100n],
    [10_000n, 250n],
    [25_000n, 500n],
    [50_000n, 1_000n],
    [100_000n, 2_500n],
    [250_000n, 5_000n],
    [500_000n, 10_000n],
    [10n ** 12n, 10_000n],
  ])('the default USD ladder steps by eBay\'s table: at %s¢ the increment is %s¢', (price, increment) => {
    expect(incrementAt(usd, price)).toBe(increment);
  });

  it('a currency without decimals keeps the table\'s numbers as minor units (¥5 under ¥100)', () => {
    expect(defaultIncrements(0)).toEqual(usd);
    expect(incrementAt(defaultIncrements(0), 150n)).toBe(25n);
  });

  it('a currency with more decimals gets the same table in major units', () => {
    expect(incrementAt(defaultIncrements(3), 1_000n)).toBe(250n); // 1.000 → 0.250
    expect(incrementAt(defaultIncrements(8), 50_000_000n)).toBe(5_000_000n); // 0.5 BTC → 0.05
  });

  it.each<[string, IncrementBand[], string | null]>([
    ['a valid ladder', [{ fromMinor: 0n, incrementMinor: 1n }, { fromMinor: 10n, incrementMinor: 5n }], null],
    ['no bands', [], 'needs at least one band'],
    ['a first band above 0', [{ fromMinor: 1n, incrementMinor: 1n }], 'the first band must start from 0'],
    ['bands out of order', [{ fromMinor: 0n, incrementMinor: 1n }, { fromMinor: 10n, incrementMinor: 2n }, { fromMinor: 10n, incrementMinor: 3n }], 'band 2: bands must be in ascending order of fromMinor'],
    ['a zero increment', [{ fromMinor: 0n, incrementMinor: 0n }], 'band 0: the increment must be positive'],
    ['a negative increment', [{ fromMinor: 0n, incrementMinor: 1n }, { fromMinor: 5n, incrementMinor: -1n }], 'band 1: the increment must be positive'],
    ['51 bands', Array.from({ length: 51 }, (_, i) => ({ fromMinor: BigInt(i), incrementMinor: 1n })), 'may have 50 bands at most'],
  ])('checkIncrements: %s', (_name, bands, problem) => {
    expect(checkIncrements(bands)).toBe(problem);
  });

  it('an auction climbs its own ladder when it brings one', () => {
    const sale = timedSale({ increments: [{ fromMinor: 0n, incrementMinor: 100n }, { fromMinor: 2_000n, incrementMinor: 500n }] });
    sale.do(bid('alice', 1_000n));
    expect(minimumNextBid(sale.state)).toBe(1_100n);
    expect(nextIncrements(sale.state, 4)).toEqual([1_100n, 1_200n, 1_300n, 1_400n]);
    sale.do(bid('bob', 1_950n));
    expect(nextIncrements(sale.state, 3)).toEqual([2_050n, 2_550n, 3_050n]);
  });

  it('the one-tap amounts cross bands on the default ladder and are bounded', () => {
    const sale = timedSale();
    expect(nextIncrements(sale.state, 2)).toEqual([1_000n, 1_050n]); // no bid yet: the starting price first
    sale.do(bid('alice', 2_400n));
    expect(nextIncrements(sale.state, 3)).toEqual([2_450n, 2_500n, 2_600n]);
    expect(nextIncrements(sale.state, 1_000)).toHaveLength(20);
    expect(nextIncrements(sale.state, 0)).toHaveLength(1);
  });
});

// --- creating ------------------------------------------------------------------------------------

describe('create', () => {
  it('resolves the defaults into the journaled config', () => {
    const sale = new Sale();
    const [created] = sale.do({ type: 'create', config: timedInput() });
    expect(created).toMatchObject({ seq: 1, atMs: T0, type: 'AuctionCreated' });
    expect(sale.state.config).toMatchObject({ increments: defaultIncrements(2), softCloseSeconds: 120, minReputation: 0, reserveMinor: null, buyNowMinor: null, clerkIds: [] });
    expect(sale.state.status).toBe('scheduled');
  });

  it('refuses a second creation of the same auction', () => {
    const sale = timedSale();
    expect(sale.refuse({ type: 'create', config: timedInput() }).code).toBe('AUCTION_EXISTS');
  });

  it('answers NOT_FOUND to anything but create before creation', () => {
    expect(new Sale().refuse(join('alice')).code).toBe('NOT_FOUND');
  });

  it.each<[string, Partial<AuctionConfigInput>, 'timed' | 'live', string]>([
    ['an empty lot id', { lotId: '' }, 'timed', 'lotId'],
    ['an unknown kind', { kind: 'dutch' as never }, 'timed', 'kind'],
    ['a lower-case currency', { currency: 'usd' }, 'timed', 'currency'],
    ['a fractional currency scale', { currencyScale: 1.5 }, 'timed', 'currencyScale'],
    ['a zero starting price', { startingPriceMinor: 0n }, 'timed', 'startingPriceMinor'],
    ['a starting price beyond 2^63 − 1', { startingPriceMinor: MAX_AMOUNT_MINOR + 1n }, 'timed', 'startingPriceMinor'],
    ['a reserve below the starting price', { reserveMinor: 999n }, 'timed', 'reserveMinor'],
    ['a buy-now below the starting price', { buyNowMinor: 999n }, 'timed', 'buyNowMinor'],
    ['a buy-now below the reserve', { reserveMinor: 5_000n, buyNowMinor: 4_000n }, 'timed', 'buyNowMinor'],
    ['a ladder not from 0', { increments: [{ fromMinor: 100n, incrementMinor: 5n }] }, 'timed', 'increments'],
    ['a reputation minimum above 100', { minReputation: 101 }, 'timed', 'minReputation'],
    ['an end before the start', { endsAtMs: T0 }, 'timed', 'endsAtMs'],
    ['no end for a timed auction', { endsAtMs: null }, 'timed', 'endsAtMs'],
    ['a 31-day auction', { endsAtMs: T0 + 31 * 24 * HOUR }, 'timed', 'endsAtMs'],
    ['a soft close of an hour and a second', { softCloseSeconds: 3_601 }, 'timed', 'softCloseSeconds'],
    ['an auctioneer on a timed auction', { auctioneerId: 'auct' }, 'timed', 'auctioneerId'],
    ['a live auction without an auctioneer', { auctioneerId: null }, 'live', 'auctioneerId'],
    ['the seller as auctioneer', { auctioneerId: 'seller' }, 'live', 'auctioneerId'],
    ['the seller as clerk', { clerkIds: ['seller'] }, 'live', 'clerkIds'],
    ['an end time on a live auction', { endsAtMs: END }, 'live', 'endsAtMs'],
    ['a soft close on a live auction', { softCloseSeconds: 60 }, 'live', 'softCloseSeconds'],
  ])('refuses %s as VALIDATION naming the field', (_name, over, kind, field) => {
    const config = kind === 'timed' ? timedInput(over) : liveInput(over);
    expect(new Sale().refuse({ type: 'create', config })).toMatchObject({ code: 'VALIDATION', field });
  });
});

// --- opening and joining -------------------------------------------------------------------------

describe('open', () => {
  it('a timed auction opens at its start time, not before; a repeat changes nothing', () => {
    const sale = new Sale();
    sale.do({ type: 'create', config: timedInput() });
    expect(sale.at(T0 - 1).refuse({ type: 'open', byUserId: null }).code).toBe('AUCTION_NOT_DUE');
    expect(sale.at(T0).types({ type: 'open', byUserId: null })).toEqual(['AuctionOpened']);
    expect(sale.state).toMatchObject({ status: 'open', endsAtMs: END, phase: null });
    expect(sale.do({ type: 'open', byUserId: null })).toEqual([]);
  });

  it('a live auction is opened by its auctioneer only, whenever they are ready', () => {
    const sale = new Sale();
    sale.do({ type: 'create', config: liveInput() });
    expect(sale.at(T0 - HOUR).refuse({ type: 'open', byUserId: 'clerk' }).code).toBe('NOT_AUCTIONEER');
    expect(sale.refuse({ type: 'open', byUserId: null }).code).toBe('NOT_AUCTIONEER');
    sale.do({ type: 'open', byUserId: 'auct' });
    expect(sale.state).toMatchObject({ status: 'open', phase: 'asking', endsAtMs: null });
  });
});

describe('join', () => {
  it('numbers participants in join order; a repeat join changes nothing', () => {
    const sale = new Sale();
    sale.do({ type: 'create', config: timedInput() });
    sale.do(join('alice')); // joining before the start is allowed
    sale.do({ type: 'open', byUserId: null });
    sale.do(join('bob'));
    expect(sale.do(join('alice'))).toEqual([]);
    expect(sale.state.participants).toEqual({ alice: 1, bob: 2 });
    expect(sale.state.participantCount).toBe(2);
  });

  it('a reputation exactly at the minimum joins; one below does not, and hears both numbers', () => {
    const sale = timedSale({ minReputation: 30 }, []);
    expect(sale.refuse(join('alice', 29))).toMatchObject({ code: 'REPUTATION_TOO_LOW', detail: expect.stringContaining('29') });
    expect(sale.types(join('alice', 30))).toEqual(['BidderJoined']);
  });

  it.each<[string, string, 'timed' | 'live', AuctionRejectionCode]>([
    ['the seller', 'seller', 'timed', 'OWN_AUCTION'],
    ['the auctioneer', 'auct', 'live', 'OWN_AUCTION'],
    ['a clerk', 'clerk', 'live', 'OWN_AUCTION'],
  ])('%s cannot join', (_name, userId, kind, code) => {
    const sale = kind === 'timed' ? timedSale() : liveSale();
    expect(sale.refuse(join(userId)).code).toBe(code);
  });

  it('nobody joins a closed or cancelled auction', () => {
    const closed = timedSale();
    closed.at(END).do({ type: 'close' });
    expect(closed.refuse(join('dave')).code).toBe('AUCTION_CLOSED');
    const cancelled = timedSale();
    cancelled.do(cancel('seller'));
    expect(cancelled.refuse(join('dave')).code).toBe('AUCTION_CANCELLED');
  });
});

// --- bids ----------------------------------------------------------------------------------------

describe('bid rejections', () => {
  it.each<[string, (s: Sale) => void, () => AuctionCommand, AuctionRejectionCode, string?]>([
    ['from someone who has not joined', () => {}, () => bid('dave', 1_000n), 'NOT_JOINED'],
    ['from the seller', () => {}, () => bid('seller', 1_000n), 'OWN_AUCTION'],
    ['below the starting price', () => {}, () => bid('alice', 999n), 'BID_TOO_LOW', 'amountMinor'],
    ['below the price plus the increment', (s) => s.do(bid('alice', 1_000n)), () => bid('bob', 1_049n), 'BID_TOO_LOW', 'amountMinor'],
    ['at the end time, before the timer closed it', (s) => s.at(END), () => bid('alice', 1_000n), 'AUCTION_CLOSED'],
    ['after the close', (s) => s.at(END).do({ type: 'close' }), () => bid('alice', 1_000n), 'AUCTION_CLOSED'],
    ['on a cancelled auction', (s) => s.do(cancel('seller')), () => bid('alice', 1_000n), 'AUCTION_CANCELLED'],
    ['with a maximum below the amount', () => {}, () => bid('alice', 2_000n, 1_500n), 'VALIDATION', 'maxMinor'],
    ['of zero', () => {}, () => bid('alice', 0n), 'VALIDATION', 'amountMinor'],
    ['beyond 2^63 − 1', () => {}, () => bid('alice', 1_000n, MAX_AMOUNT_MINOR + 1n), 'VALIDATION', 'maxMinor'],
    ['from the leader without raising their maximum', (s) => s.do(bid('alice', 1_000n, 3_000n)), () => bid('alice', 1_050n, 3_000n), 'ALREADY_LEADING', 'maxMinor'],
  ])('a bid %s is refused', (_name, setup, command, code, field) => {
    const sale = timedSale();
    setup(sale);
    const rejection = sale.refuse(command());
    expect(rejection.code).toBe(code);
    if (field) expect(rejection.field).toBe(field);
  });

  it('a bid before a timed auction opens is refused with its opening time', () => {
    const sale = new Sale();
    sale.do({ type: 'create', config: timedInput() });
    sale.do(join('alice'));
    expect(sale.refuse(bid('alice', 1_000n))).toMatchObject({ code: 'AUCTION_NOT_OPEN', detail: `bidding opens at ${new Date(T0).toISOString()}` });
  });

  it('BID_TOO_LOW names the minimum next bid', () => {
    const sale = timedSale();
    sale.do(bid('alice', 1_000n));
    expect(sale.refuse(bid('bob', 1_000n))).toMatchObject({ code: 'BID_TOO_LOW', minimumNextBidMinor: 1_050n, detail: 'the minimum bid is 10.50 USD' });
  });
});

describe('a repeated bidId', () => {
  it("is the same bidder's retry: applied once, answered with no new events, even after the price moved", () => {
    const sale = timedSale();
    const first: AuctionCommand = { type: 'bid', bidId: 'retry-1', bidderId: 'alice', amountMinor: 1_000n };
    expect(sale.types(first)).toContain('BidAccepted');
    sale.do(bid('bob', 1_100n));
    const before = cloneState(sale.state);
    expect(sale.do(first)).toEqual([]);
    expect(sale.state).toEqual(before);
  });

  it("is refused when someone else's bid already used it, online or on the floor", () => {
    const sale = timedSale();
    sale.do({ type: 'bid', bidId: 'shared', bidderId: 'alice', amountMinor: 1_000n });
    expect(sale.refuse({ type: 'bid', bidId: 'shared', bidderId: 'bob', amountMinor: 2_000n })).toMatchObject({ code: 'BID_ID_REUSED', field: 'bidId' });
    const live = liveSale();
    live.do({ type: 'floorBid', bidId: 'paddle-bid', paddle: '12', amountMinor: 1_000n, clerkId: 'clerk' });
    expect(live.do({ type: 'floorBid', bidId: 'paddle-bid', paddle: '12', amountMinor: 1_000n, clerkId: 'clerk' })).toEqual([]);
    expect(live.refuse({ type: 'floorBid', bidId: 'paddle-bid', paddle: '14', amountMinor: 1_100n, clerkId: 'clerk' })).toMatchObject({ code: 'BID_ID_REUSED' });
    expect(live.refuse({ type: 'bid', bidId: 'paddle-bid', bidderId: 'alice', amountMinor: 1_100n })).toMatchObject({ code: 'BID_ID_REUSED' });
  });

  it('is recognised after a rebuild from the journal, and a buy-now retry too', () => {
    const sale = timedSale({ buyNowMinor: 50_000n });
    sale.do({ type: 'buyNow', bidId: 'bn-1', bidderId: 'carol' });
    const rebuilt = replay(sale.events);
    expect(decide(rebuilt, { type: 'buyNow', bidId: 'bn-1', bidderId: 'carol' }, { nowMs: sale.nowMs })).toMatchObject({ ok: true, events: [] });
  });
});

describe('proxy bidding', () => {
  type Step = [bidder: string, amountMinor: bigint, maxMinor: bigint | undefined, leader: string, priceMinor: bigint];
  it.each<[string, Step[]]>([
    ['the first bid leads at the starting price', [['alice', 1_000n, 5_000n, 'alice', 1_000n]]],
    ['a lower maximum is answered by the proxy one increment above it', [
      ['alice', 1_000n, 5_000n, 'alice', 1_000n],
      ['bob', 1_050n, undefined, 'alice', 1_100n],
      ['bob', 1_150n, 2_000n, 'alice', 2_050n],
    ]],
    ['equal maxima: the earlier bid wins, at that maximum', [
      ['alice', 1_000n, 3_000n, 'alice', 1_000n],
      ['bob', 1_050n, 3_000n, 'alice', 3_000n],
    ]],
    ['a higher maximum leads at one increment over the old maximum', [
      ['alice', 1_000n, 3_000n, 'alice', 1_000n],
      ['bob', 1_050n, 5_000n, 'bob', 3_100n],
    ]],
    ['the price is capped at the new leader\'s maximum', [
      ['alice', 1_000n, 3_000n, 'alice', 1_000n],
      ['bob', 1_050n, 3_050n, 'bob', 3_050n],
    ]],
    ['the proxy answer is capped at the leader\'s maximum', [
      ['alice', 1_000n, 1_100n, 'alice', 1_000n],
      ['bob', 1_050n, 1_080n, 'alice', 1_100n],
    ]],
    ['the leader raising their maximum does not raise the price', [
      ['alice', 1_000n, 3_000n, 'alice', 1_000n],
      ['alice', 1_050n, 6_000n, 'alice', 1_000n],
      ['bob', 1_050n, 5_000n, 'alice', 5_100n],
    ]],
    ['a plain bid above the minimum is a bid at its amount (a jump bid)', [
      ['alice', 1_000n, undefined, 'alice', 1_000n],
      ['bob', 2_000n, undefined, 'bob', 2_000n],
      ['carol', 2_050n, 4_000n, 'carol', 2_050n],
    ]],
    ['a jump bid with a maximum leads at its amount when that is above the proxy price', [
      ['alice', 1_000n, 1_200n, 'alice', 1_000n],
      ['bob', 2_500n, 9_000n, 'bob', 2_500n],
    ]],
    ['the worked example in docs/auctions.md', [
      ['alice', 1_000n, 3_000n, 'alice', 1_000n],
      ['bob', 1_050n, 2_000n, 'alice', 2_050n],
      ['carol', 2_100n, 5_000n, 'carol', 3_100n],
      ['alice', 3_200n, 5_000n, 'carol', 5_000n],
    ]],
    ['the third bidder meets the leader\'s proxy and the old leader is out of it', [
      ['alice', 1_000n, 2_000n, 'alice', 1_000n],
      ['bob', 1_050n, 4_000n, 'bob', 2_050n],
      ['carol', 2_100n, 3_000n, 'bob', 3_100n],
      ['alice', 3_200n, 3_900n, 'bob', 4_000n],
    ]],
  ])('%s', (_name, steps) => {
    const sale = timedSale();
    for (const [bidder, amount, max, leader, price] of steps) {
      sale.do(bid(bidder, amount, max));
      expect(leaderOf(sale.state), `${bidder} ${amount}/${max}`).toEqual(online(leader));
      expect(sale.state.priceMinor, `${bidder} ${amount}/${max}`).toBe(price);
    }
  });

  it('says who leads, the price, and who was outbid', () => {
    const sale = timedSale();
    sale.do(bid('alice', 1_000n, 3_000n));
    const [taken] = sale.do(bid('bob', 1_050n, 5_000n));
    expect(taken).toMatchObject({ type: 'BidAccepted', result: 'leads', leader: online('bob'), priceMinor: 3_100n, outbid: online('alice'), bidCount: 2 });
    const [beaten] = sale.do(bid('carol', 3_200n));
    expect(beaten).toMatchObject({ type: 'BidAccepted', result: 'outbid', leader: online('bob'), priceMinor: 3_300n, outbid: online('carol'), bidCount: 3 });
  });

  it('a leader\'s quiet raise is not counted and not shown to the room', () => {
    const sale = timedSale();
    sale.do(bid('alice', 1_000n, 3_000n));
    const [raise] = sale.do(bid('alice', 1_050n, 6_000n));
    expect(raise).toMatchObject({ result: 'raisedMax', visible: false, bidCount: 1 });
    expect(publicEventOf(raise!, sale.state)).toBeNull();
    expect(bidderView(sale.state, 'alice')).toEqual({ joined: true, number: 1, leading: true, maxMinor: 6_000n, heldMinor: 6_000n });
  });
});

describe('holds', () => {
  it('the first bid holds the bidder\'s maximum', () => {
    const sale = timedSale();
    const events = sale.do(bid('alice', 1_000n, 3_000n));
    expect(events.map((e) => e.type)).toEqual(['BidAccepted', 'HoldRequired']);
    expect(events[1]).toMatchObject({ bidderId: 'alice', amountMinor: 3_000n, ref: expect.stringMatching(/^auction:a1:bid:b\d+$/) });
    expect(holdsOf(sale.state)).toEqual({ alice: 3_000n });
  });

  it('outbid bidder\'s hold is released in the same commit, after the new leader\'s is placed', () => {
    const sale = timedSale();
    const [, aliceHold] = sale.do(bid('alice', 1_000n, 3_000n));
    const events = sale.do(bid('bob', 1_050n, 5_000n));
    expect(events.map((e) => e.type)).toEqual(['BidAccepted', 'HoldRequired', 'HoldReleased']);
    expect(events[1]).toMatchObject({ bidderId: 'bob', amountMinor: 5_000n });
    expect(events[2]).toMatchObject({ bidderId: 'alice', amountMinor: 3_000n, ref: (aliceHold as { ref: string }).ref });
    expect(holdsOf(sale.state)).toEqual({ bob: 5_000n });
  });

  it('a bid the proxy beats at once changes no hold', () => {
    const sale = timedSale();
    sale.do(bid('alice', 1_000n, 3_000n));
    expect(sale.types(bid('bob', 1_050n, 2_000n))).toEqual(['BidAccepted']);
    expect(holdsOf(sale.state)).toEqual({ alice: 3_000n });
  });

  it('a leader raising their maximum swaps their hold for a larger one', () => {
    const sale = timedSale();
    sale.do(bid('alice', 1_000n, 3_000n));
    const events = sale.do(bid('alice', 1_050n, 6_000n));
    expect(events.map((e) => [e.type, 'amountMinor' in e ? e.amountMinor : null])).toEqual([
      ['BidAccepted', 1_050n],
      ['HoldRequired', 6_000n],
      ['HoldReleased', 3_000n],
    ]);
    expect(holdsOf(sale.state)).toEqual({ alice: 6_000n });
  });
});

// --- soft close ----------------------------------------------------------------------------------

describe('soft close', () => {
  it.each<[string, number, number | null]>([
    ['two minutes and a millisecond before the end: no extension', END - WINDOW - 1, null],
    ['exactly two minutes before the end: no extension', END - WINDOW, null],
    ['a millisecond inside the window: the end moves to two minutes after the bid', END - WINDOW + 1, END + 1],
    ['the last millisecond: the end moves to two minutes after the bid', END - 1, END - 1 + WINDOW],
  ])('a bid %s', (_name, atMs, newEnd) => {
    const sale = timedSale();
    const events = sale.at(atMs).do(bid('alice', 1_000n));
    const extended = events.find((e) => e.type === 'EndExtended');
    if (newEnd === null) {
      expect(extended).toBeUndefined();
      expect(sale.state.endsAtMs).toBe(END);
    } else {
      expect(extended).toMatchObject({ endsAtMs: newEnd, previousEndsAtMs: END });
      expect(sale.state.endsAtMs).toBe(newEnd);
    }
  });

  it('the extended end holds: the timer at the old end is early, bids still count, the new end closes', () => {
    const sale = timedSale();
    sale.at(END - 1_000).do(bid('alice', 1_000n));
    expect(sale.at(END).refuse({ type: 'close' }).code).toBe('AUCTION_NOT_DUE');
    sale.at(END + 5_000).do(bid('bob', 1_050n)); // extends again, to END + 5 s + 2 min
    expect(sale.state.endsAtMs).toBe(END + 5_000 + WINDOW);
    expect(sale.at(END + 5_000 + WINDOW).refuse(bid('alice', 1_200n)).code).toBe('AUCTION_CLOSED');
    expect(sale.types({ type: 'close' })).toEqual(['AuctionClosed']);
  });

  it('a configured window is used; 0 turns soft close off', () => {
    const short = timedSale({ softCloseSeconds: 30 });
    short.at(END - 10_000).do(bid('alice', 1_000n));
    expect(short.state.endsAtMs).toBe(END + 20_000);
    const off = timedSale({ softCloseSeconds: 0 });
    off.at(END - 1).do(bid('alice', 1_000n));
    expect(off.state.endsAtMs).toBe(END);
  });

  it('a leader quietly raising their maximum does not extend the end; a proxy-beaten bid does', () => {
    const sale = timedSale();
    sale.do(bid('alice', 1_000n, 3_000n));
    sale.at(END - 1_000).do(bid('alice', 1_050n, 5_000n));
    expect(sale.state.endsAtMs).toBe(END);
    sale.at(END - 500).do(bid('bob', 1_050n));
    expect(sale.state.endsAtMs).toBe(END - 500 + WINDOW);
  });
});

// --- reserve and closing -------------------------------------------------------------------------

describe('reserve and close', () => {
  it('no bids: unsold', () => {
    const sale = timedSale();
    const [closed] = sale.at(END).do({ type: 'close' });
    expect(closed).toMatchObject({ type: 'AuctionClosed', outcome: 'unsold', via: 'timer', winner: null, priceMinor: null });
    expect(settlementOf(sale.state)).toEqual({ outcome: 'unsold', winner: null, priceMinor: null, capture: null, release: [] });
  });

  it('the timer closing early changes nothing; a repeat close changes nothing', () => {
    const sale = timedSale();
    expect(sale.at(END - 1).refuse({ type: 'close' }).code).toBe('AUCTION_NOT_DUE');
    sale.at(END).do({ type: 'close' });
    expect(sale.do({ type: 'close' })).toEqual([]);
  });

  it('reserve not met: unsold, and the leader\'s hold is released', () => {
    const sale = timedSale({ reserveMinor: 4_321n });
    sale.do(bid('alice', 1_000n, 3_000n));
    expect(publicView(sale.state, T0)).toMatchObject({ hasReserve: true, reserveMet: false });
    sale.at(END).do({ type: 'close' });
    expect(sale.state.outcome).toBe('unsold');
    expect(settlementOf(sale.state)?.release).toEqual([expect.objectContaining({ bidderId: 'alice', amountMinor: 3_000n })]);
  });

  it('a maximum reaching the reserve lifts the price to the reserve', () => {
    const sale = timedSale({ reserveMinor: 5_000n });
    const [accepted] = sale.do(bid('alice', 1_000n, 6_000n));
    expect(accepted).toMatchObject({ priceMinor: 5_000n, reserveMet: true });
    expect(minimumNextBid(sale.state)).toBe(5_100n);
    sale.do(bid('bob', 5_100n));
    expect(sale.state).toMatchObject({ priceMinor: 5_200n, leader: { bidder: online('alice') } });
  });

  it('a leader raising their maximum past the reserve lifts the price, and the room sees it', () => {
    const sale = timedSale({ reserveMinor: 5_000n });
    sale.do(bid('alice', 1_000n, 3_000n));
    const [raise] = sale.at(END - 1_000).do(bid('alice', 1_050n, 8_000n));
    expect(raise).toMatchObject({ result: 'raisedMax', visible: true, priceMinor: 5_000n, bidCount: 2 });
    expect(sale.state.endsAtMs).toBe(END - 1_000 + WINDOW);
  });

  it('reserve met exactly: sold at the price, capturing the price from the winner\'s hold', () => {
    const sale = timedSale({ reserveMinor: 3_000n });
    sale.do(bid('alice', 1_000n, 2_900n));
    sale.do(bid('bob', 1_050n, 3_000n));
    expect(sale.state.priceMinor).toBe(3_000n);
    sale.at(END).do({ type: 'close' });
    const settlement = settlementOf(sale.state);
    expect(settlement).toMatchObject({ outcome: 'sold', winner: online('bob'), priceMinor: 3_000n, capture: { bidderId: 'bob', amountMinor: 3_000n, heldMinor: 3_000n }, release: [] });
  });

  it('the room sees whether the reserve is met, never the reserve', () => {
    const sale = timedSale({ reserveMinor: 4_321n });
    sale.do(bid('alice', 1_000n));
    const view = publicView(sale.state, T0);
    expect(json(view)).not.toContain('4321');
    for (const event of sale.events) expect(json(publicEventOf(event, sale.state))).not.toContain('4321');
  });

  it('settlement waits until the auction is over', () => {
    const sale = timedSale();
    sale.do(bid('alice', 1_000n));
    expect(settlementOf(sale.state)).toBeNull();
  });
});

// --- buy-now -------------------------------------------------------------------------------------

describe('buy-now', () => {
  it('before the first bid it ends the auction sold to the buyer at the buy-now price', () => {
    const sale = timedSale({ buyNowMinor: 9_000n });
    expect(publicView(sale.state, T0).buyNowMinor).toBe(9_000n);
    expect(sale.types(buyNow('alice'))).toEqual(['BoughtNow', 'HoldRequired', 'AuctionClosed']);
    expect(sale.state).toMatchObject({ status: 'closed', outcome: 'sold', closedVia: 'buyNow', priceMinor: 9_000n });
    expect(settlementOf(sale.state)).toMatchObject({ outcome: 'sold', winner: online('alice'), priceMinor: 9_000n, capture: { bidderId: 'alice', amountMinor: 9_000n } });
    expect(sale.refuse(bid('bob', 1_000n)).code).toBe('AUCTION_CLOSED');
  });

  it('is gone after the first bid', () => {
    const sale = timedSale({ buyNowMinor: 9_000n });
    sale.do(bid('alice', 1_000n));
    expect(publicView(sale.state, T0).buyNowMinor).toBeNull();
    expect(sale.refuse(buyNow('bob')).code).toBe('BUY_NOW_UNAVAILABLE');
  });

  it.each<[string, Partial<AuctionConfigInput>, string, AuctionRejectionCode]>([
    ['without a buy-now price', {}, 'alice', 'BUY_NOW_UNAVAILABLE'],
    ['by someone who has not joined', { buyNowMinor: 9_000n }, 'dave', 'NOT_JOINED'],
    ['by the seller', { buyNowMinor: 9_000n }, 'seller', 'OWN_AUCTION'],
  ])('is refused %s', (_name, over, buyer, code) => {
    expect(timedSale(over).refuse(buyNow(buyer)).code).toBe(code);
  });

  it('is refused before the auction opens', () => {
    const sale = new Sale();
    sale.do({ type: 'create', config: timedInput({ buyNowMinor: 9_000n }) });
    sale.do(join('alice'));
    expect(sale.refuse(buyNow('alice')).code).toBe('AUCTION_NOT_OPEN');
  });
});

// --- the live sale -------------------------------------------------------------------------------

describe('live sale', () => {
  it('floor and online bids climb one ladder until the hammer', () => {
    const sale = liveSale();
    sale.do(bid('alice', 1_000n));
    expect(publicView(sale.state, T0)).toMatchObject({ leader: 'bidder 1', leaderSource: 'online', priceMinor: 1_000n });

    // A paddle on the floor takes the lead; alice's hold goes.
    expect(sale.types(floorBid('12', 1_050n))).toEqual(['BidAccepted', 'HoldReleased']);
    expect(publicView(sale.state, T0)).toMatchObject({ leader: 'paddle 12', leaderSource: 'floor', priceMinor: 1_050n, minimumNextBidMinor: 1_100n });
    expect(sale.state.holds).toEqual([]);

    // The auctioneer asks 12.00; online bids must meet the asking price.
    sale.do(asking(1_200n));
    expect(minimumNextBid(sale.state)).toBe(1_200n);
    expect(sale.refuse(bid('bob', 1_100n))).toMatchObject({ code: 'BID_TOO_LOW', minimumNextBidMinor: 1_200n });
    sale.do(bid('bob', 1_200n, 2_000n));
    expect(sale.state).toMatchObject({ priceMinor: 1_200n, askingMinor: null, leader: { bidder: online('bob') } });

    // The floor bids again; bob's maximum answers at once.
    const [answered] = sale.do(floorBid('12', 1_250n));
    expect(answered).toMatchObject({ result: 'outbid', leader: online('bob'), priceMinor: 1_300n, outbid: paddle('12') });

    // Fair warning; a floor bid equal to bob's maximum loses to the earlier bid and the warning lifts.
    sale.do(by('fairWarning'));
    expect(sale.state.phase).toBe('fairWarning');
    sale.do(floorBid('7', 2_000n));
    expect(sale.state).toMatchObject({ phase: 'asking', priceMinor: 2_000n, leader: { bidder: online('bob') } });
    expect(sale.refuse(by('hammer')).code).toBe('FAIR_WARNING_REQUIRED');

    sale.do(floorBid('7', 2_100n));
    expect(sale.state.leader?.bidder).toEqual(paddle('7'));
    expect(sale.state.holds).toEqual([]);
    sale.do(by('fairWarning'));
    const [hammer] = sale.do(by('hammer'));
    expect(hammer).toMatchObject({ type: 'AuctionClosed', outcome: 'sold', via: 'hammer', winner: paddle('7'), priceMinor: 2_100n });
    expect(settlementOf(sale.state)).toEqual({ outcome: 'sold', winner: paddle('7'), priceMinor: 2_100n, capture: null, release: [] });

    // After the hammer, nothing more is taken.
    expect(sale.refuse(bid('alice', 5_000n)).code).toBe('AUCTION_HAMMERED');
    expect(sale.refuse(floorBid('12', 5_000n)).code).toBe('AUCTION_HAMMERED');
    expect(sale.refuse(by('hammer')).code).toBe('AUCTION_HAMMERED');
    expect(sale.refuse(buyNow('alice')).code).toBe('AUCTION_HAMMERED');
    expect(replay(sale.events)).toEqual(sale.state);
  });

  it('an online winner at the hammer has the price captured from their hold', () => {
    const sale = liveSale();
    sale.do(floorBid('3', 1_000n));
    sale.do(bid('alice', 1_050n, 4_000n));
    sale.do(by('fairWarning'));
    sale.do(by('hammer'));
    expect(settlementOf(sale.state)).toMatchObject({ outcome: 'sold', winner: online('alice'), priceMinor: 1_050n, capture: { bidderId: 'alice', amountMinor: 1_050n, heldMinor: 4_000n } });
  });

  it.each<[string, Partial<AuctionConfigInput>, bigint | null]>([
    ['no bid at all', {}, null],
    ['a bid below the reserve', { reserveMinor: 5_000n }, 1_000n],
  ])('the hammer passes the lot (unsold) with %s', (_name, over, firstBid) => {
    const sale = liveSale(over);
    if (firstBid !== null) sale.do(bid('alice', firstBid));
    sale.do(by('fairWarning'));
    const [hammer] = sale.do(by('hammer'));
    expect(hammer).toMatchObject({ outcome: 'unsold', via: 'hammer', winner: null });
    expect(sale.refuse(bid('bob', 9_000n))).toMatchObject({ code: 'AUCTION_HAMMERED', detail: expect.stringContaining('passed') });
  });

  it('a pause stops bids and calls; after resuming, fair warning is needed again', () => {
    const sale = liveSale();
    sale.do(bid('alice', 1_000n));
    sale.do(by('fairWarning'));
    sale.do(by('pause'));
    expect(sale.do(by('pause'))).toEqual([]);
    for (const command of [bid('bob', 1_050n), floorBid('4', 1_050n), asking(1_200n), by('fairWarning'), by('hammer')]) {
      expect(sale.refuse(command).code, command.type).toBe('AUCTION_PAUSED');
    }
    sale.do(by('resume'));
    expect(sale.do(by('resume'))).toEqual([]);
    expect(sale.state.phase).toBe('asking');
    expect(sale.refuse(by('hammer')).code).toBe('FAIR_WARNING_REQUIRED');
  });

  it('the asking price can come back down to the ladder, never below it', () => {
    const sale = liveSale();
    expect(sale.refuse(asking(999n))).toMatchObject({ code: 'BID_TOO_LOW', minimumNextBidMinor: 1_000n });
    sale.do(asking(2_000n));
    sale.do(asking(1_000n));
    expect(minimumNextBid(sale.state)).toBe(1_000n);
  });

  it.each<[string, () => AuctionCommand, AuctionRejectionCode]>([
    ['a floor bid from a bidder', () => floorBid('1', 1_000n, 'alice'), 'NOT_AUCTIONEER'],
    ['an asking price from a clerk', () => asking(1_000n, 'clerk'), 'NOT_AUCTIONEER'],
    ['a hammer from a clerk', () => by('hammer', 'clerk'), 'NOT_AUCTIONEER'],
    ['a pause from a bidder', () => by('pause', 'alice'), 'NOT_AUCTIONEER'],
    ['chat from a bidder', () => ({ type: 'chat', fromUserId: 'alice', text: 'hi' }), 'NOT_AUCTIONEER'],
    ['an empty chat', () => ({ type: 'chat', fromUserId: 'auct', text: '   ' }), 'VALIDATION'],
    ['a paddle with spaces', () => floorBid('1 2', 1_000n), 'VALIDATION'],
    ['a timer close', () => ({ type: 'close' }), 'WRONG_AUCTION_KIND'],
  ])('refuses %s', (_name, command, code) => {
    expect(liveSale().refuse(command()).code).toBe(code);
  });

  it('clerks enter floor bids and chat; the room sees who spoke by role', () => {
    const sale = liveSale();
    sale.do(floorBid('9', 1_000n, 'clerk'));
    const [said] = sale.do({ type: 'chat', fromUserId: 'clerk', text: ' on the phone ' });
    expect(publicEventOf(said!, sale.state)).toMatchObject({ type: 'Chat', from: 'clerk', text: 'on the phone' });
    const [auct] = sale.do({ type: 'chat', fromUserId: 'auct', text: 'going once' });
    expect(publicEventOf(auct!, sale.state)).toMatchObject({ from: 'auctioneer' });
  });

  it('a leading paddle may not bid against itself', () => {
    const sale = liveSale();
    sale.do(floorBid('9', 1_000n));
    expect(sale.refuse(floorBid('9', 1_100n)).code).toBe('ALREADY_LEADING');
  });

  it('bids and calls wait for the auctioneer to open the sale', () => {
    const sale = new Sale();
    sale.do({ type: 'create', config: liveInput() });
    sale.do(join('alice'));
    expect(sale.refuse(bid('alice', 1_000n))).toMatchObject({ code: 'AUCTION_NOT_OPEN', detail: 'the auctioneer has not opened the sale yet' });
    expect(sale.refuse(floorBid('1', 1_000n)).code).toBe('AUCTION_NOT_OPEN');
    expect(sale.refuse(by('pause')).code).toBe('AUCTION_NOT_OPEN');
    sale.do({ type: 'chat', fromUserId: 'auct', text: 'we start at noon' });
  });

  it.each<[string, AuctionCommand]>([
    ['a floor bid', floorBid('1', 1_000n)],
    ['an asking price', asking(1_000n)],
    ['fair warning', by('fairWarning')],
    ['the hammer', by('hammer')],
    ['a pause', by('pause')],
    ['chat', { type: 'chat', fromUserId: 'seller', text: 'hello' }],
  ])('a timed auction refuses %s as WRONG_AUCTION_KIND', (_name, command) => {
    expect(timedSale().refuse(command).code).toBe('WRONG_AUCTION_KIND');
  });
});

// --- cancel --------------------------------------------------------------------------------------

describe('cancel', () => {
  it.each<[string, (s: Sale) => void, AuctionCommand, AuctionRejectionCode | 'ok']>([
    ['the seller before the first bid', () => {}, cancel('seller'), 'ok'],
    ['the seller after the first bid', (s) => s.do(bid('alice', 1_000n)), cancel('seller'), 'CANNOT_CANCEL'],
    ['an admin after bids', (s) => s.do(bid('alice', 1_000n)), cancel('root', true, 'fraud report'), 'ok'],
    ['an admin without a reason', () => {}, cancel('root', true, '  '), 'VALIDATION'],
    ['a bidder', () => {}, cancel('alice'), 'FORBIDDEN'],
    ['anyone after the close', (s) => s.at(END).do({ type: 'close' }), cancel('root', true, 'late'), 'CANNOT_CANCEL'],
  ])('%s', (_name, setup, command, expected) => {
    const sale = timedSale();
    setup(sale);
    if (expected === 'ok') {
      expect(sale.types(command)).toEqual(['AuctionCancelled']);
      expect(sale.state.status).toBe('cancelled');
    } else {
      expect(sale.refuse(command).code).toBe(expected);
    }
  });

  it('the seller may cancel before the auction opens; a repeat changes nothing', () => {
    const sale = new Sale();
    sale.do({ type: 'create', config: timedInput() });
    sale.do(cancel('seller', false, 'withdrawn'));
    expect(sale.state.cancellation).toEqual({ byUserId: 'seller', byAdmin: false, reason: 'withdrawn' });
    expect(sale.do(cancel('seller'))).toEqual([]);
  });

  it('cancelling releases the leader\'s hold through the settlement', () => {
    const sale = timedSale();
    sale.do(bid('alice', 1_000n, 3_000n));
    sale.do(cancel('root', true, 'lot damaged'));
    expect(settlementOf(sale.state)).toMatchObject({ outcome: 'cancelled', capture: null, release: [{ bidderId: 'alice', amountMinor: 3_000n }] });
    expect(publicEventOf(sale.events.at(-1)!, sale.state)).toMatchObject({ type: 'AuctionCancelled', reason: 'lot damaged' });
  });

  it('an admin may stop a live sale mid-way', () => {
    const sale = liveSale();
    sale.do(floorBid('2', 1_000n));
    sale.do(cancel('root', true, 'power cut'));
    expect(sale.refuse(floorBid('3', 2_000n)).code).toBe('AUCTION_CANCELLED');
  });
});

// --- the room's view -----------------------------------------------------------------------------

describe('what the room sees', () => {
  it('bidders by join order, counts, time left, no maxima', () => {
    const sale = timedSale();
    sale.at(T0 + 1_000).do(bid('bob', 1_000n, 7_777n));
    const view = publicView(sale.state, END - 30_000);
    expect(view).toMatchObject({ status: 'open', leader: 'bidder 2', leaderSource: 'online', bidCount: 1, participantCount: 3, priceMinor: 1_000n, minimumNextBidMinor: 1_050n, timeLeftMs: 30_000, hasReserve: false, reserveMet: true });
    expect(publicView(sale.state, END + 5).timeLeftMs).toBe(0);
    expect(json(view)).not.toContain('7777');
    expect(json(sale.events.map((e) => publicEventOf(e, sale.state)))).not.toContain('7777');
  });

  it('room events carry the seq; creation and holds are not for the room', () => {
    const sale = timedSale();
    sale.do(bid('alice', 1_000n));
    const room = sale.events.map((e) => publicEventOf(e, sale.state));
    expect(room.map((e) => e?.type ?? null)).toEqual([null, 'AuctionOpened', 'ParticipantsChanged', 'ParticipantsChanged', 'ParticipantsChanged', 'PriceChanged', null]);
    expect(room[5]).toEqual({ seq: 6, atMs: T0, type: 'PriceChanged', priceMinor: 1_000n, leader: 'bidder 1', leaderSource: 'online', bidCount: 1, reserveMet: true, minimumNextBidMinor: 1_050n });
  });

  it('a bidder sees their own standing', () => {
    const sale = timedSale();
    sale.do(bid('alice', 1_000n, 2_000n));
    sale.do(bid('bob', 1_050n, 5_000n));
    expect(bidderView(sale.state, 'alice')).toEqual({ joined: true, number: 1, leading: false, maxMinor: null, heldMinor: 0n });
    expect(bidderView(sale.state, 'bob')).toMatchObject({ leading: true, maxMinor: 5_000n, heldMinor: 5_000n });
    expect(bidderView(sale.state, 'dave')).toEqual({ joined: false, number: null, leading: false, maxMinor: null, heldMinor: 0n });
  });
});

// --- the journal ---------------------------------------------------------------------------------

describe('journal', () => {
  it('events are numbered one after another across commands', () => {
    const sale = timedSale();
    sale.do(bid('alice', 1_000n, 3_000n));
    sale.do(bid('bob', 1_050n, 5_000n));
    expect(sale.events.map((e) => e.seq)).toEqual(sale.events.map((_e, i) => i + 1));
    expect(sale.state.seq).toBe(sale.events.length);
  });

  it('evolve refuses an event out of sequence', () => {
    const sale = timedSale();
    const decision = decide(sale.state, bid('alice', 1_000n), { nowMs: T0 });
    if (!decision.ok) throw new Error('refused');
    const [first] = decision.events;
    expect(() => evolve(cloneState(sale.state), { ...first!, seq: first!.seq + 1 })).toThrow(/does not follow/);
    expect(() => evolve(cloneState(sale.state), { ...first!, seq: first!.seq - 1 })).toThrow(/does not follow/);
  });

  it('decide never changes the state it is given', () => {
    const sale = timedSale();
    const before = cloneState(sale.state);
    const decision = decide(sale.state, bid('alice', 1_000n, 3_000n), { nowMs: T0 });
    expect(decision.ok).toBe(true);
    expect(sale.state).toEqual(before);
  });

  it('replay of the journal equals the state built step by step', () => {
    const sale = timedSale({ reserveMinor: 2_000n, buyNowMinor: 50_000n });
    sale.do(bid('alice', 1_000n, 1_500n));
    sale.do(bid('bob', 1_050n, 2_500n));
    sale.do(bid('bob', 1_050n + 50n * 20n, 4_000n));
    sale.at(END - 10_000).do(bid('carol', 2_600n, 3_000n));
    sale.at(END - 10_000 + WINDOW).do({ type: 'close' });
    expect(sale.state).toMatchObject({ status: 'closed', outcome: 'sold', priceMinor: 3_100n, leader: { bidder: online('bob') } });
    expect(replay(sale.events)).toEqual(sale.state);
  });
});

// --- a seeded property test ----------------------------------------------------------------------


describe('random bid streams', () => {
  const BIDDERS = ['u1', 'u2', 'u3', 'u4', 'u5'];

  function checkStep(sale: Sale, previousPrice: bigint | null, seed: number, step: number): void {
    const where = `seed ${seed} step ${step}`;
    const { leader, priceMinor } = sale.state;
    if (leader === null) {
      expect(priceMinor, where).toBeNull();
      expect(sale.state.holds, where).toEqual([]);
      return;
    }
    expect(priceMinor, where).not.toBeNull();
    if (previousPrice !== null) expect(priceMinor! >= previousPrice, `${where}: price never decreases`).toBe(true);
    expect(priceMinor! <= leader.maxMinor, `${where}: price ≤ leader's max`).toBe(true);
    const leading = BIDDERS.filter((b) => bidderView(sale.state, b).leading);
    expect(leading.length, `${where}: at most one online leader`).toBe(leader.bidder.source === 'online' ? 1 : 0);
    const expectedHolds = leader.bidder.source === 'online' ? { [leader.bidder.bidderId]: leader.maxMinor } : {};
    expect(holdsOf(sale.state), `${where}: only the leader holds, for their max`).toEqual(expectedHolds);
  }

  it('proxy bids at the minimum match the eBay price rule, with one leader and leader-only holds', () => {
    const seen = new Map<string, number>();
    for (let seed = 1; seed <= 150; seed++) {
      const random = mulberry32(seed);
      const reserve = random() < 0.5 ? 1_000n + BigInt(Math.floor(random() * 20_000)) : null;
      const sale = timedSale({ reserveMinor: reserve }, BIDDERS);
      const ladder = sale.state.config!.increments;
      const maxima = new Map<string, { maxMinor: bigint; seq: number }>();
      // The leader's maximum as of the last bid by someone else: a leader raising their own
      // maximum later does not move the price (eBay's rule), so the cap stays where it was.
      let capMinor = 0n;
      for (let step = 0; step < 60; step++) {
        const bidder = BIDDERS[Math.floor(random() * BIDDERS.length)]!;
        const amount = minimumNextBid(sale.state);
        const max = amount + BigInt(Math.floor(random() * 4_000));
        const previousPrice = sale.state.priceMinor;
        const previousLeader = leaderOf(sale.state);
        const decision = decide(sale.state, bid(bidder, amount, max), { nowMs: T0 + step });
        if (decision.ok) {
          evolveAll(sale.state, decision.events);
          sale.events.push(...decision.events);
          const result = (decision.events[0] as { result: string }).result;
          seen.set(result, (seen.get(result) ?? 0) + 1);
          const wasLeading = previousLeader?.source === 'online' && previousLeader.bidderId === bidder;
          const before = maxima.get(bidder);
          if (!before || max > before.maxMinor) maxima.set(bidder, { maxMinor: max, seq: sale.state.seq });
          if (!wasLeading) capMinor = sale.state.leader!.maxMinor;
        } else {
          expect(decision.rejection.code, `seed ${seed} step ${step}`).toBe('ALREADY_LEADING');
        }
        checkStep(sale, previousPrice, seed, step);
        // The reference: the highest maximum leads (earlier on ties); the price is the second
        // highest maximum plus its increment, capped by the leader's maximum (as of the last
        // challenge), lifted to the reserve once the leader's maximum reaches it.
        const ranked = [...maxima.entries()].sort(([, a], [, b]) => (a.maxMinor === b.maxMinor ? a.seq - b.seq : a.maxMinor > b.maxMinor ? -1 : 1));
        const [top, second] = ranked;
        expect(leaderOf(sale.state), `seed ${seed} step ${step}`).toEqual(online(top![0]));
        const leaderMax = top![1].maxMinor;
        const secondPlus = second ? second[1].maxMinor + incrementAt(ladder, second[1].maxMinor) : null;
        let expected = secondPlus === null ? 1_000n : capMinor < secondPlus ? capMinor : secondPlus;
        if (reserve !== null && leaderMax >= reserve && expected < reserve) expected = reserve;
        expect(sale.state.priceMinor, `seed ${seed} step ${step}`).toBe(expected);
      }
      expect(replay(sale.events), `seed ${seed}`).toEqual(sale.state);
    }
    // The streams exercise every branch of the proxy rule.
    for (const result of ['leads', 'outbid', 'raisedMax']) expect(seen.get(result) ?? 0, result).toBeGreaterThan(100);
  });

  it('jump bids, floor bids and asking prices in a live sale keep the invariants', () => {
    const seen = new Set<string>();
    for (let seed = 1; seed <= 150; seed++) {
      const random = mulberry32(seed);
      const sale = liveSale({ reserveMinor: random() < 0.5 ? 5_000n : null }, BIDDERS);
      for (let step = 0; step < 80; step++) {
        const minimum = minimumNextBid(sale.state);
        const roll = random();
        const amount = minimum - 1n + BigInt(Math.floor(random() * 800)); // sometimes one below the minimum
        const command: AuctionCommand =
          roll < 0.55 ? bid(BIDDERS[Math.floor(random() * BIDDERS.length)]!, amount, random() < 0.5 ? amount : amount + BigInt(Math.floor(random() * 3_000)))
          : roll < 0.9 ? floorBid(String(1 + Math.floor(random() * 3)), amount)
          : asking(amount);
        const previousPrice = sale.state.priceMinor;
        const decision = decide(sale.state, command, { nowMs: T0 + step });
        if (decision.ok) {
          evolveAll(sale.state, decision.events);
          sale.events.push(...decision.events);
          // Holds change place-then-release: the new leader's before the old leader's.
          const kinds = decision.events.map((e) => e.type).filter((t) => t.startsWith('Hold'));
          expect(kinds.join(','), `seed ${seed} step ${step}`).toMatch(/^(HoldRequired)?(,?HoldReleased)*$/);
          if (sale.state.leader?.bidder.source === 'floor') seen.add('floor leads');
          if (decision.events.some((e) => e.type === 'HoldReleased') && sale.state.leader?.bidder.source === 'floor') seen.add('floor takes the lead from online');
        } else {
          seen.add(decision.rejection.code);
          expect(['BID_TOO_LOW', 'ALREADY_LEADING'], `seed ${seed} step ${step}`).toContain(decision.rejection.code);
          if (decision.rejection.code === 'BID_TOO_LOW') expect(amount < minimum || command.type === 'setAsking').toBe(true);
        }
        checkStep(sale, previousPrice, seed, step);
      }
      expect(replay(sale.events), `seed ${seed}`).toEqual(sale.state);
    }
    expect([...seen].sort()).toEqual(['ALREADY_LEADING', 'BID_TOO_LOW', 'floor leads', 'floor takes the lead from online']);
  });
});
