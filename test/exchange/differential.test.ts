// Differential test of the matching core: the real order book (src/exchange/book.ts) and a
// plain reference matcher fed the same seeded streams must agree on every fill, every
// self-trade cancel, every cancel and reduce, the touch after each operation and the whole
// depth. A failure names the stream (profile, seed) and the operation number.
import { describe, expect, it } from 'vitest';
import { OrderBook, type PlaceResult } from '../../src/exchange/book.js';
import { MAX_PRICE_TICKS, protectionPriceTicks, type Instrument } from '../../src/exchange/model.js';
import { orderStream, type StreamOp, type StreamProfile } from '../support/order-streams.js';
import { mulberry32 } from '../support/random.js';
import { ReferenceMatcher, referenceProtectionTicks, type RefOrder, type RefPlaceResult } from './reference-matcher.js';

const OPS_PER_STREAM = 5_000;
const SEEDS = [1, 7, 20240611];
const PROFILES: StreamProfile[] = ['mixed', 'resting', 'crossing'];
/** Full depth is compared this often as well as at the end (the touch is compared every op). */
const DEPTH_EVERY_OPS = 500;

const instrument: Instrument = {
  symbol: 'ACME-USD',
  base: 'ACME',
  baseScale: 0,
  quote: 'USD',
  quoteScale: 2,
  tickMinor: 1n,
  lotMinor: 1n,
  minLots: 1,
  maxLots: 1_000_000,
  makerFeeBps: 10,
  takerFeeBps: 20,
  protectionBps: 500,
  status: 'trading',
};

/** The book's answer in the reference's shape, so the two compare with one toEqual. */
function asReference(r: PlaceResult): RefPlaceResult {
  return {
    rejection: r.rejection,
    fills: r.fills.map((f) => ({ maker: f.makerOrderId, taker: f.takerOrderId, priceTicks: f.priceTicks, qtyLots: f.qtyLots, makerLeftLots: f.makerRemainingLots })),
    selfTradeCancels: r.selfTradeCancels.map((c) => ({ orderId: c.orderId, remainingLots: c.remainingLots })),
    restingLots: r.restingLots,
    cancelledLots: r.cancelledLots,
  };
}

function fullDepth(book: OrderBook) {
  return book.depth(Number.MAX_SAFE_INTEGER);
}

interface Variation {
  /** Turns some limit orders into IOC, FOK or post-only, and some cancels into reductions. */
  orderTypes: boolean;
}

interface Tally {
  fills: number;
  selfTradeCancels: number;
  rejections: number;
  reductions: number;
}

/** Feeds one stream to both matchers, comparing each answer as it goes. */
function runBoth(profile: StreamProfile, seed: number, variation: Variation): Tally {
  const book = new OrderBook();
  const reference = new ReferenceMatcher();
  // The variation draws from its own generator, so the stream itself stays the shared one.
  const vary = mulberry32(seed ^ 0x5eed);
  const tally: Tally = { fills: 0, selfTradeCancels: 0, rejections: 0, reductions: 0 };
  let n = 0;
  for (const op of orderStream(profile, OPS_PER_STREAM, seed)) {
    n += 1;
    const at = `${profile} seed ${seed} op ${n} (${op.kind} ${op.id})`;
    applyOp(op, book, reference, variation, vary, tally, at);
    same({ bid: book.bestBid(), ask: book.bestAsk(), size: book.size }, { ...reference.touch(), size: reference.size }, at);
    if (n % DEPTH_EVERY_OPS === 0) same(fullDepth(book), reference.depth(), at);
  }
  expect(fullDepth(book), `${profile} seed ${seed}: final depth`).toEqual(reference.depth());
  return tally;
}

/** A cheap comparison on every op; on a difference, expect shows it in full. */
function same(actual: unknown, expected: unknown, at: string): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) expect(actual, at).toEqual(expected);
}

function applyOp(op: StreamOp, book: OrderBook, reference: ReferenceMatcher, variation: Variation, vary: () => number, tally: Tally, at: string): void {
  if (op.kind === 'cancel') {
    const remaining = book.get(op.id)?.remainingLots;
    same(remaining, reference.remainingOf(op.id), at);
    if (variation.orderTypes && remaining !== undefined && remaining >= 2 && vary() < 0.3) {
      const lots = 1 + Math.floor(vary() * (remaining - 1));
      same(book.reduce(op.id, lots), reference.reduce(op.id, lots), at);
      tally.reductions += 1;
      return;
    }
    const cancelled = book.cancel(op.id);
    same(cancelled?.remainingLots, reference.cancel(op.id), at);
    return;
  }
  let order: RefOrder;
  if (op.kind === 'market') {
    const priceTicks = protectionPriceTicks(instrument, op.side, book);
    const { bid, ask } = reference.touch();
    same(priceTicks, referenceProtectionTicks(op.side, bid, ask, instrument.protectionBps, MAX_PRICE_TICKS), `${at}: protection price`);
    // A market order on an empty side is refused before the book (NO_LIQUIDITY).
    if (priceTicks === null) return;
    order = { id: op.id, userId: op.userId, side: op.side, priceTicks, qtyLots: op.qtyLots, tif: 'ioc', postOnly: false };
  } else {
    order = { id: op.id, userId: op.userId, side: op.side, priceTicks: op.priceTicks, qtyLots: op.qtyLots, tif: 'gtc', postOnly: false };
    if (variation.orderTypes) {
      const roll = vary();
      if (roll < 0.1) order.tif = 'ioc';
      else if (roll < 0.2) order.tif = 'fok';
      else if (roll < 0.3) order.postOnly = true;
    }
  }
  const actual = asReference(book.place(order));
  const expected = reference.place(order);
  same(actual, expected, at);
  tally.fills += expected.fills.length;
  tally.selfTradeCancels += expected.selfTradeCancels.length;
  if (expected.rejection !== null) tally.rejections += 1;
}

describe('order book against the reference matcher', () => {
  for (const profile of PROFILES) {
    for (const seed of SEEDS) {
      it(`${profile} stream, seed ${seed}: same fills, self-trade cancels and depth`, () => {
        const tally = runBoth(profile, seed, { orderTypes: false });
        // The comparison means something only if the stream exercised the matching paths.
        if (profile !== 'resting') expect(tally.fills).toBeGreaterThan(100);
        if (profile !== 'resting') expect(tally.selfTradeCancels).toBeGreaterThan(0);
      });
    }
  }

  for (const profile of PROFILES) {
    const seed = SEEDS[0]!;
    it(`${profile} stream, seed ${seed}, with IOC, FOK, post-only and reductions mixed in: same answers`, () => {
      const tally = runBoth(profile, seed, { orderTypes: true });
      expect(tally.reductions).toBeGreaterThan(0);
      if (profile !== 'resting') expect(tally.rejections).toBeGreaterThan(0);
    });
  }
});

describe('reference matcher (the oracle checks itself on small cases)', () => {
  it('takes the best price first, then the earliest order, at the maker price', () => {
    const r = new ReferenceMatcher();
    r.place({ id: 'a', userId: 'u1', side: 'sell', priceTicks: 101, qtyLots: 1, tif: 'gtc', postOnly: false });
    r.place({ id: 'b', userId: 'u2', side: 'sell', priceTicks: 100, qtyLots: 1, tif: 'gtc', postOnly: false });
    r.place({ id: 'c', userId: 'u3', side: 'sell', priceTicks: 100, qtyLots: 1, tif: 'gtc', postOnly: false });
    const result = r.place({ id: 't', userId: 'u4', side: 'buy', priceTicks: 105, qtyLots: 3, tif: 'gtc', postOnly: false });
    expect(result.fills.map((f) => [f.maker, f.priceTicks])).toEqual([
      ['b', 100],
      ['c', 100],
      ['a', 101],
    ]);
  });

  it('cancels the resting order of the same user and goes on matching', () => {
    const r = new ReferenceMatcher();
    r.place({ id: 'own', userId: 'u1', side: 'buy', priceTicks: 100, qtyLots: 2, tif: 'gtc', postOnly: false });
    r.place({ id: 'other', userId: 'u2', side: 'buy', priceTicks: 100, qtyLots: 2, tif: 'gtc', postOnly: false });
    const result = r.place({ id: 't', userId: 'u1', side: 'sell', priceTicks: 100, qtyLots: 3, tif: 'ioc', postOnly: false });
    expect(result.selfTradeCancels).toEqual([{ orderId: 'own', remainingLots: 2 }]);
    expect(result.fills).toEqual([{ maker: 'other', taker: 't', priceTicks: 100, qtyLots: 2, makerLeftLots: 0 }]);
    expect(result.cancelledLots).toBe(1);
    expect(r.size).toBe(0);
  });
});
