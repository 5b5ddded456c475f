// The inbox table. Writes that come from an event take the delivery's transaction, so the
// notification and the consumer's checkpoint commit together.
import type { Kysely } from 'kysely';
import { toNumber, type Database } from '../platform/db/database.js';
import { PreparedQuery } from '../platform/db/prepared-query.js';
import type { DataValue, Notification, NotificationKind } from './model.js';

type Int = bigint | number;

interface InboxTable {
  id: string;
  recipient_user_id: string;
  kind: string;
  event_id: string;
  title: string;
  body: string;
  data: string;
  created_at_ms: Int;
  read_at_ms: Int | null;
}

export interface NotificationsTables {
  notifications_inbox: InboxTable;
}
export type NotificationsExecutor = Kysely<NotificationsTables>;

function toNotification(r: InboxTable): Notification {
  return {
    id: r.id,
    recipientUserId: r.recipient_user_id,
    kind: r.kind as NotificationKind,
    eventId: r.event_id,
    title: r.title,
    body: r.body,
    data: JSON.parse(r.data) as Record<string, DataValue>,
    createdAtMs: toNumber(r.created_at_ms),
    readAtMs: r.read_at_ms === null ? null : toNumber(r.read_at_ms),
  };
}

export class NotificationsStore {
  readonly db: NotificationsExecutor;
  /** Run for every notification: built and compiled once. */
  private readonly insertOne: PreparedQuery<keyof InboxTable, { id: string }>;

  constructor(database: Database) {
    this.db = database.kysely as unknown as NotificationsExecutor;
    this.insertOne = new PreparedQuery(this.db as Kysely<any>, (q: NotificationsExecutor, slot) =>
      q
        .insertInto('notifications_inbox')
        .values({
          id: slot('id'),
          recipient_user_id: slot('recipient_user_id'),
          kind: slot('kind'),
          event_id: slot('event_id'),
          title: slot('title'),
          body: slot('body'),
          data: slot('data'),
          created_at_ms: slot('created_at_ms'),
          read_at_ms: slot('read_at_ms'),
        })
        .onConflict((oc) => oc.columns(['recipient_user_id', 'event_id', 'kind']).doNothing())
        .returning('id'),
    );
  }

  /** False when the recipient has it already (the same event, the same kind). */
  async insert(tx: Kysely<any>, n: Notification): Promise<boolean> {
    const inserted = await this.insertOne.execute(tx, {
      id: n.id,
      recipient_user_id: n.recipientUserId,
      kind: n.kind,
      event_id: n.eventId,
      title: n.title,
      body: n.body,
      data: JSON.stringify(n.data),
      created_at_ms: n.createdAtMs,
      read_at_ms: n.readAtMs,
    });
    return inserted.rows.length > 0;
  }

  /** Newest first, strictly before `beforeId` when given. */
  async list(recipientUserId: string, query: { unreadOnly: boolean; beforeId: string | undefined; limit: number }): Promise<Notification[]> {
    let q = this.db.selectFrom('notifications_inbox').selectAll().where('recipient_user_id', '=', recipientUserId);
    if (query.unreadOnly) q = q.where('read_at_ms', 'is', null);
    if (query.beforeId !== undefined) q = q.where('id', '<', query.beforeId);
    const rows = await q.orderBy('id', 'desc').limit(query.limit).execute();
    return rows.map(toNotification);
  }

  async unreadCount(recipientUserId: string): Promise<number> {
    const row = await this.db
      .selectFrom('notifications_inbox')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('recipient_user_id', '=', recipientUserId)
      .where('read_at_ms', 'is', null)
      .executeTakeFirstOrThrow();
    return toNumber(row.n as Int);
  }

  async find(recipientUserId: string, id: string): Promise<Notification | undefined> {
    const row = await this.db.selectFrom('notifications_inbox').selectAll().where('recipient_user_id', '=', recipientUserId).where('id', '=', id).executeTakeFirst();
    return row && toNotification(row);
  }

  /** Marks one read; one read already keeps its first read time. */
  async markRead(recipientUserId: string, id: string, nowMs: number): Promise<void> {
    await this.db.updateTable('notifications_inbox').set({ read_at_ms: nowMs }).where('recipient_user_id', '=', recipientUserId).where('id', '=', id).where('read_at_ms', 'is', null).execute();
  }

  /** Marks every unread one read; returns how many there were. */
  async markAllRead(recipientUserId: string, nowMs: number): Promise<number> {
    const result = await this.db.updateTable('notifications_inbox').set({ read_at_ms: nowMs }).where('recipient_user_id', '=', recipientUserId).where('read_at_ms', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows);
  }
}
