import { describe, expect, it } from 'vitest';
import { orderStream, type StreamProfile } from '../../test/support/order-streams.js';
import { mulberry32 } from '../../test/support/random.js';
import {
  MAX_PRICE_TICKS,
  Market,
  checkListing,
  checkOrder,
  feeMinor,
  notionalMinor,
  priceTicksOf,
  protectionPriceTicks,
  quantityLotsOf,
  replayMarket,
  reserveOf,
  type Instrument,
  type MarketCommand,
  type MarketOrder,
  type Movement,
  type OrderRequest,
  type OrderType,
  type Outcome,
  type PlaceCommand,
  type Side,
  type TimeInForce,
} from './model.js';

/** ACME has no decimals, USD two; one tick is one cent and one lot one share, so ticks × lots = cents. */
const ACME: Instrument = {
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

interface NewOrder {
  id: string;
  userId: string;
  side: Side;
  priceTicks: number;
  qtyLots: number;
  tif?: TimeInForce;
  postOnly?: boolean;
  type?: OrderType;
}

/** A place command as the engine journals it: funded with the order's full reserve under `xo:<id>:h0`. */
function placeOf(o: NewOrder, atMs = 1): PlaceCommand {
  return {
    type: 'place',
    atMs,
    order: {
      id: o.id,
      userId: o.userId,
      clientOrderId: null,
      side: o.side,
      type: o.type ?? 'limit',
      tif: o.tif ?? 'gtc',
      postOnly: o.postOnly ?? false,
      priceTicks: o.priceTicks,
      qtyLots: o.qtyLots,
      holdRef: `xo:${o.id}:h0`,
      heldMinor: reserveOf(ACME, o.side, o.priceTicks, o.qtyLots).amountMinor,
    },
  };
}

/** A market order as the engine builds it: IOC (or FOK) at the protection price of the book now. */
function marketOrderOf(market: Market, o: { id: string; userId: string; side: Side; qtyLots: number; tif?: TimeInForce }): PlaceCommand {
  const priceTicks = protectionPriceTicks(market.instrument, o.side, market.book);
  if (priceTicks === null) throw new Error('no liquidity');
  return placeOf({ ...o, priceTicks, type: 'market', tif: o.tif ?? 'ioc' });
}

const tradesOf = (out: Outcome) => out.trades.map((t) => [t.makerOrderId, t.takerOrderId, t.priceTicks, t.qtyLots]);
const orderIn = (out: Outcome, id: string) => out.orders.filter((o) => o.id === id).at(-1);
const fullDepth = (market: Market) => market.book.depth(Number.MAX_SAFE_INTEGER);

// --- instrument rules -----------------------------------------------------------------------

describe('instrument rules', () => {
  it('a listing needs tick × lot to be whole quote minor units, sane sizes and fees', () => {
    expect(checkListing(ACME)).toBeNull();
    // An 8-decimal asset with a one-cent tick and a one-satoshi lot would make fractional cents.
    expect(checkListing({ ...ACME, baseScale: 8, lotMinor: 1n })).toMatchObject({ field: 'lotSize' });
    expect(checkListing({ ...ACME, baseScale: 8, lotMinor: 100_000_000n })).toBeNull();
    expect(checkListing({ ...ACME, quote: 'ACME' })).toMatchObject({ field: 'base' });
    expect(checkListing({ ...ACME, tickMinor: 0n })).toMatchObject({ field: 'tickSize' });
    expect(checkListing({ ...ACME, minLots: 0 })).toMatchObject({ field: 'minQuantity' });
    expect(checkListing({ ...ACME, minLots: 10, maxLots: 5 })).toMatchObject({ field: 'minQuantity' });
    expect(checkListing({ ...ACME, maxLots: 2_000_000_000 })).toMatchObject({ field: 'maxQuantity' });
    expect(checkListing({ ...ACME, makerFeeBps: 30 })).toMatchObject({ field: 'makerFeeBps' });
    expect(checkListing({ ...ACME, takerFeeBps: 1001 })).toMatchObject({ field: 'takerFeeBps' });
    // The biggest order at the highest price must fit the ledger's 64-bit counters.
    expect(checkListing({ ...ACME, tickMinor: 1_000_000n })).toMatchObject({ field: 'maxQuantity' });
  });

  it('prices become whole ticks, quantities whole lots, each refusal with its own code', () => {
    const coarse = { ...ACME, tickMinor: 5n, lotMinor: 10n, minLots: 2, maxLots: 100 };
    expect(priceTicksOf(coarse, '1.05')).toEqual({ ok: true, value: 21 });
    expect(priceTicksOf(coarse, '1.07')).toMatchObject({ ok: false, rejection: { code: 'PRICE_NOT_ON_TICK', field: 'price' } });
    expect(priceTicksOf(coarse, '1.001')).toMatchObject({ ok: false, rejection: { code: 'PRICE_INVALID' } });
    expect(priceTicksOf(coarse, '-1')).toMatchObject({ ok: false, rejection: { code: 'PRICE_INVALID' } });
    expect(priceTicksOf(ACME, '10000000000.00')).toEqual({ ok: true, value: MAX_PRICE_TICKS });
    expect(priceTicksOf(ACME, '10000000000.01')).toMatchObject({ ok: false, rejection: { code: 'PRICE_INVALID' } });
    expect(quantityLotsOf(coarse, '30')).toEqual({ ok: true, value: 3 });
    expect(quantityLotsOf(coarse, '35')).toMatchObject({ ok: false, rejection: { code: 'QUANTITY_NOT_ON_LOT', field: 'quantity' } });
    expect(quantityLotsOf(coarse, '10')).toMatchObject({ ok: false, rejection: { code: 'ORDER_TOO_SMALL' } });
    expect(quantityLotsOf(coarse, '1010')).toMatchObject({ ok: false, rejection: { code: 'ORDER_TOO_LARGE' } });
    expect(quantityLotsOf(coarse, '0')).toMatchObject({ ok: false, rejection: { code: 'QUANTITY_INVALID' } });
    expect(quantityLotsOf(coarse, '1.5')).toMatchObject({ ok: false, rejection: { code: 'QUANTITY_INVALID' } });
  });

  it('checkOrder applies the order-type rules before the numbers', () => {
    const limit: OrderRequest = { side: 'buy', type: 'limit', price: '50.00', quantity: '10', timeInForce: 'gtc', postOnly: false };
    const market: OrderRequest = { side: 'sell', type: 'market', quantity: '3', timeInForce: 'ioc', postOnly: false };
    expect(checkOrder(ACME, limit)).toEqual({ ok: true, value: { side: 'buy', type: 'limit', priceTicks: 5000, qtyLots: 10, tif: 'gtc', postOnly: false } });
    expect(checkOrder(ACME, market)).toEqual({ ok: true, value: { side: 'sell', type: 'market', priceTicks: null, qtyLots: 3, tif: 'ioc', postOnly: false } });
    const codeOf = (i: Instrument, o: OrderRequest) => {
      const r = checkOrder(i, o);
      return r.ok ? 'ok' : r.rejection.code;
    };
    expect(codeOf({ ...ACME, status: 'halted' }, limit)).toBe('INSTRUMENT_HALTED');
    expect(codeOf(ACME, { ...market, price: '1.00' })).toBe('PRICE_NOT_ALLOWED');
    expect(codeOf(ACME, { ...market, postOnly: true })).toBe('POST_ONLY_NOT_LIMIT');
    expect(codeOf(ACME, { ...market, timeInForce: 'gtc' })).toBe('MARKET_NOT_GTC');
    expect(codeOf(ACME, { ...market, timeInForce: 'fok' })).toBe('ok');
    const { price: _price, ...noPrice } = limit;
    expect(codeOf(ACME, noPrice)).toBe('PRICE_REQUIRED');
    expect(codeOf(ACME, { ...limit, postOnly: true, timeInForce: 'ioc' })).toBe('POST_ONLY_NOT_GTC');
    expect(codeOf(ACME, { ...limit, price: '50.001' })).toBe('PRICE_INVALID');
    expect(codeOf(ACME, { ...limit, quantity: '0.5' })).toBe('QUANTITY_INVALID');
  });

  it('a market order is protected at the touch ± the band: rounded inside the band, never below one tick, null on an empty side', () => {
    const market = new Market(ACME);
    expect(protectionPriceTicks(ACME, 'buy', market.book)).toBeNull();
    expect(protectionPriceTicks(ACME, 'sell', market.book)).toBeNull();
    market.apply(placeOf({ id: 'ask', userId: 'a', side: 'sell', priceTicks: 999, qtyLots: 1 }));
    market.apply(placeOf({ id: 'bid', userId: 'b', side: 'buy', priceTicks: 999 - 50, qtyLots: 1 }));
    // 999 × 1.05 = 1048.95 → 1048; 949 × 0.95 = 901.55 → 902.
    expect(protectionPriceTicks(ACME, 'buy', market.book)).toBe(1048);
    expect(protectionPriceTicks(ACME, 'sell', market.book)).toBe(902);
    const penny = new Market(ACME);
    penny.apply(placeOf({ id: 'bid', userId: 'b', side: 'buy', priceTicks: 1, qtyLots: 1 }));
    expect(protectionPriceTicks(ACME, 'sell', penny.book)).toBe(1);
    const top = new Market(ACME);
    top.apply(placeOf({ id: 'ask', userId: 'a', side: 'sell', priceTicks: MAX_PRICE_TICKS, qtyLots: 1 }));
    expect(protectionPriceTicks(ACME, 'buy', top.book)).toBe(MAX_PRICE_TICKS);
  });

  it('a buy reserves its notional plus the taker fee rounded up; a sell its quantity in base; fees round down', () => {
    // 51.00 × 4 = 204.00; 20 bps of it is 0.408 → 0.41 reserved.
    expect(reserveOf(ACME, 'buy', 5100, 4)).toEqual({ currency: 'USD', amountMinor: 20_441n });
    expect(reserveOf(ACME, 'buy', 5000, 1)).toEqual({ currency: 'USD', amountMinor: 5_010n });
    expect(reserveOf(ACME, 'sell', 5100, 4)).toEqual({ currency: 'ACME', amountMinor: 4n });
    expect(reserveOf({ ...ACME, baseScale: 8, lotMinor: 100_000_000n }, 'sell', 1, 3)).toEqual({ currency: 'ACME', amountMinor: 300_000_000n });
    expect(notionalMinor(ACME, 5000, 4)).toBe(20_000n);
    expect(feeMinor(20_000n, 20)).toBe(40n);
    expect(feeMinor(4_999n, 20)).toBe(9n);
    expect(feeMinor(49n, 20)).toBe(0n);
  });
});

// --- order types ----------------------------------------------------------------------------

describe('limit GTC', () => {
  it('rests when nothing crosses: open, on the book, a depth change, no money moved', () => {
    const market = new Market(ACME);
    const out = market.apply(placeOf({ id: 's1', userId: 'S', side: 'sell', priceTicks: 5000, qtyLots: 10 }));
    expect(out.rejection).toBeNull();
    expect(out.trades).toEqual([]);
    expect(out.movements).toEqual([]);
    expect(out.orders).toEqual([expect.objectContaining({ id: 's1', status: 'open', filledLots: 0, heldMinor: 10n, holdRef: 'xo:s1:h0' })]);
    expect(out.depth).toEqual([['sell', 5000, 10]]);
    expect(market.open.has('s1')).toBe(true);
    expect(market.seq).toBe(1);
  });

  it('crosses at price-time priority: better price first, then oldest; fills at the maker price', () => {
    const market = new Market(ACME);
    market.apply(placeOf({ id: 'worse', userId: 'S1', side: 'sell', priceTicks: 5001, qtyLots: 10 }));
    market.apply(placeOf({ id: 'oldest', userId: 'S2', side: 'sell', priceTicks: 5000, qtyLots: 5 }));
    market.apply(placeOf({ id: 'newer', userId: 'S3', side: 'sell', priceTicks: 5000, qtyLots: 5 }));
    const out = market.apply(placeOf({ id: 'b', userId: 'B', side: 'buy', priceTicks: 5100, qtyLots: 12 }));
    expect(tradesOf(out)).toEqual([
      ['oldest', 'b', 5000, 5],
      ['newer', 'b', 5000, 5],
      ['worse', 'b', 5001, 2],
    ]);
    expect(out.trades.map((t) => [t.id, t.seq, t.takerSide, t.notionalMinor, t.makerFeeMinor, t.takerFeeMinor])).toEqual([
      ['ACME-USD:1', 1, 'buy', 25_000n, 25n, 50n],
      ['ACME-USD:2', 2, 'buy', 25_000n, 25n, 50n],
      ['ACME-USD:3', 3, 'buy', 10_002n, 10n, 20n],
    ]);
    expect(orderIn(out, 'oldest')).toMatchObject({ status: 'filled', filledLots: 5 });
    expect(orderIn(out, 'worse')).toMatchObject({ status: 'open', filledLots: 2, notionalMinor: 10_002n, feeMinor: 10n });
    expect(orderIn(out, 'b')).toMatchObject({ status: 'filled', filledLots: 12, notionalMinor: 60_002n, feeMinor: 120n, heldMinor: 0n });
    expect(out.depth).toEqual(expect.arrayContaining([['sell', 5000, 0], ['sell', 5001, 8]]));
    expect(market.open.has('b')).toBe(false);
    expect(market.open.has('oldest')).toBe(false);
    expect(market.lastPriceTicks).toBe(5001);
  });

  it('the rest of a crossing order rests at its limit', () => {
    const market = new Market(ACME);
    market.apply(placeOf({ id: 's', userId: 'S', side: 'sell', priceTicks: 5000, qtyLots: 3 }));
    const out = market.apply(placeOf({ id: 'b', userId: 'B', side: 'buy', priceTicks: 5100, qtyLots: 5 }));
    expect(orderIn(out, 'b')).toMatchObject({ status: 'open', filledLots: 3 });
    expect(fullDepth(market)).toEqual({ bids: [[5100, 2, 1]], asks: [] });
  });
});

describe('market orders', () => {
  it('a market buy trades up to best ask + 5 % and the rest is cancelled (ioc)', () => {
    const market = new Market(ACME);
    market.apply(placeOf({ id: 'a1', userId: 'S1', side: 'sell', priceTicks: 10_000, qtyLots: 3 }));
    market.apply(placeOf({ id: 'a2', userId: 'S2', side: 'sell', priceTicks: 10_400, qtyLots: 3 }));
    market.apply(placeOf({ id: 'a3', userId: 'S3', side: 'sell', priceTicks: 10_600, qtyLots: 3 }));
    const command = marketOrderOf(market, { id: 'm', userId: 'B', side: 'buy', qtyLots: 10 });
    expect(command.order).toMatchObject({ priceTicks: 10_500, tif: 'ioc', type: 'market', heldMinor: reserveOf(ACME, 'buy', 10_500, 10).amountMinor });
    const out = market.apply(command);
    expect(tradesOf(out)).toEqual([
      ['a1', 'm', 10_000, 3],
      ['a2', 'm', 10_400, 3],
    ]);
    expect(orderIn(out, 'm')).toMatchObject({ status: 'cancelled', cancelReason: 'ioc', filledLots: 6, heldMinor: 0n });
    expect(fullDepth(market).asks).toEqual([[10_600, 3, 1]]);
    expect(market.open.has('m')).toBe(false);
  });

  it('a market sell takes bids down to best bid − 5 %', () => {
    const market = new Market(ACME);
    market.apply(placeOf({ id: 'b1', userId: 'B1', side: 'buy', priceTicks: 10_000, qtyLots: 2 }));
    market.apply(placeOf({ id: 'b2', userId: 'B2', side: 'buy', priceTicks: 9_500, qtyLots: 2 }));
    market.apply(placeOf({ id: 'b3', userId: 'B3', side: 'buy', priceTicks: 9_499, qtyLots: 2 }));
    const out = market.apply(marketOrderOf(market, { id: 'm', userId: 'S', side: 'sell', qtyLots: 6 }));
    expect(tradesOf(out)).toEqual([
      ['b1', 'm', 10_000, 2],
      ['b2', 'm', 9_500, 2],
    ]);
    expect(orderIn(out, 'm')).toMatchObject({ status: 'cancelled', cancelReason: 'ioc', filledLots: 4 });
  });
});

describe('IOC', () => {
  it('trades what it can; the rest is cancelled with reason ioc and never rests', () => {
    const market = new Market(ACME);
    market.apply(placeOf({ id: 's', userId: 'S', side: 'sell', priceTicks: 5000, qtyLots: 3 }));
    const out = market.apply(placeOf({ id: 'i', userId: 'B', side: 'buy', priceTicks: 5000, qtyLots: 5, tif: 'ioc' }));
    expect(tradesOf(out)).toEqual([['s', 'i', 5000, 3]]);
    expect(orderIn(out, 'i')).toMatchObject({ status: 'cancelled', cancelReason: 'ioc', filledLots: 3 });
    expect(fullDepth(market)).toEqual({ bids: [], asks: [] });
  });

  it('one that finds nothing is cancelled and its whole hold released', () => {
    const market = new Market(ACME);
    const out = market.apply(placeOf({ id: 'i', userId: 'B', side: 'buy', priceTicks: 5000, qtyLots: 5, tif: 'ioc' }));
    expect(out.rejection).toBeNull();
    expect(orderIn(out, 'i')).toMatchObject({ status: 'cancelled', cancelReason: 'ioc', filledLots: 0 });
    expect(out.movements).toEqual([{ kind: 'release', ref: 'xo:i:h0/release', holdRef: 'xo:i:h0' }]);
  });
});

describe('FOK', () => {
  function marketWithAsks() {
    const market = new Market(ACME);
    market.apply(placeOf({ id: 's1', userId: 'S1', side: 'sell', priceTicks: 5000, qtyLots: 3 }));
    market.apply(placeOf({ id: 's2', userId: 'S2', side: 'sell', priceTicks: 5001, qtyLots: 3 }));
    return market;
  }

  it('fills its whole quantity at once when the book can', () => {
    const market = marketWithAsks();
    const out = market.apply(placeOf({ id: 'f', userId: 'B', side: 'buy', priceTicks: 5001, qtyLots: 5, tif: 'fok' }));
    expect(out.trades.reduce((n, t) => n + t.qtyLots, 0)).toBe(5);
    expect(orderIn(out, 'f')).toMatchObject({ status: 'filled' });
  });

  it('is refused with FOK_NOT_FILLABLE when it cannot; only its own hold goes back, nothing else changes', () => {
    const market = marketWithAsks();
    const hash = market.stateHash();
    const out = market.apply(placeOf({ id: 'f', userId: 'B', side: 'buy', priceTicks: 5000, qtyLots: 5, tif: 'fok' }));
    expect(out.rejection?.code).toBe('FOK_NOT_FILLABLE');
    expect(out).toMatchObject({ trades: [], orders: [], depth: [] });
    expect(out.movements).toEqual([{ kind: 'release', ref: 'xo:f:h0/release', holdRef: 'xo:f:h0' }]);
    expect(market.stateHash()).toBe(hash);
    expect(market.seq).toBe(2);
  });
});

describe('post-only', () => {
  it('rests as a maker when it would not trade', () => {
    const market = new Market(ACME);
    market.apply(placeOf({ id: 's', userId: 'S', side: 'sell', priceTicks: 5001, qtyLots: 3 }));
    const out = market.apply(placeOf({ id: 'p', userId: 'B', side: 'buy', priceTicks: 5000, qtyLots: 3, postOnly: true }));
    expect(orderIn(out, 'p')).toMatchObject({ status: 'open' });
  });

  it('is refused with POST_ONLY_WOULD_CROSS when it would take liquidity; nothing changes', () => {
    const market = new Market(ACME);
    market.apply(placeOf({ id: 's', userId: 'S', side: 'sell', priceTicks: 5001, qtyLots: 3 }));
    const hash = market.stateHash();
    const out = market.apply(placeOf({ id: 'p', userId: 'B', side: 'buy', priceTicks: 5001, qtyLots: 3, postOnly: true }));
    expect(out.rejection).toMatchObject({ code: 'POST_ONLY_WOULD_CROSS', field: 'price' });
    expect(out).toMatchObject({ trades: [], orders: [], depth: [], movements: [{ kind: 'release', holdRef: 'xo:p:h0' }] });
    expect(market.stateHash()).toBe(hash);
  });
});

describe('self-trade prevention', () => {
  it("cancels the trader's resting order (self_trade, hold released) and trades with the next", () => {
    const market = new Market(ACME);
    market.apply(placeOf({ id: 'mine', userId: 'U', side: 'sell', priceTicks: 5000, qtyLots: 5 }));
    market.apply(placeOf({ id: 'theirs', userId: 'V', side: 'sell', priceTicks: 5000, qtyLots: 5 }));
    const out = market.apply(placeOf({ id: 'b', userId: 'U', side: 'buy', priceTicks: 5000, qtyLots: 8 }));
    expect(orderIn(out, 'mine')).toMatchObject({ status: 'cancelled', cancelReason: 'self_trade', heldMinor: 0n });
    expect(out.movements).toContainEqual({ kind: 'release', ref: 'xo:mine:h0/release', holdRef: 'xo:mine:h0' });
    expect(tradesOf(out)).toEqual([['theirs', 'b', 5000, 5]]);
    expect(orderIn(out, 'b')).toMatchObject({ status: 'open', filledLots: 5 });
    expect(market.open.has('mine')).toBe(false);
    expect(fullDepth(market)).toEqual({ bids: [[5000, 3, 1]], asks: [] });
  });

  it('the level emptied by a self-trade cancel is in the depth changes, even with no fill there', () => {
    const market = new Market(ACME);
    market.apply(placeOf({ id: 'mine', userId: 'U', side: 'sell', priceTicks: 5000, qtyLots: 5 }));
    const out = market.apply(placeOf({ id: 'b', userId: 'U', side: 'buy', priceTicks: 5000, qtyLots: 5 }));
    expect(out.depth).toEqual(expect.arrayContaining([['sell', 5000, 0], ['buy', 5000, 5]]));
  });
});

describe('cancel and cancel_all', () => {
  it('cancel takes the order off, releases its hold, and the emptied level is gone', () => {
    const market = new Market(ACME);
    market.apply(placeOf({ id: 'b', userId: 'B', side: 'buy', priceTicks: 5000, qtyLots: 5 }));
    market.apply(placeOf({ id: 'b2', userId: 'B', side: 'buy', priceTicks: 4999, qtyLots: 5 }));
    const out = market.apply({ type: 'cancel', atMs: 2, orderId: 'b', userId: 'B' });
    expect(out.rejection).toBeNull();
    expect(orderIn(out, 'b')).toMatchObject({ status: 'cancelled', cancelReason: 'user', heldMinor: 0n, updatedAtMs: 2 });
    expect(out.movements).toEqual([{ kind: 'release', ref: 'xo:b:h0/release', holdRef: 'xo:b:h0' }]);
    expect(out.depth).toEqual([['buy', 5000, 0]]);
    expect(market.book.bestBid()).toBe(4999);
  });

  it("refuses ORDER_NOT_OPEN for an order that is someone else's, unknown or cancelled already, changing nothing", () => {
    const market = new Market(ACME);
    market.apply(placeOf({ id: 'b', userId: 'B', side: 'buy', priceTicks: 5000, qtyLots: 5 }));
    const hash = market.stateHash();
    for (const [orderId, userId] of [
      ['b', 'intruder'],
      ['nope', 'B'],
    ]) {
      const out = market.apply({ type: 'cancel', atMs: 2, orderId: orderId!, userId: userId! });
      expect(out.rejection?.code).toBe('ORDER_NOT_OPEN');
      expect(out.movements).toEqual([]);
    }
    expect(market.stateHash()).toBe(hash);
    market.apply({ type: 'cancel', atMs: 3, orderId: 'b', userId: 'B' });
    expect(market.apply({ type: 'cancel', atMs: 4, orderId: 'b', userId: 'B' }).rejection?.code).toBe('ORDER_NOT_OPEN');
  });

  it("cancel_all cancels every open order of one user and only theirs", () => {
    const market = new Market(ACME);
    market.apply(placeOf({ id: 'x1', userId: 'X', side: 'buy', priceTicks: 5000, qtyLots: 1 }));
    market.apply(placeOf({ id: 'x2', userId: 'X', side: 'buy', priceTicks: 4990, qtyLots: 1 }));
    market.apply(placeOf({ id: 'x3', userId: 'X', side: 'sell', priceTicks: 5100, qtyLots: 1 }));
    market.apply(placeOf({ id: 'y', userId: 'Y', side: 'buy', priceTicks: 5000, qtyLots: 1 }));
    const out = market.apply({ type: 'cancel_all', atMs: 2, userId: 'X' });
    expect(out.orders.map((o) => [o.id, o.status, o.cancelReason]).sort()).toEqual([
      ['x1', 'cancelled', 'cancel_all'],
      ['x2', 'cancelled', 'cancel_all'],
      ['x3', 'cancelled', 'cancel_all'],
    ]);
    expect(out.movements.map((m) => m.kind === 'release' && m.holdRef).sort()).toEqual(['xo:x1:h0', 'xo:x2:h0', 'xo:x3:h0']);
    expect([...market.open.keys()]).toEqual(['y']);
    expect(fullDepth(market)).toEqual({ bids: [[5000, 1, 1]], asks: [] });
  });
});

describe('amend', () => {
  function twoAsks() {
    const market = new Market(ACME);
    market.apply(placeOf({ id: 'first', userId: 'A', side: 'sell', priceTicks: 5000, qtyLots: 10 }));
    market.apply(placeOf({ id: 'second', userId: 'C', side: 'sell', priceTicks: 5000, qtyLots: 10 }));
    return market;
  }

  it('a smaller quantity keeps the queue position and hands back the spare hold', () => {
    const market = twoAsks();
    const out = market.apply({ type: 'amend', atMs: 2, orderId: 'first', userId: 'A', qtyLots: 4 });
    expect(out.rejection).toBeNull();
    expect(out.movements).toEqual([
      { kind: 'release', ref: 'xo:first:h0/release', holdRef: 'xo:first:h0' },
      { kind: 'hold', ref: 'xo:first:h1', userId: 'A', currency: 'ACME', amountMinor: 4n, orderId: 'first' },
    ]);
    expect(orderIn(out, 'first')).toMatchObject({ qtyLots: 4, heldMinor: 4n, holdRef: 'xo:first:h1', status: 'open' });
    expect(out.depth).toEqual([['sell', 5000, 14]]);
    const take = market.apply(placeOf({ id: 'b', userId: 'B', side: 'buy', priceTicks: 5000, qtyLots: 6 }));
    expect(tradesOf(take)).toEqual([
      ['first', 'b', 5000, 4],
      ['second', 'b', 5000, 2],
    ]);
  });

  it('a new price loses the queue position', () => {
    const market = twoAsks();
    market.apply({ type: 'amend', atMs: 2, orderId: 'first', userId: 'A', priceTicks: 5001 });
    market.apply({ type: 'amend', atMs: 3, orderId: 'first', userId: 'A', priceTicks: 5000 });
    const take = market.apply(placeOf({ id: 'b', userId: 'B', side: 'buy', priceTicks: 5000, qtyLots: 1 }));
    expect(tradesOf(take)).toEqual([['second', 'b', 5000, 1]]);
  });

  it('a new price that crosses trades at once, as the taker, at the maker price', () => {
    const market = new Market(ACME);
    market.apply(placeOf({ id: 'bid', userId: 'B', side: 'buy', priceTicks: 4990, qtyLots: 4 }));
    market.apply(placeOf({ id: 'ask', userId: 'S', side: 'sell', priceTicks: 5010, qtyLots: 10 }));
    const out = market.apply({ type: 'amend', atMs: 2, orderId: 'ask', userId: 'S', priceTicks: 4980 });
    expect(tradesOf(out)).toEqual([['bid', 'ask', 4990, 4]]);
    expect(out.trades[0]).toMatchObject({ takerSide: 'sell', takerFeeMinor: feeMinor(19_960n, 20), makerFeeMinor: feeMinor(19_960n, 10) });
    expect(orderIn(out, 'ask')).toMatchObject({ priceTicks: 4980, filledLots: 4, status: 'open' });
    expect(fullDepth(market)).toEqual({ bids: [], asks: [[4980, 6, 1]] });
  });

  it('refuses a bigger quantity or one not above what filled (AMEND_NOT_SMALLER) and a change of nothing (AMEND_NOTHING)', () => {
    const market = twoAsks();
    market.apply(placeOf({ id: 'b', userId: 'B', side: 'buy', priceTicks: 5000, qtyLots: 3 }));
    const hash = market.stateHash();
    const codeOf = (change: { qtyLots?: number; priceTicks?: number }) => market.apply({ type: 'amend', atMs: 2, orderId: 'first', userId: 'A', ...change }).rejection?.code;
    expect(codeOf({ qtyLots: 11 })).toBe('AMEND_NOT_SMALLER');
    expect(codeOf({ qtyLots: 3 })).toBe('AMEND_NOT_SMALLER');
    expect(codeOf({ qtyLots: 10 })).toBe('AMEND_NOTHING');
    expect(codeOf({ qtyLots: 10, priceTicks: 5000 })).toBe('AMEND_NOTHING');
    expect(codeOf({})).toBe('AMEND_NOTHING');
    expect(market.apply({ type: 'amend', atMs: 2, orderId: 'first', userId: 'C', qtyLots: 5 }).rejection?.code).toBe('ORDER_NOT_OPEN');
    expect(market.stateHash()).toBe(hash);
  });

  it('refuses to move a post-only order to a price that would cross, changing nothing', () => {
    const market = new Market(ACME);
    market.apply(placeOf({ id: 'ask', userId: 'S', side: 'sell', priceTicks: 5010, qtyLots: 1 }));
    market.apply(placeOf({ id: 'p', userId: 'B', side: 'buy', priceTicks: 5000, qtyLots: 1, postOnly: true }));
    const hash = market.stateHash();
    const extraHold = { ref: 'xo:p:amend:1', amountMinor: 11n };
    const out = market.apply({ type: 'amend', atMs: 2, orderId: 'p', userId: 'B', priceTicks: 5010, extraHold });
    expect(out.rejection).toMatchObject({ code: 'POST_ONLY_WOULD_CROSS' });
    expect(out.movements).toEqual([{ kind: 'release', ref: 'xo:p:amend:1/release', holdRef: 'xo:p:amend:1' }]);
    expect(market.stateHash()).toBe(hash);
  });

  it('a buy moved higher needs the extra reserve: refused INSUFFICIENT_FUNDS without it; with it the two holds become one', () => {
    const market = new Market(ACME);
    market.apply(placeOf({ id: 'b', userId: 'B', side: 'buy', priceTicks: 5000, qtyLots: 2 }));
    // 2 × 50.00 + 0.20 fee = 100.20 held; at 51.00: 102.00 + 0.21 = 102.21, so 2.01 more.
    expect(market.apply({ type: 'amend', atMs: 2, orderId: 'b', userId: 'B', priceTicks: 5100 }).rejection?.code).toBe('INSUFFICIENT_FUNDS');
    const extraHold = { ref: 'xo:b:amend:1', amountMinor: 201n };
    const out = market.apply({ type: 'amend', atMs: 3, orderId: 'b', userId: 'B', priceTicks: 5100, extraHold });
    expect(out.rejection).toBeNull();
    expect(out.movements).toEqual([
      { kind: 'release', ref: 'xo:b:h0/release', holdRef: 'xo:b:h0' },
      { kind: 'release', ref: 'xo:b:amend:1/release', holdRef: 'xo:b:amend:1' },
      { kind: 'hold', ref: 'xo:b:h1', userId: 'B', currency: 'USD', amountMinor: 10_221n, orderId: 'b' },
    ]);
    expect(orderIn(out, 'b')).toMatchObject({ priceTicks: 5100, heldMinor: 10_221n, holdRef: 'xo:b:h1' });
  });

  it('a buy moved lower leaves its old level and holds only what the new price needs', () => {
    const market = new Market(ACME);
    market.apply(placeOf({ id: 'b', userId: 'B', side: 'buy', priceTicks: 5000, qtyLots: 2 }));
    const out = market.apply({ type: 'amend', atMs: 2, orderId: 'b', userId: 'B', priceTicks: 4000 });
    expect(out.depth).toEqual(expect.arrayContaining([['buy', 5000, 0], ['buy', 4000, 2]]));
    expect(out.movements).toEqual([
      { kind: 'release', ref: 'xo:b:h0/release', holdRef: 'xo:b:h0' },
      { kind: 'hold', ref: 'xo:b:h1', userId: 'B', currency: 'USD', amountMinor: reserveOf(ACME, 'buy', 4000, 2).amountMinor, orderId: 'b' },
    ]);
  });
});

describe('halt and resume', () => {
  it('while halted new orders and amendments are refused INSTRUMENT_HALTED; cancels still work; resume trades again', () => {
    const market = new Market(ACME);
    market.apply(placeOf({ id: 'r1', userId: 'R', side: 'sell', priceTicks: 5000, qtyLots: 5 }));
    market.apply(placeOf({ id: 'r2', userId: 'R', side: 'sell', priceTicks: 5001, qtyLots: 5 }));
    market.apply(placeOf({ id: 'q', userId: 'Q', side: 'sell', priceTicks: 5002, qtyLots: 5 }));
    const hashBefore = market.stateHash();
    expect(market.apply({ type: 'halt', atMs: 2 }).rejection).toBeNull();
    expect(market.instrument.status).toBe('halted');
    expect(market.stateHash()).not.toBe(hashBefore);
    expect(checkOrder(market.instrument, { side: 'buy', type: 'limit', price: '50.00', quantity: '1', timeInForce: 'gtc', postOnly: false })).toMatchObject({ ok: false, rejection: { code: 'INSTRUMENT_HALTED' } });

    const refused = market.apply(placeOf({ id: 'b', userId: 'B', side: 'buy', priceTicks: 5000, qtyLots: 1 }));
    expect(refused.rejection?.code).toBe('INSTRUMENT_HALTED');
    expect(refused.movements).toEqual([{ kind: 'release', ref: 'xo:b:h0/release', holdRef: 'xo:b:h0' }]);
    expect(market.apply({ type: 'amend', atMs: 3, orderId: 'r1', userId: 'R', qtyLots: 1 }).rejection?.code).toBe('INSTRUMENT_HALTED');

    expect(orderIn(market.apply({ type: 'cancel', atMs: 4, orderId: 'r1', userId: 'R' }), 'r1')).toMatchObject({ status: 'cancelled' });
    expect(market.apply({ type: 'cancel_all', atMs: 5, userId: 'R' }).orders.map((o) => o.id)).toEqual(['r2']);
    expect(fullDepth(market).asks).toEqual([[5002, 5, 1]]);

    market.apply({ type: 'resume', atMs: 6 });
    expect(market.instrument.status).toBe('trading');
    expect(tradesOf(market.apply(placeOf({ id: 'b2', userId: 'B', side: 'buy', priceTicks: 5002, qtyLots: 1 })))).toEqual([['q', 'b2', 5002, 1]]);
    // The instrument handed to the market is not changed by a halt (replays start from it).
    expect(ACME.status).toBe('trading');
  });
});

// --- funds ----------------------------------------------------------------------------------

describe('funds: the movements of a fill', () => {
  it('a buy taker that completes: capture of the notional to the seller, buyer fee, no re-hold; the seller re-holds what rests', () => {
    const market = new Market(ACME);
    market.apply(placeOf({ id: 's', userId: 'S', side: 'sell', priceTicks: 5000, qtyLots: 10 }));
    const out = market.apply(placeOf({ id: 'b', userId: 'B', side: 'buy', priceTicks: 5100, qtyLots: 4 }));
    expect(out.movements).toEqual([
      { kind: 'capture', ref: 'ACME-USD:1/quote', holdRef: 'xo:b:h0', toUserId: 'S', currency: 'USD', amountMinor: 20_000n },
      { kind: 'fee', ref: 'ACME-USD:1/buyer-fee', fromUserId: 'B', currency: 'USD', amountMinor: 40n },
      { kind: 'capture', ref: 'ACME-USD:1/base', holdRef: 'xo:s:h0', toUserId: 'B', currency: 'ACME', amountMinor: 4n },
      { kind: 'fee', ref: 'ACME-USD:1/seller-fee', fromUserId: 'S', currency: 'USD', amountMinor: 20n },
      { kind: 'hold', ref: 'xo:s:h1', userId: 'S', currency: 'ACME', amountMinor: 6n, orderId: 's' },
    ]);
  });

  it('a buy taker that goes on re-holds the rest of its hold; the seller that completes is captured with no re-hold', () => {
    const market = new Market(ACME);
    market.apply(placeOf({ id: 's', userId: 'S', side: 'sell', priceTicks: 5000, qtyLots: 10 }));
    // 15 × 51.00 = 765.00 + 1.53 fee = 766.53 held; the fill uses 500.00 + 1.00.
    const out = market.apply(placeOf({ id: 'b', userId: 'B', side: 'buy', priceTicks: 5100, qtyLots: 15 }));
    expect(out.movements).toEqual([
      { kind: 'capture', ref: 'ACME-USD:1/quote', holdRef: 'xo:b:h0', toUserId: 'S', currency: 'USD', amountMinor: 50_000n },
      { kind: 'fee', ref: 'ACME-USD:1/buyer-fee', fromUserId: 'B', currency: 'USD', amountMinor: 100n },
      { kind: 'hold', ref: 'xo:b:h1', userId: 'B', currency: 'USD', amountMinor: 76_653n - 50_100n, orderId: 'b' },
      { kind: 'capture', ref: 'ACME-USD:1/base', holdRef: 'xo:s:h0', toUserId: 'B', currency: 'ACME', amountMinor: 10n },
      { kind: 'fee', ref: 'ACME-USD:1/seller-fee', fromUserId: 'S', currency: 'USD', amountMinor: 50n },
    ]);
    // Cancelling the resting rest gives back exactly the re-hold.
    const cancel = market.apply({ type: 'cancel', atMs: 2, orderId: 'b', userId: 'B' });
    expect(cancel.movements).toEqual([{ kind: 'release', ref: 'xo:b:h1/release', holdRef: 'xo:b:h1' }]);
  });

  it('a sell taker against a resting buy: the maker buyer pays the maker fee and re-holds; the seller pays the taker fee', () => {
    const market = new Market(ACME);
    market.apply(placeOf({ id: 'b', userId: 'B', side: 'buy', priceTicks: 5000, qtyLots: 10 }));
    const out = market.apply(placeOf({ id: 's', userId: 'S', side: 'sell', priceTicks: 4900, qtyLots: 4 }));
    expect(out.movements).toEqual([
      { kind: 'capture', ref: 'ACME-USD:1/quote', holdRef: 'xo:b:h0', toUserId: 'S', currency: 'USD', amountMinor: 20_000n },
      { kind: 'fee', ref: 'ACME-USD:1/buyer-fee', fromUserId: 'B', currency: 'USD', amountMinor: 20n },
      { kind: 'hold', ref: 'xo:b:h1', userId: 'B', currency: 'USD', amountMinor: 50_100n - 20_020n, orderId: 'b' },
      { kind: 'capture', ref: 'ACME-USD:1/base', holdRef: 'xo:s:h0', toUserId: 'B', currency: 'ACME', amountMinor: 4n },
      { kind: 'fee', ref: 'ACME-USD:1/seller-fee', fromUserId: 'S', currency: 'USD', amountMinor: 40n },
    ]);
  });

  it('a fee that rounds to zero moves nothing', () => {
    const market = new Market(ACME);
    market.apply(placeOf({ id: 's', userId: 'S', side: 'sell', priceTicks: 49, qtyLots: 1 }));
    const out = market.apply(placeOf({ id: 'b', userId: 'B', side: 'buy', priceTicks: 49, qtyLots: 1 }));
    expect(out.movements.map((m) => m.kind)).toEqual(['capture', 'capture']);
  });

  it('settles in a simulated ledger: wallets and the house end where the trading docs say', () => {
    const venue = new Venue(ACME);
    venue.ledger.issue('S', 'ACME', 100n);
    venue.ledger.issue('B', 'USD', 1_000_000n);
    venue.place({ id: 's', userId: 'S', side: 'sell', priceTicks: 5000, qtyLots: 10 });
    venue.place({ id: 'b', userId: 'B', side: 'buy', priceTicks: 5100, qtyLots: 4 });
    const l = venue.ledger;
    expect([l.postedOf('B', 'USD'), l.heldOf('B', 'USD'), l.postedOf('B', 'ACME')]).toEqual([979_960n, 0n, 4n]);
    expect([l.postedOf('S', 'USD'), l.postedOf('S', 'ACME'), l.heldOf('S', 'ACME')]).toEqual([19_980n, 96n, 6n]);
    expect(l.houseOf('USD')).toBe(60n);
    checkVenue(venue);
  });
});

// --- a ledger simulator ---------------------------------------------------------------------

interface SimHold {
  userId: string;
  currency: string;
  amountMinor: bigint;
  state: 'pending' | 'captured' | 'released';
}

/**
 * The ledger's posting rules, small: wallets per user per currency, holds by ref (a capture posts
 * its amount and releases the rest of the hold), fees to the house. Every rule a real ledger
 * enforces throws here, so a model that asks for an impossible movement fails the test.
 */
class LedgerSim {
  private readonly posted = new Map<string, bigint>();
  private readonly pending = new Map<string, bigint>();
  readonly holds = new Map<string, SimHold>();
  readonly pendingRefs = new Set<string>();
  private readonly house = new Map<string, bigint>();
  private readonly issued = new Map<string, bigint>();
  private readonly captures = new Map<string, { amountMinor: bigint; heldMinor: bigint; orderId: string }>();
  private readonly refs = new Set<string>();
  /** Per order: what its trader reserved for it (entry and extra holds) and what it has paid. */
  private readonly orderOfHold = new Map<string, string>();
  readonly reservedFor = new Map<string, bigint>();
  readonly paidBy = new Map<string, bigint>();

  issue(userId: string, currency: string, amountMinor: bigint): void {
    bump(this.posted, `${userId} ${currency}`, amountMinor);
    bump(this.issued, currency, amountMinor);
  }

  postedOf(userId: string, currency: string): bigint {
    return this.posted.get(`${userId} ${currency}`) ?? 0n;
  }

  heldOf(userId: string, currency: string): bigint {
    return this.pending.get(`${userId} ${currency}`) ?? 0n;
  }

  availableOf(userId: string, currency: string): bigint {
    return this.postedOf(userId, currency) - this.heldOf(userId, currency);
  }

  houseOf(currency: string): bigint {
    return this.house.get(currency) ?? 0n;
  }

  /** A hold the engine places for an order before a command; false when the wallet cannot cover it. */
  tryHold(ref: string, userId: string, currency: string, amountMinor: bigint, orderId: string): boolean {
    if (this.availableOf(userId, currency) < amountMinor) return false;
    this.hold(ref, userId, currency, amountMinor, orderId);
    bump(this.reservedFor, orderId, amountMinor);
    return true;
  }

  apply(m: Movement): void {
    switch (m.kind) {
      case 'hold':
        if (this.availableOf(m.userId, m.currency) < m.amountMinor) throw new Error(`hold ${m.ref}: ${m.userId} has ${this.availableOf(m.userId, m.currency)} ${m.currency} available, not ${m.amountMinor}`);
        this.hold(m.ref, m.userId, m.currency, m.amountMinor, m.orderId);
        break;
      case 'release':
        this.once(m.ref);
        this.settle(m.holdRef, m.ref).state = 'released';
        break;
      case 'capture': {
        this.once(m.ref);
        const h = this.settle(m.holdRef, m.ref);
        if (h.currency !== m.currency) throw new Error(`capture ${m.ref}: hold ${m.holdRef} is in ${h.currency}, not ${m.currency}`);
        if (m.amountMinor <= 0n || m.amountMinor > h.amountMinor) throw new Error(`capture ${m.ref}: ${m.amountMinor} from a hold of ${h.amountMinor}`);
        h.state = 'captured';
        bump(this.posted, `${h.userId} ${h.currency}`, -m.amountMinor);
        bump(this.posted, `${m.toUserId} ${m.currency}`, m.amountMinor);
        const orderId = this.orderOfHold.get(m.holdRef)!;
        this.captures.set(m.ref, { amountMinor: m.amountMinor, heldMinor: h.amountMinor, orderId });
        bump(this.paidBy, orderId, m.amountMinor);
        break;
      }
      case 'fee': {
        this.once(m.ref);
        if (m.amountMinor <= 0n) throw new Error(`fee ${m.ref}: ${m.amountMinor}`);
        if (this.availableOf(m.fromUserId, m.currency) < m.amountMinor) throw new Error(`fee ${m.ref}: ${m.fromUserId} cannot pay ${m.amountMinor} ${m.currency}`);
        // The buyer's fee must come out of the hold its capture just released, not from money it never reserved.
        if (m.ref.endsWith('/buyer-fee')) {
          const capture = this.captures.get(m.ref.replace(/\/buyer-fee$/, '/quote'));
          if (!capture || capture.amountMinor + m.amountMinor > capture.heldMinor) throw new Error(`fee ${m.ref}: notional + fee exceed the buyer's hold`);
          bump(this.paidBy, capture.orderId, m.amountMinor);
        }
        bump(this.posted, `${m.fromUserId} ${m.currency}`, -m.amountMinor);
        bump(this.house, m.currency, m.amountMinor);
        break;
      }
    }
    for (const key of touchedKeys(m, this.holds)) {
      if ((this.posted.get(key) ?? 0n) < (this.pending.get(key) ?? 0n)) throw new Error(`${m.kind} ${m.ref}: wallet ${key} overdrawn`);
    }
  }

  /** Per currency: what users hold plus the house's fees is what was issued. */
  conservation(): Array<[string, bigint, bigint]> {
    const totals = new Map<string, bigint>();
    for (const [key, amount] of this.posted) {
      if (amount < 0n) throw new Error(`wallet ${key} is negative`);
      bump(totals, key.split(' ')[1]!, amount);
    }
    for (const [currency, amount] of this.house) bump(totals, currency, amount);
    return [...this.issued.keys()].map((c) => [c, totals.get(c) ?? 0n, this.issued.get(c)!]);
  }

  private hold(ref: string, userId: string, currency: string, amountMinor: bigint, orderId: string): void {
    this.once(ref);
    if (amountMinor <= 0n) throw new Error(`hold ${ref}: ${amountMinor}`);
    this.holds.set(ref, { userId, currency, amountMinor, state: 'pending' });
    this.orderOfHold.set(ref, orderId);
    this.pendingRefs.add(ref);
    bump(this.pending, `${userId} ${currency}`, amountMinor);
  }

  /** Ends a pending hold (capture or release); a hold settles once. */
  private settle(holdRef: string, by: string): SimHold {
    const h = this.holds.get(holdRef);
    if (!h || h.state !== 'pending') throw new Error(`${by}: hold ${holdRef} is ${h ? h.state : 'unknown'}`);
    this.pendingRefs.delete(holdRef);
    bump(this.pending, `${h.userId} ${h.currency}`, -h.amountMinor);
    return h;
  }

  private once(ref: string): void {
    if (this.refs.has(ref)) throw new Error(`ref ${ref} used twice`);
    this.refs.add(ref);
  }
}

function bump(map: Map<string, bigint>, key: string, delta: bigint): void {
  map.set(key, (map.get(key) ?? 0n) + delta);
}

function touchedKeys(m: Movement, holds: Map<string, SimHold>): string[] {
  switch (m.kind) {
    case 'hold':
      return [`${m.userId} ${m.currency}`];
    case 'fee':
      return [`${m.fromUserId} ${m.currency}`];
    case 'capture': {
      const h = holds.get(m.holdRef)!;
      return [`${h.userId} ${h.currency}`];
    }
    case 'release':
      return [];
  }
}

/** A market with its ledger, driven the way the engine drives it: funds first, then the book. */
class Venue {
  readonly market: Market;
  readonly ledger = new LedgerSim();
  /** Every command applied, and the ones the market accepted (what the journal keeps). */
  readonly all: MarketCommand[] = [];
  readonly accepted: MarketCommand[] = [];
  readonly outcomes: Outcome[] = [];
  private atMs = 0;
  private amends = 0;

  constructor(readonly instrument: Instrument) {
    this.market = new Market(instrument);
  }

  /** Undefined when the entry hold is refused (the engine answers INSUFFICIENT_FUNDS). */
  place(o: NewOrder): Outcome | undefined {
    const command = placeOf(o, ++this.atMs);
    const reserve = reserveOf(this.instrument, o.side, o.priceTicks, o.qtyLots);
    if (!this.ledger.tryHold(command.order.holdRef, o.userId, reserve.currency, reserve.amountMinor, o.id)) return undefined;
    return this.run(command);
  }

  /** Mirrors the engine: a buy moved to a price that needs more reserved holds the difference first. */
  amend(orderId: string, userId: string, change: { qtyLots?: number; priceTicks?: number }): Outcome | undefined {
    const current = this.market.open.get(orderId);
    let extraHold: { ref: string; amountMinor: bigint } | undefined;
    if (current && current.userId === userId && current.side === 'buy' && change.priceTicks !== undefined && change.priceTicks !== current.priceTicks) {
      const remaining = (change.qtyLots ?? current.qtyLots) - current.filledLots;
      const need = reserveOf(this.instrument, 'buy', change.priceTicks, Math.max(remaining, 1));
      const extraMinor = need.amountMinor - current.heldMinor;
      if (extraMinor > 0n) {
        extraHold = { ref: `xo:${orderId}:amend:${++this.amends}`, amountMinor: extraMinor };
        if (!this.ledger.tryHold(extraHold.ref, userId, need.currency, extraMinor, orderId)) return undefined;
      }
    }
    return this.run({ type: 'amend', atMs: ++this.atMs, orderId, userId, ...change, ...(extraHold ? { extraHold } : {}) });
  }

  run(command: MarketCommand): Outcome {
    if (command.type !== 'place' && command.type !== 'amend') command = { ...command, atMs: ++this.atMs };
    const out = this.market.apply(command);
    for (const m of out.movements) this.ledger.apply(m);
    this.all.push(command);
    if (out.rejection === null) this.accepted.push(command);
    this.outcomes.push(out);
    return out;
  }
}

/**
 * What must hold between commands: the book is not crossed; open orders are the resting ones
 * with what is left of them; each open order holds exactly one pending hold covering what its
 * rest could still pay; no other hold is pending; money is conserved. `onlyOrders` limits the
 * per-order part to the orders a command changed (the rest cannot have changed).
 */
function checkVenue(venue: Venue, onlyOrders?: readonly MarketOrder[]): void {
  const { market, ledger } = venue;
  const [bid, ask] = [market.book.bestBid(), market.book.bestAsk()];
  if (bid !== null && ask !== null && bid >= ask) throw new Error(`book crossed: bid ${bid}, ask ${ask}`);
  if (market.open.size !== market.book.size) throw new Error(`${market.open.size} open orders, ${market.book.size} resting`);
  const orders = onlyOrders === undefined ? market.open.values() : onlyOrders.map((o) => market.open.get(o.id)).filter((o) => o !== undefined);
  for (const o of orders) {
    const resting = market.book.get(o.id);
    const remaining = o.qtyLots - o.filledLots;
    if (resting?.remainingLots !== remaining || o.status !== 'open') throw new Error(`order ${o.id}: ${o.status}, ${remaining} left, ${resting?.remainingLots} resting`);
    const h = ledger.holds.get(o.holdRef);
    if (!h || h.state !== 'pending' || h.amountMinor !== o.heldMinor || h.userId !== o.userId) throw new Error(`order ${o.id}: holds ${o.heldMinor} under ${o.holdRef}, the ledger has ${JSON.stringify(h, (_k, v) => (typeof v === 'bigint' ? `${v}` : v))}`);
    const need = reserveOf(venue.market.instrument, o.side, o.priceTicks, remaining);
    if (h.currency !== need.currency || o.heldMinor < need.amountMinor) throw new Error(`order ${o.id}: holds ${o.heldMinor} ${h.currency}, its rest needs ${need.amountMinor} ${need.currency}`);
    // Re-holds only ever come out of what the trader reserved for this order, less what it paid.
    const left = (ledger.reservedFor.get(o.id) ?? 0n) - (ledger.paidBy.get(o.id) ?? 0n);
    if (o.heldMinor > left) throw new Error(`order ${o.id}: holds ${o.heldMinor}, but only ${left} of what was reserved for it is unspent`);
  }
  if (ledger.pendingRefs.size !== market.open.size) {
    const orphans = [...ledger.pendingRefs].filter((ref) => ![...market.open.values()].some((o) => o.holdRef === ref));
    throw new Error(`holds pending with no open order behind them: ${orphans.join(', ')}`);
  }
  for (const [currency, total, issued] of ledger.conservation()) if (total !== issued) throw new Error(`${currency}: ${total} in wallets and fees, ${issued} issued`);
}

// --- seeded streams through the model -------------------------------------------------------

interface StreamRun {
  venue: Venue;
  trades: number;
  selfTrades: number;
  amends: number;
  refusedForFunds: number;
  /** Per order: lots it came with, lots filled (from trades), lots cancelled, lots amended away. */
  lots: Map<string, { original: number; filled: number; cancelled: number; amendedAway: number; lastQty: number; lastStatus: string }>;
}

const USERS = 30;

/**
 * Runs a seeded stream through a venue with limited funds, mixing in the commands a stream does
 * not have (order types, amends, cancel-all, halts), checking everything after each command.
 */
function runStream(profile: StreamProfile, seed: number, count: number): StreamRun {
  const venue = new Venue(ACME);
  for (let u = 0; u < USERS; u++) {
    venue.ledger.issue(`u${u}`, 'USD', 3_000_000n);
    venue.ledger.issue(`u${u}`, 'ACME', 150n);
  }
  const random = mulberry32(seed * 31 + 7);
  const run: StreamRun = { venue, trades: 0, selfTrades: 0, amends: 0, refusedForFunds: 0, lots: new Map() };
  const owner = new Map<string, string>();
  let halted = false;
  let n = 0;
  for (const op of orderStream(profile, count, seed, { users: USERS })) {
    n += 1;
    let out: Outcome | undefined;
    let limit: { side: Side; priceTicks: number } | undefined;
    const outcomesBefore = venue.outcomes.length;
    if (halted && random() < 0.1) {
      venue.run({ type: 'resume', atMs: 0 });
      halted = false;
    } else if (!halted && random() < 0.004) {
      venue.run({ type: 'halt', atMs: 0 });
      halted = true;
    }
    const extra = random();
    if (extra < 0.08 && venue.market.open.size > 0) {
      const open = [...venue.market.open.values()];
      const target = open[Math.floor(random() * open.length)]!;
      const change = amendmentOf(target, random);
      // Read before the amend: the market changes its order objects in place.
      limit = { side: target.side, priceTicks: change.priceTicks ?? target.priceTicks };
      out = venue.amend(target.id, target.userId, change);
      if (out && out.rejection === null) run.amends += 1;
      if (out) record(run, out, limit, `${profile} seed ${seed} op ${n} (amend ${target.id})`);
    } else if (extra < 0.09) {
      out = venue.run({ type: 'cancel_all', atMs: 0, userId: `u${Math.floor(random() * USERS)}` });
      record(run, out, undefined, `${profile} seed ${seed} op ${n} (cancel_all)`);
    }
    const at = `${profile} seed ${seed} op ${n} (${op.kind} ${op.id})`;
    out = undefined;
    if (op.kind === 'cancel') {
      // Now and then someone else tries to cancel it: refused, nothing changes.
      const intruder = random() < 0.05;
      out = venue.run({ type: 'cancel', atMs: 0, orderId: op.id, userId: intruder ? 'intruder' : owner.get(op.id)! });
      if (intruder && out.rejection?.code !== 'ORDER_NOT_OPEN') throw new Error(`${at}: a stranger's cancel was not refused`);
    } else {
      owner.set(op.id, op.userId);
      let order: NewOrder;
      if (op.kind === 'market') {
        const priceTicks = protectionPriceTicks(venue.market.instrument, op.side, venue.market.book);
        if (priceTicks === null) continue;
        order = { id: op.id, userId: op.userId, side: op.side, priceTicks, qtyLots: op.qtyLots, type: 'market', tif: random() < 0.2 ? 'fok' : 'ioc' };
      } else {
        const roll = random();
        order = { id: op.id, userId: op.userId, side: op.side, priceTicks: op.priceTicks, qtyLots: op.qtyLots };
        if (roll < 0.08) order.tif = 'ioc';
        else if (roll < 0.15) order.tif = 'fok';
        else if (roll < 0.25) order.postOnly = true;
      }
      out = venue.place(order);
      limit = { side: order.side, priceTicks: order.priceTicks };
      if (out === undefined) run.refusedForFunds += 1;
      else if (out.rejection === null) run.lots.set(order.id, { original: order.qtyLots, filled: 0, cancelled: 0, amendedAway: 0, lastQty: order.qtyLots, lastStatus: 'open' });
    }
    if (out) record(run, out, limit, at);
    try {
      // The orders this op changed every time; every open order now and then and at the end.
      checkVenue(venue, n % 100 === 0 || n === count ? undefined : venue.outcomes.slice(outcomesBefore).flatMap((o) => o.orders));
    } catch (error) {
      throw new Error(`${at}: ${(error as Error).message}`);
    }
  }
  return run;
}

function amendmentOf(o: MarketOrder, random: () => number): { qtyLots?: number; priceTicks?: number } {
  const roll = random();
  const qtyLots = o.filledLots + 1 + Math.floor(random() * (o.qtyLots - o.filledLots));
  const priceTicks = Math.max(1, o.priceTicks + Math.floor(random() * 17) - 8);
  if (roll < 0.4) return { qtyLots };
  if (roll < 0.8) return { priceTicks };
  return { qtyLots, priceTicks };
}

/** Checks each trade against both prices and books what every order's lots became. */
function record(run: StreamRun, out: Outcome, limit: { side: Side; priceTicks: number } | undefined, at: string): void {
  for (const t of out.trades) {
    run.trades += 1;
    const maker = orderIn(out, t.makerOrderId);
    if (maker?.priceTicks !== t.priceTicks) throw new Error(`${at}: trade ${t.id} at ${t.priceTicks}, the maker's price is ${maker?.priceTicks}`);
    if (!limit || (limit.side === 'buy' ? t.priceTicks > limit.priceTicks : t.priceTicks < limit.priceTicks)) throw new Error(`${at}: trade ${t.id} at ${t.priceTicks} beyond the taker's limit ${limit?.priceTicks}`);
    if (t.makerUserId === t.takerUserId) throw new Error(`${at}: trade ${t.id} is a self-trade`);
    if (t.notionalMinor !== notionalMinor(ACME, t.priceTicks, t.qtyLots) || t.makerFeeMinor !== feeMinor(t.notionalMinor, ACME.makerFeeBps) || t.takerFeeMinor !== feeMinor(t.notionalMinor, ACME.takerFeeBps)) throw new Error(`${at}: trade ${t.id} money is off`);
    for (const id of [t.makerOrderId, t.takerOrderId]) {
      const lots = run.lots.get(id);
      if (lots) lots.filled += t.qtyLots;
    }
  }
  for (const o of out.orders) {
    const lots = run.lots.get(o.id);
    if (!lots) continue;
    if (o.qtyLots < lots.lastQty) lots.amendedAway += lots.lastQty - o.qtyLots;
    lots.lastQty = o.qtyLots;
    if (o.status === 'cancelled' && lots.lastStatus !== 'cancelled') {
      lots.cancelled += o.qtyLots - o.filledLots;
      if (o.cancelReason === 'self_trade') run.selfTrades += 1;
    }
    lots.lastStatus = o.status;
    if (o.filledLots !== lots.filled) throw new Error(`${at}: order ${o.id} says ${o.filledLots} filled, its trades ${lots.filled}`);
  }
}

const STREAM_OPS = 1_500;
const streamRuns = new Map<string, StreamRun>();
/** One run per stream, shared by the tests that read it (a failing run throws in each of them). */
function streamRun(profile: StreamProfile, seed: number): StreamRun {
  const key = `${profile} ${seed}`;
  let run = streamRuns.get(key);
  if (!run) streamRuns.set(key, (run = runStream(profile, seed, STREAM_OPS)));
  return run;
}

/** Bigint-safe, order-stable text of outcomes, to compare a replay with the original run. */
const textOf = (value: unknown) => JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));

describe('seeded streams through the market with a simulated ledger; replay and the state hash', () => {
  for (const profile of ['mixed', 'resting', 'crossing'] as const) {
    for (const seed of [5, 77]) {
      it(`${profile} stream, seed ${seed}: holds cover payments, no wallet overdrawn, money conserved, book never crossed, lots conserved, fills within both prices, replay hashes the same`, () => {
        const run = streamRun(profile, seed);
        const { venue } = run;
        // The stream must have exercised what it claims to check.
        expect(run.amends).toBeGreaterThan(10);
        if (profile !== 'resting') {
          expect(run.trades).toBeGreaterThan(100);
          expect(run.selfTrades).toBeGreaterThan(0);
        }

        for (const [id, lots] of run.lots) {
          const resting = venue.market.book.get(id)?.remainingLots ?? 0;
          expect(lots.filled + resting + lots.cancelled + lots.amendedAway, `lots of ${id}`).toBe(lots.original);
        }

        // The journal keeps accepted commands only; replaying them rebuilds the same state.
        const live = venue.market.stateHash();
        expect(replayMarket(ACME, venue.accepted).stateHash()).toBe(live);
        // Replaying everything, refusals included (they change nothing), gives the same trades
        // and ledger movements command by command, and the same state.
        const twin = new Market(ACME);
        const differs = venue.all.findIndex((command, i) => textOf(twin.apply(command)) !== textOf(venue.outcomes[i]));
        expect(differs, 'first command whose replay differs').toBe(-1);
        expect(twin.stateHash()).toBe(live);
      });
    }
  }

  it('the state hash tells different books apart', () => {
    const a = new Market(ACME);
    const b = new Market(ACME);
    a.apply(placeOf({ id: 'x', userId: 'U', side: 'buy', priceTicks: 100, qtyLots: 1 }));
    a.apply(placeOf({ id: 'y', userId: 'V', side: 'buy', priceTicks: 100, qtyLots: 1 }));
    b.apply(placeOf({ id: 'y', userId: 'V', side: 'buy', priceTicks: 100, qtyLots: 1 }));
    b.apply(placeOf({ id: 'x', userId: 'U', side: 'buy', priceTicks: 100, qtyLots: 1 }));
    // Same orders, other queue order: a different future, a different hash.
    expect(a.stateHash()).not.toBe(b.stateHash());
    expect(replayMarket(ACME, [placeOf({ id: 'x', userId: 'U', side: 'buy', priceTicks: 100, qtyLots: 1 }), placeOf({ id: 'y', userId: 'V', side: 'buy', priceTicks: 100, qtyLots: 1 })]).stateHash()).toBe(a.stateHash());
  });

  // Known gap (reported, model.ts not ours to change): stateHash leaves out a resting order's
  // post-only flag, which decides whether a later amend to a crossing price is refused or trades.
  it('the state hash covers a resting order\'s post-only flag, which decides its future', () => {
    const ask = placeOf({ id: 'ask', userId: 'S', side: 'sell', priceTicks: 5010, qtyLots: 1 });
    const plain = replayMarket(ACME, [ask, placeOf({ id: 'b', userId: 'B', side: 'buy', priceTicks: 5000, qtyLots: 1 })]);
    const postOnly = replayMarket(ACME, [ask, placeOf({ id: 'b', userId: 'B', side: 'buy', priceTicks: 5000, qtyLots: 1, postOnly: true })]);
    const moveUp = { type: 'amend', atMs: 2, orderId: 'b', userId: 'B', priceTicks: 5010, extraHold: { ref: 'xo:b:amend:1', amountMinor: 11n } } as const;
    // Different futures...
    expect(plain.apply(moveUp).trades).toHaveLength(1);
    expect(postOnly.apply(moveUp).rejection?.code).toBe('POST_ONLY_WOULD_CROSS');
    // ...so the states before the amend must hash apart.
    const before = (o: { postOnly: boolean }) => replayMarket(ACME, [ask, placeOf({ id: 'b', userId: 'B', side: 'buy', priceTicks: 5000, qtyLots: 1, ...o })]).stateHash();
    expect(before({ postOnly: true })).not.toBe(before({ postOnly: false }));
  });

  it('the depth changes of every command, applied to a copy, rebuild the book (the depth feed)', () => {
    const run = streamRun('mixed', 5);
    const mirror = new Map<string, number>();
    for (const out of run.venue.outcomes) {
      for (const [side, price, lots] of out.depth) {
        if (lots === 0) mirror.delete(`${side} ${price}`);
        else mirror.set(`${side} ${price}`, lots);
      }
    }
    const { bids, asks } = fullDepth(run.venue.market);
    const actual = new Map([...bids.map(([p, l]) => [`buy ${p}`, l] as const), ...asks.map(([p, l]) => [`sell ${p}`, l] as const)]);
    expect(mirror).toEqual(actual);
  });
});
