// Shared set-up for exchange tests: an asset, an instrument and funded traders, through the
// same API a person uses (the ledger's service funds wallets directly: top-ups are tested elsewhere).
import { expect } from 'vitest';
import type { Answer, TestNode } from './gavel.js';
import type { Person } from './auctions.js';

export interface Exchange {
  admin: string;
  /** ACME-USD unless given: ACME has no decimals, tick 0.01 USD, lot 1, maker 10 bps, taker 20 bps. */
  symbol: string;
  trader(usdMinor?: bigint, acme?: bigint): Promise<Person>;
  fund(person: Person, amountMinor: bigint, currency: string): Promise<void>;
  /** posted, held and available of a person's wallet, as decimal strings. */
  wallet(person: Person, currency: string): Promise<{ posted: string; held: string; available: string }>;
  order(who: Person, body: Record<string, unknown>): Promise<Answer>;
}

let ref = 0;

export async function openExchange(t: TestNode, listing: Record<string, unknown> = {}): Promise<Exchange> {
  const admin = await t.adminToken();
  const base = (listing.base as string | undefined) ?? `A${process.pid % 1000}X${++ref}`;
  const asset = await t.call('POST', '/api/ledger/assets', { token: admin, json: { code: base, scale: 0, name: `Asset ${base}` } });
  expect([201, 409], asset.text).toContain(asset.status);
  const res = await t.call('POST', '/api/exchange/instruments', {
    token: admin,
    json: { base, quote: 'USD', tickSize: '0.01', lotSize: '1', maxQuantity: '1000000', makerFeeBps: 10, takerFeeBps: 20, ...listing },
  });
  expect(res.status, res.text).toBe(201);
  const symbol = res.body.symbol as string;
  const ledger = t.node.ledger.service;
  const exchange: Exchange = {
    admin,
    symbol,
    async fund(person, amountMinor, currency) {
      const { account } = await ledger.openWallet(person.id, currency);
      if (amountMinor > 0n) {
        const issuance = await ledger.systemAccount('issuance', currency);
        await ledger.transfer({ ref: `test-fund:${person.id}:${++ref}`, debitAccountId: issuance.id, creditAccountId: account.id, currency, amountMinor, owner: 'test:fund' });
      }
    },
    async trader(usdMinor = 10_000_000n, acme = 10_000n) {
      const user = await t.newUser('Trader', ['bidder']);
      const person = { id: user.id, token: user.token };
      await exchange.fund(person, usdMinor, 'USD');
      await exchange.fund(person, acme, base);
      return person;
    },
    async wallet(person, currency) {
      const r = await t.call('GET', '/api/wallets', { token: person.token });
      const w = (r.body.items as any[]).find((x) => x.currency === currency);
      return w ? { posted: w.posted, held: w.held, available: w.available } : { posted: '0', held: '0', available: '0' };
    },
    order(who, body) {
      return t.call('POST', '/api/exchange/orders', { token: who.token, json: { symbol, ...body } });
    },
  };
  return exchange;
}
