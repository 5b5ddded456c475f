// Purchases end to end through the API, on both databases: the saga's steps over the bus, the
// stock and the money they move, compensation when a step is refused, a race for the last
// unit, idempotent requests, who may see what, and bad input that changes nothing.
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../support/databases.js';
import { startTestNode, type TestNode } from '../support/gavel.js';
import { expectProblem, fieldsAtFault, ROOMY_LIMITS } from '../support/problems.js';
import { openShop, type Person, type Shop } from './purchase-support.js';

const FAST_OUTBOX = { pollIntervalMs: 20, retryFirstDelayMs: 20, retryMaxDelayMs: 200 };
const UNKNOWN_PRODUCT = '01890000-0000-7000-8000-000000000000';

for (const dialect of DIALECTS) {
  describe(`purchases on ${dialect}`, () => {
    let t: TestNode;
    let shop: Shop;
    let seller: Person;
    let otherSeller: Person;

    beforeAll(async () => {
      t = await startTestNode(dialect, { purchaseStepTimeoutMs: 10_000 }, { loginLimits: ROOMY_LIMITS, outbox: FAST_OUTBOX });
      shop = await openShop(t);
      seller = await shop.seller();
      otherSeller = await shop.seller();
    });
    afterAll(async () => t?.close());

    const purchaseRows = async () => Number((await (t.node.database.kysely as Kysely<any>).selectFrom('orders_purchases').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

    it('buys from two sellers: stock leaves the shelf, each seller gets a paid order and their money, the buyer pays the total', async () => {
      const mug = await shop.product(seller, { title: 'Enamel mug', price: '12.50', stock: 5 });
      const plate = await shop.product(otherSeller, { title: 'Plate', price: '3.00', stock: 4 });
      const buyer = await shop.buyer(100_00n);
      const sellerBefore = await shop.wallet(seller);
      const otherBefore = await shop.wallet(otherSeller);

      const res = await shop.purchase(buyer, { items: [{ productId: mug, quantity: 2 }, { productId: plate, quantity: 3 }], currency: 'USD' });
      expect([201, 202], res.text).toContain(res.status);
      expect(res.headers.location).toBe(`/api/purchases/${res.body.id}`);
      const done = await shop.ended(buyer, res.body.id);

      expect(done).toMatchObject({ status: 'completed', buyerId: buyer.id, currency: 'USD', total: '34.00', failure: null });
      expect(done.steps.map((s: any) => [s.name, s.status])).toEqual([
        ['ValidateInventory', 'succeeded'],
        ['ReserveProducts', 'succeeded'],
        ['ChargeWallet', 'succeeded'],
        ['CreateOrder', 'succeeded'],
      ]);
      for (const s of done.steps) {
        expect(s.error).toBeNull();
        expect(Date.parse(s.finishedAt)).toBeGreaterThanOrEqual(Date.parse(s.startedAt));
      }
      expect(done.items).toEqual([
        { productId: mug, quantity: 2, title: 'Enamel mug', sellerId: seller.id, unitPrice: '12.50', amount: '25.00' },
        { productId: plate, quantity: 3, title: 'Plate', sellerId: otherSeller.id, unitPrice: '3.00', amount: '9.00' },
      ]);

      // Stock: gone from the shelf, nothing left reserved.
      expect(await shop.stock(mug)).toEqual({ stock: 3, reserved: 0, available: 3 });
      expect(await shop.stock(plate)).toEqual({ stock: 1, reserved: 0, available: 1 });

      // Money: the buyer paid the total, each seller got their part, no commission, nothing held.
      expect(await shop.wallet(buyer)).toEqual({ posted: '66.00', held: '0.00' });
      expect(Number((await shop.wallet(seller)).posted) - Number(sellerBefore.posted)).toBeCloseTo(25);
      expect(Number((await shop.wallet(otherSeller)).posted) - Number(otherBefore.posted)).toBeCloseTo(9);
      const moves = await shop.movements(done.id);
      expect(moves.filter((m) => m.kind === 'hold').map((m) => [m.amountMinor, m.holdStatus])).toEqual([
        [2500n, 'captured'],
        [900n, 'captured'],
      ]);
      await shop.ledgerClean();

      // One paid order per seller, born from this purchase.
      expect(done.orderIds).toHaveLength(2);
      const orders = await Promise.all(done.orderIds.map(async (id: string) => (await t.call('GET', `/api/orders/${id}`, { token: buyer.token })).body));
      const bySeller = new Map(orders.map((o: any) => [o.sellerId, o]));
      expect(bySeller.get(seller.id)).toMatchObject({ source: 'purchase', sourceRef: `${done.id}:${seller.id}`, status: 'paid', amount: '25.00', title: 'Enamel mug', items: [{ kind: 'product', refId: mug, quantity: 2, unitPrice: '12.50' }] });
      expect(bySeller.get(otherSeller.id)).toMatchObject({ source: 'purchase', sourceRef: `${done.id}:${otherSeller.id}`, status: 'paid', amount: '9.00' });
      // The seller sees it among their orders and can ship it.
      const shipped = await t.call('POST', `/api/orders/${bySeller.get(seller.id).id}/ship`, { token: seller.token, json: { carrier: 'Post' } });
      expect(shipped.status, shipped.text).toBe(200);

      // Notifications: one JSON event for the end, with the total as a decimal string.
      expect(await shop.outboxEvents('purchases.purchase.completed', done.id)).toEqual([
        { purchaseId: done.id, buyerId: buyer.id, currency: 'USD', total: '34.00', orderIds: done.orderIds },
      ]);
      expect(await shop.outboxEvents('purchases.purchase.compensated', done.id)).toEqual([]);
    });

    it('out of stock: compensated at ValidateInventory, nothing reserved, nothing held', async () => {
      const mug = await shop.product(seller, { stock: 2 });
      const buyer = await shop.buyer(100_00n);
      const done = await shop.buy(buyer, [{ productId: mug, quantity: 3 }]);
      expect(done).toMatchObject({ status: 'compensated', total: null, orderIds: [], failure: { step: 'ValidateInventory', reason: 'OUT_OF_STOCK' } });
      expect(done.failure.detail).toContain('2 unit(s) available, 3 asked');
      expect(done.steps.map((s: any) => s.status)).toEqual(['failed', 'pending', 'pending', 'pending']);
      expect(done.steps[0].error).toMatchObject({ code: 'OUT_OF_STOCK' });
      expect(await shop.stock(mug)).toEqual({ stock: 2, reserved: 0, available: 2 });
      expect(await shop.wallet(buyer)).toEqual({ posted: '100.00', held: '0.00' });
      expect(await shop.movements(done.id)).toEqual([]);
      expect(await shop.outboxEvents('purchases.purchase.compensated', done.id)).toEqual([
        { purchaseId: done.id, buyerId: buyer.id, currency: 'USD', reason: 'OUT_OF_STOCK', detail: done.failure.detail },
      ]);
    });

    it('insufficient funds: compensated at ChargeWallet, the reserved stock released, no money moved', async () => {
      const mug = await shop.product(seller, { price: '12.50', stock: 5 });
      const buyer = await shop.buyer(20_00n);
      const done = await shop.buy(buyer, [{ productId: mug, quantity: 2 }]);
      expect(done).toMatchObject({ status: 'compensated', total: '25.00', failure: { step: 'ChargeWallet', reason: 'INSUFFICIENT_FUNDS' } });
      expect(done.steps.map((s: any) => [s.name, s.status])).toEqual([
        ['ValidateInventory', 'succeeded'],
        ['ReserveProducts', 'compensated'],
        ['ChargeWallet', 'failed'],
        ['CreateOrder', 'pending'],
      ]);
      expect(done.steps[1].compensatedAt).not.toBeNull();
      expect(await shop.stock(mug)).toEqual({ stock: 5, reserved: 0, available: 5 });
      expect(await shop.wallet(buyer)).toEqual({ posted: '20.00', held: '0.00' });
      expect(await shop.movements(done.id)).toEqual([]);
      await shop.ledgerClean();
    });

    it('a buyer without a wallet in the currency is compensated the same way', async () => {
      const mug = await shop.product(seller, { price: '1.00', stock: 5 });
      const u = await t.newUser('Walletless', ['bidder']);
      const done = await shop.buy({ id: u.id, token: u.token }, [{ productId: mug, quantity: 1 }]);
      expect(done).toMatchObject({ status: 'compensated', failure: { step: 'ChargeWallet', reason: 'INSUFFICIENT_FUNDS', detail: 'you have no open USD wallet' } });
      expect(await shop.stock(mug)).toEqual({ stock: 5, reserved: 0, available: 5 });
    });

    it.each([
      ['a product that does not exist', 'PRODUCT_NOT_FOUND'],
      ['a product priced in another currency', 'CURRENCY_MISMATCH'],
      ['an archived product', 'PRODUCT_UNAVAILABLE'],
    ])('buying %s is compensated with %s, nothing changed', async (_what, reason) => {
      const buyer = await shop.buyer(100_00n);
      const productId = reason === 'PRODUCT_NOT_FOUND' ? UNKNOWN_PRODUCT : await shop.product(seller, { currency: reason === 'CURRENCY_MISMATCH' ? 'EUR' : 'USD' });
      if (reason === 'PRODUCT_UNAVAILABLE') expect((await t.call('POST', `/api/products/${productId}/archive`, { token: seller.token })).status).toBe(200);
      const done = await shop.buy(buyer, [{ productId, quantity: 1 }]);
      expect(done).toMatchObject({ status: 'compensated', failure: { step: 'ValidateInventory', reason } });
      expect(await shop.wallet(buyer)).toEqual({ posted: '100.00', held: '0.00' });
      expect(await shop.movements(done.id)).toEqual([]);
    });

    it('a seller cannot buy their own product', async () => {
      const mug = await shop.product(seller, { stock: 3 });
      await shop.fund(seller, 100_00n);
      const before = await shop.wallet(seller);
      const done = await shop.buy(seller, [{ productId: mug, quantity: 1 }]);
      expect(done).toMatchObject({ status: 'compensated', failure: { step: 'ValidateInventory', reason: 'OWN_PRODUCT' } });
      expect(await shop.wallet(seller)).toEqual(before);
      expect(await shop.stock(mug)).toEqual({ stock: 3, reserved: 0, available: 3 });
    });

    it('buyers racing for the last units: as many complete as there are units, the others are compensated, stock never below zero', async () => {
      const mug = await shop.product(seller, { price: '5.00', stock: 3 });
      const buyers = await Promise.all(Array.from({ length: 6 }, () => shop.buyer(50_00n)));
      const started = await Promise.all(buyers.map((b) => shop.purchase(b, { items: [{ productId: mug, quantity: 1 }], currency: 'USD' })));
      for (const res of started) expect([201, 202], res.text).toContain(res.status);
      const ended = await Promise.all(started.map((res, i) => shop.ended(buyers[i]!, res.body.id)));
      const completed = ended.filter((p) => p.status === 'completed');
      const compensated = ended.filter((p) => p.status === 'compensated');
      expect(completed).toHaveLength(3);
      expect(compensated).toHaveLength(3);
      for (const p of compensated) expect(p.failure.reason).toBe('OUT_OF_STOCK');
      expect(await shop.stock(mug)).toEqual({ stock: 0, reserved: 0, available: 0 });
      for (const [i, p] of ended.entries()) expect(await shop.wallet(buyers[i]!)).toEqual({ posted: p.status === 'completed' ? '45.00' : '50.00', held: '0.00' });
      await shop.ledgerClean();
    });

    it('the same Idempotency-Key and body answers the first purchase; another body with it is refused; one purchase is made', async () => {
      const mug = await shop.product(seller, { price: '2.00', stock: 10 });
      const buyer = await shop.buyer(100_00n);
      const body = { items: [{ productId: mug, quantity: 2 }], currency: 'USD' };
      const first = await shop.purchase(buyer, body, 'buy-mugs-1');
      expect([201, 202], first.text).toContain(first.status);
      const again = await shop.purchase(buyer, body, 'buy-mugs-1');
      expect(again.status).toBe(first.status);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.body.id).toBe(first.body.id);
      expect(again.headers.location).toBe(`/api/purchases/${first.body.id}`);
      expectProblem(await shop.purchase(buyer, { ...body, items: [{ productId: mug, quantity: 3 }] }, 'buy-mugs-1'), 422, 'IDEMPOTENCY_KEY_REUSED');
      await shop.ended(buyer, first.body.id);
      expect((await t.call('GET', '/api/purchases', { token: buyer.token })).body.items.map((p: any) => p.id)).toEqual([first.body.id]);
      expect(await shop.stock(mug)).toEqual({ stock: 8, reserved: 0, available: 8 });
      expect(await shop.wallet(buyer)).toEqual({ posted: '96.00', held: '0.00' });
      // Keys belong to their caller: another buyer's same key is their own purchase.
      const other = await shop.buyer(100_00n);
      const theirs = await shop.purchase(other, body, 'buy-mugs-1');
      expect(theirs.body.id).not.toBe(first.body.id);
    });

    it('shows a purchase to its buyer and admins only; others get 404', async () => {
      const mug = await shop.product(seller, { price: '1.00', stock: 10 });
      const buyer = await shop.buyer(100_00n);
      const done = await shop.buy(buyer, [{ productId: mug, quantity: 1 }]);
      expect((await t.call('GET', `/api/purchases/${done.id}`, { token: shop.admin })).status).toBe(200);
      const stranger = await shop.buyer();
      expectProblem(await t.call('GET', `/api/purchases/${done.id}`, { token: stranger.token }), 404, 'NOT_FOUND');
      expectProblem(await t.call('GET', `/api/purchases/${done.id}`, { token: seller.token }), 404, 'NOT_FOUND');
      expectProblem(await t.call('GET', `/api/purchases/${UNKNOWN_PRODUCT}`, { token: buyer.token }), 404, 'NOT_FOUND');
      expectProblem(await t.call('GET', `/api/purchases/${done.id}`), 401, 'UNAUTHENTICATED');
      expectProblem(await t.call('GET', '/api/purchases/not-a-uuid', { token: buyer.token }), 400, 'VALIDATION');
      expectProblem(await t.call('GET', '/api/purchases?cursor=nonsense', { token: buyer.token }), 400, 'VALIDATION');
    });

    it('refuses bad input with a 4xx naming the field, and changes nothing', async () => {
      const mug = await shop.product(seller, { price: '1.00', stock: 10 });
      const buyer = await shop.buyer(100_00n);
      const good = { items: [{ productId: mug, quantity: 1 }], currency: 'USD' };
      const purchasesBefore = await purchaseRows();
      const cases: Array<[string, unknown, string | null, number, string, string[]]> = [
        ['no Idempotency-Key', good, null, 400, 'VALIDATION', ['idempotency-key']],
        ['an Idempotency-Key with a space', good, 'bad key', 400, 'VALIDATION', ['idempotency-key']],
        ['no items', { ...good, items: [] }, 'k1', 400, 'VALIDATION', ['items']],
        ['too many items', { ...good, items: Array.from({ length: 51 }, () => ({ productId: mug, quantity: 1 })) }, 'k2', 400, 'VALIDATION', ['items']],
        ['a product twice', { ...good, items: [{ productId: mug, quantity: 1 }, { productId: mug.toUpperCase(), quantity: 2 }] }, 'k3', 400, 'VALIDATION', ['items.1.productId']],
        ['quantity zero', { ...good, items: [{ productId: mug, quantity: 0 }] }, 'k4', 400, 'VALIDATION', ['items.0.quantity']],
        ['a fractional quantity', { ...good, items: [{ productId: mug, quantity: 1.5 }] }, 'k5', 400, 'VALIDATION', ['items.0.quantity']],
        ['a huge quantity', { ...good, items: [{ productId: mug, quantity: 10_001 }] }, 'k6', 400, 'VALIDATION', ['items.0.quantity']],
        ['a product id that is not a UUID', { ...good, items: [{ productId: 'mug', quantity: 1 }] }, 'k7', 400, 'VALIDATION', ['items.0.productId']],
        ['an unknown field', { ...good, coupon: 'FREE' }, 'k8', 400, 'VALIDATION', []],
        ['an unknown field in an item', { ...good, items: [{ productId: mug, quantity: 1, price: '0.01' }] }, 'k9', 400, 'VALIDATION', []],
        ['no currency', { items: good.items }, 'k10', 400, 'VALIDATION', ['currency']],
        ['a lowercase currency', { ...good, currency: 'usd' }, 'k11', 400, 'VALIDATION', ['currency']],
        ['an unknown currency', { ...good, currency: 'XYZ' }, 'k12', 400, 'UNKNOWN_CURRENCY', ['currency']],
        ['items that are not a list', { ...good, items: { productId: mug } }, 'k13', 400, 'VALIDATION', ['items']],
      ];
      for (const [what, body, key, status, code, fields] of cases) {
        const res = await shop.purchase(buyer, body, key);
        expectProblem(res, status, code);
        for (const field of fields) expect(fieldsAtFault(res), what).toContain(field);
      }
      const raw = await t.call('POST', '/api/purchases', { token: buyer.token, payload: '{"items": [', contentType: 'application/json', headers: { 'idempotency-key': 'k14' } });
      expectProblem(raw, 400, 'MALFORMED_JSON');
      expectProblem(await t.call('POST', '/api/purchases', { json: good, headers: { 'idempotency-key': 'k15' } }), 401, 'UNAUTHENTICATED');
      expect(await purchaseRows()).toBe(purchasesBefore);
      expect(await shop.stock(mug)).toEqual({ stock: 10, reserved: 0, available: 10 });
      expect(await shop.wallet(buyer)).toEqual({ posted: '100.00', held: '0.00' });
      // A refused request frees its key: the same key then works.
      const ok = await shop.purchase(buyer, good, 'k1');
      expect([201, 202], ok.text).toContain(ok.status);
    });

    it('lists the buyer their own purchases, newest first, page by page', async () => {
      const mug = await shop.product(seller, { price: '1.00', stock: 10 });
      const buyer = await shop.buyer(100_00n);
      const first = await shop.buy(buyer, [{ productId: mug, quantity: 1 }]);
      const second = await shop.buy(buyer, [{ productId: mug, quantity: 2 }]);
      const page1 = await t.call('GET', '/api/purchases?limit=1', { token: buyer.token });
      expect(page1.status, page1.text).toBe(200);
      expect(page1.body.items.map((p: any) => p.id)).toEqual([second.id]);
      const page2 = await t.call('GET', `/api/purchases?limit=1&cursor=${encodeURIComponent(page1.body.nextCursor)}`, { token: buyer.token });
      expect(page2.body.items.map((p: any) => p.id)).toEqual([first.id]);
      const other = await shop.buyer();
      expect((await t.call('GET', '/api/purchases', { token: other.token })).body.items).toEqual([]);
    });
  });
}
