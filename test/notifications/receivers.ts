// Real receivers on 127.0.0.1 for the delivery tests: an HTTP endpoint for webhooks that can be
// told to fail, and an SMTP server (smtp-server) that keeps every message it is given.
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedPost {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: any;
  /** The status this receiver answered. */
  answered: number;
}

export interface WebhookReceiver {
  url(path: string): string;
  /** Everything POSTed to `path`, in arrival order, failed attempts included. */
  posts(path: string): ReceivedPost[];
  /** Only what was answered 2xx. */
  accepted(path: string): ReceivedPost[];
  /** The next `times` POSTs to `path` are answered `status`. */
  failNext(path: string, times: number, status?: number): void;
  /** The next POSTs to `path` are answered these statuses, in turn; then 204 again. */
  script(path: string, statuses: number[]): void;
  /** Every POST to `path` fails until told otherwise. */
  failAlways(path: string, status?: number): void;
  recover(path: string): void;
  /** The most POSTs to `path` that were being answered at the same moment. */
  maxConcurrent(path: string): number;
  /** The most POSTs being answered at the same moment, whatever their path. */
  maxConcurrentAll(): number;
  close(): Promise<void>;
}

/** Answers each POST after `delayMs`, so deliveries that overlap would be seen overlapping. */
export async function webhookReceiver(delayMs = 5): Promise<WebhookReceiver> {
  const posts = new Map<string, ReceivedPost[]>();
  const failures = new Map<string, { left: number; status: number }>();
  const scripts = new Map<string, number[]>();
  const inFlight = new Map<string, number>();
  const maxInFlight = new Map<string, number>();
  let inFlightAll = 0;
  let maxInFlightAll = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    const path = req.url ?? '/';
    const now = (inFlight.get(path) ?? 0) + 1;
    inFlight.set(path, now);
    maxInFlight.set(path, Math.max(maxInFlight.get(path) ?? 0, now));
    inFlightAll += 1;
    maxInFlightAll = Math.max(maxInFlightAll, inFlightAll);
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      setTimeout(() => {
        inFlight.set(path, (inFlight.get(path) ?? 1) - 1);
        inFlightAll -= 1;
        const failure = failures.get(path);
        let status = 204;
        const scripted = scripts.get(path)?.shift();
        if (scripted !== undefined) status = scripted;
        else if (failure && failure.left > 0) {
          status = failure.status;
          failure.left -= 1;
        }
        const body = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
        const list = posts.get(path) ?? [];
        list.push({ path, headers: req.headers, body, json, answered: status });
        posts.set(path, list);
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status >= 300 ? `receiver says no (${status})` : '');
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    posts: (path) => [...(posts.get(path) ?? [])],
    accepted: (path) => (posts.get(path) ?? []).filter((p) => p.answered < 300),
    failNext: (path, times, status = 500) => void failures.set(path, { left: times, status }),
    script: (path, statuses) => void scripts.set(path, [...statuses]),
    failAlways: (path, status = 503) => void failures.set(path, { left: Number.POSITIVE_INFINITY, status }),
    recover: (path) => void failures.delete(path),
    maxConcurrent: (path) => maxInFlight.get(path) ?? 0,
    maxConcurrentAll: () => maxInFlightAll,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** What a receiver does with `gavel-signature`: recompute the HMAC over "<t>.<raw body>" and compare. */
export function signatureValid(header: string | string[] | undefined, body: string, secret: string): boolean {
  if (typeof header !== 'string') return false;
  const parts = Object.fromEntries(header.split(',').map((kv) => kv.split('=') as [string, string]));
  if (!parts.t || !parts.v1) return false;
  const expected = createHmac('sha256', secret).update(`${parts.t}.${body}`).digest();
  const given = Buffer.from(parts.v1, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
}

export interface SmtpReceiver {
  url: string;
  mails(): ReceivedMail[];
  close(): Promise<void>;
}

/** A plain SMTP server on 127.0.0.1 (no TLS, no sign-in) that keeps every message. */
export async function smtpReceiver(): Promise<SmtpReceiver> {
  const mails: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = (server as unknown as { server: http.Server }).server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    mails: () => [...mails],
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A header of a raw RFC 5322 message (unfolded), or undefined. */
export function mailHeader(raw: string, name: string): string | undefined {
  const head = raw.split(/\r?\n\r?\n/, 1)[0]!.replace(/\r?\n[ \t]+/g, ' ');
  const line = head.split(/\r?\n/).find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(name.length + 1).trim();
}
