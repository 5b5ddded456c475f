import { sql, Kysely } from 'kysely';
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { FairSqliteDialect } from './sqlite-driver.js';

const READS = 2_000;

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
