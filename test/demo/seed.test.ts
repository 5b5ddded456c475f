// Demo data, seeded in-process into a fresh node, then looked at through the HTTP API as a
// newcomer would: every account signs in, the catalog, auctions, wallets and the exchange book
// are there, and the ledger checks clean. A second seed does nothing.
import { afterEach, describe, expect, it } from 'vitest';
import { startGavel, type GavelNode } from '../../src/gavel.js';
import { loadConfig, type Config } from '../../src/platform/config.js';
import { DEMO_ACCOUNTS, DEMO_CATEGORIES, DEMO_LOTS, DEMO_SYMBOL, demoAccount } from '../../src/demo/data.js';
import { seedDemo } from '../../src/demo/seed.js';
import { DIALECTS, scratchStorage, type ScratchStorage } from '../support/databases.js';

const SLOW = { timeout: 120_000 };

interface Started {
  node: GavelNode;
  storage: ScratchStorage;
}
const started: Started[] = [];

afterEach(async () => {
  for (const s of started.splice(0)) {
    await s.node.stop().catch(() => {});
    await s.storage.drop();
  }
});

async function freshNode(dialect: (typeof DIALECTS)[number], overrides: Partial<Config> = {}): Promise<Started> {
  const storage = await scratchStorage(dialect);
  const config: Config = { ...loadConfig({}, {}), dataDir: storage.dataDir, databaseUrl: storage.databaseUrl, logLevel: 'silent', ...overrides };
  const node = await startGavel(config, { listen: false });
  const s = { node, storage };
  started.push(s);
  return s;
}

async function call(node: GavelNode, method: 'GET' | 'POST', url: string, options: { token?: string; json?: unknown } = {}) {
  const res = await node.http.inject({
    method,
    url,
    headers: { ...(options.token && { authorization: `Bearer ${options.token}` }), ...(options.json !== undefined && { 'content-type': 'application/json' }) },
    ...(options.json !== undefined && { payload: JSON.stringify(options.json) }),
  });
  return { status: res.statusCode, body: res.body ? (JSON.parse(res.body) as any) : undefined, text: res.body };
}

async function login(node: GavelNode, handle: string): Promise<string> {
  const a = demoAccount(handle);
  const res = await call(node, 'POST', '/api/auth/login', { json: { email: a.email, password: a.password } });
  expect(res.status, `${a.email}: ${res.text}`).toBe(200);
  return res.body.token as string;
}

for (const dialect of DIALECTS) {
  describe(`demo data on ${dialect}`, SLOW, () => {
    it('gives a fresh node accounts that sign in, a category tree, open auctions with bids, a live sale, funded wallets and a two-sided book; the ledger checks clean', async () => {
      const { node } = await freshNode(dialect);
      const result = await seedDemo(node);
      expect(result.seeded).toBe(true);

      // Every account signs in with its documented password and has its roles.
      for (const a of DEMO_ACCOUNTS) {
        const token = await login(node, a.handle);
        const me = await call(node, 'GET', '/api/auth/me', { token });
        expect(me.status).toBe(200);
        expect([...me.body.roles].sort()).toEqual([...a.roles].sort());
      }
      const admin = await login(node, 'admin');
      expect((await call(node, 'GET', '/api/user/count', { token: admin })).body).toMatchObject({ count: DEMO_ACCOUNTS.length });

      // The category tree.
      const tree = await call(node, 'GET', '/api/categories');
      expect(tree.status).toBe(200);
      const text = JSON.stringify(tree.body);
      for (const top of DEMO_CATEGORIES) for (const name of [top.name, ...top.children]) expect(text).toContain(`"name":"${name}"`);

      // Running timed auctions, some with bids; scheduled ones; a live sale open, run by the auctioneer.
      const open = (await call(node, 'GET', '/api/auctions?status=open&limit=100')).body.items as any[];
      const scheduled = (await call(node, 'GET', '/api/auctions?status=scheduled&limit=100')).body.items as any[];
      expect(open.length + scheduled.length).toBe(DEMO_LOTS.length);
      expect(open.filter((a) => a.kind === 'timed' && a.bidCount > 0).length).toBeGreaterThanOrEqual(4);
      expect(scheduled.filter((a) => a.kind === 'timed').length).toBeGreaterThanOrEqual(2);
      const live = open.find((a) => a.kind === 'live');
      expect(live, 'an open live sale').toBeDefined();
      expect(live.bidCount).toBeGreaterThan(0);
      const auctioneer = await login(node, 'auctioneer');
      const asking = await call(node, 'POST', `/api/auctions/${live.id}/console`, { token: auctioneer, json: { action: 'fair-warning' } });
      expect(asking.status, asking.text).toBeLessThan(300);
      for (const a of open.filter((x) => x.kind === 'timed')) expect(Date.parse(a.endsAt)).toBeGreaterThan(Date.now());

      // Lots have a picture that the catalog serves.
      const page = await call(node, 'GET', `/api/auctions/${open[0].id}`);
      const imageUrl = page.body.lot.imageUrls[0] as string;
      expect(imageUrl).toBeDefined();
      const image = await node.http.inject({ method: 'GET', url: imageUrl });
      expect(image.statusCode).toBe(200);
      expect(image.headers['content-type']).toBe('image/png');

      // Wallets: bidders and traders in USD and EUR, traders with ACME; what bids hold is held.
      for (const handle of ['alice', 'bob', 'carol', 'tara', 'tom']) {
        const wallets = (await call(node, 'GET', '/api/wallets', { token: await login(node, handle) })).body.items as any[];
        const usd = wallets.find((w) => w.currency === 'USD');
        const eur = wallets.find((w) => w.currency === 'EUR');
        expect(Number(usd.posted), handle).toBeGreaterThanOrEqual(10_000);
        expect(Number(eur.posted), handle).toBeGreaterThanOrEqual(5_000);
        if (handle.startsWith('t')) expect(Number(wallets.find((w) => w.currency === 'ACME').posted)).toBeGreaterThan(0);
      }
      const aliceUsd = (await call(node, 'GET', '/api/wallets/USD', { token: await login(node, 'alice') })).body;
      expect(Number(aliceUsd.held)).toBeGreaterThan(0);

      // The top-ups went through the sandbox provider: alice's statement shows them.
      const statement = (await call(node, 'GET', '/api/wallets/EUR/transfers', { token: await login(node, 'alice') })).body.items as any[];
      expect(statement.some((t) => t.direction === 'in' && t.amount === '5000.00' && String(t.owner).startsWith('topup'))).toBe(true);

      // The exchange: a trade at 100.00 and four levels a side.
      const depth = (await call(node, 'GET', `/api/exchange/instruments/${DEMO_SYMBOL}/depth`)).body;
      expect(depth.bids).toHaveLength(4);
      expect(depth.asks).toHaveLength(4);
      expect(depth.bids.map((l: any[]) => l[0])).toEqual(['99.50', '99.00', '98.50', '98.00']);
      expect(depth.asks.map((l: any[]) => l[0])).toEqual(['100.50', '101.00', '101.50', '102.00']);
      const trades = (await call(node, 'GET', `/api/exchange/instruments/${DEMO_SYMBOL}/trades`)).body.items as any[];
      expect(trades.length).toBeGreaterThanOrEqual(1);

      const check = await call(node, 'GET', '/api/ledger/check', { token: admin });
      expect(check.body.ok, JSON.stringify(check.body.violations)).toBe(true);
      expect(result.seeded && result.ledgerViolations).toBe(0);
    });

    it('does not seed a database that has users, and seeds one whose only user is the bootstrap admin', async () => {
      const bootstrap = { adminEmail: 'root@gavel.test', adminPassword: 'root-password-1' };
      const { node } = await freshNode(dialect, bootstrap);
      const first = await seedDemo(node, { bootstrapAdminEmail: bootstrap.adminEmail });
      expect(first.seeded).toBe(true);
      const again = await seedDemo(node, { bootstrapAdminEmail: bootstrap.adminEmail });
      expect(again).toEqual({ seeded: false, reason: 'the database has users already' });
      const admin = await login(node, 'admin');
      expect((await call(node, 'GET', '/api/user/count', { token: admin })).body.count).toBe(DEMO_ACCOUNTS.length + 1);
      expect((await call(node, 'GET', '/api/auctions?status=open,scheduled&limit=100')).body.items).toHaveLength(DEMO_LOTS.length);
    });
  });
}

describe('demo data on a used database', SLOW, () => {
  it('is not seeded when someone has registered', async () => {
    const { node } = await freshNode('sqlite');
    const reg = await call(node, 'POST', '/api/auth/register', { json: { name: 'First Person', email: 'first@gavel.test', password: 'first-password-1' } });
    expect(reg.status).toBe(201);
    expect(await seedDemo(node)).toEqual({ seeded: false, reason: 'the database has users already' });
    expect((await call(node, 'GET', '/api/categories')).body).toMatchObject({ items: [] });
  });
});
