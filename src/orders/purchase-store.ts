// The purchase saga's tables: the purchases (the orchestrator's state), the participants'
// inbox, and dead letters. Writes take the executor they run on: an outbox delivery's
// transaction, or one the saga opens.
import type { Kysely } from 'kysely';
import { toNumber, type Database } from '../platform/db/database.js';
import type { FailureCode, PricedLine, Purchase, PurchaseItem, PurchaseStatus, PurchaseStepName, StepState } from './purchase-model.js';

type Int = bigint | number;

interface PurchasesTable {
  id: string;
  buyer_id: string;
  idempotency_key: string | null;
  currency: string;
  status: string;
  items: string;
  steps: string;
  lines: string | null;
  order_ids: string;
  failure_step: string | null;
  failure_code: string | null;
  failure_detail: string | null;
  deadline_at_ms: Int | null;
  created_at_ms: Int;
  updated_at_ms: Int;
  finished_at_ms: Int | null;
}

export type InboxStatus = 'pending' | 'pivoted' | 'done' | 'fenced';

interface InboxTable {
  id: string;
  participant: string;
  purchase_id: string;
  command: string;
  /** The command's outbox payload (the Avro envelope) as received. */
  message: string;
  status: string;
  /** What the participant keeps between its own commits (CreateOrder: the order ids). */
  result: string | null;
  /** The reply it sent: `{topic, payload}`, sent again when the command comes again. */
  reply: string | null;
  attempts: Int;
  next_attempt_at_ms: Int;
  last_error: string | null;
  /** A UUIDv7 taken on arrival: the order commands are worked off in. */
  arrival: string;
  created_at_ms: Int;
  updated_at_ms: Int;
}

interface DeadLettersTable {
  consumer: string;
  event_id: string;
  topic: string;
  payload: string;
  reason: string;
  created_at_ms: Int;
}

export interface PurchaseTables {
  orders_purchases: PurchasesTable;
  orders_purchase_inbox: InboxTable;
  orders_purchase_dead_letters: DeadLettersTable;
}
type Executor = Kysely<PurchaseTables>;

export interface InboxRow {
  id: string;
  participant: string;
  purchaseId: string;
  command: string;
  message: unknown;
  status: InboxStatus;
  result: unknown;
  reply: { topic: string; payload: unknown; version: number } | null;
  attempts: number;
  nextAttemptAtMs: number;
  lastError: string | null;
}

export interface DeadLetter {
  consumer: string;
  eventId: string;
  topic: string;
  payload: unknown;
  reason: string;
  createdAtMs: number;
}

// JSON with bigints: amounts are written as decimal strings and read back as bigint.
const linesToJson = (lines: PricedLine[] | null) => (lines === null ? null : JSON.stringify(lines.map((l) => ({ ...l, unitPriceMinor: l.unitPriceMinor.toString() }))));
const linesFromJson = (text: string | null): PricedLine[] | null =>
  text === null ? null : (JSON.parse(text) as Array<PricedLine & { unitPriceMinor: string }>).map((l) => ({ ...l, unitPriceMinor: BigInt(l.unitPriceMinor) }));

function rowOf(p: Purchase, idempotencyKey: string | null): PurchasesTable {
  return {
    id: p.id,
    buyer_id: p.buyerId,
    idempotency_key: idempotencyKey,
    currency: p.currency,
    status: p.status,
    items: JSON.stringify(p.items),
    steps: JSON.stringify(p.steps),
    lines: linesToJson(p.lines),
    order_ids: JSON.stringify(p.orderIds),
    failure_step: p.failure?.step ?? null,
    failure_code: p.failure?.code ?? null,
    failure_detail: p.failure?.detail ?? null,
    deadline_at_ms: p.deadlineAtMs,
    created_at_ms: p.createdAtMs,
    updated_at_ms: p.updatedAtMs,
    finished_at_ms: p.finishedAtMs,
  };
}

function purchaseOf(r: PurchasesTable): Purchase {
  return {
    id: r.id,
    buyerId: r.buyer_id,
    currency: r.currency,
    items: JSON.parse(r.items) as PurchaseItem[],
    status: r.status as PurchaseStatus,
    steps: JSON.parse(r.steps) as StepState[],
    lines: linesFromJson(r.lines),
    orderIds: JSON.parse(r.order_ids) as string[],
    failure: r.failure_step === null ? null : { step: r.failure_step as PurchaseStepName, code: r.failure_code as FailureCode, detail: r.failure_detail ?? '' },
    deadlineAtMs: r.deadline_at_ms === null ? null : toNumber(r.deadline_at_ms),
    createdAtMs: toNumber(r.created_at_ms),
    updatedAtMs: toNumber(r.updated_at_ms),
    finishedAtMs: r.finished_at_ms === null ? null : toNumber(r.finished_at_ms),
  };
}

function inboxOf(r: InboxTable): InboxRow {
  return {
    id: r.id,
    participant: r.participant,
    purchaseId: r.purchase_id,
    command: r.command,
    message: JSON.parse(r.message) as unknown,
    status: r.status as InboxStatus,
    result: r.result === null ? null : (JSON.parse(r.result) as unknown),
    reply: r.reply === null ? null : (JSON.parse(r.reply) as InboxRow['reply']),
    attempts: toNumber(r.attempts),
    nextAttemptAtMs: toNumber(r.next_attempt_at_ms),
    lastError: r.last_error,
  };
}

export class PurchaseStore {
  readonly db: Executor;

  constructor(readonly database: Database) {
    this.db = database.kysely as unknown as Executor;
  }

  // --- purchases ---------------------------------------------------------------------------

  /** Inserts a new purchase; false when the buyer's idempotency key made one already (nothing written). */
  async insert(tx: Kysely<any>, p: Purchase, idempotencyKey: string | null): Promise<boolean> {
    const inserted = await (tx as Executor)
      .insertInto('orders_purchases')
      .values(rowOf(p, idempotencyKey))
      .onConflict((oc) => oc.columns(['buyer_id', 'idempotency_key']).doNothing())
      .returning('id')
      .executeTakeFirst();
    return inserted !== undefined;
  }

  async findByKey(buyerId: string, idempotencyKey: string, ex: Kysely<any> = this.db): Promise<Purchase | undefined> {
    const row = await (ex as Executor).selectFrom('orders_purchases').selectAll().where('buyer_id', '=', buyerId).where('idempotency_key', '=', idempotencyKey).executeTakeFirst();
    return row && purchaseOf(row);
  }

  async find(id: string, ex: Kysely<any> = this.db): Promise<Purchase | undefined> {
    const row = await (ex as Executor).selectFrom('orders_purchases').selectAll().where('id', '=', id).executeTakeFirst();
    return row && purchaseOf(row);
  }

  /** One purchase, locked for the rest of `tx` (PostgreSQL: FOR UPDATE; SQLite holds the writer). */
  async lock(tx: Kysely<any>, id: string): Promise<Purchase | undefined> {
    const row = await this.database.forUpdate((tx as Executor).selectFrom('orders_purchases').selectAll().where('id', '=', id)).executeTakeFirst();
    return row && purchaseOf(row);
  }

  /** Writes the purchase's new state (its row is locked). */
  async update(tx: Kysely<any>, p: Purchase): Promise<void> {
    const { id: _id, buyer_id: _b, idempotency_key: _k, created_at_ms: _c, ...changes } = rowOf(p, null);
    const result = await (tx as Executor).updateTable('orders_purchases').set(changes).where('id', '=', p.id).executeTakeFirst();
    if (result.numUpdatedRows !== 1n) throw new Error(`purchase ${p.id} vanished`);
  }

  /** A buyer's purchases, newest first. */
  async listByBuyer(buyerId: string, beforeId: string | undefined, limit: number): Promise<Purchase[]> {
    let q = this.db.selectFrom('orders_purchases').selectAll().where('buyer_id', '=', buyerId);
    if (beforeId !== undefined) q = q.where('id', '<', beforeId);
    return (await q.orderBy('id', 'desc').limit(limit).execute()).map(purchaseOf);
  }

  /** Ids of open purchases whose command in flight is overdue. */
  async overdue(nowMs: number, limit: number): Promise<string[]> {
    const rows = await this.db.selectFrom('orders_purchases').select('id').where('deadline_at_ms', '<=', nowMs).orderBy('deadline_at_ms').limit(limit).execute();
    return rows.map((r) => r.id);
  }

  /** Ids of every purchase not yet completed or compensated. */
  async unfinished(afterId: string, limit: number): Promise<string[]> {
    const rows = await this.db.selectFrom('orders_purchases').select('id').where('deadline_at_ms', 'is not', null).where('id', '>', afterId).orderBy('id').limit(limit).execute();
    return rows.map((r) => r.id);
  }

  // --- the participants' inbox ----------------------------------------------------------------

  /** Records a command received; false when it was received before (the row stays as it is). */
  async receive(tx: Kysely<any>, row: { id: string; participant: string; purchaseId: string; command: string; message: unknown; arrival: string; nowMs: number }): Promise<boolean> {
    const inserted = await (tx as Executor)
      .insertInto('orders_purchase_inbox')
      .values(newInboxRow(row, JSON.stringify(row.message), 'pending'))
      .onConflict((oc) => oc.column('id').doNothing())
      .returning('id')
      .executeTakeFirst();
    return inserted !== undefined;
  }

  /** A fence for a command that has not arrived (or not been worked): when it does, it does nothing. */
  async fence(tx: Kysely<any>, row: { id: string; participant: string; purchaseId: string; command: string; arrival: string; nowMs: number }): Promise<void> {
    const ex = tx as Executor;
    await ex
      .insertInto('orders_purchase_inbox')
      .values(newInboxRow(row, 'null', 'fenced'))
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    await ex.updateTable('orders_purchase_inbox').set({ status: 'fenced', updated_at_ms: row.nowMs }).where('id', '=', row.id).where('status', '=', 'pending').execute();
  }

  async findInbox(id: string, ex: Kysely<any> = this.db): Promise<InboxRow | undefined> {
    const row = await (ex as Executor).selectFrom('orders_purchase_inbox').selectAll().where('id', '=', id).executeTakeFirst();
    return row && inboxOf(row);
  }

  /** One inbox row, locked for the rest of `tx`. */
  async lockInbox(tx: Kysely<any>, id: string): Promise<InboxRow | undefined> {
    const row = await this.database.forUpdate((tx as Executor).selectFrom('orders_purchase_inbox').selectAll().where('id', '=', id)).executeTakeFirst();
    return row && inboxOf(row);
  }

  /** Commands to work on now, oldest arrival first. */
  async due(nowMs: number, limit: number): Promise<InboxRow[]> {
    const rows = await this.db
      .selectFrom('orders_purchase_inbox')
      .selectAll()
      .where('status', 'in', ['pending', 'pivoted'])
      .where('next_attempt_at_ms', '<=', nowMs)
      .orderBy('arrival')
      .limit(limit)
      .execute();
    return rows.map(inboxOf);
  }

  /** Moves a row from `from` to `to`, keeping `result` and `reply` when given; false when it was not in `from`. */
  async settle(tx: Kysely<any>, id: string, from: InboxStatus, to: InboxStatus, nowMs: number, keep: { result?: unknown; reply?: InboxRow['reply'] } = {}): Promise<boolean> {
    const result = await (tx as Executor)
      .updateTable('orders_purchase_inbox')
      .set({
        status: to,
        updated_at_ms: nowMs,
        last_error: null,
        ...(keep.result !== undefined && { result: JSON.stringify(keep.result) }),
        ...(keep.reply !== undefined && { reply: JSON.stringify(keep.reply) }),
      })
      .where('id', '=', id)
      .where('status', '=', from)
      .executeTakeFirst();
    return result.numUpdatedRows === 1n;
  }

  /** A failed attempt: tried again at `nextAttemptAtMs`. */
  async retryLater(id: string, attempts: number, nextAttemptAtMs: number, error: string, nowMs: number): Promise<void> {
    await this.db
      .updateTable('orders_purchase_inbox')
      .set({ attempts, next_attempt_at_ms: nextAttemptAtMs, last_error: error.slice(0, 2000), updated_at_ms: nowMs })
      .where('id', '=', id)
      .where('status', 'in', ['pending', 'pivoted'])
      .execute();
  }

  /**
   * Deletes up to `limit` answered inbox rows last touched before `beforeMs` whose purchase is
   * no longer open (or does not exist); returns how many. Rows still to be worked stay, and so
   * do fences: a fence is what keeps a command arriving after its undo from acting, however late
   * it comes, and there are few of them (only undone steps leave one).
   */
  async pruneInbox(beforeMs: number, limit: number): Promise<number> {
    const doomed = this.db
      .selectFrom('orders_purchase_inbox as i')
      .select('i.id')
      .where('i.status', '=', 'done')
      // A row is answered only once it is due, so this bound drops no row the next one keeps;
      // it lets the (status, next_attempt_at_ms) index skip the recent rows.
      .where('i.next_attempt_at_ms', '<', beforeMs)
      .where('i.updated_at_ms', '<', beforeMs)
      .where((eb) => eb.not(eb.exists(eb.selectFrom('orders_purchases as p').select('p.id').whereRef('p.id', '=', 'i.purchase_id').where('p.deadline_at_ms', 'is not', null))))
      .limit(limit);
    const result = await this.db.deleteFrom('orders_purchase_inbox').where('id', 'in', doomed).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  // --- dead letters ------------------------------------------------------------------------

  async deadLetter(tx: Kysely<any>, letter: DeadLetter): Promise<void> {
    await (tx as Executor)
      .insertInto('orders_purchase_dead_letters')
      .values({ consumer: letter.consumer, event_id: letter.eventId, topic: letter.topic, payload: JSON.stringify(letter.payload ?? null), reason: letter.reason.slice(0, 2000), created_at_ms: letter.createdAtMs })
      .onConflict((oc) => oc.columns(['consumer', 'event_id']).doNothing())
      .execute();
  }

  async deadLetters(): Promise<DeadLetter[]> {
    const rows = await this.db.selectFrom('orders_purchase_dead_letters').selectAll().orderBy('created_at_ms').orderBy('event_id').execute();
    return rows.map((r) => ({ consumer: r.consumer, eventId: r.event_id, topic: r.topic, payload: JSON.parse(r.payload) as unknown, reason: r.reason, createdAtMs: toNumber(r.created_at_ms) }));
  }
}

/** A new inbox row: a received command (`pending`) or a fence for one not yet received. */
function newInboxRow(row: { id: string; participant: string; purchaseId: string; command: string; arrival: string; nowMs: number }, message: string, status: 'pending' | 'fenced') {
  return {
    id: row.id,
    participant: row.participant,
    purchase_id: row.purchaseId,
    command: row.command,
    message,
    status,
    result: null,
    reply: null,
    attempts: 0,
    next_attempt_at_ms: row.nowMs,
    last_error: null,
    arrival: row.arrival,
    created_at_ms: row.nowMs,
    updated_at_ms: row.nowMs,
  };
}
