// Top-ups and withdrawals: the use cases behind the routes, and the webhook that settles them.
// Money moves only through the ledger, inside the same transaction as the status change and
// the record of the event that caused it, so each provider payment is credited exactly once.
import type { Clock } from '../../platform/clock.js';
import { requirePrincipal, type Principal } from '../../platform/auth/principal.js';
import { AppError, fieldError } from '../../platform/errors.js';
import { isUuid, uuidv7 } from '../../platform/ids.js';
import type { Logger } from '../../platform/logging.js';
import { formatAmount } from '../../platform/money.js';
import type { EventPublisher } from '../../platform/outbox/bus.js';
import { decodeCursor, pageOf, type Page } from '../../platform/pagination.js';
import type { Currency } from '../model.js';
import { amountMinorOf } from '../routes.js';
import type { LedgerService, LedgerTx } from '../service.js';
import { decideTopup, decideWithdrawal, PAYMENT_AMOUNT_MAX_MINOR, TOPUP_TTL_MS, type EventDecision, type Topup, type Withdrawal } from './model.js';
import type { PaymentProvider, ProviderEvent, WebhookDelivery } from './provider.js';
import type { PaymentsExecutor, PaymentsStore } from './store.js';

/** Processed webhook event ids are kept this long; older replays fail the freshness check anyway. */
export const EVENT_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;
const EXPIRY_BATCH = 500;

export type WebhookOutcome = 'credited' | 'declined' | 'paid' | 'failed' | 'duplicate';

/**
 * Events the payments publish, keyed by the user: `{ userId, topupId | withdrawalId, currency,
 * amount (decimal string), amountMinor (integer string) }`, version 1.
 */
export const PAYMENT_TOPICS = { topupCredited: 'ledger.topup.credited', withdrawalPaid: 'ledger.withdrawal.paid', withdrawalFailed: 'ledger.withdrawal.failed' } as const;

export class PaymentsService {
  constructor(
    private readonly store: PaymentsStore,
    private readonly ledger: LedgerService,
    private readonly provider: PaymentProvider,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly events: EventPublisher,
  ) {}

  /** Appends a payment event in `tx`, the transaction that moves the money. */
  private publish(tx: PaymentsExecutor, topic: string, subject: { userId: string; currency: string; amountMinor: bigint }, ids: { topupId: string } | { withdrawalId: string }, scale: number): Promise<string> {
    const { userId, currency, amountMinor } = subject;
    return this.events.append(tx, { topic, key: userId, payload: { userId, ...ids, currency, amount: formatAmount(amountMinor, scale), amountMinor: amountMinor.toString() } });
  }

  private async moneyOf(currencyCode: string, amountText: string): Promise<{ currency: Currency; amountMinor: bigint }> {
    let currency: Currency;
    try {
      currency = await this.ledger.requireCurrency(currencyCode);
    } catch (error) {
      if (error instanceof AppError && error.code === 'UNKNOWN_CURRENCY') throw fieldError('UNKNOWN_CURRENCY', 'params', 'currency', 'is not a known currency or asset');
      throw error;
    }
    const amountMinor = amountMinorOf(amountText, currency);
    if (amountMinor > PAYMENT_AMOUNT_MAX_MINOR) throw fieldError('VALIDATION', 'body', 'amount', `must not exceed ${formatAmount(PAYMENT_AMOUNT_MAX_MINOR, currency.scale)}`);
    return { currency, amountMinor };
  }

  // --- top-ups --------------------------------------------------------------------------

  /** Starts a top-up: the payer confirms it at the provider's `redirectUrl`. Opens the wallet if needed. */
  async createTopup(caller: Principal | null, currencyCode: string, amountText: string, requestKey?: string): Promise<Topup> {
    const me = requirePrincipal(caller);
    const { currency, amountMinor } = await this.moneyOf(currencyCode, amountText);
    if (requestKey !== undefined) {
      const earlier = await this.store.findTopupByKey(me.userId, requestKey);
      if (earlier) return sameRequest(earlier, currency.code, amountMinor);
    }
    await this.ledger.openWallet(me.userId, currency.code);
    const nowMs = this.clock.nowMs();
    const topup: Topup = {
      id: uuidv7(nowMs),
      userId: me.userId,
      currency: currency.code,
      amountMinor,
      status: 'pending',
      provider: this.provider.name,
      providerPaymentId: null,
      redirectUrl: null,
      expiresAtMs: nowMs + TOPUP_TTL_MS,
      createdAtMs: nowMs,
      updatedAtMs: nowMs,
    };
    await this.store.insertTopup(topup, requestKey);
    try {
      const started = await this.provider.createPayment({
        reference: topup.id,
        amountMinor,
        currency: currency.code,
        scale: currency.scale,
        description: `Top-up of your Gavel ${currency.code} wallet (${currency.name})`,
        expiresAtMs: topup.expiresAtMs,
      });
      await this.store.attachPayment(topup.id, started.providerPaymentId, started.redirectUrl, nowMs);
      return { ...topup, providerPaymentId: started.providerPaymentId, redirectUrl: started.redirectUrl };
    } catch (error) {
      await this.store.setTopupStatus(this.store.db, topup.id, 'pending', 'failed', this.clock.nowMs());
      this.logger.error({ err: error, topupId: topup.id, provider: this.provider.name }, 'the payment provider did not start a top-up');
      throw new AppError('PAYMENT_PROVIDER_FAILED', 'the payment provider could not start the payment; nothing was charged, try again');
    }
  }

  /** One of the caller's top-ups in that currency; anyone else's is 404. */
  async topupFor(caller: Principal | null, currency: string, id: string): Promise<Topup> {
    const me = requirePrincipal(caller);
    const topup = await this.store.findTopup(this.store.db, id.toLowerCase());
    if (!topup || topup.userId !== me.userId || topup.currency !== currency) throw fieldError('NOT_FOUND', 'params', 'id', 'you have no such top-up');
    return topup;
  }

  async listTopups(caller: Principal | null, currency: string, query: { limit: number; cursor?: string | undefined }): Promise<Page<Topup>> {
    const me = requirePrincipal(caller);
    const beforeId = query.cursor === undefined ? undefined : decodeCursor(query.cursor, isUuid);
    return pageOf(await this.store.listTopups(me.userId, currency, beforeId, query.limit + 1), query.limit, (t) => t.id);
  }

  /** Marks pending top-ups past their time as expired (run by workers; reads apply it lazily too). */
  async expireTopups(): Promise<number> {
    const count = await this.store.expireTopups(this.clock.nowMs(), EXPIRY_BATCH);
    if (count) this.logger.info({ count }, 'top-ups expired unconfirmed');
    return count;
  }

  async pruneEvents(): Promise<void> {
    await this.store.pruneEvents(this.clock.nowMs() - EVENT_RETENTION_MS);
  }

  // --- withdrawals ----------------------------------------------------------------------

  /** Holds the money at once and asks the provider to pay it out. Insufficient funds: 409, nothing written. */
  async createWithdrawal(caller: Principal | null, currencyCode: string, amountText: string, requestKey?: string): Promise<Withdrawal> {
    const me = requirePrincipal(caller);
    const { currency, amountMinor } = await this.moneyOf(currencyCode, amountText);
    if (requestKey !== undefined) {
      const earlier = await this.store.findWithdrawalByKey(me.userId, requestKey);
      if (earlier) return sameRequest(earlier, currency.code, amountMinor);
    }
    const wallet = await this.ledger.walletOf(me.userId, currency.code);
    if (!wallet || wallet.closed) throw fieldError('NOT_FOUND', 'params', 'currency', `you have no open ${currency.code} wallet`);
    const nowMs = this.clock.nowMs();
    const id = uuidv7(nowMs);
    const withdrawal = await this.store.db.transaction().execute(async (tx) => {
      const hold = await this.ledger.hold({ ref: `withdrawal:${id}:hold`, accountId: wallet.id, currency: currency.code, amountMinor, owner: `withdrawal:${id}`, memo: 'withdrawal' }, asLedgerTx(tx));
      const w: Withdrawal = { id, userId: me.userId, currency: currency.code, amountMinor, status: 'requested', provider: this.provider.name, providerPayoutId: null, providerPageUrl: null, holdId: hold.id, createdAtMs: nowMs, updatedAtMs: nowMs };
      await this.store.insertWithdrawal(tx, w, requestKey);
      return w;
    });
    try {
      const started = await this.provider.createPayout({ reference: id, amountMinor, currency: currency.code, scale: currency.scale, description: `Withdrawal from your Gavel ${currency.code} wallet` });
      await this.store.attachPayout(id, started.providerPayoutId, started.pageUrl, nowMs);
      return { ...withdrawal, providerPayoutId: started.providerPayoutId, providerPageUrl: started.pageUrl };
    } catch (error) {
      this.logger.error({ err: error, withdrawalId: id, provider: this.provider.name }, 'the payment provider did not start a payout; releasing the hold');
      await this.store.db.transaction().execute(async (tx) => {
        await this.ledger.release({ ref: `withdrawal:${id}:release`, holdId: withdrawal.holdId, memo: 'payout could not start' }, asLedgerTx(tx));
        await this.store.setWithdrawalStatus(tx, id, 'requested', 'failed', this.clock.nowMs());
      });
      throw new AppError('PAYMENT_PROVIDER_FAILED', 'the payment provider could not start the payout; the money is available again');
    }
  }

  async withdrawalFor(caller: Principal | null, currency: string, id: string): Promise<Withdrawal> {
    const me = requirePrincipal(caller);
    const w = await this.store.findWithdrawal(this.store.db, id.toLowerCase());
    if (!w || w.userId !== me.userId || w.currency !== currency) throw fieldError('NOT_FOUND', 'params', 'id', 'you have no such withdrawal');
    return w;
  }

  async listWithdrawals(caller: Principal | null, currency: string, query: { limit: number; cursor?: string | undefined }): Promise<Page<Withdrawal>> {
    const me = requirePrincipal(caller);
    const beforeId = query.cursor === undefined ? undefined : decodeCursor(query.cursor, isUuid);
    return pageOf(await this.store.listWithdrawals(me.userId, currency, beforeId, query.limit + 1), query.limit, (w) => w.id);
  }

  // --- the webhook ----------------------------------------------------------------------

  /**
   * Verifies a provider's webhook and applies its event once. Anything refused — a forged or
   * stale signature, a replayed event, an event that does not match its payment — changes
   * nothing, is logged, and answers 4xx.
   */
  async handleWebhook(delivery: WebhookDelivery, log: Pick<Logger, 'info' | 'warn' | 'error'> = this.logger): Promise<{ outcome: WebhookOutcome; eventId: string }> {
    const verdict = this.provider.verifyWebhook(delivery, this.clock.nowMs());
    if (!verdict.ok) {
      log.warn({ event: 'webhook_refused', code: verdict.code, reason: verdict.reason, provider: this.provider.name }, 'payment webhook refused');
      throw new AppError(verdict.code, verdict.reason);
    }
    const event = verdict.event;
    const about = { eventId: event.eventId, type: event.type, objectId: event.objectId, provider: this.provider.name };
    try {
      const outcome = event.type.startsWith('payment.') ? await this.applyToTopup(event) : await this.applyToWithdrawal(event);
      log.info({ event: 'webhook_applied', ...about, outcome }, 'payment webhook applied');
      return { outcome, eventId: event.eventId };
    } catch (error) {
      if (error instanceof RefusedEvent) {
        log[error.alarming ? 'error' : 'warn']({ event: 'webhook_refused', ...about, code: error.code, reason: error.message }, error.alarming ? 'payment webhook refused: money may be waiting at the provider' : 'payment webhook refused');
        throw new AppError(error.code, error.message);
      }
      throw error;
    }
  }

  private async applyToTopup(event: ProviderEvent): Promise<WebhookOutcome> {
    const found = await this.store.findTopupByProviderId(this.provider.name, event.objectId);
    if (!found) throw new RefusedEvent('WEBHOOK_EVENT_REJECTED', `no top-up for provider payment ${event.objectId}`, event.type === 'payment.succeeded');
    // A wallet closed since the top-up began is reopened to receive the money (outside the
    // transaction: opening is idempotent, and SQLite has one connection).
    if (event.type === 'payment.succeeded' && found.status === 'pending') await this.ledger.openWallet(found.userId, found.currency);
    const { scale } = await this.ledger.requireCurrency(found.currency);
    let creditEventId: string | undefined;
    const outcome = await this.store.db.transaction().execute(async (tx) => {
      await this.refuseReplay(tx, event);
      const topup = (await this.store.lockTopup(tx, found.id))!;
      const nowMs = this.clock.nowMs();
      const decision = settled(decideTopup(topup, event, nowMs));
      let outcome: WebhookOutcome = 'duplicate';
      if (decision === 'credit') {
        const wallet = (await this.ledger.walletOf(topup.userId, topup.currency, asLedgerTx(tx)))!;
        const clearing = await this.ledger.systemAccount('provider_clearing', topup.currency, asLedgerTx(tx));
        await this.ledger.transfer(
          { ref: `topup:${event.objectId}`, debitAccountId: clearing.id, creditAccountId: wallet.id, currency: topup.currency, amountMinor: topup.amountMinor, owner: `topup:${topup.id}`, memo: 'top-up' },
          asLedgerTx(tx),
        );
        await this.store.setTopupStatus(tx, topup.id, 'pending', 'succeeded', nowMs);
        // In the same commit as the credit: the user is told exactly when the money arrived.
        creditEventId = await this.publish(tx, PAYMENT_TOPICS.topupCredited, topup, { topupId: topup.id }, scale);
        outcome = 'credited';
      } else if (decision === 'decline') {
        await this.store.setTopupStatus(tx, topup.id, 'pending', 'declined', nowMs);
        outcome = 'declined';
      }
      await this.recordEvent(tx, event, outcome, nowMs);
      return outcome;
    });
    if (outcome === 'credited') {
      this.events.poke();
      this.logger.info({ event: 'topup_credited', userId: found.userId, topupId: found.id, currency: found.currency, amountMinor: found.amountMinor.toString(), eventId: creditEventId }, 'top-up credited; the user is notified');
    }
    return outcome;
  }

  private async applyToWithdrawal(event: ProviderEvent): Promise<WebhookOutcome> {
    const found = await this.store.findWithdrawalByProviderId(this.provider.name, event.objectId);
    if (!found) throw new RefusedEvent('WEBHOOK_EVENT_REJECTED', `no withdrawal for provider payout ${event.objectId}`, true);
    const { scale } = await this.ledger.requireCurrency(found.currency);
    const outcome = await this.store.db.transaction().execute(async (tx) => {
      await this.refuseReplay(tx, event);
      const w = (await this.store.lockWithdrawal(tx, found.id))!;
      const nowMs = this.clock.nowMs();
      const decision = settled(decideWithdrawal(w, event));
      let outcome: WebhookOutcome = 'duplicate';
      if (decision === 'capture') {
        const clearing = await this.ledger.systemAccount('provider_clearing', w.currency, asLedgerTx(tx));
        await this.ledger.capture({ ref: `withdrawal:${w.id}:capture`, holdId: w.holdId, toAccountId: clearing.id, memo: 'withdrawal paid out' }, asLedgerTx(tx));
        await this.store.setWithdrawalStatus(tx, w.id, 'requested', 'paid', nowMs);
        await this.publish(tx, PAYMENT_TOPICS.withdrawalPaid, w, { withdrawalId: w.id }, scale);
        outcome = 'paid';
      } else if (decision === 'release') {
        await this.ledger.release({ ref: `withdrawal:${w.id}:release`, holdId: w.holdId, memo: 'payout failed' }, asLedgerTx(tx));
        await this.store.setWithdrawalStatus(tx, w.id, 'requested', 'failed', nowMs);
        await this.publish(tx, PAYMENT_TOPICS.withdrawalFailed, w, { withdrawalId: w.id }, scale);
        outcome = 'failed';
      }
      await this.recordEvent(tx, event, outcome, nowMs);
      return outcome;
    });
    if (outcome === 'paid' || outcome === 'failed') this.events.poke();
    return outcome;
  }

  /** A replay is refused before anything else is looked at; the insert at the end closes the race. */
  private async refuseReplay(tx: PaymentsExecutor, event: ProviderEvent): Promise<void> {
    const seen = await tx.selectFrom('ledger_payment_events').select('outcome').where('provider', '=', this.provider.name).where('event_id', '=', event.eventId).executeTakeFirst();
    if (seen) throw new RefusedEvent('WEBHOOK_REPLAYED', `event ${event.eventId} was processed already (${seen.outcome})`, false);
  }

  private async recordEvent(tx: PaymentsExecutor, event: ProviderEvent, outcome: WebhookOutcome, nowMs: number): Promise<void> {
    const fresh = await this.store.insertEvent(tx, { provider: this.provider.name, eventId: event.eventId, type: event.type, objectId: event.objectId, outcome, receivedAtMs: nowMs });
    if (!fresh) throw new RefusedEvent('WEBHOOK_REPLAYED', `event ${event.eventId} was processed already`, false);
  }
}

/** An event refused after its signature checked out; the transaction rolls back. */
class RefusedEvent extends Error {
  constructor(
    readonly code: 'WEBHOOK_EVENT_REJECTED' | 'PAYMENT_NOT_PENDING' | 'WEBHOOK_REPLAYED',
    detail: string,
    /** Money may be waiting at the provider with nowhere to go: logged as an error, not a warning. */
    readonly alarming: boolean,
  ) {
    super(detail);
  }
}

/**
 * The Idempotency-Key is also stored with the top-up or withdrawal, so a retry after a crash
 * (or after the key's 24 hours) finds the first one instead of moving money twice.
 */
function sameRequest<T extends { currency: string; amountMinor: bigint }>(earlier: T, currency: string, amountMinor: bigint): T {
  if (earlier.currency !== currency || earlier.amountMinor !== amountMinor) throw new AppError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used with a different request');
  return earlier;
}

function settled<A extends string>(decision: EventDecision<A>): A {
  if (!decision.ok) throw new RefusedEvent(decision.code, decision.detail, decision.alarming);
  return decision.action;
}

/** The payments tables and the ledger's share one database; a transaction serves both. */
function asLedgerTx(tx: PaymentsExecutor): LedgerTx {
  return tx as unknown as LedgerTx;
}
