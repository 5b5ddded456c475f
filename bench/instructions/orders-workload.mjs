// The workload that bench/instructions/orders.mjs counts under callgrind: bench:orders' order
// path without its sockets. A whole Gavel node in this process (built code in dist/, SQLite in a
// temp dir, no port); 50 traders keep 4 limit orders each in flight through the exchange
// service (the engine, the ledger's holds and settlements, the journal, the realtime feeds with
// nobody subscribed), prices around the mid so that about half cross. N orders after the set-up.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../../', import.meta.url).pathname.replace(/\/$/, '');
const { startGavel } = await import(`${root}/dist/gavel.js`);
const { loadConfig } = await import(`${root}/dist/platform/config.js`);
const N = Number(process.env.N ?? 0);
const TRADERS = Number(process.env.TRADERS ?? 50), IN_FLIGHT = 4, SYMBOL = 'BNCH-USD';
const ADMIN = { email: 'admin@bench.test', password: 'admin-password-1' };
const dataDir = mkdtempSync(join(tmpdir(), 'gavel-orders-count-'));
const node = await startGavel({ ...loadConfig({}, {}), dataDir, databaseUrl: undefined, logLevel: 'silent', adminEmail: ADMIN.email, adminPassword: ADMIN.password }, { listen: false });

async function call(method, url, json, token) {
  const res = await node.http.inject({ method, url, headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) }, payload: JSON.stringify(json ?? {}) });
  if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
  return JSON.parse(res.body);
}
const admin = (await call('POST', '/api/auth/login', ADMIN)).token;
await call('POST', '/api/ledger/assets', { code: 'BNCH', scale: 0, name: 'Bench shares' }, admin);
await call('POST', '/api/exchange/instruments', { base: 'BNCH', quote: 'USD', tickSize: '0.01', lotSize: '1', maxQuantity: '1000000', makerFeeBps: 10, takerFeeBps: 20 }, admin);
const traders = [];
for (let i = 0; i < TRADERS; i++) {
  const user = await call('POST', '/api/user', { name: `Trader ${i}`, email: `trader-${i}@bench.test`, roles: ['bidder'], password: 'bench-password-long' }, admin);
  for (const [currency, amount] of [['USD', '100000000.00'], ['BNCH', '100000000']]) {
    await call('POST', '/api/ledger/adjustments', { userId: user.id, currency, amount, direction: 'credit', memo: 'bench funds' }, admin);
  }
  traders.push({ userId: user.id, roles: ['bidder'], sessionId: `bench-${i}` });
}

let s = 42;
const rnd = () => { s = (s + 0x6d2b79f5) | 0; let t = Math.imul(s ^ (s >>> 15), 1 | s); t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t; return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
let next = 0;
const t0 = performance.now();
async function trader(principal) {
  while (next < N) {
    next += 1;
    const side = rnd() < 0.5 ? 'buy' : 'sell';
    const ticks = 10_000 + Math.floor(rnd() * 11) - 5 + (side === 'buy' ? -2 : 2);
    await node.exchange.service.place(principal, { symbol: SYMBOL, side, type: 'limit', quantity: String(1 + Math.floor(rnd() * 5)), price: (ticks / 100).toFixed(2) });
  }
}
await Promise.all(traders.flatMap((t) => Array.from({ length: IN_FLIGHT }, () => trader(t))));
console.log(`N=${N} in ${(performance.now() - t0).toFixed(0)} ms`);
await node.stop();
rmSync(dataDir, { recursive: true, force: true });
