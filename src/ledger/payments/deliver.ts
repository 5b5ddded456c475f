// How the sandbox reaches Gavel's webhook. A real provider calls over the network; the
// sandbox lives in the node it calls, so it posts to the node's own address when the node is
// listening, and through fastify's inject when it is not (tests that never open a port).
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
    const res = await fetch(`http://${hostOf(address.address)}:${address.port}${webhook.path}`, {
      method: 'POST',
      headers: webhook.headers,
      body: webhook.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.arrayBuffer(); // drain, so the connection is reusable
    return { status: res.status };
  };
}

/** The loopback address for a wildcard bind; IPv6 literals in brackets. */
function hostOf(address: string): string {
  if (address === '0.0.0.0') return '127.0.0.1';
  if (address === '::') return '[::1]';
  return address.includes(':') ? `[${address}]` : address;
}
