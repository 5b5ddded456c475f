// Set-up shared by the purchase tests: a category, sellers with products, funded buyers, and
// the purchase API, through the same routes a person uses (wallets are funded through the
// ledger service: top-ups are tested elsewhere).
import { expect } from 'vitest';
import type { Kysely } from 'kysely';
import type { TestNode } from '../support/gavel.js';

export interface Person {
  id: string;
  token: string;
}

let counter = 0;

export const TERMINAL = ['completed', 'compensated'];

export async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function openShop(t: TestNode) {
  const admin = await t.adminToken();
  const category = await t.call('POST', '/api/categories', { token: admin, json: { name: `Shop ${process.pid}-${++counter}` } });
  expect(category.status, category.text).toBe(201);
  const categoryId = category.body.id as string;
  const ledger = t.node.ledger.service;

  const shop = {
    admin,
    categoryId,
    async seller(): Promise<Person> {
      const u = await t.newUser('Seller', ['seller']);
      return { id: u.id, token: u.token };
    },
    async product(seller: Person, over: { title?: string; price?: string; currency?: string; stock?: number } = {}): Promise<string> {
      const res = await t.call('POST', '/api/products', {
        token: seller.token,
        json: { title: over.title ?? 'Enamel mug', description: 'Blue, 350 ml.', categoryId, price: over.price ?? '12.50', currency: over.currency ?? 'USD', stock: over.stock ?? 10 },
      });
      expect(res.status, res.text).toBe(201);
      return res.body.id as string;
    },
    async fund(person: Person, amountMinor: bigint, currency = 'USD'): Promise<void> {
      const { account } = await ledger.openWallet(person.id, currency);
      if (amountMinor > 0n) {
        const issuance = await ledger.systemAccount('issuance', currency);
        await ledger.transfer({ ref: `test-fund:${person.id}:${++counter}`, debitAccountId: issuance.id, creditAccountId: account.id, currency, amountMinor, owner: 'test:fund' });
      }
    },
    async buyer(amountMinor = 100_000n, currency = 'USD'): Promise<Person> {
      const u = await t.newUser('Buyer', ['bidder']);
      const person = { id: u.id, token: u.token };
      await shop.fund(person, amountMinor, currency);
      return person;
    },
    /** posted and held of a wallet, as decimal strings; zeros when there is none. */
    async wallet(person: Person, currency = 'USD'): Promise<{ posted: string; held: string }> {
      const res = await t.call('GET', '/api/wallets', { token: person.token });
      const w = (res.body.items as any[]).find((x) => x.currency === currency);
      return w ? { posted: w.posted, held: w.held } : { posted: '0.00', held: '0.00' };
    },
    async stock(productId: string): Promise<{ stock: number; reserved: number; available: number }> {
      const res = await t.call('GET', `/api/products/${productId}`);
      expect(res.status, res.text).toBe(200);
      return { stock: res.body.stock, reserved: res.body.reserved, available: res.body.available };
    },
    /** POST /api/purchases with a fresh Idempotency-Key, the one given, or none (null). */
    purchase(buyer: Person, body: unknown, key: string | null = `key-${++counter}`) {
      return t.call('POST', '/api/purchases', { token: buyer.token, json: body, ...(key !== null && { headers: { 'idempotency-key': key } }) });
    },
    /** The purchase once it has ended. */
    async ended(buyer: Person, id: string): Promise<any> {
      return until(`purchase ${id} to end`, async () => {
        const res = await t.call('GET', `/api/purchases/${id}`, { token: buyer.token });
        expect(res.status, res.text).toBe(200);
        return TERMINAL.includes(res.body.status) ? res.body : undefined;
      });
    },
    /** Buys and waits for the end. */
    async buy(buyer: Person, items: Array<{ productId: string; quantity: number }>, currency = 'USD'): Promise<any> {
      const res = await shop.purchase(buyer, { items, currency });
      expect([201, 202], res.text).toContain(res.status);
      return shop.ended(buyer, res.body.id);
    },
    async ledgerClean(): Promise<void> {
      const check = await t.call('GET', '/api/ledger/check', { token: admin });
      expect(check.status, check.text).toBe(200);
      expect(check.body.violations).toEqual([]);
    },
    /** The purchase's ledger movements, read straight from storage: kind, amount, status. */
    async movements(purchaseId: string): Promise<Array<{ kind: string; amountMinor: bigint; holdStatus: string | null; ref: string }>> {
      const db = t.node.database.kysely as Kysely<any>;
      const rows = await db.selectFrom('ledger_transfers').select(['kind', 'amount_minor', 'hold_status', 'ref']).where('owner', '=', `purchase:${purchaseId}`).orderBy('id').execute();
      return rows.map((r) => ({ kind: r.kind, amountMinor: BigInt(r.amount_minor), holdStatus: r.hold_status, ref: r.ref }));
    },
    async outboxEvents(topic: string, key: string): Promise<any[]> {
      const db = t.node.database.kysely as Kysely<any>;
      const rows = await db.selectFrom('platform_outbox').select(['payload']).where('topic', '=', topic).where('key', '=', key).orderBy('tx_seq').orderBy('id').execute();
      return rows.map((r) => JSON.parse(r.payload));
    },
  };
  return shop;
}

export type Shop = Awaited<ReturnType<typeof openShop>>;
