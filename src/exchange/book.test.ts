import { describe, expect, it } from 'vitest';
import { orderStream } from '../../test/support/order-streams.js';
import { mulberry32 } from '../../test/support/random.js';
import { MAX_LOTS, OrderBook, type IncomingOrder, type PlaceResult, type Side } from './book.js';
import { MAX_ORDER_LOTS, MAX_PRICE_TICKS } from './model.js';

let next = 0;
function order(side: Side, priceTicks: number, qtyLots: number, over: Partial<IncomingOrder> = {}): IncomingOrder {
  return { id: `o${++next}`, userId: `u${next}`, side, priceTicks, qtyLots, tif: 'gtc', postOnly: false, ...over };
}

/** Fills as [maker, price, qty] for short assertions. */
const fillsOf = (r: PlaceResult) => r.fills.map((f) => [f.makerOrderId, f.priceTicks, f.qtyLots]);

/** Resting order ids of one level, head first, walking the queue both ways to check its links. */
function queueAt(book: OrderBook, side: Side, priceTicks: number): string[] {
  const ids = [...book.restingOrders()].filter((o) => o.side === side && o.priceTicks === priceTicks).map((o) => o.id);
  expect(book.queueAt(side, priceTicks), 'prev links agree with next links').toEqual(ids);
  const level = book.depth(Number.MAX_SAFE_INTEGER)[side === 'buy' ? 'bids' : 'asks'].find(([price]) => price === priceTicks);
  expect(level?.[2] ?? 0, 'the level counts its orders').toBe(ids.length);
  return ids;
}

describe('an empty book', () => {
  it('has no touch and no depth', () => {
    const book = new OrderBook();
    expect([book.bestBid(), book.bestAsk(), book.size]).toEqual([null, null, 0]);
    expect(book.depth(10)).toEqual({ bids: [], asks: [] });
  });

  it('rests a GTC order that finds nothing, at its own price', () => {
    const book = new OrderBook();
    const r = book.place(order('buy', 100, 5));
    expect(r).toEqual({ rejection: null, fills: [], selfTradeCancels: [], filledLots: 0, restingLots: 5, cancelledLots: 0 });
    expect(book.bestBid()).toBe(100);
    expect(book.depth(10)).toEqual({ bids: [[100, 5, 1]], asks: [] });
  });
});

describe('price levels', () => {
  it('list each side best first, summing lots and counting orders per level', () => {
    const book = new OrderBook();
    for (const [side, price, qty] of [
      ['buy', 99, 1],
      ['buy', 101, 2],
      ['buy', 100, 3],
      ['buy', 101, 4],
      ['sell', 105, 5],
      ['sell', 103, 6],
      ['sell', 104, 7],
      ['sell', 103, 8],
    ] as const) {
      book.place(order(side, price, qty));
    }
    expect(book.depth(10)).toEqual({
      bids: [
        [101, 6, 2],
        [100, 3, 1],
        [99, 1, 1],
      ],
      asks: [
        [103, 14, 2],
        [104, 7, 1],
        [105, 5, 1],
      ],
    });
    expect(book.depth(1)).toEqual({ bids: [[101, 6, 2]], asks: [[103, 14, 2]] });
    expect([book.bestBid(), book.bestAsk()]).toEqual([101, 103]);
    expect([book.lotsAt('buy', 101), book.lotsAt('sell', 104), book.lotsAt('sell', 101)]).toEqual([6, 7, 0]);
  });

  it('stay sorted and drop exactly the emptied level, wherever it is, over many random inserts and cancels', () => {
    const random = mulberry32(42);
    const book = new OrderBook();
    const live = new Map<string, number>();
    for (let n = 0; n < 3_000; n++) {
      if (live.size > 0 && random() < 0.45) {
        const ids = [...live.keys()];
        const id = ids[Math.floor(random() * ids.length)]!;
        book.cancel(id);
        live.delete(id);
      } else {
        // Bids only, so nothing trades: this exercises the sorted price array alone.
        const o = order('buy', 1 + Math.floor(random() * 200), 1);
        book.place(o);
        live.set(o.id, o.priceTicks);
      }
      if (n % 100 === 0 || n === 2_999) {
        const expected = [...new Set(live.values())].sort((a, b) => b - a);
        expect(book.depth(1_000).bids.map(([price]) => price), `after op ${n}`).toEqual(expected);
      }
    }
  });
});

describe('matching', () => {
  it('takes the better price first, then the oldest order at a price, and fills at the maker price', () => {
    const book = new OrderBook();
    const worse = order('sell', 102, 1);
    const oldest = order('sell', 101, 1);
    const newer = order('sell', 101, 1);
    for (const o of [worse, oldest, newer]) book.place(o);
    const taker = order('buy', 105, 3);
    const r = book.place(taker);
    expect(fillsOf(r)).toEqual([
      [oldest.id, 101, 1],
      [newer.id, 101, 1],
      [worse.id, 102, 1],
    ]);
    expect(r.fills.every((f) => f.takerOrderId === taker.id && f.takerUserId === taker.userId)).toBe(true);
    expect(r.filledLots).toBe(3);
    expect(book.size).toBe(0);
  });

  it('a sell taker gets the bid price (the higher one), not its own lower limit', () => {
    const book = new OrderBook();
    const bid = order('buy', 100, 4);
    book.place(bid);
    const r = book.place(order('sell', 90, 4));
    expect(fillsOf(r)).toEqual([[bid.id, 100, 4]]);
  });

  it("a partly filled maker keeps its place at the head with what is left, and reports it in the fill", () => {
    const book = new OrderBook();
    const first = order('sell', 100, 10);
    const second = order('sell', 100, 10);
    book.place(first);
    book.place(second);
    const r = book.place(order('buy', 100, 4));
    expect(r.fills[0]).toMatchObject({ makerOrderId: first.id, qtyLots: 4, makerRemainingLots: 6 });
    expect(queueAt(book, 'sell', 100)).toEqual([first.id, second.id]);
    expect(book.get(first.id)!.remainingLots).toBe(6);
    expect(book.depth(1).asks).toEqual([[100, 16, 2]]);
  });

  it('a taker walks the levels within its limit and rests the rest at its own limit', () => {
    const book = new OrderBook();
    book.place(order('sell', 100, 2));
    book.place(order('sell', 101, 2));
    const beyond = order('sell', 103, 2);
    book.place(beyond);
    const taker = order('buy', 102, 10);
    const r = book.place(taker);
    expect(r.fills.map((f) => f.priceTicks)).toEqual([100, 101]);
    expect(r).toMatchObject({ filledLots: 4, restingLots: 6, cancelledLots: 0 });
    expect(book.depth(5)).toEqual({ bids: [[102, 6, 1]], asks: [[103, 2, 1]] });
  });

  it('an order at a price that does not reach the other side rests without trading', () => {
    const book = new OrderBook();
    book.place(order('sell', 101, 1));
    const r = book.place(order('buy', 100, 1));
    expect(r.fills).toEqual([]);
    expect([book.bestBid(), book.bestAsk()]).toEqual([100, 101]);
  });

  it('an order at exactly the best opposite price trades', () => {
    const book = new OrderBook();
    book.place(order('buy', 100, 1));
    expect(book.place(order('sell', 100, 1)).filledLots).toBe(1);
  });

  it('IOC trades what it can and cancels the rest: nothing of it rests', () => {
    const book = new OrderBook();
    book.place(order('sell', 100, 3));
    const ioc = order('buy', 100, 5, { tif: 'ioc' });
    const r = book.place(ioc);
    expect(r).toMatchObject({ filledLots: 3, restingLots: 0, cancelledLots: 2 });
    expect(book.get(ioc.id)).toBeUndefined();
    expect(book.depth(5)).toEqual({ bids: [], asks: [] });
  });

  it('IOC that finds nothing cancels all of itself', () => {
    const book = new OrderBook();
    const r = book.place(order('sell', 100, 5, { tif: 'ioc' }));
    expect(r).toMatchObject({ fills: [], filledLots: 0, restingLots: 0, cancelledLots: 5 });
    expect(book.size).toBe(0);
  });

  it('refuses an id that is resting already, changing nothing', () => {
    const book = new OrderBook();
    const o = order('sell', 100, 5);
    book.place(o);
    const r = book.place({ ...o, side: 'buy', priceTicks: 200, userId: 'someone' });
    expect(r.rejection).toBe('ORDER_ID_EXISTS');
    expect(book.depth(5)).toEqual({ bids: [], asks: [[100, 5, 1]] });
  });
});

describe('fill or kill', () => {
  function bookWithAsks() {
    const book = new OrderBook();
    book.place(order('sell', 100, 3, { userId: 'alice' }));
    book.place(order('sell', 101, 3, { userId: 'bob' }));
    return book;
  }

  it('trades its whole quantity when the book holds enough within its limit', () => {
    const book = bookWithAsks();
    const r = book.place(order('buy', 101, 5, { tif: 'fok' }));
    expect(r).toMatchObject({ rejection: null, filledLots: 5, restingLots: 0, cancelledLots: 0 });
    expect(book.depth(5).asks).toEqual([[101, 1, 1]]);
  });

  it('is refused with nothing changed when the book holds less within its limit', () => {
    const book = bookWithAsks();
    const before = book.depth(10);
    const r = book.place(order('buy', 100, 4, { tif: 'fok' }));
    expect(r).toMatchObject({ rejection: 'FOK_NOT_FILLABLE', fills: [], selfTradeCancels: [], filledLots: 0 });
    expect(book.depth(10)).toEqual(before);
  });

  it("does not count the trader's own resting orders, which self-trade prevention would cancel", () => {
    const book = bookWithAsks();
    const before = book.depth(10);
    // alice's 3 at 100 are hers: only bob's 3 could fill her, so 4 is too many.
    const r = book.place(order('buy', 101, 4, { tif: 'fok', userId: 'alice' }));
    expect(r.rejection).toBe('FOK_NOT_FILLABLE');
    expect(book.depth(10)).toEqual(before);
    // 3 is fillable: her own resting order goes (self-trade) and bob's fills her.
    const ok = book.place(order('buy', 101, 3, { tif: 'fok', userId: 'alice' }));
    expect(ok.selfTradeCancels.map((c) => c.userId)).toEqual(['alice']);
    expect(ok.filledLots).toBe(3);
  });
});

describe('post-only', () => {
  it('rests when it would not trade', () => {
    const book = new OrderBook();
    book.place(order('sell', 101, 1));
    const r = book.place(order('buy', 100, 2, { postOnly: true }));
    expect(r).toMatchObject({ rejection: null, restingLots: 2 });
  });

  it('is refused with nothing changed when it would take liquidity, also at exactly the touch', () => {
    const book = new OrderBook();
    book.place(order('sell', 101, 1));
    const before = book.depth(10);
    for (const price of [101, 150]) {
      const r = book.place(order('buy', price, 2, { postOnly: true }));
      expect(r, `buy at ${price}`).toMatchObject({ rejection: 'POST_ONLY_WOULD_CROSS', fills: [], restingLots: 0 });
    }
    expect(book.depth(10)).toEqual(before);
  });
});

describe('self-trade prevention', () => {
  it('cancels the resting order of the same user and goes on matching with the next', () => {
    const book = new OrderBook();
    const mine = order('sell', 100, 4, { userId: 'me' });
    const theirs = order('sell', 100, 4, { userId: 'them' });
    book.place(mine);
    book.place(theirs);
    const r = book.place(order('buy', 100, 6, { userId: 'me' }));
    expect(r.selfTradeCancels).toEqual([{ orderId: mine.id, userId: 'me', remainingLots: 4 }]);
    expect(fillsOf(r)).toEqual([[theirs.id, 100, 4]]);
    expect(r).toMatchObject({ filledLots: 4, restingLots: 2 });
    expect(book.get(mine.id)).toBeUndefined();
    expect(book.depth(5)).toEqual({ bids: [[100, 2, 1]], asks: [] });
  });

  it('a level holding only the trader\'s own orders disappears, and the incoming order may rest there', () => {
    const book = new OrderBook();
    book.place(order('buy', 100, 1, { userId: 'me' }));
    book.place(order('buy', 100, 1, { userId: 'me' }));
    const r = book.place(order('sell', 100, 3, { userId: 'me' }));
    expect(r.selfTradeCancels).toHaveLength(2);
    expect(r.fills).toEqual([]);
    expect(book.depth(5)).toEqual({ bids: [], asks: [[100, 3, 1]] });
  });

  it('does not cancel own orders beyond the taker\'s limit or once the taker is done', () => {
    const book = new OrderBook();
    const theirs = order('sell', 100, 2, { userId: 'them' });
    const mineAfter = order('sell', 100, 2, { userId: 'me' });
    const mineBeyond = order('sell', 102, 2, { userId: 'me' });
    for (const o of [theirs, mineAfter, mineBeyond]) book.place(o);
    const r = book.place(order('buy', 101, 2, { userId: 'me' }));
    expect(r.selfTradeCancels).toEqual([]);
    expect(book.get(mineAfter.id)).toBeDefined();
    expect(book.get(mineBeyond.id)).toBeDefined();
  });
});

describe('cancel', () => {
  it('unlinks an order from the head, middle or tail of its level, keeping the others in order', () => {
    for (const victim of [0, 2, 4]) {
      const book = new OrderBook();
      const ids = Array.from({ length: 5 }, () => {
        const o = order('sell', 100, 1);
        book.place(o);
        return o.id;
      });
      const cancelled = book.cancel(ids[victim]!);
      expect(cancelled?.id).toBe(ids[victim]);
      expect(queueAt(book, 'sell', 100)).toEqual(ids.filter((_, i) => i !== victim));
      expect(book.depth(1).asks).toEqual([[100, 4, 4]]);
    }
  });

  it('the level disappears with its last order; the next level becomes the touch', () => {
    const book = new OrderBook();
    const top = order('buy', 101, 1);
    book.place(top);
    book.place(order('buy', 100, 1));
    book.cancel(top.id);
    expect(book.bestBid()).toBe(100);
    expect(book.lotsAt('buy', 101)).toBe(0);
    expect(book.depth(5).bids).toEqual([[100, 1, 1]]);
  });

  it('answers undefined for an order that is not resting (unknown, filled, cancelled already)', () => {
    const book = new OrderBook();
    const maker = order('sell', 100, 1);
    book.place(maker);
    book.place(order('buy', 100, 1));
    expect(book.cancel(maker.id)).toBeUndefined();
    expect(book.cancel('nope')).toBeUndefined();
    const o = order('sell', 100, 1);
    book.place(o);
    expect(book.cancel(o.id)).toBeDefined();
    expect(book.cancel(o.id)).toBeUndefined();
  });

  it('a cancelled order in a long queue leaves the matching order of the rest unchanged', () => {
    const book = new OrderBook();
    const ids: string[] = [];
    for (let i = 0; i < 1_000; i++) {
      const o = order('sell', 100, 1);
      book.place(o);
      ids.push(o.id);
    }
    for (let i = 1; i < 1_000; i += 2) book.cancel(ids[i]!);
    const r = book.place(order('buy', 100, 500));
    expect(r.fills.map((f) => f.makerOrderId)).toEqual(ids.filter((_, i) => i % 2 === 0));
    expect(book.size).toBe(0);
  });
});

describe('reduce', () => {
  it('lowers the remaining lots in place: the order keeps its queue position', () => {
    const book = new OrderBook();
    const first = order('sell', 100, 10);
    const second = order('sell', 100, 10);
    book.place(first);
    book.place(second);
    expect(book.reduce(first.id, 3)).toBe(true);
    expect(book.depth(1).asks).toEqual([[100, 13, 2]]);
    const r = book.place(order('buy', 100, 5));
    expect(fillsOf(r)).toEqual([
      [first.id, 100, 3],
      [second.id, 100, 2],
    ]);
  });

  it('refuses a figure that is not smaller and positive, or an order that is not resting', () => {
    const book = new OrderBook();
    const o = order('sell', 100, 5);
    book.place(o);
    for (const lots of [5, 6, 0, -1]) expect(book.reduce(o.id, lots), `to ${lots}`).toBe(false);
    expect(book.reduce('nope', 1)).toBe(false);
    expect(book.depth(1).asks).toEqual([[100, 5, 1]]);
  });
});

describe('queries', () => {
  it('restingOrders lists bids then asks, best level first and oldest first; ordersOf finds one user\'s', () => {
    const book = new OrderBook();
    const a = order('buy', 100, 1, { userId: 'x' });
    const b = order('buy', 101, 1);
    const c = order('buy', 101, 1, { userId: 'x' });
    const d = order('sell', 110, 1, { userId: 'x' });
    for (const o of [a, b, c, d]) book.place(o);
    expect([...book.restingOrders()].map((o) => o.id)).toEqual([b.id, c.id, a.id, d.id]);
    expect(book.ordersOf('x').map((o) => o.id).sort()).toEqual([a.id, c.id, d.id].sort());
  });
});

describe('the order index and the reuse of slots and levels', () => {
  it('finds every resting order by id and none that left, while the book grows to 30,000 orders and shrinks back to 50', () => {
    const random = mulberry32(7);
    const book = new OrderBook();
    const live = new Map<string, number>();
    const gone: string[] = [];
    const check = (at: string) => {
      for (const [id, lots] of live) if (book.get(id)?.remainingLots !== lots) throw new Error(`${at}: ${id} should rest with ${lots} lots`);
      for (const id of gone.slice(-500)) if (book.get(id) !== undefined) throw new Error(`${at}: ${id} left the book`);
      expect(book.size, at).toBe(live.size);
    };
    // Bids only (nothing trades), over 300 prices: the index takes every id, then gives most back.
    for (let n = 0; n < 30_000; n++) {
      const o = order('buy', 1 + Math.floor(random() * 300), 1 + Math.floor(random() * 9));
      expect(book.place(o).restingLots).toBe(o.qtyLots);
      live.set(o.id, o.qtyLots);
      if (n % 5_000 === 4_999) check(`after ${n + 1} places`);
    }
    const ids = [...live.keys()];
    for (let i = ids.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [ids[i], ids[j]] = [ids[j]!, ids[i]!];
    }
    for (const [n, id] of ids.slice(50).entries()) {
      expect(book.cancel(id)?.id).toBe(id);
      live.delete(id);
      gone.push(id);
      if (n % 5_000 === 4_999) check(`after ${n + 1} cancels`);
    }
    check('at 50 orders');
    // What is left still trades in price-time order: sell into all of it.
    const expectedMakers = [...book.restingOrders()].map((o) => o.id);
    const r = book.place(order('sell', 1, [...live.values()].reduce((a, b) => a + b, 0), { tif: 'ioc' }));
    expect(r.fills.map((f) => f.makerOrderId)).toEqual(expectedMakers);
    expect(book.size).toBe(0);
  });

  it('takes an id again once its order has left (an amendment re-places the same id), and refuses it while it rests', () => {
    const book = new OrderBook();
    const o = order('sell', 100, 5);
    book.place(o);
    expect(book.place({ ...o, priceTicks: 101 }).rejection).toBe('ORDER_ID_EXISTS');
    book.cancel(o.id);
    expect(book.place({ ...o, priceTicks: 101 })).toMatchObject({ rejection: null, restingLots: 5 });
    expect(book.get(o.id)).toEqual({ id: o.id, userId: o.userId, side: 'sell', priceTicks: 101, remainingLots: 5 });
    // Filled away, then placed again as a buy.
    book.place(order('buy', 101, 5));
    expect(book.get(o.id)).toBeUndefined();
    expect(book.place({ ...o, side: 'buy', priceTicks: 90 }).restingLots).toBe(5);
    expect(book.depth(5)).toEqual({ bids: [[90, 5, 1]], asks: [] });
  });

  it('a level emptied and made again at another price starts clean', () => {
    const book = new OrderBook();
    const a = order('sell', 100, 3);
    book.place(a);
    book.cancel(a.id);
    const b = order('sell', 105, 2);
    book.place(b);
    expect(book.depth(5).asks).toEqual([[105, 2, 1]]);
    expect(queueAt(book, 'sell', 105)).toEqual([b.id]);
    expect(book.lotsAt('sell', 100)).toBe(0);
  });

  it('answers copies: a RestingOrder it handed out does not change with the book, and one result does not change with the next', () => {
    const book = new OrderBook();
    const maker = order('sell', 100, 10);
    book.place(maker);
    const before = book.get(maker.id)!;
    const first = book.place(order('buy', 100, 4));
    const second = book.place(order('buy', 100, 1));
    expect(before.remainingLots).toBe(10);
    expect(first.fills.map((f) => f.makerRemainingLots)).toEqual([6]);
    expect(second.fills.map((f) => f.makerRemainingLots)).toEqual([5]);
    expect(book.get(maker.id)!.remainingLots).toBe(5);
  });

  it('rests and trades at prices past 2^31 ticks, up to the model\'s highest', () => {
    const book = new OrderBook();
    const high = order('sell', MAX_PRICE_TICKS, 2);
    const mid = order('sell', 3_000_000_000, 2);
    book.place(high);
    book.place(mid);
    expect(book.bestAsk()).toBe(3_000_000_000);
    const r = book.place(order('buy', MAX_PRICE_TICKS, 3));
    expect(fillsOf(r)).toEqual([
      [mid.id, 3_000_000_000, 2],
      [high.id, MAX_PRICE_TICKS, 1],
    ]);
    expect(book.depth(5).asks).toEqual([[MAX_PRICE_TICKS, 1, 1]]);
  });

  it('carries the model\'s largest order, and refuses a quantity or price no caller should send', () => {
    expect(MAX_ORDER_LOTS).toBeLessThanOrEqual(MAX_LOTS);
    const book = new OrderBook();
    const big = order('sell', 100, MAX_LOTS);
    book.place(big);
    expect(book.place(order('buy', 100, MAX_ORDER_LOTS)).fills[0]).toMatchObject({ qtyLots: MAX_ORDER_LOTS, makerRemainingLots: MAX_LOTS - MAX_ORDER_LOTS });
    for (const qtyLots of [0, -1, 1.5, MAX_LOTS + 1, Number.NaN]) expect(() => book.place(order('buy', 100, qtyLots)), `${qtyLots} lots`).toThrow(RangeError);
    for (const priceTicks of [0, -5, 100.5, Number.MAX_SAFE_INTEGER + 1]) expect(() => book.place(order('buy', priceTicks, 1)), `price ${priceTicks}`).toThrow(RangeError);
    expect(() => book.reduce(big.id, 2.5)).toThrow(RangeError);
    expect(book.depth(5).asks).toEqual([[100, MAX_LOTS - MAX_ORDER_LOTS, 1]]);
  });
});

describe('properties over seeded streams', () => {
  for (const profile of ['mixed', 'resting', 'crossing'] as const) {
    for (const seed of [3, 11]) {
      it(`${profile} stream, seed ${seed}: never crossed; every order's lots are filled, resting or cancelled; fills within both prices`, () => {
        const book = new OrderBook();
        const placed = new Map<string, { side: Side; priceTicks: number; qtyLots: number }>();
        const filled = new Map<string, number>();
        const cancelled = new Map<string, number>();
        const add = (m: Map<string, number>, id: string, lots: number) => m.set(id, (m.get(id) ?? 0) + lots);
        // Checked with plain ifs (thousands of fills): the list names each broken rule and op.
        const problems: string[] = [];
        let n = 0;
        for (const op of orderStream(profile, 3_000, seed)) {
          n += 1;
          const at = `op ${n} (${op.kind} ${op.id})`;
          if (op.kind === 'cancel') {
            const gone = book.cancel(op.id);
            if (gone) add(cancelled, op.id, gone.remainingLots);
          } else {
            // A market order as IOC far through the book: the band is the model's business.
            const o: IncomingOrder =
              op.kind === 'market'
                ? { id: op.id, userId: op.userId, side: op.side, priceTicks: op.side === 'buy' ? 1e9 : 1, qtyLots: op.qtyLots, tif: 'ioc', postOnly: false }
                : { id: op.id, userId: op.userId, side: op.side, priceTicks: op.priceTicks, qtyLots: op.qtyLots, tif: 'gtc', postOnly: false };
            placed.set(o.id, o);
            const r = book.place(o);
            if (r.filledLots + r.restingLots + r.cancelledLots !== o.qtyLots) problems.push(`${at}: filled + resting + cancelled is not the quantity`);
            add(cancelled, o.id, r.cancelledLots);
            for (const f of r.fills) {
              if (f.priceTicks !== placed.get(f.makerOrderId)!.priceTicks) problems.push(`${at}: fill not at the maker's price`);
              if (o.side === 'buy' ? f.priceTicks > o.priceTicks : f.priceTicks < o.priceTicks) problems.push(`${at}: fill beyond the taker's limit`);
              if (f.makerUserId === f.takerUserId) problems.push(`${at}: self-trade`);
              add(filled, f.makerOrderId, f.qtyLots);
              add(filled, f.takerOrderId, f.qtyLots);
            }
            for (const c of r.selfTradeCancels) add(cancelled, c.orderId, c.remainingLots);
          }
          const [bid, ask] = [book.bestBid(), book.bestAsk()];
          if (bid !== null && ask !== null && bid >= ask) problems.push(`${at}: book crossed, bid ${bid} ask ${ask}`);
        }
        expect(problems).toEqual([]);
        for (const [id, o] of placed) {
          const resting = book.get(id)?.remainingLots ?? 0;
          expect((filled.get(id) ?? 0) + resting + (cancelled.get(id) ?? 0), `lots of ${id}`).toBe(o.qtyLots);
        }
      });
    }
  }
});
