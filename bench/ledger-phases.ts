// Where a SQLite ledger transfer's time goes (the analysis behind bench/README.md; no npm
// script, run with `npx tsx bench/ledger-phases.ts`). The same posted transfer between funded
// wallets, measured layer by layer on one fresh temp database:
//   service, 64 in flight            what `npm run bench:ledger` measures (the service's own
//                                    transactions: one per operation, or shared where the
//                                    service group-commits)
//   service, 1 in flight             the same without queueing on the one connection
//   service, N per transaction       N transfers in one transaction passed in (service.transfer(op, tx))
//   Kysely build+compile only        building the six queries of a transfer, not running them
//   raw better-sqlite3 …             the six statements (1 ref lookup, 2 account reads,
//                                    2 balance updates, 1 insert) without Kysely: prepared
//                                    once or prepared per call (as Kysely's driver does), one
//                                    transaction per transfer with synchronous FULL or NORMAL,
//                                    or N transfers per transaction; and a write-only variant
//                                    (3 statements: balances checked in memory, the ref left
//                                    to the insert's unique index)
//   raw one-row insert transactions  the commit floor (an fsync per commit under FULL)
// Each phase runs PHASE_OPS transfers (5000) and prints transfers/s, µs per transfer and the
// process CPU over wall time. PHASE_GROUP (100) sets the transfers per group-commit transaction.
// PHASE_PROFILE=file.cpuprofile also records a CPU profile (100 µs sampling) of the
// "1 in flight" phase and prints the share of its time under a few functions.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { Kysely } from 'kysely';
import { MODULE_MIGRATIONS } from '../src/gavel.js';
import { openDatabase } from '../src/platform/db/database.js';
import { migrateAll } from '../src/platform/db/migrations.js';
import { SQLITE_FILE_NAME } from '../src/platform/db/sqlite-adapter.js';
import { systemClock } from '../src/platform/clock.js';
import { createLogger } from '../src/platform/logging.js';
import { uuidv7 } from '../src/platform/ids.js';
import { LedgerService } from '../src/ledger/service.js';
import { LedgerStore, type LedgerTables } from '../src/ledger/store.js';
import type { Account } from '../src/ledger/model.js';

const PHASE_OPS = Number(process.env.PHASE_OPS ?? 5_000);
const GROUP = Number(process.env.PHASE_GROUP ?? 100);
const WALLETS = 1_000;
const CURRENCY = 'USD';

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const rows: string[] = [];

async function phase(name: string, ops: number, body: () => Promise<void> | void): Promise<void> {
  const cpu = process.cpuUsage();
  const began = performance.now();
  await body();
  const ms = performance.now() - began;
  const used = process.cpuUsage(cpu);
  const line = `${name.padEnd(58)} ${fmt((ops * 1000) / ms).padStart(8)}/s ${fmt((ms * 1000) / ops).padStart(7)} µs/op  CPU ${fmt(((used.user + used.system) / 1000 / ms) * 100).padStart(3)}%`;
  rows.push(line);
  console.log(line);
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string };
  children?: number[];
}

/** The share of sampled time spent in (under) each named function. */
function shares(profile: { nodes: ProfileNode[]; samples?: number[]; timeDeltas?: number[] }, names: string[]): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const under = new Map(names.map((n) => [n, 0]));
  let total = 0;
  (profile.samples ?? []).forEach((id, i) => {
    const dt = profile.timeDeltas?.[i] ?? 0;
    total += dt;
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const name = byId.get(cur)!.callFrame.functionName;
      if (under.has(name) && !seen.has(name)) {
        seen.add(name);
        under.set(name, under.get(name)! + dt);
      }
    }
  });
  return [...under].map(([name, t]) => `${name} ${fmt((100 * t) / total, 1)}%`).join(', ');
}

async function inFlight(n: number, ops: number, op: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < ops) await op(next++);
    }),
  );
}

const dir = mkdtempSync(join(tmpdir(), 'gavel-bench-phases-'));
try {
  console.log(`ledger phases on SQLite in ${dir}: ${fmt(PHASE_OPS)} transfers per phase, groups of ${GROUP}; load average ${loadavg().map((l) => l.toFixed(2)).join(', ')}`);
  const database = await openDatabase({ databaseUrl: undefined, dataDir: dir });
  await migrateAll(database, MODULE_MIGRATIONS);
  const store = new LedgerStore(database);
  const service = new LedgerService(store, systemClock, createLogger('silent'));
  await service.start();
  const issuance = await service.systemAccount('issuance', CURRENCY);
  const wallets: Account[] = [];
  for (let i = 0; i < WALLETS; i++) wallets.push((await service.openWallet(uuidv7(Date.now()), CURRENCY)).account);
  await database.kysely.transaction().execute(async (tx) => {
    for (const [i, w] of wallets.entries()) {
      await service.transfer({ ref: `fund:${i}`, debitAccountId: issuance.id, creditAccountId: w.id, currency: CURRENCY, amountMinor: 10n ** 12n, owner: `topup:${i}` }, tx as unknown as Kysely<LedgerTables>);
    }
  });
  let seed = 1;
  const pair = (): [Account, Account] => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    const a = seed % WALLETS;
    const b = (a + 1 + (Math.floor(seed / WALLETS) % (WALLETS - 1))) % WALLETS;
    return [wallets[a]!, wallets[b]!];
  };
  let refs = 0;
  const op = () => {
    const [from, to] = pair();
    return { ref: `p:${refs++}`, debitAccountId: from.id, creditAccountId: to.id, currency: CURRENCY, amountMinor: 1n, owner: 'purchase:phases' };
  };

  // Warm the JIT first, so the first phase is not charged for it.
  await inFlight(64, 2_000, () => service.transfer(op()));

  await phase('service.transfer, 64 in flight, its own transactions', PHASE_OPS, () => inFlight(64, PHASE_OPS, () => service.transfer(op())));
  const profileTo = process.env.PHASE_PROFILE;
  const session = profileTo ? new Session() : undefined;
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
    await session.post('Profiler.start');
  }
  await phase('service.transfer, 1 in flight, its own transactions', PHASE_OPS, () => inFlight(1, PHASE_OPS, () => service.transfer(op())));
  if (session && profileTo) {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    writeFileSync(profileTo, JSON.stringify(profile));
    const line = `  profile of that phase (${profileTo}): ${shares(profile, ['commitTransaction', 'prepare', 'compileQuery', 'uuidv7', '(garbage collector)'])}`;
    rows.push(line);
    console.log(line);
  }
  await phase(`service.transfer, ${GROUP} per transaction (group commit)`, PHASE_OPS, async () => {
    for (let g = 0; g < PHASE_OPS / GROUP; g++) {
      await database.kysely.transaction().execute(async (tx) => {
        for (let i = 0; i < GROUP; i++) await service.transfer(op(), tx as unknown as Kysely<LedgerTables>);
      });
    }
  });

  // Building and compiling the six queries a transfer runs, without running them.
  const db = store.db;
  await phase('Kysely: build + compile the 6 queries only (no SQLite)', PHASE_OPS, () => {
    for (let i = 0; i < PHASE_OPS; i++) {
      const { ref, debitAccountId: a, creditAccountId: b } = op();
      db.selectFrom('ledger_transfers').selectAll().where('ref', '=', ref).compile();
      for (const id of [a, b].sort()) database.forUpdate(db.selectFrom('ledger_accounts').selectAll().where('id', '=', id)).compile();
      for (const id of [a, b]) {
        db.updateTable('ledger_accounts')
          .set((eb) => ({ debits_pending: eb('debits_pending', '+', 0n), debits_posted: eb('debits_posted', '+', 1n), credits_pending: eb('credits_pending', '+', 0n), credits_posted: eb('credits_posted', '+', 0n) }))
          .where('id', '=', id)
          .compile();
      }
      const nowMs = Date.now();
      db.insertInto('ledger_transfers')
        .values({ id: uuidv7(nowMs), ref, kind: 'posted', debit_account_id: a, credit_account_id: b, currency: CURRENCY, amount_minor: 1n, hold_id: null, hold_status: null, owner: 'x', expires_at_ms: null, batch_id: uuidv7(nowMs), memo: '', created_at_ms: nowMs })
        .compile();
    }
  });
  await database.close();

  // The same six statements on better-sqlite3 directly (a second connection to the same file).
  const raw = new BetterSqlite3(join(dir, SQLITE_FILE_NAME));
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = FULL');
  raw.defaultSafeIntegers(true);
  const SQL = {
    byRef: 'select * from ledger_transfers where ref = ?',
    account: 'select * from ledger_accounts where id = ?',
    delta: 'update ledger_accounts set debits_pending = debits_pending + ?, debits_posted = debits_posted + ?, credits_pending = credits_pending + ?, credits_posted = credits_posted + ? where id = ?',
    insert:
      'insert into ledger_transfers (id, ref, kind, debit_account_id, credit_account_id, currency, amount_minor, hold_id, hold_status, owner, expires_at_ms, batch_id, memo, created_at_ms) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  };
  type Statements = { [K in keyof typeof SQL]: BetterSqlite3.Statement };
  const prepareAll = (): Statements => ({ byRef: raw.prepare(SQL.byRef), account: raw.prepare(SQL.account), delta: raw.prepare(SQL.delta), insert: raw.prepare(SQL.insert) });
  const once = prepareAll();
  // Time per statement kind, summed over the phases that pass `split`.
  const split = { refLookup: 0, accountReads: 0, balanceUpdates: 0, insert: 0, n: 0 };
  const rawTransfer = (s: Statements, timing = false) => {
    const t = op();
    const t0 = timing ? performance.now() : 0;
    if (s.byRef.get(t.ref)) throw new Error('ref exists');
    const t1 = timing ? performance.now() : 0;
    const accounts = [t.debitAccountId, t.creditAccountId].sort().map((id) => s.account.get(id) as { id: string; credits_posted: bigint; debits_posted: bigint; debits_pending: bigint });
    const debit = accounts.find((a) => a.id === t.debitAccountId)!;
    if (debit.credits_posted - debit.debits_posted - debit.debits_pending < t.amountMinor) throw new Error('insufficient funds');
    const t2 = timing ? performance.now() : 0;
    s.delta.run(0n, t.amountMinor, 0n, 0n, t.debitAccountId);
    s.delta.run(0n, 0n, 0n, t.amountMinor, t.creditAccountId);
    const t3 = timing ? performance.now() : 0;
    const nowMs = Date.now();
    s.insert.run(uuidv7(nowMs), t.ref, 'posted', t.debitAccountId, t.creditAccountId, t.currency, t.amountMinor, null, null, t.owner, null, uuidv7(nowMs), '', nowMs);
    if (timing) {
      const t4 = performance.now();
      split.refLookup += t1 - t0;
      split.accountReads += t2 - t1;
      split.balanceUpdates += t3 - t2;
      split.insert += t4 - t3;
      split.n += 1;
    }
  };
  // Write-only: balances checked against a copy kept in memory (one writer process owns the
  // embedded ledger), the ref's uniqueness left to the insert's unique index: 3 statements.
  const balances = new Map<string, bigint>(wallets.map((w) => [w.id, 10n ** 12n]));
  const writeOnly = (s: Statements) => {
    const t = op();
    const available = balances.get(t.debitAccountId)!;
    if (available < t.amountMinor) throw new Error('insufficient funds');
    s.delta.run(0n, t.amountMinor, 0n, 0n, t.debitAccountId);
    s.delta.run(0n, 0n, 0n, t.amountMinor, t.creditAccountId);
    const nowMs = Date.now();
    s.insert.run(uuidv7(nowMs), t.ref, 'posted', t.debitAccountId, t.creditAccountId, t.currency, t.amountMinor, null, null, t.owner, null, uuidv7(nowMs), '', nowMs);
    balances.set(t.debitAccountId, available - t.amountMinor);
    balances.set(t.creditAccountId, balances.get(t.creditAccountId)! + t.amountMinor);
  };
  const perCall = raw.transaction(() => rawTransfer(prepareAll()));
  const prepared = raw.transaction(() => rawTransfer(once));
  const grouped = raw.transaction((n: number) => {
    for (let i = 0; i < n; i++) rawTransfer(once, true);
  });
  const groupedWriteOnly = raw.transaction((n: number) => {
    for (let i = 0; i < n; i++) writeOnly(once);
  });

  await phase('raw: prepared per call (as Kysely), 1 tx each, FULL', PHASE_OPS, () => {
    for (let i = 0; i < PHASE_OPS; i++) perCall();
  });
  await phase('raw: prepared once, 1 tx each, synchronous FULL', PHASE_OPS, () => {
    for (let i = 0; i < PHASE_OPS; i++) prepared();
  });
  raw.pragma('synchronous = NORMAL');
  await phase('raw: prepared once, 1 tx each, synchronous NORMAL', PHASE_OPS, () => {
    for (let i = 0; i < PHASE_OPS; i++) prepared();
  });
  raw.pragma('synchronous = FULL');
  await phase(`raw: prepared once, ${GROUP} per tx (group commit), FULL`, PHASE_OPS, () => {
    for (let g = 0; g < PHASE_OPS / GROUP; g++) grouped(GROUP);
  });
  const us = (ms: number) => `${fmt((ms * 1000) / split.n, 1)} µs`;
  const splitLine = `  of which, per transfer: ref lookup ${us(split.refLookup)}, 2 account reads ${us(split.accountReads)}, 2 balance updates ${us(split.balanceUpdates)}, insert ${us(split.insert)}`;
  rows.push(splitLine);
  console.log(splitLine);
  await phase(`raw: write-only (3 statements), ${GROUP} per tx, FULL`, PHASE_OPS, () => {
    for (let g = 0; g < PHASE_OPS / GROUP; g++) groupedWriteOnly(GROUP);
  });
  raw.exec('create table phases_commits (id integer primary key)');
  const insertOne = raw.prepare('insert into phases_commits (id) values (?)');
  const commitOne = raw.transaction((i: number) => insertOne.run(i));
  await phase('raw: one-row insert transactions, FULL (commit floor)', PHASE_OPS, () => {
    for (let i = 0; i < PHASE_OPS; i++) commitOne(i);
  });
  raw.close();

  console.log(`\nledger phases summary (SQLite, ${fmt(PHASE_OPS)} transfers each):\n${rows.join('\n')}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
