// GraphQL at /graphql, on both databases: the published schema is the committed one; queries
// answer what the REST API answers for the same data (me, categories, lots, auction search and
// pages, wallets and statements, orders); mutations go through the same services (a bid placed
// here shows in REST, an idempotency key answers a retry with the first result); the same
// authorization (no token: UNAUTHENTICATED; someone else's wallet or order: not visible); bad
// arguments are validation errors, never a 500; too deep, too large or abusive queries are
// refused before they run; GET works for queries; GraphiQL is off in production.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getIntrospectionQuery } from 'graphql';
import { ManualClock } from '../../src/platform/clock.js';
import { openMarket, type Market, type Person } from '../support/auctions.js';
import { DIALECTS } from '../support/databases.js';
import { startTestNode, type Answer, type TestNode } from '../support/gavel.js';
import { ROOMY_LIMITS } from '../support/problems.js';

const MINUTE = 60_000;
const START = Date.UTC(2031, 2, 3, 10);
const FAST_OUTBOX = { pollIntervalMs: 20, retryFirstDelayMs: 20, retryMaxDelayMs: 200 };
const iso = (ms: number) => new Date(ms).toISOString();
const COMMITTED_SCHEMA = new URL('../../docs/schema.graphql', import.meta.url);

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** REST's shape of a GraphQL answer: every Money { amount, currency } becomes its amount. */
function asRest(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(asRest);
  if (typeof value !== 'object' || value === null) return value;
  const keys = Object.keys(value);
  if (keys.length === 2 && keys.includes('amount') && keys.includes('currency')) return (value as { amount: string }).amount;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, asRest(v)]));
}

/** The fields of `rest` that `graph` has: what a query selected, as REST has it. */
function sameFieldsAs(graph: Record<string, unknown>, rest: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(graph).map((k) => [k, rest[k]]));
}

const ORDER_FIELDS = `id source sourceRef status buyerId sellerId title amount { amount currency } currency: amount { currency } paymentRef
  items { kind refId title quantity unitPrice { amount currency } amount { amount currency } }
  createdAt updatedAt paidAt shipment { shippedAt carrier trackingNumber } delivery { deliveredAt rating comment }
  cancellation { cancelledAt by reason } refund { refundedAt reason transferRef }`;
const AUCTION_FIELDS = `id lotId sellerId kind currency categoryId title status outcome startingPrice { amount currency } currentPrice { amount currency }
  bidCount participantCount reserveMet startsAt endsAt closedAt settled journalHash recordingUrl createdAt`;
const LIVE_FIELDS = `seq status outcome closedVia phase startingPrice { amount currency } price { amount currency } minimumNextBid { amount currency }
  leader leaderSource bidCount participantCount hasReserve reserveMet buyNow { amount currency } startsAt endsAt timeLeftMs`;
const WALLET_FIELDS = 'id currency kind posted { amount currency } held { amount currency } available { amount currency } closed';
const LOT_FIELDS = 'id sellerId title description categoryId categoryPath { id name slug } condition locked images { id url } createdAt updatedAt';

/** An order's GraphQL answer in REST's shape (the `currency` alias reads the amount's currency). */
function orderAsRest(order: Record<string, any>): Record<string, unknown> {
  return { ...(asRest({ ...order, currency: undefined }) as object), currency: order.currency.currency };
}

for (const dialect of DIALECTS) {
  describe(`GraphQL on ${dialect}`, () => {
    let t: TestNode;
    let clock: ManualClock;
    let m: Market;
    let admin: string;

    const gql = async (query: string, options: { token?: string; variables?: Record<string, unknown> } = {}): Promise<Answer> =>
      t.call('POST', '/graphql', { json: { query, ...(options.variables && { variables: options.variables }) }, ...(options.token && { token: options.token }) });
    /** A query that must succeed: its data. */
    const data = async (query: string, options: { token?: string; variables?: Record<string, unknown> } = {}): Promise<any> => {
      const res = await gql(query, options);
      expect(res.status, res.text).toBe(200);
      expect(res.body.errors, res.text).toBeUndefined();
      return res.body.data;
    };
    /** The (single) error of an answer that ran: HTTP 200, the field null, the error's extensions. */
    const fieldError = (res: Answer, field: string) => {
      expect(res.status, res.text).toBe(200);
      expect(res.body.data[field], res.text).toBeNull();
      expect(res.body.errors, res.text).toHaveLength(1);
      expect(res.body.errors[0].path).toEqual([field]);
      return res.body.errors[0].extensions as { code: string; status: number; errors?: Array<{ field: string }>; requestId: string };
    };
    const newSeller = async (): Promise<Person> => {
      const user = await t.newUser('Seller', ['seller']);
      return { id: user.id, token: user.token };
    };
    const openAuction = async (seller: Person, extra: Record<string, unknown> = {}) => {
      const created = await m.auction({ startsAt: iso(clock.nowMs()), endsAt: iso(clock.nowMs() + 30 * MINUTE), ...extra }, seller);
      await t.node.auctions.engine.fireDueTimers();
      return created.auction.id as string;
    };
    const restBid = async (auctionId: string, who: Person, amount: string) => {
      expect((await t.call('POST', `/api/auctions/${auctionId}/join`, { token: who.token })).status).toBe(200);
      const bid = await t.call('POST', `/api/auctions/${auctionId}/bids`, { token: who.token, json: { amount, currency: 'USD' } });
      expect(bid.status, bid.text).toBe(201);
    };
    /** An auction `seller` sells to a new bidder at `price`, closed, settled, and its order once the outbox delivered it. */
    const sell = async (seller: Person, price = '40.00') => {
      const auctionId = await openAuction(seller);
      const buyer = await m.bidder(100_000n);
      await restBid(auctionId, buyer, price);
      clock.advance(31 * MINUTE);
      await t.node.auctions.engine.fireDueTimers();
      await t.node.auctions.engine.settled(auctionId);
      const order = await until(`the order of auction ${auctionId}`, async () => {
        const res = await t.call('GET', '/api/orders?role=buyer', { token: buyer.token });
        return (res.body.items as any[]).find((o) => o.sourceRef === auctionId);
      });
      return { auctionId, buyer, orderId: order.id as string };
    };

    beforeAll(async () => {
      clock = new ManualClock(START);
      t = await startTestNode(dialect, {}, { clock, loginLimits: ROOMY_LIMITS, outbox: FAST_OUTBOX });
      m = await openMarket(t);
      admin = await t.adminToken();
    });
    afterAll(async () => t?.close());

    it('serves the schema at /graphql/schema.graphql, the same text as docs/schema.graphql', async () => {
      const res = await t.call('GET', '/graphql/schema.graphql');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      // After changing the schema: npx tsx src/gateway/graphql/print-schema.ts > docs/schema.graphql
      expect(res.text).toBe(readFileSync(COMMITTED_SCHEMA, 'utf8'));
      expect(res.text).toContain('type Query {');
      expect(res.text).toContain('placeBid(');
    });

    it('me, the category tree, a lot and your lots answer what REST answers', async () => {
      const seller = await newSeller();
      const me = await data('{ me { id name email group roles reputation createdAt updatedAt } }', { token: seller.token });
      expect(me.me).toEqual((await t.call('GET', '/api/auth/me', { token: seller.token })).body);

      const parent = await t.call('POST', '/api/categories', { token: admin, json: { name: `Clocks ${dialect}` } });
      const child = await t.call('POST', '/api/categories', { token: admin, json: { name: 'Carriage clocks', parentId: parent.body.id } });
      expect(child.status, child.text).toBe(201);
      const tree = await data('{ categories { id parentId name slug path depth children { id parentId name slug path depth children { id } } } }');
      const restTree = (await t.call('GET', '/api/categories')).body.items;
      const strip = (nodes: any[]): any[] => nodes.map(({ children, ...rest }) => ({ ...rest, children: children.map((c: any) => ({ ...c, children: c.children.map((g: any) => ({ id: g.id })) })) }));
      expect(tree.categories).toEqual(strip(restTree));
      const clocks = tree.categories.find((c: any) => c.id === parent.body.id);
      expect(clocks.children.map((c: any) => c.id)).toEqual([child.body.id]);
      expect((await data(`{ category(id: "${child.body.id}") { path depth } }`)).category).toEqual({ path: child.body.path, depth: 1 });

      const lotId = await m.lot(seller, 'A carriage clock', 'Brass, with key');
      const lot = await data(`{ lot(id: "${lotId}") { ${LOT_FIELDS} } }`);
      const restLot = (await t.call('GET', `/api/lots/${lotId}`)).body;
      expect(lot.lot).toEqual({ ...sameFieldsAs(lot.lot, restLot), images: [] });
      const mine = await data(`{ lots(limit: 5) { items { ${LOT_FIELDS} } nextCursor } }`, { token: seller.token });
      expect(mine.lots).toEqual({ items: [lot.lot], nextCursor: null });
    });

    it('products and a product answer what GET /api/products answers, with its filters', async () => {
      const seller = await newSeller();
      const offer = async (title: string, price: string, stock: number) => {
        const res = await t.call('POST', '/api/products', { token: seller.token, json: { title, description: 'Boxed', categoryId: m.categoryId, price, currency: 'USD', stock } });
        expect(res.status, res.text).toBe(201);
        return res.body.id as string;
      };
      const kettle = await offer('Copper kettle', '35.50', 3);
      const empty = await offer('Tin kettle', '9.99', 0);
      const FIELDS = 'id sellerId title description categoryId categoryPath { id name slug } price { amount currency } stock reserved available archived archivedAt createdAt updatedAt';
      const asRestProduct = (p: any) => ({ ...(asRest(p) as object), currency: p.price.currency });
      for (const [args, query] of [
        [`sellerId: "${seller.id}"`, `sellerId=${seller.id}`],
        [`sellerId: "${seller.id}", inStock: true`, `sellerId=${seller.id}&inStock=true`],
        [`category: "${m.categoryId}", currency: "USD", limit: 1`, `categoryId=${m.categoryId}&currency=USD&limit=1`],
      ] as const) {
        const found = await data(`{ products(${args}) { items { ${FIELDS} } nextCursor } }`);
        const rest = (await t.call('GET', `/api/products?${query}`)).body;
        expect({ ...found.products, items: found.products.items.map(asRestProduct) }, args).toEqual(rest);
      }
      const mine = await data('{ products(sellerId: "me") { items { id } } }', { token: seller.token });
      expect(mine.products.items.map((p: any) => p.id)).toEqual([empty, kettle]);
      const one = await data(`{ product(id: "${kettle}") { ${FIELDS} } }`);
      expect(asRestProduct(one.product)).toEqual((await t.call('GET', `/api/products/${kettle}`)).body);
      expect(one.product).toMatchObject({ price: { amount: '35.50', currency: 'USD' }, available: 3 });
    });

    it('buyProducts runs the purchase saga; purchases and purchase(id) answer what REST answers', async () => {
      const seller = await newSeller();
      const product = await t.call('POST', '/api/products', { token: seller.token, json: { title: 'Linen napkins', description: 'Set of six', categoryId: m.categoryId, price: '12.00', currency: 'USD', stock: 5 } });
      expect(product.status, product.text).toBe(201);
      const buyer = await m.bidder(10_000n);
      const FIELDS = `id status buyerId currency total { amount currency } items { productId quantity title sellerId unitPrice { amount currency } amount { amount currency } }
        steps { name status startedAt finishedAt compensatedAt attempts error { code detail } } failure { step reason detail } orderIds createdAt updatedAt finishedAt`;
      const buy = `mutation($key: String!) { buyProducts(items: [{ productId: "${product.body.id}", quantity: 2 }], currency: "USD", idempotencyKey: $key) { ${FIELDS} } }`;
      const started = (await data(buy, { token: buyer.token, variables: { key: 'napkins-1' } })).buyProducts;
      const done = await until('the purchase to end', async () => {
        const p = (await data(`{ purchase(id: "${started.id}") { ${FIELDS} } }`, { token: buyer.token })).purchase;
        return p.finishedAt === null ? undefined : p;
      });
      expect(done).toMatchObject({ status: 'completed', total: { amount: '24.00', currency: 'USD' }, failure: null });
      expect(done.orderIds).toHaveLength(1);
      const asRestPurchase = (p: any) => ({ ...(asRest(p) as object), currency: p.currency });
      expect(asRestPurchase(done)).toEqual((await t.call('GET', `/api/purchases/${started.id}`, { token: buyer.token })).body);
      const list = (await data(`{ purchases { items { ${FIELDS} } nextCursor } }`, { token: buyer.token })).purchases;
      expect({ ...list, items: list.items.map(asRestPurchase) }).toEqual((await t.call('GET', '/api/purchases', { token: buyer.token })).body);
      // A retry with the key buys nothing more; the order is the buyer's.
      const again = (await data(buy, { token: buyer.token, variables: { key: 'napkins-1' } })).buyProducts;
      expect(again.id).toBe(started.id);
      expect((await t.call('GET', `/api/products/${product.body.id}`)).body.stock).toBe(3);
      expect((await data(`{ order(id: "${done.orderIds[0]}") { source amount { amount } } }`, { token: buyer.token })).order).toEqual({ source: 'purchase', amount: { amount: '24.00' } });
      // Nobody else sees it; no key is refused.
      expect(fieldError(await gql(`{ purchase(id: "${started.id}") { id } }`, { token: seller.token }), 'purchase')).toMatchObject({ code: 'NOT_FOUND' });
      const keyless = await gql(`mutation { buyProducts(items: [{ productId: "${product.body.id}", quantity: 1 }], currency: "USD") { id } }`, { token: buyer.token });
      expect(keyless.status).toBe(400);
    });

    it('auction search takes the filters of GET /api/auctions and answers the same auctions', async () => {
      const seller = await newSeller();
      const cheap = await openAuction(seller, { startingPrice: '5.00', lotId: await m.lot(seller, 'Walnut writing desk', 'Victorian') });
      const dear = await openAuction(seller, { startingPrice: '500.00', lotId: await m.lot(seller, 'Walnut bookcase', 'Edwardian') });
      await restBid(dear, await m.bidder(), '600.00');
      const searches: Array<[string, string]> = [
        ['q: "walnut"', 'q=walnut'],
        [`q: "walnut", category: "${m.categoryId}", status: [open], kind: timed`, `q=walnut&category=${m.categoryId}&status=open&kind=timed`],
        ['q: "walnut", currency: "USD", minPrice: "100.00"', 'q=walnut&currency=USD&minPrice=100.00'],
        ['q: "walnut", sort: most_bids, limit: 1', 'q=walnut&sort=most_bids&limit=1'],
        ['q: "walnut", status: [closed]', 'q=walnut&status=closed'],
      ];
      for (const [args, query] of searches) {
        const found = await data(`{ auctions(${args}) { items { ${AUCTION_FIELDS} categoryPath { id name slug } } nextCursor serverTime } }`);
        const rest = (await t.call('GET', `/api/auctions?${query}`)).body;
        expect(asRest(found.auctions.items), args).toEqual(rest.items);
        expect(found.auctions.nextCursor).toBe(rest.nextCursor);
        expect(found.auctions.serverTime).toBe(rest.serverTime);
      }
      const byBids = await data('{ auctions(q: "walnut", sort: most_bids) { items { id } } }');
      expect(byBids.auctions.items.map((a: any) => a.id)).toEqual([dear, cheap]);
      // The next page, by the cursor the first one gave.
      const first = await data('{ auctions(q: "walnut", sort: most_bids, limit: 1) { items { id } nextCursor } }');
      const second = await data('query($c: String) { auctions(q: "walnut", sort: most_bids, limit: 1, cursor: $c) { items { id } } }', { variables: { c: first.auctions.nextCursor } });
      expect([first.auctions.items[0].id, second.auctions.items[0].id]).toEqual([dear, cheap]);
    });

    it("auction(id) shows the price, the leader by label only, the bid count and time left, as REST does", async () => {
      const seller = await newSeller();
      const auctionId = await openAuction(seller);
      const bidder = await m.bidder();
      await restBid(auctionId, bidder, '25.00');
      clock.advance(5 * MINUTE);
      const page = await data(
        `{ auction(id: "${auctionId}") { auction { ${AUCTION_FIELDS} } lot { id title imageUrls categoryPath { id } } live { ${LIVE_FIELDS} } nextBids { amount currency } me { joined number leading maxBid { amount currency } held { amount currency } } serverTime } }`,
        { token: bidder.token },
      );
      const rest = (await t.call('GET', `/api/auctions/${auctionId}`, { token: bidder.token })).body;
      const p = page.auction;
      expect(asRest(p.auction)).toEqual(sameFieldsAs(p.auction, rest.auction));
      expect(asRest(p.live)).toEqual(sameFieldsAs(p.live, rest.live));
      expect(asRest(p.nextBids)).toEqual(rest.nextBids);
      expect(asRest(p.me)).toEqual({ joined: true, number: rest.me.number, leading: true, maxBid: rest.me.maxBid, held: rest.me.held });
      expect(p.serverTime).toBe(rest.serverTime);
      expect(p.live).toMatchObject({ price: { amount: '25.00', currency: 'USD' }, leader: 'bidder 1', leaderSource: 'online', bidCount: 1, timeLeftMs: 25 * MINUTE });
      expect(JSON.stringify(page)).not.toContain(bidder.id); // the room never learns who leads
      // Signed out: the same page, without a standing.
      const anonymous = await data(`{ auction(id: "${auctionId}") { live { leader price { amount } } me { joined } } }`);
      expect(anonymous.auction).toEqual({ live: { leader: 'bidder 1', price: { amount: '25.00' } }, me: null });
    });

    it('a bid placed through GraphQL shows in REST: the price, the lead and the hold', async () => {
      const seller = await newSeller();
      const auctionId = await openAuction(seller);
      const bidder = await m.bidder();
      const joined = await data(`mutation { joinAuction(auctionId: "${auctionId}") { joined number leading held { amount currency } } }`, { token: bidder.token });
      expect(joined.joinAuction).toEqual({ joined: true, number: 1, leading: false, held: { amount: '0.00', currency: 'USD' } });
      const bid = await data(
        'mutation($id: ID!) { placeBid(auctionId: $id, amount: "30.00", max: "45.00", currency: "USD") { bidId result auction { price { amount currency } leader bidCount } me { leading maxBid { amount } held { amount } } } }',
        { token: bidder.token, variables: { id: auctionId } },
      );
      expect(bid.placeBid).toMatchObject({ result: 'leads', auction: { price: { amount: '30.00', currency: 'USD' }, leader: 'bidder 1', bidCount: 1 }, me: { leading: true, maxBid: { amount: '45.00' }, held: { amount: '45.00' } } });
      const rest = (await t.call('GET', `/api/auctions/${auctionId}`, { token: bidder.token })).body;
      expect(rest.live).toMatchObject({ price: '30.00', leader: 'bidder 1', bidCount: 1 });
      expect(rest.me).toMatchObject({ leading: true, maxBid: '45.00', held: '45.00' });
      expect(await m.wallet(bidder)).toEqual({ posted: '10000.00', held: '45.00', available: '9955.00' });
      // The service's rules hold here too: a bid below the next minimum is refused with its code.
      const low = await gql(`mutation { placeBid(auctionId: "${auctionId}", amount: "1.00", currency: "USD") { bidId } }`, { token: (await joinedBidder(auctionId)).token });
      expect(fieldError(low, 'placeBid')).toMatchObject({ code: 'BID_TOO_LOW', status: 409 });
      // So is the seller's: no bidding on your own auction.
      const own = await gql(`mutation { joinAuction(auctionId: "${auctionId}") { joined } }`, { token: seller.token });
      expect(fieldError(own, 'joinAuction')).toMatchObject({ code: 'OWN_AUCTION', status: 403 });
    });

    const joinedBidder = async (auctionId: string) => {
      const bidder = await m.bidder();
      expect((await t.call('POST', `/api/auctions/${auctionId}/join`, { token: bidder.token })).status).toBe(200);
      return bidder;
    };

    it('an idempotency key answers a retried bid with the first result and bids once; other arguments are refused', async () => {
      const seller = await newSeller();
      const auctionId = await openAuction(seller);
      const bidder = await joinedBidder(auctionId);
      const bid = (amount: string) =>
        gql(`mutation { placeBid(auctionId: "${auctionId}", amount: "${amount}", currency: "USD", idempotencyKey: "bid-1") { bidId result auction { bidCount price { amount } } } }`, { token: bidder.token });
      const first = await bid('20.00');
      expect(first.body.errors, first.text).toBeUndefined();
      const again = await bid('20.00');
      expect(again.body).toEqual(first.body);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect((await t.call('GET', `/api/auctions/${auctionId}`)).body.live.bidCount).toBe(1);
      const other = await bid('21.00');
      expect(fieldError(other, 'placeBid')).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', status: 422 });
    });

    it('a mutation or private query without a valid token is UNAUTHENTICATED and changes nothing', async () => {
      const seller = await newSeller();
      const auctionId = await openAuction(seller);
      const mutations: Array<[string, string]> = [
        ['placeBid', `mutation { placeBid(auctionId: "${auctionId}", amount: "50.00", currency: "USD") { bidId } }`],
        ['joinAuction', `mutation { joinAuction(auctionId: "${auctionId}") { joined } }`],
        ['openWallet', 'mutation { openWallet(currency: "EUR") { created } }'],
        ['shipOrder', 'mutation { shipOrder(orderId: "01933b6e-7f4a-7c3e-9d2b-5f0a1c2d3e4f") { id } }'],
        ['me', '{ me { id } }'],
        ['wallets', '{ wallets { id } }'],
        ['orders', '{ orders { items { id } } }'],
      ];
      for (const token of [undefined, 'gvl_not-a-real-token']) {
        for (const [field, query] of mutations) {
          const extensions = fieldError(await gql(query, token === undefined ? {} : { token }), field);
          expect(extensions, field).toMatchObject({ code: 'UNAUTHENTICATED', status: 401, requestId: expect.any(String) });
        }
      }
      expect((await t.call('GET', `/api/auctions/${auctionId}`)).body.live.bidCount).toBe(0);
    });

    it('wallets show posted, held and available as REST does; the statement pages as REST does', async () => {
      const person = await m.bidder(12_345n);
      await m.fund(person, 500n);
      await m.fund(person, 1n);
      await m.fund(person, 0n, 'EUR');
      const { wallets } = await data(`{ wallets { ${WALLET_FIELDS} } }`, { token: person.token });
      const rest = (await t.call('GET', '/api/wallets', { token: person.token })).body.items;
      expect(wallets.map(asRest)).toEqual(rest);
      expect(wallets.find((w: any) => w.currency === 'USD').available).toEqual({ amount: '128.46', currency: 'USD' });

      const statement = async (cursor: string | null) =>
        (await data('query($c: String) { wallet(currency: "USD") { statement(limit: 2, cursor: $c) { items { id kind direction amount { amount currency } owner holdStatus memo createdAt } nextCursor } } }', { token: person.token, variables: { c: cursor } })).wallet.statement;
      const restPage = async (cursor: string | null) => (await t.call('GET', `/api/wallets/USD/transfers?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token: person.token })).body;
      // REST puts each entry's currency beside its amount; GraphQL inside it.
      const entriesAsRest = (items: any[]) => items.map((e) => ({ ...(asRest(e) as object), currency: e.amount.currency }));
      const page1 = await statement(null);
      const rest1 = await restPage(null);
      expect({ ...page1, items: entriesAsRest(page1.items) }).toEqual(rest1);
      const page2 = await statement(page1.nextCursor);
      expect({ ...page2, items: entriesAsRest(page2.items) }).toEqual(await restPage(rest1.nextCursor));
      expect(page2.items).toHaveLength(1);
      expect(page2.nextCursor).toBeNull();
      // No wallet in that currency: null, not an error.
      expect((await data('{ wallet(currency: "GBP") { id } }', { token: person.token })).wallet).toBeNull();
      const opened = await data(`mutation { openWallet(currency: "GBP") { created wallet { ${WALLET_FIELDS} } } }`, { token: person.token });
      expect(opened.openWallet).toMatchObject({ created: true, wallet: { currency: 'GBP', available: { amount: '0.00', currency: 'GBP' } } });
      expect((await t.call('GET', '/api/wallets/GBP', { token: person.token })).body).toEqual(asRest(opened.openWallet.wallet));
      expect((await data('mutation { openWallet(currency: "GBP") { created } }', { token: person.token })).openWallet.created).toBe(false);
    });

    it("orders answer what REST answers; the seller ships and the buyer confirms through GraphQL; nobody else sees them", async () => {
      const seller = await newSeller();
      const { buyer, orderId } = await sell(seller, '40.00');
      const stranger = await m.bidder();

      const listed = await data(`{ orders(role: buyer) { items { ${ORDER_FIELDS} } nextCursor } }`, { token: buyer.token });
      const restList = (await t.call('GET', '/api/orders?role=buyer', { token: buyer.token })).body;
      expect({ items: listed.orders.items.map(orderAsRest), nextCursor: listed.orders.nextCursor }).toEqual(restList);
      const one = await data(`{ order(id: "${orderId}") { ${ORDER_FIELDS} } }`, { token: seller.token });
      expect(orderAsRest(one.order)).toEqual((await t.call('GET', `/api/orders/${orderId}`, { token: seller.token })).body);
      expect(one.order).toMatchObject({ status: 'paid', amount: { amount: '40.00', currency: 'USD' } });

      // Someone else: not found, as in REST; their lists and wallets hold only their own.
      expect(fieldError(await gql(`{ order(id: "${orderId}") { id } }`, { token: stranger.token }), 'order')).toMatchObject({ code: 'NOT_FOUND', status: 404 });
      expect((await t.call('GET', `/api/orders/${orderId}`, { token: stranger.token })).status).toBe(404);
      expect((await data('{ orders { items { id } } }', { token: stranger.token })).orders.items).toEqual([]);
      const ship = `mutation { shipOrder(orderId: "${orderId}", carrier: "Royal Mail", trackingNumber: "RM123") { status shipment { carrier trackingNumber } } }`;
      expect(fieldError(await gql(ship, { token: stranger.token }), 'shipOrder')).toMatchObject({ code: 'NOT_FOUND' });
      const strangerWallets = (await data('{ wallets { id } }', { token: stranger.token })).wallets.map((w: any) => w.id);
      const buyerWallets = (await data('{ wallets { id } }', { token: buyer.token })).wallets.map((w: any) => w.id);
      expect(strangerWallets.filter((id: string) => buyerWallets.includes(id))).toEqual([]);
      // The buyer cannot ship; the seller can; the buyer then confirms and rates.
      expect(fieldError(await gql(ship, { token: buyer.token }), 'shipOrder')).toMatchObject({ status: 403 });
      expect((await data(ship, { token: seller.token })).shipOrder).toEqual({ status: 'shipped', shipment: { carrier: 'Royal Mail', trackingNumber: 'RM123' } });
      const confirm = await data(`mutation { confirmDelivery(orderId: "${orderId}", rating: 5, comment: "Lovely") { status delivery { rating comment } } }`, { token: buyer.token });
      expect(confirm.confirmDelivery).toEqual({ status: 'delivered', delivery: { rating: 5, comment: 'Lovely' } });
      expect((await t.call('GET', `/api/orders/${orderId}`, { token: buyer.token })).body).toMatchObject({ status: 'delivered', delivery: { rating: 5 } });
      // Shipping again breaks the order's rules: the service's code, unchanged.
      expect(fieldError(await gql(ship, { token: seller.token }), 'shipOrder')).toMatchObject({ code: 'ORDER_STATE', status: 409 });
    });

    it('bad arguments and bad requests are validation errors naming the fault, never a 500', async () => {
      const token = (await m.bidder()).token;
      const unknownId = '01933b6e-7f4a-7c3e-9d2b-5f0a1c2d3e4f';
      // Refused before anything runs: HTTP 400, every error VALIDATION.
      const invalid = [
        '{ nothing }',
        '{ lot { id } }',
        '{ lots(limit: "ten") { items { id } } }',
        '{ lots(limit: 3000000000) { items { id } } }',
        '{ auctions(status: [sold]) { items { id } } }',
        '{ auctions(sort: cheapest) { items { id } } }',
        '{ auctions(minPrice: "-1") { items { id } } }',
        '{ auctions(minPrice: 12.5) { items { id } } }',
        '{ auctions(startsAfter: "yesterday") { items { id } } }',
        '{ auction(id: "x", extra: 1) { live { price { amount } } } }',
        `mutation { placeBid(auctionId: "${unknownId}", amount: "1e3", currency: "USD") { bidId } }`,
        `mutation { placeBid(auctionId: "${unknownId}", currency: "USD") { bidId } }`,
        '{ me { id ',
        '{"kind":"Document","definitions":[]}',
        'query { me { id } } query { me { name } }',
        'subscription { me { id } }',
      ];
      for (const query of invalid) {
        const res = await gql(query, { token });
        expect(res.status, `${query}: ${res.text}`).toBe(400);
        expect(res.body.data, query).toBeNull();
        for (const e of res.body.errors) expect(e.extensions, query).toMatchObject({ code: 'VALIDATION', status: 400 });
      }
      // Variables are checked against their types the same way.
      const variables = await gql('query($l: Int!) { lots(limit: $l) { items { id } } }', { token, variables: { l: 'many' } });
      expect(variables.status).toBe(400);
      expect(variables.body.errors[0].message).toContain('$l');
      // Valid GraphQL with values the REST API would refuse: the field's error names the argument.
      const refused: Array<[string, string, string]> = [
        ['lot', '{ lot(id: "not-a-uuid") { id } }', 'id'],
        ['lot', '{ lot(id: 5) { id } }', 'id'], // an ID may be written as a number; it is still no UUID
        ['lots', '{ lots(limit: 0) { items { id } } }', 'limit'],
        ['lots', '{ lots(limit: 101) { items { id } } }', 'limit'],
        ['lots', '{ lots(cursor: "bm90LWEtY3Vyc29y") { items { id } } }', 'cursor'],
        ['auctions', `{ auctions(q: "${'x'.repeat(201)}") { items { id } } }`, 'q'],
        ['auctions', '{ auctions(minPrice: "1.00") { items { id } } }', 'currency'],
        ['auctions', '{ auctions(currency: "usd") { items { id } } }', 'currency'],
        ['auctions', '{ auctions(currency: "USD", minPrice: "1.001") { items { id } } }', 'minPrice'],
        ['auctions', `{ auctions(category: "${unknownId}") { items { id } } }`, 'category'],
        ['auctions', '{ auctions(sort: newest, cursor: "garbage") { items { id } } }', 'cursor'],
        ['auction', '{ auction(id: "\\u0000") { serverTime } }', 'id'],
        ['wallet', `{ wallet(currency: "${'U'.repeat(500)}") { id } }`, 'currency'],
        ['placeBid', `mutation { placeBid(auctionId: "${unknownId}", amount: "1.00", currency: "USD", idempotencyKey: "has space") { bidId } }`, 'idempotencyKey'],
        ['shipOrder', `mutation { shipOrder(orderId: "${unknownId}", carrier: "${'c'.repeat(500)}") { id } }`, 'carrier'],
        ['confirmDelivery', `mutation { confirmDelivery(orderId: "${unknownId}", rating: 6) { id } }`, 'rating'],
        ['cancelOrder', `mutation { cancelOrder(orderId: "${unknownId}", reason: "\\u0007") { id } }`, 'reason'],
      ];
      for (const [field, query, argument] of refused) {
        const extensions = fieldError(await gql(query, { token }), field);
        expect(extensions.status, query).toBe(400);
        expect(['VALIDATION', 'UNKNOWN_CURRENCY'], query).toContain(extensions.code);
        expect(extensions.errors?.map((e) => e.field), query).toContain(argument);
      }
      // An error inside a list names its place, indexes as integers.
      await m.fund({ id: (await t.call('GET', '/api/auth/me', { token })).body.id, token }, 0n, 'EUR');
      const nested = await gql('{ wallets { currency statement(limit: 0) { nextCursor } } }', { token });
      expect(nested.status).toBe(200);
      expect(nested.body.data.wallets).toEqual([{ currency: 'EUR', statement: null }, { currency: 'USD', statement: null }]);
      expect(nested.body.errors.map((e: any) => e.path)).toEqual([['wallets', 0, 'statement'], ['wallets', 1, 'statement']]);
      // What does not exist is NOT_FOUND, as in REST.
      expect(fieldError(await gql(`{ auction(id: "${unknownId}") { serverTime } }`), 'auction')).toMatchObject({ code: 'NOT_FOUND', status: 404 });
      expect(fieldError(await gql(`{ lot(id: "${unknownId}") { id } }`), 'lot')).toMatchObject({ code: 'NOT_FOUND', status: 404 });
      // Requests that are not GraphQL at all.
      const bodies: Array<[string, string, number]> = [
        ['{"query": 5}', 'application/json', 400],
        ['{}', 'application/json', 400],
        ['[{"query": "{ me { id } }"}]', 'application/json', 400], // one operation per request
        ['{"query": "{ me { id } }", "variables": [1]}', 'application/json', 400],
        ['{bad json', 'application/json', 400],
        ['query=x', 'application/x-www-form-urlencoded', 415],
      ];
      for (const [payload, contentType, status] of bodies) {
        const res = await t.call('POST', '/graphql', { payload, contentType });
        expect(res.status, `${payload}: ${res.text}`).toBe(status);
        expect(res.body.errors[0].extensions.code, payload).not.toBe('INTERNAL');
      }
      const getBadVariables = await t.call('GET', `/graphql?query=${encodeURIComponent('query($l: Int) { lots(limit: $l) { nextCursor } }')}&variables=${encodeURIComponent('{not json')}`);
      expect(getBadVariables.status).toBe(400);
    });

    it('GET answers queries (with variables) and refuses mutations', async () => {
      const person = await m.bidder(2_500n);
      const query = encodeURIComponent('query($c: String!) { wallet(currency: $c) { available { amount currency } } }');
      const res = await t.call('GET', `/graphql?query=${query}&variables=${encodeURIComponent(JSON.stringify({ c: 'USD' }))}`, { token: person.token });
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual({ data: { wallet: { available: { amount: '25.00', currency: 'USD' } } } });
      const mutation = await t.call('GET', `/graphql?query=${encodeURIComponent('mutation { openWallet(currency: "EUR") { created } }')}`, { token: person.token });
      expect(mutation.status).toBe(405);
      expect(mutation.body.errors[0].extensions.code).toBe('VALIDATION');
      expect((await t.call('GET', '/api/wallets', { token: person.token })).body.items.map((w: any) => w.currency)).toEqual(['USD']);
    });

    it('refuses a query nested too deep, one too large, and introspection that nests lists in lists; allows the standard introspection query', async () => {
      const nested = (levels: number) => `{ categories { ${'children { '.repeat(levels)}id${' }'.repeat(levels)} } }`;
      expect((await gql(nested(10))).status).toBe(200); // 12 levels: the limit
      const deep = await gql(nested(11));
      expect(deep.status).toBe(400);
      expect(deep.body.errors[0]).toMatchObject({ message: expect.stringContaining('13 levels deep; at most 12'), extensions: { code: 'VALIDATION', status: 400, limit: 'depth' } });
      // Fragments do not hide depth.
      const viaFragments = await gql(`{ categories { ...A } } fragment A on Category { children { ...B } } fragment B on Category { ${'children { '.repeat(10)}id${' }'.repeat(10)} }`);
      expect(viaFragments.status).toBe(400);

      const aliases = Array.from({ length: 501 }, (_, i) => `a${i}: categories { id }`).join(' ');
      const wide = await gql(`{ ${aliases} }`);
      expect(wide.status).toBe(400);
      expect(wide.body.errors[0].extensions).toMatchObject({ code: 'VALIDATION', limit: 'fields' });
      // A fragment spread into a fragment ten times over is measured, not expanded.
      const fanOut = Array.from({ length: 8 }, (_, i) => `fragment F${i} on Query { ${Array.from({ length: 10 }, (_, j) => `x${j}: categories { id } ...F${i + 1}`).join(' ')} }`).join(' ');
      const exploded = await gql(`{ ...F0 } ${fanOut} fragment F8 on Query { categories { id } }`);
      expect(exploded.status).toBe(400);
      const tokens = await gql(`{ ${Array.from({ length: 6000 }, () => '__typename').join(' ')} }`);
      expect(tokens.status).toBe(400);
      expect(tokens.body.errors[0].message).toContain('5000 tokens');

      const introspection = await gql(getIntrospectionQuery({ descriptions: true }));
      expect(introspection.status, introspection.text.slice(0, 500)).toBe(200);
      expect(introspection.body.data.__schema.queryType.name).toBe('Query');
      const abuse = await gql('{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }');
      expect(abuse.status).toBe(400);
      expect(abuse.body.errors[0].extensions).toMatchObject({ code: 'VALIDATION', limit: 'introspection' });
    });
  });
}

describe('GraphiQL', () => {
  it('is served outside production, and not in production', async () => {
    const before = process.env.NODE_ENV;
    const dev = await startTestNode('sqlite');
    process.env.NODE_ENV = 'production';
    let production: TestNode | undefined;
    try {
      production = await startTestNode('sqlite');
      expect((await dev.call('GET', '/graphiql')).status).toBe(200);
      const res = await production.call('GET', '/graphiql');
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('ROUTE_NOT_FOUND');
      // The OpenAPI document lists /graphql and its schema, not GraphiQL's files.
      const paths = Object.keys((await dev.call('GET', '/openapi.json')).body.paths);
      expect(paths).toEqual(expect.arrayContaining(['/graphql', '/graphql/schema.graphql']));
      expect(paths.filter((p) => p.startsWith('/graphiql'))).toEqual([]);
      // The API itself is the same in production.
      expect((await production.call('POST', '/graphql', { json: { query: '{ categories { id } }' } })).body).toEqual({ data: { categories: [] } });
    } finally {
      process.env.NODE_ENV = before;
      await production?.close();
      await dev.close();
    }
  });
});
