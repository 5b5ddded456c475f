// The auction room on the WebSocket gateway: topic `auction:<id>`. Subscribing (and catching
// up) is served by the api node the person is connected to; the events come from the engine
// that owns the auction (src/cluster/realtime-relay.ts when that is another process). Public room events go to
// every subscriber (serialised once by the gateway), price updates conflate for a socket that
// falls behind, and "you were outbid" goes privately to the one bidder. Bids and joins can
// also be sent over the socket, with the same validation as REST.
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { fieldError } from '../platform/errors.js';
import { formatAmount } from '../platform/money.js';
import type { Principal } from '../platform/auth/principal.js';
import type { WsGateway } from '../gateway/ws.js';
import type { RealtimeOut } from '../cluster/realtime-relay.js';
import { AmountText, CurrencyCode } from '../ledger/routes.js';
import type { AuctionEngine } from './engine.js';
import { bidderView, publicEventOf, type AuctionEvent, type AuctionState } from './model.js';
import type { AuctionsService } from './service.js';
import { viewJson } from './routes.js';

const UUID = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
const BidArgs = Type.Object(
  { auctionId: Type.String({ pattern: UUID }), amount: AmountText, max: Type.Optional(AmountText), currency: CurrencyCode, bidId: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{8,64}$' })) },
  { additionalProperties: false },
);
const JoinArgs = Type.Object({ auctionId: Type.String({ pattern: UUID }) }, { additionalProperties: false });

/** Room events as JSON: every `…Minor` amount becomes a decimal string without the suffix. */
export function roomJson(event: object, scale: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(event)) {
    if (typeof value === 'bigint' && key.endsWith('Minor')) out[key.slice(0, -'Minor'.length)] = formatAmount(value, scale);
    else if (typeof value === 'bigint') out[key] = value.toString();
    else out[key] = value;
  }
  return out;
}

export function attachAuctionRoom(ws: WsGateway, engine: AuctionEngine, service: AuctionsService): void {
  ws.addSource({
    kind: 'auction',
    catchUp: async (auctionId, _principal, fromSeq) => {
      const answer = await service.roomCatchUp(auctionId, fromSeq);
      const scale = answer.snapshot?.currencyScale ?? engine.stateOf(auctionId)?.config?.currencyScale ?? (await service.page(null, auctionId)).view.currencyScale;
      return {
        seq: fromSeq ?? answer.seq,
        ...(answer.snapshot && { snapshot: viewJson(answer.snapshot, scale) }),
        events: answer.events.map((e) => ({ seq: e.seq, event: roomJson(e.event, scale) })),
      };
    },
  });
}

/**
 * The engine's side: every committed auction event goes out as room messages and private
 * pushes — to this node's gateway in one process, to every api node's scaled out.
 */
export function announceAuctionRooms(engine: AuctionEngine, ws: RealtimeOut): void {
  engine.onEvents((auctionId: string, events: readonly AuctionEvent[], state: AuctionState) => {
    const scale = state.config!.currencyScale;
    const topic = `auction:${auctionId}`;
    for (const event of events) {
      const room = publicEventOf(event, state);
      if (room) {
        const conflate = room.type === 'PriceChanged' ? 'price' : room.type === 'ParticipantsChanged' ? 'participants' : undefined;
        ws.publish(topic, event.seq, roomJson(room, scale), conflate ? { conflate } : {});
      }
      if (event.type === 'BidAccepted' && event.outbid?.source === 'online') {
        const you = bidderView(state, event.outbid.bidderId);
        ws.sendToUser(event.outbid.bidderId, { type: 'outbid', auctionId, seq: event.seq, price: formatAmount(event.priceMinor, scale), you: { leading: you.leading, held: formatAmount(you.heldMinor, scale) } });
      }
    }
  });
}

/** WebSocket commands of the auctions module: `auction.bid`, `auction.join`. */
export function auctionCommands(service: AuctionsService): Record<string, (principal: Principal, args: unknown) => Promise<unknown>> {
  return {
    'auction.bid': async (principal, args) => {
      const a = checked(BidArgs, args);
      const result = await service.bid(principal, a.auctionId, { amount: a.amount, currency: a.currency, ...(a.max !== undefined && { max: a.max }) }, a.bidId);
      const scale = result.view.currencyScale;
      const accepted = result.events.find((e) => e.type === 'BidAccepted' && e.bidId === result.bidId);
      return { bidId: result.bidId, result: accepted?.type === 'BidAccepted' ? accepted.result : null, auction: viewJson(result.view, scale), me: { leading: result.me.leading, held: formatAmount(result.me.heldMinor, scale) } };
    },
    'auction.join': async (principal, args) => {
      const a = checked(JoinArgs, args);
      const me = await service.join(principal, a.auctionId);
      return { joined: me.joined, number: me.number };
    },
  };
}

function checked<T extends Parameters<typeof Value.Check>[0]>(schema: T, args: unknown): import('@sinclair/typebox').Static<T> {
  if (Value.Check(schema, args)) return args as import('@sinclair/typebox').Static<T>;
  const first = [...Value.Errors(schema, args)][0];
  const field = first ? first.path.replace(/^\//, '').replaceAll('/', '.') || 'args' : 'args';
  throw fieldError('VALIDATION', 'body', field, first?.message ?? 'is not valid');
}

