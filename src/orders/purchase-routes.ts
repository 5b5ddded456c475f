// HTTP for purchases. POST starts one (Idempotency-Key required) and answers once it has ended
// or after a short wait, whichever comes first: 201 with the outcome, or 202 while it still
// runs (follow `Location`). Amounts are decimal strings with their currency; times ISO 8601.
// Someone else's purchase answers 404.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { requirePrincipal } from '../platform/auth/principal.js';
import { fieldError } from '../platform/errors.js';
import type { HttpServer } from '../platform/http/server.js';
import { problemResponses, Uuid } from '../platform/http/schemas.js';
import { IDEMPOTENCY_HEADER, type Idempotency } from '../platform/idempotency/idempotency.js';
import { formatAmount } from '../platform/money.js';
import { PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX } from '../platform/pagination.js';
import { FAILURE_CODES, ITEMS_MAX, PURCHASE_STATUSES, PURCHASE_STEPS, QUANTITY_MAX, STEP_STATUSES, totalOf, type Purchase } from './purchase-model.js';
import type { PurchaseSaga } from './purchase-saga.js';

/** How long POST waits for the purchase to end before answering 202. */
export const PURCHASE_ANSWER_WAIT_MS = 2_000;

const Iso = Type.String({ format: 'date-time' });
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const Currency = Type.String({ pattern: '^[A-Z][A-Z0-9]{1,11}$', description: 'ISO 4217 code (USD) or asset code', examples: ['USD'] });

const PurchaseBody = Type.Object(
  {
    items: Type.Array(
      Type.Object(
        { productId: Uuid, quantity: Type.Integer({ minimum: 1, maximum: QUANTITY_MAX }) },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: ITEMS_MAX, description: 'each product once, with how many units' },
    ),
    currency: Currency,
  },
  { additionalProperties: false },
);

const StepView = Type.Object({
  name: Type.Union(PURCHASE_STEPS.map((s) => Type.Literal(s))),
  status: Type.Union(
    STEP_STATUSES.map((s) => Type.Literal(s)),
    { description: 'pending → running → succeeded | failed | timed_out; compensating → compensated when undone' },
  ),
  startedAt: Nullable(Iso),
  finishedAt: Nullable(Iso),
  compensatedAt: Nullable(Iso),
  attempts: Type.Integer({ description: 'times its command (or, while compensating, its undo) was sent' }),
  error: Nullable(Type.Object({ code: Type.String(), detail: Type.String() })),
});

const PurchaseView = Type.Object({
  id: Uuid,
  status: Type.Union(
    PURCHASE_STATUSES.map((s) => Type.Literal(s)),
    { description: 'running → completed; or compensating → compensated (nothing taken, nothing held)' },
  ),
  buyerId: Uuid,
  currency: Type.String(),
  total: Nullable(Type.String({ description: 'decimal string; null until the products are reserved and priced' })),
  items: Type.Array(
    Type.Object({
      productId: Uuid,
      quantity: Type.Integer(),
      title: Nullable(Type.String()),
      sellerId: Nullable(Uuid),
      unitPrice: Nullable(Type.String({ description: 'the price when reserved' })),
      amount: Nullable(Type.String()),
    }),
  ),
  steps: Type.Array(StepView),
  failure: Nullable(
    Type.Object(
      {
        step: Type.Union(PURCHASE_STEPS.map((s) => Type.Literal(s))),
        reason: Type.Union(FAILURE_CODES.map((c) => Type.Literal(c))),
        detail: Type.String(),
      },
      { description: 'why the purchase was compensated' },
    ),
  ),
  orderIds: Type.Array(Uuid, { description: 'the orders it made, one per seller (GET /api/orders/{id})' }),
  createdAt: Iso,
  updatedAt: Iso,
  finishedAt: Nullable(Iso),
});

const ListQuery = Type.Object(
  { limit: Type.Integer({ minimum: 1, maximum: PAGE_LIMIT_MAX, default: PAGE_LIMIT_DEFAULT }), cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) },
  { additionalProperties: false },
);
const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false });

const bearer = [{ bearerAuth: [] }];
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function purchaseView(p: Purchase, scale: number): Static<typeof PurchaseView> {
  const total = totalOf(p);
  const lineOf = new Map((p.lines ?? []).map((l) => [l.productId, l]));
  return {
    id: p.id,
    status: p.status,
    buyerId: p.buyerId,
    currency: p.currency,
    total: total === null ? null : formatAmount(total, scale),
    items: p.items.map((i) => {
      const l = lineOf.get(i.productId);
      return {
        productId: i.productId,
        quantity: i.quantity,
        title: l?.title ?? null,
        sellerId: l?.sellerId ?? null,
        unitPrice: l ? formatAmount(l.unitPriceMinor, scale) : null,
        amount: l ? formatAmount(l.unitPriceMinor * BigInt(l.quantity), scale) : null,
      };
    }),
    steps: p.steps.map((s) => ({
      name: s.name,
      status: s.status,
      startedAt: iso(s.startedAtMs),
      finishedAt: iso(s.finishedAtMs),
      compensatedAt: iso(s.compensatedAtMs),
      attempts: s.attempts,
      error: s.error,
    })),
    failure: p.failure && { step: p.failure.step, reason: p.failure.code, detail: p.failure.detail },
    orderIds: p.orderIds,
    createdAt: iso(p.createdAtMs)!,
    updatedAt: iso(p.updatedAtMs)!,
    finishedAt: iso(p.finishedAtMs),
  };
}

export function purchaseRoutes(app: HttpServer, saga: PurchaseSaga, deps: { idempotency: Idempotency; scaleOf(currency: string): number | undefined; answerWaitMs?: number }): void {
  const tags = { tags: ['purchases'], security: bearer };
  const view = (p: Purchase) => purchaseView(p, deps.scaleOf(p.currency) ?? 0);
  const waitMs = deps.answerWaitMs ?? PURCHASE_ANSWER_WAIT_MS;

  app.post(
    '/api/purchases',
    {
      schema: {
        ...tags,
        summary: `Buy products at their listed price (Idempotency-Key required). Answers 201 once the purchase has ended (completed or compensated), or 202 after ${waitMs} ms while it still runs`,
        body: PurchaseBody,
        headers: Type.Object({ [IDEMPOTENCY_HEADER]: Type.Optional(Type.String({ description: '1–200 visible ASCII characters; required' })) }),
        response: { 201: PurchaseView, 202: PurchaseView, ...problemResponses(400, 401, 409, 422) },
      },
    },
    async (req, reply) => {
      const me = requirePrincipal(req.principal);
      if (req.headers[IDEMPOTENCY_HEADER] === undefined) throw fieldError('VALIDATION', 'headers', IDEMPOTENCY_HEADER, 'is required: a retried purchase must not buy twice');
      const body = await deps.idempotency.handle(req, reply, me.userId, async (key) => {
        const started = await saga.begin(req.principal, req.body, key!);
        if (started.finishedAtMs === null) await saga.waitForEnd(started.id, waitMs);
        const now = await saga.get(req.principal, started.id);
        return { status: now.finishedAtMs === null ? 202 : 201, body: view(now) };
      });
      reply.header('location', `/api/purchases/${body.id}`);
      return body;
    },
  );

  app.get(
    '/api/purchases',
    {
      schema: {
        ...tags,
        summary: 'Your purchases, newest first',
        querystring: ListQuery,
        response: { 200: Type.Object({ items: Type.Array(PurchaseView), nextCursor: Nullable(Type.String()) }), ...problemResponses(400, 401) },
      },
    },
    async (req) => {
      const page = await saga.list(req.principal, req.query);
      return { items: page.items.map(view), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/api/purchases/:id',
    { schema: { ...tags, summary: 'One purchase with each step and the outcome (its buyer or an admin; anyone else: 404)', params: IdParams, response: { 200: PurchaseView, ...problemResponses(400, 401, 404) } } },
    async (req) => view(await saga.get(req.principal, req.params.id)),
  );
}
