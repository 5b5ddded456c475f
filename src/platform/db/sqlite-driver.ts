// Kysely's SQLite dialect with our own driver, for reasons measured in bench/README.md:
// - a FIFO lock on the one connection: Kysely's own lock wakes every waiter at once and
//   lets whichever runs first take it, so it promises no order; ours hands the connection
//   over strictly in arrival order;
// - a bounded cache of prepared statements: Kysely's driver prepares every statement anew,
//   about a third of the ledger's time on the hot path;
// - commits made durable off the event loop (WalSync): the connection runs with
//   `synchronous = NORMAL`, so a commit only writes the WAL, and the driver answers the
//   committer after an fdatasync of the WAL on libuv's thread pool. The connection is handed
//   on as soon as the commit is written, so the next transaction runs during the fsync and
//   commits that pile up share the next one; in exchange, no answer leaves the driver before
//   everything it could have seen is on disk (a commit waits for its own fsync; a read, a
//   rollback and an async commit wait for the fsyncs of the commits before them);
// - rows built in JavaScript: a statement that returns rows runs in better-sqlite3's raw mode
//   (arrays of values) and each row becomes an object through one object literal made for the
//   statement's columns, instead of better-sqlite3 adding each property through V8's API.
import { close, fdatasync, openSync } from 'node:fs';
import type BetterSqlite3 from 'better-sqlite3';
import {
  CompiledQuery,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
} from 'kysely';

/** Distinct SQL texts kept prepared; past it the least recently used is dropped. */
export const STATEMENT_CACHE_MAX = 500;

export class FairSqliteDialect implements Dialect {
  private readonly driver: FairSqliteDriver;

  /** `walSync`: for a file database in WAL mode with `synchronous = NORMAL`; without it commits are as durable as the connection's own setting makes them. */
  constructor(database: BetterSqlite3.Database, walSync?: WalSync) {
    this.driver = new FairSqliteDriver(database, walSync, true, undefined);
  }

  createDriver(): Driver {
    return this.driver;
  }

  /**
   * `sqlText`, prepared once and cached, run once per parameter list, synchronously. Only for a
   * caller inside a transaction: it holds the one connection, so nothing else runs on it meanwhile.
   */
  eachRow(tx: Kysely<any>, sqlText: string, rows: ReadonlyArray<readonly unknown[]>, mode: 'run' | 'values'): unknown[] {
    if (!tx.isTransaction) throw new Error('eachRow runs only inside a transaction (it holds the connection)');
    return this.driver.eachRow(sqlText, rows, mode);
  }

  /**
   * The same connection (its lock, its statements) for a second Kysely whose commits do not
   * wait for their fsync: Database.asyncCommit. Destroying that Kysely leaves the connection open.
   */
  asyncCommitDialect(): Dialect {
    return {
      createDriver: () => this.driver.withoutSyncWait(),
      createQueryCompiler: () => this.createQueryCompiler(),
      createAdapter: () => this.createAdapter(),
      createIntrospector: (db) => this.createIntrospector(db),
    };
  }

  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }
  createAdapter(): DialectAdapter {
    return new SqliteAdapter();
  }
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
  }
}

/** A lock granted strictly in the order it was asked for. */
class FifoLock {
  private held = false;
  private readonly waiters: Array<() => void> = [];

  acquire(): Promise<void> {
    if (!this.held) {
      this.held = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next(); // hand over directly: the lock stays held
    else this.held = false;
  }
}

class FairSqliteDriver implements Driver {
  private readonly lock: FifoLock;
  private readonly statements: StatementCache;

  constructor(
    private readonly database: BetterSqlite3.Database,
    private readonly walSync: WalSync | undefined,
    /** False for the async-commit sibling: a commit returns once written. */
    private readonly waitForSync: boolean,
    /** The driver whose connection this one shares (the sibling's), else none. */
    private readonly owner: FairSqliteDriver | undefined,
  ) {
    this.lock = owner?.lock ?? new FifoLock();
    this.statements = owner?.statements ?? new StatementCache(database);
  }

  withoutSyncWait(): FairSqliteDriver {
    return new FairSqliteDriver(this.database, this.walSync, false, this);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    await this.lock.acquire();
    // A lease per acquisition: it hands the lock on once (at its commit, or when released).
    return new ConnectionLease(this.statements, this.database, this.walSync, this.lock);
  }

  eachRow(sqlText: string, rows: ReadonlyArray<readonly unknown[]>, mode: 'run' | 'values'): unknown[] {
    const statement = this.statements.prepare(sqlText);
    if (mode === 'run') {
      for (const row of rows) statement.run(...row);
      return [];
    }
    const out: unknown[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) out[i] = statement.get(...rows[i]!);
    return out;
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    // Kysely hands a statement's result to its caller only after this: a read of a commit
    // still being synced, or a write outside a transaction, is answered once it is on disk.
    await (connection as ConnectionLease).end();
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    (connection as ConnectionLease).runControl('begin');
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const lease = connection as ConnectionLease;
    lease.runControl('commit');
    lease.committed = true;
    // The connection goes to the next transaction now; this committer is answered once its
    // commit is on disk. An async commit is answered once the commits before it are: what it
    // read was on disk, only its own writes may be lost.
    lease.wrote(this.waitForSync);
    // Ends here, not at the release: Kysely's controlled transactions release without waiting.
    await lease.end();
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const lease = connection as ConnectionLease;
    // Kysely rolls back when commitTransaction throws: after the commit statement ran, only its
    // fsync failed, and there is nothing to roll back.
    if (!lease.committed) lease.runControl('rollback');
    // The caller's error may tell what the transaction read: not before that is on disk.
    await lease.end();
  }

  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    (connection as ConnectionLease).runControl(`savepoint ${quoted(name)}`);
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    (connection as ConnectionLease).runControl(`rollback to ${quoted(name)}`);
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    (connection as ConnectionLease).runControl(`release ${quoted(name)}`);
  }

  async destroy(): Promise<void> {
    if (this.owner) return; // the connection is the owner's to close
    // Every commit answered so far is on disk already; wait for the ones still syncing.
    await this.walSync?.close();
    this.database.close();
  }
}

function quoted(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Statements that change the schema (migrations, tests' scratch tables), as Kysely sends them: eachRow runs only inserts and updates. */
const SCHEMA_CHANGE = /^\s*(create|alter|drop)\s/i;

/**
 * A prepared statement. One that returns rows runs in better-sqlite3's raw mode (each row an
 * array of values), with `toRow` to turn such an array into the row object Kysely expects.
 */
interface Prepared {
  statement: BetterSqlite3.Statement;
  reader: boolean;
  /** A reader that writes nothing (not an `insert … returning`). */
  readonly: boolean;
  toRow: ((values: unknown[]) => unknown) | undefined;
}

/** Row builders kept, by column list; past it the map starts again (builders are cheap to remake). */
const ROW_BUILDERS_MAX = 1_000;

class StatementCache {
  /** By SQL text, in recency order (the map's order). */
  private readonly entries = new Map<string, Prepared>();
  /** One builder per column list: the texts that differ only in their IN lists share one. */
  private readonly rowBuilders = new Map<string, (values: unknown[]) => unknown>();

  constructor(private readonly database: BetterSqlite3.Database) {}

  /** The statement for `sqlText`; one that returns rows answers arrays of values (raw mode). */
  prepare(sqlText: string): BetterSqlite3.Statement {
    return this.cached(sqlText, false).statement;
  }

  /** For Kysely's queries: a statement that returns rows comes with its row builder. */
  prepareForQuery(sqlText: string): Prepared {
    return this.cached(sqlText, true);
  }

  /**
   * After a schema change a cached `select *` may answer other columns: SQLite re-prepares it
   * only when it next runs, so its column list is stale until then. Every statement is prepared
   * anew, and its row builder made from the columns as they are now.
   */
  schemaChanged(): void {
    this.entries.clear();
  }

  private cached(sqlText: string, objects: boolean): Prepared {
    let entry = this.entries.get(sqlText);
    if (entry) {
      // Move to the back: the map's order is the recency order.
      this.entries.delete(sqlText);
    } else {
      const statement = this.database.prepare(sqlText);
      const reader = statement.reader;
      if (reader) statement.raw(true);
      entry = { statement, reader, readonly: statement.readonly, toRow: undefined };
      if (this.entries.size >= STATEMENT_CACHE_MAX) this.entries.delete(this.entries.keys().next().value!);
    }
    if (objects && entry.reader && entry.toRow === undefined) entry.toRow = this.rowBuilder(entry.statement.columns().map((c) => c.name));
    this.entries.set(sqlText, entry);
    return entry;
  }

  private rowBuilder(names: readonly string[]): (values: unknown[]) => unknown {
    const signature = JSON.stringify(names);
    let builder = this.rowBuilders.get(signature);
    if (!builder) {
      if (this.rowBuilders.size >= ROW_BUILDERS_MAX) this.rowBuilders.clear();
      this.rowBuilders.set(signature, (builder = rowBuilder(names)));
    }
    return builder;
  }
}

/**
 * A function that builds a row object from an array of values with one object literal: every
 * row of a statement gets the same shape at once. better-sqlite3's own row objects are built a
 * property at a time through V8's API, which costs more than running the query for short rows
 * (measured in bench/README.md). The names go in as JSON string literals, so any column name is
 * safe; where two columns share a name the later wins, as in better-sqlite3's objects.
 */
function rowBuilder(names: readonly string[]): (values: unknown[]) => unknown {
  // In an object literal `"__proto__": x` sets the prototype instead of making a property.
  if (names.includes('__proto__')) {
    return (values) => {
      const row: Record<string, unknown> = {};
      names.forEach((name, i) => Object.defineProperty(row, name, { value: values[i], enumerable: true, writable: true, configurable: true }));
      return row;
    };
  }
  const fields = names.map((name, i) => `${JSON.stringify(name)}: v[${i}]`).join(', ');
  return new Function('v', `return { ${fields} };`) as (values: unknown[]) => unknown;
}

class ConnectionLease implements DatabaseConnection {
  private held = true;
  /** Set once the commit statement has run. */
  committed = false;
  /**
   * The commits whose fsync must end before anything done on this lease is answered: those
   * made before it began (it may have read them), then its own once it writes outside a
   * transaction or commits and waits.
   */
  private mustBeDurable: number;

  constructor(
    private readonly statements: StatementCache,
    private readonly database: BetterSqlite3.Database,
    private readonly walSync: WalSync | undefined,
    private readonly lock: FifoLock,
  ) {
    this.mustBeDurable = walSync?.commits ?? 0;
  }

  /** A commit was written: its fsync starts (or is queued); `wait`: its committer waits for it. */
  wrote(wait: boolean): void {
    const commit = this.walSync?.noteCommit();
    if (wait && commit !== undefined) this.mustBeDurable = commit;
  }

  /** Hands the lock on (the first time only), then waits until what this lease saw and waited for is on disk. */
  end(): Promise<void> | undefined {
    if (this.held) {
      this.held = false;
      this.lock.release();
    }
    return this.walSync?.durableUpTo(this.mustBeDurable);
  }

  /** Transaction control, run at once (no result, no sync of its own). */
  runControl(sqlText: string): void {
    this.statements.prepare(sqlText).run();
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const { statement, toRow, readonly } = this.statements.prepareForQuery(query.sql);
    const parameters = query.parameters as unknown[];
    if (toRow) {
      const values = statement.all(parameters) as unknown[][];
      const rows: R[] = new Array(values.length);
      for (let i = 0; i < values.length; i++) rows[i] = toRow(values[i]!) as R;
      // A write that returns rows (`returning`) outside a transaction committed on its own.
      if (!readonly && !this.database.inTransaction) this.wrote(true);
      return { rows };
    }
    const { changes, lastInsertRowid } = statement.run(parameters);
    if (SCHEMA_CHANGE.test(query.sql)) this.statements.schemaChanged();
    // A write outside a transaction committed on its own: answered (at the release) once it is on disk.
    if (!this.database.inTransaction) this.wrote(true);
    return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming is not used with the embedded store');
  }
}

/**
 * Durability for commits made with `synchronous = NORMAL` in WAL mode: a commit has written
 * its frames to the WAL (the OS holds them); commit n is durable once an fdatasync of the WAL
 * begun after it has finished. Frames are appended in commit order, so one sync covers every
 * commit before it: while one runs, later commits wait for the next, and all of them share it.
 */
export class WalSync {
  private fd: number | undefined;
  /** Commits noted so far; the n-th is commit n. */
  private committed = 0;
  /** Every commit up to this one is on disk. */
  private synced = 0;
  private syncing = false;
  /** After a failed fsync the kernel may have dropped the pages it could not write: no later sync can vouch for them, so every later commit fails too. */
  private failure: unknown;
  private readonly waiters: Array<{ upTo: number; resolve: () => void; reject: (error: unknown) => void }> = [];
  private drained: (() => void) | undefined;

  constructor(
    private readonly walPath: string,
    private readonly syncFile: (fd: number, done: (error: NodeJS.ErrnoException | null) => void) => void = fdatasync,
  ) {}

  /** How many commits were noted so far. */
  get commits(): number {
    return this.committed;
  }

  /** A commit was written: returns its number, and its fsync starts now or after the one running. */
  noteCommit(): number {
    const commit = ++this.committed;
    if (!this.syncing && this.failure === undefined) this.syncNext();
    return commit;
  }

  /**
   * Resolves once commits up to `upTo` are on disk; undefined when they are already (no
   * waiting, not even a turn of the microtask queue). Rejects once an fsync that should have
   * covered them failed.
   */
  durableUpTo(upTo: number): Promise<void> | undefined {
    if (upTo <= this.synced) return undefined;
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiters.push({ upTo, resolve, reject }));
  }

  /**
   * Throws once an fsync has failed: from then on no commit can be made durable, so the store
   * is not ready (the readiness check says so) until the process restarts and recovers from
   * what is on disk.
   */
  throwIfFailed(): void {
    if (this.failure === undefined) return;
    const reason = this.failure instanceof Error ? this.failure.message : String(this.failure);
    throw new Error(`writing the database to disk failed (${reason}); no commit can be made durable any more: restart the process`);
  }

  /** Resolves when every commit so far is on disk, then lets go of the file. */
  async close(): Promise<void> {
    if (this.syncing) await new Promise<void>((resolve) => (this.drained = resolve));
    if (this.fd !== undefined) close(this.fd, () => {});
    this.fd = undefined;
  }

  private syncNext(): void {
    const upTo = this.committed;
    this.syncing = true;
    try {
      // Opened at the first commit: SQLite creates the WAL when it first writes.
      this.fd ??= openSync(this.walPath, 'r');
    } catch (error) {
      this.finish(upTo, error);
      return;
    }
    this.syncFile(this.fd, (error) => this.finish(upTo, error ?? undefined));
  }

  private finish(upTo: number, error: unknown): void {
    if (error !== undefined) this.failure ??= error;
    else if (this.failure === undefined) this.synced = upTo;
    // Waiters are in no particular order (a read waits for less than the commit before it).
    let kept = 0;
    for (const waiter of this.waiters) {
      if (waiter.upTo <= this.synced) waiter.resolve();
      else if (this.failure !== undefined) waiter.reject(this.failure);
      else this.waiters[kept++] = waiter;
    }
    this.waiters.length = kept;
    this.syncing = false;
    // Commits noted during this sync (an async commit's, whoever waits for it) get the next one.
    if (this.committed > this.synced && this.failure === undefined) this.syncNext();
    else this.drained?.();
  }
}
