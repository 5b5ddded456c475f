// The purchase saga's dead letters through the admin API, on both databases: admins page
// through them newest first and see whether each can be used now; a discard deletes one and
// leaves a line in the log naming the admin; a redrive is refused while the message still
// cannot be used (or its purchase has ended), and a reply from a newer producer, redriven once
// this node reads its version, moves its purchase on to the end.
import type { Schema } from 'avsc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PARTICIPANT_CONSUMERS } from '../../src/orders/purchase-participants.js';
import { PURCHASE_SAGA_CONSUMER } from '../../src/orders/purchase-saga.js';
import { purchaseSchemas } from '../../src/orders/purchase-schemas.js';
import { createLogger } from '../../src/platform/logging.js';
import { DIALECTS } from '../support/databases.js';
import { startTestNode, type TestNode } from '../support/gavel.js';
import { ROOMY_LIMITS } from '../support/problems.js';
import { openShop, until } from './purchase-support.js';

const FAST_OUTBOX = { pollIntervalMs: 20, retryFirstDelayMs: 20, retryMaxDelayMs: 200 };
const PATH = '/api/admin/purchases/dead-letters';
const NOBODY = '01900000-0000-7000-8000-00000000dead';

function capturedLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

/** Appends messages straight to the outbox, as a broken or newer producer would. */
async function send(t: TestNode, messages: Array<{ topic: string; key?: string; payload: unknown }>): Promise<void> {
  await t.node.database.kysely.transaction().execute(async (tx) => {
    for (const m of messages) await t.node.bus.append(tx, { topic: m.topic, key: m.key ?? NOBODY, payload: m.payload as never });
  });
  t.node.bus.poke();
}

/** The whole list once it holds `count` dead letters. */
async function lettersWhen(t: TestNode, admin: string, count: number): Promise<any[]> {
  return until(`${count} dead letters`, async () => {
    const res = await t.call('GET', `${PATH}?limit=100`, { token: admin });
    expect(res.status, res.text).toBe(200);
    // The page and the total are two reads: a letter stored between them shows in the total first.
    return res.body.total === count && res.body.items.length === count ? (res.body.items as any[]) : undefined;
  });
}

/** InventoryValidated as a newer inventory participant writes it: v2 adds a field with a default. */
const INVENTORY_VALIDATED_V2: Schema = {
  type: 'record',
  name: 'InventoryValidated',
  namespace: 'gavel.purchases',
  fields: [
    { name: 'purchaseId', type: 'string' },
    { name: 'checkedBy', type: 'string', default: 'inventory' },
  ],
};

for (const dialect of DIALECTS) {
  describe(`purchase dead letters (admin) on ${dialect}`, () => {
    const logs = capturedLogger();
    let t: TestNode;
    let admin: string;
    let letters: any[];
    const registry = purchaseSchemas();

    beforeAll(async () => {
      t = await startTestNode(dialect, {}, { loginLimits: ROOMY_LIMITS, outbox: FAST_OUTBOX, logger: logs.logger });
      admin = await t.adminToken();
      await send(t, [
        { topic: 'purchases.reply.funds_held', payload: { hello: 'world' } },
        { topic: 'purchases.reply.funds_held', payload: registry.encode('gavel.purchases.FundsHeld', 1, { purchaseId: NOBODY, holdRefs: [] }) },
        { topic: 'purchases.command.charge_wallet', payload: { schema: 'gavel.purchases.ChargeWallet', version: 1, avro: Buffer.from([0xfe, 0xff, 0xff, 0xff, 0x0f]).toString('base64') } },
      ]);
      letters = await lettersWhen(t, admin, 3);
    }, 60_000);

    afterAll(async () => {
      await t?.close();
    });

    it('lists them newest first, by pages, each saying why it cannot be used now', async () => {
      expect(letters.map((l) => l.eventId)).toEqual([...letters.map((l) => l.eventId)].sort().reverse());
      const [chargeWallet, fundsHeld, garbage] = letters;
      expect(chargeWallet).toMatchObject({ consumer: PARTICIPANT_CONSUMERS.payments, topic: 'purchases.command.charge_wallet', message: null, purchaseId: null, redrivable: false });
      expect(chargeWallet.problemNow).toContain('gavel.purchases.ChargeWallet v1:');
      expect(fundsHeld).toMatchObject({ consumer: PURCHASE_SAGA_CONSUMER, message: 'FundsHeld', purchaseId: NOBODY, redrivable: false, reason: `no purchase ${NOBODY}`, problemNow: `no purchase ${NOBODY}` });
      expect(garbage).toMatchObject({ reason: 'the payload is not an Avro envelope: it names no schema', payloadPreview: '{"hello":"world"}', payloadBytes: 17 });
      expect(Date.parse(garbage.createdAt)).toBeGreaterThan(0);

      const first = await t.call('GET', `${PATH}?limit=2`, { token: admin });
      expect(first.status, first.text).toBe(200);
      expect(first.body.total).toBe(3);
      expect(first.body.items.map((l: any) => l.eventId)).toEqual(letters.slice(0, 2).map((l) => l.eventId));
      const second = await t.call('GET', `${PATH}?limit=2&cursor=${first.body.nextCursor}`, { token: admin });
      expect(second.body.items.map((l: any) => l.eventId)).toEqual([garbage.eventId]);
      expect(second.body.nextCursor).toBeNull();

      const one = await t.call('GET', `${PATH}/${fundsHeld.consumer}/${fundsHeld.eventId}`, { token: admin });
      expect(one.status, one.text).toBe(200);
      expect(one.body.payload).toMatchObject({ schema: 'gavel.purchases.FundsHeld', version: 1 });
      expect(one.body.decoded).toEqual({ name: 'FundsHeld', purchaseId: NOBODY, holdRefs: [] });
    });

    it('is for admins only, and refuses bad names and cursors with 400', async () => {
      const person = await t.newUser('Curious Person');
      const [letter] = letters;
      const at = `${PATH}/${letter.consumer}/${letter.eventId}`;
      for (const [method, url] of [['GET', PATH], ['GET', at], ['POST', `${at}/redrive`], ['DELETE', at]] as const) {
        expect((await t.call(method, url, { token: person.token })).status, `${method} ${url}`).toBe(403);
        expect((await t.call(method, url)).status, `${method} ${url}`).toBe(401);
      }
      expect((await t.call('GET', `${PATH}?cursor=bm90LWEtY3Vyc29y`, { token: admin })).body.code).toBe('VALIDATION');
      expect((await t.call('GET', `${PATH}?limit=0`, { token: admin })).status).toBe(400);
      expect((await t.call('DELETE', `${PATH}/Orders!/${letter.eventId}`, { token: admin })).status).toBe(400);
      expect((await t.call('DELETE', `${PATH}/${letter.consumer}/not-an-id`, { token: admin })).status).toBe(400);
      expect((await t.call('GET', `${PATH}?limit=100`, { token: admin })).body.total).toBe(3);
    });

    it('refuses to redrive a message that still cannot be used, and keeps it', async () => {
      for (const letter of letters) {
        const res = await t.call('POST', `${PATH}/${letter.consumer}/${letter.eventId}/redrive`, { token: admin });
        expect(res.status, res.text).toBe(409);
        expect(res.body.code).toBe('DEAD_LETTER_NOT_REDRIVABLE');
        expect(res.body.detail).toContain(letter.problemNow);
      }
      expect((await t.call('GET', `${PATH}?limit=100`, { token: admin })).body.total).toBe(3);
      const unknown = await t.call('POST', `${PATH}/${PURCHASE_SAGA_CONSUMER}/${NOBODY}/redrive`, { token: admin });
      expect(unknown.status).toBe(404);
    });

    it('discards one for good, with a log line naming the admin and the message', async () => {
      const garbage = letters[2];
      const at = `${PATH}/${garbage.consumer}/${garbage.eventId}`;
      const res = await t.call('DELETE', at, { token: admin });
      expect(res.status, res.text).toBe(204);
      expect((await t.call('GET', at, { token: admin })).status).toBe(404);
      expect((await t.call('DELETE', at, { token: admin })).status).toBe(404);
      const list = await t.call('GET', `${PATH}?limit=100`, { token: admin });
      expect(list.body.total).toBe(2);
      expect(list.body.items.map((l: any) => l.eventId)).not.toContain(garbage.eventId);

      const me = await t.call('GET', '/api/auth/me', { token: admin });
      const audit = logs.lines.filter((l) => l.audit === 'purchase_dead_letter_discarded');
      expect(audit).toEqual([expect.objectContaining({ adminId: me.body.id, consumer: garbage.consumer, eventId: garbage.eventId, topic: garbage.topic, reason: garbage.reason, payload: { hello: 'world' } })]);
    });
  });

  describe(`redriving a purchase dead letter on ${dialect}`, () => {
    const logs = capturedLogger();
    let t: TestNode;

    beforeAll(async () => {
      // The inventory participant never answers ValidateInventory itself: the reply comes from
      // the "newer producer" below, so the purchase waits for it.
      const before = process.env.GAVEL_FAULT;
      process.env.GAVEL_FAULT = 'purchase.stall:ValidateInventory';
      try {
        t = await startTestNode(dialect, { purchaseStepTimeoutMs: 600_000 }, { loginLimits: ROOMY_LIMITS, outbox: FAST_OUTBOX, logger: logs.logger });
      } finally {
        if (before === undefined) delete process.env.GAVEL_FAULT;
        else process.env.GAVEL_FAULT = before;
      }
    }, 60_000);

    afterAll(async () => {
      await t?.close();
    });

    it('a reply from a newer producer is redriven once this node reads its version, and its purchase completes', async () => {
      const shop = await openShop(t);
      const admin = shop.admin;
      const seller = await shop.seller();
      const mug = await shop.product(seller, { price: '4.00', stock: 3 });
      const buyer = await shop.buyer(10_00n);
      const started = await shop.purchase(buyer, { currency: 'USD', items: [{ productId: mug, quantity: 2 }] });
      expect(started.status, started.text).toBe(202);
      const purchaseId = started.body.id as string;

      // A v2 reply this node cannot read yet is dead-lettered; the purchase keeps waiting.
      const newer = purchaseSchemas().register('gavel.purchases.InventoryValidated', 2, INVENTORY_VALIDATED_V2);
      await send(t, [{ topic: 'purchases.reply.inventory_validated', key: purchaseId, payload: newer.encode('gavel.purchases.InventoryValidated', 2, { purchaseId, checkedBy: 'inventory-v2' }) }]);
      const [letter] = await lettersWhen(t, admin, 1);
      expect(letter).toMatchObject({ consumer: PURCHASE_SAGA_CONSUMER, reason: 'gavel.purchases.InventoryValidated has no version 2 here', redrivable: false, message: null });
      const at = `${PATH}/${letter.consumer}/${letter.eventId}`;
      const early = await t.call('POST', `${at}/redrive`, { token: admin });
      expect(early.status, early.text).toBe(409);
      expect((await t.call('GET', `/api/purchases/${purchaseId}`, { token: buyer.token })).body.status).toBe('running');

      // The node learns v2 (as after a deploy): the letter can be used now, and is redriven once.
      t.node.orders.purchases.registry.register('gavel.purchases.InventoryValidated', 2, INVENTORY_VALIDATED_V2);
      const now = await t.call('GET', at, { token: admin });
      expect(now.body).toMatchObject({ redrivable: true, problemNow: null, message: 'InventoryValidated', purchaseId, decoded: { name: 'InventoryValidated', purchaseId, checkedBy: 'inventory-v2' } });
      const redriven = await t.call('POST', `${at}/redrive`, { token: admin });
      expect(redriven.status, redriven.text).toBe(200);
      expect(redriven.body).toMatchObject({ topic: 'purchases.reply.inventory_validated', purchaseId });
      expect(redriven.body.eventId).not.toBe(letter.eventId);
      expect((await t.call('POST', `${at}/redrive`, { token: admin })).status).toBe(404);

      const ended = await shop.ended(buyer, purchaseId);
      expect(ended).toMatchObject({ status: 'completed', total: '8.00' });
      expect(await shop.stock(mug)).toEqual({ stock: 1, reserved: 0, available: 1 });
      expect(await shop.wallet(buyer)).toEqual({ posted: '2.00', held: '0.00' });
      expect((await t.call('GET', `${PATH}?limit=100`, { token: admin })).body.total).toBe(0);
      await shop.ledgerClean();

      // The same message about the purchase now ended: nothing waits for it, so no redrive.
      const late = { consumer: PURCHASE_SAGA_CONSUMER, eventId: '01900000-0000-7000-8000-0000000000aa', topic: letter.topic, payload: now.body.payload, reason: 'late', createdAtMs: Date.now() };
      await t.node.database.kysely.transaction().execute((tx) => t.node.orders.purchases.store.deadLetter(tx, late));
      const lateAt = `${PATH}/${late.consumer}/${late.eventId}`;
      expect((await t.call('GET', lateAt, { token: admin })).body).toMatchObject({ redrivable: false, problemNow: `purchase ${purchaseId} has ended (completed): nothing waits for this message` });
      expect((await t.call('POST', `${lateAt}/redrive`, { token: admin })).body.code).toBe('DEAD_LETTER_NOT_REDRIVABLE');
      expect(logs.lines.filter((l) => l.audit === 'purchase_dead_letter_redriven')).toEqual([
        expect.objectContaining({ consumer: PURCHASE_SAGA_CONSUMER, eventId: letter.eventId, purchaseId, newEventId: redriven.body.eventId }),
      ]);
    }, 60_000);
  });
}
