// The exchange over real WebSockets: a fill is confirmed to both parties' sockets (each with
// their own side, liquidity and fee) and to nobody else; `book:<SYMBOL>` gives a snapshot and
// then depth changes whose seq/prevSeq chain lets a client rebuild exactly the REST depth;
// `trades:<SYMBOL>` gives every trade once, seq counting 1, 2, 3…; and orders can be placed,
// amended and cancelled over the socket with the same answers and refusals as REST.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../support/databases.js';
import { startTestNode, type TestNode } from '../support/gavel.js';
import { openExchange } from '../support/exchange.js';
import type { Person } from '../support/auctions.js';
import { ROOMY_LIMITS } from '../support/problems.js';
import { mulberry32 } from '../support/random.js';
import { TestClient, type Message } from '../gateway/ws-client.js';

type Level = [string, string];

/** The first message received so far that matches, waiting for more while none does. */
async function until(client: TestClient, matches: (m: Message) => boolean): Promise<Message> {
  for (;;) {
    const found = client.received.find(matches);
    if (found) return found;
    await client.next(); // throws when nothing more arrives
  }
}

/** The exchange's pushes a socket got (inbox notifications also arrive as pushes, later, through the outbox). */
const exchangePushes = (client: TestClient) => client.received.filter((m) => m.type === 'push' && String(m.event.type).startsWith('exchange.')).map((m) => m.event);
const isPush = (type: string, orderId: string) => (m: Message) => m.type === 'push' && m.event.type === type && (m.event.order?.id === orderId || m.event.fill?.orderId === orderId);

/** Depth changes applied to a snapshot, as [price, quantity] per level, best first. */
function rebuild(snapshot: { bids: unknown[][]; asks: unknown[][] }, events: Message[]): { bids: Level[]; asks: Level[] } {
  const sides = { buy: new Map<string, string>(), sell: new Map<string, string>() };
  for (const [price, qty] of snapshot.bids) sides.buy.set(String(price), String(qty));
  for (const [price, qty] of snapshot.asks) sides.sell.set(String(price), String(qty));
  for (const e of events) {
    for (const [side, price, qty] of e.event.changes as Array<['buy' | 'sell', string, string]>) {
      if (qty === '0') sides[side].delete(price);
      else sides[side].set(price, qty);
    }
  }
  // Every price of one instrument has the same number of decimals: compare them as integers.
  const ticks = (price: string) => BigInt(price.replace('.', ''));
  const sorted = (m: Map<string, string>, bestFirst: (a: bigint, b: bigint) => number) => [...m.entries()].sort((a, b) => bestFirst(ticks(a[0]), ticks(b[0])));
  return { bids: sorted(sides.buy, (a, b) => (a > b ? -1 : 1)), asks: sorted(sides.sell, (a, b) => (a < b ? -1 : 1)) };
}

const priceLevels = (levels: unknown[][]): Level[] => levels.map(([p, q]) => [String(p), String(q)]);

for (const dialect of DIALECTS) {
  describe(`the exchange over WebSocket on ${dialect}`, () => {
    let t: TestNode;
    let commandCount = 0;

    beforeAll(async () => {
      t = await startTestNode(dialect, { host: '127.0.0.1', port: 0 }, { listen: true, loginLimits: ROOMY_LIMITS });
    });
    afterAll(async () => t?.close());

    const wsUrl = () => `${t.node.url.replace(/^http/, 'ws')}/ws`;
    const signedIn = async (who: Person): Promise<TestClient> => {
      const client = await TestClient.ready(wsUrl());
      expect(await client.request({ type: 'auth', token: who.token, id: 'auth' })).toMatchObject({ type: 'authenticated', userId: who.id });
      return client;
    };
    const command = (client: TestClient, name: string, args: unknown) => client.request({ type: 'command', id: `cmd-${++commandCount}`, name, args });
    const depthOf = async (symbol: string) => (await t.call('GET', `/api/exchange/instruments/${symbol}/depth?levels=1000`)).body;

    it('a fill is pushed to both parties with their own side, liquidity and fee; resting and cancelled orders to their owner only; a third person hears nothing', async () => {
      const x = await openExchange(t);
      const maker = await x.trader();
      const taker = await x.trader();
      const bystander = await x.trader();
      const makerSockets = [await signedIn(maker), await signedIn(maker)]; // every device of a person hears
      const takerSocket = await signedIn(taker);
      const bystanderSocket = await signedIn(bystander);

      const ask = await x.order(maker, { side: 'sell', type: 'limit', price: '50.00', quantity: '10' });
      expect(ask.status, ask.text).toBe(201);
      const askId = ask.body.order.id as string;
      for (const s of makerSockets) {
        const rested = await until(s, isPush('exchange.order', askId));
        expect(rested.event.order).toEqual(ask.body.order);
      }

      const bid = await x.order(taker, { side: 'buy', type: 'limit', price: '51.00', quantity: '4' });
      expect(bid.status, bid.text).toBe(201);
      const bidId = bid.body.order.id as string;
      const takerFill = await until(takerSocket, isPush('exchange.fill', bidId));
      expect(takerFill.event.fill).toEqual(bid.body.fills[0]);
      expect(takerFill.event.fill).toMatchObject({ orderId: bidId, side: 'buy', liquidity: 'taker', price: '50.00', quantity: '4', notional: '200.00', fee: '0.40', feeCurrency: 'USD' });
      expect(takerFill.event.order).toMatchObject({ id: bidId, status: 'filled', filledQuantity: '4', remainingQuantity: '0' });
      for (const s of makerSockets) {
        const makerFill = await until(s, isPush('exchange.fill', askId));
        expect(makerFill.event.fill).toMatchObject({ id: takerFill.event.fill.id, orderId: askId, side: 'sell', liquidity: 'maker', price: '50.00', quantity: '4', notional: '200.00', fee: '0.20', feeCurrency: 'USD' });
        expect(makerFill.event.order).toMatchObject({ id: askId, status: 'open', filledQuantity: '4', remainingQuantity: '6', fees: '0.20' });
      }
      // The fill is the maker's own record too, as REST shows it.
      const makerFills = await t.call('GET', '/api/exchange/fills', { token: maker.token });
      expect(makerFills.body.items[0]).toEqual((await until(makerSockets[0]!, isPush('exchange.fill', askId))).event.fill);

      const cancel = await t.call('DELETE', `/api/exchange/orders/${askId}`, { token: maker.token });
      expect(cancel.status, cancel.text).toBe(200);
      for (const s of makerSockets) {
        const cancelled = (await until(s, (m) => m.type === 'push' && m.event.type === 'exchange.order' && m.event.order.status === 'cancelled')).event.order;
        expect(cancelled).toEqual(cancel.body);
        expect(cancelled).toMatchObject({ id: askId, cancelReason: 'user', remainingQuantity: '0' });
      }

      // Barriers: each person's own next push arrives after everything sent before it, so what
      // their sockets hold by then is all they will ever get about the trades above.
      const own = async (who: Person, socket: TestClient, price: string) => {
        const placed = await x.order(who, { side: 'buy', type: 'limit', price, quantity: '1' });
        expect(placed.status, placed.text).toBe(201);
        await until(socket, isPush('exchange.order', placed.body.order.id));
        return placed.body.order.id as string;
      };
      const bystanderOrder = await own(bystander, bystanderSocket, '1.00');
      const takerOrder = await own(taker, takerSocket, '1.01');
      const makerOrder = await own(maker, makerSockets[1]!, '1.02');

      expect(exchangePushes(bystanderSocket)).toEqual([{ type: 'exchange.order', order: expect.objectContaining({ id: bystanderOrder }) }]);
      const heardByBystander = JSON.stringify(bystanderSocket.received);
      for (const secret of [askId, bidId, takerFill.event.fill.id]) expect(heardByBystander).not.toContain(secret);
      expect(exchangePushes(takerSocket).map((p) => [p.type, p.order.id])).toEqual([
        ['exchange.fill', bidId],
        ['exchange.order', takerOrder],
      ]);
      expect(exchangePushes(makerSockets[1]!).map((p) => [p.type, p.order.id, p.order.status])).toEqual([
        ['exchange.order', askId, 'open'],
        ['exchange.fill', askId, 'open'],
        ['exchange.order', askId, 'cancelled'],
        ['exchange.order', makerOrder, 'open'],
      ]);
      for (const s of [...makerSockets, takerSocket, bystanderSocket]) await s.close();
    });

    it('book:<SYMBOL> gives a snapshot, then depth changes whose seq and prevSeq chain rebuilds the REST depth', async () => {
      const x = await openExchange(t);
      const traders = [await x.trader(), await x.trader(), await x.trader()];
      const early = await TestClient.ready(wsUrl()); // public feed: no sign-in
      const first = await early.request({ type: 'subscribe', topic: `book:${x.symbol}`, id: 'early' });
      expect(first).toMatchObject({ type: 'subscribed', topic: `book:${x.symbol}`, seq: 0, snapshot: { symbol: x.symbol, bids: [], asks: [] } });

      const rnd = mulberry32(20_250_101);
      const open = new Map<string, Person>();
      const randomAction = async (): Promise<void> => {
        const who = traders[Math.floor(rnd() * traders.length)]!;
        const roll = rnd();
        const mine = [...open.entries()].filter(([, p]) => p === who).map(([id]) => id);
        let res;
        if (roll < 0.12 && mine.length > 0) {
          res = await t.call('DELETE', `/api/exchange/orders/${mine[Math.floor(rnd() * mine.length)]}`, { token: who.token });
        } else if (roll < 0.24 && mine.length > 0) {
          const change = rnd() < 0.5 ? { quantity: '1' } : { price: (45 + Math.floor(rnd() * 21) / 2).toFixed(2) };
          res = await t.call('PATCH', `/api/exchange/orders/${mine[Math.floor(rnd() * mine.length)]}`, { token: who.token, json: change });
        } else if (roll < 0.32) {
          res = await x.order(who, { side: rnd() < 0.5 ? 'buy' : 'sell', type: 'market', quantity: String(1 + Math.floor(rnd() * 6)) });
        } else {
          const side = rnd() < 0.5 ? 'buy' : 'sell';
          const price = (45 + Math.floor(rnd() * 21) / 2).toFixed(2);
          res = await x.order(who, { side, type: 'limit', price, quantity: String(1 + Math.floor(rnd() * 10)), ...(rnd() < 0.15 && { timeInForce: 'ioc' }) });
        }
        expect(res.status, res.text).toBeLessThan(500);
        const order = res.body?.order ?? res.body;
        if (order?.id && order.status === 'open') open.set(order.id, who);
        else if (order?.id) open.delete(order.id);
      };
      // Batches run concurrently, so one group commit carries several commands.
      const batch = (n: number) => Promise.all(Array.from({ length: n }, () => randomAction()));

      for (let i = 0; i < 4; i++) await batch(6);
      // A second client subscribes while orders are in flight.
      const late = await TestClient.ready(wsUrl());
      late.send({ type: 'subscribe', topic: `book:${x.symbol}`, id: 'late' });
      await batch(6);
      // Halting and resuming take journal seqs without changing depth: the feed skips them.
      for (const action of ['halt', 'resume']) expect((await t.call('POST', `/api/exchange/instruments/${x.symbol}/${action}`, { token: x.admin })).status).toBe(200);
      for (let i = 0; i < 4; i++) await batch(6);
      const lastOrder = await x.order(traders[0]!, { side: 'buy', type: 'limit', price: '1.00', quantity: '1' });
      expect(lastOrder.status, lastOrder.text).toBe(201);

      const depth = await depthOf(x.symbol);
      const lateSubscribed = await until(late, (m) => m.type === 'subscribed');
      for (const [client, subscribed] of [
        [early, first],
        [late, lateSubscribed],
      ] as const) {
        await until(client, (m) => m.type === 'event' && m.seq === depth.seq);
        const events = client.received.filter((m) => m.type === 'event');
        expect(events.every((e) => e.topic === `book:${x.symbol}` && e.event.type === 'depth')).toBe(true);
        expect(events[0]!.event.prevSeq).toBeLessThanOrEqual(subscribed.seq);
        expect(events[0]!.seq).toBeGreaterThan(subscribed.seq);
        events.slice(1).forEach((e, i) => {
          expect(e.seq, `event ${i + 1}`).toBeGreaterThan(events[i]!.seq);
          expect(e.event.prevSeq, `event ${i + 1}`).toBe(events[i]!.seq);
        });
        expect(rebuild(subscribed.snapshot, events)).toEqual({ bids: priceLevels(depth.bids), asks: priceLevels(depth.asks) });
      }
      const earlyEvents = early.received.filter((m) => m.type === 'event');
      expect(earlyEvents[0]!.event.prevSeq).toBe(0);
      // The halt and resume left a gap in seq that prevSeq bridges.
      expect(earlyEvents.some((e) => e.seq > e.event.prevSeq + 1)).toBe(true);
      // The late client got exactly the early one's events after its snapshot.
      expect(late.received.filter((m) => m.type === 'event')).toEqual(earlyEvents.filter((e) => e.seq > lateSubscribed.seq));
      await early.close();
      await late.close();
    });

    it('an order that self-trade prevention cancels leaves the book feed as it leaves the book', async () => {
      const x = await openExchange(t);
      const trader = await x.trader();
      const watcher = await TestClient.ready(wsUrl());
      const subscribed = await watcher.request({ type: 'subscribe', topic: `book:${x.symbol}`, id: 'stp' });
      const ask = await x.order(trader, { side: 'sell', type: 'limit', price: '50.00', quantity: '5' });
      const bid = await x.order(trader, { side: 'buy', type: 'limit', price: '51.00', quantity: '2' });
      expect(bid.body.order).toMatchObject({ status: 'open', filledQuantity: '0' });
      expect((await t.call('GET', `/api/exchange/orders/${ask.body.order.id}`, { token: trader.token })).body).toMatchObject({ status: 'cancelled', cancelReason: 'self_trade' });
      const depth = await depthOf(x.symbol);
      expect(depth).toMatchObject({ bids: [['51.00', '2', 1]], asks: [] });
      await until(watcher, (m) => m.type === 'event' && m.seq === depth.seq);
      const events = watcher.received.filter((m) => m.type === 'event');
      expect(events.at(-1)!.event.changes).toContainEqual(['sell', '50.00', '0']);
      expect(rebuild(subscribed.snapshot, events)).toEqual({ bids: [['51.00', '2']], asks: [] });
      await watcher.close();
    });

    it('trades:<SYMBOL> sends every trade once, seq counting 1, 2, 3…', async () => {
      const x = await openExchange(t);
      const seller = await x.trader();
      const buyers = [await x.trader(), await x.trader()];
      const watcher = await TestClient.ready(wsUrl());
      expect(await watcher.request({ type: 'subscribe', topic: `trades:${x.symbol}`, id: 1 })).toMatchObject({ type: 'subscribed', seq: 0, snapshot: { symbol: x.symbol, trades: [] } });

      for (const price of ['50.00', '50.50', '51.00', '51.50', '52.00', '52.50']) expect((await x.order(seller, { side: 'sell', type: 'limit', price, quantity: '3' })).status).toBe(201);
      // One order sweeping three levels: three trades in one commit.
      const sweep = await x.order(buyers[0]!, { side: 'buy', type: 'limit', price: '51.00', quantity: '9' });
      expect(sweep.body.fills).toHaveLength(3);
      const late = await TestClient.ready(wsUrl());
      expect(await late.request({ type: 'subscribe', topic: `trades:${x.symbol}`, id: 2 })).toMatchObject({ type: 'subscribed', seq: 3 });
      // Concurrent takers: one group commit, trades from several commands.
      const takers = await Promise.all([
        x.order(buyers[0]!, { side: 'buy', type: 'market', quantity: '2' }),
        x.order(buyers[1]!, { side: 'buy', type: 'limit', price: '52.50', quantity: '4' }),
        x.order(buyers[1]!, { side: 'buy', type: 'limit', price: '52.50', quantity: '3', timeInForce: 'ioc' }),
      ]);
      for (const r of takers) expect(r.status, r.text).toBe(201);

      const rest = (await t.call('GET', `/api/exchange/instruments/${x.symbol}/trades?limit=500`)).body.items as Message[];
      const all = [...rest].reverse();
      expect(all.map((tr) => tr.seq)).toEqual(Array.from({ length: all.length }, (_, i) => i + 1));
      expect(all.length).toBeGreaterThanOrEqual(7);
      const last = all.length;
      await until(watcher, (m) => m.type === 'event' && m.seq === last);
      const events = watcher.received.filter((m) => m.type === 'event');
      expect(events.map((e) => e.seq)).toEqual(all.map((tr) => tr.seq));
      expect(events.map((e) => e.event)).toEqual(all.map((tr) => ({ type: 'trade', ...tr })));
      // The late subscriber: the first three in its snapshot (newest first), the rest as events.
      await until(late, (m) => m.type === 'event' && m.seq === last);
      const lateSnapshot = (late.received.find((m) => m.type === 'subscribed')!.snapshot.trades as Message[]).map((tr) => tr.seq);
      expect(lateSnapshot).toEqual([3, 2, 1]);
      expect(late.received.filter((m) => m.type === 'event').map((e) => e.seq)).toEqual(all.map((tr) => tr.seq).filter((s) => s > 3));
      await watcher.close();
      await late.close();
    });

    it('orders are placed, amended and cancelled over the socket with the answers REST gives', async () => {
      const x = await openExchange(t);
      const alice = await x.trader(1_000_000n, 100n);
      const bob = await x.trader();
      const base = x.symbol.split('-')[0]!;
      const socket = await signedIn(alice);

      const placed = await command(socket, 'exchange.order', { symbol: x.symbol, side: 'sell', type: 'limit', price: '60.00', quantity: '10', clientOrderId: 'ws-1' });
      expect(placed, JSON.stringify(placed)).toMatchObject({ type: 'result', ok: true, result: { order: { status: 'open', clientOrderId: 'ws-1', price: '60.00', remainingQuantity: '10' }, fills: [], repeated: false } });
      const orderId = placed.result.order.id as string;
      expect((await t.call('GET', `/api/exchange/orders/${orderId}`, { token: alice.token })).body).toEqual(placed.result.order);
      expect(await x.wallet(alice, base)).toMatchObject({ held: '10', available: '90' });
      // The same client order id again answers the first order.
      const again = await command(socket, 'exchange.order', { symbol: x.symbol, side: 'sell', type: 'limit', price: '60.00', quantity: '10', clientOrderId: 'ws-1' });
      expect(again.result).toMatchObject({ order: { id: orderId }, repeated: true });

      const smaller = await command(socket, 'exchange.amend', { orderId, quantity: '6' });
      expect(smaller.result).toMatchObject({ order: { id: orderId, quantity: '6', remainingQuantity: '6', price: '60.00' }, fills: [] });
      expect(await x.wallet(alice, base)).toMatchObject({ held: '6' });
      expect((await x.order(bob, { side: 'buy', type: 'limit', price: '59.00', quantity: '2' })).status).toBe(201);
      // A new price that crosses trades at once, and the answer carries the fill.
      const crossing = await command(socket, 'exchange.amend', { orderId, price: '59.00' });
      expect(crossing.result).toMatchObject({ order: { id: orderId, price: '59.00', filledQuantity: '2', remainingQuantity: '4' }, fills: [{ side: 'sell', liquidity: 'taker', price: '59.00', quantity: '2' }] });

      const cancelled = await command(socket, 'exchange.cancel', { orderId });
      expect(cancelled.result.order).toMatchObject({ id: orderId, status: 'cancelled', cancelReason: 'user', remainingQuantity: '0' });
      expect(await x.wallet(alice, base)).toMatchObject({ held: '0', available: '98' });
      const twice = await command(socket, 'exchange.cancel', { orderId });
      const twiceRest = await t.call('DELETE', `/api/exchange/orders/${orderId}`, { token: alice.token });
      expect(twice).toMatchObject({ ok: false, problem: { status: 409, code: 'ORDER_NOT_OPEN' } });
      expect(twiceRest.body).toMatchObject({ status: 409, code: 'ORDER_NOT_OPEN' });

      const ids: string[] = [];
      for (const price of ['70.00', '71.00']) ids.push((await command(socket, 'exchange.order', { symbol: x.symbol, side: 'sell', type: 'limit', price, quantity: '1' })).result.order.id);
      const all = await command(socket, 'exchange.cancel_all', { symbol: x.symbol });
      expect(all.result.cancelled.map((o: Message) => [o.id, o.status, o.cancelReason]).sort()).toEqual(ids.map((id) => [id, 'cancelled', 'cancel_all']).sort());
      expect((await command(socket, 'exchange.cancel_all', {})).result).toEqual({ cancelled: [] });
      expect(await x.wallet(alice, base)).toMatchObject({ held: '0' });

      // An id in capitals names the same order, as it does on REST.
      const upper = (await command(socket, 'exchange.order', { symbol: x.symbol, side: 'sell', type: 'limit', price: '80.00', quantity: '1' })).result.order.id as string;
      const byCapitals = await command(socket, 'exchange.cancel', { orderId: upper.toUpperCase() });
      expect(byCapitals, JSON.stringify(byCapitals)).toMatchObject({ ok: true, result: { order: { id: upper, status: 'cancelled' } } });
      await socket.close();
    });

    it('a bad order over the socket gets the problem REST gives it, and an unsigned socket cannot trade', async () => {
      const x = await openExchange(t, { tickSize: '0.05', maxQuantity: '100000' });
      const alice = await x.trader();
      const bob = await x.trader();
      const bobs = await x.order(bob, { side: 'buy', type: 'limit', price: '40.00', quantity: '1' });
      const aliceOrder = await x.order(alice, { side: 'sell', type: 'limit', price: '60.00', quantity: '2' });
      const socket = await signedIn(alice);
      const good = { symbol: x.symbol, side: 'buy', type: 'limit', price: '50.00', quantity: '3' };
      const before = await depthOf(x.symbol);
      const wallets = [await x.wallet(alice, 'USD'), await x.wallet(bob, 'USD')];

      const rows: Array<{ name: string; command: string; args: Record<string, unknown>; rest: () => ReturnType<TestNode['call']>; code: string; field?: string }> = [];
      const orderRow = (name: string, args: Record<string, unknown>, code: string, field?: string) =>
        rows.push({ name, command: 'exchange.order', args, rest: () => t.call('POST', '/api/exchange/orders', { token: alice.token, json: args }), code, ...(field && { field }) });
      orderRow('price not on the tick', { ...good, price: '50.03' }, 'PRICE_NOT_ON_TICK', 'price');
      orderRow('an unknown field', { ...good, stopPrice: '49.00' }, 'VALIDATION', 'stopPrice');
      orderRow('a side that is not buy or sell', { ...good, side: 'hold' }, 'VALIDATION', 'side');
      orderRow('a quantity as a number', { ...good, quantity: 3 }, 'VALIDATION', 'quantity');
      orderRow('no quantity', { symbol: x.symbol, side: 'buy', type: 'limit', price: '50.00' }, 'VALIDATION', 'quantity');
      orderRow('a negative price', { ...good, price: '-50.00' }, 'VALIDATION', 'price');
      orderRow('a market order with a price', { ...good, type: 'market', timeInForce: 'ioc' }, 'PRICE_NOT_ALLOWED', 'price');
      orderRow('post-only IOC', { ...good, postOnly: true, timeInForce: 'ioc' }, 'POST_ONLY_NOT_GTC', 'timeInForce');
      orderRow('a fractional quantity of a whole asset', { ...good, quantity: '1.5' }, 'QUANTITY_INVALID', 'quantity');
      orderRow('a malformed symbol', { ...good, symbol: 'acme-usd' }, 'VALIDATION', 'symbol');
      orderRow('an unknown symbol', { ...good, symbol: 'NOPE-USD' }, 'NOT_FOUND');
      const bobsId = bobs.body.order.id as string;
      const aliceId = aliceOrder.body.order.id as string;
      rows.push({ name: 'cancel someone else’s order', command: 'exchange.cancel', args: { orderId: bobsId }, rest: () => t.call('DELETE', `/api/exchange/orders/${bobsId}`, { token: alice.token }), code: 'NOT_FOUND' });
      rows.push({ name: 'cancel a malformed id', command: 'exchange.cancel', args: { orderId: 'nope' }, rest: () => t.call('DELETE', '/api/exchange/orders/nope', { token: alice.token }), code: 'VALIDATION' });
      rows.push({ name: 'amend someone else’s order', command: 'exchange.amend', args: { orderId: bobsId, quantity: '1' }, rest: () => t.call('PATCH', `/api/exchange/orders/${bobsId}`, { token: alice.token, json: { quantity: '1' } }), code: 'NOT_FOUND' });
      rows.push({ name: 'amend nothing', command: 'exchange.amend', args: { orderId: aliceId }, rest: () => t.call('PATCH', `/api/exchange/orders/${aliceId}`, { token: alice.token, json: {} }), code: 'VALIDATION', field: 'quantity' });
      rows.push({ name: 'amend off the tick', command: 'exchange.amend', args: { orderId: aliceId, price: '61.01' }, rest: () => t.call('PATCH', `/api/exchange/orders/${aliceId}`, { token: alice.token, json: { price: '61.01' } }), code: 'PRICE_NOT_ON_TICK', field: 'price' });
      rows.push({ name: 'amend to more', command: 'exchange.amend', args: { orderId: aliceId, quantity: '3' }, rest: () => t.call('PATCH', `/api/exchange/orders/${aliceId}`, { token: alice.token, json: { quantity: '3' } }), code: 'AMEND_NOT_SMALLER', field: 'quantity' });
      rows.push({ name: 'cancel all on a malformed symbol', command: 'exchange.cancel_all', args: { symbol: 'bad' }, rest: () => t.call('DELETE', '/api/exchange/orders?symbol=bad', { token: alice.token }), code: 'VALIDATION', field: 'symbol' });
      rows.push({ name: 'cancel all on an unknown symbol', command: 'exchange.cancel_all', args: { symbol: 'NOPE-USD' }, rest: () => t.call('DELETE', '/api/exchange/orders?symbol=NOPE-USD', { token: alice.token }), code: 'NOT_FOUND' });

      for (const row of rows) {
        const viaSocket = await command(socket, row.command, row.args);
        const viaRest = await row.rest();
        expect(viaSocket, row.name).toMatchObject({ type: 'result', ok: false, problem: { code: row.code, status: viaRest.status } });
        expect(viaRest.body, row.name).toMatchObject({ code: row.code });
        if (row.field) {
          const fields = (p: { errors?: Array<{ field: string }> }) => (p.errors ?? []).map((e) => e.field);
          expect(fields(viaSocket.problem), row.name).toContain(row.field);
          expect(fields(viaRest.body), row.name).toContain(row.field);
        }
      }
      // Arguments that are not an object at all.
      for (const args of [null, [], 'buy', 42]) {
        expect(await command(socket, 'exchange.order', args), JSON.stringify(args)).toMatchObject({ ok: false, problem: { status: 400, code: 'VALIDATION' } });
      }

      // No sign-in, or a token that is not one: refused, nothing placed.
      const anonymous = await TestClient.ready(wsUrl());
      const forged = await TestClient.ready(wsUrl());
      expect(await forged.request({ type: 'auth', token: 'gvl_not-a-token', id: 'auth' })).toMatchObject({ type: 'error', code: 'INVALID_CREDENTIALS' });
      for (const s of [anonymous, forged]) {
        for (const [name, args] of [
          ['exchange.order', good],
          ['exchange.cancel', { orderId: bobsId }],
          ['exchange.amend', { orderId: bobsId, quantity: '1' }],
          ['exchange.cancel_all', {}],
        ] as const) {
          expect(await command(s, name, args), name).toMatchObject({ ok: false, problem: { status: 401, code: 'UNAUTHENTICATED' } });
        }
        await s.close();
      }

      expect(await depthOf(x.symbol)).toEqual(before);
      expect([await x.wallet(alice, 'USD'), await x.wallet(bob, 'USD')]).toEqual(wallets);
      expect((await t.call('GET', `/api/exchange/orders/${bobsId}`, { token: bob.token })).body).toMatchObject({ status: 'open', remainingQuantity: '1' });
      expect((await t.call('GET', '/api/exchange/orders?status=open', { token: alice.token })).body.items.map((o: Message) => o.id)).toEqual([aliceId]);
      await socket.close();
    });
  });
}
