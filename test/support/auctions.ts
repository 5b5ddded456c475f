// Shared set-up for auction tests: a category, lots, funded wallets and auctions, through the
// same API a person uses (the ledger's service funds wallets directly: top-ups are tested elsewhere).
import { expect } from 'vitest';
import type { TestNode } from './gavel.js';

export interface Person {
  id: string;
  token: string;
}

export interface Market {
  categoryId: string;
  seller: Person;
  lot(seller?: Person, title?: string, description?: string): Promise<string>;
  fund(person: Person, amount: bigint, currency?: string): Promise<void>;
  auction(body: Record<string, unknown>, seller?: Person): Promise<any>;
  bidder(amount?: bigint, currency?: string): Promise<Person>;
  /** posted, held and available of a person's wallet, as decimal strings. */
  wallet(person: Person, currency?: string): Promise<{ posted: string; held: string; available: string }>;
}

let ref = 0;

export async function openMarket(t: TestNode): Promise<Market> {
  const admin = await t.adminToken();
  const category = await t.call('POST', '/api/categories', { token: admin, json: { name: `Art ${process.pid}-${++ref}` } });
  expect(category.status, category.text).toBe(201);
  const categoryId = category.body.id as string;
  const sellerUser = await t.newUser('Seller', ['seller']);
  const seller = { id: sellerUser.id, token: sellerUser.token };
  const ledger = t.node.ledger.service;

  const market: Market = {
    categoryId,
    seller,
    async lot(who = seller, title = 'A painting', description = 'Oil on canvas') {
      const res = await t.call('POST', '/api/lots', { token: who.token, json: { title, description, categoryId, condition: 'used_good' } });
      expect(res.status, res.text).toBe(201);
      return (res.body.lot?.id ?? res.body.id) as string;
    },
    async fund(person, amount, currency = 'USD') {
      const { account } = await ledger.openWallet(person.id, currency);
      if (amount > 0n) {
        const issuance = await ledger.systemAccount('issuance', currency);
        await ledger.transfer({ ref: `test-fund:${person.id}:${++ref}`, debitAccountId: issuance.id, creditAccountId: account.id, currency, amountMinor: amount, owner: 'test:fund' });
      }
    },
    async auction(body, who = seller) {
      const lotId = body.lotId ?? (await market.lot(who));
      const res = await t.call('POST', '/api/auctions', { token: who.token, json: { currency: 'USD', startingPrice: '10.00', kind: 'timed', ...body, lotId } });
      expect(res.status, res.text).toBe(201);
      return res.body;
    },
    async bidder(amount = 1_000_000n, currency = 'USD') {
      const user = await t.newUser('Bidder', ['bidder']);
      const person = { id: user.id, token: user.token };
      await market.fund(person, amount, currency);
      return person;
    },
    async wallet(person, currency = 'USD') {
      const res = await t.call('GET', '/api/wallets', { token: person.token });
      const w = (res.body.items as any[]).find((x) => x.currency === currency);
      return w ? { posted: w.posted, held: w.held, available: w.available } : { posted: '0.00', held: '0.00', available: '0.00' };
    },
  };
  return market;
}
