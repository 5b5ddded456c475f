// The in-app inbox on each dialect: money events become one notification each (however often
// they are delivered), and a person pages, filters and marks their own — nobody else's.
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signatureHeader } from '../../src/ledger/payments/signature.js';
import { INBOX_CONSUMER } from '../../src/notifications/module.js';
import type { Notification } from '../../src/notifications/model.js';
import { uuidv7 } from '../../src/platform/ids.js';
import { createLogger } from '../../src/platform/logging.js';
import type { NewEvent } from '../../src/platform/outbox/outbox.js';
import { DIALECTS } from '../support/databases.js';
import { startTestNode, type TestNode } from '../support/gavel.js';
import { expectProblem } from '../support/problems.js';
import { approvedTopup, inbox, newPerson, pause, until, type Person } from './support.js';

const SECRET = 'whsec_notifications_test_0123456789';

function capturedLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

for (const dialect of DIALECTS) {
  describe(`the notifications inbox on ${dialect}`, () => {
    let t: TestNode;
    const logs = capturedLogger();
    beforeAll(async () => {
      t = await startTestNode(dialect, { paymentsWebhookSecret: SECRET }, { logger: logs.logger });
    });
    afterAll(async () => t?.close());

    /** Events as the ledger publishes them, appended straight to the outbox in one transaction. */
    const publish = async (events: NewEvent[]) => {
      await t.node.database.kysely.transaction().execute(async (tx) => {
        for (const e of events) await t.node.bus.append(tx, e);
      });
      t.node.bus.poke();
    };
    const credited = (person: Person, amount: string, currency = 'USD'): NewEvent => ({
      topic: 'ledger.topup.credited',
      key: person.id,
      payload: { userId: person.id, topupId: uuidv7(Date.now()), currency, amount, amountMinor: amount.replace('.', '') },
    });

    it('an approved top-up notifies its owner once, with the amount, however often the provider repeats itself', async () => {
      const me = await newPerson(t);
      const topup = await approvedTopup(t, me, 'USD', '25.00');
      const page = await until('the notification', () => inbox(t, me), (p) => p.items.length > 0);
      expect(page.unreadCount).toBe(1);
      expect(page.items).toEqual([
        {
          id: expect.any(String),
          kind: 'topup_credited',
          title: 'Top-up credited: 25.00 USD',
          body: '25.00 USD was added to your USD wallet.',
          data: { topupId: topup.id, currency: 'USD', amount: '25.00' },
          read: false,
          readAt: null,
          createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        },
      ]);

      // The sandbox re-sends the same webhook event; then a new event for the settled payment.
      expect((await t.call('POST', `${topup.redirectUrl}/approve`, { payload: '', contentType: 'application/x-www-form-urlencoded' })).status).toBe(303);
      const body = JSON.stringify({
        id: `evt_${randomBytes(16).toString('hex')}`,
        type: 'payment.succeeded',
        created: Math.floor(Date.now() / 1000),
        data: { object: 'payment', id: topup.redirectUrl.split('/').pop(), reference: topup.id, amountMinor: '2500', currency: 'USD' },
      });
      const again = await t.call('POST', '/api/payments/webhook', { payload: body, contentType: 'application/json', headers: { 'gavel-signature': signatureHeader({ secret: SECRET, rawBody: body, timestampS: Math.floor(Date.now() / 1000) }) } });
      expect(again.body.outcome).toBe('duplicate');
      await pause(300);
      expect((await inbox(t, me)).items).toHaveLength(1);
      expect(logs.lines.some((l) => l.event === 'topup_credited' && l.topupId === topup.id && typeof l.eventId === 'string')).toBe(true);
    });

    it('an event delivered again (the checkpoint lost) still makes one notification', async () => {
      const me = await newPerson(t);
      await publish([credited(me, '1.00'), credited(me, '2.00')]);
      await until('both', () => inbox(t, me), (p) => p.items.length === 2);
      // Rewind the inbox's checkpoint to the start: every retained event is delivered again.
      await sql`update platform_outbox_consumers set last_tx_seq = 0, last_id = '' where consumer = ${INBOX_CONSUMER}`.execute(t.node.database.kysely);
      await publish([credited(me, '3.00')]);
      await until('the third', () => inbox(t, me), (p) => p.items.length >= 3);
      await pause(300);
      expect((await inbox(t, me)).items.map((n) => n.data.amount)).toEqual(['3.00', '2.00', '1.00']);
    });

    it('paid and failed withdrawals notify their owner', async () => {
      const me = await newPerson(t);
      const admin = await t.adminToken();
      expect((await t.call('POST', '/api/ledger/adjustments', { token: admin, json: { userId: me.id, currency: 'EUR', amount: '100.00', direction: 'credit', memo: 'seed' } })).status).toBe(201);
      const paid = await t.call('POST', '/api/wallets/EUR/withdrawals', { token: me.token, json: { amount: '30.00' } });
      const failed = await t.call('POST', '/api/wallets/EUR/withdrawals', { token: me.token, json: { amount: '20.50' } });
      expect((await t.call('POST', `${paid.body.providerPageUrl}/paid`)).status).toBe(303);
      expect((await t.call('POST', `${failed.body.providerPageUrl}/failed`)).status).toBe(303);
      const page = await until('both', () => inbox(t, me), (p) => p.items.length === 2);
      expect(page.items.map((n) => [n.kind, n.title, n.data])).toEqual([
        ['withdrawal_failed', 'Withdrawal failed: 20.50 EUR', { withdrawalId: failed.body.id, currency: 'EUR', amount: '20.50' }],
        ['withdrawal_paid', 'Withdrawal paid: 30.00 EUR', { withdrawalId: paid.body.id, currency: 'EUR', amount: '30.00' }],
      ]);
    });

    it('pages newest first by cursor, filters unread, marks one and all read', async () => {
      const me = await newPerson(t);
      const someoneElse = await newPerson(t);
      await publish(Array.from({ length: 25 }, (_, i) => credited(me, `${i + 1}.00`)));
      await publish([credited(someoneElse, '99.00')]);
      await until('all 25', () => inbox(t, me, '?limit=100'), (p) => p.items.length === 25);
      // Published after mine, it may be delivered in a later batch: waited for too, so the last
      // check below sees it arrived rather than racing it.
      await until('theirs', () => inbox(t, someoneElse), (p) => p.items.length === 1);

      const seen: string[] = [];
      let cursor: string | null = null;
      const sizes: number[] = [];
      do {
        const page = await inbox(t, me, `?limit=10${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        expect(page.unreadCount).toBe(25);
        sizes.push(page.items.length);
        seen.push(...page.items.map((n) => n.data.amount as string));
        cursor = page.nextCursor;
      } while (cursor);
      expect(sizes).toEqual([10, 10, 5]);
      expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `${25 - i}.00`));

      const newest = (await inbox(t, me, '?limit=1')).items[0]!;
      const marked = await t.call('POST', `/api/notifications/${newest.id}/read`, { token: me.token });
      expect(marked.status).toBe(200);
      expect(marked.body).toMatchObject({ id: newest.id, read: true, readAt: expect.any(String) });
      const again = await t.call('POST', `/api/notifications/${newest.id.toUpperCase()}/read`, { token: me.token });
      expect(again.body.readAt).toBe(marked.body.readAt);
      const unread = await inbox(t, me, '?unread=true&limit=100');
      expect(unread.unreadCount).toBe(24);
      expect(unread.items).toHaveLength(24);
      expect(unread.items.map((n) => n.id)).not.toContain(newest.id);
      expect((await inbox(t, me, '?unread=false&limit=100')).items).toHaveLength(25);

      const all = await t.call('POST', '/api/notifications/read-all', { token: me.token });
      expect(all.status).toBe(200);
      expect(all.body).toEqual({ marked: 24 });
      expect(await inbox(t, me, '?unread=true')).toEqual({ items: [], nextCursor: null, unreadCount: 0 });
      expect((await t.call('POST', '/api/notifications/read-all', { token: me.token })).body).toEqual({ marked: 0 });
      // The other person's stays theirs, and unread.
      expect(await inbox(t, someoneElse)).toMatchObject({ unreadCount: 1, items: [{ data: { amount: '99.00' }, read: false }] });
    });

    it("another person's notification, or one that does not exist, is 404; nothing changes", async () => {
      const owner = await newPerson(t);
      const stranger = await newPerson(t);
      await publish([credited(owner, '5.00')]);
      const [theirs] = (await until('it', () => inbox(t, owner), (p) => p.items.length === 1)).items;
      const res = await t.call('POST', `/api/notifications/${theirs!.id}/read`, { token: stranger.token });
      expectProblem(res, 404, 'NOT_FOUND');
      expectProblem(await t.call('POST', `/api/notifications/${uuidv7(Date.now())}/read`, { token: owner.token }), 404, 'NOT_FOUND');
      expect((await t.call('POST', '/api/notifications/read-all', { token: stranger.token })).body).toEqual({ marked: 0 });
      expect(await inbox(t, owner)).toMatchObject({ unreadCount: 1, items: [{ id: theirs!.id, read: false }] });
      expect((await inbox(t, stranger)).items).toEqual([]);
    });

    it('bad input is a 400 problem naming the field; no token is 401', async () => {
      const me = await newPerson(t);
      const cases: Array<[string, string, string, string]> = [
        ['POST', '/api/notifications/not-a-uuid/read', 'params', 'id'],
        ['GET', '/api/notifications?cursor=bm90LWEtY3Vyc29y', 'query', 'cursor'],
        ['GET', '/api/notifications?limit=0', 'query', 'limit'],
        ['GET', '/api/notifications?limit=101', 'query', 'limit'],
        ['GET', '/api/notifications?unread=maybe', 'query', 'unread'],
        ['GET', '/api/notifications?sort=oldest', 'query', 'sort'],
      ];
      for (const [method, url, where, field] of cases) {
        const res = await t.call(method as 'GET' | 'POST', url, { token: me.token });
        expectProblem(res, 400, 'VALIDATION');
        expect(res.body.errors, url).toContainEqual(expect.objectContaining({ in: where, field }));
      }
      for (const [method, url] of [
        ['GET', '/api/notifications'],
        ['POST', `/api/notifications/${uuidv7(Date.now())}/read`],
        ['POST', '/api/notifications/read-all'],
      ] as const) {
        expectProblem(await t.call(method, url), 401, 'UNAUTHENTICATED');
      }
    });

    it('a malformed event is logged and passed; the events behind it still arrive', async () => {
      const me = await newPerson(t);
      const broken: NewEvent = { topic: 'ledger.topup.credited', key: me.id, payload: { userId: me.id, currency: 'USD', amount: 'lots' } };
      await publish([broken, credited(me, '7.00')]);
      const page = await until('the good one', () => inbox(t, me), (p) => p.items.length === 1);
      expect(page.items[0]!.data.amount).toBe('7.00');
      expect(logs.lines.some((l) => l.level === 50 && l.topic === 'ledger.topup.credited' && typeof l.reason === 'string')).toBe(true);
    });

    it('listeners hear of each new notification once, after it is committed', async () => {
      const me = await newPerson(t);
      const heard: Notification[] = [];
      const stop = t.node.notifications.service.onNotification((n) => {
        if (n.recipientUserId === me.id) heard.push(n);
      });
      try {
        await publish([credited(me, '8.00')]);
        const page = await until('it', () => inbox(t, me), (p) => p.items.length === 1);
        await until('the listener', async () => heard.length, (n) => n === 1);
        expect(heard[0]).toMatchObject({ id: page.items[0]!.id, kind: 'topup_credited', readAtMs: null });
      } finally {
        stop();
      }
    });
  });
}
