// PostgreSQL: writes and fresh reads on the primary, found among the hosts of a multi-host URL
// (postgres://a:5432,b:5432/db) so a promoted standby is used after a failover; reads that
// tolerate lag on the read replicas, when there are any. The pools are in postgres-pool.ts;
// docs/cluster.md says what survives losing the primary.
import { Kysely, sql } from 'kysely';
import type { Database } from './database.js';
import { PostgresPool, poolsDialect } from './postgres-pool.js';

export const POSTGRES_POOL_SIZE = 10;
/** How long closing waits for queries in flight before terminating their connections. */
export const POSTGRES_CLOSE_GRACE_S = 5;
/** Per host tried: a host that does not answer within this is skipped for the next. */
export const POSTGRES_CONNECT_TIMEOUT_S = 5;
/** The longest a unit of work waits for a free connection before it is answered 503. */
export const POSTGRES_ACQUIRE_TIMEOUT_MS = 10_000;

export async function openPostgres(url: string, options: { replicaUrls?: readonly string[] } = {}): Promise<Database> {
  const pool = (urls: readonly string[], role: 'primary' | 'replica') =>
    new PostgresPool({ urls, role, size: POSTGRES_POOL_SIZE, acquireTimeoutMs: POSTGRES_ACQUIRE_TIMEOUT_MS, connectTimeoutS: POSTGRES_CONNECT_TIMEOUT_S });
  const primary = pool([url], 'primary');
  const replicaUrls = options.replicaUrls ?? [];
  // All replicas share one pool (their hosts take turns); when none answers, reads use the primary.
  const replicas = replicaUrls.length > 0 ? pool(replicaUrls, 'replica') : undefined;
  const kysely = new Kysely<object>({ dialect: poolsDialect([primary]) });
  const replica = replicas ? new Kysely<object>({ dialect: poolsDialect([replicas, primary]) }) : kysely;
  const database: Database = {
    kysely,
    // Every commit waits for its WAL flush (and the standby's) here: the writes that could do
    // without are not where the time goes on a multi-node cluster.
    asyncCommit: kysely,
    replica,
    dialect: 'postgres',
    describe: `postgres ${redactUrl(url)}${replicas ? ` (reads that tolerate lag on ${replicas.hostCount} replica host${replicas.hostCount === 1 ? '' : 's'})` : ''}`,
    singleWriter: false,
    untilDurable: async () => {},
    isUniqueViolation: (error) =>
      typeof error === 'object' && error !== null && 'code' in error && (error as { code: unknown }).code === '23505',
    forUpdate: (query) => query.forUpdate(),
    ping: async () => {
      await sql`select 1`.execute(kysely);
    },
    close: async () => {
      await kysely.destroy();
      if (replica !== kysely) await replica.destroy();
      await Promise.all([primary.close(POSTGRES_CLOSE_GRACE_S), replicas?.close(POSTGRES_CLOSE_GRACE_S)]);
    },
  };
  try {
    await database.ping();
  } catch (error) {
    await database.close().catch(() => {});
    throw new Error(`cannot reach PostgreSQL at ${redactUrl(url)}: ${(error as Error).message}`, { cause: error });
  }
  return database;
}

/** The URL with its password replaced, safe for logs. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):([^@]*)@/, '//$1:***@');
}
