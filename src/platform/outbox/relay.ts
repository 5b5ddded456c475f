// The in-process relay: hands outbox rows to the consumers registered in this process.
//
// Each consumer has a durable checkpoint (platform_outbox_consumers). A batch is delivered in
// one transaction: lock the checkpoint row, read the rows after it, run the handler on each
// (in its own savepoint), advance the checkpoint, commit. So a handler that writes through the
// transaction it is given has its effect exactly once, a process that was down catches up
// from its checkpoint on start, and on PostgreSQL only one node at a time delivers to a given
// consumer (the others find the row locked and skip their turn).
//
// A handler that throws stops its consumer at that event: what came before it is committed,
// the event is retried with backoff, and nothing after it is delivered until it succeeds or,
// with dead letters (bus/dead-letters.ts), until its `maxAttempts`-th failure: then the dead
// letter is written and the checkpoint moves past the event in one transaction, and the
// consumer goes on (never a silent skip). N workers keeping order per recipient come later.
import assert from 'node:assert/strict';
import type { ControlledTransaction, Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../logging.js';
import { CHECKPOINT_START, TOPIC_PATTERN, type Checkpoint, type Outbox, type OutboxEvent, type OutboxRow } from './outbox.js';
import { BUS_MAX_ATTEMPTS_DEFAULT, type BusDeadLetters, type FailureCount } from '../bus/dead-letters.js';

/** What a handler gets besides the event. */
export interface Delivery {
  /** The transaction the checkpoint advances in: write through it (never another connection). */
  tx: Kysely<any>;
  /** Runs once the delivery has committed (pushing to sockets, say); never for one rolled back. */
  afterCommit(action: () => void): void;
}

/** Handles one event. Must tolerate seeing the same event id again (at-least-once). */
export type EventHandler = (event: OutboxEvent, delivery: Delivery) => Promise<void>;

export interface RelayOptions {
  /** The safety net behind poke(): how often each consumer looks for rows nobody poked about. */
  pollIntervalMs: number;
  /** Rows per delivery transaction, at most. */
  batchSize: number;
  /**
   * How long a delivery transaction may run handlers before it commits what it has done (the
   * rest follows in the next batch). On SQLite the transaction holds the one writer: the budget
   * bounds how long everyone else waits, however slow a consumer's handler.
   */
  batchBudgetMs: number;
  /** Batches per consumer before the others get a turn. */
  batchesPerTurn: number;
  retryFirstDelayMs: number;
  retryMaxDelayMs: number;
  pruneIntervalMs: number;
  /**
   * How long a consumer may pass over other consumers' events in memory before it saves how
   * far it got (a transaction): the saved checkpoint holds pruning back, so it must move.
   */
  skippedSaveIntervalMs: number;
  /**
   * The least time between the starts of two delivery passes. Pokes in between wait for the
   * next pass, so a stream of small commits (one outbid per bid) is delivered in batches, one
   * transaction (and one fsync) per batch instead of per event.
   */
  minPassGapMs: number;
  /** Failed deliveries of one event to one consumer before it is dead-lettered (with dead letters). */
  maxAttempts: number;
}

export const RELAY_DEFAULTS: RelayOptions = {
  pollIntervalMs: 200,
  batchSize: 400,
  batchBudgetMs: 20,
  batchesPerTurn: 10,
  retryFirstDelayMs: 100,
  retryMaxDelayMs: 30_000,
  pruneIntervalMs: 10 * 60_000,
  skippedSaveIntervalMs: 5_000,
  minPassGapMs: 25,
  maxAttempts: BUS_MAX_ATTEMPTS_DEFAULT,
};

export const CONSUMER_NAME_PATTERN = /^[a-z][a-z0-9_.-]{0,99}$/;

interface Consumer {
  name: string;
  /** 'all': every event (the JetStream bus's publisher, which forwards the whole outbox). */
  topics: ReadonlySet<string> | 'all';
  handler: EventHandler;
  /** Its checkpoint row exists. */
  ready: boolean;
  /** The checkpoint as last seen here: an idle poll only asks whether anything lies beyond it. */
  known: Checkpoint;
  failures: number;
  /** performance.now() before which it is not retried. */
  retryAtMs: number;
  retryTimer: NodeJS.Timeout | undefined;
  /** Since when `known` has run ahead of the saved checkpoint over other consumers' events. */
  unsavedSinceMs: number | undefined;
}


type BatchResult = 'idle' | 'busy' | 'partial' | 'full';

/** One pass's looks at the outbox, by the checkpoint they start after. */
type PassLooks = Map<string, Promise<OutboxRow[]>>;

function wants(c: Consumer, topic: string): boolean {
  return c.topics === 'all' || c.topics.has(topic);
}

/** A handler failed on `event`; everything before it was committed. */
class HandlerFailed extends Error {
  constructor(
    readonly event: OutboxEvent,
    override readonly cause: unknown,
    /** The failures recorded on this event so far, with dead letters. */
    readonly attempts: number | undefined,
  ) {
    super(`handler failed on event ${event.id}`);
  }
}

/** Backoff: doubling from the first delay up to the cap. The seam where dead-lettering goes. */
export function retryDelayMs(failures: number, options: Pick<RelayOptions, 'retryFirstDelayMs' | 'retryMaxDelayMs'>): number {
  return Math.min(options.retryMaxDelayMs, options.retryFirstDelayMs * 2 ** Math.min(failures - 1, 30));
}

export class OutboxRelay {
  private readonly consumers = new Map<string, Consumer>();
  private readonly options: RelayOptions;
  private started = false;
  private stopped = false;
  private running: Promise<void> | undefined;
  private again = false;
  private poller: NodeJS.Timeout | undefined;
  private lastPruneMs = -Infinity;
  private lastPassMs = -Infinity;
  private waiting: NodeJS.Timeout | undefined;

  constructor(
    private readonly database: Database,
    private readonly outbox: Outbox,
    private readonly clock: Clock,
    private readonly logger: Logger,
    options: Partial<RelayOptions> = {},
    /** Without: a failing event is retried without end (the JetStream bus's publisher must never give up). */
    private readonly deadLetters?: BusDeadLetters,
  ) {
    // An option passed as undefined keeps its default.
    this.options = { ...RELAY_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
    assert(this.options.batchSize >= 1 && this.options.batchesPerTurn >= 1 && this.options.pollIntervalMs >= 1 && this.options.maxAttempts >= 1);
  }

  subscribe(consumer: string, topics: readonly string[] | 'all', handler: EventHandler): void {
    assert.match(consumer, CONSUMER_NAME_PATTERN);
    assert(!this.consumers.has(consumer), `consumer ${consumer} is subscribed already`);
    if (topics !== 'all') {
      assert(topics.length > 0, 'subscribe to at least one topic');
      for (const topic of topics) assert.match(topic, TOPIC_PATTERN);
    }
    this.consumers.set(consumer, { name: consumer, topics: topics === 'all' ? 'all' : new Set(topics), handler, ready: false, known: CHECKPOINT_START, failures: 0, retryAtMs: 0, retryTimer: undefined, unsavedSinceMs: undefined });
    this.poke();
  }

  /** Delivers soon. Producers call it after the commit that appended; polling covers a missed poke. */
  poke(): void {
    if (!this.started || this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.waiting) return;
    const waitMs = this.lastPassMs + this.options.minPassGapMs - performance.now();
    if (waitMs > 0) {
      this.waiting = setTimeout(() => {
        this.waiting = undefined;
        this.poke();
      }, waitMs);
      this.waiting.unref();
      return;
    }
    this.running = this.runPasses().finally(() => {
      this.running = undefined;
    });
  }

  start(): void {
    assert(!this.started, 'the relay starts once');
    this.started = true;
    // The first pass (catching up on what was appended while no node delivered) comes with the
    // first tick, once the node has finished starting, rather than competing with its start.
    this.poller = setInterval(() => this.poke(), this.options.pollIntervalMs);
    this.poller.unref();
  }

  /** Stops polling and waits for the batch in flight, which commits or rolls back whole. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.poller);
    clearTimeout(this.waiting);
    for (const c of this.consumers.values()) clearTimeout(c.retryTimer);
    await this.running;
  }

  private async runPasses(): Promise<void> {
    do {
      if (this.again) {
        // Pokes came during the last pass: let more gather before the next.
        const waitMs = this.lastPassMs + this.options.minPassGapMs - performance.now();
        if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
        if (this.stopped) return;
      }
      this.lastPassMs = performance.now();
      this.again = false;
      const looks: PassLooks = new Map();
      for (const consumer of this.consumers.values()) {
        if (this.stopped) return;
        if (consumer.retryAtMs <= performance.now()) await this.turn(consumer, looks);
      }
      await this.pruneNowAndThen();
    } while (this.again && !this.stopped);
  }

  private async turn(c: Consumer, looks: PassLooks): Promise<void> {
    try {
      for (let i = 0; i < this.options.batchesPerTurn; i++) {
        if (this.stopped) return;
        const result = await this.deliverBatch(c, looks);
        if (result !== 'full') break;
        if (i === this.options.batchesPerTurn - 1) this.again = true;
      }
      if (c.failures > 0) this.logger.info({ consumer: c.name, attempts: c.failures + 1 }, 'outbox consumer recovered');
      c.failures = 0;
    } catch (error) {
      this.failed(c, error);
    }
  }

  private async deliverBatch(c: Consumer, looks: PassLooks): Promise<BatchResult> {
    if (!c.ready) {
      await this.outbox.ensureConsumer(c.name);
      c.ready = true;
    }
    const mustSave = c.unsavedSinceMs !== undefined && performance.now() - c.unsavedSinceMs >= this.options.skippedSaveIntervalMs;
    // Most events are for other consumers (every outbid for the inbox, none for the orders):
    // look first, outside a transaction, and pass over rows that are not ours in memory rather
    // than commit a transaction (an fsync on SQLite) just to move a checkpoint.
    const peek = await this.lookAfter(c.known, looks);
    if (peek.length === 0 && !mustSave) return 'idle';
    if (peek.length > 0 && !peek.some((row) => wants(c, row.event.topic))) {
      c.unsavedSinceMs ??= performance.now();
      if (!mustSave) {
        c.known = peek.at(-1)!.checkpoint;
        return peek.length === this.options.batchSize ? 'full' : 'partial';
      }
    }

    const tx = await this.database.kysely.startTransaction().execute();
    let outcome: { result: BatchResult; at: Checkpoint; afterCommit: Array<() => void>; failure?: HandlerFailed };
    try {
      outcome = await this.applyBatch(c, tx);
      await tx.commit().execute();
    } catch (error) {
      await tx.rollback().execute().catch(() => {});
      throw error;
    }
    c.known = outcome.at;
    c.unsavedSinceMs = undefined;
    for (const action of outcome.afterCommit) {
      try {
        action();
      } catch (error) {
        this.logger.error({ err: error, consumer: c.name }, 'an after-commit action of an outbox consumer failed');
      }
    }
    if (outcome.failure) throw outcome.failure;
    return outcome.result;
  }

  /**
   * The rows after `known`, read once per pass for every consumer standing at the same place.
   * After a pass every consumer that was up to date stands at the last row it saw, so the next
   * pass reads (and parses) each new event once, not once per consumer. A row committed after
   * the look is left to the next pass, which its commit's poke brings.
   */
  private lookAfter(known: Checkpoint, looks: PassLooks): Promise<OutboxRow[]> {
    const key = `${known.txSeq}/${known.id}`;
    let look = looks.get(key);
    if (look === undefined) {
      look = this.outbox.readAfter(this.database.kysely, known, this.options.batchSize);
      looks.set(key, look);
    }
    return look;
  }

  private async applyBatch(c: Consumer, tx: ControlledTransaction<object>) {
    const afterCommit: Array<() => void> = [];
    const from = await this.outbox.lockCheckpoint(tx, c.name);
    if (!from) return { result: 'busy' as const, at: c.known, afterCommit };
    const rows = await this.outbox.readAfter(tx, from, this.options.batchSize);
    let at = from;
    let failure: HandlerFailed | undefined;
    let outOfTime = false;
    const deadline = performance.now() + this.options.batchBudgetMs;
    for (const { event, checkpoint } of rows) {
      if (wants(c, event.topic)) {
        // Past the budget: commit what was done; the rest is the next batch's (at least one event goes each time).
        if (at !== from && performance.now() > deadline) {
          outOfTime = true;
          break;
        }
        const sp = await tx.savepoint('event').execute();
        const pending: Array<() => void> = [];
        try {
          await c.handler(event, { tx: sp, afterCommit: (action) => pending.push(action) });
          await sp.releaseSavepoint('event').execute();
          afterCommit.push(...pending);
        } catch (error) {
          await sp.rollbackToSavepoint('event').execute();
          const counted = await this.countFailure(tx, c, event, error);
          if (counted?.deadLettered) {
            afterCommit.push(counted.announce);
          } else {
            failure = new HandlerFailed(event, error, counted?.failure.attempts);
            break;
          }
        }
      }
      at = checkpoint;
    }
    if (at !== from) await this.outbox.saveCheckpoint(tx, c.name, at);
    const result: BatchResult = (rows.length === this.options.batchSize || outOfTime) && !failure ? 'full' : 'partial';
    return { result, at, afterCommit, ...(failure && { failure }) };
  }

  /**
   * With dead letters: records the failure in `tx`, the batch's transaction, and at the last
   * attempt writes the dead letter there too, so it exists exactly when the checkpoint has
   * passed the event.
   */
  private async countFailure(tx: Kysely<any>, c: Consumer, event: OutboxEvent, error: unknown): Promise<{ failure: FailureCount; deadLettered: boolean; announce: () => void } | undefined> {
    const deadLetters = this.deadLetters;
    if (!deadLetters) return undefined;
    const failure = await deadLetters.recordFailure(tx, c.name, event, error);
    if (failure.attempts < this.options.maxAttempts) return { failure, deadLettered: false, announce: () => {} };
    const fresh = await deadLetters.deadLetter(tx, c.name, event, failure);
    return { failure, deadLettered: true, announce: () => (fresh ? deadLetters.announce(c.name, event, failure, error) : undefined) };
  }

  private failed(c: Consumer, error: unknown): void {
    c.failures += 1;
    const delayMs = retryDelayMs(c.failures, this.options);
    c.retryAtMs = performance.now() + delayMs;
    clearTimeout(c.retryTimer);
    c.retryTimer = setTimeout(() => {
      c.retryAtMs = 0;
      this.poke();
    }, delayMs);
    c.retryTimer.unref();
    const about =
      error instanceof HandlerFailed
        ? { err: error.cause, eventId: error.event.id, topic: error.event.topic, ...(error.attempts !== undefined && { eventAttempts: `${error.attempts} of ${this.options.maxAttempts}` }) }
        : { err: error };
    // Warn while it may be passing; an error once it has failed for a while (someone should look).
    const level = c.failures >= 5 ? 'error' : 'warn';
    this.logger[level]({ consumer: c.name, attempt: c.failures, retryInMs: delayMs, ...about }, 'outbox consumer failed; retrying');
  }

  private async pruneNowAndThen(): Promise<void> {
    const now = performance.now();
    if (now - this.lastPruneMs < this.options.pruneIntervalMs || this.stopped) return;
    this.lastPruneMs = now;
    try {
      const { deleted, laggards } = await this.outbox.prune(this.clock.nowMs());
      if (deleted > 0) this.logger.info({ deleted }, 'pruned delivered outbox events');
      if (laggards.length > 0) this.logger.warn({ consumers: laggards }, 'outbox consumers hold back events past the retention (one that no longer runs: delete its row in platform_outbox_consumers)');
    } catch (error) {
      this.logger.error({ err: error }, 'pruning the outbox failed');
    }
  }
}
