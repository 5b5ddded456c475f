// The transactional outbox (DESIGN rule 5): a state change and the events it causes are
// written in one transaction, so an event exists exactly when its change committed. The relay
// (relay.ts) hands the rows to consumers afterwards; a consumer that was down reads what it
// missed from here.
//
// Order. Consumers read rows in (tx_seq, id) order from a checkpoint, so a row must never
// become visible *behind* a checkpoint that has passed it. Ids are UUIDv7 (time-ordered), but
// ids are taken when a row is written, not when it commits, and on PostgreSQL transactions
// commit in any order. So each row also carries `tx_seq`:
// - SQLite: one writer, transactions commit one after another; tx_seq counts appended rows,
//   which is commit order.
// - PostgreSQL: tx_seq is the appending transaction's id (xid8), and a reader only takes rows
//   whose transaction id is below the oldest transaction still running
//   (pg_snapshot_xmin): every transaction that could still add a row there has ended, so
//   nothing can appear behind the checkpoint later. Rows of one transaction share tx_seq and
//   keep their id order. Events about one aggregate come in the order their transactions first
//   wrote or locked something — commit order for producers that lock the aggregate first (as
//   the payments webhook locks the top-up row).
import assert from 'node:assert/strict';
import { sql, type Expression, type ExpressionBuilder, type Kysely, type Migration, type RawBuilder, type SelectQueryBuilder, type SqlBool } from 'kysely';
import type { Clock } from '../clock.js';
import { toNumber, type Database, type Dialect } from '../db/database.js';
import { uuidv7 } from '../ids.js';
import { PreparedQuery } from '../db/prepared-query.js';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** What a producer appends. Amounts travel as strings (a JSON number would lose a bigint). */
export interface NewEvent {
  /** `<module>.<subject>.<what happened>`, e.g. `ledger.topup.credited`. */
  topic: string;
  /** What the event is about (a user, an auction): the unit of ordering for per-key consumers later. */
  key: string;
  payload: { [key: string]: JsonValue };
  /** The payload's schema version; consumers read the versions they know. */
  version?: number;
}

/** An appended event as consumers see it. Its id is the dedupe key: a consumer may see it twice. */
export interface OutboxEvent {
  id: string;
  topic: string;
  key: string;
  version: number;
  payload: unknown;
  createdAtMs: number;
}

/** Where a consumer has read up to: the last row it took, in (txSeq, id) order. */
export interface Checkpoint {
  txSeq: bigint;
  id: string;
}

export const CHECKPOINT_START: Checkpoint = { txSeq: 0n, id: '' };
export const TOPIC_PATTERN = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;
export const EVENT_KEY_LENGTH_MAX = 200;
/** Events are notices, not documents: anything bigger is a producer's bug. */
export const EVENT_PAYLOAD_BYTES_MAX = 64 * 1024;
/** Rows every consumer has passed are deleted once they are this old (they help when debugging a consumer). */
export const OUTBOX_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;
/** Rows deleted per statement while pruning, so a prune never holds the writer for long. */
const PRUNE_BATCH = 1_000;

type Int = bigint | number;
interface OutboxTable {
  id: string;
  topic: string;
  key: string;
  version: Int;
  payload: string;
  tx_seq: Int;
  created_at_ms: Int;
}
interface ConsumersTable {
  consumer: string;
  last_tx_seq: Int;
  last_id: string;
  updated_at_ms: Int;
}
export interface OutboxTables {
  platform_outbox: OutboxTable;
  platform_outbox_consumers: ConsumersTable;
}
export type OutboxExecutor = Kysely<OutboxTables>;

export const outboxMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('platform_outbox')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('topic', 'text', (c) => c.notNull())
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('payload', 'text', (c) => c.notNull())
      .addColumn('tx_seq', 'bigint', (c) => c.notNull())
      .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('platform_outbox_order').on('platform_outbox').columns(['tx_seq', 'id']).execute();
    await db.schema
      .createTable('platform_outbox_consumers')
      .addColumn('consumer', 'text', (c) => c.primaryKey())
      .addColumn('last_tx_seq', 'bigint', (c) => c.notNull())
      .addColumn('last_id', 'text', (c) => c.notNull())
      .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
      .execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('platform_outbox_consumers').execute();
    await db.schema.dropTable('platform_outbox').execute();
  },
};

/** How the two databases order and lock the outbox; the only place they differ. */
interface OutboxDialect {
  /** tx_seq of a row appended now. */
  txSeq: RawBuilder<bigint>;
  /** Rows at or above this tx_seq may still have siblings in running transactions; undefined: none can. */
  horizon: RawBuilder<bigint> | undefined;
  /** Locks a consumer's checkpoint row, or returns nothing when another process holds it. */
  lockCheckpoint<O>(query: SelectQueryBuilder<OutboxTables, 'platform_outbox_consumers', O>): SelectQueryBuilder<OutboxTables, 'platform_outbox_consumers', O>;
}

const OUTBOX_DIALECTS: Record<Dialect, OutboxDialect> = {
  // The writer is alone and its transaction holds the one connection: max + 1 is commit order.
  // Pruning never deletes the newest row (see prune), so the count never goes back.
  sqlite: { txSeq: sql<bigint>`(select coalesce(max(tx_seq), 0) + 1 from platform_outbox)`, horizon: undefined, lockCheckpoint: (q) => q },
  postgres: {
    txSeq: sql<bigint>`pg_current_xact_id()::text::bigint`,
    horizon: sql<bigint>`pg_snapshot_xmin(pg_current_snapshot())::text::bigint`,
    // SKIP LOCKED: another node is delivering to this consumer; this one waits for its next turn.
    lockCheckpoint: (q) => q.forUpdate().skipLocked(),
  },
};

function toEvent(r: OutboxTable): OutboxEvent {
  return { id: r.id, topic: r.topic, key: r.key, version: toNumber(r.version), payload: JSON.parse(r.payload) as unknown, createdAtMs: toNumber(r.created_at_ms) };
}

/** Rows after a checkpoint, with the position to checkpoint once they are handled. */
export interface OutboxRow {
  event: OutboxEvent;
  checkpoint: Checkpoint;
}

export class Outbox {
  private readonly db: OutboxExecutor;
  private readonly dialect: OutboxDialect;
  private readonly insertEvent: PreparedQuery<'id' | 'topic' | 'key' | 'version' | 'payload' | 'createdAtMs', unknown>;

  constructor(
    database: Database,
    private readonly clock: Clock,
  ) {
    this.db = database.kysely as unknown as OutboxExecutor;
    this.dialect = OUTBOX_DIALECTS[database.dialect];
    // Every event of every producer: built and compiled once.
    this.insertEvent = new PreparedQuery(this.db as Kysely<any>, (q: OutboxExecutor, slot) =>
      q.insertInto('platform_outbox').values({ id: slot('id'), topic: slot('topic'), key: slot('key'), version: slot('version'), payload: slot('payload'), tx_seq: this.dialect.txSeq, created_at_ms: slot('createdAtMs') }),
    );
  }

  /**
   * Appends an event inside the caller's transaction: it is published if and only if that
   * transaction commits. Returns the event's id. After the commit, poke the relay.
   */
  async append(executor: Kysely<any>, event: NewEvent): Promise<string> {
    assert(executor.isTransaction, 'append events inside the transaction of the change that causes them');
    assert.match(event.topic, TOPIC_PATTERN);
    assert(event.key.length > 0 && event.key.length <= EVENT_KEY_LENGTH_MAX, `event key must be 1–${EVENT_KEY_LENGTH_MAX} characters`);
    const payload = JSON.stringify(event.payload);
    assert(Buffer.byteLength(payload) <= EVENT_PAYLOAD_BYTES_MAX, `event payload over ${EVENT_PAYLOAD_BYTES_MAX} bytes`);
    const nowMs = this.clock.nowMs();
    const id = uuidv7(nowMs);
    await this.insertEvent.execute(executor, { id, topic: event.topic, key: event.key, version: event.version ?? 1, payload, createdAtMs: nowMs });
    return id;
  }

  /** Creates a consumer's checkpoint at the start of the retained events if it has none. */
  async ensureConsumer(consumer: string): Promise<void> {
    await this.db
      .insertInto('platform_outbox_consumers')
      .values({ consumer, last_tx_seq: CHECKPOINT_START.txSeq, last_id: CHECKPOINT_START.id, updated_at_ms: this.clock.nowMs() })
      .onConflict((oc) => oc.column('consumer').doNothing())
      .execute();
  }

  /** Locks the consumer's checkpoint for this transaction; undefined when another process holds it. */
  async lockCheckpoint(tx: Kysely<any>, consumer: string): Promise<Checkpoint | undefined> {
    const query = (tx as OutboxExecutor).selectFrom('platform_outbox_consumers').select(['last_tx_seq', 'last_id']).where('consumer', '=', consumer);
    const row = await this.dialect.lockCheckpoint(query).executeTakeFirst();
    return row && { txSeq: BigInt(row.last_tx_seq), id: row.last_id };
  }

  async saveCheckpoint(tx: Kysely<any>, consumer: string, at: Checkpoint): Promise<void> {
    await (tx as OutboxExecutor)
      .updateTable('platform_outbox_consumers')
      .set({ last_tx_seq: at.txSeq, last_id: at.id, updated_at_ms: this.clock.nowMs() })
      .where('consumer', '=', consumer)
      .execute();
  }

  /** Up to `limit` rows after `after` that can no longer be joined by rows behind them, in order. */
  async readAfter(executor: Kysely<any>, after: Checkpoint, limit: number): Promise<OutboxRow[]> {
    const rows = await (executor as OutboxExecutor)
      .selectFrom('platform_outbox')
      .selectAll()
      .where((eb) => this.visibleAfter(eb, after))
      .orderBy('tx_seq')
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ event: toEvent(r), checkpoint: { txSeq: BigInt(r.tx_seq), id: r.id } }));
  }

  private visibleAfter(eb: ExpressionBuilder<OutboxTables, 'platform_outbox'>, after: Checkpoint): Expression<SqlBool> {
    const afterCheckpoint = eb(eb.refTuple('tx_seq', 'id'), '>', eb.tuple(after.txSeq, after.id));
    return this.dialect.horizon ? eb.and([afterCheckpoint, eb('tx_seq', '<', this.dialect.horizon)]) : afterCheckpoint;
  }

  /**
   * Deletes rows older than the retention that every consumer with a checkpoint has passed.
   * Rows at a checkpoint's own tx_seq stay, so the newest row always stays (SQLite's tx_seq
   * counts on from it). Returns how many were deleted and which consumers hold back rows
   * older than the retention (one that no longer runs: delete its checkpoint row).
   */
  async prune(nowMs: number, batches = 100): Promise<{ deleted: number; laggards: string[] }> {
    const cutoffMs = nowMs - OUTBOX_RETENTION_MS;
    const slowest = await this.db.selectFrom('platform_outbox_consumers').select((eb) => eb.fn.min('last_tx_seq').as('min')).executeTakeFirst();
    const passedBelow = slowest?.min === null || slowest?.min === undefined ? undefined : BigInt(slowest.min);
    let deleted = 0;
    for (let i = 0; i < batches; i++) {
      let doomed = this.db.selectFrom('platform_outbox').select('id').where('created_at_ms', '<', cutoffMs);
      if (passedBelow !== undefined) doomed = doomed.where('tx_seq', '<', passedBelow);
      else doomed = doomed.where('tx_seq', '<', (eb) => eb.selectFrom('platform_outbox').select((e) => e.fn.max('tx_seq').as('newest')));
      const result = await this.db.deleteFrom('platform_outbox').where('id', 'in', doomed.orderBy('tx_seq').orderBy('id').limit(PRUNE_BATCH)).executeTakeFirst();
      const n = Number(result.numDeletedRows);
      deleted += n;
      if (n < PRUNE_BATCH) break;
    }
    const oldestLeft = await this.db.selectFrom('platform_outbox').select('tx_seq').where('created_at_ms', '<', cutoffMs).orderBy('tx_seq').limit(1).executeTakeFirst();
    const laggards = oldestLeft
      ? (await this.db.selectFrom('platform_outbox_consumers').select('consumer').where('last_tx_seq', '<', oldestLeft.tx_seq).execute()).map((r) => r.consumer)
      : [];
    return { deleted, laggards };
  }
}
