// Lot images: upload (multipart), checks by content and size, storage under the data dir,
// serving with long-lived caching, deletion and order — on every database.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGES_PER_LOT_MAX } from '../../src/catalog/model.js';
import { DIALECTS } from '../support/databases.js';
import { startTestNode, type TestNode } from '../support/gavel.js';
import { expectProblem, fieldsAtFault, ROOMY_LIMITS } from '../support/problems.js';
import { catalogSnapshot, imageFiles, multipart, tinyJpeg, tinyPng, upload, webpHead } from './fixtures.js';

/** Small, so "too large" needs only a few kilobytes. */
const IMAGE_MAX_BYTES = 4096;

for (const dialect of DIALECTS) {
  describe(`lot images on ${dialect}`, () => {
    let t: TestNode;
    let seller: { id: string; token: string };
    let categoryId: string;

    beforeAll(async () => {
      t = await startTestNode(dialect, { imageMaxBytes: IMAGE_MAX_BYTES }, { loginLimits: ROOMY_LIMITS });
      seller = await t.newUser('Image Seller', ['seller']);
      const made = await t.call('POST', '/api/categories', { token: await t.adminToken(), json: { name: 'Photographs' } });
      categoryId = made.body.id;
    });
    afterAll(async () => t?.close());

    const newLot = async (token = seller.token) => {
      const res = await t.call('POST', '/api/lots', { token, json: { title: 'A lot with pictures', description: 'See the photos.', categoryId, condition: 'used_good' } });
      expect(res.status, res.text).toBe(201);
      return res.body.id as string;
    };

    it('a seller uploads a PNG and a JPEG in one request; both are stored under the data dir and served with their type and cache headers', async () => {
      const lotId = await newLot();
      const png = tinyPng();
      const jpeg = tinyJpeg();
      const res = await upload(t, lotId, seller.token, [
        { filename: 'front.png', contentType: 'image/png', data: png },
        { filename: 'back.jpg', contentType: 'image/jpeg', data: jpeg },
      ]);
      expect(res.status, res.text).toBe(201);
      expect(res.body.items).toHaveLength(2);
      const [first, second] = res.body.items;
      expect(first).toMatchObject({ contentType: 'image/png', sizeBytes: png.length, position: 0, url: `/api/images/${first.id}` });
      expect(second).toMatchObject({ contentType: 'image/jpeg', sizeBytes: jpeg.length, position: 1 });
      expect(res.headers.location).toBe(first.url);

      // On disk exactly where the docs say, with exactly the bytes sent.
      expect(readFileSync(join(t.storage.dataDir, 'images', lotId, `${first.id}.png`)).equals(png)).toBe(true);
      expect(readFileSync(join(t.storage.dataDir, 'images', lotId, `${second.id}.jpg`)).equals(jpeg)).toBe(true);
      expect(imageFiles(t).filter((f) => f.startsWith('.incoming/'))).toEqual([]);

      const served = await t.node.http.inject({ method: 'GET', url: first.url });
      expect(served.statusCode).toBe(200);
      expect(served.headers['content-type']).toBe('image/png');
      expect(served.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(served.headers['x-content-type-options']).toBe('nosniff');
      expect(served.headers.etag).toBe(`"${createHash('sha256').update(png).digest('hex')}"`);
      expect(Number(served.headers['content-length'])).toBe(png.length);
      expect(served.rawPayload.equals(png)).toBe(true);

      const jpegServed = await t.node.http.inject({ method: 'GET', url: second.url });
      expect(jpegServed.headers['content-type']).toBe('image/jpeg');
      expect(jpegServed.rawPayload.equals(jpeg)).toBe(true);

      // The lot shows its gallery in order.
      const lot = await t.call('GET', `/api/lots/${lotId}`);
      expect(lot.body.images.map((i: { id: string }) => i.id)).toEqual([first.id, second.id]);
      expect((await t.node.catalog.service.lotSummary(lotId)).imageUrls).toEqual([first.url, second.url]);
    });

    it('answers 304 to If-None-Match with the current ETag (also weak, or in a list) and the bytes to any other', async () => {
      const lotId = await newLot();
      const { body } = await upload(t, lotId, seller.token, [{ filename: 'a.png', data: tinyPng([1, 2, 3]) }]);
      const url = body.items[0].url;
      const first = await t.node.http.inject({ method: 'GET', url });
      const etag = String(first.headers.etag);
      for (const header of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
        const again = await t.node.http.inject({ method: 'GET', url, headers: { 'if-none-match': header } });
        expect(again.statusCode, header).toBe(304);
        expect(again.rawPayload.length).toBe(0);
        expect(again.headers.etag).toBe(etag);
        expect(again.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      }
      const stale = await t.node.http.inject({ method: 'GET', url, headers: { 'if-none-match': '"not-the-etag"' } });
      expect(stale.statusCode).toBe(200);
      expect(stale.rawPayload.equals(tinyPng([1, 2, 3]))).toBe(true);
    });

    it('judges the type by the bytes: text named .png and declared image/png is refused with 415, and nothing is written', async () => {
      const lotId = await newLot();
      const before = await catalogSnapshot(t);
      const forged = await upload(t, lotId, seller.token, [{ filename: 'photo.png', contentType: 'image/png', data: 'this is not a picture at all, only text' }]);
      expectProblem(forged, 415, 'IMAGE_TYPE_UNSUPPORTED');
      for (const [what, data] of [
        ['an SVG', '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'],
        ['a GIF', Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1')],
        ['an empty file', Buffer.alloc(0)],
        ['half a PNG signature', tinyPng().subarray(0, 4)],
        ['HTML', '<!doctype html><p>hello'],
      ] as const) {
        const res = await upload(t, lotId, seller.token, [{ filename: 'x.jpg', contentType: 'image/jpeg', data }]);
        expectProblem(res, 415, 'IMAGE_TYPE_UNSUPPORTED');
        expect(res.body.detail, what).toMatch(/not a JPEG, PNG or WebP/);
      }
      // A good file followed by a bad one: all or nothing.
      const mixed = await upload(t, lotId, seller.token, [{ filename: 'ok.png', data: tinyPng() }, { filename: 'bad.png', data: 'text' }]);
      expectProblem(mixed, 415, 'IMAGE_TYPE_UNSUPPORTED');
      expect(await catalogSnapshot(t)).toEqual(before);
    });

    it('accepts a file whose declared type is wrong but whose bytes are an image, and serves it as what it is', async () => {
      const lotId = await newLot();
      const res = await upload(t, lotId, seller.token, [{ filename: 'scan.bin', contentType: 'application/octet-stream', data: tinyJpeg() }]);
      expect(res.status, res.text).toBe(201);
      expect(res.body.items[0].contentType).toBe('image/jpeg');
      const webp = Buffer.concat([webpHead(), Buffer.alloc(16)]);
      const asWebp = await upload(t, lotId, seller.token, [{ filename: 'photo.png', contentType: 'image/png', data: webp }]);
      expect(asWebp.status, asWebp.text).toBe(201);
      expect(asWebp.body.items[0].contentType).toBe('image/webp');
      expect(existsSync(join(t.storage.dataDir, 'images', lotId, `${asWebp.body.items[0].id}.webp`))).toBe(true);
    });

    it('refuses a file over the size limit with 413 and leaves no file behind, not even a temporary one', async () => {
      const lotId = await newLot();
      const before = await catalogSnapshot(t);
      const exactly = Buffer.concat([tinyPng(), Buffer.alloc(IMAGE_MAX_BYTES - tinyPng().length)]);
      const over = Buffer.concat([exactly, Buffer.from([0])]);
      const far = Buffer.concat([exactly, Buffer.alloc(256 * 1024)]);
      for (const data of [over, far]) {
        const res = await upload(t, lotId, seller.token, [{ filename: 'big.png', data }]);
        expectProblem(res, 413, 'IMAGE_TOO_LARGE');
      }
      // The second file too large, the first fine: neither is kept.
      const second = await upload(t, lotId, seller.token, [{ filename: 'ok.png', data: tinyPng() }, { filename: 'big.png', data: over }]);
      expectProblem(second, 413, 'IMAGE_TOO_LARGE');
      expect(await catalogSnapshot(t)).toEqual(before);
      expect(imageFiles(t).filter((f) => f.startsWith(`${lotId}/`) || f.startsWith('.incoming/'))).toEqual([]);

      const atLimit = await upload(t, lotId, seller.token, [{ filename: 'limit.png', data: exactly }]);
      expect(atLimit.status, atLimit.text).toBe(201);
      expect(atLimit.body.items[0].sizeBytes).toBe(IMAGE_MAX_BYTES);
    });

    it(`keeps at most ${IMAGES_PER_LOT_MAX} images per lot, counting those it has`, async () => {
      const lotId = await newLot();
      const many = (n: number) => Array.from({ length: n }, (_, i) => ({ filename: `p${i}.png`, data: tinyPng([i, i, i]) }));
      const before = await catalogSnapshot(t);
      const tooMany = await upload(t, lotId, seller.token, many(IMAGES_PER_LOT_MAX + 1));
      expectProblem(tooMany, 409, 'IMAGE_LIMIT_REACHED');
      expect(await catalogSnapshot(t)).toEqual(before);

      expect((await upload(t, lotId, seller.token, many(IMAGES_PER_LOT_MAX - 1))).status).toBe(201);
      const overByOne = await upload(t, lotId, seller.token, many(2));
      expectProblem(overByOne, 409, 'IMAGE_LIMIT_REACHED');
      expect((await upload(t, lotId, seller.token, many(1))).status).toBe(201);
      expectProblem(await upload(t, lotId, seller.token, many(1)), 409, 'IMAGE_LIMIT_REACHED');
      expect(imageFiles(t).filter((f) => f.startsWith(`${lotId}/`))).toHaveLength(IMAGES_PER_LOT_MAX);
    });

    it('two uploads at once that together pass the limit: one is kept whole, the other refused with no file left', async () => {
      const lotId = await newLot();
      const seven = Array.from({ length: 7 }, (_, i) => ({ filename: `p${i}.png`, data: tinyPng([i, 0, 0]) }));
      const answers = await Promise.all([upload(t, lotId, seller.token, seven), upload(t, lotId, seller.token, seven)]);
      expect(answers.map((a) => a.status).sort()).toEqual([201, 409]);
      expect(answers.find((a) => a.status === 409)!.body.code).toBe('IMAGE_LIMIT_REACHED');
      const lot = await t.call('GET', `/api/lots/${lotId}`);
      expect(lot.body.images.map((i: { position: number }) => i.position)).toEqual([0, 1, 2, 3, 4, 5, 6]);
      expect(imageFiles(t).filter((f) => f.startsWith(`${lotId}/`))).toEqual(lot.body.images.map((i: { id: string }) => `${lotId}/${i.id}.png`).sort());
      expect(imageFiles(t).filter((f) => f.startsWith('.incoming/'))).toEqual([]);
    });

    it('only the seller (or an admin) adds or removes images; a missing lot or image is 404; nothing is written', async () => {
      const lotId = await newLot();
      const own = await upload(t, lotId, seller.token, [{ filename: 'a.png', data: tinyPng() }]);
      const imageId = own.body.items[0].id;
      const before = await catalogSnapshot(t);

      const otherSeller = await t.newUser('Other Seller', ['seller']);
      const bidder = await t.newUser('Just A Bidder');
      expectProblem(await upload(t, lotId, otherSeller.token, [{ filename: 'b.png', data: tinyPng() }]), 403, 'FORBIDDEN');
      expectProblem(await upload(t, lotId, bidder.token, [{ filename: 'b.png', data: tinyPng() }]), 403, 'FORBIDDEN');
      expectProblem(await upload(t, lotId, undefined, [{ filename: 'b.png', data: tinyPng() }]), 401, 'UNAUTHENTICATED');
      expectProblem(await upload(t, '01890000-0000-7000-8000-000000000000', seller.token, [{ filename: 'b.png', data: tinyPng() }]), 404, 'NOT_FOUND');
      expectProblem(await upload(t, 'not-a-uuid', seller.token, [{ filename: 'b.png', data: tinyPng() }]), 400, 'VALIDATION');
      expectProblem(await t.call('DELETE', `/api/lots/${lotId}/images/${imageId}`, { token: otherSeller.token }), 403, 'FORBIDDEN');
      expectProblem(await t.call('DELETE', `/api/lots/${lotId}/images/01890000-0000-7000-8000-000000000000`, { token: seller.token }), 404, 'NOT_FOUND');
      // An image of another lot is not this lot's image.
      const otherLot = await newLot();
      expectProblem(await t.call('DELETE', `/api/lots/${otherLot}/images/${imageId}`, { token: seller.token }), 404, 'NOT_FOUND');
      expect(await catalogSnapshot(t)).toEqual({ ...(before as object), lots: expect.any(Array) });
      expect(imageFiles(t).filter((f) => f.startsWith(`${lotId}/`))).toEqual([`${lotId}/${imageId}.png`]);

      const admin = await upload(t, lotId, await t.adminToken(), [{ filename: 'c.png', data: tinyPng() }]);
      expect(admin.status).toBe(201);
    });

    it('the seller deletes an image: the row and the file go, the URL answers 404, and the rest close ranks in order', async () => {
      const lotId = await newLot();
      const { body } = await upload(t, lotId, seller.token, [
        { filename: 'a.png', data: tinyPng([1, 1, 1]) },
        { filename: 'b.png', data: tinyPng([2, 2, 2]) },
        { filename: 'c.png', data: tinyPng([3, 3, 3]) },
      ]);
      const [a, b, c] = body.items;
      const removed = await t.call('DELETE', `/api/lots/${lotId}/images/${b.id}`, { token: seller.token });
      expect(removed.status).toBe(204);
      expect(existsSync(join(t.storage.dataDir, 'images', lotId, `${b.id}.png`))).toBe(false);
      expectProblem(await t.call('GET', b.url), 404, 'NOT_FOUND');

      const reordered = await t.call('PUT', `/api/lots/${lotId}/images/order`, { token: seller.token, json: { imageIds: [c.id, a.id] } });
      expect(reordered.status, reordered.text).toBe(200);
      expect(reordered.body.items.map((i: { id: string; position: number }) => [i.id, i.position])).toEqual([
        [c.id, 0],
        [a.id, 1],
      ]);
      const lot = await t.call('GET', `/api/lots/${lotId}`);
      expect(lot.body.images.map((i: { id: string }) => i.id)).toEqual([c.id, a.id]);
      // The order must name every image once.
      for (const imageIds of [[c.id], [c.id, a.id, b.id], [c.id, c.id], []]) {
        const res = await t.call('PUT', `/api/lots/${lotId}/images/order`, { token: seller.token, json: { imageIds } });
        expectProblem(res, 400, 'VALIDATION');
        expect(fieldsAtFault(res)).toEqual(['imageIds']);
      }
      // A new image goes to the end.
      const added = await upload(t, lotId, seller.token, [{ filename: 'd.png', data: tinyPng([4, 4, 4]) }]);
      expect(added.body.items[0].position).toBe(2);
    });

    it('deleting a lot removes its images and their directory', async () => {
      const lotId = await newLot();
      const { body } = await upload(t, lotId, seller.token, [{ filename: 'a.png', data: tinyPng() }]);
      expect((await t.call('DELETE', `/api/lots/${lotId}`, { token: seller.token })).status).toBe(204);
      expect(existsSync(join(t.storage.dataDir, 'images', lotId))).toBe(false);
      expectProblem(await t.call('GET', body.items[0].url), 404, 'NOT_FOUND');
    });

    it('a locked lot refuses new images, deletions and reordering with 409', async () => {
      const lotId = await newLot();
      const { body } = await upload(t, lotId, seller.token, [{ filename: 'a.png', data: tinyPng() }]);
      await t.node.catalog.service.lockLot(lotId, 'auction:test');
      const before = await catalogSnapshot(t);
      expectProblem(await upload(t, lotId, seller.token, [{ filename: 'b.png', data: tinyPng() }]), 409, 'LOT_LOCKED');
      expectProblem(await t.call('DELETE', `/api/lots/${lotId}/images/${body.items[0].id}`, { token: seller.token }), 409, 'LOT_LOCKED');
      expectProblem(await t.call('PUT', `/api/lots/${lotId}/images/order`, { token: seller.token, json: { imageIds: [body.items[0].id] } }), 409, 'LOT_LOCKED');
      expect(await catalogSnapshot(t)).toEqual(before);
      // Still served: bidders see what they bid on.
      expect((await t.call('GET', body.items[0].url)).status).toBe(200);
    });

    it('refuses malformed multipart bodies, other part names and JSON with a 4xx problem, writing nothing', async () => {
      const lotId = await newLot();
      const before = await catalogSnapshot(t);
      const post = (payload: Buffer | string, contentType: string) => t.call('POST', `/api/lots/${lotId}/images`, { token: seller.token, payload, contentType });
      const good = multipart([{ filename: 'a.png', data: tinyPng() }]);

      expectProblem(await post(good.payload, 'multipart/form-data'), 400, 'VALIDATION'); // no boundary
      expectProblem(await post(good.payload.subarray(0, good.payload.length - 30), good.contentType), 400, 'VALIDATION'); // cut short
      expectProblem(await post('', good.contentType), 400, 'VALIDATION'); // no parts
      expectProblem(await post(multipart([]).payload, multipart([]).contentType), 400, 'VALIDATION');
      const named = multipart([{ name: 'picture', filename: 'a.png', data: tinyPng() }]);
      const wrongName = await post(named.payload, named.contentType);
      expectProblem(wrongName, 400, 'VALIDATION');
      expect(fieldsAtFault(wrongName)).toEqual(['picture']);
      const field = multipart([{ name: 'title', data: 'a text field' }, { filename: 'a.png', data: tinyPng() }]);
      expectProblem(await post(field.payload, field.contentType), 400, 'VALIDATION');
      expectProblem(await post(JSON.stringify({ file: tinyPng().toString('base64') }), 'application/json'), 415, 'UNSUPPORTED_MEDIA_TYPE');
      expectProblem(await post(tinyPng(), 'image/png'), 415, 'UNSUPPORTED_MEDIA_TYPE');
      expect(await catalogSnapshot(t)).toEqual(before);
    });

    it('other routes still refuse multipart bodies with 415', async () => {
      const body = multipart([{ name: 'title', filename: 'x.png', data: tinyPng() }]);
      for (const [method, url] of [
        ['POST', '/api/lots'],
        ['POST', '/api/categories'],
        ['POST', '/api/user'],
        ['PUT', `/api/lots/01890000-0000-7000-8000-000000000000/images/order`],
      ] as const) {
        const res = await t.call(method, url, { token: await t.adminToken(), payload: body.payload, contentType: body.contentType });
        expectProblem(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
      }
    });

    it('serving an unknown image id is 404; a bad id is 400', async () => {
      expectProblem(await t.call('GET', '/api/images/01890000-0000-7000-8000-000000000000'), 404, 'NOT_FOUND');
      expectProblem(await t.call('GET', '/api/images/../../gavel.sqlite'), 404, 'ROUTE_NOT_FOUND');
      expectProblem(await t.call('GET', '/api/images/not-an-id'), 400, 'VALIDATION');
    });

    it('an image whose file went missing from disk is a 404 that is not cached', async () => {
      const lotId = await newLot();
      const { body } = await upload(t, lotId, seller.token, [{ filename: 'a.png', data: tinyPng() }]);
      rmSync(join(t.storage.dataDir, 'images', lotId, `${body.items[0].id}.png`));
      const res = await t.call('GET', body.items[0].url);
      expectProblem(res, 404, 'NOT_FOUND');
      expect(res.headers['cache-control']).toBeUndefined();
      expect(res.headers.etag).toBeUndefined();
    });

    it('at start, removes temporary files an interrupted upload left long ago, and keeps recent ones', async () => {
      const incoming = join(t.storage.dataDir, 'images', '.incoming');
      mkdirSync(incoming, { recursive: true });
      const old = join(incoming, 'old.part');
      const recent = join(incoming, 'recent.part');
      writeFileSync(old, 'half an upload');
      writeFileSync(recent, 'an upload in progress');
      const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
      utimesSync(old, twoHoursAgo, twoHoursAgo);
      await t.node.catalog.start!();
      expect(existsSync(old)).toBe(false);
      expect(existsSync(recent)).toBe(true);
    });
  });
}

for (const dialect of DIALECTS) {
  describe(`lot images over a real socket on ${dialect}`, () => {
    let t: TestNode;
    beforeAll(async () => {
      t = await startTestNode(dialect, { imageMaxBytes: IMAGE_MAX_BYTES, port: 0 }, { listen: true, loginLimits: ROOMY_LIMITS });
    });
    afterAll(async () => t?.close());

    it('an upload streamed in pieces that passes the limit is answered 413 while the client still sends; the connection stays usable; nothing is left on disk', async () => {
      const seller = await t.newUser('Socket Seller', ['seller']);
      const category = await t.call('POST', '/api/categories', { token: await t.adminToken(), json: { name: 'Socket Things' } });
      const lot = await t.call('POST', '/api/lots', { token: seller.token, json: { title: 'Streamed', description: '', categoryId: category.body.id, condition: 'new' } });
      // Over the image limit, within what any upload may carry (past that the connection is cut).
      const body = multipart([{ filename: 'big.png', data: Buffer.concat([tinyPng(), Buffer.alloc(64 * 1024)]) }]);
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const answer = await new Promise<{ status: number; connection: string | undefined; text: string; answeredBeforeEnd: boolean }>((resolve, reject) => {
          let sentAll = false;
          let answeredBeforeEnd = false;
          const req = request(`${t.node.url}/api/lots/${lot.body.id}/images`, {
            method: 'POST',
            agent,
            headers: { authorization: `Bearer ${seller.token}`, 'content-type': body.contentType, 'content-length': String(body.payload.length) },
          });
          req.on('error', reject);
          // Settled once the answer is read and the body is sent, so the connection is free again.
          const finished = new Promise((done) => req.on('finish', done));
          req.on('response', (res) => {
            answeredBeforeEnd = !sentAll;
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (text += c));
            res.on('end', () => void finished.then(() => resolve({ status: res.statusCode!, connection: res.headers.connection, text, answeredBeforeEnd })));
          });
          const write = (at: number) => {
            if (at >= body.payload.length) {
              sentAll = true;
              return void req.end();
            }
            req.write(body.payload.subarray(at, at + 1024), () => setTimeout(() => write(at + 1024), 0));
          };
          write(0);
        });
        expect(answer.status, answer.text).toBe(413);
        expect(JSON.parse(answer.text)).toMatchObject({ code: 'IMAGE_TOO_LARGE' });
        expect(answer.answeredBeforeEnd).toBe(true);
        expect(answer.connection).not.toBe('close');
        expect(imageFiles(t)).toEqual([]);
        // The same connection answers the next request.
        const next = await new Promise<{ status: number; reused: boolean }>((resolve, reject) => {
          const req = request(`${t.node.url}/up`, { agent }, (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode!, reused: req.reusedSocket }));
          });
          req.on('error', reject);
          req.end();
        });
        expect(next).toEqual({ status: 200, reused: true });
      } finally {
        agent.destroy();
      }
    });
  });
}
