// Discovery (GET /api/auctions) on both databases: full-text search, each filter, each sort,
// a category with its subcategories, cursor pages that neither skip nor repeat rows sharing a
// sort value, and every kind of bad input answered with a 400 naming the field.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fts5Query, searchWords, tsQuery } from '../../src/auctions/discovery.js';
import { ManualClock } from '../../src/platform/clock.js';
import { DIALECTS } from '../support/databases.js';
import { startTestNode, type TestNode } from '../support/gavel.js';
import { openMarket, type Market, type Person } from '../support/auctions.js';
import { expectProblem, fieldsAtFault } from '../support/problems.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const START = Date.UTC(2031, 4, 1, 9);
const iso = (ms: number) => new Date(ms).toISOString();

describe('search text', () => {
  it('keeps only words: letters, digits and their accents; operators, quotes and punctuation separate them', () => {
    expect(searchWords('NEAR(walnut "chair*" -oak) OR title:x')).toEqual(['NEAR', 'walnut', 'chair', 'oak', 'OR', 'title', 'x']);
    expect(searchWords("'; drop table t; --")).toEqual(['drop', 'table', 't']);
    expect(searchWords('Cafe\u0301 1950s')).toEqual(['Café', '1950s']); // composed, as the index stores it
    expect(searchWords('" * - ( ) ^ : ...')).toEqual([]);
  });

  it('quotes every word for FTS5 and marks the last as a prefix; ANDs them for PostgreSQL', () => {
    expect(fts5Query(['walnut', 'cha'])).toBe('"walnut" "cha" *');
    expect(fts5Query(['a"b'])).toBe('"a""b" *');
    expect(tsQuery(['Walnut', 'Cha'])).toBe('walnut & cha:*');
  });
});

for (const dialect of DIALECTS) {
  describe(`auction discovery on ${dialect}`, () => {
    let t: TestNode;
    let clock: ManualClock;
    let m: Market;
    const category: Record<'furniture' | 'chairs' | 'books' | 'stamps', string> = { furniture: '', chairs: '', books: '', stamps: '' };
    /** Auction ids by name, in creation order. */
    const ids = new Map<string, string>();
    const nameOf = (id: string) => [...ids].find(([, v]) => v === id)?.[0] ?? id;
    const STAMPS = ['stamp1', 'stamp2', 'stamp3', 'stamp4', 'stamp5', 'stamp6', 'stamp7'];

    const find = (query: string) => t.call('GET', `/api/auctions${query === '' ? '' : `?${query}`}`);
    /** The names of the items of one page, in order. */
    const names = async (query: string) => {
      const res = await find(query);
      expect(res.status, res.text).toBe(200);
      return (res.body.items as Array<{ id: string }>).map((i) => nameOf(i.id));
    };
    /** Every page, following nextCursor, checking no page is over-full. */
    const allPages = async (query: string, limit: number) => {
      const pages: string[][] = [];
      let cursor: string | null = null;
      do {
        const res = await find(`${query}&limit=${limit}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
        expect(res.status, res.text).toBe(200);
        expect(res.body.items.length).toBeLessThanOrEqual(limit);
        pages.push((res.body.items as Array<{ id: string }>).map((i) => nameOf(i.id)));
        cursor = res.body.nextCursor;
        expect(pages.length).toBeLessThan(50);
      } while (cursor !== null);
      return pages;
    };

    beforeAll(async () => {
      clock = new ManualClock(START);
      t = await startTestNode(dialect, {}, { clock });
      m = await openMarket(t);
      const admin = await t.adminToken();
      const newCategory = async (name: string, parentId?: string) => {
        const res = await t.call('POST', '/api/categories', { token: admin, json: { name, ...(parentId && { parentId }) } });
        expect(res.status, res.text).toBe(201);
        return res.body.id as string;
      };
      category.furniture = await newCategory('Furniture');
      category.chairs = await newCategory('Chairs', category.furniture);
      category.books = await newCategory('Books');
      category.stamps = await newCategory('Stamps');

      const appointed = await t.newUser('Auctioneer');
      expect((await t.call('PUT', '/api/user', { token: admin, json: { id: appointed.id, roles: ['bidder', 'auctioneer'] } })).status).toBe(200);

      // A second apart, so "newest" has an order to find; the stamps share one instant.
      const create = async (name: string, categoryId: string, title: string, description: string, body: Record<string, unknown>, tick = true) => {
        const lot = await t.call('POST', '/api/lots', { token: m.seller.token, json: { title, description, categoryId, condition: 'used_good' } });
        expect(lot.status, lot.text).toBe(201);
        const created = await m.auction({ lotId: lot.body.id, ...body });
        ids.set(name, created.auction.id as string);
        if (tick) clock.advance(1_000);
      };
      const timed = (endsInMs: number, extra: Record<string, unknown> = {}) => ({ startsAt: iso(START), endsAt: iso(START + endsInMs), ...extra });
      await create('chair', category.chairs, 'Walnut chair', 'Mid-century, from a Copenhagen café', timed(60 * MINUTE));
      await create('sofa', category.furniture, 'Leather sofa', 'Chesterfield style, deep buttoned', timed(30 * MINUTE, { startingPrice: '200.00' }));
      await create('novel', category.books, 'First edition novel', 'Signed by the author', timed(45 * MINUTE, { currency: 'EUR', startingPrice: '50.00' }));
      await create('cafe', category.books, 'Café society', 'Photographs of Paris at night', { startsAt: iso(START + 2 * HOUR), endsAt: iso(START + 3 * HOUR) });
      await create('cabinet', category.furniture, 'Estate sale: cabinet', 'Oak cabinet with brass handles', {
        kind: 'live',
        startsAt: iso(START + HOUR),
        endsAt: null,
        auctioneerId: appointed.id,
        startingPrice: '100.00',
      });
      await create('rocker', category.chairs, 'Rocking chair', 'Pine, repainted', timed(10 * MINUTE));
      await create('lamp', category.books, 'Reading lamp', 'Brass, works', timed(20 * MINUTE));
      // Seven auctions sharing every sort value, to page through ties.
      for (const stamp of STAMPS) {
        await create(stamp, category.stamps, `Stamp ${stamp}`, 'Penny black', { currency: 'JPY', startingPrice: '1000', startsAt: iso(START + 5 * HOUR), endsAt: iso(START + 6 * HOUR) }, false);
      }
      await t.node.auctions.engine.fireDueTimers(); // the timed auctions starting now open

      const bid = async (who: Person, name: string, amount: string) => {
        const res = await t.call('POST', `/api/auctions/${ids.get(name)}/bids`, { token: who.token, json: { amount, currency: 'USD' } });
        expect(res.status, res.text).toBe(201);
      };
      const [ann, ben] = [await m.bidder(), await m.bidder()];
      for (const who of [ann, ben]) for (const name of ['chair', 'sofa', 'rocker']) expect((await t.call('POST', `/api/auctions/${ids.get(name)}/join`, { token: who.token })).status).toBe(200);
      await bid(ann, 'chair', '10.00');
      await bid(ben, 'chair', '11.00');
      await bid(ann, 'chair', '12.00');
      await bid(ben, 'sofa', '200.00');
      await bid(ann, 'rocker', '10.00');
      expect((await t.call('POST', `/api/auctions/${ids.get('lamp')}/cancel`, { token: m.seller.token, json: { reason: 'withdrawn' } })).status).toBe(200);

      clock.advance(10 * MINUTE); // the rocking chair's end passes
      await t.node.auctions.engine.fireDueTimers();
      await t.node.auctions.engine.settled(ids.get('rocker')!);
    });
    afterAll(async () => t?.close());

    it('by default: scheduled and open auctions, ending soonest first, those without an end (live) last; the server clock beside them', async () => {
      const res = await find('');
      expect(res.status, res.text).toBe(200);
      expect(res.body.serverTimeMs).toBe(clock.nowMs());
      expect(res.body.serverTime).toBe(iso(clock.nowMs()));
      const stampsById = STAMPS.map((s) => ids.get(s)!).sort().map(nameOf);
      expect(res.body.items.map((i: { id: string }) => nameOf(i.id))).toEqual(['sofa', 'novel', 'chair', 'cafe', ...stampsById, 'cabinet']);
      expect(res.body.nextCursor).toBeNull();

      const chair = res.body.items.find((i: { id: string }) => i.id === ids.get('chair'));
      expect(chair).toMatchObject({
        status: 'open',
        kind: 'timed',
        currency: 'USD',
        title: 'Walnut chair',
        currentPrice: '12.00',
        bidCount: 3,
        endsAt: iso(START + HOUR),
        categoryId: category.chairs,
        categoryPath: [
          { id: category.furniture, name: 'Furniture', slug: 'furniture' },
          { id: category.chairs, name: 'Chairs', slug: 'chairs' },
        ],
      });
    });

    it('filters by status (repeated or comma-separated), kind and currency', async () => {
      expect(await names('status=open')).toEqual(['sofa', 'novel', 'chair']);
      expect(await names('status=closed')).toEqual(['rocker']);
      expect(await names('status=cancelled')).toEqual(['lamp']);
      expect(await names('status=closed,open')).toEqual(['rocker', 'sofa', 'novel', 'chair']);
      expect(await names('status=open&status=closed')).toEqual(['rocker', 'sofa', 'novel', 'chair']);
      expect((await names('status=closed&status=cancelled')).sort()).toEqual(['lamp', 'rocker']);
      expect(await names('kind=live')).toEqual(['cabinet']);
      expect(await names('kind=timed&status=open')).toEqual(['sofa', 'novel', 'chair']);
      expect(await names('currency=EUR')).toEqual(['novel']);
      expect(await names('currency=USD&status=open')).toEqual(['sofa', 'chair']);
    });

    it('a category includes its subcategories', async () => {
      expect(await names(`category=${category.furniture}`)).toEqual(['sofa', 'chair', 'cabinet']);
      expect(await names(`category=${category.chairs}`)).toEqual(['chair']);
      expect(await names(`category=${category.chairs}&status=open,closed`)).toEqual(['rocker', 'chair']);
      expect(await names(`category=${category.furniture.toUpperCase()}&kind=live`)).toEqual(['cabinet']);
      expect(await names(`category=${category.books}&status=scheduled`)).toEqual(['cafe']);
    });

    it('filters by start window [startsAfter, startsBefore) and by current price in one currency', async () => {
      expect(await names(`startsAfter=${iso(START + 30 * MINUTE)}&startsBefore=${iso(START + 3 * HOUR)}`)).toEqual(['cafe', 'cabinet']);
      expect(await names(`startsAfter=${iso(START + HOUR)}&startsBefore=${iso(START + 2 * HOUR)}`)).toEqual(['cabinet']);
      expect(await names(`startsBefore=${iso(START + 1)}`)).toEqual(['sofa', 'novel', 'chair']);
      // Current price: the last bid, or the starting price before one. Bounds are inclusive.
      expect(await names('currency=USD&minPrice=100')).toEqual(['sofa', 'cabinet']);
      expect(await names('currency=USD&minPrice=12&maxPrice=199.99')).toEqual(['chair', 'cabinet']);
      expect(await names('currency=USD&maxPrice=12.00')).toEqual(['chair', 'cafe']);
      expect(await names('currency=USD&minPrice=0&maxPrice=10')).toEqual(['cafe']);
      expect(await names('currency=EUR&minPrice=50&maxPrice=50')).toEqual(['novel']);
      expect(await names('currency=JPY&minPrice=1000').then((n) => n.length)).toBe(STAMPS.length);
      expect(await names('currency=JPY&minPrice=1001')).toEqual([]);
    });

    it('sorts: newest first (ties by id), most bids first, and ending soonest', async () => {
      const stampsNewestFirst = STAMPS.map((s) => ids.get(s)!).sort().reverse().map(nameOf);
      expect(await names('status=scheduled,open,closed,cancelled&sort=newest')).toEqual([...stampsNewestFirst, 'lamp', 'rocker', 'cabinet', 'cafe', 'novel', 'sofa', 'chair']);
      // Closed or cancelled only: newest first unless asked otherwise.
      expect(await names('status=closed,cancelled')).toEqual(['lamp', 'rocker']);
      expect(await names('status=closed,cancelled&sort=ending_soonest')).toEqual(['rocker', 'lamp']);

      const mostBids = await find('status=open,closed&sort=most_bids');
      const [sofa, rocker] = [ids.get('sofa')!, ids.get('rocker')!];
      const oneBidEach = sofa > rocker ? ['sofa', 'rocker'] : ['rocker', 'sofa']; // a tie goes by id, highest first
      expect(mostBids.body.items.map((i: { id: string; bidCount: number }) => [nameOf(i.id), i.bidCount])).toEqual([
        ['chair', 3],
        ...oneBidEach.map((n) => [n, 1]),
        ['novel', 0],
      ]);
    });

    it('full-text search over title and description: words anywhere, all required, any case, the last word as a prefix', async () => {
      expect(await names('q=chesterfield')).toEqual(['sofa']); // in the description only
      expect(await names('q=WALNUT')).toEqual(['chair']);
      expect(await names('q=walnu')).toEqual(['chair']);
      expect(await names('q=leather%20so')).toEqual(['sofa']);
      expect(await names('q=oak%20cabinet')).toEqual(['cabinet']);
      expect(await names('q=oak%20sofa')).toEqual([]);
      expect(await names('q=penny&limit=3')).toHaveLength(3);
      expect(await names(`q=caf%C3%A9`)).toEqual(['chair', 'cafe']);
      expect(await names(`q=chair&status=closed,open&category=${category.chairs}`)).toEqual(['rocker', 'chair']);
      expect(await names('q=')).toHaveLength(4 + STAMPS.length + 1);
    });

    it.runIf(dialect === 'sqlite')('search ignores accents: "cafe" finds "Café" and "café"', async () => {
      expect(await names('q=cafe')).toEqual(['chair', 'cafe']);
      expect(await names('q=CAFE%20SOCIETY')).toEqual(['cafe']);
    });

    it('hostile search text is only words: quotes, operators and SQL answer 200', async () => {
      const hostile = [
        '"',
        '""',
        "'",
        '*',
        'chair*',
        '"walnut',
        'NEAR(walnut chair)',
        'NEAR(',
        '-walnut',
        'walnut -chair',
        'walnut OR sofa',
        'title:walnut',
        '^walnut',
        '(((',
        ')',
        'a & b | !c',
        'walnut:*',
        "'; drop table auctions_auctions; --",
        "' or 1=1 --",
        '\\',
        '{}[]<>',
        'é́́',
        '…',
        '<script>alert(1)</script>',
        'x'.repeat(200),
      ];
      for (const q of hostile) {
        const res = await find(`q=${encodeURIComponent(q)}`);
        expect(res.status, `${q}: ${res.text}`).toBe(200);
      }
      // Bytes that are not UTF-8, and broken escapes: an answer, never a 500.
      for (const raw of ['%ED%A0%80', '%FF%FE', '%ZZ', '%']) {
        const res = await find(`q=${raw}`);
        expect(res.status, `${raw}: ${res.text}`).toBeLessThan(500);
      }
      // The words inside the noise still count.
      expect(await names(`q=${encodeURIComponent('NEAR(walnut')}`)).toEqual([]);
      expect(await names(`q=${encodeURIComponent('"walnut" -chair*')}`)).toEqual(['chair']);
      expect(await names(`q=${encodeURIComponent("walnut' or 1=1 --")}`)).toEqual([]);
      expect(await names('q=*')).toHaveLength(4 + STAMPS.length + 1); // no words: no text filter
    });

    it('cursor pages return every row exactly once, in order, even when many share the sort value', async () => {
      const stampsById = STAMPS.map((s) => ids.get(s)!).sort();
      for (const sort of ['ending_soonest', 'newest', 'most_bids']) {
        const pages = await allPages(`category=${category.stamps}&sort=${sort}`, 3);
        expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
        // One shared sort value: ending soonest goes by id upwards, the other two downwards.
        const expected = (sort === 'ending_soonest' ? stampsById : [...stampsById].reverse()).map(nameOf);
        expect(pages.flat(), sort).toEqual(expected);
      }
      // Across everything, whatever the sort: the pages put together are the single long page.
      for (const sort of ['ending_soonest', 'newest', 'most_bids']) {
        const query = `status=scheduled,open,closed,cancelled&sort=${sort}`;
        const whole = await names(`${query}&limit=100`);
        expect(whole).toHaveLength(ids.size);
        const pages = await allPages(query, 4);
        expect(pages.length).toBe(Math.ceil(ids.size / 4));
        expect(pages.flat(), sort).toEqual(whole);
      }
      // The last page knows it is the last.
      const exact = await find(`category=${category.stamps}&limit=7`);
      expect(exact.body.items).toHaveLength(7);
      expect(exact.body.nextCursor).toBeNull();
    });

    it('a cursor that was tampered with, made up, or given for another sort is a 400 naming cursor', async () => {
      const first = await find(`category=${category.stamps}&sort=newest&limit=2`);
      const cursor = first.body.nextCursor as string;
      expect(cursor).toEqual(expect.any(String));
      const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')).k as string;
      const forged = (k: string) => Buffer.from(JSON.stringify({ k }), 'utf8').toString('base64url');
      const bad = [
        `${cursor.slice(0, -2)}!!`,
        'abc',
        Buffer.from('not json').toString('base64url'),
        forged(key.replace(/~[0-9a-f-]{36}$/, '~not-an-id')),
        forged(key.replace(/~\d+~/, '~12.5~')),
        forged(key.replace(/~\d+~/, '~~')), // only an end time may be missing
        forged(key.replace(/~\d+~/, "~1' or '1'='1~")),
        forged(`${key}~extra`),
      ];
      for (const c of bad) {
        const res = await find(`category=${category.stamps}&sort=newest&limit=2&cursor=${encodeURIComponent(c)}`);
        expectProblem(res, 400, 'VALIDATION');
        expect(fieldsAtFault(res), c).toEqual(['cursor']);
      }
      const otherSort = await find(`category=${category.stamps}&sort=most_bids&limit=2&cursor=${encodeURIComponent(cursor)}`);
      expectProblem(otherSort, 400, 'VALIDATION');
      expect(fieldsAtFault(otherSort)).toEqual(['cursor']);
      // The default sort is a sort too: a newest cursor does not fit it.
      expect(fieldsAtFault(await find(`category=${category.stamps}&cursor=${encodeURIComponent(cursor)}`))).toEqual(['cursor']);
      // The genuine cursor still works.
      expect((await find(`category=${category.stamps}&sort=newest&limit=2&cursor=${encodeURIComponent(cursor)}`)).status).toBe(200);
    });

    it('bad input is a 400 naming the field', async () => {
      const cases: Array<[string, string, string?]> = [
        ['category=not-a-uuid', 'category'],
        ['category=01933b6e-7f4a-7c3e-9d2b-5f0a1c2d3e4f', 'category'], // no such category
        ['startsAfter=yesterday', 'startsAfter'],
        ['startsBefore=2031-05-01', 'startsBefore'],
        ['startsAfter=2031-02-30T00:00:00Z', 'startsAfter'],
        ['sort=cheapest', 'sort'],
        ['sort=', 'sort'],
        ['kind=silent', 'kind'],
        ['status=open,sold', 'status'],
        ['status=', 'status'],
        ['currency=usd', 'currency'],
        ['currency=XXX', 'currency', 'UNKNOWN_CURRENCY'],
        ['currency=USD&minPrice=1.001', 'minPrice'],
        ['currency=JPY&maxPrice=1.5', 'maxPrice'],
        ['currency=USD&minPrice=-1', 'minPrice'],
        ['currency=USD&minPrice=1e3', 'minPrice'],
        ['currency=USD&minPrice=20&maxPrice=10', 'maxPrice'],
        ['minPrice=5', 'currency'],
        ['maxPrice=5', 'currency'],
        ['limit=0', 'limit'],
        ['limit=101', 'limit'],
        ['limit=ten', 'limit'],
        ['foo=bar', 'foo'],
        [`q=${'x'.repeat(201)}`, 'q'],
        ['q=a%00b', 'q'],
      ];
      for (const [query, field, code = 'VALIDATION'] of cases) {
        const res = await find(query);
        expectProblem(res, 400, code);
        expect(fieldsAtFault(res), query).toContain(field);
      }
    });
  });
}
