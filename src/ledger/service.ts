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
  checkInvariants,
  checkMovement,
  postingOf,
  type Account,
  type Currency,
  type LedgerFailure,
  type SystemAccount,
  type Transfer,
  type Violation,
} from './model.js';
import type { LedgerExecutor, LedgerStore, LedgerTables } from './store.js';
import { GroupCommitter } from '../platform/db/group-commit.js';

export type LedgerOp =
  | { type: 'transfer'; ref: string; debitAccountId: string; creditAccountId: string; currency: string; amountMinor: bigint; owner: string; memo?: string }
  | { type: 'hold'; ref: string; accountId: string; currency: string; amountMinor: bigint; owner: string; expiresAtMs?: number | null; memo?: string }
  | { type: 'capture'; ref: string; holdId: string; toAccountId: string; amountMinor?: bigint; memo?: string }
  | { type: 'release'; ref: string; holdId: string; memo?: string };

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
export const EXPIRY_BATCH = 200;

export class LedgerService {
  private assets = new Map<string, Currency>();
  private readonly committer: GroupCommitter<LedgerTables> | undefined;

  constructor(
    private readonly store: LedgerStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.committer = store.database.singleWriter ? new GroupCommitter(store.db) : undefined;
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
    if (tx) return this.applyAll(tx, ops);
    // One writer (SQLite): batches arriving together share a transaction and its fsync, each
    // in its own savepoint; every caller hears back only after the shared commit.
    if (this.committer) return this.committer.run((own) => this.applyAll(own as unknown as LedgerExecutor, ops));
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.store.db.transaction().execute((own) => this.applyAll(own, ops));
      } catch (error) {
        const retryable = RETRYABLE_PG_CODES.has((error as { code?: string }).code ?? '') || this.store.database.isUniqueViolation(error);
        if (!retryable || attempt >= MAX_ATTEMPTS) throw error;
      }
    }
  }

  hold(op: Omit<Extract<LedgerOp, { type: 'hold' }>, 'type'>, tx?: LedgerTx): Promise<Transfer> {
    return this.execute([{ type: 'hold', ...op }], tx).then((r) => r[0]!);
  }

  capture(op: Omit<Extract<LedgerOp, { type: 'capture' }>, 'type'>, tx?: LedgerTx): Promise<Transfer> {
    return this.execute([{ type: 'capture', ...op }], tx).then((r) => r[0]!);
  }

  release(op: Omit<Extract<LedgerOp, { type: 'release' }>, 'type'>, tx?: LedgerTx): Promise<Transfer> {
    return this.execute([{ type: 'release', ...op }], tx).then((r) => r[0]!);
  }

  transfer(op: Omit<Extract<LedgerOp, { type: 'transfer' }>, 'type'>, tx?: LedgerTx): Promise<Transfer> {
    return this.execute([{ type: 'transfer', ...op }], tx).then((r) => r[0]!);
  }

  /** Releases holds whose time ran out; returns how many. Run by the worker role. */
  async expireHolds(): Promise<number> {
    const nowMs = this.clock.nowMs();
    const expired = await this.store.findExpiredHolds(this.store.db, nowMs, EXPIRY_BATCH);
    let count = 0;
    for (const hold of expired) {
      try {
        await this.execute([{ type: 'release', ref: `expire:${hold.id}`, holdId: hold.id, memo: 'hold expired' }]);
        count += 1;
      } catch (error) {
        // Captured or released meanwhile: nothing to expire.
        if (!(error instanceof LedgerError && error.failure === 'HOLD_NOT_PENDING')) throw error;
      }
    }
    return count;
  }

  private async applyAll(ex: LedgerExecutor, ops: readonly LedgerOp[]): Promise<Transfer[]> {
    const nowMs = this.clock.nowMs();
    const batchId = uuidv7(nowMs);
    // Lock every account the batch touches up front, in id order, so two batches cannot
    // deadlock by locking the same accounts op by op in different orders.
    if (ops.length > 1) await this.store.lockAccounts(ex, await this.accountsOf(ex, ops));
    const out: Transfer[] = [];
    for (let i = 0; i < ops.length; i++) out.push(await this.applyOne(ex, ops[i]!, i, batchId, nowMs));
    return out;
  }

  private async accountsOf(ex: LedgerExecutor, ops: readonly LedgerOp[]): Promise<string[]> {
    const ids: string[] = [];
    for (const op of ops) {
      if (op.type === 'transfer') ids.push(op.debitAccountId, op.creditAccountId);
      else if (op.type === 'hold') ids.push(op.accountId, ...((await this.store.findSystemAccount(ex, 'escrow', op.currency))?.id ?? []));
      else {
        const hold = await this.store.findTransfer(ex, op.holdId);
        if (hold) ids.push(hold.debitAccountId, hold.creditAccountId);
        if (op.type === 'capture') ids.push(op.toAccountId);
      }
    }
    return ids;
  }

  /** What `op.ref` wrote before, if anything; a different operation under it is refused. */
  private async earlier(ex: LedgerExecutor, op: LedgerOp, index: number): Promise<Transfer | undefined> {
    const existing = await this.store.findTransferByRef(ex, op.ref);
    if (existing && !sameAs(existing, op)) throw new LedgerError('REF_EXISTS_WITH_DIFFERENT_DATA', index, `ref ${op.ref} was used for a different operation`);
    return existing;
  }

  private async applyOne(ex: LedgerExecutor, op: LedgerOp, index: number, batchId: string, nowMs: number): Promise<Transfer> {
    const fail = (code: LedgerFailure, detail: string): never => {
      throw new LedgerError(code, index, detail);
    };
    const existing = await this.earlier(ex, op, index);
    if (existing) return existing;
    const base = { id: uuidv7(nowMs), ref: op.ref, batchId, memo: op.memo ?? '', createdAtMs: nowMs, holdId: null, holdStatus: null, expiresAtMs: null };

    if (op.type === 'transfer' || op.type === 'hold') {
      const debitId = op.type === 'transfer' ? op.debitAccountId : op.accountId;
      const creditId = op.type === 'transfer' ? op.creditAccountId : (await this.systemAccount('escrow', op.currency, ex)).id;
      const accounts = await this.store.lockAccounts(ex, [debitId, creditId]);
      // The same op running concurrently may have committed while we waited for the locks.
      const raced = await this.earlier(ex, op, index);
      if (raced) return raced;
      const failure = checkMovement(accounts.get(debitId), accounts.get(creditId), op.amountMinor, op.currency);
      if (failure) fail(failure, `${op.type} ${op.ref}: ${failure}`);
      const transfer: Transfer = {
        ...base,
        kind: op.type === 'transfer' ? 'posted' : 'hold',
        debitAccountId: debitId,
        creditAccountId: creditId,
        currency: op.currency,
        amountMinor: op.amountMinor,
        owner: op.owner,
        ...(op.type === 'hold' && { holdStatus: 'pending' as const, expiresAtMs: op.expiresAtMs ?? null }),
      };
      await this.write(ex, transfer, 0n);
      return transfer;
    }

    const hold = await this.store.findTransfer(ex, op.holdId);
    if (!hold || hold.kind !== 'hold') return fail('HOLD_NOT_FOUND', `no hold ${op.holdId}`);
    const lockIds = op.type === 'capture' ? [hold.debitAccountId, hold.creditAccountId, op.toAccountId] : [hold.debitAccountId, hold.creditAccountId];
    const accounts = await this.store.lockAccounts(ex, lockIds);
    // Re-read under the account locks: a concurrent capture or release may have settled it,
    // perhaps this very op sent twice.
    const raced = await this.earlier(ex, op, index);
    if (raced) return raced;
    const current = (await this.store.findTransfer(ex, op.holdId))!;
    if (current.holdStatus !== 'pending') fail('HOLD_NOT_PENDING', `hold ${op.holdId} is ${current.holdStatus}`);
    const settle = { ...base, debitAccountId: hold.debitAccountId, creditAccountId: hold.creditAccountId, currency: hold.currency, owner: hold.owner, holdId: hold.id };

    if (op.type === 'release') {
      const release: Transfer = { ...settle, kind: op.ref.startsWith('expire:') ? 'expire' : 'release', amountMinor: hold.amountMinor };
      await this.write(ex, release, hold.amountMinor);
      await this.store.setHoldStatus(ex, hold.id, release.kind === 'expire' ? 'expired' : 'released');
      return release;
    }

    if (hold.expiresAtMs !== null && hold.expiresAtMs <= nowMs) fail('HOLD_EXPIRED', `hold ${hold.id} expired`);
    const amountMinor = op.amountMinor ?? hold.amountMinor;
    if (amountMinor <= 0n) fail('AMOUNT_INVALID', 'a capture moves a positive amount; release the hold instead');
    if (amountMinor > hold.amountMinor) fail('CAPTURE_EXCEEDS_HOLD', `capture ${amountMinor} exceeds hold ${hold.amountMinor}`);
    const failure = checkMovement(accounts.get(hold.creditAccountId), accounts.get(op.toAccountId), amountMinor, hold.currency);
    if (failure) fail(failure, `capture ${op.ref}: ${failure}`);
    const capture: Transfer = { ...settle, kind: 'capture', amountMinor };
    await this.write(ex, capture, hold.amountMinor);
    await this.store.setHoldStatus(ex, hold.id, 'captured');
    // Escrow passes the captured amount on to its destination in the same batch.
    const onward: Transfer = { ...base, id: uuidv7(nowMs), ref: `${op.ref}/onward`, kind: 'posted', debitAccountId: hold.creditAccountId, creditAccountId: op.toAccountId, currency: hold.currency, amountMinor, owner: hold.owner };
    await this.write(ex, onward, 0n);
    return capture;
  }

  private async write(ex: LedgerExecutor, t: Transfer, heldMinor: bigint): Promise<void> {
    const [debit, credit] = postingOf(t.kind, t.amountMinor, heldMinor);
    await this.store.applyDelta(ex, t.debitAccountId, debit);
    await this.store.applyDelta(ex, t.creditAccountId, credit);
    await this.store.insertTransfer(ex, t);
  }
}

function newAccount(id: string, currency: string, kind: Account['kind'], ownerUserId: string | null): Account {
  return { id, currency, kind, ownerUserId, noOverdraft: kind === 'wallet', closed: false, debitsPending: 0n, debitsPosted: 0n, creditsPending: 0n, creditsPosted: 0n };
}

/** Whether a stored transfer is what `op` would have written (an idempotent repeat). */
function sameAs(t: Transfer, op: LedgerOp): boolean {
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
