// The HTTP edge every module plugs into: health, readiness, metrics, the OpenAPI document and
// its docs page, request ids, unknown routes and the body size limit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpServer } from '../../src/platform/http/server.js';
import { DIALECTS } from '../support/databases.js';
import { startTestNode, type Answer, type TestNode } from '../support/gavel.js';
import { expectProblem } from '../support/problems.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** POST and PUT routes that take no body: each must be named here, so none is missed by accident. */
const BODYLESS_WRITES = new Set(['POST /api/auth/logout', 'POST /api/notifications/:id/read', 'POST /api/notifications/read-all', 'POST /api/auctions/:id/join', 'POST /api/auctions/:id/buy-now', 'POST /api/exchange/instruments/:symbol/halt', 'POST /api/exchange/instruments/:symbol/resume', 'POST /api/products/:id/archive', 'POST /api/admin/notifications/dead-letters/redrive-all', 'POST /api/admin/notifications/dead-letters/:id/redrive', 'POST /api/admin/purchases/dead-letters/:consumer/:eventId/redrive', 'POST /api/admin/bus/dead-letters/:id/redrive', 'POST /api/admin/bus/dead-letters/:id/discard', 'PUT /api/auctions/:id/watch']);

/**
 * Every route the node serves, as "METHOD /path", read from fastify's route tree, so a route a
 * module adds later is checked without anyone listing it here.
 */
function registeredRoutes(http: HttpServer): string[] {
  const routes: string[] = [];
  const pathAtDepth: string[] = [];
  for (const line of http.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^((?:│ {3}| {4})*)[├└]── (\S+)(?: \(([^)]*)\))?$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    pathAtDepth.length = depth;
    const path = (pathAtDepth[depth - 1] ?? '') + match[2]!;
    pathAtDepth[depth] = path;
    for (const method of match[3]?.split(', ') ?? []) routes.push(`${method} ${path}`);
  }
  return routes;
}

const openApiPath = (path: string) => path.replace(/:(\w+)/g, '{$1}');

/** GET, following redirects within the node (at most five). */
async function getFollowing(t: TestNode, url: string): Promise<Answer> {
  let res = await t.call('GET', url);
  for (let hops = 0; hops < 5 && res.status >= 300 && res.status < 400; hops++) {
    const location = String(res.headers.location);
    res = await t.call('GET', new URL(location, `http://node${url}`).pathname);
  }
  return res;
}

for (const dialect of DIALECTS) {
  describe(`HTTP edge on ${dialect}`, () => {
    let t: TestNode;
    beforeAll(async () => {
      t = await startTestNode(dialect);
    });
    afterAll(async () => t?.close());

    it('/up answers 200 {status: "up"}', async () => {
      const res = await t.call('GET', '/up');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toEqual({ status: 'up' });
    });

    it('/ready answers 200 while storage answers', async () => {
      const res = await t.call('GET', '/ready');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: 'ready' });
    });

    it('/metrics counts requests by route pattern, never by raw URL', async () => {
      const admin = await t.adminToken();
      const someId = '01933b6e-7f4a-7c3e-9d2b-5f0a1c2d3e4f';
      await t.call('GET', '/up');
      await t.call('GET', `/api/user/${someId}`, { token: admin });
      await t.call('GET', '/no-such-page-4f1d');
      const res = await t.call('GET', '/metrics');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      expect(res.text).toContain('# TYPE gavel_http_requests_total counter');
      const counted = (labels: string) => {
        const line = res.text.split('\n').find((l) => l.startsWith(`gavel_http_requests_total{${labels}}`));
        return line === undefined ? 0 : Number(line.split(' ').at(-1));
      };
      expect(counted('method="GET",route="/up",status="200"')).toBeGreaterThanOrEqual(1);
      expect(counted('method="GET",route="/api/user/:id",status="404"')).toBeGreaterThanOrEqual(1);
      expect(counted('method="GET",route="unmatched",status="404"')).toBeGreaterThanOrEqual(1);
      // Label values come from route patterns: ids and unknown paths would grow series without bound.
      expect(res.text).not.toContain(someId);
      expect(res.text).not.toContain('no-such-page-4f1d');
    });

    it('/openapi.json is OpenAPI 3.1 and documents every /api route, its body and bearer auth', async () => {
      const res = await t.call('GET', '/openapi.json');
      expect(res.status).toBe(200);
      const doc = res.body;
      expect(String(doc.openapi)).toMatch(/^3\.1/);
      expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });

      const apiRoutes = registeredRoutes(t.node.http).filter((r) => r.split(' ')[1]!.startsWith('/api/') && !r.startsWith('HEAD '));
      // The route tree was read correctly: the accounts routes are all there.
      expect(apiRoutes).toEqual(expect.arrayContaining(['GET /api/user', 'POST /api/user', 'PUT /api/user', 'GET /api/user/:id', 'DELETE /api/user/:id', 'GET /api/user/count', 'POST /api/auth/register', 'POST /api/auth/login', 'POST /api/auth/logout', 'GET /api/auth/me']));
      for (const name of BODYLESS_WRITES) expect(apiRoutes, `${name} is still a route`).toContain(name);

      const documented: string[] = [];
      for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
        for (const method of Object.keys(item)) if (path.startsWith('/api/')) documented.push(`${method.toUpperCase()} ${path}`);
      }
      expect(documented.sort()).toEqual(apiRoutes.map((r) => { const [m, p] = r.split(' '); return `${m} ${openApiPath(p!)}`; }).sort());

      for (const route of apiRoutes) {
        const [method, path] = route.split(' ') as [string, string];
        const operation = doc.paths[openApiPath(path)][method.toLowerCase()];
        expect(operation.summary, `${route} has a summary`).toMatch(/\S/);
        for (const requirement of operation.security ?? []) expect(Object.keys(doc.components.securitySchemes)).toEqual(expect.arrayContaining(Object.keys(requirement)));
        if (!['POST', 'PUT', 'PATCH'].includes(method)) continue;
        if (BODYLESS_WRITES.has(route)) {
          expect(operation.requestBody, `${route} takes no body`).toBeUndefined();
          continue;
        }
        // JSON, or multipart/form-data for uploads (lot images).
        const schema = operation.requestBody?.content?.['application/json']?.schema ?? operation.requestBody?.content?.['multipart/form-data']?.schema;
        expect(schema, `${route} documents its request body`).toBeDefined();
        expect(schema.type).toBe('object');
        expect(Object.keys(schema.properties ?? {}).length, `${route} names its body's fields`).toBeGreaterThan(0);
      }
      // Routes that need a caller say so.
      expect(doc.paths['/api/user'].post.security).toEqual([{ bearerAuth: [] }]);
      expect(doc.paths['/api/auth/register'].post.security).toBeUndefined();
    });

    it('/docs serves an HTML page', async () => {
      const res = await getFollowing(t, '/docs');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.text).toMatch(/<html/i);
    });

    it('an incoming x-request-id is echoed back and names the problem', async () => {
      const res = await t.call('GET', '/no-such-route', { headers: { 'x-request-id': 'edge-test.request:42' } });
      expect(res.headers['x-request-id']).toBe('edge-test.request:42');
      expect(res.body.requestId).toBe('edge-test.request:42');
      const ok = await t.call('GET', '/up', { headers: { 'x-request-id': 'edge-test-ok' } });
      expect(ok.headers['x-request-id']).toBe('edge-test-ok');
    });

    it('a missing or unusable x-request-id is replaced by a generated one', async () => {
      const first = await t.call('GET', '/up');
      const second = await t.call('GET', '/up');
      expect(first.headers['x-request-id']).toMatch(UUID);
      expect(second.headers['x-request-id']).toMatch(UUID);
      expect(second.headers['x-request-id']).not.toBe(first.headers['x-request-id']);
      for (const unusable of ['has spaces in it', 'x'.repeat(65), '<script>', 'line\tbreak']) {
        const res = await t.call('GET', '/no-such-route', { headers: { 'x-request-id': unusable } });
        expect(res.headers['x-request-id']).toMatch(UUID);
        expect(res.body.requestId).toBe(res.headers['x-request-id']);
      }
    });

    it('a URL fastify cannot decode is a problem that still carries the request id', async () => {
      const res = await t.call('GET', '/api/user/%E0%A4%A', { headers: { 'x-request-id': 'bad-url-1' } });
      expectProblem(res, 400, 'VALIDATION');
      expect(res.body.requestId).toBe('bad-url-1');
    });

    it('unknown routes answer 404 problem+json with code ROUTE_NOT_FOUND', async () => {
      for (const [method, url] of [
        ['GET', '/nothing-here'],
        ['GET', '/api/nothing'],
        ['POST', '/api/user/count'],
        ['DELETE', '/api/user'],
        ['GET', '/api/user/01933b6e-7f4a-7c3e-9d2b-5f0a1c2d3e4f/extra'],
      ] as const) {
        const res = await t.call(method, url);
        expectProblem(res, 404, 'ROUTE_NOT_FOUND');
        expect(res.body.instance).toBe(url);
      }
    });

    it('the default body limit lets a 4 KB body through to validation', async () => {
      const res = await t.call('POST', '/api/auth/register', { json: { name: 'x'.repeat(4096) } });
      expectProblem(res, 400, 'VALIDATION');
    });
  });

  describe(`HTTP edge limits on ${dialect}`, () => {
    it('the body size limit is configurable: 2 KB refuses 4 KB with 413', async () => {
      const t = await startTestNode(dialect, { bodyLimitBytes: 2048 });
      try {
        const small = await t.call('POST', '/api/auth/register', { json: { name: 'x'.repeat(1500) } });
        expectProblem(small, 400, 'VALIDATION');
        const large = await t.call('POST', '/api/auth/register', { json: { name: 'x'.repeat(4096) } });
        expectProblem(large, 413, 'BODY_TOO_LARGE');
        expect((await t.call('GET', '/up')).status).toBe(200);
      } finally {
        await t.close();
      }
    });

    it('/ready answers 503 NOT_READY once storage is gone, while /up still answers', async () => {
      const t = await startTestNode(dialect);
      try {
        expect((await t.call('GET', '/ready')).status).toBe(200);
        await t.node.database.close();
        const res = await t.call('GET', '/ready');
        expectProblem(res, 503, 'NOT_READY');
        expect(res.headers['cache-control']).toBe('no-store');
        expect((await t.call('GET', '/up')).status).toBe(200);
      } finally {
        await t.close();
      }
    });
  });
}
