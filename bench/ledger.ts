// Ledger throughput through LedgerService: (a) posted transfers between many funded wallets and
// (b) hold+capture pairs, with p50/p99 latency per operation, on SQLite (a fresh temp data dir)
// and on PostgreSQL (a fresh database on BENCH_POSTGRES_URL's server, dropped afterwards;
// skipped with a message where unreachable). Beside each figure, the baseline measured in the
// same run on the same database: transactions that insert one row each, at the same
// concurrency, i.e. what a commit costs before any ledger work.
//
// Bounded: every case stops at LEDGER_OPS operations or LEDGER_SECONDS seconds, whichever comes
// first. Environment: LEDGER_OPS (20000), LEDGER_SECONDS (20), LEDGER_CONCURRENCY (64),
// LEDGER_WALLETS (1000), LEDGER_DIALECTS (sqlite,postgres), LEDGER_CASES (transfers,pairs),
// BENCH_POSTGRES_URL (else GAVEL_TEST_POSTGRES_URL, else postgres://postgres@127.0.0.1:5432/test).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import type { Kysely } from 'kysely';
import { MODULE_MIGRATIONS } from '../src/gavel.js';
import { openDatabase, type Database, type Dialect } from '../src/platform/db/database.js';
import { migrateAll } from '../src/platform/db/migrations.js';
import { redactUrl } from '../src/platform/db/postgres-adapter.js';
import { systemClock } from '../src/platform/clock.js';
import { createLogger } from '../src/platform/logging.js';
import { uuidv7 } from '../src/platform/ids.js';
import { LedgerService } from '../src/ledger/service.js';
import { LedgerStore, type LedgerExecutor } from '../src/ledger/store.js';
import type { Account } from '../src/ledger/model.js';
import { mulberry32 } from '../test/support/random.js';

const OPS = Number(process.env.LEDGER_OPS ?? 20_000);
const SECONDS = Number(process.env.LEDGER_SECONDS ?? 20);
const BASELINE_SECONDS = Math.min(SECONDS, 10);
const CONCURRENCY = Number(process.env.LEDGER_CONCURRENCY ?? 64);
const WALLETS = Number(process.env.LEDGER_WALLETS ?? 1_000);
const DIALECTS = (process.env.LEDGER_DIALECTS ?? 'sqlite,postgres').split(',').map((d) => d.trim()) as Dialect[];
const CASES = new Set((process.env.LEDGER_CASES ?? 'transfers,pairs').split(',').map((c) => c.trim()));
const POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? process.env.GAVEL_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const TARGET_PER_S: Record<Dialect, number> = { sqlite: 20_000, postgres: 5_000 };
const CURRENCY = 'USD';
const FUNDING_GROUP = 100;
const FUNDING_MINOR = 1_000_000_000_000n; // per wallet: enough that no benchmark transfer can overdraw it

// --- measuring ------------------------------------------------------------------------------

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const load = () => `load average ${loadavg().map((l) => l.toFixed(2)).join(', ')}`;

/** Nearest-rank percentile of an ascending array, in ms. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

class Latencies {
  private readonly samples = new Map<string, number[]>();
  add(name: string, ms: number): void {
    let list = this.samples.get(name);
    if (!list) this.samples.set(name, (list = []));
    list.push(ms);
  }
  /** `name p50 x ms, p99 y ms` for every series recorded, in the order first seen. */
  describe(): string {
    return [...this.samples]
      .map(([name, xs]) => {
        const sorted = [...xs].sort((a, b) => a - b);
        return `${name} p50 ${fmt(percentile(sorted, 50), 1)} ms, p99 ${fmt(percentile(sorted, 99), 1)} ms`;
      })
      .join('; ');
  }
}

interface CaseResult {
  ops: number;
  seconds: number;
  perSecond: number;
  errors: number;
  latencies: Latencies;
  cpuPercent: number;
}

/**
 * Runs `op(i)` for i = 0, 1, … with `concurrency` in flight, until `maxOps` have been started
 * or `maxSeconds` have passed; prints progress every second.
 */
async function runCase(label: string, maxOps: number, maxSeconds: number, op: (i: number, lat: Latencies) => Promise<void>, quiet = false): Promise<CaseResult> {
  const latencies = new Latencies();
  let next = 0;
  let done = 0;
  let errors = 0;
  let firstError: unknown;
  const began = performance.now();
  const cpuBefore = process.cpuUsage();
  const deadline = began + maxSeconds * 1000;
  let lastDone = 0;
  let lastAt = began;
  // Progress is printed from the workers, not a timer: on SQLite every query is synchronous
  // underneath, so the operations chain through microtasks and a timer would not fire until
  // the case is over.
  const progress = () => {
    const now = performance.now();
    if (now - lastAt < 1000) return;
    const recent = ((done - lastDone) * 1000) / (now - lastAt);
    lastDone = done;
    lastAt = now;
    if (!quiet) console.log(`  ${label}: ${fmt(done)}/${fmt(maxOps)} in ${((now - began) / 1000).toFixed(1)} s, ${fmt(recent)}/s over the last second${errors ? `, ${errors} errors` : ''} (${load()})`);
  };
  const worker = async () => {
    while (next < maxOps && performance.now() < deadline && errors < 100) {
      const i = next++;
      try {
        await op(i, latencies);
        done++;
      } catch (error) {
        errors++;
        firstError ??= error;
      }
      progress();
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - began) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  if (errors) console.log(`  ${label}: ${errors} operations failed; the first: ${(firstError as Error)?.message ?? String(firstError)}`);
  if (errors >= 100) throw new Error(`${label}: too many failures, stopping`, { cause: firstError });
  return { ops: done, seconds, perSecond: done / seconds, errors, latencies, cpuPercent: ((cpu.user + cpu.system) / 1000 / (seconds * 1000)) * 100 };
}

async function timed<T>(lat: Latencies, name: string, action: () => Promise<T>): Promise<T> {
  const began = performance.now();
  const result = await action();
  lat.add(name, performance.now() - began);
  return result;
}


// --- storage ----------------------------------------------------------------------------------

interface Scratch {
  options: { databaseUrl: string | undefined; dataDir: string };
  where: string;
  drop(): Promise<void>;
}

async function scratch(dialect: Dialect): Promise<Scratch | undefined> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gavel-bench-ledger-'));
  const removeDir = () => rmSync(dataDir, { recursive: true, force: true });
  if (dialect === 'sqlite') return { options: { databaseUrl: undefined, dataDir }, where: `${dataDir} (temp dir)`, drop: async () => removeDir() };
  const admin = postgres(POSTGRES_URL, { max: 1, connect_timeout: 3, onnotice: () => {} });
  const name = `gavel_bench_${process.pid}_${randomBytes(4).toString('hex')}`;
  try {
    await admin.unsafe(`create database ${name}`);
  } catch (error) {
    removeDir();
    console.log(`[skip] PostgreSQL: cannot create a database at ${redactUrl(POSTGRES_URL)} (${(error as Error).message}); set BENCH_POSTGRES_URL to measure it`);
    return undefined;
  } finally {
    await admin.end({ timeout: 1 }).catch(() => {});
  }
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    options: { databaseUrl: url.toString(), dataDir },
    where: `database ${name} on ${redactUrl(POSTGRES_URL)} (dropped afterwards)`,
    drop: async () => {
      const sql = postgres(POSTGRES_URL, { max: 1, onnotice: () => {} });
      try {
        await sql.unsafe(`drop database if exists ${name} with (force)`);
      } finally {
        await sql.end({ timeout: 1 }).catch(() => {});
        removeDir();
      }
    },
  };
}

// --- the cases ----------------------------------------------------------------------------------

interface DialectResult {
  dialect: Dialect;
  baseline: CaseResult;
  transfers?: CaseResult;
  pairs?: CaseResult;
}

async function benchDialect(dialect: Dialect): Promise<DialectResult | undefined> {
  const storage = await scratch(dialect);
  if (!storage) return undefined;
  let database: Database | undefined;
  try {
    database = await openDatabase(storage.options);
    console.log(`\n== ${dialect}: ${storage.where}`);
    await migrateAll(database, MODULE_MIGRATIONS);
    const service = new LedgerService(new LedgerStore(database), systemClock, createLogger('silent'));
    await service.start();
    const issuance = await service.systemAccount('issuance', CURRENCY);
    const run = randomBytes(3).toString('hex');

    // Wallets, funded from issuance through the ledger itself.
    const wallets: Account[] = new Array(WALLETS);
    const opened = await runCase(`${dialect} opening ${WALLETS} wallets`, WALLETS, 600, async (i) => {
      wallets[i] = (await service.openWallet(uuidv7(Date.now()), CURRENCY)).account;
    }, true);
    // Every funding transfer debits the one issuance account (a hot row), so they go 100 to a
    // transaction rather than 64 at a time queueing on its lock.
    const fundingBegan = performance.now();
    for (let from = 0; from < WALLETS; from += FUNDING_GROUP) {
      await database.kysely.transaction().execute(async (tx) => {
        for (let i = from; i < Math.min(WALLETS, from + FUNDING_GROUP); i++) {
          const op = { ref: `bench:${run}:fund:${i}`, debitAccountId: issuance.id, creditAccountId: wallets[i]!.id, currency: CURRENCY, amountMinor: FUNDING_MINOR, owner: `topup:bench:${i}`, memo: 'bench funding' };
          await service.transfer(op, tx as unknown as LedgerExecutor);
        }
      });
    }
    const fundingSeconds = (performance.now() - fundingBegan) / 1000;
    console.log(`  ${fmt(WALLETS)} wallets opened in ${opened.seconds.toFixed(1)} s, funded from the issuance account in ${fundingSeconds.toFixed(1)} s (${FUNDING_GROUP} transfers per transaction)`);

    // Baseline: one-row insert transactions, the floor under any ledger write.
    const kysely = database.kysely as Kysely<{ bench_commits: { id: string } }>;
    await kysely.schema.createTable('bench_commits').addColumn('id', 'text', (c) => c.primaryKey()).execute();
    console.log(`-- ${dialect} baseline: one-row insert transactions (${CONCURRENCY} in flight, at most ${fmt(OPS)} or ${BASELINE_SECONDS} s)`);
    const baseline = await runCase(`${dialect} baseline`, OPS, BASELINE_SECONDS, async (i, lat) => {
      await timed(lat, 'commit', () => kysely.transaction().execute((tx) => tx.insertInto('bench_commits').values({ id: `${run}:${i}` }).execute()));
    });

    const pick = mulberry32(0x6a7e1);
    const pair = (): [Account, Account] => {
      const a = Math.floor(pick() * WALLETS);
      const b = (a + 1 + Math.floor(pick() * (WALLETS - 1))) % WALLETS;
      return [wallets[a]!, wallets[b]!];
    };

    const result: DialectResult = { dialect, baseline };
    if (CASES.has('transfers')) {
      console.log(`-- ${dialect} posted transfers between ${fmt(WALLETS)} wallets (${CONCURRENCY} in flight, at most ${fmt(OPS)} or ${SECONDS} s)`);
      const transfers = await runCase(`${dialect} transfers`, OPS, SECONDS, async (i, lat) => {
        const [from, to] = pair();
        const amountMinor = BigInt(1 + (i % 100));
        await timed(lat, 'transfer', () =>
          service.transfer({ ref: `bench:${run}:t:${i}`, debitAccountId: from.id, creditAccountId: to.id, currency: CURRENCY, amountMinor, owner: `purchase:bench:${i}` }),
        );
      });
      console.log(headline(dialect, 'posted transfers', 'transfers', transfers, baseline));
      result.transfers = transfers;
    }

    if (CASES.has('pairs')) {
      console.log(`-- ${dialect} hold then capture to another wallet (${CONCURRENCY} pairs in flight, at most ${fmt(OPS)} pairs or ${SECONDS} s)`);
      const pairs = await runCase(`${dialect} hold+capture`, OPS, SECONDS, async (i, lat) => {
        const [from, to] = pair();
        const began = performance.now();
        const hold = await timed(lat, 'hold', () =>
          service.hold({ ref: `bench:${run}:h:${i}`, accountId: from.id, currency: CURRENCY, amountMinor: BigInt(1 + (i % 100)), owner: `auction:bench:bid:${i}` }),
        );
        await timed(lat, 'capture', () => service.capture({ ref: `bench:${run}:c:${i}`, holdId: hold.id, toAccountId: to.id }));
        lat.add('pair', performance.now() - began);
      });
      console.log(headline(dialect, 'hold+capture pairs', 'pairs', pairs, baseline));
      result.pairs = pairs;
    }

    const check = await service.check({ userId: 'bench', roles: ['admin'], sessionId: 'bench' });
    console.log(`  invariant check: ${check.violations.length} violations over ${fmt(check.accounts)} accounts and ${fmt(check.transfers)} transfers`);
    if (check.violations.length) throw new Error(`ledger invariants violated: ${JSON.stringify(check.violations.slice(0, 3))}`);
    return result;
  } finally {
    await database?.close().catch(() => {});
    await storage.drop();
  }
}

function headline(dialect: Dialect, what: string, unit: string, r: CaseResult, baseline: CaseResult): string {
  const target = what === 'posted transfers' ? `; target ≥ ${fmt(TARGET_PER_S[dialect])}/s ${r.perSecond >= TARGET_PER_S[dialect] ? 'MET' : 'NOT MET'}` : '';
  return (
    `${dialect} ${what}: ${fmt(r.perSecond)} ${unit}/s (${r.latencies.describe()}; ${fmt(r.ops)} in ${r.seconds.toFixed(1)} s, ${CONCURRENCY} in flight, ` +
    `bench process CPU ${fmt(r.cpuPercent)}%) — baseline one-row insert transactions ${fmt(baseline.perSecond)}/s (${baseline.latencies.describe()})${target}; ${load()}`
  );
}

// --- main -------------------------------------------------------------------------------------

console.log(`ledger bench: ${DIALECTS.join(' and ')}, ${fmt(WALLETS)} wallets, ${CONCURRENCY} in flight, each case at most ${fmt(OPS)} operations or ${SECONDS} s; ${load()}`);
const results: DialectResult[] = [];
for (const dialect of DIALECTS) {
  const result = await benchDialect(dialect);
  if (result) results.push(result);
}
console.log('');
const summary = results.map((r) =>
  [
    r.transfers && `${r.dialect} ${fmt(r.transfers.perSecond)} transfers/s (target ${fmt(TARGET_PER_S[r.dialect])}/s)`,
    r.pairs && `${r.dialect} ${fmt(r.pairs.perSecond)} hold+capture pairs/s`,
    `${r.dialect} baseline commits ${fmt(r.baseline.perSecond)}/s`,
  ]
    .filter(Boolean)
    .join(', '),
);
console.log(`ledger summary: ${summary.join('; ') || 'nothing measured'}; ${load()}`);
