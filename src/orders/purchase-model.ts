// Purchases: buying fixed-price products, run as a saga. Pure: no I/O, no clock — time, ids and
// the step deadline come in as arguments. This file is the whole rule book of the orchestrator.
//
// The steps, in order, each done by a participant that answers with an event:
//
//   ValidateInventory → ReserveProducts → ChargeWallet → CreateOrder
//   (read only)         (stock held)      (money held)   (money to the sellers, orders born paid,
//                                                         reserved stock dispatched)
//
// A purchase is `running` while the steps go forward. A step that is refused (out of stock,
// insufficient funds …) or does not answer before its deadline turns it `compensating`: the
// steps that may have had an effect are undone one at a time in reverse order, each waiting
// for its participant's answer —
//
//   CreateOrder → AbortCreateOrder   ChargeWallet → ReleaseFunds   ReserveProducts → ReleaseStock
//
// — and the purchase ends `compensated`. When every step succeeds it ends `completed`. Those
// two are final: a purchase never stops half-way.
//
// - A refused step had no effect (each participant acts all or nothing), so compensation starts
//   with the step before it. A step that timed out may have acted, or may act later: it is
//   compensated too, and its participant fences it so a late attempt does nothing.
// - CreateOrder is the pivot. Its participant answers either OrdersCreated or, to an abort,
//   CreateOrderAborted — never both. Orders created after all (the abort came too late) roll
//   the purchase forward to `completed` instead of taking money back from the sellers.
// - A compensation that does not answer in time is sent again, as often as it takes: money
//   and stock are never left held. (Its participant is idempotent, so a repeat acts once.)
// - Replies that do not fit the purchase's current step (late, repeated) change nothing.
import { formatAmount, MAX_AMOUNT_MINOR } from '../platform/money.js';

export const PURCHASE_STEPS = ['ValidateInventory', 'ReserveProducts', 'ChargeWallet', 'CreateOrder'] as const;
export type PurchaseStepName = (typeof PURCHASE_STEPS)[number];

export const PURCHASE_STATUSES = ['running', 'compensating', 'completed', 'compensated'] as const;
export type PurchaseStatus = (typeof PURCHASE_STATUSES)[number];

/**
 * pending: not reached; running: its command is out; succeeded / failed (refused) / timed_out;
 * compensating: its undo is out; compensated: undone. A step without an effect to undo
 * (ValidateInventory, or one refused) keeps its status when the purchase compensates.
 */
export const STEP_STATUSES = ['pending', 'running', 'succeeded', 'failed', 'timed_out', 'compensating', 'compensated'] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

export const COMPENSATIONS = { ReserveProducts: 'ReleaseStock', ChargeWallet: 'ReleaseFunds', CreateOrder: 'AbortCreateOrder' } as const satisfies Partial<Record<PurchaseStepName, string>>;
export type CompensationName = (typeof COMPENSATIONS)[keyof typeof COMPENSATIONS];

export const ITEMS_MAX = 50;
export const QUANTITY_MAX = 10_000;

/** Why a purchase was compensated: a participant's refusal code, or STEP_TIMEOUT. */
export type FailureCode =
  | 'PRODUCT_NOT_FOUND'
  | 'PRODUCT_UNAVAILABLE'
  | 'OUT_OF_STOCK'
  | 'CURRENCY_MISMATCH'
  | 'OWN_PRODUCT'
  | 'INSUFFICIENT_FUNDS'
  | 'ORDER_FAILED'
  | 'STEP_TIMEOUT';
export const FAILURE_CODES: readonly FailureCode[] = ['PRODUCT_NOT_FOUND', 'PRODUCT_UNAVAILABLE', 'OUT_OF_STOCK', 'CURRENCY_MISMATCH', 'OWN_PRODUCT', 'INSUFFICIENT_FUNDS', 'ORDER_FAILED', 'STEP_TIMEOUT'];
export type InventoryRefusalCode = Extract<FailureCode, 'PRODUCT_NOT_FOUND' | 'PRODUCT_UNAVAILABLE' | 'OUT_OF_STOCK' | 'CURRENCY_MISMATCH' | 'OWN_PRODUCT'>;

export interface PurchaseItem {
  productId: string;
  quantity: number;
}

/** A line as reserved: the price is the one at reservation, whatever the seller sets later. */
export interface PricedLine {
  productId: string;
  sellerId: string;
  title: string;
  unitPriceMinor: bigint;
  quantity: number;
}

export interface StepState {
  name: PurchaseStepName;
  status: StepStatus;
  startedAtMs: number | null;
  finishedAtMs: number | null;
  error: { code: string; detail: string } | null;
  /** How many times its command (or, while compensating, its undo) was sent. */
  attempts: number;
  compensatedAtMs: number | null;
}

export interface Purchase {
  id: string;
  buyerId: string;
  currency: string;
  items: PurchaseItem[];
  status: PurchaseStatus;
  steps: StepState[];
  /** Set by ReserveProducts: what is bought from whom, at what price. */
  lines: PricedLine[] | null;
  /** Set by CreateOrder: one order per seller. */
  orderIds: string[];
  failure: { step: PurchaseStepName; code: FailureCode; detail: string } | null;
  /** When the command in flight is due to have been answered; null once final. */
  deadlineAtMs: number | null;
  createdAtMs: number;
  updatedAtMs: number;
  finishedAtMs: number | null;
}

// --- messages -------------------------------------------------------------------------------

export interface Charge {
  sellerId: string;
  amountMinor: bigint;
  holdRef: string;
}

/** What the orchestrator sends. Each is a pure function of the purchase, so it can be sent again. */
export type SagaCommand =
  | { name: 'ValidateInventory'; purchaseId: string; buyerId: string; currency: string; items: PurchaseItem[] }
  | { name: 'ReserveProducts'; purchaseId: string; reservationRef: string; buyerId: string; currency: string; items: PurchaseItem[] }
  | { name: 'ChargeWallet'; purchaseId: string; buyerId: string; currency: string; charges: Charge[] }
  | { name: 'CreateOrder'; purchaseId: string; buyerId: string; currency: string; reservationRef: string; lines: PricedLine[] }
  | { name: 'ReleaseStock'; purchaseId: string; reservationRef: string }
  | { name: 'ReleaseFunds'; purchaseId: string; buyerId: string; currency: string; holdRefs: string[] }
  | { name: 'AbortCreateOrder'; purchaseId: string };
export type SagaCommandName = SagaCommand['name'];

/** What participants answer. */
export type SagaReply =
  | { name: 'InventoryValidated'; purchaseId: string }
  | { name: 'InventoryRejected'; purchaseId: string; code: InventoryRefusalCode; productId: string; detail: string }
  | { name: 'ProductsReserved'; purchaseId: string; lines: PricedLine[] }
  | { name: 'ReservationRefused'; purchaseId: string; code: InventoryRefusalCode; productId: string; detail: string }
  | { name: 'FundsHeld'; purchaseId: string; holdRefs: string[] }
  | { name: 'ChargeRefused'; purchaseId: string; code: 'INSUFFICIENT_FUNDS'; detail: string }
  | { name: 'OrdersCreated'; purchaseId: string; orderIds: string[] }
  | { name: 'CreateOrderRefused'; purchaseId: string; detail: string }
  | { name: 'StockReleased'; purchaseId: string; released: boolean }
  | { name: 'FundsReleased'; purchaseId: string; releasedMinor: bigint }
  | { name: 'CreateOrderAborted'; purchaseId: string };
export type SagaReplyName = SagaReply['name'];

/** Which step a reply is about, and what it says about it. */
const REPLIES: Record<SagaReplyName, { step: PurchaseStepName; kind: 'succeeded' | 'refused' | 'undone' }> = {
  InventoryValidated: { step: 'ValidateInventory', kind: 'succeeded' },
  InventoryRejected: { step: 'ValidateInventory', kind: 'refused' },
  ProductsReserved: { step: 'ReserveProducts', kind: 'succeeded' },
  ReservationRefused: { step: 'ReserveProducts', kind: 'refused' },
  FundsHeld: { step: 'ChargeWallet', kind: 'succeeded' },
  ChargeRefused: { step: 'ChargeWallet', kind: 'refused' },
  OrdersCreated: { step: 'CreateOrder', kind: 'succeeded' },
  CreateOrderRefused: { step: 'CreateOrder', kind: 'refused' },
  StockReleased: { step: 'ReserveProducts', kind: 'undone' },
  FundsReleased: { step: 'ChargeWallet', kind: 'undone' },
  CreateOrderAborted: { step: 'CreateOrder', kind: 'undone' },
};

// --- references: every effect is idempotent by one of these ----------------------------------

export const reservationRefOf = (purchaseId: string) => `purchase:${purchaseId}`;
export const holdRefOf = (purchaseId: string, sellerId: string) => `purchase:${purchaseId}:hold:${sellerId}`;
/** The capture of a hold: it pays the seller (the order's payment ref). */
export const captureRefOf = (holdRef: string) => `${holdRef}:capture`;
/** The release of a hold: the money is the buyer's to spend again. */
export const releaseRefOf = (holdRef: string) => `${holdRef}:release`;
/** The ledger owner of every movement of a purchase. */
export const ledgerOwnerOf = (purchaseId: string) => `purchase:${purchaseId}`;
/** An order's source_ref: one order per purchase and seller. */
export const orderSourceRefOf = (purchaseId: string, sellerId: string) => `${purchaseId}:${sellerId}`;

// --- the orchestrator ------------------------------------------------------------------------

export interface Transition {
  purchase: Purchase;
  /** The command to send in the same commit, if any. */
  send: SagaCommand | null;
  /** Set when this transition ended the purchase. */
  finished: 'completed' | 'compensated' | null;
}
export type ReplyOutcome = ({ applied: true } & Transition) | { applied: false; why: string };

export interface Timing {
  nowMs: number;
  stepTimeoutMs: number;
}

/** A new purchase, its first step under way. `items` are checked at the edge. */
export function startPurchase(input: { id: string; buyerId: string; currency: string; items: PurchaseItem[] }, t: Timing): Transition {
  const steps: StepState[] = PURCHASE_STEPS.map((name) => ({ name, status: 'pending', startedAtMs: null, finishedAtMs: null, error: null, attempts: 0, compensatedAtMs: null }));
  const purchase: Purchase = {
    ...input,
    items: input.items.map((i) => ({ productId: i.productId, quantity: i.quantity })),
    status: 'running',
    steps,
    lines: null,
    orderIds: [],
    failure: null,
    deadlineAtMs: null,
    createdAtMs: t.nowMs,
    updatedAtMs: t.nowMs,
    finishedAtMs: null,
  };
  return runStep(purchase, 0, t);
}

/** The step whose command (or undo) is out; undefined once final. */
export function currentStep(p: Purchase): StepState | undefined {
  if (p.status === 'running') return p.steps.find((s) => s.status === 'running');
  if (p.status === 'compensating') return p.steps.find((s) => s.status === 'compensating');
  return undefined;
}

/** Applies a participant's reply. Anything that does not fit the step in flight is ignored. */
export function applyReply(p: Purchase, reply: SagaReply, t: Timing): ReplyOutcome {
  if (reply.purchaseId !== p.id) return { applied: false, why: `the reply is about purchase ${reply.purchaseId}` };
  const step = currentStep(p);
  if (!step) return { applied: false, why: `the purchase is ${p.status}` };
  const about = REPLIES[reply.name];
  if (about.step !== step.name) return { applied: false, why: `${reply.name} is about ${about.step}; the purchase is at ${step.name}` };
  const index = PURCHASE_STEPS.indexOf(step.name);

  if (p.status === 'running') {
    if (about.kind === 'undone') return { applied: false, why: `${reply.name} answers an undo; ${step.name} is running` };
    if (about.kind === 'refused') {
      const failed = withStep(p, index, { status: 'failed', finishedAtMs: t.nowMs, error: errorOf(reply) }, t);
      // A refused step did nothing: undo the ones before it.
      return { applied: true, ...compensateFrom({ ...failed, failure: { step: step.name, code: failureCodeOf(reply), detail: errorOf(reply).detail } }, index - 1, t) };
    }
    return { applied: true, ...succeed(p, index, reply, t) };
  }

  // Compensating.
  if (reply.name === 'OrdersCreated') {
    // The abort came after the pivot: the orders exist and are paid. Roll forward.
    const forward = withStep({ ...p, status: 'running', failure: null }, index, { status: 'running', error: null }, t);
    return { applied: true, ...succeed(forward, index, reply, t) };
  }
  if (about.kind !== 'undone') return { applied: false, why: `${reply.name} came after ${step.name} was given up; its undo is out` };
  const undone = withStep(p, index, { status: 'compensated', compensatedAtMs: t.nowMs }, t);
  return { applied: true, ...compensateFrom(undone, index - 1, t) };
}

/**
 * The deadline of the command in flight passed without an answer. A forward step times out and
 * the purchase compensates, that step included; an undo is sent again.
 */
export function applyDeadline(p: Purchase, t: Timing): ReplyOutcome {
  const step = currentStep(p);
  if (!step || p.deadlineAtMs === null) return { applied: false, why: `the purchase is ${p.status}` };
  if (t.nowMs < p.deadlineAtMs) return { applied: false, why: 'the deadline has not passed' };
  const index = PURCHASE_STEPS.indexOf(step.name);
  if (p.status === 'compensating') {
    const again = withStep(p, index, { attempts: step.attempts + 1 }, t);
    return { applied: true, purchase: { ...again, deadlineAtMs: t.nowMs + t.stepTimeoutMs }, send: commandOf(again), finished: null };
  }
  const detail = `${step.name} did not answer within ${t.stepTimeoutMs} ms`;
  const timedOut = withStep(p, index, { status: 'timed_out', finishedAtMs: t.nowMs, error: { code: 'STEP_TIMEOUT', detail } }, t);
  // It may have acted, or act later: undo it too (its participant fences a late attempt).
  return { applied: true, ...compensateFrom({ ...timedOut, failure: { step: step.name, code: 'STEP_TIMEOUT', detail } }, index, t) };
}

/** The command for the step in flight: sent when the step starts, again on resume or retry. */
export function commandOf(p: Purchase): SagaCommand | null {
  const step = currentStep(p);
  if (!step) return null;
  const base = { purchaseId: p.id };
  const reservationRef = reservationRefOf(p.id);
  if (p.status === 'compensating') {
    switch (step.name) {
      case 'ReserveProducts':
        return { name: 'ReleaseStock', ...base, reservationRef };
      case 'ChargeWallet':
        return { name: 'ReleaseFunds', ...base, buyerId: p.buyerId, currency: p.currency, holdRefs: chargesOf(p).map((c) => c.holdRef) };
      case 'CreateOrder':
        return { name: 'AbortCreateOrder', ...base };
      case 'ValidateInventory':
        throw new Error('ValidateInventory has nothing to undo');
    }
  }
  switch (step.name) {
    case 'ValidateInventory':
      return { name: 'ValidateInventory', ...base, buyerId: p.buyerId, currency: p.currency, items: p.items };
    case 'ReserveProducts':
      return { name: 'ReserveProducts', ...base, reservationRef, buyerId: p.buyerId, currency: p.currency, items: p.items };
    case 'ChargeWallet':
      return { name: 'ChargeWallet', ...base, buyerId: p.buyerId, currency: p.currency, charges: chargesOf(p) };
    case 'CreateOrder':
      return { name: 'CreateOrder', ...base, buyerId: p.buyerId, currency: p.currency, reservationRef, lines: linesOf(p) };
  }
}

/** One hold per seller, in the order sellers first appear among the lines. */
export function chargesOf(p: Pick<Purchase, 'id' | 'lines'>): Charge[] {
  const bySeller = new Map<string, bigint>();
  for (const l of p.lines ?? []) bySeller.set(l.sellerId, (bySeller.get(l.sellerId) ?? 0n) + l.unitPriceMinor * BigInt(l.quantity));
  return [...bySeller].map(([sellerId, amountMinor]) => ({ sellerId, amountMinor, holdRef: holdRefOf(p.id, sellerId) }));
}

/** What the purchase costs; null until the products are reserved (and priced). */
export function totalOf(p: Pick<Purchase, 'lines'>): bigint | null {
  return p.lines === null ? null : p.lines.reduce((sum, l) => sum + l.unitPriceMinor * BigInt(l.quantity), 0n);
}

function linesOf(p: Purchase): PricedLine[] {
  if (p.lines === null) throw new Error(`purchase ${p.id} has no reserved lines`);
  return p.lines;
}

function succeed(p: Purchase, index: number, reply: SagaReply, t: Timing): Transition {
  let next = withStep(p, index, { status: 'succeeded', finishedAtMs: t.nowMs, error: null }, t);
  if (reply.name === 'ProductsReserved') next = { ...next, lines: reply.lines.map((l) => ({ ...l })) };
  if (reply.name === 'OrdersCreated') next = { ...next, orderIds: [...reply.orderIds] };
  if (index + 1 < PURCHASE_STEPS.length) return runStep(next, index + 1, t);
  return { purchase: { ...next, status: 'completed', deadlineAtMs: null, finishedAtMs: t.nowMs }, send: null, finished: 'completed' };
}

function runStep(p: Purchase, index: number, t: Timing): Transition {
  const running = withStep(p, index, { status: 'running', startedAtMs: t.nowMs, attempts: 1 }, t);
  if (PURCHASE_STEPS[index] === 'ChargeWallet' && chargesOf(p).some((c) => c.amountMinor > MAX_AMOUNT_MINOR)) {
    // No wallet holds that much: refused here, as the ledger would.
    const detail = `the total is more than the largest amount a wallet holds (${MAX_AMOUNT_MINOR} minor units)`;
    const failed = withStep(running, index, { status: 'failed', finishedAtMs: t.nowMs, error: { code: 'INSUFFICIENT_FUNDS', detail } }, t);
    return compensateFrom({ ...failed, failure: { step: 'ChargeWallet', code: 'INSUFFICIENT_FUNDS', detail } }, index - 1, t);
  }
  const purchase = { ...running, deadlineAtMs: t.nowMs + t.stepTimeoutMs };
  return { purchase, send: commandOf(purchase), finished: null };
}

/** Undoes the highest step at or below `index` that may have acted; compensated when none is left. */
function compensateFrom(p: Purchase, index: number, t: Timing): Transition {
  for (let i = index; i >= 0; i--) {
    const step = p.steps[i]!;
    const mayHaveActed = step.status === 'succeeded' || step.status === 'timed_out';
    if (!mayHaveActed || !(step.name in COMPENSATIONS)) continue;
    const undoing = withStep({ ...p, status: 'compensating' }, i, { status: 'compensating', attempts: 1 }, t);
    const purchase = { ...undoing, deadlineAtMs: t.nowMs + t.stepTimeoutMs };
    return { purchase, send: commandOf(purchase), finished: null };
  }
  return { purchase: { ...p, status: 'compensated', deadlineAtMs: null, updatedAtMs: t.nowMs, finishedAtMs: t.nowMs }, send: null, finished: 'compensated' };
}

function withStep(p: Purchase, index: number, change: Partial<StepState>, t: Timing): Purchase {
  return { ...p, updatedAtMs: t.nowMs, steps: p.steps.map((s, i) => (i === index ? { ...s, ...change } : s)) };
}

function errorOf(reply: SagaReply): { code: string; detail: string } {
  switch (reply.name) {
    case 'InventoryRejected':
    case 'ReservationRefused':
    case 'ChargeRefused':
      return { code: reply.code, detail: reply.detail };
    case 'CreateOrderRefused':
      return { code: 'ORDER_FAILED', detail: reply.detail };
    default:
      throw new Error(`${reply.name} is not a refusal`);
  }
}

function failureCodeOf(reply: SagaReply): FailureCode {
  return errorOf(reply).code as FailureCode;
}

// --- what the user is told --------------------------------------------------------------------

/** The JSON notification events of a purchase that just ended (topics kept for notifications). */
export function outcomeEventOf(p: Purchase, scale: number): { topic: 'purchases.purchase.completed' | 'purchases.purchase.compensated'; key: string; payload: Record<string, string | string[]> } {
  if (p.status === 'completed') {
    return {
      topic: 'purchases.purchase.completed',
      key: p.id,
      payload: { purchaseId: p.id, buyerId: p.buyerId, currency: p.currency, total: formatAmount(totalOf(p) ?? 0n, scale), orderIds: [...p.orderIds] },
    };
  }
  if (p.status !== 'compensated' || p.failure === null) throw new Error(`purchase ${p.id} has not ended (${p.status})`);
  return {
    topic: 'purchases.purchase.compensated',
    key: p.id,
    payload: { purchaseId: p.id, buyerId: p.buyerId, currency: p.currency, reason: p.failure.code, detail: p.failure.detail },
  };
}

// --- the inventory check (the ValidateInventory participant's rule) ----------------------------

/** What the inventory participant reads about a product (through the catalog's port). */
export interface ProductFacts {
  id: string;
  sellerId: string;
  title: string;
  currency: string;
  priceMinor: bigint;
  stock: number;
  reserved: number;
  /** Withdrawn from sale when set (the catalog's archived products). */
  archivedAtMs?: number | null;
  /** Offered only when absent or `active`. */
  status?: string;
}

export type InventoryCheck = { ok: true } | { ok: false; code: InventoryRefusalCode; productId: string; detail: string };

/**
 * Whether the items can be bought now, item by item in order (the first that cannot decides).
 * A quick look before reserving: the reservation decides for good, under the catalog's lock.
 */
export function checkInventory(input: { buyerId: string; currency: string; items: readonly PurchaseItem[] }, products: ReadonlyMap<string, ProductFacts>): InventoryCheck {
  for (const { productId, quantity } of input.items) {
    const p = products.get(productId);
    if (!p) return { ok: false, code: 'PRODUCT_NOT_FOUND', productId, detail: `no product ${productId}` };
    if ((p.archivedAtMs ?? null) !== null || (p.status !== undefined && p.status !== 'active')) {
      return { ok: false, code: 'PRODUCT_UNAVAILABLE', productId, detail: `product ${productId} is no longer offered` };
    }
    if (p.sellerId === input.buyerId) return { ok: false, code: 'OWN_PRODUCT', productId, detail: `product ${productId} is your own` };
    if (p.currency !== input.currency) return { ok: false, code: 'CURRENCY_MISMATCH', productId, detail: `product ${productId} is priced in ${p.currency}, the purchase is in ${input.currency}` };
    const available = p.stock - p.reserved;
    if (available < quantity) return { ok: false, code: 'OUT_OF_STOCK', productId, detail: `product ${productId} has ${Math.max(0, available)} unit(s) available, ${quantity} asked` };
  }
  return { ok: true };
}

/** An order's title: the one product, or the first and how many more. */
export function orderTitleOf(lines: readonly PricedLine[]): string {
  const first = lines[0];
  if (!first) throw new Error('an order has at least one line');
  const title = lines.length === 1 ? first.title : `${first.title} and ${lines.length - 1} more`;
  return title.length <= 200 ? title : `${title.slice(0, 199)}…`;
}
