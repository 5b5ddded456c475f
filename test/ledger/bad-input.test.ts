// Bad input to the wallet and ledger routes is an answer, not a crash (DESIGN rule 6), and
// nobody acts for someone else (rule 7). Each row of the table must be answered with a 4xx
// problem document naming the field at fault; after the whole table the ledger's tables (and
// the stored Idempotency-Keys: a refused request frees its key) hold exactly what they held.
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProblemCode } from '../../src/platform/errors.js';
import { DIALECTS } from '../support/databases.js';
import { startTestNode, type Answer, type TestNode } from '../support/gavel.js';

type Caller = 'admin' | 'bidder' | 'anonymous';

interface Fixture {
  bidder: { id: string; token: string };
  other: { id: string; token: string };
  /** A person with no wallet at all. */
  walletless: { id: string };
  bidderUsdAccountId: string;
  otherUsdAccountId: string;
  escrowUsdAccountId: string;
}

interface Row {
  name: string;
  method: 'GET' | 'POST' | 'DELETE';
  url: string | ((f: Fixture) => string);
  as: Caller;
  json?: unknown | ((f: Fixture) => unknown);
  raw?: string;
  headers?: Record<string, string>;
  status: number;
  code: ProblemCode;
  /** A field some error must name (in `errors[].field`). */
  field?: string;
}

const adjustment = (over: Record<string, unknown>) => (f: Fixture) => ({ userId: f.bidder.id, currency: 'USD', amount: '1.00', direction: 'credit', memo: 'test', ...over });
const without = (key: string) => (f: Fixture) => {
  const body: Record<string, unknown> = adjustment({})(f);
  delete body[key];
  return body;
};
const withKey = (key: string) => ({ 'idempotency-key': key });

const ADJUST = '/api/ledger/adjustments';

const ROWS: Row[] = [
  // --- amounts -----------------------------------------------------------------------------
  ...(['-1', '-0.01', '1e3', '1E3', ' 5', '5 ', '01', '1.', '.5', '+1', '1,00', '', 'ten', '0x10', 'Infinity'] as const).map(
    (amount): Row => ({ name: `amount ${JSON.stringify(amount)}`, method: 'POST', url: ADJUST, as: 'admin', json: adjustment({ amount }), headers: withKey(`bad-amount-${amount}`), status: 400, code: 'VALIDATION', field: 'amount' }),
  ),
  { name: 'amount zero', method: 'POST', url: ADJUST, as: 'admin', json: adjustment({ amount: '0' }), status: 400, code: 'VALIDATION', field: 'amount' },
  { name: 'amount zero with decimals', method: 'POST', url: ADJUST, as: 'admin', json: adjustment({ amount: '0.00' }), headers: withKey('zero'), status: 400, code: 'VALIDATION', field: 'amount' },
  { name: 'three decimals in USD', method: 'POST', url: ADJUST, as: 'admin', json: adjustment({ amount: '1.001' }), status: 400, code: 'VALIDATION', field: 'amount' },
  { name: 'trailing zero beyond USD precision', method: 'POST', url: ADJUST, as: 'admin', json: adjustment({ amount: '1.000' }), status: 400, code: 'VALIDATION', field: 'amount' },
  { name: 'decimals in JPY', method: 'POST', url: ADJUST, as: 'admin', json: adjustment({ currency: 'JPY', amount: '1.5' }), status: 400, code: 'VALIDATION', field: 'amount' },
  { name: 'a zero decimal in JPY', method: 'POST', url: ADJUST, as: 'admin', json: adjustment({ currency: 'JPY', amount: '100.0' }), status: 400, code: 'VALIDATION', field: 'amount' },
  { name: 'one minor unit beyond 2^63 − 1 in USD', method: 'POST', url: ADJUST, as: 'admin', json: adjustment({ amount: '92233720368547758.08' }), status: 400, code: 'VALIDATION', field: 'amount' },
  { name: 'one minor unit beyond 2^63 − 1 in JPY', method: 'POST', url: ADJUST, as: 'admin', json: adjustment({ currency: 'JPY', amount: '9223372036854775808' }), status: 400, code: 'VALIDATION', field: 'amount' },
  { name: 'a 60-digit amount', method: 'POST', url: ADJUST, as: 'admin', json: adjustment({ amount: '9'.repeat(60) }), status: 400, code: 'VALIDATION', field: 'amount' },
  { name: 'a 61-character amount', method: 'POST', url: ADJUST, as: 'admin', json: adjustment({ amount: '9'.repeat(61) }), status: 400, code: 'VALIDATION', field: 'amount' },
  { name: 'amount as a JSON number', method: 'POST', url: ADJUST, as: 'admin', json: adjustment({ amount: 5 }), status: 400, code: 'VALIDATION', field: 'amount' },
  { name: 'amount as a JSON fraction', method: 'POST', url: ADJUST, as: 'admin', json: adjustment({ amount: 1.5 }), status: 400, code: 'VALIDATION', field: 'amount' },
  { name: 'amount as a huge JSON number', method: 'POST', url: ADJUST, as: 'admin', raw: '{"userId":"USER","currency":"USD","amount":1e400,"direction":"credit","memo":"x"}', status: 400, code: 'VALIDATION', field: 'amount' },
  { name: 'amount null', method: 'POST', url: ADJUST, as: 'admin', json: adjustment({ amount: null }), status: 400, code: 'VALIDATION', field: 'amount' },
  { name: 'amount as an object', method: 'POST', url: ADJUST, as: 'admin', json: adjustment({ amount: { minor: 100 } }), status: 400, code: 'VALIDATION', field: 'amount' },
  { name: 'amount missing', method: 'POST', url: ADJUST, as: 'admin', json: without('amount'), status: 400, code: 'VALIDATION', field: 'amount' },
  // --- currencies, users, other fields ------------------------------------------------------
  { name: 'unknown currency', method: 'POST', url: ADJUST, as: 'admin', json: adjustment({ currency: 'XYZ' }), headers: withKey('xyz'), status: 400, code: 'UNKNOWN_CURRENCY', field: 'currency' },
  { name: 'lowercase currency', method: 'POST', url: ADJUST, as: 'admin', json: adjustment({ currency: 'usd' }), status: 400, code: 'VALIDATION', field: 'currency' },
  { name: 'currency as a number', method: 'POST', url: ADJUST, as: 'admin', json: adjustment({ currency: 840 }), status: 400, code: 'VALIDATION', field: 'currency' },
  { name: 'currency too long', method: 'POST', url: ADJUST, as: 'admin', json: adjustment({ currency: 'ABCDEFGHIJKLM' }), status: 400, code: 'VALIDATION', field: 'currency' },
  { name: 'userId not a uuid', method: 'POST', url: ADJUST, as: 'admin', json: adjustment({ userId: 'someone' }), status: 400, code: 'VALIDATION', field: 'userId' },
  { name: 'userId of nobody', method: 'POST', url: ADJUST, as: 'admin', json: adjustment({ userId: '01890000-0000-7000-8000-000000000000' }), headers: withKey('nobody'), status: 404, code: 'NOT_FOUND', field: 'userId' },
  { name: 'userId as a number', method: 'POST', url: ADJUST, as: 'admin', json: adjustment({ userId: 42 }), status: 400, code: 'VALIDATION', field: 'userId' },
  { name: 'direction unknown', method: 'POST', url: ADJUST, as: 'admin', json: adjustment({ direction: 'sideways' }), status: 400, code: 'VALIDATION', field: 'direction' },
  { name: 'direction as a boolean', method: 'POST', url: ADJUST, as: 'admin', json: adjustment({ direction: true }), status: 400, code: 'VALIDATION', field: 'direction' },
  { name: 'memo empty', method: 'POST', url: ADJUST, as: 'admin', json: adjustment({ memo: '' }), status: 400, code: 'VALIDATION', field: 'memo' },
  { name: 'memo missing', method: 'POST', url: ADJUST, as: 'admin', json: without('memo'), status: 400, code: 'VALIDATION', field: 'memo' },
  { name: 'memo too long', method: 'POST', url: ADJUST, as: 'admin', json: adjustment({ memo: 'm'.repeat(501) }), status: 400, code: 'VALIDATION', field: 'memo' },
  { name: 'an unknown field', method: 'POST', url: ADJUST, as: 'admin', json: adjustment({ accountId: 'x' }), status: 400, code: 'VALIDATION', field: 'accountId' },
  { name: 'a body that is an array', method: 'POST', url: ADJUST, as: 'admin', json: [], status: 400, code: 'VALIDATION' },
  { name: 'a body that is a string', method: 'POST', url: ADJUST, as: 'admin', json: 'credit 100', status: 400, code: 'VALIDATION' },
  { name: 'malformed JSON', method: 'POST', url: ADJUST, as: 'admin', raw: '{"amount": "1.00",', status: 400, code: 'MALFORMED_JSON' },
  { name: 'an Idempotency-Key with a space', method: 'POST', url: ADJUST, as: 'admin', json: adjustment({}), headers: withKey('two words'), status: 400, code: 'VALIDATION', field: 'idempotency-key' },
  { name: 'an Idempotency-Key of 201 characters', method: 'POST', url: ADJUST, as: 'admin', json: adjustment({}), headers: withKey('k'.repeat(201)), status: 400, code: 'VALIDATION', field: 'idempotency-key' },
  // --- money that is not there ---------------------------------------------------------------
  { name: 'a debit larger than the balance', method: 'POST', url: ADJUST, as: 'admin', json: adjustment({ direction: 'debit', amount: '10.01' }), headers: withKey('overdraw'), status: 409, code: 'INSUFFICIENT_FUNDS' },
  { name: 'a debit of a person with no wallet in that currency', method: 'POST', url: ADJUST, as: 'admin', json: (f: Fixture) => adjustment({ userId: f.walletless.id, direction: 'debit', amount: '1.00' })(f), status: 409, code: 'INSUFFICIENT_FUNDS' },
  // --- opening wallets ------------------------------------------------------------------------
  { name: 'open a wallet in an unknown currency', method: 'POST', url: '/api/wallets', as: 'bidder', json: { currency: 'XYZ' }, status: 400, code: 'UNKNOWN_CURRENCY', field: 'currency' },
  { name: 'open a wallet in lowercase', method: 'POST', url: '/api/wallets', as: 'bidder', json: { currency: 'eur' }, status: 400, code: 'VALIDATION', field: 'currency' },
  { name: 'open a wallet with a number', method: 'POST', url: '/api/wallets', as: 'bidder', json: { currency: 978 }, status: 400, code: 'VALIDATION', field: 'currency' },
  { name: 'open a wallet with no currency', method: 'POST', url: '/api/wallets', as: 'bidder', json: {}, status: 400, code: 'VALIDATION', field: 'currency' },
  { name: 'open a wallet with an unknown field', method: 'POST', url: '/api/wallets', as: 'bidder', json: { currency: 'EUR', balance: '100.00' }, status: 400, code: 'VALIDATION', field: 'balance' },
  { name: 'open a wallet anonymously', method: 'POST', url: '/api/wallets', as: 'anonymous', json: { currency: 'EUR' }, status: 401, code: 'UNAUTHENTICATED' },
  // --- reading and closing wallets --------------------------------------------------------------
  { name: 'read a wallet in lowercase', method: 'GET', url: '/api/wallets/usd', as: 'bidder', status: 400, code: 'VALIDATION', field: 'currency' },
  { name: 'read a wallet in an unknown currency', method: 'GET', url: '/api/wallets/XYZ', as: 'bidder', status: 404, code: 'NOT_FOUND', field: 'currency' },
  { name: 'read a wallet never opened', method: 'GET', url: '/api/wallets/EUR', as: 'bidder', status: 404, code: 'NOT_FOUND', field: 'currency' },
  { name: 'read a wallet with an injection', method: 'GET', url: `/api/wallets/${encodeURIComponent("USD' OR '1'='1")}`, as: 'bidder', status: 400, code: 'VALIDATION', field: 'currency' },
  { name: 'close a wallet in lowercase', method: 'DELETE', url: '/api/wallets/usd', as: 'bidder', status: 400, code: 'VALIDATION', field: 'currency' },
  { name: 'close a wallet never opened', method: 'DELETE', url: '/api/wallets/EUR', as: 'bidder', status: 404, code: 'NOT_FOUND' },
  { name: 'close a wallet with money in it', method: 'DELETE', url: '/api/wallets/USD', as: 'bidder', status: 409, code: 'WALLET_NOT_EMPTY' },
  { name: 'close a wallet anonymously', method: 'DELETE', url: '/api/wallets/USD', as: 'anonymous', status: 401, code: 'UNAUTHENTICATED' },
  { name: 'a statement with limit 0', method: 'GET', url: '/api/wallets/USD/transfers?limit=0', as: 'bidder', status: 400, code: 'VALIDATION', field: 'limit' },
  { name: 'a statement with limit 100000', method: 'GET', url: '/api/wallets/USD/transfers?limit=100000', as: 'bidder', status: 400, code: 'VALIDATION', field: 'limit' },
  { name: 'a statement with limit abc', method: 'GET', url: '/api/wallets/USD/transfers?limit=abc', as: 'bidder', status: 400, code: 'VALIDATION', field: 'limit' },
  { name: 'a statement with a forged cursor', method: 'GET', url: '/api/wallets/USD/transfers?cursor=bm90LWEtY3Vyc29y', as: 'bidder', status: 400, code: 'VALIDATION', field: 'cursor' },
  { name: 'a statement with an unknown parameter', method: 'GET', url: '/api/wallets/USD/transfers?accountId=x', as: 'bidder', status: 400, code: 'VALIDATION', field: 'accountId' },
  { name: 'a statement of a wallet never opened', method: 'GET', url: '/api/wallets/JPY/transfers', as: 'bidder', status: 404, code: 'NOT_FOUND' },
  { name: 'a statement in lowercase', method: 'GET', url: '/api/wallets/usd/transfers', as: 'bidder', status: 400, code: 'VALIDATION', field: 'currency' },
  // --- accounts by id ---------------------------------------------------------------------------
  { name: 'an account id that is not a uuid', method: 'GET', url: '/api/ledger/accounts/123', as: 'admin', status: 400, code: 'VALIDATION', field: 'id' },
  { name: 'an account that does not exist', method: 'GET', url: '/api/ledger/accounts/01890000-0000-7000-8000-000000000000', as: 'admin', status: 404, code: 'NOT_FOUND' },
  { name: "another person's account", method: 'GET', url: (f) => `/api/ledger/accounts/${f.otherUsdAccountId}`, as: 'bidder', status: 404, code: 'NOT_FOUND' },
  { name: 'a system account, as a bidder', method: 'GET', url: (f) => `/api/ledger/accounts/${f.escrowUsdAccountId}`, as: 'bidder', status: 404, code: 'NOT_FOUND' },
  { name: 'an account anonymously', method: 'GET', url: (f) => `/api/ledger/accounts/${f.bidderUsdAccountId}`, as: 'anonymous', status: 401, code: 'UNAUTHENTICATED' },
  // --- admin routes as a bidder -------------------------------------------------------------------
  { name: 'an adjustment by a bidder', method: 'POST', url: ADJUST, as: 'bidder', json: adjustment({ amount: '1000.00' }), headers: withKey('self-credit'), status: 403, code: 'FORBIDDEN' },
  { name: 'an adjustment anonymously', method: 'POST', url: ADJUST, as: 'anonymous', json: adjustment({}), status: 401, code: 'UNAUTHENTICATED' },
  { name: 'the check by a bidder', method: 'GET', url: '/api/ledger/check', as: 'bidder', status: 403, code: 'FORBIDDEN' },
  { name: 'the system accounts by a bidder', method: 'GET', url: '/api/ledger/accounts?currency=USD', as: 'bidder', status: 403, code: 'FORBIDDEN' },
  { name: 'a new asset by a bidder', method: 'POST', url: '/api/ledger/assets', as: 'bidder', json: { code: 'GOLD', scale: 4, name: 'Gold' }, status: 403, code: 'FORBIDDEN' },
  { name: 'the system accounts in lowercase', method: 'GET', url: '/api/ledger/accounts?currency=usd', as: 'admin', status: 400, code: 'VALIDATION', field: 'currency' },
];

type Snapshot = Record<string, unknown[]>;

async function snapshot(t: TestNode): Promise<Snapshot> {
  const db = t.node.database.kysely as unknown as Kysely<any>;
  return {
    ledger_assets: await db.selectFrom('ledger_assets').selectAll().orderBy('code').execute(),
    ledger_accounts: await db.selectFrom('ledger_accounts').selectAll().orderBy('id').execute(),
    ledger_transfers: await db.selectFrom('ledger_transfers').selectAll().orderBy('id').execute(),
    platform_idempotency_keys: await db.selectFrom('platform_idempotency_keys').selectAll().orderBy('scope').orderBy('key').execute(),
  };
}

function expectProblem(res: Answer, row: Pick<Row, 'status' | 'code' | 'field'>, what: string): void {
  expect(res.status, `${what}: ${res.text}`).toBe(row.status);
  expect(res.headers['content-type'], what).toMatch(/^application\/problem\+json/);
  expect(res.body, what).toMatchObject({ status: row.status, code: row.code });
  expect(typeof res.body.detail, what).toBe('string');
  if (row.field) expect((res.body.errors ?? []).map((e: { field: string }) => e.field), what).toContain(row.field);
}

for (const dialect of DIALECTS) {
  describe(`bad input to wallets and the ledger on ${dialect}`, () => {
    let t: TestNode;
    let admin: string;
    let f: Fixture;

    const tokenOf = (as: Caller) => (as === 'admin' ? admin : as === 'bidder' ? f.bidder.token : undefined);
    const credit = (userId: string, currency: string, amount: string, direction: 'credit' | 'debit' = 'credit') =>
      t.call('POST', ADJUST, { token: admin, json: { userId, currency, amount, direction, memo: 'setup' } });

    beforeAll(async () => {
      t = await startTestNode(dialect, { roles: new Set(['api'] as const) });
      admin = await t.adminToken();
      const bidder = await t.newUser('Bad Input Bidder');
      const other = await t.newUser('Bad Input Other');
      const walletless = await t.newUser('Bad Input Walletless');
      expect((await credit(bidder.id, 'USD', '10.00')).status).toBe(201);
      expect((await credit(other.id, 'USD', '3.00')).status).toBe(201);
      const ledger = t.node.ledger.service;
      f = {
        bidder,
        other,
        walletless,
        bidderUsdAccountId: (await ledger.walletOf(bidder.id, 'USD'))!.id,
        otherUsdAccountId: (await ledger.walletOf(other.id, 'USD'))!.id,
        escrowUsdAccountId: (await ledger.systemAccount('escrow', 'USD')).id,
      };
    });
    afterAll(async () => t?.close());

    it('answers every bad request with a 4xx problem naming the field, and writes nothing', async () => {
      const before = await snapshot(t);
      for (const row of ROWS) {
        const url = typeof row.url === 'function' ? row.url(f) : row.url;
        const token = tokenOf(row.as);
        const res = row.raw !== undefined
          ? await t.call(row.method, url, { ...(token && { token }), payload: row.raw.replace('USER', f.bidder.id), contentType: 'application/json', ...(row.headers && { headers: row.headers }) })
          : await t.call(row.method, url, { ...(token && { token }), ...(row.json !== undefined && { json: typeof row.json === 'function' ? (row.json as (f: Fixture) => unknown)(f) : row.json }), ...(row.headers && { headers: row.headers }) });
        expectProblem(res, row, row.name);
      }
      expect(await snapshot(t)).toEqual(before);
      // The refused requests freed their keys: the same key with a good request now works.
      const retry = await t.call('POST', ADJUST, { token: admin, headers: withKey('overdraw'), json: adjustment({ direction: 'debit', amount: '10.00' })(f) });
      expect(retry.status, retry.text).toBe(201);
      expect(retry.headers['idempotent-replayed']).toBeUndefined();
      expect((await credit(f.bidder.id, 'USD', '10.00')).status).toBe(201);
      // The person with no wallet still has none: a refused debit opened nothing.
      expect(await t.node.ledger.service.walletOf(f.walletless.id, 'USD')).toBeUndefined();
    });

    it('a debit larger than the balance is INSUFFICIENT_FUNDS and leaves the balance as it was', async () => {
      const before = await t.call('GET', '/api/wallets/USD', { token: f.other.token });
      const res = await t.call('POST', ADJUST, { token: admin, json: { userId: f.other.id, currency: 'USD', amount: '3.01', direction: 'debit', memo: 'too much' } });
      expectProblem(res, { status: 409, code: 'INSUFFICIENT_FUNDS' }, 'overdraw');
      expect((await t.call('GET', '/api/wallets/USD', { token: f.other.token })).body).toEqual(before.body);
      // Exactly the balance is fine.
      const all = await t.call('POST', ADJUST, { token: admin, json: { userId: f.other.id, currency: 'USD', amount: '3.00', direction: 'debit', memo: 'all of it' } });
      expect(all.status, all.text).toBe(201);
      expect(all.body).toMatchObject({ direction: 'out', amount: '3.00' });
      expect((await t.call('GET', '/api/wallets/USD', { token: f.other.token })).body).toMatchObject({ posted: '0.00', available: '0.00' });
      expect((await t.call('POST', ADJUST, { token: admin, json: { userId: f.other.id, currency: 'USD', amount: '3.00', direction: 'credit', memo: 'back' } })).status).toBe(201);
    });

    it('the largest amount is accepted, but no credit may take an account past 2^63 − 1 minor units, and the refusal writes nothing', async () => {
      const person = await t.newUser('Max Amount');
      const max = await t.call('POST', ADJUST, { token: admin, json: { userId: person.id, currency: 'JPY', amount: '9223372036854775807', direction: 'credit', memo: 'max' } });
      expect(max.status, max.text).toBe(201);
      expect(max.body).toMatchObject({ amount: '9223372036854775807', currency: 'JPY' });
      expect((await t.call('GET', '/api/wallets/JPY', { token: person.token })).body).toMatchObject({ posted: '9223372036854775807', available: '9223372036854775807' });
      const before = await snapshot(t);
      const overflow = await t.call('POST', ADJUST, { token: admin, headers: withKey('overflow'), json: { userId: person.id, currency: 'JPY', amount: '1', direction: 'credit', memo: 'one more' } });
      expectProblem(overflow, { status: 400, code: 'AMOUNT_INVALID' }, 'overflow');
      expect(await snapshot(t)).toEqual(before);
      expect((await t.call('GET', '/api/wallets/JPY', { token: person.token })).body).toMatchObject({ posted: '9223372036854775807' });
      const back = await t.call('POST', ADJUST, { token: admin, json: { userId: person.id, currency: 'JPY', amount: '9223372036854775807', direction: 'debit', memo: 'max back' } });
      expect(back.status, back.text).toBe(201);
      expect((await t.call('GET', '/api/ledger/check', { token: admin })).body).toMatchObject({ ok: true });
    });

    it('a bidder reads their own account by id but not anyone else’s, and an admin reads any', async () => {
      const own = await t.call('GET', `/api/ledger/accounts/${f.bidderUsdAccountId}`, { token: f.bidder.token });
      expect(own.status).toBe(200);
      expect(own.body).toMatchObject({ id: f.bidderUsdAccountId, currency: 'USD', kind: 'wallet' });
      // Upper-case ids name the same account.
      expect((await t.call('GET', `/api/ledger/accounts/${f.bidderUsdAccountId.toUpperCase()}`, { token: f.bidder.token })).status).toBe(200);
      const theirs = await t.call('GET', `/api/ledger/accounts/${f.otherUsdAccountId}`, { token: f.bidder.token });
      const nobody = await t.call('GET', '/api/ledger/accounts/01890000-0000-7000-8000-000000000000', { token: f.bidder.token });
      // Someone else's account and no account at all look the same from outside.
      expect(theirs.status).toBe(404);
      expect(theirs.body.code).toBe(nobody.body.code);
      expect((await t.call('GET', `/api/ledger/accounts/${f.otherUsdAccountId}`, { token: admin })).status).toBe(200);
      expect((await t.call('GET', `/api/ledger/accounts/${f.escrowUsdAccountId}`, { token: admin })).body).toMatchObject({ kind: 'escrow' });
    });

    it('a wallet closes only at zero, then disappears from the list, and reopens empty', async () => {
      const person = await t.newUser('Closer');
      expect((await credit(person.id, 'GBP', '5.00')).status).toBe(201);
      const full = await t.call('DELETE', '/api/wallets/GBP', { token: person.token });
      expectProblem(full, { status: 409, code: 'WALLET_NOT_EMPTY' }, 'close with money');

      // A hold alone keeps it open too: spend everything but what is held.
      const wallet = (await t.node.ledger.service.walletOf(person.id, 'GBP'))!;
      const hold = await t.node.ledger.service.hold({ ref: `close-test:${person.id}`, accountId: wallet.id, currency: 'GBP', amountMinor: 200n, owner: 'test:close' });
      expect((await credit(person.id, 'GBP', '3.00', 'debit')).status).toBe(201);
      expectProblem(await t.call('DELETE', '/api/wallets/GBP', { token: person.token }), { status: 409, code: 'WALLET_NOT_EMPTY' }, 'close with a hold');
      await t.node.ledger.service.release({ ref: `close-test:${person.id}:release`, holdId: hold.id });
      expect((await credit(person.id, 'GBP', '2.00', 'debit')).status).toBe(201);

      const closed = await t.call('DELETE', '/api/wallets/GBP', { token: person.token });
      expect(closed.status, closed.text).toBe(204);
      const list = await t.call('GET', '/api/wallets', { token: person.token });
      expect(list.body.items.map((w: { currency: string }) => w.currency)).not.toContain('GBP');
      expectProblem(await t.call('GET', '/api/wallets/GBP', { token: person.token }), { status: 404, code: 'NOT_FOUND' }, 'read closed');
      expectProblem(await t.call('GET', '/api/wallets/GBP/transfers', { token: person.token }), { status: 404, code: 'NOT_FOUND' }, 'statement of closed');
      expectProblem(await t.call('DELETE', '/api/wallets/GBP', { token: person.token }), { status: 404, code: 'NOT_FOUND' }, 'close twice');
      // Money cannot reach a closed wallet, and the refusal writes nothing.
      const before = await snapshot(t);
      expectProblem(await credit(person.id, 'GBP', '1.00'), { status: 409, code: 'ACCOUNT_CLOSED' }, 'credit closed');
      expect(await snapshot(t)).toEqual(before);

      const reopened = await t.call('POST', '/api/wallets', { token: person.token, json: { currency: 'GBP' } });
      expect(reopened.status, reopened.text).toBe(201);
      expect(reopened.body).toMatchObject({ id: wallet.id, currency: 'GBP', posted: '0.00', held: '0.00', available: '0.00', closed: false });
      const again = await t.call('GET', '/api/wallets', { token: person.token });
      expect(again.body.items.map((w: { currency: string }) => w.currency)).toContain('GBP');
      // Its history is still its own.
      expect((await t.call('GET', '/api/wallets/GBP/transfers', { token: person.token })).body.items.length).toBeGreaterThanOrEqual(3);
      expect((await t.call('GET', '/api/ledger/check', { token: admin })).body).toMatchObject({ ok: true });
    });
  });
}
