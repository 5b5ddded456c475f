// Ledger use cases. Other modules move money only through `execute` (and its sugar: hold,
// capture, release, transfer), passing their own transaction when the movement must commit
// together with their state. Every operation carries a `ref`: repeating it returns the
// transfer written the first time; repeating it with different data is refused.
import type { Logger } from '../platform/logging.js';
import type { Clock } from '../platform/clock.js';
import { uuidv7 } from '../platform/ids.js';
import { AppError } from '../platform/errors.js';
import { isAdmin, requireAdmin, requirePrincipal, type Principal } from '../platform/auth/principal.js';
import { decodeCursor, pageOf, type Page } from '../platform/pagination.js';
import { isUuid } from '../platform/ids.js';
import {
  ISO_CURRENCIES,
  SYSTEM_ACCOUNTS,
  addBalances,
  checkInvariants,
  checkMovement,
  postingOf,
  type HoldStatus,
  type Account,
  type Currency,
  type LedgerFailure,
  type SystemAccount,
  type Transfer,
  type Violation,
} from './model.js';
import type { ChainLinks, LedgerExecutor, LedgerStore } from './store.js';
import { BatchCommitter, type Outcome } from '../platform/db/batch-commit.js';

export type LedgerOp =
  | { type: 'transfer'; ref: string; debitAccountId: string; creditAccountId: string; currency: string; amountMinor: bigint; owner: string; memo?: string }
  | { type: 'hold'; ref: string; accountId: string; currency: string; amountMinor: bigint; owner: string; expiresAtMs?: number | null; memo?: string }
  | ({ type: 'capture'; ref: string; toAccountId: string; amountMinor?: bigint; memo?: string } & HoldPointer)
  | ({ type: 'release'; ref: string; memo?: string } & HoldPointer);

/** A capture or release names its hold by id, or by the ref the hold was placed with. */
export type HoldPointer = { holdId: string; holdRef?: never } | { holdRef: string; holdId?: never };

type ResolvedOp =
  | Exclude<LedgerOp, { type: 'capture' | 'release' }>
  | { type: 'capture'; ref: string; toAccountId: string; amountMinor?: bigint; memo?: string; holdId: string; holdRef?: string }
  | { type: 'release'; ref: string; memo?: string; holdId: string; holdRef?: string };

/** An operation the ledger refused; nothing of its batch was written. */
export class LedgerError extends AppError {
  constructor(
    readonly failure: LedgerFailure,
    readonly opIndex: number,
    detail: string,
  ) {
    super(failure, detail);
    this.name = 'LedgerError';
  }
}

/** A transaction the caller owns (Kysely's Transaction), or none: the ledger opens its own. */
export type LedgerTx = LedgerExecutor | undefined;

const RETRYABLE_PG_CODES = new Set(['40P01', '40001']); // deadlock, serialization failure
const MAX_ATTEMPTS = 5;
/** Ledger groups committing at once on PostgreSQL (each holds one pooled connection). */
const LEDGER_PG_GROUPS_IN_FLIGHT = 1;
export const EXPIRY_BATCH = 200;

export class LedgerService {
  private assets = new Map<string, Currency>();
  private readonly batcher: BatchCommitter<readonly LedgerOp[], Transfer[]>;

  constructor(
    private readonly store: LedgerStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    // SQLite: one group at a time; what arrives while its commit is fsynced gathers into the
    // next. Two in flight made smaller groups that cost more CPU than the overlap saved
    // (bench/README.md). PostgreSQL: see LEDGER_PG_GROUPS_IN_FLIGHT.
    this.batcher = new BatchCommitter((batches) => this.commitGroup(batches), undefined, store.database.singleWriter ? 1 : LEDGER_PG_GROUPS_IN_FLIGHT);
  }

  /** Loads assets and makes sure every currency has its system accounts. */
  async start(): Promise<void> {
    await this.reloadAssets();
    for (const currency of this.currencies()) await this.ensureSystemAccounts(currency.code);
  }

  // --- currencies ---------------------------------------------------------------------

  currencies(): Currency[] {
    return [...ISO_CURRENCIES, ...this.assets.values()];
  }

  currency(code: string): Currency | undefined {
    return ISO_CURRENCIES.find((c) => c.code === code) ?? this.assets.get(code);
  }

  async createAsset(caller: Principal | null, asset: { code: string; scale: number; name: string }): Promise<Currency> {
    const admin = requireAdmin(caller);
    if (ISO_CURRENCIES.some((c) => c.code === asset.code)) throw new AppError('ASSET_EXISTS', `${asset.code} is an ISO currency`);
    const currency: Currency = { ...asset, kind: 'asset' };
    if (!(await this.store.insertAsset(currency, admin.userId, this.clock.nowMs()))) throw new AppError('ASSET_EXISTS', `asset ${asset.code} exists already`);
    await this.reloadAssets();
    await this.ensureSystemAccounts(asset.code);
    return currency;
  }

  private async reloadAssets(): Promise<void> {
    this.assets = new Map((await this.store.listAssets()).map((a) => [a.code, a]));
  }

  /** The currency, or a 400 naming `field`. Reloads assets once on a miss (another process may have added it). */
  async requireCurrency(code: string, field = 'currency'): Promise<Currency> {
    let found = this.currency(code);
    if (!found) {
      await this.reloadAssets();
      found = this.currency(code);
    }
    if (!found) throw new AppError('UNKNOWN_CURRENCY', `${field}: ${code} is not a currency or asset this ledger knows`, { errors: [{ in: 'body', field, message: 'is not a known currency or asset' }] });
    return found;
  }

  // --- accounts -----------------------------------------------------------------------

  private async ensureSystemAccounts(currency: string): Promise<void> {
    const nowMs = this.clock.nowMs();
    for (const kind of SYSTEM_ACCOUNTS) {
      if (await this.store.findSystemAccount(this.store.db, kind, currency)) continue;
      await this.store.insertAccount(this.store.db, newAccount(uuidv7(nowMs), currency, kind, null), nowMs);
    }
  }

  async systemAccount(kind: SystemAccount, currency: string, tx?: LedgerTx): Promise<Account> {
    const account = await this.store.findSystemAccount(tx ?? this.store.db, kind, currency);
    if (!account) throw new AppError('UNKNOWN_CURRENCY', `no ${kind} account for ${currency}`);
    return account;
  }

  /** A user's wallet in a currency, if they opened one. */
  async walletOf(userId: string, currency: string, tx?: LedgerTx): Promise<Account | undefined> {
    return this.store.findWallet(tx ?? this.store.db, userId, currency);
  }

  /** The holds still pending that were placed for `owner` (a market finding the ones it no longer needs). */
  async pendingHoldsOwnedBy(owner: string, tx?: LedgerTx): Promise<Transfer[]> {
    return this.store.findPendingHoldsOwnedBy(tx ?? this.store.db, owner);
  }

  /** Opens (or reopens) the caller's wallet in a currency; idempotent. */
  async openWallet(userId: string, currency: string): Promise<{ account: Account; created: boolean }> {
    await this.requireCurrency(currency);
    const nowMs = this.clock.nowMs();
    const existing = await this.store.findWallet(this.store.db, userId, currency);
    if (existing) {
      if (existing.closed) await this.store.setClosed(this.store.db, existing.id, null);
      return { account: { ...existing, closed: false }, created: existing.closed };
    }
    const created = await this.store.insertAccount(this.store.db, newAccount(uuidv7(nowMs), currency, 'wallet', userId), nowMs);
    const account = (await this.store.findWallet(this.store.db, userId, currency))!;
    return { account, created };
  }

  /** Closes a wallet: only at zero, with no holds pending. */
  async closeWallet(caller: Principal | null, currency: string): Promise<void> {
    const me = requirePrincipal(caller);
    await this.store.db.transaction().execute(async (tx) => {
      const wallet = await this.store.findWallet(tx, me.userId, currency);
      if (!wallet || wallet.closed) throw new AppError('NOT_FOUND', `you have no open ${currency} wallet`);
      const [locked] = (await this.store.lockAccounts(tx, [wallet.id])).values();
      if (locked!.creditsPosted !== locked!.debitsPosted || locked!.debitsPending !== 0n || locked!.creditsPending !== 0n) {
        throw new AppError('WALLET_NOT_EMPTY', `the ${currency} wallet can be closed only at zero with nothing held`);
      }
      await this.store.setClosed(tx, wallet.id, this.clock.nowMs());
    });
  }

  async myWallets(caller: Principal | null): Promise<Account[]> {
    return this.store.listWallets(this.store.db, requirePrincipal(caller).userId);
  }

  /** An account by id: its owner or an admin may read it; anyone else gets 404. */
  async accountFor(caller: Principal | null, id: string): Promise<Account> {
    const me = requirePrincipal(caller);
    const account = await this.store.findAccount(this.store.db, id);
    if (!account || (account.ownerUserId !== me.userId && !isAdmin(me))) throw new AppError('NOT_FOUND', `no account ${id}`);
    return account;
  }

  async history(account: Account, query: { limit: number; cursor?: string }): Promise<Page<Transfer>> {
    const beforeId = query.cursor === undefined ? undefined : decodeCursor(query.cursor, isUuid);
    const rows = await this.store.listTransfersOf(this.store.db, account.id, beforeId, query.limit + 1);
    return pageOf(rows, query.limit, (t) => t.id);
  }

  async systemAccounts(caller: Principal | null, currency?: string): Promise<Account[]> {
    requireAdmin(caller);
    return this.store.listSystemAccounts(this.store.db, currency);
  }

  /** Recomputes every invariant from the transfers (admin). */
  async check(caller: Principal | null): Promise<{ violations: Violation[]; accounts: number; transfers: number }> {
    requireAdmin(caller);
    // One snapshot for both reads (PostgreSQL's default, read committed, takes one per
    // statement): otherwise a transfer committed between them reads as a violation.
    return this.store.db.transaction().setIsolationLevel('repeatable read').execute(async (tx) => {
      const accounts = await this.store.listAllAccounts(tx);
      const transfers = await this.store.listAllTransfers(tx);
      const violations = checkInvariants(accounts, transfers);
      if (violations.length) this.logger.error({ violations }, 'ledger invariants violated');
      return { violations, accounts: accounts.length, transfers: transfers.length };
    });
  }

  // --- moving money -------------------------------------------------------------------

  /** Applies `ops` all or nothing: on a failure nothing of the batch is written. */
  async execute(ops: readonly LedgerOp[], tx?: LedgerTx): Promise<Transfer[]> {
    if (tx) {
      const [outcome] = await this.applyBatches(tx, [ops]);
      if (!outcome!.ok) throw outcome!.error;
      return outcome!.value;
    }
    // Batches arriving together share one transaction: read every row they need at once,
    // apply them one by one in memory, write the result in a statement or two per table.
    return this.batcher.submit(ops);
  }

  /** Several batches inside the caller's transaction, each all or nothing with its own outcome. */
  executeEach(batches: ReadonlyArray<readonly LedgerOp[]>, tx: LedgerExecutor): Promise<Outcome<Transfer[]>[]> {
    return this.applyBatches(tx, batches);
  }

  hold(op: Omit<Extract<LedgerOp, { type: 'hold' }>, 'type'>, tx?: LedgerTx): Promise<Transfer> {
    return this.execute([{ type: 'hold', ...op }], tx).then((r) => r[0]!);
  }

  capture(op: Omit<Extract<LedgerOp, { type: 'capture' }>, 'type'>, tx?: LedgerTx): Promise<Transfer> {
    return this.execute([{ type: 'capture', ...op } as LedgerOp], tx).then((r) => r[0]!);
  }

  release(op: Omit<Extract<LedgerOp, { type: 'release' }>, 'type'>, tx?: LedgerTx): Promise<Transfer> {
    return this.execute([{ type: 'release', ...op } as LedgerOp], tx).then((r) => r[0]!);
  }

  transfer(op: Omit<Extract<LedgerOp, { type: 'transfer' }>, 'type'>, tx?: LedgerTx): Promise<Transfer> {
    return this.execute([{ type: 'transfer', ...op }], tx).then((r) => r[0]!);
  }

  /** Releases holds whose time ran out; returns how many. Run by the worker role. */
  async expireHolds(): Promise<number> {
    const nowMs = this.clock.nowMs();
    const expired = await this.store.findExpiredHolds(this.store.db, nowMs, EXPIRY_BATCH);
    const outcomes = await Promise.allSettled(expired.map((hold) => this.execute([{ type: 'release', ref: `expire:${hold.id}`, holdId: hold.id, memo: 'hold expired' }])));
    let count = 0;
    for (const outcome of outcomes) {
      if (outcome.status === 'fulfilled') count += 1;
      // Captured or released meanwhile: nothing to expire.
      else if (!(outcome.reason instanceof LedgerError && outcome.reason.failure === 'HOLD_NOT_PENDING')) throw outcome.reason;
    }
    return count;
  }

  /** One transaction for a group of batches; PostgreSQL retries it on deadlock or a racing ref. */
  private async commitGroup(batches: Array<readonly LedgerOp[]>): Promise<Outcome<Transfer[]>[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.store.db.transaction().execute((own) => this.applyBatches(own, batches));
      } catch (error) {
        const retryable = RETRYABLE_PG_CODES.has((error as { code?: string }).code ?? '') || this.store.database.isUniqueViolation(error);
        if (!retryable || attempt >= MAX_ATTEMPTS) throw error;
      }
    }
  }

  /**
   * Applies batches in order inside `ex`: each all or nothing, each with its own outcome.
   * Locks first (holds, then accounts, each in id order: every ledger transaction takes them
   * in that order, so none can deadlock another), then reads the refs (after the locks, so a
   * racing twin that committed meanwhile is seen), then computes in memory and writes.
   */
  private async applyBatches(ex: LedgerExecutor, given: ReadonlyArray<readonly LedgerOp[]>): Promise<Outcome<Transfer[]>[]> {
    const nowMs = this.clock.nowMs();
    const batches = await this.resolveHoldRefs(ex, given);
    const ops = batches.flat();
    const holds = await this.store.lockHolds(ex, ops.flatMap((op) => (op.type === 'capture' || op.type === 'release' ? [op.holdId] : [])));
    const accountIds: string[] = [];
    for (const op of ops) {
      if (op.type === 'transfer') accountIds.push(op.debitAccountId, op.creditAccountId);
      else if (op.type === 'hold') {
        const escrowId = await this.escrowIdOf(ex, op.currency);
        accountIds.push(op.accountId, ...(escrowId === undefined ? [] : [escrowId]));
      }
      else {
        const hold = holds.get(op.holdId);
        if (hold) accountIds.push(hold.debitAccountId, hold.creditAccountId);
        if (op.type === 'capture') accountIds.push(op.toAccountId);
      }
    }
    const accounts = await this.store.lockAccounts(ex, accountIds);
    const byRef = await this.store.findTransfersByRefs(ex, ops.map((op) => op.ref));

    const book = new Book(accounts, new Map([...accounts].map(([id, a]) => [id, a.lastTransferId])), holds, byRef);
    const outcomes: Outcome<Transfer[]>[] = [];
    for (const batch of batches) {
      const draft = book.draft();
      const batchId = uuidv7(nowMs);
      try {
        const value = batch.map((op, i) => this.applyOne(draft, op, i, batchId, nowMs));
        draft.keep();
        outcomes.push({ ok: true, value });
      } catch (error) {
        outcomes.push({ ok: false, error });
      }
    }
    await book.write(ex, this.store);
    return outcomes;
  }

  /** Captures and releases that name their hold by ref get its id (empty when there is none). */
  private async resolveHoldRefs(ex: LedgerExecutor, batches: ReadonlyArray<readonly LedgerOp[]>): Promise<ResolvedOp[][]> {
    const refs = batches.flat().flatMap((op) => ((op.type === 'capture' || op.type === 'release') && op.holdRef !== undefined ? [op.holdRef] : []));
    const byRef = refs.length ? await this.store.findTransfersByRefs(ex, refs) : new Map<string, Transfer>();
    return batches.map((batch) =>
      batch.map((op): ResolvedOp => ((op.type === 'capture' || op.type === 'release') && op.holdRef !== undefined ? { ...op, holdId: byRef.get(op.holdRef)?.id ?? '' } : (op as ResolvedOp))),
    );
  }

  private escrowIds = new Map<string, string>();

  /** The escrow account's id for a currency; ids never change, so they are remembered. */
  private async escrowIdOf(ex: LedgerExecutor, currency: string): Promise<string | undefined> {
    let id = this.escrowIds.get(currency);
    if (id === undefined) {
      id = (await this.store.findSystemAccount(ex, 'escrow', currency))?.id;
      if (id !== undefined) this.escrowIds.set(currency, id);
    }
    return id;
  }

  private applyOne(book: Draft, given: ResolvedOp, index: number, batchId: string, nowMs: number): Transfer {
    const fail = (code: LedgerFailure, detail: string): never => {
      throw new LedgerError(code, index, detail);
    };
    let op = given;
    // A hold placed earlier in the same group (a market re-holding what is left of an order
    // and capturing it again in the next fill) is not in storage yet: find it by its ref here.
    if ((op.type === 'capture' || op.type === 'release') && op.holdId === '' && op.holdRef !== undefined) {
      const placed = book.byRef(op.holdRef);
      if (placed?.kind === 'hold') op = { ...op, holdId: placed.id };
    }
    const existing = book.byRef(op.ref);
    if (existing) {
      if (!sameAs(existing, op)) fail('REF_EXISTS_WITH_DIFFERENT_DATA', `ref ${op.ref} was used for a different operation`);
      return existing;
    }
    if (op.type === 'transfer' || op.type === 'hold') {
      const debitId = op.type === 'hold' ? op.accountId : op.debitAccountId;
      const creditId = op.type === 'hold' ? this.escrowIds.get(op.currency) : op.creditAccountId;
      if (creditId === undefined) throw new AppError('UNKNOWN_CURRENCY', `no escrow account for ${op.currency}`);
      const failure = checkMovement(book.account(debitId), book.account(creditId), op.amountMinor, op.currency);
      if (failure) fail(failure, `${op.type} ${op.ref}: ${failure}`);
      // Written out field by field, in the order every Transfer has (the hot path: no spreads).
      const transfer: Transfer = {
        id: uuidv7(nowMs),
        ref: op.ref,
        kind: op.type === 'hold' ? 'hold' : 'posted',
        debitAccountId: debitId,
        creditAccountId: creditId,
        currency: op.currency,
        amountMinor: op.amountMinor,
        holdId: null,
        holdStatus: op.type === 'hold' ? 'pending' : null,
        owner: op.owner,
        expiresAtMs: op.type === 'hold' ? (op.expiresAtMs ?? null) : null,
        batchId,
        memo: op.memo ?? '',
        createdAtMs: nowMs,
      };
      book.post(transfer, 0n);
      return transfer;
    }

    const base = { id: uuidv7(nowMs), ref: op.ref, batchId, memo: op.memo ?? '', createdAtMs: nowMs, holdId: null, holdStatus: null, expiresAtMs: null };

    const hold = book.hold(op.holdId);
    if (!hold || hold.kind !== 'hold') return fail('HOLD_NOT_FOUND', `no hold ${op.holdRef === undefined ? op.holdId : `with ref ${op.holdRef}`}`);
    if (hold.holdStatus !== 'pending') fail('HOLD_NOT_PENDING', `hold ${op.holdId} is ${hold.holdStatus}`);
    const settle = { ...base, debitAccountId: hold.debitAccountId, creditAccountId: hold.creditAccountId, currency: hold.currency, owner: hold.owner, holdId: hold.id };

    if (op.type === 'release') {
      const release: Transfer = { ...settle, kind: op.ref.startsWith('expire:') ? 'expire' : 'release', amountMinor: hold.amountMinor };
      book.post(release, hold.amountMinor);
      book.settle(hold, release.kind === 'expire' ? 'expired' : 'released');
      return release;
    }

    if (hold.expiresAtMs !== null && hold.expiresAtMs <= nowMs) fail('HOLD_EXPIRED', `hold ${hold.id} expired`);
    const amountMinor = op.amountMinor ?? hold.amountMinor;
    if (amountMinor <= 0n) fail('AMOUNT_INVALID', 'a capture moves a positive amount; release the hold instead');
    if (amountMinor > hold.amountMinor) fail('CAPTURE_EXCEEDS_HOLD', `capture ${amountMinor} exceeds hold ${hold.amountMinor}`);
    const failure = checkMovement(book.account(hold.creditAccountId), book.account(op.toAccountId), amountMinor, hold.currency);
    if (failure) fail(failure, `capture ${op.ref}: ${failure}`);
    const capture: Transfer = { ...settle, kind: 'capture', amountMinor };
    book.post(capture, hold.amountMinor);
    book.settle(hold, 'captured');
    // Escrow passes the captured amount on to its destination in the same batch.
    const onward: Transfer = { ...base, id: uuidv7(nowMs), ref: `${op.ref}/onward`, kind: 'posted', debitAccountId: hold.creditAccountId, creditAccountId: op.toAccountId, currency: hold.currency, amountMinor, owner: hold.owner };
    book.post(onward, 0n);
    return capture;
  }
}

/**
 * The rows a group of batches works on, held in memory while the group's transaction is open:
 * locked accounts and holds, and transfers by ref. A batch works on a draft; `keep` folds the
 * draft in, dropping it leaves the book as it was (all or nothing per batch).
 */
class Book {
  readonly newTransfers: Transfer[] = [];
  readonly holdStatuses = new Map<string, HoldStatus>();
  readonly dirtyAccounts = new Set<string>();

  constructor(
    readonly accounts: Map<string, Account>,
    /** Each locked account's newest transfer: where its history chain goes on. */
    private readonly heads: Map<string, string | null>,
    readonly holds: Map<string, Transfer>,
    readonly refs: Map<string, Transfer>,
  ) {}

  draft(): Draft {
    return new Draft(this);
  }

  async write(ex: LedgerExecutor, store: LedgerStore): Promise<void> {
    if (this.newTransfers.length === 0) return;
    const created = new Set(this.newTransfers.map((t) => t.id));
    // A hold created and settled within the group is inserted with its final status.
    await store.insertTransfers(ex, this.newTransfers.map((t) => (t.kind === 'hold' ? this.holds.get(t.id)! : t)), this.newTransfers.map((t) => this.chain(t)));
    await store.setHoldStatuses(ex, new Map([...this.holdStatuses].filter(([id]) => !created.has(id))));
    await store.writeBalances(ex, [...this.dirtyAccounts].map((id) => ({ ...this.accounts.get(id)!, lastTransferId: this.heads.get(id) ?? null })));
  }

  /** Puts `t` at the head of both its accounts' history chains, in the order of the group. */
  private chain(t: Transfer): ChainLinks {
    const debitPrevId = this.heads.get(t.debitAccountId) ?? null;
    this.heads.set(t.debitAccountId, t.id);
    const creditPrevId = this.heads.get(t.creditAccountId) ?? null;
    this.heads.set(t.creditAccountId, t.id);
    return { debitPrevId, creditPrevId };
  }
}

class Draft {
  private readonly accounts = new Map<string, Account>();
  private readonly holds = new Map<string, Transfer>();
  private readonly refs = new Map<string, Transfer>();
  private readonly transfers: Transfer[] = [];

  constructor(private readonly book: Book) {}

  account(id: string): Account | undefined {
    return this.accounts.get(id) ?? this.book.accounts.get(id);
  }

  hold(id: string): Transfer | undefined {
    return this.holds.get(id) ?? this.book.holds.get(id);
  }

  byRef(ref: string): Transfer | undefined {
    return this.refs.get(ref) ?? this.book.refs.get(ref);
  }

  /** Records a transfer and moves both accounts' counters by its posting. */
  post(t: Transfer, heldMinor: bigint): void {
    const [debit, credit] = postingOf(t.kind, t.amountMinor, heldMinor);
    const d = this.account(t.debitAccountId)!;
    this.accounts.set(d.id, { ...d, ...addBalances(d, debit) });
    const c = this.account(t.creditAccountId)!;
    this.accounts.set(c.id, { ...c, ...addBalances(c, credit) });
    this.refs.set(t.ref, t);
    this.transfers.push(t);
    if (t.kind === 'hold') this.holds.set(t.id, t);
  }

  settle(hold: Transfer, status: HoldStatus): void {
    this.holds.set(hold.id, { ...hold, holdStatus: status });
  }

  keep(): void {
    for (const [id, a] of this.accounts) {
      this.book.accounts.set(id, a);
      this.book.dirtyAccounts.add(id);
    }
    for (const [id, h] of this.holds) {
      this.book.holds.set(id, h);
      if (h.holdStatus !== 'pending') this.book.holdStatuses.set(id, h.holdStatus!);
    }
    for (const [ref, t] of this.refs) this.book.refs.set(ref, t);
    this.book.newTransfers.push(...this.transfers);
  }
}

function newAccount(id: string, currency: string, kind: Account['kind'], ownerUserId: string | null): Account {
  return { id, currency, kind, ownerUserId, noOverdraft: kind === 'wallet', closed: false, debitsPending: 0n, debitsPosted: 0n, creditsPending: 0n, creditsPosted: 0n };
}

/** Whether a stored transfer is what `op` would have written (an idempotent repeat). */
function sameAs(t: Transfer, op: ResolvedOp): boolean {
  switch (op.type) {
    case 'transfer':
      return t.kind === 'posted' && t.debitAccountId === op.debitAccountId && t.creditAccountId === op.creditAccountId && t.amountMinor === op.amountMinor && t.currency === op.currency;
    case 'hold':
      return t.kind === 'hold' && t.debitAccountId === op.accountId && t.amountMinor === op.amountMinor && t.currency === op.currency;
    case 'capture':
      return t.kind === 'capture' && t.holdId === op.holdId && (op.amountMinor === undefined || t.amountMinor === op.amountMinor);
    case 'release':
      return (t.kind === 'release' || t.kind === 'expire') && t.holdId === op.holdId;
  }
}
