// The users API of seed 004 (/api/user) as a client sees it, on every storage dialect:
// CRUD with partial update, count, cursor pagination, the error documents, and who may do what.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../support/databases.js';
import { startTestNode, type Answer, type TestNode } from '../support/gavel.js';
import { ROOMY_LIMITS, uniqueEmail, expectProblem, fieldsAtFault } from '../support/problems.js';

for (const dialect of DIALECTS) {
  describe(`users API on ${dialect}`, () => {
    let t: TestNode;
    let admin: string;
    beforeAll(async () => {
      t = await startTestNode(dialect, {}, { loginLimits: ROOMY_LIMITS });
      admin = await t.adminToken();
    });
    afterAll(async () => t?.close());

    /** Creates a user as the admin; fails the test unless it answers 201. */
    async function createUser(fields: Record<string, unknown> = {}): Promise<any> {
      const res = await t.call('POST', '/api/user', { token: admin, json: { name: 'Created Person', email: uniqueEmail(), ...fields } });
      expect(res.status, res.text).toBe(201);
      return res.body;
    }

    async function readAsAdmin(id: string): Promise<any> {
      const res = await t.call('GET', `/api/user/${id}`, { token: admin });
      expect(res.status, res.text).toBe(200);
      return res.body;
    }

    async function countUsers(): Promise<number> {
      const res = await t.call('GET', '/api/user/count', { token: admin });
      expect(res.status, res.text).toBe(200);
      return res.body.count as number;
    }

    describe('reading and creating', () => {
      it('an admin creates a user, reads it back, and it counts', async () => {
        const before = await t.call('GET', '/api/user/count', { token: admin });
        const created = await t.call('POST', '/api/user', { token: admin, json: { name: 'John Doe', email: 'john.doe@gmail.com', group: 3 } });
        expect(created.status).toBe(201);
        expect(created.body).toMatchObject({ name: 'John Doe', email: 'john.doe@gmail.com', group: 3, roles: ['bidder'], reputation: 50 });
        expect(created.headers.location).toBe(`/api/user/${created.body.id}`);
        const read = await t.call('GET', `/api/user/${created.body.id}`, { token: admin });
        expect(read.body).toEqual(created.body);
        const after = await t.call('GET', '/api/user/count', { token: admin });
        expect(after.body.count).toBe(before.body.count + 1);
      });

      it('a created user has a UUID id, group 0 by default, ISO timestamps and no password in the answer', async () => {
        const created = await createUser({ password: 'a-long-password-1' });
        expect(created.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        expect(created.group).toBe(0);
        expect(new Date(created.createdAt).toISOString()).toBe(created.createdAt);
        expect(created.updatedAt).toBe(created.createdAt);
        expect(Object.keys(created).sort()).toEqual(['createdAt', 'email', 'group', 'id', 'name', 'reputation', 'roles', 'updatedAt']);
      });

      it('a user created by an admin with a password and roles can sign in with those roles', async () => {
        const email = uniqueEmail('staff');
        const created = await createUser({ email, password: 'staff-password-1', roles: ['auctioneer', 'seller'] });
        expect(created.roles).toEqual(['seller', 'auctioneer']);
        const token = await t.login(email, 'staff-password-1');
        const me = await t.call('GET', '/api/auth/me', { token });
        expect(me.status).toBe(200);
        expect(me.body).toMatchObject({ id: created.id, roles: ['seller', 'auctioneer'] });
      });

      it('a user created without a password cannot sign in', async () => {
        const email = uniqueEmail('nopass');
        await createUser({ email });
        const res = await t.call('POST', '/api/auth/login', { json: { email, password: 'anything-at-all' } });
        expectProblem(res, 401, 'INVALID_CREDENTIALS');
      });

      it('a person reads their own record', async () => {
        const me = await t.newUser('Reader Self');
        const res = await t.call('GET', `/api/user/${me.id}`, { token: me.token });
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ id: me.id, name: 'Reader Self', email: me.email, group: 0, roles: ['bidder'], reputation: 50 });
      });

      it('ids are case-insensitive: an upper-case id reads, updates and deletes the same user', async () => {
        const me = await t.newUser('Upper Case');
        const upper = me.id.toUpperCase();
        expect((await t.call('GET', `/api/user/${upper}`, { token: me.token })).body.id).toBe(me.id);
        expect((await t.call('PUT', '/api/user', { token: me.token, json: { id: upper, name: 'Upper Renamed' } })).body.name).toBe('Upper Renamed');
        expect((await t.call('DELETE', `/api/user/${upper}`, { token: admin })).status).toBe(204);
        expectProblem(await t.call('GET', `/api/user/${me.id}`, { token: admin }), 404, 'NOT_FOUND');
      });

      it('the Bearer scheme is matched in any case', async () => {
        const me = await t.newUser('Scheme Case');
        const res = await t.call('GET', '/api/auth/me', { headers: { authorization: `bearer ${me.token}` } });
        expect(res.status).toBe(200);
        expect(res.body.id).toBe(me.id);
      });

      it('an id that matches no user answers 404 to read, update and delete', async () => {
        const missing = randomUUID();
        expectProblem(await t.call('GET', `/api/user/${missing}`, { token: admin }), 404, 'NOT_FOUND');
        expectProblem(await t.call('PUT', '/api/user', { token: admin, json: { id: missing, name: 'Nobody' } }), 404, 'NOT_FOUND');
        expectProblem(await t.call('DELETE', `/api/user/${missing}`, { token: admin }), 404, 'NOT_FOUND');
      });

      it('a malformed id answers 400 naming the id', async () => {
        for (const bad of ['not-a-uuid', '123', 'zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz']) {
          const read = await t.call('GET', `/api/user/${bad}`, { token: admin });
          expectProblem(read, 400, 'VALIDATION');
          expect(fieldsAtFault(read)).toEqual(['id']);
          const del = await t.call('DELETE', `/api/user/${bad}`, { token: admin });
          expectProblem(del, 400, 'VALIDATION');
          expect(fieldsAtFault(del)).toEqual(['id']);
        }
        const put = await t.call('PUT', '/api/user', { token: admin, json: { id: 'not-a-uuid', name: 'Whoever' } });
        expectProblem(put, 400, 'VALIDATION');
        expect(fieldsAtFault(put)).toEqual(['id']);
      });
    });

    describe('partial update', () => {
      it('PUT changes only the fields present; every other field keeps its value', async () => {
        const created = await createUser({ name: 'Original Name', group: 7, roles: ['bidder', 'seller'] });

        const renamed = await t.call('PUT', '/api/user', { token: admin, json: { id: created.id, name: 'New Name' } });
        expect(renamed.status, renamed.text).toBe(200);
        expect(renamed.body).toMatchObject({ ...created, name: 'New Name', updatedAt: expect.any(String) });
        expect(await readAsAdmin(created.id)).toEqual(renamed.body);

        const regrouped = await t.call('PUT', '/api/user', { token: admin, json: { id: created.id, group: 9 } });
        expect(regrouped.status, regrouped.text).toBe(200);
        const stored = await readAsAdmin(created.id);
        expect(stored).toEqual(regrouped.body);
        expect(stored).toMatchObject({ name: 'New Name', email: created.email, group: 9, roles: ['bidder', 'seller'], reputation: 50, createdAt: created.createdAt });

        const rated = await t.call('PUT', '/api/user', { token: admin, json: { id: created.id, reputation: 80 } });
        expect(rated.status, rated.text).toBe(200);
        expect(await readAsAdmin(created.id)).toMatchObject({ name: 'New Name', email: created.email, group: 9, roles: ['bidder', 'seller'], reputation: 80 });
      });

      it('PUT keeps the created time and moves the updated time forward', async () => {
        const created = await createUser();
        const updated = await t.call('PUT', '/api/user', { token: admin, json: { id: created.id, name: 'Later Name' } });
        expect(updated.body.createdAt).toBe(created.createdAt);
        expect(Date.parse(updated.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(created.updatedAt));
      });

      it('PUT with only the id answers 400 and changes nothing', async () => {
        const created = await createUser();
        const res = await t.call('PUT', '/api/user', { token: admin, json: { id: created.id } });
        expectProblem(res, 400, 'VALIDATION');
        expect(await readAsAdmin(created.id)).toEqual(created);
      });

      it('PUT without an id answers 400 naming the id', async () => {
        const res = await t.call('PUT', '/api/user', { token: admin, json: { name: 'No Id Here' } });
        expectProblem(res, 400, 'VALIDATION');
        expect(fieldsAtFault(res)).toContain('id');
      });
    });

    describe('delete', () => {
      it('DELETE answers 204, then the user reads as 404 and a second delete is 404', async () => {
        const created = await createUser();
        const res = await t.call('DELETE', `/api/user/${created.id}`, { token: admin });
        expect(res.status).toBe(204);
        expect(res.text).toBe('');
        expectProblem(await t.call('GET', `/api/user/${created.id}`, { token: admin }), 404, 'NOT_FOUND');
        expectProblem(await t.call('PUT', '/api/user', { token: admin, json: { id: created.id, name: 'Ghost' } }), 404, 'NOT_FOUND');
        expectProblem(await t.call('DELETE', `/api/user/${created.id}`, { token: admin }), 404, 'NOT_FOUND');
      });

      it('deleting a user ends every one of their sessions', async () => {
        const person = await t.newUser('Soon Gone');
        const second = await t.login(person.email, person.password);
        for (const token of [person.token, second]) expect((await t.call('GET', '/api/auth/me', { token })).status).toBe(200);

        expect((await t.call('DELETE', `/api/user/${person.id}`, { token: admin })).status).toBe(204);

        for (const token of [person.token, second]) {
          expectProblem(await t.call('GET', '/api/auth/me', { token }), 401, 'UNAUTHENTICATED');
          expectProblem(await t.call('GET', `/api/user/${person.id}`, { token }), 401, 'UNAUTHENTICATED');
        }
        expectProblem(await t.call('POST', '/api/auth/login', { json: { email: person.email, password: person.password } }), 401, 'INVALID_CREDENTIALS');
      });

      it("a deleted user's email is free again, in any case", async () => {
        const person = await t.newUser('First Holder');
        expect((await t.call('DELETE', `/api/user/${person.id}`, { token: admin })).status).toBe(204);

        const again = await t.call('POST', '/api/auth/register', { json: { name: 'Second Holder', email: person.email.toUpperCase(), password: 'another-password-2' } });
        expect(again.status, again.text).toBe(201);
        expect(again.body.id).not.toBe(person.id);
        const token = await t.login(person.email, 'another-password-2');
        const me = await t.call('GET', '/api/auth/me', { token });
        expect(me.body).toMatchObject({ id: again.body.id, name: 'Second Holder' });
        // The old record stays gone.
        expectProblem(await t.call('GET', `/api/user/${person.id}`, { token: admin }), 404, 'NOT_FOUND');
      });

      it('a person can delete their own account', async () => {
        const person = await t.newUser('Leaving Person');
        expect((await t.call('DELETE', `/api/user/${person.id}`, { token: person.token })).status).toBe(204);
        expectProblem(await t.call('GET', '/api/auth/me', { token: person.token }), 401, 'UNAUTHENTICATED');
        expectProblem(await t.call('GET', `/api/user/${person.id}`, { token: admin }), 404, 'NOT_FOUND');
      });

      it('the count leaves out deleted users', async () => {
        const before = await countUsers();
        const a = await createUser();
        await createUser();
        expect(await countUsers()).toBe(before + 2);
        await t.call('DELETE', `/api/user/${a.id}`, { token: admin });
        expect(await countUsers()).toBe(before + 1);
      });
    });

    describe('count and paging', () => {
      const SEEDED_USERS = 45;
      beforeAll(async () => {
        await Promise.all(Array.from({ length: SEEDED_USERS }, (_, i) => createUser({ name: `Paged Person ${i}` })));
      });

      /** Walks every page; `duringEachPage` runs concurrently with each page's request. */
      async function walk(limit: number, duringEachPage?: (page: number) => Promise<unknown>): Promise<any[]> {
        const items: any[] = [];
        let cursor: string | null = null;
        for (let page = 0; ; page += 1) {
          if (page > 500) throw new Error('the walk does not end');
          const url: string = `/api/user?limit=${limit}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
          const [res]: [Answer, unknown] = await Promise.all([t.call('GET', url, { token: admin }), duringEachPage?.(page)]);
          expect(res.status, res.text).toBe(200);
          expect(res.body.items.length).toBeLessThanOrEqual(limit);
          items.push(...res.body.items);
          cursor = res.body.nextCursor;
          if (cursor === null) return items;
          expect(res.body.items.length).toBe(limit);
        }
      }

      it('the count equals the number of users a walk through every page finds', async () => {
        const all = await walk(100);
        expect(all.length).toBe(await countUsers());
        expect(all.length).toBeGreaterThanOrEqual(SEEDED_USERS + 1);
      });

      it('the list gives 20 users a page by default, with a cursor to the next page', async () => {
        const res = await t.call('GET', '/api/user', { token: admin });
        expect(res.status).toBe(200);
        expect(res.body.items).toHaveLength(20);
        expect(typeof res.body.nextCursor).toBe('string');
        const next = await t.call('GET', `/api/user?cursor=${encodeURIComponent(res.body.nextCursor)}`, { token: admin });
        expect(next.status).toBe(200);
        expect(next.body.items).toHaveLength(20);
        const firstIds = new Set(res.body.items.map((u: any) => u.id));
        expect(next.body.items.some((u: any) => firstIds.has(u.id))).toBe(false);
      });

      it('limit is accepted from 1 to 100 and anything else answers 400 naming limit', async () => {
        for (const ok of [1, 100]) {
          const res = await t.call('GET', `/api/user?limit=${ok}`, { token: admin });
          expect(res.status, res.text).toBe(200);
          expect(res.body.items.length).toBe(Math.min(ok, await countUsers()));
        }
        for (const bad of ['0', '101', '-1', '1000', 'abc', '2.5']) {
          const res = await t.call('GET', `/api/user?limit=${bad}`, { token: admin });
          expectProblem(res, 400, 'VALIDATION');
          expect(fieldsAtFault(res)).toContain('limit');
        }
      });

      it('a cursor the API did not give out answers 400 naming cursor', async () => {
        const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
        for (const bad of ['', 'garbage', '!!!', b64({ k: 'not-a-uuid' }), b64({ key: randomUUID() }), b64([1, 2]), b64('text')]) {
          const res = await t.call('GET', `/api/user?cursor=${encodeURIComponent(bad)}`, { token: admin });
          expectProblem(res, 400, 'VALIDATION');
          expect(fieldsAtFault(res)).toEqual(['cursor']);
        }
      });

      it('an unknown query parameter answers 400 naming it', async () => {
        const res = await t.call('GET', '/api/user?offset=20', { token: admin });
        expectProblem(res, 400, 'VALIDATION');
        expect(fieldsAtFault(res)).toContain('offset');
      });

      it('pages come in the same order every time, oldest first, without repeats', async () => {
        const first = await walk(7);
        const second = await walk(7);
        expect(second.map((u) => u.id)).toEqual(first.map((u) => u.id));
        const ids = first.map((u) => u.id as string);
        expect(new Set(ids).size).toBe(ids.length);
        const created = first.map((u) => Date.parse(u.createdAt));
        for (let i = 1; i < created.length; i += 1) expect(created[i]).toBeGreaterThanOrEqual(created[i - 1]!);
        // Whatever the page size, the order is the same.
        expect((await walk(100)).map((u) => u.id)).toEqual(ids);
      });

      it('the page holding the last user has no next cursor, even when it is exactly full', async () => {
        const total = await countUsers();
        const res = await t.call('GET', `/api/user?limit=${total}`, { token: admin });
        expect(res.body.items).toHaveLength(total);
        expect(res.body.nextCursor).toBeNull();
      });

      it('walking every page while users are being added finds each user that existed at the start exactly once', async () => {
        const atStart = (await walk(100)).map((u) => u.id as string);
        const added: string[] = [];
        const walked = await walk(5, async (page) => {
          if (page >= 10) return;
          const pair = await Promise.all([createUser({ name: `Added During Walk ${page} a` }), createUser({ name: `Added During Walk ${page} b` })]);
          added.push(...pair.map((u) => u.id as string));
        });
        const ids = walked.map((u) => u.id as string);
        expect(new Set(ids).size, 'no user appears twice').toBe(ids.length);
        const seen = new Set(ids);
        expect(atStart.filter((id) => !seen.has(id)), 'no user that existed at the start is skipped').toEqual([]);
        const known = new Set([...atStart, ...added]);
        expect(ids.filter((id) => !known.has(id))).toEqual([]);
        expect(added).toHaveLength(20);
      });
    });

    describe('errors', () => {
      it('an invalid email answers 400 naming email, and nothing is written', async () => {
        const before = await countUsers();
        const target = await createUser();
        for (const bad of ['not-an-email', 'a@', '@example.test', 'two words@example.test', '']) {
          const created = await t.call('POST', '/api/user', { token: admin, json: { name: 'Bad Email', email: bad } });
          expectProblem(created, 400, 'VALIDATION');
          expect(fieldsAtFault(created)).toEqual(['email']);
          const updated = await t.call('PUT', '/api/user', { token: admin, json: { id: target.id, email: bad } });
          expectProblem(updated, 400, 'VALIDATION');
          expect(fieldsAtFault(updated)).toEqual(['email']);
        }
        expect(await countUsers()).toBe(before + 1);
        expect(await readAsAdmin(target.id)).toEqual(target);
      });

      it('an unknown field answers 400 naming that field, and nothing is written', async () => {
        const before = await countUsers();
        const created = await t.call('POST', '/api/user', { token: admin, json: { name: 'Extra Field', email: uniqueEmail(), nickname: 'x' } });
        expectProblem(created, 400, 'VALIDATION');
        expect(created.body.errors).toContainEqual({ in: 'body', field: 'nickname', message: expect.any(String) });
        expect(await countUsers()).toBe(before);

        const target = await createUser();
        const updated = await t.call('PUT', '/api/user', { token: admin, json: { id: target.id, name: 'Changed Name', passwordHash: 'x' } });
        expectProblem(updated, 400, 'VALIDATION');
        expect(fieldsAtFault(updated)).toEqual(['passwordHash']);
        expect(await readAsAdmin(target.id)).toEqual(target);
      });

      it('a value of the wrong type is refused with 400, never converted', async () => {
        const target = await createUser({ group: 1 });
        const cases: [Record<string, unknown>, string][] = [
          [{ group: '3' }, 'group'],
          [{ group: 3.5 }, 'group'],
          [{ group: -1 }, 'group'],
          [{ group: true }, 'group'],
          [{ name: 42 }, 'name'],
          [{ roles: 'bidder' }, 'roles'],
          [{ email: ['a@example.test'] }, 'email'],
        ];
        for (const [fields, field] of cases) {
          const created = await t.call('POST', '/api/user', { token: admin, json: { name: 'Typed Person', email: uniqueEmail(), ...fields } });
          expectProblem(created, 400, 'VALIDATION');
          expect(fieldsAtFault(created), JSON.stringify(fields)).toContain(field);
          const updated = await t.call('PUT', '/api/user', { token: admin, json: { id: target.id, ...fields } });
          expectProblem(updated, 400, 'VALIDATION');
          expect(fieldsAtFault(updated), JSON.stringify(fields)).toContain(field);
        }
        for (const reputation of ['60', -1, 101, 50.5]) {
          const res = await t.call('PUT', '/api/user', { token: admin, json: { id: target.id, reputation } });
          expectProblem(res, 400, 'VALIDATION');
          expect(fieldsAtFault(res)).toContain('reputation');
        }
        expect(await readAsAdmin(target.id)).toEqual(target);
      });

      it('a missing name or email on create answers 400 naming it', async () => {
        const noEmail = await t.call('POST', '/api/user', { token: admin, json: { name: 'No Email' } });
        expectProblem(noEmail, 400, 'VALIDATION');
        expect(noEmail.body.errors).toContainEqual({ in: 'body', field: 'email', message: 'is required' });
        const noName = await t.call('POST', '/api/user', { token: admin, json: { email: uniqueEmail() } });
        expectProblem(noName, 400, 'VALIDATION');
        expect(fieldsAtFault(noName)).toEqual(['name']);
      });

      it('names with markup or statement syntax are refused', async () => {
        for (const name of ['<script>alert(1)</script>', "Robert'); DROP TABLE users;--", ' ', 'x'.repeat(101)]) {
          const res = await t.call('POST', '/api/user', { token: admin, json: { name, email: uniqueEmail() } });
          expectProblem(res, 400, 'VALIDATION');
          expect(fieldsAtFault(res)).toEqual(['name']);
        }
        for (const name of ["Seán O'Brien", 'Smith & Sons (UK) Ltd.', 'Zoë-Jane 2']) {
          const created = await createUser({ name });
          expect(created.name).toBe(name);
        }
      });

      it('an email registered already, differing only in case, answers 409 on create', async () => {
        const email = `Mixed.Case.${randomUUID().slice(0, 8)}@Example.test`;
        const first = await createUser({ email });
        expect(first.email).toBe(email);
        const before = await countUsers();
        for (const variant of [email, email.toLowerCase(), email.toUpperCase()]) {
          const res = await t.call('POST', '/api/user', { token: admin, json: { name: 'Copy Cat', email: variant } });
          expectProblem(res, 409, 'EMAIL_TAKEN');
          expect(fieldsAtFault(res)).toEqual(['email']);
        }
        expect(await countUsers()).toBe(before);
      });

      it('an email registered already, differing only in case, answers 409 on update and nothing changes', async () => {
        const holder = await createUser({ email: uniqueEmail('holder') });
        const other = await createUser({ name: 'Other Person' });
        const res = await t.call('PUT', '/api/user', { token: admin, json: { id: other.id, name: 'Renamed Too', email: holder.email.toUpperCase() } });
        expectProblem(res, 409, 'EMAIL_TAKEN');
        expect(fieldsAtFault(res)).toEqual(['email']);
        expect(await readAsAdmin(other.id)).toEqual(other);
      });

      it('a person may change the case of their own email', async () => {
        const person = await t.newUser('Case Changer');
        const res = await t.call('PUT', '/api/user', { token: person.token, json: { id: person.id, email: person.email.toUpperCase() } });
        expect(res.status, res.text).toBe(200);
        expect(res.body.email).toBe(person.email.toUpperCase());
        await t.login(person.email, person.password);
      });

      it('a body that is not JSON answers 400 MALFORMED_JSON and one that is not application/json answers 415', async () => {
        const malformed = await t.call('POST', '/api/user', { token: admin, payload: '{"name": "Half', contentType: 'application/json' });
        expectProblem(malformed, 400, 'MALFORMED_JSON');
        const text = await t.call('POST', '/api/user', { token: admin, payload: 'name=x', contentType: 'text/plain' });
        expectProblem(text, 415, 'UNSUPPORTED_MEDIA_TYPE');
      });

      it('every error answer is a problem document naming its request', async () => {
        const person = await t.newUser('Problem Maker');
        const answers: [Answer, number, string][] = [
          [await t.call('GET', '/api/user/nope', { token: admin }), 400, 'VALIDATION'],
          [await t.call('GET', '/api/user/count'), 401, 'UNAUTHENTICATED'],
          [await t.call('GET', '/api/user/count', { token: person.token }), 403, 'FORBIDDEN'],
          [await t.call('GET', `/api/user/${randomUUID()}`, { token: admin }), 404, 'NOT_FOUND'],
          [await t.call('POST', '/api/user', { token: admin, json: { name: 'Dup', email: person.email } }), 409, 'EMAIL_TAKEN'],
          [await t.call('GET', '/api/users-typo', { token: admin }), 404, 'ROUTE_NOT_FOUND'],
        ];
        for (const [res, status, code] of answers) {
          expectProblem(res, status, code);
          expect(res.body.type).toMatch(/^\/problems\//);
        }
        const traced = await t.call('PUT', '/api/user', { token: admin, json: { id: 'x' }, headers: { 'x-request-id': 'trace-me-123' } });
        expectProblem(traced, 400, 'VALIDATION');
        expect(traced.body.requestId).toBe('trace-me-123');
      });
    });

    describe('who may do what', () => {
      it('every users route without a valid token answers 401', async () => {
        const target = await createUser();
        for (const token of [undefined, 'gvl_not-a-real-token']) {
          const opts = token === undefined ? {} : { token };
          expectProblem(await t.call('GET', `/api/user/${target.id}`, opts), 401, 'UNAUTHENTICATED');
          expectProblem(await t.call('POST', '/api/user', { ...opts, json: { name: 'Anon', email: uniqueEmail() } }), 401, 'UNAUTHENTICATED');
          expectProblem(await t.call('PUT', '/api/user', { ...opts, json: { id: target.id, name: 'Anon' } }), 401, 'UNAUTHENTICATED');
          expectProblem(await t.call('DELETE', `/api/user/${target.id}`, opts), 401, 'UNAUTHENTICATED');
          expectProblem(await t.call('GET', '/api/user/count', opts), 401, 'UNAUTHENTICATED');
          expectProblem(await t.call('GET', '/api/user', opts), 401, 'UNAUTHENTICATED');
        }
        expect(await readAsAdmin(target.id)).toEqual(target);
      });

      it('a bidder cannot read, change or delete another user, and nothing changes', async () => {
        const bidder = await t.newUser('Nosy Bidder');
        const victim = await t.newUser('Victim Person');
        const before = await readAsAdmin(victim.id);

        expectProblem(await t.call('GET', `/api/user/${victim.id}`, { token: bidder.token }), 403, 'FORBIDDEN');
        expectProblem(await t.call('PUT', '/api/user', { token: bidder.token, json: { id: victim.id, name: 'Hijacked' } }), 403, 'FORBIDDEN');
        expectProblem(await t.call('PUT', '/api/user', { token: bidder.token, json: { id: victim.id, email: uniqueEmail('hijack') } }), 403, 'FORBIDDEN');
        expectProblem(await t.call('DELETE', `/api/user/${victim.id}`, { token: bidder.token }), 403, 'FORBIDDEN');

        expect(await readAsAdmin(victim.id)).toEqual(before);
        expect((await t.call('GET', '/api/auth/me', { token: victim.token })).status).toBe(200);
      });

      it('a bidder cannot learn whether an id exists: unknown ids answer 403 too', async () => {
        const bidder = await t.newUser('Prober');
        expectProblem(await t.call('GET', `/api/user/${randomUUID()}`, { token: bidder.token }), 403, 'FORBIDDEN');
      });

      it('a non-admin cannot list, count or create users', async () => {
        const seller = await t.newUser('Plain Seller', ['bidder', 'seller']);
        const before = await countUsers();
        expectProblem(await t.call('GET', '/api/user', { token: seller.token }), 403, 'FORBIDDEN');
        expectProblem(await t.call('GET', '/api/user?limit=5', { token: seller.token }), 403, 'FORBIDDEN');
        expectProblem(await t.call('GET', '/api/user/count', { token: seller.token }), 403, 'FORBIDDEN');
        const email = uniqueEmail('sneaky');
        expectProblem(await t.call('POST', '/api/user', { token: seller.token, json: { name: 'Sneaky', email } }), 403, 'FORBIDDEN');
        expect(await countUsers()).toBe(before);
        // The email was not taken by the refused create.
        expect((await t.call('POST', '/api/user', { token: admin, json: { name: 'Real Owner', email } })).status).toBe(201);
      });

      it('a person updates their own name and email, and signs in with the new email', async () => {
        const person = await t.newUser('Old Name');
        const email = uniqueEmail('renamed');
        const res = await t.call('PUT', '/api/user', { token: person.token, json: { id: person.id, name: 'New Name', email } });
        expect(res.status, res.text).toBe(200);
        expect(res.body).toMatchObject({ id: person.id, name: 'New Name', email, roles: ['bidder'], group: 0, reputation: 50 });
        await t.login(email, person.password);
        expectProblem(await t.call('POST', '/api/auth/login', { json: { email: person.email, password: person.password } }), 401, 'INVALID_CREDENTIALS');
        // The old address is free for someone else.
        expect((await t.call('POST', '/api/user', { token: admin, json: { name: 'Next Owner', email: person.email } })).status).toBe(201);
      });

      it('a person adds and drops the seller role themselves', async () => {
        const person = await t.newUser('Would Be Seller');
        const added = await t.call('PUT', '/api/user', { token: person.token, json: { id: person.id, roles: ['seller', 'bidder'] } });
        expect(added.status, added.text).toBe(200);
        expect(added.body.roles).toEqual(['bidder', 'seller']);
        expect((await t.call('GET', '/api/auth/me', { token: person.token })).body.roles).toEqual(['bidder', 'seller']);
        const dropped = await t.call('PUT', '/api/user', { token: person.token, json: { id: person.id, roles: ['bidder'] } });
        expect(dropped.status, dropped.text).toBe(200);
        expect((await readAsAdmin(person.id)).roles).toEqual(['bidder']);
      });

      it('a person cannot change their own group or reputation: 403 naming the field, and nothing changes', async () => {
        const person = await t.newUser('Ambitious Person');
        const before = await readAsAdmin(person.id);
        for (const [fields, field] of [
          [{ group: 5 }, 'group'],
          [{ group: 0 }, 'group'],
          [{ reputation: 100 }, 'reputation'],
          [{ name: 'Sneaky Rename', reputation: 99 }, 'reputation'],
        ] as const) {
          const res = await t.call('PUT', '/api/user', { token: person.token, json: { id: person.id, ...fields } });
          expectProblem(res, 403, 'FORBIDDEN');
          expect(fieldsAtFault(res)).toEqual([field]);
        }
        expect(await readAsAdmin(person.id)).toEqual(before);
      });

      it('a person cannot grant themselves admin or auctioneer: 403 naming roles, and nothing changes', async () => {
        const person = await t.newUser('Power Seeker');
        for (const roles of [['bidder', 'admin'], ['auctioneer'], ['bidder', 'seller', 'auctioneer', 'admin']]) {
          const res = await t.call('PUT', '/api/user', { token: person.token, json: { id: person.id, roles } });
          expectProblem(res, 403, 'FORBIDDEN');
          expect(fieldsAtFault(res)).toEqual(['roles']);
        }
        expect((await readAsAdmin(person.id)).roles).toEqual(['bidder']);
        expectProblem(await t.call('GET', '/api/user/count', { token: person.token }), 403, 'FORBIDDEN');
      });

      it('a person cannot drop a role only an admin gives', async () => {
        const person = await t.newUser('Appointed Auctioneer');
        expect((await t.call('PUT', '/api/user', { token: admin, json: { id: person.id, roles: ['bidder', 'auctioneer'] } })).status).toBe(200);
        const res = await t.call('PUT', '/api/user', { token: person.token, json: { id: person.id, roles: ['bidder'] } });
        expectProblem(res, 403, 'FORBIDDEN');
        expect(fieldsAtFault(res)).toEqual(['roles']);
        // Adding seller while keeping auctioneer is fine.
        const ok = await t.call('PUT', '/api/user', { token: person.token, json: { id: person.id, roles: ['auctioneer', 'bidder', 'seller'] } });
        expect(ok.status, ok.text).toBe(200);
        expect(ok.body.roles).toEqual(['bidder', 'seller', 'auctioneer']);
      });

      it("an admin changes anyone's name, email, group, reputation and roles, and the new roles apply to live sessions", async () => {
        const person = await t.newUser('Promoted Person');
        const email = uniqueEmail('promoted');
        const res = await t.call('PUT', '/api/user', {
          token: admin,
          json: { id: person.id, name: 'Now Admin', email, group: 42, reputation: 90, roles: ['admin', 'auctioneer', 'bidder'] },
        });
        expect(res.status, res.text).toBe(200);
        expect(res.body).toMatchObject({ name: 'Now Admin', email, group: 42, reputation: 90, roles: ['bidder', 'auctioneer', 'admin'] });
        expect(await readAsAdmin(person.id)).toEqual(res.body);

        // The session they already had now carries admin powers...
        expect((await t.call('GET', '/api/user/count', { token: person.token })).status).toBe(200);
        // ...and loses them when an admin takes the role back.
        expect((await t.call('PUT', '/api/user', { token: admin, json: { id: person.id, roles: ['bidder'] } })).status).toBe(200);
        expectProblem(await t.call('GET', '/api/user/count', { token: person.token }), 403, 'FORBIDDEN');
      });

      it('an admin reads and deletes any user', async () => {
        const person = await t.newUser('Any Person');
        expect((await t.call('GET', `/api/user/${person.id}`, { token: admin })).body).toMatchObject({ id: person.id, email: person.email });
        expect((await t.call('DELETE', `/api/user/${person.id}`, { token: admin })).status).toBe(204);
      });
    });
  });
}
