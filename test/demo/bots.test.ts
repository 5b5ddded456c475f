// Demo bots, in-process on a seeded node with a fast pace: they bid and trade through the
// services (the room and the book move, as the API shows), stop when told, and leave the
// ledger balanced. Without demo data they do not start.
import { afterEach, describe, expect, it } from 'vitest';
import { startGavel, type GavelNode } from '../../src/gavel.js';
import { loadConfig, type Config } from '../../src/platform/config.js';
import { DEMO_SYMBOL, demoAccount } from '../../src/demo/data.js';
import { seedDemo } from '../../src/demo/seed.js';
import { BOT_OPEN_ORDERS_MAX, DemoBots, type BotTiming } from '../../src/demo/bots.js';
import { createLogger } from '../../src/platform/logging.js';
import { scratchStorage, type ScratchStorage } from '../support/databases.js';

const SLOW = { timeout: 120_000 };
const FAST: BotTiming = { first: { minMs: 10, maxMs: 30 }, bidder: { minMs: 40, maxMs: 120 }, trader: { minMs: 20, maxMs: 60 } };
const logger = createLogger('silent');

const started: Array<{ node: GavelNode; storage: ScratchStorage; bots?: DemoBots }> = [];
afterEach(async () => {
  for (const s of started.splice(0)) {
    await s.bots?.stop();
    await s.node.stop().catch(() => {});
    await s.storage.drop();
  }
});

async function freshNode() {
  const storage = await scratchStorage('sqlite');
  const config: Config = { ...loadConfig({}, {}), dataDir: storage.dataDir, logLevel: 'silent' };
  const s: { node: GavelNode; storage: ScratchStorage; bots?: DemoBots } = { node: await startGavel(config, { listen: false }), storage };
  started.push(s);
  return s;
}

async function get(node: GavelNode, url: string, token?: string): Promise<any> {
  const res = await node.http.inject({ method: 'GET', url, ...(token && { headers: { authorization: `Bearer ${token}` } }) });
  expect(res.statusCode, res.body).toBe(200);
  return JSON.parse(res.body);
}

async function login(node: GavelNode, handle: string): Promise<string> {
  const a = demoAccount(handle);
  const res = await node.http.inject({ method: 'POST', url: '/api/auth/login', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ email: a.email, password: a.password }) });
  return JSON.parse(res.body).token as string;
}

/** Visible bids across the open auctions, and the book's sequence number. */
async function activity(node: GavelNode): Promise<{ bids: number; bookSeq: number }> {
  const open = (await get(node, '/api/auctions?status=open&limit=100')).items as Array<{ bidCount: number }>;
  const depth = await get(node, `/api/exchange/instruments/${DEMO_SYMBOL}/depth`);
  return { bids: open.reduce((sum, a) => sum + a.bidCount, 0), bookSeq: depth.seq as number };
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('demo bots', SLOW, () => {
  it('bid on open auctions and trade on the demo instrument as their own accounts, then stop when told; the ledger stays balanced', async () => {
    const s = await freshNode();
    expect((await seedDemo(s.node)).seeded).toBe(true);
    const before = await activity(s.node);

    const start = await DemoBots.start(s.node, { logger, timing: FAST });
    expect(start.started).toBe(true);
    if (!start.started) return;
    s.bots = start.bots;
    await until('bot bids and orders', async () => {
      const now = await activity(s.node);
      return now.bids >= before.bids + 2 && now.bookSeq >= before.bookSeq + 4;
    });

    // The bots' own accounts did it: the bidding bots joined open auctions, the trading bots have orders.
    const open = (await get(s.node, '/api/auctions?status=open&limit=100')).items as Array<{ id: string }>;
    let botSeats = 0;
    for (const handle of ['bidbot1', 'bidbot2']) {
      const token = await login(s.node, handle);
      for (const a of open) if ((await get(s.node, `/api/auctions/${a.id}`, token)).me.joined) botSeats += 1;
    }
    expect(botSeats).toBeGreaterThan(0);
    const tradebotOrders = (await get(s.node, `/api/exchange/orders?symbol=${DEMO_SYMBOL}&limit=100`, await login(s.node, 'tradebot1'))).items as any[];
    const tradebot2Orders = (await get(s.node, `/api/exchange/orders?symbol=${DEMO_SYMBOL}&limit=100`, await login(s.node, 'tradebot2'))).items as any[];
    expect(tradebotOrders.length + tradebot2Orders.length).toBeGreaterThan(0);
    const stats = s.bots.stats();
    expect(stats.bids).toBeGreaterThanOrEqual(2);
    expect(stats.orders).toBeGreaterThanOrEqual(2);
    expect(stats.failures).toBe(0);

    await s.bots.stop();
    const stopped = s.bots.stats();
    const after = await activity(s.node);
    // Many bot periods later: nothing more happened.
    await new Promise((r) => setTimeout(r, 600));
    expect(s.bots.stats()).toEqual(stopped);
    expect(await activity(s.node)).toEqual(after);

    // Each trading bot keeps a bounded number of orders resting.
    for (const orders of [tradebotOrders, tradebot2Orders]) expect(orders.filter((o) => o.status === 'open').length).toBeLessThanOrEqual(BOT_OPEN_ORDERS_MAX + 1);

    const check = await get(s.node, '/api/ledger/check', await login(s.node, 'admin'));
    expect(check.ok, JSON.stringify(check.violations)).toBe(true);
  });

  it('do not start on a database without the demo accounts', async () => {
    const s = await freshNode();
    const start = await DemoBots.start(s.node, { logger, timing: FAST });
    expect(start.started).toBe(false);
    if (!start.started) expect(start.reason).toContain('cannot sign in');
  });
});
