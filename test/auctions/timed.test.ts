// Timed auctions end to end through the API, on both databases: create, join, bid (holds move
// with the lead), proxy bids, soft close, close by the timer, settlement (the winner pays the
// seller less the commission; every other hold released), and the refusals.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/platform/clock.js';
import { DIALECTS } from '../support/databases.js';
import { startTestNode, type TestNode } from '../support/gavel.js';
import { openMarket, type Market, type Person } from '../support/auctions.js';
import { expectProblem, ROOMY_LIMITS } from '../support/problems.js';

const MINUTE = 60_000;
const START = Date.UTC(2031, 0, 10, 12);

for (const dialect of DIALECTS) {
  describe(`timed auctions on ${dialect}`, () => {
    let t: TestNode;
    let clock: ManualClock;
    let m: Market;

    beforeAll(async () => {
      clock = new ManualClock(START);
      t = await startTestNode(dialect, { auctionCommissionBps: 1_000 }, { clock, loginLimits: ROOMY_LIMITS });
      m = await openMarket(t);
    });
    afterAll(async () => t?.close());

    const iso = (ms: number) => new Date(ms).toISOString();
    const bid = (who: Person, id: string, amount: string, extra: Record<string, unknown> = {}) =>
      t.call('POST', `/api/auctions/${id}/bids`, { token: who.token, json: { amount, currency: 'USD', ...extra } });
    const join = (who: Person, id: string) => t.call('POST', `/api/auctions/${id}/join`, { token: who.token });
    const page = async (id: string, who?: Person) => (await t.call('GET', `/api/auctions/${id}`, { ...(who && { token: who.token }) })).body;
    const openAuction = async (extra: Record<string, unknown> = {}) => {
      const created = await m.auction({ startsAt: iso(clock.nowMs()), endsAt: iso(clock.nowMs() + 30 * MINUTE), ...extra });
      await t.node.auctions.engine.fireDueTimers();
      return created.auction.id as string;
    };

    it('a scheduled auction opens at its start; the page shows the server clock, the time left and the next bids', async () => {
      const created = await m.auction({ startsAt: iso(clock.nowMs() + MINUTE), endsAt: iso(clock.nowMs() + 31 * MINUTE) });
      const id = created.auction.id as string;
      expect(created.live.status).toBe('scheduled');
      const early = await bid(await m.bidder(), id, '10.00');
      expectProblem(early, 409, 'AUCTION_NOT_OPEN');

      clock.advance(MINUTE);
      await t.node.auctions.engine.fireDueTimers();
      const p = await page(id);
      expect(p.live).toMatchObject({ status: 'open', price: null, minimumNextBid: '10.00', bidCount: 0, reserveMet: false });
      expect(p.live.timeLeftMs).toBe(30 * MINUTE);
      expect(p.serverTimeMs).toBe(clock.nowMs());
      expect(p.nextBids[0]).toBe('10.00');
      expect(p.lot.title).toBe('A painting');
    });

    it('only the leader holds funds, for their maximum; being outbid releases the hold in the same commit', async () => {
      const id = await openAuction();
      const alice = await m.bidder(100_000n);
      const bob = await m.bidder(100_000n);
      expect((await join(alice, id)).status).toBe(200);
      expect((await join(bob, id)).status).toBe(200);

      const first = await bid(alice, id, '10.00', { max: '50.00' });
      expect(first.status, first.text).toBe(201);
      expect(first.body.result).toBe('leads');
      expect(first.body.auction).toMatchObject({ price: '10.00', bidCount: 1, leader: expect.any(String), leaderSource: 'online' });
      expect(await m.wallet(alice)).toEqual({ posted: '1000.00', held: '50.00', available: '950.00' });

      // Bob's 20.00 is beaten at once by Alice's proxy: the price climbs to 20.50 (20 + the 0.50 step of the ladder's 5–25 band).
      const second = await bid(bob, id, '20.00');
      expect(second.body.result).toBe('outbid');
      expect(second.body.auction.price).toBe('20.50');
      expect(await m.wallet(bob)).toEqual({ posted: '1000.00', held: '0.00', available: '1000.00' });

      // Bob goes over Alice's maximum: he leads at 51.00, his hold is placed and hers released together.
      const third = await bid(bob, id, '51.00', { max: '80.00' });
      expect(third.body.result).toBe('leads');
      expect(third.body.auction.price).toBe('51.00');
      expect(await m.wallet(alice)).toEqual({ posted: '1000.00', held: '0.00', available: '1000.00' });
      expect(await m.wallet(bob)).toEqual({ posted: '1000.00', held: '80.00', available: '920.00' });
      expect((await page(id, bob)).me).toMatchObject({ leading: true, maxBid: '80.00', held: '80.00' });
      expect((await page(id, alice)).me).toMatchObject({ leading: false, held: '0.00' });
    });

    it('the refusals: not joined, below the minimum, wrong currency, own auction, not enough funds — nothing changes', async () => {
      const id = await openAuction({ minReputation: 40 });
      const carol = await m.bidder(2_000n); // 20.00
      expectProblem(await bid(carol, id, '10.00'), 403, 'NOT_JOINED');
      await join(carol, id);
      expectProblem(await bid(carol, id, '9.99'), 409, 'BID_TOO_LOW');
      expectProblem(await bid(carol, id, '10.00', { currency: 'EUR' }), 400, 'CURRENCY_MISMATCH');
      expectProblem(await bid(carol, id, '10.001'), 400, 'VALIDATION');
      expectProblem(await bid(carol, id, '25.00'), 409, 'INSUFFICIENT_FUNDS');
      expectProblem(await bid(carol, id, '10.00', { max: '25.00' }), 409, 'INSUFFICIENT_FUNDS');
      expectProblem(await join(m.seller, id), 403, 'OWN_AUCTION');
      expectProblem(await bid(m.seller, id, '10.00'), 403, 'OWN_AUCTION');
      const p = await page(id);
      expect(p.live).toMatchObject({ bidCount: 0, price: null, participantCount: 1 });
      expect(await m.wallet(carol)).toEqual({ posted: '20.00', held: '0.00', available: '20.00' });

      // Reputation below the minimum: refused at the door.
      const low = await m.bidder();
      await t.node.accounts.service.adjustReputation(low.id, -20, 'test');
      expectProblem(await join(low, id), 403, 'REPUTATION_TOO_LOW');
    });

    it('a bid in the last two minutes extends the end; the timer closes it and settlement pays the seller less commission', async () => {
      const id = await openAuction({ reserve: '30.00' });
      const dan = await m.bidder(100_000n);
      const eve = await m.bidder(100_000n);
      await join(dan, id);
      await join(eve, id);
      await bid(dan, id, '10.00');
      expect((await page(id)).live.reserveMet).toBe(false);

      clock.advance(29 * MINUTE); // one minute left
      const late = await bid(eve, id, '40.00');
      expect(late.body.auction.reserveMet).toBe(true);
      const extendedEnd = clock.nowMs() + 2 * MINUTE;
      expect(Date.parse(late.body.auction.endsAt)).toBe(extendedEnd);

      clock.advance(MINUTE + 59_000); // the old end has passed, the new one not
      await t.node.auctions.engine.fireDueTimers();
      expect((await page(id)).live.status).toBe('open');

      clock.advance(1_000);
      await t.node.auctions.engine.fireDueTimers();
      const closed = await page(id);
      expect(closed.live).toMatchObject({ status: 'closed', outcome: 'sold', price: '40.00' });
      expect(closed.auction).toMatchObject({ status: 'closed', outcome: 'sold', settled: true });

      // The seller receives 40.00 less the 10 % commission (other auctions of this seller may close meanwhile: compare this sale's transfers).
      const sellerWallet = (await t.node.ledger.service.walletOf(m.seller.id, 'USD'))!;
      const history = await t.node.ledger.service.history(sellerWallet, { limit: 50 });
      const mine = history.items.filter((tr) => tr.owner === `auction:${id}`);
      expect(mine.map((tr) => [tr.kind, tr.amountMinor, tr.creditAccountId === sellerWallet.id ? 'in' : 'out']).sort()).toEqual(
        [
          ['posted', 4_000n, 'in'], // the winner's captured hold, passed on from escrow
          ['posted', 400n, 'out'], // the house commission
        ].sort(),
      );
      expect(await m.wallet(eve)).toEqual({ posted: '960.00', held: '0.00', available: '960.00' });
      expect(await m.wallet(dan)).toEqual({ posted: '1000.00', held: '0.00', available: '1000.00' });
      const check = await t.call('GET', '/api/ledger/check', { token: await t.adminToken() });
      expect(check.body.violations).toEqual([]);

      expectProblem(await bid(dan, id, '50.00'), 409, 'AUCTION_CLOSED');
    });

    it('an auction that ends below its reserve is unsold and every hold goes back', async () => {
      const id = await openAuction({ reserve: '500.00' });
      const fay = await m.bidder(100_000n);
      await join(fay, id);
      await bid(fay, id, '10.00', { max: '100.00' });
      expect((await m.wallet(fay)).held).toBe('100.00');
      clock.advance(31 * MINUTE);
      await t.node.auctions.engine.fireDueTimers();
      expect((await page(id)).live).toMatchObject({ status: 'closed', outcome: 'unsold' });
      expect(await m.wallet(fay)).toEqual({ posted: '1000.00', held: '0.00', available: '1000.00' });
    });

    it('cancel: the seller before the first bid, an admin at any time; holds are released and the lot is free again', async () => {
      const early = await openAuction();
      const byOther = await t.call('POST', `/api/auctions/${early}/cancel`, { token: (await m.bidder()).token, json: { reason: 'mine now' } });
      expectProblem(byOther, 403, 'FORBIDDEN');
      const cancelled = await t.call('POST', `/api/auctions/${early}/cancel`, { token: m.seller.token, json: { reason: 'changed my mind' } });
      expect(cancelled.status, cancelled.text).toBe(200);
      expect((await page(early)).live.status).toBe('cancelled');
      // The lot is free again: editable, and it can go to a new auction.
      await t.node.auctions.engine.settled(early);
      const lotId = (await page(early)).auction.lotId as string;
      for (let i = 0; i < 100 && (await t.node.catalog.service.getLot(lotId)).lockedBy !== null; i++) await new Promise((r) => setTimeout(r, 10));
      const edited = await t.call('PATCH', `/api/lots/${lotId}`, { token: m.seller.token, json: { title: 'A painting, relisted' } });
      expect(edited.status, edited.text).toBe(200);
      await m.auction({ lotId, startsAt: iso(clock.nowMs()), endsAt: iso(clock.nowMs() + 30 * MINUTE) });

      const id = await openAuction();
      const gus = await m.bidder(100_000n);
      await join(gus, id);
      await bid(gus, id, '15.00');
      expectProblem(await t.call('POST', `/api/auctions/${id}/cancel`, { token: m.seller.token, json: { reason: 'too low' } }), 409, 'CANNOT_CANCEL');
      const admin = await t.call('POST', `/api/auctions/${id}/cancel`, { token: await t.adminToken(), json: { reason: 'fraud report' } });
      expect(admin.status, admin.text).toBe(200);
      await t.node.auctions.engine.settled(id);
      expect((await m.wallet(gus)).held).toBe('0.00');
    });

    it('buy-now sells at once before the first bid, and is gone after it', async () => {
      const id = await openAuction({ buyNow: '75.00' });
      const hal = await m.bidder(100_000n);
      await join(hal, id);
      const bought = await t.call('POST', `/api/auctions/${id}/buy-now`, { token: hal.token });
      expect(bought.status, bought.text).toBe(201);
      await t.node.auctions.engine.settled(id);
      expect((await page(id)).live).toMatchObject({ status: 'closed', outcome: 'sold', price: '75.00', closedVia: 'buyNow' });
      expect((await m.wallet(hal)).posted).toBe('925.00');

      const other = await openAuction({ buyNow: '75.00' });
      await join(hal, other);
      await bid(hal, other, '10.00');
      expectProblem(await t.call('POST', `/api/auctions/${other}/buy-now`, { token: hal.token }), 409, 'BUY_NOW_UNAVAILABLE');
    });

    it('bids racing on one auction end as if applied one by one: one leader, holds exactly the leader’s maximum', async () => {
      const id = await openAuction();
      const bidders = await Promise.all(Array.from({ length: 12 }, () => m.bidder(1_000_000n)));
      for (const b of bidders) await join(b, id);
      const answers = await Promise.all(bidders.map((b, i) => bid(b, id, `${100 + i * 7}.00`)));
      // In any order, a lower bid arriving after a higher one is below the minimum; the highest is always accepted.
      for (const a of answers) expect(a.status === 201 || a.body.code === 'BID_TOO_LOW', a.text).toBe(true);
      expect(answers.at(-1)!.status).toBe(201);
      const p = await page(id);
      expect(p.live.bidCount).toBe(answers.filter((a) => a.status === 201).length);
      const wallets = await Promise.all(bidders.map((b) => m.wallet(b)));
      expect(wallets.filter((w) => w.held !== '0.00')).toEqual([{ posted: '10000.00', held: '177.00', available: '9823.00' }]);
      expect(wallets.at(-1)!.held).toBe('177.00');
      expect(p.live.price).toBe('177.00');
      const check = await t.call('GET', '/api/ledger/check', { token: await t.adminToken() });
      expect(check.body.violations).toEqual([]);
    });

    it('statistics: one auction for its seller (strangers get 404), and a period for an admin with sell-through', async () => {
      const id = await openAuction({ reserve: '20.00' });
      const [a, b] = [await m.bidder(100_000n), await m.bidder(100_000n)];
      await join(a, id);
      await join(b, id);
      await bid(a, id, '10.00');
      await bid(b, id, '15.00');
      await bid(a, id, '25.00');
      const openedAt = clock.nowMs();
      clock.advance(31 * MINUTE);
      await t.node.auctions.engine.fireDueTimers();

      expectProblem(await t.call('GET', `/api/auctions/${id}/stats`, { token: a.token }), 404, 'NOT_FOUND');
      const stats = await t.call('GET', `/api/auctions/${id}/stats`, { token: m.seller.token });
      expect(stats.status, stats.text).toBe(200);
      expect(stats.body).toMatchObject({ outcome: 'sold', participants: 2, bidders: 2, bids: 3, finalPrice: '25.00', reserve: '20.00', priceToReserve: 1.25, durationMs: 30 * MINUTE });
      expect(stats.body.bidsOverTime.map((x: { price: string }) => x.price)).toEqual(['10.00', '15.00', '25.00']);

      const period = await t.call('GET', `/api/auction-stats?from=${iso(openedAt)}&to=${iso(clock.nowMs() + 1)}`, { token: await t.adminToken() });
      expect(period.status, period.text).toBe(200);
      expect(period.body.sold).toBeGreaterThanOrEqual(1);
      expect(period.body.sellThrough).toBeCloseTo(period.body.sold / (period.body.sold + period.body.unsold));
      expectProblem(await t.call('GET', `/api/auction-stats?from=${iso(openedAt)}&to=${iso(openedAt - 1)}`, { token: await t.adminToken() }), 400, 'VALIDATION');
    });

    it('reputation moves once per settled sale: the paid winner and the seller gain, a seller who cancels loses', async () => {
      const sellerUser = await t.newUser('Seller two', ['seller']);
      const seller = { id: sellerUser.id, token: sellerUser.token };
      const reputation = async (id: string) => (await t.node.accounts.service.reputationOf(id))!;
      const eventually = async (what: () => Promise<number>, expected: number) => {
        for (let i = 0; i < 200 && (await what()) !== expected; i++) await new Promise((r) => setTimeout(r, 25));
        expect(await what()).toBe(expected);
      };
      const sold = await m.auction({ startsAt: iso(clock.nowMs()), endsAt: iso(clock.nowMs() + 30 * MINUTE) }, seller);
      await t.node.auctions.engine.fireDueTimers();
      const winner = await m.bidder(100_000n);
      await join(winner, sold.auction.id);
      await bid(winner, sold.auction.id, '10.00');
      clock.advance(31 * MINUTE);
      await t.node.auctions.engine.fireDueTimers();
      await eventually(() => reputation(seller.id), 52);
      await eventually(() => reputation(winner.id), 52);

      const cancelled = await m.auction({ startsAt: iso(clock.nowMs()), endsAt: iso(clock.nowMs() + 30 * MINUTE) }, seller);
      await t.call('POST', `/api/auctions/${cancelled.auction.id}/cancel`, { token: seller.token, json: { reason: 'withdrawn' } });
      await eventually(() => reputation(seller.id), 51);
      // Redelivery does not move it twice: the outbox consumer's changes are keyed by event.
      await new Promise((r) => setTimeout(r, 300));
      expect(await reputation(seller.id)).toBe(51);
      expect(await reputation(winner.id)).toBe(52);
    });

    it('people are notified: the outbid bidder at once, and at the end the winner, the seller and the losers', async () => {
      const sellerUser = await t.newUser('Seller three', ['seller']);
      const seller = { id: sellerUser.id, token: sellerUser.token };
      const created = await m.auction({ startsAt: iso(clock.nowMs()), endsAt: iso(clock.nowMs() + 30 * MINUTE) }, seller);
      const id = created.auction.id as string;
      await t.node.auctions.engine.fireDueTimers();
      const [ivy, jon] = [await m.bidder(100_000n), await m.bidder(100_000n)];
      await join(ivy, id);
      await join(jon, id);
      await bid(ivy, id, '10.00');
      await bid(jon, id, '20.00');
      const kinds = async (who: Person) => ((await t.call('GET', '/api/notifications', { token: who.token })).body.items as Array<{ kind: string; data: Record<string, unknown> }>).filter((n) => n.data.auctionId === id).map((n) => n.kind).sort();
      const eventually = async (who: Person, expected: string[]) => {
        for (let i = 0; i < 200 && JSON.stringify(await kinds(who)) !== JSON.stringify(expected); i++) await new Promise((r) => setTimeout(r, 25));
        expect(await kinds(who)).toEqual(expected);
      };
      await eventually(ivy, ['outbid']);
      clock.advance(31 * MINUTE);
      await t.node.auctions.engine.fireDueTimers();
      await eventually(jon, ['won']);
      await eventually(ivy, ['lost', 'outbid']);
      await eventually(seller, ['sold']);
    });
  });
}
