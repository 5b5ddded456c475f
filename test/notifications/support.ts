// Helpers for the notifications tests: nodes on a storage the test chooses (to stop one and
// start another on the same data, or run two at once), top-ups through the sandbox, the inbox.
import { expect } from 'vitest';
import { startGavel, type GavelNode, type StartOptions } from '../../src/gavel.js';
import { loadConfig, type Config } from '../../src/platform/config.js';
import type { ScratchStorage } from '../support/databases.js';
import { ADMIN, type Answer, type CallOptions } from '../support/gavel.js';

export interface Node {
  node: GavelNode;
  call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, options?: CallOptions): Promise<Answer>;
}

export interface Person {
  id: string;
  token: string;
}

/** A node on `storage` (which the caller drops); no port, requests go through inject. Webhooks may go to the receivers on 127.0.0.1. */
export async function nodeOn(storage: ScratchStorage, options: StartOptions = {}, overrides: Partial<Config> = {}): Promise<Node> {
  const config: Config = { ...loadConfig({}, {}), dataDir: storage.dataDir, databaseUrl: storage.databaseUrl, logLevel: 'silent', adminEmail: ADMIN.email, adminPassword: ADMIN.password, webhookAllowPrivate: true, ...overrides };
  const node = await startGavel(config, { listen: false, ...options });
  return {
    node,
    call: async (method, url, o = {}) => {
      const headers: Record<string, string> = { ...o.headers };
      if (o.token) headers.authorization = `Bearer ${o.token}`;
      let payload = o.payload;
      if (o.json !== undefined) {
        payload = JSON.stringify(o.json);
        headers['content-type'] = 'application/json';
      }
      if (o.contentType) headers['content-type'] = o.contentType;
      const res = await node.http.inject({ method, url, headers, ...(payload !== undefined && { payload }) });
      let body: unknown;
      try {
        body = res.body.length ? JSON.parse(res.body) : undefined;
      } catch {
        body = undefined;
      }
      return { status: res.statusCode, headers: res.headers as Answer['headers'], body, text: res.body };
    },
  };
}

let people = 0;

/** Registers and signs in someone on `t` (sessions live in the database: valid on every node). */
export async function newPerson(t: Pick<Node, 'call'>, name = 'Notified Person'): Promise<Person> {
  people += 1;
  const email = `notified${people}.${process.pid}.${Date.now()}@gavel.test`;
  const password = `password-${people}-long`;
  const registered = await t.call('POST', '/api/auth/register', { json: { name, email, password } });
  expect(registered.status, registered.text).toBe(201);
  const login = await t.call('POST', '/api/auth/login', { json: { email, password } });
  expect(login.status, login.text).toBe(200);
  return { id: registered.body.id as string, token: login.body.token as string };
}

/** Starts a top-up and approves it on the sandbox page: the webhook credits the wallet before this returns. */
export async function approvedTopup(t: Pick<Node, 'call'>, person: Person, currency: string, amount: string): Promise<{ id: string; redirectUrl: string }> {
  const created = await t.call('POST', `/api/wallets/${currency}/topups`, { token: person.token, json: { amount } });
  expect(created.status, created.text).toBe(201);
  const approved = await t.call('POST', `${created.body.redirectUrl}/approve`, { payload: '', contentType: 'application/x-www-form-urlencoded' });
  expect(approved.status, approved.text).toBe(303);
  const topup = await t.call('GET', `/api/wallets/${currency}/topups/${created.body.id}`, { token: person.token });
  expect(topup.body.status).toBe('succeeded');
  return { id: created.body.id as string, redirectUrl: created.body.redirectUrl as string };
}

export interface InboxItem {
  id: string;
  kind: string;
  title: string;
  body: string;
  data: Record<string, unknown>;
  read: boolean;
  readAt: string | null;
  createdAt: string;
}

export async function inbox(t: Pick<Node, 'call'>, person: Person, query = ''): Promise<{ items: InboxItem[]; nextCursor: string | null; unreadCount: number }> {
  const res = await t.call('GET', `/api/notifications${query}`, { token: person.token });
  expect(res.status, res.text).toBe(200);
  return res.body;
}

export async function until<T>(what: string, probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
