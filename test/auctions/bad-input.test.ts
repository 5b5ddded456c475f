// Hostile and mistaken input to the auctions API: every row is a 4xx problem naming what is
// wrong, and nothing is written (auctions, journal and ledger unchanged).
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../support/databases.js';
import { startTestNode, type TestNode } from '../support/gavel.js';
import { openMarket, type Market, type Person } from '../support/auctions.js';
import { ROOMY_LIMITS } from '../support/problems.js';

const HOUR = 3_600_000;

for (const dialect of DIALECTS) {
  describe(`auctions bad input on ${dialect}`, () => {
    let t: TestNode;
    let m: Market;
    let lotId: string;
    let auctionId: string;
    let bidder: Person;
    let stranger: Person;

    beforeAll(async () => {
      t = await startTestNode(dialect, {}, { loginLimits: ROOMY_LIMITS });
      m = await openMarket(t);
      lotId = await m.lot();
      const created = await m.auction({ startsAt: new Date().toISOString(), endsAt: new Date(Date.now() + HOUR).toISOString() });
      auctionId = created.auction.id;
      await t.node.auctions.engine.fireDueTimers();
      bidder = await m.bidder();
      stranger = await m.bidder();
      await t.call('POST', `/api/auctions/${auctionId}/join`, { token: bidder.token });
    });
    afterAll(async () => t?.close());

    const db = () => t.node.database.kysely as unknown as Kysely<any>;
    const snapshot = async () => ({
      auctions: await db().selectFrom('auctions_auctions').selectAll().orderBy('id').execute(),
      journal: await db().selectFrom('auctions_journal').select(['auction_id', 'seq', 'hash']).orderBy('auction_id').orderBy('seq').execute(),
      transfers: (await db().selectFrom('ledger_transfers').select(({ fn }) => fn.countAll().as('n')).executeTakeFirstOrThrow()).n,
    });

    const soon = new Date(Date.now() + 60_000).toISOString();
    const later = new Date(Date.now() + 2 * HOUR).toISOString();
    const good = () => ({ lotId, kind: 'timed', currency: 'USD', startingPrice: '10.00', startsAt: soon, endsAt: later });
    const createRows: Array<[string, () => Record<string, unknown>, number, string]> = [
      ['missing lotId', () => ({ ...good(), lotId: undefined }), 400, 'VALIDATION'],
      ['lotId not a uuid', () => ({ ...good(), lotId: 'lot-1' }), 400, 'VALIDATION'],
      ['unknown lot', () => ({ ...good(), lotId: '01933b6e-7f4a-7c3e-9d2b-5f0a1c2d3e4f' }), 404, 'NOT_FOUND'],
      ['unknown kind', () => ({ ...good(), kind: 'dutch' }), 400, 'VALIDATION'],
      ['unknown currency', () => ({ ...good(), currency: 'XXX' }), 400, 'UNKNOWN_CURRENCY'],
      ['negative price', () => ({ ...good(), startingPrice: '-1.00' }), 400, 'VALIDATION'],
      ['price as a number', () => ({ ...good(), startingPrice: 10 }), 400, 'VALIDATION'],
      ['too many decimals', () => ({ ...good(), startingPrice: '10.001' }), 400, 'VALIDATION'],
      ['JPY with decimals', () => ({ ...good(), currency: 'JPY', startingPrice: '10.5' }), 400, 'VALIDATION'],
      ['reserve too precise', () => ({ ...good(), reserve: '1.234' }), 400, 'VALIDATION'],
      ['not a date', () => ({ ...good(), startsAt: 'tomorrow' }), 400, 'VALIDATION'],
      ['ends before it starts', () => ({ ...good(), endsAt: soon, startsAt: later }), 400, 'VALIDATION'],
      ['timed without an end', () => ({ ...good(), endsAt: null }), 400, 'VALIDATION'],
      ['reputation over 100', () => ({ ...good(), minReputation: 101 }), 400, 'VALIDATION'],
      ['soft close over an hour', () => ({ ...good(), softCloseSeconds: 3601 }), 400, 'VALIDATION'],
      ['ladder not from zero', () => ({ ...good(), increments: [{ from: '5.00', increment: '1.00' }] }), 400, 'VALIDATION'],
      ['ladder with a zero step', () => ({ ...good(), increments: [{ from: '0', increment: '0' }] }), 400, 'VALIDATION'],
      ['unknown field', () => ({ ...good(), sneaky: true }), 400, 'VALIDATION'],
      ['__proto__ field', () => JSON.parse(`{"__proto__": {"admin": true}, "lotId": "${lotId}"}`), 400, 'MALFORMED_JSON'],
    ];

    it.each(createRows)('create: %s is refused and nothing is written', async (_name, body, status, code) => {
      const before = await snapshot();
      const res = await t.call('POST', '/api/auctions', { token: m.seller.token, json: body() });
      expect(res.status, res.text).toBe(status);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.body.code).toBe(code);
      expect(await snapshot()).toEqual(before);
    });

    it('create: someone else’s lot → 403; not signed in → 401; nothing written', async () => {
      const before = await snapshot();
      expect((await t.call('POST', '/api/auctions', { token: stranger.token, json: good() })).status).toBe(403);
      expect((await t.call('POST', '/api/auctions', { json: good() })).status).toBe(401);
      expect(await snapshot()).toEqual(before);
    });

    const bidRows: Array<[string, unknown, number, string]> = [
      ['amount missing', { currency: 'USD' }, 400, 'VALIDATION'],
      ['amount as a number', { amount: 12, currency: 'USD' }, 400, 'VALIDATION'],
      ['amount with exponent', { amount: '1e3', currency: 'USD' }, 400, 'VALIDATION'],
      ['amount with a sign', { amount: '+12.00', currency: 'USD' }, 400, 'VALIDATION'],
      ['amount beyond 2^63 − 1 minor units', { amount: '92233720368547758.08', currency: 'USD' }, 400, 'VALIDATION'],
      ['max below the amount', { amount: '20.00', max: '15.00', currency: 'USD' }, 400, 'VALIDATION'],
      ['wrong currency', { amount: '12.00', currency: 'EUR' }, 400, 'CURRENCY_MISMATCH'],
      ['currency lower-case', { amount: '12.00', currency: 'usd' }, 400, 'VALIDATION'],
      ['unknown field', { amount: '12.00', currency: 'USD', bidder: 'me' }, 400, 'VALIDATION'],
      ['an array', [1, 2], 400, 'VALIDATION'],
    ];

    it.each(bidRows)('bid: %s is refused and nothing is written', async (_name, body, status, code) => {
      const before = await snapshot();
      const res = await t.call('POST', `/api/auctions/${auctionId}/bids`, { token: bidder.token, json: body });
      expect(res.status, res.text).toBe(status);
      expect(res.body.code).toBe(code);
      expect(await snapshot()).toEqual(before);
    });

    it('routes with a bad id, an unknown auction, bad JSON and no sign-in answer 4xx', async () => {
      const before = await snapshot();
      expect((await t.call('GET', '/api/auctions/not-a-uuid')).status).toBe(400);
      expect((await t.call('GET', '/api/auctions/01933b6e-7f4a-7c3e-9d2b-5f0a1c2d3e4f')).status).toBe(404);
      expect((await t.call('POST', '/api/auctions/01933b6e-7f4a-7c3e-9d2b-5f0a1c2d3e4f/bids', { token: bidder.token, json: { amount: '10.00', currency: 'USD' } })).status).toBe(409);
      expect((await t.call('POST', `/api/auctions/${auctionId}/bids`, { token: bidder.token, payload: '{"amount": "10.00",', contentType: 'application/json' })).status).toBe(400);
      expect((await t.call('POST', `/api/auctions/${auctionId}/bids`, { json: { amount: '10.00', currency: 'USD' } })).status).toBe(401);
      // A timed auction has no hammer: WRONG_AUCTION_KIND comes before who is asking.
      expect((await t.call('POST', `/api/auctions/${auctionId}/console`, { token: bidder.token, json: { action: 'hammer' } })).body.code).toBe('WRONG_AUCTION_KIND');
      expect((await t.call('POST', `/api/auctions/${auctionId}/cancel`, { token: bidder.token, json: {} })).status).toBe(400);
      expect((await t.call('PUT', `/api/auctions/${auctionId}/recording`, { token: m.seller.token, json: { url: 'javascript:alert(1)' } })).status).toBe(400);
      expect(await snapshot()).toEqual(before);
    });
  });
}
