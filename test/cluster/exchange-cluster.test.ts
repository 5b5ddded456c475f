// The exchange scaled out (docs/cluster.md): three nodes on one PostgreSQL database and the NATS
// server — an api node (HTTP and WebSocket only) and two engines. The api node lists an
// instrument (an engine elsewhere owns its book) and takes orders for it; they trade on the
// owner, and the api node's feeds and the parties' sockets hear it. When the owning engine
// vanishes, the other one takes the book over within the lease time, rebuilt from its journal:
// resting orders keep their places and their holds, and the book replays to the same state.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import { DIALECTS } from '../support/databases.js';
import { startNodesCluster, until, type NodesCluster } from '../support/cluster.js';
import type { TestNode } from '../support/gavel.js';
import { NATS_AVAILABLE } from '../support/nats.js';
import { openExchange, type Exchange } from '../support/exchange.js';
import type { Person } from '../support/auctions.js';
import { connect, type Client } from '../support/ws-client.js';

const LEASE_MS = 1_000;

describe.skipIf(!NATS_AVAILABLE || !DIALECTS.includes('postgres'))('the exchange across nodes (PostgreSQL, NATS)', () => {
  let api: TestNode;
  let engines: TestNode[];
  let x: Exchange;
  /** Every order acknowledged (201) anywhere in this file, with its owner: each must outlive the takeover. */
  const acknowledged: Array<{ id: string; who: Person }> = [];
  const tradeIds: string[] = [];

  let cluster: NodesCluster;

  beforeAll(async () => {
    cluster = await startNodesCluster(LEASE_MS);
    ({ api, engines } = cluster);
  }, 60_000);

  afterAll(async () => cluster?.close(), 60_000);

  const ownerOf = (symbol: string) => cluster.ownersOf(`instrument.${symbol}`);
  async function placed(who: Person, body: Record<string, unknown>): Promise<any> {
    const res = await x.order(who, body);
    expect(res.status, res.text).toBe(201);
    acknowledged.push({ id: res.body.order.id, who });
    tradeIds.push(...res.body.fills.map((f: { id: string }) => f.id));
    return res.body;
  }
  async function signedIn(who: Person): Promise<Client> {
    const socket = await connect(api.node.url);
    socket.send({ type: 'auth', token: who.token });
    await socket.next((m) => m.type === 'authenticated', 'authenticated');
    return socket;
  }
  async function subscribed(socket: Client, topic: string): Promise<any> {
    socket.send({ type: 'subscribe', topic });
    return socket.next((m) => m.type === 'subscribed' && m.topic === topic, `subscribed to ${topic}`);
  }
  const feed = (topic: string, match: (event: any) => boolean) => (m: any) => m.type === 'event' && m.topic === topic && match(m.event);
  const push = (type: string, orderId: string) => (m: any) => m.type === 'push' && m.event.type === type && m.event.fill?.orderId === orderId;


  it('an api node without an engine lists an instrument and takes orders; one engine owns the book; the feeds on the api node show the trade, both parties hear their fill, and a refusal crosses intact', async () => {
    x = await openExchange(api);
    const book = `book:${x.symbol}`;
    const trades = `trades:${x.symbol}`;
    expect(ownerOf(x.symbol)).toHaveLength(1);
    expect(api.node.exchange.engine.market(x.symbol)).toBeUndefined();

    const maker = await x.trader();
    const taker = await x.trader();
    const watcher = await connect(api.node.url);
    // The book's snapshot comes from the owning engine (routed); the trades' from storage.
    expect((await subscribed(watcher, book)).snapshot).toEqual({ symbol: x.symbol, bids: [], asks: [] });
    expect((await subscribed(watcher, trades)).snapshot).toEqual({ symbol: x.symbol, trades: [] });
    const makerSocket = await signedIn(maker);
    const takerSocket = await signedIn(taker);

    const ask = await placed(maker, { side: 'sell', type: 'limit', price: '50.00', quantity: '10' });
    expect(ask.order).toMatchObject({ status: 'open', remainingQuantity: '10' });
    await watcher.next(feed(book, (e) => JSON.stringify(e.changes) === JSON.stringify([['sell', '50.00', '10']])), 'the resting ask on the book feed');

    // Refused by the owner's live book (it would cross): code and field as in one process.
    const cross = await x.order(taker, { side: 'buy', type: 'limit', price: '50.00', quantity: '1', postOnly: true });
    expect(cross.status, cross.text).toBe(409);
    expect(cross.body).toMatchObject({ code: 'POST_ONLY_WOULD_CROSS', errors: [{ field: 'price' }] });

    const bid = await placed(taker, { side: 'buy', type: 'limit', price: '50.00', quantity: '4' });
    expect(bid.order).toMatchObject({ status: 'filled', filledQuantity: '4', averagePrice: '50.00', fees: '0.40' });
    expect(bid.fills).toHaveLength(1);

    const trade = await watcher.next(feed(trades, (e) => e.type === 'trade'), 'the trade on the trades feed');
    expect(trade.event).toMatchObject({ id: bid.fills[0].id, seq: 1, price: '50.00', quantity: '4', takerSide: 'buy' });
    await watcher.next(feed(book, (e) => JSON.stringify(e.changes) === JSON.stringify([['sell', '50.00', '6']])), 'the ask reduced on the book feed');
    const takerFill = await takerSocket.next(push('exchange.fill', bid.order.id), "the taker's fill push");
    expect(takerFill.event.fill).toEqual(bid.fills[0]);
    const makerFill = await makerSocket.next(push('exchange.fill', ask.order.id), "the maker's fill push");
    expect(makerFill.event.fill).toMatchObject({ id: bid.fills[0].id, liquidity: 'maker', side: 'sell', quantity: '4', fee: '0.20' });
    expect(makerFill.event.order).toMatchObject({ id: ask.order.id, status: 'open', remainingQuantity: '6' });

    // Depth is the owner's live book; the order is read from storage on the api node.
    const depth = await api.call('GET', `/api/exchange/instruments/${x.symbol}/depth`);
    expect(depth.body).toMatchObject({ bids: [], asks: [['50.00', '6', 1]] });
    const stored = await api.call('GET', `/api/exchange/orders/${ask.order.id}`, { token: maker.token });
    expect(stored.body).toMatchObject({ status: 'open', filledQuantity: '4', remainingQuantity: '6' });

    // A halt runs on the owner and is stored: every node shows it, and orders are refused.
    const halted = await api.call('POST', `/api/exchange/instruments/${x.symbol}/halt`, { token: x.admin });
    expect(halted.status, halted.text).toBe(200);
    expect((await api.call('GET', `/api/exchange/instruments/${x.symbol}`)).body).toMatchObject({ status: 'halted' });
    expect((await api.call('GET', '/api/exchange/instruments')).body.items).toContainEqual(expect.objectContaining({ symbol: x.symbol, status: 'halted' }));
    const refused = await x.order(taker, { side: 'buy', type: 'limit', price: '49.00', quantity: '1' });
    expect(refused.body).toMatchObject({ code: 'INSTRUMENT_HALTED' });
    expect((await api.call('POST', `/api/exchange/instruments/${x.symbol}/resume`, { token: x.admin })).body).toMatchObject({ status: 'trading' });
    expect((await api.call('GET', `/api/exchange/instruments/${x.symbol}`)).body).toMatchObject({ status: 'trading' });

    for (const s of [watcher, makerSocket, takerSocket]) s.close();
  }, 60_000);

  it('the owning engine vanishes: orders are answered 503 until the other engine holds the lease, then accepted; resting orders keep their holds, every acknowledged order and trade is kept, and the book replays to the same state', async () => {
    const seller = await x.trader();
    const buyer = await x.trader();
    const ask = await placed(seller, { side: 'sell', type: 'limit', price: '40.00', quantity: '10' });
    const restingBid = await placed(buyer, { side: 'buy', type: 'limit', price: '30.00', quantity: '3' });
    await placed(buyer, { side: 'buy', type: 'limit', price: '40.00', quantity: '2' });
    const watcher = await connect(api.node.url);
    await subscribed(watcher, `trades:${x.symbol}`);

    const [owner] = ownerOf(x.symbol);
    const survivor = engines.find((e) => e !== owner)!;
    // Gone from the network without a word: no lease given back, no goodbye.
    await owner!.node.nats!.close();
    const vanishedAt = Date.now();

    const answers: number[] = [];
    // One client order id for every try: had a refused try been applied after all, the retry would say so.
    const accepted = await until('an order accepted by the surviving engine', async () => {
      const res = await x.order(buyer, { side: 'buy', type: 'limit', price: '40.00', quantity: '1', clientOrderId: 'after-takeover' });
      answers.push(res.status);
      return res.status === 201 ? res : undefined;
    });
    const failoverMs = Date.now() - vanishedAt;
    console.log(`[failover] next order accepted ${failoverMs} ms after the owning engine vanished (lease ${LEASE_MS} ms)`);
    // Meanwhile callers were told to retry (503), never an error of ours.
    expect(new Set(answers.slice(0, -1))).toEqual(new Set(answers.length > 1 ? [503] : []));
    expect(ownerOf(x.symbol)).toEqual([survivor]);
    acknowledged.push({ id: accepted.body.order.id, who: buyer });
    tradeIds.push(...accepted.body.fills.map((f: { id: string }) => f.id));
    // It traded against the ask that rested before the takeover: the rebuilt book has it.
    expect(accepted.body.order).toMatchObject({ status: 'filled', averagePrice: '40.00' });
    expect(accepted.body.fills).toMatchObject([{ liquidity: 'taker', price: '40.00', quantity: '1' }]);
    // The new owner's trades reach the api node's feed.
    await watcher.next(feed(`trades:${x.symbol}`, (e) => e.id === accepted.body.fills[0].id), 'the trade after the takeover on the feed');
    watcher.close();

    // Resting orders survived with their holds: the seller's 7 left, the buyer's 3 at 30.00 (+ 0.20% taker fee).
    const order = async (id: string, who: Person) => (await api.call('GET', `/api/exchange/orders/${id}`, { token: who.token })).body;
    expect(await order(ask.order.id, seller)).toMatchObject({ status: 'open', filledQuantity: '3', remainingQuantity: '7' });
    expect(await order(restingBid.order.id, buyer)).toMatchObject({ status: 'open', remainingQuantity: '3' });
    expect(await x.wallet(seller, x.symbol.split('-')[0]!)).toMatchObject({ held: '7' });
    expect(await x.wallet(buyer, 'USD')).toMatchObject({ held: '90.18' });
    const depth = await api.call('GET', `/api/exchange/instruments/${x.symbol}/depth`);
    expect(depth.body).toMatchObject({ bids: [['30.00', '3', 1]], asks: [['40.00', '7', 1], ['50.00', '6', 1]] });

    // Every order acknowledged before and after the takeover, once; every trade, once.
    for (const { id, who } of acknowledged) expect((await order(id, who)).id).toBe(id);
    const tape = await api.call('GET', `/api/exchange/instruments/${x.symbol}/trades?limit=500`);
    expect(tape.body.items.map((t: { id: string }) => t.id).sort()).toEqual([...tradeIds].sort());
    expect(tape.body.items.map((t: { seq: number }) => t.seq).sort((a: number, b: number) => a - b)).toEqual(tradeIds.map((_, i) => i + 1));

    const admin = await api.adminToken();
    const check = await api.call('GET', '/api/ledger/check', { token: admin });
    expect(check.body).toMatchObject({ ok: true });
    // The survivor's live book is what its journal replays to.
    const verify = await api.call('GET', `/api/exchange/instruments/${x.symbol}/verify`, { token: admin });
    expect(verify.status, verify.text).toBe(200);
    expect(verify.body).toMatchObject({ match: true });
    expect(verify.body.seq).toBe(verify.body.journalSeq);
  }, 90_000);

  it('an engine that lost a book without knowing it writes nothing to it: the crossing order it matched is refused 503, its hold given back, and the resting order it matched keeps its quantity and hold', async () => {
    // A book of its own, owned by the engine still connected.
    const y = await openExchange(api);
    const [owner] = await until('an engine to own the new book', async () => (ownerOf(y.symbol).length === 1 ? ownerOf(y.symbol) : undefined));
    const maker = await y.trader();
    const taker = await y.trader();
    const ask = await y.order(maker, { side: 'sell', type: 'limit', price: '20.00', quantity: '5' });
    expect(ask.status, ask.text).toBe(201);
    // Another engine took the book over while this one stalled: storage has its larger token.
    const db = api.node.database.kysely as Kysely<any>;
    await db.updateTable('cluster_fences').set({ token: 2 ** 40 }).where('market', '=', `instrument.${y.symbol}`).execute();

    const crossing = await y.order(taker, { side: 'buy', type: 'limit', price: '20.00', quantity: '2' });
    expect(crossing.status, crossing.text).toBe(503);
    expect(crossing.body).toMatchObject({ code: 'NOT_READY' });
    expect(owner!.node.exchange.engine.market(y.symbol)).toBeUndefined();
    // Nothing of the match was written; the taker's hold is back, the maker's order untouched.
    expect(await y.wallet(taker, 'USD')).toMatchObject({ held: '0.00' });
    expect((await api.call('GET', '/api/exchange/orders', { token: taker.token })).body.items).toEqual([]);
    expect((await api.call('GET', `/api/exchange/orders/${ask.body.order.id}`, { token: maker.token })).body).toMatchObject({ status: 'open', filledQuantity: '0' });
    expect(await y.wallet(maker, y.symbol.split('-')[0]!)).toMatchObject({ held: '5' });
    expect((await api.call('GET', `/api/exchange/instruments/${y.symbol}/trades`)).body.items).toEqual([]);
    const check = await api.call('GET', '/api/ledger/check', { token: await api.adminToken() });
    expect(check.body).toMatchObject({ ok: true });
  }, 60_000);
});
