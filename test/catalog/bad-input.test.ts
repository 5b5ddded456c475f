// Bad input to the catalog routes is an answer, not a crash (DESIGN rule 6). Every row is
// answered with a 4xx problem naming the field at fault; after the whole table the catalog's
// tables and its images directory hold exactly what they held before.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProblemCode } from '../../src/platform/errors.js';
import { CATEGORY_NAME_MAX_LENGTH, IMAGES_PER_LOT_MAX, LOT_DESCRIPTION_MAX_LENGTH, LOT_TITLE_MAX_LENGTH } from '../../src/catalog/model.js';
import { DIALECTS } from '../support/databases.js';
import { startTestNode, type TestNode } from '../support/gavel.js';
import { expectProblem, fieldsAtFault, ROOMY_LIMITS } from '../support/problems.js';
import { catalogSnapshot, tinyPng, upload } from './fixtures.js';

interface Fixture {
  categoryId: string;
  lotId: string;
  imageId: string;
}

interface Row {
  name: string;
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  url: string | ((f: Fixture) => string);
  as: 'admin' | 'seller';
  json?: unknown | ((f: Fixture) => unknown);
  raw?: string;
  status: number;
  code: ProblemCode;
  /** A field some error must name. */
  field?: string;
}

const NOBODY = '01890000-0000-7000-8000-000000000000';
const lot = (over: Record<string, unknown>) => (f: Fixture) => ({ title: 'A fine lot', description: 'Described.', categoryId: f.categoryId, condition: 'new', ...over });
const lotWithout = (key: string) => (f: Fixture) => {
  const body: Record<string, unknown> = lot({})(f);
  delete body[key];
  return body;
};

/** Values of the wrong JSON type for a string field. */
const NOT_STRINGS: Array<[string, unknown]> = [
  ['a number', 42],
  ['null', null],
  ['a boolean', true],
  ['an array', ['x']],
  ['an object', { value: 'x' }],
];
const BAD_LINES: Array<[string, string]> = [
  ['empty', ''],
  ['only spaces', '   '],
  ['a leading space', ' Leica'],
  ['a trailing newline', 'Leica\n'],
  ['a line break inside', 'Lei\nca'],
  ['a bell character', 'Lei\u0007ca'],
  ['an escape character', 'Lei\u001bca'],
];
const BAD_SLUGS = ['Has Space', 'UPPER', '-lead', 'trail-', 'double--dash', 'under_score', 'dots.in', 'ü', '', 's'.repeat(81)];
const BAD_UUIDS: Array<[string, unknown]> = [
  ['not a uuid', 'cameras'],
  ['a uuid without dashes', '018900000000700080000000000000000'],
  ['a number', 7],
  ['an object', { id: NOBODY }],
];

const LOTS = '/api/lots';
const CATS = '/api/categories';

const ROWS: Row[] = [
  // --- POST /api/lots ------------------------------------------------------------------------
  ...['title', 'description', 'categoryId', 'condition'].map((field): Row => ({ name: `lot: ${field} missing`, method: 'POST', url: LOTS, as: 'seller', json: lotWithout(field), status: 400, code: 'VALIDATION', field })),
  ...['id', 'sellerId', 'locked', 'lockedBy', 'images', 'createdAt', 'price'].map((field): Row => ({ name: `lot: unknown field ${field}`, method: 'POST', url: LOTS, as: 'seller', json: lot({ [field]: 'x' }), status: 400, code: 'VALIDATION', field })),
  ...['title', 'description', 'condition'].flatMap((field) =>
    NOT_STRINGS.map(([what, value]): Row => ({ name: `lot: ${field} is ${what}`, method: 'POST', url: LOTS, as: 'seller', json: lot({ [field]: value }), status: 400, code: 'VALIDATION', field })),
  ),
  ...BAD_UUIDS.map(([what, value]): Row => ({ name: `lot: categoryId is ${what}`, method: 'POST', url: LOTS, as: 'seller', json: lot({ categoryId: value }), status: 400, code: 'VALIDATION', field: 'categoryId' })),
  ...BAD_LINES.map(([what, title]): Row => ({ name: `lot: title is ${what}`, method: 'POST', url: LOTS, as: 'seller', json: lot({ title }), status: 400, code: 'VALIDATION', field: 'title' })),
  { name: 'lot: title too long', method: 'POST', url: LOTS, as: 'seller', json: lot({ title: 't'.repeat(LOT_TITLE_MAX_LENGTH + 1) }), status: 400, code: 'VALIDATION', field: 'title' },
  { name: 'lot: description too long', method: 'POST', url: LOTS, as: 'seller', json: lot({ description: 'd'.repeat(LOT_DESCRIPTION_MAX_LENGTH + 1) }), status: 400, code: 'VALIDATION', field: 'description' },
  { name: 'lot: description with a bell character', method: 'POST', url: LOTS, as: 'seller', json: lot({ description: 'ring \u0007 ring' }), status: 400, code: 'VALIDATION', field: 'description' },
  { name: 'lot: condition not on the list', method: 'POST', url: LOTS, as: 'seller', json: lot({ condition: 'mint' }), status: 400, code: 'VALIDATION', field: 'condition' },
  { name: 'lot: condition in capitals', method: 'POST', url: LOTS, as: 'seller', json: lot({ condition: 'NEW' }), status: 400, code: 'VALIDATION', field: 'condition' },
  { name: 'lot: category that does not exist', method: 'POST', url: LOTS, as: 'seller', json: lot({ categoryId: NOBODY }), status: 404, code: 'NOT_FOUND', field: 'categoryId' },
  { name: 'lot: the body is an array', method: 'POST', url: LOTS, as: 'seller', json: (f: Fixture) => [lot({})(f)], status: 400, code: 'VALIDATION' },
  { name: 'lot: the body is null', method: 'POST', url: LOTS, as: 'seller', json: null, status: 400, code: 'VALIDATION' },
  { name: 'lot: malformed JSON', method: 'POST', url: LOTS, as: 'seller', raw: '{"title": "A fine lot",', status: 400, code: 'MALFORMED_JSON' },
  { name: 'lot: __proto__ key', method: 'POST', url: LOTS, as: 'seller', raw: '{"__proto__": {"sellerId": "x"}, "title": "A fine lot"}', status: 400, code: 'MALFORMED_JSON' },

  // --- PATCH /api/lots/{id} ------------------------------------------------------------------
  { name: 'lot patch: nothing to change', method: 'PATCH', url: (f) => `${LOTS}/${f.lotId}`, as: 'seller', json: {}, status: 400, code: 'VALIDATION' },
  { name: 'lot patch: sellerId', method: 'PATCH', url: (f) => `${LOTS}/${f.lotId}`, as: 'seller', json: { sellerId: NOBODY }, status: 400, code: 'VALIDATION', field: 'sellerId' },
  { name: 'lot patch: unlock itself', method: 'PATCH', url: (f) => `${LOTS}/${f.lotId}`, as: 'seller', json: { locked: false }, status: 400, code: 'VALIDATION', field: 'locked' },
  { name: 'lot patch: title null', method: 'PATCH', url: (f) => `${LOTS}/${f.lotId}`, as: 'seller', json: { title: null }, status: 400, code: 'VALIDATION', field: 'title' },
  { name: 'lot patch: condition unknown', method: 'PATCH', url: (f) => `${LOTS}/${f.lotId}`, as: 'seller', json: { condition: 'broken' }, status: 400, code: 'VALIDATION', field: 'condition' },
  { name: 'lot patch: categoryId not a uuid', method: 'PATCH', url: (f) => `${LOTS}/${f.lotId}`, as: 'seller', json: { categoryId: 'film' }, status: 400, code: 'VALIDATION', field: 'categoryId' },
  { name: 'lot patch: categoryId of nothing', method: 'PATCH', url: (f) => `${LOTS}/${f.lotId}`, as: 'seller', json: { categoryId: NOBODY }, status: 404, code: 'NOT_FOUND', field: 'categoryId' },
  { name: 'lot patch: id in the path not a uuid', method: 'PATCH', url: `${LOTS}/not-a-uuid`, as: 'seller', json: { title: 'x' }, status: 400, code: 'VALIDATION', field: 'id' },
  { name: 'lot patch: a lot that does not exist', method: 'PATCH', url: `${LOTS}/${NOBODY}`, as: 'seller', json: { title: 'x' }, status: 404, code: 'NOT_FOUND' },

  // --- other lot routes --------------------------------------------------------------------
  { name: 'lot read: id not a uuid', method: 'GET', url: `${LOTS}/12345`, as: 'seller', status: 400, code: 'VALIDATION', field: 'id' },
  { name: 'lot delete: id not a uuid', method: 'DELETE', url: `${LOTS}/12345`, as: 'seller', status: 400, code: 'VALIDATION', field: 'id' },
  { name: 'lot list: limit 0', method: 'GET', url: `${LOTS}?limit=0`, as: 'seller', status: 400, code: 'VALIDATION', field: 'limit' },
  { name: 'lot list: limit 101', method: 'GET', url: `${LOTS}?limit=101`, as: 'seller', status: 400, code: 'VALIDATION', field: 'limit' },
  { name: 'lot list: limit text', method: 'GET', url: `${LOTS}?limit=ten`, as: 'seller', status: 400, code: 'VALIDATION', field: 'limit' },
  { name: 'lot list: limit infinite', method: 'GET', url: `${LOTS}?limit=1e400`, as: 'seller', status: 400, code: 'VALIDATION', field: 'limit' },
  { name: 'lot list: sellerId neither me nor a uuid', method: 'GET', url: `${LOTS}?sellerId=someone`, as: 'seller', status: 400, code: 'VALIDATION', field: 'sellerId' },
  { name: 'lot list: unknown query parameter', method: 'GET', url: `${LOTS}?status=open`, as: 'seller', status: 400, code: 'VALIDATION', field: 'status' },
  { name: 'lot list: a forged cursor', method: 'GET', url: `${LOTS}?cursor=${Buffer.from('{"k":"x"}').toString('base64url')}`, as: 'seller', status: 400, code: 'VALIDATION', field: 'cursor' },

  // --- images (JSON routes) ----------------------------------------------------------------
  { name: 'image order: not a list', method: 'PUT', url: (f) => `${LOTS}/${f.lotId}/images/order`, as: 'seller', json: { imageIds: 'all' }, status: 400, code: 'VALIDATION', field: 'imageIds' },
  { name: 'image order: ids not uuids', method: 'PUT', url: (f) => `${LOTS}/${f.lotId}/images/order`, as: 'seller', json: { imageIds: ['first'] }, status: 400, code: 'VALIDATION', field: 'imageIds.0' },
  { name: 'image order: too many ids', method: 'PUT', url: (f) => `${LOTS}/${f.lotId}/images/order`, as: 'seller', json: { imageIds: Array.from({ length: IMAGES_PER_LOT_MAX + 1 }, () => NOBODY) }, status: 400, code: 'VALIDATION', field: 'imageIds' },
  { name: 'image order: an id of nothing', method: 'PUT', url: (f) => `${LOTS}/${f.lotId}/images/order`, as: 'seller', json: { imageIds: [NOBODY] }, status: 400, code: 'VALIDATION', field: 'imageIds' },
  { name: 'image order: missing', method: 'PUT', url: (f) => `${LOTS}/${f.lotId}/images/order`, as: 'seller', json: {}, status: 400, code: 'VALIDATION', field: 'imageIds' },
  { name: 'image delete: image id not a uuid', method: 'DELETE', url: (f) => `${LOTS}/${f.lotId}/images/cover`, as: 'seller', status: 400, code: 'VALIDATION', field: 'imageId' },
  { name: 'image read: id not a uuid', method: 'GET', url: '/api/images/cover.png', as: 'seller', status: 400, code: 'VALIDATION', field: 'imageId' },

  // --- POST /api/categories ----------------------------------------------------------------
  { name: 'category: name missing', method: 'POST', url: CATS, as: 'admin', json: { slug: 'x' }, status: 400, code: 'VALIDATION', field: 'name' },
  ...NOT_STRINGS.map(([what, value]): Row => ({ name: `category: name is ${what}`, method: 'POST', url: CATS, as: 'admin', json: { name: value }, status: 400, code: 'VALIDATION', field: 'name' })),
  ...BAD_LINES.map(([what, name]): Row => ({ name: `category: name is ${what}`, method: 'POST', url: CATS, as: 'admin', json: { name }, status: 400, code: 'VALIDATION', field: 'name' })),
  { name: 'category: name too long', method: 'POST', url: CATS, as: 'admin', json: { name: 'n'.repeat(CATEGORY_NAME_MAX_LENGTH + 1) }, status: 400, code: 'VALIDATION', field: 'name' },
  ...BAD_SLUGS.map((slug): Row => ({ name: `category: slug ${JSON.stringify(slug.slice(0, 12))}`, method: 'POST', url: CATS, as: 'admin', json: { name: 'Fine Name', slug }, status: 400, code: 'VALIDATION', field: 'slug' })),
  ...BAD_UUIDS.map(([what, value]): Row => ({ name: `category: parentId is ${what}`, method: 'POST', url: CATS, as: 'admin', json: { name: 'Fine Name', parentId: value }, status: 400, code: 'VALIDATION', field: 'parentId' })),
  { name: 'category: parent that does not exist', method: 'POST', url: CATS, as: 'admin', json: { name: 'Orphan', parentId: NOBODY }, status: 404, code: 'NOT_FOUND', field: 'parentId' },
  ...['id', 'path', 'depth', 'children'].map((field): Row => ({ name: `category: unknown field ${field}`, method: 'POST', url: CATS, as: 'admin', json: { name: 'Fine Name', [field]: 'x' }, status: 400, code: 'VALIDATION', field })),

  // --- PATCH / DELETE /api/categories/{id} ---------------------------------------------------
  { name: 'category patch: nothing to change', method: 'PATCH', url: (f) => `${CATS}/${f.categoryId}`, as: 'admin', json: {}, status: 400, code: 'VALIDATION' },
  { name: 'category patch: unknown field', method: 'PATCH', url: (f) => `${CATS}/${f.categoryId}`, as: 'admin', json: { path: 'a/b' }, status: 400, code: 'VALIDATION', field: 'path' },
  { name: 'category patch: parentId "root"', method: 'PATCH', url: (f) => `${CATS}/${f.categoryId}`, as: 'admin', json: { parentId: 'root' }, status: 400, code: 'VALIDATION', field: 'parentId' },
  { name: 'category patch: itself as parent', method: 'PATCH', url: (f) => `${CATS}/${f.categoryId}`, as: 'admin', json: { parentId: 'SELF' }, status: 409, code: 'CATEGORY_CYCLE', field: 'parentId' },
  { name: 'category patch: bad slug', method: 'PATCH', url: (f) => `${CATS}/${f.categoryId}`, as: 'admin', json: { slug: 'Bad Slug' }, status: 400, code: 'VALIDATION', field: 'slug' },
  { name: 'category patch: name null', method: 'PATCH', url: (f) => `${CATS}/${f.categoryId}`, as: 'admin', json: { name: null }, status: 400, code: 'VALIDATION', field: 'name' },
  { name: 'category patch: id not a uuid', method: 'PATCH', url: `${CATS}/cameras`, as: 'admin', json: { name: 'x' }, status: 400, code: 'VALIDATION', field: 'id' },
  { name: 'category patch: does not exist', method: 'PATCH', url: `${CATS}/${NOBODY}`, as: 'admin', json: { name: 'Renamed' }, status: 404, code: 'NOT_FOUND' },
  { name: 'category delete: id not a uuid', method: 'DELETE', url: `${CATS}/cameras`, as: 'admin', status: 400, code: 'VALIDATION', field: 'id' },
  { name: 'category delete: with a lot in it', method: 'DELETE', url: (f) => `${CATS}/${f.categoryId}`, as: 'admin', status: 409, code: 'CATEGORY_NOT_EMPTY' },
  { name: 'category list: unknown format', method: 'GET', url: `${CATS}?format=xml`, as: 'admin', status: 400, code: 'VALIDATION', field: 'format' },
  { name: 'category list: unknown parameter', method: 'GET', url: `${CATS}?depth=2`, as: 'admin', status: 400, code: 'VALIDATION', field: 'depth' },
];

for (const dialect of DIALECTS) {
  describe(`catalog bad input on ${dialect}`, () => {
    let t: TestNode;
    let tokens: Record<Row['as'], string>;
    let f: Fixture;

    beforeAll(async () => {
      t = await startTestNode(dialect, {}, { loginLimits: ROOMY_LIMITS });
      const seller = await t.newUser('Careful Seller', ['seller']);
      tokens = { admin: await t.adminToken(), seller: seller.token };
      const category = await t.call('POST', CATS, { token: tokens.admin, json: { name: 'Everything' } });
      const made = await t.call('POST', LOTS, { token: seller.token, json: { title: 'The one lot', description: '', categoryId: category.body.id, condition: 'new' } });
      const image = await upload(t, made.body.id, seller.token, [{ filename: 'a.png', data: tinyPng() }]);
      f = { categoryId: category.body.id, lotId: made.body.id, imageId: image.body.items[0].id };
    });
    afterAll(async () => t?.close());

    it('every row is a 4xx problem naming its field, and nothing is written', async () => {
      const before = await catalogSnapshot(t);
      const failures: string[] = [];
      for (const row of ROWS) {
        const url = typeof row.url === 'function' ? row.url(f) : row.url;
        let json = typeof row.json === 'function' ? (row.json as (f: Fixture) => unknown)(f) : row.json;
        if (json !== null && typeof json === 'object' && (json as Record<string, unknown>).parentId === 'SELF') json = { parentId: f.categoryId };
        const res = await t.call(row.method, url, {
          token: tokens[row.as],
          ...(row.raw !== undefined ? { payload: row.raw, contentType: 'application/json' } : json !== undefined || 'json' in row ? { json } : {}),
        });
        try {
          expectProblem(res, row.status, row.code);
          if (row.field !== undefined) expect(fieldsAtFault(res)).toContain(row.field);
        } catch (error) {
          failures.push(`${row.name}: ${(error as Error).message.split('\n')[0]} — ${res.text.slice(0, 300)}`);
        }
      }
      expect(failures).toEqual([]);
      expect(await catalogSnapshot(t)).toEqual(before);
    });
  });
}
