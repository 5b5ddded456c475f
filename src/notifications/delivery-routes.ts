// HTTP for delivery beyond the inbox: a person's webhooks and channel preferences (their own
// only), and the dead letters (admins).
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { requirePrincipal } from '../platform/auth/principal.js';
import type { HttpServer } from '../platform/http/server.js';
import { problemResponses, Uuid } from '../platform/http/schemas.js';
import type { Idempotency } from '../platform/idempotency/idempotency.js';
import { PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX } from '../platform/pagination.js';
import { fieldError } from '../platform/errors.js';
import { WEBHOOK_URL_LENGTH_MAX, WEBHOOKS_PER_PERSON_MAX, webhookUrlProblem } from './delivery-model.js';
import type { DeliveryService, PreferencesPatch } from './delivery-service.js';
import { NOTIFICATION_KINDS, type Preferences } from './model.js';
import type { Attempt, Job } from './queue-store.js';
import type { Webhook } from './settings-store.js';
import { webhookHostProblem } from './webhook-address.js';

const Iso = Type.String({ format: 'date-time' });
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));
const bearer = [{ bearerAuth: [] }];
const IdParams = Type.Object({ id: Uuid });
const PageQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: PAGE_LIMIT_MAX, default: PAGE_LIMIT_DEFAULT }),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
);
const Kind = Type.Union(
  NOTIFICATION_KINDS.map((k) => Type.Literal(k)),
  { description: 'the notification kind' },
);
const DataSchema = Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]));

// --- webhooks ------------------------------------------------------------------------------

const WebhookView = Type.Object({ id: Uuid, url: Type.String(), description: Type.String(), createdAt: Iso });
const RegisteredWebhook = Type.Object({
  ...WebhookView.properties,
  secret: Type.String({ description: 'signs every delivery (HMAC-SHA256); shown this once — keep it' }),
});
const WebhookBody = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: WEBHOOK_URL_LENGTH_MAX, description: 'an http:// or https:// address that accepts POSTs' }),
    description: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);
const AttemptView = Type.Object({
  id: Uuid,
  deliveryId: Type.String({ description: 'the same on every attempt at one delivery (the gavel-delivery-id header)' }),
  notificationId: Type.String(),
  kind: Kind,
  attempt: Type.Integer({ minimum: 1 }),
  outcome: Type.Union([Type.Literal('delivered'), Type.Literal('failed')]),
  statusCode: Nullable(Type.Integer({ description: 'the HTTP status your endpoint answered; null when it did not answer' })),
  error: Nullable(Type.String()),
  durationMs: Type.Integer(),
  at: Iso,
});

function webhookView(w: Webhook): Static<typeof WebhookView> {
  return { id: w.id, url: w.url, description: w.description, createdAt: iso(w.createdAtMs) };
}
function attemptView(a: Attempt): Static<typeof AttemptView> {
  return { id: a.id, deliveryId: a.jobId, notificationId: a.notificationId, kind: a.kind, attempt: a.attempt, outcome: a.outcome, statusCode: a.statusCode, error: a.error, durationMs: a.durationMs, at: iso(a.atMs) };
}

// --- preferences ---------------------------------------------------------------------------

const Choice = Type.Object({ inbox: Type.Boolean(), email: Type.Boolean(), webhook: Type.Boolean() });
const ChoicePatch = Type.Object(
  { inbox: Type.Optional(Type.Boolean()), email: Type.Optional(Type.Boolean()), webhook: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
const PreferencesView = Type.Object({ kinds: Type.Object(Object.fromEntries(NOTIFICATION_KINDS.map((k) => [k, Choice]))) });
const PreferencesBody = Type.Object(
  {
    kinds: Type.Object(Object.fromEntries(NOTIFICATION_KINDS.map((k) => [k, Type.Optional(ChoicePatch)])), {
      additionalProperties: false,
      description: 'per kind, the channels to change; kinds and channels not named stay as they are',
    }),
  },
  { additionalProperties: false },
);

// --- dead letters --------------------------------------------------------------------------

const DeliveryView = Type.Object({
  id: Uuid,
  state: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('dead'), Type.Literal('cancelled')]),
  channel: Type.Union([Type.Literal('email'), Type.Literal('webhook')]),
  recipientUserId: Uuid,
  webhookId: Nullable(Type.String()),
  kind: Kind,
  eventId: Type.String(),
  notification: Type.Object({ id: Type.String(), kind: Kind, title: Type.String(), body: Type.String(), data: DataSchema, createdAt: Iso }),
  attempts: Type.Integer({ description: 'attempts made so far (0 after a redrive)' }),
  lastError: Nullable(Type.String()),
  lastAttemptAt: Nullable(Iso),
  finishedAt: Nullable(Type.String({ format: 'date-time', description: 'when it was delivered, cancelled or given up on (dead)' })),
  createdAt: Iso,
});

function deliveryView(j: Job): Static<typeof DeliveryView> {
  return {
    id: j.id,
    state: j.state,
    channel: j.channel,
    recipientUserId: j.recipientUserId,
    webhookId: j.channel === 'webhook' ? j.target : null,
    kind: j.kind,
    eventId: j.eventId,
    notification: j.payload,
    attempts: j.attempts,
    lastError: j.lastError,
    lastAttemptAt: isoOrNull(j.lastAttemptAtMs),
    finishedAt: isoOrNull(j.finishedAtMs),
    createdAt: iso(j.createdAtMs),
  };
}

/**
 * `webhookAllowPrivate`: webhooks may point at private and loopback addresses (development and
 * tests); otherwise such an address is refused here, and checked again at each delivery.
 */
export function deliveryRoutes(app: HttpServer, delivery: DeliveryService, deps: { idempotency: Idempotency; webhookAllowPrivate: boolean }): void {
  const tags = { tags: ['notifications'], security: bearer };
  const admin = { tags: ['notifications (admin)'], security: bearer };

  app.post(
    '/api/notifications/webhooks',
    {
      schema: {
        ...tags,
        summary: `Register a webhook: every notification of the kinds you leave on for webhooks is POSTed to it, signed (at most ${WEBHOOKS_PER_PERSON_MAX}; Idempotency-Key honoured)`,
        body: WebhookBody,
        response: { 201: RegisteredWebhook, ...problemResponses(400, 401, 409, 422) },
      },
    },
    async (req, reply) => {
      const me = requirePrincipal(req.principal);
      // A malformed URL is the service's 400; a well-formed one to a forbidden host is a 422.
      if (webhookUrlProblem(req.body.url) === undefined) {
        const problem = webhookHostProblem(new URL(req.body.url), { allowPrivate: deps.webhookAllowPrivate });
        if (problem) throw fieldError('WEBHOOK_ADDRESS_FORBIDDEN', 'body', 'url', problem);
      }
      return deps.idempotency.handle(req, reply, me.userId, async () => {
        const webhook = await delivery.registerWebhook(req.principal, req.body);
        reply.header('location', `/api/notifications/webhooks/${webhook.id}`);
        return { status: 201, body: { ...webhookView(webhook), secret: webhook.secret } };
      });
    },
  );

  app.get(
    '/api/notifications/webhooks',
    { schema: { ...tags, summary: 'Your webhooks (without their secrets)', response: { 200: Type.Object({ items: Type.Array(WebhookView) }), ...problemResponses(401) } } },
    async (req) => ({ items: (await delivery.listWebhooks(req.principal)).map(webhookView) }),
  );

  app.delete(
    '/api/notifications/webhooks/:id',
    { schema: { ...tags, summary: 'Delete one of your webhooks; deliveries still waiting for it are cancelled', params: IdParams, response: { 204: Type.Null(), ...problemResponses(400, 401, 404) } } },
    async (req, reply) => {
      await delivery.deleteWebhook(req.principal, req.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/notifications/webhooks/:id/deliveries',
    {
      schema: {
        ...tags,
        summary: 'Every attempt at delivering to one of your webhooks, newest first',
        params: IdParams,
        querystring: PageQuery,
        response: { 200: Type.Object({ items: Type.Array(AttemptView), nextCursor: Nullable(Type.String()) }), ...problemResponses(400, 401, 404) },
      },
    },
    async (req) => {
      const page = await delivery.webhookDeliveries(req.principal, req.params.id, req.query);
      return { items: page.items.map(attemptView), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/api/notifications/preferences',
    { schema: { ...tags, summary: 'Which channels each kind of notification reaches you on', response: { 200: PreferencesView, ...problemResponses(401) } } },
    async (req) => ({ kinds: await delivery.preferences(req.principal) }),
  );

  app.put(
    '/api/notifications/preferences',
    {
      schema: {
        ...tags,
        summary: 'Change channels for some kinds (those not named stay as they are); answers all of them',
        body: PreferencesBody,
        response: { 200: PreferencesView, ...problemResponses(400, 401) },
      },
    },
    async (req) => ({ kinds: await delivery.updatePreferences(req.principal, req.body.kinds as PreferencesPatch) }) satisfies { kinds: Preferences },
  );

  app.get(
    '/api/admin/notifications/dead-letters',
    {
      schema: {
        ...admin,
        summary: 'Deliveries given up on after the last attempt, newest first, with the last error (admin)',
        querystring: PageQuery,
        response: { 200: Type.Object({ items: Type.Array(DeliveryView), nextCursor: Nullable(Type.String()), total: Type.Integer({ description: 'all dead letters, not only this page' }) }), ...problemResponses(400, 401, 403) },
      },
    },
    async (req) => {
      const page = await delivery.deadLetters(req.principal, req.query);
      return { items: page.items.map(deliveryView), nextCursor: page.nextCursor, total: page.total };
    },
  );

  app.post(
    '/api/admin/notifications/dead-letters/redrive-all',
    {
      schema: {
        ...admin,
        summary: 'Send every dead letter again (up to 10,000 per call; `remaining` says how many are left) (admin)',
        response: { 200: Type.Object({ redriven: Type.Integer(), remaining: Type.Integer() }), ...problemResponses(401, 403) },
      },
    },
    async (req) => delivery.redriveAll(req.principal),
  );

  app.post(
    '/api/admin/notifications/dead-letters/:id/redrive',
    {
      schema: {
        ...admin,
        summary: 'Send one dead letter again, from a fresh first attempt (admin)',
        params: IdParams,
        response: { 200: DeliveryView, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (req) => deliveryView(await delivery.redrive(req.principal, req.params.id)),
  );
}
