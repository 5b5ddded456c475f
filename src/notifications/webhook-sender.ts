// One webhook delivery: a signed JSON POST over node:http(s) with kept-alive connections. A 2xx
// answer is delivered; anything else — another status (redirects are not followed), a refused
// connection, no answer within the timeout — is a failure the queue retries. A host that is or
// resolves to an address that is not public (webhook-address.ts) is a failure retrying cannot
// mend: nothing is sent, and the answer says so (`permanent`).
import type { LookupFunction } from 'node:net';
import http from 'node:http';
import https from 'node:https';
import { signatureHeader, SIGNATURE_HEADER } from './delivery-model.js';
import { webhookTarget, type HostResolver, type ResolvedAddress } from './webhook-address.js';

export interface WebhookPost {
  url: string;
  secret: string;
  webhookId: string;
  /** The job's id: the same on every attempt, so the receiver can drop a repeat. */
  deliveryId: string;
  attempt: number;
  body: string;
  timestampS: number;
}

export interface WebhookAnswer {
  ok: boolean;
  statusCode: number | null;
  /** Why it failed, for the delivery log: the status and the start of the answer, or the network error. */
  error: string | null;
  /** The destination is not allowed: no later attempt can succeed. */
  permanent?: true;
}

export interface WebhookSendOptions {
  /** The whole attempt, name resolution included. */
  timeoutMs: number;
  /** Private, loopback and link-local destinations allowed (development and tests only). */
  allowPrivate: boolean;
  /** Resolves host names; the system resolver by default. */
  resolve?: HostResolver | undefined;
}

export const WEBHOOK_USER_AGENT = 'Gavel-Webhooks/1';
/** How much of a failed answer's body the delivery log keeps. */
const ERROR_BODY_CHARS = 200;
/** Answers past this are not read to the end: the connection is dropped instead of reused. */
const ANSWER_BYTES_MAX = 64 * 1024;
/** Open connections kept per receiving host, and in all. */
const SOCKETS_PER_HOST = 16;
const SOCKETS_TOTAL = 256;

const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: SOCKETS_PER_HOST, maxTotalSockets: SOCKETS_TOTAL, maxFreeSockets: SOCKETS_PER_HOST, timeout: 60_000 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: SOCKETS_PER_HOST, maxTotalSockets: SOCKETS_TOTAL, maxFreeSockets: SOCKETS_PER_HOST, timeout: 60_000 }),
};

export function postWebhook(post: WebhookPost, options: WebhookSendOptions): Promise<WebhookAnswer> {
  let url: URL;
  try {
    url = new URL(post.url);
  } catch {
    return Promise.resolve({ ok: false, statusCode: null, error: 'the webhook URL is not valid' });
  }
  const protocol = url.protocol === 'https:' ? 'https:' : url.protocol === 'http:' ? 'http:' : undefined;
  if (!protocol) return Promise.resolve({ ok: false, statusCode: null, error: 'the webhook URL is not http(s)' });
  const body = Buffer.from(post.body, 'utf8');
  const headers = {
    'content-type': 'application/json',
    'content-length': body.length,
    'user-agent': WEBHOOK_USER_AGENT,
    [SIGNATURE_HEADER]: signatureHeader({ secret: post.secret, body: post.body, timestampS: post.timestampS }),
    'gavel-webhook-id': post.webhookId,
    'gavel-delivery-id': post.deliveryId,
    'gavel-attempt': String(post.attempt),
  };
  return new Promise((resolve) => {
    let settled = false;
    let req: http.ClientRequest | undefined;
    const settle = (answer: WebhookAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(answer);
    };
    const timer = setTimeout(() => {
      req?.destroy();
      settle({ ok: false, statusCode: null, error: `no answer within ${options.timeoutMs} ms` });
    }, options.timeoutMs);
    const send = (target: ResolvedAddress) => {
      // The URL's host stays the Host header and the TLS name; only the connection is pinned.
      req = (protocol === 'https:' ? https : http).request(url, { method: 'POST', headers, agent: agents[protocol], lookup: pinnedLookup(target) }, (res) => {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          if (bytes < ERROR_BODY_CHARS * 4) chunks.push(chunk);
          bytes += chunk.length;
          if (bytes > ANSWER_BYTES_MAX) res.destroy();
        });
        const done = () => {
          if (status >= 200 && status < 300) return settle({ ok: true, statusCode: status, error: null });
          const text = Buffer.concat(chunks).toString('utf8').replace(/\s+/g, ' ').trim().slice(0, ERROR_BODY_CHARS);
          settle({ ok: false, statusCode: status, error: `HTTP ${status}${text ? `: ${text}` : ''}` });
        };
        res.on('end', done);
        res.on('close', done);
        res.on('error', done);
      });
      req.on('error', (error: NodeJS.ErrnoException) => settle(networkFailure(error)));
      req.end(body);
    };
    webhookTarget(url.hostname, { allowPrivate: options.allowPrivate, resolve: options.resolve }).then(
      (target) => {
        if (settled) return;
        if (!target.ok) settle({ ok: false, statusCode: null, error: target.reason, permanent: true });
        else send(target);
      },
      (error: NodeJS.ErrnoException) => settle(networkFailure(error)),
    );
  });
}

function networkFailure(error: NodeJS.ErrnoException): WebhookAnswer {
  return { ok: false, statusCode: null, error: error.code ? `${error.code}: ${error.message}` : error.message };
}

/** A lookup that answers the address checked already, whatever the name, so no second resolution can differ. */
function pinnedLookup(target: ResolvedAddress): LookupFunction {
  return (_hostname, options, callback) => {
    if (options.all) (callback as unknown as (error: null, addresses: ResolvedAddress[]) => void)(null, [target]);
    else callback(null, target.address, target.family);
  };
}
