// PostgreSQL through postgres.js, which also understands multi-host URLs
// (postgres://a:5432,b:5432/db?target_session_attrs=read-write) for failover.
import { Kysely, sql } from 'kysely';
import { PostgresJSDialect } from 'kysely-postgres-js';
import postgres from 'postgres';
import type { Database } from './database.js';

export const POSTGRES_POOL_SIZE = 10;
/** How long closing waits for queries in flight before terminating their connections. */
export const POSTGRES_CLOSE_GRACE_S = 5;

export async function openPostgres(url: string): Promise<Database> {
  const client = postgres(url, {
    max: POSTGRES_POOL_SIZE,
    types: { bigint: postgres.BigInt },
    onnotice: () => {},
    connect_timeout: 10,
  });
  const kysely = new Kysely<object>({ dialect: new PostgresJSDialect({ postgres: client }) });
  const database: Database = {
    kysely,
    dialect: 'postgres',
    describe: `postgres ${redactUrl(url)}`,
    singleWriter: false,
    isUniqueViolation: (error) =>
      typeof error === 'object' && error !== null && 'code' in error && (error as { code: unknown }).code === '23505',
    forUpdate: (query) => query.forUpdate(),
    ping: async () => {
      await sql`select 1`.execute(kysely);
    },
    close: async () => {
      // postgres.js never ends a connection that is reserved when end() is called (Kysely
      // reserves one per query), so a query in flight at close would hang it forever: after
      // the grace period the rest are terminated.
      await client.end({ timeout: POSTGRES_CLOSE_GRACE_S });
      await kysely.destroy();
    },
  };
  try {
    await database.ping();
  } catch (error) {
    await kysely.destroy().catch(() => {});
    throw new Error(`cannot reach PostgreSQL at ${redactUrl(url)}: ${(error as Error).message}`, { cause: error });
  }
  return database;
}

/** The URL with its password replaced, safe for logs. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):([^@]*)@/, '//$1:***@');
}
