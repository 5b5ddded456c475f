// The purchase saga's rules (src/orders/purchase-model.ts), without storage or a bus: which
// command each state sends, how refusals and deadlines turn into compensation in reverse
// order, the pivot rolling forward, and replies that no longer fit being ignored.
import { describe, expect, it } from 'vitest';
import {
  applyDeadline,
  applyReply,
  checkInventory,
  commandOf,
  outcomeEventOf,
  startPurchase,
  totalOf,
  type PricedLine,
  type Purchase,
  type ReplyOutcome,
  type SagaReply,
  type Transition,
} from '../../src/orders/purchase-model.js';
import { MAX_AMOUNT_MINOR } from '../../src/platform/money.js';
import { decodeMessage, messageEvent, purchaseSchemas, schemaOf, topicOf } from '../../src/orders/purchase-schemas.js';

const ID = '01900000-0000-7000-8000-000000000001';
const BUYER = '01900000-0000-7000-8000-0000000000b1';
const S1 = '01900000-0000-7000-8000-000000000051';
const S2 = '01900000-0000-7000-8000-000000000052';
const P1 = '01900000-0000-7000-8000-0000000000a1';
const P2 = '01900000-0000-7000-8000-0000000000a2';
const TIMEOUT = 1_000;
const at = (nowMs: number) => ({ nowMs, stepTimeoutMs: TIMEOUT });

const LINES: PricedLine[] = [
  { productId: P1, sellerId: S1, title: 'Mug', unitPriceMinor: 1250n, quantity: 2 },
  { productId: P2, sellerId: S2, title: 'Plate', unitPriceMinor: 300n, quantity: 3 },
];

const start = () => startPurchase({ id: ID, buyerId: BUYER, currency: 'USD', items: [{ productId: P1, quantity: 2 }, { productId: P2, quantity: 3 }] }, at(0));

function applied(outcome: ReplyOutcome): Transition {
  if (!outcome.applied) throw new Error(`not applied: ${outcome.why}`);
  return outcome;
}

/** Feeds replies in turn, each a millisecond later; returns every transition. */
function run(replies: SagaReply[], from: Purchase = start().purchase): Transition[] {
  let p = from;
  return replies.map((reply, i) => {
    const t = applied(applyReply(p, reply, at(i + 1)));
    p = t.purchase;
    return t;
  });
}

const statuses = (p: Purchase) => p.steps.map((s) => `${s.name}:${s.status}`);
const reply = <T extends SagaReply>(x: T): T => x;
const r = {
  validated: reply({ name: 'InventoryValidated', purchaseId: ID }),
  reserved: reply({ name: 'ProductsReserved', purchaseId: ID, lines: LINES }),
  held: reply({ name: 'FundsHeld', purchaseId: ID, holdRefs: [`purchase:${ID}:hold:${S1}`, `purchase:${ID}:hold:${S2}`] }),
  created: reply({ name: 'OrdersCreated', purchaseId: ID, orderIds: ['o1', 'o2'] }),
  stockReleased: reply({ name: 'StockReleased', purchaseId: ID, released: true }),
  fundsReleased: reply({ name: 'FundsReleased', purchaseId: ID, releasedMinor: 3400n }),
  aborted: reply({ name: 'CreateOrderAborted', purchaseId: ID }),
};

describe('a purchase going forward', () => {
  it('starts running with ValidateInventory sent and a deadline one step timeout away', () => {
    const s = start();
    expect(s.purchase.status).toBe('running');
    expect(statuses(s.purchase)).toEqual(['ValidateInventory:running', 'ReserveProducts:pending', 'ChargeWallet:pending', 'CreateOrder:pending']);
    expect(s.purchase.deadlineAtMs).toBe(TIMEOUT);
    expect(s.send).toEqual({ name: 'ValidateInventory', purchaseId: ID, buyerId: BUYER, currency: 'USD', items: [{ productId: P1, quantity: 2 }, { productId: P2, quantity: 3 }] });
  });

  it('sends each next command as the previous step succeeds, and completes after CreateOrder', () => {
    const [v, res, held, created] = run([r.validated, r.reserved, r.held, r.created]);
    expect(v!.send).toMatchObject({ name: 'ReserveProducts', reservationRef: `purchase:${ID}` });
    // One hold per seller, for what is bought from them, at the reserved price.
    expect(res!.send).toEqual({
      name: 'ChargeWallet',
      purchaseId: ID,
      buyerId: BUYER,
      currency: 'USD',
      charges: [
        { sellerId: S1, amountMinor: 2500n, holdRef: `purchase:${ID}:hold:${S1}` },
        { sellerId: S2, amountMinor: 900n, holdRef: `purchase:${ID}:hold:${S2}` },
      ],
    });
    expect(held!.send).toEqual({ name: 'CreateOrder', purchaseId: ID, buyerId: BUYER, currency: 'USD', reservationRef: `purchase:${ID}`, lines: LINES });
    expect(created!.send).toBeNull();
    expect(created!.finished).toBe('completed');
    expect(created!.purchase).toMatchObject({ status: 'completed', orderIds: ['o1', 'o2'], deadlineAtMs: null, finishedAtMs: 4, failure: null });
    expect(totalOf(created!.purchase)).toBe(3400n);
    expect(outcomeEventOf(created!.purchase, 2)).toEqual({
      topic: 'purchases.purchase.completed',
      key: ID,
      payload: { purchaseId: ID, buyerId: BUYER, currency: 'USD', total: '34.00', orderIds: ['o1', 'o2'] },
    });
  });

  it('refuses to charge a total beyond what a wallet can hold, and releases the stock', () => {
    const huge = [{ ...LINES[0]!, unitPriceMinor: MAX_AMOUNT_MINOR, quantity: 2 }];
    const [, reserved] = run([r.validated, { ...r.reserved, lines: huge }]);
    expect(reserved!.purchase.status).toBe('compensating');
    expect(reserved!.send).toMatchObject({ name: 'ReleaseStock' });
    expect(reserved!.purchase.failure).toMatchObject({ step: 'ChargeWallet', code: 'INSUFFICIENT_FUNDS' });
  });
});

describe('a purchase compensating', () => {
  it('ends compensated at once when ValidateInventory is refused: nothing was done', () => {
    const [t] = run([{ name: 'InventoryRejected', purchaseId: ID, code: 'OUT_OF_STOCK', productId: P1, detail: 'no mugs' }]);
    expect(t!.finished).toBe('compensated');
    expect(t!.send).toBeNull();
    expect(statuses(t!.purchase)).toEqual(['ValidateInventory:failed', 'ReserveProducts:pending', 'ChargeWallet:pending', 'CreateOrder:pending']);
    expect(outcomeEventOf(t!.purchase, 2)).toEqual({
      topic: 'purchases.purchase.compensated',
      key: ID,
      payload: { purchaseId: ID, buyerId: BUYER, currency: 'USD', reason: 'OUT_OF_STOCK', detail: 'no mugs' },
    });
  });

  it('a refused reservation holds nothing, so there is nothing to undo', () => {
    const [, t] = run([r.validated, { name: 'ReservationRefused', purchaseId: ID, code: 'OUT_OF_STOCK', productId: P2, detail: 'sold out' }]);
    expect(t!.finished).toBe('compensated');
    expect(t!.purchase.failure).toEqual({ step: 'ReserveProducts', code: 'OUT_OF_STOCK', detail: 'sold out' });
  });

  it('insufficient funds releases the reserved stock, then ends compensated', () => {
    const ts = run([r.validated, r.reserved, { name: 'ChargeRefused', purchaseId: ID, code: 'INSUFFICIENT_FUNDS', detail: 'short' }]);
    const refused = ts.at(-1)!;
    expect(refused.purchase.status).toBe('compensating');
    expect(refused.send).toEqual({ name: 'ReleaseStock', purchaseId: ID, reservationRef: `purchase:${ID}` });
    expect(statuses(refused.purchase)).toEqual(['ValidateInventory:succeeded', 'ReserveProducts:compensating', 'ChargeWallet:failed', 'CreateOrder:pending']);
    const [end] = run([r.stockReleased], refused.purchase);
    expect(end!.finished).toBe('compensated');
    expect(statuses(end!.purchase)).toEqual(['ValidateInventory:succeeded', 'ReserveProducts:compensated', 'ChargeWallet:failed', 'CreateOrder:pending']);
    expect(end!.purchase.failure?.code).toBe('INSUFFICIENT_FUNDS');
  });

  it('a refused CreateOrder releases the funds, then the stock: in reverse order, one at a time', () => {
    const ts = run([r.validated, r.reserved, r.held, { name: 'CreateOrderRefused', purchaseId: ID, detail: 'capture failed' }, r.fundsReleased, r.stockReleased]);
    expect(ts.map((x) => x.send?.name ?? x.finished)).toEqual(['ReserveProducts', 'ChargeWallet', 'CreateOrder', 'ReleaseFunds', 'ReleaseStock', 'compensated']);
    expect(ts[3]!.send).toEqual({ name: 'ReleaseFunds', purchaseId: ID, buyerId: BUYER, currency: 'USD', holdRefs: [`purchase:${ID}:hold:${S1}`, `purchase:${ID}:hold:${S2}`] });
    expect(ts.at(-1)!.purchase.failure).toMatchObject({ step: 'CreateOrder', code: 'ORDER_FAILED' });
  });
});

describe('deadlines', () => {
  it('does nothing before the deadline', () => {
    expect(applyDeadline(start().purchase, at(TIMEOUT - 1))).toMatchObject({ applied: false });
  });

  it('a step that does not answer in time is timed out and undone with the steps before it: it may act late', () => {
    const [, , held] = run([r.validated, r.reserved, r.held]);
    const late = applied(applyDeadline(held!.purchase, at(5_000)));
    expect(late.send).toEqual({ name: 'AbortCreateOrder', purchaseId: ID });
    expect(late.purchase.status).toBe('compensating');
    expect(late.purchase.steps[3]).toMatchObject({ status: 'compensating', error: { code: 'STEP_TIMEOUT' } });
    expect(late.purchase.failure).toMatchObject({ step: 'CreateOrder', code: 'STEP_TIMEOUT' });
    const ts = run([r.aborted, r.fundsReleased, r.stockReleased], late.purchase);
    expect(ts.map((x) => x.send?.name ?? x.finished)).toEqual(['ReleaseFunds', 'ReleaseStock', 'compensated']);
    expect(statuses(ts.at(-1)!.purchase)).toEqual(['ValidateInventory:succeeded', 'ReserveProducts:compensated', 'ChargeWallet:compensated', 'CreateOrder:compensated']);
  });

  it('a timed-out ValidateInventory has nothing to undo', () => {
    const late = applied(applyDeadline(start().purchase, at(TIMEOUT)));
    expect(late.finished).toBe('compensated');
    expect(late.purchase.failure?.code).toBe('STEP_TIMEOUT');
  });

  it('an undo that does not answer in time is sent again, never given up', () => {
    const [, reserved] = run([r.validated, r.reserved]);
    const chargeLate = applied(applyDeadline(reserved!.purchase, at(3_000)));
    expect(chargeLate.send?.name).toBe('ReleaseFunds');
    const again = applied(applyDeadline(chargeLate.purchase, at(3_000 + TIMEOUT)));
    expect(again.send?.name).toBe('ReleaseFunds');
    expect(again.purchase.status).toBe('compensating');
    expect(again.purchase.steps[2]!.attempts).toBe(2);
    expect(again.purchase.deadlineAtMs).toBe(3_000 + 2 * TIMEOUT);
  });

  it('orders made after all (the abort came too late) roll the purchase forward to completed', () => {
    const [, , held] = run([r.validated, r.reserved, r.held]);
    const late = applied(applyDeadline(held!.purchase, at(5_000)));
    const [forward] = run([r.created], late.purchase);
    expect(forward!.finished).toBe('completed');
    expect(forward!.purchase).toMatchObject({ status: 'completed', failure: null, orderIds: ['o1', 'o2'] });
    expect(statuses(forward!.purchase)).toEqual(['ValidateInventory:succeeded', 'ReserveProducts:succeeded', 'ChargeWallet:succeeded', 'CreateOrder:succeeded']);
  });
});

describe('replies that do not fit', () => {
  it('ignores a reply about another step, a repeat, an undo while running, and anything after the end', () => {
    const p = start().purchase;
    expect(applyReply(p, r.reserved, at(1))).toMatchObject({ applied: false });
    expect(applyReply(p, r.stockReleased, at(1))).toMatchObject({ applied: false });
    expect(applyReply(p, { ...r.validated, purchaseId: 'other' }, at(1))).toMatchObject({ applied: false });
    const [v] = run([r.validated]);
    expect(applyReply(v!.purchase, r.validated, at(2))).toMatchObject({ applied: false });
    const done = run([r.validated, r.reserved, r.held, r.created]).at(-1)!.purchase;
    for (const reply of Object.values(r)) expect(applyReply(done, reply, at(9))).toMatchObject({ applied: false });
    expect(applyDeadline(done, at(99_999))).toMatchObject({ applied: false });
  });

  it('ignores a late success of a step being undone (its undo covers it)', () => {
    const [, reserved] = run([r.validated, r.reserved]);
    const late = applied(applyDeadline(reserved!.purchase, at(3_000)));
    expect(applyReply(late.purchase, r.held, at(3_001))).toMatchObject({ applied: false });
  });

  it('sends the same command again from the same state (resume after a restart)', () => {
    const [, reserved] = run([r.validated, r.reserved]);
    expect(commandOf(reserved!.purchase)).toEqual(reserved!.send);
  });
});

describe('the inventory check', () => {
  const product = (over: Record<string, unknown> = {}) => ({ id: P1, sellerId: S1, title: 'Mug', currency: 'USD', priceMinor: 100n, stock: 5, reserved: 2, archivedAtMs: null, ...over });
  const check = (p: ReturnType<typeof product> | undefined, quantity = 1, buyerId = BUYER, currency = 'USD') =>
    checkInventory({ buyerId, currency, items: [{ productId: P1, quantity }] }, new Map(p ? [[P1, p]] : []));

  it.each([
    ['an unknown product', undefined, 1, BUYER, 'USD', 'PRODUCT_NOT_FOUND'],
    ['an archived product', product({ archivedAtMs: 5 }), 1, BUYER, 'USD', 'PRODUCT_UNAVAILABLE'],
    ['one of your own', product(), 1, S1, 'USD', 'OWN_PRODUCT'],
    ['another currency', product(), 1, BUYER, 'EUR', 'CURRENCY_MISMATCH'],
    ['more than is available (stock less reserved)', product(), 4, BUYER, 'USD', 'OUT_OF_STOCK'],
  ])('refuses %s', (_what, p, quantity, buyerId, currency, code) => {
    expect(check(p, quantity as number, buyerId as string, currency as string)).toMatchObject({ ok: false, code, productId: P1 });
  });

  it('accepts what is available', () => {
    expect(check(product(), 3)).toEqual({ ok: true });
  });
});

describe('the messages on the bus', () => {
  it('every command and reply round-trips through its Avro schema, amounts as bigint', () => {
    const registry = purchaseSchemas();
    const [v, res, held, created] = run([r.validated, r.reserved, r.held, r.created]);
    const messages = [start().send!, v!.send!, res!.send!, held!.send!, ...Object.values(r), { name: 'ReleaseStock', purchaseId: ID, reservationRef: 'x' } as const];
    for (const m of messages) {
      const event = messageEvent(registry, m);
      expect(event.topic).toBe(topicOf(m.name));
      expect(event.payload).toMatchObject({ schema: schemaOf(m.name), version: 1 });
      expect(decodeMessage(registry, { topic: event.topic, payload: JSON.parse(JSON.stringify(event.payload)) })).toEqual(m);
    }
    expect(created!.send).toBeNull();
  });

  it('a consumer with a v2 reader reads what the saga writes in v1', () => {
    const registry = purchaseSchemas();
    const v1 = messageEvent(registry, r.reserved);
    // A later version adds a field with a default; the old message still reads.
    const fields = [
      { name: 'purchaseId', type: 'string' },
      {
        name: 'lines',
        type: {
          type: 'array',
          items: {
            type: 'record',
            name: 'ProductsReservedLine',
            fields: [
              { name: 'productId', type: 'string' },
              { name: 'sellerId', type: 'string' },
              { name: 'title', type: 'string' },
              { name: 'unitPriceMinor', type: 'long' },
              { name: 'quantity', type: 'int' },
              { name: 'taxMinor', type: 'long', default: 0 },
            ],
          },
        },
      },
      { name: 'reservedUntilMs', type: ['null', 'long'], default: null },
    ];
    registry.register('gavel.purchases.ProductsReserved', 2, { type: 'record', name: 'ProductsReserved', namespace: 'gavel.purchases', fields } as never);
    const read = registry.decode<any>(v1.payload);
    expect(read.writerVersion).toBe(1);
    expect(read.readerVersion).toBe(2);
    expect(read.value.reservedUntilMs).toBeNull();
    expect(read.value.lines.map((l: any) => [l.productId, l.unitPriceMinor, l.taxMinor])).toEqual([
      [P1, 1250n, 0n],
      [P2, 300n, 0n],
    ]);
  });
});
