// The rules of top-ups and withdrawals. A top-up waits for the payer to confirm it at the
// provider and ends credited, declined or expired; a withdrawal holds the money at once and
// ends paid (the hold is captured to the provider) or failed (the hold is released).
// What a provider's event does to each is decided here. Pure: no storage, no clock.
import type { ProviderEvent } from './provider.js';

/** How long a payer has to confirm a top-up. */
export const TOPUP_TTL_MS = 30 * 60 * 1000;
/**
 * The most one top-up or withdrawal may move: 10^15 minor units (ten trillion dollars). It
 * keeps a provider clearing account's counters far from the 2^63 − 1 a bigint column holds.
 */
export const PAYMENT_AMOUNT_MAX_MINOR = 10n ** 15n;

/**
 * pending: waiting for the payer. succeeded: the provider confirmed; the wallet is credited.
 * declined: the payer (or their bank) refused. expired: nobody confirmed within the TTL.
 * failed: the provider could not start the payment.
 */
export type TopupStatus = 'pending' | 'succeeded' | 'declined' | 'expired' | 'failed';
/** requested: the money is held. paid: the provider paid it out. failed: the hold was released. */
export type WithdrawalStatus = 'requested' | 'paid' | 'failed';

export interface Topup {
  id: string;
  userId: string;
  currency: string;
  amountMinor: bigint;
  status: TopupStatus;
  provider: string;
  providerPaymentId: string | null;
  redirectUrl: string | null;
  expiresAtMs: number;
  createdAtMs: number;
  updatedAtMs: number;
}

export interface Withdrawal {
  id: string;
  userId: string;
  currency: string;
  amountMinor: bigint;
  status: WithdrawalStatus;
  provider: string;
  providerPayoutId: string | null;
  providerPageUrl: string | null;
  /** The ledger hold that keeps the money until the payout settles. */
  holdId: string;
  createdAtMs: number;
  updatedAtMs: number;
}

/** A pending top-up reads as expired once its time is up, before any worker has marked it. */
export function topupStatusAt(topup: Pick<Topup, 'status' | 'expiresAtMs'>, nowMs: number): TopupStatus {
  return topup.status === 'pending' && nowMs >= topup.expiresAtMs ? 'expired' : topup.status;
}

/** What an event does; a refusal changes nothing and is answered 4xx. */
export type EventDecision<A extends string> =
  | { ok: true; action: A }
  | { ok: false; code: 'WEBHOOK_EVENT_REJECTED' | 'PAYMENT_NOT_PENDING'; detail: string; /** money may be stuck at the provider */ alarming: boolean };

function mismatch(record: { amountMinor: bigint; currency: string }, event: ProviderEvent): string | undefined {
  if (event.currency !== record.currency) return `the event is in ${event.currency}, the record in ${record.currency}`;
  if (event.amountMinor !== record.amountMinor) return `the event moves ${event.amountMinor} minor units, the record ${record.amountMinor}`;
  return undefined;
}

/**
 * payment.succeeded credits a pending top-up once; payment.declined marks it declined. The same
 * outcome again (a new event id for a settled top-up) is a harmless duplicate. Money confirmed
 * for a top-up that already expired or was declined is refused and raised: the provider holds
 * it and it has to be refunded there.
 */
export function decideTopup(topup: Topup, event: ProviderEvent, nowMs: number): EventDecision<'credit' | 'decline' | 'duplicate'> {
  const wrong = mismatch(topup, event) ?? (event.reference !== topup.id ? `the event's reference ${event.reference} is not top-up ${topup.id}` : undefined);
  if (wrong) return { ok: false, code: 'WEBHOOK_EVENT_REJECTED', detail: wrong, alarming: event.type === 'payment.succeeded' };
  const target: TopupStatus = event.type === 'payment.succeeded' ? 'succeeded' : 'declined';
  const status = topupStatusAt(topup, nowMs);
  if (status === 'pending') return { ok: true, action: target === 'succeeded' ? 'credit' : 'decline' };
  if (status === target) return { ok: true, action: 'duplicate' };
  return { ok: false, code: 'PAYMENT_NOT_PENDING', detail: `top-up ${topup.id} is ${status}; ${event.type} cannot change it`, alarming: target === 'succeeded' };
}

/** payout.paid captures the hold to the provider; payout.failed releases it. Each once. */
export function decideWithdrawal(withdrawal: Withdrawal, event: ProviderEvent): EventDecision<'capture' | 'release' | 'duplicate'> {
  const wrong = mismatch(withdrawal, event) ?? (event.reference !== withdrawal.id ? `the event's reference ${event.reference} is not withdrawal ${withdrawal.id}` : undefined);
  if (wrong) return { ok: false, code: 'WEBHOOK_EVENT_REJECTED', detail: wrong, alarming: true };
  const target: WithdrawalStatus = event.type === 'payout.paid' ? 'paid' : 'failed';
  if (withdrawal.status === 'requested') return { ok: true, action: target === 'paid' ? 'capture' : 'release' };
  if (withdrawal.status === target) return { ok: true, action: 'duplicate' };
  return { ok: false, code: 'PAYMENT_NOT_PENDING', detail: `withdrawal ${withdrawal.id} is ${withdrawal.status}; ${event.type} cannot change it`, alarming: true };
}
