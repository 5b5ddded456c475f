// The order book: the pure matching core of one instrument (DESIGN: model rooms hold no I/O,
// no clock, no randomness). Prices are whole ticks and quantities whole lots, both plain
// integers well inside 2^53 (the instrument's limits keep them there), so matching runs on
// numbers; money in minor units is worked out from ticks × lots in bigint by the market model.
//
// Shape, chosen for the operations an exchange does most:
// - a resting order is a SLOT: an integer naming a 32-byte record in one ArrayBuffer (remaining
//   lots, next, prev, id hash, user tag, level) plus its id and user id in two plain arrays.
//   Freed slots are reused, so resting orders cost the garbage collector nothing, and the
//   matching loop reads one cache line per maker instead of following object pointers;
// - price levels are small objects, pooled and reused, each known by a number;
// - each side keeps its price levels in a sorted array whose LAST element is the best price,
//   so the best level is one read, a level that empties at the top is a pop, and new levels
//   near the touch are inserted near the end (a short move);
// - each level is a FIFO queue, a doubly-linked list of slots: the oldest order is the head and
//   a cancel unlinks its order in O(1) whatever the level's length;
// - the id index is an open-addressing hash table of slots (linear probing), keyed by a hash of
//   the id computed once per operation in plain integer arithmetic: a place probes it once for
//   the duplicate-id check and an order that rests goes in with that same hash; an order that
//   leaves is found again by its slot number (no string hashed or compared). Only `cancel`,
//   `reduce` and `get` look an order up by id. (A string-keyed Map did the same job at about
//   half the book's time, and its rehashing left garbage behind.)
// Nothing scans the book per order: a taker walks only the levels it trades through.
// Nothing the book answers is live: `get`, `cancel`, `restingOrders` and `ordersOf` hand out copies.

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

/** A resting order as the book reports it: a copy taken when asked. */
export interface RestingOrder {
  readonly id: string;
  readonly userId: string;
  readonly side: Side;
  readonly priceTicks: number;
  /** Lots still on the book. */
  readonly remainingLots: number;
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
  /** In the order they happened. Read-only: an empty list is shared by every result that has none. */
  fills: readonly Fill[];
  /** Read-only, like `fills`. */
  selfTradeCancels: readonly SelfTradeCancel[];
  filledLots: number;
  /** Lots left resting on the book (GTC only). */
  restingLots: number;
  /** Lots of an IOC (or a market order) that found nobody and were cancelled. */
  cancelledLots: number;
}

/** The end of a queue, an unused slot, an empty index cell. */
const NONE = -1;
const NO_FILLS: readonly Fill[] = Object.freeze([]);
const NO_SELF_TRADE_CANCELS: readonly SelfTradeCancel[] = Object.freeze([]);
const INITIAL_SLOTS = 1024;
const INITIAL_INDEX_CELLS = 2048;
/** Levels a search steps back from the touch before it starts halving. */
const NEAR_TOUCH_LEVELS = 8;
/** Slots are int32 indexes; the book refuses to grow past this (32 GiB of slot records). */
const MAX_SLOTS = 2 ** 30;

// A slot's record: 8 int32 words (32 bytes, two records per 64-byte cache line; words 6-7 unused).
// Everything in it is an int32, so what the book reads from it stays a small integer (a V8 Smi):
// a number read from a Float64Array would be stored boxed, as a separate heap object, in every
// Fill and result built from it.
const SLOT_WORDS = 8;
/** Lots still resting (at most MAX_LOTS). */
const LOTS = 0;
/** Next slot in the level, towards the tail (NONE at the tail). A free slot: the next free one. */
const NEXT = 1;
/** Previous slot in the level, towards the head (NONE at the head). */
const PREV = 2;
/** hashId of the order id, to find the slot's cell in the index again without the string. */
const HASH = 3;
/** userTag of the user id, for the self-trade check. */
const TAG = 4;
/** The number of the level the order rests in. */
const LEVEL = 5;

/** The most lots one order may carry, so remaining lots fit a record's int32 (the market model allows 1e9). */
export const MAX_LOTS = 2 ** 31 - 1;

/** One price on one side: its orders oldest first, as slots linked through their records. Reused once empty. */
class Level {
  priceTicks = 0;
  head = NONE;
  tail = NONE;
  totalLots = 0;
  count = 0;
  constructor(
    /** Its number in the pool, kept in each of its orders' records. */
    readonly id: number,
    public side: BookSide,
  ) {}
}

/** Every Level object the book has made, by number; empty ones wait in `free` for a new price. */
class LevelPool {
  readonly byId: Level[] = [];
  private readonly free: Level[] = [];

  take(side: BookSide, priceTicks: number): Level {
    const level = this.free.pop() ?? new Level(this.byId.length, side);
    if (level.id === this.byId.length) this.byId.push(level);
    level.side = side;
    // An int32 price is stored as one, whatever the caller's object held: a price that arrives
    // as a boxed number (a field that also carries prices past 2^31) would otherwise make every
    // Fill's priceTicks a separate heap number too.
    level.priceTicks = (priceTicks | 0) === priceTicks ? priceTicks | 0 : priceTicks;
    level.head = level.tail = NONE;
    level.totalLots = level.count = 0;
    return level;
  }

  /** An emptied level goes back for reuse. */
  give(level: Level): void {
    this.free.push(level);
  }
}

/**
 * One side of the book. Levels are kept sorted by a key that grows as the price gets better
 * (the price for bids, minus the price for asks), so the best level is last on both sides and
 * one search serves both.
 */
class BookSide {
  /** Levels with at least one order; the best is last. */
  readonly levels: Level[] = [];
  /** keys[i] is levels[i]'s key: searched without touching the Level objects. */
  readonly keys: number[] = [];

  constructor(
    readonly side: Side,
    private readonly pool: LevelPool,
  ) {}

  keyOf(priceTicks: number): number {
    return this.side === 'buy' ? priceTicks : -priceTicks;
  }

  /** The first index whose key is not below `key` (where a level of that key is or would go). */
  private search(key: number): number {
    const keys = this.keys;
    let hi = keys.length;
    // Most orders rest at or near the touch, the end of the array: step back a few levels first.
    const near = hi > NEAR_TOUCH_LEVELS ? hi - NEAR_TOUCH_LEVELS : 0;
    while (hi > near && keys[hi - 1]! >= key) hi -= 1;
    if (hi > near || hi === 0) return hi;
    let lo = 0;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keys[mid]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  find(priceTicks: number): Level | undefined {
    const key = this.keyOf(priceTicks);
    const at = this.search(key);
    return this.keys[at] === key ? this.levels[at] : undefined;
  }

  levelFor(priceTicks: number): Level {
    const key = this.keyOf(priceTicks);
    const at = this.search(key);
    if (this.keys[at] === key) return this.levels[at]!;
    const level = this.pool.take(this, priceTicks);
    if (at === this.keys.length) {
      this.keys.push(key);
      this.levels.push(level);
    } else {
      this.keys.splice(at, 0, key);
      this.levels.splice(at, 0, level);
    }
    return level;
  }

  /** Removes an emptied level, wherever it is, and hands it back to the pool. */
  drop(level: Level): void {
    const last = this.levels.length - 1;
    if (this.levels[last] === level) {
      this.levels.pop();
      this.keys.pop();
    } else {
      const at = this.search(this.keyOf(level.priceTicks));
      this.levels.splice(at, 1);
      this.keys.splice(at, 1);
    }
    this.pool.give(level);
  }
}

/**
 * A cheap fingerprint of a user id (its length and last 8 UTF-16 code units), kept per slot so
 * the self-trade check compares two integers and reads the maker's user id string only when
 * they agree. Different users may share a tag; the strings then decide.
 */
function userTag(userId: string): number {
  let h = userId.length;
  for (let i = userId.length > 8 ? userId.length - 8 : 0; i < userId.length; i++) h = Math.imul(h ^ userId.charCodeAt(i), 0x01000193);
  return h;
}

/** FNV-1a over the UTF-16 code units, then murmur3's finaliser so the low bits (the table index) mix well. */
function hashId(id: string): number {
  let h = 0x811c9dc5 ^ id.length;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

export class OrderBook {
  private readonly pool = new LevelPool();
  private readonly bids = new BookSide('buy', this.pool);
  private readonly asks = new BookSide('sell', this.pool);

  // --- slots: a resting order is an index into these -------------------------------------
  private capacity = INITIAL_SLOTS;
  /** The slot records (see SLOT_WORDS). */
  private words = new Int32Array(INITIAL_SLOTS * SLOT_WORDS);
  private readonly ids: string[] = [];
  private readonly users: string[] = [];
  /** Slots handed out so far; freed ones are chained through NEXT. */
  private slotsUsed = 0;
  private freeSlot = NONE;
  private live = 0;

  /** The id index: see lookup(). */
  private table = new Int32Array(2 * INITIAL_INDEX_CELLS).fill(NONE);

  /** Number of resting orders. */
  get size(): number {
    return this.live;
  }

  get(orderId: string): RestingOrder | undefined {
    const slot = this.lookup(orderId, hashId(orderId));
    return slot === NONE ? undefined : this.copyOf(slot);
  }

  bestBid(): number | null {
    const levels = this.bids.levels;
    return levels.length === 0 ? null : levels[levels.length - 1]!.priceTicks;
  }

  bestAsk(): number | null {
    const levels = this.asks.levels;
    return levels.length === 0 ? null : levels[levels.length - 1]!.priceTicks;
  }

  /**
   * Matches an order against the other side at price-time priority, then rests what is left
   * (GTC) or cancels it (IOC). Post-only and FOK orders that cannot be honoured are refused
   * whole, with nothing changed. A quantity that is not a whole number of lots from 1 to
   * MAX_LOTS, or a price that is not a positive safe integer, is a bug in the caller: it throws.
   */
  place(order: IncomingOrder): PlaceResult {
    // (q | 0) === q: a whole number within int32, so at most MAX_LOTS.
    if (!((order.qtyLots | 0) === order.qtyLots && order.qtyLots > 0 && Number.isSafeInteger(order.priceTicks) && order.priceTicks > 0)) {
      throw new RangeError(`order ${order.id}: ${order.qtyLots} lots at ${order.priceTicks} ticks is not a whole number of lots from 1 to ${MAX_LOTS} at a positive whole price`);
    }
    const result: PlaceResult = { rejection: null, fills: NO_FILLS, selfTradeCancels: NO_SELF_TRADE_CANCELS, filledLots: 0, restingLots: 0, cancelledLots: 0 };
    const hash = hashId(order.id);
    if (this.lookup(order.id, hash) !== NONE) {
      result.rejection = 'ORDER_ID_EXISTS';
      return result;
    }
    const opposite = order.side === 'buy' ? this.asks : this.bids;
    const levels = opposite.levels;
    const crosses = levels.length > 0 && opposite.keyOf(order.priceTicks) <= opposite.keys[levels.length - 1]!;
    if (order.postOnly && crosses) {
      result.rejection = 'POST_ONLY_WOULD_CROSS';
      return result;
    }
    const tag = userTag(order.userId);
    if (order.tif === 'fok' && this.fillableLots(order, tag, opposite) < order.qtyLots) {
      result.rejection = 'FOK_NOT_FILLABLE';
      return result;
    }
    let remaining = order.qtyLots;
    if (crosses) remaining = this.match(order, tag, opposite, result);
    result.filledLots = order.qtyLots - remaining;
    if (remaining > 0) {
      if (order.tif === 'gtc') {
        this.rest(order, remaining, hash, tag);
        result.restingLots = remaining;
      } else result.cancelledLots = remaining;
    }
    return result;
  }

  /**
   * Walks the opposite side from its best level while the taker has lots and the level is
   * within its limit. Every maker it visits either leaves the book (filled, or cancelled by
   * self-trade prevention) or stops the walk (the taker is done), so the maker in hand is
   * always its level's head. Returns the taker's lots left. The lists are made at their first
   * entry, one element long (most takers meet one maker), so a place allocates little.
   */
  private match(order: IncomingOrder, takerTag: number, opposite: BookSide, result: PlaceResult): number {
    const levels = opposite.levels;
    const limitKey = opposite.keyOf(order.priceTicks);
    const takerId = order.id;
    const takerUser = order.userId;
    const words = this.words;
    const users = this.users;
    const ids = this.ids;
    let fills: Fill[] | null = null;
    let selfTradeCancels: SelfTradeCancel[] | null = null;
    let remaining = order.qtyLots;
    while (remaining > 0 && levels.length > 0) {
      if (opposite.keys[levels.length - 1]! < limitKey) break;
      const level = levels[levels.length - 1]!;
      const priceTicks = level.priceTicks;
      let maker = level.head;
      while (maker !== NONE && remaining > 0) {
        const at = maker * SLOT_WORDS;
        const makerLots = words[at + LOTS]!;
        const makerUser = users[maker]!;
        if (words[at + TAG] === takerTag && makerUser === takerUser) {
          const cancel: SelfTradeCancel = { orderId: ids[maker]!, userId: makerUser, remainingLots: makerLots };
          if (selfTradeCancels === null) selfTradeCancels = [cancel];
          else selfTradeCancels.push(cancel);
        } else {
          const qtyLots = makerLots > remaining ? remaining : makerLots;
          const fill: Fill = { makerOrderId: ids[maker]!, makerUserId: makerUser, takerOrderId: takerId, takerUserId: takerUser, priceTicks, qtyLots, makerRemainingLots: makerLots - qtyLots };
          if (fills === null) fills = [fill];
          else fills.push(fill);
          remaining -= qtyLots;
          if (qtyLots < makerLots) {
            // The taker is done and the maker stays at the head with what is left.
            words[at + LOTS] = makerLots - qtyLots;
            level.totalLots -= qtyLots;
            break;
          }
        }
        // The maker leaves from the head of its level.
        const after = words[at + NEXT]!;
        level.head = after;
        if (after === NONE) level.tail = NONE;
        else words[after * SLOT_WORDS + PREV] = NONE;
        level.totalLots -= makerLots;
        level.count -= 1;
        this.release(maker);
        maker = after;
      }
      if (level.count > 0) break;
      opposite.drop(level);
    }
    if (fills !== null) result.fills = fills;
    if (selfTradeCancels !== null) result.selfTradeCancels = selfTradeCancels;
    return remaining;
  }

  /** What an order could fill now, without touching the book (FOK); stops once it has enough. */
  private fillableLots(order: IncomingOrder, tag: number, opposite: BookSide): number {
    let found = 0;
    const limitKey = opposite.keyOf(order.priceTicks);
    for (let i = opposite.levels.length - 1; i >= 0 && found < order.qtyLots; i--) {
      if (opposite.keys[i]! < limitKey) break;
      for (let s = opposite.levels[i]!.head; s !== NONE && found < order.qtyLots; s = this.words[s * SLOT_WORDS + NEXT]!) {
        if (this.words[s * SLOT_WORDS + TAG] !== tag || this.users[s] !== order.userId) found += this.words[s * SLOT_WORDS + LOTS]!;
      }
    }
    return found;
  }

  private rest(order: IncomingOrder, lots: number, hash: number, tag: number): void {
    const level = (order.side === 'buy' ? this.bids : this.asks).levelFor(order.priceTicks);
    const slot = this.claim();
    this.ids[slot] = order.id;
    this.users[slot] = order.userId;
    const words = this.words;
    const at = slot * SLOT_WORDS;
    words[at + LOTS] = lots;
    words[at + NEXT] = NONE;
    words[at + PREV] = level.tail;
    words[at + HASH] = hash;
    words[at + TAG] = tag;
    words[at + LEVEL] = level.id;
    if (level.tail === NONE) level.head = slot;
    else words[level.tail * SLOT_WORDS + NEXT] = slot;
    level.tail = slot;
    level.totalLots += lots;
    level.count += 1;
    this.index(slot, hash);
  }

  /** Takes an order off the book; undefined when it is not resting. */
  cancel(orderId: string): RestingOrder | undefined {
    const slot = this.lookup(orderId, hashId(orderId));
    if (slot === NONE) return undefined;
    const copy = this.copyOf(slot);
    this.unlink(slot);
    return copy;
  }

  /**
   * Lowers a resting order's remaining lots in place: it keeps its place in the queue (a smaller
   * order takes nothing from those behind it). Returns false when the order is not resting or
   * the new figure is not smaller and positive; a figure that is not a whole number throws.
   */
  reduce(orderId: string, remainingLots: number): boolean {
    if (!Number.isInteger(remainingLots)) throw new RangeError(`order ${orderId}: remaining lots ${remainingLots} is not a whole number`);
    const slot = this.lookup(orderId, hashId(orderId));
    if (slot === NONE) return false;
    const at = slot * SLOT_WORDS;
    const before = this.words[at + LOTS]!;
    if (remainingLots <= 0 || remainingLots >= before) return false;
    this.pool.byId[this.words[at + LEVEL]!]!.totalLots -= before - remainingLots;
    this.words[at + LOTS] = remainingLots;
    return true;
  }

  /** Takes a slot out of its level wherever it is, dropping the level once it is empty. */
  private unlink(slot: number): void {
    const words = this.words;
    const at = slot * SLOT_WORDS;
    const level = this.pool.byId[words[at + LEVEL]!]!;
    const before = words[at + PREV]!;
    const after = words[at + NEXT]!;
    if (before === NONE) level.head = after;
    else words[before * SLOT_WORDS + NEXT] = after;
    if (after === NONE) level.tail = before;
    else words[after * SLOT_WORDS + PREV] = before;
    level.totalLots -= words[at + LOTS]!;
    level.count -= 1;
    this.release(slot);
    if (level.count === 0) level.side.drop(level);
  }

  /** The top `levels` price levels of each side, best first: [priceTicks, totalLots, orders]. */
  depth(levels: number): { bids: Array<[number, number, number]>; asks: Array<[number, number, number]> } {
    const of = (side: BookSide) => {
      const out: Array<[number, number, number]> = [];
      for (let i = side.levels.length - 1; i >= 0 && out.length < levels; i--) {
        const level = side.levels[i]!;
        out.push([level.priceTicks, level.totalLots, level.count]);
      }
      return out;
    };
    return { bids: of(this.bids), asks: of(this.asks) };
  }

  /** Total lots resting at a price on a side (0 when there is no level). */
  lotsAt(side: Side, priceTicks: number): number {
    return (side === 'buy' ? this.bids : this.asks).find(priceTicks)?.totalLots ?? 0;
  }

  /** The ids resting at a price on a side, oldest first, read from the tail back (a check on the queue's links). */
  queueAt(side: Side, priceTicks: number): string[] {
    const out: string[] = [];
    const level = (side === 'buy' ? this.bids : this.asks).find(priceTicks);
    for (let s = level?.tail ?? NONE; s !== NONE; s = this.words[s * SLOT_WORDS + PREV]!) out.push(this.ids[s]!);
    return out.reverse();
  }

  /** Every resting order, side by side, best level first and oldest first within a level. */
  *restingOrders(): Generator<RestingOrder> {
    for (const side of [this.bids, this.asks]) {
      for (let i = side.levels.length - 1; i >= 0; i--) {
        for (let s = side.levels[i]!.head; s !== NONE; s = this.words[s * SLOT_WORDS + NEXT]!) yield this.copyOf(s);
      }
    }
  }

  /** Resting orders of one user (cancel-all); a scan, which is fine for a rare command. */
  ordersOf(userId: string): RestingOrder[] {
    const out: RestingOrder[] = [];
    for (const o of this.restingOrders()) if (o.userId === userId) out.push(o);
    return out;
  }

  private copyOf(slot: number): RestingOrder {
    const at = slot * SLOT_WORDS;
    const level = this.pool.byId[this.words[at + LEVEL]!]!;
    return { id: this.ids[slot]!, userId: this.users[slot]!, side: level.side.side, priceTicks: level.priceTicks, remainingLots: this.words[at + LOTS]! };
  }

  // --- slots ----------------------------------------------------------------------------

  private claim(): number {
    let slot = this.freeSlot;
    if (slot !== NONE) this.freeSlot = this.words[slot * SLOT_WORDS + NEXT]!;
    else {
      if (this.slotsUsed === this.capacity) this.growSlots();
      slot = this.slotsUsed++;
    }
    this.live += 1;
    return slot;
  }

  /** A slot whose order left the book: out of the index, onto the free chain. */
  private release(slot: number): void {
    this.unindex(slot);
    // Drop the strings so a finished order's id and user id can be collected.
    this.ids[slot] = '';
    this.users[slot] = '';
    this.words[slot * SLOT_WORDS + NEXT] = this.freeSlot;
    this.freeSlot = slot;
    this.live -= 1;
  }

  private growSlots(): void {
    const capacity = this.capacity * 2;
    if (capacity > MAX_SLOTS) throw new Error(`order book full: ${this.capacity} resting orders`);
    const words = new Int32Array(capacity * SLOT_WORDS);
    words.set(this.words);
    this.words = words;
    this.capacity = capacity;
  }

  // --- the id index ---------------------------------------------------------------------
  // Linear probing over `table`, two int32 per cell: [slot or NONE, hash of the slot's id].
  // Deletion shifts the cells after the hole back (Knuth's algorithm R), so there are no
  // tombstones and a miss stops at the first empty cell. At most half the cells are taken.

  /** The slot of a resting order by id, or NONE. */
  private lookup(orderId: string, hash: number): number {
    const table = this.table;
    const mask = (table.length >> 1) - 1;
    for (let cell = hash & mask; ; cell = (cell + 1) & mask) {
      const slot = table[2 * cell]!;
      if (slot === NONE) return NONE;
      if (table[2 * cell + 1] === hash && this.ids[slot] === orderId) return slot;
    }
  }

  /** Adds a slot whose id is known to be absent. */
  private index(slot: number, hash: number): void {
    if (2 * this.live > this.table.length >> 1) this.resizeIndex(this.table.length);
    const table = this.table;
    const mask = (table.length >> 1) - 1;
    let cell = hash & mask;
    while (table[2 * cell] !== NONE) cell = (cell + 1) & mask;
    table[2 * cell] = slot;
    table[2 * cell + 1] = hash;
  }

  /** Takes a slot out of the index: found by its hash and number (no string compared), then the run after it closes up. */
  private unindex(slot: number): void {
    const table = this.table;
    const mask = (table.length >> 1) - 1;
    let hole = this.words[slot * SLOT_WORDS + HASH]! & mask;
    while (table[2 * hole] !== slot) hole = (hole + 1) & mask;
    for (let cell = (hole + 1) & mask; table[2 * cell] !== NONE; cell = (cell + 1) & mask) {
      const home = table[2 * cell + 1]! & mask;
      // The cell stays when its home lies cyclically in (hole, cell]: moving it back would put it before its home.
      const stays = hole <= cell ? hole < home && home <= cell : hole < home || home <= cell;
      if (stays) continue;
      table[2 * hole] = table[2 * cell]!;
      table[2 * hole + 1] = table[2 * cell + 1]!;
      hole = cell;
    }
    table[2 * hole] = NONE;
    if (8 * this.live < table.length >> 1 && table.length > 2 * INITIAL_INDEX_CELLS) this.resizeIndex(table.length >> 2);
  }

  /** Rebuilds the index with `cells` cells (a power of two), from the old table's cells. */
  private resizeIndex(cells: number): void {
    const old = this.table;
    const table = new Int32Array(2 * cells).fill(NONE);
    const mask = cells - 1;
    for (let i = 0; i < old.length; i += 2) {
      const slot = old[i]!;
      if (slot === NONE) continue;
      const hash = old[i + 1]!;
      let cell = hash & mask;
      while (table[2 * cell] !== NONE) cell = (cell + 1) & mask;
      table[2 * cell] = slot;
      table[2 * cell + 1] = hash;
    }
    this.table = table;
  }
}
