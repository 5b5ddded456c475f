// The workload that bench/instructions/ledger-transfers.mjs counts under callgrind: bench:ledger's
// posted transfers (1,000 funded wallets, 64 transfers in flight, seeded random pairs, a SQLite
// temp dir), N of them after the set-up, on the built code in dist/. Nothing is fsynced.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const root = new URL('../../', import.meta.url).pathname.replace(/\/$/, '');
const { MODULE_MIGRATIONS } = await import(`${root}/dist/gavel.js`);
const { openSqlite } = await import(`${root}/dist/platform/db/sqlite-adapter.js`);
const { migrateAll } = await import(`${root}/dist/platform/db/migrations.js`);
const { systemClock } = await import(`${root}/dist/platform/clock.js`);
const { createLogger } = await import(`${root}/dist/platform/logging.js`);
const { uuidv7 } = await import(`${root}/dist/platform/ids.js`);
const { LedgerService } = await import(`${root}/dist/ledger/service.js`);
const { LedgerStore } = await import(`${root}/dist/ledger/store.js`);
const N = Number(process.env.N ?? 0), WALLETS = 1000, CONC = 64;
const dataDir = mkdtempSync(join(tmpdir(), 'ic-'));
// The WAL's fsync is answered on the next turn of the event loop instead of by the disk: how
// transfers gather into groups then depends on this code alone, not on the disk's timing
// (which, under valgrind's slowdown, moved the count by ±20 % from run to run).
const database = openSqlite(dataDir, { syncFile: (fd, done) => setImmediate(() => done(null)) });
await migrateAll(database, MODULE_MIGRATIONS);
const service = new LedgerService(new LedgerStore(database), systemClock, createLogger('silent'));
await service.start();
const issuance = await service.systemAccount('issuance', 'USD');
const wallets = [];
for (let i = 0; i < WALLETS; i++) wallets.push((await service.openWallet(uuidv7(Date.now()), 'USD')).account);
for (let from = 0; from < WALLETS; from += 100) {
  await database.kysely.transaction().execute(async (tx) => {
    for (let i = from; i < from + 100; i++) await service.transfer({ ref: `f:${i}`, debitAccountId: issuance.id, creditAccountId: wallets[i].id, currency: 'USD', amountMinor: 10n ** 12n, owner: `topup:${i}`, memo: 'fund' }, tx);
  });
}
let s = 0x6a7e1;
const rnd = () => { s = (s + 0x6d2b79f5) | 0; let t = Math.imul(s ^ (s >>> 15), 1 | s); t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t; return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
let next = 0;
const t0 = performance.now();
async function worker() {
  while (next < N) {
    const i = next++;
    const a = Math.floor(rnd() * WALLETS), b = (a + 1 + Math.floor(rnd() * (WALLETS - 1))) % WALLETS;
    await service.transfer({ ref: `t:${i}`, debitAccountId: wallets[a].id, creditAccountId: wallets[b].id, currency: 'USD', amountMinor: BigInt(1 + (i % 100)), owner: `purchase:${i}` });
  }
}
await Promise.all(Array.from({ length: CONC }, worker));
console.log(`N=${N} in ${(performance.now() - t0).toFixed(0)} ms`);
await database.close();
rmSync(dataDir, { recursive: true, force: true });
