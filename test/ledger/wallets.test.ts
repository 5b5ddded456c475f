import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../support/databases.js';
import { startTestNode, type TestNode } from '../support/gavel.js';

for (const dialect of DIALECTS) {
  describe(`wallets on ${dialect}`, () => {
    let t: TestNode;
    beforeAll(async () => {
      t = await startTestNode(dialect);
    });
    afterAll(async () => t?.close());

    it('a person opens a wallet, an admin credits it, and the statement and balances show it', async () => {
      const me = await t.newUser('Wallet Owner');
      const opened = await t.call('POST', '/api/wallets', { token: me.token, json: { currency: 'USD' } });
      expect(opened.status).toBe(201);
      expect(opened.body).toMatchObject({ currency: 'USD', posted: '0.00', held: '0.00', available: '0.00' });
      const again = await t.call('POST', '/api/wallets', { token: me.token, json: { currency: 'USD' } });
      expect(again.status).toBe(200);

      const admin = await t.adminToken();
      const credit = await t.call('POST', '/api/ledger/adjustments', {
        token: admin,
        headers: { 'idempotency-key': 'credit-1' },
        json: { userId: me.id, currency: 'USD', amount: '100.25', direction: 'credit', memo: 'welcome' },
      });
      expect(credit.status).toBe(201);
      const replay = await t.call('POST', '/api/ledger/adjustments', {
        token: admin,
        headers: { 'idempotency-key': 'credit-1' },
        json: { userId: me.id, currency: 'USD', amount: '100.25', direction: 'credit', memo: 'welcome' },
      });
      expect(replay.status).toBe(201);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body).toEqual(credit.body);
      const reused = await t.call('POST', '/api/ledger/adjustments', {
        token: admin,
        headers: { 'idempotency-key': 'credit-1' },
        json: { userId: me.id, currency: 'USD', amount: '5.00', direction: 'credit', memo: 'welcome' },
      });
      expect(reused.status).toBe(422);
      expect(reused.body.code).toBe('IDEMPOTENCY_KEY_REUSED');

      const wallet = await t.call('GET', '/api/wallets/USD', { token: me.token });
      expect(wallet.body).toMatchObject({ posted: '100.25', held: '0.00', available: '100.25' });
      const statement = await t.call('GET', '/api/wallets/USD/transfers', { token: me.token });
      expect(statement.body.items).toHaveLength(1);
      expect(statement.body.items[0]).toMatchObject({ kind: 'posted', direction: 'in', amount: '100.25', memo: 'welcome' });

      const check = await t.call('GET', '/api/ledger/check', { token: admin });
      expect(check.body).toMatchObject({ ok: true, violations: [] });
    });

    it('holds reserve funds, a capture moves part to its destination and releases the rest', async () => {
      const buyer = await t.newUser('Hold Buyer');
      const seller = await t.newUser('Hold Seller');
      const ledger = t.node.ledger.service;
      const admin = await t.adminToken();
      await t.call('POST', '/api/ledger/adjustments', { token: admin, json: { userId: buyer.id, currency: 'EUR', amount: '50.00', direction: 'credit', memo: 'seed' } });
      const buyerWallet = (await ledger.walletOf(buyer.id, 'EUR'))!;
      const sellerWallet = (await ledger.openWallet(seller.id, 'EUR')).account;

      const hold = await ledger.hold({ ref: 'test:hold:1', accountId: buyerWallet.id, currency: 'EUR', amountMinor: 3000n, owner: 'test' });
      expect((await t.call('GET', '/api/wallets/EUR', { token: buyer.token })).body).toMatchObject({ posted: '50.00', held: '30.00', available: '20.00' });
      await expect(ledger.hold({ ref: 'test:hold:2', accountId: buyerWallet.id, currency: 'EUR', amountMinor: 2001n, owner: 'test' })).rejects.toMatchObject({ code: 'INSUFFICIENT_FUNDS' });

      await ledger.capture({ ref: 'test:capture:1', holdId: hold.id, toAccountId: sellerWallet.id, amountMinor: 1250n });
      expect((await t.call('GET', '/api/wallets/EUR', { token: buyer.token })).body).toMatchObject({ posted: '37.50', held: '0.00', available: '37.50' });
      expect((await t.call('GET', '/api/wallets/EUR', { token: seller.token })).body).toMatchObject({ posted: '12.50', available: '12.50' });
      await expect(ledger.release({ ref: 'test:release:1', holdId: hold.id })).rejects.toMatchObject({ code: 'HOLD_NOT_PENDING' });
      // The same capture again is an idempotent repeat, not a second capture.
      await ledger.capture({ ref: 'test:capture:1', holdId: hold.id, toAccountId: sellerWallet.id, amountMinor: 1250n });
      expect((await t.call('GET', '/api/wallets/EUR', { token: seller.token })).body.posted).toBe('12.50');
      expect((await t.call('GET', '/api/ledger/check', { token: admin })).body.ok).toBe(true);
    });
  });
}
