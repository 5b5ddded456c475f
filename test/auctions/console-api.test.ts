// What the auctioneer's console page reads from the API: the live sales a person may run
// (GET /api/auctions/console), their part in a sale (`staffRole` on the auction page), and
// a lot that is over and settled still refusing bids with the code that says why.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../support/databases.js';
import { startTestNode, type TestNode } from '../support/gavel.js';
import { openMarket, type Market, type Person } from '../support/auctions.js';
import { expectProblem, ROOMY_LIMITS } from '../support/problems.js';

for (const dialect of DIALECTS) {
  describe(`the console's API on ${dialect}`, () => {
    let t: TestNode;
    let m: Market;
    let auctioneer: Person;
    let clerk: Person;
    let admin: Person;

    beforeAll(async () => {
      t = await startTestNode(dialect, {}, { loginLimits: ROOMY_LIMITS });
      m = await openMarket(t);
      const person = async (name: string) => {
        const user = await t.newUser(name);
        return { id: user.id, token: user.token };
      };
      auctioneer = await person('Auctioneer');
      clerk = await person('Clerk');
      const adminToken = await t.adminToken();
      admin = { id: (await t.call('GET', '/api/auth/me', { token: adminToken })).body.id, token: adminToken };
    });
    afterAll(async () => t?.close());

    const act = (who: Person, id: string, action: string, extra: Record<string, unknown> = {}) =>
      t.call('POST', `/api/auctions/${id}/console`, { token: who.token, json: { action, ...extra } });
    const bid = (who: Person, id: string, amount: string) => t.call('POST', `/api/auctions/${id}/bids`, { token: who.token, json: { amount, currency: 'USD' } });
    const consoleIds = async (who: Person) => {
      const res = await t.call('GET', '/api/auctions/console', { token: who.token });
      expect(res.status, res.text).toBe(200);
      return (res.body.items as Array<{ auction: { id: string }; role: string }>).map((i) => `${i.auction.id}:${i.role}`);
    };
    const liveSale = async (startsInMs = 0) => {
      const created = await m.auction({ kind: 'live', startsAt: new Date(Date.now() + startsInMs).toISOString(), endsAt: null, auctioneerId: auctioneer.id, clerkIds: [clerk.id], startingPrice: '100.00' });
      return created.auction.id as string;
    };

    it('lists the live sales a person runs or clerks, open first, and nothing for anyone else', async () => {
      const later = await liveSale(3_600_000);
      const now = await liveSale();
      await m.auction({ kind: 'timed', startsAt: new Date().toISOString(), endsAt: new Date(Date.now() + 3_600_000).toISOString() });
      expect((await act(auctioneer, now, 'open')).status).toBe(200);

      expect(await consoleIds(auctioneer)).toEqual([`${now}:auctioneer`, `${later}:auctioneer`]);
      expect(await consoleIds(clerk)).toEqual([`${now}:clerk`, `${later}:clerk`]);
      // An admin may not run someone else's sale (the console API says NOT_AUCTIONEER), so none is listed.
      expect(await consoleIds(admin)).toEqual([]);
      expect(await consoleIds(m.seller)).toEqual([]);
      expectProblem(await act(admin, now, 'fair-warning'), 403, 'NOT_AUCTIONEER');
      expectProblem(await t.call('GET', '/api/auctions/console'), 401, 'UNAUTHENTICATED');

      const item = (await t.call('GET', '/api/auctions/console', { token: auctioneer.token })).body.items[0];
      expect(item.live).toMatchObject({ id: now, status: 'open', phase: 'asking', minimumNextBid: '100.00', kind: 'live' });
      expect(item.auction).toMatchObject({ id: now, kind: 'live', currency: 'USD', startingPrice: '100.00' });
    });

    it('the auction page tells the caller their part in the sale', async () => {
      const id = await liveSale();
      const role = async (who?: Person) => (await t.call('GET', `/api/auctions/${id}`, who ? { token: who.token } : {})).body.staffRole;
      expect(await role(auctioneer)).toBe('auctioneer');
      expect(await role(clerk)).toBe('clerk');
      expect(await role(admin)).toBeNull();
      expect(await role()).toBeNull();
    });

    it('after the hammer and settlement, bids, floor bids and joins are refused with AUCTION_HAMMERED', async () => {
      const id = await liveSale();
      const online = await m.bidder();
      await act(auctioneer, id, 'open');
      await t.call('POST', `/api/auctions/${id}/join`, { token: online.token });
      expect((await bid(online, id, '100.00')).status).toBe(201);
      await act(auctioneer, id, 'fair-warning');
      expect((await act(auctioneer, id, 'hammer')).status).toBe(200);
      await t.node.auctions.engine.settled(id);
      expect((await t.call('GET', `/api/auctions/${id}`)).body.auction).toMatchObject({ status: 'closed', outcome: 'sold', settled: true });
      expect(await consoleIds(auctioneer)).not.toContain(`${id}:auctioneer`);

      expectProblem(await bid(online, id, '110.00'), 409, 'AUCTION_HAMMERED');
      expectProblem(await act(clerk, id, 'floor-bid', { paddle: '9', amount: '110.00' }), 409, 'AUCTION_HAMMERED');
      expectProblem(await t.call('POST', `/api/auctions/${id}/join`, { token: (await m.bidder()).token }), 409, 'AUCTION_HAMMERED');
      expect(await m.wallet(online)).toEqual({ posted: '9900.00', held: '0.00', available: '9900.00' });
    });

    it('a cancelled sale refuses bids with AUCTION_CANCELLED; a settled timed auction refuses joins with AUCTION_CLOSED', async () => {
      const id = await liveSale();
      const online = await m.bidder();
      await act(auctioneer, id, 'open');
      await t.call('POST', `/api/auctions/${id}/join`, { token: online.token });
      expect((await t.call('POST', `/api/auctions/${id}/cancel`, { token: m.seller.token, json: { reason: 'withdrawn' } })).status).toBe(200);
      await t.node.auctions.engine.settled(id);
      expectProblem(await bid(online, id, '100.00'), 409, 'AUCTION_CANCELLED');

      const timed = (await m.auction({ startsAt: new Date().toISOString(), endsAt: new Date(Date.now() + 1_000).toISOString() })).auction.id as string;
      await expect.poll(async () => (await t.call('GET', `/api/auctions/${timed}`)).body.auction.settled, { timeout: 10_000 }).toBe(true);
      expectProblem(await t.call('POST', `/api/auctions/${timed}/join`, { token: online.token }), 409, 'AUCTION_CLOSED');
    });
  });
}
