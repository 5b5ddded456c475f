// The payment-provider port. Gavel asks a provider to take money from a payer (a top-up,
// confirmed by the payer on the provider's own page) or to pay money out (a withdrawal);
// the provider answers later through a signed webhook. The built-in sandbox implements it
// (sandbox-provider.ts); a real provider's adapter implements the same interface.
import type { TSchema } from '@sinclair/typebox';
import type { HttpServer } from '../../platform/http/server.js';

/** Where the provider sends its webhooks, on every Gavel node with the api role. */
export const WEBHOOK_PATH = '/api/payments/webhook';

export interface PaymentRequest {
  /** Gavel's id for it (the top-up id); the provider is idempotent on it. */
  reference: string;
  amountMinor: bigint;
  currency: string;
  /** Digits after the decimal point, to show the amount. */
  scale: number;
  /** Shown to the payer on the confirmation page. */
  description: string;
  /** After this the payer can no longer confirm it. */
  expiresAtMs: number;
}

export interface PayoutRequest {
  /** Gavel's id for it (the withdrawal id); the provider is idempotent on it. */
  reference: string;
  amountMinor: bigint;
  currency: string;
  scale: number;
  description: string;
}

export type ProviderEventType = 'payment.succeeded' | 'payment.declined' | 'payout.paid' | 'payout.failed';
export const PROVIDER_EVENT_TYPES: readonly ProviderEventType[] = ['payment.succeeded', 'payment.declined', 'payout.paid', 'payout.failed'];

/** A webhook event, once its signature and freshness are checked. */
export interface ProviderEvent {
  /** The provider's event id: each is processed once. */
  eventId: string;
  type: ProviderEventType;
  /** The provider's payment id (payment.*) or payout id (payout.*). */
  objectId: string;
  /** Gavel's reference the provider was given. */
  reference: string;
  amountMinor: bigint;
  currency: string;
  /** When the provider says it happened. */
  occurredAtMs: number;
}

/** Why a webhook delivery was refused before it was looked at. */
export type WebhookRefusal = 'WEBHOOK_SIGNATURE_INVALID' | 'WEBHOOK_STALE' | 'VALIDATION';

export type WebhookVerdict = { ok: true; event: ProviderEvent } | { ok: false; code: WebhookRefusal; reason: string };

export interface WebhookDelivery {
  /** The body exactly as received: signatures are over bytes, not over parsed JSON. */
  rawBody: Buffer;
  headers: Readonly<Record<string, string | string[] | undefined>>;
}

export interface PaymentProvider {
  /** Stored beside each payment; event ids are unique per provider. */
  readonly name: string;
  /** The JSON shape of its webhook bodies, for the API documentation (checked after the signature, by verifyWebhook). */
  readonly eventSchema: TSchema;
  /** Starts a payment the payer must confirm at `redirectUrl`. Idempotent on `reference`. */
  createPayment(request: PaymentRequest): Promise<{ providerPaymentId: string; redirectUrl: string }>;
  /** Starts a payout. `pageUrl` is where a tester settles it (sandbox only; null elsewhere). Idempotent on `reference`. */
  createPayout(request: PayoutRequest): Promise<{ providerPayoutId: string; pageUrl: string | null }>;
  /** Checks a webhook delivery's signature and freshness and reads its event. Pure but for `nowMs`. */
  verifyWebhook(delivery: WebhookDelivery, nowMs: number): WebhookVerdict;
  /** Pages the provider serves itself (the sandbox's confirmation pages). */
  routes?(app: HttpServer): void;
  /** Background work (the sandbox retries webhook deliveries); called by the sweep. */
  sweep?(): Promise<void>;
}
