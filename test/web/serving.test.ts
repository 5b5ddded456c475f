// How an api node serves the built app beside the API (src/gateway/web.ts): client routes load
// index.html for browsers, hashed assets are cached for a year and sent pre-compressed, and
// every API path keeps its own answers, 404 problems included.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, startWebNode, useWebApp } from './support.js';

const HTML = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

describe('web app: serving the build', () => {
  const web = useWebApp({ beforeAll, afterAll }, { browser: false });

  const get = (path: string, headers: Record<string, string> = {}, method = 'GET') => fetch(web.url + path, { method, headers, redirect: 'manual' });

  it('a browser gets index.html at / and at any client route, never cached stale, with a strict CSP', async () => {
    for (const path of ['/', '/auctions/0190a4c2-0000-7000-8000-000000000000', '/wallet/USD', '/trade/ACME-USD', '/no/such/page']) {
      const res = await get(path, HTML);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(await res.text()).toContain('<div id="root"></div>');
    }
    const first = await get('/', HTML);
    const again = await get('/wallet', { ...HTML, 'if-none-match': first.headers.get('etag')! });
    expect(again.status).toBe(304);
  });

  it('API paths, missing files and non-browser clients still get 404 problem documents', async () => {
    for (const [path, headers] of [
      ['/api/nothing', HTML],
      ['/api/auctions/not-an-id/extra', HTML],
      ['/nothing-here', {}],
      ['/nothing-here', { accept: 'application/json' }],
      ['/assets/missing-0000.js', HTML],
      ['/favicon.ico', HTML],
      ['/sandbox/nothing', { accept: 'application/json' }],
      ['/ws', {}],
    ] as const) {
      const res = await get(path, headers);
      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-type'), path).toMatch(/^application\/problem\+json/);
      expect(((await res.json()) as { code: string }).code, path).toBe('ROUTE_NOT_FOUND');
    }
    const post = await fetch(`${web.url}/auctions`, { method: 'POST', headers: HTML });
    expect(post.status).toBe(404);
  });

  it('the API, its documents and health endpoints are untouched', async () => {
    expect((await get('/up', HTML)).status).toBe(200);
    expect((await get('/ready')).status).toBe(200);
    expect((await get('/metrics')).headers.get('content-type')).toMatch(/^text\/plain/);
    expect((await get('/docs/', HTML)).headers.get('content-type')).toMatch(/^text\/html/);
    const openapi = (await (await get('/openapi.json')).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(openapi.paths)).toContain('/api/auctions');
    expect(Object.keys(openapi.paths).filter((p) => !/^\/(api|graphql|up|ready|metrics)/.test(p))).toEqual([]);
    const list = await get('/api/auctions?limit=1', HTML);
    expect(list.headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('hashed assets are immutable for a year and sent brotli- or gzip-compressed when accepted', async () => {
    const script = readdirSync(join(REPO_ROOT, 'dist/web/assets')).find((f) => /^index-.*\.js$/.test(f))!;
    const br = await get(`/assets/${script}`, { 'accept-encoding': 'br, gzip' });
    expect(br.status).toBe(200);
    expect(br.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(br.headers.get('content-encoding')).toBe('br');
    expect(br.headers.get('content-type')).toMatch(/javascript/);
    const gz = await get(`/assets/${script}`, { 'accept-encoding': 'gzip' });
    expect(gz.headers.get('content-encoding')).toBe('gzip');
    const plain = await fetch(`${web.url}/assets/${script}`, { headers: { 'accept-encoding': 'identity' } });
    expect(plain.headers.get('content-encoding')).toBeNull();
    expect((await plain.text()).length).toBeGreaterThan(1000);
    const icon = await get('/favicon.svg');
    expect(icon.headers.get('content-type')).toBe('image/svg+xml');
    expect(icon.headers.get('cache-control')).toBe('public, max-age=86400');
  });

  it('a node without the api role serves no app', async () => {
    const worker = await startWebNode({ roles: new Set(['engine', 'worker']) });
    try {
      const res = await fetch(`${worker.url}/`, { headers: HTML });
      expect(res.status).toBe(404);
      expect((await fetch(`${worker.url}/up`)).status).toBe(200);
    } finally {
      await worker.stop();
    }
  });
});
