// The auction room over real WebSockets: a watcher sees every bid in order with its seq, the
// outbid bidder hears it privately, a reconnecting client resumes from the last seq it saw,
// bids can be placed over the socket with the same checks as REST, and bad frames get error
// frames while nothing changes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../support/databases.js';
import { startTestNode, type TestNode } from '../support/gavel.js';
import { openMarket, type Market, type Person } from '../support/auctions.js';
import { ROOMY_LIMITS } from '../support/problems.js';
import { connect } from '../support/ws-client.js';

for (const dialect of DIALECTS) {
  describe(`the auction room over WebSocket on ${dialect}`, () => {
    let t: TestNode;
    let m: Market;
    let auctionId: string;
    let alice: Person;
    let bob: Person;

    beforeAll(async () => {
      t = await startTestNode(dialect, { host: '127.0.0.1', port: 0 }, { listen: true, loginLimits: ROOMY_LIMITS });
      m = await openMarket(t);
      const created = await m.auction({ startsAt: new Date().toISOString(), endsAt: new Date(Date.now() + 3_600_000).toISOString() });
      auctionId = created.auction.id;
      await t.node.auctions.engine.fireDueTimers();
      alice = await m.bidder(100_000n);
      bob = await m.bidder(100_000n);
      for (const who of [alice, bob]) expect((await t.call('POST', `/api/auctions/${auctionId}/join`, { token: who.token })).status).toBe(200);
    });
    afterAll(async () => t?.close());

    const rest = (who: Person, amount: string) => t.call('POST', `/api/auctions/${auctionId}/bids`, { token: who.token, json: { amount, currency: 'USD' } });

    it('a watcher gets a snapshot, then every price change in seq order; the outbid bidder is told privately', async () => {
      const watcher = await connect(t.node.url);
      const hello = await watcher.next((x) => x.type === 'hello');
      expect(Math.abs(hello.serverTimeMs - Date.now())).toBeLessThan(5_000);
      watcher.send({ type: 'subscribe', topic: `auction:${auctionId}`, id: 1 });
      const subscribed = await watcher.next((x) => x.type === 'subscribed');
      expect(subscribed.snapshot).toMatchObject({ id: auctionId, status: 'open', minimumNextBid: '10.00' });

      const aliceSocket = await connect(t.node.url);
      aliceSocket.send({ type: 'auth', token: alice.token });
      await aliceSocket.next((x) => x.type === 'authenticated');

      expect((await rest(alice, '10.00')).status).toBe(201);
      expect((await rest(bob, '12.00')).status).toBe(201);
      const prices = [await watcher.next((x) => x.type === 'event' && x.event.price === '10.00'), await watcher.next((x) => x.type === 'event' && x.event.price === '12.00')];
      expect(prices[1].seq).toBeGreaterThan(prices[0].seq);
      expect(prices[1].event).toMatchObject({ type: 'PriceChanged', leaderSource: 'online', minimumNextBid: '12.50' });
      expect(JSON.stringify(watcher.messages)).not.toContain(alice.id); // bidders appear by label only

      const outbid = await aliceSocket.next((x) => x.type === 'push' || x.type === 'outbid', 'the outbid push');
      expect(JSON.stringify(outbid)).toContain('12.00');
      watcher.close();
      aliceSocket.close();
    });

    it('a client that reconnects with the last seq it saw gets exactly what it missed, in order', async () => {
      const first = await connect(t.node.url);
      first.send({ type: 'subscribe', topic: `auction:${auctionId}` });
      const subscribed = await first.next((x) => x.type === 'subscribed');
      const lastSeen = subscribed.seq as number;
      first.close();

      expect((await rest(alice, '15.00')).status).toBe(201);
      expect((await rest(bob, '20.00')).status).toBe(201);

      const again = await connect(t.node.url);
      again.send({ type: 'subscribe', topic: `auction:${auctionId}`, fromSeq: lastSeen });
      await again.next((x) => x.type === 'subscribed');
      await again.next((x) => x.type === 'event' && x.event.price === '20.00');
      const events = again.messages.filter((x) => x.type === 'event');
      expect(events.map((e) => e.event.price).filter(Boolean)).toEqual(['15.00', '20.00']);
      const seqs = events.map((e) => e.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(seqs[0]).toBeGreaterThan(lastSeen);
      again.close();
    });

    it('bids over the socket: accepted with the same answer as REST, refused with the same problem codes, malformed frames answered with errors', async () => {
      const socket = await connect(t.node.url);
      socket.send({ type: 'auth', token: alice.token });
      await socket.next((x) => x.type === 'authenticated');
      const minimum = (await t.call('GET', `/api/auctions/${auctionId}`)).body.live.minimumNextBid as string;

      socket.send({ type: 'command', id: 'low', name: 'auction.bid', args: { auctionId, amount: '1.00', currency: 'USD' } });
      const low = await socket.next((x) => x.type === 'result' && x.id === 'low');
      expect(low).toMatchObject({ ok: false, problem: { status: 409, code: 'BID_TOO_LOW' } });

      socket.send({ type: 'command', id: 'bad', name: 'auction.bid', args: { auctionId, amount: '-5', currency: 'USD' } });
      expect(await socket.next((x) => x.type === 'result' && x.id === 'bad')).toMatchObject({ ok: false, problem: { status: 400, code: 'VALIDATION' } });

      socket.send({ type: 'command', id: 'ok', name: 'auction.bid', args: { auctionId, amount: minimum, currency: 'USD' } });
      const ok = await socket.next((x) => x.type === 'result' && x.id === 'ok');
      expect(ok).toMatchObject({ ok: true, result: { result: 'leads', auction: { price: minimum } } });

      socket.socket.send('{not json');
      expect(await socket.next((x) => x.type === 'error')).toMatchObject({ type: 'error' });
      socket.send({ type: 'command', id: 'nope', name: 'auction.steal', args: {} });
      expect(await socket.next((x) => x.type === 'result' && x.id === 'nope')).toMatchObject({ ok: false, problem: { code: 'VALIDATION' } });

      const unsigned = await connect(t.node.url);
      unsigned.send({ type: 'command', id: 'anon', name: 'auction.bid', args: { auctionId, amount: '999.00', currency: 'USD' } });
      const anon = await unsigned.next((x) => (x.type === 'result' || x.type === 'error') && x.id === 'anon');
      expect(JSON.stringify(anon)).toMatch(/UNAUTHENTICATED/);
      expect((await t.call('GET', `/api/auctions/${auctionId}`)).body.live.price).toBe(minimum);
      socket.close();
      unsigned.close();
    });

    it('a bid resent with the same bidId (a dropped connection) is applied once; another bidder reusing it is refused', async () => {
      const socket = await connect(t.node.url);
      socket.send({ type: 'auth', token: bob.token });
      await socket.next((x) => x.type === 'authenticated');
      const before = (await t.call('GET', `/api/auctions/${auctionId}`)).body.live;
      const bidId = '0190f3a0-1111-7aaa-8bbb-0123456789ab';
      const args = { auctionId, amount: before.minimumNextBid, currency: 'USD', bidId };
      socket.send({ type: 'command', id: 'first', name: 'auction.bid', args });
      expect(await socket.next((x) => x.type === 'result' && x.id === 'first')).toMatchObject({ ok: true, result: { bidId, result: 'leads' } });
      socket.send({ type: 'command', id: 'again', name: 'auction.bid', args });
      const again = await socket.next((x) => x.type === 'result' && x.id === 'again');
      expect(again).toMatchObject({ ok: true, result: { bidId, result: null, me: { leading: true } } });
      const after = (await t.call('GET', `/api/auctions/${auctionId}`)).body.live;
      expect(after.bidCount).toBe(before.bidCount + 1);
      expect(after.price).toBe(before.minimumNextBid);

      const other = await connect(t.node.url);
      other.send({ type: 'auth', token: alice.token });
      await other.next((x) => x.type === 'authenticated');
      other.send({ type: 'command', id: 'steal', name: 'auction.bid', args: { ...args, amount: after.minimumNextBid } });
      expect(await other.next((x) => x.type === 'result' && x.id === 'steal')).toMatchObject({ ok: false, problem: { status: 409, code: 'BID_ID_REUSED' } });
      expect((await t.call('GET', `/api/auctions/${auctionId}`)).body.live.bidCount).toBe(after.bidCount);
      socket.close();
      other.close();
    });
  });
}
