// Exchange use cases: listing and halting instruments (admins), placing, amending and
// cancelling orders (traders), and the reads — an order, my orders, my fills, depth, trades and
// candles. Money and quantities cross the edge as decimal strings; inside they are ticks, lots
// and bigint minor units (model.ts).
import { AppError, fieldError } from '../platform/errors.js';
import { requireAdmin, requirePrincipal, isAdmin, type Principal } from '../platform/auth/principal.js';
import { formatAmount, parseAmount } from '../platform/money.js';
import type { Clock } from '../platform/clock.js';
import type { LedgerService } from '../ledger/service.js';
import { DEFAULT_PROTECTION_BPS, checkListing, priceTicksOf, quantityLotsOf, type Instrument, type MarketOrder, type OrderRequest, type Side, type TimeInForce, type Trade } from './model.js';
import { OrderRejected, type ExchangeEngine } from './engine.js';
import type { Candle, ExchangeStore, StoredOrder, TradeKey } from './store.js';
import { decodeCursor, pageOf, type Page } from '../platform/pagination.js';

export interface ListingRequest {
  symbol?: string;
  base: string;
  quote: string;
  tickSize: string;
  lotSize: string;
  minQuantity?: string;
  maxQuantity: string;
  makerFeeBps?: number;
  takerFeeBps?: number;
  protectionBps?: number;
}

export interface PlaceRequest {
  symbol: string;
  side: Side;
  type: 'limit' | 'market';
  price?: string;
  quantity: string;
  timeInForce?: TimeInForce;
  postOnly?: boolean;
  clientOrderId?: string;
}

export class ExchangeService {
  constructor(
    private readonly engine: ExchangeEngine,
    private readonly store: ExchangeStore,
    private readonly ledger: LedgerService,
    private readonly clock: Clock,
  ) {}

  /** Every listed instrument, with its currencies' scales from the ledger. */
  async loadInstruments(): Promise<Instrument[]> {
    const rows = await this.store.listInstruments();
    return rows.map((r) => ({ ...r, baseScale: this.scaleOf(r.base), quoteScale: this.scaleOf(r.quote) }));
  }

  private scaleOf(code: string): number {
    const currency = this.ledger.currency(code);
    if (!currency) throw new Error(`instrument currency ${code} is unknown to the ledger`);
    return currency.scale;
  }

  async list(caller: Principal | null, body: ListingRequest): Promise<Instrument> {
    const admin = requireAdmin(caller);
    const base = await this.ledger.requireCurrency(body.base, 'base');
    const quote = await this.ledger.requireCurrency(body.quote, 'quote');
    const symbol = body.symbol ?? `${base.code}-${quote.code}`;
    const amount = (text: string, scale: number, field: string) => {
      const parsed = parseAmount(text, scale);
      if (!parsed.ok) throw fieldError('VALIDATION', 'body', field, parsed.reason);
      return parsed.minor;
    };
    const tickMinor = amount(body.tickSize, quote.scale, 'tickSize');
    const lotMinor = amount(body.lotSize, base.scale, 'lotSize');
    const lotsOf = (text: string, field: string) => {
      const minor = amount(text, base.scale, field);
      if (minor % lotMinor !== 0n) throw fieldError('VALIDATION', 'body', field, `must be a multiple of the lot size ${body.lotSize}`);
      const lots = minor / lotMinor;
      if (lots > 1_000_000_000_000n) throw fieldError('VALIDATION', 'body', field, 'is too large');
      return Number(lots);
    };
    const instrument: Instrument = {
      symbol,
      base: base.code,
      baseScale: base.scale,
      quote: quote.code,
      quoteScale: quote.scale,
      tickMinor,
      lotMinor,
      minLots: body.minQuantity === undefined ? 1 : lotsOf(body.minQuantity, 'minQuantity'),
      maxLots: lotsOf(body.maxQuantity, 'maxQuantity'),
      makerFeeBps: body.makerFeeBps ?? 10,
      takerFeeBps: body.takerFeeBps ?? 20,
      protectionBps: body.protectionBps ?? DEFAULT_PROTECTION_BPS,
      status: 'trading',
    };
    const problem = checkListing(instrument);
    if (problem) throw fieldError('INSTRUMENT_INVALID', 'body', problem.field, problem.message);
    if (!(await this.store.insertInstrument(instrument, admin.userId, this.clock.nowMs()))) throw new AppError('INSTRUMENT_EXISTS', `${symbol} is listed already`);
    await this.engine.add(instrument);
    return instrument;
  }

  instruments(): Instrument[] {
    return this.engine.symbols().map((s) => this.engine.market(s)!.instrument);
  }

  instrument(symbol: string): Instrument {
    const market = this.engine.market(symbol);
    if (!market) throw new AppError('NOT_FOUND', `no instrument ${symbol}`);
    return market.instrument;
  }

  async setHalted(caller: Principal | null, symbol: string, halted: boolean): Promise<Instrument> {
    requireAdmin(caller);
    return this.engine.setHalted(symbol, halted);
  }

  /** Replays the instrument's journal beside the live book and compares their state hashes (admin). */
  async verify(caller: Principal | null, symbol: string) {
    requireAdmin(caller);
    this.instrument(symbol);
    return this.engine.verify(symbol);
  }

  // --- orders ---

  async place(caller: Principal | null, body: PlaceRequest): Promise<{ order: StoredOrderView; trades: Trade[]; repeated: boolean; instrument: Instrument }> {
    const me = requirePrincipal(caller);
    const instrument = this.instrument(body.symbol);
    const request: OrderRequest = {
      side: body.side,
      type: body.type,
      quantity: body.quantity,
      timeInForce: body.timeInForce ?? (body.type === 'market' ? 'ioc' : 'gtc'),
      postOnly: body.postOnly ?? false,
      ...(body.price !== undefined && { price: body.price }),
    };
    const result = await this.engine.place(me.userId, body.symbol, request, body.clientOrderId ?? null);
    return { order: result.stored ?? { ...result.order, symbol: body.symbol }, trades: result.trades, repeated: result.repeated, instrument };
  }

  // Order ids are UUIDs, stored lower case: either case names the same order.

  /** An order of mine (admins see any): the live state when it is on a book, else the stored one. */
  async order(caller: Principal | null, orderId: string): Promise<{ order: StoredOrderView; instrument: Instrument }> {
    orderId = orderId.toLowerCase();
    const me = requirePrincipal(caller);
    const found = await this.findOrder(orderId);
    if (!found || (found.order.userId !== me.userId && !isAdmin(me))) throw new AppError('NOT_FOUND', 'no such order of yours');
    return found;
  }

  private async findOrder(orderId: string): Promise<{ order: StoredOrderView; instrument: Instrument } | undefined> {
    for (const symbol of this.engine.symbols()) {
      const market = this.engine.market(symbol)!;
      const open = market.open.get(orderId);
      if (open) return { order: { ...open, symbol }, instrument: market.instrument };
    }
    const stored = await this.store.findOrder(this.store.db, orderId);
    return stored ? { order: stored, instrument: this.instrument(stored.symbol) } : undefined;
  }

  async myOrders(caller: Principal | null, q: { status?: 'open' | 'filled' | 'cancelled'; symbol?: string; before?: string; limit: number }): Promise<StoredOrder[]> {
    const me = requirePrincipal(caller);
    if (q.symbol) this.instrument(q.symbol);
    return this.store.listOrders(this.store.db, { userId: me.userId, limit: q.limit, ...(q.status && { status: q.status }), ...(q.symbol && { symbol: q.symbol }), ...(q.before && { beforeId: q.before }) });
  }

  async cancel(caller: Principal | null, orderId: string): Promise<{ order: StoredOrderView; instrument: Instrument }> {
    orderId = orderId.toLowerCase();
    const me = requirePrincipal(caller);
    const found = await this.findOrder(orderId);
    if (!found || found.order.userId !== me.userId) throw new AppError('NOT_FOUND', 'no such order of yours');
    if (found.order.status !== 'open') throw new OrderRejected({ code: 'ORDER_NOT_OPEN', detail: `the order is ${found.order.status} already` });
    const order = await this.engine.cancel(me.userId, found.order.symbol, orderId);
    return { order: { ...order, symbol: found.order.symbol }, instrument: found.instrument };
  }

  async cancelAll(caller: Principal | null, symbol: string | null): Promise<Array<{ order: StoredOrderView; instrument: Instrument }>> {
    const me = requirePrincipal(caller);
    if (symbol !== null) this.instrument(symbol);
    const cancelled = await this.engine.cancelAll(me.userId, symbol);
    return cancelled.map(({ symbol: s, order }) => ({ order: { ...order, symbol: s }, instrument: this.instrument(s) }));
  }

  async amend(caller: Principal | null, orderId: string, body: { quantity?: string; price?: string }): Promise<{ order: StoredOrderView; trades: Trade[]; instrument: Instrument }> {
    orderId = orderId.toLowerCase();
    const me = requirePrincipal(caller);
    if (body.quantity === undefined && body.price === undefined) throw fieldError('VALIDATION', 'body', 'quantity', 'give a new quantity, a new price, or both');
    const found = await this.findOrder(orderId);
    if (!found || found.order.userId !== me.userId) throw new AppError('NOT_FOUND', 'no such order of yours');
    if (found.order.status !== 'open') throw new OrderRejected({ code: 'ORDER_NOT_OPEN', detail: `the order is ${found.order.status} already` });
    const instrument = found.instrument;
    const change: { qtyLots?: number; priceTicks?: number } = {};
    if (body.quantity !== undefined) {
      // The minimum applies to new orders; an amendment may leave less than it.
      const q = quantityLotsOf({ ...instrument, minLots: 1 }, body.quantity);
      if (!q.ok) throw new OrderRejected(q.rejection);
      change.qtyLots = q.value;
    }
    if (body.price !== undefined) {
      const p = priceTicksOf(instrument, body.price);
      if (!p.ok) throw new OrderRejected(p.rejection);
      change.priceTicks = p.value;
    }
    const result = await this.engine.amend(me.userId, found.order.symbol, orderId, change);
    return { order: { ...result.order, symbol: found.order.symbol }, trades: result.trades, instrument };
  }

  /** My fills, newest first, a page at a time (keyset cursor over time, symbol and trade seq). */
  async myTrades(caller: Principal | null, q: { symbol?: string; before?: number; cursor?: string; limit: number }): Promise<Page<{ symbol: string; trade: Trade }>> {
    const me = requirePrincipal(caller);
    if (q.symbol) this.instrument(q.symbol);
    const after = q.cursor === undefined ? undefined : tradeKeyOf(decodeCursor(q.cursor, (k) => tradeKeyOf(k) !== null));
    const rows = await this.store.listTradesOf(this.store.db, { userId: me.userId, limit: q.limit + 1, ...(q.symbol && { symbol: q.symbol }), ...(q.before !== undefined && { beforeAtMs: q.before }), ...(after && { after }) });
    return pageOf(rows, q.limit, (r) => `${r.trade.atMs}|${r.symbol}|${r.trade.seq}`);
  }

  // --- market data ---

  depth(symbol: string, levels: number): { instrument: Instrument; seq: number; bids: Array<[number, number, number]>; asks: Array<[number, number, number]> } {
    const market = this.engine.market(symbol);
    if (!market) throw new AppError('NOT_FOUND', `no instrument ${symbol}`);
    return { instrument: market.instrument, seq: market.seq, ...market.book.depth(levels) };
  }

  async trades(symbol: string, limit: number): Promise<{ instrument: Instrument; trades: Trade[] }> {
    const instrument = this.instrument(symbol);
    return { instrument, trades: await this.store.recentTrades(this.store.db, symbol, limit) };
  }

  async candles(symbol: string, fromMs: number, toMs: number): Promise<{ instrument: Instrument; candles: Candle[] }> {
    const instrument = this.instrument(symbol);
    return { instrument, candles: await this.store.listCandles(this.store.db, symbol, fromMs, toMs) };
  }
}

/** An order as the API shows it: from a book (with its hold) or from the store. */
export type StoredOrderView = StoredOrder | (MarketOrder & { symbol: string });

// --- JSON ---------------------------------------------------------------------------------------

export function priceText(i: Instrument, ticks: number): string {
  return formatAmount(BigInt(ticks) * i.tickMinor, i.quoteScale);
}

export function quantityText(i: Instrument, lots: number): string {
  return formatAmount(BigInt(lots) * i.lotMinor, i.baseScale);
}

export function instrumentJson(i: Instrument) {
  return {
    symbol: i.symbol,
    base: i.base,
    quote: i.quote,
    tickSize: formatAmount(i.tickMinor, i.quoteScale),
    lotSize: formatAmount(i.lotMinor, i.baseScale),
    minQuantity: quantityText(i, i.minLots),
    maxQuantity: quantityText(i, i.maxLots),
    makerFeeBps: i.makerFeeBps,
    takerFeeBps: i.takerFeeBps,
    protectionBps: i.protectionBps,
    status: i.status,
  };
}

export function orderJson(i: Instrument, o: StoredOrderView) {
  const filledBaseMinor = BigInt(o.filledLots) * i.lotMinor;
  return {
    id: o.id,
    clientOrderId: o.clientOrderId,
    symbol: i.symbol,
    side: o.side,
    type: o.type,
    timeInForce: o.tif,
    postOnly: o.postOnly,
    // A market order's price is its protection limit: the worst it could trade at.
    price: priceText(i, o.priceTicks),
    quantity: quantityText(i, o.qtyLots),
    filledQuantity: quantityText(i, o.filledLots),
    remainingQuantity: quantityText(i, o.status === 'open' ? o.qtyLots - o.filledLots : 0),
    averagePrice: filledBaseMinor === 0n ? null : formatAmount((o.notionalMinor * 10n ** BigInt(i.baseScale)) / filledBaseMinor, i.quoteScale),
    notional: formatAmount(o.notionalMinor, i.quoteScale),
    fees: formatAmount(o.feeMinor, i.quoteScale),
    feeCurrency: i.quote,
    status: o.status,
    cancelReason: o.cancelReason,
    createdAt: new Date(o.createdAtMs).toISOString(),
    updatedAt: new Date(o.updatedAtMs).toISOString(),
  };
}

/** A fill as one of its parties sees it. */
export function myTradeJson(i: Instrument, t: Trade, userId: string) {
  const maker = t.makerUserId === userId;
  const side: Side = maker ? (t.takerSide === 'buy' ? 'sell' : 'buy') : t.takerSide;
  return {
    id: t.id,
    symbol: i.symbol,
    orderId: maker ? t.makerOrderId : t.takerOrderId,
    side,
    liquidity: maker ? 'maker' : 'taker',
    price: priceText(i, t.priceTicks),
    quantity: quantityText(i, t.qtyLots),
    notional: formatAmount(t.notionalMinor, i.quoteScale),
    fee: formatAmount(maker ? t.makerFeeMinor : t.takerFeeMinor, i.quoteScale),
    feeCurrency: i.quote,
    at: new Date(t.atMs).toISOString(),
  };
}

/** A trade as the market sees it: no parties. */
export function publicTradeJson(i: Instrument, t: Trade) {
  return { id: t.id, seq: t.seq, price: priceText(i, t.priceTicks), quantity: quantityText(i, t.qtyLots), takerSide: t.takerSide, at: new Date(t.atMs).toISOString() };
}

export function levelsJson(i: Instrument, levels: Array<[number, number, number]>) {
  return levels.map(([p, q, n]) => [priceText(i, p), quantityText(i, q), n] as const);
}

export function candleJson(i: Instrument, c: Candle) {
  return {
    start: new Date(c.minuteMs).toISOString(),
    open: priceText(i, c.openTicks),
    high: priceText(i, c.highTicks),
    low: priceText(i, c.lowTicks),
    close: priceText(i, c.closeTicks),
    volume: quantityText(i, c.volumeLots),
    trades: c.trades,
  };
}

/** A fills cursor's key, `atMs|SYMBOL|seq`, or null when it is not one. */
function tradeKeyOf(key: string): TradeKey | null {
  const m = /^(\d{1,15})\|([A-Z0-9]{1,12}-[A-Z0-9]{1,12})\|(\d{1,15})$/.exec(key);
  return m ? { atMs: Number(m[1]), symbol: m[2]!, seq: Number(m[3]) } : null;
}
