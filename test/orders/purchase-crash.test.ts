// Purchases survive kill -9. A real `gavel start` is killed (SIGKILL, by the fault injection
// GAVEL_FAULT=purchase.crash-after:<step>) right after a step's effect committed — and, for
// ReserveProducts, before its reply was written — then restarted on the same storage with the
// fault moved to the next step: one purchase crashes after each step in turn. Restarted
// without a fault, it completes, and every effect happened once: the stock left the shelf
// once, the buyer paid once, the seller was paid once, one order exists, and the ledger check
// is clean. A purchase that is compensated survives a crash after its undo the same way.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Dialect } from '../../src/platform/db/database.js';
import { DIALECTS, scratchStorage, type ScratchStorage } from '../support/databases.js';
import { GavelProcess, killChildren, request, within, type Answer, type Env } from '../support/process.js';

const SLOW = { timeout: 240_000 };
const ADMIN = { email: 'purchase-root@gavel.test', password: 'purchase-root-password-1' } as const;
const ADMIN_ENV = { GAVEL_ADMIN_EMAIL: ADMIN.email, GAVEL_ADMIN_PASSWORD: ADMIN.password } as const;
const STEPS = ['ValidateInventory', 'ReserveProducts', 'ChargeWallet', 'CreateOrder'] as const;

const storages: ScratchStorage[] = [];
afterEach(async () => {
  await killChildren();
});
afterAll(async () => {
  await Promise.all(storages.splice(0).map((s) => s.drop()));
});

interface Person {
  id: string;
  token: string;
}

let people = 0;

class Client {
  constructor(public base: string) {}

  call(method: string, path: string, token: string | undefined, json?: unknown, headers?: Record<string, string>): Promise<Answer> {
    return request(this.base, method, path, { ...(token && { token }), ...(json !== undefined && { json }), ...(headers && { headers }) });
  }

  async ok(method: string, path: string, token: string | undefined, json: unknown, status: number): Promise<any> {
    const res = await this.call(method, path, token, json);
    expect(res.status, `${method} ${path}: ${res.text}`).toBe(status);
    return res.body;
  }

  async person(role: 'seller' | 'bidder'): Promise<Person> {
    const who = { name: `${role} ${++people}`, email: `p-${role}-${people}-${process.pid}@gavel.test`, password: `password-${people}-long` };
    const registered = await this.ok('POST', '/api/auth/register', undefined, { ...who, roles: [role] }, 201);
    const token = (await this.ok('POST', '/api/auth/login', undefined, { email: who.email, password: who.password }, 200)).token as string;
    return { id: registered.id as string, token };
  }

  async wallet(person: Person): Promise<{ posted: string; held: string }> {
    const res = await this.call('GET', '/api/wallets/USD', person.token);
    return res.status === 404 ? { posted: '0.00', held: '0.00' } : { posted: res.body.posted, held: res.body.held };
  }

  async statement(person: Person): Promise<any[]> {
    return (await this.ok('GET', '/api/wallets/USD/transfers?limit=100', person.token, undefined, 200)).items;
  }

  async until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
    return within(timeoutMs, what, (async () => {
      for (;;) {
        const value = await check();
        if (value !== undefined) return value;
        await new Promise((r) => setTimeout(r, 100));
      }
    })());
  }
}

describe.each(DIALECTS)('purchases across kill -9 on %s', (dialect: Dialect) => {
  let storage: ScratchStorage;
  let args: string[];
  let env: Env;

  async function freshStorage(): Promise<void> {
    storage = await scratchStorage(dialect);
    storages.push(storage);
    args = ['--host', '127.0.0.1', '--port', '0', '--data-dir', storage.dataDir];
    env = { ...ADMIN_ENV, ...(storage.databaseUrl ? { DATABASE_URL: storage.databaseUrl } : {}) };
  }

  /** Starts with `fault`, and waits for it to kill itself there. */
  async function crashAt(fault: string, client: Client): Promise<void> {
    const gavel = await GavelProcess.start(args, { env: { ...env, GAVEL_FAULT: `purchase.crash-after:${fault}` } });
    client.base = gavel.base;
    expect(await gavel.waitForExit(60_000)).toEqual({ code: null, signal: 'SIGKILL' });
    expect(gavel.stdout).toContain(`GAVEL_FAULT: crashing after ${fault}`);
  }

  /** A shop on a running process: admin, category, a seller's product, a funded buyer. */
  async function setUp(client: Client, fundsMinor: string) {
    const admin = (await client.ok('POST', '/api/auth/login', undefined, ADMIN, 200)).token as string;
    const categoryId = (await client.ok('POST', '/api/categories', admin, { name: `Crash shop ${++people}` }, 201)).id as string;
    const seller = await client.person('seller');
    const productId = (await client.ok('POST', '/api/products', seller.token, { title: 'Teapot', description: 'Cast iron', categoryId, price: '10.00', currency: 'USD', stock: 5 }, 201)).id as string;
    const buyer = await client.person('bidder');
    await client.ok('POST', '/api/ledger/adjustments', admin, { userId: buyer.id, currency: 'USD', amount: fundsMinor, direction: 'credit', memo: 'shopping money' }, 201);
    return { admin, seller, productId, buyer };
  }

  it('a purchase killed after each step in turn completes after the restart, every effect once', SLOW, async () => {
    await freshStorage();
    // The first process sets up the shop, takes the purchase and dies after ValidateInventory answered.
    const first = await GavelProcess.start(args, { env: { ...env, GAVEL_FAULT: 'purchase.crash-after:ValidateInventory' } });
    const client = new Client(first.base);
    const { admin, seller, productId, buyer } = await setUp(client, '100.00');
    const answer = await client.call('POST', '/api/purchases', buyer.token, { items: [{ productId, quantity: 2 }], currency: 'USD' }, { 'idempotency-key': 'teapots' }).catch(() => undefined);
    expect(answer === undefined || answer.status === 202 || answer.status === 201).toBe(true);
    expect(await first.waitForExit(60_000)).toEqual({ code: null, signal: 'SIGKILL' });
    expect(first.stdout).toContain('GAVEL_FAULT: crashing after ValidateInventory');

    // Each restart resumes the purchase and dies after the next step.
    for (const step of STEPS.slice(1)) await crashAt(step, client);

    const last = await GavelProcess.start(args, { env });
    client.base = last.base;
    const mine = await client.ok('GET', '/api/purchases', buyer.token, undefined, 200);
    expect(mine.items).toHaveLength(1);
    const id = mine.items[0].id as string;
    const done = await client.until('the purchase to end', async () => {
      const p = await client.ok('GET', `/api/purchases/${id}`, buyer.token, undefined, 200);
      return ['completed', 'compensated'].includes(p.status) ? p : undefined;
    });
    expect(done).toMatchObject({ status: 'completed', total: '20.00', failure: null });
    expect(done.steps.map((s: any) => s.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);

    // Stock left the shelf once.
    expect(await client.ok('GET', `/api/products/${productId}`, undefined, undefined, 200)).toMatchObject({ stock: 3, reserved: 0, available: 3 });
    // The buyer paid once, through one hold captured once; the seller was paid once.
    expect(await client.wallet(buyer)).toEqual({ posted: '80.00', held: '0.00' });
    expect(await client.wallet(seller)).toEqual({ posted: '20.00', held: '0.00' });
    const buyerLines = (await client.statement(buyer)).filter((l) => l.owner === `purchase:${id}`);
    expect(buyerLines.map((l) => [l.kind, l.amount, l.holdStatus]).sort()).toEqual([
      ['capture', '20.00', null],
      ['hold', '20.00', 'captured'],
    ]);
    // One order.
    const orders = (await client.ok('GET', '/api/orders?role=seller', seller.token, undefined, 200)).items;
    expect(orders.map((o: any) => [o.sourceRef, o.status, o.amount])).toEqual([[`${id}:${seller.id}`, 'paid', '20.00']]);
    expect(done.orderIds).toEqual([orders[0].id]);
    expect(await client.ok('GET', '/api/ledger/check', admin, undefined, 200)).toMatchObject({ ok: true, violations: [] });

    // The same request again, once the key's claim has lapsed or not, never buys twice.
    const again = await client.call('POST', '/api/purchases', buyer.token, { items: [{ productId, quantity: 2 }], currency: 'USD' }, { 'idempotency-key': 'teapots' });
    if (again.status === 409) expect(again.body.code).toBe('IDEMPOTENCY_IN_PROGRESS');
    else expect(again.body.id).toBe(id);
    expect((await client.ok('GET', '/api/purchases', buyer.token, undefined, 200)).items).toHaveLength(1);
    expect(await last.stop()).toEqual({ code: 0, signal: null });
  });

  it('a purchase killed after releasing its stock (insufficient funds) ends compensated after the restart, stock back once', SLOW, async () => {
    await freshStorage();
    const setup = await GavelProcess.start(args, { env: { ...env, GAVEL_FAULT: 'purchase.crash-after:ReleaseStock' } });
    const client = new Client(setup.base);
    const { admin, productId, buyer } = await setUp(client, '15.00');
    await client.call('POST', '/api/purchases', buyer.token, { items: [{ productId, quantity: 2 }], currency: 'USD' }, { 'idempotency-key': 'too-dear' }).catch(() => undefined);
    expect(await setup.waitForExit(60_000)).toEqual({ code: null, signal: 'SIGKILL' });
    expect(setup.stdout).toContain('GAVEL_FAULT: crashing after ReleaseStock');

    const last = await GavelProcess.start(args, { env });
    client.base = last.base;
    const [purchase] = (await client.ok('GET', '/api/purchases', buyer.token, undefined, 200)).items;
    const done = await client.until('the purchase to end', async () => {
      const p = await client.ok('GET', `/api/purchases/${purchase.id}`, buyer.token, undefined, 200);
      return ['completed', 'compensated'].includes(p.status) ? p : undefined;
    });
    expect(done).toMatchObject({ status: 'compensated', failure: { step: 'ChargeWallet', reason: 'INSUFFICIENT_FUNDS' } });
    expect(done.steps.map((s: any) => s.status)).toEqual(['succeeded', 'compensated', 'failed', 'pending']);
    expect(await client.ok('GET', `/api/products/${productId}`, undefined, undefined, 200)).toMatchObject({ stock: 5, reserved: 0, available: 5 });
    expect(await client.wallet(buyer)).toEqual({ posted: '15.00', held: '0.00' });
    expect(await client.ok('GET', '/api/ledger/check', admin, undefined, 200)).toMatchObject({ ok: true, violations: [] });
    expect(await last.stop()).toEqual({ code: 0, signal: null });
  });
});
