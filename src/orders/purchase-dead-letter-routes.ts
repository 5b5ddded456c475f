// HTTP for the purchase saga's dead letters (admins): list them newest first with whether each
// can be used now, read one whole, redrive one that can, discard one. A dead letter is named by
// the consumer that gave up on it and the outbox event id it had.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { HttpServer } from '../platform/http/server.js';
import { problemResponses, Uuid } from '../platform/http/schemas.js';
import { isUuid } from '../platform/ids.js';
import { CONSUMER_NAME_PATTERN } from '../platform/outbox/relay.js';
import { decodeCursor, encodeCursor, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX } from '../platform/pagination.js';
import type { DeadLetterKey } from './purchase-dead-letter-store.js';
import type { AssessedLetter, PurchaseDeadLetters } from './purchase-dead-letters.js';

/** How much of a payload the list shows; GET one dead letter for all of it. */
export const PAYLOAD_PREVIEW_CHARS = 500;

const Iso = Type.String({ format: 'date-time' });
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const bearer = [{ bearerAuth: [] }];

const KeyParams = Type.Object(
  {
    consumer: Type.String({ pattern: CONSUMER_NAME_PATTERN.source, description: 'the consumer that dead-lettered it, e.g. orders.purchase-saga' }),
    eventId: Uuid,
  },
  { additionalProperties: false },
);
const PageQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: PAGE_LIMIT_MAX, default: PAGE_LIMIT_DEFAULT }),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 400 })),
  },
  { additionalProperties: false },
);

const LetterFields = {
  consumer: Type.String({ description: 'orders.purchase-saga (replies) or a participant: orders.purchase-inventory, -payments, -orders (commands)' }),
  eventId: Uuid,
  topic: Type.String(),
  reason: Type.String({ description: 'why the consumer could not use it when it came' }),
  createdAt: Iso,
  message: Nullable(Type.String({ description: 'the command or reply it decodes to now (InventoryValidated …); null when it cannot be read' })),
  purchaseId: Nullable(Type.String({ description: 'the purchase it is about, when it can be read' })),
  redrivable: Type.Boolean({ description: 'whether POST …/redrive would put it back on the bus now' }),
  problemNow: Nullable(Type.String({ description: 'why it cannot be redriven now; null when it can' })),
  payloadBytes: Type.Integer({ description: 'size of the payload as JSON' }),
};
const LetterSummary = Type.Object({ ...LetterFields, payloadPreview: Type.String({ description: `the payload as JSON, cut at ${PAYLOAD_PREVIEW_CHARS} characters` }) });
const LetterDetail = Type.Object({
  ...LetterFields,
  payload: Type.Unknown({ description: 'the outbox payload as it was received (an Avro envelope when it is one)' }),
  decoded: Nullable(Type.Record(Type.String(), Type.Unknown(), { description: 'the message as this node reads it now (Avro longs as decimal strings)' })),
});

function fields({ letter, assessment }: AssessedLetter) {
  const json = JSON.stringify(letter.payload) ?? 'null';
  return {
    consumer: letter.consumer,
    eventId: letter.eventId,
    topic: letter.topic,
    reason: letter.reason,
    createdAt: new Date(letter.createdAtMs).toISOString(),
    message: assessment.message?.name ?? null,
    purchaseId: assessment.message?.purchaseId ?? null,
    redrivable: assessment.redrivable,
    problemNow: assessment.problem,
    payloadBytes: Buffer.byteLength(json),
    json,
  };
}

function summaryView(a: AssessedLetter): Static<typeof LetterSummary> {
  const { json, ...rest } = fields(a);
  return { ...rest, payloadPreview: json.length > PAYLOAD_PREVIEW_CHARS ? `${json.slice(0, PAYLOAD_PREVIEW_CHARS)}…` : json };
}

function detailView(a: AssessedLetter): Static<typeof LetterDetail> {
  const { json: _json, ...rest } = fields(a);
  return { ...rest, payload: a.letter.payload, decoded: a.assessment.message ? (jsonSafe(a.assessment.message) as Record<string, unknown>) : null };
}

/** Avro longs are bigints: as decimal strings in JSON. */
function jsonSafe(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, jsonSafe(v)]));
  return value;
}

// The cursor holds the last key of a page: "<eventId> <consumer>".
const cursorOf = (key: DeadLetterKey) => encodeCursor(`${key.eventId} ${key.consumer}`);
function keyOfCursor(cursor: string): DeadLetterKey {
  const text = decodeCursor(cursor, (k) => {
    const [eventId, consumer, ...rest] = k.split(' ');
    return rest.length === 0 && eventId !== undefined && isUuid(eventId) && consumer !== undefined && CONSUMER_NAME_PATTERN.test(consumer);
  });
  const [eventId, consumer] = text.split(' ') as [string, string];
  return { eventId, consumer };
}

const keyOf = (params: { consumer: string; eventId: string }): DeadLetterKey => ({ consumer: params.consumer, eventId: params.eventId.toLowerCase() });

export function purchaseDeadLetterRoutes(app: HttpServer, deadLetters: PurchaseDeadLetters): void {
  const admin = { tags: ['purchases (admin)'], security: bearer };
  const path = '/api/admin/purchases/dead-letters';

  app.get(
    path,
    {
      schema: {
        ...admin,
        summary: 'Purchase saga messages no consumer could use, newest first, each with whether it can be redriven now (admin)',
        querystring: PageQuery,
        response: { 200: Type.Object({ items: Type.Array(LetterSummary), nextCursor: Nullable(Type.String()), total: Type.Integer({ description: 'all dead letters, not only this page' }) }), ...problemResponses(400, 401, 403) },
      },
    },
    async (req) => {
      const page = await deadLetters.list(req.principal, { limit: req.query.limit, after: req.query.cursor === undefined ? undefined : keyOfCursor(req.query.cursor) });
      const last = page.items.at(-1)?.letter;
      return { items: page.items.map(summaryView), nextCursor: page.more && last ? cursorOf(last) : null, total: page.total };
    },
  );

  app.get(
    `${path}/:consumer/:eventId`,
    { schema: { ...admin, summary: 'One dead letter with its whole payload, and the message it decodes to now (admin)', params: KeyParams, response: { 200: LetterDetail, ...problemResponses(400, 401, 403, 404) } } },
    async (req) => detailView(await deadLetters.get(req.principal, keyOf(req.params))),
  );

  app.post(
    `${path}/:consumer/:eventId/redrive`,
    {
      schema: {
        ...admin,
        summary: 'Put a dead letter back on the bus as it was sent, and delete it; only when it decodes now and names a purchase that exists (409 otherwise, nothing changed) (admin)',
        params: KeyParams,
        response: { 200: Type.Object({ eventId: Uuid, topic: Type.String(), purchaseId: Type.String() }, { description: 'the new outbox event carrying the message' }), ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (req) => {
      const done = await deadLetters.redrive(req.principal, keyOf(req.params));
      return { eventId: done.eventId, topic: done.letter.topic, purchaseId: done.purchaseId };
    },
  );

  app.delete(
    `${path}/:consumer/:eventId`,
    { schema: { ...admin, summary: 'Discard a dead letter for good; the log records who did and what it was (admin)', params: KeyParams, response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404) } } },
    async (req, reply) => {
      await deadLetters.discard(req.principal, keyOf(req.params));
      return reply.code(204).send(null);
    },
  );
}
