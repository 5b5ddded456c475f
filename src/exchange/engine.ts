// The exchange engine: the one writer of every order book it holds (DESIGN rule 2).
//
// Commands (place, cancel, amend, halt) are gathered into groups, one turn of the event loop
// each, and a group is applied and written in ONE transaction (group commit):
// 1. Funds. The holds the group's commands need (an order's hold for the most it can spend, an
//    amendment's extra hold) are placed in the ledger; a refused hold refuses its command.
// 2. The books. Each funded command is applied to its instrument's in-memory market, in arrival
//    order.
// 3. Settlement. The fills' ledger movements (captures, fees, re-holds, releases), the journal
//    entries, the order and trade rows and the trade events are written.
// Only after that commit does the caller hear the result, and the two parties of a fill their
// confirmations (rule 3: journal before acknowledge). A hold and the journal entry that
// accounts for it commit together, so no crash can leave one without the other.
//
// Matching happens inside the transaction, so a failure after it started cannot just refuse the
// group: the markets hold its effects. Such a failure refuses the group's commands (nothing was
// written) and rebuilds each market it changed from its journal.
// After a rebuild (and at every start), a sweep in commit order releases any hold of this book
// that no open order stands behind, which only data written by versions before this design can
// have.
//
// Scaled out (docs/cluster.md), an engine holds only the books whose lease it holds
// (`instrument.<SYMBOL>`): the market host tells it to `take` one (fence the market in storage,
// then rebuild it from its journal, as at a restart) or `drop` it, and every commit carries the
// lease's fencing token, checked in the same transaction before anything is applied, so an
// engine that lost a book without knowing it cannot write to it. A command whose book moved
// before its commit was not applied nor written: it is refused with BookMoved.
import type { Logger } from '../platform/logging.js';
import type { Clock } from '../platform/clock.js';
import { uuidv7 } from '../platform/ids.js';
import { AppError, type ProblemCode } from '../platform/errors.js';
import { BatchCommitter, type Outcome as CommitOutcome } from '../platform/db/batch-commit.js';
import { GENESIS_HASH, decodePayload, encodePayload, entryHash, verifyChain, type ChainEntry } from '../platform/journal/hash-chain.js';
import { formatAmount } from '../platform/money.js';
import { available } from '../ledger/model.js';
import { LedgerError, type LedgerOp, type LedgerService } from '../ledger/service.js';
import type { LedgerExecutor } from '../ledger/store.js';
import type { EventPublisher } from '../platform/outbox/bus.js';
import type { NewEvent } from '../platform/outbox/outbox.js';
import { checkFence, FencedError } from '../cluster/fences.js';
import type { MarketHost } from '../cluster/market-host.js';
import {
  Market,
  checkAmend,
  checkOrder,
  protectionPriceTicks,
  replayMarket,
  reserveOf,
  type Instrument,
  type MarketCommand,
  type MarketOrder,
  type Movement,
  type OrderRejection,
  type OrderRequest,
  type Outcome,
  type PlaceCommand,
  type Side,
  type Trade,
} from './model.js';
import type { Candle, ExchangeExecutor, ExchangeStore, StoredOrder } from './store.js';

/** Instruments are leased as `instrument.<SYMBOL>` (docs/cluster.md). */
export const EXCHANGE_MARKET = 'instrument';
const RETRYABLE_PG_CODES = new Set(['40P01', '40001']);
const MAX_ATTEMPTS = 5;

/** Thrown inside a group's transaction to roll it back when the ledger refused some of its units. */
class SettlementRefused extends Error {
  constructor() {
    super('the ledger refused part of the group');
  }
}

/** A refusal by the exchange's rules, as an AppError the edge turns into problem+json. */
export class OrderRejected extends AppError {
  constructor(readonly rejection: OrderRejection) {
    super(rejection.code as ProblemCode, rejection.detail, rejection.field ? { errors: [{ in: 'body', field: rejection.field, message: rejection.detail }] } : {});
  }
}

/**
 * A command for a book this engine does not (or no longer) hold: retry, it reaches the owner.
 * Nothing of a command refused with it was held, applied or written.
 */
export class BookMoved extends AppError {
  constructor(symbol: string) {
    super('NOT_READY', `the ${symbol} book is moving to another engine; retry shortly`);
  }
}

interface Book {
  symbol: string;
  market: Market;
  lastHash: string;
  /** Bumped by each rebuild. */
  epoch: number;
  broken: boolean;
  rebuilding: Promise<void> | null;
  candle: Candle | null;
  /** The last depth update published (clients detect gaps by it). */
  lastDepthSeq: number;
  /** Scaled out: the lease went elsewhere; this book is never written or rebuilt again. */
  dropped: boolean;
}

/** What listeners hear after a commit. */
export interface Committed {
  symbol: string;
  seq: number;
  /** Seq of the depth update before this one (0: none). */
  prevDepthSeq: number;
  outcome: Outcome;
  instrument: Instrument;
}
export type CommitListener = (c: Committed) => void;

interface CommitUnit {
  book: Book;
  /** -1: a marker (stop, verify) that waits for the groups before it and writes nothing. */
  epoch: number;
  /** Applied to the book inside the group's transaction, once `holds` are placed. */
  command: MarketCommand | null;
  /** Ledger holds the command needs before it applies; refused: the command is refused. */
  holds: LedgerOp[];
  /** A sweep: release the holds of orders this book does not know (placed before `cutoffId`). */
  sweep?: { keep: Set<string>; cutoffId: string };
  // Filled in when the command is applied:
  entry: ChainEntry | null;
  outcome: Outcome;
  candles: Candle[];
}

/** A unit that carries nothing to apply. */
function markerUnit(book: Book, epoch: number, sweep?: CommitUnit['sweep']): CommitUnit {
  return { book, epoch, command: null, holds: [], ...(sweep && { sweep }), entry: null, outcome: emptyOutcome(), candles: [] };
}

export interface ExchangeEngineOptions {
  store: ExchangeStore;
  ledger: LedgerService;
  clock: Clock;
  logger: Logger;
  events: EventPublisher;
  /** Which books this process serves: all of them in one process, the leased ones scaled out. */
  host: MarketHost;
}

export interface PlaceResult {
  order: MarketOrder;
  trades: Trade[];
  /** True when a client order id repeated an order placed before: nothing new happened. */
  repeated: boolean;
  stored?: StoredOrder;
}

export class ExchangeEngine {
  private readonly books = new Map<string, Book>();
  private readonly committer: BatchCommitter<CommitUnit, Outcome>;
  private readonly listeners: CommitListener[] = [];
  /** (user, currency) → wallet id; wallets are never deleted, so ids do not go stale. */
  private readonly wallets = new Map<string, string>();
  private readonly revenue = new Map<string, string>();
  /** Client order ids being placed right now, so a quick repeat waits for the first. */
  private readonly placing = new Map<string, { symbol: string; request: OrderRequest; run: Promise<PlaceResult> }>();
  private stopped = false;
  private pokeAfterCommit = false;

  constructor(private readonly o: ExchangeEngineOptions) {
    // Fed by requests: gather what arrived in the same turn of the event loop into one commit.
    this.committer = new BatchCommitter((units) => this.commitUnits(units), undefined, 1, 'turn');
  }

  onCommitted(listener: CommitListener): void {
    this.listeners.push(listener);
  }

  /** Loads every listed instrument and rebuilds its book from the journal; scaled out, the market host says which (take). */
  async start(instruments: readonly Instrument[]): Promise<void> {
    if (this.o.host.leased) return;
    for (const instrument of instruments) {
      try {
        await this.load(instrument);
      } catch (error) {
        this.o.logger.error({ err: error, symbol: instrument.symbol }, 'the book could not be rebuilt from its journal; it stays stopped');
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    // Commands queued before this are applied and committed first: wait for them.
    await this.committer.submit(markerUnit(undefined as never, -1)).catch(() => {});
  }

  /**
   * A new instrument: an empty book. Scaled out, this engine claims its lease first (NOT_READY
   * when another engine took it already, e.g. in a rescan: that one serves it).
   */
  async add(instrument: Instrument): Promise<void> {
    const symbol = instrument.symbol;
    if (this.books.has(symbol)) return;
    await this.o.host.claim(EXCHANGE_MARKET, symbol);
    try {
      if (!this.books.has(symbol)) await this.load(instrument);
      if (this.books.get(symbol)?.dropped !== false) throw new BookMoved(symbol);
    } catch (error) {
      // Scaled out, not served here after all: the lease goes back and the next rescan places the book again.
      if (this.o.host.leased) {
        this.drop(symbol);
        this.o.host.finished(EXCHANGE_MARKET, symbol);
      }
      throw error;
    }
    this.o.host.serve(EXCHANGE_MARKET, symbol);
  }

  /** Scaled out: this engine now holds the book's lease; rebuild it from its journal. */
  async take(instrument: Instrument): Promise<void> {
    if (this.stopped || this.books.has(instrument.symbol)) return;
    try {
      await this.load(instrument);
      // Lost again while rebuilding: the host must not route the book here.
      if (!this.books.has(instrument.symbol)) throw new BookMoved(instrument.symbol);
    } catch (error) {
      this.drop(instrument.symbol);
      throw error;
    }
  }

  /**
   * Scaled out: the lease is gone; stop serving the book at once. Commands queued for it and
   * not yet written are refused (BookMoved): nothing of them was held, applied or written.
   */
  drop(symbol: string): void {
    const book = this.books.get(symbol);
    if (!book) return;
    this.books.delete(symbol);
    book.dropped = true;
    book.broken = true;
  }

  market(symbol: string): Market | undefined {
    return this.books.get(symbol)?.market;
  }

  symbols(): string[] {
    return [...this.books.keys()];
  }

  /**
   * Rebuilds the book from its journal beside the live one and compares their state hashes:
   * proof that replay gives the same book. Waits until what was applied is committed first,
   * and for a rebuild under way.
   */
  async verify(symbol: string): Promise<{ seq: number; journalSeq: number; liveHash: string; replayHash: string; match: boolean }> {
    const book = this.bookOf(symbol);
    await this.committer.submit(markerUnit(undefined as never, -1));
    // A group that failed before the marker left the book being rebuilt from its journal: the
    // live book is compared once that is done, not half-way (it would differ, falsely).
    while (book.rebuilding) await book.rebuilding;
    if (book.broken) throw new AppError('NOT_READY', `the ${book.symbol} book is being rebuilt; try again in a moment`);
    const liveHash = book.market.stateHash();
    const seq = book.market.seq;
    const entries = await this.o.store.readJournal(this.o.store.db, symbol);
    const check = verifyChain(entries);
    if (!check.ok) throw new Error(`journal of ${symbol} is broken at seq ${check.seq}: ${check.reason}`);
    const replayed = marketFromJournal(book.market.instrument, entries);
    const replayHash = replayed.stateHash();
    return { seq, journalSeq: replayed.seq, liveHash, replayHash, match: liveHash === replayHash };
  }

  /** L2 depth of the live book: [priceTicks, lots, orders] per level, best first, with the book's seq. */
  depth(symbol: string, levels: number): { instrument: Instrument; seq: number; bids: Array<[number, number, number]>; asks: Array<[number, number, number]> } {
    const market = this.bookOf(symbol).market;
    return { instrument: market.instrument, seq: market.seq, ...market.book.depth(levels) };
  }

  // --- commands -------------------------------------------------------------------------------

  /** Places an order: checks, reserves funds, matches, commits; resolves once committed. */
  async place(userId: string, symbol: string, request: OrderRequest, clientOrderId: string | null): Promise<PlaceResult> {
    const book = this.bookOf(symbol);
    // A malformed order is refused even when its client order id repeats an earlier one (the
    // halt is left to placeNew: repeating an order placed before a halt returns that order).
    const wellFormed = checkOrder({ ...book.market.instrument, status: 'trading' }, request);
    if (!wellFormed.ok) throw new OrderRejected(wellFormed.rejection);
    if (clientOrderId !== null) {
      const key = `${userId}\n${clientOrderId}`;
      const inFlight = this.placing.get(key);
      if (inFlight) {
        assertSameOrder(clientOrderId, { symbol: inFlight.symbol, ...inFlight.request }, { symbol, ...request });
        return inFlight.run.then((r) => ({ ...r, repeated: true }));
      }
      // Claimed before the first await: a repeat arriving while the store is read waits for this one.
      const run = this.placeOnce(book, userId, request, clientOrderId);
      this.placing.set(key, { symbol, request, run });
      try {
        return await run;
      } finally {
        this.placing.delete(key);
      }
    }
    return this.placeNew(book, userId, request, null);
  }

  private async placeOnce(book: Book, userId: string, request: OrderRequest, clientOrderId: string): Promise<PlaceResult> {
    const stored = await this.o.store.findOrderByClientId(this.o.store.db, userId, clientOrderId);
    if (stored) assertSameOrder(clientOrderId, { symbol: stored.symbol, side: stored.side, type: stored.type, timeInForce: stored.tif, postOnly: stored.postOnly }, { symbol: book.symbol, ...request });
    if (stored) return { order: { ...stored, holdRef: '', heldMinor: 0n, holdVersion: 0 }, trades: [], repeated: true, stored };
    return this.placeNew(book, userId, request, clientOrderId);
  }

  private async placeNew(book: Book, userId: string, request: OrderRequest, clientOrderId: string | null): Promise<PlaceResult> {
    this.assertRunning(book);
    const instrument = book.market.instrument;
    const checked = checkOrder(instrument, request);
    if (!checked.ok) throw new OrderRejected(checked.rejection);
    const order = checked.value;
    const priceTicks = order.priceTicks ?? protectionPriceTicks(instrument, order.side, book.market.book);
    if (priceTicks === null) throw new OrderRejected({ code: 'NO_LIQUIDITY', detail: `there is nothing to ${order.side === 'buy' ? 'buy' : 'sell to'} on the book: a market order needs the other side` });
    const reserve = reserveOf(instrument, order.side, priceTicks, order.qtyLots);
    const receives = order.side === 'buy' ? instrument.base : instrument.quote;
    const walletId = await this.walletId(userId, reserve.currency, false);
    if (walletId === undefined) throw new AppError('INSUFFICIENT_FUNDS', `you have no ${reserve.currency} wallet: open one and fund it to trade ${instrument.symbol}`);
    await this.walletId(userId, receives, true);
    const orderId = uuidv7(this.o.clock.nowMs());
    const holdRef = `xo:${orderId}:h0`;
    const hold: LedgerOp = { type: 'hold', ref: holdRef, accountId: walletId, currency: reserve.currency, amountMinor: reserve.amountMinor, owner: ownerOf(book.symbol), memo: `order ${orderId} on ${book.symbol}` };
    const command: PlaceCommand = {
      type: 'place',
      atMs: this.o.clock.nowMs(),
      order: { id: orderId, userId, clientOrderId, side: order.side, type: order.type, tif: order.tif, postOnly: order.postOnly, priceTicks, qtyLots: order.qtyLots, holdRef, heldMinor: reserve.amountMinor },
    };
    let outcome: Outcome;
    try {
      outcome = await this.apply(book, command, [hold]);
    } catch (error) {
      // The ledger checks funds under its locks; the message says what is available now.
      if (error instanceof LedgerError && error.failure === 'INSUFFICIENT_FUNDS') {
        const wallet = await this.o.ledger.walletOf(userId, reserve.currency);
        throw this.shortOf(reserve.currency, reserve.amountMinor, instrument, '', wallet ? available(wallet) : 0n);
      }
      throw error;
    }
    if (outcome.rejection) throw new OrderRejected(outcome.rejection);
    const placed = outcome.orders.find((o) => o.id === orderId)!;
    return { order: placed, trades: outcome.trades, repeated: false };
  }

  async cancel(userId: string, symbol: string, orderId: string): Promise<MarketOrder> {
    const book = this.bookOf(symbol);
    this.assertRunning(book);
    const outcome = await this.apply(book, { type: 'cancel', atMs: this.o.clock.nowMs(), orderId, userId });
    if (outcome.rejection) throw new OrderRejected(outcome.rejection);
    return outcome.orders.find((o) => o.id === orderId)!;
  }

  /** Cancels all of a user's open orders on one instrument, or on every one. */
  async cancelAll(userId: string, symbol: string | null): Promise<Array<{ symbol: string; order: MarketOrder }>> {
    const books = symbol === null ? [...this.books.values()] : [this.bookOf(symbol)];
    const results = await Promise.all(
      books
        .filter((b) => b.market.book.ordersOf(userId).length > 0)
        .map(async (book) => {
          this.assertRunning(book);
          const outcome = await this.apply(book, { type: 'cancel_all', atMs: this.o.clock.nowMs(), userId });
          return outcome.orders.map((order) => ({ symbol: book.symbol, order }));
        }),
    );
    return results.flat();
  }

  /** A smaller quantity keeps the order's place; a new price is a new place (and may trade). */
  async amend(userId: string, symbol: string, orderId: string, change: { qtyLots?: number; priceTicks?: number }): Promise<{ order: MarketOrder; trades: Trade[] }> {
    const book = this.bookOf(symbol);
    this.assertRunning(book);
    const current = book.market.open.get(orderId);
    // Refusals that need no funds come first: they must never leave a hold behind.
    const problem = checkAmend(book.market.instrument, current, { userId, ...change });
    if (problem) throw new OrderRejected(problem);
    let extraHold: { ref: string; amountMinor: bigint } | undefined;
    const holds: LedgerOp[] = [];
    // A buy at a higher price may need more reserved: the difference is held in the same
    // transaction, just before the amendment applies, and joins the order's hold (a sell's
    // reserve is its quantity, unchanged).
    if (current && current.userId === userId && current.side === 'buy' && change.priceTicks !== undefined && change.priceTicks !== current.priceTicks) {
      const instrument = book.market.instrument;
      const remaining = (change.qtyLots ?? current.qtyLots) - current.filledLots;
      const need = reserveOf(instrument, 'buy', change.priceTicks, Math.max(remaining, 1));
      const extraMinor = need.amountMinor - current.heldMinor;
      if (extraMinor > 0n) {
        const walletId = await this.walletId(userId, need.currency, false);
        const ref = `xo:${orderId}:amend:${uuidv7(this.o.clock.nowMs())}`;
        holds.push({ type: 'hold', ref, accountId: walletId!, currency: need.currency, amountMinor: extraMinor, owner: ownerOf(symbol), memo: `amend order ${orderId} on ${symbol}` });
        extraHold = { ref, amountMinor: extraMinor };
      }
    }
    let outcome: Outcome;
    try {
      outcome = await this.apply(book, { type: 'amend', atMs: this.o.clock.nowMs(), orderId, userId, ...change, ...(extraHold ? { extraHold } : {}) }, holds);
    } catch (error) {
      if (error instanceof LedgerError && error.failure === 'INSUFFICIENT_FUNDS' && extraHold) throw this.shortOf(book.market.instrument.quote, extraHold.amountMinor, book.market.instrument, 'more ');
      throw error;
    }
    if (outcome.rejection) throw new OrderRejected(outcome.rejection);
    return { order: outcome.orders.find((o) => o.id === orderId)!, trades: outcome.trades };
  }

  async setHalted(symbol: string, halted: boolean): Promise<Instrument> {
    const book = this.bookOf(symbol);
    this.assertRunning(book);
    if ((book.market.instrument.status === 'halted') === halted) return book.market.instrument;
    await this.apply(book, { type: halted ? 'halt' : 'resume', atMs: this.o.clock.nowMs() });
    return book.market.instrument;
  }

  /**
   * Queues a command for the next group: its holds are placed, then it is applied to the book
   * and written, all in the group's transaction. Resolves with its outcome once committed;
   * rejects when its hold was refused or when nothing of it was written.
   */
  private apply(book: Book, command: MarketCommand, holds: LedgerOp[] = []): Promise<Outcome> {
    return this.committer.submit({ book, epoch: book.epoch, command, holds, entry: null, outcome: emptyOutcome(), candles: [] });
  }

  /** Applies a unit's command to its market (inside the group's transaction) and journals it. */
  private applyNow(unit: CommitUnit): void {
    const book = unit.book;
    const command = unit.command!;
    const outcome = book.market.apply(command);
    unit.outcome = outcome;
    unit.entry = null;
    unit.candles = [];
    if (outcome.rejection !== null) return;
    const e = { seq: book.market.seq, atMs: command.atMs, type: command.type, payload: encodePayload(command) };
    const hash = entryHash(book.lastHash, e);
    unit.entry = { ...e, prevHash: book.lastHash, hash };
    book.lastHash = hash;
    const candles: Candle[] = [];
    for (const trade of outcome.trades) {
      const candle = this.candleFor(book, trade);
      if (candles.at(-1) !== candle) candles.push(candle);
    }
    unit.candles = candles.map((c) => ({ ...c }));
  }

  private candleFor(book: Book, trade: Trade): Candle {
    const minuteMs = trade.atMs - (trade.atMs % 60_000);
    let c = book.candle;
    if (c === null || c.minuteMs !== minuteMs) {
      c = { minuteMs, openTicks: trade.priceTicks, highTicks: trade.priceTicks, lowTicks: trade.priceTicks, closeTicks: trade.priceTicks, volumeLots: 0, trades: 0 };
      book.candle = c;
    }
    c.highTicks = Math.max(c.highTicks, trade.priceTicks);
    c.lowTicks = Math.min(c.lowTicks, trade.priceTicks);
    c.closeTicks = trade.priceTicks;
    c.volumeLots += trade.qtyLots;
    c.trades += 1;
    return c;
  }

  // --- funds ----------------------------------------------------------------------------------

  private async walletId(userId: string, currency: string, open: boolean, tx?: LedgerExecutor): Promise<string | undefined> {
    const key = `${userId}\n${currency}`;
    const cached = this.wallets.get(key);
    if (cached) return cached;
    const wallet = open && !tx ? (await this.o.ledger.openWallet(userId, currency)).account : await this.o.ledger.walletOf(userId, currency, tx);
    if (wallet) this.wallets.set(key, wallet.id);
    return wallet?.id;
  }

  private shortOf(currency: string, amountMinor: bigint, instrument: Instrument, more = '', have?: bigint): AppError {
    const scale = currency === instrument.base ? instrument.baseScale : instrument.quoteScale;
    const tail = have === undefined ? '' : `; you have ${formatAmount(have, scale)} available`;
    return new AppError('INSUFFICIENT_FUNDS', `this order needs ${more}${formatAmount(amountMinor, scale)} ${currency} available in your ${currency} wallet${tail}`);
  }

  private async revenueId(currency: string, tx: LedgerExecutor): Promise<string> {
    let id = this.revenue.get(currency);
    if (!id) {
      id = (await this.o.ledger.systemAccount('house_revenue', currency, tx)).id;
      this.revenue.set(currency, id);
    }
    return id;
  }

  private async ledgerOpsOf(symbol: string, movements: readonly Movement[], tx: LedgerExecutor): Promise<LedgerOp[]> {
    const owner = ownerOf(symbol);
    const ops: LedgerOp[] = [];
    const wallet = async (userId: string, currency: string) => {
      const id = await this.walletId(userId, currency, false, tx);
      if (!id) throw new Error(`no ${currency} wallet for ${userId}: an order's wallets are opened before it is placed`);
      return id;
    };
    for (const m of movements) {
      switch (m.kind) {
        case 'hold':
          ops.push({ type: 'hold', ref: m.ref, accountId: await wallet(m.userId, m.currency), currency: m.currency, amountMinor: m.amountMinor, owner, memo: `order ${m.orderId} on ${symbol}` });
          break;
        case 'release':
          ops.push({ type: 'release', ref: m.ref, holdRef: m.holdRef });
          break;
        case 'capture':
          ops.push({ type: 'capture', ref: m.ref, holdRef: m.holdRef, toAccountId: await wallet(m.toUserId, m.currency), amountMinor: m.amountMinor, memo: `trade on ${symbol}` });
          break;
        case 'fee':
          ops.push({ type: 'transfer', ref: m.ref, debitAccountId: await wallet(m.fromUserId, m.currency), creditAccountId: await this.revenueId(m.currency, tx), currency: m.currency, amountMinor: m.amountMinor, owner, memo: `fee on ${symbol}` });
          break;
      }
    }
    return ops;
  }

  // --- commits --------------------------------------------------------------------------------

  /**
   * One transaction for the commands of many instruments, in arrival order: their holds, then
   * the commands applied to the books, then the settlements and rows (see the header). Scaled
   * out, a book whose lease is no longer held is dropped and its units refused before the
   * transaction; one fenced inside it (another engine wrote with a newer token) is dropped too,
   * and the others are tried again without it: nothing was applied yet.
   */
  private async commitUnits(units: CommitUnit[]): Promise<CommitOutcome<Outcome>[]> {
    const outcomes: CommitOutcome<Outcome>[] = units.map((u) => ({ ok: true, value: u.outcome }));
    for (let attempt = 1; ; attempt++) {
      const tokens = this.o.host.leased ? this.tokensOf(units) : null;
      const live: number[] = [];
      units.forEach((u, i) => {
        if (u.epoch === -1) return; // a marker (stop): nothing to write
        if (u.book.dropped) outcomes[i] = { ok: false, error: new BookMoved(u.book.symbol) };
        else if (u.book.broken || (u.sweep && u.epoch !== u.book.epoch)) outcomes[i] = { ok: false, error: new AppError('NOT_READY', `the ${u.book.symbol} book is being rebuilt; nothing of this command was kept; send it again`) };
        else live.push(i);
      });
      if (live.length === 0) return outcomes;
      /** Books whose market this attempt changed: on a failure they are rebuilt from their journals. */
      const applied = new Set<Book>();
      try {
        const refusedFunds = await this.o.store.db.transaction().execute(async (tx) => {
          if (tokens) {
            // Each book written here carries its token, checked before anything of it is applied.
            const nowMs = this.o.clock.nowMs();
            const fenced = new Set<Book>();
            for (const i of live) {
              const book = units[i]!.book;
              const token = tokens.get(book);
              if (token === undefined || fenced.has(book)) continue;
              fenced.add(book);
              await checkFence(tx, marketOf(book.symbol), token, nowMs);
            }
          }
          const ledgerTx = tx as unknown as LedgerExecutor;
          // Sweeps look at the holds as they were before this group placed any of its own.
          const sweeps = new Map<number, LedgerOp[]>();
          for (const i of live) {
            const u = units[i]!;
            if (u.sweep) sweeps.set(i, await this.sweepOps(u.book, u.sweep, ledgerTx));
          }
          // 1. Funds: a command whose hold is refused is refused, and nothing of it is applied.
          const funded = live.filter((i) => units[i]!.holds.length === 0);
          const holding = live.filter((i) => units[i]!.holds.length > 0);
          const refused = new Map<number, unknown>();
          if (holding.length > 0) {
            const placed = await this.o.ledger.executeEach(holding.map((i) => units[i]!.holds), ledgerTx);
            holding.forEach((i, k) => {
              const result = placed[k]!;
              if (result.ok) funded.push(i);
              else refused.set(i, result.error);
            });
            funded.sort((a, b) => a - b);
          }
          // 2. The books, in arrival order.
          for (const i of funded) {
            const u = units[i]!;
            if (u.command === null) continue;
            applied.add(u.book);
            this.applyNow(u);
          }
          // 3. Settlements, sweeps and rows.
          const opsPerUnit: LedgerOp[][] = [];
          for (const i of funded) {
            const u = units[i]!;
            opsPerUnit.push(sweeps.get(i) ?? (await this.ledgerOpsOf(u.book.symbol, u.outcome.movements, ledgerTx)));
          }
          const money = await this.o.ledger.executeEach(opsPerUnit, ledgerTx);
          const failed = funded.filter((_, k) => !money[k]!.ok);
          if (failed.length > 0) {
            for (const i of failed) {
              const error = (money[funded.indexOf(i)] as { ok: false; error: unknown }).error;
              this.o.logger.error({ err: error, symbol: units[i]!.book.symbol }, 'the ledger refused a settlement the book had matched; the book is rebuilt from its journal');
            }
            throw new SettlementRefused();
          }
          await this.writeUnits(tx as unknown as ExchangeExecutor, funded.map((i) => units[i]!), tx);
          return refused;
        });
        for (const i of live) {
          const refusal = refusedFunds.get(i);
          if (refusal !== undefined) outcomes[i] = { ok: false, error: refusal };
          else {
            outcomes[i] = { ok: true, value: units[i]!.outcome };
            this.afterCommit(units[i]!);
          }
        }
        if (this.pokeAfterCommit) {
          this.pokeAfterCommit = false;
          this.o.events.poke();
        }
        return outcomes;
      } catch (error) {
        this.pokeAfterCommit = false;
        if (error instanceof FencedError && applied.size === 0) {
          // Checked before anything was applied: the fenced book goes, the rest is tried again.
          const symbol = error.market.slice(EXCHANGE_MARKET.length + 1);
          this.o.logger.warn({ symbol, token: error.token }, 'another engine owns this book now; it is dropped here');
          this.drop(symbol);
          continue;
        }
        const retryable = RETRYABLE_PG_CODES.has((error as { code?: string }).code ?? '');
        // A deadlock or serialization failure (PostgreSQL): the markets the attempt changed are
        // put back as their journals have them, and the whole group is tried again. (Holds are
        // locked before matching and the counterparties' accounts after, so another ledger
        // transaction can deadlock with a group now and then.)
        if (retryable && attempt < MAX_ATTEMPTS && (await this.restoreAll(applied))) continue;
        // Nothing of the group was written. Markets the rolled-back transaction changed are
        // rebuilt from their journals; the others are as they were.
        if (!(error instanceof SettlementRefused)) this.o.logger.error({ err: error, rebuilt: [...applied].map((b) => b.symbol) }, 'an exchange commit failed; nothing of it was written');
        const refusal = error instanceof SettlementRefused || retryable ? new AppError('NOT_READY', 'the book is being rebuilt; nothing of this command was kept; send it again') : error;
        for (const book of applied) this.breakBook(book);
        for (const i of live) outcomes[i] = { ok: false, error: refusal };
        return outcomes;
      }
    }
  }

  /** Puts back the markets a failed attempt changed; false when one could not be (it is then rebuilt). */
  private async restoreAll(books: ReadonlySet<Book>): Promise<boolean> {
    try {
      for (const book of books) if (!(await this.restore(book, book.market.instrument))) return false;
      return true;
    } catch (error) {
      this.o.logger.error({ err: error }, 'putting a book back after a failed commit failed');
      return false;
    }
  }

  /**
   * The fencing token of each book with units in the group. A book whose lease this engine no
   * longer holds is dropped (its units are then refused unwritten).
   */
  private tokensOf(units: readonly CommitUnit[]): Map<Book, number> {
    const tokens = new Map<Book, number>();
    for (const u of units) {
      if (u.epoch === -1 || u.book.dropped || tokens.has(u.book)) continue;
      const token = this.o.host.tokenOf(EXCHANGE_MARKET, u.book.symbol);
      if (typeof token === 'number') tokens.set(u.book, token);
      else this.drop(u.book.symbol);
    }
    return tokens;
  }

  private async writeUnits(ex: ExchangeExecutor, units: readonly CommitUnit[], tx: import('kysely').Kysely<any>): Promise<void> {
    const entries: Array<{ symbol: string; entry: ChainEntry }> = [];
    const orders: StoredOrder[] = [];
    const trades: Array<{ symbol: string; trade: Trade }> = [];
    const candles: Array<{ symbol: string; candle: Candle }> = [];
    const statuses: Array<{ symbol: string; status: Instrument['status'] }> = [];
    for (const u of units) {
      if (u.entry) entries.push({ symbol: u.book.symbol, entry: u.entry });
      for (const o of u.outcome.orders) orders.push(storedOf(u.book.symbol, o));
      for (const t of u.outcome.trades) trades.push({ symbol: u.book.symbol, trade: t });
      for (const c of u.candles) candles.push({ symbol: u.book.symbol, candle: c });
      if (u.entry && (u.entry.type === 'halt' || u.entry.type === 'resume')) statuses.push({ symbol: u.book.symbol, status: u.entry.type === 'halt' ? 'halted' : 'trading' });
    }
    await this.o.store.appendJournal(ex, entries);
    await this.o.store.upsertOrders(ex, orders);
    await this.o.store.insertTrades(ex, trades);
    await this.o.store.upsertCandles(ex, lastPerMinute(candles));
    for (const s of statuses) await this.o.store.setInstrumentStatus(ex, s.symbol, s.status);
    for (const u of units) {
      for (const t of u.outcome.trades) await this.o.events.append(tx, tradeEventOf(u.book.market.instrument, t));
    }
    if (trades.length > 0) this.pokeAfterCommit = true;
  }

  private afterCommit(unit: CommitUnit): void {
    if (!unit.entry) return;
    const book = unit.book;
    const prevDepthSeq = book.lastDepthSeq;
    if (unit.outcome.depth.length > 0) book.lastDepthSeq = unit.entry.seq;
    const committed: Committed = { symbol: book.symbol, seq: unit.entry.seq, prevDepthSeq, outcome: unit.outcome, instrument: book.market.instrument };
    for (const listener of this.listeners) {
      try {
        listener(committed);
      } catch (error) {
        this.o.logger.error({ err: error, symbol: book.symbol }, 'an exchange listener failed');
      }
    }
  }

  // --- rebuilding -----------------------------------------------------------------------------

  private async load(instrument: Instrument): Promise<void> {
    const book: Book = { symbol: instrument.symbol, market: new Market(instrument), lastHash: GENESIS_HASH, epoch: 0, broken: true, rebuilding: null, candle: null, lastDepthSeq: 0, dropped: false };
    this.books.set(instrument.symbol, book);
    await this.fence(book);
    await this.rebuild(book, instrument);
  }

  /**
   * Scaled out, a book taken from another engine is fenced in storage BEFORE its journal is
   * read: a commit of the previous owner either finished before (and is in the journal read
   * next) or is refused, so the rebuilt book, and the sweep of holds it does not back, miss
   * nothing that was written.
   */
  private async fence(book: Book): Promise<void> {
    const token = this.o.host.tokenOf(EXCHANGE_MARKET, book.symbol);
    if (token === null) return;
    if (token === undefined) throw new BookMoved(book.symbol);
    await this.o.store.db.transaction().execute((tx) => checkFence(tx, marketOf(book.symbol), token, this.o.clock.nowMs()));
  }

  /**
   * Puts the book back as its journal has it (the market, the chain's last hash, the candle);
   * false when the book moved to another engine meanwhile (then it is left alone).
   */
  private async restore(book: Book, instrument: Instrument): Promise<boolean> {
    const entries = await this.o.store.readJournal(this.o.store.db, book.symbol);
    const check = verifyChain(entries);
    if (!check.ok) throw new Error(`journal of ${book.symbol} is broken at seq ${check.seq}: ${check.reason}`);
    const market = marketFromJournal(instrument, entries);
    const candle = (await this.o.store.latestCandle(this.o.store.db, book.symbol)) ?? null;
    if (book.dropped) return false;
    book.market = market;
    book.lastHash = check.lastHash;
    book.candle = candle;
    return true;
  }

  /**
   * The book as its journal has it; then a sweep of the holds it no longer backs. Trading
   * resumes at once (the sweep commits in order behind it); the promise settles after the
   * sweep, so at start holds of orders lost in a crash are back before the node is ready.
   */
  private async rebuild(book: Book, instrument: Instrument): Promise<void> {
    if (!(await this.restore(book, instrument))) return; // moved to another engine meanwhile: nothing to serve here
    book.lastDepthSeq = book.market.seq;
    book.epoch += 1;
    book.broken = false;
    // Holds the rebuilt book stands behind.
    const keep = new Set([...book.market.open.values()].map((o) => o.holdRef));
    await this.committer.submit(markerUnit(book, book.epoch, { keep, cutoffId: uuidv7(this.o.clock.nowMs()) })).catch((error: unknown) => {
      this.o.logger.warn({ err: error, symbol: book.symbol }, 'sweeping unused holds failed; it runs again at the next start');
    });
  }

  private breakBook(book: Book): void {
    if (book.broken) return;
    book.broken = true;
    book.rebuilding = this.rebuild(book, book.market.instrument)
      .catch((error: unknown) => {
        if (!this.o.host.leased || book.dropped) return this.o.logger.error({ err: error, symbol: book.symbol }, 'rebuilding the book failed; it stays stopped until the next start');
        // Scaled out, the lease goes back: the next rescan places the book again (here or elsewhere).
        this.o.logger.error({ err: error, symbol: book.symbol }, 'rebuilding the book failed; its lease is given back');
        this.drop(book.symbol);
        this.o.host.finished(EXCHANGE_MARKET, book.symbol);
      })
      .finally(() => {
        book.rebuilding = null;
      });
  }

  /**
   * Releases pending holds of this book that no order stands behind (see the header): an order's
   * hold that never reached the book, an amendment's extra hold that was never applied (data of
   * versions that placed holds in a commit of their own). Holds made after the rebuild (ids from
   * `cutoffId` on) are left alone.
   */
  private async sweepOps(book: Book, sweep: { keep: Set<string>; cutoffId: string }, tx: LedgerExecutor): Promise<LedgerOp[]> {
    const ops: LedgerOp[] = [];
    for (const hold of await this.o.ledger.pendingHoldsOwnedBy(ownerOf(book.symbol), tx)) {
      const parsed = /^xo:([0-9a-f-]{36}):(?:h\d+|amend:([0-9a-f-]{36}))$/.exec(hold.ref);
      if (!parsed) continue;
      const orderId = parsed[1]!;
      if ((parsed[2] ?? orderId) >= sweep.cutoffId || sweep.keep.has(hold.ref)) continue;
      if (book.market.open.get(orderId)?.holdRef === hold.ref) continue;
      ops.push({ type: 'release', ref: `${hold.ref}/release`, holdId: hold.id, memo: 'order never reached the book' });
    }
    if (ops.length > 0) this.o.logger.info({ symbol: book.symbol, holds: ops.length }, 'released holds of orders that never reached the book');
    return ops;
  }

  // --- helpers --------------------------------------------------------------------------------

  private bookOf(symbol: string): Book {
    const book = this.books.get(symbol);
    // Scaled out, the service found the instrument listed: it is another engine's (or moving).
    if (!book) throw this.o.host.leased ? new BookMoved(symbol) : new AppError('NOT_FOUND', `no instrument ${symbol}`);
    return book;
  }

  private assertRunning(book: Book): void {
    if (this.stopped) throw new AppError('NOT_READY', 'the exchange is stopping');
    if (book.dropped) throw new BookMoved(book.symbol);
    if (book.broken) throw new AppError('NOT_READY', `the ${book.symbol} book is being rebuilt; try again in a moment`);
  }
}

type OrderIdentity = { symbol: string; side: Side; type: string; timeInForce: string; postOnly: boolean };

/**
 * A repeated client order id must name the same order. Price and quantity are left out: an
 * amendment changes them, and a retry sent after an amendment is still a retry.
 */
function assertSameOrder(clientOrderId: string, first: OrderIdentity, again: OrderIdentity): void {
  const differs = (['symbol', 'side', 'type', 'timeInForce', 'postOnly'] as const).filter((k) => first[k] !== again[k]);
  if (differs.length > 0) {
    throw new AppError('CLIENT_ORDER_ID_REUSED', `clientOrderId ${clientOrderId} was used for another order (its ${differs.join(', ')} differ): choose a new id for a new order`, { errors: [{ in: 'body', field: 'clientOrderId', message: 'names a different order' }] });
  }
}

/** A market as its journal has it (halts and resumes included). */
function marketFromJournal(instrument: Instrument, entries: readonly ChainEntry[]): Market {
  return replayMarket({ ...instrument, status: 'trading' }, entries.map((e) => decodePayload<MarketCommand>(e.payload)));
}

function ownerOf(symbol: string): string {
  return `exchange:${symbol}`;
}

/** The book's market key: its lease, its fence, its router subject. */
export function marketOf(symbol: string): string {
  return `${EXCHANGE_MARKET}.${symbol}`;
}

function emptyOutcome(): Outcome {
  return { rejection: null, trades: [], orders: [], movements: [], depth: [] };
}

function storedOf(symbol: string, o: MarketOrder): StoredOrder {
  const { holdRef: _h, heldMinor: _m, holdVersion: _v, ...rest } = o;
  return { ...rest, symbol };
}

/** The last state of each (symbol, minute) in a group: one row each. */
function lastPerMinute(candles: ReadonlyArray<{ symbol: string; candle: Candle }>): Array<{ symbol: string; candle: Candle }> {
  const latest = new Map<string, { symbol: string; candle: Candle }>();
  for (const c of candles) latest.set(`${c.symbol}\n${c.candle.minuteMs}`, c);
  return [...latest.values()];
}

/** A fill, for both parties' notifications. */
function tradeEventOf(i: Instrument, t: Trade): NewEvent {
  return {
    topic: 'exchange.trade.executed',
    key: i.symbol,
    payload: {
      tradeId: t.id,
      symbol: i.symbol,
      base: i.base,
      quote: i.quote,
      price: formatAmount(BigInt(t.priceTicks) * i.tickMinor, i.quoteScale),
      quantity: formatAmount(BigInt(t.qtyLots) * i.lotMinor, i.baseScale),
      takerSide: t.takerSide,
      makerUserId: t.makerUserId,
      makerOrderId: t.makerOrderId,
      makerFee: formatAmount(t.makerFeeMinor, i.quoteScale),
      takerUserId: t.takerUserId,
      takerOrderId: t.takerOrderId,
      takerFee: formatAmount(t.takerFeeMinor, i.quoteScale),
      atMs: t.atMs,
    },
  };
}

export type { Side };
