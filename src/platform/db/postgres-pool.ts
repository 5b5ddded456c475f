// Connections to PostgreSQL for Kysely: a pool of postgres.js clients of one connection each,
// so that this file, not the library, decides which server a connection goes to and what
// happens when one is lost.
//
// - A URL may list several hosts (postgres://a:5432,b:5432/db). A new connection tries them in
//   turn, starting with the one that answered last, and checks the server before use: the
//   primary pool takes only a writable primary, so after a standby is promoted the next
//   connection finds it. (postgres.js's own multi-host mode retries forever while no host is
//   writable; here the wait is bounded.)
// - A connection lost while Kysely holds it (inside a transaction, between two statements)
//   fails every later statement of that checkout with STORAGE_UNAVAILABLE instead of running
//   them outside the transaction on a fresh connection. A pooled client of postgres.js cannot
//   be trusted here: a statement sent on a reserved connection that was lost throws inside a
//   timer and takes the process down.
// - Every wait has a bound: a checkout waits at most `acquireTimeoutMs` for a free connection,
//   a connection attempt at most `connectTimeoutS` per host.
import { CompiledQuery, PostgresAdapter, PostgresDriver, PostgresIntrospector, PostgresQueryCompiler, type DatabaseConnection, type Dialect, type QueryResult } from 'kysely';
import postgres from 'postgres';
import { AppError } from '../errors.js';

export interface PostgresPoolOptions {
  /** postgres://… URLs, each with one host or several (`h1:5432,h2:5432`): every host is a candidate. */
  urls: readonly string[];
  /** 'primary': only a server that accepts writes; 'replica': whichever server answers, read-only. */
  role: 'primary' | 'replica';
  size: number;
  acquireTimeoutMs: number;
  connectTimeoutS: number;
}

/** A replica that failed to connect is skipped for this long, so reads fall back at once. */
export const REPLICA_RETRY_AFTER_MS = 5_000;
/**
 * After every host failed, new connections fail at once for this long instead of trying
 * again: during an outage each request would otherwise open a connection to every host.
 */
export const ALL_FAILED_RETRY_AFTER_MS = 250;

/** SQLSTATEs that mean the server, not the statement, is the problem: shutdown, crash, starting up, full. */
const SERVER_GONE_STATES = new Set(['57P01', '57P02', '57P03', '53300']);
/** postgres.js's and Node's codes for a connection that failed or died. */
const CONNECTION_CODES = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** True when the error says the connection or the server went away (SQLSTATE class 08 included). */
export function isConnectionLoss(error: unknown): boolean {
  if (typeof error !== 'object' || error === null || !('code' in error)) return false;
  const code = String((error as { code: unknown }).code);
  return CONNECTION_CODES.has(code) || SERVER_GONE_STATES.has(code) || /^08[0-9A-Z]{3}$/.test(code);
}

/**
 * PostgreSQL refuses to run a prepared statement whose result columns changed under it (a
 * `select *` after `alter table … add column`): "cached plan must not change result type".
 */
export function isStalePreparedStatement(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '0A000' && (error as { routine?: unknown }).routine === 'RevalidateCachedQuery';
}

/** A 503 the caller can retry (with the same Idempotency-Key when the request changes something). */
export function storageUnavailable(detail: string, cause?: unknown): AppError {
  const error = new AppError('STORAGE_UNAVAILABLE', detail, { headers: { 'retry-after': '1' } });
  if (cause !== undefined) error.cause = cause;
  return error;
}

/** One host of a (possibly multi-host) URL, as a URL of its own. */
interface Endpoint {
  url: string;
  /** host:port, for messages. */
  label: string;
  /** A replica that failed is not tried again before this time. */
  skipUntilMs: number;
}

/**
 * The hosts of a URL, each as a single-host URL with the rest (user, database, parameters)
 * unchanged. `target_session_attrs` is dropped: the pool checks the server itself.
 */
export function endpointsOf(url: string): Endpoint[] {
  const schemeEnd = url.indexOf('://');
  if (schemeEnd < 0) throw new Error('a PostgreSQL URL starts with postgres://');
  const afterScheme = url.slice(schemeEnd + 3);
  const authorityEnd = afterScheme.search(/[/?]/);
  const authority = authorityEnd < 0 ? afterScheme : afterScheme.slice(0, authorityEnd);
  const rest = authorityEnd < 0 ? '' : afterScheme.slice(authorityEnd);
  const at = authority.lastIndexOf('@');
  const userInfo = at < 0 ? '' : authority.slice(0, at + 1);
  const hosts = (at < 0 ? authority : authority.slice(at + 1)).split(',').map((h) => h.trim()).filter(Boolean);
  if (hosts.length === 0) throw new Error('the PostgreSQL URL names no host');
  const cleanRest = rest.replace(/([?&])target_session_attrs=[^&]*(&|$)/, (_m, before: string, after: string) => (after ? before : '')).replace(/\?$/, '');
  return hosts.map((host) => ({ url: `${url.slice(0, schemeEnd)}://${userInfo}${host}${cleanRest}`, label: host, skipUntilMs: 0 }));
}

/**
 * Distinct statement texts a connection keeps prepared on the server. A prepared statement is
 * parsed once and sent in one round trip; an unprepared one with parameters costs two (postgres.js
 * describes it first) and a parse and plan every time. A text is prepared the second time the
 * connection runs it, so texts that never come back (a multi-row insert of an odd size) do not
 * take the room; past the cap, new texts run unprepared, so a caller that builds texts without
 * bound cannot fill the server's memory.
 */
export const PREPARED_STATEMENTS_PER_CONNECTION = 500;
/** Texts run once and remembered, waiting for a second run; forgotten all at once past this. */
const TEXTS_SEEN_ONCE_MAX = 2_000;

/** A checked-out connection as Kysely sees it. */
class PooledConnection implements DatabaseConnection {
  /** The server answered and the connection has not closed since. */
  connected = false;
  checkedOut = false;
  /** Closed while checked out: the rest of this unit of work must not run elsewhere. */
  lost = false;
  readonly client: postgres.Sql;
  /** Statement texts this connection runs as named prepared statements. */
  private readonly preparedTexts = new Set<string>();
  private readonly textsSeenOnce = new Set<string>();

  constructor(
    readonly endpoint: Endpoint,
    options: PostgresPoolOptions,
  ) {
    this.client = postgres(endpoint.url, {
      max: 1,
      types: { bigint: postgres.BigInt },
      onnotice: () => {},
      connect_timeout: options.connectTimeoutS,
      // A connection ends only when this pool says so: postgres.js would otherwise recycle it
      // between two statements of a transaction.
      max_lifetime: 0,
      idle_timeout: 0,
      // Replicas refuse writes even when a replica URL points at the primary by mistake.
      ...(options.role === 'replica' && { connection: { default_transaction_read_only: true } }),
      onclose: () => {
        this.connected = false;
        if (this.checkedOut) this.lost = true;
      },
    });
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (this.lost) {
      // The server rolled back whatever was open when the connection went.
      if (/^\s*rollback\s*$/i.test(query.sql)) return { rows: [] };
      throw storageUnavailable('the connection to PostgreSQL was lost during this request; nothing after the loss was written, and a statement in flight at that moment may or may not have taken effect');
    }
    try {
      const result = await this.client.unsafe(query.sql, [...query.parameters] as postgres.ParameterOrJSON<never>[], { prepare: this.prepares(query.sql) });
      const affects = result.command === 'INSERT' || result.command === 'UPDATE' || result.command === 'DELETE' || result.command === 'MERGE';
      return { rows: Array.from(result) as R[], ...(affects && { numAffectedRows: BigInt(result.count) }) };
    } catch (error) {
      if (isStalePreparedStatement(error)) {
        // Outside a transaction postgres.js prepares it again and retries; inside one the
        // transaction is aborted, and only the caller can run it again. postgres.js has dropped
        // the statement, so the next run prepares it afresh.
        throw storageUnavailable('a table this statement reads changed its columns since the connection prepared it (a migration ran); nothing of this transaction was written, and a retry runs it against the new columns', error);
      }
      if (!isConnectionLoss(error)) throw error;
      this.lost = true;
      this.connected = false;
      throw storageUnavailable(`lost the connection to PostgreSQL at ${this.endpoint.label}; the statement in flight may or may not have taken effect`, error);
    }
  }

  /** Whether `sql` runs as a named prepared statement: from its second run on, while there is room. */
  private prepares(sql: string): boolean {
    if (this.preparedTexts.has(sql)) return true;
    if (this.preparedTexts.size >= PREPARED_STATEMENTS_PER_CONNECTION) return false;
    if (!this.textsSeenOnce.delete(sql)) {
      if (this.textsSeenOnce.size >= TEXTS_SEEN_ONCE_MAX) this.textsSeenOnce.clear();
      this.textsSeenOnce.add(sql);
      return false;
    }
    this.preparedTexts.add(sql);
    return true;
  }

  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming queries are not supported on PostgreSQL here');
  }

  /** Ends the client at once; a statement still in flight fails. */
  end(): Promise<void> {
    this.connected = false;
    return this.client.end({ timeout: 0 });
  }
}

interface Waiter {
  resolve: (connection: PooledConnection) => void;
  reject: (error: unknown) => void;
  timer: NodeJS.Timeout;
}

export class PostgresPool {
  private readonly endpoints: Endpoint[];
  /** Every connection that exists (idle or checked out); with those being opened, at most `size`. */
  private readonly live = new Set<PooledConnection>();
  private opening = 0;
  private readonly idle: PooledConnection[] = [];
  private readonly waiters: Waiter[] = [];
  /** Where the next connection tries first: the host that answered last (primary) or the next in turn (replicas). */
  private next = 0;
  private closing = false;
  private lastFailure: { atMs: number; detail: string } | undefined;
  private lastSuccessAtMs = 0;
  private onDrained: (() => void) | undefined;

  constructor(readonly options: PostgresPoolOptions) {
    this.endpoints = options.urls.flatMap(endpointsOf);
  }

  get hostCount(): number {
    return this.endpoints.length;
  }

  /** A connection for one unit of work; STORAGE_UNAVAILABLE when none can be had in time. */
  async acquire(): Promise<PooledConnection> {
    if (this.closing) throw storageUnavailable('the database is closing');
    const idle = this.takeIdle();
    if (idle) return this.checkOut(idle);
    if (this.live.size + this.opening < this.options.size) return this.checkOut(await this.openCounted());
    return new Promise<PooledConnection>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          reject(storageUnavailable(`no PostgreSQL connection became free within ${this.options.acquireTimeoutMs} ms`));
        }, this.options.acquireTimeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  release(connection: PooledConnection): void {
    connection.checkedOut = false;
    if (connection.lost || !connection.connected || this.closing) this.discard(connection);
    else this.idle.push(connection);
    if (this.closing && this.live.size === 0) this.onDrained?.();
    this.serveWaiters();
  }

  /** Waits up to `graceS` for checked-out connections to come back, then ends every connection. */
  async close(graceS: number): Promise<void> {
    this.closing = true;
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(storageUnavailable('the database is closing'));
    }
    await Promise.all(this.idle.splice(0).map((c) => this.discard(c)));
    if (this.live.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceS * 1000);
        this.onDrained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    await Promise.all([...this.live].map((c) => this.discard(c)));
  }

  private checkOut(connection: PooledConnection): PooledConnection {
    connection.checkedOut = true;
    connection.lost = false;
    return connection;
  }

  /** An idle connection still connected, if any; those closed while idle are dropped on the way. */
  private takeIdle(): PooledConnection | undefined {
    for (let connection = this.idle.pop(); connection !== undefined; connection = this.idle.pop()) {
      if (connection.connected) return connection;
      void this.discard(connection);
    }
    return undefined;
  }

  private discard(connection: PooledConnection): Promise<void> {
    this.live.delete(connection);
    return connection.end().catch(() => {});
  }

  private async openCounted(): Promise<PooledConnection> {
    this.opening += 1;
    try {
      const connection = await this.open();
      if (this.closing) {
        void connection.end();
        throw storageUnavailable('the database is closing');
      }
      this.live.add(connection);
      return connection;
    } finally {
      this.opening -= 1;
    }
  }

  /** A connection came back or a slot came free: the longest waiter gets it. */
  private serveWaiters(): void {
    while (this.waiters.length > 0 && !this.closing) {
      const idle = this.takeIdle();
      if (idle === undefined && this.live.size + this.opening >= this.options.size) return;
      const waiter = this.waiters.shift()!;
      clearTimeout(waiter.timer);
      if (idle !== undefined) {
        waiter.resolve(this.checkOut(idle));
        continue;
      }
      this.openCounted().then(
        (c) => waiter.resolve(this.checkOut(c)),
        (error: unknown) => {
          waiter.reject(error);
          this.serveWaiters();
        },
      );
    }
  }

  /** Tries each host in turn; the first that answers and fits the role wins. */
  private async open(): Promise<PooledConnection> {
    const nowMs = Date.now();
    const failed = this.lastFailure;
    if (failed && failed.atMs >= this.lastSuccessAtMs && nowMs - failed.atMs < ALL_FAILED_RETRY_AFTER_MS) throw storageUnavailable(failed.detail);
    const failures: string[] = [];
    for (let i = 0; i < this.endpoints.length; i++) {
      const index = (this.next + i) % this.endpoints.length;
      const endpoint = this.endpoints[index]!;
      if (this.options.role === 'replica' && endpoint.skipUntilMs > nowMs) continue;
      const connection = new PooledConnection(endpoint, this.options);
      try {
        await this.check(connection);
      } catch (error) {
        void connection.end().catch(() => {});
        endpoint.skipUntilMs = Date.now() + REPLICA_RETRY_AFTER_MS;
        failures.push(`${endpoint.label}: ${(error as Error).message}`);
        continue;
      }
      connection.connected = true;
      endpoint.skipUntilMs = 0;
      this.lastSuccessAtMs = Date.now();
      // The primary stays where it was found; replicas take turns.
      this.next = this.options.role === 'primary' ? index : (index + 1) % this.endpoints.length;
      return connection;
    }
    const what = this.options.role === 'primary' ? 'no writable PostgreSQL primary' : 'no PostgreSQL replica';
    const detail = `${what} answered (${failures.join('; ') || 'each failed within the last few seconds'})`;
    // An attempt that began before another one succeeded says nothing about the hosts now.
    if (this.lastSuccessAtMs <= nowMs) this.lastFailure = { atMs: Date.now(), detail };
    throw storageUnavailable(detail);
  }

  /** Connects and asks the server what it is; a standby is refused for the primary role. */
  private async check(connection: PooledConnection): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.options.connectTimeoutS} s`)), this.options.connectTimeoutS * 1000);
    });
    try {
      const probe = connection.client.unsafe<{ in_recovery: boolean; read_only: string }[]>(`select pg_is_in_recovery() as in_recovery, current_setting('transaction_read_only') as read_only`);
      const [row] = await Promise.race([probe, timeout]);
      if (this.options.role === 'primary' && (row!.in_recovery || row!.read_only === 'on')) throw new Error('a standby (read-only), not the primary');
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Kysely over pools: the first pool that gives a connection serves (replicas, then the primary). */
class PoolsDriver extends PostgresDriver {
  private readonly owner = new WeakMap<PooledConnection, PostgresPool>();

  constructor(private readonly pools: readonly PostgresPool[]) {
    // The base class's pool is never used: every method that would touch it is overridden.
    super({ pool: undefined as never });
  }

  override async init(): Promise<void> {}

  override async acquireConnection(): Promise<DatabaseConnection> {
    let lastError: unknown;
    for (const pool of this.pools) {
      try {
        const connection = await pool.acquire();
        this.owner.set(connection, pool);
        return connection;
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }

  override async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const pooled = connection as PooledConnection;
    this.owner.get(pooled)?.release(pooled);
  }

  override async destroy(): Promise<void> {
    // The pools are closed by whoever opened them (openPostgres), once, after both Kysely instances.
  }
}

/** A Kysely dialect whose connections come from `pools`, tried in order. */
export function poolsDialect(pools: readonly PostgresPool[]): Dialect {
  return {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new PoolsDriver(pools),
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  };
}
