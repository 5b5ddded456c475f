// The stock reservation port the purchase saga calls (catalog.service.reserveProducts,
// releaseReservation, dispatchReservation, productsByIds), on every database: all or nothing,
// never more than the stock under any concurrency, idempotent by the caller's ref.
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/platform/auth/principal.js';
import type { NewProduct } from '../../src/catalog/products-service.js';
import { DIALECTS } from '../support/databases.js';
import { startTestNode, type TestNode } from '../support/gavel.js';
import { ROOMY_LIMITS } from '../support/problems.js';

const UNKNOWN_ID = '01890000-0000-7000-8000-000000000000';

for (const dialect of DIALECTS) {
  describe(`product reservations on ${dialect}`, () => {
    let t: TestNode;
    let seller: Principal;
    let otherSeller: Principal;
    let buyer: Principal;
    let categoryId: string;
    let refs = 0;
    const nextRef = () => `purchase:${dialect}:${++refs}`;

    const catalog = () => t.node.catalog.service;
    const newProduct = async (over: Partial<NewProduct> = {}, by: Principal = seller) =>
      (await t.node.catalog.products.createProduct(by, { title: 'Enamel mug', description: 'Blue, 350 ml.', categoryId, price: '12.50', currency: 'USD', stock: 10, ...over })).product;
    const product = (id: string) => t.node.catalog.products.getProduct(id);
    const reserve = (reservationRef: string, items: Array<{ productId: string; quantity: number }>, over: { buyerId?: string; currency?: string } = {}) =>
      catalog().reserveProducts({ reservationRef, buyerId: over.buyerId ?? buyer.userId, currency: over.currency ?? 'USD', items });

    /**
     * What must hold whatever happened: on every product 0 ≤ reserved ≤ stock, and reserved is
     * exactly the units of the reservations still in state "reserved".
     */
    async function expectStockConsistent(): Promise<void> {
      const db = t.node.database.kysely as unknown as Kysely<any>;
      const products = await db.selectFrom('catalog_products').select(['id', 'stock', 'reserved']).execute();
      const held = await db
        .selectFrom('catalog_reservation_lines as l')
        .innerJoin('catalog_reservations as r', 'r.ref', 'l.reservation_ref')
        .where('r.state', '=', 'reserved')
        .select(['l.product_id', 'l.quantity'])
        .execute();
      const heldBy = new Map<string, number>();
      for (const h of held) heldBy.set(h.product_id, (heldBy.get(h.product_id) ?? 0) + Number(h.quantity));
      for (const p of products) {
        expect(Number(p.reserved)).toBeGreaterThanOrEqual(0);
        expect(Number(p.reserved)).toBeLessThanOrEqual(Number(p.stock));
        expect(Number(p.reserved), `reserved on ${p.id}`).toBe(heldBy.get(p.id) ?? 0);
      }
    }

    beforeAll(async () => {
      t = await startTestNode(dialect, {}, { loginLimits: ROOMY_LIMITS });
      const principal = async (name: string, roles: Principal['roles']) => ({ userId: (await t.newUser(name, [...roles])).id, roles, sessionId: 'test' });
      seller = await principal('Mug Seller', ['seller']);
      otherSeller = await principal('Plate Seller', ['seller']);
      buyer = await principal('Mug Buyer', ['bidder']);
      const admin = await t.adminToken();
      categoryId = (await t.call('POST', '/api/categories', { token: admin, json: { name: 'Kitchen' } })).body.id;
    });
    afterAll(async () => t?.close());

    it('reserves every item at the price of the moment, all in one go', async () => {
      const mug = await newProduct({ price: '12.50', stock: 5 });
      const plate = await newProduct({ title: 'Plate', price: '3', stock: 2 }, otherSeller);
      const result = await reserve(nextRef(), [
        { productId: mug.id, quantity: 2 },
        { productId: plate.id.toUpperCase(), quantity: 2 },
      ]);
      expect(result).toEqual({
        ok: true,
        lines: [
          { productId: mug.id, sellerId: seller.userId, title: 'Enamel mug', currency: 'USD', unitPriceMinor: 1250n, quantity: 2 },
          { productId: plate.id, sellerId: otherSeller.userId, title: 'Plate', currency: 'USD', unitPriceMinor: 300n, quantity: 2 },
        ],
      });
      expect(await product(mug.id)).toMatchObject({ stock: 5, reserved: 2, available: 3 });
      expect(await product(plate.id)).toMatchObject({ stock: 2, reserved: 2, available: 0 });
      await expectStockConsistent();
    });

    it('adds repeated product ids together', async () => {
      const mug = await newProduct({ stock: 3 });
      const result = await reserve(nextRef(), [
        { productId: mug.id, quantity: 1 },
        { productId: mug.id, quantity: 2 },
      ]);
      expect(result).toMatchObject({ ok: true, lines: [{ productId: mug.id, quantity: 3 }] });
      expect(await product(mug.id)).toMatchObject({ reserved: 3, available: 0 });
    });

    it('all or nothing: one item short refuses the whole reservation and holds nothing', async () => {
      const plenty = await newProduct({ stock: 50 });
      const scarce = await newProduct({ stock: 1 });
      const ref = nextRef();
      const result = await reserve(ref, [
        { productId: plenty.id, quantity: 10 },
        { productId: scarce.id, quantity: 2 },
      ]);
      expect(result).toEqual({ ok: false, code: 'OUT_OF_STOCK', productId: scarce.id, detail: expect.stringContaining('1 unit(s) available, 2 asked') });
      expect(await product(plenty.id)).toMatchObject({ stock: 50, reserved: 0 });
      expect(await product(scarce.id)).toMatchObject({ stock: 1, reserved: 0 });
      expect((await t.node.catalog.products.reservation(ref))?.state).toBe('refused');
      await expectStockConsistent();
    });

    it('refuses with a precise code: unknown, archived, own product, other currency', async () => {
      const mug = await newProduct();
      const archived = await newProduct();
      await t.node.catalog.products.archiveProduct(seller, archived.id);
      const euro = await newProduct({ price: '9.99', currency: 'EUR' });

      expect(await reserve(nextRef(), [{ productId: mug.id, quantity: 1 }, { productId: UNKNOWN_ID, quantity: 1 }])).toMatchObject({ ok: false, code: 'PRODUCT_NOT_FOUND', productId: UNKNOWN_ID });
      expect(await reserve(nextRef(), [{ productId: 'not-an-id', quantity: 1 }])).toMatchObject({ ok: false, code: 'PRODUCT_NOT_FOUND', productId: 'not-an-id' });
      expect(await reserve(nextRef(), [{ productId: archived.id, quantity: 1 }])).toMatchObject({ ok: false, code: 'PRODUCT_UNAVAILABLE', productId: archived.id });
      expect(await reserve(nextRef(), [{ productId: mug.id, quantity: 1 }], { buyerId: seller.userId })).toMatchObject({ ok: false, code: 'OWN_PRODUCT', productId: mug.id });
      expect(await reserve(nextRef(), [{ productId: euro.id, quantity: 1 }])).toMatchObject({ ok: false, code: 'CURRENCY_MISMATCH', productId: euro.id });
      expect(await reserve(nextRef(), [{ productId: euro.id, quantity: 1 }], { currency: 'EUR' })).toMatchObject({ ok: true });
      for (const p of [mug, archived]) expect((await product(p.id)).reserved).toBe(0);
    });

    it('a malformed request is the caller\'s error, not a refusal, and records nothing', async () => {
      const mug = await newProduct();
      const ref = nextRef();
      for (const items of [[], [{ productId: mug.id, quantity: 0 }], [{ productId: mug.id, quantity: 1.5 }], [{ productId: mug.id, quantity: -1 }]]) {
        await expect(reserve(ref, items)).rejects.toMatchObject({ code: 'VALIDATION' });
      }
      await expect(reserve('', [{ productId: mug.id, quantity: 1 }])).rejects.toMatchObject({ code: 'VALIDATION' });
      await expect(reserve('x'.repeat(201), [{ productId: mug.id, quantity: 1 }])).rejects.toMatchObject({ code: 'VALIDATION' });
      expect(await t.node.catalog.products.reservation(ref)).toBeUndefined();
      expect((await product(mug.id)).reserved).toBe(0);
    });

    it('200 concurrent one-unit reservations against a stock of 17: exactly 17 succeed, available never below zero', async () => {
      const mug = await newProduct({ stock: 17 });
      const results = await Promise.all(Array.from({ length: 200 }, () => reserve(nextRef(), [{ productId: mug.id, quantity: 1 }])));
      expect(results.filter((r) => r.ok)).toHaveLength(17);
      expect(results.filter((r) => !r.ok).map((r) => !r.ok && r.code)).toEqual(new Array(183).fill('OUT_OF_STOCK'));
      expect(await product(mug.id)).toMatchObject({ stock: 17, reserved: 17, available: 0 });
      await expectStockConsistent();
    });

    it('concurrent multi-item reservations naming the same products in opposite orders neither deadlock nor oversell', async () => {
      const a = await newProduct({ title: 'A', stock: 20 });
      const b = await newProduct({ title: 'B', stock: 30 });
      const results = await Promise.all(
        Array.from({ length: 60 }, (_, n) =>
          reserve(nextRef(), n % 2 === 0 ? [{ productId: a.id, quantity: 1 }, { productId: b.id, quantity: 1 }] : [{ productId: b.id, quantity: 1 }, { productId: a.id, quantity: 1 }]),
        ),
      );
      expect(results.filter((r) => r.ok)).toHaveLength(20);
      expect(await product(a.id)).toMatchObject({ reserved: 20, available: 0 });
      expect(await product(b.id)).toMatchObject({ reserved: 20, available: 10 });
      await expectStockConsistent();
    });

    it('a repeated reserve answers the first answer, refusals included, and holds units once', async () => {
      const mug = await newProduct({ stock: 4 });
      const ref = nextRef();
      const first = await reserve(ref, [{ productId: mug.id, quantity: 3 }]);
      expect(first.ok).toBe(true);
      expect(await reserve(ref, [{ productId: mug.id, quantity: 3 }])).toEqual(first);
      // A repeat is recognised by its ref alone: what it asks for is not looked at again.
      expect(await reserve(ref, [{ productId: mug.id, quantity: 1 }])).toEqual(first);
      expect(await product(mug.id)).toMatchObject({ reserved: 3, available: 1 });

      const refused = nextRef();
      const no = await reserve(refused, [{ productId: mug.id, quantity: 2 }]);
      expect(no).toMatchObject({ ok: false, code: 'OUT_OF_STOCK' });
      await t.node.catalog.products.adjustStock(seller, mug.id, { add: 10 });
      // Stock came in since, yet the same ref keeps its refusal.
      expect(await reserve(refused, [{ productId: mug.id, quantity: 2 }])).toEqual(no);
      expect((await product(mug.id)).reserved).toBe(3);
    });

    it('the same ref sent many times at once reserves once', async () => {
      const mug = await newProduct({ stock: 100 });
      const ref = nextRef();
      const results = await Promise.all(Array.from({ length: 25 }, () => reserve(ref, [{ productId: mug.id, quantity: 2 }])));
      for (const r of results) expect(r).toEqual(results[0]);
      expect(results[0]!.ok).toBe(true);
      expect(await product(mug.id)).toMatchObject({ reserved: 2, available: 98 });
      await expectStockConsistent();
    });

    it('release gives the units back, once however often it is called', async () => {
      const mug = await newProduct({ stock: 5 });
      const ref = nextRef();
      await reserve(ref, [{ productId: mug.id, quantity: 4 }]);
      expect(await catalog().releaseReservation(ref)).toEqual({ released: true });
      expect(await catalog().releaseReservation(ref)).toEqual({ released: true });
      expect(await product(mug.id)).toMatchObject({ stock: 5, reserved: 0, available: 5 });
      expect((await t.node.catalog.products.reservation(ref))?.state).toBe('released');
      await expectStockConsistent();
    });

    it('after a release, a reserve with the same ref is refused as cancelled', async () => {
      const mug = await newProduct({ stock: 5 });
      const ref = nextRef();
      await reserve(ref, [{ productId: mug.id, quantity: 1 }]);
      await catalog().releaseReservation(ref);
      expect(await reserve(ref, [{ productId: mug.id, quantity: 1 }])).toEqual({ ok: false, code: 'PRODUCT_UNAVAILABLE', productId: mug.id, detail: 'reservation was cancelled' });
      expect((await product(mug.id)).reserved).toBe(0);
    });

    it('a release that arrives before its reserve (a timed-out reserve) makes the late reserve harmless', async () => {
      const mug = await newProduct({ stock: 5 });
      const ref = nextRef();
      expect(await catalog().releaseReservation(ref)).toEqual({ released: true });
      expect(await reserve(ref, [{ productId: mug.id, quantity: 2 }])).toEqual({ ok: false, code: 'PRODUCT_UNAVAILABLE', productId: mug.id, detail: 'reservation was cancelled' });
      expect((await product(mug.id)).reserved).toBe(0);
      expect(await catalog().releaseReservation(ref)).toEqual({ released: true });
    });

    it('a reserve and its release racing: whichever comes first, nothing stays held', async () => {
      const mug = await newProduct({ stock: 1000 });
      const pairs = Array.from({ length: 40 }, () => nextRef());
      const outcomes = await Promise.all(
        pairs.map(async (ref, n) => {
          // Started together, alternating which is sent first.
          if (n % 2 === 0) {
            const [reserved, released] = await Promise.all([reserve(ref, [{ productId: mug.id, quantity: 1 }]), catalog().releaseReservation(ref)]);
            return { reserved, released };
          }
          const [released, reserved] = await Promise.all([catalog().releaseReservation(ref), reserve(ref, [{ productId: mug.id, quantity: 1 }])]);
          return { reserved, released };
        }),
      );
      for (const o of outcomes) {
        expect(o.released).toEqual({ released: true });
        // Either the reserve came first (and was then released) or it heard it was cancelled.
        if (!o.reserved.ok) expect(o.reserved).toMatchObject({ code: 'PRODUCT_UNAVAILABLE', detail: 'reservation was cancelled' });
      }
      for (const ref of pairs) expect((await t.node.catalog.products.reservation(ref))?.state).toBe('released');
      expect((await product(mug.id)).reserved).toBe(0);
      await expectStockConsistent();
    });

    it('dispatch takes the reserved units out of stock for good; repeats change nothing; release after it gives nothing back', async () => {
      const mug = await newProduct({ stock: 6 });
      const ref = nextRef();
      await reserve(ref, [{ productId: mug.id, quantity: 4 }]);
      expect(await catalog().dispatchReservation(ref)).toEqual({ dispatched: true });
      expect(await catalog().dispatchReservation(ref)).toEqual({ dispatched: true });
      expect(await product(mug.id)).toMatchObject({ stock: 2, reserved: 0, available: 2 });
      expect(await catalog().releaseReservation(ref)).toEqual({ released: false });
      expect(await product(mug.id)).toMatchObject({ stock: 2, reserved: 0 });
      // A repeat of the reserve still answers what it first answered.
      expect(await reserve(ref, [{ productId: mug.id, quantity: 4 }])).toMatchObject({ ok: true, lines: [{ productId: mug.id, quantity: 4 }] });
      await expectStockConsistent();
    });

    it('dispatch refuses a released, refused or unknown reservation and changes nothing', async () => {
      const mug = await newProduct({ stock: 3 });
      const released = nextRef();
      await reserve(released, [{ productId: mug.id, quantity: 1 }]);
      await catalog().releaseReservation(released);
      await expect(catalog().dispatchReservation(released)).rejects.toMatchObject({ code: 'RESERVATION_NOT_ACTIVE' });
      const refused = nextRef();
      await reserve(refused, [{ productId: mug.id, quantity: 9 }]);
      await expect(catalog().dispatchReservation(refused)).rejects.toMatchObject({ code: 'RESERVATION_NOT_ACTIVE' });
      await expect(catalog().dispatchReservation(nextRef())).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect(await product(mug.id)).toMatchObject({ stock: 3, reserved: 0 });
    });

    it('the seller cannot take stock below what is reserved', async () => {
      const mug = await newProduct({ stock: 10 });
      await reserve(nextRef(), [{ productId: mug.id, quantity: 6 }]);
      const products = t.node.catalog.products;
      await expect(products.adjustStock(seller, mug.id, { set: 5 })).rejects.toMatchObject({ code: 'STOCK_BELOW_RESERVED' });
      await expect(products.adjustStock(seller, mug.id, { add: -5 })).rejects.toMatchObject({ code: 'STOCK_BELOW_RESERVED' });
      expect(await product(mug.id)).toMatchObject({ stock: 10, reserved: 6 });
      expect((await products.adjustStock(seller, mug.id, { add: -4 })).product).toMatchObject({ stock: 6, reserved: 6, available: 0 });
      expect((await products.adjustStock(seller, mug.id, { set: 8 })).product).toMatchObject({ stock: 8, available: 2 });
    });

    it('stock adjustments racing reservations never leave more reserved than stock', async () => {
      const mug = await newProduct({ stock: 30 });
      const products = t.node.catalog.products;
      const work: Array<Promise<unknown>> = [];
      for (let n = 0; n < 40; n++) {
        work.push(reserve(nextRef(), [{ productId: mug.id, quantity: 1 }]));
        if (n % 4 === 0) work.push(products.adjustStock(seller, mug.id, { add: -3 }).catch((e: { code?: string }) => e.code));
      }
      await Promise.all(work);
      const after = await product(mug.id);
      expect(after.reserved).toBeLessThanOrEqual(after.stock);
      expect(after.available).toBeGreaterThanOrEqual(0);
      await expectStockConsistent();
    });

    it('an archived product keeps its reservations: they still dispatch or release', async () => {
      const mug = await newProduct({ stock: 5 });
      const a = nextRef();
      const b = nextRef();
      await reserve(a, [{ productId: mug.id, quantity: 1 }]);
      await reserve(b, [{ productId: mug.id, quantity: 2 }]);
      await t.node.catalog.products.archiveProduct(seller, mug.id);
      expect(await reserve(nextRef(), [{ productId: mug.id, quantity: 1 }])).toMatchObject({ ok: false, code: 'PRODUCT_UNAVAILABLE' });
      expect(await catalog().dispatchReservation(a)).toEqual({ dispatched: true });
      expect(await catalog().releaseReservation(b)).toEqual({ released: true });
      expect(await product(mug.id)).toMatchObject({ stock: 4, reserved: 0 });
    });

    it('productsByIds returns the known ones in the order asked, archived included', async () => {
      const one = await newProduct({ title: 'One' });
      const two = await newProduct({ title: 'Two' });
      await t.node.catalog.products.archiveProduct(seller, two.id);
      const found = await catalog().productsByIds([two.id, UNKNOWN_ID, one.id.toUpperCase(), two.id]);
      expect(found.map((p) => [p.id, p.title, p.archivedAtMs !== null])).toEqual([
        [two.id, 'Two', true],
        [one.id, 'One', false],
      ]);
      expect(found[1]).toMatchObject({ sellerId: seller.userId, currency: 'USD', priceMinor: 1250n, stock: 10, reserved: 0, available: 10, categoryId });
      expect(await catalog().productsByIds([])).toEqual([]);
    });
  });
}
