// Dead letters of the bus, the same for both adapters (outbox/relay.ts in one process,
// jetstream-bus.ts across nodes). A consumer's handler that throws on an event is retried with
// backoff; each failure is counted in platform_bus_failures, in storage, so the count survives a
// restart and is shared by every node delivering to that consumer. At `maxAttempts` failures
// the event becomes a row of platform_bus_dead_letters, written in the same transaction that
// moves the consumer past it, and the consumer goes on with the next event: one poison event
// no longer stops its consumer for good.
//
// What counts as an attempt: a handler that threw, recorded. Not counted: a failure of storage
// itself (nothing can be recorded, and it is not the event's fault), nor a handler that takes the
// process down (its transaction never commits) — both are retried as before, without end.
//
// An admin then redrives a dead letter (the consumer's handler runs on the event once, now, in a
// transaction that also marks the row redriven, so two redrives cannot both run it) or discards
// it. A redrive runs the handler in this process: every node registers its modules' consumers
// whatever its roles (a node without the worker role just does not deliver to them), and a
// handler is a function of the event and the transaction it is given, so any node may redrive.
import assert from 'node:assert/strict';
import { sql, type Kysely } from 'kysely';
import { Counter, type Registry } from 'prom-client';
import { requireAdmin, type Principal } from '../auth/principal.js';
import type { Clock } from '../clock.js';
import { toNumber, type Database } from '../db/database.js';
import { AppError, fieldError } from '../errors.js';
import { uuidv7 } from '../ids.js';
import type { Logger } from '../logging.js';
import type { OutboxEvent } from '../outbox/outbox.js';
import type { EventHandler } from '../outbox/relay.js';
import type { BusDeadLetterTables, BusDeadLettersTable, DeadLetterState } from './dead-letter-migration.js';

/** Failed deliveries of one event to one consumer before it is dead-lettered. */
export const BUS_MAX_ATTEMPTS_DEFAULT = 10;
/** An error's text is kept (and shown) up to this many characters. */
export const LAST_ERROR_CHARS_MAX = 2_000;
/** Redriven and discarded dead letters are deleted after this long; pending ones stay until someone acts. */
export const DEAD_LETTER_RESOLVED_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;
const PRUNE_INTERVAL_MS = 10 * 60_000;

type Executor = Kysely<BusDeadLetterTables>;

/** How often a consumer has failed on an event, as recorded. */
export interface FailureCount {
  attempts: number;
  firstFailedAtMs: number;
  lastFailedAtMs: number;
  lastError: string;
}

export interface BusDeadLetter {
  id: string;
  consumer: string;
  eventId: string;
  topic: string;
  key: string;
  version: number;
  payload: unknown;
  eventCreatedAtMs: number;
  attempts: number;
  lastError: string;
  firstFailedAtMs: number;
  lastFailedAtMs: number;
  state: DeadLetterState;
  deadLetteredAtMs: number;
  resolvedAtMs: number | null;
  resolvedBy: string | null;
}

export interface BusDeadLettersOptions {
  maxAttempts: number;
  /** More work in a redrive's transaction: the JetStream bus keeps the event's inbox row. */
  onRedrive?: (tx: Kysely<any>, consumer: string, event: OutboxEvent) => Promise<void>;
}

export interface DeadLetterQuery {
  state?: DeadLetterState | undefined;
  consumer?: string | undefined;
  /** The id of the last dead letter of the previous page. */
  after?: string | undefined;
  limit: number;
}

/** The text kept of an error: its name and message, bounded. */
export function errorText(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.length > LAST_ERROR_CHARS_MAX ? `${text.slice(0, LAST_ERROR_CHARS_MAX - 1)}…` : text;
}

function letterOf(r: BusDeadLettersTable): BusDeadLetter {
  return {
    id: r.id,
    consumer: r.consumer,
    eventId: r.event_id,
    topic: r.topic,
    key: r.key,
    version: toNumber(r.version),
    payload: JSON.parse(r.payload) as unknown,
    eventCreatedAtMs: toNumber(r.event_created_at_ms),
    attempts: toNumber(r.attempts),
    lastError: r.last_error,
    firstFailedAtMs: toNumber(r.first_failed_at_ms),
    lastFailedAtMs: toNumber(r.last_failed_at_ms),
    state: r.state,
    deadLetteredAtMs: toNumber(r.created_at_ms),
    resolvedAtMs: r.resolved_at_ms === null ? null : toNumber(r.resolved_at_ms),
    resolvedBy: r.resolved_by,
  };
}

function eventOf(letter: BusDeadLetter): OutboxEvent {
  return { id: letter.eventId, topic: letter.topic, key: letter.key, version: letter.version, payload: letter.payload, createdAtMs: letter.eventCreatedAtMs };
}

/** The claim on a pending dead letter was lost to another admin between the read and the update. */
class NoLongerPending extends Error {}

export class BusDeadLetters {
  private readonly db: Executor;
  private readonly handlers = new Map<string, EventHandler>();
  private readonly counts = new Map<string, number>();
  private counter: Counter<'consumer'> | undefined;
  private pruner: NodeJS.Timeout | undefined;

  constructor(
    database: Database,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly options: BusDeadLettersOptions,
  ) {
    assert(Number.isInteger(options.maxAttempts) && options.maxAttempts >= 1, 'maxAttempts must be a whole number from 1');
    this.db = database.kysely as unknown as Executor;
  }

  get maxAttempts(): number {
    return this.options.maxAttempts;
  }

  /** The bus tells which handler a consumer has, for redrives. */
  register(consumer: string, handler: EventHandler): void {
    this.handlers.set(consumer, handler);
  }

  /** Whether a redrive of `consumer`'s dead letters can run here. */
  runsHere(consumer: string): boolean {
    return this.handlers.has(consumer);
  }

  /**
   * Counts one failure of `consumer` on `event`, in `tx` (the transaction that moves the
   * consumer on, or one of its own). A failure on another event than the one recorded starts
   * the count again: a consumer fails on one event at a time.
   */
  async recordFailure(tx: Kysely<any>, consumer: string, event: OutboxEvent, error: unknown): Promise<FailureCount> {
    const nowMs = this.clock.nowMs();
    const lastError = errorText(error);
    const same = sql<boolean>`platform_bus_failures.event_id = excluded.event_id`;
    const row = await (tx as Executor)
      .insertInto('platform_bus_failures')
      .values({ consumer, event_id: event.id, attempts: 1, first_failed_at_ms: nowMs, last_failed_at_ms: nowMs, last_error: lastError })
      .onConflict((oc) =>
        oc.column('consumer').doUpdateSet({
          attempts: sql`case when ${same} then platform_bus_failures.attempts + 1 else 1 end`,
          first_failed_at_ms: sql`case when ${same} then platform_bus_failures.first_failed_at_ms else excluded.first_failed_at_ms end`,
          event_id: sql`excluded.event_id`,
          last_failed_at_ms: sql`excluded.last_failed_at_ms`,
          last_error: sql`excluded.last_error`,
        }),
      )
      .returning(['attempts', 'first_failed_at_ms'])
      .executeTakeFirstOrThrow();
    return { attempts: toNumber(row.attempts), firstFailedAtMs: toNumber(row.first_failed_at_ms), lastFailedAtMs: nowMs, lastError };
  }

  /**
   * Writes the dead letter in `tx`, the transaction that moves the consumer past the event, and
   * clears its failure count. False when it was written before (a redelivery after a crash).
   * Call `announce` once `tx` has committed.
   */
  async deadLetter(tx: Kysely<any>, consumer: string, event: OutboxEvent, failure: FailureCount): Promise<boolean> {
    const inserted = await (tx as Executor)
      .insertInto('platform_bus_dead_letters')
      .values({
        id: uuidv7(this.clock.nowMs()),
        consumer,
        event_id: event.id,
        topic: event.topic,
        key: event.key,
        version: event.version,
        payload: JSON.stringify(event.payload ?? null),
        event_created_at_ms: event.createdAtMs,
        attempts: failure.attempts,
        last_error: failure.lastError,
        first_failed_at_ms: failure.firstFailedAtMs,
        last_failed_at_ms: failure.lastFailedAtMs,
        state: 'pending',
        created_at_ms: this.clock.nowMs(),
        resolved_at_ms: null,
        resolved_by: null,
      })
      .onConflict((oc) => oc.columns(['consumer', 'event_id']).doNothing())
      .returning('id')
      .executeTakeFirst();
    await (tx as Executor).deleteFrom('platform_bus_failures').where('consumer', '=', consumer).where('event_id', '=', event.id).execute();
    return inserted !== undefined;
  }

  /** After the commit that wrote a dead letter: an error in the log (someone should look) and the counter. */
  announce(consumer: string, event: OutboxEvent, failure: FailureCount, error: unknown): void {
    this.counts.set(consumer, (this.counts.get(consumer) ?? 0) + 1);
    this.counter?.inc({ consumer });
    this.logger.error(
      { err: error, consumer, eventId: event.id, topic: event.topic, attempts: failure.attempts },
      'event dead-lettered: the consumer gave up on it after its last attempt and went on (GET /api/admin/bus/dead-letters)',
    );
  }

  /** Dead letters made by this process since it started, by consumer (what the counter shows). */
  deadLetteredSinceStart(): ReadonlyMap<string, number> {
    return this.counts;
  }

  /** `gavel_bus_dead_letters_total{consumer}` in the node's registry. */
  registerMetrics(registry: Registry): void {
    this.counter = new Counter({ name: 'gavel_bus_dead_letters_total', help: 'Events a bus consumer gave up on after its last attempt, by this process', labelNames: ['consumer'] as const, registers: [registry] });
    for (const [consumer, n] of this.counts) this.counter.inc({ consumer }, n);
  }

  /** Newest first; `total` counts every dead letter the filters match. */
  async list(caller: Principal | null, query: DeadLetterQuery): Promise<{ items: BusDeadLetter[]; more: boolean; total: number }> {
    requireAdmin(caller);
    let rows = this.db.selectFrom('platform_bus_dead_letters').selectAll();
    let count = this.db.selectFrom('platform_bus_dead_letters').select((eb) => eb.fn.countAll().as('n'));
    if (query.state !== undefined) {
      rows = rows.where('state', '=', query.state);
      count = count.where('state', '=', query.state);
    }
    if (query.consumer !== undefined) {
      rows = rows.where('consumer', '=', query.consumer);
      count = count.where('consumer', '=', query.consumer);
    }
    if (query.after !== undefined) rows = rows.where('id', '<', query.after);
    const found = await rows.orderBy('id', 'desc').limit(query.limit + 1).execute();
    const total = toNumber((await count.executeTakeFirstOrThrow()).n as bigint | number);
    return { items: found.slice(0, query.limit).map(letterOf), more: found.length > query.limit, total };
  }

  /**
   * Runs the consumer's handler on the event once, now, in one transaction with marking the dead
   * letter redriven. When the handler throws, nothing it did stays, the dead letter stays pending
   * with one more attempt, and the caller gets DEAD_LETTER_REDRIVE_FAILED with the error.
   */
  async redrive(caller: Principal | null, id: string): Promise<BusDeadLetter> {
    const admin = requireAdmin(caller);
    const letter = await this.find(id);
    const handler = this.handlers.get(letter.consumer);
    if (letter.state !== 'pending') throw notPending(letter);
    if (!handler) throw new AppError('DEAD_LETTER_NOT_REDRIVABLE', `consumer ${letter.consumer} is not a consumer on this node (renamed or removed?); the dead letter stays pending`);
    const event = eventOf(letter);
    const afterCommit: Array<() => void> = [];
    try {
      await this.db.transaction().execute(async (tx) => {
        // Claimed first: of two redrives at once, the second waits for this row and then finds it redriven.
        const claimed = await tx
          .updateTable('platform_bus_dead_letters')
          .set({ state: 'redriven', resolved_at_ms: this.clock.nowMs(), resolved_by: admin.userId })
          .where('id', '=', id)
          .where('state', '=', 'pending')
          .returning('id')
          .executeTakeFirst();
        if (!claimed) throw new NoLongerPending();
        await this.options.onRedrive?.(tx, letter.consumer, event);
        await handler(event, { tx, afterCommit: (action) => afterCommit.push(action) });
      });
    } catch (error) {
      if (error instanceof NoLongerPending) throw notPending(await this.find(id));
      return this.redriveFailed(letter, error);
    }
    for (const action of afterCommit) {
      try {
        action();
      } catch (actionError) {
        this.logger.error({ err: actionError, consumer: letter.consumer }, 'an after-commit action of a redriven event failed');
      }
    }
    this.logger.warn({ audit: 'bus_dead_letter_redriven', adminId: admin.userId, id, consumer: letter.consumer, eventId: letter.eventId, topic: letter.topic }, 'bus dead letter redriven by an admin');
    return this.find(id);
  }

  private async redriveFailed(letter: BusDeadLetter, error: unknown): Promise<never> {
    const lastError = errorText(error);
    await this.db
      .updateTable('platform_bus_dead_letters')
      .set((eb) => ({ attempts: eb('attempts', '+', 1), last_error: lastError, last_failed_at_ms: this.clock.nowMs() }))
      .where('id', '=', letter.id)
      .where('state', '=', 'pending')
      .execute();
    this.logger.warn({ err: error, id: letter.id, consumer: letter.consumer, eventId: letter.eventId, topic: letter.topic }, 'a redriven bus dead letter failed again; it stays pending');
    throw new AppError('DEAD_LETTER_REDRIVE_FAILED', `consumer ${letter.consumer} failed on event ${letter.eventId} again; the dead letter stays pending: ${lastError}`);
  }

  /** Marks a pending dead letter discarded for good; the log keeps who did it and what it was. */
  async discard(caller: Principal | null, id: string): Promise<BusDeadLetter> {
    const admin = requireAdmin(caller);
    const row = await this.db
      .updateTable('platform_bus_dead_letters')
      .set({ state: 'discarded', resolved_at_ms: this.clock.nowMs(), resolved_by: admin.userId })
      .where('id', '=', id)
      .where('state', '=', 'pending')
      .returningAll()
      .executeTakeFirst();
    if (!row) throw notPending(await this.find(id));
    const letter = letterOf(row);
    this.logger.warn(
      { audit: 'bus_dead_letter_discarded', adminId: admin.userId, id, consumer: letter.consumer, eventId: letter.eventId, topic: letter.topic, key: letter.key, payload: letter.payload, lastError: letter.lastError },
      'bus dead letter discarded by an admin',
    );
    return letter;
  }

  /** Deletes dead letters redriven or discarded longer than the retention ago. */
  async prune(): Promise<number> {
    const result = await this.db
      .deleteFrom('platform_bus_dead_letters')
      .where('state', '!=', 'pending')
      .where('resolved_at_ms', '<', this.clock.nowMs() - DEAD_LETTER_RESOLVED_RETENTION_MS)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /** Prunes now and then while the bus delivers. */
  start(): void {
    if (this.pruner) return;
    const prune = () => void this.prune().catch((error: unknown) => this.logger.error({ err: error }, 'pruning bus dead letters failed'));
    prune();
    this.pruner = setInterval(prune, PRUNE_INTERVAL_MS);
    this.pruner.unref();
  }

  stop(): void {
    clearInterval(this.pruner);
    this.pruner = undefined;
  }

  private async find(id: string): Promise<BusDeadLetter> {
    const row = await this.db.selectFrom('platform_bus_dead_letters').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw fieldError('NOT_FOUND', 'params', 'id', 'no such dead letter');
    return letterOf(row);
  }
}

function notPending(letter: BusDeadLetter): AppError {
  return new AppError('DEAD_LETTER_NOT_PENDING', `the dead letter was ${letter.state} already${letter.resolvedAtMs === null ? '' : ` at ${new Date(letter.resolvedAtMs).toISOString()}`}`);
}
