import { sql, Kysely } from 'kysely';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { closeSync, fdatasync, fstatSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqlite } from './sqlite-adapter.js';
import { FairSqliteDialect, WalSync } from './sqlite-driver.js';

const READS = 2_000;

/** Temp dirs this file made, removed at its end (each test's database stays open until then). */
const scratchDirs: string[] = [];
afterAll(() => scratchDirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratchDirs.push(dir);
  return dir;
}

/** How many reads a looping reader got done before a writer who asked once was served. */
async function readsBeforeWriter(db: Kysely<any>): Promise<number> {
  await sql`create table t (n integer)`.execute(db);
  let reads = 0;
  let writerDone = -1;
  const reader = (async () => {
    for (let i = 0; i < READS; i++) {
      await sql`select 1`.execute(db);
      reads += 1;
    }
  })();
  await sql`select 1`.execute(db); // the reader is looping now
  await db.transaction().execute(async (tx) => {
    await sql`insert into t (n) values (1)`.execute(tx);
  });
  writerDone = reads;
  await reader;
  await db.destroy();
  return writerDone;
}

describe('the embedded store’s connection lock', () => {
  it('serves a writer after at most a few reads of a reader looping on queries, in arrival order', async () => {
    const fair = new Kysely<any>({ dialect: new FairSqliteDialect(new BetterSqlite3(':memory:')) });
    expect(await readsBeforeWriter(fair)).toBeLessThan(10);
  });

});

/** A WalSync whose fsyncs finish only when the test says so. */
function manualSync(walPath: string) {
  const pending: Array<(error: NodeJS.ErrnoException | null) => void> = [];
  const walSync = new WalSync(walPath, (_fd, done) => pending.push(done));
  const finishNext = async (error: NodeJS.ErrnoException | null = null) => {
    for (let i = 0; pending.length === 0 && i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
    pending.shift()!(error);
  };
  return { walSync, pending, finishNext };
}

function fileDatabase(): { file: string; sqlite: BetterSqlite3.Database } {
  const file = join(scratchDir('gavel-walsync-'), 'db.sqlite');
  const sqlite = new BetterSqlite3(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  return { file, sqlite };
}

/** Resolves to whether `promise` settled within a few turns of the event loop. */
async function settles(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  return settled;
}

/** A file database with table `t`, on a WalSync whose fsyncs the test finishes. */
async function withTable() {
  const { file, sqlite } = fileDatabase();
  const sync = manualSync(`${file}-wal`);
  const dialect = new FairSqliteDialect(sqlite, sync.walSync);
  const db = new Kysely<any>({ dialect });
  const created = sql`create table t (n integer)`.execute(db);
  await sync.finishNext();
  await created;
  return { ...sync, dialect, db };
}

describe('rows from the embedded store', () => {
  it('come back as plain objects named by their columns, with bigints, nulls and repeated names as better-sqlite3 gives them', async () => {
    const sqlite = new BetterSqlite3(':memory:');
    sqlite.defaultSafeIntegers(true);
    const db = new Kysely<any>({ dialect: new FairSqliteDialect(sqlite) });
    await sql`create table t (n integer, label text, "odd ""name"": {}" text)`.execute(db);
    await sql`insert into t values (9007199254740993, 'a', 'x'), (2, null, '')`.execute(db);
    const { rows } = await sql<any>`select * from t order by n desc`.execute(db);
    expect(rows).toEqual([
      { n: 9007199254740993n, label: 'a', 'odd "name": {}': 'x' },
      { n: 2n, label: null, 'odd "name": {}': '' },
    ]);
    expect(Object.keys(rows[0])).toEqual(['n', 'label', 'odd "name": {}']);
    // Two columns of one name: the later wins, as in better-sqlite3's own objects.
    expect((await sql<any>`select n as v, label as v from t where n = 2`.execute(db)).rows).toEqual([sqlite.prepare('select n as v, label as v from t where n = 2').get()]);
    expect((await sql<any>`select * from t where n = 3`.execute(db)).rows).toEqual([]);
    // A column named __proto__ is a property like any other, not the row's prototype.
    const [odd] = (await sql<any>`select 1 as "__proto__", 2 as "constructor"`.execute(db)).rows;
    expect(Object.getPrototypeOf(odd)).toBe(Object.prototype);
    expect(Object.keys(odd)).toEqual(['__proto__', 'constructor']);
    expect(Object.getOwnPropertyDescriptor(odd, '__proto__')?.value).toBe(1n);
    await db.destroy();
  });

  it('follow a schema change: a select cached before it answers the columns as they are after it', async () => {
    const sqlite = new BetterSqlite3(':memory:');
    const db = new Kysely<any>({ dialect: new FairSqliteDialect(sqlite) });
    await sql`create table t (n integer)`.execute(db);
    await sql`insert into t values (1)`.execute(db);
    expect((await sql`select * from t`.execute(db)).rows).toEqual([{ n: 1 }]);
    await sql`alter table t add column label text default 'new'`.execute(db);
    expect((await sql`select * from t`.execute(db)).rows).toEqual([{ n: 1, label: 'new' }]);
    await sql`drop table t`.execute(db);
    await sql`create table t (m text)`.execute(db);
    await sql`insert into t values ('again')`.execute(db);
    expect((await sql`select * from t`.execute(db)).rows).toEqual([{ m: 'again' }]);
    await db.destroy();
  });
});

describe('durable commits off the event loop (WalSync)', () => {
  it('answers a committer only after an fsync of the WAL that began after its commit', async () => {
    const { file, sqlite } = fileDatabase();
    const { walSync, pending, finishNext } = manualSync(`${file}-wal`);
    const db = new Kysely<any>({ dialect: new FairSqliteDialect(sqlite, walSync) });
    const created = sql`create table t (n integer)`.execute(db);
    // The create table was a write outside a transaction: it waits for its own fsync too.
    expect(await settles(created)).toBe(false);
    expect(pending).toHaveLength(1);
    await finishNext();
    await created;

    const first = db.transaction().execute((tx) => sql`insert into t (n) values (1)`.execute(tx));
    expect(await settles(first)).toBe(false);
    expect(pending).toHaveLength(1);
    await finishNext();
    expect(await settles(first)).toBe(true);
    await db.destroy();
  });

  it('answers a write that returns rows outside a transaction only once it is on disk', async () => {
    const { db, pending, finishNext } = await withTable();
    const inserted = sql<{ n: number }>`insert into t (n) values (7) returning n`.execute(db);
    expect(await settles(inserted)).toBe(false);
    expect(pending).toHaveLength(1);
    await finishNext();
    expect((await inserted).rows).toEqual([{ n: 7 }]);
    // A plain read needs no fsync of its own.
    expect((await sql`select n from t`.execute(db)).rows).toEqual([{ n: 7 }]);
    expect(pending).toHaveLength(0);
    await db.destroy();
  });

  it('hands the connection on once a commit is written: the next transactions run during its fsync and share the next one, and a read of them is answered only once they are on disk', async () => {
    const { db, pending, finishNext } = await withTable();

    const first = db.transaction().execute((tx) => sql`insert into t (n) values (1)`.execute(tx));
    await settles(first);
    expect(pending).toHaveLength(1); // its fsync is running
    const ran: number[] = [];
    const later = [2, 3, 4].map((n) =>
      db.transaction().execute(async (tx) => {
        await sql`insert into t (n) values (${n})`.execute(tx);
        ran.push(n);
      }),
    );
    const read = sql<{ c: bigint }>`select count(*) as c from t`.execute(db);
    expect(await settles(Promise.all(later))).toBe(false);
    expect(ran).toEqual([2, 3, 4]); // they ran and committed while the first fsync was under way
    expect(await settles(read)).toBe(false); // it saw them: not answered before they are on disk
    expect(pending).toHaveLength(1);

    await finishNext();
    expect(await settles(first)).toBe(true);
    expect(await settles(Promise.all(later))).toBe(false);
    expect(await settles(read)).toBe(false);
    expect(pending).toHaveLength(1); // one fsync for the three commits made during the first
    await finishNext();
    await Promise.all(later);
    expect((await read).rows[0]!.c).toBe(4);
    expect(pending).toHaveLength(0);
    await db.destroy();
  });

  it('answers a rolled-back transaction only once the commits it could have read are on disk', async () => {
    const { db, finishNext } = await withTable();
    const first = db.transaction().execute((tx) => sql`insert into t (n) values (1)`.execute(tx));
    await settles(first);
    let decided = false;
    const refused = db.transaction().execute(async (tx) => {
      const { rows } = await sql<{ c: bigint }>`select count(*) as c from t`.execute(tx);
      decided = true;
      throw new Error(`refused: ${rows[0]!.c} rows already`);
    });
    expect(await settles(refused)).toBe(false);
    expect(decided).toBe(true); // it ran during the first commit's fsync
    await finishNext();
    await expect(refused).rejects.toThrow('refused: 1 rows already');
    await first;
    await db.destroy();
  });

  it('untilDurable resolves once every commit so far is on disk', async () => {
    const pending: Array<(error: NodeJS.ErrnoException | null) => void> = [];
    const store = openSqlite(scratchDir('gavel-untildurable-'), { syncFile: (_fd, done) => pending.push(done) });
    const created = sql`create table t (n integer)`.execute(store.kysely);
    await settles(created);
    pending.shift()!(null);
    await created;
    await store.untilDurable(); // nothing waits to be synced
    const tx = await store.kysely.startTransaction().execute();
    const other = store.kysely.transaction().execute((t) => sql`insert into t (n) values (1)`.execute(t));
    await sql`insert into t (n) values (2)`.execute(tx);
    await settles(tx.commit().execute());
    // The second transaction ran once the first was written; a publisher inside it waits.
    const durable = store.untilDurable();
    expect(await settles(durable)).toBe(false);
    while (pending.length > 0) {
      pending.shift()!(null);
      await settles(durable);
    }
    await durable;
    await other;
    await store.close();
  });

  it('fails the commit whose fsync failed, a read that saw it, and every commit after it', async () => {
    const { db, finishNext } = await withTable();
    const doomed = db.transaction().execute((tx) => sql`insert into t (n) values (1)`.execute(tx));
    await settles(doomed);
    const read = sql`select n from t`.execute(db);
    expect(await settles(read)).toBe(false);
    const eio = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    await finishNext(eio);
    await expect(doomed).rejects.toThrow('EIO');
    await expect(read).rejects.toThrow('EIO');
    await expect(db.transaction().execute((tx) => sql`insert into t (n) values (2)`.execute(tx))).rejects.toThrow('EIO');
    await db.destroy();
  });

  it('after a failed fsync the store is not ready and says why; a restart serves what was answered', async () => {
    const dataDir = scratchDir('gavel-walsync-');
    let diskFails = false;
    const syncFile = (fd: number, done: (error: NodeJS.ErrnoException | null) => void) => (diskFails ? done(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' })) : fdatasync(fd, done));
    const store = openSqlite(dataDir, { syncFile });
    await sql`create table t (n integer)`.execute(store.kysely);
    await store.kysely.transaction().execute((tx) => sql`insert into t (n) values (1)`.execute(tx));
    await store.ping();

    diskFails = true;
    await expect(store.kysely.transaction().execute((tx) => sql`insert into t (n) values (2)`.execute(tx))).rejects.toThrow('EIO');
    await expect(store.ping()).rejects.toThrow(/writing the database to disk failed \(EIO: i\/o error, fdatasync\).*restart the process/);
    await store.close();

    const restarted = openSqlite(dataDir);
    await restarted.ping();
    const { rows } = await sql<{ n: bigint }>`select n from t where n = 1`.execute(restarted.kysely);
    expect(rows).toHaveLength(1);
    await restarted.close();
  });

  it('eachRow runs inside a transaction only, and what it wrote commits or rolls back with it', async () => {
    const store = openSqlite(scratchDir('gavel-eachrow-'));
    const each = store.eachRow!;
    await sql`create table t (n integer primary key, label text)`.execute(store.kysely);
    expect(() => each.run(store.kysely, 'insert into t (n, label) values (?, ?)', [[1, 'a']])).toThrow(/only inside a transaction/);
    await store.kysely.transaction().execute(async (tx) => {
      each.run(tx, 'insert into t (n, label) values (?, ?)', [[1, 'a'], [2, 'b'], [3, 'c']]);
      expect(each.values(tx, 'select label, n from t where n = ?', [[3], [9], [1]])).toEqual([['c', 3n], undefined, ['a', 1n]]);
      // The same statement, cached, through Kysely: row objects there.
      expect((await sql<{ label: string; n: bigint }>`select label, n from t where n = ${3}`.execute(tx)).rows).toEqual([{ label: 'c', n: 3n }]);
    });
    await expect(
      store.kysely.transaction().execute(async (tx) => {
        each.run(tx, 'update t set label = ? where n = ?', [['changed', 1]]);
        throw new Error('the caller gives up');
      }),
    ).rejects.toThrow('the caller gives up');
    const { rows } = await sql<{ n: bigint; label: string }>`select n, label from t order by n`.execute(store.kysely);
    expect(rows).toEqual([{ n: 1n, label: 'a' }, { n: 2n, label: 'b' }, { n: 3n, label: 'c' }]);
    await store.close();
  });

  it('keeps what was answered across a reopen, with the real fsync', async () => {
    const { file, sqlite } = fileDatabase();
    const db = new Kysely<any>({ dialect: new FairSqliteDialect(sqlite, new WalSync(`${file}-wal`)) });
    await sql`create table t (n integer)`.execute(db);
    await Promise.all(Array.from({ length: 50 }, (_, i) => db.transaction().execute((tx) => sql`insert into t (n) values (${i})`.execute(tx))));
    await db.destroy();
    const reopened = new BetterSqlite3(file);
    expect(reopened.prepare('select count(*) as c from t').get()).toEqual({ c: 50 });
    reopened.close();
  });
});

describe('a power cut (the WAL cut back to what was fsynced)', () => {
  it('loses nothing anyone was told: every acknowledged commit and every row a read or an async commit answered is on disk', async () => {
    const { file, sqlite } = fileDatabase();
    sqlite.pragma('wal_autocheckpoint = 0'); // the WAL only grows, so its synced prefix is what survives
    // What a power cut keeps: the WAL up to its length when the last finished fsync began.
    let durableBytes = 0;
    const slowSync = (fd: number, done: (error: NodeJS.ErrnoException | null) => void) => {
      const length = fstatSync(fd).size;
      setTimeout(() => fdatasync(fd, (error) => {
        if (!error) durableBytes = length;
        done(error);
      }), 2); // a slow disk, so that commits pile up behind each fsync
    };
    const dialect = new FairSqliteDialect(sqlite, new WalSync(`${file}-wal`, slowSync));
    const db = new Kysely<any>({ dialect });
    const asyncDb = new Kysely<any>({ dialect: dialect.asyncCommitDialect() });
    await sql`create table t (n integer primary key)`.execute(db);

    const acknowledged = new Set<number>();
    const answered = new Set<number>();
    let next = 1;
    let running = true;
    const latest = async (executor: Kysely<any>) => (await sql<{ n: bigint | null }>`select max(n) as n from t`.execute(executor)).rows[0]!.n;
    // A read with nothing to wait for answers within the microtask queue: each loop yields, so the
    // timers and the fsyncs' callbacks run.
    const yieldToIo = () => new Promise((resolve) => setImmediate(resolve));
    const writer = async () => {
      while (running) {
        const n = next++;
        await db.transaction().execute((tx) => sql`insert into t (n) values (${n})`.execute(tx));
        acknowledged.add(n);
        await yieldToIo();
      }
    };
    const reader = async () => {
      while (running) {
        const n = await latest(db);
        if (n !== null) answered.add(Number(n));
        await yieldToIo();
      }
    };
    const asyncWriter = async () => {
      while (running) {
        const n = next++;
        // Its own row may be lost (not waited for), but not the one it read and answered.
        const seen = await asyncDb.transaction().execute(async (tx) => {
          const found = await latest(tx);
          await sql`insert into t (n) values (${n})`.execute(tx);
          return found;
        });
        if (seen !== null) answered.add(Number(seen));
        await yieldToIo();
      }
    };
    const loops = [...Array.from({ length: 8 }, writer), ...Array.from({ length: 4 }, reader), ...Array.from({ length: 2 }, asyncWriter)];

    await new Promise((resolve) => setTimeout(resolve, 150));
    // The cut, in one synchronous step (nothing else runs meanwhile): the database file as it
    // is, and the WAL only as far as it was fsynced.
    const cutDir = scratchDir('gavel-powercut-');
    writeFileSync(join(cutDir, 'db.sqlite'), readFileSync(file));
    const wal = Buffer.alloc(durableBytes);
    const fd = openSync(`${file}-wal`, 'r');
    readSync(fd, wal, 0, durableBytes, 0);
    closeSync(fd);
    writeFileSync(join(cutDir, 'db.sqlite-wal'), wal);
    const toldBeforeCut = new Set([...acknowledged, ...answered]);
    const liveRows = Number((sqlite.prepare('select count(*) as c from t').get() as { c: number }).c);
    running = false;
    await Promise.all(loops);
    await asyncDb.destroy();
    await db.destroy();

    const survivor = new BetterSqlite3(join(cutDir, 'db.sqlite'));
    const kept = new Set((survivor.prepare('select n from t').all() as Array<{ n: number }>).map((r) => r.n));
    survivor.close();
    // The cut fell among commits not yet on disk, or it proves nothing.
    expect(kept.size).toBeLessThan(liveRows);
    expect(acknowledged.size).toBeGreaterThan(50);
    expect(answered.size).toBeGreaterThan(10);
    expect([...toldBeforeCut].filter((n) => !kept.has(n))).toEqual([]);
  });
});

describe('asynchronous commits on the same connection (Database.asyncCommit)', () => {
  it('return once written without waiting for the fsync, share the connection in arrival order, and stay open when their Kysely is destroyed', async () => {
    const { dialect, db, pending, finishNext } = await withTable();
    const asyncDb = new Kysely<any>({ dialect: dialect.asyncCommitDialect() });

    // Not waited for: answered though its fsync has not even finished.
    await asyncDb.transaction().execute((tx) => sql`insert into t (n) values (1)`.execute(tx));
    expect(pending).toHaveLength(1);
    // Another one runs while that fsync is under way: answered once the first is on disk (it may
    // have read it), not its own commit.
    const second = asyncDb.transaction().execute((tx) => sql`insert into t (n) values (5)`.execute(tx));
    expect(await settles(second)).toBe(false);
    await finishNext();
    expect(await settles(second)).toBe(true);
    expect(pending).toHaveLength(1); // the second's fsync, which nobody waits for
    // A waited-for commit after it waits for a sync that covers both.
    const waited = db.transaction().execute((tx) => sql`insert into t (n) values (2)`.execute(tx));
    expect(await settles(waited)).toBe(false);
    await finishNext();
    await finishNext();
    await waited;

    // One connection: a transaction on either Kysely runs alone.
    const order: string[] = [];
    await Promise.all([
      db.transaction().execute(async (tx) => {
        order.push('a begins');
        await sql`insert into t (n) values (3)`.execute(tx);
        await new Promise((resolve) => setTimeout(resolve, 10));
        order.push('a ends');
      }),
      asyncDb.transaction().execute(async (tx) => {
        order.push('b begins');
        await sql`insert into t (n) values (4)`.execute(tx);
        order.push('b ends');
      }),
      (async () => {
        while (pending.length === 0) await new Promise((resolve) => setImmediate(resolve));
        await finishNext();
        while (pending.length > 0) await finishNext();
      })(),
    ]);
    expect(order).toEqual(['a begins', 'a ends', 'b begins', 'b ends']);
    while (pending.length > 0) await finishNext(); // b's fsync, which nobody waited for

    await asyncDb.destroy();
    expect((await sql<{ c: bigint }>`select count(*) as c from t`.execute(db)).rows[0]!.c).toBe(5);
    await db.destroy();
  });
});
