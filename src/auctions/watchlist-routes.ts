// HTTP for the watchlist: PUT/DELETE /api/auctions/{id}/watch (both idempotent), the caller's
// state for one auction, and the caller's list (each auction as GET /api/auctions gives it,
// with `watchedAt`). Everything here acts on the caller's own list only.
import { Type } from '@sinclair/typebox';
import type { Clock } from '../platform/clock.js';
import { AppError } from '../platform/errors.js';
import type { HttpServer } from '../platform/http/server.js';
import { problemResponses, Uuid } from '../platform/http/schemas.js';
import { PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX } from '../platform/pagination.js';
import { auctionRowJson } from './routes.js';
import type { AuctionRow } from './store.js';
import { WATCHLIST_MAX, type WatchlistService, type WatchState } from './watchlist.js';

type PathStep = { id: string; name: string; slug: string };

export interface WatchlistRouteDeps {
  clock: Clock;
  scaleOf(currency: string): number;
  /** The category's path from the top; NOT_FOUND when the category is gone. */
  categoryPath(categoryId: string): Promise<PathStep[]>;
}

const bearer = [{ bearerAuth: [] }];
const tags = ['auctions'];
const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false });
const WatchView = Type.Object({
  auctionId: Uuid,
  watching: Type.Boolean(),
  watchedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'when you started watching; null when you do not' }),
});
const ListQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: PAGE_LIMIT_MAX, default: PAGE_LIMIT_DEFAULT }),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'nextCursor of the page before' })),
  },
  { additionalProperties: false },
);

function watchJson(s: WatchState) {
  return { auctionId: s.auctionId, watching: s.watchedAtMs !== null, watchedAt: s.watchedAtMs === null ? null : new Date(s.watchedAtMs).toISOString() };
}

export function watchlistRoutes(app: HttpServer, watchlist: WatchlistService, deps: WatchlistRouteDeps): void {
  app.put(
    '/api/auctions/:id/watch',
    {
      schema: {
        tags,
        security: bearer,
        summary: `Watch an auction: it joins your watchlist, and you hear when it is about to start. Repeating changes nothing. At most ${WATCHLIST_MAX} at a time`,
        params: IdParams,
        response: { 200: WatchView, ...problemResponses(400, 401, 404, 409) },
      },
    },
    async (req) => watchJson(await watchlist.watch(req.principal, req.params.id)),
  );

  app.delete(
    '/api/auctions/:id/watch',
    {
      schema: { tags, security: bearer, summary: 'Stop watching an auction; not watching it is fine too', params: IdParams, response: { 204: Type.Null(), ...problemResponses(400, 401, 404) } },
    },
    async (req, reply) => {
      await watchlist.unwatch(req.principal, req.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/auctions/:id/watch',
    { schema: { tags, security: bearer, summary: 'Whether you watch this auction', params: IdParams, response: { 200: WatchView, ...problemResponses(400, 401, 404) } } },
    async (req) => watchJson(await watchlist.state(req.principal, req.params.id)),
  );

  app.get(
    '/api/me/watchlist',
    {
      schema: {
        tags,
        security: bearer,
        summary: 'Your watchlist, the latest watched first, by cursor: each auction as GET /api/auctions gives it, with watchedAt',
        querystring: ListQuery,
        response: {
          200: Type.Object({
            items: Type.Array(Type.Object({}, { additionalProperties: true })),
            nextCursor: Type.Union([Type.String(), Type.Null()]),
            serverTime: Type.String({ format: 'date-time' }),
            serverTimeMs: Type.Integer(),
          }),
          ...problemResponses(400, 401),
        },
      },
    },
    async (req) => {
      const page = await watchlist.list(req.principal, req.query);
      const paths = await categoryPaths(
        page.items.map((w) => w.auction),
        deps,
      );
      const nowMs = deps.clock.nowMs();
      return {
        items: page.items.map(({ auction, watchedAtMs }) => ({
          ...auctionRowJson(auction, deps.scaleOf(auction.currency)),
          categoryPath: auction.categoryId === null ? [] : (paths.get(auction.categoryId) ?? []),
          watchedAt: new Date(watchedAtMs).toISOString(),
        })),
        nextCursor: page.nextCursor,
        serverTime: new Date(nowMs).toISOString(),
        serverTimeMs: nowMs,
      };
    },
  );

  app.get(
    '/api/me/watchlist/ids',
    {
      schema: {
        tags,
        security: bearer,
        summary: `The ids of every auction you watch (at most ${WATCHLIST_MAX}), the latest watched first: for marking watched auctions in a list`,
        response: { 200: Type.Object({ auctionIds: Type.Array(Uuid) }), ...problemResponses(401) },
      },
    },
    async (req) => ({ auctionIds: await watchlist.auctionIds(req.principal) }),
  );
}

/** One lookup per distinct category on the page, as discovery does; a category gone has no path. */
async function categoryPaths(rows: readonly AuctionRow[], deps: WatchlistRouteDeps): Promise<Map<string, PathStep[]>> {
  const ids = [...new Set(rows.flatMap((r) => (r.categoryId === null ? [] : [r.categoryId])))];
  const paths = await Promise.all(
    ids.map((id) =>
      deps.categoryPath(id).then(
        (path) => path.map(({ id: stepId, name, slug }) => ({ id: stepId, name, slug })),
        (error: unknown) => {
          if (error instanceof AppError && error.code === 'NOT_FOUND') return [];
          throw error;
        },
      ),
    ),
  );
  return new Map(ids.map((id, i) => [id, paths[i]!]));
}
