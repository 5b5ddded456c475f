// Orders: what a buyer bought from a seller, and where it stands. Pure: no I/O, no clock —
// time and ids come in as arguments.
//
// The life of an order (TRANSITIONS below is the whole table):
//
//   created ─pay→ paid ─ship→ shipped ─confirm delivery→ delivered
//   created, paid ─cancel→ cancelled          paid, shipped, delivered ─refund→ refunded
//
// - An auction win becomes an order born `paid`: the winner's hold was captured at settlement.
//   A purchase (the saga, later) creates one `created` and pays it.
// - Only the seller ships; only the buyer confirms delivery, once, with a rating that moves the
//   seller's reputation.
// - The seller or an admin may cancel before shipping; an admin may refund once paid. Either
//   way, money the buyer paid goes back from the seller's wallet (one ledger transfer).
// - cancelled and refunded are final.
import { formatAmount, parseAmount } from '../platform/money.js';
import type { JsonValue, NewEvent } from '../platform/outbox/outbox.js';

export const ORDER_STATUSES = ['created', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** Where an order comes from: an auction won, or a fixed-price purchase (the saga). */
export const ORDER_SOURCES = ['auction', 'purchase'] as const;
export type OrderSource = (typeof ORDER_SOURCES)[number];

/** Who acts on an order. `system`: another module's process (the saga paying or compensating). */
export type OrderActor = 'buyer' | 'seller' | 'admin' | 'system';

export const RATINGS = [1, 2, 3, 4, 5] as const;
export type Rating = (typeof RATINGS)[number];

export const CARRIER_MAX_LENGTH = 100;
export const TRACKING_NUMBER_MAX_LENGTH = 100;
export const REASON_MAX_LENGTH = 500;
export const COMMENT_MAX_LENGTH = 1000;

/** One thing bought: a lot (auctions) or a fixed-price product (purchases). */
export interface OrderLine {
  kind: 'lot' | 'product';
  /** The lot's or product's id in the catalog (a plain id: no key across modules). */
  refId: string;
  title: string;
  quantity: number;
  unitPriceMinor: bigint;
}

export interface Order {
  id: string;
  source: OrderSource;
  /** The auction's id, or the purchase's: unique per source, so an event seen twice makes one order. */
  sourceRef: string;
  status: OrderStatus;
  buyerId: string;
  sellerId: string;
  title: string;
  currency: string;
  amountMinor: bigint;
  /** The ledger ref of the payment (`auction:{id}:settle` for an auction win); null until paid. */
  paymentRef: string | null;
  lines: OrderLine[];
  createdAtMs: number;
  updatedAtMs: number;
  paidAtMs: number | null;
  shipment: { shippedAtMs: number; carrier: string | null; trackingNumber: string | null } | null;
  delivery: { deliveredAtMs: number; rating: Rating; comment: string | null } | null;
  cancellation: { cancelledAtMs: number; by: 'seller' | 'admin' | 'system'; reason: string } | null;
  /** Money returned to the buyer (a refund, or a cancellation after payment). */
  refund: { refundedAtMs: number; reason: string; transferRef: string } | null;
}

export type OrderCommand =
  | { type: 'pay'; paymentRef: string }
  | { type: 'ship'; carrier: string | null; trackingNumber: string | null }
  | { type: 'confirmDelivery'; rating: Rating; comment: string | null }
  | { type: 'cancel'; reason: string }
  | { type: 'refund'; reason: string };
export type OrderCommandType = OrderCommand['type'];

interface Rule {
  from: readonly OrderStatus[];
  to: OrderStatus;
  by: readonly OrderActor[];
  /** Said when the order is elsewhere: what the command needs. */
  needs: string;
  /** Said to someone not in `by`. */
  who: string;
}

/** The whole state machine: which command moves which status where, and who may give it. */
export const TRANSITIONS: Readonly<Record<OrderCommandType, Rule>> = {
  pay: { from: ['created'], to: 'paid', by: ['system'], needs: 'only a created order can be paid', who: 'orders are paid by the purchase, not by a person' },
  ship: { from: ['paid'], to: 'shipped', by: ['seller'], needs: 'only a paid order can be shipped', who: 'only the seller marks an order shipped' },
  confirmDelivery: { from: ['shipped'], to: 'delivered', by: ['buyer'], needs: 'only a shipped order can be confirmed delivered', who: 'only the buyer confirms delivery' },
  cancel: { from: ['created', 'paid'], to: 'cancelled', by: ['seller', 'admin', 'system'], needs: 'an order can be cancelled only before it ships', who: 'only the seller or an admin cancels an order' },
  refund: { from: ['paid', 'shipped', 'delivered'], to: 'refunded', by: ['admin'], needs: 'only a paid, shipped or delivered order can be refunded', who: 'only an admin refunds an order' },
};

/** How a rating moves the seller's reputation (0–100, clamped by accounts). */
export const RATING_REPUTATION_DELTA: Readonly<Record<Rating, number>> = { 5: 3, 4: 1, 3: 0, 2: -2, 1: -4 };

export type OrderRefusal = { ok: false; code: 'FORBIDDEN' | 'ORDER_STATE'; detail: string };
export type OrderStep =
  | {
      ok: true;
      order: Order;
      /** Money to send back from the seller to the buyer in the same commit; 0n for none. */
      refundMinor: bigint;
      /** A reputation change for the seller, applied once under `changeId`. */
      reputation: { userId: string; delta: number; changeId: string; reason: string } | null;
    }
  | OrderRefusal;

/** The fixed ledger ref of the money an order returns: one per order, whichever way it goes back. */
export function refundRefOf(orderId: string): string {
  return `order:${orderId}:refund`;
}

export function ratingChangeIdOf(orderId: string): string {
  return `order:${orderId}:rating`;
}

/** What the caller is to this order. Empty: a stranger (who is told the order does not exist). */
export function actorsOf(caller: { userId: string; admin: boolean }, order: Pick<Order, 'buyerId' | 'sellerId'>): Set<OrderActor> {
  const actors = new Set<OrderActor>();
  if (caller.userId === order.buyerId) actors.add('buyer');
  if (caller.userId === order.sellerId) actors.add('seller');
  if (caller.admin) actors.add('admin');
  return actors;
}

/** Applies a command given by `actors` at `nowMs`: the order after it, or a precise refusal. */
export function applyCommand(order: Order, command: OrderCommand, actors: ReadonlySet<OrderActor>, nowMs: number): OrderStep {
  const rule = TRANSITIONS[command.type];
  // Who first: someone who may never do this is told so, whatever the status.
  const by = rule.by.find((a) => actors.has(a));
  if (by === undefined) return { ok: false, code: 'FORBIDDEN', detail: rule.who };
  if (!rule.from.includes(order.status)) return { ok: false, code: 'ORDER_STATE', detail: `the order is ${order.status}; ${rule.needs}` };

  const next: Order = { ...order, status: rule.to, updatedAtMs: nowMs };
  const wasPaid = order.paidAtMs !== null;
  switch (command.type) {
    case 'pay':
      return done({ ...next, paymentRef: command.paymentRef, paidAtMs: nowMs });
    case 'ship':
      return done({ ...next, shipment: { shippedAtMs: nowMs, carrier: command.carrier, trackingNumber: command.trackingNumber } });
    case 'confirmDelivery': {
      const delta = RATING_REPUTATION_DELTA[command.rating];
      const reputation = delta === 0 ? null : { userId: order.sellerId, delta, changeId: ratingChangeIdOf(order.id), reason: `order ${order.id} rated ${command.rating}` };
      return { ok: true, order: { ...next, delivery: { deliveredAtMs: nowMs, rating: command.rating, comment: command.comment } }, refundMinor: 0n, reputation };
    }
    case 'cancel': {
      const cancelled: Order = { ...next, cancellation: { cancelledAtMs: nowMs, by: by as 'seller' | 'admin' | 'system', reason: command.reason } };
      // Cancelling after payment gives the money back; before it, there is none to give.
      if (!wasPaid) return done(cancelled);
      return { ok: true, order: { ...cancelled, refund: { refundedAtMs: nowMs, reason: command.reason, transferRef: refundRefOf(order.id) } }, refundMinor: order.amountMinor, reputation: null };
    }
    case 'refund':
      return { ok: true, order: { ...next, refund: { refundedAtMs: nowMs, reason: command.reason, transferRef: refundRefOf(order.id) } }, refundMinor: order.amountMinor, reputation: null };
  }
}

function done(order: Order): OrderStep {
  return { ok: true, order, refundMinor: 0n, reputation: null };
}

// --- orders from auctions -------------------------------------------------------------------

/** The `auctions.auction.settled` payload fields an order needs (see src/auctions/engine.ts). */
export interface SettledAuction {
  auctionId: string;
  lotId: string;
  title: string;
  sellerId: string;
  outcome: 'sold' | 'unsold' | 'cancelled';
  winnerId: string | null;
  floorWinner: boolean;
  price: string | null;
  currency: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export type SaleReading = { ok: true; sale: { auctionId: string; lotId: string; title: string; sellerId: string; buyerId: string; currency: string; priceMinor: bigint } | null } | { ok: false; reason: string };

/**
 * Reads a settlement event: the sale to turn into an order, null when there is none (unsold,
 * cancelled, or won on the floor — a paddle pays at the desk, outside Gavel's wallets), or why
 * the payload cannot be read. `scaleOf` gives a currency's minor-unit scale (undefined: unknown).
 */
export function saleOf(payload: unknown, scaleOf: (currency: string) => number | undefined): SaleReading {
  if (typeof payload !== 'object' || payload === null) return { ok: false, reason: 'the payload is not an object' };
  const p = payload as Partial<Record<keyof SettledAuction, unknown>>;
  if (p.outcome !== 'sold' && p.outcome !== 'unsold' && p.outcome !== 'cancelled') return { ok: false, reason: 'outcome is not sold, unsold or cancelled' };
  if (p.outcome !== 'sold' || p.winnerId === null || p.winnerId === undefined) return { ok: true, sale: null };
  for (const field of ['auctionId', 'lotId', 'sellerId', 'winnerId'] as const) {
    const value = p[field];
    if (typeof value !== 'string' || !UUID.test(value)) return { ok: false, reason: `${field} is not a UUID` };
  }
  if (typeof p.title !== 'string' || p.title.length === 0) return { ok: false, reason: 'title is missing' };
  if (typeof p.currency !== 'string') return { ok: false, reason: 'currency is missing' };
  const scale = scaleOf(p.currency);
  if (scale === undefined) return { ok: false, reason: `currency ${p.currency} is unknown` };
  if (typeof p.price !== 'string') return { ok: false, reason: 'price is missing' };
  const price = parseAmount(p.price, scale);
  if (!price.ok) return { ok: false, reason: `price: ${price.reason}` };
  const { auctionId, lotId, sellerId, winnerId } = p as Record<'auctionId' | 'lotId' | 'sellerId' | 'winnerId', string>;
  if (winnerId === sellerId) return { ok: false, reason: 'the winner is the seller' };
  return { ok: true, sale: { auctionId, lotId, title: p.title, sellerId, buyerId: winnerId, currency: p.currency, priceMinor: price.minor } };
}

/** The order an auction win becomes: one line (the lot), paid by the capture at settlement. */
export function orderOfSale(sale: NonNullable<Extract<SaleReading, { ok: true }>['sale']>, orderId: string, nowMs: number): Order {
  return {
    id: orderId,
    source: 'auction',
    sourceRef: sale.auctionId,
    status: 'paid',
    buyerId: sale.buyerId,
    sellerId: sale.sellerId,
    title: sale.title,
    currency: sale.currency,
    amountMinor: sale.priceMinor,
    paymentRef: `auction:${sale.auctionId}:settle`,
    lines: [{ kind: 'lot', refId: sale.lotId, title: sale.title, quantity: 1, unitPriceMinor: sale.priceMinor }],
    createdAtMs: nowMs,
    updatedAtMs: nowMs,
    paidAtMs: nowMs,
    shipment: null,
    delivery: null,
    cancellation: null,
    refund: null,
  };
}

// --- events ---------------------------------------------------------------------------------

export type OrderTopic = `orders.order.${OrderStatus}`;

/** The event of an order entering its current status. Amounts as decimal strings. */
export function orderEventOf(order: Order, scale: number, status: OrderStatus = order.status): NewEvent & { topic: OrderTopic } {
  const payload: Record<string, JsonValue> = {
    orderId: order.id,
    buyerId: order.buyerId,
    sellerId: order.sellerId,
    title: order.title,
    amount: formatAmount(order.amountMinor, scale),
    currency: order.currency,
    source: order.source,
    sourceRef: order.sourceRef,
    status,
  };
  if (status === 'shipped' && order.shipment) Object.assign(payload, { carrier: order.shipment.carrier, trackingNumber: order.shipment.trackingNumber });
  if (status === 'delivered' && order.delivery) payload.rating = order.delivery.rating;
  if (status === 'cancelled' && order.cancellation) Object.assign(payload, { cancelledBy: order.cancellation.by, reason: order.cancellation.reason, refunded: order.refund !== null });
  if (status === 'refunded' && order.refund) payload.reason = order.refund.reason;
  return { topic: `orders.order.${status}`, key: order.id, payload };
}

/** The events of a new order: `created`, then `paid` too when it is born paid (an auction win). */
export function creationEventsOf(order: Order, scale: number): NewEvent[] {
  const events = [orderEventOf(order, scale, 'created')];
  if (order.status === 'paid') events.push(orderEventOf(order, scale, 'paid'));
  return events;
}
