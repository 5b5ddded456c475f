// HTTP for orders. Amounts travel as decimal strings with their currency beside them; times as
// ISO 8601. Every route is about the caller's own orders (admins see and act on any): someone
// else's order answers 404.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { requirePrincipal } from '../platform/auth/principal.js';
import type { HttpServer } from '../platform/http/server.js';
import { problemResponses, Uuid } from '../platform/http/schemas.js';
import type { Idempotency } from '../platform/idempotency/idempotency.js';
import { formatAmount } from '../platform/money.js';
import { PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX } from '../platform/pagination.js';
import { CARRIER_MAX_LENGTH, COMMENT_MAX_LENGTH, ORDER_SOURCES, ORDER_STATUSES, REASON_MAX_LENGTH, TRACKING_NUMBER_MAX_LENGTH, type Order } from './model.js';
import type { OrdersService } from './service.js';

// One line of text: no control characters or lone surrogates, no leading or trailing space.
export const LINE_PATTERN = '^[^\\p{Cc}\\p{Cs}\\s](?:[^\\p{Cc}\\p{Cs}]*[^\\p{Cc}\\p{Cs}\\s])?$';
// Free text: line breaks and tabs, but no other control characters; at least one visible character.
export const TEXT_PATTERN = '^(?=[\\s\\S]*[^\\p{Cc}\\p{Cs}\\s])(?:[^\\p{Cc}\\p{Cs}]|[\\t\\n\\r])*$';

const Iso = Type.String({ format: 'date-time' });
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const Status = Type.Union(
  ORDER_STATUSES.map((s) => Type.Literal(s)),
  { description: 'created → paid → shipped → delivered; or cancelled (before shipping) / refunded' },
);

const OrderView = Type.Object({
  id: Uuid,
  source: Type.Union(
    ORDER_SOURCES.map((s) => Type.Literal(s)),
    { description: 'auction: a won auction; purchase: a fixed-price purchase' },
  ),
  sourceRef: Type.String({ description: 'the auction (or purchase) id the order comes from' }),
  status: Status,
  buyerId: Uuid,
  sellerId: Uuid,
  title: Type.String(),
  amount: Type.String({ description: 'decimal string in major units' }),
  currency: Type.String(),
  paymentRef: Nullable(Type.String({ description: 'the ledger reference of the payment (auction:{id}:settle for an auction win)' })),
  items: Type.Array(
    Type.Object({
      kind: Type.Union([Type.Literal('lot'), Type.Literal('product')]),
      refId: Type.String({ description: 'the lot or product id' }),
      title: Type.String(),
      quantity: Type.Integer(),
      unitPrice: Type.String(),
      amount: Type.String(),
    }),
  ),
  createdAt: Iso,
  updatedAt: Iso,
  paidAt: Nullable(Iso),
  shipment: Nullable(Type.Object({ shippedAt: Iso, carrier: Nullable(Type.String()), trackingNumber: Nullable(Type.String()) })),
  delivery: Nullable(Type.Object({ deliveredAt: Iso, rating: Type.Integer({ minimum: 1, maximum: 5 }), comment: Nullable(Type.String()) })),
  cancellation: Nullable(Type.Object({ cancelledAt: Iso, by: Type.Union([Type.Literal('seller'), Type.Literal('admin'), Type.Literal('system')]), reason: Type.String() })),
  refund: Nullable(
    Type.Object(
      { refundedAt: Iso, reason: Type.String(), transferRef: Type.String({ description: 'the ledger reference of the transfer that paid the buyer back' }) },
      { description: 'money returned to the buyer: by a refund, or by cancelling a paid order' },
    ),
  ),
});

const ListQuery = Type.Object(
  {
    role: Type.Optional(Type.Union([Type.Literal('buyer'), Type.Literal('seller')], { description: 'orders you bought or sold; both when absent' })),
    status: Type.Optional(Status),
    limit: Type.Integer({ minimum: 1, maximum: PAGE_LIMIT_MAX, default: PAGE_LIMIT_DEFAULT }),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
);
const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false });
const ShipBody = Type.Object(
  {
    carrier: Type.Optional(Type.String({ minLength: 1, maxLength: CARRIER_MAX_LENGTH, pattern: LINE_PATTERN })),
    trackingNumber: Type.Optional(Type.String({ minLength: 1, maxLength: TRACKING_NUMBER_MAX_LENGTH, pattern: LINE_PATTERN })),
  },
  { additionalProperties: false },
);
const DeliveryBody = Type.Object(
  {
    rating: Type.Integer({ minimum: 1, maximum: 5, description: "1–5; moves the seller's reputation: 5 → +3, 4 → +1, 3 → 0, 2 → −2, 1 → −4" }),
    comment: Type.Optional(Type.String({ minLength: 1, maxLength: COMMENT_MAX_LENGTH, pattern: TEXT_PATTERN })),
  },
  { additionalProperties: false },
);
const ReasonBody = Type.Object({ reason: Type.String({ minLength: 1, maxLength: REASON_MAX_LENGTH, pattern: TEXT_PATTERN }) }, { additionalProperties: false });

const bearer = [{ bearerAuth: [] }];
const iso = (ms: number) => new Date(ms).toISOString();

export function orderView(o: Order, scale: number): Static<typeof OrderView> {
  return {
    id: o.id,
    source: o.source,
    sourceRef: o.sourceRef,
    status: o.status,
    buyerId: o.buyerId,
    sellerId: o.sellerId,
    title: o.title,
    amount: formatAmount(o.amountMinor, scale),
    currency: o.currency,
    paymentRef: o.paymentRef,
    items: o.lines.map((l) => ({ kind: l.kind, refId: l.refId, title: l.title, quantity: l.quantity, unitPrice: formatAmount(l.unitPriceMinor, scale), amount: formatAmount(l.unitPriceMinor * BigInt(l.quantity), scale) })),
    createdAt: iso(o.createdAtMs),
    updatedAt: iso(o.updatedAtMs),
    paidAt: o.paidAtMs === null ? null : iso(o.paidAtMs),
    shipment: o.shipment && { shippedAt: iso(o.shipment.shippedAtMs), carrier: o.shipment.carrier, trackingNumber: o.shipment.trackingNumber },
    delivery: o.delivery && { deliveredAt: iso(o.delivery.deliveredAtMs), rating: o.delivery.rating, comment: o.delivery.comment },
    cancellation: o.cancellation && { cancelledAt: iso(o.cancellation.cancelledAtMs), by: o.cancellation.by, reason: o.cancellation.reason },
    refund: o.refund && { refundedAt: iso(o.refund.refundedAtMs), reason: o.refund.reason, transferRef: o.refund.transferRef },
  };
}

export function ordersRoutes(app: HttpServer, orders: OrdersService, deps: { idempotency: Idempotency }): void {
  const { idempotency } = deps;
  const tags = { tags: ['orders'], security: bearer };
  const view = (o: Order) => orderView(o, orders.scaleOf(o.currency) ?? 0);
  const actions = problemResponses(400, 401, 403, 404, 409, 422);

  app.get(
    '/api/orders',
    {
      schema: {
        ...tags,
        summary: 'Your orders, newest first: those you bought, sold, or both',
        querystring: ListQuery,
        response: { 200: Type.Object({ items: Type.Array(OrderView), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...problemResponses(400, 401) },
      },
    },
    async (req) => {
      const page = await orders.list(req.principal, req.query);
      return { items: page.items.map(view), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/api/orders/:id',
    { schema: { ...tags, summary: 'One order (its buyer, its seller or an admin; anyone else: 404)', params: IdParams, response: { 200: OrderView, ...problemResponses(400, 401, 404) } } },
    async (req) => view(await orders.get(req.principal, req.params.id)),
  );

  // The actions accept an Idempotency-Key: a repeat answers the first result rather than a 409.
  app.post(
    '/api/orders/:id/ship',
    { schema: { ...tags, summary: 'Mark a paid order shipped (the seller), with the carrier and tracking number if known', params: IdParams, body: ShipBody, response: { 200: OrderView, ...actions } } },
    async (req, reply) => {
      const me = requirePrincipal(req.principal);
      return idempotency.handle(req, reply, me.userId, async () => ({ status: 200, body: view(await orders.ship(req.principal, req.params.id, req.body)) }));
    },
  );

  app.post(
    '/api/orders/:id/confirm-delivery',
    {
      schema: {
        ...tags,
        summary: "Confirm a shipped order arrived and rate the seller (the buyer, once); the rating moves the seller's reputation",
        params: IdParams,
        body: DeliveryBody,
        response: { 200: OrderView, ...actions },
      },
    },
    async (req, reply) => {
      const me = requirePrincipal(req.principal);
      return idempotency.handle(req, reply, me.userId, async () => ({ status: 200, body: view(await orders.confirmDelivery(req.principal, req.params.id, req.body)) }));
    },
  );

  app.post(
    '/api/orders/:id/cancel',
    {
      schema: {
        ...tags,
        summary: 'Cancel an order before it ships (the seller or an admin); a paid order pays the buyer back from the seller’s wallet',
        params: IdParams,
        body: ReasonBody,
        response: { 200: OrderView, ...actions },
      },
    },
    async (req, reply) => {
      const me = requirePrincipal(req.principal);
      return idempotency.handle(req, reply, me.userId, async () => ({ status: 200, body: view(await orders.cancel(req.principal, req.params.id, req.body)) }));
    },
  );

  app.post(
    '/api/orders/:id/refund',
    {
      schema: {
        ...tags,
        summary: 'Refund a paid, shipped or delivered order (admin): the amount moves from the seller’s wallet to the buyer’s',
        params: IdParams,
        body: ReasonBody,
        response: { 200: OrderView, ...actions },
      },
    },
    async (req, reply) => {
      const me = requirePrincipal(req.principal);
      return idempotency.handle(req, reply, me.userId, async () => ({ status: 200, body: view(await orders.refund(req.principal, req.params.id, req.body)) }));
    },
  );
}
