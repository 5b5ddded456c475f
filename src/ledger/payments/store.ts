// Tables of top-ups, withdrawals, processed webhook events and payments settings. Like the
// ledger's store, every function takes the executor it runs on so the service can commit a
// status change, its ledger movement and the event record together.
import type { Kysely } from 'kysely';
import { toNumber, type Database } from '../../platform/db/database.js';
import type { Topup, TopupStatus, Withdrawal, WithdrawalStatus } from './model.js';

type Int = bigint | number;

interface TopupsTable {
  id: string;
  user_id: string;
  currency: string;
  amount_minor: Int;
  status: string;
  provider: string;
  provider_payment_id: string | null;
  redirect_url: string | null;
  request_key: string | null;
  expires_at_ms: Int;
  created_at_ms: Int;
  updated_at_ms: Int;
}

interface WithdrawalsTable {
  id: string;
  user_id: string;
  currency: string;
  amount_minor: Int;
  status: string;
  provider: string;
  provider_payout_id: string | null;
  provider_page_url: string | null;
  hold_id: string;
  request_key: string | null;
  created_at_ms: Int;
  updated_at_ms: Int;
}

interface PaymentEventsTable {
  provider: string;
  event_id: string;
  type: string;
  object_id: string;
  outcome: string;
  received_at_ms: Int;
}

interface SettingsTable {
  name: string;
  value: string;
  created_at_ms: Int;
}

export interface PaymentsTables {
  ledger_topups: TopupsTable;
  ledger_withdrawals: WithdrawalsTable;
  ledger_payment_events: PaymentEventsTable;
  ledger_payment_settings: SettingsTable;
}

export type PaymentsExecutor = Kysely<PaymentsTables>;

function toTopup(r: TopupsTable): Topup {
  return {
    id: r.id,
    userId: r.user_id,
    currency: r.currency,
    amountMinor: BigInt(r.amount_minor),
    status: r.status as TopupStatus,
    provider: r.provider,
    providerPaymentId: r.provider_payment_id,
    redirectUrl: r.redirect_url,
    expiresAtMs: toNumber(r.expires_at_ms),
    createdAtMs: toNumber(r.created_at_ms),
    updatedAtMs: toNumber(r.updated_at_ms),
  };
}

function toWithdrawal(r: WithdrawalsTable): Withdrawal {
  return {
    id: r.id,
    userId: r.user_id,
    currency: r.currency,
    amountMinor: BigInt(r.amount_minor),
    status: r.status as WithdrawalStatus,
    provider: r.provider,
    providerPayoutId: r.provider_payout_id,
    providerPageUrl: r.provider_page_url,
    holdId: r.hold_id,
    createdAtMs: toNumber(r.created_at_ms),
    updatedAtMs: toNumber(r.updated_at_ms),
  };
}

export class PaymentsStore {
  readonly db: PaymentsExecutor;

  constructor(readonly database: Database) {
    this.db = database.kysely as unknown as PaymentsExecutor;
  }

  // --- top-ups --------------------------------------------------------------------------

  async insertTopup(topup: Topup, requestKey: string | undefined): Promise<void> {
    await this.db
      .insertInto('ledger_topups')
      .values({
        id: topup.id,
        user_id: topup.userId,
        currency: topup.currency,
        amount_minor: topup.amountMinor,
        status: topup.status,
        provider: topup.provider,
        provider_payment_id: topup.providerPaymentId,
        redirect_url: topup.redirectUrl,
        request_key: requestKey ?? null,
        expires_at_ms: topup.expiresAtMs,
        created_at_ms: topup.createdAtMs,
        updated_at_ms: topup.updatedAtMs,
      })
      .execute();
  }

  async attachPayment(id: string, providerPaymentId: string, redirectUrl: string, nowMs: number): Promise<void> {
    await this.db.updateTable('ledger_topups').set({ provider_payment_id: providerPaymentId, redirect_url: redirectUrl, updated_at_ms: nowMs }).where('id', '=', id).execute();
  }

  async findTopup(ex: PaymentsExecutor, id: string): Promise<Topup | undefined> {
    const row = await ex.selectFrom('ledger_topups').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toTopup(row) : undefined;
  }

  async lockTopup(ex: PaymentsExecutor, id: string): Promise<Topup | undefined> {
    const row = await this.database.forUpdate(ex.selectFrom('ledger_topups').selectAll().where('id', '=', id)).executeTakeFirst();
    return row ? toTopup(row) : undefined;
  }

  async findTopupByKey(userId: string, requestKey: string): Promise<Topup | undefined> {
    const row = await this.db.selectFrom('ledger_topups').selectAll().where('user_id', '=', userId).where('request_key', '=', requestKey).executeTakeFirst();
    return row ? toTopup(row) : undefined;
  }

  async findTopupByProviderId(provider: string, providerPaymentId: string): Promise<Topup | undefined> {
    const row = await this.db.selectFrom('ledger_topups').selectAll().where('provider', '=', provider).where('provider_payment_id', '=', providerPaymentId).executeTakeFirst();
    return row ? toTopup(row) : undefined;
  }

  /** Newest first. */
  async listTopups(userId: string, currency: string, beforeId: string | undefined, limit: number): Promise<Topup[]> {
    let q = this.db.selectFrom('ledger_topups').selectAll().where('user_id', '=', userId).where('currency', '=', currency);
    if (beforeId !== undefined) q = q.where('id', '<', beforeId);
    return (await q.orderBy('id', 'desc').limit(limit).execute()).map(toTopup);
  }

  /** Moves a top-up out of `from`; false when it was not in `from` any more. */
  async setTopupStatus(ex: PaymentsExecutor, id: string, from: TopupStatus, to: TopupStatus, nowMs: number): Promise<boolean> {
    const result = await ex.updateTable('ledger_topups').set({ status: to, updated_at_ms: nowMs }).where('id', '=', id).where('status', '=', from).executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Marks pending top-ups whose time ran out as expired; returns how many. */
  async expireTopups(nowMs: number, limit: number): Promise<number> {
    const due = await this.db.selectFrom('ledger_topups').select('id').where('status', '=', 'pending').where('expires_at_ms', '<=', nowMs).orderBy('expires_at_ms').limit(limit).execute();
    if (due.length === 0) return 0;
    const result = await this.db
      .updateTable('ledger_topups')
      .set({ status: 'expired', updated_at_ms: nowMs })
      .where('id', 'in', due.map((r) => r.id))
      .where('status', '=', 'pending')
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  // --- withdrawals ----------------------------------------------------------------------

  async insertWithdrawal(ex: PaymentsExecutor, w: Withdrawal, requestKey: string | undefined): Promise<void> {
    await ex
      .insertInto('ledger_withdrawals')
      .values({
        id: w.id,
        user_id: w.userId,
        currency: w.currency,
        amount_minor: w.amountMinor,
        status: w.status,
        provider: w.provider,
        provider_payout_id: w.providerPayoutId,
        provider_page_url: w.providerPageUrl,
        hold_id: w.holdId,
        request_key: requestKey ?? null,
        created_at_ms: w.createdAtMs,
        updated_at_ms: w.updatedAtMs,
      })
      .execute();
  }

  async attachPayout(id: string, providerPayoutId: string, pageUrl: string | null, nowMs: number): Promise<void> {
    await this.db.updateTable('ledger_withdrawals').set({ provider_payout_id: providerPayoutId, provider_page_url: pageUrl, updated_at_ms: nowMs }).where('id', '=', id).execute();
  }

  async findWithdrawal(ex: PaymentsExecutor, id: string): Promise<Withdrawal | undefined> {
    const row = await ex.selectFrom('ledger_withdrawals').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toWithdrawal(row) : undefined;
  }

  async lockWithdrawal(ex: PaymentsExecutor, id: string): Promise<Withdrawal | undefined> {
    const row = await this.database.forUpdate(ex.selectFrom('ledger_withdrawals').selectAll().where('id', '=', id)).executeTakeFirst();
    return row ? toWithdrawal(row) : undefined;
  }

  async findWithdrawalByKey(userId: string, requestKey: string): Promise<Withdrawal | undefined> {
    const row = await this.db.selectFrom('ledger_withdrawals').selectAll().where('user_id', '=', userId).where('request_key', '=', requestKey).executeTakeFirst();
    return row ? toWithdrawal(row) : undefined;
  }

  async findWithdrawalByProviderId(provider: string, providerPayoutId: string): Promise<Withdrawal | undefined> {
    const row = await this.db.selectFrom('ledger_withdrawals').selectAll().where('provider', '=', provider).where('provider_payout_id', '=', providerPayoutId).executeTakeFirst();
    return row ? toWithdrawal(row) : undefined;
  }

  async listWithdrawals(userId: string, currency: string, beforeId: string | undefined, limit: number): Promise<Withdrawal[]> {
    let q = this.db.selectFrom('ledger_withdrawals').selectAll().where('user_id', '=', userId).where('currency', '=', currency);
    if (beforeId !== undefined) q = q.where('id', '<', beforeId);
    return (await q.orderBy('id', 'desc').limit(limit).execute()).map(toWithdrawal);
  }

  async setWithdrawalStatus(ex: PaymentsExecutor, id: string, from: WithdrawalStatus, to: WithdrawalStatus, nowMs: number): Promise<boolean> {
    const result = await ex.updateTable('ledger_withdrawals').set({ status: to, updated_at_ms: nowMs }).where('id', '=', id).where('status', '=', from).executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  // --- webhook events -------------------------------------------------------------------

  /** Records an event as processed; false when it was processed before (a replay). */
  async insertEvent(ex: PaymentsExecutor, e: { provider: string; eventId: string; type: string; objectId: string; outcome: string; receivedAtMs: number }): Promise<boolean> {
    try {
      await ex
        .insertInto('ledger_payment_events')
        .values({ provider: e.provider, event_id: e.eventId, type: e.type, object_id: e.objectId, outcome: e.outcome, received_at_ms: e.receivedAtMs })
        .execute();
      return true;
    } catch (error) {
      if (this.database.isUniqueViolation(error)) return false;
      throw error;
    }
  }

  async pruneEvents(olderThanMs: number): Promise<void> {
    await this.db.deleteFrom('ledger_payment_events').where('received_at_ms', '<', olderThanMs).execute();
  }

  // --- settings -------------------------------------------------------------------------

  async setting(name: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('ledger_payment_settings').select('value').where('name', '=', name).executeTakeFirst();
    return row?.value;
  }

  /** Stores a setting unless one exists; returns the value that is stored afterwards. */
  async settingOrInsert(name: string, value: string, nowMs: number): Promise<string> {
    try {
      await this.db.insertInto('ledger_payment_settings').values({ name, value, created_at_ms: nowMs }).execute();
      return value;
    } catch (error) {
      if (!this.database.isUniqueViolation(error)) throw error;
      return (await this.setting(name))!;
    }
  }
}
