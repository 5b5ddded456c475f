// Purchases when something goes wrong, in process, on both databases: a step that never
// answers is timed out and compensated (its late attempt fenced); a node stopped mid-purchase
// resumes it at the next start; every command and reply delivered again changes nothing; and
// messages that cannot be read are dead-lettered while the saga goes on.
import type { Kysely } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startGavel, type GavelNode } from '../../src/gavel.js';
import { PARTICIPANT_CONSUMERS, inboxIdOf } from '../../src/orders/purchase-participants.js';
import { PURCHASE_SAGA_CONSUMER } from '../../src/orders/purchase-saga.js';
import { purchaseSchemas } from '../../src/orders/purchase-schemas.js';
import { ManualClock } from '../../src/platform/clock.js';
import { loadConfig } from '../../src/platform/config.js';
import { DIALECTS } from '../support/databases.js';
import { ADMIN, startTestNode, type TestNode } from '../support/gavel.js';
import { ROOMY_LIMITS } from '../support/problems.js';
import { openShop, until, type Shop } from './purchase-support.js';

const FAST_OUTBOX = { pollIntervalMs: 20, retryFirstDelayMs: 20, retryMaxDelayMs: 200 };
const STEP_TIMEOUT_MS = 5_000;

/** A node whose purchase participants run with `fault` (GAVEL_FAULT is read when the node is built). */
async function nodeWithFault(dialect: (typeof DIALECTS)[number], fault: string | undefined, clock?: ManualClock): Promise<TestNode> {
  const before = process.env.GAVEL_FAULT;
  if (fault === undefined) delete process.env.GAVEL_FAULT;
  else process.env.GAVEL_FAULT = fault;
  try {
    return await startTestNode(dialect, { purchaseStepTimeoutMs: STEP_TIMEOUT_MS }, { loginLimits: ROOMY_LIMITS, outbox: FAST_OUTBOX, ...(clock && { clock }) });
  } finally {
    if (before === undefined) delete process.env.GAVEL_FAULT;
    else process.env.GAVEL_FAULT = before;
  }
}

const stepOf = (p: any, name: string) => p.steps.find((s: any) => s.name === name);

for (const dialect of DIALECTS) {
  describe(`purchases with faults on ${dialect}`, () => {
    const nodes: TestNode[] = [];
    let restarted: GavelNode | undefined;
    afterEach(async () => {
      await restarted?.stop();
      restarted = undefined;
    });
    afterAll(async () => {
      for (const n of nodes) await n.close();
    });

    /** Reads the purchase until `done` holds (the node's own API). */
    const poll = (t: TestNode, buyerToken: string, id: string, done: (p: any) => boolean) =>
      until(`purchase ${id}`, async () => {
        const res = await t.call('GET', `/api/purchases/${id}`, { token: buyerToken });
        expect(res.status, res.text).toBe(200);
        return done(res.body) ? res.body : undefined;
      });

    it('ChargeWallet never answers: timed out at its deadline, the stock released, nothing held, the late charge fenced', async () => {
      const clock = new ManualClock(Date.now());
      const t = await nodeWithFault(dialect, 'purchase.stall:ChargeWallet', clock);
      nodes.push(t);
      const shop = await openShop(t);
      const seller = await shop.seller();
      const mug = await shop.product(seller, { price: '10.00', stock: 3 });
      const buyer = await shop.buyer(100_00n);

      const res = await shop.purchase(buyer, { items: [{ productId: mug, quantity: 2 }], currency: 'USD' });
      expect(res.status, res.text).toBe(202);
      expect(res.body.status).toBe('running');
      await poll(t, buyer.token, res.body.id, (p) => stepOf(p, 'ChargeWallet').status === 'running');
      expect(await shop.stock(mug)).toMatchObject({ reserved: 2 });

      clock.advance(STEP_TIMEOUT_MS - 1);
      await new Promise((r) => setTimeout(r, 300));
      expect((await t.call('GET', `/api/purchases/${res.body.id}`, { token: buyer.token })).body.status).toBe('running');

      clock.advance(1);
      const done = await shop.ended(buyer, res.body.id);
      expect(done).toMatchObject({ status: 'compensated', failure: { step: 'ChargeWallet', reason: 'STEP_TIMEOUT' } });
      expect(done.failure.detail).toBe(`ChargeWallet did not answer within ${STEP_TIMEOUT_MS} ms`);
      expect(done.steps.map((s: any) => [s.name, s.status])).toEqual([
        ['ValidateInventory', 'succeeded'],
        ['ReserveProducts', 'compensated'],
        ['ChargeWallet', 'compensated'],
        ['CreateOrder', 'pending'],
      ]);
      expect(stepOf(done, 'ChargeWallet').error).toMatchObject({ code: 'STEP_TIMEOUT' });
      expect(await shop.stock(mug)).toEqual({ stock: 3, reserved: 0, available: 3 });
      expect(await shop.wallet(buyer)).toEqual({ posted: '100.00', held: '0.00' });
      expect(await shop.movements(done.id)).toEqual([]);
      // The charge that never ran is fenced: whenever a worker gets to it, it holds nothing.
      expect((await t.node.orders.purchases.store.findInbox(inboxIdOf(done.id, 'ChargeWallet')))?.status).toBe('fenced');
      expect(await shop.outboxEvents('purchases.purchase.compensated', done.id)).toEqual([
        { purchaseId: done.id, buyerId: buyer.id, currency: 'USD', reason: 'STEP_TIMEOUT', detail: done.failure.detail },
      ]);
      await shop.ledgerClean();
    });

    it('CreateOrder never answers: aborted, then the funds released, then the stock — in that order; a restart without the fault resumes such a purchase to completion', async () => {
      const clock = new ManualClock(Date.now());
      const t = await nodeWithFault(dialect, 'purchase.stall:CreateOrder', clock);
      nodes.push(t);
      const shop = await openShop(t);
      const seller = await shop.seller();
      const mug = await shop.product(seller, { price: '10.00', stock: 5 });
      const buyer = await shop.buyer(100_00n);

      // One purchase times out at CreateOrder and is compensated in reverse order.
      const late = await shop.purchase(buyer, { items: [{ productId: mug, quantity: 1 }], currency: 'USD' });
      await poll(t, buyer.token, late.body.id, (p) => stepOf(p, 'CreateOrder').status === 'running');
      expect(await shop.wallet(buyer)).toEqual({ posted: '100.00', held: '10.00' });
      clock.advance(STEP_TIMEOUT_MS);
      const done = await shop.ended(buyer, late.body.id);
      expect(done).toMatchObject({ status: 'compensated', orderIds: [], failure: { step: 'CreateOrder', reason: 'STEP_TIMEOUT' } });
      expect(done.steps.map((s: any) => s.status)).toEqual(['succeeded', 'compensated', 'compensated', 'compensated']);
      const db = t.node.database.kysely as Kysely<any>;
      const topics = (await db.selectFrom('platform_outbox').select('topic').where('key', '=', done.id).where('topic', 'like', 'purchases.%').orderBy('tx_seq').orderBy('id').execute()).map((r) => r.topic);
      expect(topics.slice(topics.indexOf('purchases.command.abort_create_order'))).toEqual([
        'purchases.command.abort_create_order',
        'purchases.reply.create_order_aborted',
        'purchases.command.release_funds',
        'purchases.reply.funds_released',
        'purchases.command.release_stock',
        'purchases.reply.stock_released',
        'purchases.purchase.compensated',
      ]);
      expect((await shop.movements(done.id)).map((m) => [m.kind, m.amountMinor, m.holdStatus])).toEqual([
        ['hold', 1000n, 'released'],
        ['release', 1000n, null],
      ]);
      expect(await shop.wallet(buyer)).toEqual({ posted: '100.00', held: '0.00' });
      expect(await shop.stock(mug)).toEqual({ stock: 5, reserved: 0, available: 5 });
      expect((await t.node.orders.purchases.store.findInbox(inboxIdOf(done.id, 'CreateOrder')))?.status).toBe('fenced');

      // Another is left at CreateOrder when the node stops; the next node (no fault) finishes it.
      const pending = await shop.purchase(buyer, { items: [{ productId: mug, quantity: 2 }], currency: 'USD' });
      await poll(t, buyer.token, pending.body.id, (p) => stepOf(p, 'CreateOrder').status === 'running');
      await t.node.stop();
      const config = { ...loadConfig({}, {}), dataDir: t.storage.dataDir, databaseUrl: t.storage.databaseUrl, logLevel: 'silent' as const, adminEmail: ADMIN.email, adminPassword: ADMIN.password, purchaseStepTimeoutMs: STEP_TIMEOUT_MS };
      restarted = await startGavel(config, { listen: false, loginLimits: ROOMY_LIMITS, outbox: FAST_OUTBOX });
      const node = restarted;
      const p = await until('the resumed purchase to complete', async () => {
        const found = await node.orders.purchases.store.find(pending.body.id);
        return found?.status === 'completed' ? found : undefined;
      });
      expect(p.orderIds).toHaveLength(1);
      const ndb = node.database.kysely as Kysely<any>;
      const stock = await ndb.selectFrom('catalog_products').select(['stock', 'reserved']).where('id', '=', mug).executeTakeFirstOrThrow();
      expect([Number(stock.stock), Number(stock.reserved)]).toEqual([3, 0]);

      // Every purchase command and reply delivered again from the start: nothing changes.
      const snapshot = async () => ({
        orders: Number((await ndb.selectFrom('orders_orders').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n),
        transfers: Number((await ndb.selectFrom('ledger_transfers').select((eb) => eb.fn.countAll().as('n')).where('owner', 'like', 'purchase:%').executeTakeFirstOrThrow()).n),
        stock: await ndb.selectFrom('catalog_products').select(['stock', 'reserved']).where('id', '=', mug).executeTakeFirstOrThrow(),
        purchases: (await ndb.selectFrom('orders_purchases').select(['id', 'status', 'updated_at_ms']).orderBy('id').execute()).map((r) => [r.id, r.status, String(r.updated_at_ms)]),
      });
      const before = await snapshot();
      const consumers = [PURCHASE_SAGA_CONSUMER, ...Object.values(PARTICIPANT_CONSUMERS)];
      await ndb.updateTable('platform_outbox_consumers').set({ last_tx_seq: 0, last_id: '' }).where('consumer', 'in', consumers).execute();
      const last = await ndb.selectFrom('platform_outbox').select(['tx_seq', 'id']).orderBy('tx_seq', 'desc').orderBy('id', 'desc').limit(1).executeTakeFirstOrThrow();
      node.bus.poke();
      await until('the purchase consumers to pass every event again', async () => {
        const rows = await ndb.selectFrom('platform_outbox_consumers').select(['last_tx_seq', 'last_id']).where('consumer', 'in', consumers).execute();
        const passed = rows.every((r) => BigInt(r.last_tx_seq) > BigInt(last.tx_seq) || (BigInt(r.last_tx_seq) === BigInt(last.tx_seq) && r.last_id >= last.id));
        return rows.length === consumers.length && passed ? true : undefined;
      });
      await new Promise((r) => setTimeout(r, 300)); // answers sent again are delivered too
      expect(await snapshot()).toEqual(before);
    });

    it('messages that cannot be read are dead-lettered, and the saga goes on', async () => {
      const t = await nodeWithFault(dialect, undefined);
      nodes.push(t);
      const shop: Shop = await openShop(t);
      const registry = purchaseSchemas();
      const unknown = '01900000-0000-7000-8000-00000000dead';
      const bad = [
        { topic: 'purchases.reply.funds_held', payload: { hello: 'world' } },
        { topic: 'purchases.reply.funds_held', payload: { schema: 'gavel.purchases.FundsHeld', version: 1, avro: 'AAAA' } },
        { topic: 'purchases.reply.funds_held', payload: { schema: 'gavel.purchases.FundsHeld', version: 9, avro: '' } },
        { topic: 'purchases.reply.funds_held', payload: registry.encode('gavel.purchases.StockReleased', 1, { purchaseId: unknown, released: true }) },
        { topic: 'purchases.reply.funds_held', payload: registry.encode('gavel.purchases.FundsHeld', 1, { purchaseId: unknown, holdRefs: [] }) },
        { topic: 'purchases.command.charge_wallet', payload: { schema: 'gavel.purchases.ChargeWallet', version: 1, avro: Buffer.from([0xfe, 0xff, 0xff, 0xff, 0x0f]).toString('base64') } },
      ];
      await t.node.database.kysely.transaction().execute(async (tx) => {
        for (const b of bad) await t.node.bus.append(tx, { topic: b.topic, key: unknown, payload: b.payload as never });
      });
      t.node.bus.poke();

      // The consumers are not stuck: a purchase after them completes.
      const seller = await shop.seller();
      const mug = await shop.product(seller, { price: '1.00', stock: 1 });
      const buyer = await shop.buyer(10_00n);
      expect((await shop.buy(buyer, [{ productId: mug, quantity: 1 }])).status).toBe('completed');

      const letters = await until('the dead letters', async () => {
        const found = await t.node.orders.purchases.store.deadLetters();
        return found.length === bad.length ? found.sort((a, b) => (a.eventId < b.eventId ? -1 : 1)) : undefined;
      });
      expect(letters.map((l) => [l.consumer, l.topic])).toEqual([
        ...Array.from({ length: 5 }, () => [PURCHASE_SAGA_CONSUMER, 'purchases.reply.funds_held']),
        [PARTICIPANT_CONSUMERS.payments, 'purchases.command.charge_wallet'],
      ]);
      expect(letters.map((l) => l.reason), JSON.stringify(letters.map((l) => l.reason))).toEqual([
        'the payload is not an Avro envelope: it names no schema',
        expect.stringContaining('gavel.purchases.FundsHeld v1:'),
        'gavel.purchases.FundsHeld has no version 9 here',
        'expected gavel.purchases.FundsHeld, got gavel.purchases.StockReleased',
        `no purchase ${unknown}`,
        expect.stringContaining('gavel.purchases.ChargeWallet v1:'),
      ]);
      expect(letters[0]!.payload).toEqual({ hello: 'world' });
    });
  });
}
