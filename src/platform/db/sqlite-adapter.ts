// Embedded storage: one SQLite file in WAL mode under the data dir.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, sql } from 'kysely';
import { FairSqliteDialect, WalSync } from './sqlite-driver.js';
import type { Database } from './database.js';

export const SQLITE_FILE_NAME = 'gavel.sqlite';

/** `syncFile`: how the WAL is fsynced (tests make it fail); fdatasync otherwise. */
export function openSqlite(dataDir: string, options: { syncFile?: ConstructorParameters<typeof WalSync>[1] } = {}): Database {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, SQLITE_FILE_NAME);
  const sqlite = new BetterSqlite3(file);
  sqlite.pragma('journal_mode = WAL');
  // An acknowledged commit survives a power cut, not only a process crash: money is at stake.
  // NORMAL lets a commit write the WAL without an fsync of its own; the driver's WalSync
  // fsyncs the WAL off the event loop and answers each committer only after that, which is
  // what FULL promises, without blocking every other request for the length of the fsync.
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  // The relay runs each event in a savepoint, and a statement that may fail half-way inside a
  // transaction opens a statement journal: SQLite copies every page such a statement first
  // touches into a sub-journal, a temp file by default (two pwrites a page). In memory it is a
  // memcpy: a notification's inbox and queue inserts went from 61-81 µs to 21-22 µs. A sort
  // that needs a temp table is held in memory too; the API's lists are paged, so those are small.
  sqlite.pragma('temp_store = MEMORY');
  sqlite.defaultSafeIntegers(true);
  const walSync = new WalSync(`${file}-wal`, options.syncFile);
  const dialect = new FairSqliteDialect(sqlite, walSync);
  const kysely = new Kysely<object>({ dialect });
  return {
    kysely,
    asyncCommit: new Kysely<object>({ dialect: dialect.asyncCommitDialect() }),
    replica: kysely, // one file, no replicas
    dialect: 'sqlite',
    describe: `sqlite ${file}`,
    singleWriter: true,
    untilDurable: async () => walSync.durableUpTo(walSync.commits),
    isUniqueViolation: (error) =>
      typeof error === 'object' &&
      error !== null &&
      'code' in error &&
      ((error as { code: unknown }).code === 'SQLITE_CONSTRAINT_UNIQUE' || (error as { code: unknown }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY'),
    forUpdate: (query) => query,
    eachRow: {
      run: (tx, sqlText, rows) => void dialect.eachRow(tx, sqlText, rows, 'run'),
      values: (tx, sqlText, rows) => dialect.eachRow(tx, sqlText, rows, 'values') as Array<unknown[] | undefined>,
    },
    ping: async () => {
      walSync.throwIfFailed();
      await sql`select 1`.execute(kysely);
    },
    close: () => kysely.destroy(),
  };
}
