import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../support/databases.js';
import { startTestNode, type TestNode } from '../support/gavel.js';
import { systemClock } from '../../src/platform/clock.js';
import { ExchangeService } from '../../src/ledger/exchange-service.js';
import { ExchangeStore } from '../../src/ledger/exchange-store.js';
import { LedgerStore } from '../../src/ledger/store.js';

for (const dialect of DIALECTS) {
  describe(`currency exchange on ${dialect}`, () => {
    let t: TestNode;
    let admin: string;
    beforeAll(async () => {
      t = await startTestNode(dialect);
      admin = await t.adminToken();
      const btc = await t.call('POST', '/api/ledger/assets', { token: admin, json: { code: 'BTC', scale: 8, name: 'Bitcoin' } });
      expect(btc.status).toBe(201);
    });
    afterAll(async () => t?.close());

    const setRate = (base: string, quote: string, rate: string, spreadBps: number, token = admin) => t.call('PUT', `/api/ledger/rates/${base}/${quote}`, { token, json: { rate, spreadBps } });
    const fund = async (userId: string, currency: string, amount: string) => {
      const res = await t.call('POST', '/api/ledger/adjustments', { token: admin, json: { userId, currency, amount, direction: 'credit', memo: 'seed' } });
      expect(res.status).toBe(201);
    };
    const exchange = (token: string, json: Record<string, unknown>, key?: string) => t.call('POST', '/api/wallets/exchange', { token, json, ...(key && { headers: { 'idempotency-key': key } }) });
    const wallet = async (token: string, currency: string) => (await t.call('GET', `/api/wallets/${currency}`, { token })).body;
    const system = async (currency: string, kind: string): Promise<string> => {
      const res = await t.call('GET', `/api/ledger/accounts?currency=${currency}`, { token: admin });
      return res.body.items.find((a: { kind: string }) => a.kind === kind).posted;
    };
    /** Per currency, over every account: posted credits − posted debits, and pending likewise. */
    const sumsPerCurrency = async () => {
      const db = t.node.database.kysely as Kysely<any>;
      const rows = await db.selectFrom('ledger_accounts').select(['currency', 'credits_posted', 'debits_posted', 'credits_pending', 'debits_pending']).execute();
      const sums = new Map<string, bigint>();
      for (const r of rows) sums.set(r.currency, (sums.get(r.currency) ?? 0n) + BigInt(r.credits_posted) - BigInt(r.debits_posted) + BigInt(r.credits_pending) - BigInt(r.debits_pending));
      return sums;
    };
    const expectBalanced = async () => {
      for (const [currency, sum] of await sumsPerCurrency()) expect(sum, `sum of ${currency} accounts`).toBe(0n);
      expect((await t.call('GET', '/api/ledger/check', { token: admin })).body).toMatchObject({ ok: true, violations: [] });
    };

    it('admins set, replace, list and remove rates; others only read them', async () => {
      const person = await t.newUser('Rate Reader');
      const created = await setRate('USD', 'CHF', '0.88000', 25);
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ base: 'USD', quote: 'CHF', rate: '0.88', spreadBps: 25 });
      expect(Date.parse(created.body.updatedAt)).not.toBeNaN();
      const replaced = await setRate('USD', 'CHF', '0.8812', 30);
      expect(replaced.status).toBe(200);
      expect(replaced.body).toMatchObject({ rate: '0.8812', spreadBps: 30 });

      const list = await t.call('GET', '/api/ledger/rates', { token: person.token });
      expect(list.status).toBe(200);
      expect(list.body.items).toContainEqual({ base: 'USD', quote: 'CHF', rate: '0.8812', spreadBps: 30, updatedAt: replaced.body.updatedAt });
      expect((await t.call('GET', '/api/ledger/rates/USD/CHF', { token: person.token })).body.rate).toBe('0.8812');
      // A rate is per ordered pair: the reverse is not implied.
      expect((await t.call('GET', '/api/ledger/rates/CHF/USD', { token: person.token })).body.code).toBe('RATE_NOT_FOUND');

      expect((await setRate('USD', 'CHF', '1', 0, person.token)).status).toBe(403);
      expect((await t.call('DELETE', '/api/ledger/rates/USD/CHF', { token: person.token })).status).toBe(403);
      expect((await t.call('GET', '/api/ledger/rates')).status).toBe(401);

      expect((await t.call('DELETE', '/api/ledger/rates/USD/CHF', { token: admin })).status).toBe(204);
      const gone = await t.call('DELETE', '/api/ledger/rates/USD/CHF', { token: admin });
      expect(gone.status).toBe(404);
      expect(gone.body.code).toBe('RATE_NOT_FOUND');
      expect((await t.call('GET', '/api/ledger/rates', { token: person.token })).body.items.some((r: { quote: string }) => r.quote === 'CHF')).toBe(false);
    });

    it('a bad rate, spread or pair is refused naming the field', async () => {
      for (const rate of ['0', '0.000', '-1', '1e3', '0.0000000000001', '1000000000000000', ' 1', '1.']) {
        const res = await setRate('USD', 'CAD', rate, 10);
        expect(res.status, rate).toBe(400);
        expect(res.body.errors, rate).toContainEqual(expect.objectContaining({ in: 'body', field: 'rate' }));
      }
      for (const spreadBps of [-1, 10_000, 1.5]) {
        const res = await setRate('USD', 'CAD', '1.35', spreadBps);
        expect(res.status, String(spreadBps)).toBe(400);
        expect(res.body.errors).toContainEqual(expect.objectContaining({ field: 'spreadBps' }));
      }
      const same = await setRate('USD', 'USD', '1', 0);
      expect(same.status).toBe(400);
      expect(same.body.errors).toContainEqual(expect.objectContaining({ in: 'params', field: 'quote' }));
      const unknown = await setRate('USD', 'XYZ', '1', 0);
      expect(unknown.status).toBe(400);
      expect(unknown.body).toMatchObject({ code: 'UNKNOWN_CURRENCY', errors: [{ in: 'params', field: 'quote' }] });
      expect((await t.call('GET', '/api/ledger/rates', { token: admin })).body.items.some((r: { quote: string }) => r.quote === 'CAD' || r.quote === 'XYZ')).toBe(false);
    });

    it('a quote shows what a conversion gives, and the conversion moves exactly that through liquidity accounts', async () => {
      expect((await setRate('USD', 'EUR', '0.9215', 50)).status).toBe(201);
      const me = await t.newUser('Converter');
      await fund(me.id, 'USD', '250.00');
      const before = { liqUsd: await system('USD', 'exchange_liquidity'), liqEur: await system('EUR', 'exchange_liquidity'), revEur: await system('EUR', 'house_revenue') };

      const quote = await t.call('GET', '/api/wallets/exchange/quote?from=USD&to=EUR&amount=100.00', { token: me.token });
      expect(quote.status).toBe(200);
      // 100.00 × 0.9215 = 92.15 gross; 9215 × 9950 / 10000 = 9168.925 → 91.68 received; 0.47 spread
      expect(quote.body).toMatchObject({
        from: { currency: 'USD', amount: '100.00' },
        to: { currency: 'EUR', amount: '91.68' },
        gross: { currency: 'EUR', amount: '92.15' },
        spread: { currency: 'EUR', amount: '0.47', bps: 50 },
        rate: '0.9215',
      });
      expect((await t.call('GET', '/api/wallets/EUR', { token: me.token })).status).toBe(404); // a quote opens nothing

      const done = await exchange(me.token, { from: 'USD', to: 'EUR', amount: '100.00' });
      expect(done.status).toBe(201);
      expect(done.body).toMatchObject({ from: quote.body.from, to: quote.body.to, gross: quote.body.gross, spread: quote.body.spread, rate: '0.9215' });

      expect(await wallet(me.token, 'USD')).toMatchObject({ posted: '150.00', available: '150.00' });
      expect(await wallet(me.token, 'EUR')).toMatchObject({ posted: '91.68', available: '91.68' }); // opened by the exchange
      const cents = (s: string) => BigInt(s.replace('.', ''));
      expect(cents(await system('USD', 'exchange_liquidity')) - cents(before.liqUsd)).toBe(10_000n);
      expect(cents(await system('EUR', 'exchange_liquidity')) - cents(before.liqEur)).toBe(-9215n);
      expect(cents(await system('EUR', 'house_revenue')) - cents(before.revEur)).toBe(47n);

      const statement = await t.call('GET', '/api/wallets/EUR/transfers', { token: me.token });
      expect(statement.body.items).toEqual([expect.objectContaining({ kind: 'posted', direction: 'in', amount: '91.68', owner: `exchange:${done.body.id}` })]);
      const out = await t.call('GET', '/api/wallets/USD/transfers', { token: me.token });
      expect(out.body.items[0]).toMatchObject({ direction: 'out', amount: '100.00', owner: `exchange:${done.body.id}` });
      const history = await t.call('GET', '/api/wallets/exchanges', { token: me.token });
      expect(history.body.items).toEqual([done.body]);
      await expectBalanced();
    });

    it('the same Idempotency-Key converts once; with a different request it is refused', async () => {
      await setRate('USD', 'GBP', '0.79', 0);
      const me = await t.newUser('Retrier');
      await fund(me.id, 'USD', '10.00');
      const first = await exchange(me.token, { from: 'USD', to: 'GBP', amount: '4.00' }, 'fx-1');
      expect(first.status).toBe(201);
      const again = await exchange(me.token, { from: 'USD', to: 'GBP', amount: '4.00' }, 'fx-1');
      expect(again.status).toBe(201);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.body).toEqual(first.body);
      const reused = await exchange(me.token, { from: 'USD', to: 'GBP', amount: '5.00' }, 'fx-1');
      expect(reused.status).toBe(422);
      expect(reused.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
      expect(await wallet(me.token, 'USD')).toMatchObject({ posted: '6.00' });
      expect(await wallet(me.token, 'GBP')).toMatchObject({ posted: '3.16' });
      await expectBalanced();
    });

    it('a retry after a lost answer finds the conversion by its reference, even if the rate moved meanwhile', async () => {
      // The Idempotency-Key is part of the ledger reference: a retry whose stored answer was lost
      // (a crash after the commit) meets the conversion already written and returns it.
      await setRate('USD', 'GBP', '0.79', 0);
      const me = await t.newUser('Crash Retrier');
      await fund(me.id, 'USD', '10.00');
      const exchanges = new ExchangeService(t.node.ledger.service, new LedgerStore(t.node.database), new ExchangeStore(t.node.database), systemClock);
      const caller = { userId: me.id, roles: ['bidder' as const], sessionId: 'test' };
      const first = await exchanges.exchange(caller, { from: 'USD', to: 'GBP', amount: '4.00' }, 'lost-answer');
      await setRate('USD', 'GBP', '0.5', 0);
      const retry = await exchanges.exchange(caller, { from: 'USD', to: 'GBP', amount: '4.00' }, 'lost-answer');
      expect(retry).toEqual(first);
      expect(retry.netMinor).toBe(316n);
      await expect(exchanges.exchange(caller, { from: 'USD', to: 'GBP', amount: '5.00' }, 'lost-answer')).rejects.toMatchObject({ code: 'REF_EXISTS_WITH_DIFFERENT_DATA' });
      expect(await wallet(me.token, 'USD')).toMatchObject({ posted: '6.00' });
      expect(await wallet(me.token, 'GBP')).toMatchObject({ posted: '3.16' });
      await expectBalanced();
    });

    it('refuses a bad exchange and writes nothing', async () => {
      await setRate('USD', 'JPY', '151.37', 100);
      const me = await t.newUser('Refused');
      await fund(me.id, 'USD', '20.00');
      const refused = async (json: Record<string, unknown>, status: number, code: string, field?: string) => {
        const res = await exchange(me.token, json);
        expect(res.status, JSON.stringify(json)).toBe(status);
        expect(res.body.code, JSON.stringify(json)).toBe(code);
        if (field) expect(res.body.errors, JSON.stringify(json)).toContainEqual(expect.objectContaining({ field }));
        return res;
      };
      await refused({ from: 'USD', to: 'USD', amount: '1.00' }, 400, 'VALIDATION', 'to');
      await refused({ from: 'USD', to: 'MXN', amount: '1.00' }, 404, 'RATE_NOT_FOUND');
      await refused({ from: 'USD', to: 'XYZ', amount: '1.00' }, 400, 'UNKNOWN_CURRENCY', 'to');
      await refused({ from: 'QQQ', to: 'JPY', amount: '1.00' }, 400, 'UNKNOWN_CURRENCY', 'from');
      for (const amount of ['1.001', '0', '0.00', '-1', '1e3', ' 1', '', '99999999999999999999999']) await refused({ from: 'USD', to: 'JPY', amount }, 400, 'VALIDATION', 'amount');
      await refused({ from: 'USD', to: 'JPY', amount: 1 }, 400, 'VALIDATION', 'amount');
      await refused({ from: 'USD', to: 'JPY', amount: '1.00', extra: true }, 400, 'VALIDATION');
      await refused({ from: 'USD', to: 'JPY', amount: '20.01' }, 409, 'INSUFFICIENT_FUNDS', 'amount');
      // 1.00 USD → 151 JPY gross → 149 received; asking for 150 at least is refused
      await refused({ from: 'USD', to: 'JPY', amount: '1.00', minReceive: '150' }, 409, 'EXCHANGE_BELOW_MINIMUM', 'minReceive');
      await refused({ from: 'USD', to: 'JPY', amount: '1.00', minReceive: '1.5' }, 400, 'VALIDATION', 'minReceive');
      expect((await t.call('POST', '/api/wallets/exchange', { json: { from: 'USD', to: 'JPY', amount: '1.00' } })).status).toBe(401);

      expect(await wallet(me.token, 'USD')).toMatchObject({ posted: '20.00', available: '20.00' });
      expect((await t.call('GET', '/api/wallets/JPY', { token: me.token })).status).toBe(404); // not even opened
      expect((await t.call('GET', '/api/wallets/exchanges', { token: me.token })).body.items).toEqual([]);
      await expectBalanced();

      // Within limits it converts: 1.00 USD → 151 gross, 149 received (floor(151 × 0.99) = 149), 2 spread.
      const ok = await exchange(me.token, { from: 'USD', to: 'JPY', amount: '1.00', minReceive: '149' });
      expect(ok.status).toBe(201);
      expect(ok.body).toMatchObject({ to: { currency: 'JPY', amount: '149' }, gross: { amount: '151' }, spread: { amount: '2', bps: 100 } });
    });

    it('refuses an exchange from a wallet the person does not have', async () => {
      await setRate('GBP', 'EUR', '1.17', 0);
      const me = await t.newUser('No Wallet');
      const res = await exchange(me.token, { from: 'GBP', to: 'EUR', amount: '1.00' });
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ code: 'ACCOUNT_NOT_FOUND', errors: [{ field: 'from' }] });
      expect((await t.call('GET', '/api/wallets/EUR', { token: me.token })).status).toBe(404);
    });

    it('too small and too large amounts are refused with the nearest amount that converts', async () => {
      await setRate('JPY', 'USD', '0.0066', 0);
      const me = await t.newUser('Edges');
      await fund(me.id, 'JPY', '1000');
      const small = await exchange(me.token, { from: 'JPY', to: 'USD', amount: '1' });
      expect(small.status).toBe(400);
      expect(small.body).toMatchObject({ code: 'EXCHANGE_TOO_SMALL', errors: [{ in: 'body', field: 'amount' }] });
      expect(small.body.detail).toContain('2 JPY');
      const quoteSmall = await t.call('GET', '/api/wallets/exchange/quote?from=JPY&to=USD&amount=1', { token: me.token });
      expect(quoteSmall.body).toMatchObject({ code: 'EXCHANGE_TOO_SMALL', errors: [{ in: 'query', field: 'amount' }] });

      await expectBalanced();
    });

    it('amounts near 2^63 − 1 convert exactly or are refused, never overflow', async () => {
      // Two assets of their own, so their accounts' totals reach the limit without touching others.
      await t.call('POST', '/api/ledger/assets', { token: admin, json: { code: 'BIGA', scale: 0, name: 'Big A' } });
      await t.call('POST', '/api/ledger/assets', { token: admin, json: { code: 'BIGB', scale: 8, name: 'Big B' } });
      await setRate('BIGA', 'BIGB', '0.000000098765', 0);
      const me = await t.newUser('Whale');
      await fund(me.id, 'BIGA', '9223372036854775807');
      // BIGA (0) → BIGB (8) multiplies by 10^8 on the way: the largest BIGA amount overflows.
      const large = await exchange(me.token, { from: 'BIGA', to: 'BIGB', amount: '9223372036854775807' });
      expect(large.status).toBe(400);
      expect(large.body).toMatchObject({ code: 'EXCHANGE_TOO_LARGE', errors: [{ field: 'amount' }] });
      const max = /largest amount that converts is (\d+) BIGA/.exec(large.body.detail)![1]!;
      expect((await exchange(me.token, { from: 'BIGA', to: 'BIGB', amount: (BigInt(max) + 1n).toString() })).body.code).toBe('EXCHANGE_TOO_LARGE');
      const atMax = await exchange(me.token, { from: 'BIGA', to: 'BIGB', amount: max });
      expect(atMax.status).toBe(201);
      // floor(max × 0.000000098765 × 10^8) in minor units, computed exactly
      const grossMinor = (BigInt(max) * 98_765n * 10n ** 8n) / 10n ** 12n;
      expect(grossMinor).toBeLessThanOrEqual(2n ** 63n - 1n);
      expect(BigInt(atMax.body.gross.amount.replace('.', ''))).toBe(grossMinor);
      // The liquidity account's posted debits are now near the limit: one more conversion would
      // push them past it, and is refused with nothing written (rather than a 500 or a float).
      const again = await exchange(me.token, { from: 'BIGA', to: 'BIGB', amount: max });
      expect(again.status).toBe(400);
      expect(again.body.code).toBe('EXCHANGE_TOO_LARGE');
      expect(await wallet(me.token, 'BIGB')).toMatchObject({ posted: atMax.body.to.amount });
      await expectBalanced();
    });

    it('USD → JPY → BTC → USD: exact amounts at every step, and every currency still sums to zero', async () => {
      await setRate('USD', 'JPY', '151.37', 100);
      await setRate('JPY', 'BTC', '0.000000098765', 25);
      await setRate('BTC', 'USD', '67123.45', 75);
      const me = await t.newUser('Round Tripper');
      await fund(me.id, 'USD', '1000.00');
      const usdToJpy = await exchange(me.token, { from: 'USD', to: 'JPY', amount: '1000.00' });
      // 1000 × 151.37 = 151370 gross; floor(151370 × 0.99) = 149856; spread 1514
      expect(usdToJpy.body).toMatchObject({ to: { amount: '149856' }, gross: { amount: '151370' }, spread: { amount: '1514' } });
      const jpyToBtc = await exchange(me.token, { from: 'JPY', to: 'BTC', amount: '149856' });
      // 149856 × 0.000000098765 BTC = 0.01480052784 → 1480052 sat gross; floor(1480052 × 0.9975) = 1476351; spread 3701
      expect(jpyToBtc.body).toMatchObject({ to: { amount: '0.01476351' }, gross: { amount: '0.01480052' }, spread: { amount: '0.00003701' } });
      const btcToUsd = await exchange(me.token, { from: 'BTC', to: 'USD', amount: '0.01476351' });
      // 0.01476351 × 67123.45 = 990.977… → 990.97 gross; floor(99097 × 0.9925) = 98353 → 983.53; 7.44 spread
      expect(btcToUsd.body).toMatchObject({ to: { amount: '983.53' }, gross: { amount: '990.97' }, spread: { amount: '7.44' } });
      expect(await wallet(me.token, 'USD')).toMatchObject({ posted: '983.53' });
      expect(await wallet(me.token, 'JPY')).toMatchObject({ posted: '0' });
      expect(await wallet(me.token, 'BTC')).toMatchObject({ posted: '0.00000000' });
      await expectBalanced();
    });

    it('concurrent conversions neither overspend a wallet nor deadlock on the liquidity accounts', async () => {
      await setRate('EUR', 'USD', '1.085', 20);
      await setRate('USD', 'EUR', '0.9215', 50);
      const alice = await t.newUser('Alice FX');
      const bob = await t.newUser('Bob FX');
      await fund(alice.id, 'USD', '100.00');
      await fund(bob.id, 'EUR', '100.00');
      // Opposite directions at once: each locks both liquidity accounts.
      const results = await Promise.all(
        Array.from({ length: 16 }, (_, i) => (i % 2 ? exchange(alice.token, { from: 'USD', to: 'EUR', amount: '1.00' }) : exchange(bob.token, { from: 'EUR', to: 'USD', amount: '1.00' }))),
      );
      expect(results.map((r) => r.status)).toEqual(Array(16).fill(201));
      expect(await wallet(alice.token, 'USD')).toMatchObject({ posted: '92.00' });
      expect(await wallet(bob.token, 'EUR')).toMatchObject({ posted: '92.00' });

      // 5 × 30.00 against 92.00: exactly three fit.
      const spend = await Promise.all(Array.from({ length: 5 }, () => exchange(alice.token, { from: 'USD', to: 'EUR', amount: '30.00' })));
      expect(spend.filter((r) => r.status === 201)).toHaveLength(3);
      expect(spend.filter((r) => r.status === 409 && r.body.code === 'INSUFFICIENT_FUNDS')).toHaveLength(2);
      expect(await wallet(alice.token, 'USD')).toMatchObject({ posted: '2.00' });
      await expectBalanced();
    });

    it('a closed destination wallet is reopened by the exchange', async () => {
      await setRate('USD', 'CAD', '1.36', 0);
      const me = await t.newUser('Reopen');
      await fund(me.id, 'USD', '5.00');
      await t.call('POST', '/api/wallets', { token: me.token, json: { currency: 'CAD' } });
      expect((await t.call('DELETE', '/api/wallets/CAD', { token: me.token })).status).toBe(204);
      const res = await exchange(me.token, { from: 'USD', to: 'CAD', amount: '5.00' });
      expect(res.status).toBe(201);
      expect(await wallet(me.token, 'CAD')).toMatchObject({ posted: '6.80', closed: false });
    });
  });
}
