// The mapping from events to notifications: pure, so checked without storage.
import { describe, expect, it } from 'vitest';
import { notificationsFor } from '../../src/notifications/model.js';

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
