// The participants' inbox is pruned: answered commands of purchases that ended are deleted once
// older than INBOX_RETENTION_MS (well past any redelivery), in bounded batches, by the worker
// role's timer; work still to do, fences and the rows of open purchases stay. Time is a
// ManualClock, so thirty days pass at once.
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPurchase } from '../../src/orders/purchase-model.js';
import { INBOX_PRUNE_INTERVAL_MS, INBOX_RETENTION_MS } from '../../src/orders/purchase-saga.js';
import { ManualClock } from '../../src/platform/clock.js';
import { uuidv7 } from '../../src/platform/ids.js';
import { OUTBOX_RETENTION_MS } from '../../src/platform/outbox/outbox.js';
import { DIALECTS } from '../support/databases.js';
import { ADMIN, startTestNode, type TestNode } from '../support/gavel.js';
import { ROOMY_LIMITS } from '../support/problems.js';
import { openShop, until } from './purchase-support.js';

const MINUTE_MS = 60_000;
const FAST_OUTBOX = { pollIntervalMs: 20, retryFirstDelayMs: 20, retryMaxDelayMs: 200 };

it('the inbox outlives every redelivery: the outbox keeps events 7 days, the inbox 30', () => {
  expect(INBOX_RETENTION_MS).toBe(30 * 24 * 60 * MINUTE_MS);
  expect(INBOX_RETENTION_MS).toBeGreaterThan(OUTBOX_RETENTION_MS);
});

for (const dialect of DIALECTS) {
  describe(`pruning the purchase inbox on ${dialect}`, () => {
    // No worker role: nothing works these hand-made rows or sweeps unless the test says so.
    let t: TestNode;
    const clock = new ManualClock(Date.now());
    const db = () => t.node.database.kysely as Kysely<any>;
    const store = () => t.node.orders.purchases.store;
    const saga = () => t.node.orders.purchases.saga;

    beforeAll(async () => {
      t = await startTestNode(dialect, { roles: new Set(['api']) }, { clock, loginLimits: ROOMY_LIMITS });
    });
    afterAll(async () => t?.close());

    /** A purchase row: open (a command in flight, due long after this test) or ended. */
    const purchase = async (status: 'running' | 'completed'): Promise<string> => {
      const nowMs = clock.nowMs();
      const { purchase: p } = startPurchase({ id: uuidv7(nowMs), buyerId: uuidv7(nowMs), currency: 'USD', items: [{ productId: uuidv7(nowMs), quantity: 1 }] }, { nowMs, stepTimeoutMs: 10 * INBOX_RETENTION_MS });
      const row = status === 'running' ? p : { ...p, status, deadlineAtMs: null, finishedAtMs: nowMs };
      await db().transaction().execute((tx) => store().insert(tx, row, null));
      return p.id;
    };
    /** An inbox row received now, then left pending, answered (done) or fenced. */
    const inboxRow = async (purchaseId: string, command: string, status: 'pending' | 'done' | 'fenced'): Promise<string> => {
      const id = `${purchaseId}:${command}`;
      const nowMs = clock.nowMs();
      await db().transaction().execute(async (tx) => {
        if (status === 'fenced') return store().fence(tx, { id, participant: 'payments', purchaseId, command, arrival: uuidv7(nowMs), nowMs });
        await store().receive(tx, { id, participant: 'inventory', purchaseId, command, message: { schema: 'test' }, arrival: uuidv7(nowMs), nowMs });
        if (status === 'done') await store().settle(tx, id, 'pending', 'done', nowMs, { reply: { topic: 'purchases.reply.test', payload: {}, version: 1 } });
      });
      return id;
    };
    const left = async (ids: string[]) => (await db().selectFrom('orders_purchase_inbox').select('id').where('id', 'in', ids).orderBy('id').execute()).map((r) => r.id as string).sort();

    it('deletes answered commands of ended purchases once older than the retention; keeps work to do, fences, open purchases and recent answers', async () => {
      const ended = await purchase('completed');
      const open = await purchase('running');
      const gone = uuidv7(clock.nowMs()); // a purchase that does not exist
      const old = {
        endedDone: await inboxRow(ended, 'ValidateInventory', 'done'),
        endedDone2: await inboxRow(ended, 'ReserveProducts', 'done'),
        endedFence: await inboxRow(ended, 'ChargeWallet', 'fenced'),
        endedPending: await inboxRow(ended, 'CreateOrder', 'pending'),
        openDone: await inboxRow(open, 'ValidateInventory', 'done'),
        goneDone: await inboxRow(gone, 'ValidateInventory', 'done'),
      };
      const all = Object.values(old);

      // Just short of the retention: nothing is old enough.
      clock.advance(INBOX_RETENTION_MS - INBOX_PRUNE_INTERVAL_MS);
      const recent = await inboxRow(ended, 'ReleaseStock', 'done');
      await saga().sweep();
      expect(await left([...all, recent])).toEqual([...all, recent].sort());

      // A prune interval later, past the retention: the old answers of ended (or vanished) purchases go.
      clock.advance(INBOX_PRUNE_INTERVAL_MS + MINUTE_MS);
      await saga().sweep();
      expect(await left([...all, recent])).toEqual([old.endedFence, old.endedPending, old.openDone, recent].sort());
      // The purchases themselves stay.
      expect(await store().find(ended)).toBeDefined();

      // Within the interval of the last run nothing is pruned, even what is old enough.
      const late = await inboxRow(uuidv7(clock.nowMs()), 'ValidateInventory', 'done');
      const longAgoMs = clock.nowMs() - INBOX_RETENTION_MS - MINUTE_MS;
      await db().updateTable('orders_purchase_inbox').set({ next_attempt_at_ms: longAgoMs, updated_at_ms: longAgoMs }).where('id', '=', late).execute();
      clock.advance(INBOX_PRUNE_INTERVAL_MS - MINUTE_MS);
      expect(await saga().pruneInboxNowAndThen()).toBe(0);
      expect(await left([late])).toEqual([late]);
      clock.advance(MINUTE_MS);
      expect(await saga().pruneInboxNowAndThen()).toBe(1);
      expect(await left([late, recent])).toEqual([recent]);
    });

    it('deletes in bounded batches: a statement takes at most its limit, and a run goes on until the backlog is gone', async () => {
      await db().deleteFrom('orders_purchase_inbox').execute();
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) ids.push(await inboxRow(uuidv7(clock.nowMs()), 'ValidateInventory', 'done'));
      clock.advance(INBOX_RETENTION_MS + MINUTE_MS);
      expect(await store().pruneInbox(clock.nowMs() - INBOX_RETENTION_MS, 3)).toBe(3);
      expect(await left(ids)).toHaveLength(4);
      clock.advance(INBOX_PRUNE_INTERVAL_MS);
      await saga().sweep();
      expect(await left(ids)).toEqual([]);
    });
  });

  describe(`the worker role prunes the purchase inbox on ${dialect}`, () => {
    let t: TestNode;
    const clock = new ManualClock(Date.now());

    beforeAll(async () => {
      t = await startTestNode(dialect, {}, { clock, loginLimits: ROOMY_LIMITS, outbox: FAST_OUTBOX });
    });
    afterAll(async () => t?.close());

    it("a completed purchase's answered commands are gone thirty days on; the purchase stays readable", async () => {
      const shop = await openShop(t);
      const seller = await shop.seller();
      const mug = await shop.product(seller, { price: '4.00', stock: 3 });
      const buyer = await shop.buyer(10_00n);
      const done = await shop.buy(buyer, [{ productId: mug, quantity: 1 }]);
      expect(done.status).toBe('completed');
      const db = t.node.database.kysely as Kysely<any>;
      const rows = () => db.selectFrom('orders_purchase_inbox').select(['command', 'status']).where('purchase_id', '=', done.id).orderBy('command').execute();
      await until('every command answered', async () => ((await rows()).every((r) => r.status === 'done') ? true : undefined));
      expect((await rows()).map((r) => r.command)).toEqual(['ChargeWallet', 'CreateOrder', 'ReserveProducts', 'ValidateInventory']);

      clock.advance(INBOX_RETENTION_MS + INBOX_PRUNE_INTERVAL_MS);
      // The worker's timer (each sweep of the purchase deadlines) prunes; no call from here.
      await until('the inbox pruned', async () => ((await rows()).length === 0 ? true : undefined));
      // Thirty days on, sign-ins have expired: an admin signs in afresh to look.
      const res = await t.call('GET', `/api/purchases/${done.id}`, { token: await t.login(ADMIN.email, ADMIN.password) });
      expect(res.status, res.text).toBe(200);
      expect(res.body.status).toBe('completed');
    });
  });
}
