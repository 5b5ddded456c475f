// The built-in sandbox payment provider. It behaves like a real one from Gavel's side: a
// payment is confirmed by the payer on the provider's page (approve or decline, 3-D Secure
// style), a payout is settled on another page, and each outcome reaches Gavel only as a signed
// webhook event — never by touching Gavel's tables. Events that Gavel did not take are retried
// with backoff, a bounded number of times.
import { randomBytes } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyReply } from 'fastify';
import secureJson from 'secure-json-parse';
import type { Clock } from '../../platform/clock.js';
import { AppError, PROBLEM_CODES } from '../../platform/errors.js';
import type { HttpServer } from '../../platform/http/server.js';
import { bodyValidator } from '../../platform/http/validation.js';
import type { Logger } from '../../platform/logging.js';
import { MAX_AMOUNT_MINOR } from '../../platform/money.js';
import type { Deliver } from './deliver.js';
import { PROVIDER_EVENT_TYPES, WEBHOOK_PATH, type PaymentProvider, type PaymentRequest, type PayoutRequest, type ProviderEventType, type WebhookDelivery, type WebhookVerdict } from './provider.js';
import { errorPage, paymentPage, payoutPage, PAGE_HEADERS, type Notice } from './sandbox-pages.js';
import type { DeliveryState, SandboxEvent, SandboxKind, SandboxPayment, SandboxStatus, SandboxStore } from './sandbox-store.js';
import { SIGNATURE_HEADER, signatureHeader, verifySignature } from './signature.js';

export const SANDBOX_PROVIDER = 'sandbox';
/** Attempts per event before the sandbox gives up on Gavel. */
export const DELIVERY_ATTEMPTS_MAX = 10;
const BACKOFF_BASE_MS = 1_000;
const BACKOFF_MAX_MS = 5 * 60 * 1000;
/** A queued event is first retried this long after it was queued (its first send is immediate). */
const FIRST_RETRY_AFTER_MS = 10_000;
const SWEEP_BATCH = 20;
const FORM_BODY_LIMIT_BYTES = 1_024;

const PAYMENT_ID = '^sbx_pay_[0-9a-f]{32}$';
const PAYOUT_ID = '^sbx_po_[0-9a-f]{32}$';

const EventBody = Type.Object(
  {
    id: Type.String({ pattern: '^evt_[0-9a-f]{32}$' }),
    type: Type.Union(PROVIDER_EVENT_TYPES.map((t) => Type.Literal(t))),
    created: Type.Integer({ minimum: 0, maximum: 1e11 }),
    data: Type.Object(
      {
        object: Type.Union([Type.Literal('payment'), Type.Literal('payout')]),
        id: Type.String({ pattern: `${PAYMENT_ID}|${PAYOUT_ID}` }),
        reference: Type.String({ minLength: 1, maxLength: 200 }),
        amountMinor: Type.String({ pattern: '^[1-9][0-9]{0,18}$' }),
        currency: Type.String({ pattern: '^[A-Z][A-Z0-9]{1,11}$' }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false, description: 'a sandbox event; amountMinor is integer minor units as a string' },
);
type EventBody = Static<typeof EventBody>;
const validateEvent = bodyValidator(EventBody);

const DECISIONS: Record<SandboxKind, Record<string, { status: SandboxStatus; event: ProviderEventType }>> = {
  payment: { approve: { status: 'approved', event: 'payment.succeeded' }, decline: { status: 'declined', event: 'payment.declined' } },
  payout: { paid: { status: 'paid', event: 'payout.paid' }, failed: { status: 'failed', event: 'payout.failed' } },
};

export interface SandboxOptions {
  store: SandboxStore;
  clock: Clock;
  logger: Logger;
  /** The shared webhook secret; known once payments have started. */
  secret: () => string;
  deliver: Deliver;
}

type Page = { status: number; html: string } | { redirect: string };

export class SandboxProvider implements PaymentProvider {
  readonly name = SANDBOX_PROVIDER;
  readonly eventSchema = EventBody;

  constructor(private readonly o: SandboxOptions) {}

  async createPayment(r: PaymentRequest): Promise<{ providerPaymentId: string; redirectUrl: string }> {
    const p = await this.o.store.insertOrGet(this.newPayment('payment', r, r.expiresAtMs));
    return { providerPaymentId: p.id, redirectUrl: `/sandbox/payments/${p.id}` };
  }

  async createPayout(r: PayoutRequest): Promise<{ providerPayoutId: string; pageUrl: string | null }> {
    const p = await this.o.store.insertOrGet(this.newPayment('payout', r, null));
    return { providerPayoutId: p.id, pageUrl: `/sandbox/payouts/${p.id}` };
  }

  private newPayment(kind: SandboxKind, r: PayoutRequest, expiresAtMs: number | null): SandboxPayment {
    const id = `${kind === 'payment' ? 'sbx_pay' : 'sbx_po'}_${randomBytes(16).toString('hex')}`;
    const { reference, amountMinor, currency, scale, description } = r;
    return { id, kind, reference, amountMinor, currency, scale, description, status: 'pending', expiresAtMs, createdAtMs: this.o.clock.nowMs(), decidedAtMs: null };
  }

  verifyWebhook(delivery: WebhookDelivery, nowMs: number): WebhookVerdict {
    const check = verifySignature({ secret: this.o.secret(), header: delivery.headers[SIGNATURE_HEADER], rawBody: delivery.rawBody, nowMs });
    if (!check.ok) return check;
    let body: unknown;
    try {
      body = secureJson.parse(delivery.rawBody.toString('utf8'), undefined, { protoAction: 'error', constructorAction: 'error' });
    } catch (error) {
      return { ok: false, code: 'VALIDATION', reason: `the event is not JSON: ${(error as Error).message}` };
    }
    if (!validateEvent(body)) return { ok: false, code: 'VALIDATION', reason: 'the event does not have the sandbox event shape' };
    const e = body as EventBody;
    if (!e.type.startsWith(`${e.data.object}.`)) return { ok: false, code: 'VALIDATION', reason: `a ${e.type} event cannot be about a ${e.data.object}` };
    const amountMinor = BigInt(e.data.amountMinor);
    if (amountMinor > MAX_AMOUNT_MINOR) return { ok: false, code: 'VALIDATION', reason: 'amountMinor is too large' };
    return {
      ok: true,
      event: { eventId: e.id, type: e.type, objectId: e.data.id, reference: e.data.reference, amountMinor, currency: e.data.currency, occurredAtMs: e.created * 1000 },
    };
  }

  // --- settling, and telling Gavel ------------------------------------------------------

  /**
   * Applies the payer's (or tester's) decision. A second click on the same decision sends the
   * same event again, as a provider retries: Gavel must act on it once.
   */
  async decide(kind: SandboxKind, id: string, decision: string): Promise<Page> {
    const target = DECISIONS[kind][decision];
    const p = await this.o.store.find(id);
    if (!target || !p || p.kind !== kind) return { status: 404, html: errorPage('Not found', `There is no such ${kind} at this provider.`) };
    const nowMs = this.o.clock.nowMs();
    const self = `/sandbox/${kind}s/${p.id}`;
    if (p.status === 'pending') {
      if (p.expiresAtMs !== null && nowMs >= p.expiresAtMs) return this.page(p, 409, { error: true, text: 'This request expired; it can no longer be confirmed or declined.' });
      const event = this.newEvent(p, target.event, nowMs);
      await this.o.store.settle(p.id, target.status, event, nowMs);
    }
    const current = (await this.o.store.find(id))!;
    if (current.status !== target.status) return this.page(current, 409, { error: true, text: `This ${kind} is ${current.status} already.` });
    const event = await this.o.store.latestEventOf(id);
    if (event) await this.attempt(event);
    return { redirect: self };
  }

  private newEvent(p: SandboxPayment, type: ProviderEventType, nowMs: number): SandboxEvent {
    const id = `evt_${randomBytes(16).toString('hex')}`;
    const body = JSON.stringify({
      id,
      type,
      created: Math.floor(nowMs / 1000),
      data: { object: p.kind, id: p.id, reference: p.reference, amountMinor: p.amountMinor.toString(), currency: p.currency },
    });
    return { id, paymentId: p.id, type, body, state: 'pending', attempts: 0, nextAttemptAtMs: nowMs + FIRST_RETRY_AFTER_MS, lastStatus: null, createdAtMs: nowMs };
  }

  /** Signs and sends one event now, and records how it went. */
  private async attempt(event: SandboxEvent): Promise<void> {
    const nowMs = this.o.clock.nowMs();
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'gavel-payment-sandbox',
      [SIGNATURE_HEADER]: signatureHeader({ secret: this.o.secret(), rawBody: event.body, timestampS: Math.floor(nowMs / 1000) }),
    };
    let status: number | null = null;
    try {
      status = (await this.o.deliver({ path: WEBHOOK_PATH, headers, body: event.body })).status;
    } catch (error) {
      this.o.logger.warn({ eventId: event.id, err: error }, 'sandbox: delivering a webhook failed');
    }
    const attempts = event.attempts + 1;
    const state: DeliveryState =
      event.state === 'delivered' || (status !== null && status >= 200 && status < 300)
        ? 'delivered'
        : status !== null && status >= 400 && status < 500
          ? 'rejected'
          : attempts >= DELIVERY_ATTEMPTS_MAX
            ? 'gave_up'
            : 'pending';
    if (state === 'rejected') this.o.logger.warn({ eventId: event.id, type: event.type, status }, 'sandbox: Gavel refused a webhook');
    if (state === 'gave_up') this.o.logger.error({ eventId: event.id, type: event.type, attempts }, 'sandbox: gave up delivering a webhook');
    const nextAttemptAtMs = nowMs + Math.min(BACKOFF_BASE_MS * 2 ** attempts, BACKOFF_MAX_MS);
    await this.o.store.recordAttempt(event.id, { state, attempts, nextAttemptAtMs, lastStatus: status });
  }

  /** Retries events Gavel has not taken yet whose time has come. */
  async sweep(): Promise<void> {
    for (const event of await this.o.store.dueEvents(this.o.clock.nowMs(), SWEEP_BATCH)) await this.attempt(event);
  }

  // --- pages ----------------------------------------------------------------------------

  private async page(p: SandboxPayment, status: number, notice?: Notice): Promise<Page> {
    const delivery = await this.o.store.latestEventOf(p.id);
    const expired = p.expiresAtMs !== null && this.o.clock.nowMs() >= p.expiresAtMs;
    return { status, html: p.kind === 'payment' ? paymentPage(p, { expired, notice, delivery }) : payoutPage(p, { notice, delivery }) };
  }

  private async show(kind: SandboxKind, id: string): Promise<Page> {
    const p = await this.o.store.find(id);
    if (!p || p.kind !== kind) return { status: 404, html: errorPage('Not found', `There is no such ${kind} at this provider.`) };
    return this.page(p, 200);
  }

  routes(app: HttpServer): void {
    const send = (reply: FastifyReply, page: Page) =>
      'redirect' in page ? reply.code(303).header('location', page.redirect).header('cache-control', 'no-store').send() : reply.code(page.status).headers(PAGE_HEADERS).send(page.html);
    // Its own scope: HTML forms post application/x-www-form-urlencoded, which the API refuses,
    // and failures here answer as pages rather than problem documents.
    void app.register(async (scope) => {
      scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_BODY_LIMIT_BYTES }, (_req, body, done) => {
        done(null, Object.fromEntries(new URLSearchParams(body as string)));
      });
      scope.setErrorHandler((error: Error & { statusCode?: number; validation?: unknown }, req, reply) => {
        const status = error instanceof AppError ? PROBLEM_CODES[error.code].status : error.validation ? 404 : (error.statusCode ?? 500);
        if (status >= 500) req.log.error({ err: error }, 'sandbox page failed');
        const html = status === 404 ? errorPage('Not found', 'There is no such payment at this provider.') : errorPage('Something went wrong', status >= 500 ? 'The sandbox failed; the request id is in the x-request-id header.' : error.message);
        return send(reply, { status, html });
      });
      for (const kind of ['payment', 'payout'] as const) {
        const params = Type.Object({ id: Type.String({ pattern: kind === 'payment' ? PAYMENT_ID : PAYOUT_ID }) });
        const decisions = Object.keys(DECISIONS[kind]);
        scope.get(`/sandbox/${kind}s/:id`, { schema: { hide: true, params } }, async (req, reply) => send(reply, await this.show(kind, (req.params as { id: string }).id)));
        for (const decision of decisions) {
          scope.post(`/sandbox/${kind}s/:id/${decision}`, { schema: { hide: true, params } }, async (req, reply) => send(reply, await this.decide(kind, (req.params as { id: string }).id, decision)));
        }
      }
    });
  }
}
