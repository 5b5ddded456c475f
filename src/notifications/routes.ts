// HTTP for the in-app inbox. Every route is the caller's own inbox; there is no way to name
// anyone else's.
import { Type, type Static } from '@sinclair/typebox';
import type { HttpServer } from '../platform/http/server.js';
import { problemResponses, Uuid } from '../platform/http/schemas.js';
import { PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX } from '../platform/pagination.js';
import { NOTIFICATION_KINDS, type Notification } from './model.js';
import type { NotificationService } from './service.js';

const NotificationView = Type.Object({
  id: Uuid,
  kind: Type.Union(
    NOTIFICATION_KINDS.map((k) => Type.Literal(k)),
    { description: 'what happened; clients show unknown kinds by title and body' },
  ),
  title: Type.String(),
  body: Type.String(),
  data: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]), {
    description: 'ids and amounts (decimal strings) the notification is about, by kind: topupId, withdrawalId, currency, amount…',
  }),
  read: Type.Boolean(),
  readAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
});
const ListQuery = Type.Object(
  {
    unread: Type.Optional(Type.Boolean({ description: 'true: only unread ones' })),
    limit: Type.Integer({ minimum: 1, maximum: PAGE_LIMIT_MAX, default: PAGE_LIMIT_DEFAULT }),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
);
const IdParams = Type.Object({ id: Uuid });

const iso = (ms: number) => new Date(ms).toISOString();
const bearer = [{ bearerAuth: [] }];

function view(n: Notification): Static<typeof NotificationView> {
  return { id: n.id, kind: n.kind, title: n.title, body: n.body, data: n.data, read: n.readAtMs !== null, readAt: n.readAtMs === null ? null : iso(n.readAtMs), createdAt: iso(n.createdAtMs) };
}

export function notificationsRoutes(app: HttpServer, notifications: NotificationService): void {
  const tags = { tags: ['notifications'], security: bearer };

  app.get(
    '/api/notifications',
    {
      schema: {
        ...tags,
        summary: 'Your notifications, newest first, with how many are unread',
        querystring: ListQuery,
        response: {
          200: Type.Object({ items: Type.Array(NotificationView), nextCursor: Type.Union([Type.String(), Type.Null()]), unreadCount: Type.Integer({ description: 'all your unread notifications, not only this page' }) }),
          ...problemResponses(400, 401),
        },
      },
    },
    async (req) => {
      const page = await notifications.list(req.principal, req.query);
      return { items: page.items.map(view), nextCursor: page.nextCursor, unreadCount: page.unreadCount };
    },
  );

  app.post(
    '/api/notifications/:id/read',
    { schema: { ...tags, summary: 'Mark one of your notifications read (anyone else’s: 404)', params: IdParams, response: { 200: NotificationView, ...problemResponses(400, 401, 404) } } },
    async (req) => view(await notifications.markRead(req.principal, req.params.id)),
  );

  app.post(
    '/api/notifications/read-all',
    { schema: { ...tags, summary: 'Mark all your notifications read', response: { 200: Type.Object({ marked: Type.Integer({ description: 'how many were unread' }) }), ...problemResponses(401) } } },
    async (req) => notifications.markAllRead(req.principal),
  );
}
