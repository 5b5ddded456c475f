// The mapping from events to notifications: pure, so checked without storage.
import { describe, expect, it } from 'vitest';
import { defaultChoice, NOTIFICATION_KINDS, notificationsFor, preferencesFrom } from '../../src/notifications/model.js';

const USER = '01933b6e-7f4a-7c3e-9d2b-5f0a1c2d3e4f';
const SUBJECT = '01933b6e-7f4a-7c3e-9d2b-5f0a1c2d3e50';

describe('notificationsFor', () => {
  it('tells the owner of a credited top-up the amount and currency', () => {
    const mapping = notificationsFor({ id: 'e1', topic: 'ledger.topup.credited', payload: { userId: USER, topupId: SUBJECT, currency: 'USD', amount: '25.00', amountMinor: '2500' } });
    expect(mapping).toEqual({
      ok: true,
      drafts: [{ recipientUserId: USER, kind: 'topup_credited', title: 'Top-up credited: 25.00 USD', body: '25.00 USD was added to your USD wallet.', data: { topupId: SUBJECT, currency: 'USD', amount: '25.00' } }],
    });
  });

  it('tells the owner of a withdrawal whether it was paid or failed', () => {
    const payload = { userId: USER, withdrawalId: SUBJECT, currency: 'BTC', amount: '0.00010000', amountMinor: '10000' };
    const paid = notificationsFor({ id: 'e2', topic: 'ledger.withdrawal.paid', payload });
    const failed = notificationsFor({ id: 'e3', topic: 'ledger.withdrawal.failed', payload });
    expect(paid.ok && paid.drafts.map((d) => [d.kind, d.title])).toEqual([['withdrawal_paid', 'Withdrawal paid: 0.00010000 BTC']]);
    expect(failed.ok && failed.drafts.map((d) => [d.kind, d.title, d.body])).toEqual([
      ['withdrawal_failed', 'Withdrawal failed: 0.00010000 BTC', 'The payout of 0.00010000 BTC did not go through; the money is available in your BTC wallet again.'],
    ]);
  });

  it('ignores topics it does not know', () => {
    expect(notificationsFor({ id: 'e4', topic: 'catalog.lot.created', payload: {} })).toEqual({ ok: true, drafts: [] });
  });

  it('refuses a payload a producer got wrong, saying what is wrong', () => {
    const good = { userId: USER, topupId: SUBJECT, currency: 'USD', amount: '25.00' };
    const cases: Array<[unknown, RegExp]> = [
      [null, /not an object/],
      ['text', /not an object/],
      [{ ...good, userId: 'someone' }, /userId/],
      [{ ...good, topupId: 42 }, /topupId/],
      [{ ...good, currency: 'usd' }, /currency/],
      [{ ...good, amount: 2500 }, /amount/],
      [{ ...good, amount: '-1.00' }, /amount/],
    ];
    for (const [payload, reason] of cases) {
      const mapping = notificationsFor({ id: 'e5', topic: 'ledger.topup.credited', payload });
      expect(mapping.ok).toBe(false);
      if (!mapping.ok) expect(mapping.reason).toMatch(reason);
    }
  });
});

describe('the purchase saga’s events', () => {
  const BUYER = USER;
  const PURCHASE = SUBJECT;
  const ORDER = '01933b6e-7f4a-7c3e-9d2b-5f0a1c2d3e51';

  it('a completed purchase tells the buyer what they paid and which orders it made', () => {
    const mapping = notificationsFor({ id: 'p1', topic: 'purchases.purchase.completed', payload: { purchaseId: PURCHASE, buyerId: BUYER, currency: 'EUR', total: '42.50', orderIds: [ORDER] } });
    expect(mapping).toEqual({
      ok: true,
      drafts: [
        {
          recipientUserId: BUYER,
          kind: 'purchase_completed',
          title: 'Purchase complete: 42.50 EUR',
          body: 'You paid 42.50 EUR. Your order was created; the sellers ship from here.',
          data: { purchaseId: PURCHASE, currency: 'EUR', total: '42.50', orderIds: ORDER },
        },
      ],
    });
  });

  it('a compensated purchase tells the buyer why, in words, and that nothing stays charged', () => {
    const mapping = notificationsFor({ id: 'p2', topic: 'purchases.purchase.compensated', payload: { purchaseId: PURCHASE, buyerId: BUYER, currency: 'EUR', reason: 'OUT_OF_STOCK', detail: 'only 1 left' } });
    expect(mapping.ok && mapping.drafts).toEqual([
      {
        recipientUserId: BUYER,
        kind: 'purchase_failed',
        title: 'Purchase not completed',
        body: 'Your purchase could not be completed: an item is out of stock. Anything reserved or charged for it was given back.',
        data: { purchaseId: PURCHASE, currency: 'EUR', reason: 'OUT_OF_STOCK', detail: 'only 1 left' },
      },
    ]);
    const unknown = notificationsFor({ id: 'p3', topic: 'purchases.purchase.compensated', payload: { purchaseId: PURCHASE, buyerId: BUYER, currency: 'EUR', reason: 'CARRIER_REFUSED', detail: null } });
    expect(unknown.ok && unknown.drafts[0]!.body).toContain('it failed (CARRIER_REFUSED)');
  });

  it('refuses purchase payloads a producer got wrong', () => {
    const completed = { purchaseId: PURCHASE, buyerId: BUYER, currency: 'EUR', total: '42.50', orderIds: [ORDER] };
    const compensated = { purchaseId: PURCHASE, buyerId: BUYER, currency: 'EUR', reason: 'OUT_OF_STOCK', detail: 'x' };
    const cases: Array<[string, unknown]> = [
      ['purchases.purchase.completed', { ...completed, buyerId: 'nobody' }],
      ['purchases.purchase.completed', { ...completed, total: 42.5 }],
      ['purchases.purchase.completed', { ...completed, orderIds: 'not a list' }],
      ['purchases.purchase.completed', { ...completed, orderIds: ['not-an-id'] }],
      ['purchases.purchase.compensated', { ...compensated, reason: '' }],
      ['purchases.purchase.compensated', { ...compensated, detail: 'x'.repeat(1001) }],
      ['purchases.purchase.compensated', null],
    ];
    for (const [topic, payload] of cases) expect(notificationsFor({ id: 'p4', topic, payload }).ok, JSON.stringify(payload)).toBe(false);
  });
});

describe('channel preferences', () => {
  it('by default: the inbox and webhooks for every kind, e-mail for winning, money and purchases', () => {
    const prefs = preferencesFrom(new Map());
    expect(Object.keys(prefs)).toEqual([...NOTIFICATION_KINDS]);
    for (const kind of NOTIFICATION_KINDS) expect(prefs[kind]).toMatchObject({ inbox: true, webhook: true });
    expect(NOTIFICATION_KINDS.filter((k) => prefs[k].email)).toEqual(['won', 'topup_credited', 'withdrawal_failed', 'purchase_completed', 'purchase_failed']);
  });

  it('a saved choice replaces the default for its kind only', () => {
    const prefs = preferencesFrom(new Map([['outbid', { inbox: false, email: true, webhook: false }]]));
    expect(prefs.outbid).toEqual({ inbox: false, email: true, webhook: false });
    expect(prefs.won).toEqual(defaultChoice('won'));
  });
});
