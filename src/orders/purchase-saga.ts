// The purchase saga's orchestrator: starts purchases, reads the participants' replies off the
// bus, watches deadlines, and resumes what a stopped node left open. The rules are
// purchase-model.ts; this file runs them. Every change of a purchase commits with the command
// it sends (and, at the end, the `purchases.purchase.completed|compensated` event) through the
// outbox: no change without its message, no message without its change.
//
// A reply is applied inside the outbox delivery's transaction, with the purchase row locked,
// so a reply seen twice acts once (the second finds the step moved on and is ignored).
import assert from 'node:assert/strict';
import type { Kysely } from 'kysely';
import { isAdmin, requirePrincipal, type Principal } from '../platform/auth/principal.js';
import type { Clock } from '../platform/clock.js';
import { AppError, fieldError } from '../platform/errors.js';
import { isUuid, uuidv7 } from '../platform/ids.js';
import type { Logger } from '../platform/logging.js';
import { AvroDecodeError, type SchemaRegistry } from '../platform/bus/avro.js';
import type { EventPublisher } from '../platform/outbox/bus.js';
import { OUTBOX_RETENTION_MS } from '../platform/outbox/outbox.js';
import type { EventHandler } from '../platform/outbox/relay.js';
import { decodeCursor, pageOf, type Page } from '../platform/pagination.js';
import { applyDeadline, applyReply, commandOf, ITEMS_MAX, outcomeEventOf, QUANTITY_MAX, startPurchase, type Purchase, type PurchaseItem, type SagaCommand, type SagaReply, type Transition } from './purchase-model.js';
import { decodeMessage, messageEvent } from './purchase-schemas.js';
import type { PurchaseStore } from './purchase-store.js';

/** The orchestrator's durable consumer of replies. */
export const PURCHASE_SAGA_CONSUMER = 'orders.purchase-saga';

/** Overdue purchases handled per sweep; the next tick takes the rest. */
const SWEEP_BATCH = 100;

/**
 * How long the participants' inbox keeps an answered command once its purchase has ended: it
 * dedupes a command delivered again, so it must outlive every redelivery — the outbox keeps
 * events 7 days (OUTBOX_RETENTION_MS), JetStream as long, and a node may have been down a while
 * before it catches up. 30 days is over four times that.
 */
export const INBOX_RETENTION_MS = 30 * 24 * 60 * 60_000;
assert(INBOX_RETENTION_MS >= 4 * OUTBOX_RETENTION_MS, 'the purchase inbox outlives every redelivery');
/** How often a worker node prunes the inbox, by the Clock; a run that found more goes on at the next tick. */
export const INBOX_PRUNE_INTERVAL_MS = 10 * 60_000;
/** Rows per delete statement, and statements per run, so a backlog never holds the writer long. */
const INBOX_PRUNE_BATCH = 500;
const INBOX_PRUNE_BATCHES_PER_RUN = 20;

export interface SagaDeps {
  store: PurchaseStore;
  registry: SchemaRegistry;
  events: EventPublisher;
  clock: Clock;
  logger: Logger;
  stepTimeoutMs: number;
  scaleOf(currency: string): number | undefined;
  /** The currency, or a 400 UNKNOWN_CURRENCY naming the field. */
  requireCurrency(code: string): Promise<unknown>;
}

export class PurchaseSaga {
  private readonly waiters = new Map<string, Set<() => void>>();
  private sweeping: Promise<void> | undefined;
  private stopped = false;
  /** When the inbox was last pruned to the end, by the Clock. */
  private inboxPrunedAtMs = -Infinity;

  constructor(private readonly d: SagaDeps) {}

  // --- starting --------------------------------------------------------------------------------

  /**
   * Starts a purchase for `buyerId`, or finds the one their `idempotencyKey` started before
   * (a retry after a crash); the same key with other items or currency is refused.
   */
  async begin(caller: Principal | null, request: { currency: string; items: PurchaseItem[] }, idempotencyKey: string): Promise<Purchase> {
    const buyerId = requirePrincipal(caller).userId;
    const input = { currency: request.currency, items: request.items.map((i) => ({ productId: String(i.productId).toLowerCase(), quantity: i.quantity })) };
    checkItems(input.items);
    await this.d.requireCurrency(input.currency);
    const earlier = await this.d.store.findByKey(buyerId, idempotencyKey);
    if (earlier) return sameRequest(earlier, input);
    const nowMs = this.d.clock.nowMs();
    const start = startPurchase({ id: uuidv7(nowMs), buyerId, currency: input.currency, items: input.items }, this.timing(nowMs));
    const inserted = await this.d.store.db.transaction().execute(async (tx) => {
      if (!(await this.d.store.insert(tx, start.purchase, idempotencyKey))) return false;
      await this.commit(tx, start);
      return true;
    });
    if (!inserted) return sameRequest((await this.d.store.findByKey(buyerId, idempotencyKey))!, input);
    this.d.events.poke();
    this.d.logger.info({ purchaseId: start.purchase.id, buyerId, items: input.items.length }, 'purchase started');
    return start.purchase;
  }

  // --- reading -------------------------------------------------------------------------------

  /** One purchase, for its buyer or an admin (anyone else: 404). */
  async get(caller: Principal | null, rawId: string): Promise<Purchase> {
    const me = requirePrincipal(caller);
    const purchase = await this.d.store.find(rawId.toLowerCase());
    if (!purchase || (purchase.buyerId !== me.userId && !isAdmin(me))) throw fieldError('NOT_FOUND', 'params', 'id', 'no such purchase of yours');
    return purchase;
  }

  /** The caller's purchases, newest first. */
  async list(caller: Principal | null, query: { limit: number; cursor?: string | undefined }): Promise<Page<Purchase>> {
    const me = requirePrincipal(caller);
    const beforeId = query.cursor === undefined ? undefined : decodeCursor(query.cursor, isUuid);
    const rows = await this.d.store.listByBuyer(me.userId, beforeId?.toLowerCase(), query.limit + 1);
    return pageOf(rows, query.limit, (p) => p.id);
  }

  /** Resolves once the purchase has ended here, or after `timeoutMs`, whichever comes first. */
  waitForEnd(purchaseId: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const set = this.waiters.get(purchaseId) ?? new Set();
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0) this.waiters.delete(purchaseId);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      set.add(done);
      this.waiters.set(purchaseId, set);
    });
  }

  // --- replies ------------------------------------------------------------------------------

  /** The outbox handler of every participant's replies. */
  readonly handleReply: EventHandler = async (event, delivery) => {
    let reply: SagaReply;
    try {
      reply = decodeMessage<SagaReply>(this.d.registry, event);
    } catch (error) {
      if (!(error instanceof AvroDecodeError)) throw error;
      await this.deadLetter(delivery.tx, event, error.message);
      return;
    }
    const purchase = await this.d.store.lock(delivery.tx, reply.purchaseId);
    if (!purchase) {
      await this.deadLetter(delivery.tx, event, `no purchase ${reply.purchaseId}`);
      return;
    }
    const outcome = applyReply(purchase, reply, this.timing(this.d.clock.nowMs()));
    if (!outcome.applied) {
      this.d.logger.debug({ purchaseId: purchase.id, reply: reply.name, why: outcome.why }, 'purchase reply ignored');
      return;
    }
    await this.commit(delivery.tx, outcome);
    delivery.afterCommit(() => this.afterCommit(outcome));
  };

  // --- deadlines and resuming ------------------------------------------------------------------

  /**
   * Times out overdue steps and sends overdue undos again; now and then prunes the
   * participants' inbox. One sweep at a time per node (the worker role's timer calls it).
   */
  sweep(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.sweeping ??= this.sweepOnce().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  /** No sweep starts after this; the one in flight finishes. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.sweeping;
  }

  private async sweepOnce(): Promise<void> {
    const ids = await this.d.store.overdue(this.d.clock.nowMs(), SWEEP_BATCH);
    for (const id of ids) {
      const outcome = await this.d.store.db.transaction().execute(async (tx) => {
        const purchase = await this.d.store.lock(tx, id);
        if (!purchase) return undefined;
        const next = applyDeadline(purchase, this.timing(this.d.clock.nowMs()));
        if (!next.applied) return undefined;
        await this.commit(tx, next);
        return next;
      });
      if (!outcome) continue;
      this.afterCommit(outcome);
      const step = outcome.send?.name ?? outcome.finished;
      this.d.logger.warn({ purchaseId: id, status: outcome.purchase.status, next: step }, 'purchase step overdue');
    }
    await this.pruneInboxNowAndThen();
  }

  /**
   * Every INBOX_PRUNE_INTERVAL_MS: deletes answered inbox rows of purchases that ended, older
   * than INBOX_RETENTION_MS, in bounded batches. Returns how many it deleted.
   */
  async pruneInboxNowAndThen(): Promise<number> {
    const nowMs = this.d.clock.nowMs();
    if (nowMs - this.inboxPrunedAtMs < INBOX_PRUNE_INTERVAL_MS) return 0;
    let deleted = 0;
    try {
      for (let batch = 0; batch < INBOX_PRUNE_BATCHES_PER_RUN && !this.stopped; batch++) {
        const n = await this.d.store.pruneInbox(nowMs - INBOX_RETENTION_MS, INBOX_PRUNE_BATCH);
        deleted += n;
        if (n < INBOX_PRUNE_BATCH) {
          this.inboxPrunedAtMs = nowMs;
          break;
        }
      }
    } catch (error) {
      // Tried again at the next interval; nothing depends on it but the table's size.
      this.inboxPrunedAtMs = nowMs;
      this.d.logger.error({ err: error }, 'pruning the purchase inbox failed');
    }
    if (deleted > 0) this.d.logger.info({ deleted }, 'pruned answered purchase commands from the inbox');
    return deleted;
  }

  /**
   * At start: every purchase left open sends its current command again, with a fresh deadline
   * (the time the node was down is not the step's). Participants are idempotent by purchase
   * and command, so what was already done is answered again, not done again.
   */
  async resume(): Promise<number> {
    let count = 0;
    let after = '';
    for (;;) {
      const ids = await this.d.store.unfinished(after, SWEEP_BATCH);
      if (ids.length === 0) break;
      for (const id of ids) {
        const resent = await this.d.store.db.transaction().execute(async (tx) => {
          const purchase = await this.d.store.lock(tx, id);
          const command = purchase && commandOf(purchase);
          if (!purchase || !command) return false;
          const nowMs = this.d.clock.nowMs();
          await this.d.store.update(tx, { ...purchase, deadlineAtMs: nowMs + this.d.stepTimeoutMs, updatedAtMs: nowMs });
          await this.send(tx, command);
          return true;
        });
        if (resent) count += 1;
      }
      after = ids.at(-1)!;
    }
    if (count > 0) {
      this.d.events.poke();
      this.d.logger.info({ purchases: count }, 'purchases resumed: current commands sent again');
    }
    return count;
  }

  // --- shared -------------------------------------------------------------------------------

  /** Writes the purchase and what it sends, in `tx`. */
  private async commit(tx: Kysely<any>, t: Transition): Promise<void> {
    await this.d.store.update(tx, t.purchase);
    if (t.send) await this.send(tx, t.send);
    if (t.finished) await this.d.events.append(tx, outcomeEventOf(t.purchase, this.d.scaleOf(t.purchase.currency) ?? 0));
  }

  private async send(tx: Kysely<any>, command: SagaCommand): Promise<void> {
    await this.d.events.append(tx, messageEvent(this.d.registry, command));
  }

  private afterCommit(t: Transition): void {
    this.d.events.poke();
    if (!t.finished) return;
    this.d.logger.info({ purchaseId: t.purchase.id, outcome: t.finished, reason: t.purchase.failure?.code }, `purchase ${t.finished}`);
    for (const wake of [...(this.waiters.get(t.purchase.id) ?? [])]) wake();
  }

  private async deadLetter(tx: Kysely<any>, event: { id: string; topic: string; payload: unknown }, reason: string): Promise<void> {
    await this.d.store.deadLetter(tx, { consumer: PURCHASE_SAGA_CONSUMER, eventId: event.id, topic: event.topic, payload: event.payload, reason, createdAtMs: this.d.clock.nowMs() });
    this.d.logger.error({ consumer: PURCHASE_SAGA_CONSUMER, eventId: event.id, topic: event.topic, reason }, 'purchase reply could not be used; dead-lettered');
  }

  private timing(nowMs: number) {
    return { nowMs, stepTimeoutMs: this.d.stepTimeoutMs };
  }
}

/** The route's schema checks each item; a service caller is checked too, and a product named twice is refused. */
function checkItems(items: readonly PurchaseItem[]): void {
  if (items.length === 0 || items.length > ITEMS_MAX) throw fieldError('VALIDATION', 'body', 'items', `must list 1 to ${ITEMS_MAX} products`);
  const seen = new Set<string>();
  for (const [i, item] of items.entries()) {
    if (!isUuid(item.productId)) throw fieldError('VALIDATION', 'body', `items.${i}.productId`, 'must be a UUID');
    if (!Number.isInteger(item.quantity) || item.quantity < 1 || item.quantity > QUANTITY_MAX) throw fieldError('VALIDATION', 'body', `items.${i}.quantity`, `must be a whole number from 1 to ${QUANTITY_MAX}`);
    if (seen.has(item.productId)) throw fieldError('VALIDATION', 'body', `items.${i}.productId`, 'names a product listed already: give each product once, with its quantity');
    seen.add(item.productId);
  }
}

/** The purchase a repeated idempotency key found, if the request is the same one. */
function sameRequest(earlier: Purchase, input: { currency: string; items: PurchaseItem[] }): Purchase {
  const same = earlier.currency === input.currency && JSON.stringify(earlier.items) === JSON.stringify(input.items.map(({ productId, quantity }) => ({ productId, quantity })));
  if (!same) throw new AppError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key started a purchase of other items');
  return earlier;
}
