// The watchlist on both databases: watching and unwatching are idempotent, bad ids are 4xx
// problems that write nothing, each person sees only their own list (a page at a time, each
// auction as discovery shows it), and every watcher hears exactly once that a watched auction
// starts soon — across repeated sweeps, unwatching and watching again, a restart with the
// events still waiting in the outbox, and (on PostgreSQL) two nodes sweeping at once.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/platform/clock.js';
import { DIALECTS, scratchStorage, type ScratchStorage } from '../support/databases.js';
import { ADMIN, startTestNode, type TestNode } from '../support/gavel.js';
import type { Config } from '../../src/platform/config.js';
import { openMarket, type Market, type Person } from '../support/auctions.js';
import { expectProblem, fieldsAtFault, ROOMY_LIMITS } from '../support/problems.js';
import { inbox, newPerson, nodeOn, until, type Node } from '../notifications/support.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const START = Date.UTC(2031, 5, 2, 10);
const iso = (ms: number) => new Date(ms).toISOString();

for (const dialect of DIALECTS) {
  describe(`the watchlist API on ${dialect}`, () => {
    let t: TestNode;
    let clock: ManualClock;
    let m: Market;

    beforeAll(async () => {
      clock = new ManualClock(START);
      t = await startTestNode(dialect, {}, { clock, loginLimits: ROOMY_LIMITS });
      m = await openMarket(t);
    });
    afterAll(async () => t?.close());

    const scheduled = async (title = 'A painting') => {
      const lotId = await m.lot(m.seller, title);
      const created = await m.auction({ lotId, startsAt: iso(clock.nowMs() + 2 * HOUR), endsAt: iso(clock.nowMs() + 3 * HOUR) });
      return created.auction.id as string;
    };
    const watch = (who: Person, id: string) => t.call('PUT', `/api/auctions/${id}/watch`, { token: who.token });
    const unwatch = (who: Person, id: string) => t.call('DELETE', `/api/auctions/${id}/watch`, { token: who.token });
    const state = (who: Person, id: string) => t.call('GET', `/api/auctions/${id}/watch`, { token: who.token });
    const list = (who: Person, query = '') => t.call('GET', `/api/me/watchlist${query}`, { token: who.token });
    const watchRows = async () => Number((await t.node.database.kysely.selectFrom('auctions_watches' as never).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

    it('watching twice keeps the first watch; unwatching twice is fine; GET tells where you stand', async () => {
      const id = await scheduled();
      const ada = await m.bidder();
      const first = await watch(ada, id);
      expect(first.status, first.text).toBe(200);
      expect(first.body).toEqual({ auctionId: id, watching: true, watchedAt: iso(clock.nowMs()) });

      clock.advance(MINUTE);
      const again = await watch(ada, id);
      expect(again.status).toBe(200);
      expect(again.body).toEqual(first.body);
      expect((await list(ada)).body.items.map((i: { id: string }) => i.id)).toEqual([id]);
      expect((await state(ada, id)).body).toEqual(first.body);

      for (let i = 0; i < 2; i++) {
        const gone = await unwatch(ada, id);
        expect(gone.status, gone.text).toBe(204);
      }
      expect((await state(ada, id)).body).toEqual({ auctionId: id, watching: false, watchedAt: null });
      expect((await list(ada)).body.items).toEqual([]);
    });

    it('an id in capitals names the same auction', async () => {
      const id = await scheduled();
      const ada = await m.bidder();
      expect((await watch(ada, id.toUpperCase())).body.auctionId).toBe(id);
      expect((await state(ada, id)).body.watching).toBe(true);
    });

    it('bad ids, unknown auctions, bad pages and no token are 4xx problems, and nothing is written', async () => {
      const ada = await m.bidder();
      const before = await watchRows();
      for (const bad of ['not-a-uuid', '1', "1' or '1'='1", '00000000-0000-0000-0000-00000000000g']) {
        for (const res of [await watch(ada, encodeURIComponent(bad)), await unwatch(ada, encodeURIComponent(bad)), await state(ada, encodeURIComponent(bad))]) {
          expectProblem(res, 400, 'VALIDATION');
          expect(fieldsAtFault(res)).toEqual(['id']);
        }
      }
      const nobody = '0190a6e4-0000-7000-8000-000000000000';
      for (const res of [await watch(ada, nobody), await unwatch(ada, nobody), await state(ada, nobody)]) expectProblem(res, 404, 'NOT_FOUND');

      for (const query of ['?limit=0', '?limit=101', '?limit=two', '?cursor=not-ours', `?cursor=${Buffer.from(JSON.stringify({ k: 'x~y' })).toString('base64url')}`, '?sort=newest']) {
        expectProblem(await list(ada, query), 400, 'VALIDATION');
      }
      const id = await scheduled();
      expectProblem(await t.call('PUT', `/api/auctions/${id}/watch`), 401, 'UNAUTHENTICATED');
      expectProblem(await t.call('DELETE', `/api/auctions/${id}/watch`), 401, 'UNAUTHENTICATED');
      expectProblem(await t.call('GET', '/api/me/watchlist'), 401, 'UNAUTHENTICATED');
      expectProblem(await t.call('GET', '/api/me/watchlist/ids'), 401, 'UNAUTHENTICATED');
      expectProblem(await t.call('PUT', `/api/auctions/${id}/watch`, { token: 'forged-token' }), 401, 'UNAUTHENTICATED');
      expect(await watchRows()).toBe(before);
    });

    it('a list holds your watched auctions only, the latest first, a page at a time, each as discovery shows it', async () => {
      const ada = await m.bidder();
      const bob = await m.bidder();
      const ids: string[] = [];
      let lastWatchedAtMs = 0;
      for (const title of ['First vase', 'Second vase', 'Third vase']) {
        const id = await scheduled(title);
        ids.push(id);
        lastWatchedAtMs = clock.nowMs();
        expect((await watch(ada, id)).status).toBe(200);
        clock.advance(1_000);
      }
      expect((await watch(bob, ids[0]!)).status).toBe(200);

      const first = await list(ada, '?limit=2');
      expect(first.status, first.text).toBe(200);
      expect(first.body.items.map((i: { title: string }) => i.title)).toEqual(['Third vase', 'Second vase']);
      expect(first.body.serverTimeMs).toBe(clock.nowMs());
      const second = await list(ada, `?limit=2&cursor=${encodeURIComponent(first.body.nextCursor as string)}`);
      expect(second.body.items.map((i: { title: string }) => i.title)).toEqual(['First vase']);
      expect(second.body.nextCursor).toBeNull();

      // The summary is discovery's, with when you started watching beside it.
      const found = await t.call('GET', `/api/auctions?status=scheduled&limit=100`);
      const summary = (found.body.items as Array<{ id: string }>).find((i) => i.id === ids[2]);
      expect(summary).toBeDefined();
      const { watchedAt, ...rest } = first.body.items[0];
      expect(rest).toEqual(summary);
      expect(watchedAt).toBe(iso(lastWatchedAtMs));
    });

    it("nobody sees another person's list: each list and state is the caller's own", async () => {
      const ada = await m.bidder();
      const bob = await m.bidder();
      const id = await scheduled('Private taste');
      await watch(ada, id);
      expect((await list(bob)).body.items).toEqual([]);
      expect((await state(bob, id)).body.watching).toBe(false);
      expect((await t.call('GET', '/api/me/watchlist/ids', { token: bob.token })).body).toEqual({ auctionIds: [] });
      expect((await t.call('GET', '/api/me/watchlist/ids', { token: ada.token })).body).toEqual({ auctionIds: [id] });
      // Bob unwatching changes nothing for Ada.
      expect((await unwatch(bob, id)).status).toBe(204);
      expect((await state(ada, id)).body.watching).toBe(true);
    });

    it('a watchlist holds at most 500 auctions; the 501st is 409 WATCHLIST_FULL and an auction already watched still answers', async () => {
      const ada = await m.bidder();
      const id = await scheduled('One too many');
      // Fill the list directly: 500 auctions through the API would be slow and prove nothing more.
      const rows = Array.from({ length: 500 }, (_, i) => ({ user_id: ada.id, auction_id: `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`, watched_at_ms: START }));
      await t.node.database.kysely.insertInto('auctions_watches' as never).values(rows as never).execute();
      expectProblem(await watch(ada, id), 409, 'WATCHLIST_FULL');
      expect((await state(ada, id)).body.watching).toBe(false);
      await t.node.database.kysely.deleteFrom('auctions_watches' as never).where('auction_id' as never, '=', rows[0]!.auction_id as never).execute();
      expect((await watch(ada, id)).status).toBe(200);
      expect((await watch(ada, id)).status).toBe(200);
    });
  });
}

/** Nodes for the notice tests sweep only when the test says so (no worker role, so no timer), but deliver events. */
const NO_WORKER = { roles: new Set(['api', 'engine'] as const) };

for (const dialect of DIALECTS) {
  describe(`starting-soon notices on ${dialect}`, () => {
    const storages: ScratchStorage[] = [];
    const nodes: Node[] = [];
    afterEach(async () => {
      await Promise.all(nodes.splice(0).map((n) => n.node.stop()));
      await Promise.all(storages.splice(0).map((s) => s.drop()));
    });

    async function start(storage: ScratchStorage, clock: ManualClock, options: { deliver: boolean; overrides?: Partial<Config> }) {
      const n = await nodeOn(storage, { clock, loginLimits: ROOMY_LIMITS, outbox: { pollIntervalMs: 20, deliver: options.deliver } }, { startingSoonMinutes: 15, ...options.overrides });
      nodes.push(n);
      return n;
    }
    async function stop(n: Node) {
      nodes.splice(nodes.indexOf(n), 1);
      await n.node.stop();
    }
    let sellers = 0;
    /** A seller's timed auction, scheduled to start at `startsAtMs`. */
    async function scheduledAuction(n: Node, startsAtMs: number, title: string): Promise<string> {
      const admin = await n.call('POST', '/api/auth/login', { json: ADMIN });
      const category = await n.call('POST', '/api/categories', { token: admin.body.token, json: { name: `Clocks ${title}` } });
      expect(category.status, category.text).toBe(201);
      const email = `clock-seller${++sellers}.${process.pid}.${Date.now()}@gavel.test`;
      const registered = await n.call('POST', '/api/auth/register', { json: { name: 'Clock Seller', email, password: 'clock-seller-password', roles: ['seller'] } });
      expect(registered.status, registered.text).toBe(201);
      const seller = await n.call('POST', '/api/auth/login', { json: { email, password: 'clock-seller-password' } });
      const lot = await n.call('POST', '/api/lots', { token: seller.body.token, json: { title, description: 'Brass, 1890', categoryId: category.body.id, condition: 'used_good' } });
      expect(lot.status, lot.text).toBe(201);
      const auction = await n.call('POST', '/api/auctions', {
        token: seller.body.token,
        json: { lotId: lot.body.lot?.id ?? lot.body.id, kind: 'timed', currency: 'USD', startingPrice: '25.00', startsAt: iso(startsAtMs), endsAt: iso(startsAtMs + HOUR) },
      });
      expect(auction.status, auction.text).toBe(201);
      return auction.body.auction.id as string;
    }
    const watch = async (n: Node, who: Person, id: string) => expect((await n.call('PUT', `/api/auctions/${id}/watch`, { token: who.token })).status).toBe(200);
    const unwatch = async (n: Node, who: Person, id: string) => expect((await n.call('DELETE', `/api/auctions/${id}/watch`, { token: who.token })).status).toBe(204);
    const sweep = (n: Node) => n.node.auctions.watchlist.sweepStartingSoon();
    const count = async (n: Node, table: string, where: [string, string]) =>
      Number(
        (
          await n.node.database.kysely
            .selectFrom(table as never)
            .select((eb) => eb.fn.countAll().as('n'))
            .where(where[0] as never, '=', where[1] as never)
            .executeTakeFirstOrThrow()
        ).n,
      );
    /** Notices claimed, and events appended to the outbox: the two must move together. */
    const sent = async (n: Node) => ({ claimed: await count(n, 'auctions_watch_notices', ['kind', 'starting_soon']), events: await count(n, 'platform_outbox', ['topic', 'auctions.watch.starting_soon']) });
    const startingNotices = async (n: Node, who: Person) => (await inbox(n, who)).items.filter((i) => i.kind === 'auction_starting');

    it('each watcher hears once, 15 minutes before the start: across sweeps, re-watching, and a restart with the events still in the outbox', async () => {
      const storage = await scratchStorage(dialect);
      storages.push(storage);
      const clock = new ManualClock(START);
      // The first node sweeps but delivers nothing: its events wait in the outbox over the restart.
      const first = await start(storage, clock, { deliver: false, overrides: NO_WORKER });
      const startsAtMs = START + HOUR;
      const id = await scheduledAuction(first, startsAtMs, 'Carriage clock');
      const later = await scheduledAuction(first, START + 3 * HOUR, 'Mantel clock');
      const [ada, bob, cyd] = [await newPerson(first, 'Ada'), await newPerson(first, 'Bob'), await newPerson(first, 'Cyd')];
      for (const who of [ada, bob, cyd]) await watch(first, who, id);
      await watch(first, ada, later);
      await unwatch(first, cyd, id);

      clock.advance(44 * MINUTE); // 16 minutes before the start: not yet
      expect(await sweep(first)).toBe(0);
      clock.advance(2 * MINUTE); // 14 minutes before
      expect(await sweep(first)).toBe(2);
      expect(await sweep(first)).toBe(0);
      // Unwatching and watching again does not earn a second notice.
      await unwatch(first, ada, id);
      await watch(first, ada, id);
      expect(await sweep(first)).toBe(0);
      expect(await sent(first)).toEqual({ claimed: 2, events: 2 });
      await stop(first);

      const second = await start(storage, clock, { deliver: true, overrides: NO_WORKER });
      expect(await sweep(second)).toBe(0);
      // Someone who starts watching inside the window hears at the next sweep, once.
      const dee = await newPerson(second, 'Dee');
      await watch(second, dee, id);
      expect(await sweep(second)).toBe(1);
      expect(await sweep(second)).toBe(0);
      expect(await sent(second)).toEqual({ claimed: 3, events: 3 });

      for (const who of [ada, bob, dee]) {
        const notices = await until('the starting-soon notice', () => startingNotices(second, who), (items) => items.length > 0);
        expect(notices).toHaveLength(1);
        expect(notices[0]).toMatchObject({ title: 'Starting soon: Carriage clock', data: { auctionId: id, startsAt: iso(startsAtMs), startingPrice: '25.00', currency: 'USD' } });
        expect(notices[0]!.body).toContain('2031-06-02 11:00 UTC');
      }
      expect(await startingNotices(second, cyd)).toEqual([]);

      // Once it has started, nobody else is told it "starts soon".
      clock.advance(15 * MINUTE);
      await second.node.auctions.engine.fireDueTimers();
      const eve = await newPerson(second, 'Eve');
      await watch(second, eve, id);
      expect(await sweep(second)).toBe(0);
      await stop(second);

      // A worker node sweeps on its own (at start, then every few seconds): the later auction's
      // watcher hears in its own time, once.
      clock.advance(HOUR + 50 * MINUTE);
      const third = await start(storage, clock, { deliver: true });
      const both = await until('the second notice', () => startingNotices(third, ada), (items) => items.length >= 2);
      expect(both.map((n) => n.data.auctionId).sort()).toEqual([id, later].sort());
      expect(await sweep(third)).toBe(0);
      expect(await sent(third)).toEqual({ claimed: 4, events: 4 });
      expect(await startingNotices(third, eve)).toEqual([]);
      expect(await startingNotices(third, bob)).toHaveLength(1);
    });

    if (dialect === 'postgres') {
      it('two nodes sweeping one database at the same moment send each notice once', async () => {
        const storage = await scratchStorage(dialect);
        storages.push(storage);
        const clock = new ManualClock(START);
        const a = await start(storage, clock, { deliver: true, overrides: NO_WORKER });
        const b = await start(storage, clock, { deliver: false, overrides: { roles: new Set(['api'] as const) } });
        const id = await scheduledAuction(a, START + 10 * MINUTE, 'Skeleton clock');
        const watchers: Person[] = [];
        for (let i = 0; i < 30; i++) {
          const who = await newPerson(a, `Watcher ${i}`);
          await watch(a, who, id);
          watchers.push(who);
        }
        const counts = await Promise.all([sweep(a), sweep(b)]);
        expect(counts[0] + counts[1]).toBe(30);
        expect(await sweep(a)).toBe(0);
        expect(await sweep(b)).toBe(0);
        expect(await sent(a)).toEqual({ claimed: 30, events: 30 });
        for (const who of watchers) {
          const notices = await until('the notice', () => startingNotices(a, who), (items) => items.length > 0);
          expect(notices).toHaveLength(1);
        }
      });
    }
  });
}
