// Reading and removing the purchase saga's dead letters (orders_purchase_dead_letters) for the
// admin pages. Consumers write them through PurchaseStore.deadLetter, in their delivery's
// transaction; this store only pages through them and deletes one at a time.
import type { Kysely } from 'kysely';
import { toNumber } from '../platform/db/database.js';
import type { PurchaseStatus } from './purchase-model.js';
import type { DeadLetter, PurchaseStore, PurchaseTables } from './purchase-store.js';

type Executor = Kysely<PurchaseTables>;

/** A dead letter's identity: the consumer that gave up on it and the outbox event it was. */
export interface DeadLetterKey {
  consumer: string;
  eventId: string;
}

type Row = PurchaseTables['orders_purchase_dead_letters'];

function letterOf(r: Row): DeadLetter {
  return { consumer: r.consumer, eventId: r.event_id, topic: r.topic, payload: JSON.parse(r.payload) as unknown, reason: r.reason, createdAtMs: toNumber(r.created_at_ms) };
}

export class PurchaseDeadLetterStore {
  private readonly db: Executor;

  constructor(store: PurchaseStore) {
    this.db = store.db;
  }

  /**
   * Newest event first (event ids are UUIDv7, so by the time the message was sent), then by
   * consumer; `after` is the last key of the previous page.
   */
  async page(after: DeadLetterKey | undefined, limit: number): Promise<DeadLetter[]> {
    let q = this.db.selectFrom('orders_purchase_dead_letters').selectAll();
    if (after !== undefined) {
      q = q.where((eb) =>
        eb.or([eb('event_id', '<', after.eventId), eb.and([eb('event_id', '=', after.eventId), eb('consumer', '<', after.consumer)])]),
      );
    }
    const rows = await q.orderBy('event_id', 'desc').orderBy('consumer', 'desc').limit(limit).execute();
    return rows.map(letterOf);
  }

  async count(): Promise<number> {
    const row = await this.db.selectFrom('orders_purchase_dead_letters').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    return toNumber(row.n as bigint | number);
  }

  async find(key: DeadLetterKey, ex: Kysely<any> = this.db): Promise<DeadLetter | undefined> {
    const row = await (ex as Executor).selectFrom('orders_purchase_dead_letters').selectAll().where('consumer', '=', key.consumer).where('event_id', '=', key.eventId).executeTakeFirst();
    return row && letterOf(row);
  }

  /** The status of each purchase of `ids` that exists. */
  async purchaseStatuses(ids: readonly string[], ex: Kysely<any> = this.db): Promise<Map<string, PurchaseStatus>> {
    const unique = [...new Set(ids)];
    if (unique.length === 0) return new Map();
    const rows = await (ex as Executor).selectFrom('orders_purchases').select(['id', 'status']).where('id', 'in', unique).execute();
    return new Map(rows.map((r) => [r.id, r.status as PurchaseStatus]));
  }

  /** Deletes one, in `ex`; what was deleted, or undefined when it was gone already. */
  async remove(key: DeadLetterKey, ex: Kysely<any> = this.db): Promise<DeadLetter | undefined> {
    const row = await (ex as Executor)
      .deleteFrom('orders_purchase_dead_letters')
      .where('consumer', '=', key.consumer)
      .where('event_id', '=', key.eventId)
      .returningAll()
      .executeTakeFirst();
    return row && letterOf(row);
  }
}
