// Exchange use cases: listing and halting instruments (admins), placing, amending and
// cancelling orders (traders), and the reads — an order, my orders, my fills, depth, trades and
// candles. Money and quantities cross the edge as decimal strings; inside they are ticks, lots
// and bigint minor units (model.ts).
//
// Every command for a book, and the reads that need the live book (depth, verify), go through
// the market router to the engine that owns the instrument (here in one process, over NATS
// scaled out: docs/cluster.md). Other reads come from this node's books when it holds them and
// otherwise from storage, which has every committed change: instruments (halts included), orders
// (each change is written by the commit that acknowledges it), trades and candles.
import { AppError, fieldError } from '../platform/errors.js';
import { requireAdmin, requirePrincipal, isAdmin, type Principal } from '../platform/auth/principal.js';
import { formatAmount, parseAmount } from '../platform/money.js';
import type { Clock } from '../platform/clock.js';
import type { LedgerService } from '../ledger/service.js';
import { DEFAULT_PROTECTION_BPS, checkListing, priceTicksOf, quantityLotsOf, type Instrument, type MarketOrder, type OrderRequest, type Side, type TimeInForce, type Trade } from './model.js';
import { OrderRejected, marketOf, type ExchangeEngine, type PlaceResult } from './engine.js';
import type { Candle, ExchangeStore, StoredOrder, TradeKey } from './store.js';
import { decodeCursor, pageOf, type Page } from '../platform/pagination.js';
import type { MarketRouter } from '../cluster/market-router.js';

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

/** L2 depth of a live book: [priceTicks, lots, orders] per level, best first. */
export interface Depth {
  instrument: Instrument;
  seq: number;
  bids: Array<[number, number, number]>;
  asks: Array<[number, number, number]>;
}

/**
 * The exchange's operations on the engine that owns the instrument (src/cluster/market-router.ts).
 * Arguments and answers cross NATS as the journal encodes them: every bigint in them is a
 * `…Minor` field (Instrument, MarketOrder, Trade), so they come back as bigints.
 */
export const EXCHANGE_ADD = 'exchange.add';
export const EXCHANGE_PLACE = 'exchange.place';
export const EXCHANGE_CANCEL = 'exchange.cancel';
export const EXCHANGE_CANCEL_ALL = 'exchange.cancelAll';
export const EXCHANGE_AMEND = 'exchange.amend';
export const EXCHANGE_SET_HALTED = 'exchange.setHalted';
export const EXCHANGE_VERIFY = 'exchange.verify';
export const EXCHANGE_DEPTH = 'exchange.depth';

/**
 * Registers what runs on the engine: the commands and live reads of a book, and adding a new
 * instrument's book (on any engine, which then owns it). In one process they simply run here.
 */
export function registerExchangeOperations(router: MarketRouter, engine: ExchangeEngine): void {
  router.register(EXCHANGE_ADD, async (_market, args) => {
    await engine.add((args as { instrument: Instrument }).instrument);
    return null;
  });
  router.register(EXCHANGE_PLACE, (_market, args) => {
    const a = args as { userId: string; symbol: string; request: OrderRequest; clientOrderId: string | null };
    return engine.place(a.userId, a.symbol, a.request, a.clientOrderId);
  });
  router.register(EXCHANGE_CANCEL, (_market, args) => {
    const a = args as { userId: string; symbol: string; orderId: string };
    return engine.cancel(a.userId, a.symbol, a.orderId);
  });
  router.register(EXCHANGE_CANCEL_ALL, (_market, args) => {
    const a = args as { userId: string; symbol: string | null };
    return engine.cancelAll(a.userId, a.symbol);
  });
  router.register(EXCHANGE_AMEND, (_market, args) => {
    const a = args as { userId: string; symbol: string; orderId: string; change: { qtyLots?: number; priceTicks?: number } };
    return engine.amend(a.userId, a.symbol, a.orderId, a.change);
  });
  router.register(EXCHANGE_SET_HALTED, (_market, args) => {
    const a = args as { symbol: string; halted: boolean };
    return engine.setHalted(a.symbol, a.halted);
  });
  router.register(EXCHANGE_VERIFY, (_market, args) => engine.verify((args as { symbol: string }).symbol));
  router.register(EXCHANGE_DEPTH, async (_market, args) => {
    const a = args as { symbol: string; levels: number };
    return engine.depth(a.symbol, a.levels) satisfies Depth;
  });
}

export class ExchangeService {
  /**
   * Scaled out: the terms of instruments whose book is elsewhere (ticks, lots, scales and fees
   * never change once listed), for checks and formatting. Never their status: that is read fresh.
   */
  private readonly definitions = new Map<string, Instrument>();

  constructor(
    private readonly engine: ExchangeEngine,
    private readonly router: MarketRouter,
    private readonly store: ExchangeStore,
    private readonly ledger: LedgerService,
    private readonly clock: Clock,
  ) {}

  /** Every listed instrument, with its currencies' scales from the ledger. */
  async loadInstruments(): Promise<Instrument[]> {
    const rows = await this.store.listInstruments();
    return rows.map((r) => ({ ...r, baseScale: this.scaleOf(r.base), quoteScale: this.scaleOf(r.quote) }));
  }

  /** One listed instrument as stored, with its currencies' scales (the market host's `take`, reads elsewhere). */
  async storedInstrument(symbol: string): Promise<Instrument | undefined> {
    const row = await this.store.findInstrument(symbol);
    return row ? this.withScales(row) : undefined;
  }

  private scaleOf(code: string): number {
    const currency = this.ledger.currency(code);
    if (!currency) throw new Error(`instrument currency ${code} is unknown to the ledger`);
    return currency.scale;
  }

  /** An asset listed on another node may be new to this node's ledger: it reloads its assets once. */
  private async withScales(row: Omit<Instrument, 'baseScale' | 'quoteScale'>): Promise<Instrument> {
    const scale = async (code: string) => (this.ledger.currency(code) ?? (await this.ledger.requireCurrency(code))).scale;
    return { ...row, baseScale: await scale(row.base), quoteScale: await scale(row.quote) };
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
    // The book opens on an engine, which claims its lease first (here in one process).
    try {
      await this.router.callAny(EXCHANGE_ADD, { instrument });
    } catch (error) {
      // Scaled out the listing is stored either way: when no engine could take the book now (or
      // another engine's rescan took it first), the engines' next rescan serves it, within a
      // lease period; until then its orders are answered 503.
      if (!(this.router.distributed && error instanceof AppError && error.code === 'NOT_READY')) throw error;
    }
    return instrument;
  }

  /** Every listed instrument: this node's books in one process; scaled out, storage's rows (halts included). */
  async instruments(): Promise<Instrument[]> {
    if (!this.router.distributed) return this.engine.symbols().map((s) => this.engine.market(s)!.instrument);
    const rows = await this.store.listInstruments();
    return Promise.all(rows.map((r) => this.engine.market(r.symbol)?.instrument ?? this.withScales(r)));
  }

  /** One instrument, status included: from its live book here, else (scaled out) from storage. */
  async instrument(symbol: string): Promise<Instrument> {
    const live = this.engine.market(symbol)?.instrument;
    if (live) return live;
    const stored = this.router.distributed ? await this.storedInstrument(symbol) : undefined;
    if (!stored) throw new AppError('NOT_FOUND', `no instrument ${symbol}`);
    this.definitions.set(symbol, stored);
    return stored;
  }

  /** An instrument's terms for checks and formatting (NOT_FOUND when it is not listed); its status may be stale. */
  private async definition(symbol: string): Promise<Instrument> {
    return this.engine.market(symbol)?.instrument ?? this.definitions.get(symbol) ?? this.instrument(symbol);
  }

  /** The terms of several instruments at once (routes formatting orders and fills of many). */
  async instrumentsOf(symbols: Iterable<string>): Promise<Map<string, Instrument>> {
    const out = new Map<string, Instrument>();
    for (const symbol of symbols) if (!out.has(symbol)) out.set(symbol, await this.definition(symbol));
    return out;
  }

  async setHalted(caller: Principal | null, symbol: string, halted: boolean): Promise<Instrument> {
    requireAdmin(caller);
    // Scaled out, an unknown symbol has no owner to answer: 404 here rather than 503.
    if (this.router.distributed) await this.definition(symbol);
    return this.router.call<Instrument>(marketOf(symbol), EXCHANGE_SET_HALTED, { symbol, halted });
  }

  /** Replays the instrument's journal beside the live book and compares their state hashes (admin). */
  async verify(caller: Principal | null, symbol: string) {
    requireAdmin(caller);
    await this.definition(symbol);
    return this.router.call<Awaited<ReturnType<ExchangeEngine['verify']>>>(marketOf(symbol), EXCHANGE_VERIFY, { symbol });
  }

  // --- orders ---

  async place(caller: Principal | null, body: PlaceRequest): Promise<{ order: StoredOrderView; trades: Trade[]; repeated: boolean; instrument: Instrument }> {
    const me = requirePrincipal(caller);
    // In one process the live book always answers (no await on the order path).
    const instrument = this.engine.market(body.symbol)?.instrument ?? (await this.definition(body.symbol));
    const request: OrderRequest = {
      side: body.side,
      type: body.type,
      quantity: body.quantity,
      timeInForce: body.timeInForce ?? (body.type === 'market' ? 'ioc' : 'gtc'),
      postOnly: body.postOnly ?? false,
      ...(body.price !== undefined && { price: body.price }),
    };
    const result = await this.router.call<PlaceResult>(marketOf(body.symbol), EXCHANGE_PLACE, { userId: me.userId, symbol: body.symbol, request, clientOrderId: body.clientOrderId ?? null });
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

  /**
   * The order on a book this node holds, else as stored: every change of an order is written by
   * the commit that acknowledges it, so scaled out, a node without its book reads the order's
   * committed state (all but its hold, which the ledger keeps) without asking the owner.
   */
  private async findOrder(orderId: string): Promise<{ order: StoredOrderView; instrument: Instrument } | undefined> {
    for (const symbol of this.engine.symbols()) {
      const market = this.engine.market(symbol)!;
      const open = market.open.get(orderId);
      if (open) return { order: { ...open, symbol }, instrument: market.instrument };
    }
    const stored = await this.store.findOrder(this.store.db, orderId);
    return stored ? { order: stored, instrument: await this.definition(stored.symbol) } : undefined;
  }

  async myOrders(caller: Principal | null, q: { status?: 'open' | 'filled' | 'cancelled'; symbol?: string; before?: string; limit: number }): Promise<StoredOrder[]> {
    const me = requirePrincipal(caller);
    if (q.symbol) await this.definition(q.symbol);
    return this.store.listOrders(this.store.db, { userId: me.userId, limit: q.limit, ...(q.status && { status: q.status }), ...(q.symbol && { symbol: q.symbol }), ...(q.before && { beforeId: q.before }) });
  }

  async cancel(caller: Principal | null, orderId: string): Promise<{ order: StoredOrderView; instrument: Instrument }> {
    orderId = orderId.toLowerCase();
    const me = requirePrincipal(caller);
    const found = await this.findOrder(orderId);
    if (!found || found.order.userId !== me.userId) throw new AppError('NOT_FOUND', 'no such order of yours');
    if (found.order.status !== 'open') throw new OrderRejected({ code: 'ORDER_NOT_OPEN', detail: `the order is ${found.order.status} already` });
    const symbol = found.order.symbol;
    const order = await this.router.call<MarketOrder>(marketOf(symbol), EXCHANGE_CANCEL, { userId: me.userId, symbol, orderId });
    return { order: { ...order, symbol }, instrument: found.instrument };
  }

  async cancelAll(caller: Principal | null, symbol: string | null): Promise<Array<{ order: StoredOrderView; instrument: Instrument }>> {
    const me = requirePrincipal(caller);
    if (symbol !== null) await this.definition(symbol);
    type Cancelled = Array<{ symbol: string; order: MarketOrder }>;
    let cancelled: Cancelled;
    if (symbol !== null) cancelled = await this.router.call<Cancelled>(marketOf(symbol), EXCHANGE_CANCEL_ALL, { userId: me.userId, symbol });
    else if (!this.router.distributed) cancelled = await this.router.callAny<Cancelled>(EXCHANGE_CANCEL_ALL, { userId: me.userId, symbol: null });
    else {
      // Scaled out the books are spread over engines: one call to the owner of each instrument
      // where storage has an open order of the caller's (every acknowledged order is stored).
      const symbols = await this.store.symbolsWithOpenOrders(this.store.db, me.userId);
      const answers = await Promise.allSettled(symbols.map((s) => this.router.call<Cancelled>(marketOf(s), EXCHANGE_CANCEL_ALL, { userId: me.userId, symbol: s })));
      // Every reachable book is done; one whose engine did not answer makes the whole a retry.
      const failed = answers.find((a) => a.status === 'rejected');
      if (failed) throw failed.reason;
      cancelled = answers.flatMap((a) => (a.status === 'fulfilled' ? a.value : []));
    }
    const instruments = await this.instrumentsOf(cancelled.map((c) => c.symbol));
    return cancelled.map(({ symbol: s, order }) => ({ order: { ...order, symbol: s }, instrument: instruments.get(s)! }));
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
    const symbol = found.order.symbol;
    const result = await this.router.call<{ order: MarketOrder; trades: Trade[] }>(marketOf(symbol), EXCHANGE_AMEND, { userId: me.userId, symbol, orderId, change });
    return { order: { ...result.order, symbol }, trades: result.trades, instrument };
  }

  /** My fills, newest first, a page at a time (keyset cursor over time, symbol and trade seq). */
  async myTrades(caller: Principal | null, q: { symbol?: string; before?: number; cursor?: string; limit: number }): Promise<Page<{ symbol: string; trade: Trade }>> {
    const me = requirePrincipal(caller);
    if (q.symbol) await this.definition(q.symbol);
    const after = q.cursor === undefined ? undefined : tradeKeyOf(decodeCursor(q.cursor, (k) => tradeKeyOf(k) !== null));
    const rows = await this.store.listTradesOf(this.store.db, { userId: me.userId, limit: q.limit + 1, ...(q.symbol && { symbol: q.symbol }), ...(q.before !== undefined && { beforeAtMs: q.before }), ...(after && { after }) });
    return pageOf(rows, q.limit, (r) => `${r.trade.atMs}|${r.symbol}|${r.trade.seq}`);
  }

  // --- market data ---

  /** The live book's depth, from the engine that owns it. */
  async depth(symbol: string, levels: number): Promise<Depth> {
    // Scaled out, an unknown symbol has no owner to answer: 404 here rather than 503.
    if (this.router.distributed && !this.engine.market(symbol)) await this.definition(symbol);
    return this.router.call<Depth>(marketOf(symbol), EXCHANGE_DEPTH, { symbol, levels });
  }

  async trades(symbol: string, limit: number): Promise<{ instrument: Instrument; trades: Trade[] }> {
    const instrument = await this.definition(symbol);
    return { instrument, trades: await this.store.recentTrades(this.store.db, symbol, limit) };
  }

  async candles(symbol: string, fromMs: number, toMs: number): Promise<{ instrument: Instrument; candles: Candle[] }> {
    const instrument = await this.definition(symbol);
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
