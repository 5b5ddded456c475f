// The exchange keeps its word across kill -9 (DESIGN rule 3, journal before acknowledge) and its
// money adds up after any session.
//
// 1. A real `gavel start` takes a stream of random orders and cancels from eight traders at once
//    and is killed mid-stream. Restarted on the same storage: every order it acknowledged is
//    there with at least the fills it was acknowledged with, every acknowledged fill reached
//    both parties, nothing it refused or never answered left an order behind, the journal
//    replays to the live book, the ledger is clean, each trader's held money is exactly what
//    their open orders still need (holds of orders that never reached the book are swept), and
//    trading goes on.
// 2. In process, ~500 random operations (amends and cancel-alls too) from several traders at
//    once; then the ledger is clean, nothing was created or lost in any currency, the house
//    holds exactly the fees its fills charged, holds back open orders and nothing else, and
//    the journal replays to the live book.
// 3. An amendment cut off by kill -9 after its extra hold was placed leaves no hold behind
//    (PostgreSQL only: a table lock holds the book's commit back while the ledger's goes on).
import postgres from 'postgres';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Dialect } from '../../src/platform/db/database.js';
import { DIALECTS, scratchStorage, type ScratchStorage } from '../support/databases.js';
import { startTestNode } from '../support/gavel.js';
import { openExchange } from '../support/exchange.js';
import { ROOMY_LIMITS } from '../support/problems.js';
import { GavelProcess, killChildren, request, within, type Env } from '../support/process.js';
import { mulberry32 } from '../support/random.js';

const SLOW = { timeout: 60_000 };
const ADMIN = { email: 'exchange-root@gavel.test', password: 'exchange-root-password-1' } as const;
const ADMIN_ENV = { GAVEL_ADMIN_EMAIL: ADMIN.email, GAVEL_ADMIN_PASSWORD: ADMIN.password } as const;
/** Tick 0.01 USD and lot 1 of an asset without decimals: one tick × one lot is one cent. */
const LISTING = { quote: 'USD', tickSize: '0.01', lotSize: '1', maxQuantity: '1000000', makerFeeBps: 10, takerFeeBps: 20 } as const;
const SEED = 20_250_611;

const storages: ScratchStorage[] = [];
afterEach(async () => {
  await killChildren();
});
afterAll(async () => {
  await Promise.all(storages.splice(0).map((s) => s.drop()));
});

// --- talking to a node -------------------------------------------------------------------------

interface Reply {
  status: number;
  body: any;
  text: string;
}
type Call = (method: string, path: string, token?: string, json?: unknown) => Promise<Reply>;

interface Trader {
  index: number;
  id: string;
  token: string;
}

/** A node's API, through a port (child process) or fastify's inject (in process). */
class Api {
  constructor(public call: Call) {}

  async ok(method: string, path: string, token: string | undefined, json: unknown = undefined, status = 200): Promise<any> {
    const res = await this.call(method, path, token, json);
    expect(res.status, `${method} ${path}: ${res.text}`).toBe(status);
    return res.body;
  }
}

const overHttp = (base: string): Call => (method, path, token, json) => request(base, method, path, { ...(token && { token }), ...(json !== undefined && { json }) });

/** Minor units of a decimal string as the API formats it (always the currency's full scale). */
const minor = (text: string): bigint => {
  expect(text).toMatch(/^-?\d+(\.\d+)?$/);
  return BigInt(text.replace('.', ''));
};
const usd = (cents: bigint): string => `${cents < 0n ? '-' : ''}${(cents < 0n ? -cents : cents) / 100n}.${String((cents < 0n ? -cents : cents) % 100n).padStart(2, '0')}`;

/**
 * What an order reserves at entry (docs/exchange.md "Money", model.ts reserveOf): a buy its
 * notional at its limit plus the taker fee on that rounded up; a sell its quantity.
 */
function buyReserveCents(priceCents: bigint, qty: bigint): bigint {
  const notional = priceCents * qty;
  return notional + (notional * BigInt(LISTING.takerFeeBps) + 9_999n) / 10_000n;
}

/** The most the rest of a buy can still cost: all of it taken at its limit, fee rounded down. */
function buyFinishCents(priceCents: bigint, remaining: bigint): bigint {
  const notional = priceCents * remaining;
  return notional + (notional * BigInt(LISTING.takerFeeBps)) / 10_000n;
}

/** An admin, an asset and its USD instrument on a running node. */
class Market {
  adminToken = '';
  symbol = '';
  asset = '';
  private people = 0;
  constructor(public api: Api) {}

  static async open(api: Api, asset: string): Promise<Market> {
    const m = new Market(api);
    m.adminToken = (await api.ok('POST', '/api/auth/login', undefined, ADMIN)).token;
    m.asset = asset;
    await api.ok('POST', '/api/ledger/assets', m.adminToken, { code: asset, scale: 0, name: `Asset ${asset}` }, 201);
    m.symbol = (await api.ok('POST', '/api/exchange/instruments', m.adminToken, { base: asset, ...LISTING }, 201)).symbol;
    return m;
  }

  /** A trader funded by admin adjustments, as an operator would. */
  async trader(index: number, usdText: string, units: string): Promise<Trader> {
    const n = ++this.people;
    const who = { name: `Trader ${n}`, email: `trader-${n}-${process.pid}-${this.asset.toLowerCase()}@gavel.test`, password: `password-${n}-long` };
    const id = (await this.api.ok('POST', '/api/auth/register', undefined, who, 201)).id as string;
    const token = (await this.api.ok('POST', '/api/auth/login', undefined, { email: who.email, password: who.password })).token as string;
    for (const [currency, amount] of [
      ['USD', usdText],
      [this.asset, units],
    ] as const) {
      await this.api.ok('POST', '/api/ledger/adjustments', this.adminToken, { userId: id, currency, amount, direction: 'credit', memo: 'trading money' }, 201);
    }
    return { index, id, token };
  }

  async verify(): Promise<void> {
    const v = await this.api.ok('GET', `/api/exchange/instruments/${this.symbol}/verify`, this.adminToken);
    expect(v, 'the journal replays to the live book').toMatchObject({ match: true, journalSeq: v.seq });
  }

  async ledgerClean(): Promise<void> {
    const check = await this.api.ok('GET', '/api/ledger/check', this.adminToken);
    expect(check).toMatchObject({ ok: true, violations: [] });
  }

  async cancelAll(t: Trader): Promise<any[]> {
    return (await this.api.ok('DELETE', `/api/exchange/orders?symbol=${this.symbol}`, t.token)).cancelled;
  }

  // --- reads, every page of them ---

  async orders(t: Trader, status?: 'open'): Promise<any[]> {
    const all: any[] = [];
    let before: string | null = null;
    do {
      const page: any = await this.api.ok('GET', `/api/exchange/orders?symbol=${this.symbol}&limit=200${status ? `&status=${status}` : ''}${before ? `&before=${before}` : ''}`, t.token);
      all.push(...page.items);
      before = page.next;
    } while (before);
    return all;
  }

  async fills(t: Trader): Promise<Map<string, any>> {
    const seen = new Map<string, any>();
    let cursor: string | null = null;
    do {
      const page: any = await this.api.ok('GET', `/api/exchange/fills?symbol=${this.symbol}&limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, t.token);
      for (const f of page.items) {
        expect(seen.has(f.id), `fill ${f.id} on two pages`).toBe(false);
        seen.set(f.id, f);
      }
      cursor = page.nextCursor;
    } while (cursor);
    return seen;
  }

  async statement(t: Trader, currency: string): Promise<any[]> {
    const all: any[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await this.api.ok('GET', `/api/wallets/${currency}/transfers?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, t.token);
      all.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    return all;
  }

  async wallets(t: Trader): Promise<Map<string, { posted: string; held: string }>> {
    const items = (await this.api.ok('GET', '/api/wallets', t.token)).items as any[];
    return new Map(items.map((w) => [w.currency, w]));
  }
}

// --- random order flow -------------------------------------------------------------------------

const PLACE_REFUSALS = ['NO_LIQUIDITY', 'POST_ONLY_WOULD_CROSS', 'FOK_NOT_FILLABLE', 'INSUFFICIENT_FUNDS'];
const AMEND_REFUSALS = ['ORDER_NOT_OPEN', 'POST_ONLY_WOULD_CROSS', 'INSUFFICIENT_FUNDS', 'AMEND_NOT_SMALLER', 'AMEND_NOTHING'];

/**
 * Buys at 99.50–100.20, sells at 99.80–100.50, in steps of 0.05: the ranges overlap, so many
 * orders trade, and the book still builds up between the trades.
 */
const randomPrice = (rng: () => number, side: string) => usd((side === 'buy' ? 9_950n : 9_980n) + 5n * BigInt(Math.floor(rng() * 15)));
const randomSide = (rng: () => number) => (rng() < 0.5 ? 'buy' : 'sell');

function randomOrder(rng: () => number, symbol: string): Record<string, unknown> {
  const side = randomSide(rng);
  if (rng() < 0.12) return { symbol, side, type: 'market', quantity: String(1 + Math.floor(rng() * 8)), timeInForce: rng() < 0.7 ? 'ioc' : 'fok' };
  const r = rng();
  const timeInForce = r < 0.8 ? 'gtc' : r < 0.9 ? 'ioc' : 'fok';
  return { symbol, side, type: 'limit', price: randomPrice(rng, side), quantity: String(1 + Math.floor(rng() * 12)), timeInForce, postOnly: timeInForce === 'gtc' && rng() < 0.15 };
}

const pick = <T>(rng: () => number, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;

/** What the traders were told: the orders, fills and cancels the node acknowledged. */
class Acknowledged {
  readonly orders = new Map<string, { trader: number; order: any }>();
  readonly takerFills: Array<{ trader: number; fill: any }> = [];
  /** Cancels acknowledged (one or all): the order as the answer showed it. */
  readonly cancelled = new Map<string, any>();
  /** Orders placed with no answer (cut off by the kill): each may or may not exist. */
  readonly unanswered: Array<{ trader: number; body: Record<string, unknown> }> = [];
  /** Amended at least once (their holds follow the amendments, not the entry rule alone). */
  readonly amended = new Set<string>();

  placed(trader: number, res: Reply): any {
    expect(res.status, res.text).toBe(201);
    this.orders.set(res.body.order.id, { trader, order: res.body.order });
    for (const fill of res.body.fills) this.takerFills.push({ trader, fill });
    return res.body.order;
  }
}

async function cancelOne(m: Market, t: Trader, orderId: string, record: Acknowledged): Promise<void> {
  const res = await m.api.call('DELETE', `/api/exchange/orders/${orderId}`, t.token);
  if (res.status === 200) record.cancelled.set(orderId, res.body);
  else expect(res.body?.code, res.text).toBe('ORDER_NOT_OPEN'); // filled meanwhile
}

async function cancelEverything(m: Market, t: Trader, record: Acknowledged): Promise<void> {
  for (const o of await m.cancelAll(t)) record.cancelled.set(o.id, o);
}

// --- what must hold after any session ------------------------------------------------------------

/** Each order's filled quantity, notional and fees are the sums of its fills. */
function expectOrdersAddUp(orders: readonly any[], fills: ReadonlyMap<string, any>): void {
  const sums = new Map<string, { qty: bigint; notional: bigint; fee: bigint }>();
  for (const f of fills.values()) {
    const s = sums.get(f.orderId) ?? { qty: 0n, notional: 0n, fee: 0n };
    sums.set(f.orderId, { qty: s.qty + minor(f.quantity), notional: s.notional + minor(f.notional), fee: s.fee + minor(f.fee) });
  }
  for (const o of orders) {
    const s = sums.get(o.id) ?? { qty: 0n, notional: 0n, fee: 0n };
    expect({ id: o.id, filled: minor(o.filledQuantity), notional: minor(o.notional), fees: minor(o.fees) }).toEqual({ id: o.id, filled: s.qty, notional: s.notional, fees: s.fee });
  }
}

/** Every fill is in the lists of exactly two people: the taker and the maker, on opposite sides. */
function expectFillsReachBothParties(fillsOf: ReadonlyArray<ReadonlyMap<string, any>>): Map<string, any[]> {
  const parties = new Map<string, any[]>();
  for (const fills of fillsOf) for (const f of fills.values()) parties.set(f.id, [...(parties.get(f.id) ?? []), f]);
  for (const [id, both] of parties) {
    expect(both.map((f) => f.liquidity).sort(), `fill ${id}`).toEqual(['maker', 'taker']);
    const [a, b] = both;
    expect(a.side, `fill ${id}`).not.toBe(b.side);
    expect({ price: a.price, quantity: a.quantity, notional: a.notional, at: a.at }).toEqual({ price: b.price, quantity: b.quantity, notional: b.notional, at: b.at });
  }
  return parties;
}

/**
 * A trader's held money is exactly what their open orders still need: one pending hold
 * (owner exchange:SYMBOL) per open order and none for any other order; a sell holds its
 * remaining quantity; a buy holds what it reserved at entry less what its fills spent (an
 * amended buy at least what the rest could cost); the wallets' held totals are those holds.
 * Returns each open order's hold.
 */
async function expectHoldsBackOpenOrders(m: Market, t: Trader, amended: ReadonlySet<string>): Promise<Map<string, bigint>> {
  const open = await m.orders(t, 'open');
  const holds = new Map<string, { currency: string; amount: bigint }[]>();
  for (const currency of ['USD', m.asset]) {
    for (const item of await m.statement(t, currency)) {
      if (item.kind !== 'hold' || item.holdStatus !== 'pending') continue;
      expect(item.owner, `a pending hold of trader ${t.index}: ${item.memo}`).toBe(`exchange:${m.symbol}`);
      const orderId = /order ([0-9a-f-]{36}) on /.exec(item.memo)?.[1] ?? item.memo;
      holds.set(orderId, [...(holds.get(orderId) ?? []), { currency, amount: minor(item.amount) }]);
    }
  }
  expect([...holds.keys()].sort(), `trader ${t.index}: pending holds are those of the open orders`).toEqual(open.map((o) => o.id).sort());
  const heldBy = new Map<string, bigint>();
  const total = new Map<string, bigint>([['USD', 0n], [m.asset, 0n]]);
  for (const o of open) {
    const hold = holds.get(o.id)!;
    expect(hold, `order ${o.id} has one hold`).toHaveLength(1);
    const { currency, amount } = hold[0]!;
    const remaining = minor(o.remainingQuantity);
    if (o.side === 'sell') expect({ id: o.id, currency, amount }).toEqual({ id: o.id, currency: m.asset, amount: remaining });
    else if (!amended.has(o.id)) expect({ id: o.id, currency, amount }).toEqual({ id: o.id, currency: 'USD', amount: buyReserveCents(minor(o.price), minor(o.quantity)) - minor(o.notional) - minor(o.fees) });
    else {
      expect(currency).toBe('USD');
      expect(amount, `amended buy ${o.id} can still pay for the rest`).toBeGreaterThanOrEqual(buyFinishCents(minor(o.price), remaining));
    }
    heldBy.set(o.id, amount);
    total.set(currency, total.get(currency)! + amount);
  }
  const wallets = await m.wallets(t);
  expect(minor(wallets.get('USD')!.held), `trader ${t.index} USD held`).toBe(total.get('USD'));
  expect(minor(wallets.get(m.asset)!.held), `trader ${t.index} ${m.asset} held`).toBe(total.get(m.asset));
  return heldBy;
}

/** The public depth is the sum of everyone's open orders. */
async function expectDepthIsOpenOrders(m: Market, openOrders: readonly any[]): Promise<void> {
  const levels = (side: string) => {
    const byPrice = new Map<string, [bigint, number]>();
    for (const o of openOrders.filter((o) => o.side === side)) {
      const [qty, n] = byPrice.get(o.price) ?? [0n, 0];
      byPrice.set(o.price, [qty + minor(o.remainingQuantity), n + 1]);
    }
    return [...byPrice].map(([price, [qty, n]]) => [price, String(qty), n]).sort((a, b) => (minor(a[0] as string) < minor(b[0] as string) ? -1 : 1));
  };
  const depth = await m.api.ok('GET', `/api/exchange/instruments/${m.symbol}/depth?levels=1000`, undefined);
  expect([...depth.bids].reverse()).toEqual(levels('buy'));
  expect(depth.asks).toEqual(levels('sell'));
}

// --- 1. kill -9 mid-trading ----------------------------------------------------------------------

const TRADERS = 8;
const ACKS_BEFORE_KILL = 150;
const MAX_ROUNDS = 400;

/** Eight traders send orders, cancels and cancel-alls until `kill` fires after enough acknowledgements. */
async function tradeUntilKilled(m: Market, traders: readonly Trader[], record: Acknowledged, kill: () => void): Promise<{ killed: boolean; inFlightAtKill: number }> {
  let killed = false;
  let failed = false;
  let inFlight = 0;
  let inFlightAtKill = 0;
  const loop = async (t: Trader) => {
    const rng = mulberry32(SEED + t.index);
    const mine = new Set<string>(); // acknowledged open, as far as this trader knows
    for (let round = 0; !killed && !failed && round < MAX_ROUNDS; round++) {
      const r = rng();
      const body = randomOrder(rng, m.symbol);
      inFlight += 1;
      try {
        if (r < 0.2 && mine.size > 0) {
          const id = pick(rng, [...mine]);
          mine.delete(id);
          await cancelOne(m, t, id, record);
        } else if (r < 0.25) {
          await cancelEverything(m, t, record);
          mine.clear();
        } else {
          const res = await m.api.call('POST', '/api/exchange/orders', t.token, body).catch((error: unknown) => {
            if (killed) record.unanswered.push({ trader: t.index, body });
            throw error;
          });
          if (res.status === 201) {
            // An acknowledgement whenever it arrives, even after the kill was sent.
            const order = record.placed(t.index, res);
            if (order.status === 'open') mine.add(order.id);
            if (!killed && record.orders.size >= ACKS_BEFORE_KILL) {
              killed = true;
              inFlightAtKill = inFlight - 1;
              kill();
            }
          } else expect(PLACE_REFUSALS, res.text).toContain(res.body?.code);
        }
      } catch (error) {
        if (!killed) {
          failed = true;
          throw error;
        } // else cut off by the kill: no answer, so it may or may not have happened
      } finally {
        inFlight -= 1;
      }
    }
  };
  await within(40_000, 'the stream of orders', Promise.all(traders.map(loop)));
  return { killed, inFlightAtKill };
}

/** Orders the node never acknowledged exist only as requests that were cut off: a refusal leaves nothing. */
function expectOnlySentOrders(record: Acknowledged, trader: number, orders: readonly any[]): void {
  const cutOff = record.unanswered.filter((u) => u.trader === trader).map((u) => u.body);
  for (const o of orders.filter((o) => !record.orders.has(o.id))) {
    const i = cutOff.findIndex((b) => b.side === o.side && b.type === o.type && b.quantity === o.quantity && b.timeInForce === o.timeInForce && (b.type === 'market' || b.price === o.price));
    expect(i, `order ${o.id} of trader ${trader} was never acknowledged, so it must be one cut off by the kill`).toBeGreaterThanOrEqual(0);
    cutOff.splice(i, 1);
  }
}

async function expectAcknowledgedOrdersKept(m: Market, traders: readonly Trader[], record: Acknowledged): Promise<void> {
  for (const [id, ack] of record.orders) {
    const now = await m.api.ok('GET', `/api/exchange/orders/${id}`, traders[ack.trader]!.token);
    const was = ack.order;
    expect(now, `order ${id}`).toMatchObject({ side: was.side, type: was.type, price: was.price, quantity: was.quantity, timeInForce: was.timeInForce });
    expect(minor(now.filledQuantity), `order ${id}: at least the fills it was acknowledged with`).toBeGreaterThanOrEqual(minor(was.filledQuantity));
    if (was.status !== 'open') expect(now, `order ${id}`).toMatchObject({ status: was.status, filledQuantity: was.filledQuantity, notional: was.notional, fees: was.fees });
    const cancel = record.cancelled.get(id);
    if (cancel) expect(now, `cancelled order ${id}`).toMatchObject({ status: 'cancelled', filledQuantity: cancel.filledQuantity, notional: cancel.notional });
  }
}

async function processStorage(dialect: Dialect): Promise<{ args: string[]; env: Env; storage: ScratchStorage }> {
  const storage = await scratchStorage(dialect);
  storages.push(storage);
  const env: Env = { ...ADMIN_ENV, ...(storage.databaseUrl ? { DATABASE_URL: storage.databaseUrl } : {}) };
  return { args: ['--host', '127.0.0.1', '--port', '0', '--data-dir', storage.dataDir], env, storage };
}

let assets = 0;
const assetCode = () => `KX${process.pid % 10_000}N${++assets}`;

describe.each(DIALECTS)('the exchange across kill -9 on %s', (dialect: Dialect) => {
  it('keeps every acknowledged order and fill, replays to the same book, holds exactly what open orders need, and trades on', SLOW, async () => {
    const { args, env } = await processStorage(dialect);
    const first = await GavelProcess.start(args, { env });
    const m = await Market.open(new Api(overHttp(first.base)), assetCode());
    const traders = await Promise.all(Array.from({ length: TRADERS }, (_, i) => m.trader(i, '100000.00', '2000')));

    const record = new Acknowledged();
    const { killed, inFlightAtKill } = await tradeUntilKilled(m, traders, record, () => first.signal('SIGKILL'));
    expect(killed, 'the stream reached the kill').toBe(true);
    expect(inFlightAtKill, 'requests in flight when the process was killed').toBeGreaterThan(0);
    expect(await first.waitForExit()).toEqual({ code: null, signal: 'SIGKILL' });

    const second = await GavelProcess.start(args, { env });
    m.api.call = overHttp(second.base);
    // First: verify waits for what the engine queued at start, the sweep of unused holds among it.
    await m.verify();
    await expectAcknowledgedOrdersKept(m, traders, record);

    const fillsOf = await Promise.all(traders.map((t) => m.fills(t)));
    const parties = expectFillsReachBothParties(fillsOf);
    for (const { trader, fill } of record.takerFills) {
      expect(fillsOf[trader]!.get(fill.id), `acknowledged fill ${fill.id}`).toEqual(fill);
      expect(parties.get(fill.id), `acknowledged fill ${fill.id} reached its maker`).toHaveLength(2);
    }
    const openOrders: any[] = [];
    for (const t of traders) {
      const orders = await m.orders(t);
      expectOrdersAddUp(orders, fillsOf[t.index]!);
      expectOnlySentOrders(record, t.index, orders);
      openOrders.push(...orders.filter((o) => o.status === 'open'));
      await expectHoldsBackOpenOrders(m, t, new Set());
    }
    expect(openOrders.length, 'the book kept resting orders through the kill').toBeGreaterThan(0);
    await expectDepthIsOpenOrders(m, openOrders);
    await m.ledgerClean();

    // Trading goes on: everyone's cancel-all gives every hold back, then a crossing pair trades.
    for (const t of traders) await m.cancelAll(t);
    for (const t of traders) expect((await expectHoldsBackOpenOrders(m, t, new Set())).size).toBe(0);
    const [seller, buyer] = traders as [Trader, Trader];
    const ask = await m.api.ok('POST', '/api/exchange/orders', seller.token, { symbol: m.symbol, side: 'sell', type: 'limit', price: '100.00', quantity: '3' }, 201);
    const bid = await m.api.ok('POST', '/api/exchange/orders', buyer.token, { symbol: m.symbol, side: 'buy', type: 'limit', price: '100.00', quantity: '3' }, 201);
    expect(bid.order).toMatchObject({ status: 'filled', filledQuantity: '3', notional: '300.00', fees: '0.60' });
    expect(bid.fills).toEqual([expect.objectContaining({ orderId: bid.order.id, side: 'buy', liquidity: 'taker', price: '100.00', quantity: '3' })]);
    expect((await m.fills(seller)).get(bid.fills[0].id)).toMatchObject({ orderId: ask.order.id, side: 'sell', liquidity: 'maker', fee: '0.30' });
    await m.verify();
    await m.ledgerClean();
    expect(await second.stop()).toEqual({ code: 0, signal: null });
  });
});

// --- 2. ledger invariants after a random session -----------------------------------------------

const SESSION_TRADERS = 6;
const SESSION_OPS_EACH = 84;
const FUND_USD_CENTS = 5_000_000n;
const FUND_UNITS = 1_000n;

/** One trader's share of the session: orders, cancels, amends of quantity and price, cancel-alls. */
async function randomSession(m: Market, t: Trader, record: Acknowledged): Promise<void> {
  const rng = mulberry32(SEED * 7 + t.index);
  const mine = new Map<string, any>(); // acknowledged open, as far as this trader knows
  for (let op = 0; op < SESSION_OPS_EACH; op++) {
    const r = rng();
    if (r < 0.1 && mine.size > 0) {
      const id = pick(rng, [...mine.keys()]);
      mine.delete(id);
      await cancelOne(m, t, id, record);
    } else if (r < 0.35 && mine.size > 0) {
      const [id, order] = pick(rng, [...mine]);
      const qty = Number(order.quantity);
      const change = rng() < 0.4 && qty > 1 ? { quantity: String(1 + Math.floor(rng() * (qty - 1))) } : { price: randomPrice(rng, order.side) };
      const res = await m.api.call('PATCH', `/api/exchange/orders/${id}`, t.token, change);
      if (res.status !== 200) {
        expect(AMEND_REFUSALS, res.text).toContain(res.body?.code);
        if (res.body.code === 'ORDER_NOT_OPEN') mine.delete(id);
        continue;
      }
      record.amended.add(id);
      for (const fill of res.body.fills) record.takerFills.push({ trader: t.index, fill });
      if (res.body.order.status === 'open') mine.set(id, res.body.order);
      else mine.delete(id);
    } else if (r < 0.365) {
      await cancelEverything(m, t, record);
      mine.clear();
    } else {
      const res = await m.api.call('POST', '/api/exchange/orders', t.token, randomOrder(rng, m.symbol));
      if (res.status !== 201) expect(PLACE_REFUSALS, res.text).toContain(res.body?.code);
      else {
        const order = record.placed(t.index, res);
        if (order.status === 'open') mine.set(order.id, order);
      }
    }
  }
}

/** Per currency: what users hold plus the house's revenue is what was issued; the house has the fees. */
async function expectMoneyConserved(m: Market, traders: readonly Trader[], feesCents: bigint): Promise<void> {
  for (const [currency, issuedMinor] of [
    ['USD', FUND_USD_CENTS * BigInt(traders.length)],
    [m.asset, FUND_UNITS * BigInt(traders.length)],
  ] as const) {
    let users = 0n;
    for (const t of traders) users += minor((await m.wallets(t)).get(currency)!.posted);
    const system = (await m.api.ok('GET', `/api/ledger/accounts?currency=${currency}`, m.adminToken)).items as any[];
    const posted = (kind: string) => minor(system.find((a) => a.kind === kind)?.posted ?? '0');
    const revenue = posted('house_revenue');
    expect({ currency, usersAndHouse: users + revenue, issuance: posted('issuance') }).toEqual({ currency, usersAndHouse: issuedMinor, issuance: -issuedMinor });
    expect({ currency, revenue }).toEqual({ currency, revenue: currency === 'USD' ? feesCents : 0n });
  }
}

describe.each(DIALECTS)('ledger invariants after a random trading session on %s', (dialect: Dialect) => {
  it('~500 random orders, amends and cancels: ledger clean, money conserved, the house has the fees, holds back open orders only, replay matches', SLOW, async () => {
    const t = await startTestNode(dialect, { logLevel: 'error', adminEmail: ADMIN.email, adminPassword: ADMIN.password }, { loginLimits: ROOMY_LIMITS });
    try {
      const api = new Api((method, path, token, json) => t.call(method as 'GET', path, { ...(token && { token }), ...(json !== undefined && { json }) }));
      const m = await Market.open(api, assetCode());
      const traders: Trader[] = [];
      for (let i = 0; i < SESSION_TRADERS; i++) traders.push(await m.trader(i, usd(FUND_USD_CENTS), String(FUND_UNITS)));

      const record = new Acknowledged();
      await within(45_000, 'the random session', Promise.all(traders.map((trader) => randomSession(m, trader, record))));
      expect(record.amended.size, 'the session amended orders').toBeGreaterThan(0);
      expect(record.takerFills.length, 'the session traded').toBeGreaterThan(0);

      await m.verify();
      await m.ledgerClean();
      const fillsOf = await Promise.all(traders.map((trader) => m.fills(trader)));
      expectFillsReachBothParties(fillsOf);
      let feesCents = 0n;
      for (const fills of fillsOf) for (const f of fills.values()) feesCents += minor(f.fee);
      await expectMoneyConserved(m, traders, feesCents);

      const book = t.node.exchange.engine.market(m.symbol)!;
      for (const trader of traders) {
        expectOrdersAddUp(await m.orders(trader), fillsOf[trader.index]!);
        const held = await expectHoldsBackOpenOrders(m, trader, record.amended);
        // The book settles future fills against the hold it records: it must be the ledger's.
        for (const [id, amount] of held) expect(book.open.get(id)?.heldMinor, `order ${id}: the book's hold is the ledger's`).toBe(amount);
      }

      for (const trader of traders) await m.cancelAll(trader);
      for (const trader of traders) expect((await expectHoldsBackOpenOrders(m, trader, record.amended)).size).toBe(0);
      expect(book.open.size).toBe(0);
      await m.verify();
      await m.ledgerClean();
      await expectMoneyConserved(m, traders, feesCents);
    } finally {
      await t.close();
    }
  });
});

// --- 3. an amendment cut off by kill -9 ----------------------------------------------------------

describe.each(DIALECTS.filter((d) => d === 'postgres'))('an amendment across kill -9 on %s', (dialect: Dialect) => {
  it('an amendment killed in the middle of its commit (extra hold written, journal entry waiting) leaves no hold behind', SLOW, async () => {
    const { args, env, storage } = await processStorage(dialect);
    const first = await GavelProcess.start(args, { env });
    const m = await Market.open(new Api(overHttp(first.base)), assetCode());
    const trader = await m.trader(0, '10000.00', '1');
    const placed = await m.api.ok('POST', '/api/exchange/orders', trader.token, { symbol: m.symbol, side: 'buy', type: 'limit', price: '90.00', quantity: '10' }, 201);
    expect(placed.order.status).toBe('open');

    // Hold the book's commit back (a lock on its journal): the group's transaction places the
    // amendment's extra hold, then waits at its journal entry.
    const sql = postgres(storage.databaseUrl!, { max: 2, onnotice: () => {} });
    const lock = await sql.reserve();
    try {
      await lock`begin`;
      await lock`lock table exchange_journal in exclusive mode`;
      // 95.00 needs more than the 90.00 hold: the amendment holds the difference first. The
      // waiting transaction has a transaction id: it has written (the hold) before it waited.
      const amend = m.api.call('PATCH', `/api/exchange/orders/${placed.order.id}`, trader.token, { price: '95.00' }).catch(() => undefined);
      await within(15_000, 'the amendment\'s commit to wait for the journal', (async () => {
        for (;;) {
          const [waiting] = await sql`select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and backend_xid is not null and query ilike '%exchange_journal%'`;
          if (waiting!.n > 0) return;
          await new Promise((r) => setTimeout(r, 50));
        }
      })());
      first.signal('SIGKILL');
      await first.waitForExit();
      await amend;
    } finally {
      await lock`rollback`.catch(() => {});
      lock.release();
      await sql.end({ timeout: 5 });
    }

    const second = await GavelProcess.start(args, { env });
    m.api.call = overHttp(second.base);
    await m.verify();
    // The amendment was never acknowledged nor journaled: the order rests at 90.00, backed by its entry hold alone.
    expect(await m.api.ok('GET', `/api/exchange/orders/${placed.order.id}`, trader.token)).toMatchObject({ status: 'open', price: '90.00' });
    const held = await expectHoldsBackOpenOrders(m, trader, new Set());
    expect(held.get(placed.order.id)).toBe(buyReserveCents(9_000n, 10n));
    // The extra hold went with the transaction: it never existed, so nothing had to release it.
    expect((await m.statement(trader, 'USD')).filter((i) => i.memo.startsWith('amend order'))).toEqual([]);
    await m.ledgerClean();
    expect(await second.stop()).toEqual({ code: 0, signal: null });
  });
});
