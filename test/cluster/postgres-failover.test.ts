// PostgreSQL with a synchronous streaming standby (docs/cluster.md): a Gavel node on a
// multi-host DATABASE_URL keeps taking writes after the primary is killed and the standby
// promoted, and loses nothing it acknowledged; reads that tolerate lag go to the replica.
// The test starts and throws away its own primary and standby (test/support/postgres-cluster.ts).
import { sql as kyselySql } from 'kysely';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMarket, type Market, type Person } from '../support/auctions.js';
import { startTestNode, type Answer, type TestNode } from '../support/gavel.js';
import { POSTGRES_CLUSTER_AVAILABLE, PostgresCluster, STANDBY_NAME } from '../support/postgres-cluster.js';

const SLOW = { timeout: 120_000 };
/** Registrations acknowledged before the primary is killed, at the least. */
const ACKED_BEFORE_KILL = 12;
/** How long writes may take to come back once the standby is promoted. */
const RESUME_WITHIN_MS = 20_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function expectUnavailable(res: Answer): void {
  expect(res.status, res.text).toBe(503);
  expect(String(res.headers['content-type'])).toMatch(/^application\/problem\+json/);
  expect(res.body.code).toBe('STORAGE_UNAVAILABLE');
}

/** Polls `attempt` until it answers `status`, for at most `withinMs`; every other answer is kept. */
async function until(status: number, withinMs: number, attempt: () => Promise<Answer>): Promise<{ answer: Answer; others: Answer[] }> {
  const others: Answer[] = [];
  const deadline = Date.now() + withinMs;
  for (;;) {
    const answer = await attempt();
    if (answer.status === status) return { answer, others };
    others.push(answer);
    if (Date.now() > deadline) throw new Error(`no ${status} within ${withinMs} ms; last answer ${answer.status} ${answer.text}`);
    await sleep(100);
  }
}

(POSTGRES_CLUSTER_AVAILABLE ? describe : describe.skip)('PostgreSQL primary with a synchronous standby', () => {
  let cluster: PostgresCluster;
  let t: TestNode;
  let market: Market;
  let run = 0;

  beforeAll(async () => {
    cluster = await PostgresCluster.start();
    // The scratch store gives the node its data dir only; the database is the cluster's.
    t = await startTestNode('sqlite', { databaseUrl: cluster.url, databaseReplicaUrls: [cluster.standby.url(cluster.database)] });
    market = await openMarket(t);
  }, 120_000);

  afterAll(async () => {
    await t?.close().catch(() => {});
    await cluster?.stop();
  }, 60_000);

  const sql = (server: 'primary' | 'standby') => postgres(cluster[server].url(cluster.database), { max: 1, onnotice: () => {}, types: { bigint: postgres.BigInt } });

  const register = (tag: string) => {
    const email = `failover-${tag}-${++run}@gavel.test`;
    return t.call('POST', '/api/auth/register', { json: { name: 'Failover Person', email, password: `password-${run}-long` } });
  };

  const bid = (who: Person, auctionId: string, amount: string, key: string) =>
    t.call('POST', `/api/auctions/${auctionId}/bids`, { token: who.token, json: { amount, currency: 'USD' }, headers: { 'idempotency-key': key } });

  it('acknowledges a commit only once the standby has it on disk', async () => {
    const primary = sql('primary');
    try {
      const [replication] = await primary<{ sync_state: string }[]>`select sync_state from pg_stat_replication where application_name = ${STANDBY_NAME}`;
      expect(replication?.sync_state).toBe('sync');
      const [setting] = await primary<{ synchronous_commit: string }[]>`show synchronous_commit`;
      expect(setting?.synchronous_commit).toBe('on');
    } finally {
      await primary.end({ timeout: 1 });
    }
  });

  it('serves auction search and the shop window from the replica, which may lag; a seller sees their own listings at once', SLOW, async () => {
    const standby = sql('standby');
    const word = `Replicaword${process.pid}`;
    try {
      // A standby that stops replaying lags as far as we like; synchronous_commit = on waits
      // for the standby's flush, not its replay, so commits still go through.
      await standby`select pg_wal_replay_pause()`;
      const lotId = await market.lot(market.seller, `${word} vase`);
      const auction = await market.auction({ lotId, startsAt: new Date(Date.now() + 3_600_000).toISOString(), endsAt: new Date(Date.now() + 7_200_000).toISOString() });
      const product = await t.call('POST', '/api/products', {
        token: market.seller.token,
        json: { title: `${word} teapot`, description: 'Porcelain', categoryId: market.categoryId, price: '25.00', currency: 'USD', stock: 3 },
      });
      expect(product.status, product.text).toBe(201);

      const search = await t.call('GET', `/api/auctions?q=${word}`);
      expect(search.status, search.text).toBe(200);
      expect(search.body.items).toEqual([]); // not on the replica yet
      const shop = await t.call('GET', `/api/products?categoryId=${market.categoryId}`);
      expect(shop.status, shop.text).toBe(200);
      expect(shop.body.items.map((p: { id: string }) => p.id)).not.toContain(product.body.id);

      const mine = await t.call('GET', `/api/auctions?sellerId=me&q=${word}`, { token: market.seller.token });
      expect(mine.body.items.map((a: { id: string }) => a.id)).toEqual([auction.auction.id]);
      const myShop = await t.call('GET', '/api/products?sellerId=me', { token: market.seller.token });
      expect(myShop.body.items.map((p: { id: string }) => p.id)).toContain(product.body.id);
      expect((await t.call('GET', `/api/auctions/${auction.auction.id}`)).status).toBe(200); // one auction: from the primary

      await standby`select pg_wal_replay_resume()`;
      const caughtUp = await until(200, 10_000, async () => {
        const res = await t.call('GET', `/api/auctions?q=${word}`);
        return res.body.items.length === 1 ? res : { ...res, status: 0 };
      });
      expect(caughtUp.answer.body.items[0].id).toBe(auction.auction.id);
    } finally {
      await standby`select pg_wal_replay_resume()`.catch(() => {});
      await standby.end({ timeout: 1 });
    }
  });

  // Last: it leaves the cluster with one server, the promoted standby.
  it('fails over: with the primary killed and the standby promoted, the same node takes writes again and has lost nothing it acknowledged', SLOW, async () => {
    const created = await market.auction({ startsAt: new Date().toISOString(), endsAt: new Date(Date.now() + 3_600_000).toISOString() });
    await t.node.auctions.engine.fireDueTimers();
    const auction = created.auction as { id: string };
    const bidders = [await market.bidder(), await market.bidder()];
    for (const bidder of bidders) expect((await t.call('POST', `/api/auctions/${auction.id}/join`, { token: bidder.token })).status).toBe(200);
    const ackedBids: string[] = [];
    for (const [i, amount] of ['10.00', '12.00', '14.00', '16.00'].entries()) {
      const res = await bid(bidders[i % 2]!, auction.id, amount, `before-${i}`);
      expect(res.status, res.text).toBe(201);
      ackedBids.push(res.body.bidId);
    }

    // A stream of writes runs while the primary dies: each is either acknowledged (and must
    // survive) or answered 503 (its outcome unknown to the caller).
    const ackedUsers: string[] = [];
    const refused: Answer[] = [];
    let writing = true;
    const writer = (async () => {
      while (writing) {
        const res = await register('stream');
        if (res.status === 201) ackedUsers.push(res.body.id);
        else {
          refused.push(res);
          await sleep(20);
        }
      }
    })();
    // And, deterministically, work in flight on the node's own connections at the kill: a
    // statement running, and a transaction between two statements. Neither may go on elsewhere.
    let primaryKilled!: () => void;
    const killed = new Promise<void>((resolve) => (primaryKilled = resolve));
    const db = t.node.database.kysely;
    const midStatement = kyselySql`select pg_sleep(30)`.execute(db).then(() => 'finished', (error: { code?: string }) => error.code);
    const midTransaction = db
      .transaction()
      .execute(async (tx) => {
        await kyselySql`select 1`.execute(tx);
        await killed;
        await kyselySql`select 2`.execute(tx);
      })
      .then(() => 'committed', (error: { code?: string }) => error.code);
    let resumed: Awaited<ReturnType<typeof until>>;
    try {
      while (ackedUsers.length < ACKED_BEFORE_KILL) await sleep(20);

      await cluster.primary.kill();
      primaryKilled();
      expect(await midStatement).toBe('STORAGE_UNAVAILABLE');
      expect(await midTransaction).toBe('STORAGE_UNAVAILABLE');
      const ackedBeforeKill = ackedUsers.length;
      // Without a primary, nothing is acknowledged; every write is a 503 problem, not a hang or a 500.
      expectUnavailable(await register('outage'));
      expectUnavailable(await bid(bidders[0]!, auction.id, '30.00', 'during-outage'));
      expect((await t.call('GET', '/ready')).status).toBe(503);
      expect(ackedUsers.length - ackedBeforeKill).toBeLessThanOrEqual(1); // at most the one in flight at the kill

      await cluster.standby.promote();
      resumed = await until(201, RESUME_WITHIN_MS, () => register('after'));
    } finally {
      writing = false;
      await writer;
    }
    for (const res of [...refused, ...resumed.others]) expectUnavailable(res);
    ackedUsers.push(resumed.answer.body.id);

    // Bidding goes on from the last acknowledged bid (16.00), not from the one refused in the outage.
    const after = await bid(bidders[0]!, auction.id, '18.00', 'after-failover');
    expect(after.status, after.text).toBe(201);
    ackedBids.push(after.body.bidId);
    expect((await t.call('GET', '/ready')).status).toBe(200);

    // Everything acknowledged is on the promoted standby.
    const promoted = sql('standby');
    try {
      const [recovery] = await promoted<{ in_recovery: boolean }[]>`select pg_is_in_recovery() as in_recovery`;
      expect(recovery?.in_recovery).toBe(false);
      const users = await promoted<{ id: string }[]>`select id from accounts_users where id in ${promoted(ackedUsers)}`;
      expect(users.map((u) => u.id).sort()).toEqual([...ackedUsers].sort());
      const journal = await promoted<{ payload: string }[]>`select payload from auctions_journal where auction_id = ${auction.id} and type = 'BidAccepted'`;
      const journaledBids = journal.map((row) => (JSON.parse(row.payload) as { bidId: string }).bidId);
      expect(journaledBids).toEqual(expect.arrayContaining(ackedBids));
    } finally {
      await promoted.end({ timeout: 1 });
    }
  });
});
