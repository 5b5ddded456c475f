// What the seller pages of the web app read from the auctions API: a seller's own auctions in
// every state (GET /api/auctions?sellerId=me), and the default increment ladder a new auction
// gets (GET /api/auction-increments), on both databases.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/platform/clock.js';
import { DIALECTS } from '../support/databases.js';
import { startTestNode, type TestNode } from '../support/gavel.js';
import { openMarket, type Market, type Person } from '../support/auctions.js';
import { expectProblem, fieldsAtFault } from '../support/problems.js';

const START = Date.UTC(2031, 6, 1, 9);
const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

for (const dialect of DIALECTS) {
  describe(`a seller's listings on ${dialect}`, () => {
    let t: TestNode;
    let clock: ManualClock;
    let m: Market;
    let other: Person;
    const mine: Record<'running' | 'upcoming' | 'cancelled', string> = { running: '', upcoming: '', cancelled: '' };
    let theirs = '';

    beforeAll(async () => {
      clock = new ManualClock(START);
      t = await startTestNode(dialect, {}, { clock });
      m = await openMarket(t);
      const otherUser = await t.newUser('Other Seller', ['seller']);
      other = { id: otherUser.id, token: otherUser.token };
      mine.running = (await m.auction({ startsAt: iso(START), endsAt: iso(START + HOUR) })).auction.id;
      mine.upcoming = (await m.auction({ startsAt: iso(START + 2 * HOUR), endsAt: iso(START + 3 * HOUR) })).auction.id;
      mine.cancelled = (await m.auction({ startsAt: iso(START + 2 * HOUR), endsAt: iso(START + 3 * HOUR) })).auction.id;
      const cancelled = await t.call('POST', `/api/auctions/${mine.cancelled}/cancel`, { token: m.seller.token, json: { reason: 'changed my mind' } });
      expect(cancelled.status, cancelled.text).toBe(200);
      theirs = (await m.auction({ lotId: await m.lot(other), startsAt: iso(START), endsAt: iso(START + HOUR) }, other)).auction.id;
      await t.node.auctions.engine.fireDueTimers();
    });
    afterAll(async () => t?.close());

    const ids = (res: { body: { items: Array<{ id: string }> } }) => res.body.items.map((i) => i.id).sort();

    it('sellerId=me lists only the caller’s own auctions, in every state asked for, with their price and bids', async () => {
      const res = await t.call('GET', '/api/auctions?sellerId=me&status=scheduled,open,closed,cancelled&sort=newest', { token: m.seller.token });
      expect(res.status, res.text).toBe(200);
      expect(ids(res)).toEqual([mine.running, mine.upcoming, mine.cancelled].sort());
      const running = res.body.items.find((i: { id: string }) => i.id === mine.running);
      expect(running).toMatchObject({ sellerId: m.seller.id, status: 'open', currentPrice: '10.00', bidCount: 0 });

      const theirView = await t.call('GET', '/api/auctions?sellerId=me&status=open', { token: other.token });
      expect(ids(theirView)).toEqual([theirs]);
    });

    it('a seller’s id filters for anyone, signed in or not; the default statuses still apply', async () => {
      const res = await t.call('GET', `/api/auctions?sellerId=${m.seller.id.toUpperCase()}`);
      expect(res.status, res.text).toBe(200);
      expect(ids(res)).toEqual([mine.running, mine.upcoming].sort());
    });

    it('sellerId=me signed out is a 401; a sellerId that is neither me nor an id is a 400 naming it', async () => {
      expectProblem(await t.call('GET', '/api/auctions?sellerId=me'), 401, 'UNAUTHENTICATED');
      const bad = await t.call('GET', '/api/auctions?sellerId=someone', { token: m.seller.token });
      expectProblem(bad, 400, 'VALIDATION');
      expect(fieldsAtFault(bad)).toContain('sellerId');
    });

    it('the default ladder is eBay’s table in the currency’s decimals, and is what an auction without increments climbs', async () => {
      const usd = await t.call('GET', '/api/auction-increments?currency=USD');
      expect(usd.status, usd.text).toBe(200);
      expect(usd.body.currency).toBe('USD');
      expect(usd.body.increments.slice(0, 3)).toEqual([
        { from: '0.00', increment: '0.05' },
        { from: '1.00', increment: '0.25' },
        { from: '5.00', increment: '0.50' },
      ]);
      expect(usd.body.increments).toHaveLength(10);
      const jpy = await t.call('GET', '/api/auction-increments?currency=JPY');
      expect(jpy.body.increments.slice(0, 2)).toEqual([
        { from: '0', increment: '5' },
        { from: '100', increment: '25' },
      ]);

      // A bid at 10.00 on a default-ladder auction asks 10.50 next: the 5.00–24.99 band's 0.50.
      const bidder = await m.bidder();
      expect((await t.call('POST', `/api/auctions/${mine.running}/join`, { token: bidder.token })).status).toBe(200);
      const bid = await t.call('POST', `/api/auctions/${mine.running}/bids`, { token: bidder.token, json: { amount: '10.00', currency: 'USD' } });
      expect(bid.status, bid.text).toBe(201);
      expect(bid.body.auction.minimumNextBid).toBe('10.50');
    });

    it('an unknown or malformed currency for the ladder is a 400 naming currency', async () => {
      const unknown = await t.call('GET', '/api/auction-increments?currency=XQQ');
      expectProblem(unknown, 400, 'UNKNOWN_CURRENCY');
      expect(fieldsAtFault(unknown)).toEqual(['currency']);
      const malformed = await t.call('GET', '/api/auction-increments?currency=usd');
      expectProblem(malformed, 400, 'VALIDATION');
      expect(fieldsAtFault(malformed)).toContain('currency');
      expectProblem(await t.call('GET', '/api/auction-increments'), 400, 'VALIDATION');
    });
  });
}
