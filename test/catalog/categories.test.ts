// The category tree through the API and the service other modules use, on every database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CATEGORY_DEPTH_MAX } from '../../src/catalog/model.js';
import { DIALECTS } from '../support/databases.js';
import { startTestNode, type TestNode } from '../support/gavel.js';
import { expectProblem, fieldsAtFault, ROOMY_LIMITS } from '../support/problems.js';
import { catalogSnapshot } from './fixtures.js';

for (const dialect of DIALECTS) {
  describe(`categories on ${dialect}`, () => {
    let t: TestNode;
    let admin: string;
    const create = async (body: Record<string, unknown>) => {
      const res = await t.call('POST', '/api/categories', { token: admin, json: body });
      expect(res.status, res.text).toBe(201);
      return res.body as { id: string; parentId: string | null; name: string; slug: string; path: string; depth: number };
    };

    beforeAll(async () => {
      t = await startTestNode(dialect, {}, { loginLimits: ROOMY_LIMITS });
      admin = await t.adminToken();
    });
    afterAll(async () => t?.close());

    it('an admin builds a tree; anyone reads it nested or flat, with parents, paths and depths', async () => {
      const cameras = await create({ name: 'Cameras & Lenses' });
      expect(cameras).toMatchObject({ parentId: null, slug: 'cameras-lenses', path: 'cameras-lenses', depth: 0 });
      const film = await create({ name: 'Film Cameras', parentId: cameras.id });
      expect(film).toMatchObject({ parentId: cameras.id, slug: 'film-cameras', path: 'cameras-lenses/film-cameras', depth: 1 });
      const rangefinders = await create({ name: 'Rangefinders', parentId: film.id, slug: 'rf' });
      expect(rangefinders).toMatchObject({ path: 'cameras-lenses/film-cameras/rf', depth: 2 });
      const lenses = await create({ name: 'Lenses', parentId: cameras.id });

      const nested = await t.call('GET', '/api/categories');
      expect(nested.status).toBe(200);
      const top = nested.body.items.find((c: { id: string }) => c.id === cameras.id);
      // Children sorted by name.
      expect(top.children.map((c: { name: string }) => c.name)).toEqual(['Film Cameras', 'Lenses']);
      expect(top.children[0].children).toEqual([expect.objectContaining({ id: rangefinders.id, path: 'cameras-lenses/film-cameras/rf', children: [] })]);

      const flat = await t.call('GET', '/api/categories?format=flat');
      const mine = flat.body.items.filter((c: { path: string }) => c.path.startsWith('cameras-lenses'));
      expect(mine.map((c: { path: string; parentId: string | null }) => [c.path, c.parentId])).toEqual([
        ['cameras-lenses', null],
        ['cameras-lenses/film-cameras', cameras.id],
        ['cameras-lenses/film-cameras/rf', film.id],
        ['cameras-lenses/lenses', cameras.id],
      ]);
      expect((await t.call('GET', `/api/categories/${rangefinders.id}`)).body).toMatchObject({ name: 'Rangefinders', path: 'cameras-lenses/film-cameras/rf' });

      // For other modules: a category with everything below it, and the way down to it.
      const catalog = t.node.catalog.service;
      expect(new Set(await catalog.descendantIds(cameras.id))).toEqual(new Set([cameras.id, film.id, rangefinders.id, lenses.id]));
      expect(await catalog.descendantIds(lenses.id)).toEqual([lenses.id]);
      expect((await catalog.categoryPath(rangefinders.id)).map((c) => c.slug)).toEqual(['cameras-lenses', 'film-cameras', 'rf']);
      await expect(catalog.descendantIds('01890000-0000-7000-8000-000000000000')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(catalog.categoryPath('01890000-0000-7000-8000-000000000000')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('slugs are unique among siblings only, whether made from the name or given', async () => {
      const books = await create({ name: 'Books' });
      const music = await create({ name: 'Music' });
      await create({ name: 'Rare', parentId: books.id });
      const taken = await t.call('POST', '/api/categories', { token: admin, json: { name: 'RARE!', parentId: books.id } });
      expectProblem(taken, 409, 'SLUG_TAKEN');
      expect(fieldsAtFault(taken)).toEqual(['slug']);
      expectProblem(await t.call('POST', '/api/categories', { token: admin, json: { name: 'Other', slug: 'rare', parentId: books.id } }), 409, 'SLUG_TAKEN');
      expectProblem(await t.call('POST', '/api/categories', { token: admin, json: { name: 'Books again', slug: 'books' } }), 409, 'SLUG_TAKEN');
      // The same slug under another parent is fine.
      expect((await create({ name: 'Rare', parentId: music.id })).path).toBe('music/rare');
      // Accents are dropped; a name with nothing to make a slug from needs one given.
      expect((await create({ name: 'Éditions Originales', parentId: books.id })).slug).toBe('editions-originales');
      const noSlug = await t.call('POST', '/api/categories', { token: admin, json: { name: '古書' } });
      expectProblem(noSlug, 400, 'VALIDATION');
      expect(fieldsAtFault(noSlug)).toEqual(['slug']);
      expect((await create({ name: '古書', slug: 'kosho' })).path).toBe('kosho');
      // Renaming to a sibling's slug is refused too.
      const poetry = await create({ name: 'Poetry', parentId: books.id });
      expectProblem(await t.call('PATCH', `/api/categories/${poetry.id}`, { token: admin, json: { slug: 'rare' } }), 409, 'SLUG_TAKEN');
      // Moving next to a sibling with the same slug is refused.
      const musicRare = (await t.call('GET', '/api/categories?format=flat')).body.items.find((c: { path: string }) => c.path === 'music/rare');
      expectProblem(await t.call('PATCH', `/api/categories/${musicRare.id}`, { token: admin, json: { parentId: books.id } }), 409, 'SLUG_TAKEN');
    });

    it('renames keep the slug; moves change the path of the whole subtree; null moves to the top level', async () => {
      const home = await create({ name: 'Home' });
      const garden = await create({ name: 'Garden' });
      const tools = await create({ name: 'Tools', parentId: home.id });
      const saws = await create({ name: 'Saws', parentId: tools.id });

      const renamed = await t.call('PATCH', `/api/categories/${tools.id}`, { token: admin, json: { name: 'Hand Tools' } });
      expect(renamed.body).toMatchObject({ name: 'Hand Tools', slug: 'tools', path: 'home/tools' });

      const moved = await t.call('PATCH', `/api/categories/${tools.id}`, { token: admin, json: { parentId: garden.id } });
      expect(moved.status, moved.text).toBe(200);
      expect(moved.body).toMatchObject({ parentId: garden.id, path: 'garden/tools', depth: 1 });
      expect((await t.call('GET', `/api/categories/${saws.id}`)).body.path).toBe('garden/tools/saws');
      expect(await t.node.catalog.service.descendantIds(home.id)).toEqual([home.id]);

      const top = await t.call('PATCH', `/api/categories/${tools.id}`, { token: admin, json: { parentId: null, slug: 'all-tools' } });
      expect(top.body).toMatchObject({ parentId: null, path: 'all-tools', depth: 0 });
      expect((await t.call('GET', `/api/categories/${saws.id}`)).body.path).toBe('all-tools/saws');
    });

    it('refuses a move under the category itself or any of its subcategories, changing nothing', async () => {
      const a = await create({ name: 'Cycle A' });
      const b = await create({ name: 'Cycle B', parentId: a.id });
      const c = await create({ name: 'Cycle C', parentId: b.id });
      const before = await catalogSnapshot(t);
      for (const parentId of [a.id, b.id, c.id]) {
        const res = await t.call('PATCH', `/api/categories/${a.id}`, { token: admin, json: { parentId } });
        expectProblem(res, 409, 'CATEGORY_CYCLE');
        expect(fieldsAtFault(res)).toEqual(['parentId']);
      }
      expectProblem(await t.call('PATCH', `/api/categories/${b.id}`, { token: admin, json: { parentId: c.id } }), 409, 'CATEGORY_CYCLE');
      expect(await catalogSnapshot(t)).toEqual(before);
    });

    it('two opposite moves at once cannot make a loop: one wins, the other is refused', async () => {
      for (let round = 0; round < 5; round++) {
        const a = await create({ name: `Race A ${round}` });
        const b = await create({ name: `Race B ${round}` });
        const [ab, ba] = await Promise.all([
          t.call('PATCH', `/api/categories/${a.id}`, { token: admin, json: { parentId: b.id } }),
          t.call('PATCH', `/api/categories/${b.id}`, { token: admin, json: { parentId: a.id } }),
        ]);
        expect([ab.status, ba.status].sort()).toEqual([200, 409]);
        expect([ab, ba].find((r) => r.status === 409)!.body.code).toBe('CATEGORY_CYCLE');
        const paths = await Promise.all([a.id, b.id].map((id) => t.node.catalog.service.categoryPath(id)));
        expect(paths.map((p) => p.length).sort()).toEqual([1, 2]);
      }
    });

    it(`keeps the tree at most ${CATEGORY_DEPTH_MAX} levels deep, for new categories and for moved subtrees`, async () => {
      let parentId: string | null = null;
      const chain: string[] = [];
      for (let level = 1; level <= CATEGORY_DEPTH_MAX; level++) {
        const made: { id: string } = await create({ name: `Deep ${level}`, parentId });
        chain.push(made.id);
        parentId = made.id;
      }
      const tooDeep = await t.call('POST', '/api/categories', { token: admin, json: { name: 'One Too Deep', parentId } });
      expectProblem(tooDeep, 400, 'VALIDATION');
      expect(fieldsAtFault(tooDeep)).toEqual(['parentId']);
      // A two-level subtree fits under level 6 but not under level 7.
      const branch = await create({ name: 'Branch' });
      await create({ name: 'Leaf', parentId: branch.id });
      expect((await t.call('PATCH', `/api/categories/${branch.id}`, { token: admin, json: { parentId: chain[CATEGORY_DEPTH_MAX - 3] } })).status).toBe(200);
      expectProblem(await t.call('PATCH', `/api/categories/${branch.id}`, { token: admin, json: { parentId: chain[CATEGORY_DEPTH_MAX - 2] } }), 400, 'VALIDATION');
    });

    it('deletes only a category with no subcategories and no lots', async () => {
      const parent = await create({ name: 'Deletable Parent' });
      const child = await create({ name: 'Deletable Child', parentId: parent.id });
      const withChildren = await t.call('DELETE', `/api/categories/${parent.id}`, { token: admin });
      expectProblem(withChildren, 409, 'CATEGORY_NOT_EMPTY');

      const seller = await t.newUser('Category Seller', ['seller']);
      const lot = await t.call('POST', '/api/lots', { token: seller.token, json: { title: 'Filed here', description: '', categoryId: child.id, condition: 'new' } });
      expect(lot.status).toBe(201);
      expectProblem(await t.call('DELETE', `/api/categories/${child.id}`, { token: admin }), 409, 'CATEGORY_NOT_EMPTY');

      // Once the lot moves away, the child can go, and then the parent.
      const elsewhere = await create({ name: 'Elsewhere' });
      expect((await t.call('PATCH', `/api/lots/${lot.body.id}`, { token: seller.token, json: { categoryId: elsewhere.id } })).status).toBe(200);
      expect((await t.call('DELETE', `/api/categories/${child.id}`, { token: admin })).status).toBe(204);
      expect((await t.call('DELETE', `/api/categories/${parent.id}`, { token: admin })).status).toBe(204);
      expectProblem(await t.call('GET', `/api/categories/${parent.id}`), 404, 'NOT_FOUND');
      expectProblem(await t.call('DELETE', `/api/categories/${parent.id}`, { token: admin }), 404, 'NOT_FOUND');
    });

    it('only admins manage categories: others get 401 or 403 and nothing changes', async () => {
      const existing = await create({ name: 'Guarded' });
      const before = await catalogSnapshot(t);
      const seller = await t.newUser('Not An Admin', ['seller']);
      for (const token of [undefined, seller.token, 'forged-token']) {
        const [status, code] = token === seller.token ? [403, 'FORBIDDEN'] : [401, 'UNAUTHENTICATED'];
        const as = token === undefined ? {} : { token };
        expectProblem(await t.call('POST', '/api/categories', { ...as, json: { name: 'Sneaky' } }), status, code);
        expectProblem(await t.call('PATCH', `/api/categories/${existing.id}`, { ...as, json: { name: 'Sneaky' } }), status, code);
        expectProblem(await t.call('DELETE', `/api/categories/${existing.id}`, as), status, code);
      }
      expect(await catalogSnapshot(t)).toEqual(before);
    });

    it('a repeated create with the same Idempotency-Key answers the first result once', async () => {
      const headers = { 'idempotency-key': `category-${dialect}` };
      const first = await t.call('POST', '/api/categories', { token: admin, headers, json: { name: 'Once Only' } });
      const again = await t.call('POST', '/api/categories', { token: admin, headers, json: { name: 'Once Only' } });
      expect(first.status).toBe(201);
      expect(again.status).toBe(201);
      expect(again.body).toEqual(first.body);
      expect(again.headers['idempotent-replayed']).toBe('true');
    });
  });
}
