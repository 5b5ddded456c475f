// Bad input to the exchange's routes is an answer, not a crash (DESIGN rule 6), and nobody acts
// for someone else (rule 7). Every row of the table gets a 4xx problem document with its code
// (and the field at fault where there is one); after the whole table, and after 200 random
// malformed orders, nothing has changed: no order, no hold, no journal entry, no instrument,
// the same wallets and the same depth (seq included).
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProblemCode } from '../../src/platform/errors.js';
import { DIALECTS } from '../support/databases.js';
import { startTestNode, type Answer, type TestNode } from '../support/gavel.js';
import { openExchange, type Exchange } from '../support/exchange.js';
import type { Person } from '../support/auctions.js';
import { expectProblem, fieldsAtFault, ROOMY_LIMITS } from '../support/problems.js';
import { mulberry32 } from '../support/random.js';

type Caller = 'alice' | 'bob' | 'carol' | 'dave' | 'admin' | 'anonymous' | 'forged';

interface Fixture {
  x: Exchange;
  /** The instrument: tick 0.05 USD, lot 10, minimum 20, maximum 100000 (base scale 0). */
  symbol: string;
  base: string;
  /** A listed asset with 8 decimals, and one with none, neither traded yet. */
  asset8: string;
  fresh: string;
  people: Record<'alice' | 'bob' | 'carol' | 'dave', Person>;
  /** alice: an ask 100 @ 50.00, a bid 20 @ 40.00, a cancelled bid; bob: a bid 100 @ 49.00 (clientOrderId bob-1); carol: a bid 20 @ 10.00 with little money beside it. */
  aliceBid: string;
  aliceCancelled: string;
  bobBid: string;
  carolBid: string;
}

interface Row {
  name: string;
  method: 'GET' | 'POST' | 'DELETE' | 'PATCH';
  url: string;
  as: Caller;
  json?: unknown;
  /** Sent as is, with `contentType` (default application/json). */
  raw?: string;
  contentType?: string;
  headers?: Record<string, string>;
  status: number;
  code: ProblemCode;
  /** A field some error must name (in `errors[].field`). */
  field?: string;
}

const ORDERS = '/api/exchange/orders';
const INSTRUMENTS = '/api/exchange/instruments';
const NOBODY = '01890000-0000-7000-8000-000000000000';

function rowsFor(f: Fixture): Row[] {
  const S = f.symbol;
  /** A buy that would trade with alice's ask if it were accepted. */
  const order = (over: Record<string, unknown> = {}) => ({ symbol: S, side: 'buy', type: 'limit', price: '50.00', quantity: '20', ...over });
  const without = (key: string) => {
    const body: Record<string, unknown> = order();
    delete body[key];
    return body;
  };
  const place = (name: string, json: unknown, status: number, code: ProblemCode, field?: string, extra: Partial<Row> = {}): Row => ({ name: `order: ${name}`, method: 'POST', url: ORDERS, as: 'bob', json, status, code, ...(field && { field }), ...extra });
  const listing = (over: Record<string, unknown> = {}) => ({ base: f.fresh, quote: 'USD', tickSize: '0.01', lotSize: '1', maxQuantity: '1000', ...over });
  const list = (name: string, json: unknown, status: number, code: ProblemCode, field?: string, as: Caller = 'admin'): Row => ({ name: `listing: ${name}`, method: 'POST', url: INSTRUMENTS, as, json, status, code, ...(field && { field }) });
  const amend = (name: string, id: string, json: unknown, status: number, code: ProblemCode, field?: string, as: Caller = 'alice'): Row => ({ name: `amend: ${name}`, method: 'PATCH', url: `${ORDERS}/${id}`, as, json, status, code, ...(field && { field }) });
  const get = (name: string, url: string, status: number, code: ProblemCode, field?: string, as: Caller = 'alice'): Row => ({ name, method: 'GET', url, as, status, code, ...(field && { field }) });
  const candles = (query: string) => `${INSTRUMENTS}/${S}/candles?${query}`;

  return [
    // --- orders: wrong types -------------------------------------------------------------------
    place('symbol as a number', order({ symbol: 42 }), 400, 'VALIDATION', 'symbol'),
    place('side hold', order({ side: 'hold' }), 400, 'VALIDATION', 'side'),
    place('side in capitals', order({ side: 'BUY' }), 400, 'VALIDATION', 'side'),
    place('type stop', order({ type: 'stop' }), 400, 'VALIDATION', 'type'),
    place('price as a number', order({ price: 50 }), 400, 'VALIDATION', 'price'),
    place('quantity as a number', order({ quantity: 20 }), 400, 'VALIDATION', 'quantity'),
    place('quantity null', order({ quantity: null }), 400, 'VALIDATION', 'quantity'),
    place('quantity as an object', order({ quantity: { lots: 2 } }), 400, 'VALIDATION', 'quantity'),
    place('postOnly as a string', order({ postOnly: 'true' }), 400, 'VALIDATION', 'postOnly'),
    place('postOnly as a number', order({ postOnly: 1 }), 400, 'VALIDATION', 'postOnly'),
    place('timeInForce in capitals', order({ timeInForce: 'GTC' }), 400, 'VALIDATION', 'timeInForce'),
    place('timeInForce day', order({ timeInForce: 'day' }), 400, 'VALIDATION', 'timeInForce'),
    place('clientOrderId empty', order({ clientOrderId: '' }), 400, 'VALIDATION', 'clientOrderId'),
    place('clientOrderId with a space', order({ clientOrderId: 'two words' }), 400, 'VALIDATION', 'clientOrderId'),
    place('clientOrderId of 65 characters', order({ clientOrderId: 'c'.repeat(65) }), 400, 'VALIDATION', 'clientOrderId'),
    place('clientOrderId as a number', order({ clientOrderId: 7 }), 400, 'VALIDATION', 'clientOrderId'),
    place('a body that is an array', [order()], 400, 'VALIDATION'),
    place('a body that is a string', 'buy 20', 400, 'VALIDATION'),
    place('a body that is null', null, 400, 'VALIDATION'),
    place('malformed JSON', undefined, 400, 'MALFORMED_JSON', undefined, { raw: `{"symbol":"${S}","side":"buy",` }),
    place('an empty JSON body', undefined, 400, 'VALIDATION', undefined, { raw: '' }),
    place('a text body', undefined, 415, 'UNSUPPORTED_MEDIA_TYPE', undefined, { raw: 'side=buy', contentType: 'text/plain' }),
    place('a number too large for JSON', undefined, 400, 'VALIDATION', 'price', { raw: `{"symbol":"${S}","side":"buy","type":"limit","price":1e400,"quantity":"20"}` }),
    // --- orders: missing and unknown fields ---------------------------------------------------------
    ...(['symbol', 'side', 'type', 'quantity'] as const).map((key) => place(`no ${key}`, without(key), 400, 'VALIDATION', key)),
    place('an empty object', {}, 400, 'VALIDATION'),
    place('an unknown field', order({ stopPrice: '49.00' }), 400, 'VALIDATION', 'stopPrice'),
    place('acting for someone else', order({ userId: NOBODY }), 400, 'VALIDATION', 'userId'),
    // --- orders: amounts -------------------------------------------------------------------------------
    ...['-50.00', '5e1', '5E1', '50.00 ', ' 50.00', '050.00', '50.', '.5', '+50', '50,00', '', 'NaN', 'Infinity', '0x32', '9'.repeat(61)].map((price) =>
      place(`price ${JSON.stringify(price.length > 20 ? `${price.slice(0, 8)}…(${price.length})` : price)}`, order({ price }), 400, 'VALIDATION', 'price'),
    ),
    ...['-20', '2e1', '+20', '20.', '0020', '', 'twenty'].map((quantity) => place(`quantity ${JSON.stringify(quantity)}`, order({ quantity }), 400, 'VALIDATION', 'quantity')),
    place('price zero', order({ price: '0' }), 422, 'PRICE_INVALID', 'price'),
    place('price zero with decimals', order({ price: '0.00' }), 422, 'PRICE_INVALID', 'price'),
    place('price more precise than USD', order({ price: '50.001' }), 422, 'PRICE_INVALID', 'price'),
    place('price a trailing zero beyond USD', order({ price: '50.000' }), 422, 'PRICE_INVALID', 'price'),
    place('price above the highest tick', order({ price: '50000000000.05' }), 422, 'PRICE_INVALID', 'price'),
    place('price of 60 digits', order({ price: '9'.repeat(60) }), 422, 'PRICE_INVALID', 'price'),
    place('price not on the tick', order({ price: '50.03' }), 422, 'PRICE_NOT_ON_TICK', 'price'),
    place('quantity zero', order({ quantity: '0' }), 422, 'QUANTITY_INVALID', 'quantity'),
    place('quantity with decimals of a whole asset', order({ quantity: '20.5' }), 422, 'QUANTITY_INVALID', 'quantity'),
    place('quantity with a zero decimal of a whole asset', order({ quantity: '20.0' }), 422, 'QUANTITY_INVALID', 'quantity'),
    place('quantity of 41 digits', order({ quantity: '9'.repeat(41) }), 422, 'QUANTITY_INVALID', 'quantity'),
    place('quantity not on the lot', order({ quantity: '25' }), 422, 'QUANTITY_NOT_ON_LOT', 'quantity'),
    place('quantity below the minimum', order({ quantity: '10' }), 422, 'ORDER_TOO_SMALL', 'quantity'),
    place('quantity above the maximum', order({ quantity: '100010' }), 422, 'ORDER_TOO_LARGE', 'quantity'),
    // --- orders: type rules ------------------------------------------------------------------------------
    place('market with a price', order({ type: 'market' }), 422, 'PRICE_NOT_ALLOWED', 'price'),
    place('limit without a price', without('price'), 422, 'PRICE_REQUIRED', 'price'),
    place('post-only IOC', order({ postOnly: true, timeInForce: 'ioc' }), 422, 'POST_ONLY_NOT_GTC', 'timeInForce'),
    place('post-only FOK', order({ postOnly: true, timeInForce: 'fok' }), 422, 'POST_ONLY_NOT_GTC', 'timeInForce'),
    place('market GTC', { symbol: S, side: 'buy', type: 'market', quantity: '20', timeInForce: 'gtc' }, 422, 'MARKET_NOT_GTC', 'timeInForce'),
    place('market post-only', { symbol: S, side: 'buy', type: 'market', quantity: '20', postOnly: true }, 422, 'POST_ONLY_NOT_LIMIT', 'postOnly'),
    // A client order id names an order already placed; the body is still checked.
    place('a used clientOrderId with a price off the tick', order({ price: '50.03', clientOrderId: 'bob-1' }), 422, 'PRICE_NOT_ON_TICK', 'price'),
    // --- orders: symbols, callers, headers ---------------------------------------------------------------
    place('an unknown symbol', order({ symbol: 'NOPE-USD' }), 404, 'NOT_FOUND'),
    ...['acme-usd', 'ACMEUSD', 'A-USD', `${S}-X`, `${S}; drop table exchange_orders`, 'ÄCME-USD'].map((symbol) => place(`symbol ${JSON.stringify(symbol)}`, order({ symbol }), 400, 'VALIDATION', 'symbol')),
    place('no token', order(), 401, 'UNAUTHENTICATED', undefined, { as: 'anonymous' }),
    place('a token that is not one', order(), 401, 'UNAUTHENTICATED', undefined, { as: 'forged' }),
    place('an Idempotency-Key with a space', order(), 400, 'VALIDATION', 'idempotency-key', { headers: { 'idempotency-key': 'two words' } }),
    place('an Idempotency-Key of 201 characters', order(), 400, 'VALIDATION', 'idempotency-key', { headers: { 'idempotency-key': 'k'.repeat(201) } }),
    place('refused with an Idempotency-Key', order({ price: '50.03' }), 422, 'PRICE_NOT_ON_TICK', 'price', { headers: { 'idempotency-key': 'retry-me' } }),
    // --- one order: ids and owners ---------------------------------------------------------------------
    ...(['GET', 'DELETE'] as const).flatMap((method) => [
      { name: `${method} an id that is not a UUID`, method, url: `${ORDERS}/abc`, as: 'alice', status: 400, code: 'VALIDATION', field: 'id' } satisfies Row,
      { name: `${method} a numeric id`, method, url: `${ORDERS}/123`, as: 'alice', status: 400, code: 'VALIDATION', field: 'id' } satisfies Row,
      { name: `${method} someone else’s order`, method, url: `${ORDERS}/${f.bobBid}`, as: 'alice', status: 404, code: 'NOT_FOUND' } satisfies Row,
      { name: `${method} an order of nobody`, method, url: `${ORDERS}/${NOBODY}`, as: 'alice', status: 404, code: 'NOT_FOUND' } satisfies Row,
      { name: `${method} an order anonymously`, method, url: `${ORDERS}/${f.aliceBid}`, as: 'anonymous', status: 401, code: 'UNAUTHENTICATED' } satisfies Row,
    ]),
    { name: 'cancel an order cancelled already', method: 'DELETE', url: `${ORDERS}/${f.aliceCancelled}`, as: 'alice', status: 409, code: 'ORDER_NOT_OPEN' },
    // --- amendments ----------------------------------------------------------------------------------------
    amend('an id that is not a UUID', 'abc', { quantity: '10' }, 400, 'VALIDATION', 'id'),
    amend('someone else’s order', f.bobBid, { quantity: '20' }, 404, 'NOT_FOUND'),
    amend('someone else’s order to a crossing price', f.bobBid, { price: '50.00' }, 404, 'NOT_FOUND'),
    amend('an order of nobody', NOBODY, { quantity: '20' }, 404, 'NOT_FOUND'),
    amend('anonymously', f.aliceBid, { quantity: '10' }, 401, 'UNAUTHENTICATED', undefined, 'anonymous'),
    amend('nothing to change', f.aliceBid, {}, 400, 'VALIDATION', 'quantity'),
    amend('an unknown field', f.aliceBid, { side: 'sell' }, 400, 'VALIDATION', 'side'),
    amend('quantity as a number', f.aliceBid, { quantity: 10 }, 400, 'VALIDATION', 'quantity'),
    amend('a negative price', f.aliceBid, { price: '-40.00' }, 400, 'VALIDATION', 'price'),
    amend('a price in exponent form', f.aliceBid, { price: '4e1' }, 400, 'VALIDATION', 'price'),
    amend('quantity zero', f.aliceBid, { quantity: '0' }, 422, 'QUANTITY_INVALID', 'quantity'),
    amend('quantity not on the lot', f.aliceBid, { quantity: '15' }, 422, 'QUANTITY_NOT_ON_LOT', 'quantity'),
    amend('price not on the tick', f.aliceBid, { price: '40.03' }, 422, 'PRICE_NOT_ON_TICK', 'price'),
    amend('price more precise than USD', f.aliceBid, { price: '40.001' }, 422, 'PRICE_INVALID', 'price'),
    amend('the same quantity and price', f.aliceBid, { quantity: '20', price: '40.00' }, 422, 'AMEND_NOTHING'),
    amend('a larger quantity', f.aliceBid, { quantity: '30' }, 422, 'AMEND_NOT_SMALLER', 'quantity'),
    // Growing is refused whatever the price and the money: nothing is reserved for it first.
    amend('a larger quantity at a higher price', f.aliceBid, { quantity: '30', price: '41.00' }, 422, 'AMEND_NOT_SMALLER', 'quantity'),
    amend('a larger quantity at a higher price, without the money for it', f.carolBid, { quantity: '40', price: '20.00' }, 422, 'AMEND_NOT_SMALLER', 'quantity', 'carol'),
    amend('an order cancelled already', f.aliceCancelled, { quantity: '10' }, 409, 'ORDER_NOT_OPEN'),
    // --- my orders, cancel all, my fills -------------------------------------------------------------------
    ...['limit=0', 'limit=201', 'limit=abc', 'limit=1e400', 'limit=1.5'].map((q) => get(`my orders with ${q}`, `${ORDERS}?${q}`, 400, 'VALIDATION', 'limit')),
    get('my orders with status done', `${ORDERS}?status=done`, 400, 'VALIDATION', 'status'),
    get('my orders with a malformed symbol', `${ORDERS}?symbol=acme-usd`, 400, 'VALIDATION', 'symbol'),
    get('my orders on an unknown symbol', `${ORDERS}?symbol=NOPE-USD`, 404, 'NOT_FOUND'),
    get('my orders before a non-UUID', `${ORDERS}?before=yesterday`, 400, 'VALIDATION', 'before'),
    get('my orders with an unknown parameter', `${ORDERS}?userId=${NOBODY}`, 400, 'VALIDATION', 'userId'),
    get('my orders anonymously', ORDERS, 401, 'UNAUTHENTICATED', undefined, 'anonymous'),
    { name: 'cancel all on a malformed symbol', method: 'DELETE', url: `${ORDERS}?symbol=acme`, as: 'alice', status: 400, code: 'VALIDATION', field: 'symbol' },
    { name: 'cancel all on an unknown symbol', method: 'DELETE', url: `${ORDERS}?symbol=NOPE-USD`, as: 'alice', status: 404, code: 'NOT_FOUND' },
    { name: 'cancel all with an unknown parameter', method: 'DELETE', url: `${ORDERS}?all=true`, as: 'alice', status: 400, code: 'VALIDATION', field: 'all' },
    { name: 'cancel all anonymously', method: 'DELETE', url: ORDERS, as: 'anonymous', status: 401, code: 'UNAUTHENTICATED' },
    get('my fills before yesterday', '/api/exchange/fills?before=yesterday', 400, 'VALIDATION', 'before'),
    get('my fills before 31 February', '/api/exchange/fills?before=2030-02-31T00:00:00Z', 400, 'VALIDATION', 'before'),
    get('my fills with limit 0', '/api/exchange/fills?limit=0', 400, 'VALIDATION', 'limit'),
    get('my fills on an unknown symbol', '/api/exchange/fills?symbol=NOPE-USD', 404, 'NOT_FOUND'),
    get('my fills anonymously', '/api/exchange/fills', 401, 'UNAUTHENTICATED', undefined, 'anonymous'),
    // --- market data -----------------------------------------------------------------------------------------
    get('an instrument with a malformed symbol', `${INSTRUMENTS}/acme-usd`, 400, 'VALIDATION', 'symbol'),
    get('an unknown instrument', `${INSTRUMENTS}/NOPE-USD`, 404, 'NOT_FOUND'),
    ...['levels=0', 'levels=1001', 'levels=abc', 'levels=1.5', 'levels=-1'].map((q) => get(`depth with ${q}`, `${INSTRUMENTS}/${S}/depth?${q}`, 400, 'VALIDATION', 'levels')),
    get('depth with an unknown parameter', `${INSTRUMENTS}/${S}/depth?side=buy`, 400, 'VALIDATION', 'side'),
    get('depth of an unknown instrument', `${INSTRUMENTS}/NOPE-USD/depth`, 404, 'NOT_FOUND'),
    get('depth of a malformed symbol', `${INSTRUMENTS}/nope/depth`, 400, 'VALIDATION', 'symbol'),
    ...['limit=0', 'limit=501'].map((q) => get(`trades with ${q}`, `${INSTRUMENTS}/${S}/trades?${q}`, 400, 'VALIDATION', 'limit')),
    get('trades of an unknown instrument', `${INSTRUMENTS}/NOPE-USD/trades`, 404, 'NOT_FOUND'),
    get('candles from yesterday', candles('from=yesterday'), 400, 'VALIDATION', 'from'),
    get('candles from a date without a time', candles('from=2030-01-01'), 400, 'VALIDATION', 'from'),
    get('candles to month 13', candles('to=2030-13-01T00:00:00Z'), 400, 'VALIDATION', 'to'),
    get('candles from 31 February', candles('from=2030-02-31T00:00:00Z&to=2030-03-04T00:00:00Z'), 400, 'VALIDATION', 'from'),
    get('candles ending before they start', candles('from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z'), 400, 'VALIDATION', 'to'),
    get('candles of an empty range', candles('from=2030-01-01T00:00:00Z&to=2030-01-01T00:00:00Z'), 400, 'VALIDATION', 'to'),
    get('candles over 8 days', candles('from=2030-01-01T00:00:00Z&to=2030-01-09T00:00:00Z'), 400, 'VALIDATION', 'from'),
    get('candles with a 41-character time', candles(`from=2030-01-01T00:00:00.${'0'.repeat(21)}Z`), 400, 'VALIDATION', 'from'),
    get('candles with an unknown parameter', candles('interval=5m'), 400, 'VALIDATION', 'interval'),
    get('candles of an unknown instrument', `${INSTRUMENTS}/NOPE-USD/candles`, 404, 'NOT_FOUND'),
    // --- admin actions ------------------------------------------------------------------------------------------
    ...(['halt', 'resume'] as const).flatMap((action): Row[] => [
      { name: `${action} by a trader`, method: 'POST', url: `${INSTRUMENTS}/${S}/${action}`, as: 'bob', status: 403, code: 'FORBIDDEN' },
      { name: `${action} anonymously`, method: 'POST', url: `${INSTRUMENTS}/${S}/${action}`, as: 'anonymous', status: 401, code: 'UNAUTHENTICATED' },
      { name: `${action} an unknown instrument`, method: 'POST', url: `${INSTRUMENTS}/NOPE-USD/${action}`, as: 'admin', status: 404, code: 'NOT_FOUND' },
      { name: `${action} a malformed symbol`, method: 'POST', url: `${INSTRUMENTS}/nope-usd/${action}`, as: 'admin', status: 400, code: 'VALIDATION', field: 'symbol' },
    ]),
    get('verify by a trader', `${INSTRUMENTS}/${S}/verify`, 403, 'FORBIDDEN', undefined, 'bob'),
    get('verify anonymously', `${INSTRUMENTS}/${S}/verify`, 401, 'UNAUTHENTICATED', undefined, 'anonymous'),
    // --- listing --------------------------------------------------------------------------------------------------
    list('by a trader', listing(), 403, 'FORBIDDEN', undefined, 'bob'),
    list('anonymously', listing(), 401, 'UNAUTHENTICATED', undefined, 'anonymous'),
    list('tick × lot not a whole number of cents', listing({ base: f.asset8, tickSize: '0.01', lotSize: '0.00000001', maxQuantity: '1' }), 422, 'INSTRUMENT_INVALID', 'lotSize'),
    list('a maker fee above the taker fee', listing({ makerFeeBps: 30, takerFeeBps: 20 }), 422, 'INSTRUMENT_INVALID', 'makerFeeBps'),
    list('base and quote the same', listing({ base: 'USD' }), 422, 'INSTRUMENT_INVALID', 'base'),
    list('a minimum above the maximum', listing({ minQuantity: '2000' }), 422, 'INSTRUMENT_INVALID', 'minQuantity'),
    list('more than a billion lots', listing({ maxQuantity: '1000000001' }), 422, 'INSTRUMENT_INVALID', 'maxQuantity'),
    list('an order that would not fit the ledger', listing({ tickSize: '1000.00', maxQuantity: '1000000' }), 422, 'INSTRUMENT_INVALID', 'maxQuantity'),
    list('a maximum off the lot', listing({ lotSize: '10', maxQuantity: '1005' }), 400, 'VALIDATION', 'maxQuantity'),
    list('a minimum off the lot', listing({ lotSize: '10', minQuantity: '15' }), 400, 'VALIDATION', 'minQuantity'),
    list('tick zero', listing({ tickSize: '0' }), 400, 'VALIDATION', 'tickSize'),
    list('tick finer than a cent', listing({ tickSize: '0.001' }), 400, 'VALIDATION', 'tickSize'),
    list('a negative tick', listing({ tickSize: '-0.01' }), 400, 'VALIDATION', 'tickSize'),
    list('a lot finer than the asset', listing({ lotSize: '0.5' }), 400, 'VALIDATION', 'lotSize'),
    list('an unknown base', listing({ base: 'NOPE' }), 400, 'UNKNOWN_CURRENCY', 'base'),
    list('an unknown quote', listing({ quote: 'XYZ' }), 400, 'UNKNOWN_CURRENCY', 'quote'),
    list('a base in lower case', listing({ base: f.fresh.toLowerCase() }), 400, 'VALIDATION', 'base'),
    ...[-1, 1001, 1.5, '10', null].map((fee) => list(`maker fee ${JSON.stringify(fee)}`, listing({ makerFeeBps: fee }), 400, 'VALIDATION', 'makerFeeBps')),
    list('protection zero', listing({ protectionBps: 0 }), 400, 'VALIDATION', 'protectionBps'),
    list('no maximum', (({ maxQuantity: _, ...rest }) => rest)(listing()), 400, 'VALIDATION', 'maxQuantity'),
    list('an unknown field', listing({ status: 'halted' }), 400, 'VALIDATION', 'status'),
    list('a malformed symbol', listing({ symbol: 'fresh-usd' }), 400, 'VALIDATION', 'symbol'),
    list('the same pair again', listing({ base: f.base }), 409, 'INSTRUMENT_EXISTS'),
    list('a symbol listed already', listing({ symbol: S }), 409, 'INSTRUMENT_EXISTS'),
  ];
}

// --- what must not change --------------------------------------------------------------------------

interface Snapshot {
  tables: Record<string, unknown[]>;
  depth: unknown;
  wallets: unknown[];
}

async function snapshot(t: TestNode, f: Fixture): Promise<Snapshot> {
  const db = t.node.database.kysely as unknown as Kysely<any>;
  const all = (table: string, ...order: string[]) => order.reduce((q, column) => q.orderBy(column), db.selectFrom(table).selectAll()).execute();
  const tables = {
    exchange_instruments: await all('exchange_instruments', 'symbol'),
    exchange_orders: await all('exchange_orders', 'id'),
    exchange_journal: await all('exchange_journal', 'symbol', 'seq'),
    exchange_trades: await all('exchange_trades', 'id'),
    exchange_candles: await all('exchange_candles', 'symbol', 'minute_ms'),
    ledger_assets: await all('ledger_assets', 'code'),
    ledger_accounts: await all('ledger_accounts', 'id'),
    ledger_transfers: await all('ledger_transfers', 'id'),
    platform_idempotency_keys: await all('platform_idempotency_keys', 'scope', 'key'),
    platform_outbox: await db.selectFrom('platform_outbox').select(['id', 'topic']).orderBy('id').execute(),
  };
  const wallets = [];
  for (const person of Object.values(f.people)) for (const currency of ['USD', f.base]) wallets.push(await f.x.wallet(person, currency));
  return { tables, depth: (await t.call('GET', `${INSTRUMENTS}/${f.symbol}/depth?levels=1000`)).body, wallets };
}

// --- random malformed orders ---------------------------------------------------------------------------

/** One way to spoil an order, the fields it uses, and the status it earns on its own. */
interface Poison {
  fields: string[];
  status: 400 | 404 | 422;
  apply(body: Record<string, unknown>): void;
}

const set = (field: string, value: unknown, status: 400 | 404 | 422): Poison => ({ fields: [field], status, apply: (b) => void (b[field] = value) });

function poisons(symbol: string): Poison[] {
  const out: Poison[] = [];
  for (const v of ['acme-usd', symbol.toLowerCase(), '', `${symbol} `, 42, null, [symbol]]) out.push(set('symbol', v, 400));
  out.push(set('symbol', 'NOPE-USD', 404));
  for (const v of ['BUY', 'hold', '', 1, null, true]) out.push(set('side', v, 400));
  for (const v of ['stop', 'LIMIT', '', 0, null]) out.push(set('type', v, 400));
  for (const v of ['-50.00', '5e1', '50,00', '50.', '.5', ' 50.00', 'NaN', 'Infinity', '0x32', '9'.repeat(61), 50, 50.5, null, true, {}, []]) out.push(set('price', v, 400));
  // On a limit order these break the tick or the range; on a market order any price is refused.
  for (const v of ['0', '0.00', '50.001', '50.03', '49.99', '50000000000.05', '9'.repeat(60)]) out.push(set('price', v, 422));
  for (const v of ['-20', '2e1', '', ' 20', '20 ', 20, null, {}]) out.push(set('quantity', v, 400));
  for (const v of ['0', '25', '10', '100010', '20.5', '20.0', '9'.repeat(41)]) out.push(set('quantity', v, 422));
  for (const v of ['GTC', 'day', '', 1, null]) out.push(set('timeInForce', v, 400));
  for (const v of ['true', 1, 0, null, 'yes']) out.push(set('postOnly', v, 400));
  for (const v of ['', 'two words', 'c'.repeat(65), 7, null, 'naïve']) out.push(set('clientOrderId', v, 400));
  for (const key of ['userId', 'stopPrice', 'leverage', 'Symbol', 'price ']) out.push({ fields: [key], status: 400, apply: (b) => void (b[key] = '1') });
  for (const key of ['symbol', 'side', 'type', 'quantity']) out.push({ fields: [key], status: 400, apply: (b) => void delete b[key] });
  out.push({ fields: ['type', 'price'], status: 422, apply: (b) => Object.assign(b, { type: 'limit' }, { price: undefined }) });
  out.push({ fields: ['type', 'price'], status: 422, apply: (b) => Object.assign(b, { type: 'market', price: '50.00' }) });
  out.push({ fields: ['type', 'price', 'timeInForce'], status: 422, apply: (b) => Object.assign(b, { type: 'market', price: undefined, timeInForce: 'gtc' }) });
  out.push({ fields: ['postOnly', 'timeInForce'], status: 422, apply: (b) => Object.assign(b, { postOnly: true, timeInForce: 'ioc' }) });
  return out;
}

/**
 * A malformed order: a valid one that would trade or rest, spoiled in 1–3 fields (each spoil
 * alone makes it invalid), or not an object at all. The expected status is the first check
 * that fails: the schema (400), then the instrument (404), then the order's rules (422).
 */
function malformedOrder(rnd: () => number, symbol: string, n: number): { body: unknown; status: number; headers: Record<string, string> } {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)]!;
  const headers: Record<string, string> = rnd() < 0.3 ? { 'idempotency-key': `random-${n}` } : {};
  if (rnd() < 0.05) return { body: pick([[], 'buy', 42, null, true, [{ symbol }]]), status: 400, headers };
  const templates: Array<Record<string, unknown>> = [
    { side: 'buy', type: 'limit', price: '50.00', quantity: '20' },
    { side: 'buy', type: 'limit', price: '55.00', quantity: '40', timeInForce: 'ioc' },
    { side: 'sell', type: 'limit', price: '49.00', quantity: '20', timeInForce: 'fok' },
    { side: 'buy', type: 'market', quantity: '20' },
    { side: 'sell', type: 'market', quantity: '20', timeInForce: 'fok' },
    { side: 'buy', type: 'limit', price: '45.00', quantity: '20', postOnly: true },
  ];
  const body: Record<string, unknown> = { symbol, ...pick(templates), ...(rnd() < 0.3 && { clientOrderId: `random-${n}` }) };
  const chosen: Poison[] = [];
  const all = poisons(symbol);
  const count = 1 + Math.floor(rnd() * 3);
  while (chosen.length < count) {
    const p = pick(all);
    if (chosen.some((c) => c.fields.some((field) => p.fields.includes(field)))) continue;
    chosen.push(p);
  }
  for (const p of chosen) p.apply(body);
  for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
  return { body, status: Math.min(...chosen.map((p) => p.status)), headers };
}

for (const dialect of DIALECTS) {
  describe(`bad input to the exchange on ${dialect}`, () => {
    let t: TestNode;
    let f: Fixture;
    let admin: string;

    const tokenOf = (as: Caller) => (as === 'admin' ? admin : as === 'anonymous' ? undefined : as === 'forged' ? 'gvl_forged-token' : f.people[as].token);

    async function send(row: Pick<Row, 'method' | 'url' | 'as' | 'json' | 'raw' | 'contentType' | 'headers'>): Promise<Answer> {
      const token = tokenOf(row.as);
      const common = { ...(token && { token }), ...(row.headers && { headers: row.headers }) };
      if (row.raw !== undefined) return t.call(row.method, row.url, { ...common, payload: row.raw, contentType: row.contentType ?? 'application/json' });
      return t.call(row.method, row.url, { ...common, ...(row.json !== undefined && { json: row.json }) });
    }

    beforeAll(async () => {
      t = await startTestNode(dialect, {}, { loginLimits: ROOMY_LIMITS });
      admin = await t.adminToken();
      const x = await openExchange(t, { tickSize: '0.05', lotSize: '10', minQuantity: '20', maxQuantity: '100000' });
      const base = x.symbol.split('-')[0]!;
      const asset8 = 'EIGHT';
      const fresh = 'FRESH';
      for (const [code, scale] of [
        [asset8, 8],
        [fresh, 0],
      ] as const) {
        const res = await t.call('POST', '/api/ledger/assets', { token: admin, json: { code, scale, name: code } });
        expect(res.status, res.text).toBe(201);
      }
      const people = { alice: await x.trader(), bob: await x.trader(), carol: await x.trader(25_000n), dave: await x.trader() };
      const rest = async (who: Person, body: Record<string, unknown>) => {
        const res = await x.order(who, body);
        expect(res.status, res.text).toBe(201);
        expect(res.body.order.status).toBe('open');
        return res.body.order.id as string;
      };
      await rest(people.alice, { side: 'sell', type: 'limit', price: '50.00', quantity: '100' });
      const aliceBid = await rest(people.alice, { side: 'buy', type: 'limit', price: '40.00', quantity: '20' });
      const aliceCancelled = await rest(people.alice, { side: 'buy', type: 'limit', price: '30.00', quantity: '20' });
      expect((await t.call('DELETE', `${ORDERS}/${aliceCancelled}`, { token: people.alice.token })).status).toBe(200);
      const bobBid = await rest(people.bob, { side: 'buy', type: 'limit', price: '49.00', quantity: '100', clientOrderId: 'bob-1' });
      const carolBid = await rest(people.carol, { side: 'buy', type: 'limit', price: '10.00', quantity: '20' });
      f = { x, symbol: x.symbol, base, asset8, fresh, people, aliceBid, aliceCancelled, bobBid, carolBid };
    });
    afterAll(async () => t?.close());

    it('answers every bad request with a 4xx problem naming the field, and changes nothing', async () => {
      const before = await snapshot(t, f);
      const failures: string[] = [];
      for (const row of rowsFor(f)) {
        const res = await send(row);
        try {
          expectProblem(res, row.status, row.code);
          if (row.field) expect(fieldsAtFault(res)).toContain(row.field);
        } catch {
          failures.push(`${row.name}: expected ${row.status} ${row.code}${row.field ? ` naming ${row.field}` : ''}, got ${res.status} ${res.text.slice(0, 300)}`);
        }
      }
      const after = await snapshot(t, f);
      // Every wrong answer at once, and the writes too, so one run shows the whole picture.
      expect.soft(failures).toEqual([]);
      expect(after).toEqual(before);

      // The refused request freed its Idempotency-Key: a good request may use it.
      const good = await t.call('POST', ORDERS, { token: f.people.bob.token, headers: { 'idempotency-key': 'retry-me' }, json: { symbol: f.symbol, side: 'buy', type: 'limit', price: '30.00', quantity: '20' } });
      expect(good.status, good.text).toBe(201);
      expect(good.headers['idempotent-replayed']).toBeUndefined();
      expect((await t.call('DELETE', `${ORDERS}/${good.body.order.id}`, { token: f.people.bob.token })).status).toBe(200);
    });

    it('200 random malformed orders are all refused with a 4xx problem, and change nothing', async () => {
      const seed = 7_331;
      const rnd = mulberry32(seed);
      const before = await snapshot(t, f);
      const failures: string[] = [];
      for (let n = 0; n < 200; n++) {
        const { body, status, headers } = malformedOrder(rnd, f.symbol, n);
        const res = await send({ method: 'POST', url: ORDERS, as: 'dave', json: body, headers });
        const problem = res.body as { code?: string; errors?: unknown[] } | undefined;
        const wellFormed = String(res.headers['content-type']).startsWith('application/problem+json') && typeof problem?.code === 'string';
        const named = problem?.code !== 'VALIDATION' || (problem.errors?.length ?? 0) > 0;
        if (res.status !== status || !wellFormed || !named) failures.push(`seed ${seed} #${n} ${JSON.stringify(body)}: expected ${status}, got ${res.status} ${res.text.slice(0, 200)}`);
      }
      expect(failures).toEqual([]);
      expect(await snapshot(t, f)).toEqual(before);
    });
  });
}
