// The web app (web/, built by `vite build web` into dist/web) served by api nodes, after every
// API route so those keep answering as before:
//   /assets/*        hashed files: cached for a year (immutable), sent pre-compressed (br, gzip)
//   /favicon.svg …   the other files of the build: cached for a day
//   /, and any other GET a browser navigates to (Accept: text/html) outside the API's paths:
//                    index.html, never cached stale (no-cache + ETag), so the app's client-side
//                    routes (/auctions/…, /wallet) load on a reload or from a link.
// Anything else unknown (an API path, a missing asset, a client that does not ask for HTML)
// still gets the usual 404 problem document.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../platform/errors.js';
import type { HttpServer } from '../platform/http/server.js';
import type { Logger } from '../platform/logging.js';

/** dist/web, from src/gateway (tsx, tests) and from dist/gateway (the built node) alike. */
export const WEB_DIR_DEFAULT = fileURLToPath(new URL('../../dist/web/', import.meta.url));

/** Paths that belong to the API and the node, never to the app: unknown ones stay 404 problems. */
/** fastify's default maxParamLength. */
const ROUTER_MAX_PARAM_LENGTH = 100;
const RESERVED = /^\/(api|ws|graphql|openapi\.json|docs|up|ready|metrics|sandbox|assets)(\/|$)/;
const YEAR_S = 31_536_000;

/**
 * The policy for the app's pages: its own scripts and styles only, images from the node (lot
 * images) and data: URLs, API and WebSocket calls to the same origin, no framing.
 */
export const WEB_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export interface WebAppOptions {
  logger: Logger;
  /** The built app; default dist/web. */
  webDir?: string;
}

export async function registerWebApp(app: HttpServer, options: WebAppOptions): Promise<void> {
  const webDir = options.webDir ?? WEB_DIR_DEFAULT;
  const indexPath = join(webDir, 'index.html');
  const built = existsSync(indexPath);
  if (!built) options.logger.warn({ webDir }, 'the web app is not built (run npm run build): / answers a page saying so');
  const index = built ? readFileSync(indexPath) : Buffer.from(NOT_BUILT_PAGE);
  const indexEtag = `"${createHash('sha256').update(index).digest('base64url').slice(0, 27)}"`;

  if (built && existsSync(join(webDir, 'assets'))) {
    await app.register(fastifyStatic, {
      root: join(webDir, 'assets'),
      prefix: '/assets/',
      decorateReply: false,
      preCompressed: true,
      cacheControl: false,
      dotfiles: 'ignore',
      index: false,
      setHeaders: (reply) => {
        reply.header('cache-control', `public, max-age=${YEAR_S}, immutable`).header('x-content-type-options', 'nosniff');
      },
    });
  }

  // The build's other top-level files (favicon.svg, robots.txt), one route each.
  const topLevel = built ? readdirSync(webDir).filter((name) => name !== 'index.html' && !name.startsWith('.') && statSync(join(webDir, name)).isFile()) : [];
  for (const name of topLevel) {
    const bytes = readFileSync(join(webDir, name));
    const type = CONTENT_TYPES[name.slice(name.lastIndexOf('.'))] ?? 'application/octet-stream';
    app.get(`/${name}`, { schema: { hide: true } }, async (_req, reply) => reply.type(type).header('cache-control', 'public, max-age=86400').header('x-content-type-options', 'nosniff').send(bytes));
  }

  const sendIndex = (req: FastifyRequest, reply: FastifyReply) => {
    reply
      .header('cache-control', 'no-cache')
      .header('etag', indexEtag)
      .header('content-security-policy', WEB_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('x-frame-options', 'DENY')
      .header('referrer-policy', 'same-origin');
    if (req.headers['if-none-match'] === indexEtag) return reply.code(304).send();
    return reply.code(built ? 200 : 503).type('text/html; charset=utf-8').send(index);
  };

  app.get('/', { schema: { hide: true } }, async (req, reply) => sendIndex(req, reply));
  app.get('/*', { schema: { hide: true } }, async (req, reply) => {
    const path = req.url.split('?')[0]!;
    // A path parameter longer than the router takes makes it skip the API's route and land on
    // this catch-all: answer as the router answers such a URL (400), not with a 404.
    if (RESERVED.test(path) && path.split('/').some((segment) => segment.length > ROUTER_MAX_PARAM_LENGTH)) {
      throw new AppError('VALIDATION', `a path parameter is longer than ${ROUTER_MAX_PARAM_LENGTH} characters`);
    }
    if (RESERVED.test(path) || !wantsHtml(req) || /\.[A-Za-z0-9]{1,8}$/.test(path)) {
      reply.callNotFound();
      return reply;
    }
    return sendIndex(req, reply);
  });
}

/** A browser navigating asks for HTML; API clients and asset loads do not. */
function wantsHtml(req: FastifyRequest): boolean {
  const accept = req.headers.accept;
  return typeof accept === 'string' && accept.includes('text/html');
}

const CONTENT_TYPES: Record<string, string> = {
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
  '.ico': 'image/x-icon',
  '.png': 'image/png',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
};

const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Gavel: the web app is not built</title></head>
<body><h1>The web app is not built</h1>
<p>Run <code>npm run build</code> (or <code>npm install</code>, which builds it) and restart Gavel.
The API is running: see <a href="/docs">/docs</a>.</p></body></html>`;
