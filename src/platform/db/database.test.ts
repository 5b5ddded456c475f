// The storage contract: what every adapter promises, checked on each dialect this run has.
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, scratchStorage, type ScratchStorage } from '../../../test/support/databases.js';
import { MODULE_MIGRATIONS } from '../../gavel.js';
import { openDatabase, toNumber, type Database } from './database.js';
import { migrateAll } from './migrations.js';

interface ScratchTables {
  contract_numbers: { id: string; value: bigint };
  contract_counters: { id: string; value: bigint | number };
}

const ACCOUNTS_TABLES = ['accounts_users', 'accounts_sessions', 'accounts_reputation_changes'];
const CONCURRENT_INCREMENTS = 20;

function userRow(id: string, email: string) {
  return {
    id,
    name: 'Contract Test',
    email,
    email_key: email.toLowerCase(),
    user_group: 0,
    roles: '["bidder"]',
    reputation: 50,
    password_hash: null,
    created_at_ms: 1,
    updated_at_ms: 1,
  };
}

async function caught(action: Promise<unknown>): Promise<unknown> {
  try {
    await action;
  } catch (error) {
    return error;
  }
  throw new Error('expected the query to fail');
}

for (const dialect of DIALECTS) {
  describe(`storage contract on ${dialect}`, () => {
    let storage: ScratchStorage;
    let database: Database;
    let db: Kysely<ScratchTables>;
    let firstMigration: string[];

    beforeAll(async () => {
      storage = await scratchStorage(dialect);
      database = await openDatabase(storage);
      db = database.kysely as Kysely<ScratchTables>;
      firstMigration = await migrateAll(database, MODULE_MIGRATIONS);
      await db.schema.createTable('contract_numbers').addColumn('id', 'text', (c) => c.primaryKey()).addColumn('value', 'bigint', (c) => c.notNull()).execute();
      await db.schema.createTable('contract_counters').addColumn('id', 'text', (c) => c.primaryKey()).addColumn('value', 'bigint', (c) => c.notNull()).execute();
    });

    afterAll(async () => {
      await database?.close().catch(() => {});
      await storage?.drop();
    });

    it('opens the dialect it was asked for', () => {
      expect(database.dialect).toBe(dialect);
      expect(database.describe).toMatch(new RegExp(`^${dialect} `));
      expect(database.describe).not.toMatch(/:[^:@/]+@/); // no password in logs
    });

    it('answers ping', async () => {
      await expect(database.ping()).resolves.toBeUndefined();
    });

    it('migrating creates the accounts tables', async () => {
      expect(firstMigration).toContain('accounts/0001_users_and_sessions');
      const tables = (await database.kysely.introspection.getTables()).map((t) => t.name);
      expect(tables).toEqual(expect.arrayContaining(ACCOUNTS_TABLES));
    });

    it('migrating a second time applies nothing', async () => {
      expect(await migrateAll(database, MODULE_MIGRATIONS)).toEqual([]);
    });

    it('recognises a duplicate email_key as a unique violation', async () => {
      const accounts = database.kysely as Kysely<any>;
      await accounts.insertInto('accounts_users').values(userRow('u-1', 'dup@gavel.test')).execute();
      const error = await caught(accounts.insertInto('accounts_users').values(userRow('u-2', 'DUP@gavel.test')).execute());
      expect(database.isUniqueViolation(error)).toBe(true);
    });

    it('does not mistake other failures for a unique violation', async () => {
      const accounts = database.kysely as Kysely<any>;
      const notNull = await caught(accounts.insertInto('accounts_users').values({ ...userRow('u-3', 'n@gavel.test'), name: null }).execute());
      const noTable = await caught(sql`select * from no_such_table`.execute(database.kysely));
      for (const error of [notNull, noTable, new Error('unique'), null, undefined, 'SQLITE_CONSTRAINT_UNIQUE', { code: 'OTHER' }]) {
        expect(database.isUniqueViolation(error)).toBe(false);
      }
    });

    it('returns integers beyond 2^53 exactly, as bigint', async () => {
      const values = { big: 2n ** 62n, negative: -(2n ** 62n) + 1n, max: 2n ** 63n - 1n, small: 7n };
      await db.insertInto('contract_numbers').values(Object.entries(values).map(([id, value]) => ({ id, value }))).execute();
      const rows = await db.selectFrom('contract_numbers').selectAll().orderBy('id').execute();
      expect(Object.fromEntries(rows.map((r) => [r.id, r.value]))).toEqual(values);
      for (const row of rows) expect(typeof row.value).toBe('bigint');
    });

    it('compares and sums big integers in SQL without losing precision', async () => {
      const row = await db
        .selectFrom('contract_numbers')
        .select((eb) => eb.fn.countAll<bigint | number | string>().as('n'))
        .where('value', '>', 2n ** 62n - 1n)
        .executeTakeFirstOrThrow();
      expect(toNumber(row.n)).toBe(2); // big and max
    });

    it('locks rows with forUpdate inside a transaction', async () => {
      await db.insertInto('contract_counters').values({ id: 'locked', value: 5n }).execute();
      const seen = await db.transaction().execute(async (trx) => {
        const row = await database.forUpdate(trx.selectFrom('contract_counters').selectAll().where('id', '=', 'locked')).executeTakeFirstOrThrow();
        await trx.updateTable('contract_counters').set({ value: BigInt(row.value) + 1n }).where('id', '=', 'locked').execute();
        return row.value;
      });
      expect(BigInt(seen)).toBe(5n);
      const after = await db.selectFrom('contract_counters').select('value').where('id', '=', 'locked').executeTakeFirstOrThrow();
      expect(BigInt(after.value)).toBe(6n);
    });

    it(`never loses an update when ${CONCURRENT_INCREMENTS} transactions increment one counter at once`, async () => {
      await db.insertInto('contract_counters').values({ id: 'race', value: 0n }).execute();
      const increment = () =>
        db.transaction().execute(async (trx) => {
          const row = await database.forUpdate(trx.selectFrom('contract_counters').select('value').where('id', '=', 'race')).executeTakeFirstOrThrow();
          // Yield between the read and the write, so an unlocked read would be overtaken.
          await new Promise((resolve) => setTimeout(resolve, 1));
          await trx.updateTable('contract_counters').set({ value: BigInt(row.value) + 1n }).where('id', '=', 'race').execute();
        });
      await Promise.all(Array.from({ length: CONCURRENT_INCREMENTS }, increment));
      const after = await db.selectFrom('contract_counters').select('value').where('id', '=', 'race').executeTakeFirstOrThrow();
      expect(BigInt(after.value)).toBe(BigInt(CONCURRENT_INCREMENTS));
    });

    it('rolls a failed transaction back', async () => {
      await expect(
        db.transaction().execute(async (trx) => {
          await trx.insertInto('contract_counters').values({ id: 'rolled-back', value: 1n }).execute();
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      expect(await db.selectFrom('contract_counters').select('id').where('id', '=', 'rolled-back').executeTakeFirst()).toBeUndefined();
    });

    if (dialect === 'sqlite') {
      it('runs SQLite in WAL mode with synchronous NORMAL (the driver fsyncs the WAL before answering a commit: sqlite-driver.test.ts), foreign keys on and sub-journals in memory', async () => {
        const pragma = async (name: string) => {
          const { rows } = await sql<Record<string, unknown>>`pragma ${sql.raw(name)}`.execute(database.kysely);
          return Object.values(rows[0] ?? {})[0];
        };
        expect(await pragma('journal_mode')).toBe('wal');
        expect(Number(await pragma('synchronous'))).toBe(1);
        expect(Number(await pragma('foreign_keys'))).toBe(1);
        expect(Number(await pragma('busy_timeout'))).toBe(5000);
        expect(Number(await pragma('temp_store'))).toBe(2); // MEMORY: savepoints' page copies stay off the disk
      });
    }

    it('refuses queries once closed', async () => {
      const other = await openDatabase(storage);
      await other.ping();
      await other.close();
      await expect(other.ping()).rejects.toThrow();
    });
  });
}
