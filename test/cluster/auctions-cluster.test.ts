// Auctions scaled out (docs/cluster.md): three nodes on one PostgreSQL database and the NATS
// server — an api node (HTTP and WebSocket only) and two engines. Any api node takes a bid for
// an auction an engine elsewhere owns; the room on the api node hears it; when the owning
// engine vanishes, the other one takes the auction over within the lease time, rebuilt from
// its journal, and the sale ends at its scheduled time with the right winner, paid once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyChain } from '../../src/platform/journal/hash-chain.js';
import { DIALECTS } from '../support/databases.js';
import { startNodesCluster, until, type NodesCluster } from '../support/cluster.js';
import type { TestNode } from '../support/gavel.js';
import { NATS_AVAILABLE } from '../support/nats.js';
import { openMarket, type Market, type Person } from '../support/auctions.js';
import { connect } from '../support/ws-client.js';

const LEASE_MS = 1_000;

describe.skipIf(!NATS_AVAILABLE || !DIALECTS.includes('postgres'))('auctions across nodes (PostgreSQL, NATS)', () => {
  let api: TestNode;
  let engines: TestNode[];
  let m: Market;

  let cluster: NodesCluster;

  beforeAll(async () => {
    cluster = await startNodesCluster(LEASE_MS);
    ({ api, engines } = cluster);
    m = await openMarket(api);
  }, 60_000);

  afterAll(async () => cluster?.close(), 60_000);

  const ownerOf = (auctionId: string) => cluster.ownersOf(`auction.${auctionId}`);
  async function joined(auctionId: string): Promise<Person> {
    const who = await m.bidder(100_000n);
    const res = await api.call('POST', `/api/auctions/${auctionId}/join`, { token: who.token });
    expect(res.status, res.text).toBe(200);
    return who;
  }
  const bid = (who: Person, auctionId: string, amount: string) => api.call('POST', `/api/auctions/${auctionId}/bids`, { token: who.token, json: { amount, currency: 'USD' } });


  it('an api node without an engine creates auctions and takes bids; one engine owns each; the room on the api node sees every bid and the outbid bidder hears it', async () => {
    const created = await m.auction({ startsAt: new Date().toISOString(), endsAt: new Date(Date.now() + 3_600_000).toISOString() });
    const auctionId = created.auction.id as string;
    expect(ownerOf(auctionId)).toHaveLength(1);
    await until('the auction to open', async () => ((await api.call('GET', `/api/auctions/${auctionId}`)).body.live.status === 'open' ? true : undefined));

    const alice = await joined(auctionId);
    const bob = await joined(auctionId);
    const watcher = await connect(api.node.url);
    watcher.send({ type: 'subscribe', topic: `auction:${auctionId}` });
    expect((await watcher.next((x) => x.type === 'subscribed')).snapshot).toMatchObject({ id: auctionId, status: 'open' });
    const aliceSocket = await connect(api.node.url);
    aliceSocket.send({ type: 'auth', token: alice.token });
    await aliceSocket.next((x) => x.type === 'authenticated');

    const first = await bid(alice, auctionId, '10.00');
    expect(first.status, first.text).toBe(201);
    expect(first.body).toMatchObject({ me: { leading: true } });
    expect((await bid(bob, auctionId, '12.00')).status).toBe(201);
    // A refusal crosses from the engine with its code and fields, as in one process.
    const low = await bid(alice, auctionId, '11.00');
    expect(low.status).toBe(409);
    expect(low.body).toMatchObject({ code: 'BID_TOO_LOW', errors: [{ field: 'amount' }] });

    const price = await watcher.next((x) => x.type === 'event' && x.event.price === '12.00', 'the room event of the second bid');
    expect(price.event).toMatchObject({ type: 'PriceChanged', minimumNextBid: '12.50' });
    expect(JSON.stringify(await aliceSocket.next((x) => x.type === 'push' || x.type === 'outbid', 'the outbid push'))).toContain('12.00');
    // The api node's page of a running auction is the owner's live view, with the caller's standing.
    const page = await api.call('GET', `/api/auctions/${auctionId}`, { token: alice.token });
    expect(page.body.live).toMatchObject({ price: '12.00', bidCount: 2, minimumNextBid: '12.50' });
    expect(page.body.me).toMatchObject({ joined: true, leading: false });
    expect(page.body.nextBids).toEqual(['12.50', '13.00', '13.50']);
    // A subscriber resuming from a seq gets exactly what it missed, from the owner.
    const resumed = await connect(api.node.url);
    resumed.send({ type: 'subscribe', topic: `auction:${auctionId}`, fromSeq: price.seq - 1 });
    await resumed.next((x) => x.type === 'subscribed');
    expect((await resumed.next((x) => x.type === 'event' && x.seq === price.seq, 'the missed event')).event).toMatchObject({ price: '12.00' });
    resumed.close();
    watcher.close();
    aliceSocket.close();
  }, 60_000);

  it('the owning engine vanishes: the other takes the auction within the lease time, every acknowledged bid kept, and the sale ends on time with the right winner, paid once', async () => {
    const endsAtMs = Date.now() + 8_000;
    const created = await m.auction({ startsAt: new Date().toISOString(), endsAt: new Date(endsAtMs).toISOString(), softCloseSeconds: 0 });
    const auctionId = created.auction.id as string;
    await until('the auction to open', async () => ((await api.call('GET', `/api/auctions/${auctionId}`)).body.live.status === 'open' ? true : undefined));
    const alice = await joined(auctionId);
    const bob = await joined(auctionId);
    expect((await bid(alice, auctionId, '10.00')).status).toBe(201);
    expect((await bid(bob, auctionId, '15.00')).status).toBe(201);

    const [owner] = ownerOf(auctionId);
    const survivor = engines.find((e) => e !== owner)!;
    // Gone from the network without a word: no lease given back, no goodbye.
    await owner!.node.nats!.close();
    const vanishedAt = Date.now();

    // With the owner gone and nobody holding the auction yet, its page still answers, from storage.
    const during = await api.call('GET', `/api/auctions/${auctionId}`);
    expect(during.status).toBe(200);
    expect(during.body.live).toMatchObject({ price: '15.00' });

    const answers: number[] = [];
    let last: unknown;
    const accepted = await until('a bid accepted by the surviving engine', async () => {
      const res = await bid(alice, auctionId, '20.00');
      answers.push(res.status);
      last = res.body;
      // Meanwhile callers are told to retry (503); anything else is a failure to say at once.
      if (res.status !== 201 && res.status !== 503) throw new Error(`a bid during the failover got ${res.status} ${JSON.stringify(res.body)} ${Date.now() - vanishedAt} ms after the owner vanished`);
      return res.status === 201 ? res : undefined;
    }).catch((error: Error) => {
      throw new Error(`${error.message}; ${answers.length} answers, the last ${JSON.stringify(last)}; engines owning it now ${JSON.stringify(ownerOf(auctionId).map((e) => engines.indexOf(e)))} (the one that vanished: ${engines.indexOf(owner!)})`);
    });
    const failoverMs = Date.now() - vanishedAt;
    console.log(`[failover] next bid accepted ${failoverMs} ms after the owning engine vanished (lease ${LEASE_MS} ms)`);
    // Meanwhile callers were told to retry (503), never an error of ours.
    expect(new Set(answers.slice(0, -1))).toEqual(new Set(answers.length > 1 ? [503] : []));
    expect(accepted.body).toMatchObject({ me: { leading: true } });
    expect(ownerOf(auctionId)).toEqual([survivor]);

    // The survivor's timer closes the sale at its scheduled end.
    const page = await until(
      'the sale to end and settle',
      async () => {
        const res = await api.call('GET', `/api/auctions/${auctionId}`);
        return res.body.auction.status === 'closed' && res.body.auction.settled ? res.body : undefined;
      },
      30_000,
    );
    expect(page.auction).toMatchObject({ outcome: 'sold', currentPrice: '20.00' });
    expect(page.auction.closedAt ? Date.parse(page.auction.closedAt) : 0).toBeGreaterThanOrEqual(endsAtMs);
    expect(await m.wallet(alice)).toMatchObject({ posted: '980.00', held: '0.00' });
    expect(await m.wallet(bob)).toMatchObject({ posted: '1000.00', held: '0.00' });

    // One journal, one chain: the bids before and after the takeover, nothing twice.
    const admin = await api.adminToken();
    const full = await api.call('GET', `/api/auctions/${auctionId}/replay`, { token: admin });
    expect(full.status).toBe(200);
    const seqs = full.body.entries.map((e: { seq: number }) => e.seq);
    expect(seqs).toEqual(seqs.map((_: number, i: number) => i + 1));
    expect(verifyChain(full.body.entries).ok).toBe(true);
    expect(full.body.entries.filter((e: { type: string }) => e.type === 'BidAccepted')).toHaveLength(3);
    const check = await api.call('GET', '/api/ledger/check', { token: admin });
    expect(check.body).toMatchObject({ ok: true });
  }, 90_000);
});
