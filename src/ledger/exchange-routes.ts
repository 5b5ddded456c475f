// HTTP for currency exchange: admins set rates per ordered pair; a person quotes and converts
// between their own wallets. Amounts travel as decimal strings with their currency beside them.
import { Type, type Static } from '@sinclair/typebox';
import { requirePrincipal } from '../platform/auth/principal.js';
import type { HttpServer } from '../platform/http/server.js';
import { problemResponses, Uuid } from '../platform/http/schemas.js';
import type { Idempotency } from '../platform/idempotency/idempotency.js';
import { formatAmount } from '../platform/money.js';
import { PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX } from '../platform/pagination.js';
import { RATE_PATTERN, SPREAD_BPS_MAX } from './exchange-rates.js';
import type { ExchangeService, Quote } from './exchange-service.js';
import type { ExchangeRecord, StoredRate } from './exchange-store.js';
import { AmountText, CurrencyCode } from './routes.js';

const RateText = Type.String({ pattern: RATE_PATTERN, maxLength: 40, description: 'quote units per one base unit, an exact decimal with at most 12 decimals', examples: ['0.9215'] });
const SpreadBps = Type.Integer({ minimum: 0, maximum: SPREAD_BPS_MAX, description: 'the house spread in basis points (1 bps = 0.01 %)', examples: [50] });

const RateView = Type.Object({
  base: Type.String(),
  quote: Type.String(),
  rate: Type.String({ description: 'quote per one base, canonical decimal' }),
  spreadBps: Type.Integer(),
  updatedAt: Type.String({ format: 'date-time' }),
});
const amountText = (description: string) => Type.String({ pattern: AmountText.pattern!, maxLength: AmountText.maxLength!, description });
const ConversionFields = {
  from: Type.Object({ currency: Type.String(), amount: Type.String({ description: 'what leaves your `from` wallet' }) }),
  to: Type.Object({ currency: Type.String(), amount: Type.String({ description: 'what reaches your `to` wallet' }) }),
  gross: Type.Object({ currency: Type.String(), amount: Type.String() }, { description: 'amount × rate, rounded down to a `to` minor unit' }),
  spread: Type.Object({ currency: Type.String(), amount: Type.String(), bps: Type.Integer() }, { description: 'what the house keeps: gross − received' }),
  rate: Type.String(),
};
const QuoteView = Type.Object({ ...ConversionFields, rateUpdatedAt: Type.String({ format: 'date-time' }) });
const ExchangeView = Type.Object({ id: Uuid, ...ConversionFields, createdAt: Type.String({ format: 'date-time' }) });

const PairParams = Type.Object({ base: CurrencyCode, quote: CurrencyCode });
const ExchangeFields = {
  from: CurrencyCode,
  to: CurrencyCode,
  amount: amountText('in major units of `from`'),
};
const ExchangeBody = Type.Object(
  { ...ExchangeFields, minReceive: Type.Optional(amountText('refuse (409 EXCHANGE_BELOW_MINIMUM) unless at least this much of `to` arrives')) },
  { additionalProperties: false },
);
const QuoteQuery = Type.Object(ExchangeFields, { additionalProperties: false });
const PageQuery = Type.Object(
  { limit: Type.Integer({ minimum: 1, maximum: PAGE_LIMIT_MAX, default: PAGE_LIMIT_DEFAULT }), cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) },
  { additionalProperties: false },
);

function rateView(r: StoredRate): Static<typeof RateView> {
  return { base: r.base, quote: r.quote, rate: r.rate, spreadBps: r.spreadBps, updatedAt: new Date(r.updatedAtMs).toISOString() };
}

function quoteView(q: Quote): Static<typeof QuoteView> {
  return {
    from: { currency: q.from.code, amount: formatAmount(q.amountMinor, q.from.scale) },
    to: { currency: q.to.code, amount: formatAmount(q.netMinor, q.to.scale) },
    gross: { currency: q.to.code, amount: formatAmount(q.grossMinor, q.to.scale) },
    spread: { currency: q.to.code, amount: formatAmount(q.spreadMinor, q.to.scale), bps: q.rate.spreadBps },
    rate: q.rate.rate,
    rateUpdatedAt: new Date(q.rate.updatedAtMs).toISOString(),
  };
}

export function exchangeRoutes(app: HttpServer, exchange: ExchangeService, deps: { idempotency: Idempotency; scaleOf: (code: string) => number }): void {
  const bearer = [{ bearerAuth: [] }];
  const rates = { tags: ['exchange rates'], security: bearer };
  const wallets = { tags: ['wallets'], security: bearer };
  const { scaleOf } = deps;
  const exchangeView = (r: ExchangeRecord): Static<typeof ExchangeView> => ({
    id: r.id,
    from: { currency: r.fromCurrency, amount: formatAmount(r.fromAmountMinor, scaleOf(r.fromCurrency)) },
    to: { currency: r.toCurrency, amount: formatAmount(r.netMinor, scaleOf(r.toCurrency)) },
    gross: { currency: r.toCurrency, amount: formatAmount(r.grossMinor, scaleOf(r.toCurrency)) },
    spread: { currency: r.toCurrency, amount: formatAmount(r.spreadMinor, scaleOf(r.toCurrency)), bps: r.spreadBps },
    rate: r.rate,
    createdAt: new Date(r.createdAtMs).toISOString(),
  });

  app.get('/api/ledger/rates', { schema: { ...rates, summary: 'Exchange rates per ordered pair, with their update time', response: { 200: Type.Object({ items: Type.Array(RateView) }), ...problemResponses(401) } } }, async (req) => ({
    items: (await exchange.listRates(req.principal)).map(rateView),
  }));

  app.get('/api/ledger/rates/:base/:quote', { schema: { ...rates, summary: 'The exchange rate of one ordered pair', params: PairParams, response: { 200: RateView, ...problemResponses(400, 401, 404) } } }, async (req) =>
    rateView(await exchange.getRate(req.principal, req.params.base, req.params.quote)),
  );

  app.put(
    '/api/ledger/rates/:base/:quote',
    {
      schema: {
        ...rates,
        summary: 'Set the rate and spread of an ordered pair (admin): 201 when new, 200 when replaced',
        params: PairParams,
        body: Type.Object({ rate: RateText, spreadBps: SpreadBps }, { additionalProperties: false }),
        response: { 200: RateView, 201: RateView, ...problemResponses(400, 401, 403) },
      },
    },
    async (req, reply) => {
      const { rate, created } = await exchange.setRate(req.principal, { ...req.params, ...req.body });
      return reply.code(created ? 201 : 200).send(rateView(rate));
    },
  );

  app.delete('/api/ledger/rates/:base/:quote', { schema: { ...rates, summary: 'Remove the rate of an ordered pair (admin)', params: PairParams, response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404) } } }, async (req, reply) => {
    await exchange.deleteRate(req.principal, req.params.base, req.params.quote);
    return reply.code(204).send(null);
  });

  app.get(
    '/api/wallets/exchange/quote',
    { schema: { ...wallets, summary: 'What converting an amount would give now (nothing moves)', querystring: QuoteQuery, response: { 200: QuoteView, ...problemResponses(400, 401, 404) } } },
    async (req) => quoteView(await exchange.quote(req.principal, req.query, 'query')),
  );

  app.post(
    '/api/wallets/exchange',
    {
      schema: {
        ...wallets,
        summary: 'Convert between two of your wallets at the current rate (Idempotency-Key honoured); the `to` wallet opens if need be',
        body: ExchangeBody,
        response: { 201: ExchangeView, ...problemResponses(400, 401, 404, 409, 422) },
      },
    },
    async (req, reply) => {
      const me = requirePrincipal(req.principal);
      return deps.idempotency.handle(req, reply, me.userId, async (key) => ({ status: 201, body: exchangeView(await exchange.exchange(req.principal, req.body, key)) }));
    },
  );

  app.get(
    '/api/wallets/exchanges',
    { schema: { ...wallets, summary: 'Your conversions, newest first', querystring: PageQuery, response: { 200: Type.Object({ items: Type.Array(ExchangeView), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...problemResponses(400, 401) } } },
    async (req) => {
      const page = await exchange.history(req.principal, { limit: req.query.limit, ...(req.query.cursor !== undefined && { cursor: req.query.cursor }) });
      return { items: page.items.map(exchangeView), nextCursor: page.nextCursor };
    },
  );
}
