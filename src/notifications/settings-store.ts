// What people set: the webhooks they register and their per-kind channel choices.
import type { Kysely } from 'kysely';
import { toNumber, type Database } from '../platform/db/database.js';
import { listSlots, listValues, PreparedBySize, PreparedQuery } from '../platform/db/prepared-query.js';
import type { ChannelChoice, NotificationKind } from './model.js';

type Int = bigint | number;

interface WebhooksTable {
  id: string;
  user_id: string;
  url: string;
  description: string;
  secret: string;
  created_at_ms: Int;
}

interface PreferencesTable {
  user_id: string;
  kind: string;
  inbox: Int;
  email: Int;
  webhook: Int;
  updated_at_ms: Int;
}

export interface SettingsTables {
  notifications_webhooks: WebhooksTable;
  notifications_preferences: PreferencesTable;
}
type Executor = Kysely<SettingsTables>;

/** Prepared queries for lists of up to this many people are kept. */
const PREPARED_USERS_MAX = 4;


export interface Webhook {
  id: string;
  userId: string;
  url: string;
  description: string;
  /** Signs each delivery; shown to its owner once, when registered. */
  secret: string;
  createdAtMs: number;
}

function toWebhook(r: WebhooksTable): Webhook {
  return { id: r.id, userId: r.user_id, url: r.url, description: r.description, secret: r.secret, createdAtMs: toNumber(r.created_at_ms) };
}

export class SettingsStore {
  readonly db: Executor;

  // What every event (a person's preferences and webhooks) and every webhook delivery reads:
  // built and compiled once; an event concerns a person or two.
  private readonly webhookById: PreparedQuery<'id', WebhooksTable>;
  private readonly webhooksOfUsers: PreparedBySize<string, WebhooksTable>;
  private readonly preferencesOfUsers: PreparedBySize<string, PreferencesTable>;

  constructor(readonly database: Database) {
    this.db = database.kysely as unknown as Executor;
    const db = this.db as Kysely<any>;
    this.webhookById = new PreparedQuery(db, (q: Executor, slot) => q.selectFrom('notifications_webhooks').selectAll().where('id', '=', slot('id')));
    this.webhooksOfUsers = new PreparedBySize(db, PREPARED_USERS_MAX, (q: Executor, slot, size) => q.selectFrom('notifications_webhooks').selectAll().where('user_id', 'in', listSlots('user', slot, size)).orderBy('id'));
    this.preferencesOfUsers = new PreparedBySize(db, PREPARED_USERS_MAX, (q: Executor, slot, size) => q.selectFrom('notifications_preferences').selectAll().where('user_id', 'in', listSlots('user', slot, size)));
  }

  /** Registers a webhook unless its owner has `max` already (counted under a lock on PostgreSQL); false then. */
  async insertWebhook(webhook: Webhook, max: number): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const mine = await this.database.forUpdate(tx.selectFrom('notifications_webhooks').select('id').where('user_id', '=', webhook.userId)).execute();
      if (mine.length >= max) return false;
      await tx
        .insertInto('notifications_webhooks')
        .values({ id: webhook.id, user_id: webhook.userId, url: webhook.url, description: webhook.description, secret: webhook.secret, created_at_ms: webhook.createdAtMs })
        .execute();
      return true;
    });
  }

  async webhooksOf(userId: string, tx?: Kysely<any>): Promise<Webhook[]> {
    const db = (tx as Executor | undefined) ?? this.db;
    return (await db.selectFrom('notifications_webhooks').selectAll().where('user_id', '=', userId).orderBy('id').execute()).map(toWebhook);
  }

  /** The webhooks of several people at once, by owner (the fan-out of one event). */
  async webhooksOfAll(tx: Kysely<any>, userIds: readonly string[]): Promise<Map<string, Webhook[]>> {
    const out = new Map<string, Webhook[]>();
    if (userIds.length === 0) return out;
    const distinct = [...new Set(userIds)];
    const rows = (await this.webhooksOfUsers.forSize(distinct.length).execute(tx, listValues('user', distinct))).rows;
    for (const r of rows) {
      const list = out.get(r.user_id) ?? [];
      list.push(toWebhook(r));
      out.set(r.user_id, list);
    }
    return out;
  }

  async findWebhook(id: string): Promise<Webhook | undefined> {
    const row = (await this.webhookById.execute(this.db, { id })).rows[0];
    return row && toWebhook(row);
  }

  /** Deletes a person's webhook and runs `alsoInTx` in the same transaction; false when they have no such webhook. */
  async deleteWebhook(userId: string, id: string, alsoInTx: (tx: Kysely<any>) => Promise<void>): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const deleted = await tx.deleteFrom('notifications_webhooks').where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
      if (Number(deleted.numDeletedRows) === 0) return false;
      await alsoInTx(tx);
      return true;
    });
  }

  /** The choices people saved, by person and kind (kinds they never changed are absent). */
  async savedPreferences(userIds: readonly string[], tx?: Kysely<any>): Promise<Map<string, Map<NotificationKind, ChannelChoice>>> {
    const out = new Map<string, Map<NotificationKind, ChannelChoice>>();
    if (userIds.length === 0) return out;
    const db = (tx as Executor | undefined) ?? this.db;
    const distinct = [...new Set(userIds)];
    const rows = (await this.preferencesOfUsers.forSize(distinct.length).execute(db, listValues('user', distinct))).rows;
    for (const r of rows) {
      const mine = out.get(r.user_id) ?? new Map<NotificationKind, ChannelChoice>();
      mine.set(r.kind as NotificationKind, { inbox: toNumber(r.inbox) === 1, email: toNumber(r.email) === 1, webhook: toNumber(r.webhook) === 1 });
      out.set(r.user_id, mine);
    }
    return out;
  }

  /** Saves whole choices for the kinds given (the caller merged them with what was there). */
  async savePreferences(userId: string, choices: ReadonlyMap<NotificationKind, ChannelChoice>, nowMs: number): Promise<void> {
    if (choices.size === 0) return;
    const bit = (b: boolean) => (b ? 1 : 0);
    await this.db
      .insertInto('notifications_preferences')
      .values([...choices].map(([kind, c]) => ({ user_id: userId, kind, inbox: bit(c.inbox), email: bit(c.email), webhook: bit(c.webhook), updated_at_ms: nowMs })))
      .onConflict((oc) =>
        oc.columns(['user_id', 'kind']).doUpdateSet((eb) => ({
          inbox: eb.ref('excluded.inbox'),
          email: eb.ref('excluded.email'),
          webhook: eb.ref('excluded.webhook'),
          updated_at_ms: eb.ref('excluded.updated_at_ms'),
        })),
      )
      .execute();
  }
}
