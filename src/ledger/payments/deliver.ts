// How the sandbox reaches Gavel's webhook. A real provider calls over the network; the
// sandbox lives in the node it calls, so it posts to the node's own address when the node is
// listening, and through fastify's inject when it is not (tests that never open a port).
import http from 'node:http';
import type { HttpServer } from '../../platform/http/server.js';

export interface OutgoingWebhook {
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** Sends one webhook; resolves with the HTTP status, rejects when nothing answered. */
export type Deliver = (webhook: OutgoingWebhook) => Promise<{ status: number }>;

export const DELIVERY_TIMEOUT_MS = 10_000;

/** A Deliver for the node `app` runs in. `app` is asked lazily: routes are registered after the sandbox exists. */
export function selfDeliver(app: () => HttpServer | undefined, timeoutMs = DELIVERY_TIMEOUT_MS): Deliver {
  return async (webhook) => {
    const server = app();
    if (!server) throw new Error('this node serves no HTTP API to deliver webhooks to');
    const address = server.server.listening ? server.server.address() : null;
    if (address === null || typeof address === 'string') {
      const res = await server.inject({ method: 'POST', url: webhook.path, headers: webhook.headers, payload: webhook.body });
      return { status: res.statusCode };
    }
    return post(`http://${hostOf(address.address)}:${address.port}${webhook.path}`, webhook, timeoutMs);
  };
}

/** Kept-alive connections to this node. `fetch` (undici) was 6 % of the server's CPU in bench:notify's steady phase; this path credits about a quarter more top-ups a second (bench/README.md). */
const selfAgent = new http.Agent({ keepAlive: true, maxSockets: 32 });

/** One POST, the answer read to its end (so the connection is reused); no redirect is followed. */
function post(url: string, webhook: OutgoingWebhook, timeoutMs: number): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const body = Buffer.from(webhook.body, 'utf8');
    const req = http.request(url, { method: 'POST', headers: { ...webhook.headers, 'content-length': body.length }, agent: selfAgent }, (res) => {
      res.resume();
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0 });
      });
      res.on('error', fail);
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    function fail(error: Error): void {
      clearTimeout(timer);
      reject(error);
    }
    req.on('error', fail);
    req.end(body);
  });
}

/** The loopback address for a wildcard bind; IPv6 literals in brackets. */
function hostOf(address: string): string {
  if (address === '0.0.0.0') return '127.0.0.1';
  if (address === '::') return '[::1]';
  return address.includes(':') ? `[${address}]` : address;
}
