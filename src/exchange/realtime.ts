// The exchange on the WebSocket gateway. Public feeds per instrument: `book:<SYMBOL>` (L2
// depth: a snapshot on subscribe, then each committed command's changed levels with seq and
// prevSeq) and `trades:<SYMBOL>` (every trade, seq counting the instrument's trades). Private
// pushes: each fill to BOTH parties' sockets from the same commit callback, and order changes
// to their owner. Orders can be placed, cancelled and amended over the socket with the same
// validation as REST. Scaled out, a book's snapshot comes from the engine that owns it (routed,
// like depth over REST), and each commit's messages leave that engine for every api node's
// gateway (docs/cluster.md).
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { fieldError } from '../platform/errors.js';
import { requirePrincipal, type Principal } from '../platform/auth/principal.js';
import type { WsGateway } from '../gateway/ws.js';
import type { RealtimeOut } from '../cluster/realtime-relay.js';
import { AmountText } from '../ledger/routes.js';
import type { Committed, ExchangeEngine } from './engine.js';
import { NewOrderBody, SymbolText } from './routes.js';
import { levelsJson, myTradeJson, orderJson, priceText, publicTradeJson, quantityText, type ExchangeService } from './service.js';

const UUID = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
const CancelArgs = Type.Object({ orderId: Type.String({ pattern: UUID }) }, { additionalProperties: false });
const CancelAllArgs = Type.Object({ symbol: Type.Optional(SymbolText) }, { additionalProperties: false });
const AmendArgs = Type.Object({ orderId: Type.String({ pattern: UUID }), quantity: Type.Optional(AmountText), price: Type.Optional(AmountText) }, { additionalProperties: false });
const DEPTH_SNAPSHOT_LEVELS = 100;
const TRADES_SNAPSHOT = 50;

export function attachExchangeFeeds(ws: WsGateway, engine: ExchangeEngine, service: ExchangeService): void {
  ws.addSource({
    kind: 'book',
    // Depth is absolute per level, so a snapshot is always a complete answer, resumed or not.
    catchUp: async (symbol) => {
      const d = await service.depth(symbol, DEPTH_SNAPSHOT_LEVELS);
      return { seq: d.seq, snapshot: { symbol, bids: levelsJson(d.instrument, d.bids), asks: levelsJson(d.instrument, d.asks) }, events: [] };
    },
  });
  ws.addSource({
    kind: 'trades',
    catchUp: async (symbol) => {
      const r = await service.trades(symbol, TRADES_SNAPSHOT);
      return { seq: r.trades[0]?.seq ?? 0, snapshot: { symbol, trades: r.trades.map((t) => publicTradeJson(r.instrument, t)) }, events: [] };
    },
  });
}

/** The engine's side: each commit's depth, trades and private pushes, to every api node's gateway. */
export function announceExchangeFeeds(engine: ExchangeEngine, ws: RealtimeOut): void {
  engine.onCommitted((c: Committed) => {
    const i = c.instrument;
    const { outcome } = c;
    if (outcome.depth.length > 0) {
      const changes = outcome.depth.map(([side, price, lots]) => [side, priceText(i, price), quantityText(i, lots)]);
      ws.publish(`book:${c.symbol}`, c.seq, { type: 'depth', prevSeq: c.prevDepthSeq, changes });
    }
    for (const t of outcome.trades) {
      ws.publish(`trades:${c.symbol}`, t.seq, { type: 'trade', ...publicTradeJson(i, t) });
      // Both confirmations leave in the same turn of the event loop, right after the commit.
      const maker = outcome.orders.find((o) => o.id === t.makerOrderId);
      const taker = outcome.orders.find((o) => o.id === t.takerOrderId);
      ws.sendToUser(t.makerUserId, { type: 'exchange.fill', fill: myTradeJson(i, t, t.makerUserId), ...(maker && { order: orderJson(i, { ...maker, symbol: c.symbol }) }) });
      ws.sendToUser(t.takerUserId, { type: 'exchange.fill', fill: myTradeJson(i, t, t.takerUserId), ...(taker && { order: orderJson(i, { ...taker, symbol: c.symbol }) }) });
    }
    // Order changes without a fill (placed to rest, cancelled, amended) go to their owner.
    for (const o of outcome.orders) {
      if (outcome.trades.some((t) => t.makerOrderId === o.id || t.takerOrderId === o.id)) continue;
      ws.sendToUser(o.userId, { type: 'exchange.order', order: orderJson(i, { ...o, symbol: c.symbol }) });
    }
  });
}

/** WebSocket commands: `exchange.order`, `exchange.cancel`, `exchange.cancel_all`, `exchange.amend`. */
export function exchangeCommands(service: ExchangeService): Record<string, (principal: Principal, args: unknown) => Promise<unknown>> {
  return {
    'exchange.order': async (principal, args) => {
      const me = requirePrincipal(principal);
      const result = await service.place(principal, checked(NewOrderBody, args));
      return { order: orderJson(result.instrument, result.order), fills: result.trades.map((t) => myTradeJson(result.instrument, t, me.userId)), repeated: result.repeated };
    },
    'exchange.cancel': async (principal, args) => {
      const done = await service.cancel(principal, checked(CancelArgs, args).orderId);
      return { order: orderJson(done.instrument, done.order) };
    },
    'exchange.cancel_all': async (principal, args) => {
      const a = checked(CancelAllArgs, args);
      return { cancelled: (await service.cancelAll(principal, a.symbol ?? null)).map((c) => orderJson(c.instrument, c.order)) };
    },
    'exchange.amend': async (principal, args) => {
      const me = requirePrincipal(principal);
      const { orderId, ...change } = checked(AmendArgs, args);
      const result = await service.amend(principal, orderId, change);
      return { order: orderJson(result.instrument, result.order), fills: result.trades.map((t) => myTradeJson(result.instrument, t, me.userId)) };
    },
  };
}

function checked<T extends TSchema>(schema: T, args: unknown): Static<T> {
  if (Value.Check(schema, args)) return args as Static<T>;
  const first = [...Value.Errors(schema, args)][0];
  const field = first ? first.path.replace(/^\//, '').replaceAll('/', '.') || 'args' : 'args';
  throw fieldError('VALIDATION', 'body', field, first?.message ?? 'is not valid');
}
