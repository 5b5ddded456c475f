// What a person is told, and when. Events from other modules come in; each maps to zero or
// more notifications for the people concerned. Pure: the event in, drafts out.
//
// The inbox keeps one notification per (recipient, event, kind): an event delivered twice
// (delivery is at-least-once) still tells a person once.

/** Every kind of notification Gavel sends, including those whose producers arrive later. */
export const NOTIFICATION_KINDS = [
  // auctions
  'outbid',
  'won',
  'lost',
  'sold',
  'unsold',
  'auction_cancelled',
  'auction_starting',
  // wallets
  'topup_credited',
  'withdrawal_paid',
  'withdrawal_failed',
  // purchases (the saga) and the orders they create
  'purchase_completed',
  'purchase_failed',
  'order_created',
  'order_shipped',
  'order_cancelled',
  // the exchange
  'fill',
] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

export type DataValue = string | number | boolean | null;

/** A notification to create, before it has an id or a time. */
export interface NotificationDraft {
  recipientUserId: string;
  kind: NotificationKind;
  title: string;
  body: string;
  /** What a client needs to link to the subject (ids, amounts as strings). */
  data: Record<string, DataValue>;
}

export interface Notification extends NotificationDraft {
  id: string;
  eventId: string;
  createdAtMs: number;
  readAtMs: number | null;
}

/** The event fields the mapping reads. */
export interface InboundEvent {
  id: string;
  topic: string;
  payload: unknown;
}

export type Mapping = { ok: true; drafts: NotificationDraft[] } | { ok: false; reason: string };

// --- the events we read, as their producers publish them ------------------------------------

export const TOPICS = {
  topupCredited: 'ledger.topup.credited',
  withdrawalPaid: 'ledger.withdrawal.paid',
  withdrawalFailed: 'ledger.withdrawal.failed',
  auctionOutbid: 'auctions.bid.outbid',
  auctionSettled: 'auctions.auction.settled',
  tradeExecuted: 'exchange.trade.executed',
  purchaseCompleted: 'purchases.purchase.completed',
  purchaseCompensated: 'purchases.purchase.compensated',
  auctionStartingSoon: 'auctions.watch.starting_soon',
} as const;
export const NOTIFIED_TOPICS: readonly string[] = Object.values(TOPICS);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CURRENCY = /^[A-Z][A-Z0-9]{1,11}$/;
const AMOUNT = /^(0|[1-9][0-9]*)(\.[0-9]+)?$/;

interface MoneyEvent {
  userId: string;
  currency: string;
  /** Decimal string in major units, e.g. "25.00". */
  amount: string;
}

/** The fields every money event carries, checked: a producer's bug must not reach a person. */
function moneyEvent(payload: unknown, idField: string): (MoneyEvent & { subjectId: string }) | string {
  if (typeof payload !== 'object' || payload === null) return 'the payload is not an object';
  const p = payload as Record<string, unknown>;
  if (typeof p.userId !== 'string' || !UUID.test(p.userId)) return 'userId is not a UUID';
  if (typeof p[idField] !== 'string' || !UUID.test(p[idField])) return `${idField} is not a UUID`;
  if (typeof p.currency !== 'string' || !CURRENCY.test(p.currency)) return 'currency is not a currency code';
  if (typeof p.amount !== 'string' || !AMOUNT.test(p.amount)) return 'amount is not a decimal string';
  return { userId: p.userId, subjectId: p[idField], currency: p.currency, amount: p.amount };
}

/** The notifications an event causes. Unknown topics cause none; a malformed payload is refused. */
export function notificationsFor(event: InboundEvent): Mapping {
  switch (event.topic) {
    case TOPICS.topupCredited: {
      const m = moneyEvent(event.payload, 'topupId');
      if (typeof m === 'string') return { ok: false, reason: m };
      return one({
        recipientUserId: m.userId,
        kind: 'topup_credited',
        title: `Top-up credited: ${m.amount} ${m.currency}`,
        body: `${m.amount} ${m.currency} was added to your ${m.currency} wallet.`,
        data: { topupId: m.subjectId, currency: m.currency, amount: m.amount },
      });
    }
    case TOPICS.withdrawalPaid: {
      const m = moneyEvent(event.payload, 'withdrawalId');
      if (typeof m === 'string') return { ok: false, reason: m };
      return one({
        recipientUserId: m.userId,
        kind: 'withdrawal_paid',
        title: `Withdrawal paid: ${m.amount} ${m.currency}`,
        body: `${m.amount} ${m.currency} was paid out from your ${m.currency} wallet.`,
        data: { withdrawalId: m.subjectId, currency: m.currency, amount: m.amount },
      });
    }
    case TOPICS.withdrawalFailed: {
      const m = moneyEvent(event.payload, 'withdrawalId');
      if (typeof m === 'string') return { ok: false, reason: m };
      return one({
        recipientUserId: m.userId,
        kind: 'withdrawal_failed',
        title: `Withdrawal failed: ${m.amount} ${m.currency}`,
        body: `The payout of ${m.amount} ${m.currency} did not go through; the money is available in your ${m.currency} wallet again.`,
        data: { withdrawalId: m.subjectId, currency: m.currency, amount: m.amount },
      });
    }
    case TOPICS.auctionOutbid: {
      const p = event.payload as Record<string, unknown>;
      if (!isUuid(p?.auctionId) || !isUuid(p.userId) || typeof p.title !== 'string' || !isAmount(p.price) || !isCurrency(p.currency)) return { ok: false, reason: 'not an outbid event' };
      return one({
        recipientUserId: p.userId,
        kind: 'outbid',
        title: `Outbid: ${p.title}`,
        body: `Someone bid more on "${p.title}": the price is now ${p.price} ${p.currency}. Your hold was released.`,
        data: { auctionId: p.auctionId, price: p.price, currency: p.currency },
      });
    }
    case TOPICS.auctionSettled:
      return auctionEnded(event.payload);
    case TOPICS.tradeExecuted:
      return tradeExecuted(event.payload);
    case TOPICS.purchaseCompleted:
      return purchaseCompleted(event.payload);
    case TOPICS.purchaseCompensated:
      return purchaseCompensated(event.payload);
    case TOPICS.auctionStartingSoon:
      return auctionStartingSoon(event.payload);
    default:
      return { ok: true, drafts: [] };
  }
}

const isUuid = (v: unknown): v is string => typeof v === 'string' && UUID.test(v);
const isAmount = (v: unknown): v is string => typeof v === 'string' && AMOUNT.test(v);
const isCurrency = (v: unknown): v is string => typeof v === 'string' && CURRENCY.test(v);

/** The end of a sale: the winner, the seller and every other participant each hear how it went. */
function auctionEnded(payload: unknown): Mapping {
  const p = payload as Record<string, unknown>;
  if (!isUuid(p?.auctionId) || !isUuid(p.sellerId) || typeof p.title !== 'string' || !isCurrency(p.currency)) return { ok: false, reason: 'not an auction-settled event' };
  if (!Array.isArray(p.participants) || !p.participants.every(isUuid)) return { ok: false, reason: 'participants is not a list of user ids' };
  if (p.winnerId !== null && !isUuid(p.winnerId)) return { ok: false, reason: 'winnerId is not a UUID' };
  if (p.price !== null && !isAmount(p.price)) return { ok: false, reason: 'price is not a decimal string' };
  const { auctionId, sellerId, title, currency } = p;
  const price = p.price as string | null;
  const winnerId = p.winnerId as string | null;
  const others = (p.participants as string[]).filter((id) => id !== winnerId && id !== sellerId);
  const data = { auctionId, price, currency };
  const drafts: NotificationDraft[] = [];
  switch (p.outcome) {
    case 'sold':
      if (winnerId) drafts.push({ recipientUserId: winnerId, kind: 'won', title: `You won: ${title}`, body: `You won "${title}" for ${price} ${currency}. The amount was taken from your held funds.`, data });
      drafts.push({ recipientUserId: sellerId, kind: 'sold', title: `Sold: ${title}`, body: `"${title}" sold for ${price} ${currency}${winnerId ? '' : ' to a bidder in the room, who pays at the desk'}.`, data });
      for (const id of others) drafts.push({ recipientUserId: id, kind: 'lost', title: `Auction ended: ${title}`, body: `"${title}" sold for ${price} ${currency} to another bidder. Any funds held for you were released.`, data });
      break;
    case 'unsold':
      drafts.push({ recipientUserId: sellerId, kind: 'unsold', title: `Not sold: ${title}`, body: `"${title}" ended without a sale (no bid reached the reserve). You can auction the lot again.`, data });
      for (const id of others) drafts.push({ recipientUserId: id, kind: 'lost', title: `Auction ended: ${title}`, body: `"${title}" ended without a sale. Any funds held for you were released.`, data });
      break;
    case 'cancelled':
      for (const id of [sellerId, ...others]) drafts.push({ recipientUserId: id, kind: 'auction_cancelled', title: `Cancelled: ${title}`, body: `"${title}" was cancelled${p.cancelledBy === 'admin' ? ' by the house' : ' by the seller'}. Any funds held for you were released.`, data });
      break;
    default:
      return { ok: false, reason: 'outcome is not sold, unsold or cancelled' };
  }
  return { ok: true, drafts };
}

/** A fill: both parties hear it, each from their own side. */
function tradeExecuted(payload: unknown): Mapping {
  const p = payload as Record<string, unknown>;
  if (typeof p?.tradeId !== 'string' || typeof p.symbol !== 'string' || !isCurrency(p.base) || !isCurrency(p.quote)) return { ok: false, reason: 'not a trade event' };
  if (!isUuid(p.makerUserId) || !isUuid(p.takerUserId) || !isUuid(p.makerOrderId) || !isUuid(p.takerOrderId)) return { ok: false, reason: 'trade parties are not UUIDs' };
  if (!isAmount(p.price) || !isAmount(p.quantity) || !isAmount(p.makerFee) || !isAmount(p.takerFee)) return { ok: false, reason: 'trade amounts are not decimal strings' };
  if (p.takerSide !== 'buy' && p.takerSide !== 'sell') return { ok: false, reason: 'takerSide is not buy or sell' };
  const party = (userId: string, orderId: string, side: 'buy' | 'sell', fee: string): NotificationDraft => ({
    recipientUserId: userId,
    kind: 'fill',
    title: `${side === 'buy' ? 'Bought' : 'Sold'} ${p.quantity} ${p.base} at ${p.price} ${p.quote}`,
    body: `Your ${side} order on ${p.symbol} filled ${p.quantity} ${p.base} at ${p.price} ${p.quote} (fee ${fee} ${p.quote}).`,
    data: { tradeId: p.tradeId as string, symbol: p.symbol as string, orderId, side, price: p.price as string, quantity: p.quantity as string, fee },
  });
  const makerSide = p.takerSide === 'buy' ? 'sell' : 'buy';
  return { ok: true, drafts: [party(p.makerUserId, p.makerOrderId, makerSide, p.makerFee), party(p.takerUserId, p.takerOrderId, p.takerSide, p.takerFee)] };
}

/** Orders one purchase may create, at most: a bound on what a payload may list. */
const PURCHASE_ORDERS_MAX = 100;

/** The purchase saga finished: the buyer hears what they paid and how many orders it made. */
function purchaseCompleted(payload: unknown): Mapping {
  const p = payload as Record<string, unknown>;
  if (!isUuid(p?.purchaseId) || !isUuid(p.buyerId) || !isCurrency(p.currency) || !isAmount(p.total)) return { ok: false, reason: 'not a purchase-completed event (purchaseId, buyerId, currency, total)' };
  if (!Array.isArray(p.orderIds) || p.orderIds.length > PURCHASE_ORDERS_MAX || !p.orderIds.every(isUuid)) return { ok: false, reason: 'orderIds is not a list of order ids' };
  const orderIds = p.orderIds as string[];
  const orders = orderIds.length === 1 ? 'Your order was created' : `Your ${orderIds.length} orders were created`;
  return one({
    recipientUserId: p.buyerId,
    kind: 'purchase_completed',
    title: `Purchase complete: ${p.total} ${p.currency}`,
    body: `You paid ${p.total} ${p.currency}. ${orders}; the sellers ship from here.`,
    data: { purchaseId: p.purchaseId, currency: p.currency, total: p.total, orderIds: orderIds.join(',') },
  });
}

/** Reasons the saga gives when it compensates, in words a buyer understands; others by their code. */
const PURCHASE_FAILURES: Record<string, string> = {
  PRODUCT_NOT_FOUND: 'a product no longer exists',
  PRODUCT_UNAVAILABLE: 'a product is no longer for sale',
  OWN_PRODUCT: 'you cannot buy your own product',
  CURRENCY_MISMATCH: 'a product is priced in another currency',
  OUT_OF_STOCK: 'an item is out of stock',
  INSUFFICIENT_FUNDS: 'your wallet does not hold enough',
  ORDER_FAILED: 'the order could not be created',
  STEP_TIMEOUT: 'it took too long',
};

/** The purchase saga undid its steps: the buyer hears why, and that nothing was charged. */
function purchaseCompensated(payload: unknown): Mapping {
  const p = payload as Record<string, unknown>;
  if (!isUuid(p?.purchaseId) || !isUuid(p.buyerId) || !isCurrency(p.currency)) return { ok: false, reason: 'not a purchase-compensated event (purchaseId, buyerId, currency)' };
  if (typeof p.reason !== 'string' || !/^[A-Za-z0-9_.-]{1,100}$/.test(p.reason)) return { ok: false, reason: 'reason is not a short code' };
  if (p.detail !== undefined && p.detail !== null && (typeof p.detail !== 'string' || p.detail.length > 1_000)) return { ok: false, reason: 'detail is not a string of at most 1000 characters' };
  const why = PURCHASE_FAILURES[p.reason] ?? `it failed (${p.reason})`;
  return one({
    recipientUserId: p.buyerId,
    kind: 'purchase_failed',
    title: 'Purchase not completed',
    body: `Your purchase could not be completed: ${why}. Anything reserved or charged for it was given back.`,
    data: { purchaseId: p.purchaseId, currency: p.currency, reason: p.reason, detail: typeof p.detail === 'string' ? p.detail : null },
  });
}

/** A watched auction is about to start: its watcher hears when, once (the auctions module sends one event per watcher). */
function auctionStartingSoon(payload: unknown): Mapping {
  const p = payload as Record<string, unknown>;
  if (!isUuid(p?.auctionId) || !isUuid(p.userId) || typeof p.title !== 'string' || !isAmount(p.startingPrice) || !isCurrency(p.currency)) return { ok: false, reason: 'not a starting-soon event (auctionId, userId, title, startingPrice, currency)' };
  const startsAtMs = typeof p.startsAt === 'string' ? Date.parse(p.startsAt) : Number.NaN;
  if (!Number.isFinite(startsAtMs)) return { ok: false, reason: 'startsAt is not an ISO 8601 time' };
  const startsAt = new Date(startsAtMs).toISOString();
  // Mail and webhooks may be read later or elsewhere: the time is spelled out in UTC.
  const when = `${startsAt.slice(0, 10)} ${startsAt.slice(11, 16)} UTC`;
  return one({
    recipientUserId: p.userId,
    kind: 'auction_starting',
    title: `Starting soon: ${p.title}`,
    body: `"${p.title}", on your watchlist, starts at ${when}, with a starting bid of ${p.startingPrice} ${p.currency}.`,
    data: { auctionId: p.auctionId, startsAt, startingPrice: p.startingPrice, currency: p.currency },
  });
}

function one(draft: NotificationDraft): Mapping {
  return { ok: true, drafts: [draft] };
}

// --- channels and preferences ----------------------------------------------------------------

/** Where a notification can go. The inbox is written with the event; the others are queued. */
export const CHANNELS = ['inbox', 'email', 'webhook'] as const;
export type Channel = (typeof CHANNELS)[number];
/** The channels that leave the database, delivered by the workers with retries. */
export type QueuedChannel = Exclude<Channel, 'inbox'>;

export type ChannelChoice = Record<Channel, boolean>;
export type Preferences = Record<NotificationKind, ChannelChoice>;

/**
 * E-mail is for what a person would not want to miss away from the site: winning, money
 * arriving or failing to leave, a purchase going through or not. The rest (outbid, fills,
 * auction ends) come fast and often and stay in the inbox and on webhooks unless asked for.
 */
export const EMAIL_BY_DEFAULT: ReadonlySet<NotificationKind> = new Set(['won', 'topup_credited', 'withdrawal_failed', 'purchase_completed', 'purchase_failed']);

/** What a person gets before changing anything: the inbox for every kind, webhooks for every kind (when one is registered), e-mail for a few. */
export function defaultChoice(kind: NotificationKind): ChannelChoice {
  return { inbox: true, email: EMAIL_BY_DEFAULT.has(kind), webhook: true };
}

/** The full preferences from the choices a person saved (kinds they never touched keep the defaults). */
export function preferencesFrom(saved: ReadonlyMap<NotificationKind, Partial<ChannelChoice>>): Preferences {
  const out = {} as Preferences;
  for (const kind of NOTIFICATION_KINDS) out[kind] = { ...defaultChoice(kind), ...saved.get(kind) };
  return out;
}

export function isNotificationKind(value: string): value is NotificationKind {
  return (NOTIFICATION_KINDS as readonly string[]).includes(value);
}
