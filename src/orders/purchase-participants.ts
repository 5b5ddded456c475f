// The purchase saga's participants: inventory (the catalog's stock), payments (holds on the
// buyer's wallet) and orders (the pivot: money to the sellers, orders born paid). Each is a
// durable outbox consumer of its commands and answers with events, Avro-encoded like the
// commands.
//
// A command is not worked inside the delivery transaction: the catalog and wallet opening run
// transactions of their own, and on SQLite the delivery holds the one writer. So delivery only
// records the command in the inbox (orders_purchase_inbox, one row per purchase and command,
// a repeat lands on the same row) and the worker loop works it off afterwards: the effect,
// idempotent by its reference, then the reply in the commit that marks the row done. A crash
// in between works the row again; the reference makes the effect happen once.
//
// Compensations fence what they undo: ReleaseFunds marks a ChargeWallet not yet worked as
// fenced (so a late one holds nothing), AbortCreateOrder does the same to CreateOrder, and the
// catalog refuses a reservation whose ref was released first. Of CreateOrder and its abort,
// exactly one wins: the abort answers CreateOrderAborted only when no order was made;
// otherwise it stays silent and OrdersCreated rolls the purchase forward.
import { writeSync } from 'node:fs';
import type { Kysely } from 'kysely';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logging.js';
import { uuidv7 } from '../platform/ids.js';
import { formatAmount } from '../platform/money.js';
import { AvroDecodeError, type SchemaRegistry } from '../platform/bus/avro.js';
import type { EventPublisher } from '../platform/outbox/bus.js';
import type { EventHandler } from '../platform/outbox/relay.js';
import { LedgerError, type LedgerOp, type LedgerService } from '../ledger/service.js';
import type { LedgerExecutor } from '../ledger/store.js';
import { creationEventsOf, type Order } from './model.js';
import type { OrdersStore } from './store.js';
import {
  captureRefOf,
  chargesOf,
  checkInventory,
  ledgerOwnerOf,
  orderSourceRefOf,
  orderTitleOf,
  releaseRefOf,
  type InventoryRefusalCode,
  type PricedLine,
  type ProductFacts,
  type SagaCommand,
  type SagaCommandName,
  type SagaReply,
} from './purchase-model.js';
import { decodeMessage, messageEvent, topicOf } from './purchase-schemas.js';
import type { InboxRow, InboxStatus, PurchaseStore } from './purchase-store.js';

/** What the saga needs of the catalog (CatalogService implements it). */
export interface CatalogPort {
  /** All or nothing, idempotent by reservationRef; a ref released before it was reserved refuses. */
  reserveProducts(input: { reservationRef: string; buyerId: string; currency: string; items: Array<{ productId: string; quantity: number }> }): Promise<
    | { ok: true; lines: Array<{ productId: string; sellerId: string; title: string; currency: string; unitPriceMinor: bigint; quantity: number }> }
    | { ok: false; code: InventoryRefusalCode; productId: string; detail: string }
  >;
  /** Idempotent: the reserved units go back on sale. */
  releaseReservation(reservationRef: string): Promise<{ released: boolean }>;
  /** Idempotent: the reserved units leave the stock (sold). */
  dispatchReservation(reservationRef: string): Promise<{ dispatched: boolean }>;
  productsByIds(ids: string[]): Promise<ProductFacts[]>;
}

export type Participant = 'inventory' | 'payments' | 'orders';

export const PARTICIPANT_OF: Readonly<Record<SagaCommandName, Participant>> = {
  ValidateInventory: 'inventory',
  ReserveProducts: 'inventory',
  ReleaseStock: 'inventory',
  ChargeWallet: 'payments',
  ReleaseFunds: 'payments',
  CreateOrder: 'orders',
  AbortCreateOrder: 'orders',
};

/** The durable consumers (their checkpoints in platform_outbox_consumers). */
export const PARTICIPANT_CONSUMERS: Readonly<Record<Participant, string>> = {
  inventory: 'orders.purchase-inventory',
  payments: 'orders.purchase-payments',
  orders: 'orders.purchase-orders',
};

/** The forward command each compensation fences. */
const FENCES: Partial<Record<SagaCommandName, SagaCommandName>> = { ReleaseStock: 'ReserveProducts', ReleaseFunds: 'ChargeWallet', AbortCreateOrder: 'CreateOrder' };

export const inboxIdOf = (purchaseId: string, command: SagaCommandName) => `${purchaseId}:${command}`;

/** Test-only fault injection (GAVEL_FAULT): crash right after a step's effect commits, or never work a command. */
export interface PurchaseFaults {
  crashAfter: ReadonlySet<string>;
  stall: ReadonlySet<string>;
}
export const NO_FAULTS: PurchaseFaults = { crashAfter: new Set(), stall: new Set() };

/** `purchase.crash-after:ChargeWallet,purchase.stall:CreateOrder` → the faults it names; other entries are not ours. */
export function parseFaults(text: string | undefined): PurchaseFaults {
  const crashAfter = new Set<string>();
  const stall = new Set<string>();
  for (const entry of (text ?? '').split(',').map((s) => s.trim())) {
    const match = /^purchase\.(crash-after|stall):([A-Za-z]+)$/.exec(entry);
    if (match) (match[1] === 'stall' ? stall : crashAfter).add(match[2]!);
  }
  return { crashAfter, stall };
}

export interface ParticipantsDeps {
  store: PurchaseStore;
  orders: OrdersStore;
  ledger: LedgerService;
  catalog: CatalogPort;
  registry: SchemaRegistry;
  events: EventPublisher;
  clock: Clock;
  logger: Logger;
  faults: PurchaseFaults;
  scaleOf(currency: string): number | undefined;
}

/** Rows worked per pass, and passes per drain before the loop yields to its next tick. */
const BATCH = 50;
const PASSES_MAX = 20;
const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 30_000;

export class PurchaseParticipants {
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(private readonly d: ParticipantsDeps) {}

  // --- delivery: commands into the inbox ---------------------------------------------------

  /** The outbox handler of one participant's commands. */
  handlerFor(participant: Participant): EventHandler {
    const consumer = PARTICIPANT_CONSUMERS[participant];
    return async (event, delivery) => {
      let command: SagaCommand;
      try {
        command = decodeMessage<SagaCommand>(this.d.registry, event);
      } catch (error) {
        if (!(error instanceof AvroDecodeError)) throw error;
        await this.d.store.deadLetter(delivery.tx, { consumer, eventId: event.id, topic: event.topic, payload: event.payload, reason: error.message, createdAtMs: this.d.clock.nowMs() });
        this.d.logger.error({ consumer, eventId: event.id, topic: event.topic, reason: error.message }, 'purchase command could not be read; dead-lettered');
        return;
      }
      const nowMs = this.d.clock.nowMs();
      const id = inboxIdOf(command.purchaseId, command.name);
      const fresh = await this.d.store.receive(delivery.tx, { id, participant, purchaseId: command.purchaseId, command: command.name, message: event.payload, arrival: uuidv7(nowMs), nowMs });
      if (!fresh) {
        // Sent again (the orchestrator resumed or retried): answer again if it was answered.
        const row = await this.d.store.findInbox(id, delivery.tx);
        if (row?.status === 'done' && row.reply) await this.d.events.append(delivery.tx, { topic: row.reply.topic, key: command.purchaseId, version: row.reply.version, payload: row.reply.payload as never });
        delivery.afterCommit(() => this.d.events.poke());
      }
      delivery.afterCommit(() => this.kick());
    };
  }

  // --- the worker loop -----------------------------------------------------------------------

  /** Works off due commands soon; repeated calls while it runs make one more pass. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .catch((error: unknown) => this.d.logger.error({ err: error }, 'purchase participants failed to read their inbox'))
      .finally(() => {
        this.running = undefined;
        if (this.again && !this.stopped) {
          this.again = false;
          this.kick();
        }
      });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private async drain(): Promise<void> {
    for (let pass = 0; pass < PASSES_MAX && !this.stopped; pass++) {
      const due = await this.d.store.due(this.d.clock.nowMs(), BATCH);
      const workable = due.filter((row) => !this.d.faults.stall.has(row.command));
      for (const row of workable) {
        if (this.stopped) return;
        await this.workSafely(row);
      }
      if (due.length < BATCH || workable.length === 0) return;
    }
  }

  private async workSafely(row: InboxRow): Promise<void> {
    try {
      await this.work(row);
    } catch (error) {
      const attempts = row.attempts + 1;
      const delayMs = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** Math.min(attempts - 1, 20));
      const nowMs = this.d.clock.nowMs();
      await this.d.store.retryLater(row.id, attempts, nowMs + delayMs, String((error as Error)?.message ?? error), nowMs).catch(() => {});
      const level = attempts >= 5 ? 'error' : 'warn';
      this.d.logger[level]({ err: error, purchaseId: row.purchaseId, command: row.command, attempt: attempts, retryInMs: delayMs }, 'purchase command failed; retrying');
    }
  }

  private async work(row: InboxRow): Promise<void> {
    let command: SagaCommand;
    try {
      command = decodeMessage<SagaCommand>(this.d.registry, { topic: topicOf(row.command as SagaCommandName), payload: row.message });
    } catch (error) {
      // It was read on arrival, so only a schema dropped since could do this: leave it for a person.
      this.d.logger.error({ err: error, inboxId: row.id }, 'purchase command in the inbox can no longer be read');
      throw error;
    }
    switch (command.name) {
      case 'ValidateInventory':
        return this.validateInventory(row, command);
      case 'ReserveProducts':
        return this.reserveProducts(row, command);
      case 'ReleaseStock':
        return this.releaseStock(row, command);
      case 'ChargeWallet':
        return this.chargeWallet(row, command);
      case 'ReleaseFunds':
        return this.releaseFunds(row, command);
      case 'CreateOrder':
        return this.createOrder(row, command);
      case 'AbortCreateOrder':
        return this.abortCreateOrder(row, command);
    }
  }

  // --- inventory ---------------------------------------------------------------------------

  private async validateInventory(row: InboxRow, c: Extract<SagaCommand, { name: 'ValidateInventory' }>): Promise<void> {
    const products = await this.d.catalog.productsByIds(c.items.map((i) => i.productId));
    const check = checkInventory(c, new Map(products.map((p) => [p.id, p])));
    const reply: SagaReply = check.ok ? { name: 'InventoryValidated', purchaseId: c.purchaseId } : { name: 'InventoryRejected', purchaseId: c.purchaseId, ...stripOk(check) };
    await this.transaction((tx) => this.answer(tx, row, 'pending', reply));
    this.crashPoint('ValidateInventory');
  }

  private async reserveProducts(row: InboxRow, c: Extract<SagaCommand, { name: 'ReserveProducts' }>): Promise<void> {
    const result = await this.d.catalog.reserveProducts({ reservationRef: c.reservationRef, buyerId: c.buyerId, currency: c.currency, items: c.items });
    // The stock is held, the reply not yet written: a crash here reserves again (the same ref) on restart.
    this.crashPoint('ReserveProducts');
    const reply: SagaReply = result.ok
      ? { name: 'ProductsReserved', purchaseId: c.purchaseId, lines: result.lines.map(({ productId, sellerId, title, unitPriceMinor, quantity }) => ({ productId, sellerId, title, unitPriceMinor, quantity })) }
      : { name: 'ReservationRefused', purchaseId: c.purchaseId, code: result.code, productId: result.productId, detail: result.detail };
    await this.transaction((tx) => this.answer(tx, row, 'pending', reply));
  }

  private async releaseStock(row: InboxRow, c: Extract<SagaCommand, { name: 'ReleaseStock' }>): Promise<void> {
    const { released } = await this.d.catalog.releaseReservation(c.reservationRef);
    this.crashPoint('ReleaseStock');
    await this.transaction(async (tx) => {
      await this.fence(tx, row);
      await this.answer(tx, row, 'pending', { name: 'StockReleased', purchaseId: c.purchaseId, released });
    });
  }

  // --- payments ------------------------------------------------------------------------------

  /** One hold per seller on the buyer's wallet, all or none, in the commit that answers. */
  private async chargeWallet(row: InboxRow, c: Extract<SagaCommand, { name: 'ChargeWallet' }>): Promise<void> {
    await this.transaction(async (tx) => {
      const me = await this.d.store.lockInbox(tx, row.id);
      if (me?.status !== 'pending') return; // fenced by ReleaseFunds, or answered already
      const refuse = (detail: string): SagaReply => ({ name: 'ChargeRefused', purchaseId: c.purchaseId, code: 'INSUFFICIENT_FUNDS', detail });
      const wallet = await this.d.ledger.walletOf(c.buyerId, c.currency, ledgerTx(tx));
      let reply: SagaReply;
      if (!wallet || wallet.closed) reply = refuse(`you have no open ${c.currency} wallet`);
      else {
        const holds: LedgerOp[] = c.charges.map((charge) => ({
          type: 'hold',
          ref: charge.holdRef,
          accountId: wallet.id,
          currency: c.currency,
          amountMinor: charge.amountMinor,
          owner: ledgerOwnerOf(c.purchaseId),
          memo: `purchase ${c.purchaseId}`,
        }));
        try {
          await this.d.ledger.execute(holds, ledgerTx(tx));
          reply = { name: 'FundsHeld', purchaseId: c.purchaseId, holdRefs: c.charges.map((charge) => charge.holdRef) };
        } catch (error) {
          if (!(error instanceof LedgerError) || !['INSUFFICIENT_FUNDS', 'ACCOUNT_CLOSED', 'AMOUNT_INVALID'].includes(error.failure)) throw error;
          reply = refuse(error.failure === 'INSUFFICIENT_FUNDS' ? `your ${c.currency} wallet has less available than the ${this.amount(c.charges.reduce((s, x) => s + x.amountMinor, 0n), c.currency)} to pay` : error.message);
        }
      }
      await this.answer(tx, row, 'pending', reply);
    });
    this.crashPoint('ChargeWallet');
  }

  /** Releases whatever holds ChargeWallet placed (none, if it never ran: then it is fenced). */
  private async releaseFunds(row: InboxRow, c: Extract<SagaCommand, { name: 'ReleaseFunds' }>): Promise<void> {
    await this.transaction(async (tx) => {
      const me = await this.d.store.lockInbox(tx, row.id);
      if (me?.status !== 'pending') return;
      await this.fence(tx, row);
      const batches: LedgerOp[][] = c.holdRefs.map((holdRef) => [{ type: 'release', ref: releaseRefOf(holdRef), holdRef, memo: `purchase ${c.purchaseId} compensated` }]);
      const outcomes = await this.d.ledger.executeEach(batches, ledgerTx(tx));
      let releasedMinor = 0n;
      for (const [i, outcome] of outcomes.entries()) {
        if (outcome.ok) releasedMinor += outcome.value[0]!.amountMinor;
        else if (outcome.error instanceof LedgerError && outcome.error.failure === 'HOLD_NOT_FOUND') continue; // never held
        else if (outcome.error instanceof LedgerError && outcome.error.failure === 'HOLD_NOT_PENDING') {
          // Captured: only CreateOrder captures, and the saga undoes ChargeWallet only once CreateOrder was aborted.
          this.d.logger.error({ purchaseId: c.purchaseId, holdRef: c.holdRefs[i] }, 'a purchase hold to release is no longer pending');
        } else throw outcome.error;
      }
      await this.answer(tx, row, 'pending', { name: 'FundsReleased', purchaseId: c.purchaseId, releasedMinor });
    });
    this.crashPoint('ReleaseFunds');
  }

  // --- orders: the pivot -----------------------------------------------------------------------

  /**
   * Captures each seller's hold into their wallet and creates their order, born paid, in one
   * commit (the pivot); then the reserved stock is dispatched and OrdersCreated answered.
   */
  private async createOrder(row: InboxRow, c: Extract<SagaCommand, { name: 'CreateOrder' }>): Promise<void> {
    let status: InboxStatus = row.status;
    let orderIds = (row.result as { orderIds?: string[] } | null)?.orderIds ?? [];
    if (status === 'pending') {
      const sellers = [...new Set(c.lines.map((l) => l.sellerId))];
      // Opening a wallet takes its own transaction: before the pivot's. Idempotent.
      for (const sellerId of sellers) await this.d.ledger.openWallet(sellerId, c.currency);
      const pivot = await this.transaction((tx) => this.pivot(tx, row, c));
      if (pivot === 'gone') return;
      if (pivot === 'refused') return;
      status = 'pivoted';
      orderIds = pivot.orderIds;
      this.d.events.poke();
      this.crashPoint('CreateOrder');
    }
    if (status !== 'pivoted') return;
    const { dispatched } = await this.d.catalog.dispatchReservation(c.reservationRef);
    if (!dispatched) this.d.logger.error({ purchaseId: c.purchaseId, reservationRef: c.reservationRef }, 'the reserved stock of a paid purchase could not be dispatched');
    await this.transaction((tx) => this.answer(tx, row, 'pivoted', { name: 'OrdersCreated', purchaseId: c.purchaseId, orderIds }));
  }

  private async pivot(tx: Kysely<any>, row: InboxRow, c: Extract<SagaCommand, { name: 'CreateOrder' }>): Promise<{ orderIds: string[] } | 'refused' | 'gone'> {
    const me = await this.d.store.lockInbox(tx, row.id);
    if (me?.status !== 'pending') return 'gone'; // aborted first, or worked by another node
    const ex = ledgerTx(tx);
    const charges = chargesOf({ id: c.purchaseId, lines: c.lines });
    const captures: LedgerOp[] = [];
    for (const charge of charges) {
      const wallet = await this.d.ledger.walletOf(charge.sellerId, c.currency, ex);
      if (!wallet) throw new Error(`seller ${charge.sellerId} has no ${c.currency} wallet after opening one`);
      captures.push({ type: 'capture', ref: captureRefOf(charge.holdRef), holdRef: charge.holdRef, toAccountId: wallet.id, memo: `purchase ${c.purchaseId}` });
    }
    try {
      await this.d.ledger.execute(captures, ex);
    } catch (error) {
      if (!(error instanceof LedgerError)) throw error;
      await this.answer(tx, row, 'pending', { name: 'CreateOrderRefused', purchaseId: c.purchaseId, detail: `the payment could not be taken: ${error.message}` });
      return 'refused';
    }
    const nowMs = this.d.clock.nowMs();
    const scale = this.d.scaleOf(c.currency) ?? 0;
    const orderIds: string[] = [];
    for (const charge of charges) {
      const order = purchaseOrderOf(c, charge.sellerId, charge.amountMinor, captureRefOf(charge.holdRef), uuidv7(nowMs), nowMs);
      if (await this.d.orders.insert(tx, order)) {
        for (const e of creationEventsOf(order, scale)) await this.d.events.append(tx, e);
        orderIds.push(order.id);
      } else {
        orderIds.push((await this.d.orders.findBySource('purchase', order.sourceRef, tx))!.id);
      }
    }
    await this.d.store.settle(tx, row.id, 'pending', 'pivoted', nowMs, { result: { orderIds } });
    return { orderIds };
  }

  /** Fences CreateOrder if it has not made orders; otherwise stays silent and lets OrdersCreated roll the purchase forward. */
  private async abortCreateOrder(row: InboxRow, c: Extract<SagaCommand, { name: 'AbortCreateOrder' }>): Promise<void> {
    await this.transaction(async (tx) => {
      const me = await this.d.store.lockInbox(tx, row.id);
      if (me?.status !== 'pending') return;
      const forward = await this.d.store.lockInbox(tx, inboxIdOf(c.purchaseId, 'CreateOrder'));
      const madeOrders = forward !== undefined && (forward.status === 'pivoted' || (forward.status === 'done' && ((forward.result as { orderIds?: string[] } | null)?.orderIds?.length ?? 0) > 0));
      if (madeOrders) {
        await this.d.store.settle(tx, row.id, 'pending', 'done', this.d.clock.nowMs());
        this.d.logger.info({ purchaseId: c.purchaseId }, 'abort came after the orders were made: the purchase rolls forward');
        return;
      }
      await this.fence(tx, row);
      await this.answer(tx, row, 'pending', { name: 'CreateOrderAborted', purchaseId: c.purchaseId });
    });
    this.crashPoint('AbortCreateOrder');
  }

  // --- shared ------------------------------------------------------------------------------

  /** Marks the row done with `reply` and sends the reply, in `tx`; nothing when the row was not in `from`. */
  private async answer(tx: Kysely<any>, row: InboxRow, from: InboxStatus, reply: SagaReply): Promise<void> {
    const event = messageEvent(this.d.registry, reply);
    const settled = await this.d.store.settle(tx, row.id, from, 'done', this.d.clock.nowMs(), { reply: { topic: event.topic, payload: event.payload, version: event.version ?? 1 } });
    if (settled) await this.d.events.append(tx, event);
  }

  /** The forward command a compensation undoes will do nothing if it has not run yet. */
  private async fence(tx: Kysely<any>, row: InboxRow): Promise<void> {
    const forward = FENCES[row.command as SagaCommandName];
    if (forward === undefined) return;
    const nowMs = this.d.clock.nowMs();
    await this.d.store.fence(tx, { id: inboxIdOf(row.purchaseId, forward), participant: row.participant, purchaseId: row.purchaseId, command: forward, arrival: uuidv7(nowMs), nowMs });
  }

  private async transaction<T>(work: (tx: Kysely<any>) => Promise<T>): Promise<T> {
    const result = await this.d.store.db.transaction().execute(work);
    this.d.events.poke();
    return result;
  }

  private crashPoint(step: string): void {
    if (!this.d.faults.crashAfter.has(step)) return;
    // Written straight to stdout: the logger writes asynchronously, and nothing runs after this.
    writeSync(1, `${JSON.stringify({ level: 60, time: Date.now(), pid: process.pid, step, msg: `GAVEL_FAULT: crashing after ${step}` })}\n`);
    process.kill(process.pid, 'SIGKILL');
  }

  private amount(minor: bigint, currency: string): string {
    return formatAmount(minor, this.d.scaleOf(currency) ?? 0);
  }
}

/** One seller's order of a purchase: born paid (the hold was captured to them in the same commit). */
export function purchaseOrderOf(
  c: { purchaseId: string; buyerId: string; currency: string; lines: PricedLine[] },
  sellerId: string,
  amountMinor: bigint,
  paymentRef: string,
  orderId: string,
  nowMs: number,
): Order {
  const lines = c.lines.filter((l) => l.sellerId === sellerId);
  return {
    id: orderId,
    source: 'purchase',
    sourceRef: orderSourceRefOf(c.purchaseId, sellerId),
    status: 'paid',
    buyerId: c.buyerId,
    sellerId,
    title: orderTitleOf(lines),
    currency: c.currency,
    amountMinor,
    paymentRef,
    lines: lines.map((l) => ({ kind: 'product', refId: l.productId, title: l.title, quantity: l.quantity, unitPriceMinor: l.unitPriceMinor })),
    createdAtMs: nowMs,
    updatedAtMs: nowMs,
    paidAtMs: nowMs,
    shipment: null,
    delivery: null,
    cancellation: null,
    refund: null,
  };
}

function ledgerTx(tx: Kysely<any>): LedgerExecutor {
  return tx as unknown as LedgerExecutor;
}

function stripOk<T extends { ok: false }>(value: T): Omit<T, 'ok'> {
  const { ok: _ok, ...rest } = value;
  return rest;
}
