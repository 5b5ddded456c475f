// The PostgreSQL pool: which host a connection goes to, what a lost connection does to the
// work on it, and that every wait ends. Against the PostgreSQL of this run (test/support/
// databases.ts); the failover itself is test/cluster/postgres-failover.test.ts.
import { createServer } from 'node:net';
import { Kysely, sql } from 'kysely';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, POSTGRES_ADMIN_URL, scratchStorage, type ScratchStorage } from '../../../test/support/databases.js';
import { AppError } from '../errors.js';
import { openDatabase, type Database } from './database.js';
import { endpointsOf, isConnectionLoss, PostgresPool, poolsDialect, PREPARED_STATEMENTS_PER_CONNECTION } from './postgres-pool.js';

describe('PostgreSQL URLs and errors', () => {
  it('splits a multi-host URL into one URL per host, keeping user, database and parameters', () => {
    const endpoints = endpointsOf('postgres://gavel:secret@db1:5432,db2:5433/gavel?sslmode=disable&target_session_attrs=read-write');
    expect(endpoints.map((e) => e.url)).toEqual(['postgres://gavel:secret@db1:5432/gavel?sslmode=disable', 'postgres://gavel:secret@db2:5433/gavel?sslmode=disable']);
    expect(endpoints.map((e) => e.label)).toEqual(['db1:5432', 'db2:5433']);
    expect(endpointsOf('postgres://db/gavel').map((e) => e.url)).toEqual(['postgres://db/gavel']);
  });

  it('tells a lost connection or a server going away from a failing statement', () => {
    for (const code of ['CONNECTION_CLOSED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT', 'ECONNREFUSED', 'ECONNRESET', '08006', '57P01', '57P03']) {
      expect(isConnectionLoss({ code }), code).toBe(true);
    }
    for (const error of [{ code: '23505' }, { code: '40001' }, { code: '42P01' }, new Error('x'), null, undefined, 'ECONNRESET']) {
      expect(isConnectionLoss(error)).toBe(false);
    }
  });
});

/** A loopback port with nothing listening on it. */
async function deadPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function codeOf(error: unknown): string | undefined {
  return error instanceof AppError ? error.code : (error as { code?: string } | undefined)?.code;
}

if (DIALECTS.includes('postgres')) {
  describe('PostgreSQL pool', () => {
    let storage: ScratchStorage;
    let url: URL;
    let deadHost: string;

    beforeAll(async () => {
      storage = await scratchStorage('postgres');
      url = new URL(storage.databaseUrl!);
      deadHost = `127.0.0.1:${await deadPort()}`;
    });
    afterAll(async () => storage?.drop());

    /** This run's database URL with other hosts before (or instead of) its own. */
    const withHosts = (...hosts: string[]) => storage.databaseUrl!.replace(`//${url.username ? `${url.username}@` : ''}${url.host}`, `//${url.username ? `${url.username}@` : ''}${hosts.join(',')}`);

    it('finds the server among the hosts of a multi-host URL when the first does not answer', async () => {
      const database = await openDatabase({ databaseUrl: withHosts(deadHost, url.host), dataDir: storage.dataDir });
      try {
        const { rows } = await sql<{ one: number }>`select 1 as one`.execute(database.kysely);
        expect(rows[0]?.one).toBe(1);
        expect(database.describe).toContain(`${deadHost},${url.host}`);
      } finally {
        await database.close();
      }
    });

    it('answers STORAGE_UNAVAILABLE, not a hang, when no host answers', async () => {
      const pool = new PostgresPool({ urls: [withHosts(deadHost)], role: 'primary', size: 2, acquireTimeoutMs: 1_000, connectTimeoutS: 2 });
      await expect(pool.acquire()).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE', headers: { 'retry-after': '1' } });
      await pool.close(0);
    });

    it('reads on the replicas, and on the primary when no replica answers; a replica refuses writes', async () => {
      const unreachable = await openDatabase({ databaseUrl: storage.databaseUrl, databaseReplicaUrls: [withHosts(deadHost)], dataDir: storage.dataDir });
      const reachable = await openDatabase({ databaseUrl: storage.databaseUrl, databaseReplicaUrls: [storage.databaseUrl!], dataDir: storage.dataDir });
      try {
        expect(unreachable.replica).not.toBe(unreachable.kysely);
        const fallback = await sql<{ one: number }>`select 1 as one`.execute(unreachable.replica);
        expect(fallback.rows[0]?.one).toBe(1);
        // The same server as a "replica": its sessions are read-only all the same.
        const readOnly = await sql<{ ro: string }>`select current_setting('transaction_read_only') as ro`.execute(reachable.replica);
        expect(readOnly.rows[0]?.ro).toBe('on');
        await expect(sql`create table replica_write_attempt (id int)`.execute(reachable.replica)).rejects.toMatchObject({ code: '25006' });
      } finally {
        await unreachable.close();
        await reachable.close();
      }
    });

    it('without replicas, replica reads are the primary', async () => {
      const database = await openDatabase(storage);
      try {
        expect(database.replica).toBe(database.kysely);
      } finally {
        await database.close();
      }
    });

    /**
     * For the tests of one describe block: this run's database, opened and set up once, and an
     * admin session (to `adminUrl`) that acts from outside the pool; both closed after the block.
     */
    function openForBlock(adminUrl: () => string, setUp: (db: Kysely<any>) => Promise<void>) {
      const opened = {} as { database: Database; db: Kysely<any>; admin: postgres.Sql };
      beforeAll(async () => {
        opened.database = await openDatabase(storage);
        opened.db = opened.database.kysely as Kysely<any>;
        await setUp(opened.db);
        opened.admin = postgres(adminUrl(), { max: 1, onnotice: () => {} });
      });
      afterAll(async () => {
        await opened.admin?.end({ timeout: 1 });
        await opened.database?.close();
      });
      return opened;
    }

    describe('a connection lost under work', () => {
      const opened = openForBlock(
        () => POSTGRES_ADMIN_URL,
        (db) => db.schema.createTable('pool_lost').addColumn('id', 'integer', (c) => c.primaryKey()).execute(),
      );

      const terminate = async (pid: number) => {
        await opened.admin`select pg_terminate_backend(${pid})`;
        await new Promise((r) => setTimeout(r, 100)); // let the client see the connection go
      };

      it('between two statements of a transaction: the rest fails, nothing of it is written, and the pool goes on', async () => {
        const outcome = await opened.db
          .transaction()
          .execute(async (tx) => {
            await tx.insertInto('pool_lost').values({ id: 1 }).execute();
            const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(tx);
            await terminate(rows[0]!.pid);
            await tx.insertInto('pool_lost').values({ id: 2 }).execute();
          })
          .then(() => 'committed', codeOf);
        expect(outcome).toBe('STORAGE_UNAVAILABLE');
        expect(await opened.db.selectFrom('pool_lost').selectAll().execute()).toEqual([]);
      });

      it('during a statement: the caller hears STORAGE_UNAVAILABLE, and the next request gets a fresh connection', async () => {
        const running = sql`select pg_sleep(10)`.execute(opened.db).then(() => 'finished', codeOf);
        let pid: number | undefined;
        for (let i = 0; i < 50 && pid === undefined; i++) {
          const [row] = await opened.admin<{ pid: number }[]>`select pid from pg_stat_activity where query = 'select pg_sleep(10)' and state = 'active'`;
          pid = row?.pid;
          if (pid === undefined) await new Promise((r) => setTimeout(r, 20));
        }
        await terminate(pid!);
        expect(await running).toBe('STORAGE_UNAVAILABLE');
        await opened.db.insertInto('pool_lost').values({ id: 3 }).execute();
        expect((await opened.db.selectFrom('pool_lost').select('id').execute()).map((r) => r.id)).toEqual([3]);
      });

      it('an idle connection that was closed is replaced, not used', async () => {
        const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(opened.db);
        await terminate(rows[0]!.pid);
        for (let i = 0; i < 3; i++) await expect(sql`select 1`.execute(opened.db)).resolves.toBeDefined();
      });
    });

    describe('prepared statements', () => {
      const opened = openForBlock(
        () => storage.databaseUrl!,
        async (db) => {
          await db.schema.createTable('pool_prepared').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('a', 'integer').execute();
          await db.insertInto('pool_prepared').values({ id: 1, a: 10 }).execute();
        },
      );

      /** Runs `work` on one connection and answers the texts that connection has prepared. */
      const preparedOnOneConnection = (work: (tx: Kysely<any>) => Promise<void>) =>
        opened.db.transaction().execute(async (tx) => {
          await work(tx);
          const { rows } = await sql<{ statement: string }>`select statement from pg_prepared_statements`.execute(tx);
          return rows.map((r) => r.statement);
        });

      it('a statement with parameters is prepared once per connection on its second run and reused after; one run once is not', async () => {
        const texts = await preparedOnOneConnection(async (tx) => {
          for (let i = 0; i < 3; i++) expect(await tx.selectFrom('pool_prepared').select('a').where('id', '=', 1).execute()).toEqual([{ a: 10 }]);
          expect(await tx.selectFrom('pool_prepared').select('a').where('id', '=', 1).where('a', '=', 10).execute()).toEqual([{ a: 10 }]);
        });
        expect(texts.filter((t) => t.startsWith('select "a" from "pool_prepared"'))).toEqual(['select "a" from "pool_prepared" where "id" = $1']);
      });

      it('after another session changes a table\'s columns, a transaction on a stale statement answers STORAGE_UNAVAILABLE, and the next one reads the new columns', async () => {
        const read = () => opened.db.transaction().execute((tx) => tx.selectFrom('pool_prepared').selectAll().where('id', '=', 1).execute());
        expect(await read()).toEqual([{ id: 1, a: 10 }]);
        expect(await read()).toEqual([{ id: 1, a: 10 }]); // prepared now
        await opened.admin.unsafe('alter table pool_prepared add column b integer');
        expect(await read().then(() => 'read', codeOf)).toBe('STORAGE_UNAVAILABLE');
        expect(await read()).toEqual([{ id: 1, a: 10, b: null }]);
        // Outside a transaction postgres.js retries by itself.
        await opened.admin.unsafe('alter table pool_prepared drop column b');
        expect(await opened.db.selectFrom('pool_prepared').selectAll().where('id', '=', 1).execute()).toEqual([{ id: 1, a: 10 }]);
      });

      // Last: it fills the connection's room for prepared statements.
      it(`a connection prepares at most ${PREPARED_STATEMENTS_PER_CONNECTION} distinct texts; past that, new texts still run, unprepared`, async () => {
        const texts = await preparedOnOneConnection(async (tx) => {
          for (let i = 0; i < PREPARED_STATEMENTS_PER_CONNECTION + 20; i++) {
            for (let run = 0; run < 2; run++) {
              const { rows } = await sql<{ a: number }>`select a + ${i} as a from pool_prepared where id = ${1} and ${sql.lit(i)} >= 0`.execute(tx);
              expect(rows).toEqual([{ a: 10 + i }]);
            }
          }
        });
        // (The server may also hold a statement postgres.js replaced after a schema change.)
        const ours = texts.filter((t) => t.includes('>= 0')).length;
        expect(ours).toBeGreaterThan(0);
        expect(ours).toBeLessThanOrEqual(PREPARED_STATEMENTS_PER_CONNECTION);
      });
    });

    it('a request waits a bounded time for a free connection', async () => {
      const pool = new PostgresPool({ urls: [storage.databaseUrl!], role: 'primary', size: 1, acquireTimeoutMs: 200, connectTimeoutS: 5 });
      const db = new Kysely<object>({ dialect: poolsDialect([pool]) });
      try {
        const holding = db.transaction().execute(async () => new Promise((r) => setTimeout(r, 600)));
        await new Promise((r) => setTimeout(r, 50));
        const started = Date.now();
        await expect(sql`select 1`.execute(db)).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
        expect(Date.now() - started).toBeLessThan(2_000);
        await holding;
        await expect(sql`select 1`.execute(db)).resolves.toBeDefined();
      } finally {
        await db.destroy();
        await pool.close(1);
      }
    });
  });
}
