// The ledger's tables. Every function takes the executor it runs on, so the service (and
// other modules, through the service) can compose them inside one transaction.
import assert from 'node:assert/strict';
import { sql, type Kysely } from 'kysely';
import { eachRowIn, toNumber, type Database } from '../platform/db/database.js';
import type { Account, Balances, Currency, HoldStatus, Transfer, TransferKind } from './model.js';

type Int = bigint | number;

interface AssetsTable {
  code: string;
  scale: Int;
  name: string;
  created_by: string;
  created_at_ms: Int;
}

interface AccountsTable {
  id: string;
  currency: string;
  kind: string;
  owner_user_id: string | null;
  no_overdraft: Int;
  closed_at_ms: Int | null;
  debits_pending: Int;
  debits_posted: Int;
  credits_pending: Int;
  credits_posted: Int;
  created_at_ms: Int;
  /** The newest transfer on either side: the head of the account's history chain. */
  last_transfer_id: string | null;
}

interface TransfersTable {
  id: string;
  ref: string;
  kind: string;
  debit_account_id: string;
  credit_account_id: string;
  currency: string;
  amount_minor: Int;
  hold_id: string | null;
  hold_status: string | null;
  owner: string;
  expires_at_ms: Int | null;
  batch_id: string;
  memo: string;
  created_at_ms: Int;
  /** The transfer before this one on its debit account, and on its credit account (the history chain). */
  debit_prev_id: string | null;
  credit_prev_id: string | null;
}

/** An account as stored: with the head of its history chain, which only the ledger's writes need. */
export interface StoredAccount extends Account {
  lastTransferId: string | null;
}

/** Where a new transfer joins its accounts' history chains. */
export interface ChainLinks {
  debitPrevId: string | null;
  creditPrevId: string | null;
}

export interface LedgerTables {
  ledger_assets: AssetsTable;
  ledger_accounts: AccountsTable;
  ledger_transfers: TransfersTable;
}

export type LedgerExecutor = Kysely<LedgerTables>;

function toAccount(row: AccountsTable): Account {
  return {
    id: row.id,
    currency: row.currency,
    kind: row.kind as Account['kind'],
    ownerUserId: row.owner_user_id,
    noOverdraft: Number(row.no_overdraft) === 1,
    closed: row.closed_at_ms !== null,
    debitsPending: BigInt(row.debits_pending),
    debitsPosted: BigInt(row.debits_posted),
    creditsPending: BigInt(row.credits_pending),
    creditsPosted: BigInt(row.credits_posted),
  };
}

function toStoredAccount(row: AccountsTable): StoredAccount {
  const account = toAccount(row) as StoredAccount;
  account.lastTransferId = row.last_transfer_id;
  return account;
}

/** The columns SQLite's lockAccounts reads, in the order storedAccountOf takes them. */
const LOCK_ACCOUNT = `select id, currency, kind, owner_user_id, no_overdraft, closed_at_ms,
  debits_pending, debits_posted, credits_pending, credits_posted, last_transfer_id
  from ledger_accounts where id = ?`;

/** An account from LOCK_ACCOUNT's values: the fields toStoredAccount gives, in one object literal (one shape on the hot path). */
function storedAccountOf(v: unknown[]): StoredAccount {
  return {
    id: v[0] as string,
    currency: v[1] as string,
    kind: v[2] as Account['kind'],
    ownerUserId: v[3] as string | null,
    noOverdraft: Number(v[4]) === 1,
    closed: v[5] !== null,
    debitsPending: BigInt(v[6] as Int),
    debitsPosted: BigInt(v[7] as Int),
    creditsPending: BigInt(v[8] as Int),
    creditsPosted: BigInt(v[9] as Int),
    lastTransferId: v[10] as string | null,
  };
}

/** The columns a Transfer is made of, in the order transferOf takes them. */
const TRANSFER_COLUMNS = 'id, ref, kind, debit_account_id, credit_account_id, currency, amount_minor, hold_id, hold_status, owner, expires_at_ms, batch_id, memo, created_at_ms';
const TRANSFER_BY_REF = `select ${TRANSFER_COLUMNS} from ledger_transfers where ref = ?`;
const TRANSFER_BY_ID = `select ${TRANSFER_COLUMNS} from ledger_transfers where id = ?`;

/** A transfer from its TRANSFER_COLUMNS values (SQLite's statement-per-row reads answer arrays). */
function transferOf(v: readonly unknown[]): Transfer {
  return {
    id: v[0] as string,
    ref: v[1] as string,
    kind: v[2] as TransferKind,
    debitAccountId: v[3] as string,
    creditAccountId: v[4] as string,
    currency: v[5] as string,
    amountMinor: BigInt(v[6] as Int),
    holdId: v[7] as string | null,
    holdStatus: v[8] as HoldStatus | null,
    owner: v[9] as string,
    expiresAtMs: v[10] === null ? null : toNumber(v[10] as Int),
    batchId: v[11] as string,
    memo: v[12] as string,
    createdAtMs: toNumber(v[13] as Int),
  };
}

function toTransfer(r: TransfersTable): Transfer {
  return transferOf([r.id, r.ref, r.kind, r.debit_account_id, r.credit_account_id, r.currency, r.amount_minor, r.hold_id, r.hold_status, r.owner, r.expires_at_ms, r.batch_id, r.memo, r.created_at_ms]);
}

const INSERT_TRANSFER = `insert into ledger_transfers
  (id, ref, kind, debit_account_id, credit_account_id, currency, amount_minor, hold_id, hold_status, owner, expires_at_ms, batch_id, memo, created_at_ms, debit_prev_id, credit_prev_id)
  values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/**
 * The ledger's tables. The statements of a group's write (lock the holds and accounts, read the
 * refs, insert the transfers, write the balances and hold statuses) run a short prepared
 * statement per row on SQLite (`Database.eachRow`: about 3× cheaper there than one statement
 * for all rows), and on PostgreSQL one statement for all rows that takes each column as an
 * array: one round trip, and one statement text whatever the group's size, so it is prepared
 * once per connection. (IN lists and multi-row VALUES made a text per size and split a group
 * into several statements.)
 */
export class LedgerStore {
  readonly db: LedgerExecutor;

  constructor(readonly database: Database) {
    this.db = database.kysely as unknown as LedgerExecutor;
  }

  /**
   * SQLite's statement-per-row runner for `ex`, or undefined on PostgreSQL (statements over
   * arrays, `= any` and `unnest`). A group's reads and writes run only inside a transaction,
   * which on SQLite is what lets eachRow use the connection.
   */
  private rowsIn(ex: LedgerExecutor): Database['eachRow'] {
    if (this.database.dialect === 'postgres') return undefined;
    const eachRow = eachRowIn(this.database, ex);
    if (!eachRow) throw new Error('the ledger reads and writes a group only inside a transaction');
    return eachRow;
  }

  // --- currencies ---------------------------------------------------------------------

  async listAssets(ex: LedgerExecutor = this.db): Promise<Currency[]> {
    const rows = await ex.selectFrom('ledger_assets').selectAll().orderBy('code').execute();
    return rows.map((r) => ({ code: r.code, scale: toNumber(r.scale), name: r.name, kind: 'asset' as const }));
  }

  /** False when the code exists already. */
  async insertAsset(asset: Currency, createdBy: string, nowMs: number): Promise<boolean> {
    try {
      await this.db.insertInto('ledger_assets').values({ code: asset.code, scale: asset.scale, name: asset.name, created_by: createdBy, created_at_ms: nowMs }).execute();
      return true;
    } catch (error) {
      if (this.database.isUniqueViolation(error)) return false;
      throw error;
    }
  }

  // --- accounts -------------------------------------------------------------------------

  async findAccount(ex: LedgerExecutor, id: string): Promise<Account | undefined> {
    const row = await ex.selectFrom('ledger_accounts').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toAccount(row) : undefined;
  }

  /**
   * Reads and locks accounts in id order: on PostgreSQL in one statement, which locks the rows
   * in the sorted order, so two transactions cannot deadlock on them; on SQLite, whose one
   * writer needs no lock, with a prepared statement per account.
   */
  async lockAccounts(ex: LedgerExecutor, ids: readonly string[]): Promise<Map<string, StoredAccount>> {
    const out = new Map<string, StoredAccount>();
    const eachRow = this.rowsIn(ex);
    if (eachRow) {
      for (const values of eachRow.values(ex, LOCK_ACCOUNT, [...new Set(ids)].sort().map((id) => [id]))) {
        if (values) out.set(values[0] as string, storedAccountOf(values));
      }
      return out;
    }
    if (ids.length === 0) return out;
    const { rows } = await sql<AccountsTable>`select * from ledger_accounts where id = any(cast(${[...new Set(ids)]} as text[])) order by id for update`.execute(ex);
    for (const row of rows) out.set(row.id, toStoredAccount(row));
    return out;
  }

  /**
   * Writes accounts' counters and history heads as absolute values. Only for rows this
   * transaction has locked (lockAccounts), so nobody else changed them in between.
   */
  async writeBalances(ex: LedgerExecutor, accounts: readonly StoredAccount[]): Promise<void> {
    const eachRow = this.rowsIn(ex);
    if (eachRow) {
      const rows = accounts.map((a) => [a.debitsPending, a.debitsPosted, a.creditsPending, a.creditsPosted, a.lastTransferId, a.id]);
      eachRow.run(ex, 'update ledger_accounts set debits_pending = ?, debits_posted = ?, credits_pending = ?, credits_posted = ?, last_transfer_id = ? where id = ?', rows);
      return;
    }
    // bigints travel as decimal strings (here and in insertTransfers): postgres.js would declare an array of bigints a single int8.
    if (accounts.length === 0) return;
    const column = <T>(of: (a: StoredAccount) => T) => accounts.map(of);
    await sql`update ledger_accounts set debits_pending = v.dpe, debits_posted = v.dpo, credits_pending = v.cpe, credits_posted = v.cpo, last_transfer_id = v.head
      from unnest(cast(${column((a) => a.id)} as text[]), cast(${column((a) => String(a.debitsPending))} as bigint[]), cast(${column((a) => String(a.debitsPosted))} as bigint[]),
        cast(${column((a) => String(a.creditsPending))} as bigint[]), cast(${column((a) => String(a.creditsPosted))} as bigint[]), cast(${column((a) => a.lastTransferId)} as text[]))
        as v (id, dpe, dpo, cpe, cpo, head)
      where ledger_accounts.id = v.id`.execute(ex);
  }

  async findWallet(ex: LedgerExecutor, userId: string, currency: string): Promise<Account | undefined> {
    const row = await ex.selectFrom('ledger_accounts').selectAll().where('owner_user_id', '=', userId).where('currency', '=', currency).executeTakeFirst();
    return row ? toAccount(row) : undefined;
  }

  async listWallets(ex: LedgerExecutor, userId: string): Promise<Account[]> {
    const rows = await ex.selectFrom('ledger_accounts').selectAll().where('owner_user_id', '=', userId).where('closed_at_ms', 'is', null).orderBy('currency').execute();
    return rows.map(toAccount);
  }

  async findSystemAccount(ex: LedgerExecutor, kind: string, currency: string): Promise<Account | undefined> {
    const row = await ex.selectFrom('ledger_accounts').selectAll().where('owner_user_id', 'is', null).where('kind', '=', kind).where('currency', '=', currency).executeTakeFirst();
    return row ? toAccount(row) : undefined;
  }

  async listSystemAccounts(ex: LedgerExecutor, currency: string | undefined): Promise<Account[]> {
    let q = ex.selectFrom('ledger_accounts').selectAll().where('owner_user_id', 'is', null);
    if (currency) q = q.where('currency', '=', currency);
    return (await q.orderBy('currency').orderBy('kind').execute()).map(toAccount);
  }

  async listAllAccounts(ex: LedgerExecutor): Promise<Account[]> {
    return (await ex.selectFrom('ledger_accounts').selectAll().orderBy('id').execute()).map(toAccount);
  }

  /** Inserts an account; false when one with the same owner (or system kind) and currency exists. */
  async insertAccount(ex: LedgerExecutor, account: Account, nowMs: number): Promise<boolean> {
    try {
      await ex
        .insertInto('ledger_accounts')
        .values({
          id: account.id,
          currency: account.currency,
          kind: account.kind,
          owner_user_id: account.ownerUserId,
          no_overdraft: account.noOverdraft ? 1 : 0,
          closed_at_ms: null,
          debits_pending: 0n,
          debits_posted: 0n,
          credits_pending: 0n,
          credits_posted: 0n,
          created_at_ms: nowMs,
        })
        .execute();
      return true;
    } catch (error) {
      if (this.database.isUniqueViolation(error)) return false;
      throw error;
    }
  }

  async setClosed(ex: LedgerExecutor, accountId: string, closedAtMs: number | null): Promise<void> {
    await ex.updateTable('ledger_accounts').set({ closed_at_ms: closedAtMs }).where('id', '=', accountId).execute();
  }

  // --- transfers ------------------------------------------------------------------------

  async findTransferByRef(ex: LedgerExecutor, ref: string): Promise<Transfer | undefined> {
    const row = await ex.selectFrom('ledger_transfers').selectAll().where('ref', '=', ref).executeTakeFirst();
    return row ? toTransfer(row) : undefined;
  }

  async findTransfer(ex: LedgerExecutor, id: string): Promise<Transfer | undefined> {
    const row = await ex.selectFrom('ledger_transfers').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toTransfer(row) : undefined;
  }

  /** `links[i]`: where `transfers[i]` joins its accounts' history chains. */
  async insertTransfers(ex: LedgerExecutor, transfers: readonly Transfer[], links: readonly ChainLinks[]): Promise<void> {
    assert.equal(links.length, transfers.length);
    const eachRow = this.rowsIn(ex);
    if (eachRow) {
      const rows = transfers.map((t, i) => [
        t.id, t.ref, t.kind, t.debitAccountId, t.creditAccountId, t.currency, t.amountMinor, t.holdId, t.holdStatus, t.owner, t.expiresAtMs, t.batchId, t.memo, t.createdAtMs, links[i]!.debitPrevId, links[i]!.creditPrevId,
      ]);
      eachRow.run(ex, INSERT_TRANSFER, rows);
      return;
    }
    if (transfers.length === 0) return;
    const column = <T>(of: (t: Transfer) => T) => transfers.map(of);
    await sql`insert into ledger_transfers
      (id, ref, kind, debit_account_id, credit_account_id, currency, amount_minor, hold_id, hold_status, owner, expires_at_ms, batch_id, memo, created_at_ms, debit_prev_id, credit_prev_id)
      select * from unnest(cast(${column((t) => t.id)} as text[]), cast(${column((t) => t.ref)} as text[]), cast(${column((t) => t.kind)} as text[]),
        cast(${column((t) => t.debitAccountId)} as text[]), cast(${column((t) => t.creditAccountId)} as text[]), cast(${column((t) => t.currency)} as text[]),
        cast(${column((t) => String(t.amountMinor))} as bigint[]), cast(${column((t) => t.holdId)} as text[]), cast(${column((t) => t.holdStatus)} as text[]),
        cast(${column((t) => t.owner)} as text[]), cast(${column((t) => t.expiresAtMs)} as bigint[]), cast(${column((t) => t.batchId)} as text[]),
        cast(${column((t) => t.memo)} as text[]), cast(${column((t) => t.createdAtMs)} as bigint[]),
        cast(${links.map((l) => l.debitPrevId)} as text[]), cast(${links.map((l) => l.creditPrevId)} as text[]))`.execute(ex);
  }

  /** Transfers with any of these refs, by ref. */
  findTransfersByRefs(ex: LedgerExecutor, refs: readonly string[]): Promise<Map<string, Transfer>> {
    return this.transfersWhere(ex, 'ref', refs, false);
  }

  /** Holds by id, locked in id order (PostgreSQL) so two settlements of one hold queue up. */
  lockHolds(ex: LedgerExecutor, ids: readonly string[]): Promise<Map<string, Transfer>> {
    return this.transfersWhere(ex, 'id', ids, true);
  }

  /** Transfers whose `column` is one of `keys`, by that column; with `lock`, locked in id order on PostgreSQL. */
  private async transfersWhere(ex: LedgerExecutor, column: 'id' | 'ref', keys: readonly string[], lock: boolean): Promise<Map<string, Transfer>> {
    const out = new Map<string, Transfer>();
    const unique = [...new Set(keys)];
    const eachRow = this.rowsIn(ex);
    if (eachRow) {
      // SQLite's one writer needs no row locks.
      for (const values of eachRow.values(ex, column === 'id' ? TRANSFER_BY_ID : TRANSFER_BY_REF, unique.map((key) => [key]))) {
        if (values) {
          const transfer = transferOf(values);
          out.set(transfer[column], transfer);
        }
      }
      return out;
    }
    if (unique.length === 0) return out;
    const { rows } = await sql<TransfersTable>`select * from ledger_transfers where ${sql.ref(column)} = any(cast(${unique} as text[]))${lock ? sql` order by id for update` : sql``}`.execute(ex);
    for (const row of rows) out.set(row[column], toTransfer(row));
    return out;
  }

  async setHoldStatuses(ex: LedgerExecutor, changes: ReadonlyMap<string, HoldStatus>): Promise<void> {
    const eachRow = this.rowsIn(ex);
    if (eachRow) {
      eachRow.run(ex, 'update ledger_transfers set hold_status = ? where id = ?', [...changes].map(([id, status]) => [status, id]));
      return;
    }
    if (changes.size === 0) return;
    await sql`update ledger_transfers set hold_status = v.status
      from unnest(cast(${[...changes.keys()]} as text[]), cast(${[...changes.values()]} as text[])) as v (id, status)
      where ledger_transfers.id = v.id`.execute(ex);
  }

  /**
   * Newest first; transfers on either side of the account, from its newest or from the one
   * before `beforeId`: a walk back along the account's history chain, one primary-key lookup
   * a step, in one statement. A `beforeId` that is not on this account's chain gives nothing.
   */
  async listTransfersOf(ex: LedgerExecutor, accountId: string, beforeId: string | undefined, limit: number): Promise<Transfer[]> {
    const start =
      beforeId === undefined
        ? sql`(select a.last_transfer_id from ledger_accounts a where a.id = ${accountId})`
        : sql`(select case when p.debit_account_id = ${accountId} then p.debit_prev_id else p.credit_prev_id end
               from ledger_transfers p where p.id = ${beforeId} and (p.debit_account_id = ${accountId} or p.credit_account_id = ${accountId}))`;
    const { rows } = await sql<TransfersTable>`with recursive chain (id, n) as (
        select ${start}, 1
        union all
        select case when t.debit_account_id = ${accountId} then t.debit_prev_id else t.credit_prev_id end, chain.n + 1
        from chain join ledger_transfers t on t.id = chain.id
        where chain.n < cast(${limit} as integer)
      )
      select t.* from chain join ledger_transfers t on t.id = chain.id order by chain.n`.execute(ex);
    return rows.map(toTransfer);
  }

  async listAllTransfers(ex: LedgerExecutor): Promise<Transfer[]> {
    return (await ex.selectFrom('ledger_transfers').selectAll().orderBy('id').execute()).map(toTransfer);
  }

  /** Pending holds placed for an owner (`exchange:ACME-USD`), oldest first. */
  async findPendingHoldsOwnedBy(ex: LedgerExecutor, owner: string): Promise<Transfer[]> {
    const rows = await ex.selectFrom('ledger_transfers').selectAll().where('owner', '=', owner).where('hold_status', '=', 'pending').orderBy('id').execute();
    return rows.map(toTransfer);
  }

  /** Pending holds whose time ran out by `nowMs`, oldest first, at most `limit`. */
  async findExpiredHolds(ex: LedgerExecutor, nowMs: number, limit: number): Promise<Transfer[]> {
    const rows = await ex
      .selectFrom('ledger_transfers')
      .selectAll()
      .where('hold_status', '=', 'pending')
      .where('expires_at_ms', '<=', nowMs)
      .orderBy('expires_at_ms')
      .limit(limit)
      .execute();
    return rows.map(toTransfer);
  }
}
