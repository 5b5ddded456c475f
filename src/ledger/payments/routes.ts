// HTTP for top-ups and withdrawals, and the webhook the payment provider calls. The webhook
// lives in its own scope whose JSON parser keeps the raw bytes: the signature is over them.
import { Type, type Static } from '@sinclair/typebox';
import { requirePrincipal } from '../../platform/auth/principal.js';
import type { HttpServer } from '../../platform/http/server.js';
import { problemResponses, Uuid } from '../../platform/http/schemas.js';
import type { Idempotency } from '../../platform/idempotency/idempotency.js';
import { formatAmount } from '../../platform/money.js';
import { PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX } from '../../platform/pagination.js';
import type { Clock } from '../../platform/clock.js';
import { AmountText, CurrencyCode } from '../routes.js';
import type { LedgerService } from '../service.js';
import { topupStatusAt, type Topup, type Withdrawal } from './model.js';
import { WEBHOOK_PATH, type PaymentProvider } from './provider.js';
import type { PaymentsService } from './service.js';
import { SIGNATURE_HEADER } from './signature.js';

/** Webhook bodies are small events; anything bigger is refused before it is read whole. */
export const WEBHOOK_BODY_LIMIT_BYTES = 64 * 1024;

const TopupView = Type.Object({
  id: Uuid,
  status: Type.Union(['pending', 'succeeded', 'declined', 'expired', 'failed'].map((s) => Type.Literal(s)), {
    description: 'pending until the payer confirms; succeeded (wallet credited), declined, expired (not confirmed in time) or failed (the provider could not start it)',
  }),
  amount: Type.String(),
  currency: Type.String(),
  redirectUrl: Type.Union([Type.String(), Type.Null()], { description: "the provider's confirmation page for the payer (relative to this server for the sandbox)" }),
  expiresAt: Type.String({ format: 'date-time' }),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});
const WithdrawalView = Type.Object({
  id: Uuid,
  status: Type.Union(['requested', 'paid', 'failed'].map((s) => Type.Literal(s)), { description: 'requested (money held), paid (sent by the provider) or failed (money available again)' }),
  amount: Type.String(),
  currency: Type.String(),
  holdId: Uuid,
  providerPageUrl: Type.Union([Type.String(), Type.Null()], { description: 'sandbox only: the page where a tester marks the payout paid or failed' }),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});
const AmountBody = Type.Object({ amount: AmountText }, { additionalProperties: false });
const CurrencyParams = Type.Object({ currency: CurrencyCode });
const ItemParams = Type.Object({ currency: CurrencyCode, id: Uuid });
const PageQuery = Type.Object(
  { limit: Type.Integer({ minimum: 1, maximum: PAGE_LIMIT_MAX, default: PAGE_LIMIT_DEFAULT }), cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) },
  { additionalProperties: false },
);
const pageOf = <T extends ReturnType<typeof Type.Object>>(item: T) => Type.Object({ items: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) });

const iso = (ms: number) => new Date(ms).toISOString();
const bearer = [{ bearerAuth: [] }];

export function paymentsRoutes(app: HttpServer, deps: { payments: PaymentsService; provider: PaymentProvider; ledger: LedgerService; idempotency: Idempotency; clock: Clock }): void {
  const { payments, ledger, idempotency, clock } = deps;
  const scaleOf = (code: string) => ledger.currency(code)?.scale ?? 0;
  const tags = { tags: ['payments'], security: bearer };

  const topupView = (t: Topup): Static<typeof TopupView> => ({
    id: t.id,
    status: topupStatusAt(t, clock.nowMs()),
    amount: formatAmount(t.amountMinor, scaleOf(t.currency)),
    currency: t.currency,
    redirectUrl: t.redirectUrl,
    expiresAt: iso(t.expiresAtMs),
    createdAt: iso(t.createdAtMs),
    updatedAt: iso(t.updatedAtMs),
  });
  const withdrawalView = (w: Withdrawal): Static<typeof WithdrawalView> => ({
    id: w.id,
    status: w.status,
    amount: formatAmount(w.amountMinor, scaleOf(w.currency)),
    currency: w.currency,
    holdId: w.holdId,
    providerPageUrl: w.providerPageUrl,
    createdAt: iso(w.createdAtMs),
    updatedAt: iso(w.updatedAtMs),
  });

  app.post(
    '/api/wallets/:currency/topups',
    {
      schema: {
        ...tags,
        summary: "Top up your wallet: answers the provider's confirmation page; the wallet is credited once the payer approves (Idempotency-Key honoured)",
        params: CurrencyParams,
        body: AmountBody,
        response: { 201: TopupView, ...problemResponses(400, 401, 409, 422, 502) },
      },
    },
    async (req, reply) => {
      const me = requirePrincipal(req.principal);
      return idempotency.handle(req, reply, me.userId, async (key) => ({ status: 201, body: topupView(await payments.createTopup(me, req.params.currency, req.body.amount, key)) }));
    },
  );
  app.get(
    '/api/wallets/:currency/topups',
    { schema: { ...tags, summary: 'Your top-ups in a currency, newest first', params: CurrencyParams, querystring: PageQuery, response: { 200: pageOf(TopupView), ...problemResponses(400, 401) } } },
    async (req) => {
      const page = await payments.listTopups(req.principal, req.params.currency, req.query);
      return { items: page.items.map(topupView), nextCursor: page.nextCursor };
    },
  );
  app.get(
    '/api/wallets/:currency/topups/:id',
    { schema: { ...tags, summary: 'One of your top-ups (anyone else’s: 404)', params: ItemParams, response: { 200: TopupView, ...problemResponses(400, 401, 404) } } },
    async (req) => topupView(await payments.topupFor(req.principal, req.params.currency, req.params.id)),
  );

  app.post(
    '/api/wallets/:currency/withdrawals',
    {
      schema: {
        ...tags,
        summary: 'Withdraw from your wallet: the amount is held at once and paid out by the provider (Idempotency-Key honoured)',
        params: CurrencyParams,
        body: AmountBody,
        response: { 201: WithdrawalView, ...problemResponses(400, 401, 404, 409, 422, 502) },
      },
    },
    async (req, reply) => {
      const me = requirePrincipal(req.principal);
      return idempotency.handle(req, reply, me.userId, async (key) => ({ status: 201, body: withdrawalView(await payments.createWithdrawal(me, req.params.currency, req.body.amount, key)) }));
    },
  );
  app.get(
    '/api/wallets/:currency/withdrawals',
    { schema: { ...tags, summary: 'Your withdrawals in a currency, newest first', params: CurrencyParams, querystring: PageQuery, response: { 200: pageOf(WithdrawalView), ...problemResponses(400, 401) } } },
    async (req) => {
      const page = await payments.listWithdrawals(req.principal, req.params.currency, req.query);
      return { items: page.items.map(withdrawalView), nextCursor: page.nextCursor };
    },
  );
  app.get(
    '/api/wallets/:currency/withdrawals/:id',
    { schema: { ...tags, summary: 'One of your withdrawals (anyone else’s: 404)', params: ItemParams, response: { 200: WithdrawalView, ...problemResponses(400, 401, 404) } } },
    async (req) => withdrawalView(await payments.withdrawalFor(req.principal, req.params.currency, req.params.id)),
  );

  // The provider's webhook: no bearer token, the signature is the credential.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: WEBHOOK_BODY_LIMIT_BYTES }, (_req, body, done) => done(null, body));
    scope.post(
      WEBHOOK_PATH,
      {
        // The body is documented, but checked only once the signature over its raw bytes is.
        validatorCompiler: () => () => true,
        schema: {
          tags: ['payments'],
          body: deps.provider.eventSchema,
          summary: `Payment provider events, signed: \`${SIGNATURE_HEADER}: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">\``,
          response: { 200: Type.Object({ received: Type.Literal(true), eventId: Type.String(), outcome: Type.String({ description: 'credited, declined, paid, failed or duplicate' }) }), ...problemResponses(400, 409, 413, 415, 422) },
        },
      },
      async (req) => {
        const rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        const result = await payments.handleWebhook({ rawBody, headers: req.headers }, req.log);
        return { received: true as const, ...result };
      },
    );
  });
}
