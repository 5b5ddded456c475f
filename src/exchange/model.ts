// The exchange's pure core above the order book: instrument rules, order validation, the
// money an order reserves and each fill moves, and the market — one instrument's book plus the
// funds of its live orders — driven by journaled commands. Applying the same commands to a new
// market gives the same book, the same fills and the same ledger movements (replay), which the
// state hash proves. No I/O, no clock: times and ids arrive inside the commands.
import { createHash } from 'node:crypto';
import { MAX_AMOUNT_MINOR, formatAmount, parseAmount } from '../platform/money.js';
import { OrderBook, type Fill, type Side, type TimeInForce } from './book.js';

export type { Side, TimeInForce } from './book.js';

/** The most lots one order may carry and the highest price in ticks (both far inside 2^53). */
export const MAX_ORDER_LOTS = 1_000_000_000;
export const MAX_PRICE_TICKS = 1_000_000_000_000;
/** Market orders trade no further than this from the touch (basis points): see docs/exchange.md. */
export const DEFAULT_PROTECTION_BPS = 500;

export interface Instrument {
  /** BASE-QUOTE, e.g. ACME-USD. */
  symbol: string;
  base: string;
  baseScale: number;
  quote: string;
  quoteScale: number;
  /** Price step, in quote minor units per one whole unit of base. */
  tickMinor: bigint;
  /** Quantity step, in base minor units. */
  lotMinor: bigint;
  minLots: number;
  maxLots: number;
  makerFeeBps: number;
  takerFeeBps: number;
  protectionBps: number;
  status: 'trading' | 'halted';
}

/** Quote minor units one lot costs at one tick: tick × lot, which listing requires to be whole. */
export function unitNotionalMinor(i: Pick<Instrument, 'tickMinor' | 'lotMinor' | 'baseScale'>): bigint {
  return (i.tickMinor * i.lotMinor) / 10n ** BigInt(i.baseScale);
}

export type ListingProblem = { field: string; message: string };

/** Checks an instrument's numbers before it is listed. */
export function checkListing(i: Instrument): ListingProblem | null {
  if (i.base === i.quote) return { field: 'base', message: 'base and quote must differ' };
  if (i.tickMinor <= 0n) return { field: 'tickSize', message: 'must be positive' };
  if (i.lotMinor <= 0n) return { field: 'lotSize', message: 'must be positive' };
  if ((i.tickMinor * i.lotMinor) % 10n ** BigInt(i.baseScale) !== 0n) {
    return { field: 'lotSize', message: `tick × lot must be a whole number of ${i.quote} minor units, so every fill is exact; raise the tick or the lot` };
  }
  if (i.minLots < 1 || i.minLots > i.maxLots) return { field: 'minQuantity', message: 'must be at least one lot and not above the maximum' };
  if (i.maxLots > MAX_ORDER_LOTS) return { field: 'maxQuantity', message: `must be at most ${MAX_ORDER_LOTS} lots` };
  if (i.makerFeeBps < 0 || i.takerFeeBps < 0 || i.makerFeeBps > 1000 || i.takerFeeBps > 1000) return { field: 'takerFeeBps', message: 'fees are 0 to 1000 basis points' };
  if (i.makerFeeBps > i.takerFeeBps) return { field: 'makerFeeBps', message: 'the maker fee may not exceed the taker fee (a buy reserves the taker fee)' };
  // The largest order at the highest price must fit the ledger's counters.
  if (BigInt(i.maxLots) * BigInt(MAX_PRICE_TICKS) * unitNotionalMinor(i) * 2n > MAX_AMOUNT_MINOR) {
    return { field: 'maxQuantity', message: 'the largest order at the highest price would not fit the ledger; lower the maximum quantity or the tick' };
  }
  return null;
}

// --- orders ---------------------------------------------------------------------------------

export type OrderType = 'limit' | 'market';

/** An order as the caller sends it, after parsing: decimal strings still, checked here. */
export interface OrderRequest {
  side: Side;
  type: OrderType;
  /** Limit price in quote per one whole unit of base; absent for market orders. */
  price?: string;
  /** Quantity in base. */
  quantity: string;
  timeInForce: TimeInForce;
  postOnly: boolean;
}

export type OrderRejectionCode =
  | 'INSTRUMENT_HALTED'
  | 'PRICE_REQUIRED'
  | 'PRICE_NOT_ALLOWED'
  | 'PRICE_INVALID'
  | 'PRICE_NOT_ON_TICK'
  | 'QUANTITY_INVALID'
  | 'QUANTITY_NOT_ON_LOT'
  | 'ORDER_TOO_SMALL'
  | 'ORDER_TOO_LARGE'
  | 'POST_ONLY_NOT_LIMIT'
  | 'POST_ONLY_NOT_GTC'
  | 'MARKET_NOT_GTC'
  | 'NO_LIQUIDITY'
  | 'POST_ONLY_WOULD_CROSS'
  | 'FOK_NOT_FILLABLE'
  | 'ORDER_NOT_OPEN'
  | 'AMEND_NOTHING'
  | 'AMEND_NOT_SMALLER'
  | 'INSUFFICIENT_FUNDS';

export interface OrderRejection {
  code: OrderRejectionCode;
  detail: string;
  field?: string;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; rejection: OrderRejection };

const reject = (code: OrderRejectionCode, detail: string, field?: string): { ok: false; rejection: OrderRejection } => ({ ok: false, rejection: field ? { code, detail, field } : { code, detail } });

/** A price string → whole ticks. */
export function priceTicksOf(i: Instrument, text: string, field = 'price'): Checked<number> {
  const parsed = parseAmount(text, i.quoteScale);
  if (!parsed.ok) return reject('PRICE_INVALID', `${field} ${parsed.reason}`, field);
  if (parsed.minor % i.tickMinor !== 0n) return reject('PRICE_NOT_ON_TICK', `${field} must be a multiple of the tick size ${formatAmount(i.tickMinor, i.quoteScale)}`, field);
  const ticks = parsed.minor / i.tickMinor;
  if (ticks > BigInt(MAX_PRICE_TICKS)) return reject('PRICE_INVALID', `${field} is above the highest price this instrument takes`, field);
  return { ok: true, value: Number(ticks) };
}

/** A quantity string → whole lots, within the instrument's minimum and maximum. */
export function quantityLotsOf(i: Instrument, text: string, field = 'quantity'): Checked<number> {
  const parsed = parseAmount(text, i.baseScale);
  if (!parsed.ok) return reject('QUANTITY_INVALID', `${field} ${parsed.reason}`, field);
  if (parsed.minor % i.lotMinor !== 0n) return reject('QUANTITY_NOT_ON_LOT', `${field} must be a multiple of the lot size ${formatAmount(i.lotMinor, i.baseScale)}`, field);
  const lots = parsed.minor / i.lotMinor;
  if (lots < BigInt(i.minLots)) return reject('ORDER_TOO_SMALL', `${field} must be at least ${formatAmount(BigInt(i.minLots) * i.lotMinor, i.baseScale)}`, field);
  if (lots > BigInt(i.maxLots)) return reject('ORDER_TOO_LARGE', `${field} must be at most ${formatAmount(BigInt(i.maxLots) * i.lotMinor, i.baseScale)}`, field);
  return { ok: true, value: Number(lots) };
}

export interface CheckedOrder {
  side: Side;
  type: OrderType;
  /** Limit price; null for market orders until the engine sets their protection price. */
  priceTicks: number | null;
  qtyLots: number;
  tif: TimeInForce;
  postOnly: boolean;
}

/** The rules an order meets before it may reserve money: the instrument's, then its own. */
export function checkOrder(i: Instrument, o: OrderRequest): Checked<CheckedOrder> {
  if (i.status === 'halted') return reject('INSTRUMENT_HALTED', `trading in ${i.symbol} is halted`);
  if (o.type === 'market') {
    if (o.price !== undefined) return reject('PRICE_NOT_ALLOWED', 'a market order takes no price', 'price');
    if (o.postOnly) return reject('POST_ONLY_NOT_LIMIT', 'post-only applies to limit orders', 'postOnly');
    if (o.timeInForce === 'gtc') return reject('MARKET_NOT_GTC', 'a market order is IOC or FOK: it never rests on the book', 'timeInForce');
  } else if (o.price === undefined) return reject('PRICE_REQUIRED', 'a limit order needs a price', 'price');
  if (o.postOnly && o.timeInForce !== 'gtc') return reject('POST_ONLY_NOT_GTC', 'a post-only order rests on the book, so it is good till cancelled', 'timeInForce');
  let priceTicks: number | null = null;
  if (o.price !== undefined) {
    const p = priceTicksOf(i, o.price);
    if (!p.ok) return p;
    priceTicks = p.value;
  }
  const q = quantityLotsOf(i, o.quantity);
  if (!q.ok) return q;
  return { ok: true, value: { side: o.side, type: o.type, priceTicks, qtyLots: q.value, tif: o.timeInForce, postOnly: o.postOnly } };
}

/**
 * A market order's protection price: the touch moved by the instrument's protection band
 * (a buy pays at most best ask + band, a sell takes at least best bid − band). It reserves
 * funds at that price and never trades beyond it. Null when the other side is empty.
 */
export function protectionPriceTicks(i: Instrument, side: Side, book: OrderBook): number | null {
  if (side === 'buy') {
    const ask = book.bestAsk();
    return ask === null ? null : Math.min(MAX_PRICE_TICKS, Math.floor((ask * (10_000 + i.protectionBps)) / 10_000));
  }
  const bid = book.bestBid();
  return bid === null ? null : Math.max(1, Math.ceil((bid * (10_000 - i.protectionBps)) / 10_000));
}

export function notionalMinor(i: Instrument, priceTicks: number, qtyLots: number): bigint {
  return BigInt(priceTicks) * BigInt(qtyLots) * unitNotionalMinor(i);
}

/** A fee on a fill's notional, rounded down (fees are per fill; the customer keeps the fraction). */
export function feeMinor(notional: bigint, bps: number): bigint {
  return (notional * BigInt(bps)) / 10_000n;
}

/**
 * What an order reserves: a buy the most it can spend (its quantity at its limit, plus the
 * taker fee on that); a sell its quantity in base.
 */
export function reserveOf(i: Instrument, side: Side, priceTicks: number, qtyLots: number): { currency: string; amountMinor: bigint } {
  if (side === 'sell') return { currency: i.base, amountMinor: BigInt(qtyLots) * i.lotMinor };
  const notional = notionalMinor(i, priceTicks, qtyLots);
  // The hold covers the taker fee rounded UP, so any mix of per-fill fees (rounded down) fits.
  return { currency: i.quote, amountMinor: notional + (notional * BigInt(i.takerFeeBps) + 9_999n) / 10_000n };
}

// --- the market -----------------------------------------------------------------------------

export type OrderStatus = 'open' | 'filled' | 'cancelled';
export type CancelReason = 'user' | 'cancel_all' | 'ioc' | 'self_trade' | 'amended';

/** An order the market knows, with the hold that backs what is left of it. */
export interface MarketOrder {
  id: string;
  userId: string;
  clientOrderId: string | null;
  side: Side;
  type: OrderType;
  tif: TimeInForce;
  postOnly: boolean;
  priceTicks: number;
  qtyLots: number;
  filledLots: number;
  /** Quote spent (buy) or received (sell) so far, before fees. */
  notionalMinor: bigint;
  feeMinor: bigint;
  status: OrderStatus;
  cancelReason: CancelReason | null;
  /** The ledger hold backing the rest of the order, and what it holds. */
  holdRef: string;
  heldMinor: bigint;
  /** Bumped each time the hold is replaced (after a fill, an amend). */
  holdVersion: number;
  createdAtMs: number;
  updatedAtMs: number;
}

/** A new order as journaled: checked, priced (market orders at their protection price) and funded. */
export interface PlaceCommand {
  type: 'place';
  atMs: number;
  order: {
    id: string;
    userId: string;
    clientOrderId: string | null;
    side: Side;
    type: OrderType;
    tif: TimeInForce;
    postOnly: boolean;
    priceTicks: number;
    qtyLots: number;
    holdRef: string;
    heldMinor: bigint;
  };
}

export type MarketCommand =
  | PlaceCommand
  | { type: 'cancel'; atMs: number; orderId: string; userId: string }
  | { type: 'cancel_all'; atMs: number; userId: string }
  /**
   * qtyLots: the new total quantity (smaller keeps priority); priceTicks: a new price (loses it).
   * extraHold: what a buy moved to a higher price reserved on top of its hold (placed before).
   */
  | { type: 'amend'; atMs: number; orderId: string; userId: string; qtyLots?: number; priceTicks?: number; extraHold?: { ref: string; amountMinor: bigint } }
  | { type: 'halt'; atMs: number }
  | { type: 'resume'; atMs: number };

export interface Trade {
  /** `SYMBOL:n`, n counting the instrument's trades from 1. */
  id: string;
  seq: number;
  priceTicks: number;
  qtyLots: number;
  notionalMinor: bigint;
  takerSide: Side;
  makerOrderId: string;
  makerUserId: string;
  makerFeeMinor: bigint;
  takerOrderId: string;
  takerUserId: string;
  takerFeeMinor: bigint;
  atMs: number;
}

/** A ledger movement a command calls for, named by user: the engine finds the wallets. */
export type Movement =
  | { kind: 'hold'; ref: string; userId: string; currency: string; amountMinor: bigint; orderId: string }
  | { kind: 'release'; ref: string; holdRef: string }
  | { kind: 'capture'; ref: string; holdRef: string; toUserId: string; currency: string; amountMinor: bigint }
  | { kind: 'fee'; ref: string; fromUserId: string; currency: string; amountMinor: bigint };

export interface Outcome {
  rejection: OrderRejection | null;
  trades: Trade[];
  /** Every order whose state changed, as it is now. */
  orders: MarketOrder[];
  movements: Movement[];
  /** Price levels whose total changed: [side, priceTicks, totalLots now]. */
  depth: Array<[Side, number, number]>;
}

export class Market {
  readonly book = new OrderBook();
  /** Live (open) orders. Finished ones leave memory; the store keeps them. */
  readonly open = new Map<string, MarketOrder>();
  tradeSeq = 0;
  /** Commands applied (the journal's seq). */
  seq = 0;
  lastPriceTicks: number | null = null;

  constructor(public instrument: Instrument) {}

  apply(command: MarketCommand): Outcome {
    const out: Outcome = { rejection: null, trades: [], orders: [], movements: [], depth: [] };
    const touched = new Map<string, [Side, number]>();
    const touch = (side: Side, price: number) => touched.set(`${side}${price}`, [side, price]);
    switch (command.type) {
      case 'place':
        this.place(command, out, touch);
        break;
      case 'cancel': {
        const order = this.open.get(command.orderId);
        if (!order || order.userId !== command.userId) out.rejection = { code: 'ORDER_NOT_OPEN', detail: 'the order is not open (filled, cancelled or not yours)' };
        else this.cancel(order, 'user', command.atMs, out, touch);
        break;
      }
      case 'cancel_all':
        for (const resting of this.book.ordersOf(command.userId)) this.cancel(this.open.get(resting.id)!, 'cancel_all', command.atMs, out, touch);
        break;
      case 'amend':
        this.amend(command, out, touch);
        break;
      case 'halt':
      case 'resume':
        this.instrument = { ...this.instrument, status: command.type === 'halt' ? 'halted' : 'trading' };
        break;
    }
    if (out.rejection === null) this.seq += 1;
    for (const [side, price] of touched.values()) out.depth.push([side, price, this.book.lotsAt(side, price)]);
    return out;
  }

  private place(command: PlaceCommand, out: Outcome, touch: (side: Side, price: number) => void): void {
    const o = command.order;
    const order: MarketOrder = {
      ...o,
      filledLots: 0,
      notionalMinor: 0n,
      feeMinor: 0n,
      status: 'open',
      cancelReason: null,
      holdVersion: 0,
      createdAtMs: command.atMs,
      updatedAtMs: command.atMs,
    };
    if (this.instrument.status === 'halted') return this.refuse(order, out, { code: 'INSTRUMENT_HALTED', detail: `trading in ${this.instrument.symbol} is halted` });
    const result = this.book.place({ id: o.id, userId: o.userId, side: o.side, priceTicks: o.priceTicks, qtyLots: o.qtyLots, tif: o.tif, postOnly: o.postOnly });
    if (result.rejection === 'POST_ONLY_WOULD_CROSS') return this.refuse(order, out, { code: 'POST_ONLY_WOULD_CROSS', detail: 'a post-only order at that price would take liquidity', field: 'price' });
    if (result.rejection === 'FOK_NOT_FILLABLE') return this.refuse(order, out, { code: 'FOK_NOT_FILLABLE', detail: 'the book cannot fill the whole quantity at once within the price' });
    if (result.rejection === 'ORDER_ID_EXISTS') return this.refuse(order, out, { code: 'ORDER_NOT_OPEN', detail: 'an order with that id exists' });
    for (const c of result.selfTradeCancels) this.selfTradeCancel(c.orderId, command.atMs, out, touch);
    this.open.set(order.id, order);
    const lastIndex = result.fills.length - 1;
    result.fills.forEach((fill, index) => {
      touch(opposite(o.side), fill.priceTicks);
      // The taker's hold is replaced after each fill except its last when nothing of it rests.
      const takerContinues = index < lastIndex || result.restingLots > 0;
      this.settle(fill, order, takerContinues, command.atMs, out);
    });
    if (result.restingLots > 0) touch(o.side, o.priceTicks);
    else {
      order.status = result.filledLots === o.qtyLots ? 'filled' : 'cancelled';
      if (order.status === 'cancelled') order.cancelReason = 'ioc';
      // Fills captured the hold already (a capture releases what it does not post).
      if (result.fills.length === 0) out.movements.push({ kind: 'release', ref: `${order.holdRef}/release`, holdRef: order.holdRef });
      this.open.delete(order.id);
    }
    order.updatedAtMs = command.atMs;
    out.orders.push({ ...order });
  }

  /** A refused order: its hold goes back and nothing else happens. */
  private refuse(order: MarketOrder, out: Outcome, rejection: OrderRejection): void {
    out.rejection = rejection;
    out.movements.push({ kind: 'release', ref: `${order.holdRef}/release`, holdRef: order.holdRef });
  }

  /** One fill: both sides settle against their holds; fees go to the house. */
  private settle(fill: Fill, taker: MarketOrder, takerContinues: boolean, atMs: number, out: Outcome): void {
    const i = this.instrument;
    const maker = this.open.get(fill.makerOrderId)!;
    const notional = notionalMinor(i, fill.priceTicks, fill.qtyLots);
    const baseMinor = BigInt(fill.qtyLots) * i.lotMinor;
    const makerFee = feeMinor(notional, i.makerFeeBps);
    const takerFee = feeMinor(notional, i.takerFeeBps);
    this.tradeSeq += 1;
    const trade: Trade = {
      id: `${i.symbol}:${this.tradeSeq}`,
      seq: this.tradeSeq,
      priceTicks: fill.priceTicks,
      qtyLots: fill.qtyLots,
      notionalMinor: notional,
      takerSide: taker.side,
      makerOrderId: maker.id,
      makerUserId: maker.userId,
      makerFeeMinor: makerFee,
      takerOrderId: taker.id,
      takerUserId: taker.userId,
      takerFeeMinor: takerFee,
      atMs,
    };
    out.trades.push(trade);
    this.lastPriceTicks = fill.priceTicks;
    const [buyer, buyerFee, seller, sellerFee] = taker.side === 'buy' ? [taker, takerFee, maker, makerFee] : [maker, makerFee, taker, takerFee];
    const buyerContinues = buyer === taker ? takerContinues : fill.makerRemainingLots > 0;
    const sellerContinues = seller === taker ? takerContinues : fill.makerRemainingLots > 0;
    // Quote: the buyer's hold pays the seller; the buyer's fee goes to the house; whatever is
    // left of the hold is held again if the order goes on.
    out.movements.push({ kind: 'capture', ref: `${trade.id}/quote`, holdRef: buyer.holdRef, toUserId: seller.userId, currency: i.quote, amountMinor: notional });
    if (buyerFee > 0n) out.movements.push({ kind: 'fee', ref: `${trade.id}/buyer-fee`, fromUserId: buyer.userId, currency: i.quote, amountMinor: buyerFee });
    this.consume(buyer, notional + buyerFee, notional, buyerFee, fill.qtyLots, buyerContinues, i.quote, atMs, out);
    // Base: the seller's hold pays the buyer; the seller's fee comes out of the proceeds.
    out.movements.push({ kind: 'capture', ref: `${trade.id}/base`, holdRef: seller.holdRef, toUserId: buyer.userId, currency: i.base, amountMinor: baseMinor });
    if (sellerFee > 0n) out.movements.push({ kind: 'fee', ref: `${trade.id}/seller-fee`, fromUserId: seller.userId, currency: i.quote, amountMinor: sellerFee });
    this.consume(seller, baseMinor, notional, sellerFee, fill.qtyLots, sellerContinues, i.base, atMs, out);
    if (maker.status !== 'open') {
      this.open.delete(maker.id);
    }
    if (maker !== taker) out.orders.push({ ...maker });
  }

  private consume(order: MarketOrder, usedMinor: bigint, notional: bigint, fee: bigint, lots: number, continues: boolean, currency: string, atMs: number, out: Outcome): void {
    order.filledLots += lots;
    order.notionalMinor += notional;
    order.feeMinor += fee;
    order.updatedAtMs = atMs;
    order.heldMinor -= usedMinor;
    if (order.filledLots === order.qtyLots) order.status = 'filled';
    if (continues && order.heldMinor > 0n) {
      order.holdVersion += 1;
      order.holdRef = `xo:${order.id}:h${order.holdVersion}`;
      out.movements.push({ kind: 'hold', ref: order.holdRef, userId: order.userId, currency, amountMinor: order.heldMinor, orderId: order.id });
    } else if (!continues) order.heldMinor = 0n;
  }

  private cancel(order: MarketOrder, reason: CancelReason, atMs: number, out: Outcome, touch: (side: Side, price: number) => void): void {
    if (this.book.cancel(order.id)) touch(order.side, order.priceTicks);
    order.status = 'cancelled';
    order.cancelReason = reason;
    order.updatedAtMs = atMs;
    if (order.heldMinor > 0n) out.movements.push({ kind: 'release', ref: `${order.holdRef}/release`, holdRef: order.holdRef });
    order.heldMinor = 0n;
    this.open.delete(order.id);
    out.orders.push({ ...order });
  }

  /** The book took the resting order off already while matching, so its level is touched here. */
  private selfTradeCancel(orderId: string, atMs: number, out: Outcome, touch: (side: Side, price: number) => void): void {
    const mine = this.open.get(orderId)!;
    touch(mine.side, mine.priceTicks);
    this.cancel(mine, 'self_trade', atMs, out, touch);
  }

  private amend(c: Extract<MarketCommand, { type: 'amend' }>, out: Outcome, touch: (side: Side, price: number) => void): void {
    const order = this.open.get(c.orderId);
    const refuse = (rejection: OrderRejection) => {
      out.rejection = rejection;
      if (c.extraHold) out.movements.push({ kind: 'release', ref: `${c.extraHold.ref}/release`, holdRef: c.extraHold.ref });
    };
    const problem = checkAmend(this.instrument, order, c);
    if (problem) return refuse(problem);
    if (!order) return;
    const newQty = c.qtyLots ?? order.qtyLots;
    const newPrice = c.priceTicks ?? order.priceTicks;
    const newRemaining = newQty - order.filledLots;
    if (newPrice === order.priceTicks) {
      // Smaller, same price: the order keeps its place; the spare reserve goes back.
      if (c.extraHold) out.movements.push({ kind: 'release', ref: `${c.extraHold.ref}/release`, holdRef: c.extraHold.ref });
      this.book.reduce(order.id, newRemaining);
      touch(order.side, order.priceTicks);
      order.qtyLots = newQty;
      this.rehold(order, reserveOf(this.instrument, order.side, order.priceTicks, newRemaining), out);
      order.updatedAtMs = c.atMs;
      out.orders.push({ ...order });
      return;
    }
    // A new price is a new place in the queue: off the book, then in again as if new (it may trade).
    const crosses = order.side === 'buy' ? this.book.bestAsk() !== null && newPrice >= this.book.bestAsk()! : this.book.bestBid() !== null && newPrice <= this.book.bestBid()!;
    if (order.postOnly && crosses) return refuse({ code: 'POST_ONLY_WOULD_CROSS', detail: 'a post-only order at that price would take liquidity', field: 'price' });
    const need = reserveOf(this.instrument, order.side, newPrice, newRemaining);
    if (need.amountMinor > order.heldMinor + (c.extraHold?.amountMinor ?? 0n)) {
      return refuse({ code: 'INSUFFICIENT_FUNDS', detail: 'the new price needs more reserved than the order holds' });
    }
    this.book.cancel(order.id);
    touch(order.side, order.priceTicks);
    if (c.extraHold) {
      // The order's hold and the extra become one hold, in one batch: never unprotected.
      if (order.heldMinor > 0n) out.movements.push({ kind: 'release', ref: `${order.holdRef}/release`, holdRef: order.holdRef });
      out.movements.push({ kind: 'release', ref: `${c.extraHold.ref}/release`, holdRef: c.extraHold.ref });
      order.holdVersion += 1;
      order.holdRef = `xo:${order.id}:h${order.holdVersion}`;
      order.heldMinor += c.extraHold.amountMinor;
      out.movements.push({ kind: 'hold', ref: order.holdRef, userId: order.userId, currency: this.instrument.quote, amountMinor: order.heldMinor, orderId: order.id });
    }
    order.qtyLots = newQty;
    order.priceTicks = newPrice;
    order.updatedAtMs = c.atMs;
    const result = this.book.place({ id: order.id, userId: order.userId, side: order.side, priceTicks: newPrice, qtyLots: newRemaining, tif: 'gtc', postOnly: false });
    for (const sc of result.selfTradeCancels) this.selfTradeCancel(sc.orderId, c.atMs, out, touch);
    const lastIndex = result.fills.length - 1;
    result.fills.forEach((fill, index) => {
      touch(opposite(order.side), fill.priceTicks);
      this.settle(fill, order, index < lastIndex || result.restingLots > 0, c.atMs, out);
    });
    if (result.restingLots > 0) {
      touch(order.side, newPrice);
      // A lower reserve is enough now (a sell never needs more): hand back the spare.
      if (result.fills.length === 0) this.rehold(order, reserveOf(this.instrument, order.side, newPrice, result.restingLots), out);
    } else this.open.delete(order.id);
    out.orders.push({ ...order });
  }

  /** Replaces an order's hold by a smaller one when it holds more than it needs. */
  private rehold(order: MarketOrder, need: { currency: string; amountMinor: bigint }, out: Outcome): void {
    if (need.amountMinor >= order.heldMinor) return;
    out.movements.push({ kind: 'release', ref: `${order.holdRef}/release`, holdRef: order.holdRef });
    order.holdVersion += 1;
    order.holdRef = `xo:${order.id}:h${order.holdVersion}`;
    order.heldMinor = need.amountMinor;
    out.movements.push({ kind: 'hold', ref: order.holdRef, userId: order.userId, currency: need.currency, amountMinor: need.amountMinor, orderId: order.id });
  }

  /**
   * sha256 over everything that decides the future: the instrument's status, every resting
   * order in priority order with the hold behind it, and the trade counter. Two markets that
   * applied the same commands have the same hash.
   */
  stateHash(): string {
    const h = createHash('sha256');
    h.update(`${this.instrument.symbol}|${this.instrument.status}|${this.seq}|${this.tradeSeq}|${this.lastPriceTicks ?? ''}\n`);
    for (const r of this.book.restingOrders()) {
      const o = this.open.get(r.id)!;
      h.update(`${o.id}|${o.userId}|${o.side}|${o.postOnly ? 'P' : 'L'}|${o.priceTicks}|${r.remainingLots}|${o.qtyLots}|${o.filledLots}|${o.holdRef}|${o.heldMinor}|${o.notionalMinor}|${o.feeMinor}\n`);
    }
    return h.digest('hex');
  }
}

/**
 * The rules an amendment meets whatever the book holds: the order is open and the caller's, the
 * market trades, something changes, and the quantity only goes down (staying above what has
 * filled). Checked before any extra funds are reserved, so these refusals never touch the ledger.
 */
export function checkAmend(
  i: Pick<Instrument, 'symbol' | 'status'>,
  order: Pick<MarketOrder, 'userId' | 'qtyLots' | 'filledLots' | 'priceTicks'> | undefined,
  c: { userId: string; qtyLots?: number; priceTicks?: number },
): OrderRejection | null {
  if (!order || order.userId !== c.userId) return { code: 'ORDER_NOT_OPEN', detail: 'the order is not open (filled, cancelled or not yours)' };
  if (i.status === 'halted') return { code: 'INSTRUMENT_HALTED', detail: `trading in ${i.symbol} is halted` };
  const newQty = c.qtyLots ?? order.qtyLots;
  const newPrice = c.priceTicks ?? order.priceTicks;
  if (newQty === order.qtyLots && newPrice === order.priceTicks) return { code: 'AMEND_NOTHING', detail: 'the amendment changes neither quantity nor price' };
  if (newQty > order.qtyLots) return { code: 'AMEND_NOT_SMALLER', detail: 'an amendment may lower the quantity, not raise it: place a new order for more', field: 'quantity' };
  if (newQty <= order.filledLots) return { code: 'AMEND_NOT_SMALLER', detail: 'the new quantity must stay above what has filled already; cancel the order instead', field: 'quantity' };
  return null;
}

export function opposite(side: Side): Side {
  return side === 'buy' ? 'sell' : 'buy';
}

/** A market rebuilt from its journaled commands. */
export function replayMarket(instrument: Instrument, commands: Iterable<MarketCommand>): Market {
  const market = new Market(instrument);
  for (const command of commands) market.apply(command);
  return market;
}
