// Delivery beyond the inbox, on each dialect: signed webhooks and e-mail through the durable
// queue — retried with backoff, dead-lettered after the last attempt and redriven by an admin,
// one at a time and in order per destination, once per channel however often an event arrives,
// and only on the channels a person chose.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INBOX_CONSUMER } from '../../src/notifications/module.js';
import { uuidv7 } from '../../src/platform/ids.js';
import type { NewEvent } from '../../src/platform/outbox/outbox.js';
import { DIALECTS } from '../support/databases.js';
import { startTestNode, type TestNode } from '../support/gavel.js';
import { expectProblem, ROOMY_LIMITS } from '../support/problems.js';
import { mailHeader, signatureValid, smtpReceiver, webhookReceiver, type SmtpReceiver, type WebhookReceiver } from './receivers.js';
import { inbox, pause, until, type Person } from './support.js';

/** Fast retries, so a test sees several attempts in well under a second. */
const FAST = { retry: { firstDelayMs: 20, maxDelayMs: 80 }, pollIntervalMs: 20 };
const MAX_ATTEMPTS = 3;

for (const dialect of DIALECTS) {
  describe(`notification channels on ${dialect}`, () => {
    let t: TestNode;
    let hooks: WebhookReceiver;
    let smtp: SmtpReceiver;
    let paths = 0;

    beforeAll(async () => {
      hooks = await webhookReceiver();
      smtp = await smtpReceiver();
      // The receivers listen on 127.0.0.1: a private address, allowed here.
      t = await startTestNode(dialect, { smtpUrl: smtp.url, notifyMaxAttempts: MAX_ATTEMPTS, webhookAllowPrivate: true }, { notifications: FAST, loginLimits: ROOMY_LIMITS });
    });
    afterAll(async () => {
      await t?.close();
      await hooks?.close();
      await smtp?.close();
    });

    const person = async (): Promise<Person & { email: string }> => {
      const u = await t.newUser('Notified Person');
      return { id: u.id, token: u.token, email: u.email };
    };
    /** Events as producers publish them, appended in one transaction. */
    const publish = async (events: NewEvent[]) => {
      await t.node.database.kysely.transaction().execute(async (tx) => {
        for (const e of events) await t.node.bus.append(tx, e);
      });
      t.node.bus.poke();
    };
    const credited = (p: Person, amount: string): NewEvent => ({
      topic: 'ledger.topup.credited',
      key: p.id,
      payload: { userId: p.id, topupId: uuidv7(Date.now()), currency: 'USD', amount, amountMinor: amount.replace('.', '') },
    });
    const outbid = (p: Person, price: string): NewEvent => ({
      topic: 'auctions.bid.outbid',
      key: p.id,
      payload: { auctionId: uuidv7(Date.now()), userId: p.id, title: 'A painting', price, currency: 'USD' },
    });
    /** Registers a webhook at a fresh path of the receiver. */
    const register = async (p: Person): Promise<{ id: string; secret: string; path: string }> => {
      const path = `/hook-${dialect}-${++paths}`;
      const res = await t.call('POST', '/api/notifications/webhooks', { token: p.token, json: { url: hooks.url(path), description: 'test' } });
      expect(res.status, res.text).toBe(201);
      return { id: res.body.id, secret: res.body.secret, path };
    };
    const amountsAt = (path: string) => hooks.accepted(path).map((p) => p.json.notification.data.amount as string);
    const mailsTo = (p: { email: string }) => smtp.mails().filter((m) => m.to.includes(p.email));

    it('registers a webhook with a secret shown once; lists and deletes only your own; refuses what is not http(s)', async () => {
      const me = await person();
      const other = await person();
      const created = await t.call('POST', '/api/notifications/webhooks', { token: me.token, json: { url: 'https://example.test/gavel', description: 'my shop' } });
      expect(created.status).toBe(201);
      expect(created.body).toEqual({ id: expect.any(String), url: 'https://example.test/gavel', description: 'my shop', createdAt: expect.any(String), secret: expect.stringMatching(/^whsec_[A-Za-z0-9_-]{43}$/) });
      expect(created.headers.location).toBe(`/api/notifications/webhooks/${created.body.id}`);
      const listed = await t.call('GET', '/api/notifications/webhooks', { token: me.token });
      expect(listed.body).toEqual({ items: [{ id: created.body.id, url: 'https://example.test/gavel', description: 'my shop', createdAt: created.body.createdAt }] });
      expect(JSON.stringify(listed.body)).not.toContain(created.body.secret);
      expect((await t.call('GET', '/api/notifications/webhooks', { token: other.token })).body).toEqual({ items: [] });

      // Someone else's webhook is not there for them.
      expectProblem(await t.call('DELETE', `/api/notifications/webhooks/${created.body.id}`, { token: other.token }), 404, 'NOT_FOUND');
      expectProblem(await t.call('GET', `/api/notifications/webhooks/${created.body.id}/deliveries`, { token: other.token }), 404, 'NOT_FOUND');

      for (const url of ['ftp://example.test/x', 'javascript:alert(1)', 'file:///etc/passwd', 'example.test/hook', 'http://user:pw@example.test/', `https://example.test/${'a'.repeat(2001)}`]) {
        const res = await t.call('POST', '/api/notifications/webhooks', { token: me.token, json: { url } });
        expectProblem(res, 400, 'VALIDATION');
        expect(res.body.errors, url).toContainEqual(expect.objectContaining({ in: 'body', field: 'url' }));
      }
      expectProblem(await t.call('POST', '/api/notifications/webhooks', { token: me.token, json: { url: 'https://example.test/', extra: 1 } }), 400, 'VALIDATION');
      expectProblem(await t.call('POST', '/api/notifications/webhooks', { json: { url: 'https://example.test/' } }), 401, 'UNAUTHENTICATED');

      for (let i = 2; i <= 5; i++) expect((await t.call('POST', '/api/notifications/webhooks', { token: me.token, json: { url: `https://example.test/${i}` } })).status).toBe(201);
      expectProblem(await t.call('POST', '/api/notifications/webhooks', { token: me.token, json: { url: 'https://example.test/6' } }), 409, 'WEBHOOK_LIMIT_REACHED');
      expect((await t.call('DELETE', `/api/notifications/webhooks/${created.body.id}`, { token: me.token })).status).toBe(204);
      expectProblem(await t.call('DELETE', `/api/notifications/webhooks/${created.body.id}`, { token: me.token }), 404, 'NOT_FOUND');
      expect((await t.call('GET', '/api/notifications/webhooks', { token: me.token })).body.items).toHaveLength(4);
    });

    it('the same Idempotency-Key registers one webhook and answers the same secret again', async () => {
      const me = await person();
      const headers = { 'idempotency-key': `register-${me.id}` };
      const first = await t.call('POST', '/api/notifications/webhooks', { token: me.token, headers, json: { url: 'https://example.test/once' } });
      const again = await t.call('POST', '/api/notifications/webhooks', { token: me.token, headers, json: { url: 'https://example.test/once' } });
      expect(first.status).toBe(201);
      expect(again.status).toBe(201);
      expect(again.body).toEqual(first.body);
      expect((await t.call('GET', '/api/notifications/webhooks', { token: me.token })).body.items).toHaveLength(1);
    });

    it('a webhook delivery is JSON signed with HMAC-SHA256 over timestamp and body, which the receiver verifies', async () => {
      const me = await person();
      const hook = await register(me);
      await publish([credited(me, '25.00')]);
      const [post] = await until('the delivery', async () => hooks.accepted(hook.path), (p) => p.length === 1);
      expect(post!.headers['content-type']).toBe('application/json');
      expect(post!.headers['gavel-webhook-id']).toBe(hook.id);
      expect(post!.headers['gavel-attempt']).toBe('1');
      expect(post!.json).toEqual({
        id: post!.headers['gavel-delivery-id'],
        type: 'notification',
        webhookId: hook.id,
        userId: me.id,
        notification: { id: expect.any(String), kind: 'topup_credited', title: 'Top-up credited: 25.00 USD', body: '25.00 USD was added to your USD wallet.', data: expect.objectContaining({ amount: '25.00', currency: 'USD' }), createdAt: expect.any(String) },
      });
      // The notification is the one in the inbox.
      const [inInbox] = (await inbox(t, me)).items;
      expect(post!.json.notification.id).toBe(inInbox!.id);
      const signature = post!.headers['gavel-signature'] as string;
      expect(signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
      expect(Math.abs(Number(/t=(\d+)/.exec(signature)![1]) - Date.now() / 1000)).toBeLessThan(60);
      expect(signatureValid(signature, post!.body, hook.secret)).toBe(true);
      // A tampered body, or another webhook's secret, does not verify.
      expect(signatureValid(signature, post!.body.replace('25.00', '95.00'), hook.secret)).toBe(false);
      expect(signatureValid(signature, post!.body, `${hook.secret}x`)).toBe(false);
    });

    it('a failing endpoint is retried until it answers 2xx; the delivery log shows every attempt', async () => {
      const me = await person();
      const hook = await register(me);
      hooks.failNext(hook.path, 2, 500);
      await publish([credited(me, '3.00')]);
      await until('the delivery', async () => hooks.accepted(hook.path), (p) => p.length === 1);
      const posts = hooks.posts(hook.path);
      expect(posts.map((p) => [p.answered, p.headers['gavel-attempt']])).toEqual([
        [500, '1'],
        [500, '2'],
        [204, '3'],
      ]);
      // One delivery: the same id on every attempt, so the receiver can drop repeats.
      expect(new Set(posts.map((p) => p.headers['gavel-delivery-id'])).size).toBe(1);
      const log = await until('the log', async () => t.call('GET', `/api/notifications/webhooks/${hook.id}/deliveries`, { token: me.token }), (r) => r.body.items.length === 3);
      expect(log.body.items.map((a: any) => [a.attempt, a.outcome, a.statusCode])).toEqual([
        [3, 'delivered', 204],
        [2, 'failed', 500],
        [1, 'failed', 500],
      ]);
      expect(log.body.items[1]).toMatchObject({ deliveryId: posts[0]!.headers['gavel-delivery-id'], kind: 'topup_credited', error: 'HTTP 500: receiver says no (500)' });
      const page = await t.call('GET', `/api/notifications/webhooks/${hook.id}/deliveries?limit=2`, { token: me.token });
      const rest = await t.call('GET', `/api/notifications/webhooks/${hook.id}/deliveries?limit=2&cursor=${encodeURIComponent(page.body.nextCursor)}`, { token: me.token });
      expect([...page.body.items, ...rest.body.items].map((a: any) => a.attempt)).toEqual([3, 2, 1]);
      expect(rest.body.nextCursor).toBeNull();
    });

    it('in a backlog, each delivery counts its own attempts', async () => {
      const me = await person();
      const hook = await register(me);
      hooks.script(hook.path, [204, 500]);
      await publish([credited(me, '1.00'), credited(me, '2.00'), credited(me, '3.00')]);
      await until('all three', async () => amountsAt(hook.path), (a) => a.length === 3);
      expect(hooks.posts(hook.path).map((p) => [p.json.notification.data.amount, p.answered, p.headers['gavel-attempt']])).toEqual([
        ['1.00', 204, '1'],
        ['2.00', 500, '1'],
        ['2.00', 204, '2'],
        ['3.00', 204, '1'],
      ]);
      const log = await until('the log', async () => t.call('GET', `/api/notifications/webhooks/${hook.id}/deliveries`, { token: me.token }), (r) => r.body.items.length === 4);
      expect(log.body.items.map((a: any) => [a.attempt, a.outcome]).reverse()).toEqual([
        [1, 'delivered'],
        [1, 'failed'],
        [2, 'delivered'],
        [1, 'delivered'],
      ]);
    });

    it(`after ${MAX_ATTEMPTS} failed attempts a delivery is a dead letter; an admin sees why and redrives it`, async () => {
      const me = await person();
      const hook = await register(me);
      hooks.failAlways(hook.path, 503);
      await publish([credited(me, '4.00')]);
      const admin = await t.adminToken();
      const deadOf = async () => (await t.call('GET', '/api/admin/notifications/dead-letters?limit=100', { token: admin })).body.items.filter((d: any) => d.recipientUserId === me.id);
      const [dead] = await until('the dead letter', deadOf, (d) => d.length === 1);
      expect(hooks.posts(hook.path)).toHaveLength(MAX_ATTEMPTS);
      expect(dead).toMatchObject({ state: 'dead', channel: 'webhook', webhookId: hook.id, kind: 'topup_credited', attempts: MAX_ATTEMPTS, lastError: 'HTTP 503: receiver says no (503)', notification: { title: 'Top-up credited: 4.00 USD' } });
      expect(dead.finishedAt).toEqual(expect.any(String));
      await pause(200);
      expect(hooks.posts(hook.path)).toHaveLength(MAX_ATTEMPTS); // dead: no more tries

      // Nobody but an admin sees or redrives dead letters.
      expectProblem(await t.call('GET', '/api/admin/notifications/dead-letters', { token: me.token }), 403, 'FORBIDDEN');
      expectProblem(await t.call('POST', `/api/admin/notifications/dead-letters/${dead.id}/redrive`, { token: me.token }), 403, 'FORBIDDEN');
      expectProblem(await t.call('POST', '/api/admin/notifications/dead-letters/redrive-all', { token: me.token }), 403, 'FORBIDDEN');
      expectProblem(await t.call('GET', '/api/admin/notifications/dead-letters'), 401, 'UNAUTHENTICATED');

      hooks.recover(hook.path);
      const redriven = await t.call('POST', `/api/admin/notifications/dead-letters/${dead.id}/redrive`, { token: admin });
      expect(redriven.status, redriven.text).toBe(200);
      expect(redriven.body).toMatchObject({ id: dead.id, attempts: 0 });
      await until('the redriven delivery', async () => hooks.accepted(hook.path), (p) => p.length === 1);
      expect(hooks.accepted(hook.path)[0]!.headers['gavel-delivery-id']).toBe(dead.id);
      expect(await deadOf()).toEqual([]);
      expectProblem(await t.call('POST', `/api/admin/notifications/dead-letters/${dead.id}/redrive`, { token: admin }), 409, 'DELIVERY_NOT_DEAD');
      expectProblem(await t.call('POST', `/api/admin/notifications/dead-letters/${uuidv7(Date.now())}/redrive`, { token: admin }), 404, 'NOT_FOUND');
      expectProblem(await t.call('POST', '/api/admin/notifications/dead-letters/not-a-uuid/redrive', { token: admin }), 400, 'VALIDATION');
      expectProblem(await t.call('GET', '/api/admin/notifications/dead-letters?limit=0', { token: admin }), 400, 'VALIDATION');
    });

    it('redrive-all sends every dead letter again', async () => {
      const me = await person();
      const hook = await register(me);
      hooks.failAlways(hook.path, 500);
      await publish([credited(me, '1.00'), credited(me, '2.00')]);
      const admin = await t.adminToken();
      const mine = async () => (await t.call('GET', '/api/admin/notifications/dead-letters?limit=100', { token: admin })).body.items.filter((d: any) => d.recipientUserId === me.id);
      await until('both dead', mine, (d) => d.length === 2);
      hooks.recover(hook.path);
      const all = await t.call('POST', '/api/admin/notifications/dead-letters/redrive-all', { token: admin });
      expect(all.status).toBe(200);
      expect(all.body.redriven).toBeGreaterThanOrEqual(2);
      await until('both delivered', async () => amountsAt(hook.path), (a) => a.length === 2);
      // Redriven in their original order.
      expect(amountsAt(hook.path)).toEqual(['1.00', '2.00']);
      expect(await mine()).toEqual([]);
    });

    it('an endpoint that is not there is retried, and the log names the network error', async () => {
      const me = await person();
      // Port 9 (discard) on loopback: nothing listens, the connection is refused.
      const res = await t.call('POST', '/api/notifications/webhooks', { token: me.token, json: { url: 'http://127.0.0.1:9/nobody' } });
      expect(res.status).toBe(201);
      await publish([credited(me, '2.00')]);
      const log = await until('every attempt', async () => t.call('GET', `/api/notifications/webhooks/${res.body.id}/deliveries`, { token: me.token }), (r) => r.body.items.length === MAX_ATTEMPTS);
      for (const a of log.body.items) expect(a).toMatchObject({ outcome: 'failed', statusCode: null, error: expect.stringMatching(/^ECONNREFUSED/) });
      const admin = await t.adminToken();
      await until('the dead letter', async () => (await t.call('GET', '/api/admin/notifications/dead-letters?limit=100', { token: admin })).body.items.filter((d: any) => d.webhookId === res.body.id), (d) => d.length === 1);
    });

    it('the delivery log refuses bad input with a 400 naming the field', async () => {
      const me = await person();
      const hook = await register(me);
      for (const [url, field] of [
        [`/api/notifications/webhooks/${hook.id}/deliveries?limit=0`, 'limit'],
        [`/api/notifications/webhooks/${hook.id}/deliveries?limit=101`, 'limit'],
        [`/api/notifications/webhooks/${hook.id}/deliveries?cursor=bm9wZQ`, 'cursor'],
        [`/api/notifications/webhooks/${hook.id}/deliveries?sort=asc`, 'sort'],
        ['/api/notifications/webhooks/not-a-uuid/deliveries', 'id'],
      ] as const) {
        const res = await t.call('GET', url, { token: me.token });
        expectProblem(res, 400, 'VALIDATION');
        expect(res.body.errors, url).toContainEqual(expect.objectContaining({ field }));
      }
      expectProblem(await t.call('DELETE', '/api/notifications/webhooks/not-a-uuid', { token: me.token }), 400, 'VALIDATION');
      expectProblem(await t.call('GET', `/api/notifications/webhooks/${hook.id}/deliveries`), 401, 'UNAUTHENTICATED');
    });

    it("a person's deliveries reach a destination one at a time, in order, even while one is retried; others are not held back", async () => {
      const slow = await person();
      const other = await person();
      const slowHook = await register(slow);
      const otherHook = await register(other);
      hooks.failNext(slowHook.path, 2, 500);
      const amounts = ['1.00', '2.00', '3.00', '4.00', '5.00', '6.00'];
      await publish([...amounts.map((a) => credited(slow, a)), ...amounts.map((a) => credited(other, a))]);
      await until('all of them', async () => [amountsAt(slowHook.path).length, amountsAt(otherHook.path).length], ([a, b]) => a === 6 && b === 6);
      expect(amountsAt(slowHook.path)).toEqual(amounts);
      expect(amountsAt(otherHook.path)).toEqual(amounts);
      expect(hooks.maxConcurrent(slowHook.path)).toBe(1);
      expect(hooks.maxConcurrent(otherHook.path)).toBe(1);
      // The failing ones came first, and nothing of the slow person's overtook them.
      expect(hooks.posts(slowHook.path).map((p) => [p.json.notification.data.amount, p.answered])).toEqual([['1.00', 500], ['1.00', 500], ...amounts.map((a) => [a, 204])]);
    });

    it("e-mail reaches the person's address at the SMTP server", async () => {
      const me = await person();
      await publish([credited(me, '12.50')]);
      const [mail] = await until('the mail', async () => mailsTo(me), (m) => m.length === 1);
      expect(mail!.to).toEqual([me.email]);
      expect(mail!.from).toBe('no-reply@gavel.localhost');
      expect(mailHeader(mail!.raw, 'Subject')).toBe('Top-up credited: 12.50 USD');
      expect(mailHeader(mail!.raw, 'X-Gavel-Kind')).toBe('topup_credited');
      expect(mailHeader(mail!.raw, 'Message-ID')).toMatch(/^<[0-9a-f-]{36}@notifications\.gavel>$/);
      expect(mail!.raw).toContain('12.50 USD was added to your USD wallet.');
    });

    it('preferences: defaults per kind, changed per kind and channel, and respected', async () => {
      const me = await person();
      const defaults = await t.call('GET', '/api/notifications/preferences', { token: me.token });
      expect(defaults.status).toBe(200);
      expect(defaults.body.kinds.topup_credited).toEqual({ inbox: true, email: true, webhook: true });
      expect(defaults.body.kinds.outbid).toEqual({ inbox: true, email: false, webhook: true });
      expect(defaults.body.kinds.won).toEqual({ inbox: true, email: true, webhook: true });
      expect(defaults.body.kinds.purchase_completed).toEqual({ inbox: true, email: true, webhook: true });

      const hook = await register(me);
      const put = await t.call('PUT', '/api/notifications/preferences', { token: me.token, json: { kinds: { topup_credited: { email: false }, outbid: { email: true, webhook: false, inbox: false } } } });
      expect(put.status, put.text).toBe(200);
      expect(put.body.kinds.topup_credited).toEqual({ inbox: true, email: false, webhook: true });
      expect(put.body.kinds.outbid).toEqual({ inbox: false, email: true, webhook: false });
      expect(put.body.kinds.won).toEqual({ inbox: true, email: true, webhook: true });
      expect((await t.call('GET', '/api/notifications/preferences', { token: me.token })).body).toEqual(put.body);
      // Another person's are their own.
      const other = await person();
      expect((await t.call('GET', '/api/notifications/preferences', { token: other.token })).body).toEqual(defaults.body);

      await publish([credited(me, '8.00'), outbid(me, '9.00')]);
      await until('the top-up on the webhook and the outbid by mail', async () => [amountsAt(hook.path).length, mailsTo(me).length], ([w, m]) => w === 1 && m === 1);
      await pause(300);
      expect(hooks.accepted(hook.path).map((p) => p.json.notification.kind)).toEqual(['topup_credited']);
      expect(mailsTo(me).map((m) => mailHeader(m.raw, 'X-Gavel-Kind'))).toEqual(['outbid']);
      expect((await inbox(t, me)).items.map((n) => n.kind)).toEqual(['topup_credited']);
    });

    it('preferences: bad input is a 400 naming the field', async () => {
      const me = await person();
      const cases: Array<[unknown, string]> = [
        [{ kinds: { nonsense: { email: true } } }, 'kinds'],
        [{ kinds: { outbid: { email: 'yes' } } }, 'kinds.outbid.email'],
        [{ kinds: { outbid: { sms: true } } }, 'kinds.outbid'],
        [{}, 'kinds'],
        [{ kinds: {}, extra: 1 }, ''],
      ];
      for (const [json, field] of cases) {
        const res = await t.call('PUT', '/api/notifications/preferences', { token: me.token, json });
        expectProblem(res, 400, 'VALIDATION');
        if (field) expect(res.body.errors.map((e: any) => e.field).join(' '), JSON.stringify(json)).toContain(field);
      }
      expectProblem(await t.call('PUT', '/api/notifications/preferences', { json: { kinds: {} } }), 401, 'UNAUTHENTICATED');
      expect((await t.call('GET', '/api/notifications/preferences', { token: me.token })).body.kinds.outbid).toEqual({ inbox: true, email: false, webhook: true });
    });

    it('an event delivered twice notifies once per channel', async () => {
      const me = await person();
      const hook = await register(me);
      await publish([credited(me, '6.00')]);
      await until('webhook and mail', async () => [amountsAt(hook.path).length, mailsTo(me).length], ([w, m]) => w === 1 && m === 1);
      // Rewind the consumer: every retained event is delivered again.
      await sql`update platform_outbox_consumers set last_tx_seq = 0, last_id = '' where consumer = ${INBOX_CONSUMER}`.execute(t.node.database.kysely);
      await publish([credited(me, '7.00')]);
      await until('the second', async () => amountsAt(hook.path), (a) => a.length === 2);
      await pause(300);
      expect(amountsAt(hook.path)).toEqual(['6.00', '7.00']);
      expect(mailsTo(me)).toHaveLength(2);
      expect((await inbox(t, me)).items).toHaveLength(2);
    });

    it("deleting a webhook cancels what waits for it; others' deliveries go on", async () => {
      const me = await person();
      const doomed = await register(me);
      const kept = await register(me);
      hooks.failAlways(doomed.path, 500);
      await publish([credited(me, '1.00')]);
      await until('the kept one', async () => amountsAt(kept.path), (a) => a.length === 1);
      expect((await t.call('DELETE', `/api/notifications/webhooks/${doomed.id}`, { token: me.token })).status).toBe(204);
      const tried = hooks.posts(doomed.path).length;
      await pause(300);
      expect(hooks.posts(doomed.path).length).toBeLessThanOrEqual(tried + 1); // at most the one in flight
      const admin = await t.adminToken();
      const dead = (await t.call('GET', '/api/admin/notifications/dead-letters?limit=100', { token: admin })).body.items;
      expect(dead.filter((d: any) => d.webhookId === doomed.id)).toEqual([]);
    });
  });
}
