// Trading end to end through the API, on both databases: orders rest and cross, fills settle
// both sides in the ledger with fees to the house, cancels give the hold back, and the answers
// carry the fills.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../support/databases.js';
import { startTestNode, type TestNode } from '../support/gavel.js';
import { openExchange, type Exchange } from '../support/exchange.js';
import { expectProblem, ROOMY_LIMITS } from '../support/problems.js';

for (const dialect of DIALECTS) {
  describe(`trading on ${dialect}`, () => {
    let t: TestNode;
    let x: Exchange;

    beforeAll(async () => {
      t = await startTestNode(dialect, {}, { loginLimits: ROOMY_LIMITS });
      x = await openExchange(t);
    });
    afterAll(async () => t?.close());

    it('a resting sell and a crossing buy trade at the maker price; both wallets and the house settle', async () => {
      const seller = await x.trader(0n, 100n);
      const buyer = await x.trader(1_000_000n, 0n);
      const ask = await x.order(seller, { side: 'sell', type: 'limit', price: '50.00', quantity: '10' });
      expect(ask.status, ask.text).toBe(201);
      expect(ask.body.order).toMatchObject({ status: 'open', remainingQuantity: '10', filledQuantity: '0' });
      expect(await x.wallet(seller, x.symbol.split('-')[0]!)).toMatchObject({ held: '10', available: '90' });

      const bid = await x.order(buyer, { side: 'buy', type: 'limit', price: '51.00', quantity: '4' });
      expect(bid.status, bid.text).toBe(201);
      expect(bid.body.order).toMatchObject({ status: 'filled', filledQuantity: '4', averagePrice: '50.00', fees: '0.40' });
      expect(bid.body.fills).toEqual([expect.objectContaining({ side: 'buy', liquidity: 'taker', price: '50.00', quantity: '4', fee: '0.40' })]);
      // Buyer: 200.00 + 0.40 fee paid, nothing held any more.
      expect(await x.wallet(buyer, 'USD')).toMatchObject({ posted: '9799.60', held: '0.00' });
      expect(await x.wallet(buyer, x.symbol.split('-')[0]!)).toMatchObject({ posted: '4' });
      // Seller: 200.00 less 0.20 maker fee; 6 still held for the rest of the order.
      expect(await x.wallet(seller, 'USD')).toMatchObject({ posted: '199.80' });
      expect(await x.wallet(seller, x.symbol.split('-')[0]!)).toMatchObject({ posted: '96', held: '6' });

      const depth = await t.call('GET', `/api/exchange/instruments/${x.symbol}/depth`);
      expect(depth.body.asks[0]).toEqual(['50.00', '6', 1]);
      const check = await t.call('GET', '/api/ledger/check', { token: x.admin });
      expect(check.body.violations).toEqual([]);
    });

    it('cancel gives the hold back; a second cancel is refused', async () => {
      const buyer = await x.trader(100_000n, 0n);
      const placed = await x.order(buyer, { side: 'buy', type: 'limit', price: '10.00', quantity: '5' });
      expect(placed.status, placed.text).toBe(201);
      expect(await x.wallet(buyer, 'USD')).toMatchObject({ held: '50.10' });
      const cancel = await t.call('DELETE', `/api/exchange/orders/${placed.body.order.id}`, { token: buyer.token });
      expect(cancel.status, cancel.text).toBe(200);
      expect(cancel.body).toMatchObject({ status: 'cancelled', cancelReason: 'user' });
      expect(await x.wallet(buyer, 'USD')).toMatchObject({ held: '0.00', available: '1000.00' });
      expectProblem(await t.call('DELETE', `/api/exchange/orders/${placed.body.order.id}`, { token: buyer.token }), 409, 'ORDER_NOT_OPEN');
    });

    it('a buy without the funds is refused before anything is held', async () => {
      const poor = await x.trader(1_000n, 0n);
      expectProblem(await x.order(poor, { side: 'buy', type: 'limit', price: '10.00', quantity: '5' }), 409, 'INSUFFICIENT_FUNDS');
      expect(await x.wallet(poor, 'USD')).toMatchObject({ held: '0.00', available: '10.00' });
    });

    it('orders arriving together: the unfunded ones are refused and never reach the book, the others trade', async () => {
      const seller = await x.trader(0n, 10n);
      const ask = await x.order(seller, { side: 'sell', type: 'limit', price: '20.00', quantity: '4' });
      expect(ask.status, ask.text).toBe(201);
      const rich = await Promise.all([x.trader(100_000n, 0n), x.trader(100_000n, 0n)]);
      const poor = await Promise.all([x.trader(1_000n, 0n), x.trader(1_000n, 0n)]);
      // Sent at once, so they share groups: a refused hold must not hold back or break the rest.
      const [a, p1, b, p2] = await Promise.all([
        x.order(rich[0]!, { side: 'buy', type: 'limit', price: '20.00', quantity: '3' }),
        x.order(poor[0]!, { side: 'buy', type: 'limit', price: '20.00', quantity: '3' }),
        x.order(rich[1]!, { side: 'buy', type: 'limit', price: '20.00', quantity: '3' }),
        x.order(poor[1]!, { side: 'buy', type: 'market', quantity: '1' }),
      ]);
      expectProblem(p1!, 409, 'INSUFFICIENT_FUNDS');
      expectProblem(p2!, 409, 'INSUFFICIENT_FUNDS');
      expect([a!.status, b!.status], `${a!.text} ${b!.text}`).toEqual([201, 201]);
      // 4 on offer: whichever buyer came first took 3, the other the last 1 and rests with 2.
      const outcomes = [a!, b!].map((r) => `${r.body.order.status} ${r.body.order.filledQuantity}`).sort();
      expect(outcomes).toEqual(['filled 3', 'open 1']);
      for (const p of poor) expect(await x.wallet(p, 'USD')).toMatchObject({ held: '0.00', available: '10.00' });
      const verify = await t.call('GET', `/api/exchange/instruments/${x.symbol}/verify`, { token: x.admin });
      expect(verify.body, verify.text).toMatchObject({ match: true });
      const check = await t.call('GET', '/api/ledger/check', { token: x.admin });
      expect(check.body.violations).toEqual([]);
    });

    it('a commit that fails after matching keeps nothing of its group, rebuilds the book from its journal, and trading goes on', async () => {
      const y = await openExchange(t);
      const seller = await y.trader(0n, 20n);
      const buyer = await y.trader(100_000n, 0n);
      const ask = await y.order(seller, { side: 'sell', type: 'limit', price: '20.00', quantity: '10' });
      expect(ask.status, ask.text).toBe(201);
      // Storage refuses the trade row of a 7-lot fill: the group fails after the order was matched.
      const db = t.node.database.kysely;
      if (dialect === 'sqlite') {
        await sql`create trigger exchange_test_fail before insert on exchange_trades when new.qty_lots = 7 begin select raise(abort, 'injected failure'); end`.execute(db);
      } else {
        await sql`create function exchange_test_fail() returns trigger language plpgsql as $$ begin if new.qty_lots = 7 then raise exception 'injected failure'; end if; return new; end $$`.execute(db);
        await sql`create trigger exchange_test_fail before insert on exchange_trades for each row execute function exchange_test_fail()`.execute(db);
      }
      try {
        // The verify goes in behind the failing order, so it meets the book while it is rebuilt:
        // it must wait for the rebuild, not compare a half-restored book (a false mismatch).
        const [failed, during] = await Promise.all([
          y.order(buyer, { side: 'buy', type: 'limit', price: '20.00', quantity: '7' }),
          new Promise((r) => setImmediate(r)).then(() => t.call('GET', `/api/exchange/instruments/${y.symbol}/verify`, { token: y.admin })),
        ]);
        expect(failed.status, failed.text).toBeGreaterThanOrEqual(500);
        if (during.status === 200) expect(during.body, during.text).toMatchObject({ match: true });
        else expect(during.status, during.text).toBe(503);
      } finally {
        await sql`drop trigger exchange_test_fail${dialect === 'postgres' ? sql` on exchange_trades` : sql``}`.execute(db);
        if (dialect === 'postgres') await sql`drop function exchange_test_fail()`.execute(db);
      }
      // The book is rebuilt from its journal: the ask whole again, nothing held or paid.
      let verify = await t.call('GET', `/api/exchange/instruments/${y.symbol}/verify`, { token: y.admin });
      for (let tries = 0; verify.status !== 200 && tries < 100; tries++) {
        await new Promise((r) => setTimeout(r, 20));
        verify = await t.call('GET', `/api/exchange/instruments/${y.symbol}/verify`, { token: y.admin });
      }
      expect(verify.body, verify.text).toMatchObject({ match: true });
      const depth = await t.call('GET', `/api/exchange/instruments/${y.symbol}/depth`);
      expect(depth.body.asks).toEqual([['20.00', '10', 1]]);
      expect(depth.body.bids).toEqual([]);
      expect(await y.wallet(buyer, 'USD')).toMatchObject({ held: '0.00', available: '1000.00' });
      const again = await y.order(buyer, { side: 'buy', type: 'limit', price: '20.00', quantity: '7' });
      expect(again.status, again.text).toBe(201);
      expect(again.body.order).toMatchObject({ status: 'filled', filledQuantity: '7' });
      const check = await t.call('GET', '/api/ledger/check', { token: y.admin });
      expect(check.body.violations).toEqual([]);
    });

    if (dialect === 'postgres') it('a deadlock after matching is retried: the order trades once, the book equals its journal', async () => {
      const y = await openExchange(t);
      const seller = await y.trader(0n, 20n);
      const buyer = await y.trader(100_000n, 0n);
      expect((await y.order(seller, { side: 'sell', type: 'limit', price: '20.00', quantity: '10' })).status).toBe(201);
      // The first 6-lot trade row raises a deadlock (40P01), as PostgreSQL's detector would; a
      // sequence counts outside the transaction, so the retry goes through.
      const db = t.node.database.kysely;
      await sql`create sequence exchange_test_once`.execute(db);
      await sql`create function exchange_test_deadlock() returns trigger language plpgsql as $$ begin if new.qty_lots = 6 and nextval('exchange_test_once') = 1 then raise exception 'injected deadlock' using errcode = '40P01'; end if; return new; end $$`.execute(db);
      await sql`create trigger exchange_test_deadlock before insert on exchange_trades for each row execute function exchange_test_deadlock()`.execute(db);
      try {
        const placed = await y.order(buyer, { side: 'buy', type: 'limit', price: '20.00', quantity: '6' });
        expect(placed.status, placed.text).toBe(201);
        expect(placed.body.order).toMatchObject({ status: 'filled', filledQuantity: '6' });
        expect(Number((await sql<{ n: string }>`select last_value as n from exchange_test_once`.execute(db)).rows[0]!.n)).toBe(2);
      } finally {
        await sql`drop trigger exchange_test_deadlock on exchange_trades`.execute(db);
        await sql`drop function exchange_test_deadlock()`.execute(db);
        await sql`drop sequence exchange_test_once`.execute(db);
      }
      const verify = await t.call('GET', `/api/exchange/instruments/${y.symbol}/verify`, { token: y.admin });
      expect(verify.body, verify.text).toMatchObject({ match: true });
      const depth = await t.call('GET', `/api/exchange/instruments/${y.symbol}/depth`);
      expect(depth.body.asks).toEqual([['20.00', '4', 1]]);
      const trades = await t.call('GET', `/api/exchange/instruments/${y.symbol}/trades`);
      expect(trades.body.items.map((tr: { quantity: string }) => tr.quantity)).toEqual(['6']);
      expect(await y.wallet(buyer, 'USD')).toMatchObject({ held: '0.00' });
      const check = await t.call('GET', '/api/ledger/check', { token: y.admin });
      expect(check.body.violations).toEqual([]);
    });
  });
}
