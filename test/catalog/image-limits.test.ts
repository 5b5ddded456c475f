// GET /api/images/limits: what a lot image upload accepts, so the seller's form can say so
// before the upload. The figures are the ones the upload route enforces.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode, type TestNode } from '../support/gavel.js';
import { expectProblem } from '../support/problems.js';
import { tinyPng, upload } from './fixtures.js';

const IMAGE_MAX_BYTES = 2048;

describe('lot image limits', () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await startTestNode('sqlite', { imageMaxBytes: IMAGE_MAX_BYTES });
  });
  afterAll(async () => t?.close());

  it('answers the configured size, the accepted types and the count per lot, to anyone', async () => {
    const res = await t.call('GET', '/api/images/limits');
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ contentTypes: ['image/jpeg', 'image/png', 'image/webp'], imageMaxBytes: IMAGE_MAX_BYTES, imagesPerLotMax: 12 });
  });

  it('is the limit the upload enforces: a file one byte over it is refused with 413', async () => {
    const seller = await t.newUser('Limits Seller', ['seller']);
    const category = await t.call('POST', '/api/categories', { token: await t.adminToken(), json: { name: 'Limits' } });
    const lot = await t.call('POST', '/api/lots', { token: seller.token, json: { title: 'A lot', description: '', categoryId: category.body.id, condition: 'new' } });
    const limit = (await t.call('GET', '/api/images/limits')).body.imageMaxBytes as number;
    const png = tinyPng();
    const over = Buffer.concat([png, Buffer.alloc(limit + 1 - png.length)]);
    expectProblem(await upload(t, lot.body.id, seller.token, [{ filename: 'big.png', contentType: 'image/png', data: over }]), 413, 'IMAGE_TOO_LARGE');
    const atLimit = Buffer.concat([png, Buffer.alloc(limit - png.length)]);
    expect((await upload(t, lot.body.id, seller.token, [{ filename: 'ok.png', contentType: 'image/png', data: atLimit }])).status).toBe(201);
  });

  it('does not shadow the images themselves: an unknown image id is still a 404', async () => {
    expectProblem(await t.call('GET', '/api/images/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b'), 404, 'NOT_FOUND');
  });
});
