// `gavel start` and the demo, as a newcomer meets them: real child processes (from source)
// on scratch SQLite dirs. The first start seeds demo data and prints where to sign in; the
// second does not seed again; GAVEL_DEMO=0 and --no-demo start empty; --demo-bots makes the
// room move until shutdown stops the bots. Every wait is bounded; none is about speed.
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_ACCOUNTS, DEMO_LOTS, DEMO_SYMBOL } from '../../src/demo/data.js';
import { DIALECTS, scratchStorage, type ScratchStorage } from '../support/databases.js';
import { GavelProcess, killChildren, request, runCli, type Env, type LogLine } from '../support/process.js';

const SLOW = { timeout: 240_000 };
/** Seeding hashes a dozen passwords and confirms 18 top-ups: seconds on a busy 2-core machine. */
const SEED_TIMEOUT_MS = 120_000;
/** Starting from source compiles first; the machine may be busy with other work. */
const READY_MS = 90_000;
const ADMIN_ENV = { GAVEL_ADMIN_EMAIL: 'root@gavel.test', GAVEL_ADMIN_PASSWORD: 'root-password-1' } as const;

const storages: ScratchStorage[] = [];
afterEach(async () => {
  await killChildren();
  await Promise.all(storages.splice(0).map((s) => s.drop()));
});

async function scratchDir(): Promise<string> {
  const storage = await scratchStorage('sqlite');
  storages.push(storage);
  return storage.dataDir;
}

const local = (dataDir: string, ...more: string[]) => ['--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, ...more];
/** The test helpers give children GAVEL_DEMO=0; removing it leaves the default a person gets. */
const DEFAULT_DEMO = { GAVEL_DEMO: undefined };
const people = DEMO_ACCOUNTS.filter((a) => !a.part.startsWith('bot-'));

async function login(base: string, email: string, password: string): Promise<string> {
  const res = await request(base, 'POST', '/api/auth/login', { json: { email, password } });
  expect(res.status, `login ${email}: ${res.text}`).toBe(200);
  return res.body.token as string;
}

async function userCount(base: string, email: string, password: string): Promise<number> {
  const res = await request(base, 'GET', '/api/user/count', { token: await login(base, email, password) });
  expect(res.status, res.text).toBe(200);
  return res.body.count as number;
}

/** Visible bids across the open auctions, and the book's sequence number. */
async function activity(base: string): Promise<{ bids: number; bookSeq: number }> {
  const open = (await request(base, 'GET', '/api/auctions?status=open&limit=100')).body.items as Array<{ bidCount: number }>;
  const depth = (await request(base, 'GET', `/api/exchange/instruments/${DEMO_SYMBOL}/depth`)).body;
  return { bids: open.reduce((sum, a) => sum + a.bidCount, 0), bookSeq: depth.seq as number };
}

const msgs = (gavel: GavelProcess) => gavel.logs().map((l: LogLine) => l.msg);

describe('gavel start with demo data', SLOW, () => {
  it('seeds a fresh data dir once, prints the demo sign-ins, runs the bots with --demo-bots and stops them on SIGTERM', async () => {
    const dataDir = await scratchDir();
    const first = await GavelProcess.start(local(dataDir, '--demo-bots'), { env: DEFAULT_DEMO, readyTimeoutMs: READY_MS });
    const ready = await first.waitForLog((l) => l.msg.startsWith('demo data ready'), SEED_TIMEOUT_MS);
    // The start-up output names every person's account and password, and the address.
    for (const a of people) expect(ready.msg).toContain(`${a.email} / ${a.password}`);
    expect(ready.msg).toContain(`http://localhost:${first.port}`);
    expect(ready.ledgerViolations).toBe(0);

    for (const a of people) await login(first.base, a.email, a.password);
    const admin = people.find((a) => a.part === 'admin')!;
    expect(await userCount(first.base, admin.email, admin.password)).toBe(DEMO_ACCOUNTS.length);
    const open = (await request(first.base, 'GET', '/api/auctions?status=open&limit=100')).body.items as any[];
    expect(open.some((a) => a.kind === 'timed' && a.bidCount > 0)).toBe(true);
    expect(open.some((a) => a.kind === 'live')).toBe(true);

    // The bots make the room and the book move within a bounded wait.
    await first.waitForLog((l) => l.msg === 'demo bots started', 30_000);
    const before = await activity(first.base);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const now = await activity(first.base);
      if (now.bookSeq > before.bookSeq || now.bids > before.bids) break;
      if (Date.now() > deadline) throw new Error(`no bot activity within 60 s\n${first.describeOutput()}`);
      await new Promise((r) => setTimeout(r, 250));
    }

    const exit = await first.stop('SIGTERM');
    expect(exit, first.describeOutput()).toEqual({ code: 0, signal: null });
    const order = msgs(first);
    expect(order.indexOf('demo bots stopped')).toBeGreaterThan(order.findIndex((m) => m.startsWith('shutting down')));
    expect(order.indexOf('stopped')).toBeGreaterThan(order.indexOf('demo bots stopped'));
    const stoppedLine = first.logs().find((l) => l.msg === 'demo bots stopped')!;
    expect(Number(stoppedLine.orders) + Number(stoppedLine.bids)).toBeGreaterThan(0);
    expect(stoppedLine.failures).toBe(0);

    // The second start on the same dir finds users and seeds nothing.
    const second = await GavelProcess.start(local(dataDir), { env: DEFAULT_DEMO, readyTimeoutMs: READY_MS });
    const skipped = await second.waitForLog((l) => l.msg.startsWith('demo data: not seeded'), SEED_TIMEOUT_MS);
    expect(skipped.reason).toBe('the database has users already');
    expect(await userCount(second.base, admin.email, admin.password)).toBe(DEMO_ACCOUNTS.length);
    expect((await request(second.base, 'GET', '/api/auctions?status=open,scheduled,closed&limit=100')).body.items).toHaveLength(DEMO_LOTS.length);
    expect(msgs(second).some((m) => m.startsWith('demo data ready') || m === 'demo bots started')).toBe(false);
    expect(await second.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });

  it('starts empty with GAVEL_DEMO=0 or --no-demo (the flag wins over GAVEL_DEMO=1), and on a fresh PostgreSQL database unless asked; refuses a GAVEL_DEMO that is not a yes or no', async () => {
    const starts: Array<{ args: string[]; env: Env }> = [
      { args: local(await scratchDir()), env: { ...ADMIN_ENV, GAVEL_DEMO: '0' } },
      { args: local(await scratchDir(), '--no-demo'), env: { ...ADMIN_ENV, GAVEL_DEMO: '1' } },
    ];
    if (DIALECTS.includes('postgres')) {
      const pg = await scratchStorage('postgres');
      storages.push(pg);
      starts.push({ args: local(pg.dataDir), env: { ...ADMIN_ENV, ...DEFAULT_DEMO, DATABASE_URL: pg.databaseUrl } });
    }
    for (const start of starts) {
      const gavel = await GavelProcess.start(start.args, { env: start.env, readyTimeoutMs: READY_MS });
      const off = await gavel.waitForLog((l) => l.msg.startsWith('demo data: off'), 30_000);
      if (start.env.DATABASE_URL) expect(off.msg).toContain('PostgreSQL');
      expect(await userCount(gavel.base, ADMIN_ENV.GAVEL_ADMIN_EMAIL, ADMIN_ENV.GAVEL_ADMIN_PASSWORD)).toBe(1);
      expect((await request(gavel.base, 'GET', '/api/categories')).body).toEqual({ items: [] });
      expect((await request(gavel.base, 'GET', '/api/exchange/instruments')).body).toEqual({ items: [] });
      expect(await gavel.stop('SIGTERM')).toEqual({ code: 0, signal: null });
      expect(msgs(gavel).some((m) => m.startsWith('demo data ready'))).toBe(false);
    }

    const bad = await runCli(['start', ...local(await scratchDir())], { env: { GAVEL_DEMO: 'maybe' } });
    expect(bad.code, bad.stderr).toBe(2);
    expect(bad.stderr).toMatch(/GAVEL_DEMO must be 1 or 0.*"maybe"/);
  });
});
