// One webhook delivery: a signed JSON POST over node:http(s) with kept-alive connections. A 2xx
// answer is delivered; anything else — another status (redirects are not followed), a refused
// connection, no answer within the timeout — is a failure the queue retries.
import http from 'node:http';
import https from 'node:https';
import { signatureHeader, SIGNATURE_HEADER } from './delivery-model.js';

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

export function postWebhook(post: WebhookPost, timeoutMs: number): Promise<WebhookAnswer> {
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
    const settle = (answer: WebhookAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(answer);
    };
    const req = (protocol === 'https:' ? https : http).request(url, { method: 'POST', headers, agent: agents[protocol] }, (res) => {
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
    const timer = setTimeout(() => {
      req.destroy();
      settle({ ok: false, statusCode: null, error: `no answer within ${timeoutMs} ms` });
    }, timeoutMs);
    req.on('error', (error: NodeJS.ErrnoException) => settle({ ok: false, statusCode: null, error: error.code ? `${error.code}: ${error.message}` : error.message }));
    req.end(body);
  });
}
