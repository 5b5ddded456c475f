// HTTP for the bus's dead letters (admins): list them newest first, redrive one (its consumer
// runs on the event once, now), discard one. See dead-letters.ts and docs/cluster.md.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { HttpServer } from '../http/server.js';
import { problemResponses, Uuid } from '../http/schemas.js';
import { isUuid } from '../ids.js';
import { CONSUMER_NAME_PATTERN } from '../outbox/relay.js';
import { decodeCursor, encodeCursor, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX } from '../pagination.js';
import { DEAD_LETTER_STATES } from './dead-letter-migration.js';
import type { BusDeadLetter, BusDeadLetters } from './dead-letters.js';

const Iso = Type.String({ format: 'date-time' });
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const bearer = [{ bearerAuth: [] }];
const State = Type.Union(
  DEAD_LETTER_STATES.map((s) => Type.Literal(s)),
  { description: 'pending: waits for an admin; redriven: its consumer handled it on a redrive; discarded: given up for good' },
);

const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false });
const ListQuery = Type.Object(
  {
    state: Type.Optional(State),
    consumer: Type.Optional(Type.String({ pattern: CONSUMER_NAME_PATTERN.source, description: 'only the dead letters of this consumer, e.g. notifications.inbox' })),
    limit: Type.Integer({ minimum: 1, maximum: PAGE_LIMIT_MAX, default: PAGE_LIMIT_DEFAULT }),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
);

const DeadLetterView = Type.Object({
  id: Uuid,
  consumer: Type.String({ description: 'the consumer that gave up on the event' }),
  eventId: Uuid,
  topic: Type.String(),
  key: Type.String(),
  version: Type.Integer({ description: "the payload's schema version" }),
  payload: Type.Unknown({ description: 'the event payload as the outbox stored it' }),
  eventCreatedAt: Iso,
  attempts: Type.Integer({ description: 'failed deliveries, redrives that failed included' }),
  lastError: Type.String({ description: 'the last failure, name and message, cut at 2,000 characters' }),
  firstFailedAt: Iso,
  lastFailedAt: Iso,
  state: State,
  deadLetteredAt: Iso,
  resolvedAt: Nullable(Iso),
  resolvedBy: Nullable(Type.String({ description: 'the admin who redrove or discarded it' })),
  redrivableHere: Type.Boolean({ description: 'pending, and its consumer is registered on the node that answered: POST …/redrive would run it here' }),
});

const iso = (ms: number) => new Date(ms).toISOString();

function view(letter: BusDeadLetter, deadLetters: BusDeadLetters): Static<typeof DeadLetterView> {
  return {
    id: letter.id,
    consumer: letter.consumer,
    eventId: letter.eventId,
    topic: letter.topic,
    key: letter.key,
    version: letter.version,
    payload: letter.payload,
    eventCreatedAt: iso(letter.eventCreatedAtMs),
    attempts: letter.attempts,
    lastError: letter.lastError,
    firstFailedAt: iso(letter.firstFailedAtMs),
    lastFailedAt: iso(letter.lastFailedAtMs),
    state: letter.state,
    deadLetteredAt: iso(letter.deadLetteredAtMs),
    resolvedAt: letter.resolvedAtMs === null ? null : iso(letter.resolvedAtMs),
    resolvedBy: letter.resolvedBy,
    redrivableHere: letter.state === 'pending' && deadLetters.runsHere(letter.consumer),
  };
}

export function busDeadLetterRoutes(app: HttpServer, deadLetters: BusDeadLetters): void {
  const admin = { tags: ['bus (admin)'], security: bearer };
  const path = '/api/admin/bus/dead-letters';

  app.get(
    path,
    {
      schema: {
        ...admin,
        summary: 'Events a consumer gave up on after its last attempt, newest first, filtered by state and consumer (admin)',
        querystring: ListQuery,
        response: { 200: Type.Object({ items: Type.Array(DeadLetterView), nextCursor: Nullable(Type.String()), total: Type.Integer({ description: 'every dead letter the filters match, not only this page' }) }), ...problemResponses(400, 401, 403) },
      },
    },
    async (req) => {
      const after = req.query.cursor === undefined ? undefined : decodeCursor(req.query.cursor, isUuid);
      const page = await deadLetters.list(req.principal, { state: req.query.state, consumer: req.query.consumer, after, limit: req.query.limit });
      const last = page.items.at(-1);
      return { items: page.items.map((l) => view(l, deadLetters)), nextCursor: page.more && last ? encodeCursor(last.id) : null, total: page.total };
    },
  );

  app.post(
    `${path}/:id/redrive`,
    {
      schema: {
        ...admin,
        summary: 'Run the consumer on the event once, now; on success the dead letter is redriven, on failure (409 DEAD_LETTER_REDRIVE_FAILED, with the error) it stays pending with one more attempt (admin)',
        params: IdParams,
        response: { 200: DeadLetterView, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (req) => view(await deadLetters.redrive(req.principal, req.params.id.toLowerCase()), deadLetters),
  );

  app.post(
    `${path}/:id/discard`,
    {
      schema: {
        ...admin,
        summary: 'Give up on a pending dead letter for good; the log records who did and what it was (admin)',
        params: IdParams,
        response: { 200: DeadLetterView, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (req) => view(await deadLetters.discard(req.principal, req.params.id.toLowerCase()), deadLetters),
  );
}
