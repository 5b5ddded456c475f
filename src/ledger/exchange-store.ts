// The tables of currency exchange: rates per ordered pair, and one record per conversion.
// Every function takes the executor it runs on, so a conversion's record, its wallet and its
// transfers commit together.
import type { Kysely } from 'kysely';
import { toNumber, type Database } from '../platform/db/database.js';
import type { LedgerTables } from './store.js';

type Int = bigint | number;

interface RatesTable {
  base: string;
  quote: string;
  rate: string;
  spread_bps: Int;
  updated_by: string;
  updated_at_ms: Int;
}

interface ExchangesTable {
  id: string;
  ref: string;
  user_id: string;
  from_currency: string;
  to_currency: string;
  from_amount_minor: Int;
  gross_minor: Int;
  net_minor: Int;
  spread_minor: Int;
  rate: string;
  spread_bps: Int;
  batch_id: string;
  created_at_ms: Int;
}

export interface ExchangeTables extends LedgerTables {
  ledger_exchange_rates: RatesTable;
  ledger_exchanges: ExchangesTable;
}

export type ExchangeExecutor = Kysely<ExchangeTables>;

/** A rate as stored: `rate` is the canonical decimal text of quote per one base. */
export interface StoredRate {
  base: string;
  quote: string;
  rate: string;
  spreadBps: number;
  updatedBy: string;
  updatedAtMs: number;
}

/** One conversion: what left the `from` wallet, what reached the `to` wallet, what the house kept. */
export interface ExchangeRecord {
  id: string;
  ref: string;
  userId: string;
  fromCurrency: string;
  toCurrency: string;
  fromAmountMinor: bigint;
  grossMinor: bigint;
  netMinor: bigint;
  spreadMinor: bigint;
  rate: string;
  spreadBps: number;
  batchId: string;
  createdAtMs: number;
}

function toRate(row: RatesTable): StoredRate {
  return { base: row.base, quote: row.quote, rate: row.rate, spreadBps: toNumber(row.spread_bps), updatedBy: row.updated_by, updatedAtMs: toNumber(row.updated_at_ms) };
}

function toRecord(row: ExchangesTable): ExchangeRecord {
  return {
    id: row.id,
    ref: row.ref,
    userId: row.user_id,
    fromCurrency: row.from_currency,
    toCurrency: row.to_currency,
    fromAmountMinor: BigInt(row.from_amount_minor),
    grossMinor: BigInt(row.gross_minor),
    netMinor: BigInt(row.net_minor),
    spreadMinor: BigInt(row.spread_minor),
    rate: row.rate,
    spreadBps: toNumber(row.spread_bps),
    batchId: row.batch_id,
    createdAtMs: toNumber(row.created_at_ms),
  };
}

export class ExchangeStore {
  readonly db: ExchangeExecutor;

  constructor(readonly database: Database) {
    this.db = database.kysely as unknown as ExchangeExecutor;
  }

  // --- rates ----------------------------------------------------------------------------

  async findRate(ex: ExchangeExecutor, base: string, quote: string): Promise<StoredRate | undefined> {
    const row = await ex.selectFrom('ledger_exchange_rates').selectAll().where('base', '=', base).where('quote', '=', quote).executeTakeFirst();
    return row ? toRate(row) : undefined;
  }

  async listRates(ex: ExchangeExecutor = this.db): Promise<StoredRate[]> {
    return (await ex.selectFrom('ledger_exchange_rates').selectAll().orderBy('base').orderBy('quote').execute()).map(toRate);
  }

  /** Inserts or replaces the rate of a pair. */
  async upsertRate(ex: ExchangeExecutor, rate: StoredRate): Promise<void> {
    const values = { base: rate.base, quote: rate.quote, rate: rate.rate, spread_bps: rate.spreadBps, updated_by: rate.updatedBy, updated_at_ms: rate.updatedAtMs };
    await ex
      .insertInto('ledger_exchange_rates')
      .values(values)
      .onConflict((oc) => oc.columns(['base', 'quote']).doUpdateSet({ rate: values.rate, spread_bps: values.spread_bps, updated_by: values.updated_by, updated_at_ms: values.updated_at_ms }))
      .execute();
  }

  /** False when there was no such rate. */
  async deleteRate(ex: ExchangeExecutor, base: string, quote: string): Promise<boolean> {
    const result = await ex.deleteFrom('ledger_exchange_rates').where('base', '=', base).where('quote', '=', quote).executeTakeFirst();
    return BigInt(result.numDeletedRows) > 0n;
  }

  // --- conversions ----------------------------------------------------------------------

  async findExchangeByRef(ex: ExchangeExecutor, ref: string): Promise<ExchangeRecord | undefined> {
    const row = await ex.selectFrom('ledger_exchanges').selectAll().where('ref', '=', ref).executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  async insertExchange(ex: ExchangeExecutor, r: ExchangeRecord): Promise<void> {
    await ex
      .insertInto('ledger_exchanges')
      .values({
        id: r.id,
        ref: r.ref,
        user_id: r.userId,
        from_currency: r.fromCurrency,
        to_currency: r.toCurrency,
        from_amount_minor: r.fromAmountMinor,
        gross_minor: r.grossMinor,
        net_minor: r.netMinor,
        spread_minor: r.spreadMinor,
        rate: r.rate,
        spread_bps: r.spreadBps,
        batch_id: r.batchId,
        created_at_ms: r.createdAtMs,
      })
      .execute();
  }

  /** A person's conversions, newest first. */
  async listExchangesOf(ex: ExchangeExecutor, userId: string, beforeId: string | undefined, limit: number): Promise<ExchangeRecord[]> {
    let q = ex.selectFrom('ledger_exchanges').selectAll().where('user_id', '=', userId);
    if (beforeId !== undefined) q = q.where('id', '<', beforeId);
    return (await q.orderBy('id', 'desc').limit(limit).execute()).map(toRecord);
  }

  // --- wallets --------------------------------------------------------------------------

  /**
   * Makes sure the person has an open wallet in `currency`, inside the caller's transaction, so
   * a conversion that fails opens nothing. `on conflict do nothing` (not a caught unique
   * violation) keeps a PostgreSQL transaction usable when another request opened it first.
   */
  async ensureOpenWallet(ex: ExchangeExecutor, wallet: { newId: string; userId: string; currency: string }, nowMs: number): Promise<void> {
    await ex
      .insertInto('ledger_accounts')
      .values({
        id: wallet.newId,
        currency: wallet.currency,
        kind: 'wallet',
        owner_user_id: wallet.userId,
        no_overdraft: 1,
        closed_at_ms: null,
        debits_pending: 0n,
        debits_posted: 0n,
        credits_pending: 0n,
        credits_posted: 0n,
        created_at_ms: nowMs,
      })
      .onConflict((oc) => oc.doNothing())
      .execute();
    await ex.updateTable('ledger_accounts').set({ closed_at_ms: null }).where('owner_user_id', '=', wallet.userId).where('currency', '=', wallet.currency).where('closed_at_ms', 'is not', null).execute();
  }
}
