// Lots through the API and the service other modules use, on every database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOT_CONDITIONS } from '../../src/catalog/model.js';
import { DIALECTS } from '../support/databases.js';
import { startTestNode, type TestNode } from '../support/gavel.js';
import { expectProblem, fieldsAtFault, ROOMY_LIMITS } from '../support/problems.js';
import { catalogSnapshot, tinyPng, upload } from './fixtures.js';

for (const dialect of DIALECTS) {
  describe(`lots on ${dialect}`, () => {
    let t: TestNode;
    let seller: { id: string; token: string };
    let cameras: { id: string };
    let film: { id: string };
    const lotBody = (over: Record<string, unknown> = {}) => ({ title: 'Leica M3, 1956', description: 'Shutter fires at all speeds.\nSmall dent on the top plate.', categoryId: film.id, condition: 'used_good', ...over });
    const createLot = async (token = seller.token, over: Record<string, unknown> = {}) => {
      const res = await t.call('POST', '/api/lots', { token, json: lotBody(over) });
      expect(res.status, res.text).toBe(201);
      return res.body;
    };

    beforeAll(async () => {
      t = await startTestNode(dialect, {}, { loginLimits: ROOMY_LIMITS });
      seller = await t.newUser('Lot Seller', ['bidder', 'seller']);
      const admin = await t.adminToken();
      cameras = (await t.call('POST', '/api/categories', { token: admin, json: { name: 'Cameras' } })).body;
      film = (await t.call('POST', '/api/categories', { token: admin, json: { name: 'Film', parentId: cameras.id } })).body;
    });
    afterAll(async () => t?.close());

    it('a seller lists a lot; anyone reads it with its category path; the service summarises it for other modules', async () => {
      const res = await t.call('POST', '/api/lots', { token: seller.token, json: lotBody() });
      expect(res.status, res.text).toBe(201);
      expect(res.headers.location).toBe(`/api/lots/${res.body.id}`);
      expect(res.body).toMatchObject({
        sellerId: seller.id,
        title: 'Leica M3, 1956',
        description: 'Shutter fires at all speeds.\nSmall dent on the top plate.',
        categoryId: film.id,
        categoryPath: [
          { id: cameras.id, name: 'Cameras', slug: 'cameras' },
          { id: film.id, name: 'Film', slug: 'film' },
        ],
        condition: 'used_good',
        locked: false,
        images: [],
      });
      const read = await t.call('GET', `/api/lots/${res.body.id}`);
      expect(read.status).toBe(200);
      expect(read.body).toEqual(res.body);
      // Ids are case-insensitive.
      expect((await t.call('GET', `/api/lots/${res.body.id.toUpperCase()}`)).body.id).toBe(res.body.id);

      const catalog = t.node.catalog.service;
      expect(await catalog.getLot(res.body.id)).toMatchObject({ id: res.body.id, sellerId: seller.id, lockedBy: null });
      expect(await catalog.lotSummary(res.body.id)).toEqual({
        id: res.body.id,
        sellerId: seller.id,
        title: 'Leica M3, 1956',
        description: 'Shutter fires at all speeds.\nSmall dent on the top plate.',
        categoryId: film.id,
        categoryPath: [
          { id: cameras.id, name: 'Cameras', slug: 'cameras' },
          { id: film.id, name: 'Film', slug: 'film' },
        ],
        condition: 'used_good',
        imageUrls: [],
        locked: false,
      });
      await expect(catalog.getLot('01890000-0000-7000-8000-000000000000')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expectProblem(await t.call('GET', '/api/lots/01890000-0000-7000-8000-000000000000'), 404, 'NOT_FOUND');
    });

    it('takes every condition of the documented list and nothing else', async () => {
      for (const condition of LOT_CONDITIONS) expect((await createLot(seller.token, { condition })).condition).toBe(condition);
      const res = await t.call('POST', '/api/lots', { token: seller.token, json: lotBody({ condition: 'mint' }) });
      expectProblem(res, 400, 'VALIDATION');
      expect(fieldsAtFault(res)).toContain('condition');
    });

    it('only sellers and admins list lots: a bidder gets 403, nobody signed in 401, and nothing is written', async () => {
      const bidder = await t.newUser('Only Bids');
      const before = await catalogSnapshot(t);
      expectProblem(await t.call('POST', '/api/lots', { token: bidder.token, json: lotBody() }), 403, 'FORBIDDEN');
      expectProblem(await t.call('POST', '/api/lots', { json: lotBody() }), 401, 'UNAUTHENTICATED');
      expect(await catalogSnapshot(t)).toEqual(before);
      const byAdmin = await createLot(await t.adminToken());
      expect(byAdmin.sellerId).not.toBe(seller.id);
    });

    it('a lot must be filed under a category that exists', async () => {
      const before = await catalogSnapshot(t);
      const res = await t.call('POST', '/api/lots', { token: seller.token, json: lotBody({ categoryId: '01890000-0000-7000-8000-000000000000' }) });
      expectProblem(res, 404, 'NOT_FOUND');
      expect(fieldsAtFault(res)).toEqual(['categoryId']);
      expect(await catalogSnapshot(t)).toEqual(before);
    });

    it('the seller edits only the fields sent; another seller cannot edit or delete it', async () => {
      const lot = await createLot();
      const patched = await t.call('PATCH', `/api/lots/${lot.id}`, { token: seller.token, json: { title: 'Leica M3 (1956), serviced', condition: 'like_new', categoryId: cameras.id } });
      expect(patched.status, patched.text).toBe(200);
      expect(patched.body).toMatchObject({ title: 'Leica M3 (1956), serviced', condition: 'like_new', description: lot.description, categoryId: cameras.id, categoryPath: [{ id: cameras.id }] });

      const other = await t.newUser('Rival Seller', ['seller']);
      const before = await catalogSnapshot(t);
      expectProblem(await t.call('PATCH', `/api/lots/${lot.id}`, { token: other.token, json: { title: 'Mine now' } }), 403, 'FORBIDDEN');
      expectProblem(await t.call('DELETE', `/api/lots/${lot.id}`, { token: other.token }), 403, 'FORBIDDEN');
      expectProblem(await upload(t, lot.id, other.token, [{ filename: 'a.png', data: tinyPng() }]), 403, 'FORBIDDEN');
      expectProblem(await t.call('PATCH', `/api/lots/${lot.id}`, { json: { title: 'Anonymous' } }), 401, 'UNAUTHENTICATED');
      expectProblem(await t.call('PATCH', `/api/lots/${lot.id}`, { token: seller.token, json: { categoryId: '01890000-0000-7000-8000-000000000000' } }), 404, 'NOT_FOUND');
      expect(await catalogSnapshot(t)).toEqual(before);

      // An admin may (moderation).
      expect((await t.call('PATCH', `/api/lots/${lot.id}`, { token: await t.adminToken(), json: { title: 'Moderated title' } })).status).toBe(200);
      expect((await t.call('DELETE', `/api/lots/${lot.id}`, { token: seller.token })).status).toBe(204);
      expectProblem(await t.call('GET', `/api/lots/${lot.id}`), 404, 'NOT_FOUND');
      expectProblem(await t.call('DELETE', `/api/lots/${lot.id}`, { token: seller.token }), 404, 'NOT_FOUND');
    });

    it('a locked lot (an auction holds it) refuses edits and deletion with 409 until its holder unlocks it', async () => {
      const lot = await createLot();
      const catalog = t.node.catalog.service;
      expect((await catalog.lockLot(lot.id, 'auction:one')).lockedBy).toBe('auction:one');
      // The same holder again is harmless; another holder is refused (one auction at a time).
      expect((await catalog.lockLot(lot.id, 'auction:one')).lockedBy).toBe('auction:one');
      await expect(catalog.lockLot(lot.id, 'auction:two')).rejects.toMatchObject({ code: 'LOT_LOCKED' });
      await expect(catalog.unlockLot(lot.id, 'auction:two')).rejects.toMatchObject({ code: 'LOT_LOCKED' });

      const before = await catalogSnapshot(t);
      expect((await t.call('GET', `/api/lots/${lot.id}`)).body.locked).toBe(true);
      expectProblem(await t.call('PATCH', `/api/lots/${lot.id}`, { token: seller.token, json: { title: 'Changed after bids' } }), 409, 'LOT_LOCKED');
      expectProblem(await t.call('PATCH', `/api/lots/${lot.id}`, { token: await t.adminToken(), json: { title: 'Even an admin' } }), 409, 'LOT_LOCKED');
      expectProblem(await t.call('DELETE', `/api/lots/${lot.id}`, { token: seller.token }), 409, 'LOT_LOCKED');
      expect(await catalogSnapshot(t)).toEqual(before);
      expect((await catalog.lotSummary(lot.id)).locked).toBe(true);

      expect((await catalog.unlockLot(lot.id, 'auction:one')).lockedBy).toBeNull();
      expect((await t.call('PATCH', `/api/lots/${lot.id}`, { token: seller.token, json: { title: 'Relisted' } })).status).toBe(200);
      await expect(catalog.lockLot('01890000-0000-7000-8000-000000000000', 'auction:one')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('two auctions locking one lot at once: exactly one holds it', async () => {
      const lot = await createLot();
      const catalog = t.node.catalog.service;
      const results = await Promise.allSettled(['auction:a', 'auction:b', 'auction:c'].map((holder) => catalog.lockLot(lot.id, holder)));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.code)).toEqual(['LOT_LOCKED', 'LOT_LOCKED']);
    });

    it('lists your own lots newest first, page by page; others\' only for admins', async () => {
      const lister = await t.newUser('Many Lots', ['seller']);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await createLot(lister.token, { title: `Lot number ${i}` })).id);
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res = await t.call('GET', `/api/lots?sellerId=me&limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token: lister.token });
        expect(res.status, res.text).toBe(200);
        expect(res.body.items.length).toBeLessThanOrEqual(2);
        seen.push(...res.body.items.map((l: { id: string }) => l.id));
        cursor = res.body.nextCursor;
      } while (cursor);
      expect(seen).toEqual([...ids].reverse());
      expect((await t.call('GET', '/api/lots', { token: lister.token })).body.items).toHaveLength(5);
      expect((await t.call('GET', `/api/lots?sellerId=${lister.id}`, { token: lister.token })).body.items).toHaveLength(5);

      const res = await t.call('GET', `/api/lots?sellerId=${lister.id}`, { token: seller.token });
      expectProblem(res, 403, 'FORBIDDEN');
      expect(fieldsAtFault(res)).toEqual(['sellerId']);
      expectProblem(await t.call('GET', '/api/lots'), 401, 'UNAUTHENTICATED');
      expect((await t.call('GET', `/api/lots?sellerId=${lister.id}`, { token: await t.adminToken() })).body.items).toHaveLength(5);
      expectProblem(await t.call('GET', '/api/lots?cursor=bm90LWEtY3Vyc29y', { token: lister.token }), 400, 'VALIDATION');
    });

    it('a repeated create with the same Idempotency-Key makes one lot', async () => {
      const lister = await t.newUser('Careful Seller', ['seller']);
      const headers = { 'idempotency-key': 'list-once' };
      const first = await t.call('POST', '/api/lots', { token: lister.token, headers, json: lotBody() });
      const again = await t.call('POST', '/api/lots', { token: lister.token, headers, json: lotBody() });
      expect(again.status).toBe(201);
      expect(again.body.id).toBe(first.body.id);
      expectProblem(await t.call('POST', '/api/lots', { token: lister.token, headers, json: lotBody({ title: 'Different' }) }), 422, 'IDEMPOTENCY_KEY_REUSED');
      expect((await t.call('GET', '/api/lots', { token: lister.token })).body.items).toHaveLength(1);
    });
  });
}
