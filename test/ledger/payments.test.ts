import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/platform/clock.js';
import { createLogger } from '../../src/platform/logging.js';
import { signatureHeader } from '../../src/ledger/payments/signature.js';
import { DIALECTS } from '../support/databases.js';
import { startTestNode, type Answer, type TestNode } from '../support/gavel.js';

const SECRET = 'whsec_test_0123456789abcdef';
const WEBHOOK = '/api/payments/webhook';

type User = Awaited<ReturnType<TestNode['newUser']>>;

/** Log lines a node writes, to check what was logged (and what never was). */
function capturedLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const text: string[] = [];
  const logger = createLogger('info', {
    write(line: string) {
      text.push(line);
      lines.push(JSON.parse(line) as Record<string, unknown>);
    },
  });
  return { logger, lines, text };
}

const nowS = () => Math.floor(Date.now() / 1000);
const eventId = () => `evt_${randomBytes(16).toString('hex')}`;
const sandboxIdOf = (url: string) => url.split('/').pop()!;

function eventBody(o: { type: string; objectId: string; reference: string; amountMinor: string; currency: string; id?: string; createdS?: number }): string {
  return JSON.stringify({
    id: o.id ?? eventId(),
    type: o.type,
    created: o.createdS ?? nowS(),
    data: { object: o.type.split('.')[0], id: o.objectId, reference: o.reference, amountMinor: o.amountMinor, currency: o.currency },
  });
}

function postWebhook(t: TestNode, body: string, header: string | undefined, contentType = 'application/json'): Promise<Answer> {
  return t.call('POST', WEBHOOK, { payload: body, contentType, headers: header === undefined ? {} : { 'gavel-signature': header } });
}

const sign = (body: string, o: { secret?: string; t?: number } = {}) => signatureHeader({ secret: o.secret ?? SECRET, rawBody: body, timestampS: o.t ?? nowS() });

async function wallet(t: TestNode, user: User, currency: string) {
  const res = await t.call('GET', `/api/wallets/${currency}`, { token: user.token });
  return res.status === 404 ? undefined : (res.body as { posted: string; held: string; available: string });
}

async function ledgerOk(t: TestNode) {
  const check = await t.call('GET', '/api/ledger/check', { token: await t.adminToken() });
  expect(check.body).toMatchObject({ ok: true, violations: [] });
}

async function seed(t: TestNode, user: User, currency: string, amount: string) {
  const res = await t.call('POST', '/api/ledger/adjustments', { token: await t.adminToken(), json: { userId: user.id, currency, amount, direction: 'credit', memo: 'seed' } });
  expect(res.status).toBe(201);
}

for (const dialect of DIALECTS) {
  describe(`top-ups and withdrawals on ${dialect}`, () => {
    let t: TestNode;
    const logs = capturedLogger();
    beforeAll(async () => {
      t = await startTestNode(dialect, { paymentsWebhookSecret: SECRET }, { logger: logs.logger });
    });
    afterAll(async () => t?.close());

    const topup = (user: User, currency: string, amount: unknown, headers: Record<string, string> = {}) =>
      t.call('POST', `/api/wallets/${currency}/topups`, { token: user.token, json: { amount }, headers });
    const withdraw = (user: User, currency: string, amount: unknown, headers: Record<string, string> = {}) =>
      t.call('POST', `/api/wallets/${currency}/withdrawals`, { token: user.token, json: { amount }, headers });

    it('a top-up approved on the sandbox page credits the wallet exactly once, however often it is approved', async () => {
      const me = await t.newUser('Top Up');
      const created = await topup(me, 'USD', '12.50', { 'idempotency-key': 'topup-1' });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ status: 'pending', amount: '12.50', currency: 'USD' });
      expect(created.body.redirectUrl).toMatch(/^\/sandbox\/payments\/sbx_pay_[0-9a-f]{32}$/);
      const replay = await topup(me, 'USD', '12.50', { 'idempotency-key': 'topup-1' });
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body.id).toBe(created.body.id);
      // The wallet is opened for the top-up, empty until the payer approves.
      expect(await wallet(t, me, 'USD')).toMatchObject({ posted: '0.00' });

      const page = await t.call('GET', created.body.redirectUrl);
      expect(page.status).toBe(200);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      expect(page.text).toContain('12.50 USD');
      expect(page.text).toContain('Approve payment');
      expect(page.text).toContain('Decline payment');

      const approved = await t.call('POST', `${created.body.redirectUrl}/approve`, { payload: '', contentType: 'application/x-www-form-urlencoded' });
      expect(approved.status).toBe(303);
      expect(approved.headers.location).toBe(created.body.redirectUrl);
      const after = await t.call('GET', `/api/wallets/USD/topups/${created.body.id}`, { token: me.token });
      expect(after.body.status).toBe('succeeded');
      expect(await wallet(t, me, 'USD')).toMatchObject({ posted: '12.50', available: '12.50' });

      // Approving again re-sends the same event, as a provider retries: Gavel takes it once.
      const again = await t.call('POST', `${created.body.redirectUrl}/approve`, { payload: 'x=1', contentType: 'application/x-www-form-urlencoded' });
      expect(again.status).toBe(303);
      expect(await wallet(t, me, 'USD')).toMatchObject({ posted: '12.50' });
      const statement = await t.call('GET', '/api/wallets/USD/transfers', { token: me.token });
      expect(statement.body.items).toHaveLength(1);
      expect(statement.body.items[0]).toMatchObject({ kind: 'posted', direction: 'in', amount: '12.50', owner: `topup:${created.body.id}` });
      const shown = await t.call('GET', created.body.redirectUrl);
      expect(shown.text).toContain('You approved this payment.');
      expect(shown.text).not.toContain('Approve payment');

      const list = await t.call('GET', '/api/wallets/USD/topups', { token: me.token });
      expect(list.body.items.map((i: { id: string; status: string }) => [i.id, i.status])).toEqual([[created.body.id, 'succeeded']]);
      expect(logs.lines.some((l) => l.event === 'topup_credited' && l.topupId === created.body.id)).toBe(true);
      await ledgerOk(t);
    });

    it('a replayed webhook is refused and credits nothing more; a new event for a settled payment is a duplicate', async () => {
      const me = await t.newUser('Replay');
      const created = await topup(me, 'EUR', '40.00');
      const body = eventBody({ type: 'payment.succeeded', objectId: sandboxIdOf(created.body.redirectUrl), reference: created.body.id, amountMinor: '4000', currency: 'EUR' });
      const header = sign(body);
      const first = await postWebhook(t, body, header);
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ received: true, outcome: 'credited' });
      const replayed = await postWebhook(t, body, header);
      expect(replayed.status).toBe(409);
      expect(replayed.body.code).toBe('WEBHOOK_REPLAYED');
      expect(replayed.headers['content-type']).toMatch(/^application\/problem\+json/);
      const resigned = await postWebhook(t, body, sign(body, { t: nowS() + 1 }));
      expect(resigned.status).toBe(409);
      const another = eventBody({ type: 'payment.succeeded', objectId: sandboxIdOf(created.body.redirectUrl), reference: created.body.id, amountMinor: '4000', currency: 'EUR' });
      const duplicate = await postWebhook(t, another, sign(another));
      expect(duplicate.status).toBe(200);
      expect(duplicate.body.outcome).toBe('duplicate');
      expect(await wallet(t, me, 'EUR')).toMatchObject({ posted: '40.00' });
      expect(logs.lines.some((l) => l.level === 40 && l.code === 'WEBHOOK_REPLAYED')).toBe(true);
      await ledgerOk(t);
    });

    it('concurrent deliveries of different events for one payment credit it once', async () => {
      const me = await t.newUser('Concurrent');
      const created = await topup(me, 'GBP', '3.00');
      const bodies = Array.from({ length: 6 }, () => eventBody({ type: 'payment.succeeded', objectId: sandboxIdOf(created.body.redirectUrl), reference: created.body.id, amountMinor: '300', currency: 'GBP' }));
      const answers = await Promise.all(bodies.map((b) => postWebhook(t, b, sign(b))));
      expect(answers.map((a) => a.status)).toEqual(Array(6).fill(200));
      expect(answers.filter((a) => a.body.outcome === 'credited')).toHaveLength(1);
      expect(await wallet(t, me, 'GBP')).toMatchObject({ posted: '3.00' });
      await ledgerOk(t);
    });

    it('a declined top-up stays declined and credits nothing', async () => {
      const me = await t.newUser('Decliner');
      const created = await topup(me, 'CAD', '9.99');
      const declined = await t.call('POST', `${created.body.redirectUrl}/decline`, { payload: '', contentType: 'application/x-www-form-urlencoded' });
      expect(declined.status).toBe(303);
      expect((await t.call('GET', `/api/wallets/CAD/topups/${created.body.id}`, { token: me.token })).body.status).toBe('declined');

      const approve = await t.call('POST', `${created.body.redirectUrl}/approve`);
      expect(approve.status).toBe(409);
      expect(approve.headers['content-type']).toMatch(/^text\/html/);
      expect(approve.text).toContain('declined already');
      // Money confirmed by the provider after a decline is refused (and raised for a refund).
      const body = eventBody({ type: 'payment.succeeded', objectId: sandboxIdOf(created.body.redirectUrl), reference: created.body.id, amountMinor: '999', currency: 'CAD' });
      const late = await postWebhook(t, body, sign(body));
      expect(late.status).toBe(409);
      expect(late.body.code).toBe('PAYMENT_NOT_PENDING');
      expect(logs.lines.some((l) => l.level === 50 && l.code === 'PAYMENT_NOT_PENDING')).toBe(true);
      expect((await t.call('GET', `/api/wallets/CAD/topups/${created.body.id}`, { token: me.token })).body.status).toBe('declined');
      expect(await wallet(t, me, 'CAD')).toMatchObject({ posted: '0.00', available: '0.00' });
      await ledgerOk(t);
    });

    it('forged, mis-signed, stale, malformed and mismatched webhooks answer 4xx and change nothing', async () => {
      const me = await t.newUser('Target');
      const created = await topup(me, 'MXN', '100.00');
      const objectId = sandboxIdOf(created.body.redirectUrl);
      const good = eventBody({ type: 'payment.succeeded', objectId, reference: created.body.id, amountMinor: '10000', currency: 'MXN' });
      const goodHeader = sign(good);
      const hmac = goodHeader.split('v1=')[1]!;
      const other = (o: Partial<Parameters<typeof eventBody>[0]>) => eventBody({ type: 'payment.succeeded', objectId, reference: created.body.id, amountMinor: '10000', currency: 'MXN', ...o });
      const cases: Array<[string, string, string | undefined, number, string, string?]> = [
        ['no signature header', good, undefined, 400, 'WEBHOOK_SIGNATURE_INVALID'],
        ['an empty header', good, '', 400, 'WEBHOOK_SIGNATURE_INVALID'],
        ['a header that is not key=value pairs', good, 'garbage', 400, 'WEBHOOK_SIGNATURE_INVALID'],
        ['a timestamp that is not a number', good, `t=soon,v1=${hmac}`, 400, 'WEBHOOK_SIGNATURE_INVALID'],
        ['no timestamp', good, `v1=${hmac}`, 400, 'WEBHOOK_SIGNATURE_INVALID'],
        ['no signature', good, `t=${nowS()}`, 400, 'WEBHOOK_SIGNATURE_INVALID'],
        ['two timestamps', good, `t=${nowS()},t=${nowS()},v1=${hmac}`, 400, 'WEBHOOK_SIGNATURE_INVALID'],
        ['a signature that is not hex', good, `t=${nowS()},v1=${'z'.repeat(64)}`, 400, 'WEBHOOK_SIGNATURE_INVALID'],
        ['a forged signature', good, `t=${nowS()},v1=${'0'.repeat(64)}`, 400, 'WEBHOOK_SIGNATURE_INVALID'],
        ['the wrong secret', good, sign(good, { secret: 'whsec_somebody_else_1234' }), 400, 'WEBHOOK_SIGNATURE_INVALID'],
        ['a body changed after signing', good.replace('10000', '99999'), goodHeader, 400, 'WEBHOOK_SIGNATURE_INVALID'],
        ['a timestamp changed after signing', good, goodHeader.replace(/t=\d+/, `t=${nowS() + 7}`), 400, 'WEBHOOK_SIGNATURE_INVALID'],
        ['a stale timestamp', good, sign(good, { t: nowS() - 301 }), 400, 'WEBHOOK_STALE'],
        ['a timestamp far in the future', good, sign(good, { t: nowS() + 400 }), 400, 'WEBHOOK_STALE'],
        ['a signed body that is not JSON', 'not json', sign('not json'), 400, 'VALIDATION'],
        ['a signed event of the wrong shape', '{"id":"x"}', sign('{"id":"x"}'), 400, 'VALIDATION'],
        ['a signed event with __proto__', '{"__proto__":{"x":1}}', sign('{"__proto__":{"x":1}}'), 400, 'VALIDATION'],
        ['a signed event for an unknown payment', other({ objectId: `sbx_pay_${'0'.repeat(32)}` }), undefined, 422, 'WEBHOOK_EVENT_REJECTED', 'sign'],
        ['a signed event with another amount', other({ amountMinor: '10001' }), undefined, 422, 'WEBHOOK_EVENT_REJECTED', 'sign'],
        ['a signed event in another currency', other({ currency: 'USD' }), undefined, 422, 'WEBHOOK_EVENT_REJECTED', 'sign'],
        ['a signed event with another reference', other({ reference: '01933b6e-7f4a-7c3e-9d2b-5f0a1c2d3e4f' }), undefined, 422, 'WEBHOOK_EVENT_REJECTED', 'sign'],
      ];
      for (const [name, body, header, status, code, signIt] of cases) {
        const res = await postWebhook(t, body, signIt ? sign(body) : header);
        expect([name, res.status, res.body?.code]).toEqual([name, status, code]);
      }
      const plain = await postWebhook(t, good, goodHeader, 'text/plain');
      expect(plain.status).toBe(415);
      const huge = await postWebhook(t, `{"pad":"${'x'.repeat(70 * 1024)}"}`, goodHeader);
      expect(huge.status).toBe(413);

      expect((await t.call('GET', `/api/wallets/MXN/topups/${created.body.id}`, { token: me.token })).body.status).toBe('pending');
      expect(await wallet(t, me, 'MXN')).toMatchObject({ posted: '0.00' });
      const refused = logs.lines.filter((l) => l.event === 'webhook_refused' && l.level === 40);
      expect(refused.length).toBeGreaterThanOrEqual(15);
      // After all that, the genuine event still works.
      const genuine = await postWebhook(t, good, goodHeader);
      expect(genuine.body.outcome).toBe('credited');
      await ledgerOk(t);
    });

    it('bad amounts and currencies answer 400 and write nothing', async () => {
      const me = await t.newUser('Bad Amounts');
      const bad: Array<[string, unknown]> = [
        ['USD', '-1'],
        ['USD', '1e3'],
        ['USD', '0'],
        ['USD', '0.00'],
        ['USD', '1.001'],
        ['USD', ' 5'],
        ['USD', ''],
        ['USD', 12.5],
        ['USD', null],
        ['USD', '10000000000000.01'],
        ['USD', '99999999999999999999999'],
        ['JPY', '1.5'],
      ];
      for (const [currency, amount] of bad) {
        for (const send of [topup, withdraw]) {
          const res = await send(me, currency, amount);
          expect([amount, res.status, res.body.code]).toEqual([amount, 400, 'VALIDATION']);
          expect(res.body.errors[0].field).toBe('amount');
        }
      }
      for (const send of [topup, withdraw]) {
        expect((await send(me, 'XYZ', '1.00')).body).toMatchObject({ status: 400, code: 'UNKNOWN_CURRENCY' });
        expect((await send(me, 'usd', '1.00')).status).toBe(400);
        const extra = await t.call('POST', '/api/wallets/USD/topups', { token: me.token, json: { amount: '1.00', userId: me.id } });
        expect(extra.status).toBe(400);
        expect((await t.call('POST', '/api/wallets/USD/topups', { token: me.token, json: {} })).status).toBe(400);
      }
      expect((await t.call('GET', '/api/wallets', { token: me.token })).body.items).toEqual([]);
      expect((await t.call('GET', '/api/wallets/USD/topups', { token: me.token })).body.items).toEqual([]);
      expect((await t.call('GET', '/api/wallets/USD/withdrawals', { token: me.token })).body.items).toEqual([]);
    });

    it("nobody sees or settles another person's top-ups and withdrawals", async () => {
      const owner = await t.newUser('Owner');
      const stranger = await t.newUser('Stranger');
      const created = await topup(owner, 'USD', '5.00');
      await seed(t, owner, 'USD', '20.00');
      const w = await withdraw(owner, 'USD', '1.00');
      expect(w.status).toBe(201);
      for (const path of [`topups/${created.body.id}`, `withdrawals/${w.body.id}`]) {
        const theirs = await t.call('GET', `/api/wallets/USD/${path}`, { token: stranger.token });
        expect(theirs.status).toBe(404);
        expect(theirs.body.code).toBe('NOT_FOUND');
        expect((await t.call('GET', `/api/wallets/EUR/${path}`, { token: owner.token })).status).toBe(404);
        expect((await t.call('GET', `/api/wallets/USD/${path}`)).status).toBe(401);
        expect((await t.call('GET', `/api/wallets/USD/${path}`, { token: owner.token })).status).toBe(200);
      }
      expect((await t.call('GET', '/api/wallets/USD/topups', { token: stranger.token })).body.items).toEqual([]);
      expect((await t.call('GET', '/api/wallets/USD/withdrawals', { token: stranger.token })).body.items).toEqual([]);
      expect((await t.call('GET', '/api/wallets/USD/topups/not-a-uuid', { token: owner.token })).status).toBe(400);
      expect((await t.call('POST', '/api/wallets/USD/topups', { json: { amount: '1.00' } })).status).toBe(401);
      expect((await t.call('POST', '/api/wallets/USD/withdrawals', { json: { amount: '1.00' } })).status).toBe(401);
    });

    it('a paid withdrawal holds the money at once and captures it to provider clearing', async () => {
      const me = await t.newUser('Withdrawer');
      await seed(t, me, 'CHF', '100.00');
      const admin = await t.adminToken();
      const clearingBefore = (await t.call('GET', '/api/ledger/accounts?currency=CHF', { token: admin })).body.items.find((a: { kind: string }) => a.kind === 'provider_clearing');

      const tooMuch = await withdraw(me, 'CHF', '100.01');
      expect(tooMuch.status).toBe(409);
      expect(tooMuch.body.code).toBe('INSUFFICIENT_FUNDS');

      const created = await withdraw(me, 'CHF', '30.00', { 'idempotency-key': 'w-1' });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ status: 'requested', amount: '30.00', currency: 'CHF' });
      expect(created.body.providerPageUrl).toMatch(/^\/sandbox\/payouts\/sbx_po_[0-9a-f]{32}$/);
      expect((await withdraw(me, 'CHF', '30.00', { 'idempotency-key': 'w-1' })).body.id).toBe(created.body.id);
      // Even once the stored answer is gone (a crash before it was written, or 24 hours later),
      // the key finds the first withdrawal instead of holding the money twice.
      await sql`delete from platform_idempotency_keys where key = 'w-1'`.execute(t.node.database.kysely);
      expect((await withdraw(me, 'CHF', '30.00', { 'idempotency-key': 'w-1' })).body.id).toBe(created.body.id);
      await sql`delete from platform_idempotency_keys where key = 'w-1'`.execute(t.node.database.kysely);
      expect((await withdraw(me, 'CHF', '31.00', { 'idempotency-key': 'w-1' })).body.code).toBe('IDEMPOTENCY_KEY_REUSED');
      expect(await wallet(t, me, 'CHF')).toMatchObject({ posted: '100.00', held: '30.00', available: '70.00' });
      expect((await withdraw(me, 'CHF', '70.01')).body.code).toBe('INSUFFICIENT_FUNDS');
      expect((await t.call('GET', '/api/wallets/CHF/withdrawals', { token: me.token })).body.items).toHaveLength(1);

      const page = await t.call('GET', created.body.providerPageUrl);
      expect(page.status).toBe(200);
      expect(page.text).toContain('30.00 CHF');
      const paid = await t.call('POST', `${created.body.providerPageUrl}/paid`);
      expect(paid.status).toBe(303);
      expect((await t.call('GET', `/api/wallets/CHF/withdrawals/${created.body.id}`, { token: me.token })).body.status).toBe('paid');
      expect(await wallet(t, me, 'CHF')).toMatchObject({ posted: '70.00', held: '0.00', available: '70.00' });
      const clearingAfter = (await t.call('GET', '/api/ledger/accounts?currency=CHF', { token: admin })).body.items.find((a: { kind: string }) => a.kind === 'provider_clearing');
      expect(Number(clearingAfter.posted) - Number(clearingBefore.posted)).toBe(30);

      expect((await t.call('POST', `${created.body.providerPageUrl}/failed`)).status).toBe(409);
      expect((await t.call('POST', `${created.body.providerPageUrl}/paid`)).status).toBe(303);
      expect(await wallet(t, me, 'CHF')).toMatchObject({ posted: '70.00', held: '0.00' });
      await ledgerOk(t);
    });

    it('a failed withdrawal releases the hold and the money is available again', async () => {
      const me = await t.newUser('Unlucky');
      await seed(t, me, 'RUB', '50.00');
      const created = await withdraw(me, 'RUB', '50.00');
      expect(await wallet(t, me, 'RUB')).toMatchObject({ posted: '50.00', held: '50.00', available: '0.00' });
      expect((await t.call('POST', `${created.body.providerPageUrl}/failed`)).status).toBe(303);
      expect((await t.call('GET', `/api/wallets/RUB/withdrawals/${created.body.id}`, { token: me.token })).body.status).toBe('failed');
      expect(await wallet(t, me, 'RUB')).toMatchObject({ posted: '50.00', held: '0.00', available: '50.00' });
      // A late "paid" for a payout that failed changes nothing.
      const body = eventBody({ type: 'payout.paid', objectId: sandboxIdOf(created.body.providerPageUrl), reference: created.body.id, amountMinor: '5000', currency: 'RUB' });
      const late = await postWebhook(t, body, sign(body));
      expect(late.status).toBe(409);
      expect(late.body.code).toBe('PAYMENT_NOT_PENDING');
      expect(await wallet(t, me, 'RUB')).toMatchObject({ available: '50.00' });
      await ledgerOk(t);
    });

    it('a withdrawal needs an open wallet', async () => {
      const me = await t.newUser('No Wallet');
      const res = await withdraw(me, 'COP', '1.00');
      expect(res.status).toBe(404);
      expect(res.body.errors[0]).toMatchObject({ in: 'params', field: 'currency' });
    });

    it('the confirmation page escapes what it prints and cannot be framed', async () => {
      const admin = await t.adminToken();
      const asset = await t.call('POST', '/api/ledger/assets', { token: admin, json: { code: 'ESCQ', scale: 2, name: `<script>alert("x")</script> & 'co'` } });
      expect(asset.status).toBe(201);
      const me = await t.newUser('Escaper');
      const created = await topup(me, 'ESCQ', '1.25');
      const page = await t.call('GET', created.body.redirectUrl);
      expect(page.status).toBe(200);
      expect(page.text).toContain('1.25 ESCQ');
      expect(page.text).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;');
      expect(page.text).not.toContain('<script');
      expect(page.headers['x-frame-options']).toBe('DENY');
      expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(page.text).toMatch(/<form method="post" action="\/sandbox\/payments\/sbx_pay_[0-9a-f]{32}\/approve"><button type="submit"[^>]*>Approve payment<\/button><\/form>/);

      const missing = await t.call('GET', `/sandbox/payments/sbx_pay_${'0'.repeat(32)}`);
      expect(missing.status).toBe(404);
      expect(missing.headers['content-type']).toMatch(/^text\/html/);
      expect((await t.call('GET', '/sandbox/payments/%3Cscript%3E')).status).toBe(404);
      expect((await t.call('POST', `/sandbox/payments/sbx_pay_${'0'.repeat(32)}/approve`)).status).toBe(404);
      expect((await t.call('POST', `${created.body.redirectUrl}/approve`, { payload: 'x'.repeat(2000), contentType: 'application/x-www-form-urlencoded' })).status).toBe(413);
    });

    it('never logs the webhook secret', () => {
      expect(logs.text.join('\n')).not.toContain(SECRET);
    });
  });

  describe(`top-up expiry on ${dialect}`, () => {
    let t: TestNode;
    const clock = new ManualClock(Date.now());
    beforeAll(async () => {
      t = await startTestNode(dialect, { paymentsWebhookSecret: SECRET, roles: new Set(['api']) }, { clock });
    });
    afterAll(async () => t?.close());

    it('an unconfirmed top-up expires after 30 minutes and can no longer be approved or credited', async () => {
      const me = await t.newUser('Slow Payer');
      const created = await t.call('POST', '/api/wallets/USD/topups', { token: me.token, json: { amount: '8.00' } });
      clock.advance(29 * 60 * 1000);
      expect((await t.call('GET', `/api/wallets/USD/topups/${created.body.id}`, { token: me.token })).body.status).toBe('pending');
      clock.advance(60 * 1000);
      expect((await t.call('GET', `/api/wallets/USD/topups/${created.body.id}`, { token: me.token })).body.status).toBe('expired');
      const page = await t.call('GET', created.body.redirectUrl);
      expect(page.text).toContain('expired');
      expect(page.text).not.toContain('Approve payment');
      expect((await t.call('POST', `${created.body.redirectUrl}/approve`)).status).toBe(409);

      const body = eventBody({ type: 'payment.succeeded', objectId: sandboxIdOf(created.body.redirectUrl), reference: created.body.id, amountMinor: '800', currency: 'USD', createdS: Math.floor(clock.nowMs() / 1000) });
      const late = await postWebhook(t, body, signatureHeader({ secret: SECRET, rawBody: body, timestampS: Math.floor(clock.nowMs() / 1000) }));
      expect(late.status).toBe(409);
      expect(late.body.code).toBe('PAYMENT_NOT_PENDING');
      expect(await t.node.ledger.payments.service.expireTopups()).toBe(1);
      expect((await t.call('GET', '/api/wallets/USD/topups', { token: me.token })).body.items[0].status).toBe('expired');
      expect(await wallet(t, me, 'USD')).toMatchObject({ posted: '0.00' });
      await ledgerOk(t);
    });
  });

  describe(`webhooks over real HTTP on ${dialect}`, () => {
    let t: TestNode;
    beforeAll(async () => {
      t = await startTestNode(dialect, { port: 0 }, { listen: true });
    });
    afterAll(async () => t?.close());

    it('a listening node receives the sandbox webhook over HTTP, signed with its generated secret', async () => {
      expect(t.node.url).toMatch(/^http:\/\/localhost:\d+$/);
      const me = await t.newUser('Over The Wire');
      const created = await t.call('POST', '/api/wallets/EUR/topups', { token: me.token, json: { amount: '2.00' } });
      const approved = await fetch(`${t.node.url}${created.body.redirectUrl}/approve`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
      expect(approved.status).toBe(303);
      expect((await t.call('GET', `/api/wallets/EUR/topups/${created.body.id}`, { token: me.token })).body.status).toBe('succeeded');
      expect(await wallet(t, me, 'EUR')).toMatchObject({ posted: '2.00' });
      const page = await (await fetch(`${t.node.url}${created.body.redirectUrl}`)).text();
      expect(page).toContain('Gavel was notified');
      await ledgerOk(t);
    });
  });
}
