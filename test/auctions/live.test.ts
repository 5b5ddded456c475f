// A live sale through the auctioneer's console, mixed with online bidders: open, asking price,
// floor bids by paddle, online bids on the same ladder, fair warning, hammer; online bids after
// the hammer are refused; only the auctioneer may run the console.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../support/databases.js';
import { startTestNode, type TestNode } from '../support/gavel.js';
import { openMarket, type Market, type Person } from '../support/auctions.js';
import { expectProblem, ROOMY_LIMITS } from '../support/problems.js';

for (const dialect of DIALECTS) {
  describe(`live sales on ${dialect}`, () => {
    let t: TestNode;
    let m: Market;
    let auctioneer: Person;

    beforeAll(async () => {
      t = await startTestNode(dialect, {}, { loginLimits: ROOMY_LIMITS });
      m = await openMarket(t);
      // Auctioneers are appointed by an admin.
      const user = await t.newUser('Auctioneer');
      const appointed = await t.call('PUT', '/api/user', { token: await t.adminToken(), json: { id: user.id, roles: ['bidder', 'auctioneer'] } });
      expect(appointed.status, appointed.text).toBe(200);
      auctioneer = { id: user.id, token: await t.login(user.email, user.password) };
    });
    afterAll(async () => t?.close());

    const act = (who: Person, id: string, action: string, extra: Record<string, unknown> = {}) =>
      t.call('POST', `/api/auctions/${id}/console`, { token: who.token, json: { action, ...extra } });
    const bid = (who: Person, id: string, amount: string) => t.call('POST', `/api/auctions/${id}/bids`, { token: who.token, json: { amount, currency: 'USD' } });
    const live = async (id: string) => (await t.call('GET', `/api/auctions/${id}`)).body.live;

    const newSale = async () => {
      const created = await m.auction({ kind: 'live', startsAt: new Date().toISOString(), endsAt: null, auctioneerId: auctioneer.id, startingPrice: '100.00' });
      return created.auction.id as string;
    };

    it('floor and online bids climb one ladder; the room sees who leads; the hammer sells to the online bidder, who pays', async () => {
      const id = await newSale();
      const online = await m.bidder(1_000_000n);
      expectProblem(await act(online, id, 'open'), 403, 'NOT_AUCTIONEER');
      expect((await act(auctioneer, id, 'open')).status).toBe(200);
      expect(await live(id)).toMatchObject({ status: 'open', phase: 'asking', minimumNextBid: '100.00' });
      await t.call('POST', `/api/auctions/${id}/join`, { token: online.token });

      const floor = await act(auctioneer, id, 'floor-bid', { paddle: '42', amount: '100.00' });
      expect(floor.status, floor.text).toBe(200);
      expect(await live(id)).toMatchObject({ price: '100.00', leaderSource: 'floor', leader: 'paddle 42' });

      const ask = await act(auctioneer, id, 'asking', { amount: '120.00' });
      expect(ask.status, ask.text).toBe(200);
      expectProblem(await bid(online, id, '110.00'), 409, 'BID_TOO_LOW');
      const internet = await bid(online, id, '120.00');
      expect(internet.status, internet.text).toBe(201);
      expect(await live(id)).toMatchObject({ price: '120.00', leaderSource: 'online' });

      expect((await act(auctioneer, id, 'chat', { text: 'Fair warning, the internet leads' })).status).toBe(200);
      expectProblem(await act(auctioneer, id, 'hammer'), 409, 'FAIR_WARNING_REQUIRED');
      expect((await act(auctioneer, id, 'fair-warning')).status).toBe(200);
      const hammer = await act(auctioneer, id, 'hammer');
      expect(hammer.status, hammer.text).toBe(200);
      await t.node.auctions.engine.settled(id);
      expect(await live(id)).toMatchObject({ status: 'closed', outcome: 'sold', closedVia: 'hammer', price: '120.00' });

      // After the hammer, an online bid is refused with a code that says so.
      const lateBidder = await m.bidder();
      const late = await bid(lateBidder, id, '130.00');
      expect(late.status).toBe(409);
      expect(['AUCTION_HAMMERED', 'AUCTION_CLOSED']).toContain(late.body.code);
      expect(await m.wallet(online)).toEqual({ posted: '9880.00', held: '0.00', available: '9880.00' });
    });

    it('a floor winner pays at the desk: no wallet moves, and the online underbidder gets every cent back', async () => {
      const id = await newSale();
      const online = await m.bidder(1_000_000n);
      await act(auctioneer, id, 'open');
      await t.call('POST', `/api/auctions/${id}/join`, { token: online.token });
      expect((await bid(online, id, '100.00')).status).toBe(201);
      expect((await m.wallet(online)).held).toBe('100.00');
      expect((await act(auctioneer, id, 'floor-bid', { paddle: '7', amount: '110.00' })).status).toBe(200);
      expect((await m.wallet(online)).held).toBe('0.00');
      await act(auctioneer, id, 'fair-warning');
      await act(auctioneer, id, 'hammer');
      await t.node.auctions.engine.settled(id);
      expect(await live(id)).toMatchObject({ outcome: 'sold', leader: 'paddle 7' });
      expect(await m.wallet(online)).toEqual({ posted: '10000.00', held: '0.00', available: '10000.00' });
    });

    it('pause stops bidding until resume; console input is checked', async () => {
      const id = await newSale();
      const online = await m.bidder(1_000_000n);
      await act(auctioneer, id, 'open');
      await t.call('POST', `/api/auctions/${id}/join`, { token: online.token });
      expect((await act(auctioneer, id, 'pause')).status).toBe(200);
      expectProblem(await bid(online, id, '100.00'), 409, 'AUCTION_PAUSED');
      expect((await act(auctioneer, id, 'resume')).status).toBe(200);
      expect((await bid(online, id, '100.00')).status).toBe(201);
      expectProblem(await act(auctioneer, id, 'asking'), 400, 'VALIDATION');
      expectProblem(await act(auctioneer, id, 'floor-bid', { amount: '150.00' }), 400, 'VALIDATION');
      expectProblem(await act(auctioneer, id, 'dance'), 400, 'VALIDATION');
      expect((await live(id)).bidCount).toBe(1);
    });
  });
}
