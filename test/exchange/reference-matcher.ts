// A deliberately plain order matcher, the oracle for the differential test of src/exchange/book.ts.
// It shares no code or structure with the real book: resting orders sit in one flat array in
// arrival order, and every step finds the best counter-order by a linear scan. Slow, but each
// rule of the policy is one readable line:
// - price-time priority: the best price first, then the earliest arrival;
// - a fill happens at the resting (maker) order's price;
// - self-trade prevention: a resting order of the taker's own user is cancelled, matching goes on;
// - IOC (and market orders, which arrive as IOC at their protection price) cancel what is left;
// - FOK trades its whole quantity within its limit or is refused with nothing changed;
// - post-only is refused when anything on the other side is within its limit;
// - reducing a resting order keeps its arrival (its place in the queue).

export type RefSide = 'buy' | 'sell';

export interface RefOrder {
  id: string;
  userId: string;
  side: RefSide;
  priceTicks: number;
  qtyLots: number;
  tif: 'gtc' | 'ioc' | 'fok';
  postOnly: boolean;
}

export interface RefFill {
  maker: string;
  taker: string;
  priceTicks: number;
  qtyLots: number;
  makerLeftLots: number;
}

export interface RefPlaceResult {
  rejection: 'POST_ONLY_WOULD_CROSS' | 'FOK_NOT_FILLABLE' | 'ORDER_ID_EXISTS' | null;
  fills: RefFill[];
  selfTradeCancels: Array<{ orderId: string; remainingLots: number }>;
  restingLots: number;
  cancelledLots: number;
}

/** One depth row: [priceTicks, total lots, number of orders], best price first. */
export type RefLevel = [number, number, number];

interface Resting {
  id: string;
  userId: string;
  side: RefSide;
  priceTicks: number;
  lots: number;
  arrival: number;
}

export class ReferenceMatcher {
  private resting: Resting[] = [];
  private arrivals = 0;

  place(order: RefOrder): RefPlaceResult {
    const result: RefPlaceResult = { rejection: null, fills: [], selfTradeCancels: [], restingLots: 0, cancelledLots: 0 };
    if (this.resting.some((r) => r.id === order.id)) return { ...result, rejection: 'ORDER_ID_EXISTS' };
    const reachable = this.resting.filter((r) => r.side !== order.side && withinLimit(order, r.priceTicks));
    if (order.postOnly && reachable.length > 0) return { ...result, rejection: 'POST_ONLY_WOULD_CROSS' };
    const othersLots = reachable.filter((r) => r.userId !== order.userId).reduce((sum, r) => sum + r.lots, 0);
    if (order.tif === 'fok' && othersLots < order.qtyLots) return { ...result, rejection: 'FOK_NOT_FILLABLE' };

    let left = order.qtyLots;
    while (left > 0) {
      const maker = this.bestCounter(order);
      if (maker === undefined) break;
      if (maker.userId === order.userId) {
        result.selfTradeCancels.push({ orderId: maker.id, remainingLots: maker.lots });
        this.remove(maker.id);
        continue;
      }
      const qty = Math.min(left, maker.lots);
      left -= qty;
      maker.lots -= qty;
      result.fills.push({ maker: maker.id, taker: order.id, priceTicks: maker.priceTicks, qtyLots: qty, makerLeftLots: maker.lots });
      if (maker.lots === 0) this.remove(maker.id);
    }
    if (left > 0 && order.tif === 'gtc') {
      this.resting.push({ id: order.id, userId: order.userId, side: order.side, priceTicks: order.priceTicks, lots: left, arrival: ++this.arrivals });
      result.restingLots = left;
    } else result.cancelledLots = left;
    return result;
  }

  /** Removes a resting order; its remaining lots, or undefined when it is not resting. */
  cancel(orderId: string): number | undefined {
    const found = this.resting.find((r) => r.id === orderId);
    if (found === undefined) return undefined;
    this.remove(orderId);
    return found.lots;
  }

  /** Lowers a resting order's lots, keeping its arrival; false unless 0 < lots < what it has. */
  reduce(orderId: string, lots: number): boolean {
    const found = this.resting.find((r) => r.id === orderId);
    if (found === undefined || lots <= 0 || lots >= found.lots) return false;
    found.lots = lots;
    return true;
  }

  remainingOf(orderId: string): number | undefined {
    return this.resting.find((r) => r.id === orderId)?.lots;
  }

  get size(): number {
    return this.resting.length;
  }

  /** Best bid and best ask in one pass. */
  touch(): { bid: number | null; ask: number | null } {
    let bid: number | null = null;
    let ask: number | null = null;
    for (const r of this.resting) {
      if (r.side === 'buy') {
        if (bid === null || r.priceTicks > bid) bid = r.priceTicks;
      } else if (ask === null || r.priceTicks < ask) ask = r.priceTicks;
    }
    return { bid, ask };
  }

  /** Every level of both sides, best first. */
  depth(): { bids: RefLevel[]; asks: RefLevel[] } {
    const levels = (side: RefSide): RefLevel[] => {
      const byPrice = new Map<number, RefLevel>();
      for (const r of this.resting) {
        if (r.side !== side) continue;
        const level = byPrice.get(r.priceTicks) ?? [r.priceTicks, 0, 0];
        level[1] += r.lots;
        level[2] += 1;
        byPrice.set(r.priceTicks, level);
      }
      return [...byPrice.values()].sort((a, b) => (side === 'buy' ? b[0] - a[0] : a[0] - b[0]));
    };
    return { bids: levels('buy'), asks: levels('sell') };
  }

  /** The order the taker meets next: best price for the taker, then earliest arrival. */
  private bestCounter(taker: RefOrder): Resting | undefined {
    let best: Resting | undefined;
    for (const r of this.resting) {
      if (r.side === taker.side || !withinLimit(taker, r.priceTicks)) continue;
      if (best === undefined) best = r;
      else if (r.priceTicks !== best.priceTicks) {
        const cheaperForTaker = taker.side === 'buy' ? r.priceTicks < best.priceTicks : r.priceTicks > best.priceTicks;
        if (cheaperForTaker) best = r;
      } else if (r.arrival < best.arrival) best = r;
    }
    return best;
  }

  private remove(orderId: string): void {
    this.resting = this.resting.filter((r) => r.id !== orderId);
  }
}

/** A buy takes asks at or below its limit; a sell takes bids at or above it. */
function withinLimit(taker: RefOrder, makerPriceTicks: number): boolean {
  return taker.side === 'buy' ? makerPriceTicks <= taker.priceTicks : makerPriceTicks >= taker.priceTicks;
}

/**
 * A market order's protection price, worked out independently of the model (bigint, no floats):
 * a buy pays at most best ask × (1 + band), rounded down; a sell takes at least best bid ×
 * (1 − band), rounded up and never below one tick. Null when the other side is empty.
 */
export function referenceProtectionTicks(side: RefSide, bestBid: number | null, bestAsk: number | null, protectionBps: number, maxPriceTicks: number): number | null {
  if (side === 'buy') {
    if (bestAsk === null) return null;
    const ticks = (BigInt(bestAsk) * BigInt(10_000 + protectionBps)) / 10_000n;
    return Number(ticks > BigInt(maxPriceTicks) ? BigInt(maxPriceTicks) : ticks);
  }
  if (bestBid === null) return null;
  const scaled = BigInt(bestBid) * BigInt(10_000 - protectionBps);
  const ticks = (scaled + 9_999n) / 10_000n;
  return Number(ticks < 1n ? 1n : ticks);
}
