// What a trader relies on, through REST, on both databases: every order type end to end
// (limit, market with its protection band, IOC, FOK, post-only, self-trade prevention),
// amendments and their queue priority, cancel-all, halts, idempotent placing, the reads
// (orders, fills, trades, depth, candles, verify) and the fill notifications. After every
// scenario the ledger balances and the house earned exactly the fees its trades charged.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/platform/clock.js';
import { DIALECTS } from '../support/databases.js';
import { startTestNode, type Answer, type TestNode } from '../support/gavel.js';
import { openExchange, type Exchange } from '../support/exchange.js';
import type { Person } from '../support/auctions.js';
import { expectProblem, fieldsAtFault, ROOMY_LIMITS } from '../support/problems.js';

const MINUTE = 60_000;
/** Just past a whole minute: a scenario's trades share one candle until it moves the clock. */
const START = Date.UTC(2031, 2, 3, 9, 0, 1);
const NOTIFICATION_WAIT_MS = 5_000;

/** A USD decimal string ('12.34') in cents. */
function cents(text: string): bigint {
  expect(text).toMatch(/^-?\d+\.\d{2}$/);
  return BigInt(text.replace('.', ''));
}

for (const dialect of DIALECTS) {
  describe(`orders through the API on ${dialect}`, () => {
    let t: TestNode;
    let clock: ManualClock;
    /** A fresh instrument per scenario: each starts from an empty book. */
    let x: Exchange;
    let base: string;
    /** Everyone a scenario funded: their fills are the scenario's fees. */
    let people: Person[];
    let revenueBeforeMinor: bigint;

    const houseRevenueMinor = async () => {
      const account = await t.node.ledger.service.systemAccount('house_revenue', 'USD');
      return account.creditsPosted - account.debitsPosted;
    };

    beforeAll(async () => {
      clock = new ManualClock(START);
      t = await startTestNode(dialect, {}, { clock, loginLimits: ROOMY_LIMITS });
    });
    afterAll(async () => t?.close());

    beforeEach(async () => {
      // Time moves on between scenarios as it would (ids made in one millisecond run out of order).
      clock.advance(1_000);
      x = await openExchange(t);
      base = x.symbol.split('-')[0]!;
      people = [];
      revenueBeforeMinor = await houseRevenueMinor();
    });

    afterEach(async () => {
      const check = await t.call('GET', '/api/ledger/check', { token: x.admin });
      expect(check.status, check.text).toBe(200);
      expect(check.body.violations).toEqual([]);
      // Each trade charges its maker and its taker; both see their own fee in their fills.
      const fees = new Map<string, bigint>();
      for (const person of people) {
        const fills = await t.call('GET', '/api/exchange/fills?limit=200', { token: person.token });
        expect(fills.status, fills.text).toBe(200);
        for (const f of fills.body.items) fees.set(`${f.id}/${f.liquidity}`, cents(f.fee));
      }
      const feesMinor = [...fees.values()].reduce((a, b) => a + b, 0n);
      expect(await houseRevenueMinor()).toBe(revenueBeforeMinor + feesMinor);
    });

    /** A trader with usdMinor cents and `units` of the scenario's asset. */
    const trader = async (usdMinor = 100_000n, units = 100n) => {
      const person = await x.trader(usdMinor, units);
      people.push(person);
      return person;
    };
    const place = async (who: Person, body: Record<string, unknown>) => {
      const res = await x.order(who, body);
      expect(res.status, res.text).toBe(201);
      return res.body as { order: any; fills: any[]; repeated: boolean };
    };
    const limit = (who: Person, side: 'buy' | 'sell', price: string, quantity: string, extra: Record<string, unknown> = {}) => place(who, { side, type: 'limit', price, quantity, ...extra });
    const getOrder = (who: Person, id: string) => t.call('GET', `/api/exchange/orders/${id}`, { token: who.token });
    const orderOf = async (who: Person, id: string) => {
      const res = await getOrder(who, id);
      expect(res.status, res.text).toBe(200);
      return res.body;
    };
    const amend = (who: Person, id: string, body: Record<string, unknown>) => t.call('PATCH', `/api/exchange/orders/${id}`, { token: who.token, json: body });
    const depth = async (symbol = x.symbol) => {
      const res = await t.call('GET', `/api/exchange/instruments/${symbol}/depth`);
      expect(res.status, res.text).toBe(200);
      return res.body as { symbol: string; seq: number; bids: unknown[]; asks: unknown[] };
    };
    const openOrders = async (who: Person, symbol = x.symbol) => {
      const res = await t.call('GET', `/api/exchange/orders?status=open&symbol=${symbol}`, { token: who.token });
      expect(res.status, res.text).toBe(200);
      return res.body.items as any[];
    };
    const fillsOf = async (who: Person) => {
      const res = await t.call('GET', `/api/exchange/fills?symbol=${x.symbol}`, { token: who.token });
      expect(res.status, res.text).toBe(200);
      return res.body.items as any[];
    };
    const usd = (who: Person) => x.wallet(who, 'USD');
    const units = (who: Person) => x.wallet(who, base);

    describe('limit orders', () => {
      it('a GTC order rests; a crossing order takes the better price first, then the oldest maker at a price', async () => {
        const [far, first, second, best] = [await trader(), await trader(), await trader(), await trader()];
        const farAsk = await limit(far, 'sell', '10.10', '5');
        expect(farAsk.order).toMatchObject({ status: 'open', type: 'limit', timeInForce: 'gtc', remainingQuantity: '5', filledQuantity: '0' });
        expect(farAsk.fills).toEqual([]);
        const firstAsk = await limit(first, 'sell', '10.00', '5');
        const secondAsk = await limit(second, 'sell', '10.00', '5');
        const bestAsk = await limit(best, 'sell', '9.95', '3');
        expect((await depth()).asks).toEqual([['9.95', '3', 1], ['10.00', '10', 2], ['10.10', '5', 1]]);

        const taker = await trader(100_000n, 0n);
        const bid = await limit(taker, 'buy', '10.10', '10');
        expect(bid.order).toMatchObject({ status: 'filled', filledQuantity: '10', remainingQuantity: '0', notional: '99.85', fees: '0.19' });
        // Each fill at the maker's price, taker fee 20 bps rounded down per fill.
        expect(bid.fills.map((f) => [f.price, f.quantity, f.fee, f.liquidity, f.side])).toEqual([
          ['9.95', '3', '0.05', 'taker', 'buy'],
          ['10.00', '5', '0.10', 'taker', 'buy'],
          ['10.00', '2', '0.04', 'taker', 'buy'],
        ]);
        expect(await orderOf(best, bestAsk.order.id)).toMatchObject({ status: 'filled', fees: '0.02' });
        expect(await orderOf(first, firstAsk.order.id)).toMatchObject({ status: 'filled', filledQuantity: '5', fees: '0.05' });
        expect(await orderOf(second, secondAsk.order.id)).toMatchObject({ status: 'open', filledQuantity: '2', remainingQuantity: '3' });
        expect((await depth()).asks).toEqual([['10.00', '3', 1], ['10.10', '5', 1]]);
        // The taker paid what it bought plus fees; the spare of its hold (at 10.10) came back.
        expect(await usd(taker)).toMatchObject({ posted: '899.96', held: '0.00' });
        expect(await units(taker)).toMatchObject({ posted: '10' });
        expect(await units(second)).toMatchObject({ posted: '98', held: '3' });
        expect(await houseRevenueMinor()).toBe(revenueBeforeMinor + 19n + 2n + 5n + 2n);
      });

      it('an IOC order fills what it can at its limit and cancels the rest; nothing rests', async () => {
        const maker = await trader();
        await limit(maker, 'sell', '10.00', '4');
        await limit(maker, 'sell', '10.01', '5');
        const taker = await trader(100_000n, 0n);
        const ioc = await limit(taker, 'buy', '10.00', '10', { timeInForce: 'ioc' });
        expect(ioc.order).toMatchObject({ status: 'cancelled', cancelReason: 'ioc', timeInForce: 'ioc', filledQuantity: '4', remainingQuantity: '0' });
        expect(ioc.fills.map((f) => [f.price, f.quantity])).toEqual([['10.00', '4']]);
        expect(await depth()).toMatchObject({ bids: [], asks: [['10.01', '5', 1]] });
        expect(await usd(taker)).toMatchObject({ posted: '959.92', held: '0.00' });
        expect(await openOrders(taker)).toEqual([]);
      });
    });

    describe('market orders', () => {
      it('a market buy takes the book up to best ask + the protection band and cancels the rest (ioc)', async () => {
        const [a, b, c] = [await trader(), await trader(), await trader()];
        await limit(a, 'sell', '10.00', '2');
        await limit(b, 'sell', '10.50', '2'); // exactly best ask + 5 %: inside the band
        await limit(c, 'sell', '10.51', '2'); // beyond it
        const taker = await trader(100_000n, 0n);
        const market = await place(taker, { side: 'buy', type: 'market', quantity: '10' });
        expect(market.order).toMatchObject({ type: 'market', timeInForce: 'ioc', status: 'cancelled', cancelReason: 'ioc', filledQuantity: '4', price: '10.50' });
        expect(market.fills.map((f) => [f.price, f.quantity, f.fee])).toEqual([
          ['10.00', '2', '0.04'],
          ['10.50', '2', '0.04'],
        ]);
        expect((await depth()).asks).toEqual([['10.51', '2', 1]]);
        expect(await usd(taker)).toMatchObject({ posted: '958.92', held: '0.00' });
        expect(await units(taker)).toMatchObject({ posted: '4' });
      });

      it('a market sell takes the bids down to best bid − the band; the seller pays its fee from the proceeds', async () => {
        const [a, b] = [await trader(), await trader()];
        await limit(a, 'buy', '10.00', '3');
        await limit(b, 'buy', '9.00', '3'); // below 9.50, the band's floor
        const seller = await trader(0n, 10n);
        const market = await place(seller, { side: 'sell', type: 'market', quantity: '5' });
        expect(market.order).toMatchObject({ status: 'cancelled', cancelReason: 'ioc', filledQuantity: '3', remainingQuantity: '0' });
        expect(market.fills.map((f) => [f.side, f.price, f.quantity, f.fee, f.liquidity])).toEqual([['sell', '10.00', '3', '0.06', 'taker']]);
        expect((await depth()).bids).toEqual([['9.00', '3', 1]]);
        expect(await units(seller)).toMatchObject({ posted: '7', held: '0' });
        expect(await usd(seller)).toMatchObject({ posted: '29.94', held: '0.00' });
      });

      it('a market order against an empty side is refused NO_LIQUIDITY and holds nothing', async () => {
        const taker = await trader(100_000n, 10n);
        const other = await trader();
        await limit(other, 'sell', '10.00', '1'); // asks exist; bids do not
        expectProblem(await x.order(taker, { side: 'sell', type: 'market', quantity: '1' }), 409, 'NO_LIQUIDITY');
        expect((await t.call('DELETE', `/api/exchange/orders?symbol=${x.symbol}`, { token: other.token })).status).toBe(200);
        expectProblem(await x.order(taker, { side: 'buy', type: 'market', quantity: '1' }), 409, 'NO_LIQUIDITY');
        expect(await usd(taker)).toMatchObject({ posted: '1000.00', held: '0.00' });
        expect(await units(taker)).toMatchObject({ posted: '10', held: '0' });
        const mine = await t.call('GET', '/api/exchange/orders', { token: taker.token });
        expect(mine.body.items).toEqual([]);
      });
    });

    describe('fill or kill, post-only, self-trade prevention', () => {
      it('a FOK the book cannot fill whole is refused with book and wallets unchanged; a fillable one fills whole', async () => {
        const [a, b] = [await trader(), await trader()];
        await limit(a, 'sell', '10.00', '4');
        await limit(b, 'sell', '10.20', '3');
        const taker = await trader(100_000n, 0n);
        const before = { depth: await depth(), taker: await usd(taker), a: await units(a), b: await units(b) };
        expectProblem(await x.order(taker, { side: 'buy', type: 'limit', price: '10.20', quantity: '8', timeInForce: 'fok' }), 409, 'FOK_NOT_FILLABLE');
        expect({ depth: await depth(), taker: await usd(taker), a: await units(a), b: await units(b) }).toEqual(before);
        expect(await openOrders(taker)).toEqual([]);

        const fok = await limit(taker, 'buy', '10.20', '7', { timeInForce: 'fok' });
        expect(fok.order).toMatchObject({ status: 'filled', filledQuantity: '7', timeInForce: 'fok' });
        expect(fok.fills.map((f) => [f.price, f.quantity])).toEqual([
          ['10.00', '4'],
          ['10.20', '3'],
        ]);
        expect((await depth()).asks).toEqual([]);
        expect(await usd(taker)).toMatchObject({ held: '0.00' });
      });

      it('a post-only order that would cross is refused and holds nothing; one that does not rests', async () => {
        const maker = await trader();
        await limit(maker, 'sell', '10.00', '5');
        const poster = await trader(100_000n, 0n);
        expectProblem(await x.order(poster, { side: 'buy', type: 'limit', price: '10.00', quantity: '5', postOnly: true }), 409, 'POST_ONLY_WOULD_CROSS');
        expect(await usd(poster)).toMatchObject({ held: '0.00', available: '1000.00' });
        expect(await openOrders(poster)).toEqual([]);
        expect(await depth()).toMatchObject({ bids: [], asks: [['10.00', '5', 1]] });

        const resting = await limit(poster, 'buy', '9.99', '5', { postOnly: true });
        expect(resting.order).toMatchObject({ status: 'open', postOnly: true });
        expect(resting.fills).toEqual([]);
        expect((await depth()).bids).toEqual([['9.99', '5', 1]]);
      });

      it("a trader's crossing order cancels their own resting order (self_trade), releases its hold, then trades with others", async () => {
        const self = await trader(100_000n, 10n);
        const other = await trader();
        const own = await limit(self, 'sell', '10.00', '5');
        await limit(other, 'sell', '10.01', '5');
        expect(await units(self)).toMatchObject({ held: '5' });

        const buy = await limit(self, 'buy', '10.01', '5');
        expect(buy.order).toMatchObject({ status: 'filled', filledQuantity: '5' });
        expect(buy.fills.map((f) => [f.price, f.quantity, f.liquidity])).toEqual([['10.01', '5', 'taker']]);
        expect(await orderOf(self, own.order.id)).toMatchObject({ status: 'cancelled', cancelReason: 'self_trade', filledQuantity: '0' });
        expect(await units(self)).toMatchObject({ posted: '15', held: '0', available: '15' });
        expect(await depth()).toMatchObject({ bids: [], asks: [] });
        // Nobody trades with themselves: every fill of theirs has the other trader on the far side.
        expect((await fillsOf(self)).map((f) => f.side)).toEqual(['buy']);
      });
    });

    describe('amendments', () => {
      it('a smaller quantity keeps the place in the queue and releases the spare hold', async () => {
        const [first, second] = [await trader(), await trader()];
        const amended = await limit(first, 'buy', '10.00', '10');
        const behind = await limit(second, 'buy', '10.00', '10');
        expect(await usd(first)).toMatchObject({ held: '100.20' });
        const res = await amend(first, amended.order.id, { quantity: '4' });
        expect(res.status, res.text).toBe(200);
        expect(res.body.order).toMatchObject({ status: 'open', quantity: '4', remainingQuantity: '4', price: '10.00' });
        expect(await usd(first)).toMatchObject({ held: '40.08', available: '959.92' });
        expect((await depth()).bids).toEqual([['10.00', '14', 2]]);

        const seller = await trader(0n, 10n);
        const sell = await limit(seller, 'sell', '10.00', '6');
        expect(sell.fills.map((f) => f.quantity)).toEqual(['4', '2']);
        expect(await orderOf(first, amended.order.id)).toMatchObject({ status: 'filled', filledQuantity: '4' });
        expect(await orderOf(second, behind.order.id)).toMatchObject({ status: 'open', filledQuantity: '2', remainingQuantity: '8' });
        expect(await usd(first)).toMatchObject({ held: '0.00' });
      });

      it('a new price loses the place in the queue', async () => {
        const [first, second] = [await trader(), await trader()];
        const moved = await limit(first, 'sell', '10.00', '5');
        const stayed = await limit(second, 'sell', '10.00', '5');
        for (const price of ['10.01', '10.00']) {
          const res = await amend(first, moved.order.id, { price });
          expect(res.status, res.text).toBe(200);
          expect(res.body.order).toMatchObject({ status: 'open', price, remainingQuantity: '5' });
        }
        expect((await depth()).asks).toEqual([['10.00', '10', 2]]);
        const buyer = await trader(100_000n, 0n);
        await limit(buyer, 'buy', '10.00', '5');
        expect(await orderOf(second, stayed.order.id)).toMatchObject({ status: 'filled' });
        expect(await orderOf(first, moved.order.id)).toMatchObject({ status: 'open', filledQuantity: '0' });
        expect(await units(first)).toMatchObject({ held: '5' });
      });

      it('a new price that crosses trades at once, at the maker price', async () => {
        const buyer = await trader(100_000n, 0n);
        const seller = await trader();
        const bid = await limit(buyer, 'buy', '9.00', '5');
        await limit(seller, 'sell', '9.50', '5');
        const res = await amend(buyer, bid.order.id, { price: '9.60' });
        expect(res.status, res.text).toBe(200);
        expect(res.body.order).toMatchObject({ status: 'filled', filledQuantity: '5', price: '9.60' });
        expect(res.body.fills.map((f: any) => [f.side, f.price, f.quantity, f.liquidity, f.fee])).toEqual([['buy', '9.50', '5', 'taker', '0.09']]);
        expect(await usd(buyer)).toMatchObject({ posted: '952.41', held: '0.00' });
        expect(await depth()).toMatchObject({ bids: [], asks: [] });
      });

      it('a buy moved to a higher price without the extra funds is refused INSUFFICIENT_FUNDS and stays as it was', async () => {
        const buyer = await trader(20_000n, 0n); // 200.00 USD
        const bid = await limit(buyer, 'buy', '10.00', '10');
        expect(await usd(buyer)).toMatchObject({ held: '100.20', available: '99.80' });
        expectProblem(await amend(buyer, bid.order.id, { price: '20.00' }), 409, 'INSUFFICIENT_FUNDS'); // needs 200.40
        expect(await orderOf(buyer, bid.order.id)).toMatchObject({ status: 'open', price: '10.00', quantity: '10' });
        expect(await usd(buyer)).toMatchObject({ posted: '200.00', held: '100.20', available: '99.80' });
        expect((await depth()).bids).toEqual([['10.00', '10', 1]]);
      });

      it('a buy moved to a higher price needs only the extra funds, not the whole new reserve again', async () => {
        const buyer = await trader(20_000n, 0n); // 200.00 USD
        const bid = await limit(buyer, 'buy', '10.00', '10');
        // 150.30 at 15.00 (fee included) is 50.10 more than held: 99.80 is available.
        const res = await amend(buyer, bid.order.id, { price: '15.00' });
        expect(res.status, res.text).toBe(200);
        expect(res.body.order).toMatchObject({ status: 'open', price: '15.00', remainingQuantity: '10' });
        expect(await usd(buyer)).toMatchObject({ posted: '200.00', held: '150.30', available: '49.70' });
        expect((await depth()).bids).toEqual([['15.00', '10', 1]]);
      });

      it('an amendment must lower the quantity or change the price; only the owner may amend', async () => {
        const owner = await trader();
        const stranger = await trader();
        const bid = await limit(owner, 'buy', '10.00', '5');
        expectProblem(await amend(owner, bid.order.id, { quantity: '6' }), 422, 'AMEND_NOT_SMALLER');
        expectProblem(await amend(owner, bid.order.id, { quantity: '5' }), 422, 'AMEND_NOTHING');
        expectProblem(await amend(owner, bid.order.id, { quantity: '5', price: '10.00' }), 422, 'AMEND_NOTHING');
        expectProblem(await amend(stranger, bid.order.id, { quantity: '1' }), 404, 'NOT_FOUND');
        expect(await orderOf(owner, bid.order.id)).toMatchObject({ status: 'open', quantity: '5', price: '10.00' });
        expect(await usd(owner)).toMatchObject({ held: '50.10' });
        expect((await t.call('DELETE', `/api/exchange/orders/${bid.order.id}`, { token: owner.token })).status).toBe(200);
        expectProblem(await amend(owner, bid.order.id, { quantity: '1' }), 409, 'ORDER_NOT_OPEN');
      });
    });

    describe('cancel-all and halts', () => {
      it('cancel-all with a symbol cancels only there; without one, everywhere; every hold comes back', async () => {
        const y = await openExchange(t);
        const yBase = y.symbol.split('-')[0]!;
        const me = await trader();
        await y.fund(me, 10n, yBase);
        const other = await trader();
        const othersBid = await limit(other, 'buy', '9.00', '1');
        await limit(me, 'buy', '10.00', '2');
        await limit(me, 'sell', '11.00', '3');
        const elsewhere = await place(me, { symbol: y.symbol, side: 'buy', type: 'limit', price: '5.00', quantity: '1' });

        const here = await t.call('DELETE', `/api/exchange/orders?symbol=${x.symbol}`, { token: me.token });
        expect(here.status, here.text).toBe(200);
        expect(here.body.cancelled).toHaveLength(2);
        for (const o of here.body.cancelled) expect(o).toMatchObject({ symbol: x.symbol, status: 'cancelled', cancelReason: 'cancel_all' });
        expect(await openOrders(me)).toEqual([]);
        expect((await openOrders(me, y.symbol)).map((o) => o.id)).toEqual([elsewhere.order.id]);
        expect(await units(me)).toMatchObject({ held: '0' });
        expect(await usd(me)).toMatchObject({ held: '5.01' });

        const everywhere = await t.call('DELETE', '/api/exchange/orders', { token: me.token });
        expect(everywhere.status, everywhere.text).toBe(200);
        expect(everywhere.body.cancelled.map((o: any) => [o.id, o.cancelReason])).toEqual([[elsewhere.order.id, 'cancel_all']]);
        expect(await usd(me)).toMatchObject({ held: '0.00', available: '1000.00' });
        // Another trader's order is not theirs to cancel.
        expect(await orderOf(other, othersBid.order.id)).toMatchObject({ status: 'open' });
        expect((await depth()).bids).toEqual([['9.00', '1', 1]]);
      });

      it('an admin halts and resumes; while halted new orders and amendments are refused, cancels still work', async () => {
        const me = await trader();
        const kept = await limit(me, 'buy', '10.00', '5');
        const dropped = await limit(me, 'buy', '9.00', '2');
        expect(await usd(me)).toMatchObject({ held: '68.14' });

        expectProblem(await t.call('POST', `/api/exchange/instruments/${x.symbol}/halt`, { token: me.token }), 403, 'FORBIDDEN');
        const halt = await t.call('POST', `/api/exchange/instruments/${x.symbol}/halt`, { token: x.admin });
        expect(halt.status, halt.text).toBe(200);
        expect(halt.body.status).toBe('halted');
        expect((await t.call('GET', `/api/exchange/instruments/${x.symbol}`)).body.status).toBe('halted');

        expectProblem(await x.order(me, { side: 'buy', type: 'limit', price: '10.00', quantity: '1' }), 409, 'INSTRUMENT_HALTED');
        expectProblem(await amend(me, kept.order.id, { quantity: '3' }), 409, 'INSTRUMENT_HALTED');
        expectProblem(await amend(me, kept.order.id, { price: '11.00' }), 409, 'INSTRUMENT_HALTED');
        expect(await usd(me)).toMatchObject({ held: '68.14' });
        const cancel = await t.call('DELETE', `/api/exchange/orders/${dropped.order.id}`, { token: me.token });
        expect(cancel.status, cancel.text).toBe(200);
        expect(cancel.body).toMatchObject({ status: 'cancelled', cancelReason: 'user' });
        expect(await usd(me)).toMatchObject({ held: '50.10' });

        expectProblem(await t.call('POST', `/api/exchange/instruments/${x.symbol}/resume`, { token: me.token }), 403, 'FORBIDDEN');
        const resume = await t.call('POST', `/api/exchange/instruments/${x.symbol}/resume`, { token: x.admin });
        expect(resume.status, resume.text).toBe(200);
        expect(resume.body.status).toBe('trading');
        await limit(me, 'buy', '10.00', '1');
        const res = await amend(me, kept.order.id, { quantity: '3' });
        expect(res.status, res.text).toBe(200);
        expect((await depth()).bids).toEqual([['10.00', '4', 2]]);
      });
    });

    describe('idempotency', () => {
      it('the same clientOrderId twice places one order; the repeat answers 200 with repeated: true', async () => {
        const me = await trader();
        const body = { side: 'buy', type: 'limit', price: '10.00', quantity: '5', clientOrderId: 'my-order-1' };
        const first = await x.order(me, body);
        expect(first.status, first.text).toBe(201);
        expect(first.body).toMatchObject({ repeated: false, order: { clientOrderId: 'my-order-1', status: 'open' } });
        const again = await x.order(me, body);
        expect(again.status, again.text).toBe(200);
        expect(again.body).toMatchObject({ repeated: true, order: { id: first.body.order.id, clientOrderId: 'my-order-1' } });
        expect(await openOrders(me)).toHaveLength(1);
        expect(await usd(me)).toMatchObject({ held: '50.10' });
      });

      it('the same clientOrderId sent concurrently places one order', async () => {
        const me = await trader();
        const body = { side: 'buy', type: 'limit', price: '10.00', quantity: '5', clientOrderId: 'my-order-2' };
        const answers: Answer[] = await Promise.all([x.order(me, body), x.order(me, body)]);
        expect(answers.map((a) => a.status).sort(), answers.map((a) => a.text).join('\n')).toEqual([200, 201]);
        expect(answers[0]!.body.order.id).toBe(answers[1]!.body.order.id);
        expect(answers.map((a) => a.body.repeated).sort()).toEqual([false, true]);
        expect(await openOrders(me)).toHaveLength(1);
        expect(await usd(me)).toMatchObject({ held: '50.10' });
        expect((await depth()).bids).toEqual([['10.00', '5', 1]]);
      });

      it('a clientOrderId sent again for a different order (side, type, symbol…) is refused with CLIENT_ORDER_ID_REUSED, nothing placed', async () => {
        const me = await trader();
        const first = await x.order(me, { side: 'buy', type: 'limit', price: '10.00', quantity: '5', clientOrderId: 'reused-1' });
        expect(first.status, first.text).toBe(201);
        const otherSide = await x.order(me, { side: 'sell', type: 'limit', price: '10.00', quantity: '5', clientOrderId: 'reused-1' });
        expectProblem(otherSide, 409, 'CLIENT_ORDER_ID_REUSED');
        expect(fieldsAtFault(otherSide)).toEqual(['clientOrderId']);
        const postOnly = await x.order(me, { side: 'buy', type: 'limit', price: '10.00', quantity: '5', postOnly: true, clientOrderId: 'reused-1' });
        expectProblem(postOnly, 409, 'CLIENT_ORDER_ID_REUSED');
        // A retry after an amendment is still a retry: price and quantity are not compared.
        expect((await amend(me, first.body.order.id, { quantity: '4' })).status).toBe(200);
        const retry = await x.order(me, { side: 'buy', type: 'limit', price: '10.00', quantity: '5', clientOrderId: 'reused-1' });
        expect(retry.status, retry.text).toBe(200);
        expect(retry.body).toMatchObject({ repeated: true, order: { id: first.body.order.id, quantity: '4' } });
        expect((await openOrders(me)).map((o) => o.id)).toEqual([first.body.order.id]);
        expect(await units(me)).toMatchObject({ held: '0' });
      });

      it('an Idempotency-Key repeated returns the first answer and places nothing more', async () => {
        const me = await trader();
        const send = () => t.call('POST', '/api/exchange/orders', { token: me.token, headers: { 'idempotency-key': 'order-key-1' }, json: { symbol: x.symbol, side: 'buy', type: 'limit', price: '10.00', quantity: '5' } });
        const first = await send();
        expect(first.status, first.text).toBe(201);
        const again = await send();
        expect(again.status, again.text).toBe(201);
        expect(again.body).toEqual(first.body);
        expect(again.headers['idempotent-replayed']).toBe('true');
        expect(await openOrders(me)).toHaveLength(1);
        expect(await usd(me)).toMatchObject({ held: '50.10' });
      });
    });

    describe('reads', () => {
      it('my fills page by cursor: twelve fills of one order (one millisecond) come once each, newest first, over pages of five', async () => {
        const maker = await trader();
        const taker = await trader();
        for (let i = 0; i < 12; i++) await limit(maker, 'sell', '10.00', '1');
        const bid = await limit(taker, 'buy', '10.00', '12');
        expect(bid.fills).toHaveLength(12);
        const pages: any[][] = [];
        let cursor: string | null = null;
        do {
          const res = await t.call('GET', `/api/exchange/fills?symbol=${x.symbol}&limit=5${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token: taker.token });
          expect(res.status, res.text).toBe(200);
          pages.push(res.body.items);
          cursor = res.body.nextCursor;
        } while (cursor);
        expect(pages.map((p) => p.length)).toEqual([5, 5, 2]);
        const ids = pages.flat().map((f) => f.id);
        const seqOf = (id: string) => Number(id.split(':')[1]);
        expect(ids).toEqual(bid.fills.map((f: any) => f.id).sort((a: string, b: string) => seqOf(b) - seqOf(a)));
        const badCursor = await t.call('GET', '/api/exchange/fills?cursor=not-a-cursor', { token: taker.token });
        expectProblem(badCursor, 400, 'VALIDATION');
        expect(fieldsAtFault(badCursor)).toEqual(['cursor']);
      });

      it('orders, open orders and fills: each party sees its own side, liquidity and fee; nobody sees another’s order', async () => {
        const maker = await trader();
        const taker = await trader();
        const ask = await limit(maker, 'sell', '10.00', '5');
        const bid = await limit(taker, 'buy', '10.00', '3');

        expect(await orderOf(maker, ask.order.id)).toMatchObject({ id: ask.order.id, symbol: x.symbol, side: 'sell', status: 'open', filledQuantity: '3', remainingQuantity: '2', notional: '30.00', fees: '0.03', averagePrice: '10.00' });
        expectProblem(await getOrder(taker, ask.order.id), 404, 'NOT_FOUND');
        expect((await t.call('GET', `/api/exchange/orders/${ask.order.id}`, { token: x.admin })).status).toBe(200);

        expect((await openOrders(maker)).map((o) => o.id)).toEqual([ask.order.id]);
        expect(await openOrders(taker)).toEqual([]);
        const takers = await t.call('GET', '/api/exchange/orders?status=filled', { token: taker.token });
        expect(takers.body.items.map((o: any) => o.id)).toEqual([bid.order.id]);

        const [makerFill] = await fillsOf(maker);
        const [takerFill] = await fillsOf(taker);
        expect(makerFill).toMatchObject({ orderId: ask.order.id, side: 'sell', liquidity: 'maker', price: '10.00', quantity: '3', notional: '30.00', fee: '0.03', feeCurrency: 'USD' });
        expect(takerFill).toMatchObject({ id: makerFill.id, orderId: bid.order.id, side: 'buy', liquidity: 'taker', price: '10.00', quantity: '3', fee: '0.06' });
      });

      it('public trades name no parties; the depth snapshot carries a seq that moves with each accepted command', async () => {
        const maker = await trader();
        const taker = await trader();
        await limit(maker, 'sell', '10.00', '5');
        const before = await depth();
        expect(before).toMatchObject({ symbol: x.symbol, bids: [], asks: [['10.00', '5', 1]] });
        await limit(taker, 'buy', '10.00', '2');
        await limit(taker, 'buy', '10.00', '1');
        const after = await depth();
        expect(after.seq).toBe(before.seq + 2);
        expect(after.asks).toEqual([['10.00', '2', 1]]);
        expectProblem(await x.order(taker, { side: 'buy', type: 'limit', price: '10.00', quantity: '3', timeInForce: 'fok' }), 409, 'FOK_NOT_FILLABLE');
        expect((await depth()).seq).toBe(after.seq);

        const trades = await t.call('GET', `/api/exchange/instruments/${x.symbol}/trades`);
        expect(trades.status, trades.text).toBe(200);
        expect(trades.body.items.map((tr: any) => [tr.seq, tr.price, tr.quantity, tr.takerSide])).toEqual([
          [2, '10.00', '1', 'buy'],
          [1, '10.00', '2', 'buy'],
        ]);
        expect(trades.text).not.toContain(maker.id);
        expect(trades.text).not.toContain(taker.id);
      });

      it('one-minute candles carry the open, high, low, close and volume of the trades in each minute', async () => {
        const maker = await trader();
        const taker = await trader();
        const trade = async (price: string, quantity: string) => {
          await limit(maker, 'sell', price, quantity);
          const fills = (await limit(taker, 'buy', price, quantity)).fills;
          expect(fills).toHaveLength(1);
        };
        const minuteMs = clock.nowMs() - (clock.nowMs() % MINUTE);
        await trade('10.00', '1');
        await trade('10.50', '2');
        await trade('9.80', '1');
        clock.advance(MINUTE);
        await trade('10.20', '3');
        const res = await t.call('GET', `/api/exchange/instruments/${x.symbol}/candles`);
        expect(res.status, res.text).toBe(200);
        expect(res.body).toMatchObject({ symbol: x.symbol, interval: '1m' });
        expect(res.body.items).toEqual([
          { start: new Date(minuteMs).toISOString(), open: '10.00', high: '10.50', low: '9.80', close: '9.80', volume: '4', trades: 3 },
          { start: new Date(minuteMs + MINUTE).toISOString(), open: '10.20', high: '10.20', low: '10.20', close: '10.20', volume: '3', trades: 1 },
        ]);
      });

      it('after a session the book rebuilt from its journal matches the live one (admin only)', async () => {
        const [a, b] = [await trader(), await trader()];
        const ask = await limit(a, 'sell', '10.00', '5');
        await limit(a, 'sell', '10.10', '5');
        const bid = await limit(b, 'buy', '9.90', '4');
        await limit(b, 'buy', '10.00', '2');
        expect((await amend(a, ask.order.id, { quantity: '4' })).status).toBe(200);
        expect((await amend(b, bid.order.id, { price: '10.10' })).body.fills).toHaveLength(2);
        await place(b, { side: 'buy', type: 'market', quantity: '1' });
        expect((await t.call('DELETE', '/api/exchange/orders', { token: a.token })).body.cancelled).toHaveLength(1);

        expectProblem(await t.call('GET', `/api/exchange/instruments/${x.symbol}/verify`, { token: a.token }), 403, 'FORBIDDEN');
        const verify = await t.call('GET', `/api/exchange/instruments/${x.symbol}/verify`, { token: x.admin });
        expect(verify.status, verify.text).toBe(200);
        expect(verify.body).toMatchObject({ match: true, seq: (await depth()).seq, journalSeq: (await depth()).seq });
        expect(verify.body.replayHash).toBe(verify.body.liveHash);
      });
    });

    it('after a fill both parties find a fill notification in their inbox, each from their own side', async () => {
      const maker = await trader();
      const taker = await trader();
      const ask = await limit(maker, 'sell', '10.00', '2');
      const bid = await limit(taker, 'buy', '10.00', '2');
      const tradeId = bid.fills[0].id as string;

      const fillNotice = async (who: Person) => {
        const deadline = Date.now() + NOTIFICATION_WAIT_MS;
        for (;;) {
          const inbox = await t.call('GET', '/api/notifications?limit=100', { token: who.token });
          expect(inbox.status, inbox.text).toBe(200);
          const found = (inbox.body.items as any[]).find((n) => n.kind === 'fill' && n.data.tradeId === tradeId);
          if (found) return found;
          if (Date.now() > deadline) throw new Error(`no fill notification for trade ${tradeId} within ${NOTIFICATION_WAIT_MS} ms`);
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
      };
      expect((await fillNotice(maker)).data).toMatchObject({ symbol: x.symbol, orderId: ask.order.id, side: 'sell', price: '10.00', quantity: '2', fee: '0.02' });
      expect((await fillNotice(taker)).data).toMatchObject({ symbol: x.symbol, orderId: bid.order.id, side: 'buy', price: '10.00', quantity: '2', fee: '0.04' });
    });
  });
}
