// The orders module's tables. Every write takes the executor it runs on: the service's own
// transaction, or an outbox delivery's (an order created from an event commits with the
// consumer's checkpoint).
import type { Kysely } from 'kysely';
import { toNumber, type Database } from '../platform/db/database.js';
import type { Order, OrderLine, OrderSource, OrderStatus, Rating } from './model.js';

type Int = bigint | number;

interface OrdersTable {
  id: string;
  source: string;
  source_ref: string;
  status: string;
  buyer_id: string;
  seller_id: string;
  title: string;
  currency: string;
  amount_minor: Int;
  payment_ref: string | null;
  created_at_ms: Int;
  updated_at_ms: Int;
  paid_at_ms: Int | null;
  shipped_at_ms: Int | null;
  carrier: string | null;
  tracking_number: string | null;
  delivered_at_ms: Int | null;
  rating: Int | null;
  rating_comment: string | null;
  cancelled_at_ms: Int | null;
  cancelled_by: string | null;
  cancel_reason: string | null;
  refunded_at_ms: Int | null;
  refund_reason: string | null;
  refund_ref: string | null;
}

interface LinesTable {
  order_id: string;
  line_no: Int;
  kind: string;
  ref_id: string;
  title: string;
  quantity: Int;
  unit_price_minor: Int;
}

export interface OrdersTables {
  orders_orders: OrdersTable;
  orders_lines: LinesTable;
}
export type OrdersExecutor = Kysely<OrdersTables>;

export interface OrderQuery {
  userId: string;
  /** Orders the user bought, sold, or either (undefined). */
  role: 'buyer' | 'seller' | undefined;
  status: OrderStatus | undefined;
  /** Strictly older than this id (ids are UUIDv7: time-ordered). */
  beforeId: string | undefined;
  limit: number;
}

const msOrNull = (v: Int | null) => (v === null ? null : toNumber(v));

/** The row's columns, milestone by milestone. */
function rowOf(o: Order): OrdersTable {
  return {
    id: o.id,
    source: o.source,
    source_ref: o.sourceRef,
    status: o.status,
    buyer_id: o.buyerId,
    seller_id: o.sellerId,
    title: o.title,
    currency: o.currency,
    amount_minor: o.amountMinor,
    payment_ref: o.paymentRef,
    created_at_ms: o.createdAtMs,
    updated_at_ms: o.updatedAtMs,
    paid_at_ms: o.paidAtMs,
    shipped_at_ms: o.shipment?.shippedAtMs ?? null,
    carrier: o.shipment?.carrier ?? null,
    tracking_number: o.shipment?.trackingNumber ?? null,
    delivered_at_ms: o.delivery?.deliveredAtMs ?? null,
    rating: o.delivery?.rating ?? null,
    rating_comment: o.delivery?.comment ?? null,
    cancelled_at_ms: o.cancellation?.cancelledAtMs ?? null,
    cancelled_by: o.cancellation?.by ?? null,
    cancel_reason: o.cancellation?.reason ?? null,
    refunded_at_ms: o.refund?.refundedAtMs ?? null,
    refund_reason: o.refund?.reason ?? null,
    refund_ref: o.refund?.transferRef ?? null,
  };
}

function orderOf(r: OrdersTable, lines: OrderLine[]): Order {
  return {
    id: r.id,
    source: r.source as OrderSource,
    sourceRef: r.source_ref,
    status: r.status as OrderStatus,
    buyerId: r.buyer_id,
    sellerId: r.seller_id,
    title: r.title,
    currency: r.currency,
    amountMinor: BigInt(r.amount_minor),
    paymentRef: r.payment_ref,
    lines,
    createdAtMs: toNumber(r.created_at_ms),
    updatedAtMs: toNumber(r.updated_at_ms),
    paidAtMs: msOrNull(r.paid_at_ms),
    shipment: r.shipped_at_ms === null ? null : { shippedAtMs: toNumber(r.shipped_at_ms), carrier: r.carrier, trackingNumber: r.tracking_number },
    delivery: r.delivered_at_ms === null || r.rating === null ? null : { deliveredAtMs: toNumber(r.delivered_at_ms), rating: toNumber(r.rating) as Rating, comment: r.rating_comment },
    cancellation:
      r.cancelled_at_ms === null ? null : { cancelledAtMs: toNumber(r.cancelled_at_ms), by: r.cancelled_by as 'seller' | 'admin' | 'system', reason: r.cancel_reason ?? '' },
    refund: r.refunded_at_ms === null ? null : { refundedAtMs: toNumber(r.refunded_at_ms), reason: r.refund_reason ?? '', transferRef: r.refund_ref ?? '' },
  };
}

function lineOf(r: LinesTable): OrderLine {
  return { kind: r.kind as OrderLine['kind'], refId: r.ref_id, title: r.title, quantity: toNumber(r.quantity), unitPriceMinor: BigInt(r.unit_price_minor) };
}

export class OrdersStore {
  readonly db: OrdersExecutor;

  constructor(private readonly database: Database) {
    this.db = database.kysely as unknown as OrdersExecutor;
  }

  /** Inserts a new order with its lines; false when its source made one already (nothing written). */
  async insert(tx: Kysely<any>, order: Order): Promise<boolean> {
    const ex = tx as OrdersExecutor;
    const inserted = await ex
      .insertInto('orders_orders')
      .values(rowOf(order))
      .onConflict((oc) => oc.columns(['source', 'source_ref']).doNothing())
      .returning('id')
      .executeTakeFirst();
    if (inserted === undefined) return false;
    await ex
      .insertInto('orders_lines')
      .values(order.lines.map((l, i) => ({ order_id: order.id, line_no: i + 1, kind: l.kind, ref_id: l.refId, title: l.title, quantity: l.quantity, unit_price_minor: l.unitPriceMinor })))
      .execute();
    return true;
  }

  /** One order, locked for the rest of `tx` (PostgreSQL: FOR UPDATE; SQLite holds the writer). */
  async lock(tx: Kysely<any>, id: string): Promise<Order | undefined> {
    const ex = tx as OrdersExecutor;
    const row = await this.database.forUpdate(ex.selectFrom('orders_orders').selectAll().where('id', '=', id)).executeTakeFirst();
    return row && orderOf(row, await this.linesOf(ex, [id]).then((m) => m.get(id) ?? []));
  }

  async find(id: string): Promise<Order | undefined> {
    const row = await this.db.selectFrom('orders_orders').selectAll().where('id', '=', id).executeTakeFirst();
    return row && orderOf(row, (await this.linesOf(this.db, [id])).get(id) ?? []);
  }

  async findBySource(source: OrderSource, sourceRef: string, ex: Kysely<any> = this.db): Promise<Order | undefined> {
    const row = await (ex as OrdersExecutor).selectFrom('orders_orders').selectAll().where('source', '=', source).where('source_ref', '=', sourceRef).executeTakeFirst();
    return row && orderOf(row, (await this.linesOf(ex as OrdersExecutor, [row.id])).get(row.id) ?? []);
  }

  /**
   * Writes the order's new status and milestones, provided it is still in `fromStatus`
   * (the row is locked, so this is a guard against a bug, not a race); false otherwise.
   */
  async update(tx: Kysely<any>, order: Order, fromStatus: OrderStatus): Promise<boolean> {
    const { id: _id, source: _s, source_ref: _r, created_at_ms: _c, ...changes } = rowOf(order);
    const result = await (tx as OrdersExecutor).updateTable('orders_orders').set(changes).where('id', '=', order.id).where('status', '=', fromStatus).executeTakeFirst();
    return result.numUpdatedRows === 1n;
  }

  /** Newest first. */
  async list(query: OrderQuery): Promise<Order[]> {
    let q = this.db.selectFrom('orders_orders').selectAll();
    if (query.role === 'buyer') q = q.where('buyer_id', '=', query.userId);
    else if (query.role === 'seller') q = q.where('seller_id', '=', query.userId);
    else q = q.where((eb) => eb.or([eb('buyer_id', '=', query.userId), eb('seller_id', '=', query.userId)]));
    if (query.status !== undefined) q = q.where('status', '=', query.status);
    if (query.beforeId !== undefined) q = q.where('id', '<', query.beforeId);
    const rows = await q.orderBy('id', 'desc').limit(query.limit).execute();
    const lines = await this.linesOf(this.db, rows.map((r) => r.id));
    return rows.map((r) => orderOf(r, lines.get(r.id) ?? []));
  }

  private async linesOf(ex: OrdersExecutor, orderIds: string[]): Promise<Map<string, OrderLine[]>> {
    const byOrder = new Map<string, OrderLine[]>();
    if (orderIds.length === 0) return byOrder;
    const rows = await ex.selectFrom('orders_lines').selectAll().where('order_id', 'in', orderIds).orderBy('order_id').orderBy('line_no').execute();
    for (const r of rows) {
      const list = byOrder.get(r.order_id) ?? [];
      list.push(lineOf(r));
      byOrder.set(r.order_id, list);
    }
    return byOrder;
  }
}
