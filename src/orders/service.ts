// Order use cases: creating an order from a won auction (an outbox consumer), and the people
// concerned moving it along (ship, confirm delivery with a rating, cancel, refund). Each change
// runs in one transaction with what it causes: the money going back (a ledger transfer), the
// seller's reputation, and the `orders.order.<status>` event in the outbox.
//
// Nobody sees anyone else's orders: an order the caller neither bought nor sold (and they are
// not an admin) answers 404, as one that does not exist.
import type { Kysely } from 'kysely';
import { isAdmin, requirePrincipal, type Principal } from '../platform/auth/principal.js';
import type { Clock } from '../platform/clock.js';
import { AppError, fieldError } from '../platform/errors.js';
import { isUuid, uuidv7 } from '../platform/ids.js';
import type { Logger } from '../platform/logging.js';
import type { EventPublisher } from '../platform/outbox/bus.js';
import type { EventHandler } from '../platform/outbox/relay.js';
import { formatAmount } from '../platform/money.js';
import { decodeCursor, pageOf, type Page } from '../platform/pagination.js';
import { available } from '../ledger/model.js';
import { LedgerError, type LedgerService } from '../ledger/service.js';
import type { LedgerExecutor } from '../ledger/store.js';
import {
  actorsOf,
  applyCommand,
  creationEventsOf,
  orderEventOf,
  orderOfSale,
  refundRefOf,
  saleOf,
  type Order,
  type OrderCommand,
  type OrderStatus,
  type Rating,
} from './model.js';
import type { OrdersStore } from './store.js';

export type AdjustReputation = (userId: string, delta: number, reason: string, options: { tx: Kysely<any>; changeId: string }) => Promise<unknown>;

export interface OrdersServiceDeps {
  store: OrdersStore;
  ledger: LedgerService;
  adjustReputation: AdjustReputation;
  events: EventPublisher;
  clock: Clock;
  logger: Logger;
}

export interface OrderListQuery {
  role?: 'buyer' | 'seller' | undefined;
  status?: OrderStatus | undefined;
  limit: number;
  cursor?: string | undefined;
}

export class OrdersService {
  constructor(private readonly o: OrdersServiceDeps) {}

  /** A currency's minor-unit scale; undefined for one the ledger does not know. */
  scaleOf(currency: string): number | undefined {
    return this.o.ledger.currency(currency)?.scale;
  }

  // --- from auctions -------------------------------------------------------------------------

  /**
   * The consumer of `auctions.auction.settled`: a sale to an online winner becomes a paid
   * order, written through the delivery's transaction so it commits with the checkpoint. The
   * auction's id is the order's unique source_ref, so an event seen twice makes one order.
   * A payload it cannot read throws: the consumer retries (logged as an error) and holds later
   * sales back rather than drop a paid sale without its order.
   */
  readonly handleAuctionSettled: EventHandler = async (event, delivery) => {
    const reading = saleOf(event.payload, (code) => this.scaleOf(code));
    if (!reading.ok) throw new Error(`auctions.auction.settled ${event.id} cannot become an order: ${reading.reason}`);
    if (reading.sale === null) return;
    const nowMs = this.o.clock.nowMs();
    const order = orderOfSale(reading.sale, uuidv7(nowMs), nowMs);
    if (!(await this.o.store.insert(delivery.tx, order))) return;
    for (const e of creationEventsOf(order, this.scaleOf(order.currency)!)) await this.o.events.append(delivery.tx, e);
    delivery.afterCommit(() => this.o.events.poke());
    this.o.logger.info({ orderId: order.id, auctionId: order.sourceRef, buyerId: order.buyerId }, 'order created for an auction win');
  };

  // --- reading -------------------------------------------------------------------------------

  /** The caller's orders, newest first: as buyer, as seller, or both. */
  async list(caller: Principal | null, query: OrderListQuery): Promise<Page<Order>> {
    const me = requirePrincipal(caller);
    const beforeId = query.cursor === undefined ? undefined : decodeCursor(query.cursor, isUuid);
    const rows = await this.o.store.list({ userId: me.userId, role: query.role, status: query.status, beforeId: beforeId?.toLowerCase(), limit: query.limit + 1 });
    return pageOf(rows, query.limit, (order) => order.id);
  }

  /** One order, for its buyer, its seller or an admin. */
  async get(caller: Principal | null, id: string): Promise<Order> {
    const me = requirePrincipal(caller);
    const order = await this.o.store.find(id.toLowerCase());
    if (!order || actorsOf(callerOf(me), order).size === 0) throw notFound();
    return order;
  }

  // --- moving an order along ----------------------------------------------------------------

  ship(caller: Principal | null, id: string, input: { carrier?: string | undefined; trackingNumber?: string | undefined }): Promise<Order> {
    return this.act(caller, id, { type: 'ship', carrier: input.carrier ?? null, trackingNumber: input.trackingNumber ?? null });
  }

  confirmDelivery(caller: Principal | null, id: string, input: { rating: number; comment?: string | undefined }): Promise<Order> {
    // The route's schema allows 1–5 only; a service caller is checked too.
    if (!Number.isInteger(input.rating) || input.rating < 1 || input.rating > 5) throw fieldError('VALIDATION', 'body', 'rating', 'must be a whole number from 1 to 5');
    return this.act(caller, id, { type: 'confirmDelivery', rating: input.rating as Rating, comment: input.comment ?? null });
  }

  cancel(caller: Principal | null, id: string, input: { reason: string }): Promise<Order> {
    return this.act(caller, id, { type: 'cancel', reason: input.reason });
  }

  refund(caller: Principal | null, id: string, input: { reason: string }): Promise<Order> {
    return this.act(caller, id, { type: 'refund', reason: input.reason });
  }

  /**
   * Applies a command in one transaction: lock the order, check who and what (model.ts), move
   * the money back if the change returns it, move the seller's reputation if it rates them,
   * write the order and its event.
   */
  private async act(caller: Principal | null, rawId: string, command: OrderCommand): Promise<Order> {
    const me = callerOf(requirePrincipal(caller));
    const id = rawId.toLowerCase();
    await this.prepareRefund(me, id, command);
    const order = await this.o.store.db.transaction().execute(async (tx) => {
      const before = await this.o.store.lock(tx, id);
      if (!before) throw notFound();
      const actors = actorsOf(me, before);
      if (actors.size === 0) throw notFound();
      const step = applyCommand(before, command, actors, this.o.clock.nowMs());
      if (!step.ok) throw new AppError(step.code, step.detail);
      if (step.refundMinor > 0n) await this.returnMoney(tx, before, step.refundMinor, command.type);
      if (step.reputation) {
        const r = step.reputation;
        await this.o.adjustReputation(r.userId, r.delta, r.reason, { tx, changeId: r.changeId });
      }
      if (!(await this.o.store.update(tx, step.order, before.status))) throw new Error(`order ${id} changed under its lock`);
      await this.o.events.append(tx, orderEventOf(step.order, this.scaleOf(step.order.currency) ?? 0));
      return step.order;
    });
    this.o.events.poke();
    return order;
  }

  /**
   * Money goes back into the buyer's wallet in the currency paid; if they have closed or never
   * had one, it is opened (or reopened) first. That happens before the transaction (opening a
   * wallet takes its own), and only when the command would be accepted now and the seller can
   * pay, so a refused request writes nothing; the transaction checks everything again under
   * the lock.
   */
  private async prepareRefund(me: { userId: string; admin: boolean }, id: string, command: OrderCommand): Promise<void> {
    if (command.type !== 'cancel' && command.type !== 'refund') return;
    const order = await this.o.store.find(id);
    if (!order) return;
    const actors = actorsOf(me, order);
    if (actors.size === 0) return;
    const step = applyCommand(order, command, actors, this.o.clock.nowMs());
    if (!step.ok || step.refundMinor === 0n) return;
    const from = await this.o.ledger.walletOf(order.sellerId, order.currency);
    if (!from || available(from) < step.refundMinor) return; // refused in the transaction
    const to = await this.o.ledger.walletOf(order.buyerId, order.currency);
    if (!to || to.closed) await this.o.ledger.openWallet(order.buyerId, order.currency);
  }

  /** The seller pays the buyer back (ref `order:{id}:refund`); refused whole if the seller cannot. */
  private async returnMoney(tx: Kysely<any>, order: Order, amountMinor: bigint, why: OrderCommand['type']): Promise<void> {
    const ex = tx as unknown as LedgerExecutor;
    const from = await this.o.ledger.walletOf(order.sellerId, order.currency, ex);
    const to = await this.o.ledger.walletOf(order.buyerId, order.currency, ex);
    if (!from) throw new AppError('INSUFFICIENT_FUNDS', `the seller has no ${order.currency} wallet to refund the order from`);
    if (!to) throw new AppError('ACCOUNT_NOT_FOUND', `the buyer has no ${order.currency} wallet to refund the order into`);
    try {
      await this.o.ledger.transfer(
        { ref: refundRefOf(order.id), debitAccountId: from.id, creditAccountId: to.id, currency: order.currency, amountMinor, owner: `order:${order.id}`, memo: `order ${order.id} ${why === 'cancel' ? 'cancelled' : 'refunded'}` },
        ex,
      );
    } catch (error) {
      // Said in the order's terms: whose money is short, and how much is to go back.
      if (error instanceof LedgerError && error.failure === 'INSUFFICIENT_FUNDS') {
        const amount = formatAmount(amountMinor, this.scaleOf(order.currency) ?? 0);
        throw new AppError('INSUFFICIENT_FUNDS', `the seller's ${order.currency} wallet has less available than the ${amount} to pay back`);
      }
      throw error;
    }
  }
}

function callerOf(p: Principal): { userId: string; admin: boolean } {
  return { userId: p.userId, admin: isAdmin(p) };
}

function notFound(): AppError {
  return fieldError('NOT_FOUND', 'params', 'id', 'no such order of yours');
}
