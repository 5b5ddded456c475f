// Orders end to end through the API, on both databases: a won auction becomes one paid order
// (however often its settlement is delivered), unsold, cancelled and floor-won auctions make
// none; the seller ships, the buyer confirms and rates (the seller's reputation moves once),
// the seller or an admin cancels before shipping and an admin refunds — money going back
// through the ledger, which stays balanced. Strangers see nothing; bad input changes nothing.
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGavel, type GavelNode } from '../../src/gavel.js';
import { ORDERS_FROM_AUCTIONS } from '../../src/orders/module.js';
import { ManualClock } from '../../src/platform/clock.js';
import { loadConfig } from '../../src/platform/config.js';
import { openDatabase } from '../../src/platform/db/database.js';
import type { OutboxEvent } from '../../src/platform/outbox/outbox.js';
import { openMarket, type Market, type Person } from '../support/auctions.js';
import { DIALECTS } from '../support/databases.js';
import { ADMIN, startTestNode, type TestNode } from '../support/gavel.js';
import { expectProblem, fieldsAtFault, ROOMY_LIMITS } from '../support/problems.js';

const MINUTE = 60_000;
const START = Date.UTC(2031, 0, 10, 12);
const FAST_OUTBOX = { pollIntervalMs: 20, retryFirstDelayMs: 20, retryMaxDelayMs: 200 };

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** What a node's storage says about the outbox and orders, read directly (the tests' window). */
function storageOf(node: () => GavelNode) {
  const db = () => node().database.kysely as Kysely<any>;
  const settledEvent = async (auctionId: string): Promise<OutboxEvent & { txSeq: bigint }> => {
    const row = await db().selectFrom('platform_outbox').selectAll().where('topic', '=', 'auctions.auction.settled').where('key', '=', auctionId).executeTakeFirstOrThrow();
    return { id: row.id, topic: row.topic, key: row.key, version: Number(row.version), payload: JSON.parse(row.payload), createdAtMs: Number(row.created_at_ms), txSeq: BigInt(row.tx_seq) };
  };
  return {
    settledEvent,
    /** True once `consumer` has passed the settlement events of every auction named. */
    async passed(consumer: string, auctionIds: string[]): Promise<boolean> {
      const checkpoint = await db().selectFrom('platform_outbox_consumers').selectAll().where('consumer', '=', consumer).executeTakeFirst();
      if (!checkpoint) return false;
      const at = { txSeq: BigInt(checkpoint.last_tx_seq), id: checkpoint.last_id as string };
      for (const auctionId of auctionIds) {
        const e = await settledEvent(auctionId);
        if (e.txSeq > at.txSeq || (e.txSeq === at.txSeq && e.id > at.id)) return false;
      }
      return true;
    },
    async ordersFrom(auctionId: string): Promise<number> {
      const row = await db().selectFrom('orders_orders').select((eb) => eb.fn.countAll().as('n')).where('source', '=', 'auction').where('source_ref', '=', auctionId).executeTakeFirstOrThrow();
      return Number(row.n);
    },
    /** The topics of an order's events, in outbox order. */
    async eventsOf(orderId: string): Promise<{ topic: string; payload: any }[]> {
      const rows = await db().selectFrom('platform_outbox').select(['topic', 'payload']).where('key', '=', orderId).orderBy('tx_seq').orderBy('id').execute();
      return rows.map((r) => ({ topic: r.topic, payload: JSON.parse(r.payload) }));
    },
  };
}

for (const dialect of DIALECTS) {
  describe(`orders on ${dialect}`, () => {
    let t: TestNode;
    let clock: ManualClock;
    let m: Market;
    let admin: string;
    let auctioneer: Person;
    const storage = storageOf(() => t.node);

    beforeAll(async () => {
      clock = new ManualClock(START);
      t = await startTestNode(dialect, { auctionCommissionBps: 1_000 }, { clock, loginLimits: ROOMY_LIMITS, outbox: FAST_OUTBOX });
      m = await openMarket(t);
      admin = await t.adminToken();
      const user = await t.newUser('Auctioneer');
      const appointed = await t.call('PUT', '/api/user', { token: admin, json: { id: user.id, roles: ['bidder', 'auctioneer'] } });
      expect(appointed.status, appointed.text).toBe(200);
      auctioneer = { id: user.id, token: await t.login(user.email, user.password) };
    });
    afterAll(async () => t?.close());

    const iso = (ms: number) => new Date(ms).toISOString();
    const newSeller = async (): Promise<Person> => {
      const user = await t.newUser('Seller', ['seller']);
      return { id: user.id, token: user.token };
    };
    const openAuction = async (seller: Person, extra: Record<string, unknown> = {}) => {
      const created = await m.auction({ startsAt: iso(clock.nowMs()), endsAt: iso(clock.nowMs() + 30 * MINUTE), ...extra }, seller);
      await t.node.auctions.engine.fireDueTimers();
      return created.auction.id as string;
    };
    const closeDue = async (auctionId: string) => {
      clock.advance(31 * MINUTE);
      await t.node.auctions.engine.fireDueTimers();
      await t.node.auctions.engine.settled(auctionId);
    };
    /** An auction `seller` sells to a new bidder (funded with 1000.00) at `price`, closed and settled. */
    const sell = async (seller: Person, price = '40.00') => {
      const auctionId = await openAuction(seller);
      const buyer = await m.bidder(100_000n);
      expect((await t.call('POST', `/api/auctions/${auctionId}/join`, { token: buyer.token })).status).toBe(200);
      const bid = await t.call('POST', `/api/auctions/${auctionId}/bids`, { token: buyer.token, json: { amount: price, currency: 'USD' } });
      expect(bid.status, bid.text).toBe(201);
      await closeDue(auctionId);
      return { auctionId, buyer };
    };
    /** The buyer's order for an auction, once the outbox has delivered the settlement. */
    const orderFor = (auctionId: string, buyer: Person) =>
      until(`the order of auction ${auctionId}`, async () => {
        const res = await t.call('GET', '/api/orders?role=buyer', { token: buyer.token });
        expect(res.status, res.text).toBe(200);
        return (res.body.items as any[]).find((o) => o.sourceRef === auctionId);
      });
    const getOrder = async (id: string, who: Person | string) => t.call('GET', `/api/orders/${id}`, { token: typeof who === 'string' ? who : who.token });
    const act = (id: string, action: string, who: Person | string, json: unknown, headers: Record<string, string> = {}) =>
      t.call('POST', `/api/orders/${id}/${action}`, { token: typeof who === 'string' ? who : who.token, json, headers });
    const ledgerClean = async () => {
      const check = await t.call('GET', '/api/ledger/check', { token: admin });
      expect(check.status, check.text).toBe(200);
      expect(check.body.violations).toEqual([]);
    };

    it('an auction won online becomes one paid order for the winner, awaiting shipment', async () => {
      const seller = await newSeller();
      const { auctionId, buyer } = await sell(seller, '40.00');
      const order = await orderFor(auctionId, buyer);
      expect(order).toMatchObject({
        source: 'auction',
        sourceRef: auctionId,
        status: 'paid',
        buyerId: buyer.id,
        sellerId: seller.id,
        title: 'A painting',
        amount: '40.00',
        currency: 'USD',
        paymentRef: `auction:${auctionId}:settle`,
        items: [{ kind: 'lot', title: 'A painting', quantity: 1, unitPrice: '40.00', amount: '40.00' }],
        paidAt: expect.any(String),
        shipment: null,
        delivery: null,
        cancellation: null,
        refund: null,
      });
      const auction = await t.call('GET', `/api/auctions/${auctionId}`);
      expect(order.items[0].refId).toBe(auction.body.auction.lotId);
      expect((await getOrder(order.id, seller)).body).toEqual(order);
      expect(await storage.eventsOf(order.id)).toEqual([
        { topic: 'orders.order.created', payload: expect.objectContaining({ orderId: order.id, buyerId: buyer.id, sellerId: seller.id, title: 'A painting', amount: '40.00', currency: 'USD' }) },
        { topic: 'orders.order.paid', payload: expect.objectContaining({ orderId: order.id, status: 'paid' }) },
      ]);
      expect(await storage.ordersFrom(auctionId)).toBe(1);
    });

    it('the settlement delivered again creates nothing more: one order per auction', async () => {
      const { auctionId, buyer } = await sell(await newSeller());
      const order = await orderFor(auctionId, buyer);
      const event = await storage.settledEvent(auctionId);
      for (let i = 0; i < 2; i++) {
        await t.node.database.kysely.transaction().execute(async (tx) => {
          await t.node.orders.service.handleAuctionSettled(event, { tx, afterCommit: () => {} });
        });
      }
      expect(await storage.ordersFrom(auctionId)).toBe(1);
      expect((await storage.eventsOf(order.id)).map((e) => e.topic)).toEqual(['orders.order.created', 'orders.order.paid']);
      const mine = await t.call('GET', '/api/orders', { token: buyer.token });
      expect(mine.body.items.map((o: any) => o.id)).toEqual([order.id]);
    });

    it('unsold, cancelled and floor-won auctions make no order', async () => {
      const seller = await newSeller();
      const unsold = await openAuction(seller, { reserve: '500.00' });
      const bidder = await m.bidder(100_000n);
      await t.call('POST', `/api/auctions/${unsold}/join`, { token: bidder.token });
      expect((await t.call('POST', `/api/auctions/${unsold}/bids`, { token: bidder.token, json: { amount: '10.00', currency: 'USD' } })).status).toBe(201);
      await closeDue(unsold);

      const cancelled = await openAuction(seller);
      expect((await t.call('POST', `/api/auctions/${cancelled}/cancel`, { token: seller.token, json: { reason: 'changed my mind' } })).status).toBe(200);
      await t.node.auctions.engine.settled(cancelled);

      // A paddle in the room wins: they pay at the desk, outside Gavel's wallets.
      const floor = (await m.auction({ kind: 'live', startsAt: iso(clock.nowMs()), endsAt: null, auctioneerId: auctioneer.id, startingPrice: '100.00' }, seller)).auction.id as string;
      for (const [action, extra] of [['open', {}], ['floor-bid', { paddle: '7', amount: '100.00' }], ['fair-warning', {}], ['hammer', {}]] as const) {
        const res = await t.call('POST', `/api/auctions/${floor}/console`, { token: auctioneer.token, json: { action, ...extra } });
        expect(res.status, res.text).toBe(200);
      }
      await t.node.auctions.engine.settled(floor);
      expect((await t.call('GET', `/api/auctions/${floor}`)).body.live).toMatchObject({ outcome: 'sold', leader: 'paddle 7' });

      await until('the orders consumer to pass the three settlements', async () => ((await storage.passed(ORDERS_FROM_AUCTIONS, [unsold, cancelled, floor])) ? true : undefined));
      for (const id of [unsold, cancelled, floor]) expect(await storage.ordersFrom(id)).toBe(0);
      expect((await t.call('GET', '/api/orders', { token: seller.token })).body.items).toEqual([]);
      expect((await t.call('GET', '/api/orders', { token: bidder.token })).body.items).toEqual([]);
    });

    it('the whole life: the seller ships, the buyer confirms delivery and rates; the rating moves the seller’s reputation once', async () => {
      const seller = await newSeller();
      const { auctionId, buyer } = await sell(seller, '40.00');
      const order = await orderFor(auctionId, buyer);
      // The settlement's own reputation change (+2 for the sale) lands first, so the rating's is measured alone.
      await until('the auction reputation consumer', async () => ((await storage.passed('auctions.reputation', [auctionId])) ? true : undefined));
      const reputation = async () => (await t.node.accounts.service.reputationOf(seller.id))!;
      const before = await reputation();

      expectProblem(await act(order.id, 'confirm-delivery', buyer, { rating: 5 }), 409, 'ORDER_STATE');
      const shipped = await act(order.id, 'ship', seller, { carrier: 'DHL', trackingNumber: 'JD014600003828' });
      expect(shipped.status, shipped.text).toBe(200);
      expect(shipped.body).toMatchObject({ status: 'shipped', shipment: { carrier: 'DHL', trackingNumber: 'JD014600003828', shippedAt: iso(clock.nowMs()) } });
      expectProblem(await act(order.id, 'ship', seller, {}), 409, 'ORDER_STATE');

      const delivered = await act(order.id, 'confirm-delivery', buyer, { rating: 5, comment: 'As described,\nwell packed.' });
      expect(delivered.status, delivered.text).toBe(200);
      expect(delivered.body).toMatchObject({ status: 'delivered', delivery: { rating: 5, comment: 'As described,\nwell packed.' }, shipment: { carrier: 'DHL' } });
      expect(await reputation()).toBe(before + 3);

      // Once: a second confirmation is refused and moves nothing.
      expectProblem(await act(order.id, 'confirm-delivery', buyer, { rating: 1 }), 409, 'ORDER_STATE');
      expect(await reputation()).toBe(before + 3);
      expect((await getOrder(order.id, buyer)).body.delivery.rating).toBe(5);

      expect((await storage.eventsOf(order.id)).map((e) => e.topic)).toEqual(['orders.order.created', 'orders.order.paid', 'orders.order.shipped', 'orders.order.delivered']);
      const [, , shippedEvent, deliveredEvent] = await storage.eventsOf(order.id);
      expect(shippedEvent!.payload).toMatchObject({ orderId: order.id, buyerId: buyer.id, sellerId: seller.id, title: 'A painting', amount: '40.00', currency: 'USD', carrier: 'DHL' });
      expect(deliveredEvent!.payload).toMatchObject({ orderId: order.id, rating: 5 });
      // A shipped or delivered order cannot be cancelled, by the seller or an admin.
      expectProblem(await act(order.id, 'cancel', seller, { reason: 'too late' }), 409, 'ORDER_STATE');
      expectProblem(await act(order.id, 'cancel', admin, { reason: 'too late' }), 409, 'ORDER_STATE');
    });

    it('a low rating costs the seller reputation; shipping details are optional', async () => {
      const seller = await newSeller();
      const { auctionId, buyer } = await sell(seller);
      const order = await orderFor(auctionId, buyer);
      await until('the auction reputation consumer', async () => ((await storage.passed('auctions.reputation', [auctionId])) ? true : undefined));
      const before = (await t.node.accounts.service.reputationOf(seller.id))!;
      const shipped = await act(order.id, 'ship', seller, {});
      expect(shipped.body.shipment).toMatchObject({ carrier: null, trackingNumber: null });
      expect((await act(order.id, 'confirm-delivery', buyer, { rating: 1 })).status).toBe(200);
      expect(await t.node.accounts.service.reputationOf(seller.id)).toBe(before - 4);
    });

    it('lists: mine as buyer or seller, by status, newest first, a page at a time', async () => {
      const seller = await newSeller();
      const first = await sell(seller, '20.00');
      const second = await sell(seller, '30.00');
      const a = await orderFor(first.auctionId, first.buyer);
      const b = await orderFor(second.auctionId, second.buyer);
      await act(b.id, 'ship', seller, {});

      const page1 = await t.call('GET', '/api/orders?role=seller&limit=1', { token: seller.token });
      expect(page1.body.items.map((o: any) => o.id)).toEqual([b.id]);
      const page2 = await t.call('GET', `/api/orders?role=seller&limit=1&cursor=${page1.body.nextCursor}`, { token: seller.token });
      expect(page2.body).toMatchObject({ items: [{ id: a.id }], nextCursor: null });
      expect((await t.call('GET', '/api/orders?status=shipped', { token: seller.token })).body.items.map((o: any) => o.id)).toEqual([b.id]);
      expect((await t.call('GET', '/api/orders?role=seller&status=paid', { token: seller.token })).body.items.map((o: any) => o.id)).toEqual([a.id]);
      expect((await t.call('GET', '/api/orders?role=buyer', { token: seller.token })).body.items).toEqual([]);
      expect((await t.call('GET', '/api/orders?role=seller', { token: first.buyer.token })).body.items).toEqual([]);
      expect((await t.call('GET', '/api/orders', { token: first.buyer.token })).body.items.map((o: any) => o.id)).toEqual([a.id]);
    });

    it('who may do what: strangers get 404, the buyer cannot ship, the seller cannot confirm, only an admin refunds', async () => {
      const seller = await newSeller();
      const { auctionId, buyer } = await sell(seller);
      const order = await orderFor(auctionId, buyer);
      const stranger = await m.bidder();

      expectProblem(await t.call('GET', `/api/orders/${order.id}`), 401, 'UNAUTHENTICATED');
      expectProblem(await t.call('GET', '/api/orders'), 401, 'UNAUTHENTICATED');
      expectProblem(await getOrder(order.id, stranger), 404, 'NOT_FOUND');
      for (const [action, body] of [['ship', {}], ['confirm-delivery', { rating: 5 }], ['cancel', { reason: 'mine' }], ['refund', { reason: 'mine' }]] as const) {
        expectProblem(await act(order.id, action, stranger, body), 404, 'NOT_FOUND');
      }
      expect((await t.call('GET', '/api/orders', { token: stranger.token })).body.items).toEqual([]);
      // A well-formed id that is nobody's order answers the same as one that is someone else's.
      expectProblem(await getOrder('01900000-0000-7000-8000-000000000000', stranger), 404, 'NOT_FOUND');

      expectProblem(await act(order.id, 'ship', buyer, {}), 403, 'FORBIDDEN');
      expectProblem(await act(order.id, 'cancel', buyer, { reason: 'changed my mind' }), 403, 'FORBIDDEN');
      expectProblem(await act(order.id, 'refund', buyer, { reason: 'please' }), 403, 'FORBIDDEN');
      expectProblem(await act(order.id, 'refund', seller, { reason: 'goodwill' }), 403, 'FORBIDDEN');
      expectProblem(await act(order.id, 'ship', admin, {}), 403, 'FORBIDDEN');
      expect((await act(order.id, 'ship', seller, {})).status).toBe(200);
      expectProblem(await act(order.id, 'confirm-delivery', seller, { rating: 5 }), 403, 'FORBIDDEN');
      expectProblem(await act(order.id, 'confirm-delivery', admin, { rating: 5 }), 403, 'FORBIDDEN');

      const seen = await getOrder(order.id, admin);
      expect(seen.status).toBe(200);
      expect(seen.body).toMatchObject({ id: order.id, status: 'shipped', delivery: null });
    });

    it('bad input is a 4xx naming the field, and changes nothing', async () => {
      const seller = await newSeller();
      const { auctionId, buyer } = await sell(seller);
      const order = await orderFor(auctionId, buyer);
      await act(order.id, 'ship', seller, {});
      const before = (await getOrder(order.id, buyer)).body;
      const eventsBefore = await storage.eventsOf(order.id);
      const walletsBefore = [await m.wallet(seller), await m.wallet(buyer)];

      const rows: Array<[string, () => ReturnType<typeof act>, string]> = [
        ['rating above 5', () => act(order.id, 'confirm-delivery', buyer, { rating: 6 }), 'rating'],
        ['rating 0', () => act(order.id, 'confirm-delivery', buyer, { rating: 0 }), 'rating'],
        ['rating as a string', () => act(order.id, 'confirm-delivery', buyer, { rating: '5' }), 'rating'],
        ['a fractional rating', () => act(order.id, 'confirm-delivery', buyer, { rating: 4.5 }), 'rating'],
        ['no rating', () => act(order.id, 'confirm-delivery', buyer, { comment: 'fine' }), 'rating'],
        ['an empty comment', () => act(order.id, 'confirm-delivery', buyer, { rating: 5, comment: '' }), 'comment'],
        ['a comment of blanks', () => act(order.id, 'confirm-delivery', buyer, { rating: 5, comment: ' \n ' }), 'comment'],
        ['a comment too long', () => act(order.id, 'confirm-delivery', buyer, { rating: 5, comment: 'x'.repeat(1001) }), 'comment'],
        ['an unknown field', () => act(order.id, 'confirm-delivery', buyer, { rating: 5, stars: 5 }), 'stars'],
        ['a carrier with a control character', () => act(order.id, 'ship', seller, { carrier: 'DHL\u0007' }), 'carrier'],
        ['a tracking number of blanks', () => act(order.id, 'ship', seller, { trackingNumber: '   ' }), 'trackingNumber'],
        ['no reason to cancel', () => act(order.id, 'cancel', seller, {}), 'reason'],
        ['an empty reason to refund', () => act(order.id, 'refund', admin, { reason: '' }), 'reason'],
        ['a reason as a number', () => act(order.id, 'refund', admin, { reason: 42 }), 'reason'],
        ['an id that is not a UUID', () => act('42', 'confirm-delivery', buyer, { rating: 5 }), 'id'],
        ['a SQL id', () => t.call('GET', `/api/orders/${encodeURIComponent("1' OR '1'='1")}`, { token: buyer.token }), 'id'],
        ['an unknown role', () => t.call('GET', '/api/orders?role=admin', { token: buyer.token }), 'role'],
        ['an unknown status', () => t.call('GET', '/api/orders?status=lost', { token: buyer.token }), 'status'],
        ['a limit of 0', () => t.call('GET', '/api/orders?limit=0', { token: buyer.token }), 'limit'],
        ['a forged cursor', () => t.call('GET', '/api/orders?cursor=bm90LWEtY3Vyc29y', { token: buyer.token }), 'cursor'],
        ['an unknown query parameter', () => t.call('GET', '/api/orders?owner=me', { token: buyer.token }), 'owner'],
      ];
      for (const [name, send, field] of rows) {
        const res = await send();
        expect(res.status, `${name}: ${res.text}`).toBe(400);
        expectProblem(res, 400, 'VALIDATION');
        expect(fieldsAtFault(res), name).toContain(field);
      }
      const notJson = await t.call('POST', `/api/orders/${order.id}/confirm-delivery`, { token: buyer.token, payload: '{"rating": 5', contentType: 'application/json' });
      expectProblem(notJson, 400, 'MALFORMED_JSON');

      expect((await getOrder(order.id, buyer)).body).toEqual(before);
      expect(await storage.eventsOf(order.id)).toEqual(eventsBefore);
      expect([await m.wallet(seller), await m.wallet(buyer)]).toEqual(walletsBefore);
    });

    it('an admin refund moves the amount from the seller to the buyer once, only if the seller has it; the ledger stays balanced', async () => {
      const seller = await newSeller();
      const { auctionId, buyer } = await sell(seller, '40.00');
      const order = await orderFor(auctionId, buyer);
      // The seller kept 36.00 (40.00 less the 10 % commission): not enough to pay 40.00 back.
      expect(await m.wallet(seller)).toEqual({ posted: '36.00', held: '0.00', available: '36.00' });
      expect(await m.wallet(buyer)).toEqual({ posted: '960.00', held: '0.00', available: '960.00' });
      const short = await act(order.id, 'refund', admin, { reason: 'arrived broken' });
      expectProblem(short, 409, 'INSUFFICIENT_FUNDS');
      expect(short.body.detail).toContain('40.00');
      expect((await getOrder(order.id, buyer)).body).toMatchObject({ status: 'paid', refund: null });
      expect(await m.wallet(seller)).toEqual({ posted: '36.00', held: '0.00', available: '36.00' });
      expect((await storage.eventsOf(order.id)).map((e) => e.topic)).toEqual(['orders.order.created', 'orders.order.paid']);

      await m.fund(seller, 400n);
      const refunded = await act(order.id, 'refund', admin, { reason: 'arrived broken' }, { 'idempotency-key': 'refund-once' });
      expect(refunded.status, refunded.text).toBe(200);
      expect(refunded.body).toMatchObject({ status: 'refunded', refund: { reason: 'arrived broken', transferRef: `order:${order.id}:refund`, refundedAt: iso(clock.nowMs()) } });
      expect(await m.wallet(seller)).toEqual({ posted: '0.00', held: '0.00', available: '0.00' });
      expect(await m.wallet(buyer)).toEqual({ posted: '1000.00', held: '0.00', available: '1000.00' });

      // The same request again answers the first result; without the key it is refused. No money moves twice.
      await m.fund(seller, 4_000n);
      const repeat = await act(order.id, 'refund', admin, { reason: 'arrived broken' }, { 'idempotency-key': 'refund-once' });
      expect(repeat.status).toBe(200);
      expect(repeat.body).toEqual(refunded.body);
      expectProblem(await act(order.id, 'refund', admin, { reason: 'arrived broken' }), 409, 'ORDER_STATE');
      expectProblem(await act(order.id, 'ship', seller, {}), 409, 'ORDER_STATE');
      expect(await m.wallet(buyer)).toEqual({ posted: '1000.00', held: '0.00', available: '1000.00' });

      const statement = await t.node.ledger.service.history((await t.node.ledger.service.walletOf(buyer.id, 'USD'))!, { limit: 50 });
      expect(statement.items.filter((tr) => tr.owner === `order:${order.id}`).map((tr) => [tr.kind, tr.amountMinor])).toEqual([['posted', 4_000n]]);
      expect((await storage.eventsOf(order.id)).at(-1)).toMatchObject({ topic: 'orders.order.refunded', payload: { orderId: order.id, amount: '40.00', reason: 'arrived broken' } });
      await ledgerClean();
    });

    it('a delivered order can still be refunded by an admin', async () => {
      const seller = await newSeller();
      const { auctionId, buyer } = await sell(seller, '40.00');
      const order = await orderFor(auctionId, buyer);
      await m.fund(seller, 400n);
      await act(order.id, 'ship', seller, {});
      await act(order.id, 'confirm-delivery', buyer, { rating: 4 });
      const refunded = await act(order.id, 'refund', admin, { reason: 'counterfeit' });
      expect(refunded.status, refunded.text).toBe(200);
      expect(refunded.body).toMatchObject({ status: 'refunded', delivery: { rating: 4 } });
      expect((await m.wallet(buyer)).posted).toBe('1000.00');
      await ledgerClean();
    });

    it('the seller cancels a paid order before shipping: the buyer gets the money back, and it can go no further', async () => {
      const seller = await newSeller();
      const { auctionId, buyer } = await sell(seller, '40.00');
      const order = await orderFor(auctionId, buyer);
      expectProblem(await act(order.id, 'cancel', seller, { reason: 'sold it elsewhere' }), 409, 'INSUFFICIENT_FUNDS');
      expect((await getOrder(order.id, seller)).body.status).toBe('paid');

      await m.fund(seller, 400n);
      const cancelled = await act(order.id, 'cancel', seller, { reason: 'sold it elsewhere' });
      expect(cancelled.status, cancelled.text).toBe(200);
      expect(cancelled.body).toMatchObject({ status: 'cancelled', cancellation: { by: 'seller', reason: 'sold it elsewhere' }, refund: { transferRef: `order:${order.id}:refund` } });
      expect(await m.wallet(buyer)).toEqual({ posted: '1000.00', held: '0.00', available: '1000.00' });
      expect(await m.wallet(seller)).toEqual({ posted: '0.00', held: '0.00', available: '0.00' });
      expect((await storage.eventsOf(order.id)).at(-1)).toMatchObject({ topic: 'orders.order.cancelled', payload: { cancelledBy: 'seller', refunded: true } });

      await m.fund(seller, 4_000n);
      expectProblem(await act(order.id, 'ship', seller, {}), 409, 'ORDER_STATE');
      expectProblem(await act(order.id, 'refund', admin, { reason: 'again' }), 409, 'ORDER_STATE');
      expectProblem(await act(order.id, 'cancel', admin, { reason: 'again' }), 409, 'ORDER_STATE');
      expect(await m.wallet(buyer)).toEqual({ posted: '1000.00', held: '0.00', available: '1000.00' });
      await ledgerClean();
    });
  });

  describe(`orders across a restart on ${dialect}`, () => {
    let t: TestNode;
    let restarted: GavelNode | undefined;

    beforeAll(async () => {
      t = await startTestNode(dialect, {}, { loginLimits: ROOMY_LIMITS, outbox: FAST_OUTBOX });
    });
    afterAll(async () => {
      await restarted?.stop();
      await t?.close();
    });

    it('a node that delivers the settlement again after a restart (its checkpoint rewound) makes no second order', async () => {
      const m = await openMarket(t);
      const buyer = await m.bidder(100_000n);
      const created = await m.auction({ startsAt: new Date().toISOString(), endsAt: new Date(Date.now() + 30 * MINUTE).toISOString(), buyNow: '75.00' });
      const auctionId = created.auction.id as string;
      await t.node.auctions.engine.fireDueTimers();
      await t.call('POST', `/api/auctions/${auctionId}/join`, { token: buyer.token });
      expect((await t.call('POST', `/api/auctions/${auctionId}/buy-now`, { token: buyer.token })).status).toBe(201);
      await t.node.auctions.engine.settled(auctionId);
      const first = storageOf(() => t.node);
      await until('the order', async () => ((await first.ordersFrom(auctionId)) === 1 ? true : undefined));
      await t.node.stop();

      // Rewind the consumer to the start: the next node delivers every retained settlement again.
      const database = await openDatabase(t.storage);
      await (database.kysely as Kysely<any>).updateTable('platform_outbox_consumers').set({ last_tx_seq: 0, last_id: '' }).where('consumer', '=', ORDERS_FROM_AUCTIONS).execute();
      await database.close();

      const config = { ...loadConfig({}, {}), dataDir: t.storage.dataDir, databaseUrl: t.storage.databaseUrl, logLevel: 'silent' as const, adminEmail: ADMIN.email, adminPassword: ADMIN.password };
      restarted = await startGavel(config, { listen: false, loginLimits: ROOMY_LIMITS, outbox: FAST_OUTBOX });
      const second = storageOf(() => restarted!);
      await until('the restarted node to deliver the settlement again', async () => ((await second.passed(ORDERS_FROM_AUCTIONS, [auctionId])) ? true : undefined));
      expect(await second.ordersFrom(auctionId)).toBe(1);
      const [order] = await (restarted.database.kysely as Kysely<any>).selectFrom('orders_orders').select(['id', 'status', 'amount_minor']).where('source_ref', '=', auctionId).execute();
      expect(order).toMatchObject({ status: 'paid' });
      expect(BigInt(order!.amount_minor)).toBe(7_500n);
      expect((await second.eventsOf(order!.id)).map((e) => e.topic)).toEqual(['orders.order.created', 'orders.order.paid']);
    });
  });
}
