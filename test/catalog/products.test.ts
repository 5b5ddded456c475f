// Fixed-price products through the API, on every database: sellers offer and manage them, anyone
// browses them; who may do what; and bad input answered with a 4xx that changes nothing.
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PRODUCT_DESCRIPTION_MAX_LENGTH, PRODUCT_TITLE_MAX_LENGTH, STOCK_MAX } from '../../src/catalog/products.js';
import type { ProblemCode } from '../../src/platform/errors.js';
import { DIALECTS } from '../support/databases.js';
import { startTestNode, type TestNode } from '../support/gavel.js';
import { expectProblem, fieldsAtFault, ROOMY_LIMITS } from '../support/problems.js';

const NOBODY = '01890000-0000-7000-8000-000000000000';
const PRODUCTS = '/api/products';

/** Every row of the catalog's tables: what a refused request must leave as it was. */
async function productsSnapshot(t: TestNode): Promise<unknown> {
  const db = t.node.database.kysely as unknown as Kysely<any>;
  const out: Record<string, unknown> = {};
  for (const [table, key] of [
    ['catalog_categories', 'id'],
    ['catalog_products', 'id'],
    ['catalog_reservations', 'ref'],
    ['catalog_reservation_lines', 'reservation_ref'],
  ] as const) {
    out[table] = await db.selectFrom(table).selectAll().orderBy(key).execute();
  }
  return out;
}

for (const dialect of DIALECTS) {
  describe(`products on ${dialect}`, () => {
    let t: TestNode;
    let seller: { id: string; token: string };
    let kitchen: { id: string };
    let mugs: { id: string };
    const body = (over: Record<string, unknown> = {}) => ({ title: 'Enamel mug', description: 'Blue, 350 ml.\nDishwasher safe.', categoryId: mugs.id, price: '12.50', currency: 'USD', stock: 10, ...over });
    const create = async (token = seller.token, over: Record<string, unknown> = {}) => {
      const res = await t.call('POST', PRODUCTS, { token, json: body(over) });
      expect(res.status, res.text).toBe(201);
      return res.body;
    };

    beforeAll(async () => {
      t = await startTestNode(dialect, {}, { loginLimits: ROOMY_LIMITS });
      seller = await t.newUser('Shop Keeper', ['bidder', 'seller']);
      const admin = await t.adminToken();
      kitchen = (await t.call('POST', '/api/categories', { token: admin, json: { name: 'Kitchen' } })).body;
      mugs = (await t.call('POST', '/api/categories', { token: admin, json: { name: 'Mugs', parentId: kitchen.id } })).body;
    });
    afterAll(async () => t?.close());

    it('a seller offers a product; anyone reads it with its price in major units, stock and category path', async () => {
      const res = await t.call('POST', PRODUCTS, { token: seller.token, json: body() });
      expect(res.status, res.text).toBe(201);
      expect(res.headers.location).toBe(`${PRODUCTS}/${res.body.id}`);
      expect(res.body).toMatchObject({
        sellerId: seller.id,
        title: 'Enamel mug',
        description: 'Blue, 350 ml.\nDishwasher safe.',
        categoryId: mugs.id,
        categoryPath: [
          { id: kitchen.id, name: 'Kitchen', slug: 'kitchen' },
          { id: mugs.id, name: 'Mugs', slug: 'mugs' },
        ],
        price: '12.50',
        currency: 'USD',
        stock: 10,
        reserved: 0,
        available: 10,
        archived: false,
        archivedAt: null,
      });
      const read = await t.call('GET', `${PRODUCTS}/${res.body.id.toUpperCase()}`);
      expect(read.status).toBe(200);
      expect(read.body).toEqual(res.body);
      // Prices follow the currency's decimals: whole yen, cents padded.
      expect((await create(seller.token, { price: '1500', currency: 'JPY' })).price).toBe('1500');
      expect((await create(seller.token, { price: '7.5' })).price).toBe('7.50');
      expect((await create(seller.token, { stock: 0 })).available).toBe(0);
      expectProblem(await t.call('GET', `${PRODUCTS}/${NOBODY}`), 404, 'NOT_FOUND');
    });

    it('only sellers and admins offer products: a bidder gets 403, nobody signed in 401, nothing is written', async () => {
      const bidder = await t.newUser('Just Buying');
      const before = await productsSnapshot(t);
      expectProblem(await t.call('POST', PRODUCTS, { token: bidder.token, json: body() }), 403, 'FORBIDDEN');
      expectProblem(await t.call('POST', PRODUCTS, { json: body() }), 401, 'UNAUTHENTICATED');
      expect(await productsSnapshot(t)).toEqual(before);
      const byAdmin = await create(await t.adminToken());
      expect(byAdmin.sellerId).not.toBe(seller.id);
    });

    it('the seller changes only the fields sent; another seller cannot; an admin may', async () => {
      const product = await create();
      const patched = await t.call('PATCH', `${PRODUCTS}/${product.id}`, { token: seller.token, json: { title: 'Enamel mug, large', price: '14', categoryId: kitchen.id } });
      expect(patched.status, patched.text).toBe(200);
      expect(patched.body).toMatchObject({ title: 'Enamel mug, large', price: '14.00', currency: 'USD', description: product.description, categoryId: kitchen.id, categoryPath: [{ id: kitchen.id }], stock: 10 });
      const inYen = await t.call('PATCH', `${PRODUCTS}/${product.id}`, { token: seller.token, json: { price: '2100', currency: 'JPY' } });
      expect(inYen.body).toMatchObject({ price: '2100', currency: 'JPY' });

      const rival = await t.newUser('Rival Shop', ['seller']);
      const before = await productsSnapshot(t);
      expectProblem(await t.call('PATCH', `${PRODUCTS}/${product.id}`, { token: rival.token, json: { title: 'Mine now' } }), 403, 'FORBIDDEN');
      expectProblem(await t.call('POST', `${PRODUCTS}/${product.id}/stock`, { token: rival.token, json: { set: 0 } }), 403, 'FORBIDDEN');
      expectProblem(await t.call('POST', `${PRODUCTS}/${product.id}/archive`, { token: rival.token }), 403, 'FORBIDDEN');
      expectProblem(await t.call('PATCH', `${PRODUCTS}/${product.id}`, { json: { title: 'Anonymous' } }), 401, 'UNAUTHENTICATED');
      expectProblem(await t.call('PATCH', `${PRODUCTS}/${NOBODY}`, { token: seller.token, json: { title: 'Nothing' } }), 404, 'NOT_FOUND');
      expect(await productsSnapshot(t)).toEqual(before);

      const moderated = await t.call('PATCH', `${PRODUCTS}/${product.id}`, { token: await t.adminToken(), json: { title: 'Moderated title' } });
      expect(moderated.status).toBe(200);
      expect(moderated.body.sellerId).toBe(seller.id);
      expect((await t.call('POST', `${PRODUCTS}/${product.id}/stock`, { token: await t.adminToken(), json: { add: 1 } })).body.stock).toBe(11);
    });

    it('stock is set or moved by a delta, never below what purchases have reserved', async () => {
      const product = await create(seller.token, { stock: 10 });
      const url = `${PRODUCTS}/${product.id}/stock`;
      expect((await t.call('POST', url, { token: seller.token, json: { set: 40 } })).body).toMatchObject({ stock: 40, available: 40 });
      expect((await t.call('POST', url, { token: seller.token, json: { add: -5 } })).body).toMatchObject({ stock: 35 });

      const buyer = await t.newUser('Mug Buyer');
      const reserved = await t.node.catalog.service.reserveProducts({ reservationRef: `stock-test:${dialect}`, buyerId: buyer.id, currency: 'USD', items: [{ productId: product.id, quantity: 30 }] });
      expect(reserved.ok).toBe(true);
      expect((await t.call('GET', `${PRODUCTS}/${product.id}`)).body).toMatchObject({ stock: 35, reserved: 30, available: 5 });

      const before = await productsSnapshot(t);
      const tooLow = await t.call('POST', url, { token: seller.token, json: { set: 29 } });
      expectProblem(tooLow, 409, 'STOCK_BELOW_RESERVED');
      expect(fieldsAtFault(tooLow)).toEqual(['set']);
      const tooFar = await t.call('POST', url, { token: seller.token, json: { add: -6 } });
      expectProblem(tooFar, 409, 'STOCK_BELOW_RESERVED');
      expect(fieldsAtFault(tooFar)).toEqual(['add']);
      expectProblem(await t.call('POST', url, { token: seller.token, json: { add: STOCK_MAX } }), 400, 'VALIDATION');
      expect(await productsSnapshot(t)).toEqual(before);
      expect((await t.call('POST', url, { token: seller.token, json: { set: 30 } })).body).toMatchObject({ stock: 30, reserved: 30, available: 0 });
    });

    it('a stock delta repeated with the same Idempotency-Key is applied once', async () => {
      const product = await create(seller.token, { stock: 1 });
      const headers = { 'idempotency-key': `restock-${product.id}` };
      const first = await t.call('POST', `${PRODUCTS}/${product.id}/stock`, { token: seller.token, headers, json: { add: 5 } });
      const again = await t.call('POST', `${PRODUCTS}/${product.id}/stock`, { token: seller.token, headers, json: { add: 5 } });
      expect(first.body.stock).toBe(6);
      expect(again.status).toBe(200);
      expect(again.body.stock).toBe(6);
      expect((await t.call('GET', `${PRODUCTS}/${product.id}`)).body.stock).toBe(6);
    });

    it('a repeated create with the same Idempotency-Key makes one product', async () => {
      const shop = await t.newUser('Careful Shop', ['seller']);
      const headers = { 'idempotency-key': 'offer-once' };
      const first = await t.call('POST', PRODUCTS, { token: shop.token, headers, json: body() });
      const again = await t.call('POST', PRODUCTS, { token: shop.token, headers, json: body() });
      expect(again.status).toBe(201);
      expect(again.body.id).toBe(first.body.id);
      expectProblem(await t.call('POST', PRODUCTS, { token: shop.token, headers, json: body({ title: 'Different' }) }), 422, 'IDEMPOTENCY_KEY_REUSED');
      expect((await t.call('GET', `${PRODUCTS}?sellerId=${shop.id}`)).body.items).toHaveLength(1);
    });

    it('an archived product leaves the list, is still readable, and can no longer change', async () => {
      const shop = await t.newUser('Closing Shop', ['seller']);
      const product = await create(shop.token);
      const archived = await t.call('POST', `${PRODUCTS}/${product.id}/archive`, { token: shop.token });
      expect(archived.status, archived.text).toBe(200);
      expect(archived.body).toMatchObject({ archived: true, archivedAt: expect.any(String) });
      const again = await t.call('POST', `${PRODUCTS}/${product.id}/archive`, { token: shop.token });
      expect(again.body.archivedAt).toBe(archived.body.archivedAt);

      expect((await t.call('GET', `${PRODUCTS}/${product.id}`)).body.archived).toBe(true);
      expect((await t.call('GET', `${PRODUCTS}?sellerId=${shop.id}`)).body.items).toEqual([]);
      expect((await t.call('GET', `${PRODUCTS}?sellerId=me&archived=true`, { token: shop.token })).body.items.map((p: { id: string }) => p.id)).toEqual([product.id]);
      expect((await t.call('GET', `${PRODUCTS}?sellerId=${shop.id}&archived=true`, { token: await t.adminToken() })).body.items).toHaveLength(1);
      const peek = await t.call('GET', `${PRODUCTS}?sellerId=${shop.id}&archived=true`, { token: seller.token });
      expectProblem(peek, 403, 'FORBIDDEN');
      expect(fieldsAtFault(peek)).toEqual(['archived']);
      expectProblem(await t.call('GET', `${PRODUCTS}?archived=true`), 401, 'UNAUTHENTICATED');

      const before = await productsSnapshot(t);
      expectProblem(await t.call('PATCH', `${PRODUCTS}/${product.id}`, { token: shop.token, json: { title: 'Back again' } }), 409, 'PRODUCT_ARCHIVED');
      expectProblem(await t.call('POST', `${PRODUCTS}/${product.id}/stock`, { token: shop.token, json: { add: 1 } }), 409, 'PRODUCT_ARCHIVED');
      expect(await productsSnapshot(t)).toEqual(before);
    });

    it('the public list filters by category (with subcategories), seller, currency and stock, newest first, page by page', async () => {
      const admin = await t.adminToken();
      const garden = (await t.call('POST', '/api/categories', { token: admin, json: { name: 'Garden' } })).body;
      const tools = (await t.call('POST', '/api/categories', { token: admin, json: { name: 'Tools', parentId: garden.id } })).body;
      const spades = (await t.call('POST', '/api/categories', { token: admin, json: { name: 'Spades', parentId: tools.id } })).body;
      const shop = await t.newUser('Garden Shop', ['seller']);
      const other = await t.newUser('Other Garden Shop', ['seller']);
      const a = await create(shop.token, { title: 'Rake', categoryId: tools.id, stock: 3 });
      const b = await create(shop.token, { title: 'Spade', categoryId: spades.id, stock: 0 });
      const c = await create(other.token, { title: 'Hoe', categoryId: garden.id, price: '800', currency: 'JPY', stock: 2 });
      const d = await create(shop.token, { title: 'Trowel', categoryId: spades.id, price: '4.20', currency: 'EUR', stock: 1 });
      const ids = async (query: string) => {
        const res = await t.call('GET', `${PRODUCTS}?${query}`);
        expect(res.status, res.text).toBe(200);
        return res.body.items.map((p: { id: string }) => p.id);
      };
      expect(await ids(`categoryId=${garden.id}`)).toEqual([d.id, c.id, b.id, a.id]);
      expect(await ids(`categoryId=${tools.id}`)).toEqual([d.id, b.id, a.id]);
      expect(await ids(`categoryId=${spades.id}`)).toEqual([d.id, b.id]);
      expect(await ids(`categoryId=${garden.id}&sellerId=${shop.id}`)).toEqual([d.id, b.id, a.id]);
      expect(await ids(`categoryId=${garden.id}&currency=JPY`)).toEqual([c.id]);
      expect(await ids(`categoryId=${garden.id}&inStock=true`)).toEqual([d.id, c.id, a.id]);
      expect(await ids(`categoryId=${garden.id}&inStock=false`)).toEqual([b.id]);
      expect((await t.call('GET', `${PRODUCTS}?sellerId=me`, { token: other.token })).body.items.map((p: { id: string }) => p.id)).toEqual([c.id]);

      // Reserving the last unit takes a product out of "in stock".
      const buyer = await t.newUser('Gardener');
      await t.node.catalog.service.reserveProducts({ reservationRef: `garden:${dialect}`, buyerId: buyer.id, currency: 'EUR', items: [{ productId: d.id, quantity: 1 }] });
      expect(await ids(`categoryId=${garden.id}&inStock=true`)).toEqual([c.id, a.id]);

      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res = await t.call('GET', `${PRODUCTS}?categoryId=${garden.id}&limit=3${cursor ? `&cursor=${cursor}` : ''}`);
        expect(res.body.items.length).toBeLessThanOrEqual(3);
        seen.push(...res.body.items.map((p: { id: string }) => p.id));
        cursor = res.body.nextCursor;
      } while (cursor);
      expect(seen).toEqual([d.id, c.id, b.id, a.id]);

      const unknown = await t.call('GET', `${PRODUCTS}?categoryId=${NOBODY}`);
      expectProblem(unknown, 404, 'NOT_FOUND');
      expect(fieldsAtFault(unknown)).toEqual(['categoryId']);
      expectProblem(await t.call('GET', `${PRODUCTS}?sellerId=me`), 401, 'UNAUTHENTICATED');
    });

    it('a category holding products cannot be deleted', async () => {
      const admin = await t.adminToken();
      const shelf = (await t.call('POST', '/api/categories', { token: admin, json: { name: 'Shelf' } })).body;
      await create(seller.token, { categoryId: shelf.id });
      expectProblem(await t.call('DELETE', `/api/categories/${shelf.id}`, { token: admin }), 409, 'CATEGORY_NOT_EMPTY');
      expect((await t.call('GET', `/api/categories/${shelf.id}`)).status).toBe(200);
    });
  });
}

// --- bad input ---------------------------------------------------------------------------------

interface Fixture {
  categoryId: string;
  productId: string;
}

interface Row {
  name: string;
  method: 'GET' | 'POST' | 'PATCH';
  url: string | ((f: Fixture) => string);
  json?: unknown | ((f: Fixture) => unknown);
  raw?: string;
  status: number;
  code: ProblemCode;
  /** A field some error must name. */
  field?: string;
}

const product = (over: Record<string, unknown>) => (f: Fixture) => ({ title: 'A fine mug', description: 'Described.', categoryId: f.categoryId, price: '12.50', currency: 'USD', stock: 3, ...over });
const productWithout = (key: string) => (f: Fixture) => {
  const b: Record<string, unknown> = product({})(f);
  delete b[key];
  return b;
};
const one = (f: Fixture) => `${PRODUCTS}/${f.productId}`;
const stock = (f: Fixture) => `${PRODUCTS}/${f.productId}/stock`;

const ROWS: Row[] = [
  // --- POST /api/products ----------------------------------------------------------------------
  ...['title', 'description', 'categoryId', 'price', 'currency', 'stock'].map((field): Row => ({ name: `create: ${field} missing`, method: 'POST', url: PRODUCTS, json: productWithout(field), status: 400, code: 'VALIDATION', field })),
  ...['id', 'sellerId', 'reserved', 'available', 'archived', 'priceMinor'].map((field): Row => ({ name: `create: unknown field ${field}`, method: 'POST', url: PRODUCTS, json: product({ [field]: 1 }), status: 400, code: 'VALIDATION', field })),
  ...([
    ['negative', -1],
    ['a decimal', 1.5],
    ['a string', '3'],
    ['null', null],
    ['above the maximum', STOCK_MAX + 1],
  ] as const).map(([what, value]): Row => ({ name: `create: stock ${what}`, method: 'POST', url: PRODUCTS, json: product({ stock: value }), status: 400, code: 'VALIDATION', field: 'stock' })),
  ...([
    ['three decimals in USD', '12.505', 'USD'],
    ['decimals in JPY', '1500.5', 'JPY'],
    ['zero', '0', 'USD'],
    ['zero with decimals', '0.00', 'USD'],
    ['negative', '-1.00', 'USD'],
    ['an exponent', '1e3', 'USD'],
    ['a comma', '12,50', 'USD'],
    ['a leading zero', '012.50', 'USD'],
    ['spaces', ' 12.50', 'USD'],
    ['empty', '', 'USD'],
    ['beyond a bigint', '99999999999999999999', 'USD'],
  ] as const).map(([what, price, currency]): Row => ({ name: `create: price ${what}`, method: 'POST', url: PRODUCTS, json: product({ price, currency }), status: 400, code: 'VALIDATION', field: 'price' })),
  { name: 'create: price a number', method: 'POST', url: PRODUCTS, json: product({ price: 12.5 }), status: 400, code: 'VALIDATION', field: 'price' },
  { name: 'create: currency lower case', method: 'POST', url: PRODUCTS, json: product({ currency: 'usd' }), status: 400, code: 'VALIDATION', field: 'currency' },
  { name: 'create: currency unknown', method: 'POST', url: PRODUCTS, json: product({ currency: 'XYZ' }), status: 400, code: 'UNKNOWN_CURRENCY', field: 'currency' },
  { name: 'create: title too long', method: 'POST', url: PRODUCTS, json: product({ title: 't'.repeat(PRODUCT_TITLE_MAX_LENGTH + 1) }), status: 400, code: 'VALIDATION', field: 'title' },
  { name: 'create: title empty', method: 'POST', url: PRODUCTS, json: product({ title: '' }), status: 400, code: 'VALIDATION', field: 'title' },
  { name: 'create: title with a line break', method: 'POST', url: PRODUCTS, json: product({ title: 'Mug\nfor tea' }), status: 400, code: 'VALIDATION', field: 'title' },
  { name: 'create: title a number', method: 'POST', url: PRODUCTS, json: product({ title: 7 }), status: 400, code: 'VALIDATION', field: 'title' },
  { name: 'create: description too long', method: 'POST', url: PRODUCTS, json: product({ description: 'd'.repeat(PRODUCT_DESCRIPTION_MAX_LENGTH + 1) }), status: 400, code: 'VALIDATION', field: 'description' },
  { name: 'create: description with a bell', method: 'POST', url: PRODUCTS, json: product({ description: 'ring \u0007' }), status: 400, code: 'VALIDATION', field: 'description' },
  { name: 'create: categoryId not a uuid', method: 'POST', url: PRODUCTS, json: product({ categoryId: 'mugs' }), status: 400, code: 'VALIDATION', field: 'categoryId' },
  { name: 'create: category that does not exist', method: 'POST', url: PRODUCTS, json: product({ categoryId: NOBODY }), status: 404, code: 'NOT_FOUND', field: 'categoryId' },
  { name: 'create: the body is an array', method: 'POST', url: PRODUCTS, json: (f: Fixture) => [product({})(f)], status: 400, code: 'VALIDATION' },
  { name: 'create: malformed JSON', method: 'POST', url: PRODUCTS, raw: '{"title": "A mug",', status: 400, code: 'MALFORMED_JSON' },

  // --- PATCH /api/products/{id} ------------------------------------------------------------------
  { name: 'patch: nothing to change', method: 'PATCH', url: one, json: {}, status: 400, code: 'VALIDATION' },
  { name: 'patch: stock (has its own route)', method: 'PATCH', url: one, json: { stock: 5 }, status: 400, code: 'VALIDATION', field: 'stock' },
  { name: 'patch: sellerId', method: 'PATCH', url: one, json: { sellerId: NOBODY }, status: 400, code: 'VALIDATION', field: 'sellerId' },
  { name: 'patch: currency without a price', method: 'PATCH', url: one, json: { currency: 'EUR' }, status: 400, code: 'VALIDATION', field: 'price' },
  { name: 'patch: price with too many decimals', method: 'PATCH', url: one, json: { price: '1.001' }, status: 400, code: 'VALIDATION', field: 'price' },
  { name: 'patch: price with decimals into JPY', method: 'PATCH', url: one, json: { price: '12.50', currency: 'JPY' }, status: 400, code: 'VALIDATION', field: 'price' },
  { name: 'patch: unknown currency', method: 'PATCH', url: one, json: { price: '1', currency: 'ZZZ' }, status: 400, code: 'UNKNOWN_CURRENCY', field: 'currency' },
  { name: 'patch: title null', method: 'PATCH', url: one, json: { title: null }, status: 400, code: 'VALIDATION', field: 'title' },
  { name: 'patch: category of nothing', method: 'PATCH', url: one, json: { categoryId: NOBODY }, status: 404, code: 'NOT_FOUND', field: 'categoryId' },
  { name: 'patch: id not a uuid', method: 'PATCH', url: `${PRODUCTS}/mug`, json: { title: 'x' }, status: 400, code: 'VALIDATION', field: 'id' },

  // --- POST /api/products/{id}/stock ---------------------------------------------------------------
  { name: 'stock: neither set nor add', method: 'POST', url: stock, json: {}, status: 400, code: 'VALIDATION' },
  { name: 'stock: both set and add', method: 'POST', url: stock, json: { set: 1, add: 1 }, status: 400, code: 'VALIDATION' },
  { name: 'stock: set negative', method: 'POST', url: stock, json: { set: -1 }, status: 400, code: 'VALIDATION', field: 'set' },
  { name: 'stock: set a decimal', method: 'POST', url: stock, json: { set: 2.5 }, status: 400, code: 'VALIDATION', field: 'set' },
  { name: 'stock: set a string', method: 'POST', url: stock, json: { set: '4' }, status: 400, code: 'VALIDATION', field: 'set' },
  { name: 'stock: add a decimal', method: 'POST', url: stock, json: { add: 0.5 }, status: 400, code: 'VALIDATION', field: 'add' },
  { name: 'stock: add below what there is', method: 'POST', url: stock, json: { add: -4 }, status: 409, code: 'STOCK_BELOW_RESERVED', field: 'add' },
  { name: 'stock: unknown field', method: 'POST', url: stock, json: { delta: 1 }, status: 400, code: 'VALIDATION', field: 'delta' },
  { name: 'stock: product that does not exist', method: 'POST', url: `${PRODUCTS}/${NOBODY}/stock`, json: { set: 1 }, status: 404, code: 'NOT_FOUND' },

  // --- reads ----------------------------------------------------------------------------------------
  { name: 'read: id not a uuid', method: 'GET', url: `${PRODUCTS}/12345`, status: 400, code: 'VALIDATION', field: 'id' },
  { name: 'list: inStock not a boolean', method: 'GET', url: `${PRODUCTS}?inStock=maybe`, status: 400, code: 'VALIDATION', field: 'inStock' },
  { name: 'list: currency lower case', method: 'GET', url: `${PRODUCTS}?currency=usd`, status: 400, code: 'VALIDATION', field: 'currency' },
  { name: 'list: categoryId not a uuid', method: 'GET', url: `${PRODUCTS}?categoryId=kitchen`, status: 400, code: 'VALIDATION', field: 'categoryId' },
  { name: 'list: sellerId neither me nor a uuid', method: 'GET', url: `${PRODUCTS}?sellerId=someone`, status: 400, code: 'VALIDATION', field: 'sellerId' },
  { name: 'list: limit 0', method: 'GET', url: `${PRODUCTS}?limit=0`, status: 400, code: 'VALIDATION', field: 'limit' },
  { name: 'list: limit infinite', method: 'GET', url: `${PRODUCTS}?limit=1e400`, status: 400, code: 'VALIDATION', field: 'limit' },
  { name: 'list: a forged cursor', method: 'GET', url: `${PRODUCTS}?cursor=${Buffer.from('{"k":"x"}').toString('base64url')}`, status: 400, code: 'VALIDATION', field: 'cursor' },
  { name: 'list: unknown parameter', method: 'GET', url: `${PRODUCTS}?sort=price`, status: 400, code: 'VALIDATION', field: 'sort' },
];

for (const dialect of DIALECTS) {
  describe(`products bad input on ${dialect}`, () => {
    let t: TestNode;
    let token: string;
    let f: Fixture;

    beforeAll(async () => {
      t = await startTestNode(dialect, {}, { loginLimits: ROOMY_LIMITS });
      token = (await t.newUser('Careful Shop', ['seller'])).token;
      const category = await t.call('POST', '/api/categories', { token: await t.adminToken(), json: { name: 'Everything' } });
      const made = await t.call('POST', PRODUCTS, { token, json: product({})({ categoryId: category.body.id, productId: '' }) });
      f = { categoryId: category.body.id, productId: made.body.id };
    });
    afterAll(async () => t?.close());

    it('every row is a 4xx problem naming its field, and nothing is written', async () => {
      const before = await productsSnapshot(t);
      const failures: string[] = [];
      for (const row of ROWS) {
        const url = typeof row.url === 'function' ? row.url(f) : row.url;
        const json = typeof row.json === 'function' ? (row.json as (f: Fixture) => unknown)(f) : row.json;
        const res = await t.call(row.method, url, { token, ...(row.raw !== undefined ? { payload: row.raw, contentType: 'application/json' } : json !== undefined ? { json } : {}) });
        try {
          expectProblem(res, row.status, row.code);
          if (row.field !== undefined) expect(fieldsAtFault(res)).toContain(row.field);
        } catch (error) {
          failures.push(`${row.name}: ${(error as Error).message.split('\n')[0]} — ${res.text.slice(0, 300)}`);
        }
      }
      expect(failures).toEqual([]);
      expect(await productsSnapshot(t)).toEqual(before);
    });
  });
}
