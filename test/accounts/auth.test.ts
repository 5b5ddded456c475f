// Sign-in as a client sees it, on every storage dialect: registration, login, logout, token
// lifetime, how tokens and passwords are kept, rate limits, and the bootstrap admin.
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { ManualClock } from '../../src/platform/clock.js';
import { loadConfig, type Config } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/logging.js';
import { startGavel, type GavelNode, type StartOptions } from '../../src/gavel.js';
import { DIALECTS } from '../support/databases.js';
import { ADMIN, startTestNode, type Answer, type TestNode } from '../support/gavel.js';
import { ROOMY_LIMITS, uniqueEmail, expectProblem, fieldsAtFault } from '../support/problems.js';

const START_MS = Date.parse('2030-01-01T00:00:00.000Z');
const DEFAULT_TTL_SECONDS = 86_400;

/** A pino destination that keeps every line in memory. */
function memoryLog(): { lines: string[]; write(line: string): void; text(): string } {
  const lines: string[] = [];
  return { lines, write: (line: string) => void lines.push(line), text: () => lines.join('') };
}

function register(t: TestNode, body: Record<string, unknown>, remoteAddress?: string): Promise<Answer> {
  return t.call('POST', '/api/auth/register', { json: body, ...(remoteAddress && { remoteAddress }) });
}

function login(t: TestNode, email: string, password: string, remoteAddress?: string): Promise<Answer> {
  return t.call('POST', '/api/auth/login', { json: { email, password }, ...(remoteAddress && { remoteAddress }) });
}

/** Stops the test node and starts another on the same storage with different settings. */
async function restartOnSameStorage(t: TestNode, overrides: Partial<Config>, options: StartOptions = {}): Promise<GavelNode> {
  await t.node.stop();
  const config: Config = { ...loadConfig({}, {}), dataDir: t.storage.dataDir, databaseUrl: t.storage.databaseUrl, logLevel: 'silent', ...overrides };
  return startGavel(config, { listen: false, ...options });
}

async function injectJson(node: GavelNode, method: 'GET' | 'POST', url: string, options: { token?: string; json?: unknown } = {}): Promise<{ status: number; body: any }> {
  const res = await node.http.inject({
    method,
    url,
    headers: { ...(options.token && { authorization: `Bearer ${options.token}` }), ...(options.json !== undefined && { 'content-type': 'application/json' }) },
    ...(options.json !== undefined && { payload: JSON.stringify(options.json) }),
  });
  return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined };
}

for (const dialect of DIALECTS) {
  describe(`sign-in on ${dialect}`, () => {
    describe('registration', () => {
      let t: TestNode;
      beforeAll(async () => {
        t = await startTestNode(dialect, {}, { loginLimits: ROOMY_LIMITS, clock: new ManualClock(START_MS) });
      });
      afterAll(async () => t?.close());

      it('registering answers 201 with the bidder role, reputation 50 and a Location', async () => {
        const email = uniqueEmail();
        const res = await register(t, { name: 'New Person', email, password: 'correct-horse-1' });
        expect(res.status, res.text).toBe(201);
        expect(res.body).toMatchObject({ name: 'New Person', email, group: 0, roles: ['bidder'], reputation: 50 });
        expect(res.body).not.toHaveProperty('password');
        expect(res.body).not.toHaveProperty('passwordHash');
        expect(res.headers.location).toBe(`/api/user/${res.body.id}`);
        expect(res.body.createdAt).toBe(new Date(START_MS).toISOString());
      });

      it('a person may register as a seller, or as a bidder and a seller', async () => {
        const seller = await register(t, { name: 'Only Seller', email: uniqueEmail(), password: 'correct-horse-1', roles: ['seller'] });
        expect(seller.status, seller.text).toBe(201);
        expect(seller.body.roles).toEqual(['seller']);
        const both = await register(t, { name: 'Both Roles', email: uniqueEmail(), password: 'correct-horse-1', roles: ['seller', 'bidder'] });
        expect(both.status, both.text).toBe(201);
        expect(both.body.roles).toEqual(['bidder', 'seller']);
      });

      it('registration cannot ask for admin or auctioneer, an empty role list, or repeated roles', async () => {
        for (const roles of [['admin'], ['auctioneer'], ['bidder', 'admin'], [], ['bidder', 'bidder'], 'bidder']) {
          const email = uniqueEmail('climber');
          const res = await register(t, { name: 'Role Climber', email, password: 'correct-horse-1', roles });
          expectProblem(res, 400, 'VALIDATION');
          expect(fieldsAtFault(res).every((f) => f === 'roles' || f.startsWith('roles.')), JSON.stringify(roles)).toBe(true);
          expectProblem(await login(t, email, 'correct-horse-1'), 401, 'INVALID_CREDENTIALS');
        }
      });

      it('registration cannot set group, reputation or any other unknown field', async () => {
        for (const extra of [{ group: 1 }, { reputation: 100 }, { isAdmin: true }]) {
          const res = await register(t, { name: 'Extra Fields', email: uniqueEmail(), password: 'correct-horse-1', ...extra });
          expectProblem(res, 400, 'VALIDATION');
          expect(fieldsAtFault(res)).toEqual(Object.keys(extra));
        }
      });

      it('registering an email that exists, in any case, answers 409 and leaves the first account as it was', async () => {
        const email = uniqueEmail('taken');
        expect((await register(t, { name: 'First Owner', email, password: 'first-password-1' })).status).toBe(201);
        for (const variant of [email, email.toUpperCase()]) {
          const res = await register(t, { name: 'Second Owner', email: variant, password: 'second-password-2' });
          expectProblem(res, 409, 'EMAIL_TAKEN');
          expect(fieldsAtFault(res)).toEqual(['email']);
        }
        expect((await login(t, email, 'first-password-1')).status).toBe(200);
        expectProblem(await login(t, email, 'second-password-2'), 401, 'INVALID_CREDENTIALS');
      });

      it('a password shorter than 10 characters answers 400 naming password, and no account is made', async () => {
        const email = uniqueEmail('short');
        const res = await register(t, { name: 'Short Password', email, password: 'nine-char' });
        expectProblem(res, 400, 'VALIDATION');
        expect(fieldsAtFault(res)).toEqual(['password']);
        // The email is still free; ten characters are enough.
        expect((await register(t, { name: 'Short Password', email, password: 'ten-chars!' })).status).toBe(201);
      });

      it('a missing or invalid field answers 400 naming it', async () => {
        const cases: [Record<string, unknown>, string][] = [
          [{ name: 'No Password', email: uniqueEmail() }, 'password'],
          [{ name: 'No Email', password: 'correct-horse-1' }, 'email'],
          [{ email: uniqueEmail(), password: 'correct-horse-1' }, 'name'],
          [{ name: 'Bad Email', email: 'not-an-email', password: 'correct-horse-1' }, 'email'],
          [{ name: 'Long Password', email: uniqueEmail(), password: 'x'.repeat(201) }, 'password'],
          [{ name: 'Number Password', email: uniqueEmail(), password: 12345678901 }, 'password'],
        ];
        for (const [body, field] of cases) {
          const res = await register(t, body);
          expectProblem(res, 400, 'VALIDATION');
          expect(fieldsAtFault(res)).toContain(field);
        }
      });
    });

    describe('sessions', () => {
      let t: TestNode;
      beforeAll(async () => {
        t = await startTestNode(dialect, {}, { loginLimits: ROOMY_LIMITS, clock: new ManualClock(START_MS) });
      });
      afterAll(async () => t?.close());

      it('login answers a token and its ISO expiry, and the token works as a Bearer token', async () => {
        const person = await t.newUser('Signing In');
        const res = await login(t, person.email, person.password);
        expect(res.status, res.text).toBe(200);
        expect(Object.keys(res.body).sort()).toEqual(['expiresAt', 'token']);
        expect(res.body.token).toMatch(/^gvl_[\w-]{40,}$/);
        expect(res.body.expiresAt).toBe(new Date(START_MS + DEFAULT_TTL_SECONDS * 1000).toISOString());

        const me = await t.call('GET', '/api/auth/me', { token: res.body.token });
        expect(me.status, me.text).toBe(200);
        expect(me.body).toMatchObject({ id: person.id, email: person.email, name: 'Signing In', roles: ['bidder'], reputation: 50 });
        expect((await t.call('GET', `/api/user/${person.id}`, { token: res.body.token })).status).toBe(200);
      });

      it('the email is matched without regard to case at login', async () => {
        const person = await t.newUser('Case Blind');
        const res = await login(t, person.email.toUpperCase(), person.password);
        expect(res.status, res.text).toBe(200);
      });

      it('a wrong password and an unknown email get the same 401 INVALID_CREDENTIALS', async () => {
        const person = await t.newUser('Guarded Person');
        const wrongPassword = await login(t, person.email, 'not-the-password');
        const unknownEmail = await login(t, uniqueEmail('nobody'), person.password);
        for (const res of [wrongPassword, unknownEmail]) {
          expectProblem(res, 401, 'INVALID_CREDENTIALS');
          expect(res.body).not.toHaveProperty('token');
        }
        const { requestId: _a, instance: _b, ...first } = wrongPassword.body;
        const { requestId: _c, instance: _d, ...second } = unknownEmail.body;
        expect(second).toEqual(first);
        expect(wrongPassword.headers['www-authenticate']).toEqual(unknownEmail.headers['www-authenticate']);
      });

      it('a login body with missing or unknown fields answers 400', async () => {
        const missing = await t.call('POST', '/api/auth/login', { json: { email: uniqueEmail() } });
        expectProblem(missing, 400, 'VALIDATION');
        expect(fieldsAtFault(missing)).toEqual(['password']);
        const extra = await t.call('POST', '/api/auth/login', { json: { email: uniqueEmail(), password: 'whatever-123', remember: true } });
        expectProblem(extra, 400, 'VALIDATION');
        expect(fieldsAtFault(extra)).toEqual(['remember']);
      });

      it('each login is its own session with its own token', async () => {
        const person = await t.newUser('Two Devices');
        const other = await t.login(person.email, person.password);
        expect(other).not.toBe(person.token);
        for (const token of [person.token, other]) expect((await t.call('GET', '/api/auth/me', { token })).body.id).toBe(person.id);
      });

      it('logout revokes only the token it was sent with; the same person’s other session keeps working', async () => {
        const person = await t.newUser('Logging Out');
        const laptop = person.token;
        const phone = await t.login(person.email, person.password);

        const res = await t.call('POST', '/api/auth/logout', { token: laptop });
        expect(res.status, res.text).toBe(204);

        expectProblem(await t.call('GET', '/api/auth/me', { token: laptop }), 401, 'UNAUTHENTICATED');
        expectProblem(await t.call('GET', `/api/user/${person.id}`, { token: laptop }), 401, 'UNAUTHENTICATED');
        expectProblem(await t.call('POST', '/api/auth/logout', { token: laptop }), 401, 'UNAUTHENTICATED');
        expect((await t.call('GET', '/api/auth/me', { token: phone })).status).toBe(200);
        // Signing in again still works.
        expect((await t.call('GET', '/api/auth/me', { token: await t.login(person.email, person.password) })).status).toBe(200);
      });

      it('logout and me without a valid token answer 401', async () => {
        const headerSets: Record<string, string>[] = [{}, { authorization: 'Bearer ' }, { authorization: 'Bearer gvl_made-up' }, { authorization: 'Basic dXNlcjpwYXNz' }];
        for (const headers of headerSets) {
          expectProblem(await t.call('POST', '/api/auth/logout', { headers }), 401, 'UNAUTHENTICATED');
          expectProblem(await t.call('GET', '/api/auth/me', { headers }), 401, 'UNAUTHENTICATED');
        }
      });

      it('tokens are stored only as hashes, and passwords only as scrypt hashes', async () => {
        const person = await t.newUser('Hashed Person');
        const tokens = [person.token, await t.login(person.email, person.password)];
        const db = t.node.database.kysely;
        const sessions = (await sql<Record<string, unknown>>`select * from accounts_sessions`.execute(db)).rows;
        expect(sessions.length).toBeGreaterThanOrEqual(2);
        const stored = JSON.stringify(sessions, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
        for (const token of tokens) {
          expect(stored).not.toContain(token);
          expect(stored).not.toContain(token.slice('gvl_'.length));
        }
        const users = (await sql<Record<string, unknown>>`select * from accounts_users where id = ${person.id}`.execute(db)).rows;
        expect(users).toHaveLength(1);
        const row = JSON.stringify(users, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
        expect(row).not.toContain(person.password);
        expect(String(users[0]!.password_hash)).toMatch(/^scrypt\$/);
      });
    });

    describe('token lifetime', () => {
      const TTL_SECONDS = 3_600;
      let t: TestNode;
      let clock: ManualClock;
      beforeAll(async () => {
        clock = new ManualClock(START_MS);
        t = await startTestNode(dialect, { tokenTtlSeconds: TTL_SECONDS }, { loginLimits: ROOMY_LIMITS, clock });
      });
      afterAll(async () => t?.close());

      it('a token works until its lifetime ends and answers 401 from then on', async () => {
        const person = await t.newUser('Short Lived');
        const res = await login(t, person.email, person.password);
        expect(res.body.expiresAt).toBe(new Date(clock.nowMs() + TTL_SECONDS * 1000).toISOString());
        const token = res.body.token as string;

        clock.advance(TTL_SECONDS * 1000 - 1);
        expect((await t.call('GET', '/api/auth/me', { token })).status).toBe(200);

        clock.advance(1);
        expectProblem(await t.call('GET', '/api/auth/me', { token }), 401, 'UNAUTHENTICATED');
        expectProblem(await t.call('GET', `/api/user/${person.id}`, { token }), 401, 'UNAUTHENTICATED');
        expectProblem(await t.call('POST', '/api/auth/logout', { token }), 401, 'UNAUTHENTICATED');

        // A new sign-in gives a fresh, working token.
        const fresh = await t.login(person.email, person.password);
        expect((await t.call('GET', '/api/auth/me', { token: fresh })).status).toBe(200);
      });
    });

    describe('logs', () => {
      let t: TestNode;
      const log = memoryLog();
      beforeAll(async () => {
        t = await startTestNode(dialect, {}, { loginLimits: ROOMY_LIMITS, logger: createLogger('trace', log) });
      });
      afterAll(async () => t?.close());

      it('passwords and tokens never appear in the log, even at trace level', async () => {
        const email = uniqueEmail('logged');
        const password = `Pw-registered-${randomUUID()}`;
        const wrongPassword = `Pw-wrong-${randomUUID()}`;
        const unknownPassword = `Pw-unknown-${randomUUID()}`;
        const shortPassword = 'Pw-short1';
        const createdPassword = `Pw-created-${randomUUID()}`;
        const malformedPassword = `Pw-malformed-${randomUUID()}`;

        expect((await register(t, { name: 'Logged Person', email, password })).status).toBe(201);
        const token = await t.login(email, password);
        expect((await t.call('GET', '/api/auth/me', { token })).status).toBe(200);
        expect((await login(t, email, wrongPassword)).status).toBe(401);
        expect((await login(t, uniqueEmail('ghost'), unknownPassword)).status).toBe(401);
        expect((await register(t, { name: 'Short One', email: uniqueEmail(), password: shortPassword })).status).toBe(400);
        const admin = await t.adminToken();
        const created = await t.call('POST', '/api/user', { token: admin, json: { name: 'Made By Admin', email: uniqueEmail(), password: createdPassword } });
        expect(created.status).toBe(201);
        const malformed = await t.call('POST', '/api/auth/login', { payload: `{"email":"${email}","password":"${malformedPassword}"`, contentType: 'application/json' });
        expect(malformed.status).toBe(400);
        expect((await t.call('POST', '/api/auth/logout', { token })).status).toBe(204);

        const text = log.text();
        expect(text).toContain('signed in');
        expect(text).toContain('sign-in failed');
        for (const secret of [password, wrongPassword, unknownPassword, shortPassword, createdPassword, malformedPassword, ADMIN.password, token, admin]) {
          expect(text.includes(secret), `the log contains ${secret}`).toBe(false);
        }
      });
    });

    describe('rate limits', () => {
      let t: TestNode;
      let clock: ManualClock;
      beforeEach(async () => {
        clock = new ManualClock(START_MS);
        t = await startTestNode(dialect, {}, { clock });
      });
      afterEach(async () => t?.close());

      it('after 5 failed sign-ins an account is locked for 15 minutes, even for the right password', async () => {
        const person = await t.newUser('Locked Out');
        const bystander = await t.newUser('Bystander');
        for (let i = 0; i < 5; i += 1) expectProblem(await login(t, person.email, `wrong-password-${i}`), 401, 'INVALID_CREDENTIALS');

        const locked = await login(t, person.email, person.password);
        expectProblem(locked, 429, 'RATE_LIMITED');
        expect(locked.headers['retry-after']).toBe('900');
        expect(locked.body).not.toHaveProperty('token');

        // The lock is on signing in to that account: its live session and other accounts are fine.
        expect((await t.call('GET', '/api/auth/me', { token: person.token })).status).toBe(200);
        expect((await login(t, bystander.email, bystander.password)).status).toBe(200);

        clock.advance(15 * 60_000 - 1_000);
        const stillLocked = await login(t, person.email, person.password);
        expectProblem(stillLocked, 429, 'RATE_LIMITED');
        expect(stillLocked.headers['retry-after']).toBe('1');

        clock.advance(1_000);
        const res = await login(t, person.email, person.password);
        expect(res.status, res.text).toBe(200);
      });

      it('failed sign-ins count against the account whatever the case of the email', async () => {
        const person = await t.newUser('Case Varied');
        const variants = [person.email, person.email.toUpperCase(), ` ${person.email}`, person.email.replace(/^./, (c) => c.toUpperCase()), person.email];
        for (const email of variants) expect((await login(t, email, 'wrong-password-0')).status).toBe(401);
        expectProblem(await login(t, person.email, person.password), 429, 'RATE_LIMITED');
      });

      it('guesses sent at the same time cannot get past the 5-failure limit', async () => {
        const person = await t.newUser('Guessed At');
        // From ten addresses at once, so only the per-account limit applies.
        const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => login(t, person.email, `wrong-password-${i}`, `192.0.2.${i + 1}`)));
        const statuses = answers.map((a) => a.status).sort();
        expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429, 429, 429]);
        expectProblem(await login(t, person.email, person.password, '192.0.2.99'), 429, 'RATE_LIMITED');
      });

      it("a successful sign-in clears the account's count of failures", async () => {
        const person = await t.newUser('Forgetful Person');
        for (let i = 0; i < 4; i += 1) expect((await login(t, person.email, 'wrong-password-0')).status).toBe(401);
        expect((await login(t, person.email, person.password)).status).toBe(200);
        for (let i = 0; i < 4; i += 1) expect((await login(t, person.email, 'wrong-password-0')).status).toBe(401);
        expect((await login(t, person.email, person.password)).status).toBe(200);
      });

      it('more than 30 attempts a minute from one address answer 429, while another address still gets through', async () => {
        const person = await t.newUser('Shared Address');
        const busy = '203.0.113.7';
        // 29 sign-ins and a registration: 30 attempts, each for a different account.
        const attempts = await Promise.all([
          ...Array.from({ length: 29 }, (_, i) => login(t, uniqueEmail(`spray${i}`), 'wrong-password-0', busy)),
          register(t, { name: 'From Busy Address', email: uniqueEmail('busy'), password: 'correct-horse-1' }, busy),
        ]);
        expect(attempts.map((a) => a.status).sort()).toEqual([...Array(29).fill(401), 201].sort());

        const refused = await login(t, person.email, person.password, busy);
        expectProblem(refused, 429, 'RATE_LIMITED');
        expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
        expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
        expectProblem(await register(t, { name: 'Also Refused', email: uniqueEmail(), password: 'correct-horse-1' }, busy), 429, 'RATE_LIMITED');

        expect((await login(t, person.email, person.password, '198.51.100.9')).status).toBe(200);

        clock.advance(60_000);
        expect((await login(t, person.email, person.password, busy)).status).toBe(200);
      });
    });

    describe('bootstrap admin', () => {
      let t: TestNode | undefined;
      let second: GavelNode | undefined;
      afterEach(async () => {
        await second?.stop();
        await t?.close();
        second = undefined;
        t = undefined;
      });

      it('the admin from GAVEL_ADMIN_EMAIL exists with the admin role and can manage users', async () => {
        t = await startTestNode(dialect);
        const token = await t.login(ADMIN.email, ADMIN.password);
        const me = await t.call('GET', '/api/auth/me', { token });
        expect(me.status).toBe(200);
        expect(me.body).toMatchObject({ email: ADMIN.email, roles: ['admin'] });
        const count = await t.call('GET', '/api/user/count', { token });
        expect(count.body).toEqual({ count: 1 });
      });

      it('starting again with the same admin settings keeps the one admin and their password', async () => {
        t = await startTestNode(dialect);
        second = await restartOnSameStorage(t, { adminEmail: ADMIN.email, adminPassword: 'a-different-password' });
        const res = await injectJson(second, 'POST', '/api/auth/login', { json: { email: ADMIN.email, password: ADMIN.password } });
        expect(res.status).toBe(200);
        expect((await injectJson(second, 'GET', '/api/user/count', { token: res.body.token })).body).toEqual({ count: 1 });
      });

      it('an existing non-admin account whose email is GAVEL_ADMIN_EMAIL is not promoted', async () => {
        t = await startTestNode(dialect, { adminEmail: undefined, adminPassword: undefined }, { loginLimits: ROOMY_LIMITS });
        const email = uniqueEmail('boss');
        const password = 'squatter-password-1';
        expect((await register(t, { name: 'Early Squatter', email, password })).status).toBe(201);

        const log = memoryLog();
        second = await restartOnSameStorage(t, { adminEmail: email, adminPassword: 'intended-admin-password' }, { logger: createLogger('info', log) });

        const squatter = await injectJson(second, 'POST', '/api/auth/login', { json: { email, password } });
        expect(squatter.status).toBe(200);
        const me = await injectJson(second, 'GET', '/api/auth/me', { token: squatter.body.token });
        expect(me.body.roles).toEqual(['bidder']);
        expect((await injectJson(second, 'GET', '/api/user/count', { token: squatter.body.token })).status).toBe(403);
        expect((await injectJson(second, 'POST', '/api/auth/login', { json: { email, password: 'intended-admin-password' } })).status).toBe(401);

        const rows = (await sql<{ roles: string }>`select roles from accounts_users`.execute(second.database.kysely)).rows;
        expect(rows).toHaveLength(1);
        expect(rows.some((r) => r.roles.includes('admin'))).toBe(false);
        // The operator is told why there is no admin.
        const errors = log.lines.map((line) => JSON.parse(line) as { level: number; email?: string }).filter((entry) => entry.level >= 50);
        expect(errors.some((entry) => entry.email === email)).toBe(true);
      });
    });
  });
}
