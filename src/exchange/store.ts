// The exchange module's tables. The engine writes a whole group of commands in one transaction
// with one statement per table (journal entries, order projections, trades, candles), so the
// cost of a commit is spread over every order in it. On SQLite the journal, orders and trades go
// in with a short prepared statement per row instead (Database.eachRow): there that costs less
// than building and parsing one long statement per group.
import type { Kysely } from 'kysely';
import { eachRowIn, toNumber, type Database } from '../platform/db/database.js';
import type { ChainEntry } from '../platform/journal/hash-chain.js';
import type { Instrument, MarketOrder, Trade } from './model.js';

/** Where a page of someone's fills ends: the last fill's time, symbol and trade seq. */
export interface TradeKey {
  atMs: number;
  symbol: string;
  seq: number;
}

type Int = bigint | number;

interface InstrumentsTable {
  symbol: string;
  base: string;
  quote: string;
  tick_minor: Int;
  lot_minor: Int;
  min_lots: Int;
  max_lots: Int;
  maker_fee_bps: number;
  taker_fee_bps: number;
  protection_bps: number;
  status: string;
  created_by: string;
  created_at_ms: Int;
}

interface JournalTable {
  symbol: string;
  seq: Int;
  type: string;
  at_ms: Int;
  payload: string;
  prev_hash: string;
  hash: string;
}

interface OrdersTable {
  id: string;
  symbol: string;
  user_id: string;
  client_order_id: string | null;
  side: string;
  type: string;
  tif: string;
  post_only: number;
  price_ticks: Int;
  qty_lots: Int;
  filled_lots: Int;
  notional_minor: Int;
  fee_minor: Int;
  status: string;
  cancel_reason: string | null;
  created_at_ms: Int;
  updated_at_ms: Int;
}

interface TradesTable {
  id: string;
  symbol: string;
  seq: Int;
  price_ticks: Int;
  qty_lots: Int;
  notional_minor: Int;
  taker_side: string;
  maker_order_id: string;
  maker_user_id: string;
  maker_fee_minor: Int;
  taker_order_id: string;
  taker_user_id: string;
  taker_fee_minor: Int;
  at_ms: Int;
}

interface CandlesTable {
  symbol: string;
  minute_ms: Int;
  open_ticks: Int;
  high_ticks: Int;
  low_ticks: Int;
  close_ticks: Int;
  volume_lots: Int;
  trades: Int;
}

export interface ExchangeTables {
  exchange_instruments: InstrumentsTable;
  exchange_journal: JournalTable;
  exchange_orders: OrdersTable;
  exchange_trades: TradesTable;
  exchange_candles: CandlesTable;
}

export type ExchangeExecutor = Kysely<ExchangeTables>;

/** An order as stored: the market's view of it without the hold (the ledger keeps that). */
export type StoredOrder = Omit<MarketOrder, 'holdRef' | 'heldMinor' | 'holdVersion'> & { symbol: string };

export interface Candle {
  minuteMs: number;
  openTicks: number;
  highTicks: number;
  lowTicks: number;
  closeTicks: number;
  volumeLots: number;
  trades: number;
}

/** Rows per statement: under SQLite's and PostgreSQL's bound-parameter limits for our widest table. */
const ROWS_PER_STATEMENT = 500;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += ROWS_PER_STATEMENT) out.push(items.slice(i, i + ROWS_PER_STATEMENT));
  return out;
}

// SQLite's per-row statements; the PostgreSQL path builds the same rows with Kysely below.
const INSERT_JOURNAL = 'insert into exchange_journal (symbol, seq, type, at_ms, payload, prev_hash, hash) values (?, ?, ?, ?, ?, ?, ?)';
const UPSERT_ORDER = `insert into exchange_orders
  (id, symbol, user_id, client_order_id, side, type, tif, post_only, price_ticks, qty_lots, filled_lots, notional_minor, fee_minor, status, cancel_reason, created_at_ms, updated_at_ms)
  values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  on conflict (id) do update set price_ticks = excluded.price_ticks, qty_lots = excluded.qty_lots, filled_lots = excluded.filled_lots,
    notional_minor = excluded.notional_minor, fee_minor = excluded.fee_minor, status = excluded.status, cancel_reason = excluded.cancel_reason,
    updated_at_ms = excluded.updated_at_ms`;
const INSERT_TRADE = `insert into exchange_trades
  (id, symbol, seq, price_ticks, qty_lots, notional_minor, taker_side, maker_order_id, maker_user_id, maker_fee_minor, taker_order_id, taker_user_id, taker_fee_minor, at_ms)
  values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

export class ExchangeStore {
  readonly db: ExchangeExecutor;

  constructor(readonly database: Database) {
    this.db = database.kysely as unknown as ExchangeExecutor;
  }

  // --- instruments ---

  /** False when the symbol is listed already. */
  async insertInstrument(i: Instrument, createdBy: string, nowMs: number): Promise<boolean> {
    const result = await this.db
      .insertInto('exchange_instruments')
      .values({
        symbol: i.symbol,
        base: i.base,
        quote: i.quote,
        tick_minor: i.tickMinor,
        lot_minor: i.lotMinor,
        min_lots: i.minLots,
        max_lots: i.maxLots,
        maker_fee_bps: i.makerFeeBps,
        taker_fee_bps: i.takerFeeBps,
        protection_bps: i.protectionBps,
        status: i.status,
        created_by: createdBy,
        created_at_ms: nowMs,
      })
      .onConflict((oc) => oc.column('symbol').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  /** Instrument rows without the currencies' scales (the ledger knows those). */
  async listInstruments(ex: ExchangeExecutor = this.db): Promise<Array<Omit<Instrument, 'baseScale' | 'quoteScale'>>> {
    const rows = await ex.selectFrom('exchange_instruments').selectAll().orderBy('symbol').execute();
    return rows.map(toInstrument);
  }

  /** One instrument row (scaled out, a node that does not hold its book reads it here). */
  async findInstrument(symbol: string, ex: ExchangeExecutor = this.db): Promise<Omit<Instrument, 'baseScale' | 'quoteScale'> | undefined> {
    const row = await ex.selectFrom('exchange_instruments').selectAll().where('symbol', '=', symbol).executeTakeFirst();
    return row ? toInstrument(row) : undefined;
  }

  async setInstrumentStatus(ex: ExchangeExecutor, symbol: string, status: Instrument['status']): Promise<void> {
    await ex.updateTable('exchange_instruments').set({ status }).where('symbol', '=', symbol).execute();
  }

  // --- journal ---

  async appendJournal(ex: ExchangeExecutor, entries: ReadonlyArray<{ symbol: string; entry: ChainEntry }>): Promise<void> {
    const eachRow = eachRowIn(this.database, ex);
    if (eachRow) {
      eachRow.run(ex, INSERT_JOURNAL, entries.map(({ symbol, entry: e }) => [symbol, e.seq, e.type, e.atMs, e.payload, e.prevHash, e.hash]));
      return;
    }
    for (const chunk of chunks(entries)) {
      await ex
        .insertInto('exchange_journal')
        .values(chunk.map(({ symbol, entry: e }) => ({ symbol, seq: e.seq, type: e.type, at_ms: e.atMs, payload: e.payload, prev_hash: e.prevHash, hash: e.hash })))
        .execute();
    }
  }

  async readJournal(ex: ExchangeExecutor, symbol: string, afterSeq = 0): Promise<ChainEntry[]> {
    const rows = await ex.selectFrom('exchange_journal').selectAll().where('symbol', '=', symbol).where('seq', '>', afterSeq).orderBy('seq').execute();
    return rows.map((r) => ({ seq: toNumber(r.seq), atMs: toNumber(r.at_ms), type: r.type, payload: r.payload, prevHash: r.prev_hash, hash: r.hash }));
  }

  // --- orders ---

  /** Writes each order's latest state; an order seen twice in a group is written once, as last seen. */
  async upsertOrders(ex: ExchangeExecutor, orders: readonly StoredOrder[]): Promise<void> {
    const latest = new Map<string, StoredOrder>();
    for (const o of orders) latest.set(o.id, o);
    const eachRow = eachRowIn(this.database, ex);
    if (eachRow) {
      const rows: unknown[][] = [];
      for (const o of latest.values()) {
        rows.push([o.id, o.symbol, o.userId, o.clientOrderId, o.side, o.type, o.tif, o.postOnly ? 1 : 0, o.priceTicks, o.qtyLots, o.filledLots, o.notionalMinor, o.feeMinor, o.status, o.cancelReason, o.createdAtMs, o.updatedAtMs]);
      }
      eachRow.run(ex, UPSERT_ORDER, rows);
      return;
    }
    for (const chunk of chunks([...latest.values()])) {
      await ex
        .insertInto('exchange_orders')
        .values(
          chunk.map((o) => ({
            id: o.id,
            symbol: o.symbol,
            user_id: o.userId,
            client_order_id: o.clientOrderId,
            side: o.side,
            type: o.type,
            tif: o.tif,
            post_only: o.postOnly ? 1 : 0,
            price_ticks: o.priceTicks,
            qty_lots: o.qtyLots,
            filled_lots: o.filledLots,
            notional_minor: o.notionalMinor,
            fee_minor: o.feeMinor,
            status: o.status,
            cancel_reason: o.cancelReason,
            created_at_ms: o.createdAtMs,
            updated_at_ms: o.updatedAtMs,
          })),
        )
        .onConflict((oc) =>
          oc.column('id').doUpdateSet((eb) => ({
            price_ticks: eb.ref('excluded.price_ticks'),
            qty_lots: eb.ref('excluded.qty_lots'),
            filled_lots: eb.ref('excluded.filled_lots'),
            notional_minor: eb.ref('excluded.notional_minor'),
            fee_minor: eb.ref('excluded.fee_minor'),
            status: eb.ref('excluded.status'),
            cancel_reason: eb.ref('excluded.cancel_reason'),
            updated_at_ms: eb.ref('excluded.updated_at_ms'),
          })),
        )
        .execute();
    }
  }

  async findOrder(ex: ExchangeExecutor, id: string): Promise<StoredOrder | undefined> {
    const row = await ex.selectFrom('exchange_orders').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toOrder(row) : undefined;
  }

  /** The instruments on which a user has open orders. */
  async symbolsWithOpenOrders(ex: ExchangeExecutor, userId: string): Promise<string[]> {
    const rows = await ex.selectFrom('exchange_orders').select('symbol').distinct().where('user_id', '=', userId).where('status', '=', 'open').execute();
    return rows.map((r) => r.symbol).sort();
  }

  async findOrderByClientId(ex: ExchangeExecutor, userId: string, clientOrderId: string): Promise<StoredOrder | undefined> {
    const row = await ex.selectFrom('exchange_orders').selectAll().where('user_id', '=', userId).where('client_order_id', '=', clientOrderId).executeTakeFirst();
    return row ? toOrder(row) : undefined;
  }

  /** A user's orders, newest first, optionally only open ones or one instrument's. */
  async listOrders(ex: ExchangeExecutor, q: { userId: string; status?: string; symbol?: string; beforeId?: string; limit: number }): Promise<StoredOrder[]> {
    let query = ex.selectFrom('exchange_orders').selectAll().where('user_id', '=', q.userId);
    if (q.status) query = query.where('status', '=', q.status);
    if (q.symbol) query = query.where('symbol', '=', q.symbol);
    if (q.beforeId) query = query.where('id', '<', q.beforeId);
    return (await query.orderBy('id', 'desc').limit(q.limit).execute()).map(toOrder);
  }

  // --- trades and candles ---

  async insertTrades(ex: ExchangeExecutor, trades: ReadonlyArray<{ symbol: string; trade: Trade }>): Promise<void> {
    const eachRow = eachRowIn(this.database, ex);
    if (eachRow) {
      const rows = trades.map(({ symbol, trade: t }) => [t.id, symbol, t.seq, t.priceTicks, t.qtyLots, t.notionalMinor, t.takerSide, t.makerOrderId, t.makerUserId, t.makerFeeMinor, t.takerOrderId, t.takerUserId, t.takerFeeMinor, t.atMs]);
      eachRow.run(ex, INSERT_TRADE, rows);
      return;
    }
    for (const chunk of chunks(trades)) {
      await ex
        .insertInto('exchange_trades')
        .values(
          chunk.map(({ symbol, trade: t }) => ({
            id: t.id,
            symbol,
            seq: t.seq,
            price_ticks: t.priceTicks,
            qty_lots: t.qtyLots,
            notional_minor: t.notionalMinor,
            taker_side: t.takerSide,
            maker_order_id: t.makerOrderId,
            maker_user_id: t.makerUserId,
            maker_fee_minor: t.makerFeeMinor,
            taker_order_id: t.takerOrderId,
            taker_user_id: t.takerUserId,
            taker_fee_minor: t.takerFeeMinor,
            at_ms: t.atMs,
          })),
        )
        .execute();
    }
  }

  /**
   * Trades a user took part in (either side), newest first: by time, then symbol, then the
   * instrument's trade seq — a total order, so `after` (the last key of a page) pages without
   * gaps or repeats even when many fills share a millisecond. Fetches up to `limit` rows.
   */
  async listTradesOf(ex: ExchangeExecutor, q: { userId: string; symbol?: string; beforeAtMs?: number; after?: TradeKey; limit: number }): Promise<Array<{ symbol: string; trade: Trade }>> {
    const side = (column: 'maker_user_id' | 'taker_user_id') => {
      let query = ex.selectFrom('exchange_trades').selectAll().where(column, '=', q.userId);
      if (q.symbol) query = query.where('symbol', '=', q.symbol);
      if (q.beforeAtMs !== undefined) query = query.where('at_ms', '<', q.beforeAtMs);
      const after = q.after;
      if (after) {
        query = query.where((eb) =>
          eb.or([
            eb('at_ms', '<', after.atMs),
            eb.and([eb('at_ms', '=', after.atMs), eb('symbol', '<', after.symbol)]),
            eb.and([eb('at_ms', '=', after.atMs), eb('symbol', '=', after.symbol), eb('seq', '<', after.seq)]),
          ]),
        );
      }
      return query.orderBy('at_ms', 'desc').orderBy('symbol', 'desc').orderBy('seq', 'desc').limit(q.limit).execute();
    };
    const rows = [...(await side('maker_user_id')), ...(await side('taker_user_id'))];
    const unique = [...new Map(rows.map((r) => [r.id, r])).values()];
    unique.sort((a, b) => toNumber(b.at_ms) - toNumber(a.at_ms) || (a.symbol < b.symbol ? 1 : a.symbol > b.symbol ? -1 : 0) || toNumber(b.seq) - toNumber(a.seq));
    return unique.slice(0, q.limit).map((r) => ({ symbol: r.symbol, trade: toTrade(r) }));
  }

  /** The instrument's latest trades, newest first. */
  async recentTrades(ex: ExchangeExecutor, symbol: string, limit: number): Promise<Trade[]> {
    const rows = await ex.selectFrom('exchange_trades').selectAll().where('symbol', '=', symbol).orderBy('seq', 'desc').limit(limit).execute();
    return rows.map(toTrade);
  }

  async upsertCandles(ex: ExchangeExecutor, candles: ReadonlyArray<{ symbol: string; candle: Candle }>): Promise<void> {
    for (const chunk of chunks(candles)) {
      await ex
        .insertInto('exchange_candles')
        .values(
          chunk.map(({ symbol, candle: c }) => ({
            symbol,
            minute_ms: c.minuteMs,
            open_ticks: c.openTicks,
            high_ticks: c.highTicks,
            low_ticks: c.lowTicks,
            close_ticks: c.closeTicks,
            volume_lots: c.volumeLots,
            trades: c.trades,
          })),
        )
        .onConflict((oc) =>
          oc.columns(['symbol', 'minute_ms']).doUpdateSet((eb) => ({
            high_ticks: eb.ref('excluded.high_ticks'),
            low_ticks: eb.ref('excluded.low_ticks'),
            close_ticks: eb.ref('excluded.close_ticks'),
            volume_lots: eb.ref('excluded.volume_lots'),
            trades: eb.ref('excluded.trades'),
          })),
        )
        .execute();
    }
  }

  async listCandles(ex: ExchangeExecutor, symbol: string, fromMs: number, toMs: number): Promise<Candle[]> {
    const rows = await ex.selectFrom('exchange_candles').selectAll().where('symbol', '=', symbol).where('minute_ms', '>=', fromMs).where('minute_ms', '<', toMs).orderBy('minute_ms').execute();
    return rows.map(toCandle);
  }

  async latestCandle(ex: ExchangeExecutor, symbol: string): Promise<Candle | undefined> {
    const row = await ex.selectFrom('exchange_candles').selectAll().where('symbol', '=', symbol).orderBy('minute_ms', 'desc').limit(1).executeTakeFirst();
    return row ? toCandle(row) : undefined;
  }
}

function toInstrument(r: InstrumentsTable): Omit<Instrument, 'baseScale' | 'quoteScale'> {
  return {
    symbol: r.symbol,
    base: r.base,
    quote: r.quote,
    tickMinor: BigInt(r.tick_minor),
    lotMinor: BigInt(r.lot_minor),
    minLots: toNumber(r.min_lots),
    maxLots: toNumber(r.max_lots),
    makerFeeBps: toNumber(r.maker_fee_bps),
    takerFeeBps: toNumber(r.taker_fee_bps),
    protectionBps: toNumber(r.protection_bps),
    status: r.status as Instrument['status'],
  };
}

function toCandle(r: CandlesTable): Candle {
  return {
    minuteMs: toNumber(r.minute_ms),
    openTicks: toNumber(r.open_ticks),
    highTicks: toNumber(r.high_ticks),
    lowTicks: toNumber(r.low_ticks),
    closeTicks: toNumber(r.close_ticks),
    volumeLots: toNumber(r.volume_lots),
    trades: toNumber(r.trades),
  };
}

function toOrder(r: OrdersTable): StoredOrder {
  return {
    id: r.id,
    symbol: r.symbol,
    userId: r.user_id,
    clientOrderId: r.client_order_id,
    side: r.side as StoredOrder['side'],
    type: r.type as StoredOrder['type'],
    tif: r.tif as StoredOrder['tif'],
    postOnly: Number(r.post_only) === 1,
    priceTicks: toNumber(r.price_ticks),
    qtyLots: toNumber(r.qty_lots),
    filledLots: toNumber(r.filled_lots),
    notionalMinor: BigInt(r.notional_minor),
    feeMinor: BigInt(r.fee_minor),
    status: r.status as StoredOrder['status'],
    cancelReason: r.cancel_reason as StoredOrder['cancelReason'],
    createdAtMs: toNumber(r.created_at_ms),
    updatedAtMs: toNumber(r.updated_at_ms),
  };
}

function toTrade(r: TradesTable): Trade {
  return {
    id: r.id,
    seq: toNumber(r.seq),
    priceTicks: toNumber(r.price_ticks),
    qtyLots: toNumber(r.qty_lots),
    notionalMinor: BigInt(r.notional_minor),
    takerSide: r.taker_side as Trade['takerSide'],
    makerOrderId: r.maker_order_id,
    makerUserId: r.maker_user_id,
    makerFeeMinor: BigInt(r.maker_fee_minor),
    takerOrderId: r.taker_order_id,
    takerUserId: r.taker_user_id,
    takerFeeMinor: BigInt(r.taker_fee_minor),
    atMs: toNumber(r.at_ms),
  };
}
