// The auction engine: the one writer of every auction it holds (DESIGN rule 2). Commands for
// an auction run one after another against its in-memory state; commands for different
// auctions share commits. For each accepted command, in ONE transaction: the ledger holds and
// releases its events call for, the journal entries (hash-chained), and the discovery
// projection. Only after that commit does the caller hear "accepted" and the room see the
// events (rule 3). A restart rebuilds every unfinished auction from its journal, re-arms its
// timers, closes those whose end passed while the process was down, and finishes any
// settlement a crash interrupted (settlement is idempotent through ledger refs).
//
// Scaled out (docs/cluster.md), an engine holds only the auctions whose lease it holds: the
// market host tells it to `take` one (rebuild it from its journal, exactly as at a restart)
// or `drop` it, and every commit carries the lease's fencing token, checked in the same
// transaction, so an engine that lost an auction without knowing it cannot write to it.
import type { Logger } from '../platform/logging.js';
import type { Clock } from '../platform/clock.js';
import { AppError, type ProblemCode } from '../platform/errors.js';
import { BatchCommitter, type Outcome } from '../platform/db/batch-commit.js';
import { GENESIS_HASH, decodePayload, encodePayload, entryHash, verifyChain, type ChainEntry } from '../platform/journal/hash-chain.js';
import { formatAmount } from '../platform/money.js';
import { available } from '../ledger/model.js';
import type { LedgerOp, LedgerService } from '../ledger/service.js';
import type { LedgerExecutor } from '../ledger/store.js';
import {
  decide,
  evolveAll,
  initialState,
  publicView,
  replay,
  settlementOf,
  type AuctionCommand,
  type AuctionEvent,
  type AuctionState,
  type PublicView,
  type Rejection,
} from './model.js';
import type { AuctionProjection, AuctionRow, AuctionsExecutor, AuctionsStore } from './store.js';
import type { EventPublisher } from '../platform/outbox/bus.js';
import { checkFence, FencedError } from '../cluster/fences.js';
import type { MarketHost } from '../cluster/market-host.js';
import type { NewEvent } from '../platform/outbox/outbox.js';

/** Auctions are leased as `auction.<id>` (docs/cluster.md). */
export const AUCTION_MARKET = 'auction';
/** setTimeout's limit; longer waits re-arm in steps. */
const MAX_TIMER_MS = 2_147_483_647;
const RETRYABLE_PG_CODES = new Set(['40P01', '40001']);
const MAX_ATTEMPTS = 5;

/** A refusal from the auction's rules, as an AppError the edge turns into problem+json. */
export class AuctionRejected extends AppError {
  constructor(readonly rejection: Rejection) {
    // The rules name amounts in minor units (amountMinor); the request's field is `amount`.
    super(rejection.code as ProblemCode, rejection.detail, rejection.field ? { errors: [{ in: 'body', field: rejection.field.replace(/Minor$/, ''), message: rejection.detail }] } : {});
  }
}

/** What listeners hear after a commit: the events and the state they led to. */
export type AuctionListener = (auctionId: string, events: readonly AuctionEvent[], state: AuctionState) => void;
/** Called after an auction's settlement committed. */
export type SettlementListener = (auctionId: string, state: AuctionState, row: AuctionRow) => void;

interface Market {
  id: string;
  row: AuctionRow;
  state: AuctionState;
  lastHash: string;
  /** The room's view as of the last commit (reads never see a command still committing). */
  view: PublicView;
  tail: Promise<unknown>;
  timer: NodeJS.Timeout | undefined;
  settling: Promise<void> | undefined;
  /** A commit failed and the journal could not be read back: `state` may hold events that never committed. */
  stale?: boolean;
}

interface CommitUnit {
  auctionId: string;
  ops: LedgerOp[];
  entries: ChainEntry[];
  projection: AuctionProjection;
  insert?: AuctionRow;
  /** Outbox events that commit with the command (outbid notices). */
  outbox: NewEvent[];
}

export interface EngineOptions {
  store: AuctionsStore;
  ledger: LedgerService;
  clock: Clock;
  logger: Logger;
  /** House commission on a sale, in basis points of the price. */
  commissionBps: number;
  /** Where outbid and settlement events go (the transactional outbox). */
  events: EventPublisher;
  /** Which auctions this process serves: all of them in one process, the leased ones scaled out. */
  host: MarketHost;
}

export class AuctionEngine {
  private readonly markets = new Map<string, Market>();
  private readonly committer: BatchCommitter<CommitUnit, void>;
  private readonly listeners: AuctionListener[] = [];
  private readonly settlementListeners: SettlementListener[] = [];
  private stopped = false;
  private pokeAfterCommit = false;

  constructor(private readonly o: EngineOptions) {
    this.committer = new BatchCommitter((units) => this.commitUnits(units));
  }

  onEvents(listener: AuctionListener): void {
    this.listeners.push(listener);
  }

  onSettled(listener: SettlementListener): void {
    this.settlementListeners.push(listener);
  }

  /** Rebuilds every unfinished auction from its journal; scaled out, the market host says which (take). */
  async start(): Promise<void> {
    if (this.o.host.leased) return;
    for (const row of await this.o.store.listUnfinished(this.o.store.db)) {
      try {
        await this.load(row);
      } catch (error) {
        this.o.logger.error({ err: error, auctionId: row.id }, 'auction could not be rebuilt from its journal; it stays stopped');
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const m of this.markets.values()) clearTimeout(m.timer);
    await Promise.allSettled([...this.markets.values()].flatMap((m) => [m.tail, m.settling]));
  }

  /** Scaled out: this engine now holds the auction's lease; rebuild it from its journal. */
  async take(auctionId: string): Promise<void> {
    if (this.stopped || this.markets.has(auctionId)) return;
    // Fenced BEFORE anything is read: a commit of the previous owner either landed before (and
    // is read next) or is refused, so the rebuilt auction misses nothing that was written.
    const token = this.o.host.tokenOf(AUCTION_MARKET, auctionId);
    if (token === undefined) throw notHere(auctionId);
    if (token !== null) await this.o.store.db.transaction().execute((tx) => checkFence(tx, `${AUCTION_MARKET}.${auctionId}`, token, this.o.clock.nowMs()));
    const row = await this.o.store.findAuction(this.o.store.db, auctionId);
    // Settled meanwhile (or never written): nothing to serve; the lease goes back.
    if (!row || row.settledAtMs !== null) return this.o.host.finished(AUCTION_MARKET, auctionId);
    await this.load(row);
  }

  /** Scaled out: the lease is gone; stop serving the auction at once (its timer too). */
  drop(auctionId: string): void {
    const market = this.markets.get(auctionId);
    if (!market) return;
    clearTimeout(market.timer);
    this.markets.delete(auctionId);
  }

  /** The in-memory state, for reads; undefined when this engine does not hold the auction. */
  stateOf(auctionId: string): AuctionState | undefined {
    return this.markets.get(auctionId)?.state;
  }

  viewOf(auctionId: string): PublicView | undefined {
    return this.markets.get(auctionId)?.view;
  }

  rowOf(auctionId: string): AuctionRow | undefined {
    return this.markets.get(auctionId)?.row;
  }

  /** Every auction this engine holds: running, or over and not yet settled (for reads). */
  *held(): IterableIterator<{ row: AuctionRow; state: AuctionState; view: PublicView }> {
    for (const m of this.markets.values()) yield { row: m.row, state: m.state, view: m.view };
  }

  /** Creates an auction: its row and its first journal entry commit together. */
  async create(row: AuctionRow, command: Extract<AuctionCommand, { type: 'create' }>): Promise<AuctionState> {
    // Scaled out, the new auction's lease is this engine's before anything of it is written.
    await this.o.host.claim(AUCTION_MARKET, row.id);
    const nowMs = this.o.clock.nowMs();
    const decision = decide(initialState(), command, { nowMs });
    if (!decision.ok) throw new AuctionRejected(decision.rejection);
    const state = evolveAll(initialState(), decision.events);
    const entries = chainOf(GENESIS_HASH, decision.events);
    const lastHash = entries.at(-1)!.hash;
    const projection = projectionOf(state, lastHash);
    const full: AuctionRow = { ...row, ...projection };
    try {
      await this.committer.submit({ auctionId: row.id, ops: [], entries, projection, insert: full, outbox: [] });
    } catch (error) {
      this.o.host.finished(AUCTION_MARKET, row.id);
      throw error;
    }
    const market = this.adopt(full, state, lastHash);
    this.o.host.serve(AUCTION_MARKET, row.id);
    this.announce(market, decision.events);
    this.arm(market);
    return state;
  }

  /** Runs a command on its auction after the ones before it; resolves with the events once committed. */
  submit(auctionId: string, command: AuctionCommand): Promise<AuctionEvent[]> {
    const market = this.markets.get(auctionId);
    if (!market) return Promise.reject(new AppError('NOT_FOUND', `no running auction ${auctionId}`));
    const run = market.tail.then(() => this.run(market, command));
    market.tail = run.catch(() => {});
    return run;
  }

  private async run(market: Market, command: AuctionCommand): Promise<AuctionEvent[]> {
    if (this.stopped) throw new AppError('NOT_READY', 'the auction engine is stopping');
    if (this.markets.get(market.id) !== market) throw notHere(market.id);
    if (market.stale) {
      await this.rebuild(market);
      market.stale = false;
    }
    const nowMs = this.o.clock.nowMs();
    const decision = decide(market.state, command, { nowMs });
    if (!decision.ok) throw new AuctionRejected(decision.rejection);
    const events = decision.events;
    if (events.length === 0) return [];
    const ops = await this.ledgerOpsOf(market, command, events);
    const entries = chainOf(market.lastHash, events);
    // The state moves first (in place: copying a big room per bid would cost more than the
    // rare rebuild below); the room's view moves only after the commit.
    evolveAll(market.state, events);
    const lastHash = entries.at(-1)!.hash;
    const projection = projectionOf(market.state, lastHash);
    try {
      await this.committer.submit({ auctionId: market.id, ops, entries, projection, outbox: outbidEventsOf(market, events) });
    } catch (error) {
      // The state moved ahead of a commit that failed: read it back from the journal, or, with
      // storage down, mark it stale so the next command reads it back before it decides.
      await this.rebuild(market).catch(() => (market.stale = true));
      throw error;
    }
    market.lastHash = lastHash;
    Object.assign(market.row, projection);
    this.announce(market, events);
    this.arm(market);
    if (market.state.status === 'closed' || market.state.status === 'cancelled') void this.settle(market);
    return events;
  }

  /**
   * The ledger movements a command's events call for: releases first, then holds, in one
   * batch (atomic, so money is never unprotected in between, and a leader raising their own
   * maximum needs only the difference available). Funds are checked here so a short bidder
   * is refused before anything moves; the ledger checks again under its locks.
   */
  private async ledgerOpsOf(market: Market, command: AuctionCommand, events: readonly AuctionEvent[]): Promise<LedgerOp[]> {
    const currency = market.row.currency;
    const releases: LedgerOp[] = [];
    const holds: LedgerOp[] = [];
    const releasedFor = new Map<string, bigint>();
    for (const e of events) {
      if (e.type === 'HoldReleased') {
        releases.push({ type: 'release', ref: `${e.ref}/release`, holdRef: e.ref, memo: 'outbid' });
        releasedFor.set(e.bidderId, (releasedFor.get(e.bidderId) ?? 0n) + e.amountMinor);
      }
    }
    for (const e of events) {
      if (e.type !== 'HoldRequired') continue;
      const wallet = await this.o.ledger.walletOf(e.bidderId, currency);
      if (!wallet || wallet.closed) throw new AppError('INSUFFICIENT_FUNDS', `you have no open ${currency} wallet: open one and top it up to bid`);
      const spendable = available(wallet) + (releasedFor.get(e.bidderId) ?? 0n);
      if (spendable < e.amountMinor) {
        throw new AppError('INSUFFICIENT_FUNDS', `this bid needs ${this.money(market, e.amountMinor)} available in your ${currency} wallet; you have ${this.money(market, spendable)}`);
      }
      holds.push({ type: 'hold', ref: e.ref, accountId: wallet.id, currency, amountMinor: e.amountMinor, owner: `auction:${market.id}`, memo: `bid on auction ${market.id}` });
    }
    // A bid that does not take the lead places no hold; its bidder must still be able to pay it.
    if (command.type === 'bid' && holds.length === 0) {
      const wallet = await this.o.ledger.walletOf(command.bidderId, currency);
      const spendable = wallet && !wallet.closed ? available(wallet) + (releasedFor.get(command.bidderId) ?? 0n) : 0n;
      if (spendable < command.amountMinor) throw new AppError('INSUFFICIENT_FUNDS', `this bid needs ${this.money(market, command.amountMinor)} available in your ${currency} wallet; you have ${this.money(market, spendable)}`);
    }
    return [...releases, ...holds];
  }

  private money(market: Market, minor: bigint): string {
    return `${formatAmount(minor, this.o.ledger.currency(market.row.currency)?.scale ?? 0)} ${market.row.currency}`;
  }

  /**
   * One transaction for the commands of many auctions; each keeps its own outcome. Scaled out,
   * an auction whose lease is no longer held fails alone (NOT_READY, before the transaction),
   * and one fenced inside it (another engine took it meanwhile) is dropped and the others retry.
   */
  private async commitUnits(units: CommitUnit[]): Promise<Outcome<void>[]> {
    const outcomes: Array<Outcome<void> | undefined> = units.map(() => undefined);
    const tokens = units.map((u) => this.o.host.tokenOf(AUCTION_MARKET, u.auctionId));
    tokens.forEach((token, i) => {
      if (token === undefined) outcomes[i] = { ok: false, error: notHere(units[i]!.auctionId) };
    });
    for (let attempt = 1; ; attempt++) {
      const pending = units.flatMap((_, i) => (outcomes[i] === undefined ? [i] : []));
      if (pending.length === 0) return outcomes as Outcome<void>[];
      try {
        const done = await this.commitSome(pending.map((i) => units[i]!), pending.map((i) => tokens[i]!));
        pending.forEach((i, k) => (outcomes[i] = done[k]));
        return outcomes as Outcome<void>[];
      } catch (error) {
        if (error instanceof FencedError) {
          const auctionId = error.market.slice(AUCTION_MARKET.length + 1);
          this.o.logger.warn({ auctionId, token: error.token }, 'another engine owns this auction now; it is dropped here');
          this.drop(auctionId);
          pending.forEach((i) => {
            if (units[i]!.auctionId === auctionId) outcomes[i] = { ok: false, error: notHere(auctionId) };
          });
          continue;
        }
        const retryable = RETRYABLE_PG_CODES.has((error as { code?: string }).code ?? '');
        if (!retryable || attempt >= MAX_ATTEMPTS) throw error;
      }
    }
  }

  private async commitSome(units: CommitUnit[], tokens: Array<number | null>): Promise<Outcome<void>[]> {
    return await this.o.store.db.transaction().execute(async (tx) => {
      const nowMs = this.o.clock.nowMs();
      for (let i = 0; i < units.length; i++) {
        const token = tokens[i];
        if (token !== null && token !== undefined) await checkFence(tx, `${AUCTION_MARKET}.${units[i]!.auctionId}`, token, nowMs);
      }
      const ledgerOutcomes = await this.o.ledger.executeEach(
        units.map((u) => u.ops),
        tx as unknown as LedgerExecutor,
      );
      const outcomes: Outcome<void>[] = [];
      for (let i = 0; i < units.length; i++) {
        const unit = units[i]!;
        const money = ledgerOutcomes[i]!;
        if (!money.ok) {
          outcomes.push(money);
          continue;
        }
        if (unit.insert) await this.o.store.insertAuction(tx, unit.insert);
        else await this.o.store.project(tx, unit.auctionId, unit.projection);
        await this.o.store.appendJournal(tx, unit.auctionId, unit.entries);
        for (const event of unit.outbox) await this.o.events.append(tx, event);
        outcomes.push({ ok: true, value: undefined });
      }
      if (units.some((u) => u.outbox.length > 0)) this.pokeAfterCommit = true;
      return outcomes;
    }).finally(() => {
      if (this.pokeAfterCommit) {
        this.pokeAfterCommit = false;
        this.o.events.poke();
      }
    });
  }

  // --- settlement ---------------------------------------------------------------------------

  /**
   * Once, whatever happens: the winner's hold is captured to the seller's wallet, the house
   * commission moves from there to revenue, every other hold is released, and the auction is
   * marked settled — all in one transaction, every movement under a fixed ref, so a settlement
   * interrupted by a crash is finished at the next start without paying anything twice.
   */
  private settle(market: Market): Promise<void> {
    market.settling ??= (async () => {
      try {
        await market.tail;
        const settlement = settlementOf(market.state);
        if (!settlement || market.row.settledAtMs !== null) return;
        const currency = market.row.currency;
        const ops: LedgerOp[] = settlement.release.map((h) => ({ type: 'release', ref: `${h.ref}/release`, holdRef: h.ref, memo: `auction ${market.id} ${settlement.outcome}` }));
        if (settlement.outcome === 'sold' && settlement.capture) {
          const { account: sellerWallet } = await this.o.ledger.openWallet(market.row.sellerId, currency);
          const revenue = await this.o.ledger.systemAccount('house_revenue', currency);
          const price = settlement.priceMinor;
          ops.push({ type: 'capture', ref: `auction:${market.id}:settle`, holdRef: settlement.capture.ref, toAccountId: sellerWallet.id, amountMinor: price, memo: `auction ${market.id} sold` });
          const commission = (price * BigInt(this.o.commissionBps)) / 10_000n;
          if (commission > 0n) {
            ops.push({ type: 'transfer', ref: `auction:${market.id}:commission`, debitAccountId: sellerWallet.id, creditAccountId: revenue.id, currency, amountMinor: commission, owner: `auction:${market.id}`, memo: `commission ${this.o.commissionBps} bps on auction ${market.id}` });
          }
        }
        const nowMs = this.o.clock.nowMs();
        const token = this.o.host.tokenOf(AUCTION_MARKET, market.id);
        if (token === undefined) return; // no longer ours: the new owner settles it
        await this.o.store.db.transaction().execute(async (tx) => {
          if (token !== null) await checkFence(tx, `${AUCTION_MARKET}.${market.id}`, token, nowMs);
          await this.o.ledger.execute(ops, tx as unknown as LedgerExecutor);
          await this.o.store.markSettled(tx as AuctionsExecutor, market.id, nowMs);
          await this.o.events.append(tx, settledEventOf(market, this.o.ledger.currency(currency)?.scale ?? 0));
        });
        this.o.events.poke();
        market.row.settledAtMs = nowMs;
        this.markets.delete(market.id);
        this.o.host.finished(AUCTION_MARKET, market.id);
        for (const listener of this.settlementListeners) listener(market.id, market.state, market.row);
      } catch (error) {
        this.o.logger.error({ err: error, auctionId: market.id }, 'settling the auction failed; it is retried at the next start');
        market.settling = undefined;
      }
    })();
    return market.settling;
  }

  /** Waits for an auction's settlement (tests and shutdown). */
  async settled(auctionId: string): Promise<void> {
    const market = this.markets.get(auctionId);
    if (market?.settling) await market.settling;
  }

  // --- timers ---------------------------------------------------------------------------------

  private arm(market: Market): void {
    clearTimeout(market.timer);
    market.timer = undefined;
    if (this.stopped) return;
    const { state } = market;
    const config = state.config!;
    let dueMs: number | null = null;
    let command: AuctionCommand | null = null;
    if (state.status === 'scheduled' && config.kind === 'timed') {
      dueMs = config.startsAtMs;
      command = { type: 'open', byUserId: null };
    } else if (state.status === 'open' && state.endsAtMs !== null) {
      dueMs = state.endsAtMs;
      command = { type: 'close' };
    }
    if (dueMs === null || command === null) return;
    const waitMs = Math.max(0, dueMs - this.o.clock.nowMs());
    market.timer = setTimeout(() => {
      market.timer = undefined;
      if (waitMs > MAX_TIMER_MS) return this.arm(market);
      this.submit(market.id, command).then(
        () => undefined,
        (error: unknown) => {
          // Not due yet (the clock moved back, or an extension came first): look again.
          if (error instanceof AuctionRejected && error.rejection.code === 'AUCTION_NOT_DUE') this.arm(market);
          else if (!(error instanceof AuctionRejected)) this.o.logger.error({ err: error, auctionId: market.id }, 'auction timer command failed');
        },
      );
    }, Math.min(waitMs, MAX_TIMER_MS));
    market.timer.unref();
  }

  /**
   * Tests drive time with a manual clock: this runs every timer that is due now, and returns
   * once every command under way has committed. A refusal, or an auction already settled and
   * gone, is expected (the real timer got there first); any other failure is thrown, not hidden.
   */
  async fireDueTimers(): Promise<void> {
    const nowMs = this.o.clock.nowMs();
    const due: Promise<unknown>[] = [];
    for (const market of this.markets.values()) {
      const { state } = market;
      const refusalsOnly = (error: unknown) => {
        if (!(error instanceof AuctionRejected) && this.markets.get(market.id) === market) throw error;
      };
      if (state.status === 'scheduled' && state.config!.kind === 'timed' && state.config!.startsAtMs <= nowMs) due.push(this.submit(market.id, { type: 'open', byUserId: null }).catch(refusalsOnly));
      else if (state.status === 'open' && state.endsAtMs !== null && state.endsAtMs <= nowMs) due.push(this.submit(market.id, { type: 'close' }).catch(refusalsOnly));
    }
    await Promise.all(due);
    // A real timer may have fired first: its command moved the state (in place, before its
    // commit), so nothing was submitted here for that auction; wait for its commit too.
    await Promise.all([...this.markets.values()].map((m) => m.tail));
    await Promise.all([...this.markets.values()].map((m) => m.settling));
  }

  // --- rebuilding -----------------------------------------------------------------------------

  private async load(row: AuctionRow): Promise<void> {
    const entries = await this.o.store.readJournal(this.o.store.db, row.id);
    const check = verifyChain(entries);
    if (!check.ok) throw new Error(`journal of auction ${row.id} is broken at seq ${check.seq}: ${check.reason}`);
    const state = replay(entries.map(eventOf));
    const market = this.adopt(row, state, check.lastHash);
    if (state.status === 'closed' || state.status === 'cancelled') void this.settle(market);
    // An end that passed while the process was down fires at once: no bid can have been
    // accepted after it, so the winner is the leader the journal shows.
    else this.arm(market);
  }

  /**
   * After a failed commit: the state and the head of the chain as the journal has them. Both,
   * because a commit can land although its caller saw an error (a connection lost on COMMIT);
   * chaining the next entries from a stale head would break the journal.
   */
  private async rebuild(market: Market): Promise<void> {
    const entries = await this.o.store.readJournal(this.o.store.db, market.id);
    market.state = replay(entries.map(eventOf));
    market.lastHash = entries.at(-1)?.hash ?? GENESIS_HASH;
  }

  private adopt(row: AuctionRow, state: AuctionState, lastHash: string): Market {
    const market: Market = { id: row.id, row, state, lastHash, view: publicView(state, this.o.clock.nowMs()), tail: Promise.resolve(), timer: undefined, settling: undefined };
    this.markets.set(row.id, market);
    return market;
  }

  private announce(market: Market, events: readonly AuctionEvent[]): void {
    market.view = publicView(market.state, this.o.clock.nowMs());
    // The room hears it after the bidder's answer has gone out (DESIGN: reply, then publish):
    // a broadcast to thousands of sockets must not delay the acknowledgement. setImmediate
    // keeps the order of announcements.
    setImmediate(() => {
      for (const listener of this.listeners) {
        try {
          listener(market.id, events, market.state);
        } catch (error) {
          this.o.logger.error({ err: error, auctionId: market.id }, 'an auction listener failed');
        }
      }
    });
  }
}

/** A command for an auction this engine does not (or no longer) serve: retry, it reaches the owner. */
function notHere(auctionId: string): AppError {
  return new AppError('NOT_READY', `auction ${auctionId} is moving to another engine; retry shortly`);
}

/** Someone lost the lead: they hear it privately (notification, WebSocket). */
function outbidEventsOf(market: Market, events: readonly AuctionEvent[]): NewEvent[] {
  const scale = market.state.config!.currencyScale;
  const out: NewEvent[] = [];
  for (const e of events) {
    if (e.type !== 'BidAccepted' || e.outbid?.source !== 'online') continue;
    out.push({
      topic: 'auctions.bid.outbid',
      key: e.outbid.bidderId,
      payload: { auctionId: market.id, title: market.row.title, userId: e.outbid.bidderId, price: formatAmount(e.priceMinor, scale), currency: market.row.currency, seq: e.seq },
    });
  }
  return out;
}

/**
 * The end of a sale, for everyone it concerns: the winner, the seller and every other
 * participant (notifications), and reputation. Written in the settlement's transaction.
 */
function settledEventOf(market: Market, scale: number): NewEvent {
  const { state, row } = market;
  const winnerId = state.outcome === 'sold' && state.leader?.bidder.source === 'online' ? state.leader.bidder.bidderId : null;
  return {
    topic: 'auctions.auction.settled',
    key: market.id,
    payload: {
      auctionId: market.id,
      lotId: row.lotId,
      title: row.title,
      sellerId: row.sellerId,
      outcome: state.status === 'cancelled' ? 'cancelled' : (state.outcome ?? 'unsold'),
      winnerId,
      floorWinner: state.outcome === 'sold' && state.leader?.bidder.source === 'floor',
      price: state.outcome === 'sold' && state.priceMinor !== null ? formatAmount(state.priceMinor, scale) : null,
      currency: row.currency,
      participants: Object.keys(state.participants),
      cancelledBy: state.cancellation ? (state.cancellation.byAdmin ? 'admin' : 'seller') : null,
    },
  };
}

/** Journal entries for events, chained from `prevHash`. */
export function chainOf(prevHash: string, events: readonly AuctionEvent[]): ChainEntry[] {
  const out: ChainEntry[] = [];
  for (const event of events) {
    const entry = { seq: event.seq, atMs: event.atMs, type: event.type, payload: encodePayload(event) };
    const hash = entryHash(prevHash, entry);
    out.push({ ...entry, prevHash, hash });
    prevHash = hash;
  }
  return out;
}

export function eventOf(entry: ChainEntry): AuctionEvent {
  return decodePayload<AuctionEvent>(entry.payload);
}

function projectionOf(state: AuctionState, lastHash: string): AuctionProjection {
  const config = state.config!;
  const winner = state.status === 'closed' && state.outcome === 'sold' && state.leader?.bidder.source === 'online' ? state.leader.bidder.bidderId : null;
  const view = publicView(state, 0);
  return {
    status: state.status === 'none' ? 'scheduled' : state.status,
    outcome: state.outcome,
    currentPriceMinor: state.priceMinor ?? config.startingPriceMinor,
    bidCount: state.bidCount,
    participantCount: state.participantCount,
    reserveMet: view.reserveMet,
    endsAtMs: state.endsAtMs,
    closedAtMs: state.closedAtMs,
    seq: state.seq,
    lastHash,
    winnerId: winner,
  };
}

