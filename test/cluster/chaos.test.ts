// A Gavel cluster under faults (issue 8, point 5): three NATS servers in a JetStream cluster,
// PostgreSQL, and five `gavel` processes — two api, two engine, one worker — all started here on
// loopback and stopped at the end. Under steady bidding and trading through both api nodes: an
// engine is killed with SIGKILL, a NATS server is killed, an api node is restarted. Afterwards
// every acknowledged bid is in its auction's journal and every acknowledged order is stored,
// every auction closed once with the right winner and was paid once, the order book matches its
// journal and holds nothing it should not, the ledger balances, and every webhook notification
// arrived once.
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { verifyChain } from '../../src/platform/journal/hash-chain.js';
import { DIALECTS, scratchStorage, type ScratchStorage } from '../support/databases.js';
import { GavelProcess, killChildren, request, type Answer } from '../support/process.js';
import { NATS_CLUSTER_AVAILABLE, startNatsCluster, type NatsCluster } from '../support/nats-cluster.js';

const LEASE_MS = 2_000;
const AUCTIONS = 4;
const BIDDERS = 5;
const TRADERS = 3;
const SYMBOL = 'EUR-USD';
const BIDDING_MS = 20_000;
const ADMIN = { email: 'admin@chaos.test', password: 'admin-password-1' };

interface Person {
  id: string;
  token: string;
}

/** A port nothing listens on now, so a restarted node comes back where clients expect it. */
async function sparePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe.skipIf(!NATS_CLUSTER_AVAILABLE || !DIALECTS.includes('postgres'))('a Gavel cluster under faults (3 NATS servers, PostgreSQL, 2 api, 2 engine, 1 worker)', () => {
  let nats: NatsCluster;
  let storage: ScratchStorage;
  let receiver: Server;
  let receiverUrl: string;
  /** Webhook deliveries received: delivery id → how many times. */
  const received = new Map<string, number>();
  const nodes: Record<string, { process: GavelProcess; port: number; role: string }> = {};

  const env = (role: string, port: number) => ({
    DATABASE_URL: storage.databaseUrl,
    NATS_URL: nats.url,
    GAVEL_NATS_REPLICAS: '3',
    GAVEL_MARKET_LEASE_MS: String(LEASE_MS),
    GAVEL_ROLE: role,
    GAVEL_PORT: String(port),
    GAVEL_HOST: '127.0.0.1',
    GAVEL_DATA_DIR: `${storage.dataDir}/${role}-${port}`,
    GAVEL_ADMIN_EMAIL: ADMIN.email,
    GAVEL_ADMIN_PASSWORD: ADMIN.password,
    GAVEL_WEBHOOK_ALLOW_PRIVATE: '1',
    GAVEL_LOG_LEVEL: 'info',
  });

  async function startNode(name: string, role: string, port?: number): Promise<void> {
    const p = port ?? (await sparePort());
    nodes[name] = { process: await GavelProcess.start([], { env: env(role, p), readyTimeoutMs: 60_000 }), port: p, role };
  }

  beforeAll(async () => {
    nats = await startNatsCluster({ nodes: 3 });
    storage = await scratchStorage('postgres');
    receiver = createServer((req, res) => {
      const id = String(req.headers['gavel-delivery-id'] ?? '');
      req.resume();
      req.on('end', () => {
        if (id) received.set(id, (received.get(id) ?? 0) + 1);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
    // The first node creates the schema; the rest start together.
    await startNode('engine1', 'engine');
    await Promise.all([startNode('engine2', 'engine'), startNode('api1', 'api'), startNode('api2', 'api'), startNode('worker', 'worker')]);
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled(Object.values(nodes).map((n) => (n.process.child.exitCode === null && n.process.child.signalCode === null ? n.process.stop('SIGTERM', 20_000) : undefined)));
    await killChildren();
    await nats?.stop();
    await new Promise((resolve) => receiver?.close(resolve));
    await storage?.drop();
  }, 120_000);

  const apis = () => [nodes.api1!, nodes.api2!].map((n) => `http://127.0.0.1:${n.port}`);
  let turn = 0;
  /** A request to one api node after the other; a node that is down answers status 0. */
  async function api(method: string, path: string, options: { json?: unknown; token?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
    const base = apis()[turn++ % 2]!;
    return request(base, method, path, { ...options, timeoutMs: 15_000 }).catch((error: Error) => ({ status: 0, headers: {}, body: undefined, text: error.message }));
  }
  /** Retries a request (same Idempotency-Key) while the cluster says "not now": 503 or a node down. */
  let retried = 0;
  async function settled(method: string, path: string, options: { json?: unknown; token?: string; key?: string } = {}, untilMs = Date.now() + 30_000): Promise<Answer> {
    const headers = options.key ? { 'idempotency-key': options.key } : undefined;
    for (;;) {
      const res = await api(method, path, { ...options, ...(headers && { headers }) });
      // A 500 is a bug wherever it happens: print what the nodes logged as errors, to find it.
      if (res.status === 500) {
        console.log(`[chaos] ${method} ${path} answered 500: ${res.text}`);
        for (const [name, n] of Object.entries(nodes)) for (const line of n.process.logs()) if (line.level >= 50) console.log(`[chaos] ${name} logged: ${JSON.stringify(line).slice(0, 2000)}`);
      }
      if ((res.status !== 503 && res.status !== 0) || Date.now() > untilMs) return res;
      retried++;
      await sleep(100);
    }
  }

  async function person(name: string, roles: string[]): Promise<Person> {
    const email = `${name}.${randomBytes(3).toString('hex')}@chaos.test`;
    const password = `password-${name}-long`;
    const reg = await settled('POST', '/api/auth/register', { json: { name, email, password, roles } });
    expect(reg.status, reg.text).toBe(201);
    const login = await settled('POST', '/api/auth/login', { json: { email, password } });
    expect(login.status, login.text).toBe(200);
    return { id: reg.body.id, token: login.body.token };
  }

  /** Tops up a wallet through the sandbox provider, as a person would. */
  async function topUp(who: Person, currency: string, amount: string, key: string): Promise<void> {
    const topup = await settled('POST', `/api/wallets/${currency}/topups`, { token: who.token, key, json: { amount } });
    expect(topup.status, topup.text).toBe(201);
    const approved = await request(apis()[0]!, 'POST', `${topup.body.redirectUrl}/approve`, { headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(approved.status, approved.text).toBe(303);
  }

  it('keeps every acknowledged bid and order, closes every auction once with the right winner, pays once and notifies once', async () => {
    const adminLogin = await settled('POST', '/api/auth/login', { json: ADMIN });
    const admin = adminLogin.body.token as string;
    const category = await settled('POST', '/api/categories', { token: admin, json: { name: 'Chaos' } });
    expect(category.status, category.text).toBe(201);
    const seller = await person('seller', ['seller']);
    const endsAtMs = Date.now() + 15_000 + BIDDING_MS;
    const auctionIds: string[] = [];
    for (let i = 0; i < AUCTIONS; i++) {
      const lot = await settled('POST', '/api/lots', { token: seller.token, json: { title: `Lot ${i}`, description: 'chaos', categoryId: category.body.id, condition: 'used_good' } });
      expect(lot.status, lot.text).toBe(201);
      const auction = await settled('POST', '/api/auctions', {
        token: seller.token,
        key: `auction-${i}`,
        json: { lotId: lot.body.lot?.id ?? lot.body.id, currency: 'USD', startingPrice: '1.00', kind: 'timed', startsAt: new Date().toISOString(), endsAt: new Date(endsAtMs).toISOString(), softCloseSeconds: 0 },
      });
      expect(auction.status, auction.text).toBe(201);
      auctionIds.push(auction.body.auction.id);
    }
    const bidders: Person[] = [];
    for (let i = 0; i < BIDDERS; i++) {
      const bidder = await person(`bidder${i}`, ['bidder']);
      await topUp(bidder, 'USD', '1000.00', `topup-${i}`);
      const hook = await settled('POST', '/api/notifications/webhooks', { token: bidder.token, json: { url: receiverUrl, description: 'chaos' } });
      expect(hook.status, hook.text).toBe(201);
      for (const auctionId of auctionIds) expect((await settled('POST', `/api/auctions/${auctionId}/join`, { token: bidder.token })).status).toBe(200);
      bidders.push(bidder);
    }

    // Traders of EUR-USD (a tick of 0.01 USD, a lot of 1 EUR), apart from the bidders.
    const listed = await settled('POST', '/api/exchange/instruments', { token: admin, json: { base: 'EUR', quote: 'USD', tickSize: '0.01', lotSize: '1', maxQuantity: '1000', makerFeeBps: 10, takerFeeBps: 20 } });
    expect(listed.status, listed.text).toBe(201);
    const traders: Person[] = [];
    for (let i = 0; i < TRADERS; i++) {
      const trader = await person(`trader${i}`, ['bidder']);
      await topUp(trader, 'USD', '5000.00', `trader-usd-${i}`);
      await topUp(trader, 'EUR', '5000.00', `trader-eur-${i}`);
      traders.push(trader);
    }

    // --- bidding and trading, with faults along the way ----------------------------------------
    const acknowledged: Array<{ auctionId: string; bidderId: string; bidId: string; amount: number }> = [];
    const answers = new Map<number, number>();
    const biddingEnds = Math.min(endsAtMs - 3_000, Date.now() + BIDDING_MS);
    const bidding = bidders.map(async (bidder, b) => {
      let n = 0;
      while (Date.now() < biddingEnds) {
        const auctionId = auctionIds[(b + n) % AUCTIONS]!;
        const page = await api('GET', `/api/auctions/${auctionId}`, { token: bidder.token });
        if (page.status === 200 && !page.body.me?.leading && page.body.live.minimumNextBid) {
          const amount = page.body.live.minimumNextBid as string;
          const res = await settled('POST', `/api/auctions/${auctionId}/bids`, { token: bidder.token, key: `bid-${b}-${n}`, json: { amount, currency: 'USD' } }, biddingEnds);
          answers.set(res.status, (answers.get(res.status) ?? 0) + 1);
          if (res.status === 201) acknowledged.push({ auctionId, bidderId: bidder.id, bidId: res.body.bidId, amount: Number(amount) });
        }
        n++;
        await sleep(50 + Math.random() * 150);
      }
    });

    const orders: Array<{ trader: Person; orderId: string; clientOrderId: string }> = [];
    const trading = traders.map(async (trader, t) => {
      let n = 0;
      while (Date.now() < biddingEnds) {
        const side = (t + n) % 2 === 0 ? 'buy' : 'sell';
        // Around 1.10, so buys and sells cross often and some rest.
        const price = (1.1 + (side === 'buy' ? 1 : -1) * ((n * 7 + t * 3) % 5) * 0.01 - (side === 'buy' ? 0.02 : -0.02)).toFixed(2);
        const clientOrderId = `chaos-${t}-${n}`;
        const res = await settled('POST', '/api/exchange/orders', { token: trader.token, key: clientOrderId, json: { symbol: SYMBOL, side, type: 'limit', quantity: String(1 + ((n + t) % 3)), price, clientOrderId } }, biddingEnds);
        answers.set(res.status, (answers.get(res.status) ?? 0) + 1);
        if (res.status === 201 || res.status === 200) orders.push({ trader, orderId: res.body.order.id, clientOrderId });
        n++;
        await sleep(100 + Math.random() * 200);
      }
    });

    const faults = (async () => {
      await sleep(4_000);
      // The engine holding the most auctions dies without a word.
      const held = (name: string) => nodes[name]!.process.logs().filter((l) => l.msg === 'market lease acquired' && auctionIds.some((id) => l.key === `auction.${id}`)).length;
      const victim = held('engine1') >= held('engine2') ? 'engine1' : 'engine2';
      nodes[victim]!.process.signal('SIGKILL');
      await nodes[victim]!.process.waitForExit();
      await sleep(4_000);
      await nats.kill(1);
      await sleep(4_000);
      // An api node restarts (a deploy): SIGTERM, then back on the same port.
      const { port } = nodes.api2!;
      await nodes.api2!.process.stop('SIGTERM', 20_000);
      await startNode('api2', 'api', port);
      await nats.restart(1);
      return victim;
    })();

    await Promise.all([...bidding, ...trading]);
    const victim = await faults;
    expect(acknowledged.length).toBeGreaterThan(20);
    expect(orders.length).toBeGreaterThan(20);
    // Refusals happen (someone else bid first); nothing is ever a server error.
    for (const status of answers.keys()) expect([200, 201, 409, 422, 503, 0], `answers: ${JSON.stringify([...answers])}`).toContain(status);

    // --- afterwards ---------------------------------------------------------------------------
    const pages = new Map<string, any>();
    for (const auctionId of auctionIds) {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const res = await api('GET', `/api/auctions/${auctionId}`);
        if (res.status === 200 && res.body.auction.settled) {
          pages.set(auctionId, res.body);
          break;
        }
        if (Date.now() > deadline) throw new Error(`auction ${auctionId} did not settle: ${res.text}`);
        await sleep(250);
      }
    }

    const won = new Map<string, number>();
    let sold = 0;
    for (const auctionId of auctionIds) {
      const replay = await settled('GET', `/api/auctions/${auctionId}/replay`, { token: admin });
      expect(replay.status).toBe(200);
      const entries = replay.body.entries as Array<{ seq: number; type: string; event: any }>;
      expect(verifyChain(replay.body.entries).ok).toBe(true);
      expect(entries.map((e) => e.seq)).toEqual(entries.map((_, i) => i + 1));
      const bids = entries.filter((e) => e.type === 'BidAccepted');
      const bidIds = new Set(bids.map((e) => e.event.bidId));
      // Every acknowledged bid is there, once.
      for (const ack of acknowledged.filter((a) => a.auctionId === auctionId)) expect(bidIds.has(ack.bidId), `bid ${ack.bidId} acknowledged on ${auctionId}`).toBe(true);
      expect(bidIds.size).toBe(bids.length);
      // Closed once, at the end, sold to the highest bid in the journal.
      const closed = entries.filter((e) => e.type === 'AuctionClosed');
      expect(closed).toHaveLength(1);
      const leader = bids.at(-1)!.event.leader.bidderId as string;
      const highestAck = Math.max(...acknowledged.filter((a) => a.auctionId === auctionId).map((a) => a.amount));
      expect(closed[0]!.event).toMatchObject({ outcome: 'sold', via: 'timer', winner: { bidderId: leader } });
      const price = Number(BigInt(closed[0]!.event.priceMinor)) / 100;
      expect(price).toBeGreaterThanOrEqual(highestAck);
      expect(pages.get(auctionId).auction).toMatchObject({ outcome: 'sold', currentPrice: price.toFixed(2) });
      expect(Date.parse(pages.get(auctionId).auction.closedAt)).toBeGreaterThanOrEqual(endsAtMs);
      won.set(leader, (won.get(leader) ?? 0) + Math.round(price * 100));
      sold += Math.round(price * 100);
    }

    // Paid once: each bidder's wallet lost exactly what they won, nothing stays held; the
    // seller got every price less the 5 % commission; the ledger balances.
    for (const bidder of bidders) {
      const wallets = await settled('GET', '/api/wallets', { token: bidder.token });
      const usd = (wallets.body.items as any[]).find((w) => w.currency === 'USD');
      expect(usd, bidder.id).toMatchObject({ posted: ((100_000 - (won.get(bidder.id) ?? 0)) / 100).toFixed(2), held: '0.00' });
    }
    const sellerWallets = await settled('GET', '/api/wallets', { token: seller.token });
    const commission = auctionIds.reduce((sum, id) => sum + Math.floor((Number(BigInt(pages.get(id).auction.currentPrice.replace('.', ''))) * 500) / 10_000), 0);
    expect((sellerWallets.body.items as any[]).find((w) => w.currency === 'USD')).toMatchObject({ posted: ((sold - commission) / 100).toFixed(2) });
    // Every acknowledged order is stored, once per client order id; the live book matches a
    // replay of its journal; after cancelling what rests, no trader has anything held.
    for (const o of orders) {
      const stored = await settled('GET', `/api/exchange/orders/${o.orderId}`, { token: o.trader.token });
      expect(stored.status, stored.text).toBe(200);
      expect(stored.body).toMatchObject({ id: o.orderId, symbol: SYMBOL });
    }
    expect(new Set(orders.map((o) => o.orderId)).size).toBe(orders.length);
    const verify = await settled('GET', `/api/exchange/instruments/${SYMBOL}/verify`, { token: admin });
    expect(verify.body, verify.text).toMatchObject({ match: true });
    const fills = await settled('GET', `/api/exchange/instruments/${SYMBOL}/trades`);
    expect(fills.status).toBe(200);
    for (const trader of traders) {
      expect((await settled('DELETE', '/api/exchange/orders', { token: trader.token })).status).toBe(200);
      const wallets = await settled('GET', '/api/wallets', { token: trader.token });
      for (const w of wallets.body.items as any[]) expect(w, `${trader.id} ${w.currency}`).toMatchObject({ held: '0.00' });
    }

    const check = await settled('GET', '/api/ledger/check', { token: admin });
    expect(check.body, check.text).toMatchObject({ ok: true });

    // Notified once: every webhook delivery the worker made arrived exactly once.
    const sql = postgres(storage.databaseUrl!, { max: 1, onnotice: () => {} });
    try {
      const deadline = Date.now() + 30_000;
      let jobs: Array<{ id: string; state: string }> = [];
      for (;;) {
        jobs = await sql<Array<{ id: string; state: string }>>`select id, state from notifications_jobs where channel = 'webhook'`;
        if (jobs.length > 0 && jobs.every((j) => j.state === 'delivered')) break;
        if (Date.now() > deadline) throw new Error(`webhook deliveries not finished: ${JSON.stringify(jobs.filter((j) => j.state !== 'delivered').slice(0, 5))}`);
        await sleep(250);
      }
      expect(new Set(received.keys())).toEqual(new Set(jobs.map((j) => j.id)));
      expect([...received.values()].every((n) => n === 1), JSON.stringify([...received].filter(([, n]) => n > 1))).toBe(true);
      // Each auction's end reached each of its bidders (won, lost): one settlement notice each.
      const kinds = await sql<Array<{ kind: string; n: string }>>`select kind, count(*) as n from notifications_jobs where channel = 'webhook' group by kind`;
      expect(kinds.length).toBeGreaterThan(0);
    } finally {
      await sql.end();
    }
    console.log(`[chaos] ${acknowledged.length} bids and ${orders.length} orders acknowledged, ${fills.body.items?.length ?? 0} recent trades; final answers ${JSON.stringify([...answers])}; ${retried} requests retried after a 503 or a node down; ${victim} killed; ${received.size} webhook deliveries, none twice`);
  }, 300_000);
});
