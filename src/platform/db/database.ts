// The storage port. One Kysely query language over two adapters; whatever differs between
// SQLite and PostgreSQL is declared here once, as capabilities of the adapter, so services
// never branch on the dialect themselves.
import type { Kysely, SelectQueryBuilder } from 'kysely';

export type Dialect = 'sqlite' | 'postgres';

export interface Database {
  /** Untyped at this level: each module's store casts it to its own tables' type. */
  readonly kysely: Kysely<object>;
  /**
   * For reads that tolerate lag: the PostgreSQL read replicas (DATABASE_REPLICA_URLS) when
   * there are any, else the same as `kysely`. A replica may lag the primary by the replication
   * delay, so never read through it what must reflect a write just made — money, bids,
   * idempotency keys, a page the caller has just changed — and never write through it
   * (replicas refuse writes). When no replica answers, reads go to the primary.
   */
  readonly replica: Kysely<object>;
  /**
   * The same database with asynchronous commits (PostgreSQL's term): a commit through it returns
   * once written, without waiting for it to reach the disk, so a crash of the machine (not of
   * the process) may lose the last few. Only for writes nobody is told about and that are safe
   * to lose and redo: the delivery workers' leases and outcomes (a lost one is a delivery made
   * again, which at-least-once delivery allows). Any later commit waited for as usual makes
   * these durable too: the log is written in order. On PostgreSQL, the same as `kysely`.
   */
  readonly asyncCommit: Kysely<object>;
  readonly dialect: Dialect;
  /** A short description for logs, without credentials. */
  readonly describe: string;
  /**
   * True when one connection does all writing (SQLite): transactions queue behind each other,
   * so writers that commit often should share commits (see batch-commit.ts).
   */
  readonly singleWriter: boolean;
  /**
   * Resolves once every commit made so far is on disk. On SQLite a commit's rows are seen by
   * the next transaction while its fsync still runs (every answer the driver gives waits for
   * that fsync); code that acts outside the database on rows it read, before its transaction
   * ends (publishing them to NATS, say), waits for this first. PostgreSQL: at once, a commit is
   * seen only once it is durable.
   */
  untilDurable(): Promise<void>;
  /** True when the error is a unique-constraint violation. */
  isUniqueViolation(error: unknown): boolean;
  /**
   * Locks the selected rows until the transaction ends. PostgreSQL: FOR UPDATE. SQLite needs
   * nothing: one connection writes at a time, and a transaction holds it throughout.
   */
  forUpdate<DB, TB extends keyof DB, O>(query: SelectQueryBuilder<DB, TB, O>): SelectQueryBuilder<DB, TB, O>;
  /**
   * SQLite only (absent on PostgreSQL): one prepared statement run once per parameter list, on
   * the connection the transaction `tx` holds, synchronously, with no query building per row.
   * `values` answers each run's first row as an array of its column values in the select list's
   * order (undefined where there is none): no object per row, which costs more than the lookup
   * itself (better-sqlite3 builds a row object property by property). For hot paths that
   * touch many rows a transaction: on SQLite a short statement per row is about 3× cheaper than
   * one long multi-row statement (no temporary table, no per-group parse), while on PostgreSQL
   * one statement for all rows saves the round trips, so callers keep that path there.
   */
  readonly eachRow?: {
    run(tx: Kysely<any>, sqlText: string, rows: ReadonlyArray<readonly unknown[]>): void;
    values(tx: Kysely<any>, sqlText: string, rows: ReadonlyArray<readonly unknown[]>): Array<unknown[] | undefined>;
  };
  /** Succeeds when storage answers a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The store's statement-per-row runner when `ex` is a transaction holding the connection (SQLite); else undefined. */
export function eachRowIn(database: Database, ex: Kysely<any>): Database['eachRow'] {
  return ex.isTransaction ? database.eachRow : undefined;
}

/**
 * `bigint` columns (and counts) come back as `bigint` from both adapters, so money never passes
 * through a float; 4-byte `integer` columns come back as `bigint` from SQLite and `number`
 * from PostgreSQL. Columns that are safely small (times in ms, counts) go through this on the
 * way out. Money columns are always declared `bigint`.
 */
export function toNumber(value: bigint | number | string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`integer ${String(value)} is outside the safe range`);
  return n;
}

export async function openDatabase(options: { databaseUrl: string | undefined; databaseReplicaUrls?: readonly string[]; dataDir: string }): Promise<Database> {
  if (options.databaseUrl) {
    const { openPostgres } = await import('./postgres-adapter.js');
    return openPostgres(options.databaseUrl, { replicaUrls: options.databaseReplicaUrls ?? [] });
  }
  const { openSqlite } = await import('./sqlite-adapter.js');
  return openSqlite(options.dataDir);
}
