// HTTP for auctions. Amounts travel as decimal strings in the auction's currency; times as
// ISO 8601 with the server's own clock beside them (`serverTime`), so a countdown never
// trusts the browser's clock.
import { createHash } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { requirePrincipal } from '../platform/auth/principal.js';
import { AppError, fieldError } from '../platform/errors.js';
import type { HttpServer } from '../platform/http/server.js';
import { problemResponses, Uuid } from '../platform/http/schemas.js';
import type { Idempotency } from '../platform/idempotency/idempotency.js';
import { formatAmount } from '../platform/money.js';
import { AmountText, CurrencyCode } from '../ledger/routes.js';
import type { AuctionEvent, BidderView, PublicView } from './model.js';
import type { AuctionPage, AuctionReplay, AuctionsService, ConsoleAction } from './service.js';
import type { AuctionRow } from './store.js';

const bearer = [{ bearerAuth: [] }];
const tags = { tags: ['auctions'] };
const Loose = Type.Object({}, { additionalProperties: true });
const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false });
const Iso = Type.String({ maxLength: 40, description: 'ISO 8601 date-time, e.g. 2030-01-31T18:00:00Z' });

const NewAuctionBody = Type.Object(
  {
    lotId: Uuid,
    kind: Type.Union([Type.Literal('timed'), Type.Literal('live')]),
    currency: CurrencyCode,
    startingPrice: AmountText,
    reserve: Type.Optional(Type.Union([AmountText, Type.Null()], { description: 'hidden; the room sees only whether it is met' })),
    buyNow: Type.Optional(Type.Union([AmountText, Type.Null()], { description: 'gone after the first bid' })),
    increments: Type.Optional(
      Type.Union([Type.Array(Type.Object({ from: AmountText, increment: AmountText }, { additionalProperties: false }), { minItems: 1, maxItems: 50 }), Type.Null()], {
        description: 'bands: from this price up, bids rise by this increment (default: an eBay-like ladder)',
      }),
    ),
    minReputation: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
    startsAt: Iso,
    endsAt: Type.Optional(Type.Union([Iso, Type.Null()], { description: 'timed auctions: the scheduled end (soft close may extend it)' })),
    softCloseSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 3600 })),
    auctioneerId: Type.Optional(Type.Union([Uuid, Type.Null()])),
    clerkIds: Type.Optional(Type.Array(Uuid, { maxItems: 20 })),
  },
  { additionalProperties: false },
);

const BidBody = Type.Object(
  {
    amount: AmountText,
    max: Type.Optional(Type.Union([AmountText], { description: 'your proxy maximum: the engine bids for you by the increment up to it' })),
    currency: CurrencyCode,
  },
  { additionalProperties: false },
);

const ConsoleBody = Type.Object(
  {
    action: Type.Union(['open', 'asking', 'fair-warning', 'hammer', 'pause', 'resume', 'floor-bid', 'chat'].map((a) => Type.Literal(a))),
    amount: Type.Optional(AmountText),
    paddle: Type.Optional(Type.String({ minLength: 1, maxLength: 16 })),
    text: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
  },
  { additionalProperties: false },
);

export function auctionsRoutes(app: HttpServer, service: AuctionsService, deps: { idempotency: Idempotency; scaleOf: (currency: string) => number }): void {
  const { idempotency, scaleOf } = deps;

  app.post(
    '/api/auctions',
    { schema: { ...tags, security: bearer, summary: 'Create an auction for one of your lots', body: NewAuctionBody, response: { 201: Loose, ...problemResponses(400, 401, 403, 404, 409) } } },
    async (req, reply) => {
      const me = requirePrincipal(req.principal);
      return idempotency.handle(req, reply, me.userId, async () => ({ status: 201, body: pageJson(await service.create(req.principal, req.body), scaleOf) }));
    },
  );

  app.get(
    '/api/auctions/console',
    {
      schema: {
        ...tags,
        security: bearer,
        summary: "The live sales you may run from the auctioneer's console (as their auctioneer or a clerk), open ones first, then by start time",
        response: { 200: Loose, ...problemResponses(401) },
      },
    },
    async (req) => ({
      items: (await service.consoleSales(req.principal)).map((sale) => {
        const scale = scaleOf(sale.auction.currency);
        return { auction: rowJson(sale.auction, scale), live: viewJson(sale.view, scale), role: sale.role };
      }),
    }),
  );

  app.get('/api/auctions/:id', { schema: { ...tags, summary: "An auction's page: lot, live state, your standing", params: IdParams, response: { 200: Loose, ...problemResponses(400, 404) } } }, async (req) =>
    pageJson(await service.page(req.principal, req.params.id), scaleOf),
  );

  app.post(
    '/api/auctions/:id/join',
    { schema: { ...tags, security: bearer, summary: 'Join the auction (your reputation must meet its minimum)', params: IdParams, response: { 200: Loose, ...problemResponses(400, 401, 403, 404, 409) } } },
    async (req) => {
      const id = req.params.id;
      return bidderJson(await service.join(req.principal, id), scaleOf(await service.currencyOf(id)));
    },
  );

  app.post(
    '/api/auctions/:id/bids',
    {
      schema: {
        ...tags,
        security: bearer,
        summary: 'Bid (optionally with a proxy maximum); accepted once journaled and your funds held',
        params: IdParams,
        body: BidBody,
        response: { 201: Loose, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (req, reply) => {
      const me = requirePrincipal(req.principal);
      return idempotency.handle(req, reply, me.userId, async (key) => {
        const result = await service.bid(req.principal, req.params.id, req.body, key === undefined ? undefined : bidIdOf(me.userId, key));
        const scale = scaleOf(result.view.currency);
        return { status: 201, body: { bidId: result.bidId, result: bidResultOf(result.events, result.bidId), auction: viewJson(result.view, scale), me: bidderJson(result.me, scale) } };
      });
    },
  );

  app.post(
    '/api/auctions/:id/buy-now',
    { schema: { ...tags, security: bearer, summary: 'Buy at the buy-now price (only before the first bid)', params: IdParams, response: { 201: Loose, ...problemResponses(400, 401, 403, 404, 409) } } },
    async (req, reply) => {
      const me = requirePrincipal(req.principal);
      return idempotency.handle(req, reply, me.userId, async (key) => ({
        status: 201,
        body: { events: eventsJson(await service.buyNow(req.principal, req.params.id, key === undefined ? undefined : bidIdOf(me.userId, key))) },
      }));
    },
  );

  app.post(
    '/api/auctions/:id/cancel',
    {
      schema: {
        ...tags,
        security: bearer,
        summary: 'Cancel (the seller before the first bid; an admin at any time, with a reason); every hold is released',
        params: IdParams,
        body: Type.Object({ reason: Type.String({ minLength: 1, maxLength: 500 }) }, { additionalProperties: false }),
        response: { 200: Loose, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (req) => ({ events: eventsJson(await service.cancel(req.principal, req.params.id, req.body.reason)) }),
  );

  app.post(
    '/api/auctions/:id/console',
    {
      schema: {
        ...tags,
        security: bearer,
        summary: "The auctioneer's console for a live sale: open, asking price, fair warning, hammer, pause, resume, floor bids by paddle, chat",
        params: IdParams,
        body: ConsoleBody,
        response: { 200: Loose, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (req) => ({ events: eventsJson(await service.console(req.principal, req.params.id, consoleActionOf(req.body))) }),
  );

  app.get(
    '/api/auctions/:id/replay',
    { schema: { ...tags, summary: 'The whole timeline, for replaying the sale; insiders get the hash-chained journal after the end', params: IdParams, response: { 200: Loose, ...problemResponses(400, 404) } } },
    async (req) => replayJson(await service.replay(req.principal, req.params.id)),
  );

  app.get(
    '/api/auctions/:id/stats',
    { schema: { ...tags, security: bearer, summary: "One auction's figures (seller, auctioneer, admin): bidders, bids, final price against reserve, duration, price over time", params: IdParams, response: { 200: Loose, ...problemResponses(400, 401, 404) } } },
    async (req) => {
      const stats = await service.auctionStats(req.principal, req.params.id);
      const scale = scaleOf(stats.currency);
      const money = (minor: bigint | null) => (minor === null ? null : formatAmount(minor, scale));
      return {
        ...stats,
        startingPriceMinor: undefined,
        finalPriceMinor: undefined,
        reserveMinor: undefined,
        startingPrice: money(stats.startingPriceMinor),
        finalPrice: money(stats.finalPriceMinor),
        reserve: money(stats.reserveMinor),
        openedAt: iso(stats.openedAtMs),
        closedAt: iso(stats.closedAtMs),
        bidsOverTime: stats.bidsOverTime.map((b) => ({ at: iso(b.atMs), price: money(b.priceMinor) })),
      };
    },
  );

  app.get(
    '/api/auction-stats',
    {
      schema: {
        ...tags,
        security: bearer,
        summary: 'Figures for auctions that ended in a period: sell-through, sales, mean bids, participants and duration (a seller sees their own; an admin anyone’s)',
        querystring: Type.Object({ from: Iso, to: Iso, sellerId: Type.Optional(Uuid) }, { additionalProperties: false }),
        response: { 200: Loose, ...problemResponses(400, 401) },
      },
    },
    async (req) => {
      const fromMs = Date.parse(req.query.from);
      const toMs = Date.parse(req.query.to);
      if (!Number.isFinite(fromMs)) throw fieldError('VALIDATION', 'query', 'from', 'must be an ISO 8601 date-time');
      if (!Number.isFinite(toMs) || toMs <= fromMs) throw fieldError('VALIDATION', 'query', 'to', 'must be an ISO 8601 date-time after from');
      const stats = await service.periodStats(req.principal, { fromMs, toMs, ...(req.query.sellerId && { sellerId: req.query.sellerId }) });
      return {
        ...stats,
        from: iso(stats.fromMs),
        to: iso(stats.toMs),
        salesByCurrency: stats.salesByCurrency.map((s) => ({ currency: s.currency, total: formatAmount(s.totalMinor, scaleOf(s.currency)) })),
      };
    },
  );

  app.get(
    '/api/auction-increments',
    {
      schema: {
        ...tags,
        summary: 'The default increment ladder for a currency: what an auction created without `increments` uses (public)',
        querystring: Type.Object({ currency: CurrencyCode }, { additionalProperties: false }),
        response: { 200: Type.Object({ currency: Type.String(), increments: Type.Array(Type.Object({ from: Type.String(), increment: Type.String() })) }), ...problemResponses(400) },
      },
    },
    async (req) => {
      const ladder = await service.defaultLadder(req.query.currency).catch((error: unknown) => {
        if (error instanceof AppError && error.code === 'UNKNOWN_CURRENCY') throw fieldError('UNKNOWN_CURRENCY', 'query', 'currency', 'is not a known currency or asset');
        throw error;
      });
      return { currency: ladder.currency, increments: ladder.bands.map((b) => ({ from: formatAmount(b.fromMinor, ladder.scale), increment: formatAmount(b.incrementMinor, ladder.scale) })) };
    },
  );

  app.put(
    '/api/auctions/:id/recording',
    {
      schema: {
        ...tags,
        security: bearer,
        summary: "Attach (or clear) a recording of the sale: the seller, the auctioneer or an admin",
        params: IdParams,
        body: Type.Object({ url: Type.Union([Type.String({ format: 'uri', pattern: '^https?://', maxLength: 2000 }), Type.Null()]) }, { additionalProperties: false }),
        response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (req, reply) => {
      await service.setRecording(req.principal, req.params.id, req.body.url);
      return reply.code(204).send(null);
    },
  );
}

/** A bid id derived from the caller's Idempotency-Key: a retried request places the same hold. */
function bidIdOf(userId: string, key: string): string {
  return createHash('sha256').update(`${userId}\n${key}`).digest('base64url').slice(0, 26);
}

function consoleActionOf(body: { action: string; amount?: string; paddle?: string; text?: string }): ConsoleAction {
  const need = <K extends 'amount' | 'paddle' | 'text'>(field: K): string => {
    const value = body[field];
    if (value === undefined) throw fieldError('VALIDATION', 'body', field, `is required for ${body.action}`);
    return value;
  };
  switch (body.action) {
    case 'asking':
      return { type: 'asking', amount: need('amount') };
    case 'floor-bid':
      return { type: 'floorBid', amount: need('amount'), paddle: need('paddle') };
    case 'chat':
      return { type: 'chat', text: need('text') };
    case 'fair-warning':
      return { type: 'fairWarning' };
    default:
      return { type: body.action as 'open' | 'hammer' | 'pause' | 'resume' };
  }
}

function bidResultOf(events: readonly AuctionEvent[], bidId: string): string | null {
  for (const e of events) if (e.type === 'BidAccepted' && e.bidId === bidId) return e.result;
  return null;
}

// --- JSON views: bigints become decimal strings, ms become ISO times -------------------------

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function viewJson(view: PublicView, scale: number) {
  const money = (minor: bigint | null) => (minor === null ? null : formatAmount(minor, scale));
  return {
    id: view.auctionId,
    seq: view.seq,
    lotId: view.lotId,
    kind: view.kind,
    currency: view.currency,
    status: view.status,
    outcome: view.outcome,
    closedVia: view.closedVia,
    phase: view.phase,
    startingPrice: money(view.startingPriceMinor),
    price: money(view.priceMinor),
    minimumNextBid: money(view.minimumNextBidMinor),
    leader: view.leader,
    leaderSource: view.leaderSource,
    bidCount: view.bidCount,
    participantCount: view.participantCount,
    hasReserve: view.hasReserve,
    reserveMet: view.reserveMet,
    buyNow: money(view.buyNowMinor),
    startsAt: iso(view.startsAtMs),
    endsAt: iso(view.endsAtMs),
    timeLeftMs: view.timeLeftMs,
  };
}

function bidderJson(me: BidderView, scale: number) {
  return { ...me, maxBid: me.maxMinor === null ? null : formatAmount(me.maxMinor, scale), held: formatAmount(me.heldMinor, scale), maxMinor: undefined, heldMinor: undefined };
}

function rowJson(row: AuctionRow, scale: number) {
  return {
    id: row.id,
    lotId: row.lotId,
    sellerId: row.sellerId,
    kind: row.kind,
    currency: row.currency,
    categoryId: row.categoryId,
    title: row.title,
    status: row.status,
    outcome: row.outcome,
    startingPrice: formatAmount(row.startingPriceMinor, scale),
    currentPrice: formatAmount(row.currentPriceMinor, scale),
    bidCount: row.bidCount,
    participantCount: row.participantCount,
    reserveMet: row.reserveMet,
    startsAt: iso(row.startsAtMs),
    endsAt: iso(row.endsAtMs),
    closedAt: iso(row.closedAtMs),
    settled: row.settledAtMs !== null,
    // Published at the end: the hash of the journal's last entry (see "Replay and proof").
    journalHash: row.status === 'closed' || row.status === 'cancelled' ? row.lastHash : null,
    recordingUrl: row.recordingUrl,
    createdAt: iso(row.createdAtMs),
  };
}

export { rowJson as auctionRowJson };

function pageJson(page: AuctionPage, scaleOf: (currency: string) => number) {
  const scale = scaleOf(page.auction.currency);
  return {
    auction: rowJson(page.auction, scale),
    lot: page.lot,
    live: viewJson(page.view, scale),
    nextBids: page.nextBidsMinor.map((m) => formatAmount(m, scale)),
    me: page.me ? bidderJson(page.me, scale) : null,
    staffRole: page.staffRole,
    serverTime: new Date(page.serverTimeMs).toISOString(),
    serverTimeMs: page.serverTimeMs,
  };
}

/** Events as JSON: bigints as integer strings of minor units (the journal's own encoding). */
export function eventsJson(events: readonly unknown[]): unknown[] {
  return JSON.parse(JSON.stringify(events, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))) as unknown[];
}

function replayJson(r: AuctionReplay) {
  return { ...r, entries: r.entries.map((e) => ({ ...e, event: eventsJson([e.event])[0] })) };
}
