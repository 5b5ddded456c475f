// HTTP for the exchange. Prices and quantities travel as decimal strings (price in the quote
// currency per one whole unit of base, quantity in base); an order's answer comes once its
// journal entry and its fills' settlements are committed, with the fills in it.
import { Type } from '@sinclair/typebox';
import { requirePrincipal } from '../platform/auth/principal.js';
import { fieldError } from '../platform/errors.js';
import type { HttpServer } from '../platform/http/server.js';
import { problemResponses, Uuid } from '../platform/http/schemas.js';
import type { Idempotency } from '../platform/idempotency/idempotency.js';
import type { Clock } from '../platform/clock.js';
import { AmountText, CurrencyCode } from '../ledger/routes.js';
import { candleJson, instrumentJson, levelsJson, myTradeJson, orderJson, publicTradeJson, type ExchangeService } from './service.js';

const bearer = [{ bearerAuth: [] }];
const tags = { tags: ['exchange'] };
const Loose = Type.Object({}, { additionalProperties: true });
export const SymbolText = Type.String({ pattern: '^[A-Z][A-Z0-9]{1,11}-[A-Z][A-Z0-9]{1,11}$', description: 'BASE-QUOTE, e.g. ACME-USD', examples: ['ACME-USD'] });
const SymbolParams = Type.Object({ symbol: SymbolText }, { additionalProperties: false });
const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false });
export const ClientOrderId = Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,64}$', description: 'your id for the order: a repeat returns the first order instead of placing another' });

export const NewOrderBody = Type.Object(
  {
    symbol: SymbolText,
    side: Type.Union([Type.Literal('buy'), Type.Literal('sell')]),
    type: Type.Union([Type.Literal('limit'), Type.Literal('market')]),
    price: Type.Optional(AmountText),
    quantity: AmountText,
    timeInForce: Type.Optional(Type.Union([Type.Literal('gtc'), Type.Literal('ioc'), Type.Literal('fok')], { description: 'default: gtc for limit orders, ioc for market orders' })),
    postOnly: Type.Optional(Type.Boolean()),
    clientOrderId: Type.Optional(ClientOrderId),
  },
  { additionalProperties: false },
);

const ListingBody = Type.Object(
  {
    symbol: Type.Optional(SymbolText),
    base: CurrencyCode,
    quote: CurrencyCode,
    tickSize: AmountText,
    lotSize: AmountText,
    minQuantity: Type.Optional(AmountText),
    maxQuantity: AmountText,
    makerFeeBps: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
    takerFeeBps: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
    protectionBps: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000, description: 'how far from the touch a market order may trade (default 500 = 5%)' })),
  },
  { additionalProperties: false },
);

export function exchangeRoutes(app: HttpServer, service: ExchangeService, deps: { idempotency: Idempotency; clock: Clock }): void {
  const { idempotency, clock } = deps;

  app.post(
    '/api/exchange/instruments',
    { schema: { ...tags, security: bearer, summary: 'List an instrument (admin)', body: ListingBody, response: { 201: Loose, ...problemResponses(400, 401, 403, 409, 422) } } },
    async (req, reply) => reply.code(201).send(instrumentJson(await service.list(req.principal, req.body))),
  );

  app.get('/api/exchange/instruments', { schema: { ...tags, summary: 'Listed instruments', response: { 200: Loose } } }, async () => ({ items: (await service.instruments()).map(instrumentJson) }));

  app.get('/api/exchange/instruments/:symbol', { schema: { ...tags, summary: 'One instrument', params: SymbolParams, response: { 200: Loose, ...problemResponses(400, 404) } } }, async (req) =>
    instrumentJson(await service.instrument(req.params.symbol)),
  );

  for (const [action, halted] of [
    ['halt', true],
    ['resume', false],
  ] as const) {
    app.post(
      `/api/exchange/instruments/:symbol/${action}`,
      { schema: { ...tags, security: bearer, summary: `${halted ? 'Halt' : 'Resume'} trading (admin)`, params: SymbolParams, response: { 200: Loose, ...problemResponses(400, 401, 403, 404) } } },
      async (req) => instrumentJson(await service.setHalted(req.principal, req.params.symbol, halted)),
    );
  }

  app.get(
    '/api/exchange/instruments/:symbol/verify',
    { schema: { ...tags, security: bearer, summary: 'Rebuild the book from its journal and compare state hashes with the live book (admin)', params: SymbolParams, response: { 200: Loose, ...problemResponses(400, 401, 403, 404) } } },
    async (req) => service.verify(req.principal, req.params.symbol),
  );

  app.post(
    '/api/exchange/orders',
    {
      schema: {
        ...tags,
        security: bearer,
        summary: 'Place an order; answered once journaled, with its fills (Idempotency-Key and clientOrderId honoured)',
        body: NewOrderBody,
        response: { 200: Loose, 201: Loose, ...problemResponses(400, 401, 404, 409, 422, 503) },
      },
    },
    async (req, reply) => {
      const me = requirePrincipal(req.principal);
      return idempotency.handle(req, reply, me.userId, async () => {
        const result = await service.place(req.principal, req.body);
        return { status: result.repeated ? 200 : 201, body: { order: orderJson(result.instrument, result.order), fills: result.trades.map((t) => myTradeJson(result.instrument, t, me.userId)), repeated: result.repeated } };
      });
    },
  );

  app.get(
    '/api/exchange/orders',
    {
      schema: {
        ...tags,
        security: bearer,
        summary: 'My orders, newest first',
        querystring: Type.Object(
          { status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('filled'), Type.Literal('cancelled')])), symbol: Type.Optional(SymbolText), before: Type.Optional(Uuid), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })) },
          { additionalProperties: false },
        ),
        response: { 200: Loose, ...problemResponses(400, 401, 404) },
      },
    },
    async (req) => {
      const orders = await service.myOrders(req.principal, { limit: req.query.limit ?? 50, ...req.query });
      const instruments = await service.instrumentsOf(orders.map((o) => o.symbol));
      return { items: orders.map((o) => orderJson(instruments.get(o.symbol)!, o)), next: orders.length === (req.query.limit ?? 50) ? (orders.at(-1)?.id ?? null) : null };
    },
  );

  app.delete(
    '/api/exchange/orders',
    {
      schema: { ...tags, security: bearer, summary: 'Cancel all my open orders (on one instrument with ?symbol=)', querystring: Type.Object({ symbol: Type.Optional(SymbolText) }, { additionalProperties: false }), response: { 200: Loose, ...problemResponses(400, 401, 404, 503) } },
    },
    async (req) => ({ cancelled: (await service.cancelAll(req.principal, req.query.symbol ?? null)).map((c) => orderJson(c.instrument, c.order)) }),
  );

  app.get('/api/exchange/orders/:id', { schema: { ...tags, security: bearer, summary: 'One of my orders', params: IdParams, response: { 200: Loose, ...problemResponses(400, 401, 404) } } }, async (req) => {
    const found = await service.order(req.principal, req.params.id);
    return orderJson(found.instrument, found.order);
  });

  app.delete('/api/exchange/orders/:id', { schema: { ...tags, security: bearer, summary: 'Cancel one of my orders', params: IdParams, response: { 200: Loose, ...problemResponses(400, 401, 404, 409, 503) } } }, async (req) => {
    const done = await service.cancel(req.principal, req.params.id);
    return orderJson(done.instrument, done.order);
  });

  app.patch(
    '/api/exchange/orders/:id',
    {
      schema: {
        ...tags,
        security: bearer,
        summary: 'Amend an order: a smaller quantity keeps its place in the queue, a new price loses it (and may trade)',
        params: IdParams,
        body: Type.Object({ quantity: Type.Optional(AmountText), price: Type.Optional(AmountText) }, { additionalProperties: false }),
        response: { 200: Loose, ...problemResponses(400, 401, 404, 409, 422, 503) },
      },
    },
    async (req) => {
      const me = requirePrincipal(req.principal);
      const result = await service.amend(req.principal, req.params.id, req.body);
      return { order: orderJson(result.instrument, result.order), fills: result.trades.map((t) => myTradeJson(result.instrument, t, me.userId)) };
    },
  );

  app.get(
    '/api/exchange/fills',
    {
      schema: {
        ...tags,
        security: bearer,
        summary: 'My fills, newest first, a page at a time (pass nextCursor back as cursor)',
        querystring: Type.Object(
          {
            symbol: Type.Optional(SymbolText),
            before: Type.Optional(Type.String({ maxLength: 40, description: 'ISO 8601: only fills before this time' })),
            cursor: Type.Optional(Type.String({ maxLength: 200 })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Loose, ...problemResponses(400, 401, 404) },
      },
    },
    async (req) => {
      const me = requirePrincipal(req.principal);
      const before = req.query.before === undefined ? undefined : timeOf(req.query.before, 'before');
      const page = await service.myTrades(req.principal, { limit: req.query.limit ?? 50, ...(req.query.symbol && { symbol: req.query.symbol }), ...(before !== undefined && { before }), ...(req.query.cursor !== undefined && { cursor: req.query.cursor }) });
      const instruments = await service.instrumentsOf(page.items.map((f) => f.symbol));
      return { items: page.items.map((f) => myTradeJson(instruments.get(f.symbol)!, f.trade, me.userId)), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/api/exchange/instruments/:symbol/depth',
    { schema: { ...tags, summary: 'L2 depth: [price, quantity, orders] per level, best first; seq orders it with the WebSocket updates', params: SymbolParams, querystring: Type.Object({ levels: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }, { additionalProperties: false }), response: { 200: Loose, ...problemResponses(400, 404) } } },
    async (req) => {
      const d = await service.depth(req.params.symbol, req.query.levels ?? 50);
      return { symbol: req.params.symbol, seq: d.seq, bids: levelsJson(d.instrument, d.bids), asks: levelsJson(d.instrument, d.asks) };
    },
  );

  app.get(
    '/api/exchange/instruments/:symbol/trades',
    { schema: { ...tags, summary: 'Latest trades, newest first', params: SymbolParams, querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })) }, { additionalProperties: false }), response: { 200: Loose, ...problemResponses(400, 404) } } },
    async (req) => {
      const r = await service.trades(req.params.symbol, req.query.limit ?? 100);
      return { items: r.trades.map((t) => publicTradeJson(r.instrument, t)) };
    },
  );

  app.get(
    '/api/exchange/instruments/:symbol/candles',
    {
      schema: {
        ...tags,
        summary: 'One-minute OHLCV candles (minutes without trades are absent)',
        params: SymbolParams,
        querystring: Type.Object({ from: Type.Optional(Type.String({ maxLength: 40 })), to: Type.Optional(Type.String({ maxLength: 40 })) }, { additionalProperties: false }),
        response: { 200: Loose, ...problemResponses(400, 404) },
      },
    },
    async (req) => {
      const toMs = req.query.to === undefined ? clock.nowMs() + 60_000 : timeOf(req.query.to, 'to');
      const fromMs = req.query.from === undefined ? toMs - 24 * 3_600_000 : timeOf(req.query.from, 'from');
      if (toMs - fromMs > 7 * 24 * 3_600_000) throw fieldError('VALIDATION', 'query', 'from', 'ask for at most 7 days of candles at once');
      if (toMs <= fromMs) throw fieldError('VALIDATION', 'query', 'to', 'must be after from');
      const r = await service.candles(req.params.symbol, fromMs, toMs);
      return { symbol: req.params.symbol, interval: '1m', items: r.candles.map((c) => candleJson(r.instrument, c)) };
    },
  );
}

function timeOf(text: string, field: string): number {
  const ms = Date.parse(text);
  const ymd = /^(\d{4})-(\d{2})-(\d{2})T/.exec(text);
  // Date.parse rolls 31 February over into March; a date that does not exist is refused.
  const dayExists = ymd !== null && Number(ymd[3]) <= new Date(Date.UTC(Number(ymd[1]), Number(ymd[2]), 0)).getUTCDate();
  if (!dayExists || Number.isNaN(ms)) throw fieldError('VALIDATION', 'query', field, 'must be an ISO 8601 date-time such as 2030-01-31T18:00:00Z');
  return ms;
}
