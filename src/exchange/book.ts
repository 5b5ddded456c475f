// The order book: the pure matching core of one instrument (DESIGN: model rooms hold no I/O,
// no clock, no randomness). Prices are whole ticks and quantities whole lots, both plain
// integers well inside 2^53 (the instrument's limits keep them there), so matching runs on
// numbers; money in minor units is worked out from ticks × lots in bigint by the market model.
//
// Shape, chosen for the operations an exchange does most:
// - each side keeps its price levels in a sorted array whose LAST element is the best price
//   (bids ascending, asks descending), so the best level is one read, a level that empties at
//   the top is a pop, and new levels near the touch are inserted near the end (a short move);
// - each level is a FIFO queue as an intrusive doubly-linked list of its orders, so the oldest
//   order is the head and a cancel unlinks its order in O(1) whatever the level's length;
// - every resting order is found by id in one Map lookup.
// Nothing scans the book per order: a taker walks only the levels it trades through.

export type Side = 'buy' | 'sell';
export type TimeInForce = 'gtc' | 'ioc' | 'fok';

/** An order arriving at the book. A market order arrives as an IOC/FOK limit at its protection price. */
export interface IncomingOrder {
  id: string;
  userId: string;
  side: Side;
  priceTicks: number;
  qtyLots: number;
  tif: TimeInForce;
  postOnly: boolean;
}

export interface RestingOrder {
  readonly id: string;
  readonly userId: string;
  readonly side: Side;
  readonly priceTicks: number;
  /** Lots still on the book. */
  remainingLots: number;
  prev: RestingOrder | null;
  next: RestingOrder | null;
  level: Level;
}

export interface Level {
  readonly priceTicks: number;
  head: RestingOrder | null;
  tail: RestingOrder | null;
  totalLots: number;
  count: number;
}

export interface Fill {
  makerOrderId: string;
  makerUserId: string;
  takerOrderId: string;
  takerUserId: string;
  /** The maker's price: a taker improves on its own limit, never the other way round. */
  priceTicks: number;
  qtyLots: number;
  /** The maker's lots left on the book after this fill (0: the maker is done). */
  makerRemainingLots: number;
}

/**
 * Self-trade prevention: an incoming order never trades with a resting order of the same
 * user. The RESTING one is cancelled (its owner's newest instruction wins) and matching goes on.
 */
export interface SelfTradeCancel {
  orderId: string;
  userId: string;
  remainingLots: number;
}

export type PlaceRejection = 'POST_ONLY_WOULD_CROSS' | 'FOK_NOT_FILLABLE' | 'ORDER_ID_EXISTS';

export interface PlaceResult {
  /** Set when the book refused the order: nothing changed. */
  rejection: PlaceRejection | null;
  fills: Fill[];
  selfTradeCancels: SelfTradeCancel[];
  filledLots: number;
  /** Lots left resting on the book (GTC only). */
  restingLots: number;
  /** Lots of an IOC (or a market order) that found nobody and were cancelled. */
  cancelledLots: number;
}

/** One side of the book. */
class BookSide {
  /** Prices with at least one order; the best is last. */
  readonly prices: number[] = [];
  readonly levels = new Map<number, Level>();

  constructor(readonly side: Side) {}

  /** True when a is a better price than b for this side. */
  better(a: number, b: number): boolean {
    return this.side === 'buy' ? a > b : a < b;
  }

  best(): Level | undefined {
    const n = this.prices.length;
    return n === 0 ? undefined : this.levels.get(this.prices[n - 1]!);
  }

  levelFor(priceTicks: number): Level {
    let level = this.levels.get(priceTicks);
    if (level) return level;
    level = { priceTicks, head: null, tail: null, totalLots: 0, count: 0 };
    this.levels.set(priceTicks, level);
    // Binary search for the slot; worse prices go first, so the best stays last.
    const prices = this.prices;
    let lo = 0;
    let hi = prices.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.better(prices[mid]!, priceTicks)) hi = mid;
      else lo = mid + 1;
    }
    if (lo === prices.length) prices.push(priceTicks);
    else prices.splice(lo, 0, priceTicks);
    return level;
  }

  dropLevel(level: Level): void {
    this.levels.delete(level.priceTicks);
    const prices = this.prices;
    const last = prices.length - 1;
    if (prices[last] === level.priceTicks) {
      prices.pop();
      return;
    }
    let lo = 0;
    let hi = last;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.better(prices[mid]!, level.priceTicks)) hi = mid;
      else if (prices[mid] === level.priceTicks) {
        lo = mid;
        break;
      } else lo = mid + 1;
    }
    prices.splice(lo, 1);
  }
}

export class OrderBook {
  private readonly bids = new BookSide('buy');
  private readonly asks = new BookSide('sell');
  private readonly orders = new Map<string, RestingOrder>();

  /** Number of resting orders. */
  get size(): number {
    return this.orders.size;
  }

  get(orderId: string): RestingOrder | undefined {
    return this.orders.get(orderId);
  }

  bestBid(): number | null {
    return this.bids.best()?.priceTicks ?? null;
  }

  bestAsk(): number | null {
    return this.asks.best()?.priceTicks ?? null;
  }

  /**
   * Matches an order against the other side at price-time priority, then rests what is left
   * (GTC) or cancels it (IOC). Post-only and FOK orders that cannot be honoured are refused
   * whole, with nothing changed.
   */
  place(order: IncomingOrder): PlaceResult {
    const result: PlaceResult = { rejection: null, fills: [], selfTradeCancels: [], filledLots: 0, restingLots: 0, cancelledLots: 0 };
    if (this.orders.has(order.id)) {
      result.rejection = 'ORDER_ID_EXISTS';
      return result;
    }
    const opposite = order.side === 'buy' ? this.asks : this.bids;
    const best = opposite.best();
    const crosses = best !== undefined && !opposite.better(order.priceTicks, best.priceTicks);
    if (order.postOnly && crosses) {
      result.rejection = 'POST_ONLY_WOULD_CROSS';
      return result;
    }
    if (order.tif === 'fok' && this.fillableLots(order, opposite) < order.qtyLots) {
      result.rejection = 'FOK_NOT_FILLABLE';
      return result;
    }
    let remaining = order.qtyLots;
    if (crosses) remaining = this.match(order, opposite, remaining, result);
    result.filledLots = order.qtyLots - remaining;
    if (remaining > 0) {
      if (order.tif === 'gtc') {
        this.rest(order, remaining);
        result.restingLots = remaining;
      } else result.cancelledLots = remaining;
    }
    return result;
  }

  private match(order: IncomingOrder, opposite: BookSide, remaining: number, result: PlaceResult): number {
    const limit = order.priceTicks;
    let level = opposite.best();
    while (level !== undefined && remaining > 0 && !opposite.better(limit, level.priceTicks)) {
      let maker = level.head;
      while (maker !== null && remaining > 0) {
        const next = maker.next;
        if (maker.userId === order.userId) {
          result.selfTradeCancels.push({ orderId: maker.id, userId: maker.userId, remainingLots: maker.remainingLots });
          this.unlink(maker);
        } else {
          const qty = maker.remainingLots < remaining ? maker.remainingLots : remaining;
          remaining -= qty;
          maker.remainingLots -= qty;
          level.totalLots -= qty;
          result.fills.push({
            makerOrderId: maker.id,
            makerUserId: maker.userId,
            takerOrderId: order.id,
            takerUserId: order.userId,
            priceTicks: level.priceTicks,
            qtyLots: qty,
            makerRemainingLots: maker.remainingLots,
          });
          if (maker.remainingLots === 0) this.unlink(maker);
        }
        maker = next;
      }
      // unlink drops a level once it is empty; the loop reads the new best each time.
      level = opposite.best();
    }
    return remaining;
  }

  /** What an order could fill now, without touching the book (FOK); stops once it has enough. */
  private fillableLots(order: IncomingOrder, opposite: BookSide): number {
    let found = 0;
    const prices = opposite.prices;
    for (let i = prices.length - 1; i >= 0 && found < order.qtyLots; i--) {
      const price = prices[i]!;
      if (opposite.better(order.priceTicks, price)) break;
      for (let o = opposite.levels.get(price)!.head; o !== null && found < order.qtyLots; o = o.next) {
        if (o.userId !== order.userId) found += o.remainingLots;
      }
    }
    return found;
  }

  private rest(order: IncomingOrder, lots: number): void {
    const side = order.side === 'buy' ? this.bids : this.asks;
    const level = side.levelFor(order.priceTicks);
    const resting: RestingOrder = { id: order.id, userId: order.userId, side: order.side, priceTicks: order.priceTicks, remainingLots: lots, prev: level.tail, next: null, level };
    if (level.tail) level.tail.next = resting;
    else level.head = resting;
    level.tail = resting;
    level.totalLots += lots;
    level.count += 1;
    this.orders.set(order.id, resting);
  }

  /** Takes an order off the book; undefined when it is not resting. */
  cancel(orderId: string): RestingOrder | undefined {
    const order = this.orders.get(orderId);
    if (order) this.unlink(order);
    return order;
  }

  /**
   * Lowers a resting order's remaining lots in place: it keeps its place in the queue (a smaller
   * order takes nothing from those behind it). Returns false when the order is not resting or
   * the new figure is not smaller and positive.
   */
  reduce(orderId: string, remainingLots: number): boolean {
    const order = this.orders.get(orderId);
    if (!order || remainingLots <= 0 || remainingLots >= order.remainingLots) return false;
    order.level.totalLots -= order.remainingLots - remainingLots;
    order.remainingLots = remainingLots;
    return true;
  }

  private unlink(order: RestingOrder): void {
    const level = order.level;
    if (order.prev) order.prev.next = order.next;
    else level.head = order.next;
    if (order.next) order.next.prev = order.prev;
    else level.tail = order.prev;
    level.totalLots -= order.remainingLots;
    level.count -= 1;
    order.prev = order.next = null;
    this.orders.delete(order.id);
    if (level.count === 0) (order.side === 'buy' ? this.bids : this.asks).dropLevel(level);
  }

  /** The top `levels` price levels of each side, best first: [priceTicks, totalLots, orders]. */
  depth(levels: number): { bids: Array<[number, number, number]>; asks: Array<[number, number, number]> } {
    const of = (side: BookSide) => {
      const out: Array<[number, number, number]> = [];
      for (let i = side.prices.length - 1; i >= 0 && out.length < levels; i--) {
        const level = side.levels.get(side.prices[i]!)!;
        out.push([level.priceTicks, level.totalLots, level.count]);
      }
      return out;
    };
    return { bids: of(this.bids), asks: of(this.asks) };
  }

  /** Total lots resting at a price on a side (0 when there is no level). */
  lotsAt(side: Side, priceTicks: number): number {
    return (side === 'buy' ? this.bids : this.asks).levels.get(priceTicks)?.totalLots ?? 0;
  }

  /** Every resting order, side by side, best level first and oldest first within a level. */
  *restingOrders(): Generator<RestingOrder> {
    for (const side of [this.bids, this.asks]) {
      for (let i = side.prices.length - 1; i >= 0; i--) {
        for (let o = side.levels.get(side.prices[i]!)!.head; o !== null; o = o.next) yield o;
      }
    }
  }

  /** Resting orders of one user (cancel-all); a scan, which is fine for a rare command. */
  ordersOf(userId: string): RestingOrder[] {
    const out: RestingOrder[] = [];
    for (const o of this.orders.values()) if (o.userId === userId) out.push(o);
    return out;
  }
}
