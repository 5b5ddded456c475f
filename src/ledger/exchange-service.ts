// Currency exchange between one person's wallets, after TigerBeetle's recipe: two linked
// transfers through the house's liquidity accounts, plus the spread to house revenue, in one
// ledger batch. Admins set a rate per ordered pair; the arithmetic lives in exchange-rates.ts.
import assert from 'node:assert/strict';
import type { Clock } from '../platform/clock.js';
import { AppError, fieldError, type FieldError } from '../platform/errors.js';
import { requireAdmin, requirePrincipal, type Principal } from '../platform/auth/principal.js';
import { isUuid, uuidv7 } from '../platform/ids.js';
import { MAX_AMOUNT_MINOR, formatAmount, parseAmount } from '../platform/money.js';
import { decodeCursor, pageOf, type Page } from '../platform/pagination.js';
import { SPREAD_BPS_MAX, convert, formatRate, parseRate, type Conversion } from './exchange-rates.js';
import type { ExchangeExecutor, ExchangeRecord, ExchangeStore, StoredRate } from './exchange-store.js';
import { available, type Account, type Currency } from './model.js';
import type { LedgerOp, LedgerService } from './service.js';
import type { LedgerExecutor, LedgerStore } from './store.js';

type Where = FieldError['in'];

export interface ExchangeRequest {
  from: string;
  to: string;
  /** In major units of `from`. */
  amount: string;
  /** Refuse unless at least this much (major units of `to`) would arrive. */
  minReceive?: string;
}

export interface Quote extends Conversion {
  from: Currency;
  to: Currency;
  amountMinor: bigint;
  rate: StoredRate;
}

const RETRYABLE_PG_CODES = new Set(['40P01', '40001']); // deadlock, serialization failure
const MAX_ATTEMPTS = 5;

export class ExchangeService {
  constructor(
    private readonly ledger: LedgerService,
    private readonly ledgerStore: LedgerStore,
    private readonly store: ExchangeStore,
    private readonly clock: Clock,
  ) {}

  // --- rates (admins set them; anyone signed in reads them) ----------------------------

  async listRates(caller: Principal | null): Promise<StoredRate[]> {
    requirePrincipal(caller);
    return this.store.listRates();
  }

  async getRate(caller: Principal | null, base: string, quote: string): Promise<StoredRate> {
    requirePrincipal(caller);
    const pair = await this.pairOf(base, quote, 'params', ['base', 'quote']);
    return this.requireRate(this.store.db, pair.from, pair.to);
  }

  /** Sets the rate of one ordered pair; `created` is false when it replaced one. */
  async setRate(caller: Principal | null, input: { base: string; quote: string; rate: string; spreadBps: number }): Promise<{ rate: StoredRate; created: boolean }> {
    const admin = requireAdmin(caller);
    await this.pairOf(input.base, input.quote, 'params', ['base', 'quote']);
    const parsed = parseRate(input.rate);
    if (!parsed.ok) throw fieldError('VALIDATION', 'body', 'rate', parsed.reason);
    if (!Number.isInteger(input.spreadBps) || input.spreadBps < 0 || input.spreadBps > SPREAD_BPS_MAX) throw fieldError('VALIDATION', 'body', 'spreadBps', `must be an integer from 0 to ${SPREAD_BPS_MAX}`);
    const rate: StoredRate = { base: input.base, quote: input.quote, rate: formatRate(parsed.rate), spreadBps: input.spreadBps, updatedBy: admin.userId, updatedAtMs: this.clock.nowMs() };
    const existed = await this.store.findRate(this.store.db, input.base, input.quote);
    await this.store.upsertRate(this.store.db, rate);
    return { rate, created: !existed };
  }

  async deleteRate(caller: Principal | null, base: string, quote: string): Promise<void> {
    requireAdmin(caller);
    await this.pairOf(base, quote, 'params', ['base', 'quote']);
    if (!(await this.store.deleteRate(this.store.db, base, quote))) throw rateNotFound(base, quote);
  }

  // --- quotes and conversions ---------------------------------------------------------

  /** What converting would give now, without moving anything. */
  async quote(caller: Principal | null, input: ExchangeRequest, where: Where): Promise<Quote> {
    requirePrincipal(caller);
    const { from, to, amountMinor } = await this.requestOf(input, where);
    const rate = await this.requireRate(this.store.db, from, to);
    return { from, to, amountMinor, rate, ...priced(from, to, amountMinor, rate, where) };
  }

  /**
   * Converts from one of the caller's wallets to another (opened if need be), all or nothing.
   * `key` (the Idempotency-Key) names the conversion: a repeat returns the first one.
   */
  async exchange(caller: Principal | null, input: ExchangeRequest, key: string | undefined): Promise<ExchangeRecord> {
    const me = requirePrincipal(caller);
    const request = await this.requestOf(input, 'body');
    const minReceiveMinor = input.minReceive === undefined ? undefined : amountIn(input.minReceive, request.to, 'body', 'minReceive');
    const ref = `exchange:${me.userId}:${key ?? uuidv7(this.clock.nowMs())}`;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.store.db.transaction().execute((tx) => this.convertIn(tx, { ...request, userId: me.userId, ref, minReceiveMinor }));
      } catch (error) {
        // A unique violation is a concurrent twin of this very conversion: the retry finds it.
        const retryable = RETRYABLE_PG_CODES.has((error as { code?: string }).code ?? '') || this.store.database.isUniqueViolation(error);
        if (!retryable || attempt >= MAX_ATTEMPTS) throw error;
      }
    }
  }

  async history(caller: Principal | null, query: { limit: number; cursor?: string }): Promise<Page<ExchangeRecord>> {
    const me = requirePrincipal(caller);
    const beforeId = query.cursor === undefined ? undefined : decodeCursor(query.cursor, isUuid);
    const rows = await this.store.listExchangesOf(this.store.db, me.userId, beforeId, query.limit + 1);
    return pageOf(rows, query.limit, (r) => r.id);
  }

  private async convertIn(
    tx: ExchangeExecutor,
    c: { userId: string; ref: string; from: Currency; to: Currency; amountMinor: bigint; minReceiveMinor: bigint | undefined },
  ): Promise<ExchangeRecord> {
    const existing = await this.store.findExchangeByRef(tx, c.ref);
    if (existing) return sameExchange(existing, c);
    const rate = await this.requireRate(tx, c.from, c.to);
    const conversion = priced(c.from, c.to, c.amountMinor, rate, 'body');
    if (c.minReceiveMinor !== undefined && conversion.netMinor < c.minReceiveMinor) {
      throw fieldError('EXCHANGE_BELOW_MINIMUM', 'body', 'minReceive', `at ${rate.rate} less ${rate.spreadBps} bps you would receive ${formatAmount(conversion.netMinor, c.to.scale)} ${c.to.code}`);
    }
    const nowMs = this.clock.nowMs();
    const { accounts, locked } = await this.lockAccountsOf(tx, c, nowMs);
    const availableMinor = available(locked.get(accounts.fromWallet)!);
    if (availableMinor < c.amountMinor) {
      throw fieldError('INSUFFICIENT_FUNDS', 'body', 'amount', `your ${c.from.code} wallet has ${formatAmount(availableMinor, c.from.scale)} available`);
    }
    const id = uuidv7(nowMs);
    const memo = `exchange ${formatAmount(c.amountMinor, c.from.scale)} ${c.from.code} → ${formatAmount(conversion.netMinor, c.to.scale)} ${c.to.code} at ${rate.rate}, spread ${rate.spreadBps} bps`;
    const ops = exchangeOps({ ...c, ...conversion, accounts, owner: `exchange:${id}`, memo });
    if (!countersFit(locked, ops)) {
      throw fieldError('EXCHANGE_TOO_LARGE', 'body', 'amount', `the ledger cannot hold this conversion now: an account's posted totals would exceed 2^63 − 1 minor units`);
    }
    const transfers = await this.ledger.execute(ops, tx as unknown as LedgerExecutor);
    const record: ExchangeRecord = {
      id,
      ref: c.ref,
      userId: c.userId,
      fromCurrency: c.from.code,
      toCurrency: c.to.code,
      fromAmountMinor: c.amountMinor,
      ...conversion,
      rate: rate.rate,
      spreadBps: rate.spreadBps,
      batchId: transfers[0]!.batchId,
      createdAtMs: nowMs,
    };
    await this.store.insertExchange(tx, record);
    return record;
  }

  /**
   * Finds the five accounts of a conversion (opening the `to` wallet) and locks them together,
   * in id order, so the balance checks below hold until the batch commits and two opposite
   * conversions (USD→EUR, EUR→USD) cannot deadlock on the two liquidity accounts.
   */
  private async lockAccountsOf(tx: ExchangeExecutor, c: { userId: string; from: Currency; to: Currency }, nowMs: number): Promise<{ accounts: ExchangeAccounts; locked: Map<string, Account> }> {
    const ltx = tx as unknown as LedgerExecutor;
    const fromWallet = await this.ledgerStore.findWallet(ltx, c.userId, c.from.code);
    if (!fromWallet || fromWallet.closed) throw fieldError('ACCOUNT_NOT_FOUND', 'body', 'from', `you have no open ${c.from.code} wallet`);
    await this.store.ensureOpenWallet(tx, { newId: uuidv7(nowMs), userId: c.userId, currency: c.to.code }, nowMs);
    const accounts: ExchangeAccounts = {
      fromWallet: fromWallet.id,
      toWallet: (await this.ledgerStore.findWallet(ltx, c.userId, c.to.code))!.id,
      liquidityFrom: (await this.ledger.systemAccount('exchange_liquidity', c.from.code, ltx)).id,
      liquidityTo: (await this.ledger.systemAccount('exchange_liquidity', c.to.code, ltx)).id,
      revenueTo: (await this.ledger.systemAccount('house_revenue', c.to.code, ltx)).id,
    };
    return { accounts, locked: await this.ledgerStore.lockAccounts(ltx, Object.values(accounts)) };
  }

  // --- input --------------------------------------------------------------------------

  private async requestOf(input: ExchangeRequest, where: Where): Promise<{ from: Currency; to: Currency; amountMinor: bigint }> {
    const { from, to } = await this.pairOf(input.from, input.to, where, ['from', 'to']);
    return { from, to, amountMinor: amountIn(input.amount, from, where, 'amount') };
  }

  /** Both currencies known and different, or a 400 naming the field at fault. */
  private async pairOf(fromCode: string, toCode: string, where: Where, fields: [string, string]): Promise<{ from: Currency; to: Currency }> {
    const from = await this.currencyIn(fromCode, where, fields[0]);
    const to = await this.currencyIn(toCode, where, fields[1]);
    if (from.code === to.code) throw fieldError('VALIDATION', where, fields[1], `must differ from ${fields[0]}: an exchange needs two currencies`);
    return { from, to };
  }

  private async currencyIn(code: string, where: Where, field: string): Promise<Currency> {
    try {
      return await this.ledger.requireCurrency(code, field);
    } catch (error) {
      if (error instanceof AppError && error.code === 'UNKNOWN_CURRENCY') throw fieldError('UNKNOWN_CURRENCY', where, field, `${code} is not a currency or asset this ledger knows`);
      throw error;
    }
  }

  private async requireRate(ex: ExchangeExecutor, from: Currency, to: Currency): Promise<StoredRate> {
    const rate = await this.store.findRate(ex, from.code, to.code);
    if (!rate) throw rateNotFound(from.code, to.code);
    return rate;
  }
}

/** Prices `amountMinor` at `rate`, or a 400 naming `amount` with the nearest amount that would do. */
function priced(from: Currency, to: Currency, amountMinor: bigint, rate: StoredRate, where: Where): Conversion {
  const parsed = parseRate(rate.rate);
  assert.ok(parsed.ok, `stored rate ${rate.base}/${rate.quote} ${rate.rate} is canonical`);
  const result = convert({ amountMinor, fromScale: from.scale, toScale: to.scale, rate: parsed.rate, spreadBps: rate.spreadBps });
  if (result.ok) return { grossMinor: result.grossMinor, netMinor: result.netMinor, spreadMinor: result.spreadMinor };
  if (result.code === 'EXCHANGE_TOO_SMALL') {
    const smallest = formatAmount(result.minAmountMinor, from.scale);
    throw fieldError('EXCHANGE_TOO_SMALL', where, 'amount', `at ${rate.rate} ${to.code} per ${from.code} less ${rate.spreadBps} bps this is less than one minor unit of ${to.code}; the smallest amount that converts is ${smallest} ${from.code}`);
  }
  const largest = formatAmount(result.maxAmountMinor < MAX_AMOUNT_MINOR ? result.maxAmountMinor : MAX_AMOUNT_MINOR, from.scale);
  throw fieldError('EXCHANGE_TOO_LARGE', where, 'amount', `at ${rate.rate} the result exceeds 2^63 − 1 minor units of ${to.code}; the largest amount that converts is ${largest} ${from.code}`);
}

/** Account ids of one conversion. */
interface ExchangeAccounts {
  fromWallet: string;
  toWallet: string;
  liquidityFrom: string;
  liquidityTo: string;
  revenueTo: string;
}

/** The batch: the whole amount in, the net out to the wallet, the spread to house revenue. */
function exchangeOps(c: { ref: string; from: Currency; to: Currency; amountMinor: bigint; netMinor: bigint; spreadMinor: bigint; accounts: ExchangeAccounts; owner: string; memo: string }): LedgerOp[] {
  const { accounts: a, owner, memo } = c;
  const ops: LedgerOp[] = [
    { type: 'transfer', ref: `${c.ref}/out`, debitAccountId: a.fromWallet, creditAccountId: a.liquidityFrom, currency: c.from.code, amountMinor: c.amountMinor, owner, memo },
    { type: 'transfer', ref: `${c.ref}/in`, debitAccountId: a.liquidityTo, creditAccountId: a.toWallet, currency: c.to.code, amountMinor: c.netMinor, owner, memo },
  ];
  if (c.spreadMinor > 0n) ops.push({ type: 'transfer', ref: `${c.ref}/spread`, debitAccountId: a.liquidityTo, creditAccountId: a.revenueTo, currency: c.to.code, amountMinor: c.spreadMinor, owner, memo });
  return ops;
}

/**
 * Whether every account's posted counters stay within 2^63 − 1 after `ops` (they only grow).
 * The ledger refuses each such transfer too (AMOUNT_INVALID); checking the whole batch here
 * first answers with the exchange's own code, naming `amount`.
 */
function countersFit(accounts: ReadonlyMap<string, Account>, ops: readonly LedgerOp[]): boolean {
  const after = new Map([...accounts].map(([id, a]) => [id, { debits: a.debitsPosted, credits: a.creditsPosted }]));
  for (const op of ops) {
    assert.ok(op.type === 'transfer', 'an exchange posts plain transfers');
    after.get(op.debitAccountId)!.debits += op.amountMinor;
    after.get(op.creditAccountId)!.credits += op.amountMinor;
  }
  return [...after.values()].every((c) => c.debits <= MAX_AMOUNT_MINOR && c.credits <= MAX_AMOUNT_MINOR);
}

function amountIn(text: string, currency: Currency, where: Where, field: string): bigint {
  const parsed = parseAmount(text, currency.scale);
  if (!parsed.ok) throw fieldError('VALIDATION', where, field, `${parsed.reason} (${currency.code})`);
  return parsed.minor;
}

/** A conversion already written under this ref must be the one asked for again. */
function sameExchange(r: ExchangeRecord, c: { userId: string; from: Currency; to: Currency; amountMinor: bigint }): ExchangeRecord {
  if (r.userId === c.userId && r.fromCurrency === c.from.code && r.toCurrency === c.to.code && r.fromAmountMinor === c.amountMinor) return r;
  throw new AppError('REF_EXISTS_WITH_DIFFERENT_DATA', 'this Idempotency-Key named a different exchange');
}

function rateNotFound(base: string, quote: string): AppError {
  return new AppError('RATE_NOT_FOUND', `no exchange rate is set for ${base} → ${quote}`);
}
